/*
 * fuzz_unpack.c - libFuzzer target: the bytes are a checkpoint file.
 * t2m_unpack reads it twice, as a regular file (zip central directory,
 * pread) and as a pipe (front to back, through a read callback), writing
 * the stream to /dev/null, and once more listing it (-l).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t2m.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct memsrc {
	const uint8_t *p;
	size_t n, at;
};

static ssize_t
memread(void *ctx, void *buf, size_t n, t2m_error *err)
{
	struct memsrc *m = ctx;

	(void)err;
	if (n > m->n - m->at)
		n = m->n - m->at;
	memcpy(buf, m->p + m->at, n);
	m->at += n;
	return (ssize_t)n;
}

static void
run(struct t2m_in *in, int devnull, int list)
{
	struct t2m_unpack_opts o = { 0 };
	struct t2m_buf listing = { 0 };
	struct t2m_writer *w = NULL;
	t2m_error err;

	o.chunk = 64;
	o.skip_unsupported = 1;
	if (list)
		o.listing = &listing;
	else if ((w = t2m_writer_new(devnull, "<null>", 64, &err)) == NULL)
		return;
	t2m_unpack(in, w, &o, &err);
	t2m_writer_free(w);
	t2m_buf_free(&listing);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int devnull = -1;
	char path[] = "/tmp/t2m-fuzz.XXXXXX";
	struct memsrc src = { data, size, 0 };
	struct t2m_in in;
	t2m_error err;
	int fd;

	if (devnull < 0 && (devnull = open("/dev/null", O_WRONLY)) < 0)
		abort();
	/* As a pipe. */
	if (t2m_in_init_fn(&in, memread, &src, "<fuzz>", &err) == 0)
		run(&in, devnull, 0);
	t2m_in_free(&in);
	/* As a file. */
	if ((fd = mkstemp(path)) < 0)
		abort();
	unlink(path);
	if (write(fd, data, size) != (ssize_t)size)
		abort();
	lseek(fd, 0, SEEK_SET);
	if (t2m_in_init(&in, fd, "<fuzz>", 0, &err) == 0)
		run(&in, devnull, 0);
	t2m_in_free(&in);
	lseek(fd, 0, SEEK_SET);
	if (t2m_in_init(&in, fd, "<fuzz>", 0, &err) == 0)
		run(&in, devnull, 1);
	t2m_in_free(&in);
	close(fd);
	return 0;
}
