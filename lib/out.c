/*
 * out.c - output files that appear whole or not at all: data goes to a
 * temporary beside the target and is renamed over it on success.  A
 * failing run, or one stopped by a signal, leaves nothing behind.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* Temporaries a signal handler must remove; set with signals blocked. */
#define MAXPENDING 16
static char *volatile pending[MAXPENDING];

static const int cleanup_signals[] = {
	SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGXFSZ
};
#define NSIGNALS (sizeof cleanup_signals / sizeof cleanup_signals[0])

static void
on_signal(int sig)
{
	int i;

	for (i = 0; i < MAXPENDING; i++)
		if (pending[i] != NULL)
			unlink(pending[i]);
	/* SA_RESETHAND restored the default action: die by the signal. */
	raise(sig);
}

void
t2m_cleanup_signals(void (*handler)(int))
{
	struct sigaction sa, old;
	size_t i;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < NSIGNALS; i++)
		sigaddset(&sa.sa_mask, cleanup_signals[i]);
	for (i = 0; i < NSIGNALS; i++) {
		/* Leave alone a signal the parent told us to ignore. */
		if (sigaction(cleanup_signals[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaction(cleanup_signals[i], &sa, NULL);
	}
}

void
t2m_cleanup_block(sigset_t *old)
{
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < NSIGNALS; i++)
		sigaddset(&set, cleanup_signals[i]);
	sigprocmask(SIG_BLOCK, &set, old);
}

void
t2m_out_signals(void)
{
	t2m_cleanup_signals(on_signal);
}

static void
forget(const char *tmp)
{
	sigset_t old;
	int i;

	t2m_cleanup_block(&old);
	for (i = 0; i < MAXPENDING; i++)
		if (pending[i] == tmp)
			pending[i] = NULL;
	sigprocmask(SIG_SETMASK, &old, NULL);
}

int
t2m_out_open(struct t2m_out *o, const char *path, t2m_error *err)
{
	struct stat st;
	const char *slash, *target = path;
	char *real = NULL;
	mode_t mode, mask;
	sigset_t old;
	size_t dirlen;
	int i, e;

	memset(o, 0, sizeof *o);
	o->fd = -1;
	if (strcmp(path, "-") == 0) {
		/* Standard output, if it can take writes at offsets. */
		if (fstat(STDOUT_FILENO, &st) < 0)
			return t2m_fail_errno(err, "cannot stat");
		if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
			return t2m_fail(err, "standard output is not a file; "
			    "safetensors is written at offsets, so it needs "
			    "one");
		if (isatty(STDOUT_FILENO))
			return t2m_fail(err, "refusing to write binary data to "
			    "a terminal");
		if (fcntl(STDOUT_FILENO, F_GETFL) & O_APPEND)
			return t2m_fail(err, "standard output is open for "
			    "appending (>>); use > or name the file");
		if ((o->path = strdup("<stdout>")) == NULL)
			return t2m_fail(err, "out of memory");
		o->fd = STDOUT_FILENO;
		o->direct = 1;
		return 0;
	}
	if (stat(path, &st) == 0) {
		if (S_ISCHR(st.st_mode)) {
			/* /dev/null, /dev/full: no rename possible or needed. */
			if ((o->fd = open(path, O_WRONLY)) < 0)
				return t2m_fail_errno(err, "cannot open");
			if ((o->path = strdup(path)) == NULL) {
				t2m_out_abort(o);
				return t2m_fail(err, "out of memory");
			}
			o->direct = 1;
			return 0;
		}
		if (!S_ISREG(st.st_mode))
			return t2m_fail(err, "not a regular file");
		mode = st.st_mode & 07777;
		/* Write through a symbolic link, as cp(1) does. */
		if ((real = realpath(path, NULL)) == NULL)
			return t2m_fail_errno(err, "cannot resolve");
		target = real;
	} else if (errno != ENOENT) {
		return t2m_fail_errno(err, "cannot stat");
	} else {
		mask = umask(0);
		umask(mask);
		mode = 0666 & ~mask;
	}
	if ((o->path = strdup(target)) == NULL ||
	    (o->tmp = malloc(strlen(target) + 16)) == NULL) {
		free(real);
		t2m_out_abort(o);
		return t2m_fail(err, "out of memory");
	}
	free(real);
	slash = strrchr(o->path, '/');
	dirlen = slash ? (size_t)(slash - o->path) + 1 : 0;
	memcpy(o->tmp, o->path, dirlen);
	strcpy(o->tmp + dirlen, ".");
	strcat(o->tmp, o->path + dirlen);
	strcat(o->tmp, ".XXXXXX");

	t2m_cleanup_block(&old);
	o->fd = mkstemp(o->tmp);
	e = errno;
	if (o->fd >= 0) {
		for (i = 0; i < MAXPENDING && pending[i] != NULL; i++)
			;
		if (i < MAXPENDING)
			pending[i] = o->tmp;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (o->fd < 0) {
		errno = e;
		free(o->tmp);
		o->tmp = NULL;
		t2m_fail_errno(err, "cannot create a temporary file beside it");
		t2m_out_abort(o);
		return -1;
	}
	if (fchmod(o->fd, mode) < 0) {
		t2m_fail_errno(err, "cannot set the mode of the temporary file");
		t2m_out_abort(o);
		return -1;
	}
	return 0;
}

int
t2m_out_commit(struct t2m_out *o, t2m_error *err)
{
	int fd = o->fd;

	o->fd = -1;
	if (close(fd) < 0) {
		t2m_fail_errno(err, "write error");
		t2m_out_abort(o);
		return -1;
	}
	if (!o->direct && rename(o->tmp, o->path) < 0) {
		t2m_fail_errno(err, "cannot rename %s into place", o->tmp);
		t2m_out_abort(o);
		return -1;
	}
	if (o->tmp)
		forget(o->tmp);
	free(o->tmp);
	free(o->path);
	o->tmp = o->path = NULL;
	return 0;
}

void
t2m_out_abort(struct t2m_out *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->tmp) {
		unlink(o->tmp);
		forget(o->tmp);
	}
	free(o->tmp);
	free(o->path);
	o->tmp = o->path = NULL;
}
