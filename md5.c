/*
 * MD5 message digest, as RFC 1321 describes it, and HMAC-MD5 (RFC 2104).
 *
 * Whole 64-byte blocks are hashed straight from the caller's buffer; only
 * a partial block at either end is copied into the context.  Words are
 * assembled from bytes, so any alignment and any byte order work, and
 * compilers turn the shifts back into single loads where that is allowed.
 */
#include <string.h>

#include "md5.h"

/*
 * RFC 1321 3.4: the auxiliary functions, in forms with fewer operations.
 * G(x, y, z) = (x & z) | (y & ~z) is not here: STEP_G adds its two halves
 * separately (they share no bits, so | is +), and y & ~z needs only words
 * known a step earlier, which shortens the chain through b.
 */
#define F(x, y, z)	((z) ^ ((x) & ((y) ^ (z))))
#define H(x, y, z)	((x) ^ (y) ^ (z))
#define I(x, y, z)	((y) ^ ((x) | (uint32_t)~(z)))

#define ROTL(x, s)	((uint32_t)((x) << (s)) | ((x) >> (32 - (s))))

/* a = b + ((a + f(b, c, d) + X[k] + T[i]) <<< s) */
#define STEP(f, a, b, c, d, xk, t, s) do {				\
	(a) += f((b), (c), (d)) + (xk) + (uint32_t)(t);			\
	(a) = ROTL((a), (s));						\
	(a) += (b);							\
} while (0)

#define STEP_G(a, b, c, d, xk, t, s) do {				\
	(a) += ((c) & (uint32_t)~(d)) + (xk) + (uint32_t)(t);		\
	(a) += (b) & (d);						\
	(a) = ROTL((a), (s));						\
	(a) += (b);							\
} while (0)

static uint32_t
load_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 |
	    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
store_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/*
 * Clear memory the compiler may not prove dead and drop: the context and
 * HMAC pads hold key material (CRAM-MD5 and APOP secrets).
 */
static void
wipe(void *buf, size_t len)
{
	volatile unsigned char *p = buf;

	while (len-- > 0)
		*p++ = 0;
}

