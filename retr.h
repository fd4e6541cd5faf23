/*
 * RETR and TOP: a message's stored bytes, read from the mailbox, through
 * the wire encoder into the client's output.
 */
#ifndef RETR_H
#define RETR_H

#include <stddef.h>
#include <stdint.h>

struct mbox;
struct out;

int	retr_send(struct out *, struct mbox *, size_t, int, uint64_t);

#endif
