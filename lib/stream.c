/*
 * stream.c - reading and writing the tensor-record stream, t2m-stream(5):
 * a stream header, one manifest record, data records in any order, one
 * end record.  Both sides hold O(chunk) bytes of tensor data and O(number
 * of tensors) of bookkeeping, never a whole tensor.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "le.h"

static const unsigned char magic[8] = {
	0x89, 'T', '2', 'M', '\r', '\n', 0x1a, '\n'
};

#define STREAM_HEADER 20
#define RECORD_HEADER 32
#define END_PAYLOAD   24
#define MAX_ANCILLARY ((uint64_t)1 << 30)

/* ---- reader ---- */

struct t2m_reader {
	struct t2m_in in;
	struct t2m_manifest *m;
	uint64_t *received;	/* bytes of each tensor seen so far */
	uint64_t records;	/* data records seen */
	uint64_t bytes;		/* data bytes seen */
	uint64_t recno;		/* current record, counting the manifest as 1 */
	uint64_t recpos;	/* stream offset of the current record */
	uint64_t left;		/* unread bytes of the current payload */
	int lean;		/* payloads are moved: read no further ahead
				   than a record header */
	int done;
	char where[64];
};

struct t2m_reader *
t2m_reader_new(int fd, const char *name, t2m_error *err)
{
	struct t2m_reader *r;

	if ((r = calloc(1, sizeof *r)) == NULL) {
		t2m_fail(err, "out of memory");
		return NULL;
	}
	if (t2m_in_init(&r->in, fd, name, 0, err) < 0) {
		t2m_in_free(&r->in);
		free(r);
		return NULL;
	}
	return r;
}

struct t2m_reader *
t2m_reader_from(struct t2m_in *in, t2m_error *err)
{
	struct t2m_reader *r;

	if ((r = calloc(1, sizeof *r)) == NULL) {
		t2m_fail(err, "out of memory");
		return NULL;
	}
	r->in = *in;
	memset(in, 0, sizeof *in);
	return r;
}

void
t2m_reader_free(struct t2m_reader *r)
{
	if (r == NULL)
		return;
	t2m_in_free(&r->in);
	t2m_manifest_free(r->m);
	free(r->received);
	free(r);
}

struct t2m_in *
t2m_reader_input(struct t2m_reader *r)
{
	return &r->in;
}

const char *
t2m_reader_where(struct t2m_reader *r)
{
	snprintf(r->where, sizeof r->where, "record %llu at offset %llu",
	    (unsigned long long)r->recno, (unsigned long long)r->recpos);
	return r->where;
}

