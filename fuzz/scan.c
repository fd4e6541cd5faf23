/*
 * Fuzz target: the mbox scanner, streaming and update on arbitrary
 * mailbox bytes.
 *
 * The input is written to a mailbox file, opened and scanned as a session
 * would, and the index is checked against the bytes themselves:
 *   - messages lie in order inside the file, each at a "From " line;
 *   - RETR sends exactly the stored bytes with every line ended in CR LF,
 *     dot-stuffed, then ".\r\n", and LIST's octet count is that output less
 *     the stuffing dots and the terminator;
 *   - TOP sends a prefix of RETR that ends at a line end;
 *   - UIDs are 1 to 70 printable characters and unique;
 *   - after UPDATE deletes some messages (chosen from a hash of the
 *     input), the file is the kept messages' regions in order, and a new
 *     scan finds exactly the kept messages with the same octet counts and
 *     content.
 * A broken invariant aborts, so libFuzzer reports it with the input.
 */
/* memfd_create(2): a feature-test macro, defined on purpose */
/* NOLINTNEXTLINE(bugprone-reserved-identifier,cert-dcl*) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../io.h"
#include "../log.h"
#include "../mbox.h"
#include "../retr.h"
#include "scratch.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char path[300], index_path[320];
static int out_fd = -1;

static void
die(const char *what, size_t i)
{
	fprintf(stderr, "fuzz/scan: invariant broken: %s (message %zu)\n",
	    what, i + 1);
	abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{

	(void)argc;
	(void)argv;
	log_open(1);		/* the rare log line goes to the fuzzer's log */
	snprintf(path, sizeof(path), "%s/mbox", scratch_dir("scan"));
	snprintf(index_path, sizeof(index_path), "%s.pop3d-index", path);
	if ((out_fd = memfd_create("fuzz-scan-out", MFD_CLOEXEC)) == -1) {
		perror("memfd_create");
		exit(1);
	}
	return 0;
}

static void
write_file(const char *p, const uint8_t *data, size_t size)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd == -1 || (size > 0 && write(fd, data, size) != (ssize_t)size) ||
	    close(fd) == -1) {
		perror(p);
		abort();
	}
}

/* Whatever went to out_fd since the last call, malloc(3)ed. */
static char *
take_output(size_t *len)
{
	struct stat st;
	char *b;

	if (fstat(out_fd, &st) == -1)
		abort();
	*len = (size_t)st.st_size;
	if ((b = malloc(*len + 1)) == NULL)
		abort();
	if (*len > 0 && pread(out_fd, b, *len, 0) != (ssize_t)*len)
		abort();
	if (ftruncate(out_fd, 0) == -1 || lseek(out_fd, 0, SEEK_SET) == -1)
		abort();
	return b;
}

/* RETR (top == 0) or TOP of message i, as the client would receive it. */
static char *
send_message(struct mbox *m, size_t i, int top, uint64_t lines, size_t *len)
{
	static struct out o;

	memset(&o, 0, sizeof(o));
	o.fd = out_fd;
	if (retr_send(&o, m, i, top, lines) == -1 || out_flush(&o) == -1)
		die("retr_send failed", i);
	return take_output(len);
}

/*
 * What RETR must send for stored bytes p[0..n): each LF not after a CR
 * becomes CR LF, a final CR LF is added when the last line is unended.
 */
static char *
expected_retr(const uint8_t *p, size_t n, int noeol, size_t *len)
{
	char *e = malloc(2 * n + 3), *d = e;
	char last = '\n';

	if (e == NULL)
		abort();
	for (size_t k = 0; k < n; k++) {
		if (p[k] == '\n' && last != '\r')
			*d++ = '\r';
		*d++ = (char)p[k];
		last = (char)p[k];
	}
	if (noeol) {
		*d++ = '\r';
		*d++ = '\n';
	}
	*len = (size_t)(d - e);
	return e;
}

/*
 * Undo the stuffing and strip the terminator in place; abort if the output
 * is not a proper multi-line response.  Returns the content length.
 */
static size_t
unstuff(char *o, size_t len, size_t i)
{
	size_t r = 0, k = 0;

	if (len < 3 || memcmp(o + len - 3, ".\r\n", 3) != 0 ||
	    (len > 3 && (len < 5 || o[len - 5] != '\r' || o[len - 4] != '\n')))
		die("response does not end in CRLF .CRLF", i);
	len -= 3;
	while (k < len) {
		char *nl = memchr(o + k, '\n', len - k);
		size_t l;

		if (nl == NULL)
			die("last line is not ended", i);
		l = (size_t)(nl - (o + k)) + 1;
		if (l < 2 || o[k + l - 2] != '\r')
			die("a line ends in a bare LF", i);
		if (o[k] == '.') {
			if (l == 3)
				die("a lone dot inside a message", i);
			k++;
			l--;
		}
		memmove(o + r, o + k, l);
		r += l;
		k += l;
	}
	return r;
}

static void
check_uid(const char *uid, size_t i)
{
	size_t n = strlen(uid);

	if (n < 1 || n > UID_MAX)
		die("UID length", i);
	for (size_t k = 0; k < n; k++)
		if (uid[k] < 0x21 || uid[k] > 0x7e)
			die("UID not printable", i);
}

/*
 * Message i against the file's bytes; returns its content as RETR sends
 * it, unstuffed, and checks LIST's octet count and TOP against it.
 */
