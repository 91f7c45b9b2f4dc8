/*
 * zipw.c - a zip writer for archives laid out before their data arrives.
 *
 * Every entry is stored, its size known up front, so each local header
 * can carry the real sizes and CRC (no data descriptors) and be written
 * after the data.  Data is aligned to 64 bytes with a padding extra
 * field, the id "FB" PyTorch uses, so torch.load can map storages in
 * place.  Zip64 fields appear only where a value does not fit in 32 bits
 * (or the entry count in 16), as the format asks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "zipw.h"

#define SIG_LFH  0x04034b50u
#define SIG_CD   0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_Z64E 0x06064b50u
#define SIG_Z64L 0x07064b50u

#define MAX16 0xffffu
#define MAX32 0xffffffffu
#define ID_ZIP64 0x0001u
#define ID_PAD   0x4246u	/* "FB", as PyTorch's writer names it */

#define VERSION_PLAIN 20	/* 2.0: stored entries */
#define VERSION_ZIP64 45	/* 4.5: zip64 extensions */
#define FLAG_UTF8 0x0800u
#define DOS_DATE 0x0021u	/* 1980-01-01: no time, so runs compare equal */

static unsigned char *
put16(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	return p + 2;
}

static unsigned char *
put32(unsigned char *p, uint32_t v)
{
	return put16(put16(p, v & MAX16), v >> 16);
}

static unsigned char *
put64(unsigned char *p, uint64_t v)
{
	return put32(put32(p, (uint32_t)v), (uint32_t)(v >> 32));
}

/* The local header's zip64 field: both sizes, as the format requires
 * of a local header once either overflows. */
static size_t
lfh_zip64_len(const struct zipw_entry *e)
{
	return e->size >= MAX32 ? 4 + 16 : 0;
}

/* The central directory's zip64 field: only the values that overflow. */
static size_t
cd_zip64_len(const struct zipw_entry *e)
{
	size_t n = 0;

	if (e->size >= MAX32)
		n += 16;
	if (e->lfh >= MAX32)
		n += 8;
	return n ? 4 + n : 0;
}

int
zipw_layout(struct zipw *z, t2m_error *err)
{
	const uint64_t limit = (uint64_t)1 << 62;
	uint64_t at = 0, cdlen = 0, base;
	struct zipw_entry *e;
	uint32_t i;
	size_t nlen;

	for (i = 0; i < z->n; i++) {
		e = &z->e[i];
		if ((nlen = strlen(e->name)) > MAX16)
			return t2m_fail(err, "zip entry name of %zu bytes is "
			    "too long", nlen);
		/* Room for this entry's header and data, overflow-safe. */
		if (e->size > limit - 70000 || at > limit - 70000 - e->size)
			return t2m_fail(err, "archive too large");
		e->lfh = at;
		base = at + 30 + nlen + lfh_zip64_len(e) + 4;
		e->data = base + (ZIPW_ALIGN - base % ZIPW_ALIGN) % ZIPW_ALIGN;
		at = e->data + e->size;
		cdlen += 46 + nlen + cd_zip64_len(e);
	}
	z->cd = at;
	z->end = at + cdlen + 22;
	if (z->n >= MAX16 || cdlen >= MAX32 || at >= MAX32)
		z->end += 56 + 20;
	if (z->end > limit)
		return t2m_fail(err, "archive too large");
	return 0;
}

/* The local header of e, its padding field included, into p. */
static size_t
local_header(unsigned char *p, const struct zipw_entry *e)
{
	size_t nlen = strlen(e->name), xlen = e->data - e->lfh - 30 - nlen;
	size_t z64 = lfh_zip64_len(e), pad = xlen - z64 - 4;
	unsigned char *q = p;
	int big = e->size >= MAX32;

	q = put32(q, SIG_LFH);
	q = put16(q, big ? VERSION_ZIP64 : VERSION_PLAIN);
	q = put16(q, FLAG_UTF8);
	q = put16(q, 0);		/* stored */
	q = put16(q, 0);
	q = put16(q, DOS_DATE);
	q = put32(q, e->crc);
	q = put32(q, big ? MAX32 : (uint32_t)e->size);
	q = put32(q, big ? MAX32 : (uint32_t)e->size);
	q = put16(q, (uint32_t)nlen);
	q = put16(q, (uint32_t)xlen);
	memcpy(q, e->name, nlen);
	q += nlen;
	if (big) {
		q = put16(q, ID_ZIP64);
		q = put16(q, 16);
		q = put64(q, e->size);
		q = put64(q, e->size);
	}
	q = put16(q, ID_PAD);
	q = put16(q, (uint32_t)pad);
	memset(q, 'Z', pad);
	return (size_t)(q - p) + pad;
}

