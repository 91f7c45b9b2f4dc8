/*
 * sharded.c - a sharded checkpoint read as one stream: a Hugging Face
 * index (model.safetensors.index.json, pytorch_model.bin.index.json)
 * whose "weight_map" names each tensor's shard, a file beside it.
 * (shards.c writes such checkpoints.)
 *
 * A stream's manifest comes before any of its data, so every shard is
 * read twice: first its header or pickle alone, checked against the
 * index and added to one manifest; then, that manifest written, each
 * shard again for its data, its tensors numbered from where the first
 * pass put them.  What is held is the manifest and the weight map,
 * O(tensors), and one shard's pickle at a time - never a shard's data.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "internal.h"
#include "unpack.h"

#define MAX_INDEX	((uint64_t)1 << 30)	/* bytes of index JSON */
#define RECIPE_PIECE	((size_t)512 << 10)	/* as transpose.c cuts them */

struct entry {			/* a pair of the weight map */
	const char *tensor;
	uint32_t shard;
	int found;
};

struct shard {
	const char *name;	/* as the index names it */
	char *path;		/* beside the index */
	uint32_t want, got;	/* tensors the index puts here, found here */
	uint32_t base, n;	/* its tensors' positions in the manifest */
	char *recipes;		/* its t2m.reverse metadata, joined */
};

struct index {
	const char *path;
	const struct t2m_unpack_opts *o;
	struct t2m_manifest *m;	/* every shard's tensors; owns the strings */
	struct entry *map;
	uint32_t nmap, capmap;
	struct t2m_strmap bytensor;	/* tensor name -> map entry */
	struct shard *shards;
	uint32_t nshards, capshards;
	uint32_t cur;		/* the shard being read */
	struct t2m_strmap modules;	/* module paths already in m */
	const char *formats[4];	/* the shards' formats, each once */
	int nformats;
	struct t2m_buf skipped;
	int nskipped;
};

/* ---- the index ---- */

/*
 * The JSON reader speaks of a safetensors header ("header byte 17: ...");
 * here the text is the whole file, so its offsets are the file's.
 */
static int
index_words(t2m_error *err)
{
	char old[T2M_ERRLEN], *p;

	memcpy(old, err->msg, sizeof old);
	p = strncmp(old, "header byte ", 12) == 0 ? old + 7 : old;
	snprintf(err->msg, sizeof err->msg, "%s", p);
	if ((p = strstr(err->msg, "header ends")) != NULL) {
		memcpy(p, "file", 4);
		memmove(p + 4, p + 6, strlen(p + 6) + 1);
	}
	return -1;
}

/* A shard is a file beside the index: a name, never a path.  The index
 * comes from strangers, and "../../.ssh/id_rsa" is a name too. */
static int
file_name(const char *s)
{
	return *s != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
	    strcmp(s, "..") != 0;
}

static int
add_entry(struct index *x, struct t2m_json *j, const char *tensor,
    const char *shard, struct t2m_strmap *byname)
{
	struct entry *ne;
	struct shard *ns;
	uint32_t cap;
	long k;

	if ((k = t2m_strmap_get(byname, shard)) < 0) {
		if (!file_name(shard))
			return t2m_json_fail(j, "shard '%s' is not a file name "
			    "beside the index", shard);
		if (x->nshards == x->capshards) {
			cap = x->capshards ? x->capshards * 2 : 16;
			if ((ns = realloc(x->shards, cap * sizeof *ns)) == NULL)
				return t2m_json_fail(j, "out of memory");
			x->shards = ns;
			x->capshards = cap;
		}
		memset(&x->shards[x->nshards], 0, sizeof *x->shards);
		if ((x->shards[x->nshards].name = t2m_manifest_strndup(x->m,
		    shard, strlen(shard))) == NULL ||
		    t2m_strmap_put(byname, x->shards[x->nshards].name,
		    x->nshards) < 0)
			return t2m_json_fail(j, "out of memory");
		k = x->nshards++;
	}
	if (x->nmap == x->capmap) {
		cap = x->capmap ? x->capmap * 2 : 256;
		if (x->nmap >= T2M_MAX_TENSORS)
			return t2m_json_fail(j, "more than %u tensors",
			    T2M_MAX_TENSORS);
		if ((ne = realloc(x->map, cap * sizeof *ne)) == NULL)
			return t2m_json_fail(j, "out of memory");
		x->map = ne;
		x->capmap = cap;
	}
	x->map[x->nmap] = (struct entry){ tensor, (uint32_t)k, 0 };
	if (t2m_strmap_put(&x->bytensor, tensor, x->nmap) < 0)
		return t2m_json_fail(j, "out of memory");
	x->nmap++;
	x->shards[k].want++;
	return 0;
}

