/*
 * fuzz_rename.c - libFuzzer target: the bytes are a t2m stream, its
 * checksums made right first (stream.h), run through t2m-rename's
 * rename_stream (its source is included, main renamed) with options
 * made from the stream's own names: -u; -d of its first tensor; -k of
 * its .weight tensors with its last tensor's first component renamed;
 * -p of its first tensor's first component; -s =m, which moves
 * everything under m.  Renaming MLX streams rewrites the t2m.reverse
 * recipes.  Whatever t2m-rename writes without an error must be a valid
 * stream; with -d of one exact name, the input less that tensor, bytes
 * and all.  A difference aborts, as a crash does.
 */
#define _GNU_SOURCE		/* memfd_create, in stream.h */
#define main t2m_rename_main
#include "../../filters/t2m-rename.c"
#undef main

#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The options of one run: patterns, and old=new when old is set. */
struct opts {
	int uflag;
	const char *keep, *drop, *old, *new;
};

/* Whether a glob pattern matches only the name it is. */
static int
literal(const char *s)
{
	return strpbrk(s, "*?[\\") == NULL;
}

/* rename_stream on the stream in fd with options o, into out. */
static void
run(int fd, int out, const struct opts *o, const struct contents *in)
{
	struct plan p = { 0 };
	struct contents got;
	const char *side;
	const struct t2m_tensor *t;
	t2m_error e;
	uint32_t i;
	long j;

	rewind_empty(out);
	if (lseek(fd, 0, SEEK_SET) < 0)
		abort();
	p.keep = o->keep ? (const char **)&o->keep : NULL;
	p.nkeep = o->keep != NULL;
	p.drop = o->drop ? (const char **)&o->drop : NULL;
	p.ndrop = o->drop != NULL;
	if (o->old)
		add_subst(&p, 0, o->old, o->new);
	p.err = &e;
	if (rename_stream(&p, o->uflag, fd, out, &side) < 0) {
		free(p.subs);
		return;
	}
	free(p.subs);
	if (contents(out, &got) < 0) {
		fprintf(stderr, "fuzz_rename: the output is not a valid "
		    "stream\n");
		abort();
	}
	/* -d of one name alone: every other tensor passes as it was. */
	if (in != NULL && o->drop && !o->keep && !o->old && !o->uflag &&
	    literal(o->drop)) {
		if (got.m->ntensors + 1 != in->m->ntensors) {
			fprintf(stderr, "fuzz_rename: -d '%s' left %u of %u "
			    "tensors\n", o->drop, got.m->ntensors,
			    in->m->ntensors);
			abort();
		}
		for (i = 0; i < got.m->ntensors; i++) {
			t = &got.m->tensors[i];
			if ((j = t2m_manifest_find(in->m, t->name)) < 0 ||
			    strcmp(t->name, o->drop) == 0 ||
			    t->nbytes != in->m->tensors[j].nbytes ||
			    (t->nbytes > 0 && memcmp(got.b[i], in->b[j],
			    (size_t)t->nbytes) != 0)) {
				fprintf(stderr, "fuzz_rename: '%s' changed\n",
				    t->name);
				abort();
			}
		}
	}
	contents_free(&got);
}

/* The first dotted component of name, into buf. */
static const char *
first(const char *name, char *buf, size_t cap)
{
	size_t n = strcspn(name, ".");

	if (n >= cap)
		n = cap - 1;
	memcpy(buf, name, n);
	buf[n] = '\0';
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int out = -1;
	struct t2m_reader *r;
	struct t2m_manifest *m;
	struct contents in;
	struct opts o[5];
	char a[256], b[256], *name0 = NULL;
	unsigned char *p;
	t2m_error e;
	int fd, k, n = 0, valid;

	if (out < 0)
		out = memfile();
	fd = stream_file(data, size, &p);
	valid = contents(fd, &in) == 0;
	/* The options come from the names, when the manifest reads. */
	memset(o, 0, sizeof o);
	o[n++].uflag = 1;
	if (lseek(fd, 0, SEEK_SET) == 0 &&
	    (r = t2m_reader_new(fd, "<fuzz>", &e)) != NULL) {
		if (t2m_reader_begin(r, &m, &e) == 0 && m->ntensors > 0 &&
		    (name0 = strdup(m->tensors[0].name)) != NULL) {
			o[n++].drop = name0;
			o[n].keep = "*.weight";
			o[n].old = first(m->tensors[m->ntensors - 1].name, a,
			    sizeof a);
			o[n++].new = "renamed";
			o[n].old = first(name0, b, sizeof b);
			o[n++].new = "";
		}
		t2m_reader_free(r);
	}
	o[n].old = "";
	o[n++].new = "m";
	for (k = 0; k < n; k++)
		run(fd, out, &o[k], valid ? &in : NULL);
	free(name0);
	contents_free(&in);
	close(fd);
	free(p);
	return 0;
}
