/*
 * Fuzz target: the password file parser, auth_lookup(), against a plain
 * model of the format.
 *
 * The input is a password file.  Every name the model finds at a line
 * start, and a few fixed ones, are looked up; auth_lookup() must agree
 * with the model on found or not, the secret and the mailbox.  The model:
 * lines end at LF; a line longer than PASSWD_LINE_MAX - 1 bytes or holding
 * a NUL never matches and does not disturb its neighbours; '#' starts a
 * comment; the first line "user:secret[:mailbox]" for the name wins.
 * auth_name_ok() is checked on the way: a name it accepts is safe in a
 * path.
 */
/* fmemopen(3): a feature-test macro, defined on purpose */
/* NOLINTNEXTLINE(bugprone-reserved-identifier,cert-dcl*) */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../auth.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* auth.c logs through the session's logger; nothing to see here. */
void
log_msg(int prio, const char *fmt, ...)
{
	(void)prio;
	(void)fmt;
}

static void
die(const char *what, const char *user)
{
	fprintf(stderr, "fuzz/passwd: invariant broken: %s (user \"%s\")\n",
	    what, user);
	abort();
}

struct found {
	int		ok;
	const char	*secret;
	size_t		secret_len;
	const char	*mailbox;	/* NULL: no third field */
	size_t		mailbox_len;
};

/* The model: the first usable line for user, straight from the bytes. */
static struct found
model(const uint8_t *data, size_t size, const char *user)
{
	struct found f = { 0, NULL, 0, NULL, 0 };
	size_t ulen = strlen(user), at = 0;

	while (at < size) {
		const uint8_t *line = data + at, *nl, *colon;
		size_t len;

		nl = memchr(line, '\n', size - at);
		len = nl ? (size_t)(nl - line) : size - at;
		at += len + 1;
		if (len > PASSWD_LINE_MAX - 1 || memchr(line, '\0', len) ||
		    line[0] == '#' || len <= ulen ||
		    memcmp(line, user, ulen) != 0 || line[ulen] != ':')
			continue;
		f.ok = 1;
		f.secret = (const char *)line + ulen + 1;
		colon = memchr(f.secret, ':', len - ulen - 1);
		if (colon) {
			f.secret_len = (size_t)((const char *)colon - f.secret);
			f.mailbox = (const char *)colon + 1;
			f.mailbox_len = len - ulen - 1 - f.secret_len - 1;
		} else
			f.secret_len = len - ulen - 1;
		break;
	}
	return f;
}

static void
check_name(const char *user)
{
	size_t n = strlen(user);

	if (!auth_name_ok(user))
		return;
	if (n == 0 || n > USER_NAME_MAX || user[0] == '.' ||
	    strpbrk(user, "/: \t\r\n") != NULL)
		die("auth_name_ok accepted a name unsafe in a path", user);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)user[i] < 0x21 || user[i] == 0x7f)
			die("auth_name_ok accepted a control character", user);
}

static void
check(const uint8_t *data, size_t size, const char *user)
{
	static char line[PASSWD_LINE_MAX];
	char *secret = NULL, *mailbox = NULL;
	struct found want;
	FILE *f;
	int r;

	check_name(user);
	if (!auth_name_ok(user))
		return;		/* auth_pass() never looks such a name up */
	want = model(data, size, user);
	/* fmemopen(3) refuses a zero-sized buffer */
	f = size > 0 ? fmemopen((void *)(uintptr_t)data, size, "r") :
	    fopen("/dev/null", "r");
	if (f == NULL)
		abort();
	r = auth_lookup(f, user, line, &secret, &mailbox);
	fclose(f);
	if (r == -1)
		die("read error from memory", user);
	if (r != want.ok)
		die(r ? "found a user the model does not" :
		    "missed a user the model finds", user);
	if (!r)
		return;
	if (strlen(secret) != want.secret_len ||
	    memcmp(secret, want.secret, want.secret_len) != 0)
		die("secret differs", user);
	if (mailbox == NULL || want.mailbox == NULL) {
		if (mailbox != want.mailbox)
			die("mailbox field presence differs", user);
	} else if (strlen(mailbox) != want.mailbox_len ||
	    memcmp(mailbox, want.mailbox, want.mailbox_len) != 0)
		die("mailbox differs", user);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const fixed[] = { "jack", "root", "a", "#jack",
	    ".x", "j", NULL };
	char user[USER_NAME_MAX + 2];
	size_t at = 0, n, names = 0;

	for (int i = 0; fixed[i]; i++)
		check(data, size, fixed[i]);
	/* each line's first field, when it can be a name at all */
	while (at < size && names < 64) {
		const uint8_t *line = data + at, *nl;
		size_t len;

		nl = memchr(line, '\n', size - at);
		len = nl ? (size_t)(nl - line) : size - at;
		at += len + 1;
		for (n = 0; n < len && n <= USER_NAME_MAX && line[n] != ':' &&
		    line[n] != '\0'; n++)
			user[n] = (char)line[n];
		user[n] = '\0';
		check(data, size, user);
		names++;
	}
	return 0;
}
