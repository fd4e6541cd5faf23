/*
 * Base64 as RFC 4648 section 4 defines it, with padding.  Decoding accepts
 * only the canonical encoding: RFC 4648 section 3.5 lets a decoder reject
 * non-zero pad bits, and a SASL peer that sends them is broken.
 */
#include <stddef.h>

#include "base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0..63, or -1 for anything outside the alphabet ('=' included). */
static int
value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
base64_decode(const char *in, size_t inlen, unsigned char *out,
    size_t outsize, size_t *outlen)
{
	size_t i, n = 0;
	int v[4], pad;

	if (inlen % 4 != 0)
		return -1;
	for (i = 0; i < inlen; i += 4) {
		pad = 0;
		if (i + 4 == inlen) {
			if (in[i + 3] == '=')
				pad = in[i + 2] == '=' ? 2 : 1;
		}
		for (int k = 0; k < 4 - pad; k++)
			if ((v[k] = value((unsigned char)in[i + k])) == -1)
				return -1;
		if (pad == 2 && (v[1] & 0x0f) != 0)
			return -1;	/* bits past the last byte */
		if (pad == 1 && (v[2] & 0x03) != 0)
			return -1;
		if (outsize - n < (size_t)(3 - pad))
			return -1;
		out[n++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[n++] = (unsigned char)((v[1] & 0x0f) << 4 |
			    v[2] >> 2);
		if (pad < 1)
			out[n++] = (unsigned char)((v[2] & 0x03) << 6 | v[3]);
	}
	*outlen = n;
	return 0;
}

size_t
base64_encode(const unsigned char *in, size_t inlen, char *out,
    size_t outsize)
{
	size_t i, n = 0;
	unsigned long w;

	if (inlen > (((size_t)-1) - 1) / 4 * 3 - 2 ||
	    (inlen + 2) / 3 * 4 + 1 > outsize)
		return 0;
	for (i = 0; i + 2 < inlen; i += 3) {
		w = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8 |
		    in[i + 2];
		out[n++] = alphabet[w >> 18 & 0x3f];
		out[n++] = alphabet[w >> 12 & 0x3f];
		out[n++] = alphabet[w >> 6 & 0x3f];
		out[n++] = alphabet[w & 0x3f];
	}
	if (i < inlen) {
		w = (unsigned long)in[i] << 16;
		if (i + 1 < inlen)
			w |= (unsigned long)in[i + 1] << 8;
		out[n++] = alphabet[w >> 18 & 0x3f];
		out[n++] = alphabet[w >> 12 & 0x3f];
		out[n++] = i + 1 < inlen ? alphabet[w >> 6 & 0x3f] : '=';
		out[n++] = '=';
	}
	out[n] = '\0';
	return n;
}
