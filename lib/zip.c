/*
 * zip.c - reading the zip archives PyTorch writes.  torch.save stores
 * every record uncompressed, 64-byte aligned, sizes in a data descriptor
 * after the data, zip64 records always present; TorchScript deflates its
 * code/ entries.  Everything is checked before it is trusted: the end
 * records, every size and offset, overlaps between entries, duplicate
 * names, the common prefix PyTorch requires.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "le.h"
#include "zip.h"

#define SIG_LFH  0x04034b50u
#define SIG_CD   0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_Z64E 0x06064b50u
#define SIG_Z64L 0x07064b50u
#define SIG_DD   0x08074b50u

#define MAX_CD ((uint64_t)1 << 30)

int
zip_crc_fail(t2m_error *err, const char *name, uint32_t stored,
    uint32_t computed)
{
	return t2m_fail(err, "%s: CRC-32 mismatch (stored %08x, computed "
	    "%08x)%s; -c skips the check", name, stored, computed,
	    stored == 0 ? ", as in files saved without checksums" : "");
}

/* Walk the extra fields for a zip64 one; fill the fields that were
 * 0xffffffff in the fixed part, in the order the format gives. */
static int
zip64_extra(const unsigned char *x, size_t n, uint64_t *usize,
    uint64_t *csize, uint64_t *off, int *found)
{
	size_t k = 0, len, at;

	*found = 0;
	while (k + 4 <= n) {
		len = t2m_le16(x + k + 2);
		if (k + 4 + len > n)
			return -1;
		if (t2m_le16(x + k) == 0x0001) {
			*found = 1;
			at = k + 4;
			if (usize && *usize == 0xffffffffu) {
				if (at + 8 > k + 4 + len)
					return -1;
				*usize = t2m_le64(x + at);
				at += 8;
			}
			if (csize && *csize == 0xffffffffu) {
				if (at + 8 > k + 4 + len)
					return -1;
				*csize = t2m_le64(x + at);
				at += 8;
			}
			if (off && *off == 0xffffffffu) {
				if (at + 8 > k + 4 + len)
					return -1;
				*off = t2m_le64(x + at);
			}
		}
		k += 4 + len;
	}
	return 0;
}

