/*
 * Kernel confinement.  sandbox_probe() runs once at startup, before the
 * session forks, and finds what this kernel offers; a process then calls
 * sandbox_enter() with its policy, after PR_SET_NO_NEW_PRIVS, which both
 * need.  Two processes are confined: the pre-login child, and the
 * session once it has opened its mailbox (sandbox_session()).
 *
 * Landlock: a ruleset that handles every access right the kernel's ABI
 * knows and grants none, so opening, creating or executing any file
 * fails with EACCES (and from ABI 4 binding or connecting TCP, from ABI
 * 6 signalling a process outside the domain or reaching an abstract
 * socket).  The session is granted one thing more: to make and remove
 * names in the directories of its mailbox and its index (the dotlock,
 * the session file, the index's rename), never to read or write a file
 * there; every file it reads or writes is open before it is confined.
 *
 * seccomp: OpenSSH's sandbox-seccomp-filter.c is the model.  The filter
 * checks the architecture (a 32-bit system call table on a 64-bit kernel
 * has other numbers) and allows the listed calls.  Any other kills the
 * pre-login child with SIGSYS, which its parent logs; the session has no
 * parent of ours to log it, so there a SIGSYS handler writes the log
 * line and ends the process.
 *
 * The structures and constants are the kernel's ABI, spelled out here so
 * that a libc without kernel headers (musl for routers) builds them too.
 */
/* O_PATH: a directory's rule needs no read permission on it */
#define _GNU_SOURCE /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

/*
 * Builds where the session stays unconfined: the fuzz target (one
 * process, the fuzzer's own), and the sanitizers', whose runtime opens
 * its report files and, at exit, looks for leaks from a traced clone of
 * the process.
 */
#if defined(POP3D_ONE_PROCESS) || defined(__SANITIZE_ADDRESS__)
#define SESSION_UNCONFINED
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SESSION_UNCONFINED
#endif
#endif

/* ---- Landlock (linux/landlock.h) ----------------------------------- */

struct ll_ruleset_attr {
	uint64_t	handled_access_fs;
	uint64_t	handled_access_net;	/* ABI 4 */
	uint64_t	scoped;			/* ABI 6 */
};

struct ll_path_beneath_attr {
	uint64_t	allowed_access;
	int32_t		parent_fd;
} __attribute__((packed));

#define LL_CREATE_RULESET_VERSION	(1U << 0)
#define LL_RULE_PATH_BENEATH	1
#define LL_FS_ABI1		((1ULL << 13) - 1)	/* EXECUTE .. MAKE_SYM */
#define LL_FS_REMOVE_FILE	(1ULL << 5)
#define LL_FS_MAKE_REG		(1ULL << 8)
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
#define SC_RET_TRAP	0x00030000U	/* SIGSYS, which a handler may catch */
#define SC_RET_ALLOW	0x7fff0000U
/*
 * A tracer's "no call": strace's fault injection (the crash tests) turns
 * the call into -1 and makes up its result; the kernel runs nothing.
 */
#define SC_NO_CALL	0xffffffffU
#define SC_CALLS_MAX	80

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
 * Without seccomp, what an older Landlock leaves open (seccomp denies
 * those calls where it is there).
 */
static const char *
landlock_gaps(void)
{
	if (landlock_abi == 0 || landlock_abi >= 6 || have_seccomp)
		return "";
	if (landlock_abi < 3)
		return " (and its Landlock denies no truncation by name, TCP, "
		    "signal or abstract socket)";
	if (landlock_abi < 4)
		return " (and its Landlock denies no TCP, signal or abstract "
		    "socket)";
	return " (and its Landlock denies no signal or abstract socket)";
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
	    "process and the session run without%s", missing,
	    landlock_gaps());
	return 0;
}

/*
 * No file system access at all, as far as this kernel's Landlock goes,
 * but for making and removing names in p->dirs.
 */
static int
landlock_confine(const struct sandbox_policy *p, char *why, size_t size)
{
#ifdef SYS_landlock_create_ruleset
	struct ll_ruleset_attr attr = { .handled_access_fs = LL_FS_ABI1 };
	struct ll_path_beneath_attr rule = {
		.allowed_access = LL_FS_MAKE_REG | LL_FS_REMOVE_FILE
	};
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
	for (size_t i = 0; i < p->ndirs; i++) {
		rule.parent_fd = open(p->dirs[i], O_PATH | O_DIRECTORY |
		    O_CLOEXEC);
		if (rule.parent_fd == -1 || syscall(SYS_landlock_add_rule,
		    (int)fd, LL_RULE_PATH_BENEATH, &rule, 0) == -1) {
			snprintf(why, size, "landlock_add_rule %s: %s",
			    p->dirs[i], strerror(errno));
			if (rule.parent_fd != -1)
				close(rule.parent_fd);
			close((int)fd);
			return -1;
		}
		close(rule.parent_fd);
	}
	if (syscall(SYS_landlock_restrict_self, (int)fd, 0) == -1) {
		snprintf(why, size, "landlock_restrict_self: %s",
		    strerror(errno));
		close((int)fd);
		return -1;
	}
	close((int)fd);
#else
	(void)p;
	(void)why;
	(void)size;
#endif
	return 0;
}