/* Fail with the current record's position in front of the message. */
static int
rfail(struct t2m_reader *r, t2m_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
rfail(struct t2m_reader *r, t2m_error *err, const char *fmt, ...)
{
	char msg[T2M_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return t2m_fail(err, "%s: %s", t2m_reader_where(r), msg);
}

/* Read n bytes of the current record, reporting a short read in its terms. */
static int
rfull(struct t2m_reader *r, void *p, size_t n, const char *what,
    t2m_error *err)
{
	ssize_t k;

	if ((k = t2m_in_read(&r->in, p, n, err)) < 0)
		return -1;
	if ((size_t)k < n)
		return rfail(r, err, "truncated %s (%zu bytes expected, %zd "
		    "read)", what, n, k);
	return 0;
}

struct hdr {
	unsigned char tag[4];
	uint32_t index;
	uint64_t offset, length;
	uint32_t crc;
};

/*
 * Read one record header.  Returns 1, or 0 at a clean end of input
 * (which the caller turns into "no end record"), or -1.
 */
static int
read_header(struct t2m_reader *r, struct hdr *h, t2m_error *err)
{
	unsigned char b[RECORD_HEADER];
	ssize_t k;

	r->recno++;
	r->recpos = r->in.pos;
	if ((k = r->lean ? t2m_in_read_lean(&r->in, b, sizeof b, err) :
	    t2m_in_read(&r->in, b, sizeof b, err)) < 0)
		return -1;
	if (k == 0)
		return 0;
	if ((size_t)k < sizeof b)
		return rfail(r, err, "truncated record header (%d bytes "
		    "expected, %zd read)", RECORD_HEADER, k);
	if (t2m_le32(b + 28) != t2m_crc32(0, b, 28))
		return rfail(r, err, "record header checksum mismatch");
	memcpy(h->tag, b, 4);
	h->index = t2m_le32(b + 4);
	h->offset = t2m_le64(b + 8);
	h->length = t2m_le64(b + 16);
	h->crc = t2m_le32(b + 24);
	return 1;
}

static int
tag_is(const struct hdr *h, const char *tag)
{
	return memcmp(h->tag, tag, 4) == 0;
}

static int
ancillary(const struct hdr *h)
{
	return h->tag[0] >= 'a' && h->tag[0] <= 'z';
}

/*
 * A cursor over the manifest payload, read from the input through a
 * window of a few pages, so a manifest of any size costs no more than
 * the manifest it builds.  The checksum covers every byte as it enters
 * the window; `left` counts the bytes still unread.
 */
struct cur {
	unsigned char *buf;
	size_t cap, head, tail;
	uint64_t length;	/* the whole payload */
	uint64_t left;		/* payload bytes not yet in the window */
	uint32_t crc;
	struct t2m_reader *r;
	t2m_error *err;
};

#define WINDOW ((size_t)64 << 10)

/* Read more of the payload into the window, up to its free room. */
static int
refill(struct cur *c)
{
	size_t want;
	ssize_t k;

	want = c->cap - c->tail;
	if (want > c->left)
		want = (size_t)c->left;
	if ((k = t2m_in_read(&c->r->in, c->buf + c->tail, want, c->err)) < 0)
		return -1;
	c->crc = t2m_crc32(c->crc, c->buf + c->tail, (size_t)k);
	c->tail += (size_t)k;
	c->left -= (uint64_t)k;
	if ((size_t)k < want)
		return rfail(c->r, c->err, "truncated payload (%llu bytes "
		    "expected, %llu read)", (unsigned long long)c->length,
		    (unsigned long long)(c->length - c->left));
	return 0;
}

static int
take(struct cur *c, size_t n, const unsigned char **out, const char *what)
{
	unsigned char *nb;
	size_t cap;

	if (c->tail - c->head < n) {
		if ((uint64_t)(n - (c->tail - c->head)) > c->left)
			return rfail(c->r, c->err, "manifest ends inside %s",
			    what);
		if (c->head > 0) {
			memmove(c->buf, c->buf + c->head, c->tail - c->head);
			c->tail -= c->head;
			c->head = 0;
		}
		if (n > c->cap) {
			/* A long string: n is at most T2M_MAX_STRING. */
			cap = n;
			if ((nb = realloc(c->buf, cap)) == NULL)
				return rfail(c->r, c->err, "out of memory");
			c->buf = nb;
			c->cap = cap;
		}
		while (c->tail < n)
			if (refill(c) < 0)
				return -1;
	}
	*out = c->buf + c->head;
	c->head += n;
	return 0;
}

static int
take32(struct cur *c, uint32_t *v, const char *what)
{
	const unsigned char *p;

	if (take(c, 4, &p, what) < 0)
		return -1;
	*v = t2m_le32(p);
	return 0;
}

static int
take64(struct cur *c, uint64_t *v, const char *what)
{
	const unsigned char *p;

	if (take(c, 8, &p, what) < 0)
		return -1;
	*v = t2m_le64(p);
	return 0;
}

/* A length-prefixed string, NUL-terminated into a growing scratch buffer. */
static int
take_str(struct cur *c, char **buf, size_t *cap, const char *what)
{
	const unsigned char *p;
	uint32_t n;
	char *s;

	if (take32(c, &n, what) < 0)
		return -1;
	if (n > T2M_MAX_STRING)
		return rfail(c->r, c->err, "%s is %u bytes long (at most %u)",
		    what, n, T2M_MAX_STRING);
	if (take(c, n, &p, what) < 0)
		return -1;
	if (*cap < (size_t)n + 1) {
		if ((s = realloc(*buf, (size_t)n + 1)) == NULL)
			return rfail(c->r, c->err, "out of memory");
		*buf = s;
		*cap = (size_t)n + 1;
	}
	memcpy(*buf, p, n);
	(*buf)[n] = '\0';
	if (!t2m_utf8_valid(*buf, n))
		return rfail(c->r, c->err, "%s is not valid UTF-8", what);
	return 0;
}

struct scratch {
	char *k, *v;
	size_t kcap, vcap;
};

static int
take_attrs(struct cur *c, struct t2m_attrs *a, struct scratch *s,
    const char *what)
{
	const char *twice;
	uint32_t n, i;

	if (take32(c, &n, what) < 0)
		return -1;
	if (n > T2M_MAX_ATTRS)
		return rfail(c->r, c->err, "%s: %u entries (at most %u)", what,
		    n, T2M_MAX_ATTRS);
	/* Exactly n pairs, when the payload has the 8 bytes each needs. */
	if ((uint64_t)n * 8 <= c->tail - c->head + c->left &&
	    t2m_attrs_reserve(c->r->m, a, n, c->err) < 0)
		return rfail(c->r, c->err, "%s", c->err->msg);
	for (i = 0; i < n; i++) {
		if (take_str(c, &s->k, &s->kcap, "attribute name") < 0 ||
		    take_str(c, &s->v, &s->vcap, "attribute value") < 0)
			return -1;
		if (t2m_attrs_add(c->r->m, a, s->k, s->v, c->err) < 0)
			return rfail(c->r, c->err, "%s", c->err->msg);
	}
	switch (t2m_attrs_twice(a, &twice)) {
	case 1:
		return rfail(c->r, c->err, "%s: '%s' appears twice", what,
		    twice);
	case -1:
		return rfail(c->r, c->err, "out of memory");
	}
	t2m_attrs_share(c->r->m, a);
	return 0;
}

static int
take_tensor(struct cur *c, struct scratch *s)
{
	uint64_t shape[T2M_MAXDIM], nbytes;
	const unsigned char *b;
	struct t2m_tensor *t;
	int dtype, ndim, d;

	if (take_str(c, &s->v, &s->vcap, "tensor name") < 0 ||
	    take(c, 4, &b, "tensor description") < 0)
		return -1;
	dtype = b[0];
	ndim = b[1];
	if (t2m_dtype_name(dtype) == NULL)
		return rfail(c->r, c->err, "tensor '%s': unknown dtype code %d",
		    s->v, dtype);
	if (ndim > T2M_MAXDIM)
		return rfail(c->r, c->err, "tensor '%s': %d dimensions (at "
		    "most %d)", s->v, ndim, T2M_MAXDIM);
	if (b[2] != 0 || b[3] != 0)
		return rfail(c->r, c->err, "tensor '%s': reserved bytes are "
		    "not zero", s->v);
	for (d = 0; d < ndim; d++)
		if (take64(c, &shape[d], "tensor shape") < 0)
			return -1;
	if (take64(c, &nbytes, "tensor size") < 0)
		return -1;
	if ((t = t2m_manifest_add(c->r->m, s->v, dtype, ndim, shape,
	    c->err)) == NULL)
		return rfail(c->r, c->err, "%s", c->err->msg);
	if (t->nbytes != nbytes)
		return rfail(c->r, c->err, "tensor '%s': size %llu does not "
		    "match its shape and dtype (%llu bytes)", s->v,
		    (unsigned long long)nbytes, (unsigned long long)t->nbytes);
	return take_attrs(c, &t->attrs, s, "tensor attributes");
}

static int
parse_manifest(struct t2m_reader *r, struct cur *cp, t2m_error *err)
{
	struct cur c = *cp;
	struct scratch s = { NULL, NULL, 0, 0 };
	struct t2m_module *mod;
	uint32_t count, i;
	int rc = -1;

	if (take_attrs(&c, &r->m->info, &s, "source information") < 0 ||
	    take_attrs(&c, &r->m->meta, &s, "metadata") < 0 ||
	    take32(&c, &count, "module count") < 0)
		goto out;
	if (count > T2M_MAX_MODULES) {
		rfail(r, err, "%u modules (at most %u)", count,
		    T2M_MAX_MODULES);
		goto out;
	}
	/* Exactly count, when the payload has the 8 bytes each needs. */
	if ((uint64_t)count * 8 <= c.tail - c.head + c.left &&
	    t2m_manifest_reserve(r->m, 0, count) < 0) {
		rfail(r, err, "out of memory");
		goto out;
	}
	for (i = 0; i < count; i++) {
		if (take_str(&c, &s.k, &s.kcap, "module path") < 0)
			goto out;
		if ((mod = t2m_manifest_add_module(r->m, s.k, err)) == NULL) {
			rfail(r, err, "%s", err->msg);
			goto out;
		}
		if (take_attrs(&c, &mod->attrs, &s, "module attributes") < 0)
			goto out;
	}
	if (take32(&c, &count, "tensor count") < 0)
		goto out;
	if (count > T2M_MAX_TENSORS) {
		rfail(r, err, "%u tensors (at most %u)", count,
		    T2M_MAX_TENSORS);
		goto out;
	}
	/* And tensors, which need 20. */
	if ((uint64_t)count * 20 <= c.tail - c.head + c.left &&
	    t2m_manifest_reserve(r->m, count, 0) < 0) {
		rfail(r, err, "out of memory");
		goto out;
	}
	for (i = 0; i < count; i++)
		if (take_tensor(&c, &s) < 0)
			goto out;
	if (c.tail - c.head + c.left > 0) {
		rfail(r, err, "%llu stray bytes after the last tensor",
		    (unsigned long long)(c.tail - c.head + c.left));
		goto out;
	}
	rc = 0;
out:
	*cp = c;
	free(s.k);
	free(s.v);
	return rc;
}

/*
 * Read and parse the manifest payload of n bytes.  A damaged payload is
 * reported as damaged, not by the first thing it breaks: on a parse error
 * the rest is read anyway, and a short read or a checksum mismatch wins.
 */
static int
read_manifest(struct t2m_reader *r, uint64_t n, uint32_t crc,
    t2m_error *err)
{
	struct cur c = { NULL, 0, 0, 0, n, n, 0, r, err };
	t2m_error perr;
	int rc;

	c.cap = n < WINDOW ? (size_t)n : WINDOW;
	if ((c.buf = malloc(c.cap ? c.cap : 1)) == NULL)
		return rfail(r, err, "out of memory");
	if ((r->m = t2m_manifest_new()) == NULL) {
		free(c.buf);
		return rfail(r, err, "out of memory");
	}
	rc = parse_manifest(r, &c, err);
	if (rc < 0) {
		perr = *err;
		while (c.left > 0) {
			c.head = c.tail = 0;
			if (refill(&c) < 0) {
				free(c.buf);
				return -1;
			}
		}
		*err = perr;
	}
	free(c.buf);
	if (c.crc != crc)
		return rfail(r, err, "manifest checksum mismatch");
	return rc;
}

/* Skip n payload bytes, reporting a short payload as this record's. */
static int
rskip(struct t2m_reader *r, uint64_t n, const char *what, t2m_error *err)
{
	uint64_t done;

	if (t2m_in_discard(&r->in, n, &done, err) < 0)
		return rfail(r, err, "%s", err->msg);
	if (done < n)
		return rfail(r, err, "truncated %s (%llu more bytes expected, "
		    "%llu read)", what, (unsigned long long)n,
		    (unsigned long long)done);
	return 0;
}

/* Skip an ancillary record a newer writer added. */
static int
skip_ancillary(struct t2m_reader *r, const struct hdr *h, t2m_error *err)
{
	if (h->length > MAX_ANCILLARY)
		return rfail(r, err, "ancillary record of %llu bytes",
		    (unsigned long long)h->length);
	return rskip(r, h->length, "ancillary record", err);
}

int
t2m_reader_begin(struct t2m_reader *r, struct t2m_manifest **mp,
    t2m_error *err)
{
	unsigned char b[STREAM_HEADER];
	struct hdr h;
	ssize_t k;
	int rc;

	if ((k = t2m_in_read(&r->in, b, sizeof b, err)) < 0)
		return -1;
	if (k == 0)
		return t2m_fail(err, "empty input: not a t2m stream");
	if ((size_t)k < sizeof b || memcmp(b, magic, sizeof magic) != 0) {
		if ((size_t)k >= sizeof magic &&
		    memcmp(b, magic, sizeof magic) == 0)
			return t2m_fail(err, "truncated stream header (%d bytes "
			    "expected, %zd read)", STREAM_HEADER, k);
		return t2m_fail(err, "not a t2m stream (bad magic)");
	}
	if (t2m_le32(b + 16) != t2m_crc32(0, b, 16))
		return t2m_fail(err, "stream header checksum mismatch");
	if (t2m_le16(b + 8) != T2M_STREAM_MAJOR)
		return t2m_fail(err, "stream version %u.%u is not supported "
		    "(this reader knows %d.x)", t2m_le16(b + 8), t2m_le16(b + 10),
		    T2M_STREAM_MAJOR);
	if (t2m_le32(b + 12) != 0)
		return t2m_fail(err, "stream flags 0x%08x: reserved bits set",
		    t2m_le32(b + 12));
	for (;;) {
		if ((rc = read_header(r, &h, err)) <= 0)
			return rc < 0 ? -1 : rfail(r, err, "stream ends before "
			    "its manifest");
		if (!ancillary(&h))
			break;
		if (skip_ancillary(r, &h, err) < 0)
			return -1;
	}
	if (!tag_is(&h, "MANI"))
		return rfail(r, err, "expected the manifest, found a '%.4s' "
		    "record", (const char *)h.tag);
	if (h.index != 0 || h.offset != 0)
		return rfail(r, err, "manifest header has nonzero index or "
		    "offset");
	if (h.length > T2M_MAX_MANIFEST)
		return rfail(r, err, "manifest of %llu bytes (at most %llu)",
		    (unsigned long long)h.length,
		    (unsigned long long)T2M_MAX_MANIFEST);
	if (read_manifest(r, h.length, h.crc, err) < 0)
		return -1;
	if ((r->received = calloc(r->m->ntensors ? r->m->ntensors : 1,
	    sizeof *r->received)) == NULL)
		return rfail(r, err, "out of memory");
	*mp = r->m;
	return 0;
}

static int
check_end(struct t2m_reader *r, const struct hdr *h, t2m_error *err)
{
	unsigned char b[END_PAYLOAD];
	uint64_t ntensors, records, bytes;
	uint32_t i;
	int rc;

	if (h->index != 0 || h->offset != 0 || h->length != END_PAYLOAD)
		return rfail(r, err, "malformed end record");
	if (rfull(r, b, sizeof b, "end record", err) < 0)
		return -1;
	if (t2m_crc32(0, b, sizeof b) != h->crc)
		return rfail(r, err, "end record checksum mismatch");
	ntensors = t2m_le64(b);
	records = t2m_le64(b + 8);
	bytes = t2m_le64(b + 16);
	if (ntensors != r->m->ntensors || records != r->records ||
	    bytes != r->bytes)
		return rfail(r, err, "end record counts (%llu tensors, %llu "
		    "records, %llu bytes) disagree with the stream (%u, %llu, "
		    "%llu)", (unsigned long long)ntensors,
		    (unsigned long long)records, (unsigned long long)bytes,
		    r->m->ntensors, (unsigned long long)r->records,
		    (unsigned long long)r->bytes);
	for (i = 0; i < r->m->ntensors; i++)
		if (r->received[i] != r->m->tensors[i].nbytes)
			return rfail(r, err, "tensor '%s' is incomplete (%llu "
			    "of %llu bytes)", r->m->tensors[i].name,
			    (unsigned long long)r->received[i],
			    (unsigned long long)r->m->tensors[i].nbytes);
	if ((rc = t2m_in_at_end(&r->in, err)) < 0)
		return -1;
	if (rc == 0)
		return t2m_fail(err, "offset %llu: data after the end record",
		    (unsigned long long)r->in.pos);
	r->done = 1;
	/* Done with: a caller that analyzes the stream next has the room. */
	free(r->received);
	r->received = NULL;
	return 0;
}

int
t2m_reader_next(struct t2m_reader *r, struct t2m_chunk *c, t2m_error *err)
{
	struct t2m_tensor *t;
	struct hdr h;
	int rc;

	if (r->done)
		return 0;
	if (r->left > 0 && rskip(r, r->left, "payload", err) < 0)
		return -1;
	r->left = 0;
	for (;;) {
		if ((rc = read_header(r, &h, err)) < 0)
			return -1;
		if (rc == 0)
			return rfail(r, err, "stream ends without an end "
			    "record (truncated, or the writer failed)");
		if (!ancillary(&h))
			break;
		if (skip_ancillary(r, &h, err) < 0)
			return -1;
	}
	if (tag_is(&h, "ENDS"))
		return check_end(r, &h, err) < 0 ? -1 : 0;
	if (!tag_is(&h, "DATA"))
		return rfail(r, err, "unknown record type '%.4s'",
		    (const char *)h.tag);
	if (h.crc != 0)
		return rfail(r, err, "data record checksum field is not zero");
	if (h.index >= r->m->ntensors)
		return rfail(r, err, "data for tensor %u, but the manifest "
		    "has %u", h.index, r->m->ntensors);
	t = &r->m->tensors[h.index];
	if (h.length == 0)
		return rfail(r, err, "empty data record for tensor '%s'",
		    t->name);
	if (h.offset != r->received[h.index])
		return rfail(r, err, "tensor '%s': data at byte %llu, expected "
		    "byte %llu", t->name, (unsigned long long)h.offset,
		    (unsigned long long)r->received[h.index]);
	if (h.length > t->nbytes - h.offset)
		return rfail(r, err, "tensor '%s': %llu bytes at byte %llu "
		    "overrun its %llu bytes", t->name,
		    (unsigned long long)h.length, (unsigned long long)h.offset,
		    (unsigned long long)t->nbytes);
	r->received[h.index] += h.length;
	r->records++;
	r->bytes += h.length;
	r->left = h.length;
	c->index = h.index;
	c->offset = h.offset;
	c->length = h.length;
	return 1;
}

ssize_t
t2m_reader_read(struct t2m_reader *r, void *p, size_t n, t2m_error *err)
{
	uint64_t want = n < r->left ? n : r->left;
	ssize_t k;

	if (want == 0)
		return 0;
	if ((k = t2m_in_read(&r->in, p, (size_t)want, err)) < 0)
		return rfail(r, err, "%s", err->msg);
	r->left -= (uint64_t)k;
	if ((uint64_t)k < want)
		return rfail(r, err, "truncated payload (%llu more bytes "
		    "expected)", (unsigned long long)r->left);
	return k;
}

/* Move n bytes of the current payload to fd, a truncation reported as
 * t2m_reader_read reports it. */
static int
payload_move(struct t2m_reader *r, int fd, uint64_t *off, uint64_t n,
    const char *name, t2m_error *err)
{
	int64_t k;

	r->lean = 1;
	if ((k = t2m_in_move(&r->in, fd, off, n, name, err)) < 0)
		return err->subject ? -1 : rfail(r, err, "%s", err->msg);
	r->left -= (uint64_t)k;
	if ((uint64_t)k < n)
		return rfail(r, err, "truncated payload (%llu more bytes "
		    "expected)", (unsigned long long)r->left);
	return 0;
}

int
t2m_reader_move(struct t2m_reader *r, int fd, uint64_t off,
    const char *name, t2m_error *err)
{
	int rc;

	r->in.gather = 1;
	rc = payload_move(r, fd, &off, r->left, name, err);
	r->in.gather = 0;
	return rc;
}

int
t2m_reader_drop(struct t2m_reader *r, uint64_t n, int null, t2m_error *err)
{
	int rc;

	if (n > r->left)
		n = r->left;
	/* Bytes held for a file stay held: nothing here continues them. */
	r->in.gather = 1;
	rc = payload_move(r, null, NULL, n, "/dev/null", err);
	r->in.gather = 0;
	return rc;
}

int
t2m_reader_settle(struct t2m_reader *r, t2m_error *err)
{
	return t2m_in_settle(&r->in, err);
}

/* ---- writer ---- */

struct t2m_writer {
	int fd;
	const char *name;
	size_t chunk;
	const struct t2m_manifest *m;
	uint64_t *written;
	uint64_t records, bytes;
	unsigned char *buf;
	size_t len, cap;
	int fifo;		/* fd is a pipe */
};

struct t2m_writer *
t2m_writer_new(int fd, const char *name, size_t chunk, t2m_error *err)
{
	struct t2m_writer *w;

	if (isatty(fd)) {
		t2m_fail(err, "refusing to write binary data to a terminal");
		return NULL;
	}
	if ((w = calloc(1, sizeof *w)) == NULL ||
	    (w->buf = malloc((size_t)256 << 10)) == NULL) {
		free(w);
		t2m_fail(err, "out of memory");
		return NULL;
	}
	w->fifo = t2m_pipe_grow(fd);
	w->fd = fd;
	w->name = name;
	w->chunk = chunk ? chunk : T2M_CHUNK_DEFAULT;
	w->cap = (size_t)256 << 10;
	return w;
}

void
t2m_writer_free(struct t2m_writer *w)
{
	if (w == NULL)
		return;
	free(w->written);
	free(w->buf);
	free(w);
}

/* A failed write is the output's fault: name it, not the input. */
static int
werr(struct t2m_writer *w, t2m_error *err)
{
	t2m_fail_errno(err, "write error");
	err->subject = w->name;
	return -1;
}

static int
wwrite(struct t2m_writer *w, const void *p, size_t n, t2m_error *err)
{
	if ((w->fifo ? t2m_pipe_write(w->fd, p, n) :
	    t2m_write_full(w->fd, p, n)) < 0)
		return werr(w, err);
	return 0;
}

static int
wflush(struct t2m_writer *w, t2m_error *err)
{
	if (w->len > 0 && wwrite(w, w->buf, w->len, err) < 0)
		return -1;
	w->len = 0;
	return 0;
}

/* Queue n bytes, writing large ones straight through. */
static int
wput(struct t2m_writer *w, const void *p, size_t n, t2m_error *err)
{
	if (n > w->cap - w->len && wflush(w, err) < 0)
		return -1;
	if (n >= w->cap)
		return wwrite(w, p, n, err);
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	return 0;
}

static int
put_record(struct t2m_writer *w, const char *tag, uint32_t index,
    uint64_t offset, uint64_t length, uint32_t crc, t2m_error *err)
{
	unsigned char b[RECORD_HEADER];

	memcpy(b, tag, 4);
	t2m_put32(b + 4, index);
	t2m_put64(b + 8, offset);
	t2m_put64(b + 16, length);
	t2m_put32(b + 24, crc);
	t2m_put32(b + 28, t2m_crc32(0, b, 28));
	return wput(w, b, sizeof b, err);
}

/*
 * The manifest encoder.  The record header wants the payload's length
 * and checksum before the payload, so the manifest is encoded twice:
 * once to measure it, once to write it, through a small buffer each time
 * rather than into one the size of the manifest.
 */
struct enc {
	struct t2m_writer *w;	/* NULL: measure only */
	t2m_error *err;
	uint64_t len;		/* bytes flushed */
	uint32_t crc;
	int failed;
	size_t n;		/* bytes in b */
	unsigned char b[4096];
};

static void
enc_flush(struct enc *e)
{
	if (e->w == NULL)
		e->crc = t2m_crc32(e->crc, e->b, e->n);
	else if (!e->failed && wput(e->w, e->b, e->n, e->err) < 0)
		e->failed = 1;
	e->len += e->n;
	e->n = 0;
}

static void
enc_bytes(struct enc *e, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t k;

	while (n > 0) {
		k = sizeof e->b - e->n;
		if (k > n)
			k = n;
		memcpy(e->b + e->n, s, k);
		e->n += k;
		s += k;
		n -= k;
		if (e->n == sizeof e->b)
			enc_flush(e);
	}
}

static void
enc32(struct enc *e, uint32_t v)
{
	unsigned char b[4];

	t2m_put32(b, v);
	enc_bytes(e, b, 4);
}

static void
enc64(struct enc *e, uint64_t v)
{
	unsigned char b[8];

	t2m_put64(b, v);
	enc_bytes(e, b, 8);
}

static void
enc_str(struct enc *e, const char *s)
{
	size_t n = strlen(s);

	enc32(e, (uint32_t)n);
	enc_bytes(e, s, n);
}

static void
enc_attrs(struct enc *e, const struct t2m_attrs *a)
{
	uint32_t i;

	enc32(e, a->n);
	for (i = 0; i < a->n; i++) {
		enc_str(e, a->kv[i].key);
		enc_str(e, a->kv[i].val);
	}
}

static void
enc_manifest(struct enc *e, const struct t2m_manifest *m)
{
	const struct t2m_tensor *t;
	uint32_t i;
	int d;

	enc_attrs(e, &m->info);
	enc_attrs(e, &m->meta);
	enc32(e, m->nmodules);
	for (i = 0; i < m->nmodules; i++) {
		enc_str(e, m->modules[i].path);
		enc_attrs(e, &m->modules[i].attrs);
	}
	enc32(e, m->ntensors);
	for (i = 0; i < m->ntensors; i++) {
		t = &m->tensors[i];
		enc_str(e, t->name);
		enc_bytes(e, (unsigned char[4]){ (unsigned char)t->dtype,
		    (unsigned char)t->ndim, 0, 0 }, 4);
		for (d = 0; d < t->ndim; d++)
			enc64(e, t->shape[d]);
		enc64(e, t->nbytes);
		enc_attrs(e, &t->attrs);
	}
	enc_flush(e);
}

int
t2m_writer_begin(struct t2m_writer *w, const struct t2m_manifest *m,
    t2m_error *err)
{
	unsigned char b[STREAM_HEADER];
	struct enc *e;
	uint64_t len;
	uint32_t crc;
	int rc;

	w->m = m;
	if ((w->written = calloc(m->ntensors ? m->ntensors : 1,
	    sizeof *w->written)) == NULL ||
	    (e = calloc(1, sizeof *e)) == NULL)
		return t2m_fail(err, "out of memory");
	memcpy(b, magic, sizeof magic);
	t2m_put16(b + 8, T2M_STREAM_MAJOR);
	t2m_put16(b + 10, T2M_STREAM_MINOR);
	t2m_put32(b + 12, 0);
	t2m_put32(b + 16, t2m_crc32(0, b, 16));
	enc_manifest(e, m);
	len = e->len;
	crc = e->crc;
	if (len > T2M_MAX_MANIFEST) {
		free(e);
		return t2m_fail(err, "manifest of %llu bytes is too large",
		    (unsigned long long)len);
	}
	if (wput(w, b, sizeof b, err) < 0 ||
	    put_record(w, "MANI", 0, 0, len, crc, err) < 0) {
		free(e);
		return -1;
	}
	memset(e, 0, sizeof *e);
	e->w = w;
	e->err = err;
	enc_manifest(e, m);
	rc = e->failed ? -1 : 0;
	free(e);
	return rc;
}

int
t2m_writer_data(struct t2m_writer *w, uint32_t index, const void *p,
    size_t n, t2m_error *err)
{
	const unsigned char *b = p;
	const struct t2m_tensor *t;
	size_t k;

	if (index >= w->m->ntensors)
		return t2m_fail(err, "data for tensor %u of %u", index,
		    w->m->ntensors);
	t = &w->m->tensors[index];
	if (n > t->nbytes - w->written[index])
		return t2m_fail(err, "tensor '%s': %zu more bytes overrun its "
		    "%llu", t->name, n, (unsigned long long)t->nbytes);
	while (n > 0) {
		k = n < w->chunk ? n : w->chunk;
		if (put_record(w, "DATA", index, w->written[index], k, 0,
		    err) < 0 || wput(w, b, k, err) < 0)
			return -1;
		w->written[index] += k;
		w->records++;
		w->bytes += k;
		b += k;
		n -= k;
	}
	return 0;
}

/* Check that n more bytes fit tensor `index`. */
static int
fits(struct t2m_writer *w, uint32_t index, uint64_t n, t2m_error *err)
{
	const struct t2m_tensor *t;

	if (index >= w->m->ntensors)
		return t2m_fail(err, "data for tensor %u of %u", index,
		    w->m->ntensors);
	t = &w->m->tensors[index];
	if (n > t->nbytes - w->written[index])
		return t2m_fail(err, "tensor '%s': %llu more bytes overrun its "
		    "%llu", t->name, (unsigned long long)n,
		    (unsigned long long)t->nbytes);
	return 0;
}

/* A record header, flushed, so that its payload can follow by a move. */
static int
put_bare_record(struct t2m_writer *w, uint32_t index, uint64_t k,
    t2m_error *err)
{
	if (put_record(w, "DATA", index, w->written[index], k, 0, err) < 0 ||
	    wflush(w, err) < 0)
		return -1;
	w->written[index] += k;
	w->records++;
	w->bytes += k;
	return 0;
}

int
t2m_writer_data_fd(struct t2m_writer *w, uint32_t index, int fd,
    uint64_t off, uint64_t n, t2m_error *err)
{
	uint64_t k;

	if (fits(w, index, n, err) < 0)
		return -1;
	for (; n > 0; n -= k, off += k) {
		k = n < w->chunk ? n : w->chunk;
		if (put_bare_record(w, index, k, err) < 0)
			return -1;
		if (t2m_move_range(fd, off, w->fd, k, w->buf, w->cap, w->name,
		    err) < 0)
			return -1;
	}
	return 0;
}

int
t2m_writer_data_in(struct t2m_writer *w, uint32_t index, struct t2m_in *in,
    void *p, size_t n, const char *what, t2m_error *err)
{
	unsigned char *b = p;
	size_t k;

	if (fits(w, index, n, err) < 0)
		return -1;
	for (; n > 0; n -= k, b += k) {
		k = n < w->chunk ? n : w->chunk;
		if (put_bare_record(w, index, k, err) < 0 ||
		    t2m_in_tee(in, w->fd, b, k, what, w->name, err) < 0)
			return -1;
	}
	return 0;
}

int
t2m_reader_pass(struct t2m_reader *r, struct t2m_writer *w, uint32_t index,
    t2m_error *err)
{
	uint64_t k;

	if (fits(w, index, r->left, err) < 0)
		return -1;
	while (r->left > 0) {
		k = r->left < w->chunk ? r->left : w->chunk;
		if (put_bare_record(w, index, k, err) < 0 ||
		    payload_move(r, w->fd, NULL, k, w->name, err) < 0)
			return -1;
	}
	return 0;
}

int
t2m_writer_end(struct t2m_writer *w, t2m_error *err)
{
	unsigned char b[END_PAYLOAD];
	uint32_t i;

	for (i = 0; i < w->m->ntensors; i++)
		if (w->written[i] != w->m->tensors[i].nbytes)
			return t2m_fail(err, "tensor '%s' is incomplete (%llu "
			    "of %llu bytes)", w->m->tensors[i].name,
			    (unsigned long long)w->written[i],
			    (unsigned long long)w->m->tensors[i].nbytes);
	t2m_put64(b, w->m->ntensors);
	t2m_put64(b + 8, w->records);
	t2m_put64(b + 16, w->bytes);
	if (put_record(w, "ENDS", 0, 0, sizeof b, t2m_crc32(0, b, sizeof b),
	    err) < 0 || wput(w, b, sizeof b, err) < 0)
		return -1;
	return wflush(w, err);
}
