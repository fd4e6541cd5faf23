/*
 * Base64 (RFC 4648 section 4) for SASL exchanges (RFC 5034): strict on
 * input, so a malformed response is an error rather than a guess.
 */
#ifndef BASE64_H
#define BASE64_H

#include <stddef.h>

/*
 * Decode inlen characters of in into out.  0 on success with *outlen set;
 * -1 when the input is not canonical base64 (length not a multiple of 4,
 * missing or misplaced padding, whitespace, a character outside the
 * alphabet, non-zero bits after the last byte) or out holds fewer than the
 * decoded bytes.
 */
int	base64_decode(const char *in, size_t inlen, unsigned char *out,
	    size_t outsize, size_t *outlen);

/*
 * Encode inlen bytes of in as a NUL-terminated string in out.  Returns its
 * length, or 0 when it does not fit in outsize bytes.
 */
size_t	base64_encode(const unsigned char *in, size_t inlen, char *out,
	    size_t outsize);

#endif