static int
by_data(const void *a, const void *b)
{
	const struct zip_entry *x = a, *y = b;

	return x->lfh < y->lfh ? -1 : x->lfh > y->lfh;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
zip_cd_free(struct zip_cd *z)
{
	uint32_t i;

	for (i = 0; i < z->n; i++)
		free(z->e[i].name);
	free(z->e);
	free(z->prefix);
	t2m_strmap_free(&z->byname);
	memset(z, 0, sizeof *z);
}

/* Find the end of central directory records; fill the CD's place. */
static int
find_cd(struct t2m_in *in, uint64_t *cd_off, uint64_t *cd_size,
    uint64_t *count, uint64_t *cd_end, t2m_error *err)
{
	unsigned char tail[65557], z[56];
	uint64_t size = in->size, start, eocd = 0, loc;
	size_t n, k;
	int found = 0;

	n = size < sizeof tail ? (size_t)size : sizeof tail;
	start = size - n;
	if (n < 22)
		return t2m_fail(err, "zip: %llu bytes: too short for an "
		    "archive", (unsigned long long)size);
	if (t2m_pread_full(in->fd, tail, n, start, err) < 0)
		return -1;
	for (k = n - 22 + 1; k-- > 0; )
		if (t2m_le32(tail + k) == SIG_EOCD &&
		    k + 22 + t2m_le16(tail + k + 20) == n) {
			eocd = start + k;
			found = 1;
			break;
		}
	if (!found)
		return t2m_fail(err, "zip: no end of central directory record "
		    "(truncated or not a zip archive)");
	k = (size_t)(eocd - start);
	if (t2m_le16(tail + k + 4) != 0 || t2m_le16(tail + k + 6) != 0)
		return t2m_fail(err, "zip: multi-disk archives are not "
		    "supported");
	*count = t2m_le16(tail + k + 10);
	*cd_size = t2m_le32(tail + k + 12);
	*cd_off = t2m_le32(tail + k + 16);
	*cd_end = eocd;
	/* A zip64 locator just before: its record has the real numbers. */
	if (eocd >= 20 && k >= 20 && t2m_le32(tail + k - 20) == SIG_Z64L) {
		loc = t2m_le64(tail + k - 20 + 8);
		if (loc > eocd - 20 || eocd - 20 - loc < 56)
			return t2m_fail(err, "zip: bad zip64 locator");
		if (t2m_pread_full(in->fd, z, sizeof z, loc, err) < 0)
			return -1;
		if (t2m_le32(z) != SIG_Z64E)
			return t2m_fail(err, "zip: zip64 end record missing at "
			    "offset %llu", (unsigned long long)loc);
		*count = t2m_le64(z + 32);
		*cd_size = t2m_le64(z + 40);
		*cd_off = t2m_le64(z + 48);
		*cd_end = loc;
	}
	if (*cd_off > *cd_end || *cd_size > *cd_end - *cd_off)
		return t2m_fail(err, "zip: central directory (offset %llu, %llu "
		    "bytes) lies outside the archive", (unsigned long long)
		    *cd_off, (unsigned long long)*cd_size);
	if (*cd_size > MAX_CD || *count > T2M_MAX_TENSORS)
		return t2m_fail(err, "zip: central directory too large");
	return 0;
}

/*
 * The central directory, read front to back through a window, so that
 * an archive of 100,000 records never has all of it in memory.
 */
#define CD_WINDOW ((size_t)256 << 10)	/* > the largest entry, 196,654 */

struct cd_reader {
	int fd;
	uint64_t off, size;	/* where the directory lies */
	uint64_t done;		/* its bytes before the window */
	unsigned char *buf;	/* CD_WINDOW bytes */
	size_t pos, have;	/* the unparsed bytes: buf[pos..have) */
	uint64_t cd_off, count, cd_end;
};

static int
cd_open(struct t2m_in *in, struct cd_reader *r, t2m_error *err)
{
	uint64_t cd_size;

	memset(r, 0, sizeof *r);
	r->fd = in->fd;
	if (find_cd(in, &r->cd_off, &cd_size, &r->count, &r->cd_end, err) < 0)
		return -1;
	r->off = r->cd_off;
	r->size = cd_size;
	if ((r->buf = malloc(CD_WINDOW)) == NULL)
		return t2m_fail(err, "out of memory");
	return 0;
}

/* Make at least n unparsed bytes lie in the window, if the directory
 * has them: returns how many it has, up to n. */
static int
cd_fill(struct cd_reader *r, size_t n, size_t *got, t2m_error *err)
{
	uint64_t left;
	size_t k;

	if (r->have - r->pos < n) {
		memmove(r->buf, r->buf + r->pos, r->have - r->pos);
		r->done += r->pos;
		r->have -= r->pos;
		r->pos = 0;
		left = r->size - r->done - r->have;
		k = CD_WINDOW - r->have < left ? CD_WINDOW - r->have :
		    (size_t)left;
		if (k > 0 && t2m_pread_full(r->fd, r->buf + r->have, k,
		    r->off + r->done + r->have, err) < 0)
			return -1;
		r->have += k;
	}
	*got = r->have - r->pos < n ? r->have - r->pos : n;
	return 0;
}

/* One entry of the directory, its name inside the window until the next
 * call. */
struct cd_entry {
	const char *name;
	size_t nlen;
	uint64_t lfh, csize, usize;
	uint32_t crc;
	uint16_t method, flags;
};

/* Entry i: 0 with *e filled, -1 on failure. */
static int
cd_next(struct cd_reader *r, uint64_t i, struct cd_entry *e, t2m_error *err)
{
	const unsigned char *p;
	size_t nlen, xlen, clen, got;
	int found;

	if (cd_fill(r, 46, &got, err) < 0)
		return -1;
	p = r->buf + r->pos;
	if (got < 46 || t2m_le32(p) != SIG_CD)
		return t2m_fail(err, "zip: central directory entry %llu is "
		    "damaged", (unsigned long long)i);
	nlen = t2m_le16(p + 28);
	xlen = t2m_le16(p + 30);
	clen = t2m_le16(p + 32);
	if (cd_fill(r, 46 + nlen + xlen + clen, &got, err) < 0)
		return -1;
	p = r->buf + r->pos;
	if (got < 46 + nlen + xlen + clen)
		return t2m_fail(err, "zip: central directory entry %llu runs "
		    "past the directory", (unsigned long long)i);
	e->flags = (uint16_t)t2m_le16(p + 8);
	e->method = (uint16_t)t2m_le16(p + 10);
	e->crc = t2m_le32(p + 16);
	e->csize = t2m_le32(p + 20);
	e->usize = t2m_le32(p + 24);
	e->lfh = t2m_le32(p + 42);
	if (zip64_extra(p + 46 + nlen, xlen, &e->usize, &e->csize, &e->lfh,
	    &found) < 0)
		return t2m_fail(err, "zip: bad zip64 field in entry %llu",
		    (unsigned long long)i);
	if (nlen == 0 || memchr(p + 46, 0, nlen) != NULL)
		return t2m_fail(err, "zip: entry %llu has an empty or bad name",
		    (unsigned long long)i);
	e->name = (const char *)p + 46;
	e->nlen = nlen;
	r->pos += 46 + nlen + xlen + clen;
	return 0;
}

/* After the last entry: nothing may be left. */
static int
cd_end(struct cd_reader *r, t2m_error *err)
{
	uint64_t left = r->size - r->done - r->pos;

	if (left != 0)
		return t2m_fail(err, "zip: %llu stray bytes in the central "
		    "directory", (unsigned long long)left);
	return 0;
}

/* Local headers read through a window: where records are small, many
 * headers come in one read. */
#define LFH_WINDOW ((size_t)64 << 10)

struct lfh_reader {
	int fd;
	uint64_t start;
	size_t len;
	unsigned char buf[LFH_WINDOW];
};

/* Where the data of the entry whose local header is at lfh starts,
 * checking the header; limit is the central directory's offset. */
static int
lfh_data(struct lfh_reader *r, const char *name, uint64_t lfh, uint64_t csize,
    uint64_t limit, uint64_t *data, t2m_error *err)
{
	const unsigned char *h;
	size_t n;

	if (lfh > limit || limit - lfh < 30)
		return t2m_fail(err, "zip: '%s': local header offset %llu is "
		    "outside the archive", name, (unsigned long long)lfh);
	if (lfh < r->start || lfh + 30 > r->start + r->len) {
		n = limit - lfh < LFH_WINDOW ? (size_t)(limit - lfh) :
		    LFH_WINDOW;
		r->len = 0;
		if (t2m_pread_full(r->fd, r->buf, n, lfh, err) < 0)
			return -1;
		r->start = lfh;
		r->len = n;
	}
	h = r->buf + (lfh - r->start);
	if (t2m_le32(h) != SIG_LFH)
		return t2m_fail(err, "zip: '%s': no local header at offset "
		    "%llu", name, (unsigned long long)lfh);
	*data = lfh + 30 + t2m_le16(h + 26) + t2m_le16(h + 28);
	if (*data > limit || csize > limit - *data)
		return t2m_fail(err, "zip: '%s': data (offset %llu, %llu "
		    "bytes) runs into the central directory", name,
		    (unsigned long long)*data, (unsigned long long)csize);
	return 0;
}

/* Whether name (under the prefix) is a storage record, data/<key>. */
static int
is_data(const char *name, size_t plen)
{
	return strncmp(name + plen, "/data/", 6) == 0;
}

int
zip_read_cd(struct t2m_in *in, struct zip_cd *z, t2m_error *err)
{
	struct cd_reader r;
	struct lfh_reader *lr = NULL;
	struct cd_entry ce;
	struct zip_entry *all = NULL, *e;
	struct t2m_buf names = { 0 };
	char **byname = NULL;
	uint64_t i;
	size_t plen = 0, *at = NULL;
	uint32_t n = 0, k;
	int rc = -1;

	memset(z, 0, sizeof *z);
	if (cd_open(in, &r, err) < 0)
		goto out;
	/* Every entry, briefly, to check them against each other; names
	 * one after another in one buffer. */
	if ((all = calloc(r.count ? r.count : 1, sizeof *all)) == NULL ||
	    (at = malloc((r.count ? r.count : 1) * sizeof *at)) == NULL)
		goto nomem;
	for (i = 0; i < r.count; i++) {
		if (cd_next(&r, i, &ce, err) < 0)
			goto out;
		e = &all[n++];
		e->flags = ce.flags;
		e->method = ce.method;
		e->crc = ce.crc;
		e->csize = ce.csize;
		e->usize = ce.usize;
		e->lfh = ce.lfh;
		at[i] = names.len;
		t2m_buf_add(&names, ce.name, ce.nlen);
		t2m_buf_add(&names, "", 1);
	}
	if (names.nomem)
		goto nomem;
	for (i = 0; i < n; i++)
		all[i].name = names.p + at[i];
	free(at);
	at = NULL;
	if (cd_end(&r, err) < 0)
		goto out;

	/* PyTorch's rule: every name under one directory, the prefix. */
	if (n == 0) {
		t2m_fail(err, "zip: the archive is empty");
		goto out;
	}
	if (strchr(all[0].name, '/') == NULL) {
		t2m_fail(err, "zip: '%s' is not in a directory, as PyTorch's "
		    "archives require", all[0].name);
		goto out;
	}
	plen = (size_t)(strchr(all[0].name, '/') - all[0].name);
	if ((z->prefix = strndup(all[0].name, plen)) == NULL)
		goto nomem;
	if ((byname = malloc(n * sizeof *byname)) == NULL)
		goto nomem;
	for (k = 0; k < n; k++) {
		byname[k] = all[k].name;
		if (strncmp(all[k].name, z->prefix, plen) != 0 ||
		    all[k].name[plen] != '/') {
			t2m_fail(err, "zip: '%s' is outside the archive's "
			    "directory '%s'", all[k].name, z->prefix);
			goto out;
		}
	}
	qsort(byname, n, sizeof *byname, by_name);
	for (k = 1; k < n; k++)
		if (strcmp(byname[k - 1], byname[k]) == 0) {
			t2m_fail(err, "zip: '%s' appears twice", byname[k]);
			goto out;
		}
	free(byname);
	byname = NULL;

	/* Local headers give where the data starts. */
	if ((lr = malloc(sizeof *lr)) == NULL)
		goto nomem;
	lr->fd = in->fd;
	lr->start = lr->len = 0;
	for (k = 0; k < n; k++)
		if (lfh_data(lr, all[k].name, all[k].lfh, all[k].csize,
		    r.cd_off, &all[k].data, err) < 0)
			goto out;
	/* No entry may overlap another (overlapping-entry zip bombs). */
	qsort(all, n, sizeof *all, by_data);
	for (k = 1; k < n; k++)
		if (all[k - 1].data + all[k - 1].csize > all[k].lfh) {
			t2m_fail(err, "zip: entries '%s' and '%s' overlap",
			    all[k - 1].name, all[k].name);
			goto out;
		}
	/* Keep all but the storage records, which zip_each_data reads
	 * again once they are wanted. */
	z->ndata = 0;
	for (k = 0; k < n; k++)
		if (is_data(all[k].name, plen))
			z->ndata++;
	if ((z->e = calloc(n - z->ndata + 1, sizeof *z->e)) == NULL)
		goto nomem;
	for (k = 0; k < n; k++) {
		if (is_data(all[k].name, plen))
			continue;
		z->e[z->n] = all[k];
		if ((z->e[z->n].name = strdup(all[k].name)) == NULL)
			goto nomem;
		z->n++;
	}
	for (k = 0; k < z->n; k++)
		if (t2m_strmap_put(&z->byname, z->e[k].name, k) < 0)
			goto nomem;
	z->cd_off = r.cd_off;
	rc = 0;
	goto out;
nomem:
	t2m_fail(err, "out of memory");
out:
	free(r.buf);
	free(lr);
	free(all);
	free(at);
	free(byname);
	t2m_buf_free(&names);
	if (rc < 0)
		zip_cd_free(z);
	return rc;
}

int
zip_each_data(struct t2m_in *in, const struct zip_cd *z,
    int (*fn)(void *ctx, const char *key, const struct zip_entry *e,
    t2m_error *err), void *ctx, t2m_error *err)
{
	struct cd_reader r;
	struct lfh_reader *lr = NULL;
	struct cd_entry ce;
	struct zip_entry e;
	size_t plen = strlen(z->prefix);
	char *name = NULL;
	uint64_t i;
	int rc = -1;

	if (cd_open(in, &r, err) < 0)
		goto out;
	if ((lr = malloc(sizeof *lr)) == NULL ||
	    (name = malloc(65536)) == NULL) {
		t2m_fail(err, "out of memory");
		goto out;
	}
	lr->fd = in->fd;
	lr->start = lr->len = 0;
	for (i = 0; i < r.count; i++) {
		if (cd_next(&r, i, &ce, err) < 0)
			goto out;
		memcpy(name, ce.name, ce.nlen);
		name[ce.nlen] = '\0';
		if (ce.nlen <= plen + 6 ||
		    strncmp(name, z->prefix, plen) != 0 || !is_data(name, plen))
			continue;
		memset(&e, 0, sizeof e);
		e.name = name;
		e.lfh = ce.lfh;
		e.csize = ce.csize;
		e.usize = ce.usize;
		e.crc = ce.crc;
		e.method = ce.method;
		e.flags = ce.flags;
		if (lfh_data(lr, name, e.lfh, e.csize, r.cd_off, &e.data,
		    err) < 0 ||
		    fn(ctx, name + plen + 6, &e, err) < 0)
			goto out;
	}
	rc = cd_end(&r, err);
out:
	free(r.buf);
	free(lr);
	free(name);
	return rc;
}

const struct zip_entry *
zip_find(const struct zip_cd *z, const char *rel)
{
	struct t2m_buf b = { 0 };
	long k;

	t2m_buf_str(&b, z->prefix);
	t2m_buf_add(&b, "/", 1);
	t2m_buf_str(&b, rel);
	k = b.nomem ? -1 : t2m_strmap_get(&z->byname, b.p);
	t2m_buf_free(&b);
	return k < 0 ? NULL : &z->e[k];
}

int
zip_read_stored(struct t2m_in *in, const struct zip_entry *e, unsigned char *p,
    int ignore_crc, t2m_error *err)
{
	uint32_t crc;

	if (e->flags & 1)
		return t2m_fail(err, "zip: '%s' is encrypted", e->name);
	if (e->method != 0)
		return t2m_fail(err, "zip: '%s' is compressed", e->name);
	if (e->csize != e->usize)
		return t2m_fail(err, "zip: stored entry '%s' has two sizes",
		    e->name);
	if (t2m_pread_full(in->fd, p, (size_t)e->usize, e->data, err) < 0)
		return -1;
	if (!ignore_crc && (crc = t2m_crc32(0, p, (size_t)e->usize)) != e->crc)
		return zip_crc_fail(err, e->name, e->crc, crc);
	return 0;
}

int
zip_load(struct t2m_in *in, const struct zip_entry *e, uint64_t max,
    int ignore_crc, unsigned char **out, size_t *len, t2m_error *err)
{
	unsigned char *c = NULL, *u = NULL;
	z_stream zs;
	int zr;

	*out = NULL;
	*len = 0;
	if (e->flags & 1)
		return t2m_fail(err, "zip: '%s' is encrypted", e->name);
	if (e->usize > max)
		return t2m_fail(err, "zip: '%s' is %llu bytes (at most %llu)",
		    e->name, (unsigned long long)e->usize,
		    (unsigned long long)max);
	if (e->method == 0) {
		if (e->csize != e->usize)
			return t2m_fail(err, "zip: stored entry '%s' has two "
			    "sizes", e->name);
		if ((u = malloc(e->usize ? e->usize : 1)) == NULL)
			return t2m_fail(err, "out of memory");
		if (t2m_pread_full(in->fd, u, (size_t)e->usize, e->data,
		    err) < 0) {
			free(u);
			return -1;
		}
	} else if (e->method == 8) {
		if ((c = malloc(e->csize ? e->csize : 1)) == NULL ||
		    (u = malloc(e->usize ? e->usize : 1)) == NULL) {
			free(c);
			return t2m_fail(err, "out of memory");
		}
		if (t2m_pread_full(in->fd, c, (size_t)e->csize, e->data,
		    err) < 0)
			goto fail;
		memset(&zs, 0, sizeof zs);
		if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
			t2m_fail(err, "zlib: cannot start inflating");
			goto fail;
		}
		zs.next_in = c;
		zs.avail_in = (uInt)e->csize;
		zs.next_out = u;
		zs.avail_out = (uInt)e->usize;
		zr = inflate(&zs, Z_FINISH);
		inflateEnd(&zs);
		if (zr != Z_STREAM_END || zs.total_out != e->usize) {
			t2m_fail(err, "zip: '%s': deflated data is damaged or "
			    "larger than its stated size", e->name);
			goto fail;
		}
		free(c);
	} else {
		return t2m_fail(err, "zip: '%s': compression method %u is not "
		    "supported", e->name, e->method);
	}
	if (!ignore_crc && t2m_crc32(0, u, (size_t)e->usize) != e->crc) {
		zip_crc_fail(err, e->name, e->crc, t2m_crc32(0, u,
		    (size_t)e->usize));
		free(u);
		return -1;
	}
	*out = u;
	*len = (size_t)e->usize;
	return 0;
fail:
	free(c);
	free(u);
	return -1;
}

