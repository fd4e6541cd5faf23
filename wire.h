/*
 * The wire form of a stored message (RFC 1939 section 3): every line ends
 * in CR LF, whether the file has LF or CR LF; a line that starts with a
 * dot gets one more; a last line without a newline gets one; the closing
 * ".\r\n" follows.  These rules live here and nowhere else: the scan
 * counts octets with them (what STAT, LIST and the RETR answer announce)
 * and wire_encode() sends with them, so the two agree byte for byte.
 *
 * A codec, like md5.c: it knows bytes, not files or sockets.
 */
#ifndef WIRE_H
#define WIRE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The CR that a line ending in a bare LF gains on the wire: 1 unless the
 * byte before the LF is a CR already.
 */
static inline int
wire_cr_added(char before_lf)
{
	return before_lf != '\r';
}

/* An empty line costs CR LF, stored as LF or CR LF alike. */
#define WIRE_EMPTY_LINE	2
/* A last line without a newline is sent with CR LF after it. */
#define WIRE_NOEOL	2
/* Room wire_encode() needs to make progress, and wire_end() needs. */
#define WIRE_MIN_ROOM	5

struct wire {
	int		bol;		/* at the beginning of a line */
	char		last;		/* the last byte sent of this line */
	size_t		linelen;	/* bytes of this line so far */
	int		top;		/* TOP: stop after lines_left body lines */
	int		in_headers;
	uint64_t	lines_left;
	int		done;		/* TOP has sent all it should */
};

void	wire_start(struct wire *, int, uint64_t);
size_t	wire_encode(struct wire *, const char *, size_t, char *, size_t,
	    size_t *);
size_t	wire_end(struct wire *, char *);

#endif
