/*
 * t2m-cast - change the element type of a stream's tensors: floats to
 * float16, bfloat16 or float32 as torch's Tensor.to does, integers to
 * another integer type when asked; the rest passes through unchanged.
 */
#include <errno.h>
#include <err.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "numeric.h"
#include "t2m.h"

#define BUFSIZE ((size_t)1 << 20)

/* A tensor's state.  An element split between two reads waits in carry. */
struct cast {
	uint64_t overflow;	/* finite values that became infinite */
	unsigned char carry[8];
	unsigned char ncarry;
	unsigned char from, to;	/* to is 0 for a tensor passed as is */
};

/* -h: the usage line, which usage() prints alone, and the rest. */
static const char help[] =
    "usage: t2m-cast [-i type] [-k pattern] [-t type] [-x pattern]\n"
    "Change the element type of tensors in a t2m stream.\n"
    "\n"
    "options:\n"
    "  -i type     integer tensors to type: I8, I16, I32, I64, U8, U16, U32, U64\n"
    "  -k pattern  convert only the tensors whose name matches pattern (a glob)\n"
    "  -t type     float tensors to type: F16, BF16 or F32\n"
    "  -x pattern  do not convert the tensors whose name matches pattern\n"
    "  -h, --help  print this help and exit\n"
    "  --version   print the version and exit\n"
    "\n"
    "examples:\n"
    "  t2m-unpack model.safetensors | t2m-cast -t bf16 | t2m-ls\n"
    "  t2m-unpack model.pt | t2m-cast -t f16 -x '1.*' | t2m-ls\n"
    "\n"
    "See t2m-cast(1).\n";

static void
usage(void)
{
	fprintf(stderr, "%.*s", (int)(strchr(help, '\n') - help + 1), help);
	exit(2);
}

/* The dtype an option names ("bf16" or "BF16"), or 0. */
static int
dtype_arg(const char *s)
{
	char up[16];
	size_t k;

	for (k = 0; s[k] != '\0' && k < sizeof up; k++)
		up[k] = (char)(s[k] >= 'a' && s[k] <= 'z' ? s[k] - 'a' + 'A' :
		    s[k]);
	return k < sizeof up ? t2m_dtype_lookup(up, k) : 0;
}

static int
matches(const char *name, const char **pat, int npat)
{
	int k;

	for (k = 0; k < npat; k++)
		if (fnmatch(pat[k], name, 0) == 0)
			return 1;
	return 0;
}

/* What to cast: -t, -i, the -k and -x patterns; warn on stderr. */
struct opts {
	int fto, ito, nkeep, ndrop, warn;
	const char **keep, **drop;
};

/*
 * Convert n elements of tensor i at p and hand them to w, in pieces that
 * fit the output buffer.  first is the index of the first of them.  -1
 * with *err and *side, the descriptor at fault, on failure.
 */
static int
emit(struct t2m_writer *w, struct t2m_reader *r, const struct t2m_tensor *t,
    uint32_t i, struct cast *c, const unsigned char *p, size_t n,
    uint64_t first, unsigned char *out, const char **side, t2m_error *err)
{
	size_t isz = t2m_dtype_bits(c->from) / 8;
	size_t osz = t2m_dtype_bits(c->to) / 8, max = BUFSIZE / osz, k;
	t2m_error e;

	while (n > 0) {
		k = n < max ? n : max;
		if (t2m_convert(out, c->to, p, c->from, k, first, &c->overflow,
		    &e) < 0) {
			*side = "<stdin>";
			return t2m_fail(err, "%s: '%s': %s",
			    t2m_reader_where(r), t->name, e.msg);
		}
		if (t2m_writer_data(w, i, out, k * osz, err) < 0) {
			*side = "<stdout>";
			return -1;
		}
		p += k * isz;
		n -= k;
		first += k;
	}
	return 0;
}

/*
 * Convert the n bytes at p, bytes at, at+1, ... of tensor i, and hand
 * them to w.  An element split between two calls waits in c->carry.
 */
static int
feed(struct t2m_writer *w, struct t2m_reader *r, const struct t2m_tensor *t,
    uint32_t i, struct cast *c, const unsigned char *p, size_t n,
    uint64_t at, unsigned char *out, const char **side, t2m_error *err)
{
	size_t isz = t2m_dtype_bits(c->from) / 8, k;

	if (c->ncarry > 0) {
		k = isz - c->ncarry < n ? isz - c->ncarry : n;
		memcpy(c->carry + c->ncarry, p, k);
		c->ncarry = (unsigned char)(c->ncarry + k);
		p += k;
		n -= k;
		at += k;
		if (c->ncarry < isz)
			return 0;
		if (emit(w, r, t, i, c, c->carry, 1, at / isz - 1, out, side,
		    err) < 0)
			return -1;
	}
	k = n / isz;
	if (emit(w, r, t, i, c, p, k, at / isz, out, side, err) < 0)
		return -1;
	c->ncarry = (unsigned char)(n - k * isz);
	memcpy(c->carry, p + k * isz, c->ncarry);
	return 0;
}

