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

/* Copy the stream's data to its place in the file.  Hidden tensors go
 * into the header as base64, so it is written again at the end. */
static int
pack(struct t2m_reader *r, struct t2m_out *o, struct t2m_st_layout *l,
    const struct t2m_manifest *m, t2m_error *err)
{
	unsigned char *buf, **hidden;
	struct t2m_chunk c;
	struct stat st;
	uint64_t at;
	uint32_t i;
	ssize_t k;
	int rc = -1, nhidden = 0;

	if ((buf = malloc(BUFSIZE)) == NULL ||
	    (hidden = calloc(m->ntensors + 1, sizeof *hidden)) == NULL) {
		free(buf);
		return t2m_fail(err, "out of memory");
	}
	for (i = 0; i < m->ntensors; i++)
		if (l->b64_at[i] != UINT64_MAX) {
			if ((hidden[i] = malloc(m->tensors[i].nbytes ?
			    m->tensors[i].nbytes : 1)) == NULL) {
				t2m_fail(err, "out of memory");
				goto out;
			}
			nhidden++;
		}
	if (t2m_pwrite_full(o->fd, l->header, l->header_len, 0) < 0)
		goto werr;
	while ((rc = t2m_reader_next(r, &c, err)) == 1) {
		at = l->header_len + l->offset[c.index] + c.offset;
		if (!hidden[c.index]) {
			if (t2m_reader_move(r, o->fd, at, o->path, err) < 0)
				break;
			continue;
		}
		while ((k = t2m_reader_read(r, buf, BUFSIZE, err)) > 0) {
			memcpy(hidden[c.index] + (at - l->header_len -
			    l->offset[c.index]), buf, (size_t)k);
			at += (uint64_t)k;
		}
		if (k < 0) {
			rc = -1;
			break;
		}
	}
	if (rc != 0) {
		rc = -1;
		goto out;
	}
	rc = -1;
	if (nhidden) {
		for (i = 0; i < m->ntensors; i++)
			if (hidden[i])
				t2m_st_fill_hidden(l, i, hidden[i],
				    (size_t)m->tensors[i].nbytes);
		if (t2m_pwrite_full(o->fd, l->header, l->header_len, 0) < 0)
			goto werr;
	}
	/* Written in place over an old file: cut what lies beyond. */
	if (fstat(o->fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size > l->header_len + l->data_len &&
	    ftruncate(o->fd, (off_t)(l->header_len + l->data_len)) < 0)
		goto werr;
	rc = 0;
	goto out;
werr:
	t2m_fail_errno(err, "write error");
	err->subject = o->path;
out:
	for (i = 0; i < m->ntensors; i++)
		free(hidden[i]);
	free(hidden);
	free(buf);
	return rc;
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
	if (pack(r, &o, &l, m, &e) < 0) {
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
