/*
 * strmap.c - a string-keyed hash map from names to positions, for the
 * lookups whose keys come from the input: tensor names, storage keys,
 * zip entry names.  The hash is seeded per process, so a file cannot be
 * crafted to make every key collide.
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
