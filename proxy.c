/*
 * The PROXY protocol (HAProxy's proxy-protocol.txt), read strictly: a
 * load balancer that relays a client sends, before any byte of the
 * client's, either a line
 *
 *	PROXY TCP4 192.0.2.7 198.51.100.1 51234 110\r\n	(version 1)
 *
 * or a binary block (version 2) that begins with a 12-byte signature.
 * The spec asks the receiver not to guess: a header is whole and valid,
 * or the connection is dropped.  Only the client's address is kept
 * (for the log and the TLS rule of -x); a header with none (LOCAL,
 * UNKNOWN, an AF_UNIX or unspecified family) leaves the proxy's own.
 *
 * Also the list of proxies -H trusts: addresses and CIDR networks.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy.h"

static const unsigned char v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};
static const char v1_sig[] = "PROXY ";
#define V1_SIG_LEN	(sizeof(v1_sig) - 1)

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes the IPv4 one. */
static void
unmap(struct proxy_addr *a)
{
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	if (a->family == AF_INET6 && memcmp(a->a, mapped, 12) == 0) {
		memmove(a->a, a->a + 12, 4);
		memset(a->a + 4, 0, 12);
		a->family = AF_INET;
	}
}

/* Text to an address: 1, or 0 when it is neither IPv4 nor IPv6. */
int
proxy_addr_parse(const char *text, struct proxy_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, text, a->a) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, text, a->a) == 1)
		a->family = AF_INET6;
	else
		return 0;
	unmap(a);
	return 1;
}

/* A struct sockaddr (from getpeername) to an address: 1, or 0. */
int
proxy_addr_from(const void *sa, struct proxy_addr *a)
{
	const struct sockaddr_in *in4 = sa;
	const struct sockaddr_in6 *in6 = sa;

	memset(a, 0, sizeof(*a));
	if (in4->sin_family == AF_INET) {
		memcpy(a->a, &in4->sin_addr, 4);
		a->family = AF_INET;
	} else if (in6->sin6_family == AF_INET6) {
		memcpy(a->a, &in6->sin6_addr, 16);
		a->family = AF_INET6;
	} else
		return 0;
	unmap(a);
	return 1;
}

void
proxy_addr_text(const struct proxy_addr *a, char *buf, size_t size)
{
	if (a->family == AF_UNSPEC ||
	    inet_ntop(a->family, a->a, buf, (socklen_t)size) == NULL)
		snprintf(buf, size, "-");
}

/* 127.0.0.0/8 or ::1. */
int
proxy_loopback(const struct proxy_addr *a)
{
	static const unsigned char one[16] = { [15] = 1 };

	if (a->family == AF_INET)
		return a->a[0] == 127;
	return a->family == AF_INET6 && memcmp(a->a, one, 16) == 0;
}

/* Do the first bits of a and b agree? */
static int
same_prefix(const struct proxy_addr *a, const struct proxy_addr *b, int bits)
{
	int whole = bits / 8, rest = bits % 8;

	if (a->family != b->family || memcmp(a->a, b->a, (size_t)whole) != 0)
		return 0;
	return rest == 0 || ((a->a[whole] ^ b->a[whole]) &
	    (0xff << (8 - rest)) & 0xff) == 0;
}

/*
 * A decimal number of 1 to 5 digits, no leading zero (a port, a prefix
 * length), up to max, ending at end.  -1 when it is not one.
 */
static long
decimal(const char *p, const char *end, long max)
{
	long v = 0;

	if (end <= p || end - p > 5 || (*p == '0' && end - p > 1))
		return -1;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v > max ? -1 : v;
}

/*
 * Add "ADDR[/BITS][,ADDR[/BITS]...]" to the list.  0, or -1 with *why.
 * The host bits of a network must be zero: 10.1.2.3/8 is a typing
 * mistake, not a network.
 */
