/*
 * test_pickle.c - the pickle reader's nodes: reused once dead, so the
 * live-node limit holds however many a pickle makes and drops, and freed
 * with the reader even when they hold each other in a cycle.
 */
#include "unit.h"
#include "pickle.h"

static const struct pk_limits small = { 8, 64, 64, 16 };

TEST(pickle_cycle_freed)
{
	/* l = []; l.append(l) */
	static const unsigned char p[] = "\x80\x02]q\x00h\x00" "a.";
	struct pk_vm *vm;
	struct pk *o;
	t2m_error err;

	CHECK((vm = pk_new(NULL, NULL)) != NULL);
	o = pk_load(vm, p, sizeof p - 1, "cycle", &err);
	CHECK(o != NULL);
	if (o != NULL) {
		CHECK_INT(PK_LIST, o->type);
		CHECK_INT(1, o->u.seq.n);
		CHECK(o->u.seq.v[0] == o);
		pk_unref(vm, o);
	}
	pk_free(vm);		/* the sanitizers see a leak or a double free */
}

TEST(pickle_dead_nodes_reused)
{
	unsigned char p[3 * 10000 + 4], *q = p;
	struct pk_vm *vm;
	struct pk *o;
	t2m_error err;
	int k;

	/* 10,000 ints made and popped under a limit of 8 live nodes */
	*q++ = 0x80;
	*q++ = 2;
	for (k = 0; k < 10000; k++) {
		*q++ = 'K';
		*q++ = (unsigned char)k;
		*q++ = '0';
	}
	*q++ = 'N';
	*q++ = '.';
	CHECK((vm = pk_new(NULL, &small)) != NULL);
	o = pk_load(vm, p, (size_t)(q - p), "temps", &err);
	CHECK(o != NULL);
	if (o != NULL)
		CHECK_INT(PK_NONE, o->type);
	pk_free(vm);
}

TEST(pickle_live_limit)
{
	unsigned char p[64], *q = p;
	struct pk_vm *vm;
	t2m_error err;
	int k;

	/* a list of 20 ints: more than 8 live at once */
	*q++ = '(';
	for (k = 0; k < 20; k++) {
		*q++ = 'K';
		*q++ = (unsigned char)k;
	}
	*q++ = 'l';
	*q++ = '.';
	CHECK((vm = pk_new(NULL, &small)) != NULL);
	CHECK(pk_load(vm, p, (size_t)(q - p), "many", &err) == NULL);
	CHECK(strstr(err.msg, "more than 8 live objects") != NULL);
	pk_free(vm);
}
