/*
 * pack.c - t2m-pack's copy of a stream's data into its outputs: the
 * safetensors files of a layout, whole or sharded, or a PyTorch
 * checkpoint.  The outputs are opened, and committed or removed, by the
 * caller; here the bytes go to their places and the ties are checked.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t2m.h"

#define BUFSIZE ((size_t)1 << 20)

/* n more bytes of the stream taken, on the progress line if any. */
static void
advance(struct t2m_progress *progress, uint64_t n)
{
	if (progress != NULL)
		t2m_progress_add(progress, n);
}

static int
werr(t2m_error *err, const char *name)
{
	t2m_fail_errno(err, "write error");
	err->subject = name;
	return -1;
}

/* Written in place over an old file: cut what lies beyond. */
static int
cut(int fd, uint64_t size, const char *name, t2m_error *err)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size > size && ftruncate(fd, (off_t)size) < 0)
		return werr(err, name);
	return 0;
}

/* Hidden tensors' bytes, which go into a header as base64, so the
 * headers are written again at the end. */
static unsigned char **
hidden_buffers(const struct t2m_manifest *m, const struct t2m_pack *p,
    t2m_error *err)
{
	unsigned char **h;
	uint32_t i, f, s;

	if ((h = calloc(m->ntensors + 1, sizeof *h)) == NULL)
		goto nomem;
	for (i = 0; i < m->ntensors; i++) {
		f = p->file ? p->file[i] : 0;
		s = p->sub ? p->sub[i] : i;
		if (p->l[f].b64_at[s] != UINT64_MAX &&
		    (h[i] = malloc(m->tensors[i].nbytes ?
		    m->tensors[i].nbytes : 1)) == NULL)
			goto nomem;
	}
	return h;
nomem:
	for (i = 0; h && i < m->ntensors; i++)
		free(h[i]);
	free(h);
	t2m_fail(err, "out of memory");
	return NULL;
}

/* Make file f's header again: the same layout, from its manifest. */
static int
header(const struct t2m_pack *p, uint32_t f, t2m_error *err)
{
	struct t2m_st_layout again;

	if (t2m_st_layout(p->m[f], &again, err) < 0)
		return -1;
	p->l[f].header = again.header;
	again.header = NULL;
	t2m_st_layout_free(&again);
	return 0;
}

/* A tie's bytes differ from those of the tensor it names: the stream
 * is not valid (t2m-stream(5)). */
static int
untied(const struct t2m_manifest *m, uint32_t i, t2m_error *err)
{
	return t2m_fail(err, "tensor '%s' has the attribute t2m.tie=%s, but "
	    "not its bytes", m->tensors[i].name,
	    t2m_attrs_get(&m->tensors[i].attrs, "t2m.tie"));
}

/*
 * A tie's bytes are not written, but its two ends are checked against
 * those of the tensor it names: SAMPLE bytes at each, whose CRC-32s are
 * taken as the tie's records go by.  A permuted or cast tensor differs
 * from its original nearly everywhere, so the ends show a filter that
 * changed one of the two and kept the tie; reading back all the bytes
 * would cost a tenth of the writing.
 */
#define SAMPLE ((uint64_t)64 << 10)

struct ends {
	uint32_t crc[2];	/* of bytes [0, h) and [t, n) */
};

/* The two ends of a tensor of n bytes: [0, *h) and [*t, n). */
static void
ends_of(uint64_t n, uint64_t *h, uint64_t *t)
{
	*h = n < SAMPLE ? n : SAMPLE;
	*t = n - *h < SAMPLE ? *h : n - SAMPLE;
}

/* Add bytes [at, at + k) of a tensor of n bytes to e. */
static void
ends_add(struct ends *e, uint64_t n, uint64_t at, const unsigned char *b,
    size_t k)
{
	uint64_t h, t, lo, hi;

	ends_of(n, &h, &t);
	if (at < h) {
		hi = at + k < h ? at + k : h;
		e->crc[0] = t2m_crc32(e->crc[0], b, (size_t)(hi - at));
	}
	if (at + k > t) {
		lo = at > t ? at : t;
		e->crc[1] = t2m_crc32(e->crc[1], b + (lo - at),
		    (size_t)(at + k - lo));
	}
}

