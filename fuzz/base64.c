/*
 * Fuzz target: the base64 codec used by SASL (RFC 4648, strict).
 *
 *   int    base64_decode(const char *in, size_t inlen, unsigned char *out,
 *              size_t outsize, size_t *outlen);     0 ok, -1 invalid/small
 *   size_t base64_encode(const unsigned char *in, size_t inlen, char *out,
 *              size_t outsize);                     length of the text
 *
 * Properties, on the input taken both as bytes and as text:
 *   - encode(x) is 4 * ceil(n / 3) characters of the RFC 4648 alphabet
 *     and decode(encode(x)) == x;
 *   - whatever decode accepts is canonical: encode(decode(s)) == s;
 *   - decode into one byte less than it needs fails and writes nothing
 *     past the buffer (every buffer is exactly sized, so ASan sees it).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base64.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
die(const char *what)
{
	fprintf(stderr, "fuzz/base64: invariant broken: %s\n", what);
	abort();
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		abort();
	return p;
}

static void
bytes_round_trip(const uint8_t *data, size_t size)
{
	size_t elen = (size + 2) / 3 * 4, n, dlen;
	char *text = xmalloc(elen + 1);
	unsigned char *back = xmalloc(size);

	n = base64_encode(data, size, text, elen + 1);
	if (n != elen)
		die("encoded length is not 4 * ceil(n / 3)");
	for (size_t i = 0; i < n; i++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789+/=", text[i]) ==
		    NULL || text[i] == '\0')
			die("encoding outside the alphabet");
	if (base64_decode(text, n, back, size, &dlen) != 0)
		die("decode refused an encoding");
	if (dlen != size || memcmp(back, data, size) != 0)
		die("decode(encode(x)) != x");
	free(text);
	free(back);
}

static void
text_round_trip(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	size_t room = size / 4 * 3 + 3, dlen = 0, n;
	unsigned char *out = xmalloc(room), *tight;
	char *again;

	if (base64_decode(s, size, out, room, &dlen) != 0) {
		free(out);
		return;
	}
	if (dlen > size / 4 * 3)
		die("decoded more than 3 bytes per 4 characters");
	again = xmalloc(size + 1);
	n = base64_encode(out, dlen, again, size + 1);
	if (n != size || memcmp(again, s, size) != 0)
		die("accepted a non-canonical encoding: "
		    "encode(decode(s)) != s");
	if (dlen > 0) {
		size_t small;

		tight = xmalloc(dlen - 1);
		if (base64_decode(s, size, tight, dlen - 1, &small) != -1)
			die("decoded into a buffer too small");
		free(tight);
	}
	free(again);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bytes_round_trip(data, size);
	text_round_trip(data, size);
	return 0;
}
