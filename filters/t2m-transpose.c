/*
 * t2m-transpose - convert a stream's tensors between PyTorch's layout and
 * MLX's: permute conv weights, split attention projections, merge
 * recurrent biases, fold weight norm; -r goes back.
 */
#include <errno.h>
#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules.h"
#include "t2m.h"
#include "transpose.h"

#define BUFSIZE ((size_t)1 << 20)

/* -h: the usage line, which usage() prints alone, and the rest. */
static const char help[] =
    "usage: t2m-transpose [-Lr] [-c config.json] [-m map.json]\n"
    "Convert a t2m stream between PyTorch's layout and MLX's.\n"
    "\n"
    "options:\n"
    "  -c config.json  a Hugging Face config.json (default: the one beside the\n"
    "                  checkpoint)\n"
    "  -L              print the rule table and exit\n"
    "  -m map.json     a type map: module path to the class's qualified name\n"
    "  -r              from MLX's layout back to PyTorch's\n"
    "  -h, --help      print this help and exit\n"
    "  --version       print the version and exit\n"
    "\n"
    "examples:\n"
    "  t2m-unpack full.pt | t2m-transpose | t2m-pack mlx.safetensors\n"
    "  t2m-unpack mlx.safetensors | t2m-transpose -r | t2m-pack back.safetensors\n"
    "\n"
    "See t2m-transpose(1).\n";

static void
usage(void)
{
	fprintf(stderr, "%.*s", (int)(strchr(help, '\n') - help + 1), help);
	exit(2);
}

static void
warn_cb(void *ctx, const char *msg)
{
	warnx("%s: %s", (const char *)ctx, msg);
}

/* The rule table, one line per class, for people and for the man page. */
static void
list_rules(void)
{
	const struct t2m_rule *r;
	unsigned n, k;

	r = t2m_rules(&n);
	for (k = 0; k < n; k++)
		printf("%s%s\t%s\t%s\t%s\n", strcmp(r[k].where, "torch.nn.") ?
		    r[k].where : "", r[k].torch, r[k].mlx ? r[k].mlx : "-",
		    t2m_rule_kind_name(r[k].kind), r[k].note ? r[k].note : "");
	if (fflush(stdout) == EOF || ferror(stdout))
		err(1, "<stdout>");
}

int
main(int argc, char *argv[])
{
	const struct t2m_manifest *in, *out;
	struct t2m_types types;
	struct t2m_xform_opts xo = { 0 };
	struct t2m_reader *r;
	struct t2m_writer *w;
	struct t2m_xform *x;
	struct t2m_chunk c;
	const char *cfgpath = NULL, *mappath = NULL;
	unsigned char *buf;
	int ch, rflag = 0, rc;
	ssize_t k;
	int64_t o;
	t2m_error e;

	argv[0] = "t2m-transpose";	/* getopt's messages name the program */
	t2m_long_options(argc, argv, "t2m-transpose", help);
	while ((ch = getopt(argc, argv, "c:hLm:r")) != -1)
		switch (ch) {
		case 'L':
			list_rules();
			return 0;
		case 'c':
			cfgpath = optarg;
			break;
		case 'm':
			mappath = optarg;
			break;
		case 'r':
			rflag = 1;
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

	if ((r = t2m_reader_new(STDIN_FILENO, "<stdin>", &e)) == NULL ||
	    t2m_reader_begin(r, (struct t2m_manifest **)&in, &e) < 0)
		t2m_die("<stdin>", &e);
	if (t2m_types_load(&types, mappath, cfgpath, t2m_attrs_get(&in->info,
	    "source"), &e) < 0)
		errx(1, "%s", e.msg);
	xo.types = &types;
	xo.reverse = rflag;
	xo.warn = warn_cb;
	xo.ctx = "<stdin>";
	if ((x = t2m_xform_plan(in, &xo, &out, &e)) == NULL)
		t2m_die("<stdin>", &e);
	if ((w = t2m_writer_new(STDOUT_FILENO, "<stdout>", 0, &e)) == NULL ||
	    t2m_writer_begin(w, out, &e) < 0)
		t2m_die("<stdout>", &e);
	if ((buf = malloc(BUFSIZE)) == NULL)
		errx(1, "out of memory");
	while ((rc = t2m_reader_next(r, &c, &e)) == 1) {
		/* Unchanged tensors pass without being looked at. */
		if ((o = t2m_xform_identity(x, c.index)) >= 0) {
			if (t2m_reader_pass(r, w, (uint32_t)o, &e) < 0)
				t2m_die("<stdin>", &e);
			continue;
		}
		while ((k = t2m_reader_read(r, buf, BUFSIZE, &e)) > 0)
			if (t2m_xform_data(x, w, c.index, buf, (size_t)k,
			    &e) < 0)
				t2m_die("<stdin>", &e);
		if (k < 0)
			t2m_die("<stdin>", &e);
	}
	if (rc < 0 || t2m_xform_finish(x, &e) < 0 ||
	    t2m_writer_end(w, &e) < 0)
		t2m_die("<stdin>", &e);
	free(buf);
	t2m_xform_free(x);
	t2m_writer_free(w);
	t2m_reader_free(r);
	t2m_types_free(&types);
	if (close(STDOUT_FILENO) < 0)
		err(1, "<stdout>");
	return 0;
}
