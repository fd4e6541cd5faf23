/*
 * Every limit and tunable of pop3d, each with the reason it is what it is.
 * A value that a build may change is guarded by #ifndef and says who
 * changes it.
 */
#ifndef PARAMS_H
#define PARAMS_H

#define POP3D_VERSION	"1.0"

/* ---- The protocol -------------------------------------------------- */

/*
 * RFC 2449 section 4: "The maximum length of a command is increased from 47
 * characters (4 character command, single space, 40 character argument, CRLF)
 * to 255 octets, including the terminating CRLF."
 */
#define CMD_LINE_MAX	255

/*
 * RFC 5034 section 4: a SASL response line may be longer than a command;
 * 4096 octets hold any PLAIN or CRAM-MD5 response a real client sends.
 */
#define SASL_LINE_MAX	4096

/* Dovecot ends a session after 20 bad commands; a client that far off is lost. */
#define BAD_COMMANDS_MAX	20

/*
 * RFC 1939 section 3: an autologout timer "of at least 10 minutes".  It
 * bounds a whole command line, not each read: a client that trickles a
 * byte at a time is as idle as one that sends nothing.
 */
#define IDLE_TIMEOUT_DEFAULT	600
/* -t: a day is longer than any client waits between two commands. */
#define IDLE_TIMEOUT_MAX	86400

/*
 * -L: the whole AUTHORIZATION state, however busy, ends after this long.
 * A client logs in within a second or two; a connection that never does
 * holds one of the launcher's few slots (xinetd: instances 64).
 */
#define LOGIN_DEADLINE_DEFAULT	60
#define LOGIN_DEADLINE_MAX	86400

/* An argument echoed in an -ERR: enough to recognise, too short to abuse. */
#define SHOWN_ARG_MAX	40

/* RFC 1939 section 7: a unique-id is 1 to 70 characters. */
#define UID_MAX		70
/* 96 bits of MD5 as 24 hex digits: unique among any mailbox's messages. */
#define UID_BYTES	12
/* Enough of a header line to see its name and a whole X-UIDL value. */
#define HEADER_LOOK	128

/* ---- Logging in ---------------------------------------------------- */

/*
 * Failed logins before the session ends.  Every failure is answered
 * FAIL_DELAY_MS after the attempt began, whatever failed (no such user,
 * wrong secret, refused account), so neither the answer nor its timing
 * tells which.  A test build may shorten the delay (make pop3d-fastfail);
 * the installed binary keeps one second.
 */
#define AUTH_FAILURES_MAX	3
#ifndef FAIL_DELAY_MS
#define FAIL_DELAY_MS		1000
#endif

/*
 * uid 0 cannot log in with a password over POP3: root's mail is read
 * through an alias.  Sites that disagree build with -DALLOW_UID0_LOGIN=1.
 */
#ifndef ALLOW_UID0_LOGIN
#define ALLOW_UID0_LOGIN	0
#endif

/* User names: longer ones are refused before they go near a path. */
#define USER_NAME_MAX	64

/* Password file lines longer than this are refused, not truncated. */
#define PASSWD_LINE_MAX	1024

/* The host part of an APOP timestamp or a CRAM-MD5 challenge. */
#define AUTH_HOST_MAX	64
/* "<pid.clock.random@host>": the rest fits in 64. */
#define AUTH_STAMP_MAX	(64 + AUTH_HOST_MAX)

/* ---- The pre-login process ------------------------------------------ */

/*
 * Before login the client is read by a child process that, started as
 * root, becomes this account (-U) chrooted to this empty directory (-R):
 * what a Debian package creates (adduser --system pop3d; the directory
 * root's, empty, mode 0755).  Built in so a plain "pop3d -m ..." from
 * inetd is separated without a flag.
 */
#ifndef PRELOGIN_USER
#define PRELOGIN_USER	"pop3d"
#endif
#ifndef PRELOGIN_DIR
#define PRELOGIN_DIR	"/var/lib/pop3d/empty"
#endif

/*
 * RLIMIT_NOFILE of the child: it opens nothing, but poll(2) refuses more
 * descriptors than the limit, and it polls one.
 */
#define PRELOGIN_NOFILE	1

/*
 * RLIMIT_NOFILE of the session once it is confined: every file it needs
 * is open by then, and the limit only stops new descriptors (it polls
 * one, as the child does).
 */
#define SESSION_NOFILE	1

/*
 * The largest hand-over record the monitor accepts from the child: an
 * attempt with a SASL-sized secret and authorization identity, a user
 * name, a challenge and a full input buffer of pipelined bytes.  Field
 * lengths are 16 bits, so no field can claim more than this anyway.
 */
#define HANDOVER_FIELDS	5
#define HANDOVER_MAX	(4 + 2 * SASL_LINE_MAX + USER_NAME_MAX + 1 + \
			    AUTH_STAMP_MAX + HANDOVER_OUT + IN_BUF_SIZE + \
			    2 * HANDOVER_FIELDS)
/*
 * The child's answers not yet written when it hands over an attempt (the
 * greeting and USER's, when the client pipelines) go with it, so that
 * they leave in the same write as the monitor's; more than this, and
 * they are written first.
 */
