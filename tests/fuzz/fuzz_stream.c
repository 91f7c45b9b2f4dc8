/*
 * fuzz_stream.c - libFuzzer target: the bytes are a t2m stream, its
 * checksums made right first (stream.h).  It is read as t2m-transpose reads
 * it, from a pipe and from a file, planned forward and back and run into
 * /dev/null; its manifest reported on as t2m-analyze does; it and the
 * plan's output laid out as t2m-pack lays out its files; and converted
 * and converted back, which must give every tensor back as it was
 * (t2m-transpose(1)), or abort as a crash does.
 */
#define _GNU_SOURCE		/* memfd_create, in stream.h */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t2m.h"
#include "numeric.h"
#include "transpose.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
blocker(void *ctx, const char *kind, const char *where, const char *msg)
{
	(void)ctx;
	(void)kind;
	(void)where;
	(void)msg;
}

/* t2m-pack's layouts of m: safetensors whole and in shards, torch. */
static void
layouts(const struct t2m_manifest *m)
{
	struct t2m_st_layout l;
	struct t2m_st_shards sh;
	struct t2m_pt *pt;
	struct t2m_buf index = { 0 };
	t2m_error e;

	if (t2m_st_layout(m, &l, &e) == 0)
		t2m_st_layout_free(&l);
	if (t2m_st_shard(m, 4096, &sh, &e) == 0) {
		t2m_st_shard_index(m, &sh, &index);
		t2m_st_shards_free(&sh);
	}
	if ((pt = t2m_pt_layout(m, "archive", &e)) != NULL)
		t2m_pt_free(pt);
	t2m_buf_free(&index);
}

/* t2m-transpose's loop, writing to out: 0 when the stream went through
 * whole, -1 when it was refused. */
static int
transpose(int fd, int out, int reverse, int analyze)
{
	struct t2m_xform_opts xo = { 0 };
	const struct t2m_manifest *m = NULL, *o;
	struct t2m_reader *r;
	struct t2m_writer *w = NULL;
	struct t2m_xform *x = NULL;
	struct t2m_buf report = { 0 };
	struct t2m_chunk c;
	unsigned char buf[4096];
	t2m_error e;
	ssize_t k;
	int64_t to;
	int rc, ok = -1;

	if ((r = t2m_reader_new(fd, "<fuzz>", &e)) == NULL)
		return -1;
	if (t2m_reader_begin(r, (struct t2m_manifest **)&m, &e) < 0)
		goto out;
	if (analyze) {
		t2m_analyze_to(m, NULL, T2M_REPORT_JSON, &report, NULL, NULL,
		    &e);
		report.len = 0;
		t2m_analyze_to(m, NULL, T2M_REPORT_TABLE, &report, NULL, NULL,
		    &e);
		layouts(m);
	}
	xo.reverse = reverse;
	xo.blocker = blocker;
	if ((x = t2m_xform_plan(m, &xo, &o, &e)) == NULL)
		goto out;
	if (analyze)
		layouts(o);
	if ((w = t2m_writer_new(out, "<null>", 64, &e)) == NULL ||
	    t2m_writer_begin(w, o, &e) < 0)
		goto out;
	while ((rc = t2m_reader_next(r, &c, &e)) == 1) {
		if ((to = t2m_xform_identity(x, c.index)) >= 0) {
			if (t2m_reader_pass(r, w, (uint32_t)to, &e) < 0)
				goto out;
			continue;
		}
		while ((k = t2m_reader_read(r, buf, sizeof buf, &e)) > 0)
			if (t2m_xform_data(x, w, c.index, buf, (size_t)k,
			    &e) < 0)
				goto out;
		if (k < 0)
			goto out;
	}
	if (rc == 0 && t2m_xform_finish(x, &e) == 0 &&
	    t2m_writer_end(w, &e) == 0)
		ok = 0;
out:
	t2m_buf_free(&report);
	t2m_xform_free(x);
	t2m_writer_free(w);
	t2m_reader_free(r);
	return ok;
}

/*
 * Whether t2m-transpose -r must give back stream s bit for bit from its
 * conversion: s is in PyTorch's layout (t2m-transpose(1): "converting
 * twice changes nothing" holds for a stream in MLX layout instead), and
 * holds none of the keys and attributes conversion writes.
 */