/* "weight_map": {"tensor": "shard file", ...} */
static int
parse_map(struct index *x, struct t2m_json *j, struct t2m_strmap *byname)
{
	const char *s, *tensor;
	size_t n;

	if (t2m_json_expect(j, '{', "'{' (weight_map is an object)") < 0)
		return -1;
	if (t2m_json_peek(j) == '}')
		return t2m_json_expect(j, '}', "'}'");
	for (;;) {
		if (t2m_json_string(j, &s, &n) < 0)
			return -1;
		if ((tensor = t2m_manifest_strndup(x->m, s, n)) == NULL)
			return t2m_json_fail(j, "out of memory");
		if (t2m_strmap_get(&x->bytensor, tensor) >= 0)
			return t2m_json_fail(j, "tensor '%s' appears twice in "
			    "weight_map", tensor);
		if (t2m_json_expect(j, ':', "':'") < 0)
			return -1;
		if (t2m_json_peek(j) != '"')
			return t2m_json_fail(j, "the shard of tensor '%s' is "
			    "not a string", tensor);
		if (t2m_json_string(j, &s, &n) < 0 ||
		    add_entry(x, j, tensor, s, byname) < 0)
			return -1;
		if (t2m_json_peek(j) != ',')
			break;
		t2m_json_expect(j, ',', "','");
	}
	return t2m_json_expect(j, '}', "',' or '}'");
}

/* The index's object: "weight_map" is what matters; "metadata" and
 * anything else is skipped. */
static int
parse_index(struct index *x, const char *text, size_t len, t2m_error *err)
{
	struct t2m_strmap byname = { 0 };	/* shard name -> shard */
	struct t2m_json j;
	const char *s;
	size_t n;
	int seen = 0, rc = -1;

	t2m_json_init(&j, text, len, err);
	if (t2m_json_expect(&j, '{', "'{'") < 0)
		goto out;
	if (t2m_json_peek(&j) != '}')
		for (;;) {
			if (t2m_json_string(&j, &s, &n) < 0)
				goto out;
			if (strcmp(s, "weight_map") == 0) {
				if (seen++) {
					t2m_json_fail(&j, "weight_map appears "
					    "twice");
					goto out;
				}
				if (t2m_json_expect(&j, ':', "':'") < 0 ||
				    parse_map(x, &j, &byname) < 0)
					goto out;
			} else if (t2m_json_expect(&j, ':', "':'") < 0 ||
			    t2m_json_skip(&j) < 0)
				goto out;
			if (t2m_json_peek(&j) != ',')
				break;
			t2m_json_expect(&j, ',', "','");
		}
	if (t2m_json_expect(&j, '}', "',' or '}'") < 0)
		goto out;
	if (t2m_json_peek(&j) != -1) {
		t2m_json_fail(&j, "more text after the index's object");
		goto out;
	}
	if (!seen)
		t2m_fail(err, "a JSON object without \"weight_map\": not a "
		    "shard index");
	else if (x->nmap == 0)
		t2m_fail(err, "weight_map names no tensor");
	else
		rc = 0;
	t2m_json_free(&j);
	t2m_strmap_free(&byname);
	return rc;
out:
	t2m_json_free(&j);
	t2m_strmap_free(&byname);
	return index_words(err);
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct shard *)a)->name,
	    ((const struct shard *)b)->name);
}

