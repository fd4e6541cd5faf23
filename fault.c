/*
 * Filling in a struct fault: the one way the lower layers say what failed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fault.h"

/* Why, in words; returns -1 so a caller can `return fault_set(...)`. */
int
fault_set(struct fault *f, enum fault_code code, const char *fmt, ...)
{
	va_list ap;

	f->code = code;
	va_start(ap, fmt);
	vsnprintf(f->text, sizeof(f->text), fmt, ap);
	va_end(ap);
	return -1;
}

/* A failed system call: "what: strerror(errno)". */
int
fault_sys(struct fault *f, enum fault_code code, const char *what)
{
	return fault_set(f, code, "%s: %s", what, strerror(errno));
}
