/* test_stream.c - the stream codec: round trips, crafted faults, refusals. */
#include <sys/resource.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"

/* ---- a growing byte string and little-endian helpers ---- */

struct bytes {
	unsigned char *p;
	size_t len, cap;
};

static void
b_add(struct bytes *b, const void *p, size_t n)
{
	size_t cap;

	if (b->len + n + 1 > b->cap) {
		for (cap = b->cap ? b->cap : 256; cap < b->len + n + 1;)
			cap *= 2;
		if ((b->p = realloc(b->p, cap)) == NULL)
			abort();
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
le(unsigned char *p, uint64_t v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | p[n];
	return v;
}

static void
b_le(struct bytes *b, uint64_t v, int n)
{
	unsigned char x[8];

	le(x, v, n);
	b_add(b, x, (size_t)n);
}

static void
b_strn(struct bytes *b, const char *s, size_t n)
{
	b_le(b, n, 4);
	b_add(b, s, n);
}

static void
b_str(struct bytes *b, const char *s)
{
	b_strn(b, s, strlen(s));
}

static void
b_free(struct bytes *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* The byte every test stream carries at offset k of tensor i. */
static unsigned char
pat(uint32_t i, uint64_t k)
{
	return (unsigned char)(i * 67 + k * 13 + 5);
}

/*
 * ---- streams built from the format description alone, so the codec is
 * checked against the document and not against itself ----
 */

static void
s_header(struct bytes *b, unsigned major, unsigned minor, uint32_t flags)
{
	unsigned char h[20];

	memcpy(h, "\x89T2M\r\n\x1a\n", 8);
	le(h + 8, major, 2);
	le(h + 10, minor, 2);
	le(h + 12, flags, 4);
	le(h + 16, t2m_crc32(0, h, 16), 4);
	b_add(b, h, sizeof h);
}

static void
s_rechdr(struct bytes *b, const char *tag, uint32_t index, uint64_t offset,
    uint64_t length, uint32_t pcrc)
{
	unsigned char h[32];

	memcpy(h, tag, 4);
	le(h + 4, index, 4);
	le(h + 8, offset, 8);
	le(h + 16, length, 8);
	le(h + 24, pcrc, 4);
	le(h + 28, t2m_crc32(0, h, 28), 4);
	b_add(b, h, sizeof h);
}

static void
s_mani(struct bytes *b, const struct bytes *payload)
{
	s_rechdr(b, "MANI", 0, 0, payload->len,
	    t2m_crc32(0, payload->p, payload->len));
	b_add(b, payload->p, payload->len);
}

static void
s_data(struct bytes *b, uint32_t index, uint64_t offset, uint64_t len)
{
	uint64_t k;
	unsigned char c;

	s_rechdr(b, "DATA", index, offset, len, 0);
	for (k = 0; k < len; k++) {
		c = pat(index, offset + k);
		b_add(b, &c, 1);
	}
}

static void
s_ends(struct bytes *b, uint64_t ntensors, uint64_t records, uint64_t bytes)
{
	unsigned char p[24];

	le(p, ntensors, 8);
	le(p + 8, records, 8);
	le(p + 16, bytes, 8);
	s_rechdr(b, "ENDS", 0, 0, sizeof p, t2m_crc32(0, p, sizeof p));
	b_add(b, p, sizeof p);
}

static void
s_anc(struct bytes *b, const char *tag, size_t len)
{
	size_t k;

	s_rechdr(b, tag, 7, 9, len, 1234);
	for (k = 0; k < len; k++)
		b_add(b, "?", 1);
}

/* A tensor description with no attributes. */
static void
m_tensor(struct bytes *b, const char *name, int dtype, int ndim,
    const uint64_t *shape, uint64_t nbytes)
{
	unsigned char d[4] = { 0 };
	int i;

	d[0] = (unsigned char)dtype;
	d[1] = (unsigned char)ndim;

	b_str(b, name);
	b_add(b, d, 4);
	for (i = 0; i < ndim; i++)
		b_le(b, shape[i], 8);
	b_le(b, nbytes, 8);
	b_le(b, 0, 4);
}

/* The manifest most fault tests use: "a" U8 [5] and "b" I16 [3]. */
static void
small_manifest(struct bytes *mp)
{
	b_le(mp, 0, 4);
	b_le(mp, 0, 4);
	b_le(mp, 0, 4);
	b_le(mp, 2, 4);
	m_tensor(mp, "a", T2M_U8, 1, (uint64_t[]){ 5 }, 5);
	m_tensor(mp, "b", T2M_I16, 1, (uint64_t[]){ 3 }, 6);
}

/* Stream header and the small manifest. */
static void
small_begin(struct bytes *b)
{
	struct bytes mp = { 0 };

	s_header(b, 1, 0, 0);
	small_manifest(&mp);
	s_mani(b, &mp);
	b_free(&mp);
}

static void
small_stream(struct bytes *b)
{
	small_begin(b);
	s_data(b, 0, 0, 3);
	s_data(b, 1, 0, 6);
	s_data(b, 0, 3, 2);
	s_ends(b, 2, 3, 11);
}

/* A stream whose manifest payload is mp, with no data. */
static void
manifest_stream(struct bytes *b, const struct bytes *mp)
{
	s_header(b, 1, 0, 0);
	s_mani(b, mp);
	s_ends(b, 0, 0, 0);
}

/* ---- files ---- */

static int
bytes_fd(const void *p, size_t n)
{
	char path[] = "/tmp/t2m-unit.XXXXXX";
	int fd;

	if ((fd = mkstemp(path)) < 0) {
		perror("mkstemp");
		exit(1);
	}
	unlink(path);
	if (t2m_write_full(fd, p, n) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		perror("temporary file");
		exit(1);
	}
	return fd;
}

static void
slurp(int fd, struct bytes *b)
{
	unsigned char buf[4096];
	ssize_t k;

	if (lseek(fd, 0, SEEK_SET) < 0)
		abort();
	while ((k = read(fd, buf, sizeof buf)) > 0)
		b_add(b, buf, (size_t)k);
	if (k < 0)
		abort();
}

/* ---- reading a whole stream ---- */

static t2m_error rerr;
static uint64_t got_records, got_bytes;

/*
 * Read the stream on fd to its end, checking every data byte against
 * pat().  Returns "" for a valid stream, else the reader's message.
 */
static const char *
read_fd(int fd, size_t maxread)
{
	struct t2m_manifest *m;
	struct t2m_reader *r;
	struct t2m_chunk c;
	unsigned char buf[7];
	uint64_t at;
	ssize_t k, i;
	int rc, mismatch = 0;

	rerr.msg[0] = '\0';
	got_records = got_bytes = 0;
	if ((r = t2m_reader_new(fd, "test", &rerr)) == NULL)
		return rerr.msg;
	if (maxread)
		t2m_reader_input(r)->maxread = maxread;
	if (t2m_reader_begin(r, &m, &rerr) < 0)
		goto fail;
	while ((rc = t2m_reader_next(r, &c, &rerr)) == 1) {
		got_records++;
		at = c.offset;
		while ((k = t2m_reader_read(r, buf, sizeof buf, &rerr)) > 0) {
			for (i = 0; i < k; i++)
				if (buf[i] != pat(c.index, at + (uint64_t)i))
					mismatch++;
			at += (uint64_t)k;
		}
		if (k < 0)
			goto fail;
		if (at != c.offset + c.length)
			mismatch++;
		got_bytes += c.length;
	}
	if (rc < 0)
		goto fail;
	/* Once at the end, the reader stays there. */
	if (t2m_reader_next(r, &c, &rerr) != 0)
		mismatch++;
	if (mismatch) {
		printf("# %d data bytes or lengths differ\n", mismatch);
		unit_failures++;
	}
	t2m_reader_free(r);
	close(fd);
	return "";
fail:
	t2m_reader_free(r);
	close(fd);
	return rerr.msg[0] ? rerr.msg : "(failed without a message)";
}

static const char *
read_bytes(const struct bytes *b, size_t maxread)
{
	return read_fd(bytes_fd(b->p, b->len), maxread);
}

/* "record N at offset X: " */
static const char *
where(int rec, size_t off)
{
	static char s[64];

	snprintf(s, sizeof s, "record %d at offset %zu: ", rec, off);
	return s;
}

/* ---- the round trip ---- */

static const struct {
	const char *name;
	int dtype, ndim;
	uint64_t shape[3];
} rt[] = {
	{ "model.layers.0.weight", T2M_F32, 2, { 3, 5 } },
	{ "scalar", T2M_F64, 0, { 0 } },
	{ "empty", T2M_F16, 2, { 0, 3 } },
	{ "gewicht.gr\xc3\xb6\xc3\x9f" "e", T2M_BF16, 1, { 7 } },
	{ "\xe5\x90\x8d\xe5\x89\x8d/\xe3\x83\x86", T2M_U8, 3, { 2, 1, 5 } },
	{ "mask", T2M_BOOL, 1, { 9 } },
	{ "packed", T2M_F4, 2, { 2, 3 } },
	{ "six", T2M_F6_E2M3, 1, { 4 } },
	{ "big", T2M_I64, 1, { 40 } },
	{ "emoji\xf0\x9f\x98\x80", T2M_C64, 1, { 2 } },
};
#define NRT (sizeof rt / sizeof rt[0])

static struct t2m_manifest *
rt_manifest(void)
{
	struct t2m_manifest *m = t2m_manifest_new();
	struct t2m_module *mod;
	struct t2m_tensor *t;
	t2m_error err;
	size_t i;
	int bad = 0;

	bad |= t2m_attrs_set(m, &m->info, "format", "torch", &err);
	bad |= t2m_attrs_set(m, &m->info, "source", "/tmp/a dir/m.pt", &err);
	bad |= t2m_attrs_set(m, &m->meta, "zeta", "last", &err);
	bad |= t2m_attrs_set(m, &m->meta, "alpha", "first", &err);
	bad |= t2m_attrs_set(m, &m->meta, "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87",
	    "\xd0\xb7\xd0\xbd\xd0\xb0\xd1\x87", &err);
	bad |= t2m_attrs_set(m, &m->meta, "empty", "", &err);
	if ((mod = t2m_manifest_add_module(m, "", &err)) == NULL)
		abort();
	bad |= t2m_attrs_set(m, &mod->attrs, "class", "Model", &err);
	if ((mod = t2m_manifest_add_module(m, "encoder", &err)) == NULL)
		abort();
	bad |= t2m_attrs_set(m, &mod->attrs, "class", "Encoder", &err);
	bad |= t2m_attrs_set(m, &mod->attrs, "layers", "2", &err);
	if (t2m_manifest_add_module(m, "encoder.layers.0", &err) == NULL)
		abort();
	for (i = 0; i < NRT; i++) {
		if ((t = t2m_manifest_add(m, rt[i].name, rt[i].dtype,
		    rt[i].ndim, rt[i].shape, &err)) == NULL) {
			printf("# %s\n", err.msg);
			abort();
		}
		if (i == 0) {
			bad |= t2m_attrs_set(m, &t->attrs, "module",
			    "encoder.layers.0", &err);
			bad |= t2m_attrs_set(m, &t->attrs, "param", "weight",
			    &err);
		}
		if (i == 3)
			bad |= t2m_attrs_set(m, &t->attrs,
			    "\xe6\xb3\xa8", "x\"y\\z\n", &err);
	}
	if (bad)
		abort();
	return m;
}

static uint32_t rt_seq[1024];	/* tensor index of each data record */
static size_t rt_nseq;

/* Write m's tensors interleaved in uneven pieces, chunk bytes a record. */
static void
rt_write(int fd, const struct t2m_manifest *m, size_t chunk)
{
	struct t2m_writer *w;
	unsigned char buf[16];
	uint64_t done[NRT] = { 0 }, left, piece, k;
	t2m_error err;
	uint32_t i;
	int step, more;

	rt_nseq = 0;
	if ((w = t2m_writer_new(fd, "out", chunk, &err)) == NULL ||
	    t2m_writer_begin(w, m, &err) < 0)
		goto fail;
	for (step = 0, more = 1; more; step++) {
		more = 0;
		for (i = 0; i < m->ntensors; i++) {
			if ((left = m->tensors[i].nbytes - done[i]) == 0)
				continue;
			piece = (uint64_t)(step * 3 + i) % 7 + 1;
			if (piece > left)
				piece = left;
			for (k = 0; k < piece; k++)
				buf[k] = pat(i, done[i] + k);
			if (t2m_writer_data(w, i, buf, piece, &err) < 0)
				goto fail;
			for (k = 0; k < piece; k += chunk)
				rt_seq[rt_nseq++] = i;
			done[i] += piece;
			more = 1;
		}
	}
	if (t2m_writer_end(w, &err) < 0)
		goto fail;
	t2m_writer_free(w);
	return;
fail:
	printf("# writer: %s\n", err.msg);
	exit(1);
}

static void
check_attrs(const char *what, const struct t2m_attrs *want,
    const struct t2m_attrs *got)
{
	uint32_t i;

	if (want->n != got->n) {
		printf("# %s: %u entries, expected %u\n", what, got->n,
		    want->n);
		unit_failures++;
		return;
	}
	for (i = 0; i < want->n; i++)
		if (strcmp(want->kv[i].key, got->kv[i].key) != 0 ||
		    strcmp(want->kv[i].val, got->kv[i].val) != 0) {
			printf("# %s: entry %u is %s=%s, expected %s=%s\n",
			    what, i, got->kv[i].key, got->kv[i].val,
			    want->kv[i].key, want->kv[i].val);
			unit_failures++;
		}
}

static void
check_manifest(const struct t2m_manifest *want,
    const struct t2m_manifest *got)
{
	const struct t2m_tensor *a, *b;
	uint32_t i;
	int d;

	check_attrs("info", &want->info, &got->info);
	check_attrs("metadata", &want->meta, &got->meta);
	CHECK_INT(want->nmodules, got->nmodules);
	for (i = 0; i < want->nmodules && i < got->nmodules; i++) {
		CHECK_STR(want->modules[i].path, got->modules[i].path);
		check_attrs("module", &want->modules[i].attrs,
		    &got->modules[i].attrs);
	}
	CHECK_INT(want->ntensors, got->ntensors);
	for (i = 0; i < want->ntensors && i < got->ntensors; i++) {
		a = &want->tensors[i];
		b = &got->tensors[i];
		CHECK_STR(a->name, b->name);
		CHECK_INT(a->dtype, b->dtype);
		CHECK_INT(a->ndim, b->ndim);
		for (d = 0; d < a->ndim && d < b->ndim; d++)
			CHECK_U64(a->shape[d], b->shape[d]);
		CHECK_U64(a->nbytes, b->nbytes);
		CHECK_INT(i, t2m_manifest_find(got, a->name));
		check_attrs("tensor", &a->attrs, &b->attrs);
	}
}

enum { READ_ALL, READ_NONE, READ_ONE };

/* Read back what rt_write wrote, in one of three ways, and compare. */
static void
rt_read(int fd, const struct t2m_manifest *want, size_t chunk,
    size_t maxread, int how)
{
	unsigned char *got[NRT];
	uint64_t filled[NRT] = { 0 };
	struct t2m_manifest *m;
	struct t2m_reader *r;
	struct t2m_chunk c;
	t2m_error err;
	size_t rec = 0, i, bad = 0;
	uint64_t k;
	ssize_t n;
	int rc;

	if (lseek(fd, 0, SEEK_SET) < 0)
		abort();
	for (i = 0; i < NRT; i++)
		got[i] = calloc(1, want->tensors[i].nbytes + 1);
	r = t2m_reader_new(fd, "in", &err);
	CHECK(r != NULL);
	if (maxread)
		t2m_reader_input(r)->maxread = maxread;
	if (t2m_reader_begin(r, &m, &err) < 0) {
		printf("# begin: %s\n", err.msg);
		unit_failures++;
		goto out;
	}
	/* With maxread 1 nothing may be buffered beyond what was asked. */
	if (maxread == 1)
		CHECK_INT(0, t2m_reader_input(r)->tail -
		    t2m_reader_input(r)->head);
	check_manifest(want, m);
	while ((rc = t2m_reader_next(r, &c, &err)) == 1) {
		if (c.index >= NRT || c.length < 1 || c.length > chunk ||
		    c.offset != filled[c.index] || rec >= rt_nseq ||
		    rt_seq[rec] != c.index) {
			printf("# record %zu: tensor %u [%llu, +%llu)\n", rec,
			    c.index, (unsigned long long)c.offset,
			    (unsigned long long)c.length);
			unit_failures++;
			goto out;
		}
		rec++;
		filled[c.index] += c.length;
		if (how == READ_NONE)
			continue;
		for (k = 0; k < c.length; k += (uint64_t)n) {
			n = t2m_reader_read(r, got[c.index] + c.offset + k,
			    how == READ_ONE ? 1 : 2, &err);
			if (n <= 0) {
				printf("# read: %s\n", err.msg);
				unit_failures++;
				goto out;
			}
			if (how == READ_ONE)
				break;
		}
		if (how == READ_ALL)
			CHECK_INT(0, t2m_reader_read(r, got[0], 1, &err));
	}
	if (rc < 0) {
		printf("# next: %s\n", err.msg);
		unit_failures++;
	}
	CHECK_INT(rt_nseq, rec);
	for (i = 0; i < NRT; i++) {
		CHECK_U64(want->tensors[i].nbytes, filled[i]);
		if (how == READ_ALL)
			for (k = 0; k < want->tensors[i].nbytes; k++)
				if (got[i][k] != pat((uint32_t)i, k))
					bad++;
	}
	CHECK_INT(0, bad);
out:
	t2m_reader_free(r);
	for (i = 0; i < NRT; i++)
		free(got[i]);
}

static int
tmp_fd(void)
{
	return bytes_fd("", 0);
}

TEST(stream_round_trip)
{
	struct t2m_manifest *m = rt_manifest();
	int fd = tmp_fd();

	rt_write(fd, m, 3);
	CHECK(rt_nseq > 150);
	rt_read(fd, m, 3, 0, READ_ALL);
	t2m_manifest_free(m);
	close(fd);
}

TEST(stream_round_trip_bytewise_input)
{
	struct t2m_manifest *m = rt_manifest();
	int fd = tmp_fd();

	rt_write(fd, m, 3);
	rt_read(fd, m, 3, 1, READ_ALL);
	rt_read(fd, m, 3, 1, READ_ONE);
	rt_read(fd, m, 3, 1, READ_NONE);
	t2m_manifest_free(m);
	close(fd);
}

/* next() skips whatever the caller left of a payload. */
TEST(stream_round_trip_skipping)
{
	struct t2m_manifest *m = rt_manifest();
	int fd = tmp_fd();

	rt_write(fd, m, 5);
	rt_read(fd, m, 5, 0, READ_NONE);
	rt_read(fd, m, 5, 0, READ_ONE);
	t2m_manifest_free(m);
	close(fd);
}

/* A pipe: no size, no seeking, reads of whatever the writer flushed. */
TEST(stream_round_trip_pipe)
{
	struct t2m_manifest *m = rt_manifest();
	struct bytes b = { 0 };
	int fd = tmp_fd(), p[2], status;
	pid_t pid;

	rt_write(fd, m, 3);
	slurp(fd, &b);
	close(fd);
	if (pipe(p) < 0 || (pid = fork()) < 0)
		abort();
	if (pid == 0) {
		close(p[0]);
		_exit(t2m_write_full(p[1], b.p, b.len) < 0);
	}
	close(p[1]);
	CHECK_STR("", read_fd(p[0], 0));
	CHECK_U64(rt_nseq, got_records);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0);
	b_free(&b);
	t2m_manifest_free(m);
}

/*
 * The stream used by the byte-exact and truncation tests: every part of
 * the manifest present, records split by a chunk of 4.
 */
static struct t2m_manifest *
spec_manifest(void)
{
	struct t2m_manifest *m = t2m_manifest_new();
	struct t2m_module *mod;
	struct t2m_tensor *t;
	t2m_error err;

	if (t2m_attrs_set(m, &m->info, "format", "safetensors", &err) < 0 ||
	    t2m_attrs_set(m, &m->meta, "k", "v", &err) < 0 ||
	    (mod = t2m_manifest_add_module(m, "enc", &err)) == NULL ||
	    t2m_attrs_set(m, &mod->attrs, "class", "L", &err) < 0 ||
	    (t = t2m_manifest_add(m, "a", T2M_U8, 1, (uint64_t[]){ 5 },
	    &err)) == NULL ||
	    t2m_attrs_set(m, &t->attrs, "x", "y", &err) < 0 ||
	    t2m_manifest_add(m, "b", T2M_I16, 1, (uint64_t[]){ 3 },
	    &err) == NULL ||
	    t2m_manifest_add(m, "s", T2M_F32, 0, NULL, &err) == NULL ||
	    t2m_manifest_add(m, "z", T2M_F16, 2, (uint64_t[]){ 0, 3 },
	    &err) == NULL)
		abort();
	return m;
}

static void
spec_bytes(struct bytes *b)
{
	struct bytes mp = { 0 };

	s_header(b, 1, 0, 0);
	b_le(&mp, 1, 4);
	b_str(&mp, "format");
	b_str(&mp, "safetensors");
	b_le(&mp, 1, 4);
	b_str(&mp, "k");
	b_str(&mp, "v");
	b_le(&mp, 1, 4);
	b_str(&mp, "enc");
	b_le(&mp, 1, 4);
	b_str(&mp, "class");
	b_str(&mp, "L");
	b_le(&mp, 4, 4);
	b_str(&mp, "a");
	b_add(&mp, "\x02\x01\0\0", 4);
	b_le(&mp, 5, 8);
	b_le(&mp, 5, 8);
	b_le(&mp, 1, 4);
	b_str(&mp, "x");
	b_str(&mp, "y");
	/* Codes from the format's table: I16 4, F32 10, F16 6. */
	m_tensor(&mp, "b", 4, 1, (uint64_t[]){ 3 }, 6);
	m_tensor(&mp, "s", 10, 0, NULL, 4);
	m_tensor(&mp, "z", 6, 2, (uint64_t[]){ 0, 3 }, 0);
	s_mani(b, &mp);
	s_data(b, 0, 0, 4);
	s_data(b, 0, 4, 1);
	s_data(b, 1, 0, 4);
	s_data(b, 1, 4, 2);
	s_data(b, 2, 0, 4);
	s_ends(b, 4, 5, 15);
	b_free(&mp);
}

static void
spec_write(int fd, const struct t2m_manifest *m)
{
	unsigned char buf[8];
	struct t2m_writer *w;
	t2m_error err;
	uint32_t i;
	uint64_t k;

	if ((w = t2m_writer_new(fd, "out", 4, &err)) == NULL ||
	    t2m_writer_begin(w, m, &err) < 0)
		goto fail;
	for (i = 0; i < m->ntensors; i++) {
		for (k = 0; k < m->tensors[i].nbytes; k++)
			buf[k] = pat(i, k);
		if (t2m_writer_data(w, i, buf, m->tensors[i].nbytes, &err) < 0)
			goto fail;
	}
	if (t2m_writer_end(w, &err) < 0)
		goto fail;
	t2m_writer_free(w);
	return;
fail:
	printf("# writer: %s\n", err.msg);
	exit(1);
}

TEST(stream_writer_bytes_match_format)
{
	struct t2m_manifest *m = spec_manifest();
	struct bytes want = { 0 }, got = { 0 };
	int fd = tmp_fd();
	size_t i;

	spec_write(fd, m);
	slurp(fd, &got);
	spec_bytes(&want);
	CHECK_INT(want.len, got.len);
	for (i = 0; i < want.len && i < got.len; i++)
		if (want.p[i] != got.p[i]) {
			printf("# first difference at byte %zu: %02x, expected "
			    "%02x\n", i, got.p[i], want.p[i]);
			unit_failures++;
			break;
		}
	CHECK_STR("", read_bytes(&want, 0));
	CHECK_U64(5, got_records);
	CHECK_U64(15, got_bytes);
	b_free(&want);
	b_free(&got);
	t2m_manifest_free(m);
	close(fd);
}

/* ---- faults ---- */

TEST(stream_rejects_bad_magic)
{
	struct bytes b = { 0 };
	static const char junk[] = "hello, this is not a t2m stream at all";

	small_stream(&b);
	b.p[1] = 't';
	CHECK_MSG("not a t2m stream (bad magic)", read_bytes(&b, 0));
	b.p[1] = 'T';
	b.p[0] = 0x88;
	CHECK_MSG("bad magic", read_bytes(&b, 0));
	b.p[0] = 0x89;
	b.p[7] = '\r';
	CHECK_MSG("bad magic", read_bytes(&b, 0));
	b_free(&b);
	b_add(&b, junk, sizeof junk - 1);
	CHECK_MSG("bad magic", read_bytes(&b, 0));
	b.len = 5;
	CHECK_MSG("bad magic", read_bytes(&b, 0));
	b.len = 0;
	CHECK_MSG("empty input", read_bytes(&b, 0));
	b_free(&b);
}

static void
header_stream(struct bytes *b, unsigned major, unsigned minor,
    uint32_t flags)
{
	struct bytes mp = { 0 };

	s_header(b, major, minor, flags);
	small_manifest(&mp);
	s_mani(b, &mp);
	s_data(b, 0, 0, 5);
	s_data(b, 1, 0, 6);
	s_ends(b, 2, 2, 11);
	b_free(&mp);
}

TEST(stream_versions_and_flags)
{
	struct bytes b = { 0 };

	header_stream(&b, 1, 0, 0);
	CHECK_STR("", read_bytes(&b, 0));
	b_free(&b);
	/* Minor versions only add what old readers may ignore. */
	header_stream(&b, 1, 65535, 0);
	CHECK_STR("", read_bytes(&b, 0));
	b_free(&b);
	header_stream(&b, 2, 0, 0);
	CHECK_MSG("stream version 2.0 is not supported", read_bytes(&b, 0));
	b_free(&b);
	header_stream(&b, 0, 1, 0);
	CHECK_MSG("stream version 0.1 is not supported", read_bytes(&b, 0));
	b_free(&b);
	header_stream(&b, 1, 0, 1);
	CHECK_MSG("stream flags 0x00000001: reserved bits set",
	    read_bytes(&b, 0));
	b_free(&b);
	header_stream(&b, 1, 0, 0x80000000u);
	CHECK_MSG("reserved bits set", read_bytes(&b, 0));
	b_free(&b);
}

TEST(stream_rejects_checksums)
{
	struct bytes b = { 0 };
	size_t rec2;

	small_stream(&b);
	rec2 = 20 + 32 + get_le(b.p + 20 + 16, 8);

	b.p[10] ^= 1;
	CHECK_MSG("stream header checksum mismatch", read_bytes(&b, 0));
	b.p[10] ^= 1;
	b.p[19] ^= 0x80;
	CHECK_MSG("stream header checksum mismatch", read_bytes(&b, 0));
	b.p[19] ^= 0x80;
	CHECK_STR("", read_bytes(&b, 0));

	/* Record 1 is the manifest; its header and its payload. */
	b.p[20 + 16] ^= 1;
	CHECK_MSG(where(1, 20), read_bytes(&b, 0));
	CHECK_MSG("record header checksum mismatch", rerr.msg);
	b.p[20 + 16] ^= 1;
	b.p[rec2 - 1] ^= 0x40;
	CHECK_MSG(where(1, 20), read_bytes(&b, 0));
	CHECK_MSG("manifest checksum mismatch", rerr.msg);
	b.p[rec2 - 1] ^= 0x40;
	b.p[20 + 24] ^= 1;
	le(b.p + 20 + 28, t2m_crc32(0, b.p + 20, 28), 4);
	CHECK_MSG("manifest checksum mismatch", read_bytes(&b, 0));
	b.p[20 + 24] ^= 1;
	le(b.p + 20 + 28, t2m_crc32(0, b.p + 20, 28), 4);

	/* Record 2, the first data record: index, then the hcrc itself. */
	b.p[rec2 + 4] ^= 1;
	CHECK_MSG(where(2, rec2), read_bytes(&b, 0));
	CHECK_MSG("record header checksum mismatch", rerr.msg);
	b.p[rec2 + 4] ^= 1;
	b.p[rec2 + 31] ^= 0x10;
	CHECK_MSG("record header checksum mismatch", read_bytes(&b, 0));
	b.p[rec2 + 31] ^= 0x10;
	CHECK_STR("", read_bytes(&b, 0));

	/* The end record's payload. */
	b.p[b.len - 1] ^= 1;
	CHECK_MSG("end record checksum mismatch", read_bytes(&b, 0));
	b_free(&b);
}

/* Every proper prefix of a valid stream is an error, never a success. */
static void
truncations(size_t maxread)
{
	struct bytes b = { 0 };
	const char *msg;
	size_t n, mani_end;
	int accepted = 0;

	spec_bytes(&b);
	mani_end = 20 + 32 + get_le(b.p + 36, 8);
	CHECK_STR("", read_bytes(&b, maxread));
	for (n = 0; n < b.len; n++) {
		msg = read_fd(bytes_fd(b.p, n), maxread);
		if (*msg == '\0' || strstr(msg, "without a message")) {
			printf("# prefix of %zu bytes: \"%s\"\n", n, msg);
			accepted++;
		}
		if (n == 0)
			CHECK_MSG("empty input", msg);
		else if (n < 8)
			CHECK_MSG("bad magic", msg);
		else if (n < 20)
			CHECK_MSG("truncated stream header", msg);
		else if (n == 20)
			CHECK_MSG("stream ends before its manifest", msg);
		else if (n < 52)
			CHECK_MSG("truncated record header", msg);
		else if (n < mani_end)
			CHECK_MSG("truncated payload", msg);
		else if (n == mani_end)
			CHECK_MSG("stream ends without an end record", msg);
		else if (n == b.len - 56)
			CHECK_MSG("stream ends without an end record", msg);
		else if (n > b.len - 56 && n < b.len - 24)
			CHECK_MSG("truncated record header", msg);
		else if (n >= b.len - 24)
			CHECK_MSG("truncated end record", msg);
	}
	CHECK_INT(0, accepted);
	b_free(&b);
}

TEST(stream_truncated_everywhere)
{
	truncations(0);
}

TEST(stream_truncated_everywhere_bytewise)
{
	truncations(1);
}

TEST(stream_rejects_bad_data_records)
{
	struct bytes b = { 0 };
	size_t at;

	small_begin(&b);
	at = b.len;
	s_data(&b, 2, 0, 1);
	CHECK_MSG(where(2, at), read_bytes(&b, 0));
	CHECK_MSG("data for tensor 2, but the manifest has 2", rerr.msg);
	b_free(&b);

	small_begin(&b);
	s_data(&b, UINT32_MAX, 0, 1);
	CHECK_MSG("data for tensor 4294967295", read_bytes(&b, 0));
	b_free(&b);

	/* Bytes of one tensor arrive in order, with no gap or repeat. */
	small_begin(&b);
	s_data(&b, 0, 0, 3);
	s_data(&b, 1, 0, 2);
	at = b.len;
	s_data(&b, 0, 4, 1);
	CHECK_MSG(where(4, at), read_bytes(&b, 0));
	CHECK_MSG("tensor 'a': data at byte 4, expected byte 3", rerr.msg);
	b_free(&b);

	small_begin(&b);
	s_data(&b, 0, 0, 3);
	s_data(&b, 0, 0, 2);
	CHECK_MSG("tensor 'a': data at byte 0, expected byte 3",
	    read_bytes(&b, 0));
	b_free(&b);

	small_begin(&b);
	s_data(&b, 1, 2, 4);
	CHECK_MSG("tensor 'b': data at byte 2, expected byte 0",
	    read_bytes(&b, 0));
	b_free(&b);

	small_begin(&b);
	s_data(&b, 0, 0, 6);
	CHECK_MSG("tensor 'a': 6 bytes at byte 0 overrun its 5 bytes",
	    read_bytes(&b, 0));
	b_free(&b);

	small_begin(&b);
	s_data(&b, 0, 0, 3);
	s_data(&b, 0, 3, 3);
	CHECK_MSG("overrun", read_bytes(&b, 0));
	b_free(&b);

	/* A huge length is refused before anything is read or skipped. */
	small_begin(&b);
	s_rechdr(&b, "DATA", 1, 0, UINT64_MAX, 0);
	CHECK_MSG("overrun", read_bytes(&b, 0));
	b_free(&b);

	small_begin(&b);
	s_rechdr(&b, "DATA", 0, 0, 0, 0);
	s_data(&b, 0, 0, 5);
	s_data(&b, 1, 0, 6);
	s_ends(&b, 2, 3, 11);
	CHECK_MSG("empty data record for tensor 'a'", read_bytes(&b, 0));
	b_free(&b);

	small_begin(&b);
	s_rechdr(&b, "DATA", 0, 0, 5, 1);
	b_add(&b, "abcde", 5);
	CHECK_MSG("data record checksum field is not zero", read_bytes(&b, 0));
	b_free(&b);

	/* A data record promising more than the stream holds. */
	small_begin(&b);
	s_data(&b, 1, 0, 6);
	b.len -= 2;
	CHECK_MSG("truncated payload", read_bytes(&b, 0));
	b_free(&b);
}

TEST(stream_rejects_bad_endings)
{
	struct bytes b = { 0 };

	small_begin(&b);
	CHECK_MSG("stream ends without an end record", read_bytes(&b, 0));
	s_data(&b, 0, 0, 5);
	s_data(&b, 1, 0, 6);
	CHECK_MSG("stream ends without an end record", read_bytes(&b, 0));
	b_free(&b);

	small_begin(&b);
	s_data(&b, 0, 0, 5);
	s_data(&b, 1, 0, 6);
	s_ends(&b, 2, 2, 12);
	CHECK_MSG("end record counts (2 tensors, 2 records, 12 bytes) "
	    "disagree with the stream (2, 2, 11)", read_bytes(&b, 0));
	b.len -= 56;
	s_ends(&b, 3, 2, 11);
	CHECK_MSG("end record counts", read_bytes(&b, 0));
	b.len -= 56;
	s_ends(&b, 2, 3, 11);
	CHECK_MSG("end record counts", read_bytes(&b, 0));
	b.len -= 56;
	s_ends(&b, 2, 2, 11);
	CHECK_STR("", read_bytes(&b, 0));

	/* Nothing at all may follow the end record. */
	b_add(&b, "", 1);
	CHECK_MSG("data after the end record", read_bytes(&b, 0));
	b.len--;
	s_anc(&b, "note", 3);
	CHECK_MSG("data after the end record", read_bytes(&b, 0));
	b.len -= 35;
	s_ends(&b, 2, 2, 11);
	CHECK_MSG("data after the end record", read_bytes(&b, 0));
	b_free(&b);

	/* Counts that agree do not excuse a tensor left short. */
	small_begin(&b);
	s_data(&b, 0, 0, 3);
	s_data(&b, 1, 0, 6);
	s_ends(&b, 2, 2, 9);
	CHECK_MSG("tensor 'a' is incomplete (3 of 5 bytes)", read_bytes(&b, 0));
	b_free(&b);

	small_begin(&b);
	s_data(&b, 0, 0, 5);
	s_data(&b, 1, 0, 6);
	s_rechdr(&b, "ENDS", 0, 0, 23, 0);
	b_add(&b, "01234567890123456789012", 23);
	CHECK_MSG("malformed end record", read_bytes(&b, 0));
	b_free(&b);

	small_begin(&b);
	s_data(&b, 0, 0, 5);
	s_data(&b, 1, 0, 6);
	{
		unsigned char p[24];

		le(p, 2, 8);
		le(p + 8, 2, 8);
		le(p + 16, 11, 8);
		s_rechdr(&b, "ENDS", 1, 0, 24, t2m_crc32(0, p, 24));
		b_add(&b, p, 24);
	}
	CHECK_MSG("malformed end record", read_bytes(&b, 0));
	b_free(&b);
}

TEST(stream_rejects_unknown_records)
{
	static const char *tags[] = { "DATX", "Data", "XXXX", "MANI", "1abc",
	    "`abc", "{abc", "\x80\x61\x62\x63", "\0abc" };
	struct bytes b = { 0 };
	char want[64];
	size_t i;

	for (i = 0; i < sizeof tags / sizeof tags[0]; i++) {
		small_begin(&b);
		s_data(&b, 0, 0, 5);
		s_rechdr(&b, tags[i], 0, 0, 0, 0);
		s_data(&b, 1, 0, 6);
		s_ends(&b, 2, 2, 11);
		snprintf(want, sizeof want, "unknown record type '%.4s'",
		    tags[i]);
		CHECK_MSG(tags[i][0] ? want : "unknown record type",
		    read_bytes(&b, 0));
		b_free(&b);
	}

	s_header(&b, 1, 0, 0);
	s_rechdr(&b, "XXXX", 0, 0, 0, 0);
	CHECK_MSG("expected the manifest, found a 'XXXX' record",
	    read_bytes(&b, 0));
	b_free(&b);
	s_header(&b, 1, 0, 0);
	s_data(&b, 0, 0, 1);
	CHECK_MSG("expected the manifest, found a 'DATA' record",
	    read_bytes(&b, 0));
	b_free(&b);
	s_header(&b, 1, 0, 0);
	s_ends(&b, 0, 0, 0);
	CHECK_MSG("expected the manifest", read_bytes(&b, 0));
	b_free(&b);
}

/* Ancillary records (lowercase first letter) are skipped wherever they are. */
TEST(stream_skips_ancillary_records)
{
	struct bytes b = { 0 }, mp = { 0 };
	size_t maxread;

	for (maxread = 0; maxread <= 1; maxread++) {
		s_header(&b, 1, 0, 0);
		s_anc(&b, "anci", 5);
		s_anc(&b, "zzzz", 0);
		small_manifest(&mp);
		s_mani(&b, &mp);
		b_free(&mp);
		s_anc(&b, "note", 300000);
		s_data(&b, 0, 0, 3);
		s_anc(&b, "a\0\0\0", 1);
		s_data(&b, 1, 0, 6);
		s_anc(&b, "x1Y!", 2);
		s_anc(&b, "mANI", 8);
		s_data(&b, 0, 3, 2);
		s_anc(&b, "ends", 24);
		s_ends(&b, 2, 3, 11);
		CHECK_STR("", read_bytes(&b, maxread));
		CHECK_U64(3, got_records);
		CHECK_U64(11, got_bytes);
		b_free(&b);
	}

	small_begin(&b);
	s_rechdr(&b, "huge", 0, 0, ((uint64_t)1 << 30) + 1, 0);
	CHECK_MSG("ancillary record of 1073741825 bytes", read_bytes(&b, 0));
	b_free(&b);

	small_begin(&b);
	s_rechdr(&b, "cut!", 0, 0, 100, 0);
	b_add(&b, "0123456789", 10);
	CHECK_MSG("truncated ancillary record", read_bytes(&b, 0));
	b_free(&b);
}

TEST(stream_rejects_bad_manifests)
{
	struct bytes b = { 0 }, mp = { 0 };

	/* Payload that outlasts its contents. */
	small_manifest(&mp);
	b_add(&mp, "xyz", 3);
	manifest_stream(&b, &mp);
	CHECK_MSG("3 stray bytes after the last tensor", read_bytes(&b, 0));
	b_free(&b);
	b_free(&mp);

	/* Payload shorter than its contents. */
	small_manifest(&mp);
	mp.len -= 1;
	manifest_stream(&b, &mp);
	CHECK_MSG("manifest ends inside", read_bytes(&b, 0));
	b_free(&b);
	b_free(&mp);

	manifest_stream(&b, &mp);
	CHECK_MSG("manifest ends inside source information",
	    read_bytes(&b, 0));
	b_free(&b);

	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, 2, 4);
	m_tensor(&mp, "a", T2M_U8, 1, (uint64_t[]){ 5 }, 5);
	m_tensor(&mp, "a", T2M_U8, 1, (uint64_t[]){ 5 }, 5);
	manifest_stream(&b, &mp);
	CHECK_MSG("tensor 'a' appears twice", read_bytes(&b, 0));
	b_free(&b);
	b_free(&mp);

	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, 1, 4);
	m_tensor(&mp, "a", T2M_U8, 1, (uint64_t[]){ 5 }, 6);
	manifest_stream(&b, &mp);
	CHECK_MSG("tensor 'a': size 6 does not match its shape and dtype "
	    "(5 bytes)", read_bytes(&b, 0));
	b_free(&b);
	b_free(&mp);

	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, 1, 4);
	m_tensor(&mp, "f4", T2M_F4, 1, (uint64_t[]){ 3 }, 1);
	manifest_stream(&b, &mp);
	CHECK_MSG("whole bytes", read_bytes(&b, 0));
	b_free(&b);
	b_free(&mp);

	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, 1, 4);
	m_tensor(&mp, "big", T2M_U8, 2,
	    (uint64_t[]){ (uint64_t)1 << 32, (uint64_t)1 << 32 }, 0);
	manifest_stream(&b, &mp);
	CHECK_MSG("overflows", read_bytes(&b, 0));
	b_free(&b);
	b_free(&mp);
}