/* ---- front to back ---- */

void
zip_lfh_free(struct zip_lfh *h)
{
	free(h->name);
	h->name = NULL;
}

int
zip_next(struct t2m_in *in, struct zip_lfh *h, t2m_error *err)
{
	unsigned char b[30], x[65535];
	uint64_t at = in->pos;
	size_t nlen, xlen;
	ssize_t r;
	int found;

	memset(h, 0, sizeof *h);
	h->at = at;
	if ((r = t2m_in_read(in, b, 4, err)) < 0)
		return -1;
	if (r == 4 && (t2m_le32(b) == SIG_CD || t2m_le32(b) == SIG_EOCD ||
	    t2m_le32(b) == SIG_Z64E))
		return 0;
	if (r < 4 || t2m_le32(b) != SIG_LFH)
		return t2m_fail(err, "zip offset %llu: %s", (unsigned long long)
		    at, r < 4 ? "archive ends without a central directory" :
		    "expected a local header");
	if (t2m_in_full(in, b + 4, 26, "zip local header", err) < 0)
		return -1;
	h->flags = (uint16_t)t2m_le16(b + 6);
	h->method = (uint16_t)t2m_le16(b + 8);
	h->crc = t2m_le32(b + 14);
	h->csize = t2m_le32(b + 18);
	h->usize = t2m_le32(b + 22);
	nlen = t2m_le16(b + 26);
	xlen = t2m_le16(b + 28);
	if ((h->name = malloc(nlen + 1)) == NULL)
		return t2m_fail(err, "out of memory");
	if (t2m_in_full(in, h->name, nlen, "zip entry name", err) < 0 ||
	    t2m_in_full(in, x, xlen, "zip extra field", err) < 0) {
		zip_lfh_free(h);
		return -1;
	}
	h->name[nlen] = '\0';
	if (nlen == 0 || strlen(h->name) != nlen) {
		zip_lfh_free(h);
		return t2m_fail(err, "zip offset %llu: empty or bad entry name",
		    (unsigned long long)at);
	}
	if (zip64_extra(x, xlen, &h->usize, &h->csize, NULL, &found) < 0) {
		zip_lfh_free(h);
		return t2m_fail(err, "zip offset %llu: bad extra field",
		    (unsigned long long)at);
	}
	h->zip64 = found;
	h->deferred = (h->flags & 8) != 0;
	if (h->flags & 1) {
		t2m_fail(err, "zip: '%s' is encrypted", h->name);
		zip_lfh_free(h);
		return -1;
	}
	return 1;
}

