/*
 * The TRANSACTION state (RFC 1939 section 5): STAT, LIST, RETR, TOP,
 * DELE, NOOP, RSET, UIDL, LAST, and QUIT, which enters UPDATE.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "retr.h"
#include "session.h"

/*
 * LAST's "highest number accessed" (RFC 1081, 1225 and 1460; RFC 1725
 * dropped the command): RETR and DELE raise it, as those RFCs say, and
 * TOP too, which reads the message as much (popa3d leaves TOP out; a
 * client that asks LAST after TOP has seen what TOP sent).
 */
static void
accessed(struct session *s, size_t i)
{
	if (i + 1 > s->last)
		s->last = i + 1;
}

/* A message number that names a message not deleted; else the -ERR. */
static struct msg *
message(struct session *s, const char *arg, size_t *index)
{
	uint64_t n;
	struct msg *m;

	if (!reply_number(arg, &n)) {
		reply_err(s, "invalid message number: %s", reply_arg(arg));
		return NULL;
	}
	if (n == 0 || n > s->mbox.count) {
		reply_err(s, "no such message: %s", reply_arg(arg));
		return NULL;
	}
	m = &s->mbox.msgs[n - 1];
	if (m->flags & MSG_DELETED) {
		reply_err(s, "message %llu is deleted", (unsigned long long)n);
		return NULL;
	}
	*index = (size_t)(n - 1);
	return m;
}

enum verdict
cmd_quit(struct session *s, int ac, char **av)
{
	size_t n, count;
	uint64_t octets;
	unsigned long long scanned;
	sigset_t all, old;
	int r;

	(void)ac;
	(void)av;
	if (s->state != ST_TRANS) {
		reply_ok(s, "bye");
		return V_QUIT;
	}
	/* A client that cannot hear us has not seen what it deletes. */
	if (out_flush(&s->out) == -1)
		return V_END;
	/*
	 * UPDATE runs to its end: a signal now would only slow recovery.
	 * But for SIGSYS: a call the sandbox forbids is logged, not hidden.
	 */
	sigfillset(&all);
	sigdelset(&all, SIGSYS);
	sigprocmask(SIG_BLOCK, &all, &old);
	r = mbox_update(&s->mbox);
	sigprocmask(SIG_SETMASK, &old, NULL);
	mbox_totals(&s->mbox, &n, &octets);
	count = s->mbox.count;
	scanned = (unsigned long long)s->mbox.scanned;
	if (r == -1)
		reply_log_fault(s);
	/*
	 * The session lock goes before the answer: a client that reconnects
	 * the moment it reads +OK (fetchmail polling, scripts) must not find
	 * the mailbox still [IN-USE].
	 */
	mbox_close(&s->mbox);
	if (r == -1) {
		log_msg(LOG_INFO, "logout user=%s retr=%lu dele=0 left=%zu "
		    "bytes=%llu (update failed)", s->acct.name, s->retr, count,
		    scanned);
		reply_err(s, "%s %s", reply_code(&s->mbox.fault),
		    s->mbox.fault.text);
		return V_QUIT;
	}
	log_msg(LOG_INFO, "logout user=%s retr=%lu dele=%lu left=%zu "
	    "bytes=%llu", s->acct.name, s->retr, s->dele, n,
	    (unsigned long long)octets);
	reply_ok(s, "bye, %zu messages left", n);
	return V_QUIT;
}

enum verdict
cmd_stat(struct session *s, int ac, char **av)
{
	size_t n;
	uint64_t octets;

	(void)ac;
	(void)av;
	mbox_totals(&s->mbox, &n, &octets);
	return reply_ok(s, "%zu %llu", n, (unsigned long long)octets);
}

enum verdict
cmd_list(struct session *s, int ac, char **av)
{
	char line[2 * IO_DECIMAL_MAX + 4], *p;
	struct msg *m;
	size_t i, n;
	uint64_t octets;

	if (ac == 1) {
		if ((m = message(s, av[0], &i)) == NULL)
			return V_BAD;
		return reply_ok(s, "%zu %llu", i + 1,
		    (unsigned long long)m->octets);
	}
	mbox_totals(&s->mbox, &n, &octets);
	reply_ok(s, "%zu messages (%llu octets)", n,
	    (unsigned long long)octets);
	for (i = 0; i < s->mbox.count; i++)
		if (!(s->mbox.msgs[i].flags & MSG_DELETED)) {
			p = io_decimal(line, i + 1);
			*p++ = ' ';
			p = io_decimal(p, (uint64_t)s->mbox.msgs[i].octets);
			*p++ = '\r';
			*p++ = '\n';
			out_put(&s->out, line, (size_t)(p - line));
		}
	out_put(&s->out, ".\r\n", 3);
	return V_OK;
}

