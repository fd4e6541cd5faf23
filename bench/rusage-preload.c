/*
 * rusage.so: loaded with LD_PRELOAD into a daemon's processes, it appends
 * one line per process at exit to the file named by POPBENCH_RUSAGE:
 *
 *	pid=N name=COMM user_s=F sys_s=F maxrss_kb=N
 *
 * Dovecot runs each POP3 session in a process its master forks, out of
 * reach of a launcher's wait4; this reads the same numbers from inside.
 * The file is opened when the process starts, while it may still be root,
 * and written when it exits normally (a killed process writes nothing).
 */

#include <sys/resource.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int rusage_fd = -1;
static char rusage_name[64] = "?";	/* read at start: login processes chroot */

static void rusage_open(void) __attribute__((constructor));
static void rusage_write(void) __attribute__((destructor));

static void
rusage_open(void)
{
	const char *path = getenv("POPBENCH_RUSAGE");
	ssize_t n;
	int fd, saved = errno;

	if (path == NULL)
		return;
	rusage_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if ((fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, rusage_name, sizeof(rusage_name) - 1);
		close(fd);
		if (n > 0) {
			rusage_name[n] = '\0';
			rusage_name[strcspn(rusage_name, "\n ")] = '\0';
		}
	}
	errno = saved;
}

static void
rusage_write(void)
{
	struct rusage ru;
	char line[256];
	int saved = errno, len;

	if (rusage_fd == -1 || getrusage(RUSAGE_SELF, &ru) == -1)
		return;
	len = snprintf(line, sizeof(line),
	    "pid=%ld name=%s user_s=%.6f sys_s=%.6f maxrss_kb=%ld\n",
	    (long)getpid(), rusage_name,
	    ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss);
	/* One write: O_APPEND keeps the lines of concurrent exits whole. */
	if (len > 0 && (size_t)len < sizeof(line))
		(void)write(rusage_fd, line, (size_t)len);
	errno = saved;
}