/* Take in record c of a tie of n bytes: its ends into e, the rest
 * dropped into /dev/null (*null, opened once), never copied. */
static int
pass_tie(struct t2m_reader *r, const struct t2m_chunk *c, uint64_t n,
    struct ends *e, unsigned char *buf, int *null, t2m_error *err)
{
	uint64_t at = c->offset, end = c->offset + c->length, h, t, want;
	ssize_t k;

	ends_of(n, &h, &t);
	while (at < end) {
		if (at >= h && at < t) {
			/* The middle, up to the tail or this record's end. */
			want = (end < t ? end : t) - at;
			if (*null < 0)
				*null = open("/dev/null", O_WRONLY | O_CLOEXEC);
			if (*null >= 0) {
				if (t2m_reader_drop(r, want, *null, err) < 0)
					return -1;
				at += want;
				continue;
			}
		} else
			want = (at < h ? h : end) - at;
		if (want > BUFSIZE)
			want = BUFSIZE;
		if ((k = t2m_reader_read(r, buf, (size_t)want, err)) <= 0)
			return k < 0 ? -1 : t2m_fail(err, "internal: a tie's "
			    "record ends early");
		ends_add(e, n, at, buf, (size_t)k);
		at += (uint64_t)k;
	}
	return 0;
}

/* Check tie i's ends against those of the tensor it names, written to
 * its place already (unless the output is a device, such as /dev/null,
 * that keeps nothing to check). */
static int
check_tie(const struct t2m_manifest *m, const struct t2m_pack *p,
    uint32_t i, const struct ends *e, unsigned char *buf, t2m_error *err)
{
	uint32_t k = (uint32_t)t2m_tensor_tie(m, i), f;
	uint64_t at, n = m->tensors[k].nbytes, h, t;
	struct ends mine = { { 0, 0 } };
	struct stat st;

	f = p->file ? p->file[k] : 0;
	if (fstat(p->fd[f], &st) == 0 && !S_ISREG(st.st_mode))
		return 0;
	at = p->l[f].header_len + p->l[f].offset[p->sub ? p->sub[k] : k];
	ends_of(n, &h, &t);
	if (t2m_pread_full(p->fd[f], buf, (size_t)h, at, err) < 0 ||
	    t2m_pread_full(p->fd[f], buf + h, (size_t)(n - t), at + t,
	    err) < 0) {
		err->subject = p->name[f];
		return -1;
	}
	ends_add(&mine, n, 0, buf, (size_t)h);
	ends_add(&mine, n, t, buf + h, (size_t)(n - t));
	return memcmp(&mine, e, sizeof mine) == 0 ? 0 : untied(m, i, err);
}

