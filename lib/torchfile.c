/*
 * torchfile.c - PyTorch's checkpoint files: torch.save's zip archives (from
 * a file through the central directory, from a pipe front to back),
 * TorchScript archives, and the legacy format of torch 0.4 to 1.5.
 */
#include <sys/mman.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emit.h"
#include "le.h"
#include "unpack.h"
#include "zip.h"

#define MAX_PICKLE ((uint64_t)1 << 30)

/* ---- the pickle's bytes ---- */

/*
 * A pickle held in memory of its own, an anonymous mapping: as the
 * reader runs, the pages it has passed are given back (pbuf_consumed),
 * so the bytes and the objects built from them are never both held in
 * full.  It grows by doubling for a pickle read from a pipe.
 */
struct pbuf {
	unsigned char *p;
	size_t len, cap;
	size_t gone;		/* bytes given back */
};

static size_t
page_size(void)
{
	static size_t page;
	long v;

	if (page == 0)
		page = (v = sysconf(_SC_PAGESIZE)) > 0 ? (size_t)v : 4096;
	return page;
}

static int
pbuf_reserve(struct pbuf *b, size_t need, t2m_error *err)
{
	unsigned char *np;
	size_t cap = b->cap ? b->cap : (size_t)256 << 10;

	if (need <= b->cap && b->p != NULL)
		return 0;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	cap = (cap + page_size() - 1) & ~(page_size() - 1);
	np = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANON,
	    -1, 0);
	if (np == MAP_FAILED)
		return t2m_fail(err, "out of memory");
	if (b->len > 0)
		memcpy(np, b->p, b->len);
	if (b->p != NULL)
		munmap(b->p, b->cap);
	b->p = np;
	b->cap = cap;
	return 0;
}

static void
pbuf_free(struct pbuf *b)
{
	if (b->p != NULL)
		munmap(b->p, b->cap);
	memset(b, 0, sizeof *b);
}

/* The reader is done with p[0..n), which starts the buffer. */
static void
pbuf_consumed(void *ctx, const unsigned char *p, size_t n)
{
	struct pbuf *b = ctx;
	size_t end = ((size_t)(p - b->p) + n) & ~(page_size() - 1);

	if (end > b->gone) {
		(void)madvise(b->p + b->gone, end - b->gone, MADV_DONTNEED);
		b->gone = end;
	}
}

/* Run the pickle in b with torch's meaning, giving its pages back as
 * they are passed. */
static int
load_torch_pickle(struct th_pickle *t, struct pbuf *b, size_t len,
    const char *name, int mode, t2m_error *err)
{
	if (t->vm == NULL && th_init(t, mode, err) < 0)
		return -1;
	t->consumed = pbuf_consumed;
	t->consumed_ctx = b;
	return th_load(t, b->p, len, name, mode, err);
}

/* ---- PyTorch: shared by the zip and legacy readers ---- */

struct torch_job {
	struct t2m_in *in;
	struct t2m_writer *w;
	const struct t2m_unpack_opts *o;
	size_t chunk;
	struct th_pickle t;
	struct th_item *items;
	uint32_t nitems;
	struct t2m_manifest *m;
	struct emitter e;
	int loaded, begun;
	const char *format;
	int swap;
	int zip;		/* a zip archive: storages have CRC-32s */
	char *ts_findings;	/* TorchScript code scan, JSON */
	const struct shard_sink *sink;	/* a shard's data, or NULL */
};

static void
job_free(struct torch_job *j)
{
	free(j->ts_findings);
	if (j->begun)
		emit_free(&j->e);
	th_items_free(&j->t, j->items, j->nitems);
	th_free(&j->t);
	t2m_manifest_free(j->m);
}

/*
 * The pickle is loaded: list it, or flatten it, write the manifest and
 * get ready to emit storages.  Returns 1 when listing or handing the
 * manifest to an analysis (nothing more to do), 0 to go on, -1 on failure.
 */
static int
job_begin(struct torch_job *j, t2m_error *err)
{
	struct th_opts to = { j->o->select, j->o->skip_unsupported,
	    j->o->warn, j->o->warn_ctx };

	if (j->o->listing)
		return th_list(&j->t, j->o->listing, err) < 0 ? -1 : 1;
	if ((j->m = t2m_manifest_new()) == NULL)
		return t2m_fail(err, "out of memory");
	j->t.consume = 1;
	if (th_flatten(&j->t, &to, j->m, &j->items, &j->nitems, err) < 0)
		return -1;
	/* The items hold what emitting needs: free the object tree before
	 * the manifest is written. */
	th_release(&j->t);
	if (emit_manifest(j->m, j->items, j->nitems, err) < 0 ||
	    t2m_attrs_set(j->m, &j->m->info, "format", j->format, err) < 0 ||
	    t2m_attrs_set(j->m, &j->m->info, "source", j->in->name, err) < 0)
		return -1;
	if (j->o->select && t2m_attrs_set(j->m, &j->m->info, "select",
	    j->o->select, err) < 0)
		return -1;
	if (j->ts_findings && t2m_attrs_set(j->m, &j->m->info,
	    "torchscript.findings", j->ts_findings, err) < 0)
		return -1;
	if (j->o->manifest) {
		/* An analysis reads no data: the tensors the items hold go
		 * before it runs, so the two are never in memory together. */
		th_items_free(&j->t, j->items, j->nitems);
		j->items = NULL;
		j->nitems = 0;
		th_free(&j->t);
		return j->o->manifest(j->o->manifest_ctx, j->m, err) < 0 ? -1 : 1;
	}
	if ((j->sink ? j->sink->check(j->sink->ctx, j->m, err) :
	    t2m_writer_begin(j->w, j->m, err)) < 0 ||
	    emit_init(&j->e, j->w, &j->t, j->items, j->nitems, j->chunk,
	    err) < 0)
		return -1;
	j->begun = 1;
	j->e.base = j->sink ? j->sink->base : 0;
	j->e.swap = j->swap;
	/* Only zip records carry a CRC-32 to check. */
	j->e.crc = j->zip && !j->o->ignore_crc;
	return 0;
}

