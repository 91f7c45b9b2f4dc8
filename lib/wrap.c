/*
 * wrap.c - checkpoints inside something: zstd through libzstd; gzip, xz,
 * bzip2 and tar bundles through libarchive.  Everything is decompressed
 * as a stream into the same readers a pipe would feed, so memory stays
 * bounded; a TorchScript archive, which needs random access, cannot be
 * read this way and says so.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <zstd.h>

#include "unpack.h"

#define MAX_DEPTH 4
#define BUFSIZE ((size_t)256 << 10)

/* ---- zstd ---- */

struct zsrc {
	struct t2m_in *inner;
	ZSTD_DStream *ds;
	ZSTD_inBuffer ib;
	unsigned char *buf;
	size_t last;		/* ZSTD_decompressStream's last hint */
	int started;
};

static ssize_t
zread(void *ctx, void *p, size_t n, t2m_error *err)
{
	struct zsrc *z = ctx;
	ZSTD_outBuffer ob = { p, n, 0 };
	ssize_t r;
	size_t ret;

	while (ob.pos == 0) {
		if (z->ib.pos == z->ib.size) {
			if ((r = t2m_in_read(z->inner, z->buf, BUFSIZE,
			    err)) < 0)
				return -1;
			if (r == 0) {
				if (!z->started || z->last != 0)
					return t2m_fail(err, "zstd: input ends "
					    "inside a frame (truncated)");
				return 0;
			}
			z->ib.src = z->buf;
			z->ib.size = (size_t)r;
			z->ib.pos = 0;
		}
		ret = ZSTD_decompressStream(z->ds, &ob, &z->ib);
		if (ZSTD_isError(ret))
			return t2m_fail(err, "zstd: %s", ZSTD_getErrorName(ret));
		z->last = ret;
		z->started = 1;
	}
	return (ssize_t)ob.pos;
}

static int
unzstd(struct t2m_in *in, struct t2m_writer *w,
    const struct t2m_unpack_opts *o, int depth, t2m_error *err)
{
	struct zsrc z;
	struct t2m_in out;
	char name[512];
	int rc;

	memset(&z, 0, sizeof z);
	z.inner = in;
	if ((z.ds = ZSTD_createDStream()) == NULL ||
	    (z.buf = malloc(BUFSIZE)) == NULL) {
		ZSTD_freeDStream(z.ds);
		return t2m_fail(err, "out of memory");
	}
	ZSTD_initDStream(z.ds);
	snprintf(name, sizeof name, "%s (zstd content)", in->name);
	if ((rc = t2m_in_init_fn(&out, zread, &z, name, err)) == 0) {
		rc = unpack_any(&out, w, o, depth + 1, err);
		if (rc < 0 && strncmp(err->msg, "zstd: ", 6) != 0)
			t2m_prefix(err, "zstd content");
	}
	t2m_in_free(&out);
	ZSTD_freeDStream(z.ds);
	free(z.buf);
	return rc;
}

/* ---- libarchive: other compressors, tar ---- */

struct asrc {
	struct t2m_in *in;
	unsigned char *buf;
	t2m_error *err;		/* where a read failure's message goes */
	int failed;
};

static la_ssize_t
aread_outer(struct archive *a, void *ctx, const void **out)
{
	struct asrc *s = ctx;
	ssize_t r;

	if ((r = t2m_in_read(s->in, s->buf, BUFSIZE, s->err)) < 0) {
		s->failed = 1;
		archive_set_error(a, EIO, "%s", s->err->msg);
		return -1;
	}
	*out = s->buf;
	return r;
}

static ssize_t
aread_member(void *ctx, void *p, size_t n, t2m_error *err)
{
	struct archive *a = ctx;
	la_ssize_t r = archive_read_data(a, p, n);

	if (r < 0)
		return t2m_fail(err, "%s", archive_error_string(a) ?
		    archive_error_string(a) : "archive read error");
	return r;
}

/* Whether a member's first bytes look like something t2m reads. */
static int
looks_readable(struct t2m_in *m, t2m_error *err)
{
	const unsigned char *p;
	ssize_t n;

	if ((n = t2m_in_peek(m, 512, &p, err)) < 0)
		return -1;
	if (n >= 4 && (memcmp(p, "PK\3\4", 4) == 0 ||
	    memcmp(p, "\x28\xb5\x2f\xfd", 4) == 0))
		return 1;
	if (is_torch_legacy(p, (size_t)n))
		return 1;
	if (n >= 9) {
		uint64_t h = 0;
		int k;
		for (k = 7; k >= 0; k--)
			h = h << 8 | p[k];
		if (h > 0 && h <= T2M_ST_MAX_HEADER && p[8] == '{')
			return 1;
	}
	return 0;
}

/*
 * torch 0.1 saved a tar of four members whose storage views are listed
 * after the bytes they slice, so no single pass can write them: the
 * members are read into memory (these files are small and old).
 */
static int
tar01(struct archive *a, struct archive_entry *e, struct t2m_in *in,
    struct t2m_writer *w, const struct t2m_unpack_opts *o, t2m_error *err)
{
	static const char *const names[4] = {
		"sys_info", "pickle", "tensors", "storages"
	};
	struct tar01 mb;
	struct t2m_in m;
	struct t2m_buf b;
	const char *path;
	unsigned char *chunk;
	ssize_t r;
	int k, rc = -1;