#define HANDOVER_OUT	1024

/*
 * How long the monitor waits for the child to exit once told to (it has
 * nothing left to do), and how long past the login deadline for its last
 * record (it reports its own deadline first).  A child that overruns
 * either is treated as compromised: the session ends.
 */
#define CHILD_EXIT_MS	2000
#define CHILD_GRACE_MS	5000

/* ---- STLS and the PROXY protocol ------------------------------------ */

/*
 * STLS (RFC 2595) hands the connection to stunnel in inetd mode: the
 * monitor execs this program with the -T configuration.  An absolute
 * path, as launchers (xinetd) may give pop3d no PATH; Debian's stunnel4
 * package installs it here.  A build for elsewhere says -DSTUNNEL_PATH.
 */
#ifndef STUNNEL_PATH
#define STUNNEL_PATH	"/usr/bin/stunnel"
#endif

/*
 * The bytes a client sent after STLS, before it could have seen our
 * +OK, are dropped: what is already buffered, and what the socket holds,
 * up to this much.  A TLS client sends nothing before the +OK; a client
 * that floods past it breaks its own handshake.
 */
#define STLS_DROP_MAX	(64 * 1024)

/*
 * HAProxy's proxy-protocol.txt, section 2.1: a version 1 header is at
 * most 107 bytes with its CR LF ("PROXY TCP6" and two full IPv6
 * addresses and ports).
 */
#define PROXY_V1_MAX	107

/*
 * A version 2 header: 16 bytes, the address block (216 bytes for
 * AF_UNIX, the largest) and the TLVs HAProxy may add (unique id, ALPN,
 * authority, SSL details: a few hundred bytes).  Longer is refused, not
 * read: the header is read before the greeting, from anyone a trusted
 * proxy relays.
 */
#define PROXY_V2_MAX	(16 + 216 + 512)

/*
 * A trusted proxy sends its header as soon as it connects (HAProxy
 * writes it with the connection); one that has sent no whole header
 * within this long is not a proxy speaking the protocol.
 */
#define PROXY_WAIT_MS	10000

/* -H: addresses and networks of trusted proxies; a site has a few. */
#define PROXY_TRUST_MAX	32

/* ---- Buffers ------------------------------------------------------- */

/*
 * Input is read in 4 KB pieces (a pipelined batch of commands fits); output
 * is gathered in 64 KB so RETR streams in large writes and a batch of
 * answers leaves in one.  The fuzz build shrinks both, so small inputs
 * reach their edges.
 */
#ifndef IN_BUF_SIZE
#define IN_BUF_SIZE	4096
#endif
#ifndef OUT_BUF_SIZE
#define OUT_BUF_SIZE	65536
#endif

/*
 * The mailbox is scanned, streamed and updated in 128 KB pieces: few
 * system calls, a small resident size.  The fuzz build uses 256 bytes so
 * that messages cross blocks and updates take many moves.
 */
#ifndef MBOX_BUF_SIZE
#define MBOX_BUF_SIZE	(128 * 1024)
#endif

/*
 * A message's fingerprint covers its From_ line and the first header
 * bytes, at most this many: enough to tell one message from the next
 * (a From_ line holds the sender and a time; Return-Path, Received and
 * Message-ID follow), cheap enough to read again for every message of a
 * mailbox that changed.  Within half the buffer, so the scan always has
 * the window in it.
 */
#define FP_WINDOW	(MBOX_BUF_SIZE < 512 ? MBOX_BUF_SIZE / 2 : 256)

/*
 * An update moves kept mail in epochs of at most this many bytes: each
 * costs two disk syncs (its journal record, then its moved bytes), and
 * the journal holds two of them.  8 MB makes the syncs of a 1 GB update
 * a few hundred, and the journal 16 MB at most; on a nearly full disk
 * the epochs shrink to what the free space holds.
 */
#ifndef EPOCH_MAX		/* the test build pop3d-epochs: 256 KB */
#define EPOCH_MAX	(8 * 1024 * 1024)
#endif

/* A log line longer than this is cut: it is a log line, not a mail. */
#define LOG_LINE_MAX	1024

/* ---- Locks --------------------------------------------------------- */

/*
 * How long a scan or an update waits for a delivery to finish.  Both locks
 * are polled without blocking, so the wait is bounded and a delivery agent
 * that takes them in the other order (procmail: dotlock, then fcntl) is
 * never left waiting on us while we wait on it.
 */
#define LOCK_WAIT_MS	10000
#define LOCK_RETRY_MS	50

/*
 * A dotlock older than this is taken to be left by a crashed process and
 * removed; delivery agents hold one for seconds.  liblockfile and procmail
 * use similar ages (5 and 17 minutes).  The age is measured with the file
 * server's clock: our own temporary file's mtime, as liblockfile does.
 */
#define DOTLOCK_STALE_S	300

/* While we hold a dotlock this long, its mtime is renewed (liblockfile). */
#define DOTLOCK_TOUCH_S	60

/*
 * The session lock file may be unlinked by the session that ends just as
 * we lock it; we retry that often before calling the spool unusable.
 */
#define SESSION_LOCK_TRIES	10

#endif
