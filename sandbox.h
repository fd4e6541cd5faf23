/*
 * Confinement by the kernel, with the C library alone (syscall(2)):
 * Landlock for the file system (and, from its ABI 4 and 6, TCP and
 * signals) and a seccomp-BPF allow-list of system calls.
 */
#ifndef SANDBOX_H
#define SANDBOX_H

#include <stddef.h>

/*
 * What a process may still do: the system calls it may make, from two
 * lists (any other kills it, or with trap ends it through a handler
 * that logs it), descriptors below nofile, and no file system access
 * but making and removing names in dirs.
 */
struct sandbox_policy {
	const long	*syscalls[2];
	size_t		nsyscalls[2];
	unsigned long	nofile;		/* RLIMIT_NOFILE from then on */
	const char *const *dirs;
	size_t		ndirs;
	int		trap;
};

int	sandbox_probe(int, char *, size_t);
int	sandbox_enter(const struct sandbox_policy *, char *, size_t);
int	sandbox_prelogin(char *, size_t);
int	sandbox_session(const char *const *, size_t, char *, size_t);
int	sandbox_landlock_abi(void);

#endif
