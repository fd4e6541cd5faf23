/*
 * pop3d -P: a password's crypt(3) hash for a password file line.
 */
#ifndef HASHPW_H
#define HASHPW_H

int	hashpw_main(void);

#endif
