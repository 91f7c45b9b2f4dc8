/*
 * t2m-analyze - the portability report: what converts to MLX, what needs
 * hand work, what blocks.  From a checkpoint (reading no tensor data) or
 * a stream; JSON for pipes, a table for people.
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
#include "transpose.h"


/* -h: the usage line, which usage() prints alone, and the rest. */
static const char help[] =
    "usage: t2m-analyze [-jt] [-c config.json] [-m map.json] [-p report] [file | -]\n"
    "Report what of a PyTorch model converts to MLX, and what blocks.\n"
    "\n"
    "options:\n"
    "  -c config.json  a Hugging Face config.json (default: the one beside file)\n"
    "  -j              JSON, even on a terminal\n"
    "  -m map.json     a type map, module path to class, as for t2m-transpose\n"
    "  -p report       copy the stream to the standard output; the report to report\n"
    "  -t              a table, even when the output is not a terminal\n"
    "  -h, --help      print this help and exit\n"
    "  --version       print the version and exit\n"
    "\n"
    "examples:\n"
    "  t2m-unpack full.pt | t2m-analyze | jq -c .coverage\n"
    "  t2m-analyze full.pt | jq -c '.plan[0]'\n"
    "\n"
    "See t2m-analyze(1).\n";

static void
usage(void)
{
	fprintf(stderr, "%.*s", (int)(strchr(help, '\n') - help + 1), help);
	exit(2);
}

/* The report file while it is written, to remove should anything fail. */
static struct t2m_out *pending;

static void
die(const char *name, const t2m_error *e)
{
	if (pending)
		t2m_out_abort(pending);
	t2m_die(name, e);
}

struct job {
	const char *mappath, *cfgpath;
	int form;		/* T2M_REPORT_JSON or _TABLE */
	struct t2m_buf report;
	int direct;		/* the report to fd as it is made */
	int fd;
	const char *fdname;
};

static int
emit(void *ctx, const void *p, size_t n, t2m_error *err)
{
	struct job *j = ctx;

	if (t2m_write_full(j->fd, p, n) < 0) {
		t2m_fail_errno(err, "write error");
		err->subject = j->fdname;
		return -1;
	}
	return 0;
}

/* Analyze a manifest: with the type sources it names. */
static int
analyze(void *ctx, const struct t2m_manifest *m, t2m_error *err)
{
	struct job *j = ctx;
	struct t2m_types types;
	int rc;

	if (t2m_types_load(&types, j->mappath, j->cfgpath,
	    t2m_attrs_get(&m->info, "source"), err) < 0)
		return -1;
	if (j->direct)
		rc = t2m_analyze_to(m, &types, j->form, &j->report, emit, j,
		    err);
	else
		rc = t2m_analyze(m, &types, j->form, &j->report, err);
	t2m_types_free(&types);
	return rc;
}

static int
is_stream(struct t2m_in *in, t2m_error *err)
{
	const unsigned char *p;
	ssize_t n;

	if ((n = t2m_in_peek(in, 4, &p, err)) < 0)
		return -1;
	return n >= 4 && memcmp(p, "\x89T2M", 4) == 0;
}

/* A stream: read it all (a truncated one reports nothing), passing it
 * on when asked.  A report going straight out is made last. */
static void
from_stream(struct t2m_in *in, const char *name, struct job *j, int pass)
{
	struct t2m_manifest *m;
	struct t2m_reader *r;
	struct t2m_writer *w = NULL;
	struct t2m_chunk c;
	t2m_error e;
	int rc;

	if ((r = t2m_reader_from(in, &e)) == NULL ||
	    t2m_reader_begin(r, &m, &e) < 0)
		die(name, &e);
	if (!j->direct && analyze(j, m, &e) < 0)
		die(name, &e);
	if (pass && ((w = t2m_writer_new(STDOUT_FILENO, "<stdout>", 0,
	    &e)) == NULL || t2m_writer_begin(w, m, &e) < 0))
		die("<stdout>", &e);
	/* Passed on without being read, or skipped. */
	while ((rc = t2m_reader_next(r, &c, &e)) == 1)
		if (w && t2m_reader_pass(r, w, c.index, &e) < 0)
			die(name, &e);
	if (rc < 0)
		die(name, &e);
	if (w && t2m_writer_end(w, &e) < 0)
		die("<stdout>", &e);
	t2m_writer_free(w);
	if (j->direct && analyze(j, m, &e) < 0)
		die(name, &e);
	t2m_reader_free(r);
}

