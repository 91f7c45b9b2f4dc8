/*
 * fuzz_cast.c - libFuzzer target: the bytes are a t2m stream, its
 * checksums made right first (stream.h), run through t2m-cast's
 * cast_stream (its source is included, main renamed) four ways: -t F16;
 * -t BF16 -i I8; -t F32 -i I64 -x of the first tensor; -i U8 -k
 * '*weight*'.  Whatever t2m-cast writes without an error must be a valid
 * stream whose every tensor is the input's: as it was when not cast, else
 * in the type asked for and what t2m_convert makes of the whole tensor
 * at once, however the records cut its elements.  A difference aborts,
 * as a crash does.
 */
#define _GNU_SOURCE		/* memfd_create, in stream.h */
#define main t2m_cast_main
#include "../../filters/t2m-cast.c"
#undef main

#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
differs(const char *name, const char *what)
{
	fprintf(stderr, "fuzz_cast: '%s': %s\n", name, what);
	abort();
}

/* Tensor t as cast to u, whose bytes are got, against its own bytes. */
static void
check(const struct opts *o, const struct t2m_tensor *t, const unsigned char
    *was, const struct t2m_tensor *u, const unsigned char *got)
{
	size_t isz = t2m_dtype_bits(t->dtype) / 8;
	uint64_t ovf = 0, n;
	unsigned char *want;
	t2m_error e;

	if (strcmp(t->name, u->name) != 0 || !same_shape(t, u))
		differs(t->name, "name or shape changed");
	if (u->dtype == t->dtype) {
		if (t->nbytes != u->nbytes || (t->nbytes > 0 &&
		    memcmp(was, got, (size_t)t->nbytes) != 0))
			differs(t->name, "changed, not cast");
		return;
	}
	if (u->dtype != (t2m_dtype_is_float(t->dtype) ? o->fto : o->ito))
		differs(t->name, "cast to a type not asked for");
	if (t->nbytes == 0)
		return;
	n = t->nbytes / isz;
	if ((want = malloc((size_t)u->nbytes)) == NULL)
		abort();
	if (t2m_convert(want, u->dtype, was, t->dtype, (size_t)n, 0, &ovf,
	    &e) < 0 || memcmp(want, got, (size_t)u->nbytes) != 0)
		differs(t->name, "cast differs from the whole tensor's");
	free(want);
}

/* cast_stream on the stream in fd with options o, into out. */
static void
run(int fd, int out, const struct opts *o, const struct contents *in)
{
	struct contents got;
	const char *side;
	t2m_error e;
	uint32_t i;

	rewind_empty(out);
	if (lseek(fd, 0, SEEK_SET) < 0)
		abort();
	if (cast_stream(o, fd, out, &side, &e) < 0)
		return;
	if (in == NULL) {
		fprintf(stderr, "fuzz_cast: an invalid stream was cast\n");
		abort();
	}
	if (contents(out, &got) < 0) {
		fprintf(stderr, "fuzz_cast: the output is not a valid "
		    "stream\n");
		abort();
	}
	if (got.m->ntensors != in->m->ntensors) {
		fprintf(stderr, "fuzz_cast: %u tensors in, %u out\n",
		    in->m->ntensors, got.m->ntensors);
		abort();
	}
	for (i = 0; i < in->m->ntensors; i++)
		check(o, &in->m->tensors[i], in->b[i], &got.m->tensors[i],
		    got.b[i]);
	contents_free(&got);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int out = -1;
	static const char *weight = "*weight*";
	struct contents in;
	struct opts o[4];
	const char *name0 = NULL;
	unsigned char *p;
	int fd, k, valid;

	if (out < 0)
		out = memfile();
	fd = stream_file(data, size, &p);
	valid = contents(fd, &in) == 0;
	if (valid && in.m->ntensors > 0)
		name0 = in.m->tensors[0].name;
	memset(o, 0, sizeof o);
	o[0].fto = T2M_F16;
	o[1].fto = T2M_BF16;
	o[1].ito = T2M_I8;
	o[2].fto = T2M_F32;
	o[2].ito = T2M_I64;
	if (name0 != NULL) {
		o[2].drop = &name0;
		o[2].ndrop = 1;
	}
	o[3].ito = T2M_U8;
	o[3].keep = &weight;
	o[3].nkeep = 1;
	for (k = 0; k < 4; k++)
		run(fd, out, &o[k], valid ? &in : NULL);
	contents_free(&in);
	close(fd);
	free(p);
	return 0;
}