/*
 * The architecture, then each allowed number; all else kills, or traps
 * (p->trap) into sigsys().
 */
static int
seccomp_allow(const struct sandbox_policy *p, char *why, size_t size)
{
#ifdef SC_AUDIT_ARCH
	struct bpf_insn f[6 + SC_CALLS_MAX];
	struct bpf_prog prog;
	uint32_t deny = p->trap ? SC_RET_TRAP : SC_RET_KILL;
	size_t n = 0, left = p->nsyscalls[0] + p->nsyscalls[1] + 1;

	if (!have_seccomp)
		return 0;
	if (left > SC_CALLS_MAX) {
		snprintf(why, size, "seccomp: too many system calls");
		return -1;
	}
	f[n++] = (struct bpf_insn){ BPF_LD_W_ABS, 0, 0, SC_ARCH };
	f[n++] = (struct bpf_insn){ BPF_JEQ_K, 1, 0, SC_AUDIT_ARCH };
	f[n++] = (struct bpf_insn){ BPF_RET_K, 0, 0, deny };
	f[n++] = (struct bpf_insn){ BPF_LD_W_ABS, 0, 0, SC_NR };
	/* each match jumps over the rest and the deny, to the allow */
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < p->nsyscalls[k]; i++)
			f[n++] = (struct bpf_insn){ BPF_JEQ_K,
			    (uint8_t)left--, 0, (uint32_t)p->syscalls[k][i] };
	f[n++] = (struct bpf_insn){ BPF_JEQ_K, 1, 0, SC_NO_CALL };
	f[n++] = (struct bpf_insn){ BPF_RET_K, 0, 0, deny };
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

	if (landlock_confine(p, why, size) == -1)
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
		{ prelogin_calls, NULL }, { sizeof(prelogin_calls) /
		    sizeof(prelogin_calls[0]), 0 }, PRELOGIN_NOFILE, NULL, 0, 0
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
		return landlock_confine(&p, why, size);
#endif
	return sandbox_enter(&p, why, size);
}


/*
 * The session after login, found by strace -f over the suite (t/20,
 * t/30-t/39, t/41): what the pre-login child may do (read, write, poll,
 * the clock, the heap), and besides: TRANSACTION stats and reads the
 * mailbox and logs; QUIT's update locks (fcntl, a link, a pause while
 * the dotlock is busy), writes, truncates and syncs through open
 * descriptors, renews its dotlock and renames the index over the old
 * one; the end removes the dotlock, the session file and the index's
 * spare; and the C library may resize a large block (mremap), ask
 * uname(2) (gethostname) and sysinfo(2) (qsort(3) of a large array),
 * and block signals around the update.  Each name where C libraries and
 * CPUs differ (32-bit ones have 64-bit time and offset variants; AArch64
 * has only the *at calls); the commonest first, since the filter tries
 * them in order, after the child's.
 */
static const long session_calls[] = {
#ifdef SYS_newfstatat
	SYS_newfstatat,
#endif
#ifdef SYS_fstat
	SYS_fstat,
#endif
#ifdef SYS_fstat64
	SYS_fstat64,
#endif
#ifdef SYS_statx
	SYS_statx,
#endif
#ifdef SYS_fstatat64
	SYS_fstatat64,
#endif
	SYS_pread64, SYS_getpid,
#ifdef SYS_sendto
	SYS_sendto,
#endif
#ifdef SYS_send
	SYS_send,
#endif
	SYS_writev, SYS_close, SYS_pwrite64,
#ifdef SYS_stat
	SYS_stat,
#endif
#ifdef SYS_stat64
	SYS_stat64,
#endif
#ifdef SYS_lstat
	SYS_lstat,
#endif
#ifdef SYS_lstat64
	SYS_lstat64,
#endif
#ifdef SYS_time
	SYS_time,
#endif
	SYS_mremap,
	/* locks, the update, the end */
#ifdef SYS_fcntl
	SYS_fcntl,
#endif
#ifdef SYS_fcntl64
	SYS_fcntl64,
#endif
#ifdef SYS_link
	SYS_link,
#endif
	SYS_linkat,
#ifdef SYS_unlink
	SYS_unlink,
#endif
	SYS_unlinkat,
#ifdef SYS_rename
	SYS_rename,
#endif
#ifdef SYS_renameat
	SYS_renameat,
#endif
#ifdef SYS_renameat2
	SYS_renameat2,
#endif
#ifdef SYS_utimensat
	SYS_utimensat,
#endif
#ifdef SYS_utimensat_time64
	SYS_utimensat_time64,
#endif
	SYS_ftruncate,
#ifdef SYS_ftruncate64
	SYS_ftruncate64,
#endif
	SYS_fsync, SYS_fdatasync, SYS_fallocate, SYS_fstatfs,
#ifdef SYS_fstatfs64
	SYS_fstatfs64,
#endif
#ifdef SYS_clock_nanosleep
	SYS_clock_nanosleep,
#endif
#ifdef SYS_clock_nanosleep_time64
	SYS_clock_nanosleep_time64,
#endif
#ifdef SYS_nanosleep
	SYS_nanosleep,
#endif
	SYS_rt_sigprocmask,
#ifdef SYS_sigreturn
	SYS_sigreturn,
#endif
	SYS_uname, SYS_sysinfo,
};