/*
 * The mailbox failed under a command that reads it (it changed behind us,
 * or a read failed): say why and end the session, deleting nothing.
 */
static enum verdict
read_failed(struct session *s)
{
	reply_log_fault(s);
	reply_err(s, "%s %s", reply_code(&s->mbox.fault), s->mbox.fault.text);
	return V_END;
}

enum verdict
cmd_uidl(struct session *s, int ac, char **av)
{
	char uid[UID_MAX + 1], line[IO_DECIMAL_MAX + UID_MAX + 4], *p;
	size_t i, len;

	if (ac == 1) {
		if (message(s, av[0], &i) == NULL)
			return V_BAD;
		if (mbox_check(&s->mbox, i, 0) == -1 ||
		    mbox_uid(&s->mbox, i, uid) == -1)
			return read_failed(s);
		return reply_ok(s, "%zu %s", i + 1, uid);
	}
	/* the first UIDL reads the headers: fail before the +OK */
	if (mbox_check_all(&s->mbox) == -1 ||
	    (s->mbox.count > 0 && mbox_uid(&s->mbox, 0, uid) == -1))
		return read_failed(s);
	reply_ok(s, "unique-id listing follows");
	for (i = 0; i < s->mbox.count; i++)
		if (!(s->mbox.msgs[i].flags & MSG_DELETED)) {
			if (mbox_uid(&s->mbox, i, uid) == -1)
				return V_END;
			p = io_decimal(line, i + 1);
			*p++ = ' ';
			len = strlen(uid);
			memcpy(p, uid, len);
			p += len;
			*p++ = '\r';
			*p++ = '\n';
			out_put(&s->out, line, (size_t)(p - line));
		}
	out_put(&s->out, ".\r\n", 3);
	return V_OK;
}

static enum verdict
send_message(struct session *s, size_t i, int top, uint64_t lines)
{
	if (retr_send(&s->out, &s->mbox, i, top, lines) == -1) {
		if (!s->out.failed)
			reply_log_fault(s);
		return V_END;	/* a half-sent message: hang up */
	}
	return V_OK;
}

enum verdict
cmd_retr(struct session *s, int ac, char **av)
{
	struct msg *m;
	size_t i;

	(void)ac;
	if ((m = message(s, av[0], &i)) == NULL)
		return V_BAD;
	if (mbox_check(&s->mbox, i, 0) == -1)
		return read_failed(s);
	reply_ok(s, "%llu octets", (unsigned long long)m->octets);
	s->retr++;
	accessed(s, i);
	return send_message(s, i, 0, 0);
}

enum verdict
cmd_top(struct session *s, int ac, char **av)
{
	uint64_t lines;
	size_t i;

	(void)ac;
	if (message(s, av[0], &i) == NULL)
		return V_BAD;
	if (!reply_number(av[1], &lines))
		return reply_err(s, "invalid line count: %s",
		    reply_arg(av[1]));
	if (mbox_check(&s->mbox, i, 0) == -1)
		return read_failed(s);
	reply_ok(s, "top of message follows");
	accessed(s, i);
	return send_message(s, i, 1, lines);
}

enum verdict
cmd_dele(struct session *s, int ac, char **av)
{
	struct msg *m;
	size_t i;

	(void)ac;
	if ((m = message(s, av[0], &i)) == NULL)
		return V_BAD;
	m->flags |= MSG_DELETED;
	s->dele++;
	accessed(s, i);
	return reply_ok(s, "message %zu deleted", i + 1);
}

enum verdict
cmd_noop(struct session *s, int ac, char **av)
{
	(void)ac;
	(void)av;
	return reply_ok(s, NULL);
}

enum verdict
cmd_rset(struct session *s, int ac, char **av)
{
	size_t n;
	uint64_t octets;

	(void)ac;
	(void)av;
	for (size_t i = 0; i < s->mbox.count; i++)
		s->mbox.msgs[i].flags &= (uint8_t)~MSG_DELETED;
	s->dele = 0;
	/*
	 * RSET goes back to the value at the start of the session: 0, since
	 * nothing of earlier sessions is kept (RFC 1460 counted them too).
	 */
	s->last = 0;
	mbox_totals(&s->mbox, &n, &octets);
	return reply_ok(s, "%zu messages (%llu octets)", n,
	    (unsigned long long)octets);
}

/*
 * LAST (RFC 1460): old clients (neomutt's pop_last, Net::POP3's last)
 * ask for it; it is not in CAPA, which came later (RFC 2449).
 */
enum verdict
cmd_last(struct session *s, int ac, char **av)
{
	(void)ac;
	(void)av;
	return reply_ok(s, "%zu", s->last);
}
