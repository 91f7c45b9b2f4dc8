/*
 * fuzz_pickle.c - libFuzzer target: the bytes are a data.pkl.  Loads it
 * with torch's meaning, flattens it to tensors and lists it, in each of
 * the three persistent-id modes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "torch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct t2m_buf listing = { 0 };
	struct th_opts opts = { NULL, 1, NULL, NULL };
	struct t2m_manifest *m;
	struct th_pickle t;
	struct th_item *items;
	uint32_t n;
	t2m_error err;
	int mode;

	if (size < 1)
		return 0;
	memset(&t, 0, sizeof t);
	mode = data[0] % 3;	/* TH_ZIP, TH_LEGACY, TH_TAR01 */
	if (th_load(&t, data + 1, size - 1, "data.pkl", mode, &err) == 0) {
		if ((m = t2m_manifest_new()) != NULL) {
			if (th_flatten(&t, &opts, m, &items, &n, &err) == 0)
				th_items_free(&t, items, n);
			t2m_manifest_free(m);
		}
		th_list(&t, &listing, &err);
		t2m_buf_free(&listing);
	}
	th_free(&t);
	return 0;
}