/* Copy the pairs of src to dst in out. */
static int
copy_attrs(struct t2m_manifest *out, struct t2m_attrs *dst,
    const struct t2m_attrs *src, t2m_error *err)
{
	uint32_t a;

	for (a = 0; a < src->n; a++)
		if (t2m_attrs_set(out, dst, src->kv[a].key, src->kv[a].val,
		    err) < 0)
			return -1;
	return 0;
}

/*
 * The manifest out: in's, but for the dtypes of what is cast and its
 * "cast" attribute, the dtype it had first; each tensor's cast in
 * cast[].
 */
static struct t2m_manifest *
plan(const struct t2m_manifest *in, const struct opts *o, struct cast *cast,
    t2m_error *err)
{
	struct t2m_manifest *out;
	const struct t2m_tensor *t;
	struct t2m_tensor *ot;
	struct t2m_module *mod;
	struct cast *c;
	uint32_t i;

	if ((out = t2m_manifest_new()) == NULL ||
	    t2m_manifest_reserve(out, in->ntensors, in->nmodules) < 0) {
		t2m_manifest_free(out);
		t2m_fail(err, "out of memory");
		return NULL;
	}
	if (copy_attrs(out, &out->info, &in->info, err) < 0 ||
	    copy_attrs(out, &out->meta, &in->meta, err) < 0)
		goto fail;
	for (i = 0; i < in->nmodules; i++) {
		if ((mod = t2m_manifest_add_module(out, in->modules[i].path,
		    err)) == NULL ||
		    copy_attrs(out, &mod->attrs, &in->modules[i].attrs,
		    err) < 0)
			goto fail;
		t2m_attrs_share(out, &mod->attrs);
	}
	for (i = 0; i < in->ntensors; i++) {
		t = &in->tensors[i];
		c = &cast[i];
		c->from = (unsigned char)t->dtype;
		if (!t2m_tensor_hidden(t) && (o->nkeep == 0 ||
		    matches(t->name, o->keep, o->nkeep)) &&
		    !matches(t->name, o->drop, o->ndrop)) {
			if (o->fto && t2m_dtype_is_float(t->dtype))
				c->to = (unsigned char)o->fto;
			else if (o->ito && t2m_dtype_is_int(t->dtype))
				c->to = (unsigned char)o->ito;
			if (c->to == c->from)
				c->to = 0;
		}
		/* The input outlives the output: its names and shapes are
		 * kept by reference. */
		if ((ot = t2m_manifest_add_ref(out, t->name, c->to ? c->to :
		    t->dtype, t->ndim, t->shape, T2M_REF_NAME | T2M_REF_SHAPE,
		    err)) == NULL ||
		    copy_attrs(out, &ot->attrs, &t->attrs, err) < 0)
			goto fail;
		if (c->to && t2m_attrs_get(&ot->attrs, "cast") == NULL &&
		    t2m_attrs_set(out, &ot->attrs, "cast",
		    t2m_dtype_name(c->from), err) < 0)
			goto fail;
		t2m_attrs_share(out, &ot->attrs);
	}
	return out;
fail:
	t2m_manifest_free(out);
	return NULL;
}

/*
 * Cast the stream on descriptor in as o says, into out.  -1 with *err
 * set and *side the descriptor's name ("<stdin>", "<stdout>") on
 * failure; either way everything the run allocated is freed.
 */
