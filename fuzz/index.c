/*
 * Fuzz target: the index reader (mbox_index.c) on arbitrary index files.
 *
 * A small mailbox is written once.  Each input becomes its index file;
 * unless the input says otherwise, the fields that tie an index to its
 * mailbox (inode, size, times) are set to the mailbox's, and the checksum
 * made right, so that the fuzzer reaches the records and what the session
 * does with an index it trusts: RETR, TOP, UIDL and the checks of every
 * message.  A forged index may describe the wrong bytes (it is the
 * session user's own file, trusted by its stat), but nothing it says may
 * crash pop3d or make it read outside the file.
 */
/* memfd_create(2): a feature-test macro, defined on purpose */
/* NOLINTNEXTLINE(bugprone-reserved-identifier,cert-dcl*) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../hash.h"
#include "../io.h"
#include "../log.h"
#include "../mbox.h"
#include "../retr.h"
#include "scratch.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define HEAD	96	/* the header's size and offsets, as mbox_index.c */
#define RULES	((uint32_t)MBOX_UID_RULE << 16 | FP_WINDOW)

static char path[300], index_path[320], new_path[330];
static int out_fd = -1;

static const char mailbox[] =
    "From a@example.org Mon Jan  1 00:00:00 2024\n"
    "Subject: one\nX-UIDL: kept\n\nbody\n.dot\n\n"
    "From b@example.org Mon Jan  1 00:00:01 2024\r\n"
    "Subject: two\r\n\r\nline\r\n\r\n"
    "From c@example.org Mon Jan  1 00:00:02 2024\n"
    "Subject: twin\n\nx\n\n"
    "From c@example.org Mon Jan  1 00:00:02 2024\n"
    "Subject: twin\n\nx\n\n"
    "From d@example.org Mon Jan  1 00:00:03 2024\n"
    "Subject: last\n\nno newline";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FILE *f;

	(void)argc;
	(void)argv;
	log_open(1);
	snprintf(path, sizeof(path), "%s/mbox", scratch_dir("index"));
	snprintf(index_path, sizeof(index_path), "%s.pop3d-index", path);
	snprintf(new_path, sizeof(new_path), "%s.new", index_path);
	if ((f = fopen(path, "we")) == NULL ||
	    fwrite(mailbox, 1, sizeof(mailbox) - 1, f) != sizeof(mailbox) - 1 ||
	    fclose(f) == EOF) {
		perror(path);
		exit(1);
	}
	if ((out_fd = memfd_create("fuzz-index-out", MFD_CLOEXEC)) == -1) {
		perror("memfd_create");
		exit(1);
	}
	return 0;
}

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The input, made to fit the mailbox as far as its first byte says. */
static uint8_t *
make_index(const uint8_t *data, size_t size, size_t *len)
{
	struct stat st;
	uint8_t *b;
	int how = size > 0 ? data[0] : 0;

	if (size > 0) {
		data++;
		size--;
	}
	*len = size < HEAD ? HEAD : size;
	if ((b = calloc(1, *len)) == NULL || stat(path, &st) == -1)
		abort();
	memcpy(b, data, size);
	if (!(how & 1)) {
		memcpy(b, "pop3dI1", 8);	/* its NUL too */
		put32(b + 8, RULES);
	}
	if (!(how & 2)) {
		put64(b + 16, (uint64_t)st.st_ino);
		put64(b + 24, (uint64_t)st.st_size);
		put64(b + 32, (uint64_t)st.st_ctim.tv_sec);
		put32(b + 40, (uint32_t)st.st_ctim.tv_nsec);
		put32(b + 44, (uint32_t)st.st_mtim.tv_nsec);
		put64(b + 48, (uint64_t)st.st_mtim.tv_sec);
		put64(b + 56, (uint64_t)st.st_ctim.tv_sec + 10);
	}
	if (!(how & 4))
		put64(b + 72, (*len - HEAD) / 48);
	if (!(how & 8)) {
		memset(b + 88, 0, 8);
		put64(b + 88, hash_bytes(b, *len));
	}
	return b;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mbox m;
	static struct out o;
	char uid[UID_MAX + 1];
	uint8_t *idx;
	size_t len;
	int fd;

	idx = make_index(data, size, &len);
	fd = open(index_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || write(fd, idx, len) != (ssize_t)len || close(fd) == -1)
		abort();
	free(idx);
	if (mbox_open(&m, path, NULL) == 0) {
		memset(&o, 0, sizeof(o));
		o.fd = out_fd;
		for (size_t i = 0; i < m.count; i++) {
			if (mbox_check(&m, i, 0) == -1)
				break;
			if (retr_send(&o, &m, i, 0, 0) == -1 ||
			    retr_send(&o, &m, i, 1, 1) == -1 ||
			    mbox_uid(&m, i, uid) == -1)
				break;
			if (out_flush(&o) == -1 || ftruncate(out_fd, 0) == -1 ||
			    lseek(out_fd, 0, SEEK_SET) == -1)
				abort();
		}
	}
	mbox_close(&m);
	(void)unlink(index_path);
	(void)unlink(new_path);
	return 0;
}
