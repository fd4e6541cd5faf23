/*
 * The hand-over between the pre-login child and the monitor (monitor.c):
 * records of typed, length-prefixed fields over a socket pair.  The child
 * is the part of pop3d that a client's bytes may have taken over, so the
 * monitor parses everything it sends as hostile.
 */
#ifndef HANDOVER_H
#define HANDOVER_H

#include <stddef.h>

#include "params.h"

/*
 * Child to monitor.  A login attempt ends in the answers the child has
 * not written yet and the bytes it had read past the line that completed
 * the attempt (the client may pipeline): "out, in" below.
 */
#define HO_PASS		'P'	/* user, password, out, in */
#define HO_APOP		'A'	/* user, digest, timestamp, out, in */
#define HO_PLAIN	'L'	/* authzid, user, password, out, in */
#define HO_CRAM		'C'	/* user, digest, challenge, out, in */
#define HO_CHALLENGE	'K'	/* a CRAM-MD5 challenge, please */
#define HO_END		'E'	/* how the dialogue ended, USER's name */
#define HO_FATAL	'F'	/* the child could not confine itself: why */
#define HO_STLS		'T'	/* STLS: out (the client's input is dropped) */
#define HO_PROXY	'H'	/* the PROXY header: verdict, address or why */

/* Monitor to child. */
#define HO_GO		'G'	/* greet, with this APOP timestamp ("" none) */
#define HO_ISSUED	'I'	/* the CRAM-MD5 challenge */
#define HO_FAILED	'N'	/* refused and answered: forget USER */
#define HO_REFUSED	'R'	/* answered (mailbox): USER stays */
#define HO_EXIT		'X'	/* the monitor has the session, or ended it */

/* Why the dialogue ended (HO_END's first field). */
#define HO_END_QUIT	"quit"
#define HO_END_EOF	"eof"
#define HO_END_IDLE	"idle"
#define HO_END_DEADLINE	"deadline"
#define HO_END_BAD	"bad"
#define HO_END_GONE	"gone"

/* HO_PROXY's verdict (its first field); the second field says more. */
#define HO_PROXY_OK	"ok"		/* the client's address */
#define HO_PROXY_NONE	"none"		/* a header without one: "" */
#define HO_PROXY_BAD	"bad"		/* from a trusted proxy: why */
#define HO_PROXY_UNTRUSTED "untrusted"	/* a header from anyone else: "" */

/* handover_recv()'s why when the other end closed the channel. */
#define HO_WHY_GONE	"the other side is gone"

struct ho_field {
	const void	*p;
	size_t		len;
};

/* A parsed record: text fields NUL-terminated, all in text[]. */
struct ho_record {
	int		type;
	int		nfields;
	const char	*field[HANDOVER_FIELDS];
	size_t		len[HANDOVER_FIELDS];
	size_t		used;		/* of text */
	char		text[HANDOVER_MAX + HANDOVER_FIELDS];
};

/*
 * One end of the channel.  mate is NULL between two processes; in a
 * one-process build (the fuzz target) records go straight into the
 * mate's inbox and its handler, if any, runs on each.
 */
struct channel {
	int		fd;
	struct channel	*mate;
	void		(*handler)(void *);
	void		*arg;
	size_t		inpos, inlen;
	unsigned char	*inbox;		/* HANDOVER_INBOX bytes */
};

#define HANDOVER_INBOX	(2 * (HANDOVER_MAX + 2))

size_t	handover_encode(unsigned char *, size_t, int, int,
	    const struct ho_field *);
int	handover_parse(const unsigned char *, size_t, struct ho_record *,
	    const char **);
int	handover_send(struct channel *, int, int, const struct ho_field *);
int	handover_recv(struct channel *, struct ho_record *, long long,
	    const char **);
void	handover_wipe(struct ho_record *);
#ifdef POP3D_TEST_HOOKS
int	handover_raw(struct channel *, const unsigned char *, size_t);
#endif

#endif