int
proxy_list_add(struct proxy_list *l, const char *spec, const char **why)
{
	char item[PROXY_ADDR_TEXT + 8], *slash;
	const char *p = spec, *comma;
	struct proxy_addr a, masked;
	size_t len;
	long bits;

	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (len == 0 || len >= sizeof(item)) {
			*why = "an empty or overlong address";
			return -1;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		if ((slash = strchr(item, '/')) != NULL)
			*slash = '\0';
		if (!proxy_addr_parse(item, &a)) {
			*why = "not an IPv4 or IPv6 address";
			return -1;
		}
		bits = a.family == AF_INET ? 32 : 128;
		if (slash != NULL && (strchr(item, ':') != NULL &&
		    a.family == AF_INET)) {
			*why = "a network of IPv4-mapped addresses: give the "
			    "IPv4 network";
			return -1;
		}
		if (slash != NULL && (bits = decimal(slash + 1,
		    slash + 1 + strlen(slash + 1), bits)) == -1) {
			*why = "a prefix length out of range";
			return -1;
		}
		masked = a;
		for (long i = bits; i < 128; i++)
			masked.a[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
		if (memcmp(masked.a, a.a, sizeof(a.a)) != 0) {
			*why = "host bits set after the prefix length";
			return -1;
		}
		if (l->n == PROXY_TRUST_MAX) {
			*why = "too many addresses";
			return -1;
		}
		l->net[l->n].addr = a;
		l->net[l->n].bits = (int)bits;
		l->n++;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

int
proxy_trusted(const struct proxy_list *l, const struct proxy_addr *a)
{
	for (size_t i = 0; i < l->n; i++)
		if (same_prefix(&l->net[i].addr, a, l->net[i].bits))
			return 1;
	return 0;
}

/*
 * The start of a header of either version?  For refusing one from a
 * peer that is no trusted proxy.
 */
int
proxy_looks_like(const unsigned char *buf, size_t len)
{
	return (len >= V1_SIG_LEN && memcmp(buf, v1_sig, V1_SIG_LEN) == 0) ||
	    (len >= sizeof(v2_sig) && memcmp(buf, v2_sig, sizeof(v2_sig)) == 0);
}

#ifndef POP3D_SMALL
/* Field n of the v1 line (space-separated) in [*b, *e); 0 if none. */
static int
v1_field(const char *line, const char *end, int n, const char **b,
    const char **e)
{
	const char *p = line;

	for (int i = 0; i < n; i++) {
		if ((p = memchr(p, ' ', (size_t)(end - p))) == NULL)
			return 0;
		p++;
	}
	*b = p;
	*e = memchr(p, ' ', (size_t)(end - p));
	if (*e == NULL)
		*e = end;
	return *e > *b;
}

/* The v1 address of family af in [b, e) into a: 1, or 0. */
static int
v1_addr(const char *b, const char *e, int af, struct proxy_addr *a)
{
	char text[PROXY_ADDR_TEXT];

	if ((size_t)(e - b) >= sizeof(text))
		return 0;
	memcpy(text, b, (size_t)(e - b));
	text[e - b] = '\0';
	memset(a, 0, sizeof(*a));
	if (inet_pton(af, text, a->a) != 1)
		return 0;
	a->family = af;
	return 1;
}

/*
 * Version 1, the line without its CR LF in [line, end): "PROXY UNKNOWN"
 * (anything may follow it), or "PROXY TCP4|TCP6 SRC DST SPORT DPORT",
 * single spaces, nothing more.
 */
static int
v1_parse(const char *line, const char *end, struct proxy_header *h,
    const char **why)
{
	const char *b, *e;
	struct proxy_addr dst;
	int af;

	h->version = 1;
	if (!v1_field(line, end, 1, &b, &e)) {
		*why = "v1: no protocol";
		return -1;
	}
	if (e - b == 7 && memcmp(b, "UNKNOWN", 7) == 0) {
		h->local = 1;
		return 1;
	}
	if (e - b == 4 && memcmp(b, "TCP4", 4) == 0)
		af = AF_INET;
	else if (e - b == 4 && memcmp(b, "TCP6", 4) == 0)
		af = AF_INET6;
	else {
		*why = "v1: a protocol other than TCP4, TCP6, UNKNOWN";
		return -1;
	}
	if (!v1_field(line, end, 2, &b, &e) || !v1_addr(b, e, af, &h->src) ||
	    !v1_field(line, end, 3, &b, &e) || !v1_addr(b, e, af, &dst)) {
		*why = "v1: an address that is not of its protocol";
		return -1;
	}
	if (!v1_field(line, end, 4, &b, &e) ||
	    decimal(b, e, 65535) == -1) {
		*why = "v1: a bad source port";
		return -1;
	}
	h->port = (unsigned)decimal(b, e, 65535);
	if (!v1_field(line, end, 5, &b, &e) || decimal(b, e, 65535) == -1 ||
	    e != end) {
		*why = "v1: a bad destination port, or more after it";
		return -1;
	}
	unmap(&h->src);
	return 1;
}

/*
 * Version 2's TLVs: type (1), length (2, big-endian), value; they must
 * fill [p, end) exactly.
 */
static int
v2_tlvs(const unsigned char *p, const unsigned char *end)
{
	size_t n;

	while (p < end) {
		if (end - p < 3)
			return 0;
		n = (size_t)p[1] << 8 | p[2];
		if (n > (size_t)(end - p - 3))
			return 0;
		p += 3 + n;
	}
	return 1;
}

/* Version 2: the whole block is buf[0, total). */
static int
v2_parse(const unsigned char *buf, size_t total, struct proxy_header *h,
    const char **why)
{
	const unsigned char *end = buf + total;
	size_t need;

	h->version = 2;
	if ((buf[12] >> 4) != 2) {
		*why = "v2: a version other than 2";
		return -1;
	}
	if ((buf[12] & 15) > 1) {
		*why = "v2: a command other than LOCAL or PROXY";
		return -1;
	}
	switch (buf[13]) {
	case 0x00:			/* UNSPEC */
		need = 0;
		break;
	case 0x11:			/* TCP over IPv4 */
		need = 12;
		break;
	case 0x21:			/* TCP over IPv6 */
		need = 36;
		break;
	case 0x31:			/* a stream over AF_UNIX */
		need = 216;
		break;
	default:
		*why = "v2: not a stream over IPv4, IPv6 or AF_UNIX";
		return -1;
	}
	/* LOCAL: the proxy's own connection (a health check); skip it all */
	if ((buf[12] & 15) == 0) {
		h->local = 1;
		return 1;
	}
	if (total - 16 < need) {
		*why = "v2: shorter than its address block";
		return -1;
	}
	if (buf[13] != 0x00 && !v2_tlvs(buf + 16 + need, end)) {
		*why = "v2: malformed TLVs";
		return -1;
	}
	if (buf[13] == 0x11) {
		h->src.family = AF_INET;
		memcpy(h->src.a, buf + 16, 4);
		h->port = (unsigned)buf[24] << 8 | buf[25];
	} else if (buf[13] == 0x21) {
		h->src.family = AF_INET6;
		memcpy(h->src.a, buf + 16, 16);
		h->port = (unsigned)buf[48] << 8 | buf[49];
		unmap(&h->src);
	} else
		h->local = 1;
	return 1;
}

/*
 * The header at the start of buf[0, len).  1: whole and valid, h filled,
 * *used its length (what follows is the client's); 0: valid so far, more
 * is needed; -1: not a header, or a malformed one, with *why.
 */
int
proxy_parse(const unsigned char *buf, size_t len, struct proxy_header *h,
    size_t *used, const char **why)
{
	const unsigned char *nl;
	size_t total, n;
	int r;

	memset(h, 0, sizeof(*h));
	*used = 0;
	n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);
	if (memcmp(buf, v2_sig, n) == 0) {
		if (len < 16)
			return 0;
		total = 16 + ((size_t)buf[14] << 8 | buf[15]);
		if (total > PROXY_V2_MAX) {
			*why = "v2: longer than pop3d reads";
			return -1;
		}
		if (len < total)
			return 0;
		if ((r = v2_parse(buf, total, h, why)) == 1)
			*used = total;
		return r;
	}
	n = len < V1_SIG_LEN ? len : V1_SIG_LEN;
	if (memcmp(buf, v1_sig, n) != 0) {
		*why = "not a PROXY protocol header";
		return -1;
	}
	n = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
	if ((nl = memchr(buf, '\n', n)) == NULL) {
		if (len >= PROXY_V1_MAX) {
			*why = "v1: no CR LF within 107 bytes";
			return -1;
		}
		return 0;
	}
	if (nl == buf || nl[-1] != '\r' ||
	    memchr(buf, '\r', (size_t)(nl - buf - 1)) != NULL ||
	    memchr(buf, '\0', (size_t)(nl - buf)) != NULL) {
		*why = "v1: a line not ended by CR LF, or holding CR or NUL";
		return -1;
	}
	if ((r = v1_parse((const char *)buf, (const char *)nl - 1, h,
	    why)) == 1)
		*used = (size_t)(nl - buf) + 1;
	return r;
}
#else
/*
 * The small static build for routers (make static with musl) reads no
 * PROXY header (-H is refused there): it stays under 128 KB.
 */
int
proxy_parse(const unsigned char *buf, size_t len, struct proxy_header *h,
    size_t *used, const char **why)
{
	(void)buf;
	(void)len;
	memset(h, 0, sizeof(*h));
	*used = 0;
	*why = "not in this small build";
	return -1;
}
#endif
