/*
 * Message boundaries checked against the file itself (see boundary.h).
 * Each answer is a yes or a no: a read that fails is a no, and the caller
 * then treats the file as changed.
 */
#include <string.h>

#include "boundary.h"
#include "fileio.h"

/*
 * Do the n bytes (at most 3) that end at p end an empty line: "\n\n" or
 * "\n\r\n"?  at says where p is in the file: its start is a line start.
 */
int
boundary_empty_before(const char *p, size_t n, off_t at)
{
	if (at == 0)
		return 1;
	return (n >= 2 && p[-2] == '\n' && p[-1] == '\n') ||
	    (n >= 3 && memcmp(p - 3, "\n\r\n", 3) == 0);
}

/* Do the bytes before `at` end an empty line (or is it the start)? */
int
boundary_after_empty_line(int fd, off_t at)
{
	char b[3] = { 0, 0, 0 };
	size_t n = at >= 3 ? 3 : (size_t)at;

	if (at > 0 && fileio_read_all(fd, b + 3 - n, n, at - (off_t)n) == -1)
		return 0;
	return boundary_empty_before(b + 3, n, at);
}

/*
 * Does a message start at `at`, as the scan sees it: "From " after an
 * empty line, or at the start of the file?
 */
int
boundary_message_starts(int fd, off_t at)
{
	char b[5];

	return fileio_read_all(fd, b, 5, at) == 0 &&
	    memcmp(b, "From ", 5) == 0 && boundary_after_empty_line(fd, at);
}

/*
 * Mail appended at `at`: how many line-end bytes come before its first
 * "From " line, or -1 if it does not start with a message.  A delivery
 * agent that finds the file not ending in an empty line writes one (or
 * finishes the last line) first.
 */
int
boundary_separator_len(int fd, off_t at, off_t size)
{
	char b;
	int k;

	for (k = 0; k <= 4 && at + k + 5 <= size; k++) {
		if (boundary_message_starts(fd, at + k))
			return k;
		if (fileio_read_all(fd, &b, 1, at + k) == -1 ||
		    (b != '\n' && b != '\r'))
			break;
	}
	return -1;
}
