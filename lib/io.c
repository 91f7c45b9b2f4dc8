/*
 * io.c - buffered input that knows its position and tells a clean end
 * from a short read and from an I/O error; write loops for output.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t2m.h"

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
		    "terminal");
	if (fstat(fd, &st) < 0)
		return t2m_fail_errno(err, "cannot stat");
	if (S_ISDIR(st.st_mode))
		return t2m_fail(err, "is a directory");
	if (S_ISREG(st.st_mode)) {
		in->regular = 1;
		in->size = (uint64_t)st.st_size;
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
		r = read(in->fd, p, n);
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
