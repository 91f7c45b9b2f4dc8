/*
 * t2m-pack - read a t2m stream and write a safetensors file, a set of
 * safetensors shards with an index, or a PyTorch checkpoint, atomically:
 * the output appears complete or not at all.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "t2m.h"

#define BUFSIZE ((size_t)1 << 20)
#define INDEX_NAME "model.safetensors.index.json"

enum format { F_AUTO, F_SAFETENSORS, F_TORCH };

/*
 * Where each tensor goes: files[file[i]] at l[file[i]] for tensor i,
 * found there as tensor sub[i] of that file's layout.  One file: file
 * and sub are NULL, and tensor i is tensor i.
 */
struct plan {
	uint32_t nfiles;
	int *fd;
	const char **name;	/* for messages */
	struct t2m_st_layout *l;
	const uint32_t *file, *sub;
	struct t2m_manifest *const *m;	/* each file's, to make a header
					   l does not hold */
};

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

static int
werr(t2m_error *err, const char *name)
{
	t2m_fail_errno(err, "write error");
	err->subject = name;
	return -1;
}

/* Written in place over an old file: cut what lies beyond. */
static int
cut(int fd, uint64_t size, const char *name, t2m_error *err)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size > size && ftruncate(fd, (off_t)size) < 0)
		return werr(err, name);
	return 0;
}

/* Hidden tensors' bytes, which go into a header as base64, so the
 * headers are written again at the end. */
static unsigned char **
hidden_buffers(const struct t2m_manifest *m, const struct plan *p,
    t2m_error *err)
{
	unsigned char **h;
	uint32_t i, f, s;

	if ((h = calloc(m->ntensors + 1, sizeof *h)) == NULL)
		goto nomem;
	for (i = 0; i < m->ntensors; i++) {
		f = p->file ? p->file[i] : 0;
		s = p->sub ? p->sub[i] : i;
		if (p->l[f].b64_at[s] != UINT64_MAX &&
		    (h[i] = malloc(m->tensors[i].nbytes ?
		    m->tensors[i].nbytes : 1)) == NULL)
			goto nomem;
	}
	return h;
nomem:
	for (i = 0; h && i < m->ntensors; i++)
		free(h[i]);
	free(h);
	t2m_fail(err, "out of memory");
	return NULL;
}

/* Make file f's header again: the same layout, from its manifest. */
static int
header(const struct plan *p, uint32_t f, t2m_error *err)
{
	struct t2m_st_layout again;

	if (t2m_st_layout(p->m[f], &again, err) < 0)
		return -1;
	p->l[f].header = again.header;
	again.header = NULL;
	t2m_st_layout_free(&again);
	return 0;
}

/* A tie's bytes differ from those of the tensor it names: the stream
 * is not valid (t2m-stream(5)). */
static int
untied(const struct t2m_manifest *m, uint32_t i, t2m_error *err)
{
	return t2m_fail(err, "tensor '%s' has the attribute t2m.tie=%s, but "
	    "not its bytes", m->tensors[i].name,
	    t2m_attrs_get(&m->tensors[i].attrs, "t2m.tie"));
}

/*
 * A tie's bytes are not written, but its two ends are checked against
 * those of the tensor it names: SAMPLE bytes at each, whose CRC-32s are
 * taken as the tie's records go by.  A permuted or cast tensor differs
 * from its original nearly everywhere, so the ends show a filter that
 * changed one of the two and kept the tie; reading back all the bytes
 * would cost a tenth of the writing.
 */
#define SAMPLE ((uint64_t)64 << 10)

struct ends {
	uint32_t crc[2];	/* of bytes [0, h) and [t, n) */
};

/* The two ends of a tensor of n bytes: [0, *h) and [*t, n). */
static void
ends_of(uint64_t n, uint64_t *h, uint64_t *t)
{
	*h = n < SAMPLE ? n : SAMPLE;
	*t = n - *h < SAMPLE ? *h : n - SAMPLE;
}

/* Add bytes [at, at + k) of a tensor of n bytes to e. */
static void
ends_add(struct ends *e, uint64_t n, uint64_t at, const unsigned char *b,
    size_t k)
{
	uint64_t h, t, lo, hi;

	ends_of(n, &h, &t);
	if (at < h) {
		hi = at + k < h ? at + k : h;
		e->crc[0] = t2m_crc32(e->crc[0], b, (size_t)(hi - at));
	}
	if (at + k > t) {
		lo = at > t ? at : t;
		e->crc[1] = t2m_crc32(e->crc[1], b + (lo - at),
		    (size_t)(at + k - lo));
	}
}

