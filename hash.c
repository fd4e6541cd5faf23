/*
 * A 64-bit hash over little-endian words: a multiply and a rotate a word,
 * some GB a second, and the same value on a big-endian router as on x86
 * (a journal or an index may outlive the machine that wrote it).
 */
#include <string.h>

#include "hash.h"

#define P1	0x9e3779b185ebca87ULL
#define P2	0xc2b2ae3d27d4eb4fULL

static uint64_t
word(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	    (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
	    (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	    (uint64_t)p[7] << 56;
}

static uint64_t
mix(uint64_t h, uint64_t w)
{
	h ^= w * P2;
	h = (h << 31) | (h >> 33);
	return h * P1;
}

void
hash_init(struct hash *x)
{
	memset(x, 0, sizeof(*x));
	x->h = P1;
}

void
hash_update(struct hash *x, const void *data, size_t n)
{
	const unsigned char *p = data;

	x->len += n;
	if (x->ntail > 0) {
		while (n > 0 && x->ntail < 8) {
			x->tail[x->ntail++] = *p++;
			n--;
		}
		if (x->ntail < 8)
			return;
		x->h = mix(x->h, word(x->tail));
		x->ntail = 0;
	}
	for (; n >= 8; p += 8, n -= 8)
		x->h = mix(x->h, word(p));
	memcpy(x->tail, p, n);
	x->ntail = n;
}

uint64_t
hash_final(struct hash *x)
{
	unsigned char last[8];
	uint64_t h;

	memset(last, 0, sizeof(last));
	memcpy(last, x->tail, x->ntail);
	h = mix(x->h, word(last));
	h = mix(h, x->len);
	h ^= h >> 29;
	h *= P2;
	h ^= h >> 32;
	return h;
}

uint64_t
hash_bytes(const void *p, size_t n)
{
	struct hash x;

	hash_init(&x);
	hash_update(&x, p, n);
	return hash_final(&x);
}