int
main(int argc, char *argv[])
{
	struct t2m_unpack_opts o = { 0 };
	struct job j = { NULL, NULL, T2M_REPORT_JSON, { 0 }, 0, STDOUT_FILENO,
	    "<stdout>" };
	struct t2m_buf text = { 0 };
	struct t2m_out out;
	struct t2m_in in;
	const char *name = "<stdin>", *pfile = NULL;
	int ch, fd = 0, jflag = 0, tflag = 0, s;
	t2m_error e;

	argv[0] = "t2m-analyze";	/* getopt's messages name the program */
	t2m_long_options(argc, argv, "t2m-analyze", help);
	while ((ch = getopt(argc, argv, "c:hjm:p:t")) != -1)
		switch (ch) {
		case 'c':
			j.cfgpath = optarg;
			break;
		case 'j':
			jflag = 1;
			tflag = 0;
			break;
		case 'm':
			j.mappath = optarg;
			break;
		case 'p':
			pfile = optarg;
			break;
		case 't':
			tflag = 1;
			jflag = 0;
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
	/* People get a table, pipes and files JSON. */
	if (!jflag && !tflag)
		tflag = pfile == NULL && isatty(STDOUT_FILENO);
	if (pfile)
		t2m_out_signals();
	j.form = tflag ? T2M_REPORT_TABLE : T2M_REPORT_JSON;

	if (t2m_in_init(&in, fd, name, 0, &e) < 0)
		die(name, &e);
	if ((s = is_stream(&in, &e)) < 0)
		die(name, &e);
	if (s) {
		/* JSON goes out as it is made: to stdout, or to the report
		 * file unless that is stdout too (the stream is there).  A
		 * table is made before the data is read, as it always was:
		 * which of a truncated stream and a plan that fails is
		 * reported stays the same. */
		if (pfile && !tflag) {
			if (t2m_out_open(&out, pfile, &e) < 0)
				errx(1, "%s: %s", pfile, e.msg);
			pending = &out;
			j.fd = out.fd;
			j.fdname = pfile;
		}
		j.direct = !tflag && (pfile == NULL || !out.direct);
		from_stream(&in, name, &j, pfile != NULL);
	} else {
		if (pfile)
			errx(1, "%s: -p passes a stream on; this is a "
			    "checkpoint (analyze it directly, or pipe "
			    "t2m-unpack into t2m-analyze -p)", name);
		j.direct = 1;
		o.manifest = analyze;
		o.manifest_ctx = &j;
		o.skip_unsupported = 1;
		if (t2m_unpack(&in, NULL, &o, &e) < 0)
			die(name, &e);
	}
	t2m_in_free(&in);

	/* The report is written as it is, or was already. */
	if (!j.direct) {
		text = j.report;
		memset(&j.report, 0, sizeof j.report);
	}
	if (text.nomem)
		errx(1, "out of memory");
	if (pfile) {
		if (pending == NULL && t2m_out_open(&out, pfile, &e) < 0)
			errx(1, "%s: %s", pfile, e.msg);
		pending = NULL;
		if (t2m_write_full(out.fd, text.p, text.len) < 0) {
			warn("%s", pfile);
			t2m_out_abort(&out);
			exit(1);
		}
		if (t2m_out_commit(&out, &e) < 0)
			errx(1, "%s: %s", pfile, e.msg);
	} else if (t2m_write_full(STDOUT_FILENO, text.p, text.len) < 0) {
		e.errnum = errno;
		e.subject = NULL;
		snprintf(e.msg, sizeof e.msg, "write error: %s",
		    strerror(errno));
		die("<stdout>", &e);
	}
	t2m_buf_free(&text);
	t2m_buf_free(&j.report);
	if (close(STDOUT_FILENO) < 0 && !pfile)
		err(1, "<stdout>");
	return 0;
}