/*
 * Shards in the order of their names (model-00001-of-00003 first, as
 * they are numbered), each with its path, and each there: a missing
 * shard is found before any is read.
 */
static int
locate(struct index *x, t2m_error *err)
{
	const char *slash = strrchr(x->path, '/');
	size_t dir = slash ? (size_t)(slash - x->path) + 1 : 0;
	uint32_t *newpos, k;
	struct stat st;
	struct shard *sh;

	if ((newpos = malloc(x->nshards * sizeof *newpos)) == NULL)
		return t2m_fail(err, "out of memory");
	/* Remember each shard's first-seen position in `base` to renumber
	 * the weight map after sorting. */
	for (k = 0; k < x->nshards; k++)
		x->shards[k].base = k;
	qsort(x->shards, x->nshards, sizeof *x->shards, by_name);
	for (k = 0; k < x->nshards; k++)
		newpos[x->shards[k].base] = k;
	for (k = 0; k < x->nmap; k++)
		x->map[k].shard = newpos[x->map[k].shard];
	free(newpos);
	for (k = 0; k < x->nshards; k++) {
		sh = &x->shards[k];
		sh->base = 0;
		if ((sh->path = malloc(dir + strlen(sh->name) + 1)) == NULL)
			return t2m_fail(err, "out of memory");
		memcpy(sh->path, x->path, dir);
		strcpy(sh->path + dir, sh->name);
		if (stat(sh->path, &st) < 0)
			return t2m_fail_errno(err, "%s", sh->name);
		if (!S_ISREG(st.st_mode))
			return t2m_fail(err, "%s: not a regular file",
			    sh->name);
	}
	return 0;
}

/* ---- reading a shard ---- */

/* Warnings about a shard name it. */
static void
shard_warn(void *ctx, const char *msg)
{
	struct index *x = ctx;
	char b[T2M_ERRLEN + 256];

	snprintf(b, sizeof b, "%s: %s", x->shards[x->cur].name, msg);
	x->o->warn(x->o->warn_ctx, b);
}

static int
read_shard(struct index *x, uint32_t k, struct t2m_writer *w,
    const struct t2m_unpack_opts *o, const struct shard_sink *sink,
    t2m_error *err)
{
	struct shard *sh = &x->shards[k];
	struct t2m_in in;
	int fd, rc = -1;

	x->cur = k;
	if ((fd = open(sh->path, O_RDONLY)) < 0) {
		t2m_fail_errno(err, "cannot open");
		goto out;
	}
	if (t2m_in_init(&in, fd, sh->path, 0, err) == 0) {
		if (!in.regular)
			t2m_fail(err, "not a regular file");
		else
			rc = unpack_shard(&in, w, o, sink, err);
	}
	t2m_in_free(&in);
	close(fd);
out:
	/* A fault in writing names the output; any other, the shard. */
	if (rc < 0 && err->subject == NULL)
		t2m_prefix(err, "%s", sh->name);
	return rc;
}

/* ---- first pass: describe each shard, check it against the index ---- */

static int
add_format(struct index *x, const char *fmt, t2m_error *err)
{
	int k;

	if (fmt == NULL)
		fmt = "?";
	for (k = 0; k < x->nformats; k++)
		if (strcmp(x->formats[k], fmt) == 0)
			return 0;
	if (x->nformats == 4)
		return 0;
	if ((x->formats[x->nformats++] = t2m_manifest_strndup(x->m, fmt,
	    strlen(fmt))) == NULL)
		return t2m_fail(err, "out of memory");
	return 0;
}

