/*
 * MD5 message digest (RFC 1321) and HMAC-MD5 (RFC 2104).
 *
 * POP3 needs MD5 for APOP (RFC 1939), CRAM-MD5 (RFC 2195) and UIDL digests;
 * it is not used here for anything that needs collision resistance.
 */
#ifndef MD5_H
#define MD5_H

#include <stddef.h>
#include <stdint.h>

#define MD5_DIGEST_LEN	16
#define MD5_BLOCK_LEN	64

struct md5 {
	uint32_t	state[4];
	uint64_t	bytes;		/* total length, for the final padding */
	unsigned char	block[64];
};

void	md5_init(struct md5 *);
void	md5_update(struct md5 *, const void *, size_t);
void	md5_final(struct md5 *, unsigned char digest[16]);
/* 32 lowercase hex digits and a NUL */
void	md5_hex(const unsigned char digest[16], char hex[33]);
/* RFC 2104 HMAC-MD5, for CRAM-MD5 */
void	hmac_md5(const void *key, size_t keylen, const void *msg, size_t msglen,
	    unsigned char digest[16]);

#endif /* MD5_H */
