/*
 * Message boundaries checked against the file itself (see boundary.h).
 * Each answer is a yes or a no: a read that fails is a no, and the caller
 * then treats the file as changed.
 */
#include <string.h>

#include "boundary.h"
#include "fileio.h"

/* Do the bytes before `at` end an empty line (or is it the start)? */
int
boundary_after_empty_line(int fd, off_t at)
{
	char b[3] = { 0, 0, 0 };
	off_t from = at >= 3 ? at - 3 : 0;

	if (at == 0)
		return 1;
	if (at < 2 || fileio_read_all(fd, b + 3 - (at - from),
	    (size_t)(at - from), from) == -1)
		return 0;
	return (b[1] == '\n' && b[2] == '\n') || memcmp(b, "\n\r\n", 3) == 0;
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
