/*
 * Fuzz target: the hand-over record parser, handover_parse(), the one
 * place where the monitor reads what a pre-login child (possibly taken
 * over by a client) sends it.
 *
 * The input is one record as it would arrive.  When the parser accepts
 * it, every field must be within the record, encoding the parsed fields
 * again must give back exactly the input bytes (nothing was skipped,
 * guessed or repaired), and the text fields must be NUL-terminated
 * strings of the stated length.  When it refuses, it must say why.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../handover.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
die(const char *what)
{
	fprintf(stderr, "fuzz/handover: invariant broken: %s\n", what);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ho_record r;
	static unsigned char again[HANDOVER_MAX + 2];
	struct ho_field f[HANDOVER_FIELDS];
	const char *why = NULL;
	size_t n;

	if (handover_parse(data, size, &r, &why) == -1) {
		if (why == NULL || r.nfields != 0)
			die("a refusal without a reason");
		return 0;
	}
	if (r.nfields < 0 || r.nfields > HANDOVER_FIELDS)
		die("field count out of range");
	for (int i = 0; i < r.nfields; i++) {
		if (r.field[i] < r.text ||
		    r.field[i] + r.len[i] >= r.text + sizeof(r.text))
			die("a field outside the record");
		if (r.field[i][r.len[i]] != '\0')
			die("a field without its terminator");
		f[i] = (struct ho_field){ r.field[i], r.len[i] };
	}
	n = handover_encode(again, sizeof(again), r.type, r.nfields, f);
	if (n != size || memcmp(again, data, size) != 0)
		die("the record encodes back to other bytes");
	handover_wipe(&r);
	return 0;
}