/* Tensors -s skipped count as found: the index names them, the shard
 * holds them, t2m only cannot convert them.  Their report is kept. */
static int
add_skipped(struct index *x, const struct t2m_manifest *sm, t2m_error *err)
{
	const char *text = t2m_attrs_get(&sm->info, "skipped");
	const cJSON *e, *where;
	struct entry *en;
	cJSON *list;
	size_t n;
	long k;

	if (text == NULL)
		return 0;
	n = strlen(text);
	if (n < 2 || text[0] != '[' || text[n - 1] != ']' ||
	    (list = cJSON_Parse(text)) == NULL)
		return t2m_fail(err, "the list of skipped tensors is damaged");
	cJSON_ArrayForEach(e, list) {
		where = cJSON_GetObjectItemCaseSensitive(e, "where");
		if (!cJSON_IsString(where) || (k = t2m_strmap_get(&x->bytensor,
		    where->valuestring)) < 0)
			continue;
		en = &x->map[k];
		if (en->shard == x->cur && !en->found) {
			en->found = 1;
			x->shards[x->cur].got++;
		}
	}
	cJSON_Delete(list);
	if (n > 2) {
		t2m_buf_add(&x->skipped, x->nskipped++ ? "," : "[", 1);
		t2m_buf_add(&x->skipped, text + 1, n - 2);
	}
	return x->skipped.nomem ? t2m_fail(err, "out of memory") : 0;
}

/* A module tree (a pickled model as a shard): each path once. */
static int
add_modules(struct index *x, const struct t2m_manifest *sm, t2m_error *err)
{
	const struct t2m_module *mod;
	struct t2m_module *nm;
	uint32_t i, a;

	for (i = 0; i < sm->nmodules; i++) {
		mod = &sm->modules[i];
		if (t2m_strmap_get(&x->modules, mod->path) >= 0)
			continue;
		if ((nm = t2m_manifest_add_module(x->m, mod->path, err)) ==
		    NULL)
			return -1;
		for (a = 0; a < mod->attrs.n; a++)
			if (t2m_attrs_set(x->m, &nm->attrs, mod->attrs.kv[a].key,
			    mod->attrs.kv[a].val, err) < 0)
				return -1;
		if (t2m_strmap_put(&x->modules, nm->path, x->m->nmodules - 1) <
		    0)
			return t2m_fail(err, "out of memory");
	}
	return 0;
}

/*
 * Metadata: the union of the shards'; where two disagree the first is
 * kept, with a warning.  t2m.reverse, cut into pieces, is joined here
 * and merged once every shard is read (merge_recipes): a checkpoint
 * converted shard by shard (t2m-shards) has a recipe per shard.
 */
static int
add_metadata(struct index *x, const struct t2m_manifest *sm, t2m_error *err)
{
	struct t2m_buf all = { 0 };
	const char *key, *val, *had;
	char piece[32], msg[T2M_ERRLEN];
	uint32_t i;
	int k;

	for (i = 0; i < sm->meta.n; i++) {
		key = sm->meta.kv[i].key;
		val = sm->meta.kv[i].val;
		if (strncmp(key, "t2m.reverse", 11) == 0)
			continue;
		if ((had = t2m_attrs_get(&x->m->meta, key)) == NULL) {
			if (t2m_attrs_set(x->m, &x->m->meta, key, val, err) < 0)
				return -1;
		} else if (strcmp(had, val) != 0 && x->o->warn) {
			snprintf(msg, sizeof msg, "metadata '%s' differs from "
			    "an earlier shard's; the first is kept", key);
			shard_warn(x, msg);
		}
	}
	for (k = 1;; k++) {
		if (k == 1)
			snprintf(piece, sizeof piece, "t2m.reverse");
		else
			snprintf(piece, sizeof piece, "t2m.reverse.%d", k);
		if ((val = t2m_attrs_get(&sm->meta, piece)) == NULL)
			break;
		t2m_buf_str(&all, val);
	}
	if (all.nomem)
		return t2m_fail(err, "out of memory");
	x->shards[x->cur].recipes = all.p;
	return 0;
}

