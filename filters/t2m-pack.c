/*
 * t2m-pack - read a t2m stream and write a safetensors file, a set of
 * safetensors shards with an index, or a PyTorch checkpoint, atomically:
 * the output appears complete or not at all.
 */
#include <dirent.h>
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "t2m.h"

#define INDEX_NAME "model.safetensors.index.json"

enum format { F_AUTO, F_SAFETENSORS, F_TORCH };

static struct t2m_progress progress;

/* -h: the usage line, which usage() prints alone, and the rest. */
static const char help[] =
    "usage: t2m-pack [-dq] [-f format] [-s size] file\n"
    "Write a t2m stream to a safetensors file, shards or a PyTorch checkpoint.\n"
    "\n"
    "options:\n"
    "  -d          write each name of a tied tensor with bytes of its own\n"
    "  -f format   safetensors or torch (default: torch for .pt, .pth, .bin)\n"
    "  -q          draw no progress line\n"
    "  -s size     safetensors shards of at most size bytes (K, M, G, T) and an\n"
    "              index, in the directory file\n"
    "  -h, --help  print this help and exit\n"
    "  --version   print the version and exit\n"
    "\n"
    "examples:\n"
    "  t2m-unpack full.pt | t2m-transpose | t2m-pack mlx.safetensors\n"
    "  t2m-unpack model.safetensors | t2m-pack -s 512K shards\n"
    "\n"
    "See t2m-pack(1).\n";

static void
usage(void)
{
	fprintf(stderr, "%.*s", (int)(strchr(help, '\n') - help + 1), help);
	exit(2);
}

/* torch.save's customary extensions ask for PyTorch, any other name
 * for safetensors. */
static enum format
format_of(const char *path)
{
	static const char *const torch[] = { "pt", "pth", "bin" };
	const char *base = strrchr(path, '/'), *dot;
	size_t i;

	dot = strrchr(base ? base + 1 : path, '.');
	for (i = 0; dot && i < sizeof torch / sizeof torch[0]; i++)
		if (strcasecmp(dot + 1, torch[i]) == 0)
			return F_TORCH;
	return F_SAFETENSORS;
}

/* Print the fault, after wiping the progress line it would mix with. */
static void
fault(const char *subject, const t2m_error *e)
{
	t2m_progress_end(&progress);
	warnx("%s: %s", e->subject ? e->subject : subject, e->msg);
}

/* -d: each name of a tied tensor is written with bytes of its own. */
static void
untie(struct t2m_manifest *m)
{
	uint32_t i;

	for (i = 0; i < m->ntensors; i++)
		if (t2m_attrs_unset(m, &m->tensors[i].attrs, "t2m.tie") < 0)
			errx(1, "out of memory");
}

static uint64_t
total_bytes(const struct t2m_manifest *m)
{
	uint64_t n = 0;
	uint32_t i;

	for (i = 0; i < m->ntensors; i++)
		n += m->tensors[i].nbytes;
	return n;
}

/* One safetensors file, or one PyTorch checkpoint. */
static void
single(struct t2m_reader *r, const struct t2m_manifest *m, const char *path,
    enum format fmt, int quiet)
{
	struct t2m_st_layout l;
	struct t2m_pt *pt = NULL;
	struct t2m_out o;
	struct t2m_pack p;
	const char *name;
	char archive[256];
	t2m_error e;
	int rc;

	if (fmt == F_TORCH) {
		t2m_pt_archive_name(path, archive, sizeof archive);
		if ((pt = t2m_pt_layout(m, archive, &e)) == NULL)
			errx(1, "%s: %s", path, e.msg);
	} else if (t2m_st_layout(m, &l, &e) < 0)
		errx(1, "%s: %s", path, e.msg);
	if (t2m_out_open(&o, path, &e) < 0)
		errx(1, "%s: %s", path, e.msg);
	if (!quiet)
		t2m_progress_begin(&progress, STDERR_FILENO, total_bytes(m),
		    "t2m-pack");
	if (pt)
		rc = t2m_pack_pt(r, m, o.fd, o.path, pt, &progress, &e);
	else {
		name = o.path;
		p = (struct t2m_pack){ 1, &o.fd, &name, &l, NULL, NULL, NULL,
		    &progress };
		rc = t2m_pack_st(r, m, &p, &e);
	}
	if (rc < 0) {
		fault("<stdin>", &e);
		t2m_out_abort(&o);
		exit(1);
	}
	t2m_progress_end(&progress);
	if (t2m_out_commit(&o, &e) < 0)
		errx(1, "%s: %s", path, e.msg);
	if (pt)
		t2m_pt_free(pt);
	else
		t2m_st_layout_free(&l);
}

/* 1 when name is a shard of a set of n (or, with n 0, of any set). */
static int
is_shard(const char *name, uint32_t n)
{
	unsigned a, b;
	int len = 0;

	if (strlen(name) != 32 || sscanf(name, "model-%5u-of-%5u.safetensors%n",
	    &a, &b, &len) != 2 || len != 32)
		return 0;
	return n == 0 || b == n;
}

/* A loader that globs model*.safetensors, as mlx-lm does, would take
 * up shards left from a set of another size: refuse them. */