static int
reversible(const struct t2m_manifest *m)
{
	uint32_t i;

	for (i = 0; i < m->meta.n; i++)
		if (strncmp(m->meta.kv[i].key, "t2m.", 4) == 0 ||
		    strcmp(m->meta.kv[i].key, "format") == 0)
			return 0;
	for (i = 0; i < m->ntensors; i++)
		if (t2m_attrs_get(&m->tensors[i].attrs, "t2m.hidden") != NULL)
			return 0;
	return 1;
}

/* Tensor a (of dtype F64 when it differs) as back, after a round trip:
 * t2m-transpose(1) gives float64 back as its float32 value widened. */
static int
same_bytes(const struct t2m_tensor *t, const unsigned char *a,
    const unsigned char *back)
{
	unsigned char want[8], f32[4];
	uint64_t k;

	if (t->nbytes == 0 || memcmp(a, back, (size_t)t->nbytes) == 0)
		return 1;
	if (t->dtype != T2M_F64)
		return 0;
	for (k = 0; k < t->nbytes / 8; k++) {
		t2m_set_float(f32, T2M_F32, 0, t2m_get_float(a, T2M_F64, k));
		t2m_set_float(want, T2M_F64, 0, t2m_get_float(f32, T2M_F32, 0));
		if (memcmp(want, back + 8 * k, 8) != 0 &&
		    !(t2m_get_float(want, T2M_F64, 0) !=
		    t2m_get_float(want, T2M_F64, 0) &&
		    t2m_get_float(back, T2M_F64, k) !=
		    t2m_get_float(back, T2M_F64, k)))
			return 0;
	}
	return 1;
}

/*
 * The stream in fd converted and converted back, through files in
 * memory: when it goes through, the way back must too, and give every
 * tensor back as it was.  A difference aborts.
 */
static void
round_trip(int fd, int mlx, int back)
{
	struct contents a, b;
	const struct t2m_tensor *t, *u;
	uint32_t i;
	long j;

	rewind_empty(mlx);
	rewind_empty(back);
	if (lseek(fd, 0, SEEK_SET) < 0 || transpose(fd, mlx, 0, 0) < 0)
		return;
	if (contents(fd, &a) < 0) {
		fprintf(stderr, "fuzz_stream: an invalid stream was "
		    "converted\n");
		abort();
	}
	if (!reversible(a.m))
		goto out;
	if (lseek(mlx, 0, SEEK_SET) < 0 || transpose(mlx, back, 1, 0) < 0 ||
	    contents(back, &b) < 0) {
		fprintf(stderr, "fuzz_stream: a conversion does not go "
		    "back\n");
		abort();
	}
	if (b.m->ntensors != a.m->ntensors) {
		fprintf(stderr, "fuzz_stream: %u tensors, %u back\n",
		    a.m->ntensors, b.m->ntensors);
		abort();
	}
	for (i = 0; i < a.m->ntensors; i++) {
		t = &a.m->tensors[i];
		if ((j = t2m_manifest_find(b.m, t->name)) < 0) {
			fprintf(stderr, "fuzz_stream: '%s' did not come "
			    "back\n", t->name);
			abort();
		}
		u = &b.m->tensors[j];
		if (t->dtype != u->dtype || !same_shape(t, u) ||
		    t->nbytes != u->nbytes ||
		    !same_bytes(t, a.b[i], b.b[j])) {
			fprintf(stderr, "fuzz_stream: '%s' came back "
			    "changed\n", t->name);
			abort();
		}
	}
	contents_free(&b);
out:
	contents_free(&a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int devnull = -1, mlx = -1, back = -1;
	unsigned char *p;
	int fd, pfd[2], reverse;

	if (devnull < 0 && (devnull = open("/dev/null", O_WRONLY)) < 0)
		abort();
	if (mlx < 0) {
		mlx = memfile();
		back = memfile();
	}
	fd = stream_file(data, size, &p);
	/* From a pipe, forward: all of it fits in the pipe's buffer. */
	if (size <= 65536 && pipe(pfd) == 0) {
		if (write(pfd[1], p, size) == (ssize_t)size) {
			close(pfd[1]);
			transpose(pfd[0], devnull, 0, 1);
		} else
			close(pfd[1]);
		close(pfd[0]);
	}
	/* From a file, forward and back. */
	for (reverse = 0; reverse < 2; reverse++) {
		lseek(fd, 0, SEEK_SET);
		transpose(fd, devnull, reverse, 0);
	}
	round_trip(fd, mlx, back);
	close(fd);
	free(p);
	return 0;
}