/* The missing tensor: only looked for once one is known to be. */
static int
missing(struct index *x, t2m_error *err)
{
	uint32_t k;

	for (k = 0; k < x->nmap; k++)
		if (x->map[k].shard == x->cur && !x->map[k].found)
			break;
	return t2m_fail(err, "tensor '%s' is not in this shard, though the "
	    "index puts it here", k < x->nmap ? x->map[k].tensor : "?");
}

/* The first pass's manifest callback: one shard's manifest, checked
 * against the weight map and added to the whole. */
static int
describe(void *ctx, const struct t2m_manifest *sm, t2m_error *err)
{
	struct index *x = ctx;
	struct shard *sh = &x->shards[x->cur];
	const char *fmt = t2m_attrs_get(&sm->info, "format");
	const struct t2m_tensor *t;
	struct t2m_tensor *nt;
	struct entry *en;
	uint32_t i, a;
	long k;

	if (fmt && strcmp(fmt, "torchscript") == 0)
		return t2m_fail(err, "a TorchScript archive cannot be a shard");
	if (add_format(x, fmt, err) < 0)
		return -1;
	sh->base = x->m->ntensors;
	for (i = 0; i < sm->ntensors; i++) {
		t = &sm->tensors[i];
		if ((k = t2m_strmap_get(&x->bytensor, t->name)) >= 0) {
			en = &x->map[k];
			if (en->shard != x->cur)
				return t2m_fail(err, "tensor '%s' is here, but "
				    "the index puts it in %s%s", t->name,
				    x->shards[en->shard].name, en->found ?
				    ", which holds it too" : "");
			en->found = 1;
			sh->got++;
		} else if (!t2m_tensor_hidden(t) &&
		    t2m_attrs_get(&t->attrs, "t2m.tie") == NULL) {
			/* Hidden tensors (t2m-pack keeps what conversion
			 * consumed) are not weights, and a tie is written
			 * once with the tensor it names: indexes leave both
			 * out. */
			return t2m_fail(err, "tensor '%s' is not in the index",
			    t->name);
		}
		if ((nt = t2m_manifest_add(x->m, t->name, t->dtype, t->ndim,
		    t->shape, err)) == NULL)
			return -1;
		for (a = 0; a < t->attrs.n; a++)
			if (t2m_attrs_set(x->m, &nt->attrs, t->attrs.kv[a].key,
			    t->attrs.kv[a].val, err) < 0)
				return -1;
	}
	sh->n = x->m->ntensors - sh->base;
	if (add_skipped(x, sm, err) < 0 || add_modules(x, sm, err) < 0 ||
	    add_metadata(x, sm, err) < 0)
		return -1;
	if (sh->got < sh->want)
		return missing(x, err);
	return 0;
}