/* A manifest with one tensor whose 4 description bytes are d. */
static void
desc_stream(struct bytes *b, const unsigned char *d)
{
	struct bytes mp = { 0 };
	int i;

	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, 1, 4);
	b_str(&mp, "t");
	b_add(&mp, d, 4);
	for (i = 0; i < d[1]; i++)
		b_le(&mp, 1, 8);
	b_le(&mp, 1, 8);
	b_le(&mp, 0, 4);
	s_header(b, 1, 0, 0);
	s_mani(b, &mp);
	s_data(b, 0, 0, 1);
	s_ends(b, 1, 1, 1);
	b_free(&mp);
}

TEST(stream_rejects_bad_tensor_descriptions)
{
	struct bytes b = { 0 };

	desc_stream(&b, (const unsigned char *)"\x02\x01\0\0");
	CHECK_STR("", read_bytes(&b, 0));
	b_free(&b);
	desc_stream(&b, (const unsigned char *)"\x00\x01\0\0");
	CHECK_MSG("tensor 't': unknown dtype code 0", read_bytes(&b, 0));
	b_free(&b);
	desc_stream(&b, (const unsigned char *)"\x18\x01\0\0");
	CHECK_MSG("unknown dtype code 24", read_bytes(&b, 0));
	b_free(&b);
	desc_stream(&b, (const unsigned char *)"\x02\x41\0\0");
	CHECK_MSG("tensor 't': 65 dimensions (at most 64)", read_bytes(&b, 0));
	b_free(&b);
	desc_stream(&b, (const unsigned char *)"\x02\x01\x01\0");
	CHECK_MSG("reserved bytes are not zero", read_bytes(&b, 0));
	b_free(&b);
	desc_stream(&b, (const unsigned char *)"\x02\x01\0\x80");
	CHECK_MSG("reserved bytes are not zero", read_bytes(&b, 0));
	b_free(&b);

	/* Too many dimensions is caught before their sizes are read. */
	{
		struct bytes mp = { 0 };

		b_le(&mp, 0, 4);
		b_le(&mp, 0, 4);
		b_le(&mp, 0, 4);
		b_le(&mp, 1, 4);
		b_str(&mp, "t");
		b_add(&mp, "\x02\x41\0\0", 4);
		manifest_stream(&b, &mp);
		CHECK_MSG("tensor 't': 65 dimensions (at most 64)",
		    read_bytes(&b, 0));
		b_free(&b);
		b_free(&mp);
	}
}