/* Every storage emitted: the end record, unless a shard's data is only
 * part of the stream. */
static int
job_end(struct torch_job *j, t2m_error *err)
{
	return j->sink ? 0 : t2m_writer_end(j->w, err);
}

/* A sequential reader over part of a file, by pread. */
struct file_cursor {
	int fd;
	uint64_t at;
};

static int
cursor_read(void *ctx, void *p, size_t n, t2m_error *err)
{
	struct file_cursor *c = ctx;

	if (t2m_pread_full(c->fd, p, n, c->at, err) < 0)
		return -1;
	c->at += n;
	return 0;
}

static int
in_read(void *ctx, void *p, size_t n, t2m_error *err)
{
	return t2m_in_full(ctx, p, n, "storage data", err);
}

static int
parse_byteorder(const unsigned char *p, size_t n, int *swap, t2m_error *err)
{
	if (n == 6 && memcmp(p, "little", 6) == 0)
		*swap = 0;
	else if (n == 3 && memcmp(p, "big", 3) == 0)
		*swap = 1;
	else
		return t2m_fail(err, "byteorder record says neither 'little' "
		    "nor 'big'");
	return 0;
}

/* ---- TorchScript's code: what t2m-analyze reports as blockers ---- */

#define MAX_FINDINGS 200

static int
ident(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_';
}

/* Whether s[0..n) holds the string needle. */
static int
contains(const char *s, size_t n, const char *needle)
{
	size_t k, m = strlen(needle);

	for (k = 0; k + m <= n; k++)
		if (memcmp(s + k, needle, m) == 0)
			return 1;
	return 0;
}

static void
finding(struct t2m_buf *b, int *n, const char *kind, const char *file,
    unsigned line, const char *op, size_t oplen, const char *text,
    size_t tlen)
{
	char *s;

	if (*n >= MAX_FINDINGS)
		return;
	t2m_buf_add(b, (*n)++ ? "," : "[", 1);
	t2m_buf_str(b, "{\"kind\":");
	t2m_buf_json(b, kind);
	t2m_buf_printf(b, ",\"where\":\"%s:%u\",\"op\":", file, line);
	if ((s = strndup(op, oplen)) != NULL) {
		t2m_buf_json(b, s);
		free(s);
	}
	t2m_buf_str(b, ",\"code\":");
	while (tlen > 0 && (*text == ' ' || *text == '\t'))
		text++, tlen--;
	if ((s = strndup(text, tlen > 120 ? 120 : tlen)) != NULL) {
		t2m_buf_json(b, s);
		free(s);
	}
	t2m_buf_add(b, "}", 1);
}

/*
 * Scan one code file: TorchScript prints aten::x as torch.x(...), other
 * namespaces as ops.ns.x(...).  An op whose name ends in one "_" writes
 * its input in place; an out= argument writes into it; .item() and int()
 * of a tensor leave the graph; hooks and custom autograd functions have
 * no MLX counterpart.
 */
static void
scan_code(struct t2m_buf *b, int *n, const char *file, const char *src,
    size_t len)
{
	const char *line = src, *end = src + len, *nl, *p, *q;
	unsigned no = 0;
	size_t ll;

	for (; line < end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (nl == NULL)
			nl = end;
		ll = (size_t)(nl - line);
		no++;
		for (p = line; p < nl && (*p == ' ' || *p == '\t'); p++)
			;
		if (p < nl && *p == '#')
			continue;
		for (p = line; p < nl; p++) {
			if (*p == '"' || *p == '\'') {
				/* skip a string literal */
				for (q = p + 1; q < nl && *q != *p; q++)
					if (*q == '\\')
						q++;
				p = q;
				continue;
			}
			if ((p == line || !ident(p[-1])) && (size_t)(nl - p) > 6 &&
			    (memcmp(p, "torch.", 6) == 0 ||
			    memcmp(p, "ops.", 4) == 0)) {
				const char *name = p, *last = p;
				for (q = p; q < nl && (ident(*q) || *q == '.'); q++)
					if (*q == '.')
						last = q + 1;
				if (q < nl && *q == '(' && q - last >= 2 &&
				    q[-1] == '_' && q[-2] != '_' && *last != '_')
					finding(b, n, "inplace", file, no, name,
					    (size_t)(q - name), line, ll);
				if (q - last == 4 && memcmp(last, "item", 4) == 0 &&
				    q < nl && *q == '(')
					finding(b, n, "item", file, no, name,
					    (size_t)(q - name), line, ll);
				if (contains(name, (size_t)(q - name),
				    "PythonOp") || contains(name,
				    (size_t)(q - name), "autograd"))
					finding(b, n, "autograd", file, no, name,
					    (size_t)(q - name), line, ll);
				p = q - 1;
				continue;
			}
			if ((size_t)(nl - p) > 5 && memcmp(p, "out=", 4) == 0 &&
			    p > line && (p[-1] == ' ' || p[-1] == '(') &&
			    p[4] != '=')
				finding(b, n, "out", file, no, "out=", 4, line,
				    ll);
			/* Scripted hooks are listed in __forward_hooks__ and
			 * __forward_pre_hooks__; _is_full_backward_hook is
			 * only every module's attribute. */
			if (((size_t)(nl - p) > 18 &&
			    memcmp(p, "__forward_hooks__ =", 19) == 0) ||
			    ((size_t)(nl - p) > 22 &&
			    memcmp(p, "__forward_pre_hooks__ =", 23) == 0) ||
			    ((size_t)(nl - p) > 9 &&
			    memcmp(p, "register_", 9) == 0 &&
			    contains(p, (size_t)(nl - p), "hook")))
				finding(b, n, "hook", file, no, p, (size_t)
				    (strcspn(p, " =(") < (size_t)(nl - p) ?
				    strcspn(p, " =(") : (size_t)(nl - p)), line,
				    ll);
			if ((size_t)(nl - p) > 6 && memcmp(p, ".item(", 6) == 0)
				finding(b, n, "item", file, no, ".item()", 7,
				    line, ll);
		}
	}
}

