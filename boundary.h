/*
 * Where messages start, read straight from the mailbox file: the mbox
 * rule (a "From " line at the start of the file or after an empty line)
 * for the checks made after the scan, when the file may have changed and
 * the index alone cannot be trusted.
 */
#ifndef BOUNDARY_H
#define BOUNDARY_H

#include <sys/types.h>

int	boundary_empty_before(const char *, size_t, off_t);
int	boundary_after_empty_line(int, off_t);
int	boundary_message_starts(int, off_t);
int	boundary_separator_len(int, off_t, off_t);

#endif
