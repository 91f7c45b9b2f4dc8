/*
 * unit.h - the unit-test harness.  A test is `TEST(name) { ... }` in
 * tests/unit/test_*.c; the Makefile lists them by grep.  Each runs in a
 * child process, so a crash fails one test, not the run.  The checks
 * print file:line with the expected and the actual value.
 */
#ifndef UNIT_H
#define UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "t2m.h"
#include "internal.h"

#define TEST(name) void test_##name(void); void test_##name(void)

extern int unit_failures;

#define CHECK(cond) do { \
	if (!(cond)) { \
		printf("# %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, \
		    #cond); \
		unit_failures++; \
	} \
} while (0)

#define CHECK_INT(want, got) do { \
	long long w_ = (long long)(want), g_ = (long long)(got); \
	if (w_ != g_) { \
		printf("# %s:%d: %s: expected %lld, got %lld\n", __FILE__, \
		    __LINE__, #got, w_, g_); \
		unit_failures++; \
	} \
} while (0)

#define CHECK_U64(want, got) do { \
	uint64_t w_ = (uint64_t)(want), g_ = (uint64_t)(got); \
	if (w_ != g_) { \
		printf("# %s:%d: %s: expected %" PRIu64 ", got %" PRIu64 \
		    "\n", __FILE__, __LINE__, #got, w_, g_); \
		unit_failures++; \
	} \
} while (0)

#define CHECK_STR(want, got) do { \
	const char *w_ = (want), *g_ = (got); \
	if (g_ == NULL || strcmp(w_, g_) != 0) { \
		printf("# %s:%d: %s: expected \"%s\", got \"%s\"\n", \
		    __FILE__, __LINE__, #got, w_, g_ ? g_ : "(null)"); \
		unit_failures++; \
	} \
} while (0)

/* The message must contain the fragment. */
#define CHECK_MSG(fragment, msg) do { \
	const char *f_ = (fragment), *m_ = (msg); \
	if (strstr(m_, f_) == NULL) { \
		printf("# %s:%d: message \"%s\" lacks \"%s\"\n", __FILE__, \
		    __LINE__, m_, f_); \
		unit_failures++; \
	} \
} while (0)

#endif