static char *
check_message(struct mbox *m, const uint8_t *data, size_t i, uint64_t lines,
    size_t *clen)
{
	const struct msg *msg = &m->msgs[i];
	char *out, *top, *want;
	size_t len, tlen, wlen;
	uint64_t start = (uint64_t)msg->from + msg->from_len;

	if (msg->from_len < 5 || memcmp(data + msg->from, "From ", 5) != 0)
		die("message does not start at a From_ line", i);
	if (data[start - 1] != '\n' && msg->size != 0)
		die("From_ line does not end in LF", i);
	want = expected_retr(data + start, (size_t)msg->size,
	    msg->flags & MSG_NOEOL, &wlen);
	out = send_message(m, i, 0, 0, &len);
	len = unstuff(out, len, i);
	if (len != wlen || memcmp(out, want, wlen) != 0)
		die("RETR does not send the stored message", i);
	if ((uint64_t)msg->octets != len)
		die("LIST octets differ from what RETR sends", i);
	top = send_message(m, i, 1, lines, &tlen);
	tlen = unstuff(top, tlen, i);
	if (tlen > len || memcmp(top, out, tlen) != 0)
		die("TOP is not a prefix of RETR", i);
	free(top);
	free(want);
	*clen = len;
	return out;
}

static uint64_t
hash(const uint8_t *data, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t k = 0; k < size; k++)
		h = (h ^ data[k]) * 0x100000001b3ULL;
	return h;
}

static void
check_index(struct mbox *m, const uint8_t *data, size_t size)
{
	char uid[UID_MAX + 1], uid2[UID_MAX + 1];

	if ((uint64_t)m->scanned != size)
		die("scanned size", 0);
	for (size_t i = 0; i < m->count; i++) {
		const struct msg *msg = &m->msgs[i];
		uint64_t end = (uint64_t)msg->from + msg->from_len +
		    (uint64_t)msg->size;
		uint64_t next = i + 1 < m->count ?
		    (uint64_t)m->msgs[i + 1].from : size;

		if (end > next)
			die("message overlaps the next", i);
		/* between a message and the next: the empty separator line */
		if (i + 1 < m->count &&
		    !(next - end == 1 && data[end] == '\n') &&
		    !(next - end == 2 && data[end] == '\r' &&
		    data[end + 1] == '\n'))
			die("gap between messages is not one empty line", i);
		mbox_uid(m, i, uid);
		check_uid(uid, i);
		for (size_t j = 0; j < i; j++) {
			mbox_uid(m, j, uid2);
			if (strcmp(uid, uid2) == 0)
				die("UID not unique", i);
		}
	}
}

/* The mailbox file as it is now, malloc(3)ed. */
static uint8_t *
read_file(const char *p, size_t *len)
{
	struct stat st;
	uint8_t *b;
	int fd;

	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &st) == -1)
		abort();
	*len = (size_t)st.st_size;
	if ((b = malloc(*len + 1)) == NULL)
		abort();
	if (*len > 0 && pread(fd, b, *len, 0) != (ssize_t)*len)
		abort();
	close(fd);
	return b;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mbox m;
	uint64_t h = hash(data, size);
	char **content;
	size_t *clen, i, k, count, len, elen;
	uint8_t *after, *now;
	char *c;
	int r, deleted = 0;

	/*
	 * The file is rewritten here without the locks a mail program takes,
	 * faster than its ctime moves: an index from the run before could
	 * look whole.  This target is about the scan; fuzz/index.c is about
	 * the index.
	 */
	(void)unlink(index_path);
	write_file(path, data, size);
	r = mbox_open(&m, path, NULL);
	if (r == -1) {
		/* "not an mbox" is the only fair answer to bytes in a file */
		if (m.fault.code != FAULT_PERM || size == 0 ||
		    (size >= 5 && memcmp(data, "From ", 5) == 0))
			die("mbox_open refused a mailbox", 0);
		mbox_close(&m);
		return 0;
	}
	check_index(&m, data, size);
	if (size > 0 && (m.count == 0 || m.msgs[0].from != 0))
		die("a mailbox that is not empty has no first message", 0);
	count = m.count;
	content = calloc(count + 1, sizeof(*content));
	clen = calloc(count + 1, sizeof(*clen));
	after = malloc(size + 1);
	if (content == NULL || clen == NULL || after == NULL)
		abort();
	for (i = 0, elen = 0; i < count; i++) {
		size_t from = (size_t)m.msgs[i].from;
		size_t next = i + 1 < count ? (size_t)m.msgs[i + 1].from : size;

		content[i] = check_message(&m, data, i, (h >> 56) % 4,
		    &clen[i]);
		/* some messages go, as the hash of the input says */
		if ((h >> (i % 48)) & 1) {
			m.msgs[i].flags |= MSG_DELETED;
			deleted++;
		} else {
			memcpy(after + elen, data + from, next - from);
			elen += next - from;
		}
	}
	if (deleted > 0) {
		if (mbox_update(&m) == -1)
			die("mbox_update failed", 0);
		mbox_close(&m);
		now = read_file(path, &len);
		if (len != elen || memcmp(now, after, len) != 0)
			die("file after update is not the kept messages", 0);
		free(now);
		/* a new scan finds exactly the kept messages, unchanged */
		if (mbox_open(&m, path, NULL) == -1)
			die("mbox_open after update", 0);
		check_index(&m, after, elen);
		if (m.count != count - (size_t)deleted)
			die("message count after update", 0);
		for (i = 0, k = 0; i < count; i++) {
			if ((h >> (i % 48)) & 1)
				continue;
			if ((uint64_t)m.msgs[k].octets != clen[i])
				die("octets changed by update", i);
			c = check_message(&m, after, k, 0, &len);
			if (len != clen[i] || memcmp(c, content[i], len) != 0)
				die("content changed by update", i);
			free(c);
			k++;
		}
	}
	mbox_close(&m);
	for (i = 0; i < count; i++)
		free(content[i]);
	free(content);
	free(clen);
	free(after);
	return 0;
}
