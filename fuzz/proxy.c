/*
 * Fuzz target: the PROXY protocol header parser, proxy_parse(), which
 * reads what a load balancer (or anyone claiming to be one) sends before
 * the greeting.
 *
 * The input is the first bytes of a connection.  The parser must say
 * "whole", "more" or "bad" (with a reason) and never read past the input;
 * a whole header is at most what the spec allows, is found again when
 * more bytes follow it (the client's), and, fed a byte at a time, is
 * "more" until its last byte.  A client address is IPv4 or IPv6, never
 * an IPv4-mapped IPv6 one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../proxy.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
die(const char *what)
{
	fprintf(stderr, "fuzz/proxy: invariant broken: %s\n", what);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char more[PROXY_V2_MAX + 16];
	struct proxy_header h, again;
	const char *why = NULL;
	size_t used, used2;
	int r;

	/* an exact copy: ASan sees a read past the input */
	unsigned char *buf = malloc(size ? size : 1);

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	r = proxy_parse(buf, size, &h, &used, &why);
	if (r == -1 && why == NULL)
		die("a refusal without a reason");
	if (r == 1) {
		if (used == 0 || used > size || used > PROXY_V2_MAX)
			die("a header of impossible length");
		if (h.version == 1 && used > PROXY_V1_MAX)
			die("a v1 line past 107 bytes");
		if (!h.local && h.src.family != AF_INET &&
		    h.src.family != AF_INET6)
			die("a client address of no family");
		if (!h.local && h.src.family == AF_INET6 &&
		    memcmp(h.src.a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
			die("an IPv4-mapped address kept as IPv6");
		/* the client's bytes after it change nothing */
		if (used + 5 <= sizeof(more)) {
			memcpy(more, buf, used);
			memcpy(more + used, "QUIT\n", 5);
			if (proxy_parse(more, used + 5, &again, &used2,
			    &why) != 1 || used2 != used ||
			    memcmp(&again, &h, sizeof(h)) != 0)
				die("a header read otherwise with bytes after it");
		}
		/* every prefix is "more" */
		for (size_t n = 0; n < used; n++)
			if (proxy_parse(buf, n, &again, &used2, &why) != 0)
				die("a prefix of a whole header is not \"more\"");
	}
	free(buf);
	return 0;
}
