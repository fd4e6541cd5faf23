/*
 * pop3d -P: a password read without echo, hashed for a password file
 * line with a fresh salt for the strongest method crypt(3) offers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth.h"
#include "hashpw.h"

/* salt characters of crypt(3), for the $6$ fallback */
static const char salt_chars[] =
    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* A fresh setting for the strongest method the C library offers. */
static int
gensalt(char *setting, size_t size)
{
	unsigned char r[16];

#if HAVE_CRYPT && defined(CRYPT_GENSALT_IMPLEMENTS_DEFAULT_PREFIX)
	/* A NULL prefix: libxcrypt's preferred method, its entropy. */
	if (crypt_gensalt_rn(NULL, 0, NULL, 0, setting, (int)size) != NULL)
		return 0;
#endif
	/* SHA-512 crypt: every C library we build with has it. */
	if (size < 3 + sizeof(r) + 2 || auth_random_bytes(r, sizeof(r)) == -1)
		return -1;
	memcpy(setting, "$6$", 3);
	for (size_t i = 0; i < sizeof(r); i++)
		setting[3 + i] = salt_chars[r[i] & 0x3f];
	setting[3 + sizeof(r)] = '$';
	setting[4 + sizeof(r)] = '\0';
	return 0;
}

/*
 * pop3d -P: a password on stdin (prompted, without echo, on a terminal),
 * its crypt(3) hash on stdout, ready for a password file line.
 */
int
hashpw_main(void)
{
	char pass[CRYPT_MAX_PASSPHRASE_SIZE + 2], setting[256];
	struct termios old, quiet;
	int tty = isatty(0) && tcgetattr(0, &old) == 0;
	const char *hash;
	size_t n;
	char *ok;

	if (!HAVE_CRYPT) {
		fprintf(stderr, "pop3d: -P: built without crypt(3)\n");
		return 1;
	}
	if (tty) {
		fprintf(stderr, "Password: ");
		quiet = old;
		quiet.c_lflag &= (tcflag_t)~ECHO;
		tcsetattr(0, TCSAFLUSH, &quiet);
	}
	ok = fgets(pass, sizeof(pass), stdin);
	if (tty) {
		tcsetattr(0, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (ok == NULL) {
		fprintf(stderr, "pop3d: -P: no password on standard input\n");
		return 1;
	}
	n = strlen(pass);
	if (n > 0 && pass[n - 1] == '\n')
		pass[--n] = '\0';
	else if (!feof(stdin)) {
		fprintf(stderr, "pop3d: -P: password longer than %d bytes\n",
		    CRYPT_MAX_PASSPHRASE_SIZE - 1);
		return 1;
	}
	if (n > 0 && pass[n - 1] == '\r')
		pass[--n] = '\0';
	if (n == 0) {
		fprintf(stderr, "pop3d: -P: an empty password never logs in\n");
		return 1;
	}
	if (gensalt(setting, sizeof(setting)) == -1 ||
	    (hash = auth_crypt(pass, setting)) == NULL || hash[0] == '*') {
		fprintf(stderr, "pop3d: -P: crypt(3) failed: %s\n",
		    strerror(errno));
		return 1;
	}
	explicit_bzero(pass, sizeof(pass));
	if (printf("%s\n", hash) < 0 || fflush(stdout) == EOF)
		return 1;
	return 0;
}
