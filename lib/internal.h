/*
 * internal.h - helpers shared inside libt2m and its unit tests, not part
 * of the public interface.
 */
#ifndef T2M_INTERNAL_H
#define T2M_INTERNAL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "t2m.h"

/*
 * ---- fan-out ----
 *
 * Each view of a storage, and each tie, writes its bytes out again, so a
 * small input can ask for any multiple of itself.  A reader adds the
 * bytes it has read (read) and those they will write (give): what is
 * written may pass what is read T2M_FANOUT times over, and
 * T2M_FANOUT_SLACK bytes more, no further.
 */
#define T2M_FANOUT 64
#define T2M_FANOUT_SLACK ((uint64_t)1 << 30)

struct t2m_fanout {
	uint64_t read, given;
};

/* 0, or -1 when give would pass the limit (then nothing is added). */
static inline int
t2m_fanout_add(struct t2m_fanout *f, uint64_t read, uint64_t give)
{
	uint64_t limit;

	f->read = read > UINT64_MAX - f->read ? UINT64_MAX : f->read + read;
	limit = f->read > (UINT64_MAX - T2M_FANOUT_SLACK) / T2M_FANOUT ?
	    UINT64_MAX : f->read * T2M_FANOUT + T2M_FANOUT_SLACK;
	if (give > limit - f->given)
		return -1;
	f->given += give;
	return 0;
}

/* ---- a strict JSON pull parser over a buffer in memory ---- */

struct t2m_json {
	const char *p, *start, *end;
	int depth;
	t2m_error *err;
	char *tmp;		/* decoded string scratch */
	size_t tmpcap;
};

#define T2M_JSON_MAXDEPTH 64

void t2m_json_init(struct t2m_json *j, const char *p, size_t n,
    t2m_error *err);
void t2m_json_free(struct t2m_json *j);
/* Skip white space; return the next byte or -1 at the end. */
int t2m_json_peek(struct t2m_json *j);
/* Consume the byte c (after white space) or fail. */
int t2m_json_expect(struct t2m_json *j, int c, const char *what);
/*
 * Decode a string.  *s points into scratch owned by j, valid until the
 * next string; it is valid UTF-8 and *n excludes the NUL.  Strings that
 * hold NUL (\u0000) are refused.
 */
int t2m_json_string(struct t2m_json *j, const char **s, size_t *n);
/* A non-negative integer without sign, fraction or exponent. */
int t2m_json_uint(struct t2m_json *j, uint64_t *v);
/* Skip one value of any kind. */
int t2m_json_skip(struct t2m_json *j);
/* Whether the literal null comes next (and consume it). */
int t2m_json_null(struct t2m_json *j);
/* Fail with the current offset: "header byte 17: <msg>". */
int t2m_json_fail(struct t2m_json *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Offset of the parser in its buffer. */
size_t t2m_json_offset(const struct t2m_json *j);

/* ---- base64 ---- */

/* Characters for n bytes, padding included. */
size_t t2m_base64_len(uint64_t n);
void t2m_base64_encode(char *out, const unsigned char *in, size_t n);
/* Decode len characters into out (room for len / 4 * 3): 0, or -1 when
 * the text is not base64. */
int t2m_base64_decode(const char *in, size_t len, unsigned char *out,
    size_t *n);

/* ---- hashing: seeded per process, so inputs cannot force collisions ---- */

uint64_t t2m_hash_seed(void);
uint64_t t2m_hash_mix(uint64_t x);
uint64_t t2m_hash_str(const char *s);

/* A map from strings (owned by the caller, outliving the map) to
 * positions.  Putting a key again replaces its value. */
struct t2m_strmap_entry {
	const char *key;
	uint32_t val;
	uint32_t hash;		/* the key's, so most misses skip strcmp */
};

struct t2m_strmap {
	struct t2m_strmap_entry *e;
	size_t mask, n;
};

int t2m_strmap_put(struct t2m_strmap *m, const char *key, uint32_t val);
/* The value of key, or -1. */
long t2m_strmap_get(const struct t2m_strmap *m, const char *key);
void t2m_strmap_free(struct t2m_strmap *m);

/*
 * A map from keys the caller keeps in an array to their positions:
 * key(ctx, pos) is position pos's key.  h is t2m_hash_str(key).  Adding
 * a key already there adds it again; look first.
 */
struct t2m_posmap_slot {
	uint32_t hash;
	uint32_t pos;		/* position + 1; 0 for an empty slot */
};

struct t2m_posmap {
	struct t2m_posmap_slot *s;
	size_t mask, n;
	const char *(*key)(const void *ctx, uint32_t pos);
	const void *ctx;
};

void t2m_posmap_init(struct t2m_posmap *t,
    const char *(*key)(const void *ctx, uint32_t pos), const void *ctx);
/* The position of key, or -1. */
long t2m_posmap_get(const struct t2m_posmap *t, const char *key, uint64_t h);
int t2m_posmap_add(struct t2m_posmap *t, uint32_t pos, uint64_t h);
/* Room for n keys without growing. */
int t2m_posmap_reserve(struct t2m_posmap *t, size_t n);
void t2m_posmap_free(struct t2m_posmap *t);

/* t2m_st_layout without the header itself (header is NULL; the rest,
 * header_len included, is set): for what places data or makes the header
 * when it is to be written. */
int t2m_st_order(const struct t2m_manifest *m, struct t2m_st_layout *l,
    t2m_error *err);

/* The reader's input, so tests can set maxread. */
struct t2m_in *t2m_reader_input(struct t2m_reader *r);

/*
 * The signals after which output files must not be left half-written
 * (SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGXFSZ; out.c): handler runs once,
 * with the others blocked, then should raise the signal again.  Signals
 * the parent made ignored stay ignored.  Block them all while changing
 * what the handler reads.
 */
void t2m_cleanup_signals(void (*handler)(int));
void t2m_cleanup_block(sigset_t *old);

#endif