/* Cut text into t2m.reverse, t2m.reverse.2, ... as transpose.c does. */
static int
store_recipes(struct index *x, const char *text, t2m_error *err)
{
	size_t at, n, len = strlen(text);
	char key[32], *piece;
	int k, rc;

	for (at = 0, k = 1; at < len; at += n, k++) {
		n = len - at < RECIPE_PIECE ? len - at : RECIPE_PIECE;
		while (at + n < len && (text[at + n] & 0xC0) == 0x80)
			n--;
		if (k == 1)
			snprintf(key, sizeof key, "t2m.reverse");
		else
			snprintf(key, sizeof key, "t2m.reverse.%d", k);
		if ((piece = strndup(text + at, n)) == NULL)
			return t2m_fail(err, "out of memory");
		rc = t2m_attrs_set(x->m, &x->m->meta, key, piece, err);
		free(piece);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/*
 * One recipe for the way back (t2m-transpose -r) from the shards': the
 * same in every shard (t2m-pack -s repeats it) is kept as it is;
 * different ones (a shard converted alone) are merged, a tensor's
 * recipe being the same wherever two shards both give one.
 */
static int
merge_recipes(struct index *x, t2m_error *err)
{
	cJSON *all = NULL, *recipes, *consumed, *j = NULL, *e, *had;
	struct t2m_strmap used = { 0 };
	const char *first = NULL;
	int same = 1, rc = -1;
	char *text = NULL;
	uint32_t k;

	for (k = 0; k < x->nshards; k++) {
		if (x->shards[k].recipes == NULL)
			continue;
		if (first == NULL)
			first = x->shards[k].recipes;
		else if (strcmp(first, x->shards[k].recipes) != 0)
			same = 0;
	}
	if (first == NULL)
		return 0;
	if (same)
		return store_recipes(x, first, err);
	if ((all = cJSON_CreateObject()) == NULL ||
	    (recipes = cJSON_AddObjectToObject(all, "recipes")) == NULL ||
	    (consumed = cJSON_AddArrayToObject(all, "consumed")) == NULL)
		goto nomem;
	for (k = 0; k < x->nshards; k++) {
		if (x->shards[k].recipes == NULL)
			continue;
		j = cJSON_Parse(x->shards[k].recipes);
		if (!cJSON_IsObject(cJSON_GetObjectItem(j, "recipes")) ||
		    !cJSON_IsArray(cJSON_GetObjectItem(j, "consumed"))) {
			t2m_fail(err, "%s: the t2m.reverse metadata is damaged",
			    x->shards[k].name);
			goto out;
		}
		cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "recipes")) {
			had = cJSON_GetObjectItemCaseSensitive(recipes,
			    e->string);
			if (had && !cJSON_Compare(had, e, 1)) {
				t2m_fail(err, "%s: t2m.reverse: the recipe for "
				    "'%s' differs from an earlier shard's",
				    x->shards[k].name, e->string);
				goto out;
			}
			if (had == NULL && !cJSON_AddItemToObject(recipes,
			    e->string, cJSON_Duplicate(e, 1)))
				goto nomem;
		}
		cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "consumed")) {
			if (!cJSON_IsString(e) ||
			    t2m_strmap_get(&used, e->valuestring) >= 0)
				continue;
			if ((had = cJSON_CreateString(e->valuestring)) == NULL ||
			    !cJSON_AddItemToArray(consumed, had) ||
			    t2m_strmap_put(&used, had->valuestring, 0) < 0)
				goto nomem;
		}
		cJSON_Delete(j);
		j = NULL;
	}
	if ((text = cJSON_PrintUnformatted(all)) == NULL)
		goto nomem;
	rc = store_recipes(x, text, err);
	goto out;
nomem:
	t2m_fail(err, "out of memory");
out:
	free(text);
	cJSON_Delete(j);
	cJSON_Delete(all);
	t2m_strmap_free(&used);
	return rc;
}

/* The stream's info: the index is the source (t2m-transpose finds
 * config.json beside it), the format says sharded and of what. */
static int
finish_manifest(struct index *x, t2m_error *err)
{
	struct t2m_buf f = { 0 };
	char n[16];
	int k, rc;

	if (merge_recipes(x, err) < 0)
		return -1;
	t2m_buf_str(&f, "sharded:");
	for (k = 0; k < x->nformats; k++) {
		if (k)
			t2m_buf_str(&f, "+");
		t2m_buf_str(&f, x->formats[k]);
	}
	if (x->nskipped)
		t2m_buf_add(&x->skipped, "]", 1);
	if (f.nomem || x->skipped.nomem) {
		t2m_buf_free(&f);
		return t2m_fail(err, "out of memory");
	}
	snprintf(n, sizeof n, "%u", x->nshards);
	rc = t2m_attrs_set(x->m, &x->m->info, "format", f.p, err) < 0 ||
	    t2m_attrs_set(x->m, &x->m->info, "source", x->path, err) < 0 ||
	    t2m_attrs_set(x->m, &x->m->info, "shards", n, err) < 0 ||
	    (x->nskipped && t2m_attrs_set(x->m, &x->m->info, "skipped",
	    x->skipped.p, err) < 0) ? -1 : 0;
	t2m_buf_free(&f);
	return rc;
}

