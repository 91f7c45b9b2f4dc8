/*
 * fuzz_pack.c - libFuzzer target: the bytes are a t2m stream, its
 * checksums made right first (stream.h), written as t2m-pack writes it: one
 * safetensors file from a pipe, shards of 4 KiB and a PyTorch checkpoint
 * from a file, each into a file in memory.  Whatever t2m-pack writes
 * without an error must read back: t2m-unpack of each output must
 * succeed and give every tensor of the stream, with its dtype, shape and
 * bytes.  A difference aborts, as a crash does.
 */
#define _GNU_SOURCE		/* memfd_create, in stream.h */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t2m.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SHARDS 16

/* t2m-unpack of the file fd as a stream, read whole into c: 0, or -1. */
static int
unpacked(int fd, int stream, struct contents *c)
{
	struct t2m_unpack_opts o = { 0 };
	struct t2m_writer *w;
	struct t2m_in in;
	t2m_error e;
	int rc = -1;

	rewind_empty(stream);
	if (lseek(fd, 0, SEEK_SET) < 0 ||
	    t2m_in_init(&in, fd, "<fuzz output>", 0, &e) < 0)
		abort();
	if ((w = t2m_writer_new(stream, "<fuzz stream>", 0, &e)) != NULL &&
	    t2m_unpack(&in, w, &o, &e) == 0)
		rc = 0;
	else
		fprintf(stderr, "fuzz_pack: t2m-pack's output does not "
		    "unpack: %s\n", e.msg);
	t2m_writer_free(w);
	t2m_in_free(&in);
	return rc < 0 ? -1 : contents(stream, c);
}

/*
 * What out holds is what in held: each of out's tensors is one of in's,
 * with its dtype, shape and bytes, or a tie t2m-unpack made of a pair in
 * in's metadata (Hugging Face's tie records).  Returns how many of in's
 * tensors out holds.  Aborts on a difference.
 */
static uint32_t
compare(const struct contents *in, const struct contents *out)
{
	const struct t2m_tensor *a, *b;
	uint32_t i, found = 0;
	long j;

	for (i = 0; i < out->m->ntensors; i++) {
		b = &out->m->tensors[i];
		if ((j = t2m_manifest_find(in->m, b->name)) < 0) {
			if (t2m_attrs_get(&in->m->meta, b->name) != NULL)
				continue;
			fprintf(stderr, "fuzz_pack: '%s' came back but was "
			    "not written\n", b->name);
			abort();
		}
		a = &in->m->tensors[j];
		if (a->dtype != b->dtype || !same_shape(a, b) ||
		    a->nbytes != b->nbytes || (a->nbytes > 0 &&
		    memcmp(in->b[j], out->b[i], (size_t)a->nbytes) != 0)) {
			fprintf(stderr, "fuzz_pack: '%s' came back changed\n",
			    b->name);
			abort();
		}
		found++;
	}
	return found;
}

/* Every tensor of in came back, in one output or across shards. */
static void
all_back(const struct contents *in, uint32_t found)
{
	if (found != in->m->ntensors) {
		fprintf(stderr, "fuzz_pack: %u of %u tensors came back\n",
		    found, in->m->ntensors);
		abort();
	}
}

/* t2m-pack wrote its output: the stream must have been valid. */
static void
invalid_written(const struct contents *in)
{
	if (in == NULL) {
		fprintf(stderr, "fuzz_pack: an invalid stream was written\n");
		abort();
	}
}

/* The stream in fd as one safetensors file or a PyTorch checkpoint. */
static void
single(int fd, const struct contents *in, int torch, int out, int stream)
{
	struct t2m_manifest *m;
	struct t2m_reader *r;
	struct t2m_st_layout l;
	struct t2m_pt *pt = NULL;
	struct t2m_pack p;
	struct contents back;
	const char *name = "<fuzz output>";
	t2m_error e;
	int rc = -1;

	rewind_empty(out);
	if ((r = t2m_reader_new(fd, "<fuzz>", &e)) == NULL)
		return;
	if (t2m_reader_begin(r, &m, &e) < 0)
		goto out;
	if (torch) {
		if ((pt = t2m_pt_layout(m, "archive", &e)) == NULL)
			goto out;
		rc = t2m_pack_pt(r, m, out, name, pt, NULL, &e);
		t2m_pt_free(pt);
	} else {
		if (t2m_st_layout(m, &l, &e) < 0)
			goto out;
		p = (struct t2m_pack){ 1, &out, &name, &l, NULL, NULL, NULL,
		    NULL };
		rc = t2m_pack_st(r, m, &p, &e);
		t2m_st_layout_free(&l);
	}
	/* Written: the stream was valid, and what it held comes back. */
	if (rc == 0) {
		invalid_written(in);
		if (unpacked(out, stream, &back) < 0)
			abort();
		all_back(in, compare(in, &back));
		contents_free(&back);
	}
out:
	t2m_reader_free(r);
}

/* The stream in fd as shards of 4 KiB; each must read back alone. */
static void
shards(int fd, const struct contents *in, int *out, int stream)
{
	struct t2m_manifest *m;
	struct t2m_reader *r;
	struct t2m_st_shards s;
	struct t2m_pack p;
	struct contents back;
	const char *names[MAX_SHARDS];
	uint32_t k, found = 0;
	t2m_error e;

	if ((r = t2m_reader_new(fd, "<fuzz>", &e)) == NULL)
		return;
	if (t2m_reader_begin(r, &m, &e) < 0 ||
	    t2m_st_shard(m, 4096, &s, &e) < 0)
		goto out;
	if (s.n > MAX_SHARDS)
		goto done;
	for (k = 0; k < s.n; k++) {
		rewind_empty(out[k]);
		names[k] = "<fuzz shard>";
	}
	p = (struct t2m_pack){ s.n, out, names, s.l, s.shard, s.sub, s.m,
	    NULL };
	if (t2m_pack_st(r, m, &p, &e) == 0) {
		invalid_written(in);
		for (k = 0; k < s.n; k++) {
			if (unpacked(out[k], stream, &back) < 0)
				abort();
			found += compare(in, &back);
			contents_free(&back);
		}
		all_back(in, found);
	}
done:
	t2m_st_shards_free(&s);
out:
	t2m_reader_free(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int out[MAX_SHARDS], stream = -1;
	struct contents in;
	unsigned char *p;
	int fd, pfd[2], k, valid;

	if (stream < 0) {
		stream = memfile();
		for (k = 0; k < MAX_SHARDS; k++)
			out[k] = memfile();
	}
	fd = stream_file(data, size, &p);
	/* What the stream holds, when it is valid: what must come back. */
	valid = contents(fd, &in) == 0;
	/* From a pipe, as t2m-pack reads a pipeline: all of it fits in the
	 * pipe's buffer. */
	if (size <= 65536 && pipe(pfd) == 0) {
		if (write(pfd[1], p, size) == (ssize_t)size) {
			close(pfd[1]);
			single(pfd[0], valid ? &in : NULL, 0, out[0], stream);
		} else
			close(pfd[1]);
		close(pfd[0]);
	}
	/* From a file: shards, and a PyTorch checkpoint. */
	if (lseek(fd, 0, SEEK_SET) == 0)
		shards(fd, valid ? &in : NULL, out, stream);
	if (lseek(fd, 0, SEEK_SET) == 0)
		single(fd, valid ? &in : NULL, 1, out[0], stream);
	contents_free(&in);
	close(fd);
	free(p);
	return 0;
}
