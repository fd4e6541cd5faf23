/*
 * The two ends of a session: a bounded line reader on fd 0 and a buffered
 * writer on fd 1.  Nothing else reads or writes the client's descriptors.
 */
#ifndef IO_H
#define IO_H

#include <stddef.h>
#include <stdint.h>

#include "params.h"

struct in {
	int	fd;
	int	timeout_ms;	/* a whole line must arrive within this */
	long long until_ms;	/* 0, or the state's deadline (io_now_ms) */
	int	timed_out;	/* IN_IDLE or IN_DEADLINE: why input ended */
	size_t	pos, len;
	char	buf[IN_BUF_SIZE];
};

#define IN_IDLE		1	/* a line took longer than timeout_ms */
#define IN_DEADLINE	2	/* until_ms passed */

struct out {
	int	fd;
	int	failed;		/* sticky, like ferror(3): the client is gone */
	size_t	len;
	char	buf[OUT_BUF_SIZE];
};

#define LINE_OK		1
#define LINE_EOF	0
#define LINE_BAD	(-1)	/* too long, or holds a NUL */

long long io_now_ms(void);
void	in_init(struct in *, int, int);
void	out_init(struct out *, int);
int	in_line(struct in *, char *, size_t);
int	in_pending(struct in *);
int	in_more(struct in *, long long);
void	in_drop(struct in *, size_t);

void	out_put(struct out *, const void *, size_t);
char	*out_space(struct out *, size_t, size_t *);
void	out_commit(struct out *, size_t);
#define IO_DECIMAL_MAX	20	/* digits of 2^64 - 1 */
char	*io_decimal(char *, uint64_t);
void	out_printf(struct out *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	out_flush(struct out *);

#endif