/* RFC 1321 3.4: process nblocks 64-byte blocks starting at p. */
static void
md5_blocks(uint32_t state[4], const unsigned char *p, size_t nblocks)
{
	uint32_t a, b, c, d, x[16];
	int i;

	a = state[0];
	b = state[1];
	c = state[2];
	d = state[3];
	while (nblocks-- > 0) {
		for (i = 0; i < 16; i++)
			x[i] = load_le32(p + 4 * i);
		p += MD5_BLOCK_LEN;

		/* Round 1 */
		STEP(F, a, b, c, d, x[ 0], 0xd76aa478,  7);
		STEP(F, d, a, b, c, x[ 1], 0xe8c7b756, 12);
		STEP(F, c, d, a, b, x[ 2], 0x242070db, 17);
		STEP(F, b, c, d, a, x[ 3], 0xc1bdceee, 22);
		STEP(F, a, b, c, d, x[ 4], 0xf57c0faf,  7);
		STEP(F, d, a, b, c, x[ 5], 0x4787c62a, 12);
		STEP(F, c, d, a, b, x[ 6], 0xa8304613, 17);
		STEP(F, b, c, d, a, x[ 7], 0xfd469501, 22);
		STEP(F, a, b, c, d, x[ 8], 0x698098d8,  7);
		STEP(F, d, a, b, c, x[ 9], 0x8b44f7af, 12);
		STEP(F, c, d, a, b, x[10], 0xffff5bb1, 17);
		STEP(F, b, c, d, a, x[11], 0x895cd7be, 22);
		STEP(F, a, b, c, d, x[12], 0x6b901122,  7);
		STEP(F, d, a, b, c, x[13], 0xfd987193, 12);
		STEP(F, c, d, a, b, x[14], 0xa679438e, 17);
		STEP(F, b, c, d, a, x[15], 0x49b40821, 22);

		/* Round 2 */
		STEP_G(a, b, c, d, x[ 1], 0xf61e2562,  5);
		STEP_G(d, a, b, c, x[ 6], 0xc040b340,  9);
		STEP_G(c, d, a, b, x[11], 0x265e5a51, 14);
		STEP_G(b, c, d, a, x[ 0], 0xe9b6c7aa, 20);
		STEP_G(a, b, c, d, x[ 5], 0xd62f105d,  5);
		STEP_G(d, a, b, c, x[10], 0x02441453,  9);
		STEP_G(c, d, a, b, x[15], 0xd8a1e681, 14);
		STEP_G(b, c, d, a, x[ 4], 0xe7d3fbc8, 20);
		STEP_G(a, b, c, d, x[ 9], 0x21e1cde6,  5);
		STEP_G(d, a, b, c, x[14], 0xc33707d6,  9);
		STEP_G(c, d, a, b, x[ 3], 0xf4d50d87, 14);
		STEP_G(b, c, d, a, x[ 8], 0x455a14ed, 20);
		STEP_G(a, b, c, d, x[13], 0xa9e3e905,  5);
		STEP_G(d, a, b, c, x[ 2], 0xfcefa3f8,  9);
		STEP_G(c, d, a, b, x[ 7], 0x676f02d9, 14);
		STEP_G(b, c, d, a, x[12], 0x8d2a4c8a, 20);

		/* Round 3 */
		STEP(H, a, b, c, d, x[ 5], 0xfffa3942,  4);
		STEP(H, d, a, b, c, x[ 8], 0x8771f681, 11);
		STEP(H, c, d, a, b, x[11], 0x6d9d6122, 16);
		STEP(H, b, c, d, a, x[14], 0xfde5380c, 23);
		STEP(H, a, b, c, d, x[ 1], 0xa4beea44,  4);
		STEP(H, d, a, b, c, x[ 4], 0x4bdecfa9, 11);
		STEP(H, c, d, a, b, x[ 7], 0xf6bb4b60, 16);
		STEP(H, b, c, d, a, x[10], 0xbebfbc70, 23);
		STEP(H, a, b, c, d, x[13], 0x289b7ec6,  4);
		STEP(H, d, a, b, c, x[ 0], 0xeaa127fa, 11);
		STEP(H, c, d, a, b, x[ 3], 0xd4ef3085, 16);
		STEP(H, b, c, d, a, x[ 6], 0x04881d05, 23);
		STEP(H, a, b, c, d, x[ 9], 0xd9d4d039,  4);
		STEP(H, d, a, b, c, x[12], 0xe6db99e5, 11);
		STEP(H, c, d, a, b, x[15], 0x1fa27cf8, 16);
		STEP(H, b, c, d, a, x[ 2], 0xc4ac5665, 23);

		/* Round 4 */
		STEP(I, a, b, c, d, x[ 0], 0xf4292244,  6);
		STEP(I, d, a, b, c, x[ 7], 0x432aff97, 10);
		STEP(I, c, d, a, b, x[14], 0xab9423a7, 15);
		STEP(I, b, c, d, a, x[ 5], 0xfc93a039, 21);
		STEP(I, a, b, c, d, x[12], 0x655b59c3,  6);
		STEP(I, d, a, b, c, x[ 3], 0x8f0ccc92, 10);
		STEP(I, c, d, a, b, x[10], 0xffeff47d, 15);
		STEP(I, b, c, d, a, x[ 1], 0x85845dd1, 21);
		STEP(I, a, b, c, d, x[ 8], 0x6fa87e4f,  6);
		STEP(I, d, a, b, c, x[15], 0xfe2ce6e0, 10);
		STEP(I, c, d, a, b, x[ 6], 0xa3014314, 15);
		STEP(I, b, c, d, a, x[13], 0x4e0811a1, 21);
		STEP(I, a, b, c, d, x[ 4], 0xf7537e82,  6);
		STEP(I, d, a, b, c, x[11], 0xbd3af235, 10);
		STEP(I, c, d, a, b, x[ 2], 0x2ad7d2bb, 15);
		STEP(I, b, c, d, a, x[ 9], 0xeb86d391, 21);

		a += state[0];
		b += state[1];
		c += state[2];
		d += state[3];
		state[0] = a;
		state[1] = b;
		state[2] = c;
		state[3] = d;
	}
}

