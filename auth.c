/*
 * Every secret passes through here: the password file, crypt(3) and the
 * constant-time comparisons.  A user name is checked before it is used to
 * build a path, so `../x` never reaches the file system.
 */
#include <crypt.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth.h"
#include "md5.h"

int
auth_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > USER_NAME_MAX || name[0] == '.')
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x21 || *p == 0x7f || *p == '/' || *p == ':')
			return 0;
	return 1;
}

int
auth_template_ok(const char *t)
{
	for (const char *p = strchr(t, '%'); p; p = strchr(p + 2, '%'))
		if (p[1] != 'u' && p[1] != '%')
			return 0;
	return 1;
}

static char *
expand(const char *template, const char *user)
{
	size_t n = 1;
	const char *p;
	char *out, *o;

	for (p = template; *p; p++)
		n += (p[0] == '%' && p[1] == 'u') ? strlen(user) : 1;
	if (n > PATH_MAX || (out = malloc(n)) == NULL)
		return NULL;
	for (p = template, o = out; *p; p++) {
		if (p[0] == '%' && p[1] == 'u') {
			o = stpcpy(o, user);
			p++;
		} else if (p[0] == '%' && p[1] == '%')
			*o++ = *++p;
		else
			*o++ = *p;
	}
	*o = '\0';
	return out;
}

/* Equal or not, in time that depends on neither secret's contents. */
static int
same_secret(const char *a, const char *b)
{
	unsigned char da[16], db[16], diff = 0;
	struct md5 ctx;

	md5_init(&ctx);
	md5_update(&ctx, a, strlen(a));
	md5_final(&ctx, da);
	md5_init(&ctx);
	md5_update(&ctx, b, strlen(b));
	md5_final(&ctx, db);
	for (int i = 0; i < 16; i++)
		diff |= da[i] ^ db[i];
	return diff == 0;
}

/*
 * crypt(3) with yescrypt takes ~16 MB; it runs in a child so that memory
 * is returned before the session touches the mailbox.
 */
static int
crypt_matches(const char *hash, const char *pass)
{
	pid_t pid;
	int status;

	fflush(NULL);
	if ((pid = fork()) == 0) {
		struct crypt_data *cd = calloc(1, sizeof(*cd));
		const char *h = cd ? crypt_r(pass, hash, cd) : NULL;
		int match = h != NULL && h[0] != '*' && same_secret(h, hash);

		/* the work area holds the password: wipe it, and leak nothing */
		if (cd != NULL)
			explicit_bzero(cd, sizeof(*cd));
		free(cd);
		_exit(match ? 0 : 1);
	}
	if (pid == -1)
		return -1;
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * One line of the password file into line[size], without its newline.
 * 1: a line; 0: end of file; -1: read error.  A line that does not fit, or
 * holds a NUL byte, comes back empty so that it never matches; either way
 * the next call starts at the next line.
 */
static int
read_line(FILE *f, char *line, size_t size)
{
	size_t n = 0;
	int c, bad = 0;

	while ((c = getc(f)) != EOF && c != '\n') {
		if (c == '\0' || n + 1 >= size)
			bad = 1;
		else
			line[n++] = (char)c;
	}
	if (ferror(f))
		return -1;
	if (c == EOF && n == 0 && !bad)
		return 0;
	line[bad ? 0 : n] = '\0';
	return 1;
}

/*
 * Find user (a name auth_name_ok() accepts) in an open password file.
 * Fields: user:secret[:mailbox]; the mailbox may hold ':' (the rest of the
 * line).  line has room for PASSWD_LINE_MAX bytes; secret and mailbox
 * point into it, mailbox is NULL without a third field.  1: found; 0: not;
 * -1: read error.
 */
int
auth_lookup(FILE *f, const char *user, char *line, char **secret,
    char **mailbox)
{
	size_t ulen = strlen(user);
	int r;

	while ((r = read_line(f, line, PASSWD_LINE_MAX)) == 1) {
		if (line[0] == '#' || strncmp(line, user, ulen) != 0 ||
		    line[ulen] != ':')
			continue;
		*secret = line + ulen + 1;
		if ((*mailbox = strchr(*secret, ':')) != NULL)
			*(*mailbox)++ = '\0';
		return 1;
	}
	return r == -1 ? -1 : 0;
}

static int
lookup(const char *file, const char *user, char *line, char **secret,
    char **mailbox)
{
	FILE *f;
	int r, saved;

	if ((f = fopen(file, "re")) == NULL)
		return -1;
	r = auth_lookup(f, user, line, secret, mailbox);
	saved = errno;
	fclose(f);
	errno = saved;
	return r;
}

static int
secret_matches(const char *secret, const char *pass)
{
	if (strncmp(secret, "{PLAIN}", 7) == 0)
		return same_secret(secret + 7, pass);
	if (secret[0] == '\0' || secret[0] == '!' || secret[0] == '*')
		return 0;			/* locked or empty */
	return crypt_matches(secret, pass);
}

int
auth_pass(const struct auth_config *cfg, const char *user, const char *pass,
    struct account *acct)
{
	char line[PASSWD_LINE_MAX], *secret = NULL, *mailbox = NULL;
	int r;

	memset(acct, 0, sizeof(*acct));
	if (!auth_name_ok(user))
		return AUTH_FAIL;
	if ((r = lookup(cfg->passwd, user, line, &secret, &mailbox)) == -1) {
		log_msg(LOG_ERR, "%s: %s", cfg->passwd, strerror(errno));
		return AUTH_ERROR;
	}
	if (r == 0)
		return AUTH_FAIL;
	if ((r = secret_matches(secret, pass)) != 1)
		return r == -1 ? AUTH_ERROR : AUTH_FAIL;
	memcpy(acct->name, user, strlen(user) + 1);	/* auth_name_ok: fits */
	if (mailbox != NULL && mailbox[0] != '\0')
		acct->mailbox = strdup(mailbox);
	else if (cfg->mailbox != NULL)
		acct->mailbox = strdup(cfg->mailbox);
	else
		acct->mailbox = expand(cfg->template, user);
	return acct->mailbox != NULL ? AUTH_OK : AUTH_ERROR;
}

void
auth_free(struct account *acct)
{
	free(acct->mailbox);
	acct->mailbox = NULL;
}