/* ---- second pass: each shard's data ---- */

/* The shard is read a second time: it must say what it said the first
 * (a file replaced in between would have its data misplaced). */
static int
same_shard(void *ctx, const struct t2m_manifest *sm, t2m_error *err)
{
	struct index *x = ctx;
	const struct shard *sh = &x->shards[x->cur];
	const struct t2m_tensor *a, *b;
	uint32_t i;

	if (sm->ntensors != sh->n)
		goto changed;
	for (i = 0; i < sh->n; i++) {
		a = &sm->tensors[i];
		b = &x->m->tensors[sh->base + i];
		if (strcmp(a->name, b->name) != 0 || a->dtype != b->dtype ||
		    a->ndim != b->ndim || (a->ndim && memcmp(a->shape, b->shape,
		    (size_t)a->ndim * sizeof *a->shape) != 0))
			goto changed;
	}
	return 0;
changed:
	return t2m_fail(err, "changed while it was being read");
}

/* ---- the whole ---- */

static int
read_index_text(struct t2m_in *in, char **text, size_t *len,
    t2m_error *err)
{
	if (in->size > MAX_INDEX)
		return t2m_fail(err, "a shard index of %llu bytes (at most "
		    "%llu)", (unsigned long long)in->size,
		    (unsigned long long)MAX_INDEX);
	if ((*text = malloc((size_t)in->size + 1)) == NULL)
		return t2m_fail(err, "out of memory");
	*len = (size_t)in->size;
	if (t2m_in_full(in, *text, *len, "the index", err) < 0) {
		free(*text);
		*text = NULL;
		return -1;
	}
	return 0;
}

static void
index_free(struct index *x)
{
	uint32_t k;

	for (k = 0; k < x->nshards; k++) {
		free(x->shards[k].path);
		free(x->shards[k].recipes);
	}
	free(x->shards);
	free(x->map);
	t2m_strmap_free(&x->bytensor);
	t2m_strmap_free(&x->modules);
	t2m_buf_free(&x->skipped);
	t2m_manifest_free(x->m);
}