static int
cast_stream(const struct opts *o, int in, int out, const char **side,
    t2m_error *err)
{
	struct t2m_manifest *m, *mo = NULL;
	const struct t2m_tensor *t;
	struct t2m_reader *r;
	struct t2m_writer *w = NULL;
	struct t2m_chunk ch;
	struct cast *cast = NULL, *c;
	unsigned char *buf = NULL, *obuf = NULL;
	uint64_t at;
	uint32_t i;
	size_t isz;
	ssize_t k;
	int a, rc = -1, hit;

	*side = "<stdin>";
	if ((r = t2m_reader_new(in, "<stdin>", err)) == NULL)
		return -1;
	if (t2m_reader_begin(r, &m, err) < 0)
		goto out;
	if ((cast = calloc(m->ntensors ? m->ntensors : 1,
	    sizeof *cast)) == NULL) {
		t2m_fail(err, "out of memory");
		goto out;
	}
	if ((mo = plan(m, o, cast, err)) == NULL)
		goto out;
	/* A -k that selects nothing is most likely a typing error. */
	for (a = 0; o->warn && a < o->nkeep; a++) {
		for (hit = 0, i = 0; i < m->ntensors && !hit; i++)
			hit = !t2m_tensor_hidden(&m->tensors[i]) &&
			    fnmatch(o->keep[a], m->tensors[i].name, 0) == 0;
		if (!hit)
			warnx("<stdin>: -k '%s' matches no tensor", o->keep[a]);
	}

	*side = "<stdout>";
	if ((w = t2m_writer_new(out, "<stdout>", 0, err)) == NULL ||
	    t2m_writer_begin(w, mo, err) < 0)
		goto out;
	*side = "<stdin>";
	if ((buf = malloc(BUFSIZE)) == NULL ||
	    (obuf = malloc(BUFSIZE)) == NULL) {
		t2m_fail(err, "out of memory");
		goto out;
	}
	while ((rc = t2m_reader_next(r, &ch, err)) == 1) {
		t = &m->tensors[ch.index];
		c = &cast[ch.index];
		isz = t2m_dtype_bits(c->from) / 8;
		at = ch.offset;
		/* What is not cast passes without being looked at. */
		if (!c->to) {
			if (t2m_reader_pass(r, w, ch.index, err) < 0)
				break;
			continue;
		}
		while ((k = t2m_reader_read(r, buf, BUFSIZE, err)) > 0) {
			if (feed(w, r, t, ch.index, c, buf, (size_t)k, at, obuf,
			    side, err) < 0)
				break;
			at += (uint64_t)k;
		}
		if (k != 0)
			break;
		if (o->warn && ch.offset + ch.length == t->nbytes &&
		    c->overflow > 0)
			warnx("<stdin>: '%s': %llu of %llu values overflowed "
			    "to infinity in %s", t->name,
			    (unsigned long long)c->overflow,
			    (unsigned long long)(t->nbytes / isz),
			    t2m_dtype_name(c->to));
	}
	if (rc == 0 && t2m_writer_end(w, err) < 0)
		rc = -1;
out:
	free(buf);
	free(obuf);
	free(cast);
	t2m_writer_free(w);
	t2m_manifest_free(mo);
	t2m_reader_free(r);
	return rc == 0 ? 0 : -1;
}

int
main(int argc, char *argv[])
{
	struct opts o = { 0 };
	const char *side;
	t2m_error e;
	int opt;

	argv[0] = "t2m-cast";	/* getopt's messages name the program */
	t2m_long_options(argc, argv, "t2m-cast", help);
	if ((o.keep = calloc((size_t)argc, sizeof *o.keep)) == NULL ||
	    (o.drop = calloc((size_t)argc, sizeof *o.drop)) == NULL)
		errx(1, "out of memory");
	o.warn = 1;
	while ((opt = getopt(argc, argv, "hi:k:t:x:")) != -1)
		switch (opt) {
		case 'i':
			if (!t2m_dtype_is_int(o.ito = dtype_arg(optarg))) {
				warnx("bad integer type '%s' (I8, I16, I32, "
				    "I64, U8, U16, U32 or U64)", optarg);
				usage();
			}
			break;
		case 'k':
			o.keep[o.nkeep++] = optarg;
			break;
		case 't':
			o.fto = dtype_arg(optarg);
			if (o.fto != T2M_F16 && o.fto != T2M_BF16 &&
			    o.fto != T2M_F32) {
				warnx("bad float type '%s' (F16, BF16 or F32)",
				    optarg);
				usage();
			}
			break;
		case 'x':
			o.drop[o.ndrop++] = optarg;
			break;
		case 'h':
			t2m_help(help);
		default:
			usage();
		}
	argc -= optind;
	argv += optind;
	if (argc != 0)
		usage();
	if (o.fto == 0 && o.ito == 0) {
		warnx("nothing to do: give -t, -i or both");
		usage();
	}

	if (cast_stream(&o, STDIN_FILENO, STDOUT_FILENO, &side, &e) < 0)
		t2m_die(side, &e);
	free(o.keep);
	free(o.drop);
	if (close(STDOUT_FILENO) < 0)
		err(1, "<stdout>");
	return 0;
}
