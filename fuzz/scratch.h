/*
 * The fuzz targets' scratch directory: made under $TMPDIR (else /tmp) once,
 * when the fuzzer starts, and removed when it exits (not after a crash,
 * whose files may help).  Included by one target at a time.
 */
#ifndef FUZZ_SCRATCH_H
#define FUZZ_SCRATCH_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static char scratch[256];

static int
scratch_remove_entry(const char *p, const struct stat *st, int type,
    struct FTW *f)
{
	(void)st;
	(void)type;
	(void)f;
	(void)remove(p);
	return 0;
}

static void
scratch_remove(void)
{
	(void)nftw(scratch, scratch_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* TMPDIR/fuzz-NAME.XXXXXX, made now and gone at exit; its path. */
static const char *
scratch_dir(const char *name)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(scratch, sizeof(scratch), "%s/fuzz-%s.XXXXXX",
	    tmp ? tmp : "/tmp", name);
	if (mkdtemp(scratch) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	atexit(scratch_remove);
	return scratch;
}

#endif