/* A manifest whose only tensor "t" (U8 [1]) has one attribute. */
static void
attr_stream(struct bytes *b, const char *key, size_t klen, const char *val,
    size_t vlen)
{
	struct bytes mp = { 0 };

	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, 1, 4);
	b_str(&mp, "t");
	b_add(&mp, "\x02\x01\0\0", 4);
	b_le(&mp, 1, 8);
	b_le(&mp, 1, 8);
	b_le(&mp, 1, 4);
	b_strn(&mp, key, klen);
	b_strn(&mp, val, vlen);
	s_header(b, 1, 0, 0);
	s_mani(b, &mp);
	s_data(b, 0, 0, 1);
	s_ends(b, 1, 1, 1);
	b_free(&mp);
}

TEST(stream_rejects_bad_strings)
{
	struct bytes b = { 0 }, mp = { 0 };
	char *big;

	attr_stream(&b, "k", 1, "v", 1);
	CHECK_STR("", read_bytes(&b, 0));
	b_free(&b);
	attr_stream(&b, "k", 1, "\xc3\xa9\xf0\x9f\x98\x80", 6);
	CHECK_STR("", read_bytes(&b, 0));
	b_free(&b);
	attr_stream(&b, "k", 1, "\xff", 1);
	CHECK_MSG("attribute value is not valid UTF-8", read_bytes(&b, 0));
	b_free(&b);
	attr_stream(&b, "\xed\xa0\x80", 3, "v", 1);
	CHECK_MSG("attribute name is not valid UTF-8", read_bytes(&b, 0));
	b_free(&b);
	attr_stream(&b, "k", 1, "a\0b", 3);
	CHECK_MSG("attribute value is not valid UTF-8", read_bytes(&b, 0));
	b_free(&b);
	attr_stream(&b, "\xc0\x80", 2, "v", 1);
	CHECK_MSG("not valid UTF-8", read_bytes(&b, 0));
	b_free(&b);

	big = calloc(1, T2M_MAX_STRING + 1);
	memset(big, 'v', T2M_MAX_STRING + 1);
	attr_stream(&b, "k", 1, big, T2M_MAX_STRING);
	CHECK_STR("", read_bytes(&b, 0));
	b_free(&b);
	attr_stream(&b, "k", 1, big, T2M_MAX_STRING + 1);
	CHECK_MSG("attribute value is 1048577 bytes long (at most 1048576)",
	    read_bytes(&b, 0));
	b_free(&b);
	free(big);

	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, 1, 4);
	m_tensor(&mp, "bad\xe2\x82", T2M_U8, 1, (uint64_t[]){ 1 }, 1);
	manifest_stream(&b, &mp);
	CHECK_MSG("tensor name is not valid UTF-8", read_bytes(&b, 0));
	b_free(&b);
	b_free(&mp);

	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, 1, 4);
	b_str(&mp, "mod\xc1\xbf");
	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	manifest_stream(&b, &mp);
	CHECK_MSG("module path is not valid UTF-8", read_bytes(&b, 0));
	b_free(&b);
	b_free(&mp);

	/* A key that appears twice in one map. */
	b_le(&mp, 0, 4);
	b_le(&mp, 2, 4);
	b_str(&mp, "k");
	b_str(&mp, "1");
	b_str(&mp, "k");
	b_str(&mp, "2");
	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	manifest_stream(&b, &mp);
	CHECK_MSG("metadata: 'k' appears twice", read_bytes(&b, 0));
	b_free(&b);
	b_free(&mp);
}

