/*
 * Forced into pop3d.c (-include) when it is built for the session fuzz
 * target with -Dmain=pop3d_main: the renamed main() gets its prototype.
 */
int	main(int, char **);