int
zip_finish(struct t2m_in *in, const struct zip_lfh *h, uint64_t size,
    uint32_t crc, int ignore_crc, t2m_error *err)
{
	unsigned char d[24];
	const unsigned char *p;
	uint64_t csize, usize;
	uint32_t dcrc;
	ssize_t r;
	int k = 0;

	if (!h->deferred) {
		if (h->usize != size || h->csize != size)
			return t2m_fail(err, "zip: '%s' holds %llu bytes, %llu "
			    "expected", h->name, (unsigned long long)h->usize,
			    (unsigned long long)size);
		dcrc = h->crc;
	} else {
		/* The signature is optional in the format, but PyTorch
		 * writes it, and without it a misplaced end goes unseen. */
		if ((r = t2m_in_peek(in, 4, &p, err)) < 0)
			return -1;
		if (r < 4 || t2m_le32(p) != SIG_DD)
			return t2m_fail(err, "zip offset %llu: '%s': no data "
			    "descriptor after its %llu bytes of data%s",
			    (unsigned long long)in->pos, h->name,
			    (unsigned long long)size, r < 4 ?
			    " (the input ends)" : "");
		k = 4;
		if (t2m_in_full(in, d, (size_t)k + (h->zip64 ? 20 : 12),
		    "zip data descriptor", err) < 0)
			return -1;
		dcrc = t2m_le32(d + k);
		csize = h->zip64 ? t2m_le64(d + k + 4) : t2m_le32(d + k + 4);
		usize = h->zip64 ? t2m_le64(d + k + 12) : t2m_le32(d + k + 8);
		if (csize != size || usize != size)
			return t2m_fail(err, "zip: '%s': data descriptor says "
			    "%llu bytes, %llu expected", h->name,
			    (unsigned long long)usize, (unsigned long long)size);
	}
	if (!ignore_crc && dcrc != crc)
		return zip_crc_fail(err, h->name, dcrc, crc);
	return 0;
}