/* Every code/ file of a TorchScript archive, scanned. */
static int
scan_archive_code(struct torch_job *j, const struct zip_cd *z, t2m_error *err)
{
	struct t2m_buf b = { 0 };
	unsigned char *text;
	size_t len, plen = strlen(z->prefix), nlen, total = 0;
	uint32_t k;
	int n = 0;

	for (k = 0; k < z->n; k++) {
		const char *name = z->e[k].name;
		nlen = strlen(name);
		if (strncmp(name + plen, "/code/", 6) != 0 || nlen < 3 ||
		    strcmp(name + nlen - 3, ".py") != 0)
			continue;
		if (zip_load(j->in, &z->e[k], (uint64_t)16 << 20,
		    j->o->ignore_crc, &text, &len, err) < 0) {
			t2m_buf_free(&b);
			return -1;
		}
		if ((total += len) <= ((size_t)256 << 20))
			scan_code(&b, &n, name + plen + 1, (const char *)text,
			    len);
		free(text);
	}
	if (n == 0)
		return 0;
	t2m_buf_add(&b, "]", 1);
	if (b.nomem)
		return t2m_fail(err, "out of memory");
	j->ts_findings = b.p;
	return 0;
}

/* ---- torch.save / torch.jit.save zip, from a file ---- */

/*
 * The storage records, met in the central directory's order, which is
 * the order they lie in the file as torch.save writes it: each is
 * checked against its storage and emitted.  Nothing is kept of them but
 * whether they were seen.
 */
struct placing {
	struct torch_job *j;
	uint8_t *seen;		/* by storage seq */
};

static int
place(void *ctx, const char *key, const struct zip_entry *e, t2m_error *err)
{
	struct placing *pl = ctx;
	struct torch_job *j = pl->j;
	struct pk_storage *s;
	struct file_cursor cur;
	struct bytesrc src = { .read = cursor_read, .ctx = &cur };
	uint32_t crc;

	if ((s = th_find_storage(&j->t, key)) == NULL ||
	    emit_users(&j->e, s) == 0)
		return 0;	/* a record nothing views */
	if (pl->seen[s->seq]++)
		return t2m_fail(err, "zip: '%s' appears twice", e->name);
	if (e->flags & 1)
		return t2m_fail(err, "zip: '%s' is encrypted", e->name);
	if (e->method != 0 || e->usize != s->nbytes || e->csize != s->nbytes)
		return t2m_fail(err, "%s: %s holds %llu bytes (method %u), "
		    "the storage needs %llu stored", e->name, e->method ?
		    "compressed record" : "record",
		    (unsigned long long)e->usize, e->method,
		    (unsigned long long)s->nbytes);
	cur.fd = src.fd = j->in->fd;
	cur.at = src.at = e->data;
	src.direct = 1;
	if (emit_storage(&j->e, s, &src, &crc, err) < 0)
		return -1;
	if (!j->o->ignore_crc && crc != e->crc)
		return zip_crc_fail(err, e->name, e->crc, crc);
	return 0;
}