void
md5_init(struct md5 *m)
{
	/* RFC 1321 3.3: words A, B, C, D, low-order bytes first. */
	m->state[0] = 0x67452301;
	m->state[1] = 0xefcdab89;
	m->state[2] = 0x98badcfe;
	m->state[3] = 0x10325476;
	m->bytes = 0;
}

void
md5_update(struct md5 *m, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t have, need;

	if (len == 0)		/* data may then be NULL: no pointer arithmetic */
		return;
	have = (size_t)(m->bytes % MD5_BLOCK_LEN);
	m->bytes += len;
	if (have > 0) {
		need = MD5_BLOCK_LEN - have;
		if (len < need) {
			memcpy(m->block + have, p, len);
			return;
		}
		memcpy(m->block + have, p, need);
		md5_blocks(m->state, m->block, 1);
		p += need;
		len -= need;
	}
	if (len >= MD5_BLOCK_LEN) {
		md5_blocks(m->state, p, len / MD5_BLOCK_LEN);
		p += len - len % MD5_BLOCK_LEN;
		len %= MD5_BLOCK_LEN;
	}
	if (len > 0)
		memcpy(m->block, p, len);
}

void
md5_final(struct md5 *m, unsigned char digest[16])
{
	size_t have = (size_t)(m->bytes % MD5_BLOCK_LEN);
	/* RFC 1321 3.2: the low-order 64 bits of the length in bits. */
	uint64_t bits = m->bytes << 3;
	int i;

	/* RFC 1321 3.1: a 1 bit, then 0 bits up to 448 modulo 512. */
	m->block[have++] = 0x80;
	if (have > MD5_BLOCK_LEN - 8) {
		memset(m->block + have, 0, MD5_BLOCK_LEN - have);
		md5_blocks(m->state, m->block, 1);
		have = 0;
	}
	memset(m->block + have, 0, MD5_BLOCK_LEN - 8 - have);
	store_le32(m->block + 56, (uint32_t)bits);
	store_le32(m->block + 60, (uint32_t)(bits >> 32));
	md5_blocks(m->state, m->block, 1);

	/* RFC 1321 3.5: A, B, C, D, each low-order byte first. */
	for (i = 0; i < 4; i++)
		store_le32(digest + 4 * i, m->state[i]);
	wipe(m, sizeof(*m));
}

void
md5_hex(const unsigned char digest[16], char hex[33])
{
	static const char xdigit[] = "0123456789abcdef";
	int i;

	for (i = 0; i < MD5_DIGEST_LEN; i++) {
		hex[2 * i] = xdigit[digest[i] >> 4];
		hex[2 * i + 1] = xdigit[digest[i] & 0x0f];
	}
	hex[2 * MD5_DIGEST_LEN] = '\0';
}

/*
 * RFC 2104: H(K XOR opad, H(K XOR ipad, text)), a key longer than the
 * 64-byte block replaced by its digest.  CRAM-MD5 (RFC 2195) keys it with
 * the shared secret and hashes the server's challenge.
 */
void
hmac_md5(const void *key, size_t keylen, const void *msg, size_t msglen,
    unsigned char digest[16])
{
	unsigned char k[MD5_BLOCK_LEN], pad[MD5_BLOCK_LEN];
	unsigned char inner[MD5_DIGEST_LEN];
	struct md5 m;
	size_t i;

	memset(k, 0, sizeof(k));
	if (keylen > MD5_BLOCK_LEN) {
		md5_init(&m);
		md5_update(&m, key, keylen);
		md5_final(&m, k);
	} else if (keylen > 0)
		memcpy(k, key, keylen);

	for (i = 0; i < MD5_BLOCK_LEN; i++)
		pad[i] = k[i] ^ 0x36;
	md5_init(&m);
	md5_update(&m, pad, sizeof(pad));
	md5_update(&m, msg, msglen);
	md5_final(&m, inner);

	for (i = 0; i < MD5_BLOCK_LEN; i++)
		pad[i] = k[i] ^ 0x5c;
	md5_init(&m);
	md5_update(&m, pad, sizeof(pad));
	md5_update(&m, inner, sizeof(inner));
	md5_final(&m, digest);

	wipe(k, sizeof(k));
	wipe(pad, sizeof(pad));
	wipe(inner, sizeof(inner));
}