static int
stale_shards(const char *dir, uint32_t n, t2m_error *err)
{
	struct dirent *d;
	DIR *dp;
	int rc = 0;

	if ((dp = opendir(dir)) == NULL)
		return 0;	/* missing: made anew; else found later */
	while ((d = readdir(dp)) != NULL)
		if (is_shard(d->d_name, 0) && !is_shard(d->d_name, n)) {
			rc = t2m_fail(err, "holds %s, a shard of another set; "
			    "remove the old set or choose another directory",
			    d->d_name);
			break;
		}
	closedir(dp);
	return rc;
}

/* Safetensors shards of at most max bytes, and their index. */
static void
sharded(struct t2m_reader *r, const struct t2m_manifest *m, const char *dir,
    uint64_t max, int quiet)
{
	struct t2m_st_shards s;
	struct t2m_outdir o;
	struct t2m_buf index = { 0 };
	struct t2m_pack p;
	const char **names;
	char (*shard)[64];
	int *fds;
	uint32_t k;
	t2m_error e;

	if (t2m_st_shard(m, max, &s, &e) < 0)
		errx(1, "%s: %s", dir, e.msg);
	if ((names = calloc(s.n + 1, sizeof *names)) == NULL ||
	    (shard = calloc(s.n + 1, sizeof *shard)) == NULL ||
	    (fds = calloc(s.n + 1, sizeof *fds)) == NULL)
		errx(1, "out of memory");
	for (k = 0; k < s.n; k++) {
		t2m_st_shard_name(&s, k, shard[k], sizeof shard[k]);
		names[k] = shard[k];
	}
	names[s.n] = INDEX_NAME;	/* renamed last */
	if (stale_shards(dir, s.n, &e) < 0)
		errx(1, "%s: %s", dir, e.msg);
	if (t2m_outdir_open(&o, dir, names, s.n + 1, &e) < 0)
		errx(1, "%s: %s", e.subject, e.msg);
	for (k = 0; k < s.n; k++) {
		fds[k] = o.f[k].fd;
		names[k] = o.f[k].path;
	}
	if (!quiet)
		t2m_progress_begin(&progress, STDERR_FILENO, total_bytes(m),
		    "t2m-pack");
	p = (struct t2m_pack){ s.n, fds, names, s.l, s.shard, s.sub, s.m,
	    &progress };
	if (t2m_pack_st(r, m, &p, &e) < 0) {
		fault("<stdin>", &e);
		t2m_outdir_abort(&o);
		exit(1);
	}
	/* The shards are written: their layouts and manifests make room
	 * for the index. */
	for (k = 0; k < s.n; k++) {
		t2m_st_layout_free(&s.l[k]);
		t2m_manifest_free(s.m[k]);
		s.m[k] = NULL;
	}
	t2m_st_shard_index(m, &s, &index);
	if (index.nomem) {
		t2m_progress_end(&progress);
		warnx("out of memory");
		t2m_outdir_abort(&o);
		exit(1);
	}
	if (t2m_write_full(o.f[s.n].fd, index.p, index.len) < 0) {
		t2m_fail_errno(&e, "write error");
		e.subject = o.f[s.n].path;
		fault(dir, &e);
		t2m_outdir_abort(&o);
		exit(1);
	}
	t2m_progress_end(&progress);
	if (t2m_outdir_commit(&o, &e) < 0)
		errx(1, "%s: %s", e.subject, e.msg);
	t2m_buf_free(&index);
	t2m_st_shards_free(&s);
	free(names);
	free(shard);
	free(fds);
}

int
main(int argc, char *argv[])
{
	struct t2m_manifest *m;
	struct t2m_reader *r;
	enum format fmt = F_AUTO;
	uint64_t max = 0;
	t2m_error e;
	int ch, quiet = 0, apart = 0;

	argv[0] = "t2m-pack";	/* getopt's messages name the program */
	t2m_long_options(argc, argv, "t2m-pack", help);
	while ((ch = getopt(argc, argv, "df:hqs:")) != -1)
		switch (ch) {
		case 'd':
			apart = 1;
			break;
		case 'f':
			if (strcmp(optarg, "safetensors") == 0)
				fmt = F_SAFETENSORS;
			else if (strcmp(optarg, "torch") == 0)
				fmt = F_TORCH;
			else {
				warnx("bad format '%s' (safetensors or torch)",
				    optarg);
				usage();
			}
			break;
		case 'q':
			quiet = 1;
			break;
		case 's':
			if (t2m_parse_size(optarg, &max) < 0 || max == 0) {
				warnx("bad shard size '%s'", optarg);
				usage();
			}
			break;
		case 'h':
			t2m_help(help);
		default:
			usage();
		}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		usage();
	if (max && fmt == F_TORCH) {
		warnx("sharded output (-s) is safetensors only");
		usage();
	}
	if (fmt == F_AUTO)
		fmt = max ? F_SAFETENSORS : format_of(argv[0]);

	if (max)
		t2m_outdir_signals();
	else
		t2m_out_signals();
	if ((r = t2m_reader_new(STDIN_FILENO, "<stdin>", &e)) == NULL ||
	    t2m_reader_begin(r, &m, &e) < 0)
		errx(1, "<stdin>: %s", e.msg);
	if (apart)
		untie(m);
	if (max)
		sharded(r, m, argv[0], max, quiet);
	else
		single(r, m, argv[0], fmt, quiet);
	t2m_reader_free(r);
	return 0;
}
