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

#include <cJSON.h>

#include "t2m.h"
#include "transpose.h"


static void
usage(void)
{
	fprintf(stderr, "usage: t2m-analyze [-jt] [-c config.json] "
	    "[-m map.json] [-p report] [file | -]\n");
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
	struct t2m_buf report;
	int direct;		/* the JSON report to fd as it is made */
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
		rc = t2m_analyze_to(m, &types, &j->report, emit, j, err);
	else
		rc = t2m_analyze(m, &types, &j->report, err);
	t2m_types_free(&types);
	return rc;
}

static const char *
str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double
num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* The last part of a qualified class name, or "-". */
static const char *
short_class(const char *q)
{
	const char *dot;

	if (q == NULL)
		return "-";
	dot = strrchr(q, '.');
	return dot ? dot + 1 : q;
}

static const char *
mlx_name(const char *q)
{
	if (q == NULL)
		return "-";
	return strncmp(q, "mlx.nn.", 7) == 0 ? q + 7 : q;
}

static void
widen(int *w, const char *s)
{
	int n = (int)strlen(s);

	if (n > *w)
		*w = n > 48 ? 48 : n;
}

/* The report for people: a summary, the layers, blockers, warnings.
 * The JSON is let go once parsed. */
static void
table(struct t2m_buf *b, struct t2m_buf *json)
{
	const cJSON *r, *src, *ts, *cov, *l, *e, *d;
	const char *s;
	int w[5] = { 5, 5, 3, 4, 6 };

	if ((r = cJSON_Parse(json->p)) == NULL)
		errx(1, "internal: the report is not JSON");
	t2m_buf_free(json);
	src = cJSON_GetObjectItem(r, "source");
	ts = cJSON_GetObjectItem(r, "tensors");
	cov = cJSON_GetObjectItem(r, "coverage");
	t2m_buf_printf(b, "source    %s (%s, %s layout)\n",
	    str(src, "path") ? str(src, "path") : "?",
	    str(src, "format") ? str(src, "format") : "?",
	    str(src, "layout") ? str(src, "layout") : "?");
	t2m_buf_printf(b, "tensors   %.0f (%.0f parameters, %.0f bytes:",
	    num(ts, "count"), num(ts, "parameters"), num(ts, "bytes"));
	cJSON_ArrayForEach(d, cJSON_GetObjectItem(ts, "dtypes"))
		t2m_buf_printf(b, " %s %.0f", d->string, num(d, "count"));
	t2m_buf_printf(b, ")\ncoverage  %.1f%% of layers, %.1f%% of "
	    "parameters\n", 100 * num(cov, "layers"),
	    100 * num(cov, "parameters"));
	/* Column widths from the content. */
	cJSON_ArrayForEach(l, cJSON_GetObjectItem(r, "layers")) {
		widen(&w[0], str(l, "path"));
		widen(&w[1], short_class(str(l, "torch")));
		widen(&w[2], mlx_name(str(l, "mlx")));
		widen(&w[3], str(l, "rule") ? str(l, "rule") : "-");
		widen(&w[4], str(l, "status"));
	}
	t2m_buf_printf(b, "\n%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w[0],
	    "LAYER", w[1], "TORCH", w[2], "MLX", w[3], "RULE", w[4], "STATUS",
	    "FROM");
	cJSON_ArrayForEach(l, cJSON_GetObjectItem(r, "layers")) {
		t2m_buf_printf(b, "%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w[0],
		    str(l, "path"), w[1], short_class(str(l, "torch")), w[2],
		    mlx_name(str(l, "mlx")), w[3], str(l, "rule") ?
		    str(l, "rule") : "-", w[4], str(l, "status"),
		    str(l, "provenance"));
		if ((s = str(l, "reason")) != NULL &&
		    strcmp(str(l, "status"), "convertible") != 0)
			t2m_buf_printf(b, "%*s  %s\n", w[0], "", s);
	}
	e = cJSON_GetObjectItem(r, "blockers");
	t2m_buf_printf(b, "\n%d blocker%s\n", cJSON_GetArraySize(e),
	    cJSON_GetArraySize(e) == 1 ? "" : "s");
	cJSON_ArrayForEach(l, e)
		t2m_buf_printf(b, "  %-14s %s\n", str(l, "kind"),
		    str(l, "message"));
	e = cJSON_GetObjectItem(r, "warnings");
	if (cJSON_GetArraySize(e) > 0) {
		t2m_buf_printf(b, "\n%d warning%s\n", cJSON_GetArraySize(e),
		    cJSON_GetArraySize(e) == 1 ? "" : "s");
		cJSON_ArrayForEach(l, e)
			t2m_buf_printf(b, "  %s\n", l->valuestring);
	}
	cJSON_Delete((cJSON *)r);
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
	struct job j = { NULL, NULL, { 0 }, 0, STDOUT_FILENO, "<stdout>" };
	struct t2m_buf text = { 0 };
	struct t2m_out out;
	struct t2m_in in;
	const char *name = "<stdin>", *pfile = NULL;
	int ch, fd = 0, jflag = 0, tflag = 0, s;
	t2m_error e;

	argv[0] = "t2m-analyze";	/* getopt's messages name the program */
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		if (puts("t2m-analyze " T2M_VERSION) == EOF ||
		    fflush(stdout) == EOF)
			err(1, "<stdout>");
		return 0;
	}
	while ((ch = getopt(argc, argv, "c:jm:p:t")) != -1)
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

	if (t2m_in_init(&in, fd, name, 0, &e) < 0)
		die(name, &e);
	if ((s = is_stream(&in, &e)) < 0)
		die(name, &e);
	if (s) {
		/* JSON goes out as it is made: to stdout, or to the report
		 * file unless that is stdout too (the stream is there). */
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
		j.direct = !tflag;
		o.manifest = analyze;
		o.manifest_ctx = &j;
		o.skip_unsupported = 1;
		if (t2m_unpack(&in, NULL, &o, &e) < 0)
			die(name, &e);
	}
	t2m_in_free(&in);

	/* The report as JSON is written as it is, or was already. */
	if (tflag)
		table(&text, &j.report);
	else if (!j.direct) {
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
