/*
 * t2m-transpose - convert a stream's tensors between PyTorch's layout and
 * MLX's: permute conv weights, split attention projections, merge
 * recurrent biases, fold weight norm; -r goes back.
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

#include "rules.h"
#include "t2m.h"
#include "transpose.h"

#define BUFSIZE ((size_t)1 << 20)

static void
usage(void)
{
	fprintf(stderr, "usage: t2m-transpose [-Lr] [-c config.json] "
	    "[-m map.json]\n");
	exit(2);
}

static void
die(const char *name, const t2m_error *e)
{
	if (e->errnum == EPIPE) {
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
	}
	errx(1, "%s: %s", e->subject ? e->subject : name, e->msg);
}

static void
warn_cb(void *ctx, const char *msg)
{
	warnx("%s: %s", (const char *)ctx, msg);
}

/* A small JSON file (a type map, a config.json) read whole. */
static cJSON *
load_json(const char *path, int quiet_if_missing)
{
	char *text = NULL;
	size_t len = 0, cap = 0;
	ssize_t r;
	cJSON *j;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0) {
		if (quiet_if_missing && errno == ENOENT)
			return NULL;
		err(1, "%s", path);
	}
	for (;;) {
		if (len + 65536 + 1 > cap) {
			cap = cap ? cap * 2 : 65536 * 2;
			if (cap > ((size_t)64 << 20))
				errx(1, "%s: larger than 64 MiB", path);
			if ((text = realloc(text, cap)) == NULL)
				errx(1, "%s: out of memory", path);
		}
		if ((r = read(fd, text + len, 65536)) < 0) {
			if (errno == EINTR)
				continue;
			err(1, "%s", path);
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	text[len] = '\0';
	if ((j = cJSON_ParseWithLength(text, len)) == NULL)
		errx(1, "%s: not valid JSON (near byte %ld)", path,
		    cJSON_GetErrorPtr() ? (long)(cJSON_GetErrorPtr() - text) :
		    0L);
	free(text);
	return j;
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
	struct t2m_types types = { NULL, NULL };
	struct t2m_reader *r;
	struct t2m_writer *w;
	struct t2m_xform *x;
	struct t2m_chunk c;
	const char *cfgpath = NULL, *mappath = NULL, *src;
	cJSON *map = NULL, *cfg = NULL, *mt;
	unsigned char *buf;
	char *auto_cfg = NULL;
	int ch, rflag = 0, rc;
	ssize_t k;
	t2m_error e;

	argv[0] = "t2m-transpose";	/* getopt's messages name the program */
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		if (puts("t2m-transpose " T2M_VERSION) == EOF ||
		    fflush(stdout) == EOF)
			err(1, "<stdout>");
		return 0;
	}
	while ((ch = getopt(argc, argv, "Lc:m:r")) != -1)
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
		default:
			usage();
		}
	argc -= optind;
	argv += optind;
	if (argc != 0)
		usage();

	if (mappath) {
		map = load_json(mappath, 0);
		if (!cJSON_IsObject(map))
			errx(1, "%s: a type map is a JSON object from module "
			    "path to class name", mappath);
		types.map = map;
	}
	if ((r = t2m_reader_new(STDIN_FILENO, "<stdin>", &e)) == NULL ||
	    t2m_reader_begin(r, (struct t2m_manifest **)&in, &e) < 0)
		die("<stdin>", &e);
	/* An HF config.json: given, or beside the checkpoint unpacked. */
	if (cfgpath == NULL && (src = t2m_attrs_get(&in->info, "source")) &&
	    strcmp(src, "<stdin>") != 0) {
		const char *slash = strrchr(src, '/');
		size_t dir = slash ? (size_t)(slash - src) + 1 : 0;
		if ((auto_cfg = malloc(dir + 12)) == NULL)
			errx(1, "out of memory");
		memcpy(auto_cfg, src, dir);
		strcpy(auto_cfg + dir, "config.json");
	}
	if (cfgpath || auto_cfg) {
		cfg = load_json(cfgpath ? cfgpath : auto_cfg, cfgpath == NULL);
		mt = cJSON_GetObjectItemCaseSensitive(cfg, "model_type");
		if (cJSON_IsString(mt))
			types.model_type = mt->valuestring;
	}
	if ((x = t2m_xform_plan(in, &types, rflag, warn_cb, "<stdin>", &out,
	    &e)) == NULL)
		die("<stdin>", &e);
	if ((w = t2m_writer_new(STDOUT_FILENO, "<stdout>", 0, &e)) == NULL ||
	    t2m_writer_begin(w, out, &e) < 0)
		die("<stdout>", &e);
	if ((buf = malloc(BUFSIZE)) == NULL)
		errx(1, "out of memory");
	while ((rc = t2m_reader_next(r, &c, &e)) == 1) {
		while ((k = t2m_reader_read(r, buf, BUFSIZE, &e)) > 0)
			if (t2m_xform_data(x, w, c.index, buf, (size_t)k,
			    &e) < 0)
				die("<stdin>", &e);
		if (k < 0)
			die("<stdin>", &e);
	}
	if (rc < 0 || t2m_xform_finish(x, &e) < 0 ||
	    t2m_writer_end(w, &e) < 0)
		die("<stdin>", &e);
	free(buf);
	free(auto_cfg);
	t2m_xform_free(x);
	t2m_writer_free(w);
	t2m_reader_free(r);
	cJSON_Delete(map);
	cJSON_Delete(cfg);
	if (close(STDOUT_FILENO) < 0)
		err(1, "<stdout>");
	return 0;
}
