/*
 * t2m-unpack - read a checkpoint and write it as a t2m stream.
 */
#include <sys/stat.h>

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
    "usage: t2m-unpack [-cls] [-C size] [-k key] [-m member] [file | -]\n"
    "Read a checkpoint and write it as a t2m stream.\n"
    "\n"
    "options:\n"
    "  -C size     data records of at most size bytes (K, M, G; default 1M)\n"
    "  -c          do not check the CRC-32 of zip records\n"
    "  -k key      only the part of the checkpoint at key (a dotted path)\n"
    "  -l          write no stream: list what the checkpoint holds\n"
    "  -m member   in a tar archive, read the member called member\n"
    "  -s          skip the tensors t2m cannot convert, with a warning\n"
    "  -h, --help  print this help and exit\n"
    "  --version   print the version and exit\n"
    "\n"
    "examples:\n"
    "  t2m-unpack model.pt | t2m-pack weights.safetensors\n"
    "  zstd -dc model.pt.zst | t2m-unpack | t2m-pack weights.safetensors\n"
    "\n"
    "See t2m-unpack(1).\n";

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

int
main(int argc, char *argv[])
{
	struct t2m_unpack_opts o = { 0 };
	struct t2m_buf listing = { 0 };
	struct t2m_writer *w = NULL;
	struct t2m_in in;
	const char *name = "<stdin>";
	char *index = NULL;
	struct stat st;
	uint64_t size;
	t2m_error e;
	int ch, fd = 0, lflag = 0;

	argv[0] = "t2m-unpack";	/* getopt's messages name the program */
	t2m_long_options(argc, argv, "t2m-unpack", help);
	while ((ch = getopt(argc, argv, "C:chk:lm:s")) != -1)
		switch (ch) {
		case 'c':
			o.ignore_crc = 1;
			break;
		case 'k':
			o.select = optarg;
			break;
		case 'l':
			lflag = 1;
			break;
		case 'm':
			o.member = optarg;
			break;
		case 's':
			o.skip_unsupported = 1;
			break;
		case 'C':
			if (t2m_parse_size(optarg, &size) < 0 || size == 0 ||
			    size > ((uint64_t)1 << 30)) {
				warnx("bad record size '%s' (1 to 1G)", optarg);
				usage();
			}
			o.chunk = (size_t)size;
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
		/* A directory: the sharded checkpoint whose index is in it. */
		if (stat(name, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (t2m_index_find(name, &index, &e) < 0)
				t2m_die(name, &e);
			name = index;
		}
		if ((fd = open(name, O_RDONLY)) < 0)
			err(1, "%s", name);
	}
	o.warn = warn_cb;
	o.warn_ctx = (void *)name;
	if (t2m_in_init(&in, fd, name, 0, &e) < 0)
		t2m_die(name, &e);
	if (lflag)
		o.listing = &listing;
	else if ((w = t2m_writer_new(STDOUT_FILENO, "<stdout>", o.chunk,
	    &e)) == NULL)
		t2m_die("<stdout>", &e);
	if (t2m_unpack(&in, w, &o, &e) < 0)
		t2m_die(name, &e);
	if (lflag && (listing.nomem || t2m_write_full(STDOUT_FILENO,
	    listing.p ? listing.p : "", listing.len) < 0)) {
		e.errnum = errno;
		if (errno == EPIPE)
			t2m_die("<stdout>", &e);
		err(1, "<stdout>");
	}
	t2m_buf_free(&listing);
	t2m_writer_free(w);
	t2m_in_free(&in);
	free(index);
	if (close(STDOUT_FILENO) < 0)
		err(1, "<stdout>");
	return 0;
}
