/*
 * Kernel confinement.  sandbox_probe() runs once at startup, before the
 * session forks, and finds what this kernel offers; a process then calls
 * sandbox_enter() with its policy, after PR_SET_NO_NEW_PRIVS (priv.c),
 * which both need.
 *
 * Landlock: a ruleset that handles every access right the kernel's ABI
 * knows and grants none, so opening, creating or executing any file
 * fails with EACCES (and from ABI 4 binding or connecting TCP, from ABI
 * 6 signalling a process outside the domain).
 *
 * seccomp: OpenSSH's sandbox-seccomp-filter.c is the model.  The filter
 * checks the architecture (a 32-bit system call table on a 64-bit kernel
 * has other numbers) and allows the listed calls; any other kills the
 * process with SIGSYS, which its parent logs.
 *
 * The structures and constants are the kernel's ABI, spelled out here so
 * that a libc without kernel headers (musl for routers) builds them too.
 */
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "params.h"
#include "sandbox.h"

/* ---- Landlock (linux/landlock.h) ----------------------------------- */

struct ll_ruleset_attr {
	uint64_t	handled_access_fs;
	uint64_t	handled_access_net;	/* ABI 4 */
	uint64_t	scoped;			/* ABI 6 */
};

#define LL_CREATE_RULESET_VERSION	(1U << 0)
#define LL_FS_ABI1		((1ULL << 13) - 1)	/* EXECUTE .. MAKE_SYM */
#define LL_FS_REFER		(1ULL << 13)		/* ABI 2 */
#define LL_FS_TRUNCATE		(1ULL << 14)		/* ABI 3 */
#define LL_FS_IOCTL_DEV		(1ULL << 15)		/* ABI 5 */
#define LL_NET_TCP		(3ULL)			/* ABI 4: bind, connect */
#define LL_SCOPE_ALL		(3ULL)			/* ABI 6: unix, signal */

/* ---- seccomp-BPF (linux/filter.h, linux/seccomp.h, linux/audit.h) -- */

struct bpf_insn {
	uint16_t	code;
	uint8_t		jt, jf;
	uint32_t	k;
};

struct bpf_prog {
	unsigned short	len;
	struct bpf_insn	*filter;
};

#define BPF_LD_W_ABS	0x20	/* BPF_LD | BPF_W | BPF_ABS */
#define BPF_JEQ_K	0x15	/* BPF_JMP | BPF_JEQ | BPF_K */
#define BPF_RET_K	0x06	/* BPF_RET | BPF_K */
#define SC_NR		0	/* offsetof(struct seccomp_data, nr) */
#define SC_ARCH		4	/* offsetof(struct seccomp_data, arch) */
#define SC_MODE_FILTER	2
#define SC_RET_KILL	0x80000000U	/* SECCOMP_RET_KILL_PROCESS */
#define SC_RET_ALLOW	0x7fff0000U

#define ARCH_64		0x80000000U
#define ARCH_LE		(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? \
			    0x40000000U : 0)
#if defined(__x86_64__)
#define SC_AUDIT_ARCH	(EM_X86_64 | ARCH_64 | ARCH_LE)
#elif defined(__i386__)
#define SC_AUDIT_ARCH	(EM_386 | ARCH_LE)
#elif defined(__aarch64__)
#define SC_AUDIT_ARCH	(EM_AARCH64 | ARCH_64 | ARCH_LE)
#elif defined(__arm__)
#define SC_AUDIT_ARCH	(EM_ARM | ARCH_LE)
#elif defined(__mips__) && defined(_ABIO32) && _MIPS_SIM == _ABIO32
#define SC_AUDIT_ARCH	(EM_MIPS | ARCH_LE)
#elif defined(__mips__) && defined(_ABI64) && _MIPS_SIM == _ABI64
#define SC_AUDIT_ARCH	(EM_MIPS | ARCH_64 | ARCH_LE)
#elif defined(__riscv) && __riscv_xlen == 64
#define SC_AUDIT_ARCH	(EM_RISCV | ARCH_64 | ARCH_LE)
#endif