#ifndef SESSION_UNCONFINED
/* The digits of v in base 10 or 16 at p; how many. */
static size_t
digits(char *p, unsigned int v, unsigned int base)
{
	char d[16];
	size_t n = 0, k = 0;

	do
		d[n++] = "0123456789abcdef"[v % base];
	while ((v /= base) > 0);
	while (n > 0)
		p[k++] = d[--n];
	return k;
}

/*
 * A system call the session's filter forbids: one log line that names
 * it, one -ERR for the client, and the end (the call was never made).
 * Only async-signal-safe calls, all of them on the list.
 */
static void
sigsys(int sig, siginfo_t *si, void *ctx)
{
	static const char err[] = "-ERR [SYS/TEMP] server error, closing\r\n";
	char line[160];
	size_t n;

	(void)sig;
	(void)ctx;
	memcpy(line, "session: system call ", 21);
	n = 21 + digits(line + 21, (unsigned int)si->si_syscall, 10);
#ifdef SC_AUDIT_ARCH
	if ((uint32_t)si->si_arch != SC_AUDIT_ARCH) {
		memcpy(line + n, " of arch 0x", 11);
		n += 11 + digits(line + n + 11, (unsigned int)si->si_arch, 16);
	}
#endif
	memcpy(line + n, " is forbidden by its sandbox (seccomp); session "
	    "ended", 54);
	line[n + 54] = '\0';
	log_signal_safe(LOG_ERR, line);
	(void)!write(1, err, sizeof(err) - 1);
	_exit(128 + SIGSYS);
}
#endif

/*
 * The session, once its mailbox is open: no new privileges; with
 * Landlock, names made and removed in dirs (the mailbox's and the
 * index's directories) and no other file system access; no new
 * descriptor, no process (the user's RLIMIT_NPROC 0 for this process);
 * and the system calls above, any other logged by sigsys().  0, or -1
 * with why filled (a feature that is there failed: not safe to go on).
 */
int
sandbox_session(const char *const *dirs, size_t ndirs, char *why,
    size_t size)
{
	const struct sandbox_policy p = {
		{ prelogin_calls, session_calls }, {
		    sizeof(prelogin_calls) / sizeof(prelogin_calls[0]),
		    sizeof(session_calls) / sizeof(session_calls[0]) },
		SESSION_NOFILE, dirs, ndirs, 1
	};
	struct rlimit none = { 0, 0 };
	struct sigaction sa;

#ifdef SESSION_UNCONFINED
	(void)p;
	(void)none;
	(void)sa;
	(void)why;
	(void)size;
	return 0;
#else
#ifdef POP3D_TEST_HOOKS
	/* as sandbox_prelogin(): "landlock" alone, or "none" at all */
	const char *t = getenv("POP3D_TEST_SANDBOX");

	if (t != NULL && strcmp(t, "none") == 0)
		return 0;
#endif
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		snprintf(why, size, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	/* the log's socket was made at startup: no other may be */
	log_confine();
#ifdef POP3D_TEST_HOOKS
	if (t != NULL && strcmp(t, "landlock") == 0)
		return landlock_confine(&p, why, size);
#endif
	if (setrlimit(RLIMIT_NPROC, &none) == -1) {
		snprintf(why, size, "setrlimit NPROC: %s", strerror(errno));
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sigsys;
	sa.sa_flags = SA_SIGINFO;
	(void)sigfillset(&sa.sa_mask);
	if (have_seccomp && sigaction(SIGSYS, &sa, NULL) == -1) {
		snprintf(why, size, "sigaction SIGSYS: %s", strerror(errno));
		return -1;
	}
	return sandbox_enter(&p, why, size);
#endif
}