static int
zip_file(struct torch_job *j, t2m_error *err)
{
	const struct zip_entry *pe, *be;
	struct placing pl = { NULL, NULL };
	struct zip_cd z;
	struct pk_storage *s;
	unsigned char *buf = NULL;
	struct pbuf pb = { 0 };
	uint32_t k;
	size_t len;
	int rc = -1;

	if (zip_read_cd(j->in, &z, err) < 0)
		return -1;
	if ((pe = zip_find(&z, "data.pkl")) == NULL) {
		t2m_fail(err, "zip archive without %s/data.pkl: not a PyTorch "
		    "checkpoint", z.prefix);
		goto out;
	}
	if (zip_find(&z, "constants.pkl")) {
		j->format = "torchscript";
		if (scan_archive_code(j, &z, err) < 0)
			goto out;
	}
	if ((be = zip_find(&z, "byteorder")) != NULL) {
		if (zip_load(j->in, be, 16, j->o->ignore_crc, &buf, &len,
		    err) < 0 ||
		    parse_byteorder(buf, len, &j->swap, err) < 0)
			goto out;
		free(buf);
		buf = NULL;
	}
	if (pe->method == 0 && pe->usize <= MAX_PICKLE) {
		/* As torch.save writes it: read where it can be given back. */
		if (pbuf_reserve(&pb, (size_t)pe->usize, err) < 0 ||
		    zip_read_stored(j->in, pe, pb.p, j->o->ignore_crc,
		    err) < 0 ||
		    load_torch_pickle(&j->t, &pb, (size_t)pe->usize,
		    "data.pkl", TH_ZIP, err) < 0)
			goto out;
		pbuf_free(&pb);
	} else {
		if (zip_load(j->in, pe, MAX_PICKLE, j->o->ignore_crc, &buf,
		    &len, err) < 0 ||
		    th_load(&j->t, buf, len, "data.pkl", TH_ZIP, err) < 0)
			goto out;
		free(buf);
		buf = NULL;
	}
	if ((rc = job_begin(j, err)) != 0) {
		rc = rc > 0 ? 0 : -1;
		goto out;
	}
	rc = -1;
	/* The storages' records: read now, with the tree gone. */
	if ((pl.seen = calloc(j->t.nstorages + 1, sizeof *pl.seen)) == NULL) {
		t2m_fail(err, "out of memory");
		goto out;
	}
	pl.j = j;
	if (zip_each_data(j->in, &z, place, &pl, err) < 0)
		goto out;
	for (k = 0; k < j->t.nstorages; k++) {
		s = th_storage_at(&j->t, k);
		if (!pl.seen[k] && emit_users(&j->e, s) > 0) {
			t2m_fail(err, "storage '%.64s' has no record "
			    "%s/data/%.64s", s->key, z.prefix, s->key);
			goto out;
		}
	}
	rc = job_end(j, err);
out:
	free(buf);
	pbuf_free(&pb);
	free(pl.seen);
	zip_cd_free(&z);
	return rc;
}

/* ---- torch.save zip, front to back (a pipe) ---- */

/* Read a pickle up to its STOP (data.pkl's size is in a descriptor
 * after it): *len is its length. */
static int
read_pickle_stream(struct t2m_in *in, const char *name, struct pbuf *b,
    size_t *len, t2m_error *err)
{
	const unsigned char *p;
	size_t pos = 0, keep;
	ssize_t r;
	int rc;

	b->len = 0;
	for (;;) {
		if ((r = t2m_in_peek(in, in->cap, &p, err)) < 0)
			return -1;
		if (r == 0)
			return t2m_fail(err, "%s offset %zu: input ends inside "
			    "the pickle", name, b->len);
		keep = b->len;
		if (b->len + (size_t)r > MAX_PICKLE)
			return t2m_fail(err, "%s: larger than %llu bytes", name,
			    (unsigned long long)MAX_PICKLE);
		if (pbuf_reserve(b, b->len + (size_t)r, err) < 0)
			return -1;
		memcpy(b->p + b->len, p, (size_t)r);
		b->len += (size_t)r;
		if ((rc = pk_scan(b->p, b->len, &pos, name, err)) < 0)
			return -1;
		if (rc == 1) {
			/* Consume only the pickle's bytes. */
			t2m_in_skip(in, pos - keep, name, err);
			*len = pos;
			return 0;
		}
		t2m_in_skip(in, (size_t)r, name, err);
	}
}

/* From a pipe data.pkl's length is where its STOP is: the record must
 * end there, its data descriptor next. */
static int
stop_ends_record(struct t2m_in *in, const struct zip_lfh *h, size_t len,
    t2m_error *err)
{
	const unsigned char *p;
	ssize_t r;

	if ((r = t2m_in_peek(in, 4, &p, err)) < 0)
		return -1;
	if (h->deferred && r >= 4 && memcmp(p, "PK\7\10", 4) != 0)
		return t2m_fail(err, "zip offset %llu: '%s': bytes follow the "
		    "pickle's STOP (at %zu) inside the record",
		    (unsigned long long)in->pos, h->name, len);
	return 0;
}