TEST(stream_rejects_manifest_limits)
{
	struct bytes b = { 0 }, mp = { 0 };

	b_le(&mp, T2M_MAX_ATTRS + 1, 4);
	manifest_stream(&b, &mp);
	CHECK_MSG("source information: 65537 entries (at most 65536)",
	    read_bytes(&b, 0));
	b_free(&b);
	b_free(&mp);

	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, T2M_MAX_MODULES + 1, 4);
	manifest_stream(&b, &mp);
	CHECK_MSG("16777217 modules (at most 16777216)", read_bytes(&b, 0));
	b_free(&b);
	b_free(&mp);

	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, T2M_MAX_TENSORS + 1, 4);
	manifest_stream(&b, &mp);
	CHECK_MSG("16777217 tensors (at most 16777216)", read_bytes(&b, 0));
	b_free(&b);
	b_free(&mp);

	/* Counts within the limits but beyond the payload fail cheaply. */
	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, T2M_MAX_TENSORS, 4);
	manifest_stream(&b, &mp);
	CHECK_MSG("manifest ends inside tensor name", read_bytes(&b, 0));
	b_free(&b);
	b_free(&mp);

	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, 0, 4);
	b_le(&mp, 1, 4);
	b_le(&mp, 0xffffffffu, 4);
	manifest_stream(&b, &mp);
	CHECK_MSG("tensor name is 4294967295 bytes long", read_bytes(&b, 0));
	b_free(&b);
	b_free(&mp);

	s_header(&b, 1, 0, 0);
	s_rechdr(&b, "MANI", 1, 0, 4, 0);
	CHECK_MSG("manifest header has nonzero index or offset",
	    read_bytes(&b, 0));
	b_free(&b);
	s_header(&b, 1, 0, 0);
	s_rechdr(&b, "MANI", 0, 8, 4, 0);
	CHECK_MSG("nonzero index or offset", read_bytes(&b, 0));
	b_free(&b);
}

