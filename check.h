/*
 * pop3d -C: the setup that the options describe, checked and told.
 */
#ifndef CHECK_H
#define CHECK_H

#include "auth.h"
#include "session.h"

int	check_main(struct auth_config *, struct options *);

#endif