static int landlock_abi;	/* 0: none */
static int have_seccomp;

/* The Landlock ABI the kernel offers, 0 for none. */
int
sandbox_landlock_abi(void)
{
	return landlock_abi;
}

/*
 * At startup: which confinement this kernel offers.  What is missing is
 * logged; with strict (-S) it is an error and pop3d does not start.
 * 0, or -1 with why filled.
 */
int
sandbox_probe(int strict, char *why, size_t size)
{
	const char *missing = NULL;
	long r;

#ifdef POP3D_TEST_HOOKS
	if (getenv("POP3D_TEST_SANDBOX") != NULL &&
	    strcmp(getenv("POP3D_TEST_SANDBOX"), "none") == 0)
		return 0;
#endif
#ifdef SYS_landlock_create_ruleset
	r = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LL_CREATE_RULESET_VERSION);
	landlock_abi = r > 0 ? (int)r : 0;
#endif
#ifdef SC_AUDIT_ARCH
	/* a NULL filter: EFAULT where filters work, EINVAL where not */
	r = prctl(PR_SET_SECCOMP, SC_MODE_FILTER, NULL, 0, 0);
	have_seccomp = r == -1 && errno == EFAULT;
#endif
	if (landlock_abi == 0 && !have_seccomp)
		missing = "Landlock and seccomp";
	else if (landlock_abi == 0)
		missing = "Landlock";
	else if (!have_seccomp)
		missing = "seccomp";
	if (missing == NULL)
		return 0;
	if (strict) {
		snprintf(why, size, "the kernel offers no %s, and -S says "
		    "not to run without", missing);
		return -1;
	}
	log_msg(LOG_WARNING, "the kernel offers no %s: the pre-login "
	    "process runs without", missing);
	return 0;
}

/* No file system access at all, as far as this kernel's Landlock goes. */
static int
landlock_deny_all(char *why, size_t size)
{
#ifdef SYS_landlock_create_ruleset
	struct ll_ruleset_attr attr = { .handled_access_fs = LL_FS_ABI1 };
	long fd;

	if (landlock_abi == 0)
		return 0;
	if (landlock_abi >= 2)
		attr.handled_access_fs |= LL_FS_REFER;
	if (landlock_abi >= 3)
		attr.handled_access_fs |= LL_FS_TRUNCATE;
	if (landlock_abi >= 4)
		attr.handled_access_net = LL_NET_TCP;
	if (landlock_abi >= 5)
		attr.handled_access_fs |= LL_FS_IOCTL_DEV;
	if (landlock_abi >= 6)
		attr.scoped = LL_SCOPE_ALL;
	if ((fd = syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr),
	    0)) == -1) {
		snprintf(why, size, "landlock_create_ruleset: %s",
		    strerror(errno));
		return -1;
	}
	if (syscall(SYS_landlock_restrict_self, (int)fd, 0) == -1) {
		snprintf(why, size, "landlock_restrict_self: %s",
		    strerror(errno));
		close((int)fd);
		return -1;
	}
	close((int)fd);
#else
	(void)why;
	(void)size;
#endif
	return 0;
}