/*
 * Below the sanitizers (which reserve terabytes of address space) a cap
 * on address space turns any allocation of the declared length into an
 * "out of memory" the test would see.
 */
static void
limit_memory(void)
{
#if defined(__SANITIZE_ADDRESS__)
#elif defined(__has_feature)
#if !__has_feature(address_sanitizer)
	struct rlimit rl = { (rlim_t)256 << 20, (rlim_t)256 << 20 };

	setrlimit(RLIMIT_AS, &rl);
#endif
#else
	struct rlimit rl = { (rlim_t)256 << 20, (rlim_t)256 << 20 };

	setrlimit(RLIMIT_AS, &rl);
#endif
}

TEST(stream_rejects_huge_manifest_without_allocating)
{
	struct bytes b = { 0 };

	limit_memory();
	s_header(&b, 1, 0, 0);
	s_rechdr(&b, "MANI", 0, 0, T2M_MAX_MANIFEST + 1, 0);
	b_add(&b, "\0\0\0\0\0\0\0\0", 8);
	CHECK_MSG("manifest of 1073741825 bytes (at most 1073741824)",
	    read_bytes(&b, 0));
	b_free(&b);

	s_header(&b, 1, 0, 0);
	s_rechdr(&b, "MANI", 0, 0, UINT64_MAX, 0);
	CHECK_MSG("manifest of 18446744073709551615 bytes", read_bytes(&b, 0));
	b_free(&b);

	/* At the limit the length is believed only as far as bytes arrive. */
	s_header(&b, 1, 0, 0);
	s_rechdr(&b, "MANI", 0, 0, T2M_MAX_MANIFEST, 0);
	b_add(&b, "\0\0\0\0\0\0\0\0", 8);
	CHECK_MSG("truncated payload (1073741824 bytes expected, 8 read)",
	    read_bytes(&b, 0));
	b_free(&b);
}

