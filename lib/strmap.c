/*
 * strmap.c - a string-keyed hash map from names to positions, for the
 * lookups whose keys come from the input: tensor names, storage keys,
 * zip entry names.  The hash is seeded per process, so a file cannot be
 * crafted to make every key collide.  And a leaner one for keys that are
 * already in an array: tensor names, module paths.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static uint64_t seed;

uint64_t
t2m_hash_seed(void)
{
	unsigned char b[8];
	int fd;

	if (seed)
		return seed;
	if ((fd = open("/dev/urandom", O_RDONLY)) >= 0) {
		if (read(fd, b, 8) == 8)
			memcpy(&seed, b, 8);
		close(fd);
	}
	/* Without /dev/urandom: the clock, the pid and an address. */
	seed ^= (uint64_t)time(NULL) * 0x9e3779b97f4a7c15u ^
	    (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)&fd;
	seed |= 1;
	return seed;
}

uint64_t
t2m_hash_mix(uint64_t x)
{
	x ^= t2m_hash_seed();
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93u;
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93u;
	x ^= x >> 32;
	return x;
}

uint64_t
t2m_hash_str(const char *s)
{
	uint64_t h = t2m_hash_seed(), w;
	size_t n = strlen(s), k;

	for (k = 0; k + 8 <= n; k += 8) {
		memcpy(&w, s + k, 8);
		h = t2m_hash_mix(h ^ w) + 0x9e3779b97f4a7c15u;
	}
	w = 0;
	memcpy(&w, s + k, n - k);
	return t2m_hash_mix(h ^ w ^ (uint64_t)n << 56);
}

int
t2m_strmap_put(struct t2m_strmap *m, const char *key, uint32_t val)
{
	struct t2m_strmap_entry *ne;
	size_t size, i, j;
	uint64_t h;

	if (m->e == NULL || (m->n + 1) * 2 > m->mask + 1) {
		size = m->e ? (m->mask + 1) * 2 : 64;
		if ((ne = calloc(size, sizeof *ne)) == NULL)
			return -1;
		for (i = 0; m->e && i <= m->mask; i++) {
			if (m->e[i].key == NULL)
				continue;
			j = m->e[i].hash & (size - 1);
			while (ne[j].key)
				j = (j + 1) & (size - 1);
			ne[j] = m->e[i];
		}
		free(m->e);
		m->e = ne;
		m->mask = size - 1;
	}
	h = t2m_hash_str(key);
	j = h & m->mask;
	while (m->e[j].key && (m->e[j].hash != (uint32_t)h ||
	    strcmp(m->e[j].key, key) != 0))
		j = (j + 1) & m->mask;
	if (m->e[j].key == NULL)
		m->n++;
	m->e[j].key = key;
	m->e[j].val = val;
	m->e[j].hash = (uint32_t)h;
	return 0;
}

long
t2m_strmap_get(const struct t2m_strmap *m, const char *key)
{
	uint64_t h;
	size_t j;

	if (m->e == NULL)
		return -1;
	h = t2m_hash_str(key);
	for (j = h & m->mask; m->e[j].key; j = (j + 1) & m->mask)
		if (m->e[j].hash == (uint32_t)h &&
		    strcmp(m->e[j].key, key) == 0)
			return (long)m->e[j].val;
	return -1;
}

void
t2m_strmap_free(struct t2m_strmap *m)
{
	free(m->e);
	memset(m, 0, sizeof *m);
}

/*
 * The positional map: a slot holds a key's hash and its position plus one
 * (0 for an empty slot), and the key itself is asked of the owner, so a
 * slot costs 8 bytes where a map of keys costs 16.
 */
void
t2m_posmap_init(struct t2m_posmap *t, const char *(*key)(const void *,
    uint32_t), const void *ctx)
{
	memset(t, 0, sizeof *t);
	t->key = key;
	t->ctx = ctx;
}

long
t2m_posmap_get(const struct t2m_posmap *t, const char *key, uint64_t h)
{
	size_t j;

	if (t->s == NULL)
		return -1;
	for (j = h & t->mask; t->s[j].pos; j = (j + 1) & t->mask)
		if (t->s[j].hash == (uint32_t)h &&
		    strcmp(t->key(t->ctx, t->s[j].pos - 1), key) == 0)
			return (long)t->s[j].pos - 1;
	return -1;
}

/* Move t to a table of size slots (a power of two). */
static int
resize(struct t2m_posmap *t, size_t size)
{
	struct t2m_posmap_slot *ns;
	size_t i, j;

	if ((ns = calloc(size, sizeof *ns)) == NULL)
		return -1;
	for (i = 0; t->s && i <= t->mask; i++) {
		if (t->s[i].pos == 0)
			continue;
		j = t->s[i].hash & (size - 1);
		while (ns[j].pos)
			j = (j + 1) & (size - 1);
		ns[j] = t->s[i];
	}
	free(t->s);
	t->s = ns;
	t->mask = size - 1;
	return 0;
}

/* Full to 4/5: probes compare 8-byte slots, cheap even in a run. */
#define FULL(n, size) ((n) * 5 > (size) * 4)

int
t2m_posmap_reserve(struct t2m_posmap *t, size_t n)
{
	size_t size = 64;

	while (FULL(n, size))
		size *= 2;
	if (t->s != NULL && size <= t->mask + 1)
		return 0;
	return resize(t, size);
}

int
t2m_posmap_add(struct t2m_posmap *t, uint32_t pos, uint64_t h)
{
	size_t j;

	if (pos == UINT32_MAX)
		return -1;
	if ((t->s == NULL || FULL(t->n + 1, t->mask + 1)) &&
	    resize(t, t->s ? (t->mask + 1) * 2 : 64) < 0)
		return -1;
	for (j = h & t->mask; t->s[j].pos; j = (j + 1) & t->mask)
		;
	t->s[j].hash = (uint32_t)h;
	t->s[j].pos = pos + 1;
	t->n++;
	return 0;
}

void
t2m_posmap_free(struct t2m_posmap *t)
{
	free(t->s);
	t->s = NULL;
	t->mask = t->n = 0;
}
