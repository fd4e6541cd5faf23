/*
 * LD_PRELOAD shim for t/30: the TORN_AT-th pwrite or pwritev of the
 * process writes only its first TORN_KEEP bytes (default: half) and then
 * the process is killed, as SIGKILL can stop a write to a regular file
 * between pages.  strace can kill before or after a call, not inside one.
 * In a session, whose seccomp filter refuses kill(2), the refusal ends the
 * process at the same point (sandbox.c's SIGSYS handler), as a kill would.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

ssize_t	pwrite64(int, const void *, size_t, off_t);
ssize_t	pwritev64(int, const struct iovec *, int, off_t);

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*pwritev_fn)(int, const struct iovec *, int, off_t);

static long calls;

static pwrite_fn
real_pwrite(void)
{
	static pwrite_fn fn;

	if (fn == NULL)
		fn = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite64");
	return fn;
}

/* Is this call the one to tear?  Then how many bytes of n to keep. */
static int
tear(size_t n, size_t *keep)
{
	const char *at = getenv("TORN_AT"), *k = getenv("TORN_KEEP");
	long kb = k ? atol(k) : -1;

	if (at == NULL || ++calls != atol(at))
		return 0;
	*keep = kb < 0 || (size_t)kb >= n ? n / 2 : (size_t)kb;
	return 1;
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	size_t keep;

	if (tear(n, &keep)) {
		if (keep > 0)
			real_pwrite()(fd, buf, keep, off);
		kill(getpid(), SIGKILL);
	}
	return real_pwrite()(fd, buf, n, off);
}

ssize_t
pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
{
	static pwritev_fn real;
	size_t total = 0, keep, n;
	int i;

	if (real == NULL)
		real = (pwritev_fn)dlsym(RTLD_NEXT, "pwritev64");
	for (i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	if (tear(total, &keep)) {
		for (i = 0; i < cnt && keep > 0; i++) {
			n = iov[i].iov_len < keep ? iov[i].iov_len : keep;
			if (n > 0)
				real_pwrite()(fd, iov[i].iov_base, n, off);
			off += (off_t)n;
			keep -= n;
		}
		kill(getpid(), SIGKILL);
	}
	return real(fd, iov, cnt, off);
}