TEST(stream_rejects_short_headers)
{
	struct bytes b = { 0 };

	s_header(&b, 1, 0, 0);
	CHECK_MSG("stream ends before its manifest", read_bytes(&b, 0));
	b_add(&b, "MANI", 4);
	CHECK_MSG("truncated record header (32 bytes expected, 4 read)",
	    read_bytes(&b, 0));
	b_free(&b);
}

TEST(stream_reader_read_edges)
{
	struct t2m_manifest *m;
	struct t2m_reader *r;
	struct t2m_chunk c;
	struct bytes b = { 0 };
	unsigned char buf[16];
	t2m_error err;
	int fd;

	small_stream(&b);
	fd = bytes_fd(b.p, b.len);
	r = t2m_reader_new(fd, "x", &err);
	CHECK(r != NULL);
	CHECK_INT(0, t2m_reader_begin(r, &m, &err));
	CHECK_INT(2, m->ntensors);
	CHECK_STR("record 1 at offset 20", t2m_reader_where(r));
	CHECK_INT(1, t2m_reader_next(r, &c, &err));
	CHECK_INT(0, c.index);
	CHECK_U64(0, c.offset);
	CHECK_U64(3, c.length);
	CHECK_INT(0, t2m_reader_read(r, buf, 0, &err));
	CHECK_INT(3, t2m_reader_read(r, buf, sizeof buf, &err));
	CHECK(buf[0] == pat(0, 0) && buf[2] == pat(0, 2));
	CHECK_INT(0, t2m_reader_read(r, buf, sizeof buf, &err));
	CHECK_INT(1, t2m_reader_next(r, &c, &err));
	CHECK_INT(1, c.index);
	CHECK_U64(6, c.length);
	CHECK_MSG("record 3 at offset", t2m_reader_where(r));
	CHECK_INT(1, t2m_reader_next(r, &c, &err));
	CHECK_INT(0, c.index);
	CHECK_U64(3, c.offset);
	CHECK_U64(2, c.length);
	CHECK_INT(2, t2m_reader_read(r, buf, sizeof buf, &err));
	CHECK(buf[0] == pat(0, 3) && buf[1] == pat(0, 4));
	CHECK_INT(0, t2m_reader_next(r, &c, &err));
	CHECK_INT(0, t2m_reader_next(r, &c, &err));
	t2m_reader_free(r);
	close(fd);
	b_free(&b);
	t2m_reader_free(NULL);
}