static void
central_entry(struct t2m_buf *b, const struct zipw_entry *e)
{
	unsigned char h[46 + 28], *q = h;
	size_t nlen = strlen(e->name), xlen = cd_zip64_len(e);
	int big = e->size >= MAX32, far = e->lfh >= MAX32;
	uint32_t v = xlen ? VERSION_ZIP64 : VERSION_PLAIN;

	q = put32(q, SIG_CD);
	q = put16(q, v);		/* made by: MS-DOS, no permissions */
	q = put16(q, v);
	q = put16(q, FLAG_UTF8);
	q = put16(q, 0);
	q = put16(q, 0);
	q = put16(q, DOS_DATE);
	q = put32(q, e->crc);
	q = put32(q, big ? MAX32 : (uint32_t)e->size);
	q = put32(q, big ? MAX32 : (uint32_t)e->size);
	q = put16(q, (uint32_t)nlen);
	q = put16(q, (uint32_t)xlen);
	q = put16(q, 0);		/* comment */
	q = put16(q, 0);		/* disk */
	q = put16(q, 0);		/* internal attributes */
	q = put32(q, 0);		/* external attributes */
	q = put32(q, far ? MAX32 : (uint32_t)e->lfh);
	t2m_buf_add(b, h, (size_t)(q - h));
	t2m_buf_add(b, e->name, nlen);
	if (xlen == 0)
		return;
	q = h;
	q = put16(q, ID_ZIP64);
	q = put16(q, (uint32_t)xlen - 4);
	if (big) {
		q = put64(q, e->size);
		q = put64(q, e->size);
	}
	if (far)
		q = put64(q, e->lfh);
	t2m_buf_add(b, h, (size_t)(q - h));
}

/* The end records after a central directory of cdlen bytes at cd. */
static void
end_records(struct t2m_buf *b, const struct zipw *z, uint64_t cdlen)
{
	unsigned char h[56 + 20 + 22], *q = h;
	uint64_t at = z->cd + cdlen;

	if (z->n >= MAX16 || cdlen >= MAX32 || z->cd >= MAX32) {
		q = put32(q, SIG_Z64E);
		q = put64(q, 44);	/* the bytes after this field */
		q = put16(q, VERSION_ZIP64);
		q = put16(q, VERSION_ZIP64);
		q = put32(q, 0);
		q = put32(q, 0);
		q = put64(q, z->n);
		q = put64(q, z->n);
		q = put64(q, cdlen);
		q = put64(q, z->cd);
		q = put32(q, SIG_Z64L);
		q = put32(q, 0);
		q = put64(q, at);
		q = put32(q, 1);
	}
	q = put32(q, SIG_EOCD);
	q = put16(q, 0);
	q = put16(q, 0);
	q = put16(q, z->n >= MAX16 ? MAX16 : z->n);
	q = put16(q, z->n >= MAX16 ? MAX16 : z->n);
	q = put32(q, cdlen >= MAX32 ? MAX32 : (uint32_t)cdlen);
	q = put32(q, z->cd >= MAX32 ? MAX32 : (uint32_t)z->cd);
	q = put16(q, 0);		/* comment */
	t2m_buf_add(b, h, (size_t)(q - h));
}

int
zipw_finish(int fd, const struct zipw *z)
{
	unsigned char *h;
	struct t2m_buf b = { 0 };
	size_t n;
	uint32_t i;
	int rc = -1;

	/* Name, zip64 field and padding: within 30 + 65535 + 20 + 4 + 63. */
	if ((h = malloc(30 + MAX16 + 20 + 4 + ZIPW_ALIGN)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < z->n; i++) {
		n = local_header(h, &z->e[i]);
		if (t2m_pwrite_full(fd, h, n, z->e[i].lfh) < 0)
			goto out;
		central_entry(&b, &z->e[i]);
	}
	end_records(&b, z, b.len);
	if (b.nomem) {
		errno = ENOMEM;
		goto out;
	}
	if (t2m_pwrite_full(fd, b.p, b.len, z->cd) < 0)
		goto out;
	rc = 0;
out:
	free(h);
	t2m_buf_free(&b);
	return rc;
}
