/*
 * io.c - buffered input that knows its position and tells a clean end
 * from a short read and from an I/O error; write loops for output;
 * moves from descriptor to descriptor that skip user memory on Linux.
 */
#ifdef __linux__
#define _GNU_SOURCE	/* splice, F_SETPIPE_SZ */
#endif
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t2m.h"

/*
 * Zero-copy moves.  splice(2) moves pages between a pipe and another
 * descriptor without copying them through this process; it needs a pipe
 * on one side and is Linux-only.  Everywhere else - and when the kernel
 * says no (EINVAL: a file system without splice; ESPIPE) - the bytes go
 * through a buffer, as before.  Callers cannot tell the difference except
 * by the time it takes.
 */
#ifdef __linux__
#define HAVE_SPLICE 1
#endif

/* Errors that mean "not this way", as opposed to "this failed". */
static int
unsupported(int e)
{
	return e == EINVAL || e == ENOSYS || e == ESPIPE || e == EBADF ||
	    e == EOPNOTSUPP;
}

/*
 * Read from a pipe.  read(2) wakes a writer waiting for room in the pipe
 * with a hint that the reader is about to sleep, and the scheduler takes
 * it to run the writer on the reader's CPU.  In a pipeline where every
 * process has work, that puts two filters on one CPU while the other
 * idles: on 2 CPUs the 4 GB bench pipeline took half as long again.
 * vmsplice(2) from a pipe copies the same bytes to memory, and wakes the
 * writer without the hint.  Where it is missing or refused, read(2).
 */
static ssize_t
pipe_read(int fd, void *p, size_t n)
{
#ifdef HAVE_SPLICE
	static int no_vmsplice;
	struct iovec v;
	ssize_t r;

	if (!no_vmsplice) {
		v.iov_base = p;
		v.iov_len = n;
		if ((r = vmsplice(fd, &v, 1, 0)) >= 0 || !unsupported(errno))
			return r;
		no_vmsplice = 1;
	}
#endif
	return read(fd, p, n);
}

#ifdef HAVE_SPLICE
/* A pipe for this process's own use, as big as the OS allows, its size in
 * *size.  -1 when there is none. */
static int
own_pipe(int p[2], size_t *size)
{
	int sz;

	if (pipe(p) < 0)
		return -1;
	(void)fcntl(p[0], F_SETFD, FD_CLOEXEC);
	(void)fcntl(p[1], F_SETFD, FD_CLOEXEC);
	t2m_pipe_grow(p[1]);
	sz = fcntl(p[1], F_GETPIPE_SZ);
	*size = sz > 0 ? (size_t)sz : 65536;
	return 0;
}

/* Close it, and what it holds with it. */
static void
own_pipe_close(int p[2])
{
	close(p[0]);
	close(p[1]);
	p[0] = p[1] = -1;
}
#endif

/*
 * Ask for a bigger buffer on a pipe: with the default 64 KiB each side
 * wakes the other sixteen times per megabyte.  Where the OS has no
 * F_SETPIPE_SZ, or refuses (a lowered pipe-max-size), nothing changes.
 * 1 when fd is a pipe.
 */
int
t2m_pipe_grow(int fd)
{
	struct stat st;
#ifdef F_SETPIPE_SZ
	int size;
#endif

	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode))
		return 0;
#ifdef F_SETPIPE_SZ
	for (size = T2M_PIPE_SIZE; size > 65536; size /= 2)
		if (fcntl(fd, F_SETPIPE_SZ, size) >= 0)
			break;
#endif
	return 1;
}

int
t2m_in_init(struct t2m_in *in, int fd, const char *name, size_t bufsize,
    t2m_error *err)
{
	struct stat st;

	memset(in, 0, sizeof *in);
	in->fd = fd;
	in->name = name;
	if (isatty(fd))
		return t2m_fail(err, "refusing to read binary data from a "
		    "terminal (-h for help)");
	if (fstat(fd, &st) < 0)
		return t2m_fail_errno(err, "cannot stat");
	if (S_ISDIR(st.st_mode))
		return t2m_fail(err, "is a directory");
	if (S_ISREG(st.st_mode)) {
		in->regular = 1;
		in->size = (uint64_t)st.st_size;
	}
	if (S_ISFIFO(st.st_mode)) {
		in->fifo = 1;
		t2m_pipe_grow(fd);
	}
	in->cap = bufsize ? bufsize : (size_t)256 << 10;
	if ((in->buf = malloc(in->cap)) == NULL)
		return t2m_fail(err, "out of memory");
	return 0;
}