/* Take in record c of a tie of n bytes: its ends into e, the rest
 * dropped into /dev/null (*null, opened once), never copied. */
static int
pass_tie(struct t2m_reader *r, const struct t2m_chunk *c, uint64_t n,
    struct ends *e, unsigned char *buf, int *null, t2m_error *err)
{
	uint64_t at = c->offset, end = c->offset + c->length, h, t, want;
	ssize_t k;

	ends_of(n, &h, &t);
	while (at < end) {
		if (at >= h && at < t) {
			/* The middle, up to the tail or this record's end. */
			want = (end < t ? end : t) - at;
			if (*null < 0)
				*null = open("/dev/null", O_WRONLY | O_CLOEXEC);
			if (*null >= 0) {
				if (t2m_reader_drop(r, want, *null, err) < 0)
					return -1;
				at += want;
				continue;
			}
		} else
			want = (at < h ? h : end) - at;
		if (want > BUFSIZE)
			want = BUFSIZE;
		if ((k = t2m_reader_read(r, buf, (size_t)want, err)) <= 0)
			return k < 0 ? -1 : t2m_fail(err, "internal: a tie's "
			    "record ends early");
		ends_add(e, n, at, buf, (size_t)k);
		at += (uint64_t)k;
	}
	return 0;
}

/* Check tie i's ends against those of the tensor it names, written to
 * its place already (unless the output is a device, such as /dev/null,
 * that keeps nothing to check). */
static int
check_tie(const struct t2m_manifest *m, const struct plan *p, uint32_t i,
    const struct ends *e, unsigned char *buf, t2m_error *err)
{
	uint32_t k = (uint32_t)t2m_tensor_tie(m, i), f;
	uint64_t at, n = m->tensors[k].nbytes, h, t;
	struct ends mine = { { 0, 0 } };
	struct stat st;

	f = p->file ? p->file[k] : 0;
	if (fstat(p->fd[f], &st) == 0 && !S_ISREG(st.st_mode))
		return 0;
	at = p->l[f].header_len + p->l[f].offset[p->sub ? p->sub[k] : k];
	ends_of(n, &h, &t);
	if (t2m_pread_full(p->fd[f], buf, (size_t)h, at, err) < 0 ||
	    t2m_pread_full(p->fd[f], buf + h, (size_t)(n - t), at + t,
	    err) < 0) {
		err->subject = p->name[f];
		return -1;
	}
	ends_add(&mine, n, 0, buf, (size_t)h);
	ends_add(&mine, n, t, buf + h, (size_t)(n - t));
	return memcmp(&mine, e, sizeof mine) == 0 ? 0 : untied(m, i, err);
}

