/*
 * fuzz_stream.c - libFuzzer target: the bytes are a t2m stream, its
 * checksums made right first (fix.h).  It is read as t2m-transpose reads
 * it, from a pipe and from a file, planned forward and back and run into
 * /dev/null; its manifest reported on as t2m-analyze does; and it and
 * the plan's output laid out as t2m-pack lays out its files.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t2m.h"
#include "transpose.h"
#include "fix.h"

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

/* t2m-transpose's loop, writing to out. */
static void
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
	int rc;

	if ((r = t2m_reader_new(fd, "<fuzz>", &e)) == NULL)
		return;
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
	if (rc == 0 && t2m_xform_finish(x, &e) == 0)
		t2m_writer_end(w, &e);
out:
	t2m_buf_free(&report);
	t2m_xform_free(x);
	t2m_writer_free(w);
	t2m_reader_free(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int devnull = -1;
	char path[] = "/tmp/t2m-fuzz.XXXXXX";
	unsigned char *p;
	int fd, pfd[2], reverse;

	if (devnull < 0 && (devnull = open("/dev/null", O_WRONLY)) < 0)
		abort();
	if ((p = malloc(size + 1)) == NULL)
		abort();
	memcpy(p, data, size);
	fix(p, size);
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
	if ((fd = mkstemp(path)) < 0)
		abort();
	unlink(path);
	if (write(fd, p, size) != (ssize_t)size)
		abort();
	for (reverse = 0; reverse < 2; reverse++) {
		lseek(fd, 0, SEEK_SET);
		transpose(fd, devnull, reverse, 0);
	}
	close(fd);
	free(p);
	return 0;
}