static int
zip_stream(struct torch_job *j, t2m_error *err)
{
	struct bytesrc src = { .read = in_read, .ctx = j->in,
	    .in = j->in->regular ? NULL : j->in };
	struct zip_lfh h = { 0 };
	struct pk_storage *s;
	unsigned char *buf = NULL;
	struct pbuf pb = { 0 };
	char *prefix = NULL;
	const char *rel, *slash;
	uint32_t crc, k, *seen = NULL;
	size_t len, plen = 0;
	int rc, emitted = 0;

	while ((rc = zip_next(j->in, &h, err)) == 1) {
		if (prefix == NULL) {
			if ((slash = strchr(h.name, '/')) == NULL) {
				t2m_fail(err, "zip: '%s' is not in a directory, "
				    "as PyTorch's archives require", h.name);
				goto fail;
			}
			plen = (size_t)(slash - h.name);
			if ((prefix = strndup(h.name, plen)) == NULL)
				goto nomem;
		}
		if (strncmp(h.name, prefix, plen) != 0 || h.name[plen] != '/') {
			t2m_fail(err, "zip: '%s' is outside the archive's "
			    "directory '%s'", h.name, prefix);
			goto fail;
		}
		rel = h.name + plen + 1;
		if (strcmp(rel, "data.pkl") == 0) {
			if (j->loaded) {
				t2m_fail(err, "zip: data.pkl appears twice");
				goto fail;
			}
			if (h.method != 0) {
				t2m_fail(err, "zip: data.pkl is compressed");
				goto fail;
			}
			if (read_pickle_stream(j->in, "data.pkl", &pb, &len,
			    err) < 0 ||
			    stop_ends_record(j->in, &h, len, err) < 0 ||
			    zip_finish(j->in, &h, len, t2m_crc32(0, pb.p, len),
			    j->o->ignore_crc, err) < 0 ||
			    load_torch_pickle(&j->t, &pb, len, "data.pkl",
			    TH_ZIP, err) < 0)
				goto fail;
			pbuf_free(&pb);
			j->loaded = 1;
			if ((rc = job_begin(j, err)) != 0) {
				if (rc < 0)
					goto fail;
				/* Listing: the rest does not matter. */
				zip_lfh_free(&h);
				free(prefix);
				return 0;
			}
			if ((seen = calloc(j->t.nstorages + 1,
			    sizeof *seen)) == NULL)
				goto nomem;
		} else if (strncmp(rel, "data/", 5) == 0) {
			if (!j->loaded) {
				t2m_fail(err, "zip: storage %s comes before "
				    "data.pkl, as in TorchScript archives; "
				    "read it from a file, not a pipe", h.name);
				goto fail;
			}
			if ((s = th_find_storage(&j->t, rel + 5)) == NULL) {
				t2m_fail(err, "zip: %s is not a storage "
				    "data.pkl names", h.name);
				goto fail;
			}
			if (h.method != 0) {
				t2m_fail(err, "zip: %s is compressed", h.name);
				goto fail;
			}
			if (seen[s->seq]++) {
				t2m_fail(err, "zip: %s appears twice", h.name);
				goto fail;
			}
			if (!h.deferred && h.usize != s->nbytes) {
				t2m_fail(err, "zip: %s holds %llu bytes, the "
				    "storage needs %llu", h.name,
				    (unsigned long long)h.usize,
				    (unsigned long long)s->nbytes);
				goto fail;
			}
			if (emit_storage(&j->e, s, &src, &crc, err) < 0 ||
			    zip_finish(j->in, &h, s->nbytes, crc,
			    j->o->ignore_crc, err) < 0)
				goto fail;
			emitted = 1;
		} else if (strcmp(rel, "constants.pkl") == 0 ||
		    strncmp(rel, "code/", 5) == 0 ||
		    strncmp(rel, "constants/", 10) == 0) {
			t2m_fail(err, "zip: %s: a TorchScript archive; read it "
			    "from a file, not a pipe", h.name);
			goto fail;
		} else {
			/* byteorder, version, .format_version, ...: small */
			if (zip_read_small(j->in, &h, 65536, &buf, &len,
			    j->o->ignore_crc, err) < 0)
				goto fail;
			if (strcmp(rel, "byteorder") == 0 &&
			    parse_byteorder(buf, len, &j->swap, err) < 0)
				goto fail;
			if (strcmp(rel, "byteorder") == 0 && j->swap &&
			    emitted) {
				t2m_fail(err, "zip: the byteorder record says "
				    "big-endian after storages were written "
				    "as little-endian; read it from a file");
				goto fail;
			}
			if (j->begun)
				j->e.swap = j->swap;
			free(buf);
			buf = NULL;
		}
		zip_lfh_free(&h);
	}
	if (rc < 0)
		goto fail;
	if (!j->loaded) {
		t2m_fail(err, "zip archive without data.pkl: not a PyTorch "
		    "checkpoint");
		goto fail;
	}
	for (k = 0; k < j->t.nstorages; k++)
		if (!seen[k] && emit_users(&j->e, th_storage_at(&j->t, k))) {
			t2m_fail(err, "zip: storage record %s/data/%s is "
			    "missing", prefix, th_storage_at(&j->t, k)->key);
			goto fail;
		}
	/* The central directory: read it through, so a writer upstream
	 * finishes normally. */
	while ((rc = t2m_in_at_end(j->in, err)) == 0)
		if (t2m_in_skip(j->in, j->in->tail - j->in->head,
		    "central directory", err) < 0)
			goto fail;
	if (rc < 0)
		goto fail;
	free(seen);
	free(prefix);
	pbuf_free(&pb);
	return job_end(j, err);
nomem:
	t2m_fail(err, "out of memory");
fail:
	zip_lfh_free(&h);
	free(buf);
	pbuf_free(&pb);
	free(seen);
	free(prefix);
	return -1;
}

int
unpack_torch_zip(struct t2m_in *in, struct t2m_writer *w,
    const struct t2m_unpack_opts *o, size_t chunk,
    const struct shard_sink *sink, t2m_error *err)
{
	struct torch_job j;
	int rc;

	memset(&j, 0, sizeof j);
	j.in = in;
	j.w = w;
	j.o = o;
	j.chunk = chunk;
	j.format = "torch-zip";
	j.zip = 1;
	j.sink = sink;
	rc = in->regular ? zip_file(&j, err) : zip_stream(&j, err);
	job_free(&j);
	return rc;
}


/* ---- legacy torch.save (torch 0.4 to 1.5, or _use_new_zipfile=False) ---- */

/* The first pickle of the format: LONG 0x1950a86a20f9469cfc6c. */
static const unsigned char legacy_magic[10] = {
	0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19
};

/* Load one small standalone pickle with no torch meaning. */
static struct pk *
plain_pickle(struct pk_vm *vm, const unsigned char *p, size_t n,
    const char *name, t2m_error *err)
{
	return pk_load(vm, p, n, name, err);
}