/* Copy the stream's data to its place in the safetensors files. */
static int
pack_st(struct t2m_reader *r, const struct t2m_manifest *m,
    const struct plan *p, t2m_error *err)
{
	const struct t2m_st_layout *l;
	unsigned char *buf, **hidden;
	struct t2m_chunk c;
	uint64_t at, base;
	struct ends *tends = NULL;
	uint32_t i, f, s;
	int null = -1;
	ssize_t k;
	int rc = -1;

	if ((hidden = hidden_buffers(m, p, err)) == NULL)
		return -1;
	if ((buf = malloc(BUFSIZE)) == NULL ||
	    (tends = calloc(m->ntensors + 1, sizeof *tends)) == NULL) {
		t2m_fail(err, "out of memory");
		goto out;
	}
	/* The headers go first and are let go: the hidden tensors' base64
	 * is written into its place in the files at the end. */
	for (f = 0; f < p->nfiles; f++) {
		if (p->l[f].header == NULL && header(p, f, err) < 0)
			goto out;
		if (t2m_pwrite_full(p->fd[f], p->l[f].header,
		    p->l[f].header_len, 0) < 0) {
			werr(err, p->name[f]);
			goto out;
		}
		free(p->l[f].header);
		p->l[f].header = NULL;
	}
	while ((rc = t2m_reader_next(r, &c, err)) == 1) {
		f = p->file ? p->file[c.index] : 0;
		s = p->sub ? p->sub[c.index] : c.index;
		l = &p->l[f];
		base = l->header_len + l->offset[s];
		if (l->offset[s] == UINT64_MAX) {
			/* A tie: its bytes are written once, as the tensor
			 * it names; its ends are checked against them. */
			if (pass_tie(r, &c, m->tensors[c.index].nbytes,
			    &tends[c.index], buf, &null, err) < 0) {
				rc = -1;
				break;
			}
			t2m_progress_add(&progress, c.length);
			continue;
		}
		if (!hidden[c.index]) {
			if (t2m_reader_move(r, p->fd[f], base + c.offset,
			    p->name[f], err) < 0)
				break;
			t2m_progress_add(&progress, c.length);
			continue;
		}
		at = c.offset;
		while ((k = t2m_reader_read(r, buf, BUFSIZE, err)) > 0) {
			memcpy(hidden[c.index] + at, buf, (size_t)k);
			at += (uint64_t)k;
			t2m_progress_add(&progress, (uint64_t)k);
		}
		if (k < 0) {
			rc = -1;
			break;
		}
	}
	if (rc != 0 || t2m_reader_settle(r, err) < 0) {
		rc = -1;
		goto out;
	}
	rc = -1;
	for (i = 0; i < m->ntensors; i++) {
		f = p->file ? p->file[i] : 0;
		if (p->l[f].offset[p->sub ? p->sub[i] : i] == UINT64_MAX &&
		    check_tie(m, p, i, &tends[i], buf, err) < 0)
			goto out;
		if (!hidden[i])
			continue;
		if (t2m_st_write_hidden(&p->l[f], p->fd[f], p->sub ?
		    p->sub[i] : i, hidden[i], (size_t)m->tensors[i].nbytes) <
		    0) {
			werr(err, p->name[f]);
			goto out;
		}
	}
	for (f = 0; f < p->nfiles; f++)
		if (cut(p->fd[f], p->l[f].header_len + p->l[f].data_len,
		    p->name[f], err) < 0)
			goto out;
	rc = 0;
out:
	for (i = 0; i < m->ntensors; i++)
		free(hidden[i]);
	free(hidden);
	free(buf);
	free(tends);
	if (null >= 0)
		close(null);
	return rc;
}

/* Copy the stream's data into the checkpoint, each tensor's CRC-32
 * computed on the way, then write the rest of the archive. */
static int
pack_pt(struct t2m_reader *r, const struct t2m_manifest *m,
    struct t2m_out *o, struct t2m_pt *pt, t2m_error *err)
{
	unsigned char *buf;
	struct t2m_chunk c;
	uint64_t at;
	ssize_t k = 0;
	long tie;
	int rc;

	if ((buf = malloc(BUFSIZE)) == NULL)
		return t2m_fail(err, "out of memory");
	while ((rc = t2m_reader_next(r, &c, err)) == 1) {
		/* A tie views the storage of the tensor it names: its bytes
		 * are only checked (t2m_pt_untied). */
		at = t2m_pt_offset(pt, c.index);
		if (at != UINT64_MAX)
			at += c.offset;
		while ((k = t2m_reader_read(r, buf, BUFSIZE, err)) > 0) {
			t2m_pt_crc(pt, c.index, buf, (size_t)k);
			if (at == UINT64_MAX) {
				t2m_progress_add(&progress, (uint64_t)k);
				continue;
			}
			if (t2m_pwrite_full(o->fd, buf, (size_t)k, at) < 0) {
				free(buf);
				return werr(err, o->path);
			}
			at += (uint64_t)k;
			t2m_progress_add(&progress, (uint64_t)k);
		}
		if (k < 0)
			break;
	}
	free(buf);
	if (rc != 0 || k < 0)
		return -1;
	if ((tie = t2m_pt_untied(pt)) >= 0)
		return untied(m, (uint32_t)tie, err);
	if (t2m_pt_finish(pt, o->fd) < 0)
		return werr(err, o->path);
	return cut(o->fd, t2m_pt_size(pt), o->path, err);
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
	struct plan p;
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
		rc = pack_pt(r, m, &o, pt, &e);
	else {
		name = o.path;
		p = (struct plan){ 1, &o.fd, &name, &l, NULL, NULL, NULL };
		rc = pack_st(r, m, &p, &e);
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
	struct plan p;
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
	p = (struct plan){ s.n, fds, names, s.l, s.shard, s.sub, s.m };
	if (pack_st(r, m, &p, &e) < 0) {
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
		werr(&e, o.f[s.n].path);
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