/* The architecture, then each allowed number; all else kills. */
static int
seccomp_allow(const struct sandbox_policy *p, char *why, size_t size)
{
#ifdef SC_AUDIT_ARCH
	struct bpf_insn f[5 + 64];
	struct bpf_prog prog;
	size_t n = 0;

	if (!have_seccomp)
		return 0;
	if (p->nsyscalls > 64) {
		snprintf(why, size, "seccomp: too many system calls");
		return -1;
	}
	f[n++] = (struct bpf_insn){ BPF_LD_W_ABS, 0, 0, SC_ARCH };
	f[n++] = (struct bpf_insn){ BPF_JEQ_K, 1, 0, SC_AUDIT_ARCH };
	f[n++] = (struct bpf_insn){ BPF_RET_K, 0, 0, SC_RET_KILL };
	f[n++] = (struct bpf_insn){ BPF_LD_W_ABS, 0, 0, SC_NR };
	for (size_t i = 0; i < p->nsyscalls; i++)
		f[n++] = (struct bpf_insn){ BPF_JEQ_K,
		    (uint8_t)(p->nsyscalls - i), 0, (uint32_t)p->syscalls[i] };
	f[n++] = (struct bpf_insn){ BPF_RET_K, 0, 0, SC_RET_KILL };
	f[n++] = (struct bpf_insn){ BPF_RET_K, 0, 0, SC_RET_ALLOW };
	prog.len = (unsigned short)n;
	prog.filter = f;
	if (prctl(PR_SET_SECCOMP, SC_MODE_FILTER, &prog, 0, 0) == -1) {
		snprintf(why, size, "seccomp: %s", strerror(errno));
		return -1;
	}
#else
	(void)p;
	(void)why;
	(void)size;
#endif
	return 0;
}

/*
 * Confine this process for good: what sandbox_probe() found, all of it.
 * 0, or -1 with why filled (a feature that is there failed: not safe to
 * go on).
 */
int
sandbox_enter(const struct sandbox_policy *p, char *why, size_t size)
{
	struct rlimit rl = { p->nofile, p->nofile };

	if (landlock_deny_all(why, size) == -1)
		return -1;
	/* Landlock needed a descriptor; seccomp then forbids setrlimit */
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
		snprintf(why, size, "setrlimit NOFILE: %s", strerror(errno));
		return -1;
	}
	return seccomp_allow(p, why, size);
}

/*
 * The pre-login child: it reads and writes the client and its channel to
 * the monitor, polls, reads the clock, and may grow its heap (the C
 * library's or a sanitizer's allocator).  It opens nothing, sleeps on
 * nothing, signals no one.
 */
static const long prelogin_calls[] = {
	SYS_read, SYS_write, SYS_exit, SYS_exit_group,
#ifdef SYS_poll
	SYS_poll,
#endif
#ifdef SYS_ppoll
	SYS_ppoll,
#endif
#ifdef SYS_ppoll_time64
	SYS_ppoll_time64,
#endif
#ifdef SYS_clock_gettime
	SYS_clock_gettime,
#endif
#ifdef SYS_clock_gettime64
	SYS_clock_gettime64,
#endif
#ifdef SYS_gettimeofday
	SYS_gettimeofday,
#endif
#ifdef SYS_restart_syscall
	SYS_restart_syscall,
#endif
#ifdef SYS_rt_sigreturn
	SYS_rt_sigreturn,
#endif
	SYS_brk, SYS_munmap, SYS_madvise,
#ifdef SYS_mmap
	SYS_mmap,
#endif
#ifdef SYS_mmap2
	SYS_mmap2,
#endif
};

int
sandbox_prelogin(char *why, size_t size)
{
	static const struct sandbox_policy p = {
		prelogin_calls, sizeof(prelogin_calls) /
		    sizeof(prelogin_calls[0]), PRELOGIN_NOFILE
	};

#ifdef POP3D_TEST_HOOKS
	/*
	 * Test builds: POP3D_TEST_SANDBOX=landlock leaves out seccomp and
	 * the descriptor limit, so that what Landlock alone denies shows;
	 * =none leaves out all (valgrind cannot run under seccomp).
	 */
	const char *t = getenv("POP3D_TEST_SANDBOX");

	if (t != NULL && strcmp(t, "none") == 0)
		return 0;
	if (t != NULL && strcmp(t, "landlock") == 0)
		return landlock_deny_all(why, size);
#endif
	return sandbox_enter(&p, why, size);
}
