/*
 * Logging: one line a message to the syslog daemon (facility mail), or to
 * standard error with -e.  Every layer may log; none needs more than this.
 */
#ifndef LOG_H
#define LOG_H

#include <syslog.h>

void	log_open(int to_stderr);
void	log_close(void);
void	log_msg(int prio, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_confine(void);
void	log_signal_safe(int prio, const char *text);

#endif