int
is_torch_legacy(const unsigned char *p, size_t n)
{
	struct pk_vm *vm;
	struct pk *o;
	t2m_error err;
	size_t len = 0;
	int yes = 0;

	if (n < 2 || p[0] != 0x80 || pk_scan(p, n, &len, "pickle", &err) != 1)
		return 0;
	if ((vm = pk_new(NULL, NULL)) == NULL)
		return 0;
	if ((o = plain_pickle(vm, p, len, "pickle", &err)) != NULL) {
		yes = o->type == PK_BIGINT && o->u.str.n == sizeof legacy_magic &&
		    memcmp(o->u.str.s, legacy_magic, sizeof legacy_magic) == 0;
		pk_unref(vm, o);
	}
	pk_free(vm);
	return yes;
}

int
unpack_torch_legacy(struct t2m_in *in, struct t2m_writer *w,
    const struct t2m_unpack_opts *o, size_t chunk,
    const struct shard_sink *sink, t2m_error *err)
{
	static const char *const names[] = {
		"pickle #1 (magic number)", "pickle #2 (protocol version)",
		"pickle #3 (system info)"
	};
	struct bytesrc src = { .read = in_read, .ctx = in,
	    .in = in->regular ? NULL : in };
	struct torch_job j;
	struct pk_vm *vm;
	struct pk *v, *keys = NULL, *le;
	struct pk_storage *s;
	struct pbuf pb = { 0 };
	unsigned char nb[8];
	uint64_t numel;
	uint32_t k, crc, *seen = NULL;
	size_t len;
	int rc = -1, i;

	memset(&j, 0, sizeof j);
	j.in = in;
	j.w = w;
	j.o = o;
	j.chunk = chunk;
	j.format = "torch-legacy";
	j.sink = sink;
	if ((vm = pk_new(NULL, NULL)) == NULL)
		return t2m_fail(err, "out of memory");
	/* Three small pickles: magic, protocol version, system info. */
	for (i = 0; i < 3; i++) {
		if (read_pickle_stream(in, names[i], &pb, &len, err) < 0 ||
		    (v = plain_pickle(vm, pb.p, len, names[i], err)) == NULL)
			goto out;
		if (i == 1 && (v->type != PK_INT || v->u.i != 1001)) {
			t2m_fail(err, "%s: legacy format version %lld is not "
			    "supported (1001 is)", names[i], v->type == PK_INT ?
			    (long long)v->u.i : -1LL);
			pk_unref(vm, v);
			goto out;
		}
		if (i == 2 && (le = pk_dict_get(v, "little_endian")) != NULL &&
		    le->type == PK_BOOL)
			j.swap = le->u.i == 0;
		pk_unref(vm, v);
	}
	if (read_pickle_stream(in, "pickle #4 (the object)", &pb, &len,
	    err) < 0 || load_torch_pickle(&j.t, &pb, len,
	    "pickle #4 (the object)", TH_LEGACY, err) < 0)
		goto out;
	pbuf_free(&pb);
	if ((rc = job_begin(&j, err)) != 0) {
		rc = rc > 0 ? 0 : -1;
		goto out;
	}
	rc = -1;
	if (read_pickle_stream(in, "pickle #5 (storage keys)", &pb, &len,
	    err) < 0 || (keys = plain_pickle(vm, pb.p, len,
	    "pickle #5 (storage keys)", err)) == NULL)
		goto out;
	pbuf_free(&pb);
	if (keys->type != PK_LIST) {
		t2m_fail(err, "pickle #5 (storage keys) is %s, not a list",
		    pk_a_type(keys));
		goto out;
	}
	if ((seen = calloc(j.t.nstorages + 1, sizeof *seen)) == NULL) {
		t2m_fail(err, "out of memory");
		goto out;
	}
	/* Then each storage: its element count and its bytes. */
	for (k = 0; k < keys->u.seq.n; k++) {
		v = keys->u.seq.v[k];
		if (v->type != PK_STR || (s = th_find_storage(&j.t, v->u.str.s)) ==
		    NULL) {
			t2m_fail(err, "storage key %u is not a storage the "
			    "object uses", k);
			goto out;
		}
		if (seen[s->seq]++) {
			t2m_fail(err, "storage '%s' is listed twice", s->key);
			goto out;
		}
		if (t2m_in_full(in, nb, 8, "storage size", err) < 0)
			goto out;
		for (numel = 0, i = 7; i >= 0; i--)
			numel = numel << 8 | nb[i];
		if (numel != th_storage_numel(s)) {
			t2m_fail(err, "offset %llu: storage '%s' holds %llu "
			    "elements, the object says %llu",
			    (unsigned long long)(in->pos - 8), s->key,
			    (unsigned long long)numel,
			    (unsigned long long)th_storage_numel(s));
			goto out;
		}
		if (emit_storage(&j.e, s, &src, &crc, err) < 0)
			goto out;
	}
	for (k = 0; k < j.t.nstorages; k++)
		if (!seen[k] && emit_users(&j.e, th_storage_at(&j.t, k))) {
			t2m_fail(err, "storage '%s' is not in the file",
			    th_storage_at(&j.t, k)->key);
			goto out;
		}
	if ((i = t2m_in_at_end(in, err)) < 0)
		goto out;
	if (!i) {
		t2m_fail(err, "offset %llu: data after the last storage",
		    (unsigned long long)in->pos);
		goto out;
	}
	rc = job_end(&j, err);
out:
	pbuf_free(&pb);
	free(seen);
	if (keys)
		pk_unref(vm, keys);
	pk_free(vm);
	job_free(&j);
	return rc;
}

