/*
 * Authentication: who may log in, with what secret, to which mailbox, and
 * as which user the session then runs.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stdio.h>
#include <sys/types.h>

/*
 * libxcrypt (glibc systems) declares crypt(3) and crypt_gensalt(3) in
 * <crypt.h>; musl has crypt(3) alone, in <unistd.h>.  A C library with no
 * crypt(3) at all (Debian's musl) builds with -DNO_CRYPT: {PLAIN} secrets
 * only.
 */
#if defined(__has_include)
#if __has_include(<crypt.h>)
#include <crypt.h>
#endif
#endif

/* crypt(3) refuses longer passphrases (libxcrypt's limit). */
#ifndef CRYPT_MAX_PASSPHRASE_SIZE
#define CRYPT_MAX_PASSPHRASE_SIZE	512
#endif

#ifdef NO_CRYPT
#define HAVE_CRYPT	0
#else
#define HAVE_CRYPT	1
#endif

#include "params.h"

struct auth_config {
	const char	*passwd;	/* -p: virtual users; NULL: system */
	const char	*mailbox;	/* -f: one mailbox for every user */
	const char	*template;	/* -m: %u is the user name */
	const char	*run_as;	/* -u: with -p, the account sessions use */
	const char	*index_dir;	/* -i: indexes here, not beside mailboxes */
	/* set by auth_check() */
	uid_t		run_uid;	/* -u */
	gid_t		run_gid;
	int		run_switch;	/* root: become run_as in auth_init() */
	/* set by auth_init() */
	FILE		*pwfile;	/* -p, opened before privileges go */
	int		all_plain;	/* every user {PLAIN}: APOP, CRAM-MD5 */
	char		*dummy;		/* a hash like the users', for the rest */
};

struct account {
	char		name[USER_NAME_MAX + 1];	/* as tried, if valid */
	char		*mailbox;	/* malloc(3)ed */
	int		system;		/* become uid/gid before the mailbox */
	uid_t		uid;
	gid_t		gid;
};

#define AUTH_OK		0
#define AUTH_FAIL	1	/* unknown user, wrong secret, refused */
#define AUTH_ERROR	2	/* could not tell: [SYS/TEMP] */
#define AUTH_AUTHZID	4	/* PLAIN: acting as someone else */

/* auth_read_line() */
#define AUTH_LINE	1
#define AUTH_LINE_BAD	2	/* too long or holds a NUL: skipped */

int	auth_check(struct auth_config *, char *, size_t);
int	auth_init(struct auth_config *, char *, size_t);
int	auth_name_ok(const char *);
int	auth_begin(const char *, struct account *);
int	auth_next_entry(FILE *, char *, char **, char **, char **);
int	auth_read_line(FILE *, char *);
int	auth_split(char *, char **, char **, char **);
int	auth_template_ok(const char *);
void	auth_stamp(char *, size_t);
int	auth_pass(const struct auth_config *, const char *, const char *,
	    struct account *);
int	auth_apop(const struct auth_config *, const char *, const char *,
	    const char *, struct account *);
int	auth_cram(const struct auth_config *, const char *, const char *,
	    const char *, struct account *);
void	auth_free(struct account *);
void	auth_end(struct auth_config *);
int	auth_random_bytes(void *, size_t);
const char *auth_crypt(const char *, const char *);

#endif
