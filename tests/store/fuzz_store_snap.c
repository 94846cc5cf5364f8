/*
 * fuzz_store_snap: snapshot restore on untrusted bytes (a snapshot arrives
 * from another node). Properties: no crash or sanitizer report; a rejected
 * snapshot leaves the store as it was; an accepted one re-serializes to the
 * same bytes and the store keeps working (a write applies).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_snap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t put[] = {1, 1, 0, 0, 2, 0, 1, 0, 0, 0, 'k',
				      1, 0, 0, 0, 'v', 0, 0, 0, 0, 0, 0, 0, 0};
	struct store *s = store_create(NULL);
	fuzz_check(store_apply(s, 0, put, sizeof(put), NULL) == STORE_OK);
	uint8_t *before = NULL, *after = NULL;
	size_t nb, na;
	fuzz_check(store_snapshot(s, &before, &nb) == STORE_OK);
	int rc = store_restore(s, data, size);
	fuzz_check(store_snapshot(s, &after, &na) == STORE_OK);
	if (rc == STORE_OK) {
		/* Fuzz builds skip the CRC check, so compare without it. */
		fuzz_check(na == size && memcmp(after, data, size - 4) == 0);
		/* The store keeps working, unless the snapshot used up
		 * every index (then "next" is refused, not wrapped). */
		int want = store_applied_index(s) == UINT64_MAX
				   ? STORE_ERR_STALE_INDEX
				   : STORE_OK;
		fuzz_check(store_apply(s, 0, put, sizeof(put), NULL) == want);
	} else {
		fuzz_check(na == nb && memcmp(after, before, nb) == 0);
	}
	free(before);
	free(after);
	store_free(s);
	return 0;
}
