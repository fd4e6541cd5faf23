/*
 * Known-answer tests for md5.c, printed as TAP: RFC 1321 appendix A.5,
 * HMAC-MD5 from RFC 2104 and RFC 2202, the CRAM-MD5 exchange of RFC 2195
 * and the APOP exchange of RFC 1939, plus the block-boundary cases an
 * incremental hash gets wrong first.
 */
#include <stdio.h>
#include <string.h>

#include "../md5.h"

#define NTESTS		32
#define PATTERN_LEN	200

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

static void
digest_hex(const void *data, size_t len, char hex[33])
{
	struct md5 m;
	unsigned char digest[16];

	md5_init(&m);
	md5_update(&m, data, len);
	md5_final(&m, digest);
	md5_hex(digest, hex);
}

static int
same_hex(const char *got, const char *want, const char *what)
{
	if (strcmp(got, want) == 0)
		return 1;
	printf("# %s\n#   got:  %s\n#   want: %s\n", what, got, want);
	return 0;
}

static void
rfc1321_suite(void)
{
	/* RFC 1321 appendix A.5 */
	static const struct {
		const char *msg, *hex;
	} v[] = {
		{ "", "d41d8cd98f00b204e9800998ecf8427e" },
		{ "a", "0cc175b9c0f1b6a831c399e269772661" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
		{ "abcdefghijklmnopqrstuvwxyz",
		    "c3fcd3d76192e4007dfb496cca67e13b" },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789", "d174ab98d277d9f5a5611c2c9f419d9f" },
		{ "1234567890123456789012345678901234567890"
		    "1234567890123456789012345678901234567890",
		    "57edf4a22be3c955ac49da2e2107b67a" },
	};
	char hex[33], name[128];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		digest_hex(v[i].msg, strlen(v[i].msg), hex);
		snprintf(name, sizeof(name), "RFC 1321 A.5: MD5(\"%.40s%s\")",
		    v[i].msg, strlen(v[i].msg) > 40 ? "..." : "");
		ok(same_hex(hex, v[i].hex, name), name);
	}
}

static void
million_a(void)
{
	unsigned char chunk[1000], digest[16];
	struct md5 m;
	char hex[33];
	int i;

	memset(chunk, 'a', sizeof(chunk));
	md5_init(&m);
	for (i = 0; i < 1000; i++)
		md5_update(&m, chunk, sizeof(chunk));
	md5_final(&m, digest);
	md5_hex(digest, hex);
	ok(same_hex(hex, "7707d6ae4e027c70eea2a935c2296f21", "million a"),
	    "MD5 of one million 'a', in 1000-byte updates");
}

static void
boundary_suite(const unsigned char *pat)
{
	unsigned char digest[16], once[16], aligned[PATTERN_LEN + 8];
	struct md5 m, all;
	char hex[33];
	size_t i, j, bad;
	int good;

	/* Reference value computed with an independent implementation. */
	digest_hex(pat, PATTERN_LEN, hex);
	ok(same_hex(hex, "f9914cd8b67085ceb02d1eba3ff2dc0c", "pattern"),
	    "200-byte pattern, one update");

	/*
	 * Every length 0..200 crosses each padding case (55, 56, 63, 64,
	 * 119, 120 bytes...): the MD5 of all their hex digests, concatenated.
	 */
	md5_init(&all);
	for (i = 0; i <= PATTERN_LEN; i++) {
		digest_hex(pat, i, hex);
		md5_update(&all, hex, 32);
	}
	md5_final(&all, digest);
	md5_hex(digest, hex);
	ok(same_hex(hex, "a9b764efdc9393adefd737ca02657c12", "prefixes"),
	    "every prefix length 0..200 of the pattern");

	md5_init(&m);
	md5_update(&m, pat, PATTERN_LEN);
	md5_final(&m, once);

	good = 1;
	for (i = 0; i <= PATTERN_LEN && good; i++) {
		md5_init(&m);
		md5_update(&m, pat, i);
		md5_update(&m, pat + i, PATTERN_LEN - i);
		md5_final(&m, digest);
		if (memcmp(digest, once, 16) != 0) {
			printf("# split at offset %zu differs\n", i);
			good = 0;
		}
	}
	ok(good, "two updates split at every offset 0..200 equal one update");

	good = 1;
	for (i = 0; i <= PATTERN_LEN && good; i++)
		for (j = i; j <= PATTERN_LEN && good; j++) {
			md5_init(&m);
			md5_update(&m, pat, i);
			md5_update(&m, pat + i, j - i);
			md5_update(&m, pat + j, PATTERN_LEN - j);
			md5_final(&m, digest);
			if (memcmp(digest, once, 16) != 0) {
				printf("# split at %zu and %zu differs\n", i, j);
				good = 0;
			}
		}
	ok(good, "three updates split at every pair of offsets equal one update");

	md5_init(&m);
	for (i = 0; i < PATTERN_LEN; i++)
		md5_update(&m, pat + i, 1);
	md5_update(&m, NULL, 0);
	md5_final(&m, digest);
	ok(memcmp(digest, once, 16) == 0,
	    "one byte per update, then an empty NULL update");

	/* Whole blocks are read in place: check every misalignment. */
	bad = 0;
	for (i = 1; i < 8; i++) {
		memcpy(aligned + i, pat, PATTERN_LEN);
		md5_init(&m);
		md5_update(&m, aligned + i, PATTERN_LEN);
		md5_final(&m, digest);
		if (memcmp(digest, once, 16) != 0) {
			printf("# input at offset %zu differs\n", i);
			bad++;
		}
	}
	ok(bad == 0, "input at byte offsets 1..7 from alignment");
}