int
unpack_index(struct t2m_in *in, struct t2m_writer *w,
    const struct t2m_unpack_opts *o, t2m_error *err)
{
	struct t2m_unpack_opts so;
	struct shard_sink sink;
	struct index x;
	char *text = NULL;
	size_t len = 0;
	uint32_t k;
	int rc = -1;

	/* Shards are named relative to the index: it needs a path. */
	if (in->name[0] == '<')
		return t2m_fail(err, "a shard index names files beside it: "
		    "give its path, not standard input");
	if (!in->regular)
		return t2m_fail(err, "a shard index names files beside it: "
		    "read it from its file, not a pipe");
	if (o->select)
		return t2m_fail(err, "-k selects inside one checkpoint, and "
		    "this is a shard index");
	if (o->member)
		return t2m_fail(err, "-m selects a member of a tar archive, "
		    "and this is a shard index");
	memset(&x, 0, sizeof x);
	x.path = in->name;
	x.o = o;
	if ((x.m = t2m_manifest_new()) == NULL)
		return t2m_fail(err, "out of memory");
	if (read_index_text(in, &text, &len, err) < 0 ||
	    parse_index(&x, text, len, err) < 0 || locate(&x, err) < 0)
		goto out;
	free(text);
	text = NULL;

	/* First pass: the shards' manifests, checked, made one. */
	so = *o;
	so.listing = NULL;
	so.manifest = describe;
	so.manifest_ctx = &x;
	so.warn = o->warn ? shard_warn : NULL;
	so.warn_ctx = &x;
	for (k = 0; k < x.nshards; k++)
		if (read_shard(&x, k, NULL, &so, NULL, err) < 0)
			goto out;
	if (finish_manifest(&x, err) < 0)
		goto out;
	if (o->listing) {
		/* Checked; now listed, one shard after another. */
		so = *o;
		so.warn = o->warn ? shard_warn : NULL;
		so.warn_ctx = &x;
		for (k = 0; k < x.nshards; k++)
			if (read_shard(&x, k, NULL, &so, NULL, err) < 0)
				goto out;
		rc = 0;
		goto out;
	}
	if (o->manifest) {
		rc = o->manifest(o->manifest_ctx, x.m, err);
		goto out;
	}

	/* Second pass: the data, shard by shard.  Warnings were given. */
	if (t2m_writer_begin(w, x.m, err) < 0)
		goto out;
	so = *o;
	so.warn = NULL;
	for (k = 0; k < x.nshards; k++) {
		sink = (struct shard_sink){ same_shard, &x,
		    x.shards[k].base };
		if (read_shard(&x, k, w, &so, &sink, err) < 0)
			goto out;
	}
	rc = t2m_writer_end(w, err);
out:
	free(text);
	index_free(&x);
	return rc;
}

/* ---- finding the index in a directory ---- */

static int
by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);

	return n > m && strcmp(s + n - m, tail) == 0;
}

int
t2m_index_find(const char *dir, char **path, t2m_error *err)
{
	struct t2m_buf list = { 0 };
	struct dirent *de;
	struct stat st;
	char **names = NULL, **nn, *full;
	size_t n = 0, cap = 0, k, nst = 0, pick = 0, dlen = strlen(dir);
	int rc = -1;
	DIR *d;

	*path = NULL;
	if ((d = opendir(dir)) == NULL)
		return t2m_fail_errno(err, "cannot read the directory");
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (de->d_name[0] == '.' || !ends_with(de->d_name,
		    ".index.json"))
			continue;
		if ((full = malloc(dlen + strlen(de->d_name) + 2)) == NULL)
			goto nomem;
		sprintf(full, "%s%s%s", dir, dlen && dir[dlen - 1] == '/' ?
		    "" : "/", de->d_name);
		if (stat(full, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(full);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			if ((nn = realloc(names, cap * sizeof *nn)) == NULL) {
				free(full);
				goto nomem;
			}
			names = nn;
		}
		names[n++] = full;
	}
	if (errno != 0) {
		t2m_fail_errno(err, "cannot read the directory");
		goto out;
	}
	if (n == 0) {
		t2m_fail(err, "is a directory without a shard index "
		    "(*.index.json) in it");
		goto out;
	}
	qsort(names, n, sizeof *names, by_str);
	/* Of several, the safetensors one: its shards are read without a
	 * pickle, and a repository that has both has the same weights. */
	for (k = 0; k < n; k++)
		if (ends_with(names[k], ".safetensors.index.json"))
			nst++, pick = k;
	if (n > 1 && nst != 1) {
		for (k = 0; k < n; k++) {
			t2m_buf_str(&list, k ? ", " : "");
			t2m_buf_str(&list, strrchr(names[k], '/') + 1);
		}
		t2m_fail(err, "holds %zu shard indexes (%.300s): name one", n,
		    list.p ? list.p : "");
		goto out;
	}
	if (n == 1)
		pick = 0;
	*path = names[pick];
	names[pick] = NULL;
	rc = 0;
	goto out;
nomem:
	t2m_fail(err, "out of memory");
out:
	closedir(d);
	for (k = 0; k < n; k++)
		free(names[k]);
	free(names);
	t2m_buf_free(&list);
	return rc;
}
