/*
 * pread(2) and pwrite(2) to the end: a short transfer is not an error by
 * itself, an interrupted one is retried.
 */
#include <errno.h>
#include <unistd.h>

#include "fileio.h"

/* Up to n bytes at offset at: fewer only at the end of the file; -1: error. */
ssize_t
fileio_read(int fd, void *p, size_t n, off_t at)
{
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		r = pread(fd, (char *)p + done, n - done, at + (off_t)done);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

/* All n bytes at offset at, or -1; a file that ends first is ESTALE. */
int
fileio_read_all(int fd, void *p, size_t n, off_t at)
{
	ssize_t r = fileio_read(fd, p, n, at);

	if (r == -1)
		return -1;
	if ((size_t)r < n) {
		errno = ESTALE;
		return -1;
	}
	return 0;
}

/*
 * All n bytes at offset at, or -1.  *done, unless NULL, gets how many
 * reached the file: after a failure the caller may need to know whether
 * the file is still as it was (a failed pwrite(2) writes nothing, a
 * partial one returns its count).
 */
int
fileio_write(int fd, const void *p, size_t n, off_t at, size_t *done)
{
	size_t sent = 0;
	ssize_t w;

	while (sent < n) {
		w = pwrite(fd, (const char *)p + sent, n - sent,
		    at + (off_t)sent);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			break;
		if (w == 0) {
			errno = EIO;
			break;
		}
		sent += (size_t)w;
	}
	if (done != NULL)
		*done = sent;
	return sent == n ? 0 : -1;
}
