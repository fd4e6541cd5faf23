/*
 * Fast non-cryptographic hashes of bytes, the same on every CPU (words
 * are read little-endian): a message's fingerprint, and the checksum that
 * tells a whole journal record from one a power cut tore.  Neither is a
 * defence against an attacker; MD5 (md5.c) does the UIDs.
 */
#ifndef HASH_H
#define HASH_H

#include <stddef.h>
#include <stdint.h>

struct hash {
	uint64_t	h;
	unsigned char	tail[8];	/* bytes waiting for a whole word */
	size_t		ntail;
	uint64_t	len;
};

void		hash_init(struct hash *);
void		hash_update(struct hash *, const void *, size_t);
uint64_t	hash_final(struct hash *);
uint64_t	hash_bytes(const void *, size_t);

#endif
