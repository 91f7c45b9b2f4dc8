/*
 * error.c - filling in t2m_error: the one way lib/ reports a failure; and
 * how a filter ends, on a failure or on --version and --help.
 */
#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t2m.h"

int
t2m_fail(t2m_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	err->errnum = 0;
	err->subject = NULL;
	return -1;
}

int
t2m_fail_errno(t2m_error *err, const char *fmt, ...)
{
	int e = errno;
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	len = strlen(err->msg);
	snprintf(err->msg + len, sizeof err->msg - len, ": %s", strerror(e));
	err->errnum = e;
	err->subject = NULL;
	errno = e;
	return -1;
}

int
t2m_prefix(t2m_error *err, const char *fmt, ...)
{
	char old[T2M_ERRLEN];
	size_t len;
	va_list ap;

	memcpy(old, err->msg, sizeof old);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	len = strlen(err->msg);
	snprintf(err->msg + len, sizeof err->msg - len, ": %s", old);
	return -1;
}

void
t2m_die(const char *name, const t2m_error *e)
{
	if (e->errnum == EPIPE) {
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
	}
	errx(1, "%s: %s", e->subject ? e->subject : name, e->msg);
}

void
t2m_help(const char *help)
{
	if (fputs(help, stdout) == EOF || fflush(stdout) == EOF)
		err(1, "<stdout>");
	exit(0);
}

void
t2m_long_options(int argc, char **argv, const char *prog, const char *help)
{
	if (argc != 2)
		return;
	if (strcmp(argv[1], "--help") == 0)
		t2m_help(help);
	if (strcmp(argv[1], "--version") == 0) {
		if (printf("%s %s\n", prog, T2M_VERSION) < 0 ||
		    fflush(stdout) == EOF)
			err(1, "<stdout>");
		exit(0);
	}
}