	memset(&mb, 0, sizeof mb);
	if ((chunk = malloc(BUFSIZE)) == NULL)
		return t2m_fail(err, "out of memory");
	do {
		if ((path = archive_entry_pathname_utf8(e)) == NULL)
			path = archive_entry_pathname(e);
		for (k = 0; k < 4; k++)
			if (path && strcmp(path, names[k]) == 0)
				break;
		if (k == 4 || mb.p[k])
			continue;
		memset(&b, 0, sizeof b);
		if (t2m_in_init_fn(&m, aread_member, a, names[k], err) < 0)
			goto out;
		while ((r = t2m_in_read(&m, chunk, BUFSIZE, err)) > 0)
			t2m_buf_add(&b, chunk, (size_t)r);
		t2m_in_free(&m);
		if (r < 0 || b.nomem) {
			t2m_buf_free(&b);
			if (b.nomem)
				t2m_fail(err, "out of memory");
			goto out;
		}
		mb.p[k] = (unsigned char *)(b.p ? b.p : calloc(1, 1));
		mb.n[k] = b.len;
	} while (archive_read_next_header(a, &e) == ARCHIVE_OK);
	for (k = 0; k < 4; k++)
		if (mb.p[k] == NULL) {
			t2m_fail(err, "torch 0.1 tar without its '%s' member",
			    names[k]);
			goto out;
		}
	rc = unpack_torch_tar01(in, &mb, w, o, o->chunk ? o->chunk :
	    T2M_CHUNK_DEFAULT, err);
out:
	for (k = 0; k < 4; k++)
		free(mb.p[k]);
	free(chunk);
	return rc;
}

static int
unarchive(struct t2m_in *in, struct t2m_writer *w,
    const struct t2m_unpack_opts *o, int depth, t2m_error *err)
{
	struct asrc s = { in, NULL, err, 0 };
	struct archive *a;
	struct archive_entry *e;
	struct t2m_in m;
	char name[1024];
	const char *path;
	int rc = -1, r, found = 0, raw;

	if ((a = archive_read_new()) == NULL ||
	    (s.buf = malloc(BUFSIZE)) == NULL) {
		archive_read_free(a);
		return t2m_fail(err, "out of memory");
	}
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_raw(a);
	if (archive_read_open(a, &s, NULL, aread_outer, NULL) != ARCHIVE_OK) {
		if (!s.failed)
			t2m_fail(err, "%s", archive_error_string(a));
		goto out;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		raw = archive_format(a) == ARCHIVE_FORMAT_RAW;
		if ((path = archive_entry_pathname_utf8(e)) == NULL)
			path = archive_entry_pathname(e);
		if (path == NULL)
			path = "?";
		if (!raw && archive_entry_filetype(e) != AE_IFREG)
			continue;
		if (!raw && !found && !o->member &&
		    strcmp(path, "sys_info") == 0) {
			rc = tar01(a, e, in, w, o, err);
			goto out;
		}
		if (!raw && o->member && strcmp(path, o->member) != 0)
			continue;
		if (raw)
			snprintf(name, sizeof name, "%s (%s content)", in->name,
			    archive_filter_name(a, 0));
		else
			snprintf(name, sizeof name, "%s: %s", in->name, path);
		if (t2m_in_init_fn(&m, aread_member, a, name, err) < 0)
			goto out;
		if (!raw && !o->member && (r = looks_readable(&m, err)) <= 0) {
			t2m_in_free(&m);
			if (r < 0) {
				t2m_prefix(err, "%s", name);
				goto out;
			}
			continue;
		}
		rc = unpack_any(&m, w, o, depth + 1, err);
		if (rc < 0)
			t2m_prefix(err, "%s", raw ? "decompressed content" :
			    path);
		t2m_in_free(&m);
		found = 1;
		/* The first checkpoint is the one; read the rest through so
		 * a writer upstream is not cut off. */
		while (rc == 0 && archive_read_next_header(a, &e) ==
		    ARCHIVE_OK)
			;
		goto out;
	}
	if (r != ARCHIVE_EOF) {
		if (!s.failed)
			t2m_fail(err, "%s", archive_error_string(a) ?
			    archive_error_string(a) : "archive read error");
		goto out;
	}
	if (!found) {
		if (o->member)
			t2m_fail(err, "no member '%s' in the archive",
			    o->member);
		else
			t2m_fail(err, "no checkpoint in the archive");
	}
out:
	archive_read_free(a);
	free(s.buf);
	return rc;
}

int
unpack_wrapped(struct t2m_in *in, struct t2m_writer *w,
    const struct t2m_unpack_opts *o, int depth, t2m_error *err)
{
	const unsigned char *p;
	ssize_t n;

	if (depth >= MAX_DEPTH)
		return t2m_fail(err, "archives nested more than %d deep",
		    MAX_DEPTH);
	if ((n = t2m_in_peek(in, 4, &p, err)) < 0)
		return -1;
	if (n >= 4 && memcmp(p, "\x28\xb5\x2f\xfd", 4) == 0)
		return unzstd(in, w, o, depth, err);
	return unarchive(in, w, o, depth, err);
}
