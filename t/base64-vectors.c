/*
 * Known answers for base64.c, printed as TAP: the RFC 4648 section 10
 * vectors both ways, the decoder's refusals (RFC 4648 section 3: padding,
 * whitespace, characters outside the alphabet, non-zero pad bits), the
 * output-size limits, and a round trip of every length and byte value.
 */
#include <stdio.h>
#include <string.h>

#include "../base64.h"

static int test_no;
static int failed;

static void
ok(int cond, const char *name)
{
	test_no++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", test_no, name);
}

static const struct {
	const char *plain, *coded;
} rfc4648[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void
vectors(void)
{
	char enc[64], name[128];
	unsigned char dec[64];
	size_t len, i;
	int r;

	for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		const char *p = rfc4648[i].plain, *c = rfc4648[i].coded;

		len = base64_encode((const unsigned char *)p, strlen(p), enc,
		    sizeof(enc));
		snprintf(name, sizeof(name), "encode \"%s\" -> \"%s\"", p, c);
		ok(len == strlen(c) && strcmp(enc, c) == 0, name);
		len = 99;
		r = base64_decode(c, strlen(c), dec, sizeof(dec), &len);
		snprintf(name, sizeof(name), "decode \"%s\" -> \"%s\"", c, p);
		ok(r == 0 && len == strlen(p) && memcmp(dec, p, len) == 0,
		    name);
	}
}

static void
refusals(void)
{
	static const struct {
		const char *in, *why;
	} bad[] = {
		{ "Zg", "missing padding" },
		{ "Zg=", "short padding" },
		{ "Zm9vY", "length not a multiple of 4" },
		{ "Zg==Zg==", "padding before the end" },
		{ "Z===", "three pad characters" },
		{ "====", "padding alone" },
		{ "Zm=v", "pad inside a quantum" },
		{ "Zm9 v", "a space" },
		{ "Zm9v\r\n", "CR LF" },
		{ "Zm9v\n", "a newline" },
		{ " Zm9v", "leading space" },
		{ "Zm9-", "'-' (base64url)" },
		{ "Zm9_", "'_' (base64url)" },
		{ "Zm9*", "'*'" },
		{ "Zm9\x80", "a byte above 127" },
		{ "Zh==", "non-zero bits after one byte" },
		{ "Zm9=", "non-zero bits after two bytes" },
		{ "AAA=AAAA", "pad in the first quantum" },
	};
	unsigned char dec[64];
	char name[128];
	size_t len, i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(name, sizeof(name), "refuses %s", bad[i].why);
		ok(base64_decode(bad[i].in, strlen(bad[i].in), dec,
		    sizeof(dec), &len) == -1, name);
	}
	/* a NUL inside the counted input is a character outside the set */
	ok(base64_decode("Zm\0v", 4, dec, sizeof(dec), &len) == -1,
	    "refuses a NUL inside the input");
}

static void
limits(void)
{
	unsigned char dec[8];
	char enc[16];
	size_t len;

	ok(base64_decode("Zm9vYmFy", 8, dec, 6, &len) == 0 && len == 6,
	    "decode fits exactly");
	ok(base64_decode("Zm9vYmFy", 8, dec, 5, &len) == -1,
	    "decode refuses an output one byte short");
	ok(base64_decode("Zm9vYg==", 8, dec, 4, &len) == 0 && len == 4,
	    "padded decode needs only the decoded bytes");
	ok(base64_decode("Zm9vYg==", 8, dec, 3, &len) == -1,
	    "padded decode refuses an output one byte short");
	ok(base64_decode("", 0, dec, 0, &len) == 0 && len == 0,
	    "empty input into an empty output");
	ok(base64_encode((const unsigned char *)"foobar", 6, enc, 9) == 8 &&
	    strcmp(enc, "Zm9vYmFy") == 0, "encode fits with its NUL");
	ok(base64_encode((const unsigned char *)"foobar", 6, enc, 8) == 0,
	    "encode without room for the NUL returns 0");
	ok(base64_encode((const unsigned char *)"f", 1, enc, 4) == 0,
	    "encode of one byte needs 5 bytes");
}

static void
round_trip(void)
{
	unsigned char in[300], dec[300];
	char enc[420];
	size_t n, len, elen;
	int good = 1;

	for (n = 0; n < sizeof(in); n++)
		in[n] = (unsigned char)(n * 7 + 3);
	for (n = 0; n <= sizeof(in); n++) {
		elen = base64_encode(in, n, enc, sizeof(enc));
		if (elen != (n + 2) / 3 * 4 ||
		    base64_decode(enc, elen, dec, n, &len) != 0 || len != n ||
		    memcmp(dec, in, n) != 0)
			good = 0;
	}
	ok(good, "round trip of every length 0..300 into an exact buffer");
	for (n = 0; n < 256; n++)
		in[n] = (unsigned char)n;
	elen = base64_encode(in, 256, enc, sizeof(enc));
	ok(base64_decode(enc, elen, dec, sizeof(dec), &len) == 0 &&
	    len == 256 && memcmp(dec, in, 256) == 0,
	    "round trip of every byte value");
}

int
main(void)
{
	vectors();
	refusals();
	limits();
	round_trip();
	printf("1..%d\n", test_no);
	return failed != 0;
}