/*
 * The length field's high word only matters past 512 MB, too slow to hash
 * here, so start from a context that claims whole blocks already hashed.
 * The expected values come from OpenSSL's MD5 with its bit count set alike.
 */
static void
length_suite(void)
{
	static const struct {
		const char *name;
		uint64_t bytes;
		const char *want;
	} v[] = {
		{ "length field high word: 2^29 bytes before \"abc\"",
		    (uint64_t)1 << 29, "b3a92e03774527e5a52e5b61d0a767ab" },
		{ "length field all 64 bits: 2^61 - 64 bytes before \"abc\"",
		    ((uint64_t)1 << 61) - 64, "bfb5e7546108235cd5ffe6487a592860" },
		/* RFC 1321 3.2: only the low-order 64 bits of the bit count. */
		{ "bit count taken modulo 2^64: 2^61 bytes before \"abc\"",
		    (uint64_t)1 << 61, "900150983cd24fb0d6963f7d28e17f72" },
	};
	unsigned char digest[16];
	struct md5 m;
	char hex[33];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		md5_init(&m);
		m.bytes = v[i].bytes;
		md5_update(&m, "abc", 3);
		md5_final(&m, digest);
		md5_hex(digest, hex);
		ok(same_hex(hex, v[i].want, v[i].name), v[i].name);
	}
}

static size_t
unhex(const char *s, unsigned char *out)
{
	size_t n;
	unsigned int byte;

	for (n = 0; s[2 * n] != '\0'; n++) {
		sscanf(s + 2 * n, "%2x", &byte);
		out[n] = (unsigned char)byte;
	}
	return n;
}

