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

/*
 * Convert n elements of tensor i at p and hand them to w, in pieces that
 * fit the output buffer.  first is the index of the first of them.
 */
static void
emit(struct t2m_writer *w, struct t2m_reader *r, const struct t2m_tensor *t,
    uint32_t i, struct cast *c, const unsigned char *p, size_t n,
    uint64_t first, unsigned char *out)
{
	size_t isz = t2m_dtype_bits(c->from) / 8;
	size_t osz = t2m_dtype_bits(c->to) / 8, max = BUFSIZE / osz, k;
	t2m_error e;

	while (n > 0) {
		k = n < max ? n : max;
		if (t2m_convert(out, c->to, p, c->from, k, first, &c->overflow,
		    &e) < 0)
			errx(1, "<stdin>: %s: '%s': %s", t2m_reader_where(r),
			    t->name, e.msg);
		if (t2m_writer_data(w, i, out, k * osz, &e) < 0)
			t2m_die("<stdout>", &e);
		p += k * isz;
		n -= k;
		first += k;
	}
}

/*
 * Convert the n bytes at p, bytes at, at+1, ... of tensor i, and hand
 * them to w.  An element split between two calls waits in c->carry.
 */
static void
feed(struct t2m_writer *w, struct t2m_reader *r, const struct t2m_tensor *t,
    uint32_t i, struct cast *c, const unsigned char *p, size_t n,
    uint64_t at, unsigned char *out)
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
			return;
		emit(w, r, t, i, c, c->carry, 1, at / isz - 1, out);
	}
	k = n / isz;
	emit(w, r, t, i, c, p, k, at / isz, out);
	c->ncarry = (unsigned char)(n - k * isz);
	memcpy(c->carry, p + k * isz, c->ncarry);
}