int
t2m_in_init_fn(struct t2m_in *in, ssize_t (*fn)(void *, void *, size_t,
    t2m_error *), void *ctx, const char *name, t2m_error *err)
{
	memset(in, 0, sizeof *in);
	in->fd = -1;
	in->name = name;
	in->readfn = fn;
	in->rctx = ctx;
	in->cap = (size_t)256 << 10;
	if ((in->buf = malloc(in->cap)) == NULL)
		return t2m_fail(err, "out of memory");
	return 0;
}

void
t2m_in_free(struct t2m_in *in)
{
	free(in->buf);
	in->buf = NULL;
}

/* One read(2), EINTR retried; sets eof on 0. */
static ssize_t
raw_read(struct t2m_in *in, void *p, size_t n, t2m_error *err)
{
	ssize_t r;

	if (in->eof)
		return 0;
	if (in->maxread && n > in->maxread)
		n = in->maxread;
	if (in->readfn) {
		if ((r = in->readfn(in->rctx, p, n, err)) < 0)
			return -1;
		if (r == 0)
			in->eof = 1;
		return r;
	}
	do
		r = in->fifo ? pipe_read(in->fd, p, n) : read(in->fd, p, n);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return t2m_fail_errno(err, "read error at offset %llu",
		    (unsigned long long)(in->pos + (in->tail - in->head)));
	if (r == 0)
		in->eof = 1;
	return r;
}

ssize_t
t2m_in_read(struct t2m_in *in, void *p, size_t n, t2m_error *err)
{
	unsigned char *out = p;
	size_t done = 0, k;
	ssize_t r;

	while (done < n) {
		if (in->head < in->tail) {
			k = in->tail - in->head;
			if (k > n - done)
				k = n - done;
			memcpy(out + done, in->buf + in->head, k);
			in->head += k;
			in->pos += k;
			done += k;
			continue;
		}
		in->head = in->tail = 0;
		if (n - done >= in->cap) {
			/* Large reads bypass the buffer. */
			if ((r = raw_read(in, out + done, n - done, err)) < 0)
				return -1;
			in->pos += (uint64_t)r;
			done += (size_t)r;
		} else {
			if ((r = raw_read(in, in->buf, in->cap, err)) < 0)
				return -1;
			in->tail = (size_t)r;
		}
		if (r == 0)
			break;
	}
	return (ssize_t)done;
}

