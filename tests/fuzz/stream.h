/*
 * stream.h - for the fuzz targets that take a t2m stream: every checksum
 * in it made right first (t2m-stream(5): the stream header's, each
 * record's header and payload), or nearly every mutation would stop at
 * the first one; files in memory; a stream read whole, to compare.
 */
#include <sys/mman.h>		/* memfd_create: _GNU_SOURCE before any */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "le.h"
#include "t2m.h"

#define STREAM_HEADER 20
#define RECORD_HEADER 32

/* Make every checksum in the n bytes at p right, as far as the records
 * go: a length past the end leaves the rest as it is.  A data record's
 * payload has none: its field must be 0. */
static void
fix(unsigned char *p, size_t n)
{
	size_t at = STREAM_HEADER;
	uint64_t len;

	if (n < STREAM_HEADER)
		return;
	t2m_put32(p + 16, t2m_crc32(0, p, 16));
	while (n - at >= RECORD_HEADER) {
		len = t2m_le64(p + at + 16);
		if (len > n - at - RECORD_HEADER)
			len = n - at - RECORD_HEADER;
		t2m_put32(p + at + 24, memcmp(p + at, "DATA", 4) == 0 ? 0 :
		    t2m_crc32(0, p + at + RECORD_HEADER, (size_t)len));
		t2m_put32(p + at + 28, t2m_crc32(0, p + at, 28));
		at += RECORD_HEADER + (size_t)len;
	}
}

/* A file in memory, empty. */
static int
memfile(void)
{
	int fd;

	if ((fd = memfd_create("t2m-fuzz", MFD_CLOEXEC)) < 0)
		abort();
	return fd;
}

/* Whether two tensors have the same shape.  (Inline: not every target
 * uses it.) */
static inline int
same_shape(const struct t2m_tensor *a, const struct t2m_tensor *b)
{
	return a->ndim == b->ndim && memcmp(a->shape, b->shape,
	    (size_t)a->ndim * sizeof *a->shape) == 0;
}

/* The n bytes at data, their checksums fixed, in a file in memory at
 * its start; the fixed bytes in *fixed (malloc'd) too. */
static int
stream_file(const uint8_t *data, size_t n, unsigned char **fixed)
{
	int fd;

	if ((*fixed = malloc(n + 1)) == NULL)
		abort();
	memcpy(*fixed, data, n);
	fix(*fixed, n);
	fd = memfile();
	if (write(fd, *fixed, n) != (ssize_t)n || lseek(fd, 0, SEEK_SET) < 0)
		abort();
	return fd;
}

static void
rewind_empty(int fd)
{
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		abort();
}

/* A stream read whole: its manifest and each tensor's bytes. */
struct contents {
	struct t2m_reader *r;
	struct t2m_manifest *m;
	unsigned char **b;	/* b[i]: tensor i's bytes, NULL when none */
};

static void
contents_free(struct contents *c)
{
	uint32_t i;

	for (i = 0; c->b != NULL && i < c->m->ntensors; i++)
		free(c->b[i]);
	free(c->b);
	t2m_reader_free(c->r);
	memset(c, 0, sizeof *c);
}

/* Read the stream in fd from its start: 0, or -1 when it is not valid. */
static int
contents(int fd, struct contents *c)
{
	struct t2m_chunk k;
	t2m_error e;
	uint64_t n;
	ssize_t got;
	int rc;

	memset(c, 0, sizeof *c);
	if (lseek(fd, 0, SEEK_SET) < 0 ||
	    (c->r = t2m_reader_new(fd, "<fuzz>", &e)) == NULL ||
	    t2m_reader_begin(c->r, &c->m, &e) < 0)
		return -1;
	if ((c->b = calloc(c->m->ntensors + 1, sizeof *c->b)) == NULL)
		abort();
	while ((rc = t2m_reader_next(c->r, &k, &e)) == 1) {
		n = c->m->tensors[k.index].nbytes;
		/* Valid records lie within their tensor, whose bytes the
		 * stream holds, so the size is that of the input at most. */
		if (c->b[k.index] == NULL &&
		    (c->b[k.index] = malloc(n)) == NULL)
			abort();
		while ((got = t2m_reader_read(c->r, c->b[k.index] + k.offset,
		    (size_t)k.length, &e)) > 0) {
			k.offset += (uint64_t)got;
			k.length -= (uint64_t)got;
		}
		if (got < 0)
			return -1;
	}
	return rc;
}
