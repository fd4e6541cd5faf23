/*
 * maxrss PROGRAM ARGS...: run PROGRAM and print its peak resident set in KB
 * on stderr.  The tests start it from a small process so the figure is the
 * program's own, not that of a large parent it was forked from.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct rusage ru;
	int status;
	pid_t pid;

	if (argc < 2)
		return 2;
	if ((pid = fork()) == 0) {
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	if (pid == -1 || wait4(pid, &status, 0, &ru) == -1)
		return 2;
	fprintf(stderr, "maxrss %ld\n", ru.ru_maxrss);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
