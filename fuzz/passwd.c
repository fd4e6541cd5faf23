/*
 * Fuzz target: the password file parser, auth_next_entry(), against a
 * plain model of the format.
 *
 * The input is a password file.  auth_next_entry() must return the same
 * entries as the model, in order: lines end at LF; a line longer than
 * PASSWD_LINE_MAX - 1 bytes or holding a NUL is skipped and does not
 * disturb its neighbours; a line starting with '#' or without ':' is
 * skipped; the rest is user:secret[:mailbox], the mailbox being the rest
 * of the line.  auth_name_ok() is checked on every user on the way: a
 * name it accepts is safe in a path.
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

static void
die(const char *what, size_t entry)
{
	fprintf(stderr, "fuzz/passwd: invariant broken: %s (entry %zu)\n",
	    what, entry + 1);
	abort();
}

struct field {
	const char	*p;		/* NULL: absent */
	size_t		len;
};

struct entry {
	struct field	user, secret, mailbox;
};

/*
 * The model: the next entry at or after *at in the raw bytes.  1: one
 * found, *at moved past its line; 0: no more.
 */
static int
model_next(const uint8_t *data, size_t size, size_t *at, struct entry *e)
{
	while (*at < size) {
		const char *line = (const char *)data + *at, *c1, *c2;
		const uint8_t *nl = memchr(line, '\n', size - *at);
		size_t len = nl ? (size_t)((const char *)nl - line) :
		    size - *at;

		*at += len + 1;
		if (len > PASSWD_LINE_MAX - 1 || memchr(line, '\0', len) ||
		    (len > 0 && line[0] == '#') ||
		    (c1 = memchr(line, ':', len)) == NULL)
			continue;
		e->user.p = line;
		e->user.len = (size_t)(c1 - line);
		e->secret.p = c1 + 1;
		c2 = memchr(c1 + 1, ':', len - e->user.len - 1);
		e->secret.len = c2 ? (size_t)(c2 - (c1 + 1)) :
		    len - e->user.len - 1;
		e->mailbox.p = c2 ? c2 + 1 : NULL;
		e->mailbox.len = c2 ? (size_t)(line + len - (c2 + 1)) : 0;
		return 1;
	}
	return 0;
}

static void
same(const char *got, const struct field *want, const char *what, size_t i)
{
	if (got == NULL || want->p == NULL) {
		if (got != want->p)
			die(what, i);
	} else if (strlen(got) != want->len ||
	    memcmp(got, want->p, want->len) != 0)
		die(what, i);
}

static void
check_name(const char *user, size_t i)
{
	size_t n = strlen(user);

	if (!auth_name_ok(user))
		return;
	if (n == 0 || n > USER_NAME_MAX || user[0] == '.' ||
	    strpbrk(user, "/: \t\r\n") != NULL)
		die("auth_name_ok accepted a name unsafe in a path", i);
	for (size_t k = 0; k < n; k++)
		if ((unsigned char)user[k] < 0x21 || user[k] == 0x7f)
			die("auth_name_ok accepted a control character", i);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char line[PASSWD_LINE_MAX];
	char *user, *secret, *mailbox;
	struct entry want;
	size_t at = 0, i;
	FILE *f;
	int r;

	/* fmemopen(3) refuses a zero-sized buffer */
	f = size > 0 ? fmemopen((void *)(uintptr_t)data, size, "r") :
	    fopen("/dev/null", "r");
	if (f == NULL)
		abort();
	for (i = 0;; i++) {
		r = auth_next_entry(f, line, &user, &secret, &mailbox);
		if (r == -1)
			die("read error from memory", i);
		if (r != model_next(data, size, &at, &want))
			die(r ? "an entry the model does not have" :
			    "missed an entry the model has", i);
		if (r == 0)
			break;
		same(user, &want.user, "user differs", i);
		same(secret, &want.secret, "secret differs", i);
		same(mailbox, &want.mailbox, "mailbox differs", i);
		check_name(user, i);
	}
	fclose(f);
	return 0;
}
