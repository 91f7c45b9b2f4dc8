/*
 * t2m-ls - check a t2m stream from end to end and print its manifest, as
 * a table or as JSON.
 */
#include <errno.h>
#include <err.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t2m.h"

/* -h: the usage line, which usage() prints alone, and the rest. */
static const char help[] =
    "usage: t2m-ls [-jl] [file | -]\n"
    "Check a t2m stream and list its tensors.\n"
    "\n"
    "options:\n"
    "  -j          the manifest as one line of JSON\n"
    "  -l          long listing: info, metadata, modules and attributes too\n"
    "  -h, --help  print this help and exit\n"
    "  --version   print the version and exit\n"
    "\n"
    "examples:\n"
    "  t2m-unpack model.safetensors | t2m-ls -l\n"
    "  t2m-ls model.t2m\n"
    "\n"
    "See t2m-ls(1).\n";

static void
usage(void)
{
	fprintf(stderr, "%.*s", (int)(strchr(help, '\n') - help + 1), help);
	exit(2);
}

static void
json_attrs(struct t2m_buf *b, const struct t2m_attrs *a)
{
	uint32_t i;

	t2m_buf_add(b, "{", 1);
	for (i = 0; i < a->n; i++) {
		if (i)
			t2m_buf_add(b, ",", 1);
		t2m_buf_json(b, a->kv[i].key);
		t2m_buf_add(b, ":", 1);
		t2m_buf_json(b, a->kv[i].val);
	}
	t2m_buf_add(b, "}", 1);
}

static void
shape_text(struct t2m_buf *b, const struct t2m_tensor *t, const char *sep)
{
	int d;

	t2m_buf_add(b, "[", 1);
	for (d = 0; d < t->ndim; d++)
		t2m_buf_printf(b, "%s%llu", d ? sep : "",
		    (unsigned long long)t->shape[d]);
	t2m_buf_add(b, "]", 1);
}

/* Write out what b holds once it is past a few pages, or when forced. */
static void
spill(struct t2m_buf *b, int force)
{
	if (b->nomem)
		errx(1, "out of memory");
	if (b->len < ((size_t)64 << 10) && !force)
		return;
	if (t2m_write_full(STDOUT_FILENO, b->p, b->len) < 0) {
		if (errno == EPIPE) {
			signal(SIGPIPE, SIG_DFL);
			raise(SIGPIPE);
		}
		err(1, "<stdout>");
	}
	b->len = 0;
}

static void
print_json(struct t2m_buf *b, const struct t2m_manifest *m)
{
	const struct t2m_tensor *t;
	uint32_t i;

	t2m_buf_str(b, "{\"info\":");
	json_attrs(b, &m->info);
	t2m_buf_str(b, ",\"metadata\":");
	json_attrs(b, &m->meta);
	t2m_buf_str(b, ",\"modules\":[");
	for (i = 0; i < m->nmodules; i++) {
		t2m_buf_str(b, i ? ",{\"path\":" : "{\"path\":");
		t2m_buf_json(b, m->modules[i].path);
		t2m_buf_str(b, ",\"attrs\":");
		json_attrs(b, &m->modules[i].attrs);
		t2m_buf_add(b, "}", 1);
		spill(b, 0);
	}
	t2m_buf_str(b, "],\"tensors\":[");
	for (i = 0; i < m->ntensors; i++) {
		t = &m->tensors[i];
		t2m_buf_str(b, i ? ",{\"name\":" : "{\"name\":");
		t2m_buf_json(b, t->name);
		t2m_buf_printf(b, ",\"dtype\":\"%s\",\"shape\":",
		    t2m_dtype_name(t->dtype));
		shape_text(b, t, ",");
		t2m_buf_printf(b, ",\"bytes\":%llu,\"attrs\":",
		    (unsigned long long)t->nbytes);
		json_attrs(b, &t->attrs);
		t2m_buf_add(b, "}", 1);
		spill(b, 0);
	}
	t2m_buf_str(b, "]}\n");
}

static void
text_attrs(struct t2m_buf *b, const char *indent, const struct t2m_attrs *a)
{
	uint32_t i;

	for (i = 0; i < a->n; i++)
		t2m_buf_printf(b, "%s%s=%s\n", indent, a->kv[i].key,
		    a->kv[i].val);
}

static void
print_text(struct t2m_buf *b, const struct t2m_manifest *m, int lflag)
{
	struct t2m_buf shape = { 0 };
	const struct t2m_tensor *t;
	uint64_t total = 0;
	uint32_t i, hidden = 0;

	if (lflag) {
		text_attrs(b, "info ", &m->info);
		text_attrs(b, "metadata ", &m->meta);
		for (i = 0; i < m->nmodules; i++) {
			t2m_buf_printf(b, "module %s\n", *m->modules[i].path ?
			    m->modules[i].path : "(top)");
			text_attrs(b, "\t", &m->modules[i].attrs);
			spill(b, 0);
		}
	}
	for (i = 0; i < m->ntensors; i++) {
		t = &m->tensors[i];
		shape.len = 0;
		shape_text(&shape, t, ", ");
		t2m_buf_printf(b, "%-7s %-20s %12llu  %s%s\n",
		    t2m_dtype_name(t->dtype), shape.p,
		    (unsigned long long)t->nbytes, t->name,
		    t2m_tensor_hidden(t) ? " (hidden)" : "");
		if (lflag)
			text_attrs(b, "\t", &t->attrs);
		total += t->nbytes;
		hidden += t2m_tensor_hidden(t);
		spill(b, 0);
	}
	t2m_buf_printf(b, "%u tensor%s", m->ntensors, m->ntensors == 1 ? "" :
	    "s");
	if (hidden)
		t2m_buf_printf(b, " (%u hidden)", hidden);
	t2m_buf_printf(b, ", %llu bytes\n", (unsigned long long)total);
	t2m_buf_free(&shape);
}

int
main(int argc, char *argv[])
{
	struct t2m_buf out = { 0 };
	struct t2m_manifest *m;
	struct t2m_reader *r;
	struct t2m_chunk c;
	const char *name = "<stdin>";
	int ch, fd = 0, jflag = 0, lflag = 0, rc;
	t2m_error e;

	argv[0] = "t2m-ls";	/* getopt's messages name the program */
	t2m_long_options(argc, argv, "t2m-ls", help);
	while ((ch = getopt(argc, argv, "hjl")) != -1)
		switch (ch) {
		case 'j':
			jflag = 1;
			break;
		case 'l':
			lflag = 1;
			break;
		case 'h':
			t2m_help(help);
		default:
			usage();
		}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		usage();

	if (argc == 1 && strcmp(argv[0], "-") != 0) {
		name = argv[0];
		if ((fd = open(name, O_RDONLY)) < 0)
			err(1, "%s", name);
	}
	if ((r = t2m_reader_new(fd, name, &e)) == NULL ||
	    t2m_reader_begin(r, &m, &e) < 0)
		errx(1, "%s: %s", name, e.msg);
	/* Check the whole stream before printing anything. */
	while ((rc = t2m_reader_next(r, &c, &e)) == 1)
		;
	if (rc < 0)
		errx(1, "%s: %s", name, e.msg);
	if (jflag)
		print_json(&out, m);
	else
		print_text(&out, m, lflag);
	spill(&out, 1);
	t2m_buf_free(&out);
	t2m_reader_free(r);
	return 0;
}