int
t2m_pack_st(struct t2m_reader *r, const struct t2m_manifest *m,
    const struct t2m_pack *p, t2m_error *err)
{
	const struct t2m_st_layout *l;
	unsigned char *buf, **hidden;
	struct t2m_chunk c;
	uint64_t at, base;
	struct ends *tends = NULL;
	uint32_t i, f, s;
	int null = -1;
	ssize_t k;
	int rc = -1;

	if ((hidden = hidden_buffers(m, p, err)) == NULL)
		return -1;
	if ((buf = malloc(BUFSIZE)) == NULL ||
	    (tends = calloc(m->ntensors + 1, sizeof *tends)) == NULL) {
		t2m_fail(err, "out of memory");
		goto out;
	}
	/* The headers go first and are let go: the hidden tensors' base64
	 * is written into its place in the files at the end. */
	for (f = 0; f < p->nfiles; f++) {
		if (p->l[f].header == NULL && header(p, f, err) < 0)
			goto out;
		if (t2m_pwrite_full(p->fd[f], p->l[f].header,
		    p->l[f].header_len, 0) < 0) {
			werr(err, p->name[f]);
			goto out;
		}
		free(p->l[f].header);
		p->l[f].header = NULL;
	}
	while ((rc = t2m_reader_next(r, &c, err)) == 1) {
		f = p->file ? p->file[c.index] : 0;
		s = p->sub ? p->sub[c.index] : c.index;
		l = &p->l[f];
		base = l->header_len + l->offset[s];
		if (l->offset[s] == UINT64_MAX) {
			/* A tie: its bytes are written once, as the tensor
			 * it names; its ends are checked against them. */
			if (pass_tie(r, &c, m->tensors[c.index].nbytes,
			    &tends[c.index], buf, &null, err) < 0) {
				rc = -1;
				break;
			}
			advance(p->progress, c.length);
			continue;
		}
		if (!hidden[c.index]) {
			if (t2m_reader_move(r, p->fd[f], base + c.offset,
			    p->name[f], err) < 0)
				break;
			advance(p->progress, c.length);
			continue;
		}
		at = c.offset;
		while ((k = t2m_reader_read(r, buf, BUFSIZE, err)) > 0) {
			memcpy(hidden[c.index] + at, buf, (size_t)k);
			at += (uint64_t)k;
			advance(p->progress, (uint64_t)k);
		}
		if (k < 0) {
			rc = -1;
			break;
		}
	}
	if (rc != 0 || t2m_reader_settle(r, err) < 0) {
		rc = -1;
		goto out;
	}
	rc = -1;
	for (i = 0; i < m->ntensors; i++) {
		f = p->file ? p->file[i] : 0;
		if (p->l[f].offset[p->sub ? p->sub[i] : i] == UINT64_MAX &&
		    check_tie(m, p, i, &tends[i], buf, err) < 0)
			goto out;
		if (!hidden[i])
			continue;
		if (t2m_st_write_hidden(&p->l[f], p->fd[f], p->sub ?
		    p->sub[i] : i, hidden[i], (size_t)m->tensors[i].nbytes) <
		    0) {
			werr(err, p->name[f]);
			goto out;
		}
	}
	for (f = 0; f < p->nfiles; f++)
		if (cut(p->fd[f], p->l[f].header_len + p->l[f].data_len,
		    p->name[f], err) < 0)
			goto out;
	rc = 0;
out:
	for (i = 0; i < m->ntensors; i++)
		free(hidden[i]);
	free(hidden);
	free(buf);
	free(tends);
	if (null >= 0)
		close(null);
	return rc;
}

int
t2m_pack_pt(struct t2m_reader *r, const struct t2m_manifest *m, int fd,
    const char *name, struct t2m_pt *pt, struct t2m_progress *progress,
    t2m_error *err)
{
	unsigned char *buf;
	struct t2m_chunk c;
	uint64_t at;
	ssize_t k = 0;
	long tie;
	int rc;

	if ((buf = malloc(BUFSIZE)) == NULL)
		return t2m_fail(err, "out of memory");
	while ((rc = t2m_reader_next(r, &c, err)) == 1) {
		/* A tie views the storage of the tensor it names: its bytes
		 * are only checked (t2m_pt_untied). */
		at = t2m_pt_offset(pt, c.index);
		if (at != UINT64_MAX)
			at += c.offset;
		while ((k = t2m_reader_read(r, buf, BUFSIZE, err)) > 0) {
			t2m_pt_crc(pt, c.index, buf, (size_t)k);
			if (at == UINT64_MAX) {
				advance(progress, (uint64_t)k);
				continue;
			}
			if (t2m_pwrite_full(fd, buf, (size_t)k, at) < 0) {
				free(buf);
				return werr(err, name);
			}
			at += (uint64_t)k;
			advance(progress, (uint64_t)k);
		}
		if (k < 0)
			break;
	}
	free(buf);
	if (rc != 0 || k < 0)
		return -1;
	if ((tie = t2m_pt_untied(pt)) >= 0)
		return untied(m, (uint32_t)tie, err);
	if (t2m_pt_finish(pt, fd) < 0)
		return werr(err, name);
	return cut(fd, t2m_pt_size(pt), name, err);
}