/* ---- the writer ---- */

static struct t2m_manifest *
small_tensors(void)
{
	struct t2m_manifest *m = t2m_manifest_new();
	t2m_error err;

	if (t2m_manifest_add(m, "a", T2M_U8, 1, (uint64_t[]){ 5 }, &err) ==
	    NULL || t2m_manifest_add(m, "b", T2M_I16, 1,
	    (uint64_t[]){ 3 }, &err) == NULL)
		abort();
	return m;
}

TEST(stream_writer_refuses)
{
	struct t2m_manifest *m = small_tensors();
	struct t2m_writer *w;
	unsigned char a[8], bb[8];
	t2m_error err;
	int fd = tmp_fd(), i;

	for (i = 0; i < 8; i++) {
		a[i] = pat(0, (uint64_t)i);
		bb[i] = pat(1, (uint64_t)i);
	}
	w = t2m_writer_new(fd, "out", 2, &err);
	CHECK(w != NULL);
	CHECK_INT(0, t2m_writer_begin(w, m, &err));
	CHECK_INT(-1, t2m_writer_data(w, 0, a, 6, &err));
	CHECK_MSG("tensor 'a': 6 more bytes overrun its 5", err.msg);
	CHECK_INT(-1, t2m_writer_data(w, 2, a, 1, &err));
	CHECK_MSG("data for tensor 2 of 2", err.msg);
	CHECK_INT(-1, t2m_writer_data(w, UINT32_MAX, a, 1, &err));
	CHECK_INT(0, t2m_writer_data(w, 0, a, 3, &err));
	CHECK_INT(-1, t2m_writer_data(w, 0, a + 3, 3, &err));
	CHECK_MSG("overrun", err.msg);
	CHECK_INT(-1, t2m_writer_end(w, &err));
	CHECK_MSG("tensor 'a' is incomplete (3 of 5 bytes)", err.msg);
	CHECK_INT(0, t2m_writer_data(w, 0, a + 3, 2, &err));
	CHECK_INT(0, t2m_writer_data(w, 1, bb, 0, &err));
	CHECK_INT(-1, t2m_writer_end(w, &err));
	CHECK_MSG("tensor 'b' is incomplete (0 of 6 bytes)", err.msg);
	CHECK_INT(0, t2m_writer_data(w, 1, bb, 6, &err));
	CHECK_INT(-1, t2m_writer_data(w, 1, bb, 1, &err));
	CHECK_INT(0, t2m_writer_end(w, &err));
	t2m_writer_free(w);

	/* The refusals wrote nothing: the stream is whole and exact. */
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	CHECK_STR("", read_fd(fd, 0));
	CHECK_U64(2 + 1 + 3, got_records);
	CHECK_U64(11, got_bytes);
	t2m_manifest_free(m);
}

