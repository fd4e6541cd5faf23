/*
 * Confinement by the kernel, with the C library alone (syscall(2)):
 * Landlock for the file system (and, from its ABI 4 and 6, TCP and
 * signals) and a seccomp-BPF allow-list of system calls.
 */
#ifndef SANDBOX_H
#define SANDBOX_H

#include <stddef.h>

/*
 * What a process may still do: the system calls it may make (any other
 * kills it), descriptors below nofile, and no file system access at all.  The session after login
 * will add the paths of its mailbox, locks and journal.
 */
struct sandbox_policy {
	const long	*syscalls;
	size_t		nsyscalls;
	unsigned long	nofile;		/* RLIMIT_NOFILE from then on */
};

int	sandbox_probe(int, char *, size_t);
int	sandbox_enter(const struct sandbox_policy *, char *, size_t);
int	sandbox_prelogin(char *, size_t);
int	sandbox_landlock_abi(void);

#endif
