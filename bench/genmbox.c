/*
 * genmbox: write a realistic mbox to standard output, the same bytes for
 * the same seed on every machine.
 *
 *	genmbox [-q] SEED COUNT|SIZE
 *
 * COUNT is a number of messages; SIZE ends in K, M or G (powers of 1024)
 * and asks for messages until the mailbox reaches that many bytes.
 *
 * What the servers are made to handle, because real spools hold it:
 *  - sizes drawn log-normally around 4 KB (3 KB of body), and about one message in fifty
 *    carrying a base64 attachment of 200 KB to 6 MB (the tail that makes
 *    a mailbox of 2,000 messages weigh 80 MB);
 *  - body lines that begin with "." (a lone "." too), which RETR and TOP
 *    must dot-stuff;
 *  - body lines that begin with "From ": after a blank line an MDA quotes
 *    them as ">From " (otherwise they would start a message); elsewhere
 *    they stay as written, since a From_ line only counts after a blank
 *    line (RFC 4155).  -q quotes every one, as mboxo delivery agents do;
 *  - lines of several KB (HTML mailers), UTF-8 text sent as 8bit.
 *
 * The generator is a private splitmix64, so libc's rand() never decides
 * the output, and dates are formatted by hand, so locales and time zones
 * do not either.
 */

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Output goes through one large buffer: 100 MB must take well under a second. */
#define OUT_SIZE	(1024 * 1024)

/* Body text is wrapped here, as mail readers do (RFC 5322 asks for 78). */
#define WRAP_COLUMN	72

/* RFC 2045: base64 lines are at most 76 characters. */
#define B64_LINE	76

struct out {
	char	 buf[OUT_SIZE];
	size_t	 len;
	uint64_t total;
};

static uint64_t rng_state;
static struct out out;
static int quote_all_from;

static const char *const words[] = {
	"the", "of", "and", "to", "in", "is", "that", "for", "it", "as",
	"with", "was", "on", "be", "by", "at", "this", "from", "or", "have",
	"an", "which", "one", "you", "were", "all", "we", "when", "there",
	"can", "been", "has", "more", "will", "if", "no", "out", "so", "said",
	"what", "up", "its", "about", "into", "than", "them", "only", "other",
	"meeting", "report", "server", "mailbox", "invoice", "schedule",
	"attached", "please", "review", "thanks", "regards", "tomorrow",
	"deadline", "project", "budget", "quarterly", "release", "build",
	"kernel", "patch", "upstream", "backport", "config", "network",
	"Grüße", "naïve", "café", "Straße", "déjà", "résumé", "Ærø",
	"日本語", "привет", "Ελληνικά", "über", "señor", "Zürich",
};
#define NWORDS	(sizeof(words) / sizeof(words[0]))

static const char *const names[] = {
	"Alice Martin", "Bob Schmidt", "Carol Dubois", "Dave Kowalski",
	"Erin Müller", "Frank O'Neil", "Grace Hopper", "Heidi Søndergaard",
	"Ivan Petrov", "Judy Nakamura", "Mallory Jones", "Oscar Ruiz",
};
#define NNAMES	(sizeof(names) / sizeof(names[0]))

static const char *const domains[] = {
	"example.org", "example.com", "example.net", "mail.example.edu",
	"lists.example.org",
};
#define NDOMAINS	(sizeof(domains) / sizeof(domains[0]))

static const char *const odd_lines[] = {
	".",
	"..",
	"...",
	".signature follows",
	". leading dot and a space",
	"From the desk of the director,",
	"From here on the plan changes.",
	">From an already quoted line",
	"-- ",
	"",
};
#define NODD	(sizeof(odd_lines) / sizeof(odd_lines[0]))

static void	usage(void) __attribute__((noreturn));
static void	die(const char *) __attribute__((noreturn));

static void
usage(void)
{
	fprintf(stderr, "usage: genmbox [-q] SEED COUNT|SIZE[K|M|G]\n");
	exit(64);
}