TEST(stream_writer_write_error)
{
	struct t2m_manifest *m = small_tensors();
	struct t2m_writer *w;
	unsigned char buf[8] = { 0 };
	t2m_error err;
	int fd;

	if ((fd = open("/dev/full", O_WRONLY)) < 0) {
		printf("# no /dev/full; skipped\n");
		t2m_manifest_free(m);
		return;
	}
	w = t2m_writer_new(fd, "<stdout>", 0, &err);
	CHECK(w != NULL);
	CHECK_INT(0, t2m_writer_begin(w, m, &err));
	CHECK_INT(0, t2m_writer_data(w, 0, buf, 5, &err));
	CHECK_INT(0, t2m_writer_data(w, 1, buf, 6, &err));
	CHECK_INT(-1, t2m_writer_end(w, &err));
	CHECK_MSG("write error", err.msg);
	CHECK_INT(ENOSPC, err.errnum);
	CHECK(err.subject != NULL && strcmp(err.subject, "<stdout>") == 0);
	t2m_writer_free(w);
	close(fd);
	t2m_manifest_free(m);
}

/* Payloads larger than the writer's buffer go straight through intact. */
TEST(stream_large_tensor)
{
	struct t2m_manifest *m = t2m_manifest_new();
	const uint64_t n = (uint64_t)1 << 20;
	struct t2m_writer *w;
	unsigned char *buf;
	t2m_error err;
	uint64_t k;
	int fd = tmp_fd();

	CHECK(t2m_manifest_add(m, "huge", T2M_U8, 1, &n, &err) != NULL);
	buf = malloc(n);
	for (k = 0; k < n; k++)
		buf[k] = pat(0, k);
	w = t2m_writer_new(fd, "out", 300000, &err);
	CHECK_INT(0, t2m_writer_begin(w, m, &err));
	CHECK_INT(0, t2m_writer_data(w, 0, buf, 1, &err));
	CHECK_INT(0, t2m_writer_data(w, 0, buf + 1, n - 1, &err));
	CHECK_INT(0, t2m_writer_end(w, &err));
	t2m_writer_free(w);
	free(buf);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	CHECK_STR("", read_fd(fd, 0));
	CHECK_U64(1 + 4, got_records);
	CHECK_U64(n, got_bytes);
	t2m_manifest_free(m);
}

/*
 * A manifest many times the reader's window and the writer's buffer, with
 * a string longer than the window, read back in small reads: the same
 * manifest.  Damaged in the middle it is a checksum mismatch, cut short
 * a truncated payload, whatever the parser met first.
 */
TEST(stream_big_manifest_in_pieces)
{
	struct t2m_manifest *m = t2m_manifest_new(), *got;
	struct t2m_tensor *t;
	struct t2m_reader *r;
	struct t2m_writer *w;
	struct t2m_chunk c;
	struct bytes b = { 0 }, cut = { 0 };
	char name[48], mod[48], *big;
	t2m_error err;
	uint32_t i;
	int fd, bad = 0;

	if ((big = malloc(200001)) == NULL)
		abort();
	memset(big, 'x', 200000);
	big[200000] = '\0';
	big[77777] = 'y';
	bad |= t2m_attrs_set(m, &m->meta, "big", big, &err);
	for (i = 0; i < 20000; i++) {
		snprintf(name, sizeof name, "layers.%u.%s", i / 2,
		    i % 2 ? "bias" : "weight");
		snprintf(mod, sizeof mod, "layers.%u", i / 2);
		if (i % 2 == 0 && t2m_manifest_add_module(m, mod, &err) == NULL)
			abort();
		if ((t = t2m_manifest_add(m, name, T2M_F32, 1,
		    (uint64_t[]){ 0 }, &err)) == NULL)
			abort();
		bad |= t2m_attrs_set(m, &t->attrs, "module", mod, &err);
		bad |= t2m_attrs_set(m, &t->attrs, "rule", "identity", &err);
		t2m_attrs_share(m, &t->attrs);
	}
	CHECK_INT(0, bad);

	fd = bytes_fd("", 0);
	if ((w = t2m_writer_new(fd, "out", 0, &err)) == NULL ||
	    t2m_writer_begin(w, m, &err) < 0 || t2m_writer_end(w, &err) < 0) {
		printf("# writer: %s\n", err.msg);
		unit_failures++;
		goto out;
	}
	t2m_writer_free(w);
	if (lseek(fd, 0, SEEK_SET) < 0)
		abort();
	CHECK((r = t2m_reader_new(fd, "in", &err)) != NULL);
	t2m_reader_input(r)->maxread = 333;
	if (t2m_reader_begin(r, &got, &err) < 0) {
		printf("# begin: %s\n", err.msg);
		unit_failures++;
	} else {
		check_manifest(m, got);
		CHECK_INT(0, t2m_reader_next(r, &c, &err));
	}
	t2m_reader_free(r);
	slurp(fd, &b);
	close(fd);

	/* 20 bytes of stream header, 32 of record header, then payload. */
	CHECK(b.len > 52 + 300000);
	b_add(&cut, b.p, 52 + 250000);
	CHECK_MSG("truncated payload", read_bytes(&cut, 0));
	CHECK_MSG("truncated payload", read_bytes(&cut, 1000));
	b.p[52 + 4] ^= 0x40;		/* the metadata count */
	CHECK_MSG("manifest checksum mismatch", read_bytes(&b, 0));
	b.p[52 + 4] ^= 0x40;
	b.p[52 + 150000] ^= 0x01;
	CHECK_MSG("manifest checksum mismatch", read_bytes(&b, 777));
	b.p[52 + 150000] ^= 0x01;
	CHECK_STR("", read_bytes(&b, 0));
out:
	b_free(&b);
	b_free(&cut);
	free(big);
	t2m_manifest_free(m);
}