/* ---- torch 0.1's tar: sys_info, pickle, tensors, storages ---- */

/* A cursor over a member held in memory. */
struct mem {
	const unsigned char *p;
	size_t n, at;
	const char *name;
};

static struct pk *
mem_pickle(struct mem *m, struct pk_vm *vm, t2m_error *err)
{
	size_t end = m->at;
	char where[64];
	struct pk *o;
	int rc;

	snprintf(where, sizeof where, "%s offset %zu", m->name, m->at);
	if ((rc = pk_scan(m->p, m->n, &end, where, err)) <= 0) {
		if (rc == 0)
			t2m_fail(err, "%s: truncated pickle", where);
		return NULL;
	}
	o = pk_load(vm, m->p + m->at, end - m->at, where, err);
	m->at = end;
	return o;
}

static int
mem_take(struct mem *m, void *p, size_t n, t2m_error *err)
{
	if (m->n - m->at < n)
		return t2m_fail(err, "%s offset %zu: truncated (%zu bytes "
		    "expected)", m->name, m->at, n);
	memcpy(p, m->p + m->at, n);
	m->at += n;
	return 0;
}

static int
mem_read(void *ctx, void *p, size_t n, t2m_error *err)
{
	return mem_take(ctx, p, n, err);
}

static int
int_key(const struct pk *o, char *buf, size_t cap)
{
	if (o == NULL || o->type != PK_INT)
		return -1;
	snprintf(buf, cap, "%lld", (long long)o->u.i);
	return 0;
}

/* The storages member: N, then N x (key, location, type) numel bytes,
 * then the list of storage views. */
static int
tar01_storages(struct th_pickle *t, struct pk_vm *plain, struct mem *m,
    size_t *data, t2m_error *err)
{
	struct pk *n = NULL, *hdr = NULL, *views = NULL, *st, *v;
	struct pk_storage *root;
	unsigned char nb[8];
	char key[32], rkey[32];
	uint64_t numel;
	int64_t k;
	int dtype, rc = -1;

	if ((n = mem_pickle(m, plain, err)) == NULL)
		return -1;
	if (n->type != PK_INT || n->u.i < 0 || n->u.i > T2M_MAX_TENSORS) {
		t2m_fail(err, "storages: bad storage count");
		goto out;
	}
	for (k = 0; k < n->u.i; k++) {
		if ((hdr = mem_pickle(m, plain, err)) == NULL)
			goto out;
		if (hdr->type != PK_TUPLE || hdr->u.seq.n != 3 ||
		    int_key(hdr->u.seq.v[0], key, sizeof key) < 0 ||
		    (dtype = th_storage_dtype(hdr->u.seq.v[2])) < 0) {
			t2m_fail(err, "storages offset %zu: bad storage header",
			    m->at);
			goto out;
		}
		if (mem_take(m, nb, 8, err) < 0)
			goto out;
		numel = t2m_le64(nb);
		if ((st = th_storage(t, key, dtype, numel, err)) == NULL)
			goto out;
		data[st->u.storage->seq] = m->at;
		if (st->u.storage->nbytes > m->n - m->at) {
			pk_unref(t->vm, st);
			t2m_fail(err, "storages offset %zu: storage '%s' runs "
			    "past the member", m->at, key);
			goto out;
		}
		m->at += st->u.storage->nbytes;
		pk_unref(t->vm, st);
		pk_unref(plain, hdr);
		hdr = NULL;
	}
	if ((views = mem_pickle(m, plain, err)) == NULL)
		goto out;
	if (views->type != PK_LIST) {
		t2m_fail(err, "storages: the view list is %s",
		    pk_a_type(views));
		goto out;
	}
	for (k = 0; k < views->u.seq.n; k++) {
		v = views->u.seq.v[k];
		if (v->type != PK_TUPLE || v->u.seq.n != 4 ||
		    int_key(v->u.seq.v[0], key, sizeof key) < 0 ||
		    int_key(v->u.seq.v[1], rkey, sizeof rkey) < 0 ||
		    v->u.seq.v[2]->type != PK_INT || v->u.seq.v[2]->u.i < 0 ||
		    v->u.seq.v[3]->type != PK_INT || v->u.seq.v[3]->u.i < 0) {
			t2m_fail(err, "storages: bad storage view %lld",
			    (long long)k);
			goto out;
		}
		root = th_find_storage(t, rkey);
		if (root == NULL) {
			t2m_fail(err, "storages: view of unknown storage '%s'",
			    rkey);
			goto out;
		}
		if ((st = th_storage_view(t, key, root,
		    (uint64_t)v->u.seq.v[2]->u.i,
		    (uint64_t)v->u.seq.v[3]->u.i, err)) == NULL)
			goto out;
		/* Views are looked up by key like storages. */
		if (th_preset_add(t, key, st, err) < 0) {
			pk_unref(t->vm, st);
			goto out;
		}
		pk_unref(t->vm, st);
	}
	rc = 0;
out:
	if (n)
		pk_unref(plain, n);
	if (hdr)
		pk_unref(plain, hdr);
	if (views)
		pk_unref(plain, views);
	return rc;
}

