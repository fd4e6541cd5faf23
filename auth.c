/*
 * Every secret passes through here: the password file, system accounts,
 * crypt(3), APOP and the SASL mechanisms, the constant-time comparisons
 * (the switch to the user the session runs as is in priv.c, pop3d -P in
 * hashpw.c).  A user name is checked before it is used to build a path,
 * so `../x` never reaches the file system.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <shadow.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<sys/random.h>)
#include <sys/random.h>
#define HAVE_GETRANDOM	1
#endif
#endif

#include "auth.h"
#include "log.h"
#include "md5.h"
#include "priv.h"

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

/* Fill buf with n unpredictable bytes.  0, or -1 when there is no source. */
int
auth_random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;
	ssize_t r;
	int fd;

#ifdef HAVE_GETRANDOM
	while (n > 0) {
		if ((r = getrandom(p, n, 0)) == -1) {
			if (errno == EINTR)
				continue;
			break;		/* ENOSYS on old kernels */
		}
		p += r;
		n -= (size_t)r;
	}
	if (n == 0)
		return 0;
#endif
	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (n > 0) {
		if ((r = read(fd, p, n)) <= 0) {
			if (r == -1 && errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	close(fd);
	return 0;
}

/*
 * RFC 1939 section 7: "<process-ID.clock@hostname>"; a random part makes
 * it unique even for two sessions within one clock tick of a reused pid.
 * No DNS: gethostname(2) is what the host calls itself.
 */
void
auth_stamp(char *buf, size_t size)
{
	char host[AUTH_HOST_MAX + 1];
	unsigned char r[8];
	char hex[17];
	struct timespec ts;

	if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	if (auth_random_bytes(r, sizeof(r)) == -1)
		memset(r, 0, sizeof(r));	/* pid and clock still differ */
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, size, "<%ld.%lld.%s@%s>", (long)getpid(),
	    (long long)ts.tv_sec, hex, host);
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
 * A digest the client sent in hex (APOP, CRAM-MD5) against the one we
 * computed: case-insensitive, constant time over its 32 digits.
 */
static int
same_digest(const unsigned char digest[MD5_DIGEST_LEN], const char *hex)
{
	char want[2 * MD5_DIGEST_LEN + 1];
	unsigned char diff = 0;

	if (strlen(hex) != 2 * MD5_DIGEST_LEN)
		return 0;
	md5_hex(digest, want);
	for (size_t i = 0; i < 2 * MD5_DIGEST_LEN; i++) {
		unsigned char c = (unsigned char)hex[i];

		if (c >= 'A' && c <= 'F')
			c = (unsigned char)(c - 'A' + 'a');
		diff |= (unsigned char)(c ^ (unsigned char)want[i]);
	}
	return diff == 0;
}

/* crypt(3); NULL with ENOSYS in a build without it. */
const char *
auth_crypt(const char *pass, const char *setting)
{
#if HAVE_CRYPT
	return crypt(pass, setting);
#else
	(void)pass;
	(void)setting;
	errno = ENOSYS;
	return NULL;
#endif
}

/*
 * crypt(3) with yescrypt takes ~16 MB; it runs in a child so that memory
 * is returned before the session touches the mailbox.  1: matches; 0: no;
 * -1: could not tell.
 */
static int
crypt_matches(const char *hash, const char *pass)
{
	pid_t pid;
	int status;

	fflush(NULL);
	if ((pid = fork()) == 0) {
		const char *h = NULL;

		if (strlen(pass) < CRYPT_MAX_PASSPHRASE_SIZE)
			h = auth_crypt(pass, hash);
		_exit(h != NULL && h[0] != '*' && same_secret(h, hash) ? 0 : 1);
	}
	if (pid == -1)
		return -1;
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * Unknown users, and accounts we refuse, cost what a real check costs:
 * crypt(3) with a hash of the kind the real users have.
 */
static void
dummy_check(const struct auth_config *cfg, const char *pass)
{
	if (cfg->dummy != NULL)
		(void)crypt_matches(cfg->dummy, pass);
	else
		(void)same_secret("{PLAIN}", pass);
}

/* A secret that no password opens: locked (! or *) or empty. */
static int
locked(const char *secret)
{
	return secret[0] == '\0' || secret[0] == '!' || secret[0] == '*';
}

static int
is_plain(const char *secret)
{
	return strncmp(secret, "{PLAIN}", 7) == 0;
}

/*
 * One line of the password file into line (PASSWD_LINE_MAX bytes), without
 * its newline.  AUTH_LINE: a line; AUTH_LINE_BAD: one that does not fit,
 * or holds a NUL byte, which comes back empty so that it is skipped;
 * either way the next call starts at the next line.  0: end of file; -1:
 * read error.  (fgets(3) cannot tell how much it read when a line holds
 * a NUL: the next line was taken for the rest of an overlong one and
 * lost.)
 */
int
auth_read_line(FILE *f, char *line)
{
	size_t n = 0;
	int c, bad = 0;

	while ((c = getc(f)) != EOF && c != '\n') {
		if (c == '\0' || n + 1 >= PASSWD_LINE_MAX)
			bad = 1;
		else
			line[n++] = (char)c;
	}
	if (ferror(f))
		return -1;
	if (c == EOF && n == 0 && !bad)
		return 0;
	line[bad ? 0 : n] = '\0';
	return bad ? AUTH_LINE_BAD : AUTH_LINE;
}

/*
 * A line of the password file split in place: user:secret[:mailbox], the
 * mailbox may hold ':' (the rest of the line).  0 for a comment, a blank
 * line or one without ':', which pop3d skips.
 */
int
auth_split(char *line, char **user, char **secret, char **mailbox)
{
	if (line[0] == '#' || (*secret = strchr(line, ':')) == NULL)
		return 0;
	*(*secret)++ = '\0';
	*user = line;
	if ((*mailbox = strchr(*secret, ':')) != NULL)
		*(*mailbox)++ = '\0';
	return 1;
}

/*
 * Next user line of the password file, split (auth_split).  Comments,
 * blank and overlong lines are skipped.  1: a line; 0: end; -1: read
 * error.
 */
int
auth_next_entry(FILE *f, char *line, char **user, char **secret,
    char **mailbox)
{
	int r;

	while ((r = auth_read_line(f, line)) > 0)
		if (auth_split(line, user, secret, mailbox))
			return 1;
	return r;
}

/* Find user in the password file.  1: found; 0: not; -1: error. */
static int
lookup(const struct auth_config *cfg, const char *user, char *line,
    char **secret, char **mailbox)
{
	char *name;
	int r;

	rewind(cfg->pwfile);
	while ((r = auth_next_entry(cfg->pwfile, line, &name, secret,
	    mailbox)) == 1)
		if (strcmp(name, user) == 0)
			return 1;
	if (r == -1)
		log_msg(LOG_ERR, "%s: %s", cfg->passwd, strerror(errno));
	return r;
}

static int
secret_matches(const struct auth_config *cfg, const char *secret,
    const char *pass)
{
	if (is_plain(secret))
		return same_secret(secret + 7, pass);
	if (locked(secret)) {
		dummy_check(cfg, pass);
		return 0;
	}
	return crypt_matches(secret, pass);
}

/* The user is who they say: say which mailbox is theirs. */
static int
grant(const struct auth_config *cfg, const char *mailbox, struct account *a)
{
	if (mailbox != NULL && mailbox[0] != '\0')
		a->mailbox = strdup(mailbox);
	else if (cfg->mailbox != NULL)
		a->mailbox = strdup(cfg->mailbox);
	else
		a->mailbox = expand(cfg->template, a->name);
	return a->mailbox != NULL ? AUTH_OK : AUTH_ERROR;
}

/* Start an attempt: the name goes into the account (for the log) if valid. */
int
auth_begin(const char *user, struct account *a)
{
	memset(a, 0, sizeof(*a));
	if (!auth_name_ok(user)) {
		strcpy(a->name, "?");
		return 0;
	}
	memcpy(a->name, user, strlen(user) + 1);	/* auth_name_ok: fits */
	return 1;
}

/* Days since the epoch, the unit of /etc/shadow. */
static long
today(void)
{
	return (long)(time(NULL) / 86400);
}

/*
 * A system account: getpwnam(3), the hash from getspnam(3) when passwd
 * says "x".  Refused, at the cost of a real check: no such user, uid 0
 * (unless built with ALLOW_UID0_LOGIN), a locked or empty password, an
 * expired account.
 */
static int
system_pass(const struct auth_config *cfg, const char *user,
    const char *pass, struct account *a)
{
	struct passwd *pw;
	struct spwd *sp = NULL;
	const char *hash, *why = NULL;
	int r;

	if ((pw = getpwnam(user)) == NULL) {
		dummy_check(cfg, pass);
		return AUTH_FAIL;
	}
	hash = pw->pw_passwd;
	if (strcmp(hash, "x") == 0) {
		sp = getspnam(user);
		hash = sp != NULL ? sp->sp_pwdp : "";
	}
	if (pw->pw_uid == 0 && !ALLOW_UID0_LOGIN)
		why = "uid 0";
	else if (locked(hash))
		why = "password locked or empty";
	else if (sp != NULL && sp->sp_expire > 0 && sp->sp_expire <= today())
		why = "account expired";
	if (why != NULL) {
		log_msg(LOG_NOTICE, "user=%s refused: %s", user, why);
		dummy_check(cfg, pass);
		r = 0;
	} else
		r = crypt_matches(hash, pass);
	a->uid = pw->pw_uid;
	a->gid = pw->pw_gid;
	if (sp != NULL)
		explicit_bzero(sp->sp_pwdp, strlen(sp->sp_pwdp));
	endspent();
	endpwent();
	if (r != 1)
		return r == -1 ? AUTH_ERROR : AUTH_FAIL;
	a->system = 1;
	return grant(cfg, NULL, a);
}

int
auth_pass(const struct auth_config *cfg, const char *user, const char *pass,
    struct account *a)
{
	char line[PASSWD_LINE_MAX], *secret = NULL, *mailbox = NULL;
	int r;

	if (!auth_begin(user, a)) {
		dummy_check(cfg, pass);
		return AUTH_FAIL;
	}
	if (cfg->passwd == NULL)	/* a build without crypt(3) has none */
		return HAVE_CRYPT ? system_pass(cfg, user, pass, a) : AUTH_ERROR;
	if ((r = lookup(cfg, user, line, &secret, &mailbox)) == -1)
		return AUTH_ERROR;
	if (r == 0) {
		dummy_check(cfg, pass);
		return AUTH_FAIL;
	}
	r = secret_matches(cfg, secret, pass);
	/* the mailbox field lives in line: grant before it is wiped */
	r = r == 1 ? grant(cfg, mailbox, a) : r == -1 ? AUTH_ERROR : AUTH_FAIL;
	explicit_bzero(line, sizeof(line));
	return r;
}

/*
 * The {PLAIN} secret of user, copied into secret (PASSWD_LINE_MAX bytes),
 * with the mailbox field into line.  For APOP and CRAM-MD5, which need the
 * shared secret itself.  AUTH_OK, AUTH_FAIL (no such user, not {PLAIN}),
 * AUTH_ERROR.
 */
static int
plain_secret(const struct auth_config *cfg, const char *user, char *line,
    char **secret, char **mailbox)
{
	int r;

	if (cfg->passwd == NULL)
		return AUTH_FAIL;
	if ((r = lookup(cfg, user, line, secret, mailbox)) == -1)
		return AUTH_ERROR;
	if (r == 0 || !is_plain(*secret))
		return AUTH_FAIL;
	*secret += 7;
	return AUTH_OK;
}

/* RFC 1939 APOP: digest = MD5(timestamp secret), in lowercase hex. */
int
auth_apop(const struct auth_config *cfg, const char *user, const char *stamp,
    const char *digest, struct account *a)
{
	char line[PASSWD_LINE_MAX], *secret, *mailbox;
	unsigned char d[MD5_DIGEST_LEN];
	struct md5 ctx;
	int r, ok;

	if (!auth_begin(user, a))
		return AUTH_FAIL;
	if ((r = plain_secret(cfg, user, line, &secret, &mailbox)) != AUTH_OK)
		return r;
	md5_init(&ctx);
	md5_update(&ctx, stamp, strlen(stamp));
	md5_update(&ctx, secret, strlen(secret));
	md5_final(&ctx, d);
	ok = same_digest(d, digest);
	r = ok ? grant(cfg, mailbox, a) : AUTH_FAIL;
	explicit_bzero(line, sizeof(line));
	explicit_bzero(&ctx, sizeof(ctx));
	return r;
}

/*
 * RFC 2195 CRAM-MD5: digest is the hex HMAC-MD5 of the challenge keyed
 * with user's {PLAIN} secret.
 */
int
auth_cram(const struct auth_config *cfg, const char *challenge,
    const char *user, const char *digest, struct account *a)
{
	char line[PASSWD_LINE_MAX], *secret, *mailbox;
	unsigned char d[MD5_DIGEST_LEN];
	int r, ok;

	if (!auth_begin(user, a))
		return AUTH_FAIL;
	if ((r = plain_secret(cfg, user, line, &secret, &mailbox)) != AUTH_OK)
		return r;
	hmac_md5(secret, strlen(secret), challenge, strlen(challenge), d);
	ok = same_digest(d, digest);
	r = ok ? grant(cfg, mailbox, a) : AUTH_FAIL;
	explicit_bzero(line, sizeof(line));
	return r;
}

/*
 * The method, cost and salt of a hash without the hash itself: what
 * precedes the last '$' ("$6$rounds=N$salt$", "$y$j9T$salt$"), or for
 * bcrypt, whose salt and hash share a field, its first 29 characters.
 */
static char *
setting_of(const char *hash)
{
	const char *end = strrchr(hash, '$');

	if (strncmp(hash, "$2", 2) == 0 && strlen(hash) > 29)
		return strndup(hash, 29);
	if (end == NULL || end == hash)
		return strndup(hash, 2);	/* DES: two salt characters */
	return strndup(hash, (size_t)(end - hash) + 1);
}

/* With -p: every user {PLAIN}?  And a crypt hash to spend on the unknown. */
static int
scan_passwd(struct auth_config *cfg)
{
	char line[PASSWD_LINE_MAX], *user, *secret, *mailbox;
	int r, users = 0, plain = 0;

	while ((r = auth_next_entry(cfg->pwfile, line, &user, &secret,
	    &mailbox)) == 1) {
		users++;
		if (is_plain(secret))
			plain++;
		else if (cfg->dummy == NULL && !locked(secret) &&
		    (cfg->dummy = setting_of(secret)) == NULL) {
			r = -1;
			break;
		}
	}
	explicit_bzero(line, sizeof(line));
	cfg->all_plain = users > 0 && users == plain;
	if (r == 0 && !HAVE_CRYPT && cfg->dummy != NULL) {
		errno = ENOSYS;
		return -2;
	}
	return r;
}

/*
 * A crypt(3) setting that costs what checking a real account costs: the
 * method and cost of the first usable hash in the shadow file (what
 * passwd(1) writes here), else the C library's default.
 */
static char *
system_dummy(void)
{
	struct spwd *sp;
	char *setting = NULL;

	setspent();
	while (setting == NULL && (sp = getspent()) != NULL) {
		if (!locked(sp->sp_pwdp) && sp->sp_pwdp[0] == '$')
			setting = setting_of(sp->sp_pwdp);
		explicit_bzero(sp->sp_pwdp, strlen(sp->sp_pwdp));
	}
	endspent();
	if (setting != NULL)
		return setting;
#if HAVE_CRYPT && defined(CRYPT_GENSALT_IMPLEMENTS_DEFAULT_PREFIX)
	char buf[CRYPT_GENSALT_OUTPUT_SIZE];

	if (crypt_gensalt_rn(NULL, 0, NULL, 0, buf, (int)sizeof(buf)) != NULL)
		return strdup(buf);
#endif
	return strdup("$6$pop3dpop3dpop3d$");
}

/*
 * Startup, before the session forks its pre-login child: what can be
 * checked without reading a secret.  System accounts need root (the
 * shadow file, the switch to the user); -u needs an unprivileged account
 * that we may become.  -1 with why filled.
 */
int
auth_check(struct auth_config *cfg, char *why, size_t size)
{
	struct passwd *pw;

	if (cfg->passwd == NULL) {
		if (!HAVE_CRYPT) {
			snprintf(why, size, "built without crypt(3): system "
			    "accounts cannot log in; give -p PASSWDFILE");
			return -1;
		}
		if (geteuid() != 0) {
			snprintf(why, size, "system accounts (no -p) need "
			    "root; give -p PASSWDFILE for virtual users");
			return -1;
		}
		return 0;
	}
	if (cfg->run_as == NULL)
		return 0;
	errno = 0;
	if ((pw = getpwnam(cfg->run_as)) == NULL) {
		snprintf(why, size, "-u %s: %s", cfg->run_as, errno ?
		    strerror(errno) : "no such user");
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(why, size, "-u %s: an unprivileged account, not "
		    "uid 0", cfg->run_as);
		return -1;
	}
	if (geteuid() != 0 && geteuid() != pw->pw_uid) {
		snprintf(why, size, "-u %s: only root can switch users",
		    cfg->run_as);
		return -1;
	}
	cfg->run_uid = pw->pw_uid;
	cfg->run_gid = pw->pw_gid;
	cfg->run_switch = geteuid() == 0;
	return 0;
}

/*
 * Startup, in the monitor once the pre-login child is forked (so that it
 * holds no secret, not even in freed memory): open and read the password
 * file while we may (it should be readable by root alone), then with -u
 * become that account for the rest of the session; or find what a
 * system account's check costs.  -1 with why filled.
 */
int
auth_init(struct auth_config *cfg, char *why, size_t size)
{
	struct stat st;

	if (cfg->passwd == NULL) {
		errno = ENOSYS;		/* auth_check() refused it already */
		if (!HAVE_CRYPT || (cfg->dummy = system_dummy()) == NULL) {
			snprintf(why, size, "%s", strerror(errno));
			return -1;
		}
		return 0;
	}
	if ((cfg->pwfile = fopen(cfg->passwd, "re")) == NULL ||
	    fstat(fileno(cfg->pwfile), &st) == -1) {
		snprintf(why, size, "%s: %s", cfg->passwd, strerror(errno));
		return -1;
	}
	if (st.st_mode & S_IROTH)
		log_msg(LOG_WARNING, "%s is readable by others (mode %04o); "
		    "chmod o-r it", cfg->passwd, (unsigned)st.st_mode & 07777);
	switch (scan_passwd(cfg)) {
	case -1:
		snprintf(why, size, "%s: %s", cfg->passwd, strerror(errno));
		return -1;
	case -2:
		snprintf(why, size, "%s: crypt(3) hashes, but this pop3d was "
		    "built without crypt(3): {PLAIN} secrets only", cfg->passwd);
		return -1;
	}
	if (cfg->run_as == NULL) {
		if (geteuid() == 0)
			log_msg(LOG_WARNING, "sessions run as root: give -u "
			    "USER to run them as an unprivileged account");
		return 0;
	}
	if (!cfg->run_switch)
		return 0;	/* already that user */
	return priv_become_user(cfg->run_as, cfg->run_uid, cfg->run_gid,
	    (gid_t)-1, why, size);
}

void
auth_free(struct account *a)
{
	free(a->mailbox);
	a->mailbox = NULL;
}

/* What auth_init() holds: the password file and the dummy setting. */
void
auth_end(struct auth_config *cfg)
{
	if (cfg->pwfile != NULL)
		fclose(cfg->pwfile);
	cfg->pwfile = NULL;
	free(cfg->dummy);
	cfg->dummy = NULL;
}
