/*
 * The PROXY protocol, versions 1 and 2 (HAProxy's proxy-protocol.txt):
 * the header a load balancer sends ahead of the client's bytes, naming
 * the client it relays; and the addresses trusted to send one (-H).
 */
#ifndef PROXY_H
#define PROXY_H

#include <stddef.h>

#include "params.h"

/* An IPv4 or IPv6 address; an IPv4-mapped IPv6 one is held as IPv4. */
struct proxy_addr {
	int		family;		/* AF_INET, AF_INET6; AF_UNSPEC: none */
	unsigned char	a[16];
};

/* -H: addresses and networks (CIDR) of trusted proxies. */
struct proxy_list {
	size_t		n;
	struct {
		struct proxy_addr	addr;
		int			bits;
	} net[PROXY_TRUST_MAX];
};

/* A parsed header. */
struct proxy_header {
	int		version;	/* 1 or 2 */
	int		local;		/* LOCAL, UNKNOWN, UNSPEC, AF_UNIX:
					   no client address: the proxy's own */
	struct proxy_addr src;		/* the client, unless local */
	unsigned	port;
};

#define PROXY_ADDR_TEXT	46	/* INET6_ADDRSTRLEN */

int	proxy_addr_parse(const char *, struct proxy_addr *);
int	proxy_addr_from(const void *, struct proxy_addr *);
void	proxy_addr_text(const struct proxy_addr *, char *, size_t);
int	proxy_loopback(const struct proxy_addr *);
int	proxy_list_add(struct proxy_list *, const char *, const char **);
int	proxy_trusted(const struct proxy_list *, const struct proxy_addr *);
int	proxy_parse(const unsigned char *, size_t, struct proxy_header *,
	    size_t *, const char **);
int	proxy_looks_like(const unsigned char *, size_t);

#endif
