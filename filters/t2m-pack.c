/*
 * t2m-pack - read a t2m stream and write a safetensors file, atomically:
 * the file appears complete or not at all.
 */
#include <sys/stat.h>

#include <errno.h>
#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t2m.h"

#define BUFSIZE ((size_t)1 << 20)

static void
usage(void)
{
	fprintf(stderr, "usage: t2m-pack file\n");
	exit(2);
}

/* Copy the stream's data to its place in the file. */
static int
pack(struct t2m_reader *r, struct t2m_out *o, const struct t2m_st_layout *l,
    t2m_error *err)
{
	struct t2m_chunk c;
	struct stat st;
	unsigned char *buf;
	uint64_t at;
	ssize_t k;
	int rc;

	if ((buf = malloc(BUFSIZE)) == NULL)
		return t2m_fail(err, "out of memory");
	if (t2m_pwrite_full(o->fd, l->header, l->header_len, 0) < 0)
		goto werr;
	while ((rc = t2m_reader_next(r, &c, err)) == 1) {
		at = l->header_len + l->offset[c.index] + c.offset;
		while ((k = t2m_reader_read(r, buf, BUFSIZE, err)) > 0) {
			if (t2m_pwrite_full(o->fd, buf, (size_t)k, at) < 0)
				goto werr;
			at += (uint64_t)k;
		}
		if (k < 0)
			break;
	}
	free(buf);
	if (rc != 0)
		return -1;
	/* Written in place over an old file: cut what lies beyond. */
	if (fstat(o->fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size > l->header_len + l->data_len &&
	    ftruncate(o->fd, (off_t)(l->header_len + l->data_len)) < 0)
		goto werr_nobuf;
	return 0;
werr:
	free(buf);
werr_nobuf:
	t2m_fail_errno(err, "write error");
	err->subject = o->path;
	return -1;
}

int
main(int argc, char *argv[])
{
	struct t2m_st_layout l;
	struct t2m_manifest *m;
	struct t2m_reader *r;
	struct t2m_out o;
	const char *path;
	t2m_error e;
	int ch;

	argv[0] = "t2m-pack";	/* getopt's messages name the program */
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		if (puts("t2m-pack " T2M_VERSION) == EOF || fflush(stdout) == EOF)
			err(1, "<stdout>");
		return 0;
	}
	while ((ch = getopt(argc, argv, "")) != -1)
		usage();
	argc -= optind;
	argv += optind;
	if (argc != 1)
		usage();
	path = argv[0];

	t2m_out_signals();
	if ((r = t2m_reader_new(STDIN_FILENO, "<stdin>", &e)) == NULL ||
	    t2m_reader_begin(r, &m, &e) < 0)
		errx(1, "<stdin>: %s", e.msg);
	if (t2m_st_layout(m, &l, &e) < 0)
		errx(1, "%s: %s", path, e.msg);
	if (t2m_out_open(&o, path, &e) < 0)
		errx(1, "%s: %s", path, e.msg);
	if (pack(r, &o, &l, &e) < 0) {
		warnx("%s: %s", e.subject ? e.subject : "<stdin>", e.msg);
		t2m_out_abort(&o);
		exit(1);
	}
	if (t2m_out_commit(&o, &e) < 0)
		errx(1, "%s: %s", path, e.msg);
	t2m_st_layout_free(&l);
	t2m_reader_free(r);
	return 0;
}