ssize_t
t2m_in_read_lean(struct t2m_in *in, void *p, size_t n, t2m_error *err)
{
	unsigned char *out = p;
	size_t done;
	ssize_t r;

	done = in->tail - in->head < n ? in->tail - in->head : n;
	if (done > 0 && t2m_in_read(in, out, done, err) < 0)
		return -1;
	while (done < n) {
		if ((r = raw_read(in, out + done, n - done, err)) < 0)
			return -1;
		if (r == 0)
			break;
		in->pos += (uint64_t)r;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

int
t2m_in_full(struct t2m_in *in, void *p, size_t n, const char *what,
    t2m_error *err)
{
	uint64_t at = in->pos;
	ssize_t r;

	if ((r = t2m_in_read(in, p, n, err)) < 0)
		return -1;
	if ((size_t)r < n)
		return t2m_fail(err, "offset %llu: truncated %s (%zu bytes "
		    "expected, %zd read)", (unsigned long long)at, what, n, r);
	return 0;
}

ssize_t
t2m_in_peek(struct t2m_in *in, size_t n, const unsigned char **p,
    t2m_error *err)
{
	ssize_t r;

	if (n > in->cap)
		n = in->cap;
	if (in->tail - in->head < n && in->head > 0) {
		memmove(in->buf, in->buf + in->head, in->tail - in->head);
		in->tail -= in->head;
		in->head = 0;
	}
	while (in->tail - in->head < n) {
		if ((r = raw_read(in, in->buf + in->tail, in->cap - in->tail,
		    err)) < 0)
			return -1;
		if (r == 0)
			break;
		in->tail += (size_t)r;
	}
	*p = in->buf + in->head;
	return (ssize_t)(in->tail - in->head);
}

int
t2m_in_discard(struct t2m_in *in, uint64_t n, uint64_t *done, t2m_error *err)
{
	uint64_t left = n, k;
	ssize_t r;

	*done = 0;
	while (left > 0) {
		if (in->head == in->tail) {
			if ((r = raw_read(in, in->buf, in->cap, err)) < 0)
				return -1;
			if (r == 0)
				break;
			in->head = 0;
			in->tail = (size_t)r;
		}
		k = in->tail - in->head;
		if (k > left)
			k = left;
		in->head += k;
		in->pos += k;
		left -= k;
	}
	*done = n - left;
	return 0;
}

int
t2m_in_skip(struct t2m_in *in, uint64_t n, const char *what, t2m_error *err)
{
	uint64_t at = in->pos, done;

	if (t2m_in_discard(in, n, &done, err) < 0)
		return -1;
	if (done < n)
		return t2m_fail(err, "offset %llu: truncated %s (%llu bytes "
		    "expected, %llu read)", (unsigned long long)at, what,
		    (unsigned long long)n, (unsigned long long)done);
	return 0;
}

int
t2m_in_at_end(struct t2m_in *in, t2m_error *err)
{
	const unsigned char *p;
	ssize_t r;

	if ((r = t2m_in_peek(in, 1, &p, err)) < 0)
		return -1;
	return r == 0;
}

int
t2m_write_full(int fd, const void *p, size_t n)
{
	const unsigned char *b = p;
	ssize_t r;

	while (n > 0) {
		r = write(fd, b, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/*
 * Write to a pipe.  write(2) to a pipe whose reader waits wakes it with
 * the hint that read(2) gives a writer (pipe_read), and draws the reader
 * to this CPU.  Written first to a pipe of this process's own, which no
 * one waits on, and spliced from there, the bytes arrive with a plain
 * wake-up; splice moves the pages without copying them again.  On the
 * 4 GB bench file that took the pipeline's median from 3.4 s to 2.4 s.
 * Where splice is missing or refused, write(2).
 */
int
t2m_pipe_write(int fd, const void *p, size_t n)
{
#ifdef HAVE_SPLICE
	static int stage[2] = { -1, -1 }, no_stage;
	static size_t stage_size;
	const unsigned char *b = p;
	size_t k, left;
	ssize_t r;
	int e;

	if (!no_stage && stage[0] < 0 && own_pipe(stage, &stage_size) < 0)
		no_stage = 1;
	while (!no_stage && n > 0) {
		/* The stage is empty: this much fits without waiting. */
		k = n < stage_size ? n : stage_size;
		if (t2m_write_full(stage[1], b, k) < 0)
			goto fail;
		for (left = k; left > 0; left -= (size_t)r) {
			do
				r = splice(stage[0], NULL, fd, NULL, left, 0);
			while (r < 0 && errno == EINTR);
			if (r < 0 && left == k && unsupported(errno)) {
				no_stage = 1;
				break;
			}
			if (r <= 0) {
				if (r == 0)
					errno = EIO;
				goto fail;
			}
		}
		if (no_stage) {
			/* Back to write(2), from these bytes on. */
			own_pipe_close(stage);
			break;
		}
		b += k;
		n -= k;
	}
	return n == 0 ? 0 : t2m_write_full(fd, b, n);
fail:
	/* What is left in the stage must not go out with the next write. */
	e = errno;
	own_pipe_close(stage);
	errno = e;
	return -1;
#else
	return t2m_write_full(fd, p, n);
#endif
}

int
t2m_pread_full(int fd, void *p, size_t n, uint64_t off, t2m_error *err)
{
	unsigned char *b = p;
	ssize_t r;

	while (n > 0) {
		r = pread(fd, b, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return t2m_fail_errno(err, "read error at offset %llu",
			    (unsigned long long)off);
		if (r == 0)
			return t2m_fail(err, "offset %llu: file ends early",
			    (unsigned long long)off);
		b += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

int
t2m_pwrite_full(int fd, const void *p, size_t n, uint64_t off)
{
	const unsigned char *b = p;
	ssize_t r;

	while (n > 0) {
		r = pwrite(fd, b, n, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = ENOSPC;
			return -1;
		}
		b += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

int
t2m_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0, mul = 1;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 &&
		    (uint64_t)(*p - '0') > UINT64_MAX % 10))
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	switch (*p) {
	case '\0': break;
	case 'k': case 'K': mul = (uint64_t)1 << 10; p++; break;
	case 'm': case 'M': mul = (uint64_t)1 << 20; p++; break;
	case 'g': case 'G': mul = (uint64_t)1 << 30; p++; break;
	case 't': case 'T': mul = (uint64_t)1 << 40; p++; break;
	default: return -1;
	}
	if (*p == 'i' && mul > 1)
		p++;
	if ((*p == 'B' || *p == 'b') && p[1] == '\0')
		p++;
	if (*p != '\0' || (mul > 1 && v > UINT64_MAX / mul))
		return -1;
	*out = v * mul;
	return 0;
}

#ifdef HAVE_SPLICE
/*
 * Splicing from a pipe into a file, the kernel copies the pages while it
 * holds the pipe's lock, and the process filling that pipe spins on the
 * lock meanwhile: on a 2-core machine, most of a CPU lost.  So the pages
 * are first moved to a pipe of this process's own, the relay, which takes
 * a moment, and copied into the file from there.
 *
 * A write into a file costs about as much per call as a quarter of a
 * megabyte costs to copy (the inode's times are stamped, the call set up
 * in the kernel), and the stream comes in records of 256 KiB.  So with
 * in->gather set, the pages of one move wait in the relay while the next
 * move continues them in the same file, the relay has room, and more
 * input is ready; then all go into the file in one call.  A full relay
 * (1 MiB where the OS allows) writes fastest: bigger ones are slower
 * again.  What waits is described by `held` and written by t2m_in_settle.
 */
static int relay[2] = { -1, -1 };
static size_t relay_size;
static struct {
	int fd;
	uint64_t off;
	size_t n;
	const char *name;	/* fd's, for messages */
} held;
/* The output of the move under way; the one a failed drain was for. */
static const char *moving, *broke;

/* Open the relay if it is not; -1 when there is no such pipe. */
static int
relay_open(void)
{
	return relay[0] >= 0 ? 0 : own_pipe(relay, &relay_size);
}

/* Bytes left in the relay after a failure would be taken for the next
 * move's. */
static void
relay_close(void)
{
	own_pipe_close(relay);
	held.n = 0;
}

/* Empty the relay into held.fd at held.off: by splice, or through buf
 * where the file system cannot take a splice.  0, or -1 with errno. */
static int
relay_drain(unsigned char *buf, size_t bufsize)
{
	loff_t o;
	ssize_t r;
	size_t k;

	while (held.n > 0) {
		o = (loff_t)held.off;
		r = splice(relay[0], NULL, held.fd, &o, held.n, SPLICE_F_MOVE);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && unsupported(errno)) {
			k = held.n < bufsize ? held.n : bufsize;
			do
				r = read(relay[0], buf, k);
			while (r < 0 && errno == EINTR);
			if (r <= 0 || t2m_pwrite_full(held.fd, buf, (size_t)r,
			    held.off) < 0)
				goto fail;
		} else if (r <= 0) {
			if (r == 0)
				errno = EIO;
			goto fail;
		}
		held.off += (uint64_t)r;
		held.n -= (size_t)r;
	}
	return 0;
fail:
	broke = held.name;
	relay_close();
	return -1;
}

/*
 * Move up to k bytes from pipe `from` into the relay, bound for `to` at
 * off: after what waits there if they continue it and fit.  Returns the
 * count, 0 at end of input, -1 with errno and *wfail.
 */
static ssize_t
relay_fill(int from, int to, uint64_t off, size_t k, unsigned char *buf,
    size_t bufsize, int *wfail)
{
	ssize_t r;

	if (held.n > 0 && (to != held.fd || off != held.off + held.n ||
	    held.n == relay_size) && relay_drain(buf, bufsize) < 0)
		goto werr;
	if (k > relay_size - held.n)
		k = relay_size - held.n;
	/* Not waiting, while the relay holds bytes: input that is not
	 * there yet, or a relay full of part-pages, says EAGAIN, and the
	 * relay is written meanwhile. */
	while ((r = splice(from, NULL, relay[1], NULL, k, SPLICE_F_MOVE |
	    (held.n > 0 ? SPLICE_F_NONBLOCK : 0))) < 0 &&
	    errno == EAGAIN && held.n > 0)
		if (relay_drain(buf, bufsize) < 0)
			goto werr;
	if (r <= 0)
		return r;
	if (held.n == 0) {
		held.fd = to;
		held.off = off;
		held.name = moving;
	}
	held.n += (size_t)r;
	return r;
werr:
	*wfail = 1;
	return -1;
}
#endif

int
t2m_in_settle(struct t2m_in *in, t2m_error *err)
{
#ifdef HAVE_SPLICE
	if (held.n > 0 && relay_drain(in->buf, in->cap) < 0) {
		t2m_fail_errno(err, "write error");
		err->subject = held.name;
		return -1;
	}
#else
	(void)in;
	(void)err;
#endif
	return 0;
}

/*
 * Move up to n bytes from descriptor `from` (at *foff when foff, else at
 * its own position) to `to` (at *toff when toff), advancing the offsets
 * given.  Returns bytes moved, fewer than n only at end of input; on
 * failure -1 with errno set and *wfail saying whether writing failed.
 * buf (bufsize bytes) carries the bytes when splice cannot.
 */
static int64_t
move(int from, uint64_t *foff, int to, uint64_t *toff, uint64_t n,
    unsigned char *buf, size_t bufsize, int *wfail)
{
	uint64_t done = 0;
	size_t k;
	ssize_t r;
#ifdef HAVE_SPLICE
	int spliced = 0;
	loff_t fo, to_;

	while (done < n) {
		k = n - done > ((size_t)1 << 30) ? (size_t)1 << 30 :
		    (size_t)(n - done);
		fo = foff ? (loff_t)*foff : 0;
		to_ = toff ? (loff_t)*toff : 0;
		if (foff == NULL && toff != NULL && relay_open() == 0) {
			/* pipe to file: by way of the relay */
			r = relay_fill(from, to, *toff, k, buf, bufsize,
			    wfail);
			if (r < 0 && *wfail)
				return -1;
		} else
			r = splice(from, foff ? &fo : NULL, to,
			    toff ? &to_ : NULL, k, SPLICE_F_MOVE);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (!spliced && unsupported(errno))
				break;		/* the buffered way */
			/* Which side broke is not said; a full disk or a
			 * closed pipe is the output's, the rest the input's. */
			*wfail = errno == EPIPE || errno == ENOSPC ||
			    errno == EDQUOT || errno == EFBIG;
			return -1;
		}
		if (r == 0)
			return (int64_t)done;
		spliced = 1;
		done += (uint64_t)r;
		if (foff)
			*foff += (uint64_t)r;
		if (toff)
			*toff += (uint64_t)r;
	}
#endif
	while (done < n) {
		k = n - done > bufsize ? bufsize : (size_t)(n - done);
		do
			r = foff ? pread(from, buf, k, (off_t)*foff) :
			    read(from, buf, k);
		while (r < 0 && errno == EINTR);
		if (r < 0) {
			*wfail = 0;
			return -1;
		}
		if (r == 0)
			break;
		if ((toff ? t2m_pwrite_full(to, buf, (size_t)r, *toff) :
		    t2m_write_full(to, buf, (size_t)r)) < 0) {
			*wfail = 1;
			return -1;
		}
		done += (uint64_t)r;
		if (foff)
			*foff += (uint64_t)r;
		if (toff)
			*toff += (uint64_t)r;
	}
	return (int64_t)done;
}

int64_t
t2m_in_move(struct t2m_in *in, int to, uint64_t *toff, uint64_t n,
    const char *toname, t2m_error *err)
{
	uint64_t done = 0, k, foff;
	int64_t r;
	int wfail = 0;

	/* What the buffer holds goes first. */
	if (in->head < in->tail) {
		k = in->tail - in->head < n ? in->tail - in->head : n;
		if ((toff ? t2m_pwrite_full(to, in->buf + in->head, (size_t)k,
		    *toff) : t2m_write_full(to, in->buf + in->head,
		    (size_t)k)) < 0)
			goto werr;
		in->head += (size_t)k;
		in->pos += k;
		done = k;
		if (toff)
			*toff += k;
	}
	if (done == n || in->eof)
		return (int64_t)done;
	if (in->readfn) {
		/* A decompressor: its bytes exist only in memory. */
		while (done < n) {
			k = n - done < in->cap ? n - done : in->cap;
			if ((r = raw_read(in, in->buf, (size_t)k, err)) < 0)
				return -1;
			if (r == 0)
				break;
			if ((toff ? t2m_pwrite_full(to, in->buf, (size_t)r,
			    *toff) : t2m_write_full(to, in->buf, (size_t)r)) < 0)
				goto werr;
			in->pos += (uint64_t)r;
			done += (uint64_t)r;
			if (toff)
				*toff += (uint64_t)r;
		}
		return (int64_t)done;
	}
	/* A regular file is read at pos, a pipe wherever it is. */
	foff = in->pos;
#ifdef HAVE_SPLICE
	moving = toname;
	broke = NULL;
#endif
	r = move(in->fd, in->regular ? &foff : NULL, to, toff, n - done,
	    in->buf, in->cap, &wfail);
#ifdef HAVE_SPLICE
	if (r >= 0 && !in->gather && held.n > 0 &&
	    relay_drain(in->buf, in->cap) < 0)
		goto werr;
#endif
	if (r < 0) {
		if (wfail)
			goto werr;
		return t2m_fail_errno(err, "read error at offset %llu",
		    (unsigned long long)in->pos);
	}
	in->pos += (uint64_t)r;
	done += (uint64_t)r;
	if (in->regular && lseek(in->fd, (off_t)in->pos, SEEK_SET) < 0)
		return t2m_fail_errno(err, "cannot seek");
	if (done < n)
		in->eof = 1;
	return (int64_t)done;
werr:
	t2m_fail_errno(err, "write error");
	err->subject = toname;
#ifdef HAVE_SPLICE
	/* Bytes held for another output may be what failed. */
	if (broke != NULL)
		err->subject = broke;
#endif
	return -1;
}

/*
 * tee(2) duplicates what a pipe holds into another pipe without using it
 * up; reading those bytes afterwards consumes them and gives this process
 * its copy.  It works only between pipes: anything else says EINVAL once,
 * and from then on the bytes are read and written.
 */
int
t2m_in_tee(struct t2m_in *in, int to, void *p, size_t n, const char *what,
    const char *toname, t2m_error *err)
{
	unsigned char *b = p;
	uint64_t at = in->pos;
	size_t done = 0, k;
	ssize_t r;
#ifdef HAVE_SPLICE
	static int no_tee;
	ssize_t t;
#endif

	/* What the buffer holds goes first. */
	if (in->head < in->tail) {
		k = in->tail - in->head < n ? in->tail - in->head : n;
		memcpy(b, in->buf + in->head, k);
		in->head += k;
		in->pos += k;
		done = k;
		if (t2m_write_full(to, b, k) < 0)
			goto werr;
	}
#ifdef HAVE_SPLICE
	while (done < n && !no_tee && in->readfn == NULL && !in->eof) {
		k = n - done;
		if (in->maxread && k > in->maxread)
			k = in->maxread;
		if ((t = tee(in->fd, to, k, 0)) < 0) {
			if (errno == EINTR)
				continue;
			if (unsupported(errno)) {
				no_tee = 1;
				break;
			}
			if (errno == EPIPE)
				goto werr;
			return t2m_fail_errno(err, "read error at offset %llu",
			    (unsigned long long)in->pos);
		}
		if (t == 0) {
			in->eof = 1;
			break;
		}
		/* The bytes teed are in the pipe: read exactly those. */
		for (k = (size_t)t; k > 0; k -= (size_t)r) {
			do
				r = pipe_read(in->fd, b + done, k);
			while (r < 0 && errno == EINTR);
			if (r <= 0)
				return t2m_fail_errno(err, "read error at "
				    "offset %llu", (unsigned long long)in->pos);
			done += (size_t)r;
			in->pos += (uint64_t)r;
		}
	}
#endif
	/* Everywhere else: read, then write. */
	while (done < n) {
		if ((r = t2m_in_read(in, b + done, n - done, err)) < 0)
			return -1;
		if (r == 0)
			break;
		if (t2m_write_full(to, b + done, (size_t)r) < 0)
			goto werr;
		done += (size_t)r;
	}
	if (done < n)
		return t2m_fail(err, "offset %llu: truncated %s (%zu bytes "
		    "expected, %zu read)", (unsigned long long)at, what, n,
		    done);
	return 0;
werr:
	t2m_fail_errno(err, "write error");
	err->subject = toname;
	return -1;
}

int
t2m_move_range(int from, uint64_t off, int to, uint64_t n, void *buf,
    size_t bufsize, const char *toname, t2m_error *err)
{
	int64_t r;
	int wfail = 0;

	r = move(from, &off, to, NULL, n, buf, bufsize, &wfail);
	if (r < 0 && wfail) {
		t2m_fail_errno(err, "write error");
		err->subject = toname;
		return -1;
	}
	if (r < 0)
		return t2m_fail_errno(err, "read error at offset %llu",
		    (unsigned long long)off);
	if ((uint64_t)r < n)
		return t2m_fail(err, "ends %llu bytes early, at offset %llu",
		    (unsigned long long)(n - (uint64_t)r),
		    (unsigned long long)(off + (uint64_t)r));
	return 0;
}