int
zip_read_small(struct t2m_in *in, const struct zip_lfh *h, size_t max,
    unsigned char **out, size_t *len, int ignore_crc, t2m_error *err)
{
	const unsigned char *p;
	unsigned char *buf;
	size_t k, n;
	ssize_t r;

	*out = NULL;
	if (h->method != 0)
		return t2m_fail(err, "zip: '%s': compression method %u where "
		    "PyTorch stores", h->name, h->method);
	if (!h->deferred) {
		if (h->usize > max || h->csize != h->usize)
			return t2m_fail(err, "zip: '%s': %llu bytes (at most "
			    "%zu)", h->name, (unsigned long long)h->usize, max);
		n = (size_t)h->usize;
	} else {
		/* Find the descriptor: its signature then sizes equal to the
		 * bytes before it - 64-bit sizes when the header had a zip64
		 * field, as PyTorch gives every record past 4 GiB. */
		size_t dlen = h->zip64 ? 24 : 16;
		if ((r = t2m_in_peek(in, max + dlen, &p, err)) < 0)
			return -1;
		for (k = 0; k + dlen <= (size_t)r; k++)
			if (t2m_le32(p + k) == SIG_DD && (h->zip64 ?
			    t2m_le64(p + k + 8) == k && t2m_le64(p + k + 16) == k :
			    t2m_le32(p + k + 8) == k && t2m_le32(p + k + 12) == k))
				break;
		if (k + dlen > (size_t)r)
			return t2m_fail(err, "zip offset %llu: '%s': %s",
			    (unsigned long long)in->pos, h->name,
			    (size_t)r < max + dlen ? "the input ends before its "
			    "data descriptor" : "no data descriptor within its "
			    "first 64 KiB");
		n = k;
	}
	if ((buf = malloc(n + 1)) == NULL)
		return t2m_fail(err, "out of memory");
	if (t2m_in_full(in, buf, n, h->name, err) < 0 ||
	    zip_finish(in, h, n, t2m_crc32(0, buf, n), ignore_crc, err) < 0) {
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}