int
main(int argc, char *argv[])
{
	struct t2m_manifest *in, *out;
	const struct t2m_tensor *t;
	struct t2m_tensor *ot;
	struct t2m_module *mod;
	struct t2m_reader *r;
	struct t2m_writer *w;
	struct t2m_chunk ch;
	struct cast *cast, *c;
	const char **keep, **drop;
	unsigned char *buf, *obuf;
	uint64_t at;
	uint32_t i, a;
	size_t isz;
	ssize_t k;
	int opt, nkeep = 0, ndrop = 0, fto = 0, ito = 0, rc, hit;
	t2m_error e;

	argv[0] = "t2m-cast";	/* getopt's messages name the program */
	t2m_long_options(argc, argv, "t2m-cast", help);
	if ((keep = calloc((size_t)argc, sizeof *keep)) == NULL ||
	    (drop = calloc((size_t)argc, sizeof *drop)) == NULL)
		errx(1, "out of memory");
	while ((opt = getopt(argc, argv, "hi:k:t:x:")) != -1)
		switch (opt) {
		case 'i':
			if (!t2m_dtype_is_int(ito = dtype_arg(optarg))) {
				warnx("bad integer type '%s' (I8, I16, I32, "
				    "I64, U8, U16, U32 or U64)", optarg);
				usage();
			}
			break;
		case 'k':
			keep[nkeep++] = optarg;
			break;
		case 't':
			fto = dtype_arg(optarg);
			if (fto != T2M_F16 && fto != T2M_BF16 &&
			    fto != T2M_F32) {
				warnx("bad float type '%s' (F16, BF16 or F32)",
				    optarg);
				usage();
			}
			break;
		case 'x':
			drop[ndrop++] = optarg;
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
	if (fto == 0 && ito == 0) {
		warnx("nothing to do: give -t, -i or both");
		usage();
	}

	if ((r = t2m_reader_new(STDIN_FILENO, "<stdin>", &e)) == NULL ||
	    t2m_reader_begin(r, &in, &e) < 0)
		t2m_die("<stdin>", &e);

	/* The manifest out: the same, but for the dtypes of what is cast
	 * and its "cast" attribute, the dtype it had first. */
	if ((out = t2m_manifest_new()) == NULL ||
	    t2m_manifest_reserve(out, in->ntensors, in->nmodules) < 0 ||
	    (cast = calloc(in->ntensors ? in->ntensors : 1,
	    sizeof *cast)) == NULL)
		errx(1, "out of memory");
	for (a = 0; a < in->info.n; a++)
		if (t2m_attrs_set(out, &out->info, in->info.kv[a].key,
		    in->info.kv[a].val, &e) < 0)
			t2m_die("<stdin>", &e);
	for (a = 0; a < in->meta.n; a++)
		if (t2m_attrs_set(out, &out->meta, in->meta.kv[a].key,
		    in->meta.kv[a].val, &e) < 0)
			t2m_die("<stdin>", &e);
	for (i = 0; i < in->nmodules; i++) {
		if ((mod = t2m_manifest_add_module(out, in->modules[i].path,
		    &e)) == NULL)
			t2m_die("<stdin>", &e);
		for (a = 0; a < in->modules[i].attrs.n; a++)
			if (t2m_attrs_set(out, &mod->attrs,
			    in->modules[i].attrs.kv[a].key,
			    in->modules[i].attrs.kv[a].val, &e) < 0)
				t2m_die("<stdin>", &e);
		t2m_attrs_share(out, &mod->attrs);
	}
	for (i = 0; i < in->ntensors; i++) {
		t = &in->tensors[i];
		c = &cast[i];
		c->from = (unsigned char)t->dtype;
		if (!t2m_tensor_hidden(t) && (nkeep == 0 ||
		    matches(t->name, keep, nkeep)) &&
		    !matches(t->name, drop, ndrop)) {
			if (fto && t2m_dtype_is_float(t->dtype))
				c->to = (unsigned char)fto;
			else if (ito && t2m_dtype_is_int(t->dtype))
				c->to = (unsigned char)ito;
			if (c->to == c->from)
				c->to = 0;
		}
		/* The input outlives the output: its names and shapes are
		 * kept by reference. */
		if ((ot = t2m_manifest_add_ref(out, t->name, c->to ? c->to :
		    t->dtype, t->ndim, t->shape, T2M_REF_NAME | T2M_REF_SHAPE,
		    &e)) == NULL)
			t2m_die("<stdin>", &e);
		for (a = 0; a < t->attrs.n; a++)
			if (t2m_attrs_set(out, &ot->attrs, t->attrs.kv[a].key,
			    t->attrs.kv[a].val, &e) < 0)
				t2m_die("<stdin>", &e);
		if (c->to && t2m_attrs_get(&ot->attrs, "cast") == NULL &&
		    t2m_attrs_set(out, &ot->attrs, "cast",
		    t2m_dtype_name(c->from), &e) < 0)
			t2m_die("<stdin>", &e);
		t2m_attrs_share(out, &ot->attrs);
	}
	/* A -k that selects nothing is most likely a typing error. */
	for (a = 0; a < (uint32_t)nkeep; a++) {
		for (hit = 0, i = 0; i < in->ntensors && !hit; i++)
			hit = !t2m_tensor_hidden(&in->tensors[i]) &&
			    fnmatch(keep[a], in->tensors[i].name, 0) == 0;
		if (!hit)
			warnx("<stdin>: -k '%s' matches no tensor", keep[a]);
	}

	if ((w = t2m_writer_new(STDOUT_FILENO, "<stdout>", 0, &e)) == NULL ||
	    t2m_writer_begin(w, out, &e) < 0)
		t2m_die("<stdout>", &e);
	if ((buf = malloc(BUFSIZE)) == NULL || (obuf = malloc(BUFSIZE)) ==
	    NULL)
		errx(1, "out of memory");
	while ((rc = t2m_reader_next(r, &ch, &e)) == 1) {
		t = &in->tensors[ch.index];
		c = &cast[ch.index];
		isz = t2m_dtype_bits(c->from) / 8;
		at = ch.offset;
		/* What is not cast passes without being looked at. */
		if (!c->to) {
			if (t2m_reader_pass(r, w, ch.index, &e) < 0)
				t2m_die("<stdin>", &e);
			continue;
		}
		while ((k = t2m_reader_read(r, buf, BUFSIZE, &e)) > 0) {
			feed(w, r, t, ch.index, c, buf, (size_t)k, at, obuf);
			at += (uint64_t)k;
		}
		if (k < 0)
			t2m_die("<stdin>", &e);
		if (c->to && ch.offset + ch.length == t->nbytes &&
		    c->overflow > 0)
			warnx("<stdin>: '%s': %llu of %llu values overflowed "
			    "to infinity in %s", t->name,
			    (unsigned long long)c->overflow,
			    (unsigned long long)(t->nbytes / isz),
			    t2m_dtype_name(c->to));
	}
	if (rc < 0 || t2m_writer_end(w, &e) < 0)
		t2m_die("<stdin>", &e);
	free(buf);
	free(obuf);
	free(cast);
	free(keep);
	free(drop);
	t2m_writer_free(w);
	t2m_manifest_free(out);
	t2m_reader_free(r);
	if (close(STDOUT_FILENO) < 0)
		err(1, "<stdout>");
	return 0;
}