static void
hmac_suite(void)
{
	static const struct {
		const char *name, *key_hex, *msg, *msg_hex, *want;
	} v[] = {
		{ "RFC 2104 / RFC 2202 test case 1",
		    "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There", NULL,
		    "9294727a3638bb1c13f48ef8158bfc9d" },
		{ "RFC 2104 / RFC 2202 test case 2",
		    "4a656665",		/* "Jefe" */
		    "what do ya want for nothing?", NULL,
		    "750c783e6ab0b503eaa86e310a5db738" },
		{ "RFC 2104 / RFC 2202 test case 3",
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL,
		    "dddddddddddddddddddddddddddddddddddddddddddddddddd"
		    "dddddddddddddddddddddddddddddddddddddddddddddddddd",
		    "56be34521d144c88dbb8c733f0e8b3f6" },
		{ "RFC 2202 test case 4",
		    "0102030405060708090a0b0c0d0e0f10111213141516171819", NULL,
		    "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
		    "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
		    "697eaf0aca3a3aea3a75164746ffaa79" },
		{ "RFC 2202 test case 5",
		    "0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c", "Test With Truncation",
		    NULL, "56461ef2342edc00f9bab995690efd4c" },
		{ "RFC 2202 test case 6 (80-byte key is hashed first)",
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		    "Test Using Larger Than Block-Size Key - Hash Key First",
		    NULL, "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd" },
		{ "RFC 2202 test case 7",
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		    "Test Using Larger Than Block-Size Key and Larger Than One "
		    "Block-Size Data", NULL, "6f630fad67cda0ee1fb1f562db3aa53e" },
		/* Edges RFC 2202 leaves out; values from an independent HMAC. */
		{ "64-byte key is used as is, not hashed",
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		    "exactly one block key", NULL,
		    "d31811368502432f832897397094978a" },
		{ "empty key and empty message", "", "", NULL,
		    "74e6f7298a9c2d168935f58c001bad88" },
	};
	unsigned char key[128], msg[128], digest[16];
	size_t i, keylen, msglen;
	char hex[33];

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		keylen = unhex(v[i].key_hex, key);
		if (v[i].msg != NULL) {
			msglen = strlen(v[i].msg);
			memcpy(msg, v[i].msg, msglen);
		} else
			msglen = unhex(v[i].msg_hex, msg);
		hmac_md5(key, keylen, msg, msglen, digest);
		md5_hex(digest, hex);
		ok(same_hex(hex, v[i].want, v[i].name), v[i].name);
	}
}

static void
pop3_suite(void)
{
	static const char secret[] = "tanstaaftanstaaf";
	static const char challenge[] =
	    "<1896.697170952@postoffice.reston.mci.net>";
	static const char apop_stamp[] = "<1896.697170952@dbc.mtview.ca.us>";
	unsigned char digest[16];
	char hex[33], response[64];
	struct md5 m;

	/* RFC 2195 section 2: the client answers "user HMAC-hex". */
	hmac_md5(secret, strlen(secret), challenge, strlen(challenge), digest);
	md5_hex(digest, hex);
	snprintf(response, sizeof(response), "tim %s", hex);
	ok(same_hex(response, "tim b913a602c7eda7a495b4e6e7334d3890",
	    "CRAM-MD5"), "RFC 2195 CRAM-MD5 example (tim, tanstaaftanstaaf)");

	/* RFC 1939 section 7: APOP digest = MD5(timestamp secret). */
	md5_init(&m);
	md5_update(&m, apop_stamp, strlen(apop_stamp));
	md5_update(&m, "tanstaaf", 8);
	md5_final(&m, digest);
	md5_hex(digest, hex);
	ok(same_hex(hex, "c4c9334bac560ecc979e58001b3e22fb", "APOP"),
	    "RFC 1939 APOP example (mrose, tanstaaf)");
}

static void
api_suite(void)
{
	static const unsigned char zero[sizeof(struct md5)];
	static const unsigned char nibbles[16] = {
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
		0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
	};
	unsigned char digest[16];
	char hex[40];
	struct md5 m;

	md5_init(&m);
	md5_update(&m, "secret material", 15);
	md5_final(&m, digest);
	ok(memcmp(&m, zero, sizeof(m)) == 0, "md5_final wipes the context");

	memcpy(digest, nibbles, sizeof(digest));
	memset(hex, 'X', sizeof(hex));
	md5_hex(digest, hex);
	ok(hex[32] == '\0' && hex[33] == 'X', "md5_hex writes 32 digits and a NUL");
	ok(same_hex(hex, "0123456789abcdeffedcba9876543210", "md5_hex"),
	    "md5_hex is lowercase, high nibble first");

	memset(digest, 0xff, sizeof(digest));
	md5_hex(digest, hex);
	ok(same_hex(hex, "ffffffffffffffffffffffffffffffff", "md5_hex 0xff"),
	    "md5_hex of all-ones bytes");
}

int
main(void)
{
	unsigned char pat[PATTERN_LEN];
	size_t i;

	for (i = 0; i < PATTERN_LEN; i++)
		pat[i] = (unsigned char)(i * 37 + 11);

	printf("1..%d\n", NTESTS);
	rfc1321_suite();
	million_a();
	boundary_suite(pat);
	length_suite();
	hmac_suite();
	pop3_suite();
	api_suite();
	if (test_no != NTESTS) {
		printf("# planned %d tests, ran %d\n", NTESTS, test_no);
		return 1;
	}
	return failed > 0;
}