static void
die(const char *what)
{
	fprintf(stderr, "genmbox: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* splitmix64 (Steele, Lea, Flood 2014): tiny, fast, good enough here. */
static uint64_t
rng_next(void)
{
	uint64_t z;

	z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n). The bias for n far below 2^64 does not matter here. */
static uint64_t
rng_below(uint64_t n)
{
	return rng_next() % n;
}

/* Uniform in (0, 1]. */
static double
rng_unit(void)
{
	return ((rng_next() >> 11) + 1) * (1.0 / 9007199254740992.0);
}

static double
rng_normal(void)
{
	return sqrt(-2.0 * log(rng_unit())) * cos(6.283185307179586 * rng_unit());
}

static void
out_flush(void)
{
	size_t off = 0;
	ssize_t n;

	while (off < out.len) {
		n = write(STDOUT_FILENO, out.buf + off, out.len - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		off += (size_t)n;
	}
	out.len = 0;
}

static void
out_put(const char *s, size_t n)
{
	size_t chunk;

	out.total += n;
	while (n > 0) {
		if (out.len == OUT_SIZE)
			out_flush();
		chunk = OUT_SIZE - out.len;
		if (chunk > n)
			chunk = n;
		memcpy(out.buf + out.len, s, chunk);
		out.len += chunk;
		s += chunk;
		n -= chunk;
	}
}

static void
out_str(const char *s)
{
	out_put(s, strlen(s));
}

static void out_fmt(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
out_fmt(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		die("vsnprintf");
	out_put(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm). */
static void
civil_from_days(long days, int *year, int *month, int *day)
{
	long era, doe, yoe, doy, mp;

	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*day = (int)(doy - (153 * mp + 2) / 5 + 1);
	*month = (int)(mp < 10 ? mp + 3 : mp - 9);
	*year = (int)(yoe + era * 400 + (*month <= 2));
}

static const char *const wdays[] = { "Thu", "Fri", "Sat", "Sun", "Mon",
    "Tue", "Wed" };
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May",
    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* ctime-style for the From_ line, or RFC 5322 style for Date: */
static void
format_date(char *buf, size_t size, uint64_t t, int rfc5322)
{
	long days = (long)(t / 86400);
	int sec = (int)(t % 86400), year, month, day;

	civil_from_days(days, &year, &month, &day);
	if (rfc5322)
		snprintf(buf, size, "%s, %d %s %d %02d:%02d:%02d +0000",
		    wdays[days % 7], day, months[month - 1], year,
		    sec / 3600, sec / 60 % 60, sec % 60);
	else
		snprintf(buf, size, "%s %s %2d %02d:%02d:%02d %d",
		    wdays[days % 7], months[month - 1], day,
		    sec / 3600, sec / 60 % 60, sec % 60, year);
}

static void
random_address(char *buf, size_t size)
{
	const char *name = names[rng_below(NNAMES)];
	char local[64];
	size_t i, j;

	for (i = j = 0; name[i] != '\0' && j + 1 < sizeof(local); i++) {
		unsigned char c = (unsigned char)name[i];

		if (c >= 'A' && c <= 'Z')
			local[j++] = (char)(c - 'A' + 'a');
		else if (c >= 'a' && c <= 'z')
			local[j++] = (char)c;
		else if (c == ' ')
			local[j++] = '.';
	}
	local[j] = '\0';
	snprintf(buf, size, "%s@%s", local, domains[rng_below(NDOMAINS)]);
}

/*
 * One body line; an odd line now and then.  *after_blank tracks the
 * previous line, which decides how a "From " line must be written.
 */
static size_t
body_line(int *after_blank)
{
	char line[WRAP_COLUMN + 64];
	const char *text;
	size_t len = 0, wlen;

	if (rng_below(40) == 0) {
		text = odd_lines[rng_below(NODD)];
		len = strlen(text);
		memcpy(line, text, len);
	} else if (rng_below(25) == 0) {
		len = 0;			/* paragraph break */
	} else {
		while (len < WRAP_COLUMN - 10) {
			text = words[rng_below(NWORDS)];
			wlen = strlen(text);
			if (len > 0)
				line[len++] = ' ';
			memcpy(line + len, text, wlen);
			len += wlen;
		}
	}
	if (len >= 5 && memcmp(line, "From ", 5) == 0 &&
	    (*after_blank || quote_all_from))
		out_put(">", 1);
	out_put(line, len);
	out_put("\n", 1);
	*after_blank = len == 0;
	return len + 1;
}

/* A single line of thousands of characters, as HTML mailers send. */
static size_t
long_line(void)
{
	size_t target = 1000 + rng_below(15000), len = 0, wlen;
	const char *w;

	out_str("<p>");
	len = 3;
	while (len < target) {
		w = words[rng_below(NWORDS)];
		wlen = strlen(w);
		out_put(w, wlen);
		out_put(" ", 1);
		len += wlen + 1;
	}
	out_str("</p>\n");
	return len + 5;
}

static void
base64_attachment(uint64_t size, const char *boundary, unsigned id)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char line[B64_LINE + 1];
	uint64_t done = 0, r = 0;
	int i, bits = 0;

	out_fmt("\n--%s\n", boundary);
	out_fmt("Content-Type: application/octet-stream; name=\"data%u.bin\"\n",
	    id);
	out_str("Content-Transfer-Encoding: base64\n");
	out_fmt("Content-Disposition: attachment; filename=\"data%u.bin\"\n\n",
	    id);
	while (done < size) {
		for (i = 0; i < B64_LINE; i++) {
			if (bits < 6) {
				r = rng_next();
				bits = 64;
			}
			line[i] = b64[r & 63];
			r >>= 6;
			bits -= 6;
		}
		line[B64_LINE] = '\n';
		out_put(line, B64_LINE + 1);
		done += B64_LINE + 1;
	}
}

static void
message(unsigned n, uint64_t *clock)
{
	char from[128], to[128], date[64], boundary[64];
	double want;
	uint64_t body_size, written = 0, attach = 0;
	unsigned hops, i;
	int after_blank = 1, multipart;

	*clock += 60 + rng_below(7200);
	want = exp(log(3000.0) + 0.9 * rng_normal());
	body_size = want < 300 ? 300 : want > 2e6 ? 2000000 : (uint64_t)want;
	if (rng_below(50) == 0)
		attach = (uint64_t)exp(log(200e3) +
		    (log(6e6) - log(200e3)) * rng_unit());
	multipart = attach > 0 || rng_below(10) == 0;
	snprintf(boundary, sizeof(boundary), "=_bench_%u_%016llx", n,
	    (unsigned long long)rng_next());

	random_address(from, sizeof(from));
	random_address(to, sizeof(to));
	format_date(date, sizeof(date), *clock, 0);
	out_fmt("From %s %s\n", from, date);
	out_fmt("Return-Path: <%s>\n", from);
	hops = 1 + (unsigned)rng_below(4);
	for (i = 0; i < hops; i++) {
		format_date(date, sizeof(date), *clock - (hops - i) * 3, 1);
		out_fmt("Received: from relay%u.%s (relay%u.%s [192.0.2.%u])\n"
		    "\tby mx.example.org with ESMTPS id %016llx\n"
		    "\tfor <benchuser@example.org>; %s\n",
		    i, domains[i % NDOMAINS], i, domains[i % NDOMAINS],
		    (unsigned)rng_below(250) + 1,
		    (unsigned long long)rng_next(), date);
	}
	format_date(date, sizeof(date), *clock, 1);
	out_fmt("Date: %s\n", date);
	out_fmt("From: %s <%s>\n", names[rng_below(NNAMES)], from);
	out_fmt("To: Bench User <%s>\n", to);
	out_fmt("Subject: %s %s %s (#%u)\n", words[rng_below(NWORDS)],
	    words[rng_below(NWORDS)], words[rng_below(NWORDS)], n);
	out_fmt("Message-ID: <%u.%016llx@bench.example.org>\n", n,
	    (unsigned long long)rng_next());
	if (rng_below(3) == 0)
		out_fmt("In-Reply-To: <%u.%016llx@bench.example.org>\n",
		    n > 0 ? n - 1 : 0, (unsigned long long)rng_next());
	out_str("MIME-Version: 1.0\n");
	if (multipart) {
		out_fmt("Content-Type: multipart/mixed; boundary=\"%s\"\n\n",
		    boundary);
		out_str("This is a multi-part message in MIME format.\n");
		out_fmt("\n--%s\n", boundary);
		out_str("Content-Type: text/plain; charset=utf-8\n"
		    "Content-Transfer-Encoding: 8bit\n\n");
	} else {
		out_str("Content-Type: text/plain; charset=utf-8\n"
		    "Content-Transfer-Encoding: 8bit\n\n");
	}
	if (rng_below(30) == 0)
		written += long_line();
	while (written < body_size)
		written += body_line(&after_blank);
	if (multipart) {
		if (attach > 0)
			base64_attachment(attach, boundary, n);
		out_fmt("\n--%s--\n", boundary);
	}
	/* The blank line that separates this message from the next From_. */
	out_put("\n", 1);
}

/* "20" is a count; "100M" is a size. */
static int
parse_amount(const char *s, uint64_t *count, uint64_t *bytes)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || s[0] == '-')
		return -1;
	*count = *bytes = 0;
	switch (*end) {
	case '\0':
		*count = v;
		return 0;
	case 'k': case 'K':
		v <<= 10;
		break;
	case 'm': case 'M':
		v <<= 20;
		break;
	case 'g': case 'G':
		v <<= 30;
		break;
	default:
		return -1;
	}
	if (end[1] != '\0')
		return -1;
	*bytes = v;
	return 0;
}

int
main(int argc, char **argv)
{
	uint64_t count, bytes, clock = 1700000000, seed;
	unsigned n;
	char *end;
	int ch;

	while ((ch = getopt(argc, argv, "q")) != -1) {
		switch (ch) {
		case 'q':
			quote_all_from = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		usage();
	errno = 0;
	seed = strtoull(argv[0], &end, 10);
	if (errno != 0 || *end != '\0' || end == argv[0])
		usage();
	if (parse_amount(argv[1], &count, &bytes) == -1)
		usage();
	rng_state = seed;
	clock += seed % 86400;
	for (n = 1; count > 0 ? n <= count : out.total < bytes; n++)
		message(n, &clock);
	out_flush();
	return 0;
}
