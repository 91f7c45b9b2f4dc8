/*
 * outdir.c - a set of output files in one directory that appear together
 * or not at all, as a sharded checkpoint must: a loader that finds the
 * index but not every shard it names fails, or worse, loads an older
 * shard.  A new directory is built whole under a temporary name and
 * renamed into place; in an existing one each file is a temporary until
 * every file is complete.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The set a signal handler must remove: one at a time per process.
 * Files f[0..created) exist; both are set with signals blocked. */
static struct t2m_outdir *volatile active;
static volatile uint32_t created;

static void
remove_all(struct t2m_outdir *o, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		unlink(o->f[i].tmp);
	if (o->tmpdir)
		rmdir(o->tmpdir);
}

static void
on_signal(int sig)
{
	if (active)
		remove_all(active, created);
	/* SA_RESETHAND restored the default action: die by the signal. */
	raise(sig);
}

void
t2m_outdir_signals(void)
{
	t2m_cleanup_signals(on_signal);
}

static char *
join(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *s;

	if ((s = malloc(n)) != NULL)
		snprintf(s, n, "%s%s%s", a, b, c);
	return s;
}

/* Room for n more descriptors, raising the soft limit if it must. */
static int
room_for(uint32_t n, t2m_error *err)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)n + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= want)
		return 0;
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want) {
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			return 0;
	}
	return t2m_fail(err, "%u files at once are more than the limit on "
	    "open files allows (%llu)", n, (unsigned long long)rl.rlim_max);
}

/* The temporary directory's template: dir's parent, "." and its name.
 * Trailing slashes are not part of the name. */
static char *
tmpdir_template(const char *dir)
{
	size_t n = strlen(dir), base;
	char *t;

	while (n > 1 && dir[n - 1] == '/')
		n--;
	for (base = n; base > 0 && dir[base - 1] != '/'; base--)
		;
	if ((t = malloc(n + 9)) == NULL)
		return NULL;
	memcpy(t, dir, base);
	t[base] = '.';
	memcpy(t + base + 1, dir + base, n - base);
	memcpy(t + n + 1, ".XXXXXX", 8);
	return t;
}

/* Create file i: in the new directory under its own name, else as a
 * temporary beside its final name. */
static int
create(struct t2m_outdir *o, uint32_t i, const char *name, mode_t mask,
    t2m_error *err)
{
	struct t2m_outdir_file *f = &o->f[i];
	struct stat st;
	mode_t mode = 0666 & ~mask;
	sigset_t old;
	int e;

	if ((f->path = join(o->dir, "/", name)) == NULL ||
	    (f->tmp = o->tmpdir ? join(o->tmpdir, "/", name) :
	    join(o->dir, "/.", name)) == NULL ||
	    (!o->tmpdir && (f->tmp = realloc(f->tmp, strlen(f->tmp) + 8)) ==
	    NULL))
		return t2m_fail(err, "out of memory");
	if (!o->tmpdir) {
		strcat(f->tmp, ".XXXXXX");
		/* Replacing a file keeps its permissions, as t2m_out_open. */
		if (stat(f->path, &st) == 0) {
			if (!S_ISREG(st.st_mode))
				return t2m_fail(err, "%s: not a regular file",
				    name);
			mode = st.st_mode & 07777;
		}
	}
	t2m_cleanup_block(&old);
	f->fd = o->tmpdir ? open(f->tmp, O_RDWR | O_CREAT | O_EXCL, 0666) :
	    mkstemp(f->tmp);
	e = errno;
	if (f->fd >= 0)
		created = i + 1;
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = e;
	if (f->fd < 0 || (!o->tmpdir && fchmod(f->fd, mode) < 0))
		return t2m_fail_errno(err, "cannot create %s", f->tmp);
	return 0;
}

int
t2m_outdir_open(struct t2m_outdir *o, const char *dir,
    const char *const *names, uint32_t n, t2m_error *err)
{
	struct stat st;
	sigset_t old;
	mode_t mask;
	uint32_t i;

	memset(o, 0, sizeof *o);
	o->name = dir;
	mask = umask(0);
	umask(mask);
	if (room_for(n, err) < 0)
		return -1;
	if ((o->dir = strdup(dir)) == NULL ||
	    (o->f = calloc(n + 1, sizeof *o->f)) == NULL)
		goto nomem;
	for (i = 0; i < n; i++)
		o->f[i].fd = -1;
	o->n = n;
	if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		t2m_fail(err, "not a directory");
		goto fail;
	}
	if (stat(dir, &st) < 0) {
		if (errno != ENOENT) {
			t2m_fail_errno(err, "cannot stat");
			goto fail;
		}
		if ((o->tmpdir = tmpdir_template(dir)) == NULL)
			goto nomem;
		t2m_cleanup_block(&old);
		if (mkdtemp(o->tmpdir) == NULL) {
			sigprocmask(SIG_SETMASK, &old, NULL);
			t2m_fail_errno(err, "cannot create a temporary "
			    "directory beside it");
			free(o->tmpdir);
			o->tmpdir = NULL;
			goto fail;
		}
		created = 0;
		active = o;
		sigprocmask(SIG_SETMASK, &old, NULL);
	} else {
		t2m_cleanup_block(&old);
		created = 0;
		active = o;
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	for (i = 0; i < n; i++)
		if (create(o, i, names[i], mask, err) < 0)
			goto fail;
	return 0;
nomem:
	t2m_fail(err, "out of memory");
fail:
	err->subject = dir;
	t2m_outdir_abort(o);
	return -1;
}

static void
forget(void)
{
	sigset_t old;

	t2m_cleanup_block(&old);
	active = NULL;
	created = 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
}

static void
free_all(struct t2m_outdir *o)
{
	uint32_t i;

	for (i = 0; o->f && i < o->n; i++) {
		free(o->f[i].path);
		free(o->f[i].tmp);
	}
	free(o->f);
	free(o->tmpdir);
	free(o->dir);
	memset(o, 0, sizeof *o);
}

int
t2m_outdir_commit(struct t2m_outdir *o, t2m_error *err)
{
	uint32_t i;
	int fd;

	for (i = 0; i < o->n; i++) {
		fd = o->f[i].fd;
		o->f[i].fd = -1;
		if (close(fd) < 0) {
			t2m_fail_errno(err, "%s: write error",
			    o->f[i].path + strlen(o->dir) + 1);
			goto fail;
		}
	}
	if (o->tmpdir) {
		mode_t mask = umask(0);
		umask(mask);
		if (chmod(o->tmpdir, 0777 & ~mask) < 0 ||
		    rename(o->tmpdir, o->dir) < 0) {
			t2m_fail_errno(err, "cannot rename %s into place",
			    o->tmpdir);
			goto fail;
		}
	} else {
		for (i = 0; i < o->n; i++)
			if (rename(o->f[i].tmp, o->f[i].path) < 0) {
				t2m_fail_errno(err, "cannot rename %s into "
				    "place", o->f[i].tmp);
				goto fail;
			}
	}
	forget();
	free_all(o);
	return 0;
fail:
	err->subject = o->name;
	t2m_outdir_abort(o);
	return -1;
}

void
t2m_outdir_abort(struct t2m_outdir *o)
{
	uint32_t i;

	for (i = 0; o->f && i < o->n; i++)
		if (o->f[i].fd >= 0) {
			close(o->f[i].fd);
			o->f[i].fd = -1;
		}
	if (o->f)
		remove_all(o, active == o ? created : 0);
	forget();
	free_all(o);
}
