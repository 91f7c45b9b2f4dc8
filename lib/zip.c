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

#include "zip.h"

#define SIG_LFH  0x04034b50u
#define SIG_CD   0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_Z64E 0x06064b50u
#define SIG_Z64L 0x07064b50u
#define SIG_DD   0x08074b50u

#define MAX_CD ((uint64_t)1 << 30)

static uint32_t
le16(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t
le32(const unsigned char *p)
{
	return le16(p) | le16(p + 2) << 16;
}

static uint64_t
le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

int
zip_crc_fail(t2m_error *err, const char *name, uint32_t stored,
    uint32_t computed)
{
	return t2m_fail(err, "%s: CRC-32 mismatch (stored %08x, computed "
	    "%08x)%s; -c skips the check", name, stored, computed,
	    stored == 0 ? ", as in files saved without checksums" : "");
}

static int
pread_full(int fd, void *p, size_t n, uint64_t off, t2m_error *err)
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

/* Walk the extra fields for a zip64 one; fill the fields that were
 * 0xffffffff in the fixed part, in the order the format gives. */
static int
zip64_extra(const unsigned char *x, size_t n, uint64_t *usize,
    uint64_t *csize, uint64_t *off, int *found)
{
	size_t k = 0, len, at;

	*found = 0;
	while (k + 4 <= n) {
		len = le16(x + k + 2);
		if (k + 4 + len > n)
			return -1;
		if (le16(x + k) == 0x0001) {
			*found = 1;
			at = k + 4;
			if (usize && *usize == 0xffffffffu) {
				if (at + 8 > k + 4 + len)
					return -1;
				*usize = le64(x + at);
				at += 8;
			}
			if (csize && *csize == 0xffffffffu) {
				if (at + 8 > k + 4 + len)
					return -1;
				*csize = le64(x + at);
				at += 8;
			}
			if (off && *off == 0xffffffffu) {
				if (at + 8 > k + 4 + len)
					return -1;
				*off = le64(x + at);
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
	if (pread_full(in->fd, tail, n, start, err) < 0)
		return -1;
	for (k = n - 22 + 1; k-- > 0; )
		if (le32(tail + k) == SIG_EOCD &&
		    k + 22 + le16(tail + k + 20) == n) {
			eocd = start + k;
			found = 1;
			break;
		}
	if (!found)
		return t2m_fail(err, "zip: no end of central directory record "
		    "(truncated or not a zip archive)");
	k = (size_t)(eocd - start);
	if (le16(tail + k + 4) != 0 || le16(tail + k + 6) != 0)
		return t2m_fail(err, "zip: multi-disk archives are not "
		    "supported");
	*count = le16(tail + k + 10);
	*cd_size = le32(tail + k + 12);
	*cd_off = le32(tail + k + 16);
	*cd_end = eocd;
	/* A zip64 locator just before: its record has the real numbers. */
	if (eocd >= 20 && k >= 20 && le32(tail + k - 20) == SIG_Z64L) {
		loc = le64(tail + k - 20 + 8);
		if (loc > eocd - 20 || eocd - 20 - loc < 56)
			return t2m_fail(err, "zip: bad zip64 locator");
		if (pread_full(in->fd, z, sizeof z, loc, err) < 0)
			return -1;
		if (le32(z) != SIG_Z64E)
			return t2m_fail(err, "zip: zip64 end record missing at "
			    "offset %llu", (unsigned long long)loc);
		*count = le64(z + 32);
		*cd_size = le64(z + 40);
		*cd_off = le64(z + 48);
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

int
zip_read_cd(struct t2m_in *in, struct zip_cd *z, t2m_error *err)
{
	uint64_t cd_off, cd_size, count, cd_end, i;
	unsigned char *cd = NULL, lfh[30];
	struct zip_entry *e;
	char **names = NULL;
	size_t at = 0, nlen, xlen, clen;
	const char *slash;

	memset(z, 0, sizeof *z);
	if (find_cd(in, &cd_off, &cd_size, &count, &cd_end, err) < 0)
		return -1;
	if ((cd = malloc(cd_size ? cd_size : 1)) == NULL ||
	    (z->e = calloc(count ? count : 1, sizeof *z->e)) == NULL) {
		free(cd);
		return t2m_fail(err, "out of memory");
	}
	if (pread_full(in->fd, cd, (size_t)cd_size, cd_off, err) < 0)
		goto fail;
	for (i = 0; i < count; i++) {
		e = &z->e[i];
		if (cd_size - at < 46 || le32(cd + at) != SIG_CD) {
			t2m_fail(err, "zip: central directory entry %llu is "
			    "damaged", (unsigned long long)i);
			goto fail;
		}
		e->flags = (uint16_t)le16(cd + at + 8);
		e->method = (uint16_t)le16(cd + at + 10);
		e->crc = le32(cd + at + 16);
		e->csize = le32(cd + at + 20);
		e->usize = le32(cd + at + 24);
		nlen = le16(cd + at + 28);
		xlen = le16(cd + at + 30);
		clen = le16(cd + at + 32);
		e->lfh = le32(cd + at + 42);
		if (cd_size - at - 46 < nlen + xlen + clen) {
			t2m_fail(err, "zip: central directory entry %llu runs "
			    "past the directory", (unsigned long long)i);
			goto fail;
		}
		{
			int found;
			if (zip64_extra(cd + at + 46 + nlen, xlen, &e->usize,
			    &e->csize, &e->lfh, &found) < 0) {
				t2m_fail(err, "zip: bad zip64 field in entry "
				    "%llu", (unsigned long long)i);
				goto fail;
			}
		}
		if (nlen == 0 || memchr(cd + at + 46, 0, nlen) != NULL ||
		    (e->name = strndup((char *)cd + at + 46, nlen)) == NULL) {
			t2m_fail(err, "zip: entry %llu has an empty or bad "
			    "name", (unsigned long long)i);
			goto fail;
		}
		z->n++;
		at += 46 + nlen + xlen + clen;
	}
	if (at != cd_size) {
		t2m_fail(err, "zip: %llu stray bytes in the central directory",
		    (unsigned long long)(cd_size - at));
		goto fail;
	}
	free(cd);
	cd = NULL;

	/* PyTorch's rule: every name under one directory, the prefix. */
	if (z->n == 0) {
		t2m_fail(err, "zip: the archive is empty");
		goto fail;
	}
	if ((slash = strchr(z->e[0].name, '/')) == NULL) {
		t2m_fail(err, "zip: '%s' is not in a directory, as PyTorch's "
		    "archives require", z->e[0].name);
		goto fail;
	}
	if ((z->prefix = strndup(z->e[0].name,
	    (size_t)(slash - z->e[0].name))) == NULL)
		goto nomem;
	if ((names = malloc(z->n * sizeof *names)) == NULL)
		goto nomem;
	for (i = 0; i < z->n; i++) {
		names[i] = z->e[i].name;
		if (strncmp(z->e[i].name, z->prefix, slash - z->e[0].name) != 0
		    || z->e[i].name[slash - z->e[0].name] != '/') {
			t2m_fail(err, "zip: '%s' is outside the archive's "
			    "directory '%s'", z->e[i].name, z->prefix);
			goto fail;
		}
	}
	qsort(names, z->n, sizeof *names, by_name);
	for (i = 1; i < z->n; i++)
		if (strcmp(names[i - 1], names[i]) == 0) {
			t2m_fail(err, "zip: '%s' appears twice", names[i]);
			goto fail;
		}
	free(names);
	names = NULL;

	/* Local headers give where the data starts. */
	for (i = 0; i < z->n; i++) {
		e = &z->e[i];
		if (e->lfh > cd_off || cd_off - e->lfh < 30) {
			t2m_fail(err, "zip: '%s': local header offset %llu is "
			    "outside the archive", e->name,
			    (unsigned long long)e->lfh);
			goto fail;
		}
		if (pread_full(in->fd, lfh, 30, e->lfh, err) < 0)
			goto fail;
		if (le32(lfh) != SIG_LFH) {
			t2m_fail(err, "zip: '%s': no local header at offset "
			    "%llu", e->name, (unsigned long long)e->lfh);
			goto fail;
		}
		e->data = e->lfh + 30 + le16(lfh + 26) + le16(lfh + 28);
		if (e->data > cd_off || e->csize > cd_off - e->data) {
			t2m_fail(err, "zip: '%s': data (offset %llu, %llu "
			    "bytes) runs into the central directory", e->name,
			    (unsigned long long)e->data,
			    (unsigned long long)e->csize);
			goto fail;
		}
	}
	/* No entry may overlap another (overlapping-entry zip bombs). */
	qsort(z->e, z->n, sizeof *z->e, by_data);
	for (i = 1; i < z->n; i++)
		if (z->e[i - 1].data + z->e[i - 1].csize > z->e[i].lfh) {
			t2m_fail(err, "zip: entries '%s' and '%s' overlap",
			    z->e[i - 1].name, z->e[i].name);
			goto fail;
		}
	for (i = 0; i < z->n; i++)
		if (t2m_strmap_put(&z->byname, z->e[i].name, (uint32_t)i) < 0)
			goto nomem;
	return 0;
nomem:
	t2m_fail(err, "out of memory");
fail:
	free(cd);
	free(names);
	zip_cd_free(z);
	return -1;
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
		if (pread_full(in->fd, u, (size_t)e->usize, e->data, err) < 0) {
			free(u);
			return -1;
		}
	} else if (e->method == 8) {
		if ((c = malloc(e->csize ? e->csize : 1)) == NULL ||
		    (u = malloc(e->usize ? e->usize : 1)) == NULL) {
			free(c);
			return t2m_fail(err, "out of memory");
		}
		if (pread_full(in->fd, c, (size_t)e->csize, e->data, err) < 0)
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
	if (r == 4 && (le32(b) == SIG_CD || le32(b) == SIG_EOCD ||
	    le32(b) == SIG_Z64E))
		return 0;
	if (r < 4 || le32(b) != SIG_LFH)
		return t2m_fail(err, "zip offset %llu: %s", (unsigned long long)
		    at, r < 4 ? "archive ends without a central directory" :
		    "expected a local header");
	if (t2m_in_full(in, b + 4, 26, "zip local header", err) < 0)
		return -1;
	h->flags = (uint16_t)le16(b + 6);
	h->method = (uint16_t)le16(b + 8);
	h->crc = le32(b + 14);
	h->csize = le32(b + 18);
	h->usize = le32(b + 22);
	nlen = le16(b + 26);
	xlen = le16(b + 28);
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
		if (r < 4 || le32(p) != SIG_DD)
			return t2m_fail(err, "zip offset %llu: '%s': no data "
			    "descriptor after its %llu bytes of data%s",
			    (unsigned long long)in->pos, h->name,
			    (unsigned long long)size, r < 4 ?
			    " (the input ends)" : "");
		k = 4;
		if (t2m_in_full(in, d, (size_t)k + (h->zip64 ? 20 : 12),
		    "zip data descriptor", err) < 0)
			return -1;
		dcrc = le32(d + k);
		csize = h->zip64 ? le64(d + k + 4) : le32(d + k + 4);
		usize = h->zip64 ? le64(d + k + 12) : le32(d + k + 8);
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
			if (le32(p + k) == SIG_DD && (h->zip64 ?
			    le64(p + k + 8) == k && le64(p + k + 16) == k :
			    le32(p + k + 8) == k && le32(p + k + 12) == k))
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
