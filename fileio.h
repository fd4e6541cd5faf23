/*
 * Reading and writing a file at an offset, whole: the loops around
 * pread(2) and pwrite(2) that every writer of the mailbox and the journal
 * shares.
 */
#ifndef FILEIO_H
#define FILEIO_H

#include <stddef.h>
#include <sys/types.h>

ssize_t	fileio_read(int, void *, size_t, off_t);
int	fileio_read_all(int, void *, size_t, off_t);
int	fileio_write(int, const void *, size_t, off_t, size_t *);

#endif