static struct pk_storage *
storage_or_view(struct th_pickle *t, const char *key)
{
	struct pk *o = th_find_preset(t, key);

	if (o && o->type == PK_STORAGE)
		return o->u.storage;
	return th_find_storage(t, key);
}

/* The tensors member: N, then N x (key, storage, type) ndim ... offset. */
static int
tar01_tensors(struct th_pickle *t, struct pk_vm *plain, struct mem *m,
    t2m_error *err)
{
	uint64_t size[T2M_MAXDIM];
	int64_t stride[T2M_MAXDIM], k;
	unsigned char b[8];
	struct pk *n, *hdr, *x;
	struct pk_storage *st;
	char key[32], skey[32];
	uint32_t ndim;
	int d;

	if ((n = mem_pickle(m, plain, err)) == NULL)
		return -1;
	if (n->type != PK_INT || n->u.i < 0 || n->u.i > T2M_MAX_TENSORS) {
		pk_unref(plain, n);
		return t2m_fail(err, "tensors: bad tensor count");
	}
	for (k = 0; k < n->u.i; k++) {
		if ((hdr = mem_pickle(m, plain, err)) == NULL)
			goto fail;
		if (hdr->type != PK_TUPLE || hdr->u.seq.n != 3 ||
		    int_key(hdr->u.seq.v[0], key, sizeof key) < 0 ||
		    int_key(hdr->u.seq.v[1], skey, sizeof skey) < 0 ||
		    (st = storage_or_view(t, skey)) == NULL) {
			pk_unref(plain, hdr);
			t2m_fail(err, "tensors offset %zu: bad tensor header or "
			    "unknown storage", m->at);
			goto fail;
		}
		pk_unref(plain, hdr);
		/* int32 ndim, 4 bytes of padding, sizes, strides, offset */
		if (mem_take(m, b, 8, err) < 0)
			goto fail;
		ndim = (uint32_t)b[0] | (uint32_t)b[1] << 8 |
		    (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
		if (ndim > T2M_MAXDIM) {
			t2m_fail(err, "tensors: %u dimensions", ndim);
			goto fail;
		}
		for (d = 0; d < (int)ndim; d++) {
			if (mem_take(m, b, 8, err) < 0)
				goto fail;
			size[d] = t2m_le64(b);
		}
		for (d = 0; d < (int)ndim; d++) {
			if (mem_take(m, b, 8, err) < 0)
				goto fail;
			stride[d] = (int64_t)t2m_le64(b);
		}
		if (mem_take(m, b, 8, err) < 0)
			goto fail;
		pk_at(t->vm, "tensors", m->at);
		if ((int64_t)t2m_le64(b) < 0 || (x = th_tensor(t, st, t2m_le64(b),
		    (int)ndim, size, stride, err)) == NULL)
			goto fail;
		if (th_preset_add(t, key, x, err) < 0) {
			pk_unref(t->vm, x);
			goto fail;
		}
		pk_unref(t->vm, x);
	}
	pk_unref(plain, n);
	return 0;
fail:
	pk_unref(plain, n);
	return -1;
}

int
unpack_torch_tar01(struct t2m_in *in, const struct tar01 *mb,
    struct t2m_writer *w, const struct t2m_unpack_opts *o, size_t chunk,
    t2m_error *err)
{
	struct mem m;
	struct bytesrc src = { .read = mem_read, .ctx = &m };
	struct torch_job j;
	struct pk_vm *plain;
	struct pk *v, *le;
	size_t *data = NULL;
	uint32_t k, crc;
	int rc = -1;

	memset(&j, 0, sizeof j);
	j.in = in;
	j.w = w;
	j.o = o;
	j.chunk = chunk;
	j.format = "torch-tar";
	if ((plain = pk_new(NULL, NULL)) == NULL)
		return t2m_fail(err, "out of memory");
	if (th_init(&j.t, TH_TAR01, err) < 0)
		goto out;
	m = (struct mem){ mb->p[0], mb->n[0], 0, "sys_info" };
	if ((v = mem_pickle(&m, plain, err)) == NULL)
		goto out;
	if ((le = pk_dict_get(v, "little_endian")) && le->type == PK_BOOL)
		j.swap = le->u.i == 0;
	pk_unref(plain, v);
	if ((data = calloc(T2M_MAX_TENSORS, sizeof *data)) == NULL) {
		t2m_fail(err, "out of memory");
		goto out;
	}
	m = (struct mem){ mb->p[3], mb->n[3], 0, "storages" };
	if (tar01_storages(&j.t, plain, &m, data, err) < 0)
		goto out;
	m = (struct mem){ mb->p[2], mb->n[2], 0, "tensors" };
	if (tar01_tensors(&j.t, plain, &m, err) < 0 ||
	    th_load(&j.t, mb->p[1], mb->n[1], "pickle", TH_TAR01, err) < 0)
		goto out;
	if ((rc = job_begin(&j, err)) != 0) {
		rc = rc > 0 ? 0 : -1;
		goto out;
	}
	rc = -1;
	m = (struct mem){ mb->p[3], mb->n[3], 0, "storages" };
	for (k = 0; k < j.t.nstorages; k++) {
		if (emit_users(&j.e, th_storage_at(&j.t, k)) == 0)
			continue;
		m.at = data[k];
		if (emit_storage(&j.e, th_storage_at(&j.t, k), &src, &crc,
		    err) < 0)
			goto out;
	}
	rc = t2m_writer_end(w, err);
out:
	free(data);
	job_free(&j);
	pk_free(plain);
	return rc;
}
