/*
 * pop3d -C: check a setup before it goes live, as sshd -t and nginx -t
 * do.  Given the options a launcher would give, it reads the password
 * file line by line, looks at the accounts, the directories and their
 * modes, the stunnel configuration for STLS and the proxy list, prints
 * one line for each finding ("ok", "warning" or "error") and then, in
 * words, what a session would do.  Exit 0 when nothing is an error.
 *
 * It never touches a mailbox or writes a file, and checks what it can
 * as whoever runs it: run it as the launcher would run pop3d (root).
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "params.h"

#ifndef POP3D_SMALL

struct check {
	int		errors;
	int		warnings;
	/* what the summary tells */
	int		users, plain;
	const char	*session_user;	/* who a session runs as */
	char		spool_note[PATH_MAX + 256];
};

static void
say(struct check *c, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
say(struct check *c, const char *level, const char *fmt, ...)
{
	va_list ap;

	if (strcmp(level, "error") == 0)
		c->errors++;
	else if (strcmp(level, "warning") == 0)
		c->warnings++;
	printf("%-8s ", level);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* A user's (group 0) or a group's (group 1) name, or the number. */
static const char *
id_name(int group, unsigned long id)
{
	static char buf[2][32];
	struct passwd *pw;
	struct group *gr;

	if (!group && (pw = getpwuid((uid_t)id)) != NULL)
		return pw->pw_name;
	if (group && (gr = getgrgid((gid_t)id)) != NULL)
		return gr->gr_name;
	snprintf(buf[group], sizeof(buf[group]), "%lu", id);
	return buf[group];
}

#define user_name(uid)	id_name(0, (unsigned long)(uid))
#define group_name(gid)	id_name(1, (unsigned long)(gid))

/* ---- the password file ------------------------------------------- */

/*
 * A secret pop3d can check: {PLAIN}, a locked one (!, *), or a crypt(3)
 * hash of a method this C library knows.  NULL, or what is wrong.
 */
static const char *
secret_problem(const char *secret)
{
	const char *h;

	if (strncmp(secret, "{PLAIN}", 7) == 0)
		return secret[7] == '\0' ? "an empty {PLAIN} password" : NULL;
	if (secret[0] == '\0')
		return "an empty secret: nobody can log in as this user "
		    "(write ! to lock the account on purpose)";
	if (secret[0] == '!' || secret[0] == '*')
		return NULL;
	if (!HAVE_CRYPT)
		return "a crypt(3) hash, but this pop3d was built without "
		    "crypt(3): {PLAIN} secrets only";
	h = auth_crypt("pop3d -C", secret);
	if (h == NULL || h[0] == '*')
		return "neither {PLAIN}... nor a crypt(3) hash of a method "
		    "this system knows (pop3d -P makes one)";
	return NULL;
}

/* One split line of the password file: what is wrong with it, if any. */
static void
check_entry(struct check *c, const char *file, int n, const char *user,
    const char *secret, const char *mailbox)
{
	const char *why;

	if (strchr(secret, '\r') != NULL ||
	    (mailbox != NULL && strchr(mailbox, '\r') != NULL)) {
		say(c, "error", "%s line %d: ends in CR (a DOS line end), "
		    "which would be part of the secret or the mailbox", file,
		    n);
		return;
	}
	if (!auth_name_ok(user)) {
		say(c, "error", "%s line %d: \"%.64s\" is not a user name "
		    "pop3d accepts (1 to %d bytes, no '/', ':', space or "
		    "control character, not starting with '.')", file, n, user,
		    USER_NAME_MAX);
		return;
	}
	if ((why = secret_problem(secret)) != NULL) {
		say(c, "error", "%s line %d (%s): %s", file, n, user, why);
		return;
	}
	if (mailbox != NULL && mailbox[0] != '\0' && mailbox[0] != '/')
		say(c, "warning", "%s line %d (%s): the mailbox %s is a "
		    "relative path", file, n, user, mailbox);
	c->users++;
	c->plain += strncmp(secret, "{PLAIN}", 7) == 0;
}

/*
 * Every line, numbered: what auth_next_entry() would skip is reported
 * (a line without ':', one too long or holding a NUL), and so is a line
 * it would take that can never log in.  A user named twice: the first
 * line wins.
 */
static void
check_passwd(struct check *c, const char *file)
{
	char line[PASSWD_LINE_MAX], *user, *secret, *mailbox;
	struct seen {
		char	name[USER_NAME_MAX + 1];
		int	line;
	} *seen = NULL, *more;
	int nseen = 0, n = 0, r;
	struct stat st;
	FILE *f;

	if ((f = fopen(file, "re")) == NULL || fstat(fileno(f), &st) == -1) {
		say(c, "error", "password file %s: %s", file, strerror(errno));
		if (f != NULL)
			fclose(f);
		return;
	}
	say(c, "ok", "password file %s: %s:%s %04o", file,
	    user_name(st.st_uid), group_name(st.st_gid),
	    (unsigned)st.st_mode & 07777);
	if (st.st_mode & S_IROTH)
		say(c, "warning", "%s is readable by others: chmod o-r it",
		    file);
	while ((r = auth_read_line(f, line)) > 0) {
		n++;
		if (r == AUTH_LINE_BAD) {
			say(c, "error", "%s line %d: longer than %d bytes or "
			    "holding a NUL byte; pop3d skips it", file, n,
			    PASSWD_LINE_MAX - 1);
			continue;
		}
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (!auth_split(line, &user, &secret, &mailbox)) {
			say(c, "error", "%s line %d: no ':' (user:secret"
			    "[:mailbox]); pop3d skips it", file, n);
			continue;
		}
		for (int i = 0; i < nseen; i++)
			if (strcmp(seen[i].name, user) == 0) {
				say(c, "warning", "%s line %d: %s again (line "
				    "%d first): that line wins", file, n, user,
				    seen[i].line);
				user = NULL;
				break;
			}
		if (user == NULL)
			continue;
		if (strlen(user) <= USER_NAME_MAX && (more = realloc(seen,
		    (size_t)(nseen + 1) * sizeof(*seen))) != NULL) {
			seen = more;
			snprintf(seen[nseen].name, sizeof(seen[nseen].name),
			    "%s", user);
			seen[nseen++].line = n;
		}
		check_entry(c, file, n, user, secret, mailbox);
	}
	if (r == -1)
		say(c, "error", "%s: %s", file, strerror(errno));
	explicit_bzero(line, sizeof(line));
	free(seen);
	fclose(f);
	if (c->users == 0)
		say(c, "error", "%s: no user can log in", file);
	else
		say(c, "ok", "%s: %d users can log in, %d with {PLAIN} "
		    "secrets (APOP and CRAM-MD5 %s)", file, c->users, c->plain,
		    c->users == c->plain ? "offered" : "not offered: every "
		    "user would need {PLAIN}");
}

/* ---- accounts and directories ------------------------------------- */

static void
check_prelogin(struct check *c, struct prelogin *p)
{
	char why[512];
	struct dirent *e;
	DIR *d;

	if (priv_prelogin_check(p, why, sizeof(why)) == -1) {
		say(c, "error", "%s", why);
		return;
	}
	if (!p->switched) {
		say(c, "warning", "not root: the pre-login process would run "
		    "as %s, without chroot (launchers start pop3d as root)",
		    user_name(getuid()));
		return;
	}
	say(c, "ok", "pre-login account %s (uid %ld), chroot %s", p->user,
	    (long)p->uid, p->dir);
	if ((d = opendir(p->dir)) == NULL) {
		say(c, "error", "%s: %s", p->dir, strerror(errno));
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			say(c, "warning", "%s is not empty (%s): the pre-login "
			    "process could see it", p->dir, e->d_name);
			break;
		}
	closedir(d);
}

/*
 * May uid (with gid and, for system accounts, the spool group pop3d
 * keeps) create files in the directory st describes?
 */
static int
may_create(const struct stat *st, uid_t uid, gid_t gid, gid_t keep)
{
	if (uid == 0)
		return 1;
	if (st->st_uid == uid)
		return (st->st_mode & S_IWUSR) != 0;
	if (st->st_gid == gid || (keep != (gid_t)-1 && st->st_gid == keep))
		return (st->st_mode & S_IWGRP) != 0;
	return (st->st_mode & S_IWOTH) != 0;
}

/*
 * The directory mailboxes are in: the -f file's, else the part of the
 * template before the user name.  Debian's /var/mail is root:mail 2775:
 * mail programs (and pop3d, which keeps the group) create MBOX.lock
 * there as group mail, and pop3d its session file MBOX.pop3d.
 */
static void
check_spool(struct check *c, const struct auth_config *cfg)
{
	const char *path = cfg->mailbox != NULL ? cfg->mailbox : cfg->template;
	char dir[PATH_MAX], sample[PATH_MAX + 2];
	const char *slash, *pct = strstr(path, "%u");
	struct stat st;
	gid_t keep;
	int per_user = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	if (pct != NULL && strchr(pct, '/') != NULL) {
		/* the user name is a directory: check the one above it */
		dir[pct - path] = '\0';
		per_user = 1;
	}
	if ((slash = strrchr(dir, '/')) == NULL) {
		say(c, "warning", "mailbox %s: a relative path (relative to "
		    "the launcher's working directory)", path);
		return;
	}
	dir[slash == dir ? 1 : slash - dir] = '\0';
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		say(c, "error", "mailbox directory %s: %s", dir,
		    errno ? strerror(errno) : "not a directory");
		return;
	}
	say(c, "ok", "mailbox directory %s: %s:%s %04o%s", dir,
	    user_name(st.st_uid), group_name(st.st_gid),
	    (unsigned)st.st_mode & 07777, per_user ?
	    " (each user's own directory below it)" : "");
	if (per_user)
		return;
	if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
		say(c, "warning", "%s: anyone may write it and remove others' "
		    "files (no sticky bit): Debian's /var/mail is root:mail "
		    "2775", dir);
	/* the group kept for system accounts: priv_become()'s rule */
	snprintf(sample, sizeof(sample), "%s/x", dir);
	keep = cfg->passwd == NULL ? priv_spool_group(sample) : (gid_t)-1;
	if (keep != (gid_t)-1)
		snprintf(c->spool_note, sizeof(c->spool_note), "keeping group "
		    "%s as Debian's mail readers do, so that it can create "
		    "the dotlock MBOX.lock and its session file MBOX.pop3d in "
		    "%s", group_name(keep), dir);
	if (cfg->passwd == NULL) {
		if (keep == (gid_t)-1 && !(st.st_mode & S_IWOTH)) {
			say(c, "warning", "%s: a user's session cannot create "
			    "MBOX.lock or MBOX.pop3d there (%s): it locks with "
			    "fcntl alone, does not see a second session, and "
			    "refuses deletions that move mail; Debian's "
			    "/var/mail is root:mail 2775", dir,
			    (st.st_mode & S_IWGRP) && st.st_gid == 0 ?
			    "group root is never kept" :
			    "not group-writable");
			snprintf(c->spool_note, sizeof(c->spool_note),
			    "without a dotlock or a session file in %s", dir);
		}
		return;
	}
	if (!may_create(&st, cfg->run_as != NULL ? cfg->run_uid : geteuid(),
	    cfg->run_as != NULL ? cfg->run_gid : getegid(), (gid_t)-1)) {
		say(c, "warning", "%s: %s cannot create MBOX.lock or "
		    "MBOX.pop3d there: sessions lock with fcntl alone, do not "
		    "see a second session, and refuse deletions that move "
		    "mail", dir, c->session_user);
		snprintf(c->spool_note, sizeof(c->spool_note), "without a "
		    "dotlock or a session file in %s", dir);
	} else
		snprintf(c->spool_note, sizeof(c->spool_note), "creating the "
		    "dotlock MBOX.lock and its session file MBOX.pop3d in %s",
		    dir);
	if (cfg->mailbox != NULL && access(cfg->mailbox, F_OK) == -1)
		say(c, "warning", "%s: %s (an empty mailbox until mail comes)",
		    cfg->mailbox, strerror(errno));
}

static void
check_index_dir(struct check *c, const struct auth_config *cfg)
{
	struct stat st;

	if (cfg->index_dir == NULL)
		return;
	if (stat(cfg->index_dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		say(c, "error", "-i %s: %s", cfg->index_dir,
		    errno ? strerror(errno) : "not a directory");
		return;
	}
	if (cfg->passwd != NULL && !may_create(&st, cfg->run_as != NULL ?
	    cfg->run_uid : geteuid(), cfg->run_as != NULL ? cfg->run_gid :
	    getegid(), (gid_t)-1))
		say(c, "warning", "-i %s: %s cannot create indexes there "
		    "(every session then scans the whole mailbox)",
		    cfg->index_dir, c->session_user);
	else if (cfg->passwd == NULL && !(st.st_mode & S_IWOTH))
		say(c, "warning", "-i %s: users cannot create indexes there "
		    "unless it is mode 1777", cfg->index_dir);
	else
		say(c, "ok", "-i %s: %s:%s %04o", cfg->index_dir,
		    user_name(st.st_uid), group_name(st.st_gid),
		    (unsigned)st.st_mode & 07777);
}

/* ---- STLS: stunnel and its configuration --------------------------- */

/* Does program -V say it is a pop3d?  Runs it, as stunnel would. */
static int
is_pop3d(const char *program)
{
	char out[64] = "";
	int p[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe(p) == -1)
		return 0;
	fflush(NULL);
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return 0;
	}
	if (pid == 0) {
		if (dup2(p[1], 1) == -1)
			_exit(127);
		execl(program, "pop3d", "-V", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	n = read(p[0], out, sizeof(out) - 1);
	close(p[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	out[n > 0 ? n : 0] = '\0';
	return strncmp(out, "pop3d ", 6) == 0;
}

/* "key = value" of a stunnel configuration line, in place; 0 if none. */
static int
conf_pair(char *line, char **key, char **value)
{
	char *eq, *end;

	line += strspn(line, " \t");
	if (*line == ';' || *line == '#' || *line == '[' ||
	    (eq = strchr(line, '=')) == NULL)
		return 0;
	*key = line;
	for (end = eq; end > line && (end[-1] == ' ' || end[-1] == '\t'); )
		end--;
	*end = '\0';
	*value = eq + 1 + strspn(eq + 1, " \t");
	end = *value + strlen(*value);
	while (end > *value && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\r' || end[-1] == '\n'))
		end--;
	*end = '\0';
	return 1;
}

static void
check_stls(struct check *c, const struct options *o,
    const struct auth_config *cfg)
{
	char line[1024], *key, *value, *exec = NULL, *args = NULL;
	int n = 0, accept_line = 0, sections = 0;
	FILE *f;

	if (access(STUNNEL_PATH, X_OK) == -1)
		say(c, "error", "-T: %s: %s (Debian: apt-get install stunnel4)",
		    STUNNEL_PATH, strerror(errno));
	if ((f = fopen(o->stls, "re")) == NULL) {
		say(c, "error", "-T %s: %s", o->stls, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		n++;
		if (line[strspn(line, " \t")] == '[')
			sections++;
		if (!conf_pair(line, &key, &value))
			continue;
		if (strcmp(key, "accept") == 0)
			accept_line = n;
		else if (strcmp(key, "exec") == 0 && exec == NULL)
			exec = strdup(value);
		else if (strcmp(key, "execArgs") == 0 && args == NULL)
			args = strdup(value);
		else if ((strcmp(key, "cert") == 0 || strcmp(key, "key") == 0) &&
		    access(value, R_OK) == -1)
			say(c, "error", "-T %s line %d: %s %s: %s", o->stls, n,
			    key, value, strerror(errno));
		else if (strcmp(key, "key") == 0 && cfg->run_as != NULL)
			say(c, "warning", "-T %s line %d: stunnel runs as %s "
			    "(-u) after STLS: the key %s must be readable by it",
			    o->stls, n, cfg->run_as, value);
	}
	fclose(f);
	if (accept_line)
		say(c, "error", "-T %s line %d: accept: stunnel would listen "
		    "on a port instead of taking the connection (inetd mode "
		    "has no accept)", o->stls, accept_line);
	if (sections)
		say(c, "warning", "-T %s: a [service] section: in inetd mode "
		    "stunnel reads its options without one", o->stls);
	if (exec == NULL)
		say(c, "error", "-T %s: no exec line naming the pop3d to run "
		    "behind TLS", o->stls);
	else if (access(exec, X_OK) == -1)
		say(c, "error", "-T %s: exec %s: %s", o->stls, exec,
		    strerror(errno));
	else if (!is_pop3d(exec))
		say(c, "error", "-T %s: exec %s: not a pop3d (its -V does not "
		    "say so)", o->stls, exec);
	else if (args == NULL || strstr(args, " -a") == NULL)
		say(c, "error", "-T %s: execArgs does not give pop3d -a: the "
		    "pop3d behind TLS would greet again and offer STLS",
		    o->stls);
	else
		say(c, "ok", "-T %s: STLS runs %s in inetd mode, which runs "
		    "%s", o->stls, STUNNEL_PATH, args);
	free(exec);
	free(args);
}

/* ---- the summary ---------------------------------------------------- */

static void
check_proxies(struct check *c, const struct options *o)
{
	char text[PROXY_ADDR_TEXT];
	const struct proxy_addr *a;

	for (size_t i = 0; i < o->proxies.n; i++) {
		a = &o->proxies.net[i].addr;
		proxy_addr_text(a, text, sizeof(text));
		if (o->proxies.net[i].bits == 0)
			say(c, "warning", "-H %s/0: every address may claim to "
			    "be any client", text);
		else
			say(c, "ok", "-H: PROXY headers trusted from %s/%d",
			    text, o->proxies.net[i].bits);
	}
}

/* The summary, gathered and then printed wrapped at 72 columns. */
struct para {
	char	text[4096];
	size_t	len;
};

static void
add(struct para *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
add(struct para *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(p->text + p->len, sizeof(p->text) - p->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		p->len += (size_t)n < sizeof(p->text) - p->len ? (size_t)n :
		    sizeof(p->text) - p->len - 1;
}

static void
print_wrapped(const char *text)
{
	size_t col = 0, n;
	const char *w = text;

	while (*w != '\0') {
		n = strcspn(w, " ");
		if (col > 0 && col + 1 + n > 72) {
			putchar('\n');
			col = 0;
		} else if (col > 0) {
			putchar(' ');
			col++;
		}
		fwrite(w, 1, n, stdout);
		col += n;
		w += n;
		while (*w == ' ')
			w++;
	}
	putchar('\n');
}

static void
summary(const struct check *c, const struct auth_config *cfg,
    const struct options *o)
{
	const char *box = cfg->mailbox != NULL ? cfg->mailbox : cfg->template;
	struct para p = { .len = 0 };

	add(&p, "A session: ");
	if (o->proxies.n > 0)
		add(&p, "a connection from a trusted proxy starts with its "
		    "PROXY header, which names the client; from anyone else, "
		    "a PROXY header ends it. ");
	if (o->after_stls)
		add(&p, "stunnel has done the TLS handshake after STLS; pop3d "
		    "sends no greeting and offers no STLS. ");
	else
		add(&p, "pop3d greets the client%s. ", o->stls != NULL ?
		    " and offers STLS, which hands the connection to stunnel "
		    "and a fresh pop3d -a behind TLS" : "");
	add(&p, "Until the login a process that %s reads every byte the "
	    "client sends. ", o->prelogin.switched ? "is the pre-login "
	    "account, chrooted to an empty directory," : "runs as whoever "
	    "started pop3d");
	if (o->tls_required)
		add(&p, "USER, PASS, APOP and AUTH are refused without TLS, "
		    "except from loopback addresses. ");
	if (cfg->passwd != NULL)
		add(&p, "Passwords are checked against %s (%d users); the "
		    "session then runs as %s ", cfg->passwd, c->users,
		    c->session_user);
	else
		add(&p, "Passwords are checked against the system's accounts; "
		    "the session then runs as the user who logged in ");
	add(&p, "and serves %s%s%s. ", box, c->spool_note[0] ? ", " : "",
	    c->spool_note);
	add(&p, "Deletions are applied at QUIT only. The log goes to %s.",
	    "syslog (facility mail), or standard error with -e");
	putchar('\n');
	print_wrapped(p.text);
}

int
check_main(struct auth_config *cfg, struct options *o)
{
	struct check c = { .session_user = "root" };
	char why[512];

	printf("pop3d -C: checking the setup these options describe\n");
	if (auth_check(cfg, why, sizeof(why)) == -1)
		say(&c, "error", "%s", why);
	if (cfg->passwd == NULL)
		c.session_user = "the user who logged in";
	else if (cfg->run_as != NULL) {
		c.session_user = cfg->run_as;
		say(&c, "ok", "-u %s: sessions run as uid %ld gid %ld",
		    cfg->run_as, (long)cfg->run_uid, (long)cfg->run_gid);
	} else if (geteuid() == 0)
		say(&c, "warning", "-p without -u: sessions of virtual users "
		    "run as root; give -u USER");
	else
		c.session_user = user_name(geteuid());
	if (cfg->passwd != NULL)
		check_passwd(&c, cfg->passwd);
	check_prelogin(&c, &o->prelogin);
	check_spool(&c, cfg);
	check_index_dir(&c, cfg);
	if (o->stls != NULL)
		check_stls(&c, o, cfg);
	if (o->tls_required && o->stls == NULL && !o->after_stls)
		say(&c, "warning", "-x without -T: clients that are not on "
		    "loopback can never log in (unless this is pop3s behind "
		    "stunnel, where standard input is no TCP socket)");
	check_proxies(&c, o);
	summary(&c, cfg, o);
	printf("\npop3d -C: %d error%s, %d warning%s: %s\n", c.errors,
	    c.errors == 1 ? "" : "s", c.warnings, c.warnings == 1 ? "" : "s",
	    c.errors ? "fix the errors before pop3d goes live" :
	    "the setup is good");
	fflush(stdout);
	return c.errors ? 1 : 0;
}
#else
/*
 * The small static build for routers (make static with musl) leaves
 * -C out to stay under 128 KB: a full build checks the same options.
 */
int
check_main(struct auth_config *cfg, struct options *o)
{
	(void)cfg;
	(void)o;
	fprintf(stderr, "pop3d -C: not in this small build; run the -C of a "
	    "full build of pop3d with the same options\n");
	return 1;
}
#endif
