/*
 * fuzz_store_cmd: the command decoder on untrusted bytes. Properties:
 * no crash or sanitizer report; an accepted input re-encodes to exactly the
 * same bytes (canonical encoding); applying it to a store with some state
 * never breaks the store, and the resulting snapshot restores byte-identical.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_cmd.h"
#include "store_snap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_cmd cmd;
	char err[STORE_ERRMSG_SIZE];
	if (store_cmd_decode(data, size, &cmd, err) != STORE_OK)
		return 0;
	uint8_t *buf = NULL;
	size_t len = 0;
	fuzz_check(store_cmd_encode(&cmd, &buf, &len, err) == STORE_OK);
	fuzz_check(len == size && memcmp(buf, data, size) == 0);
	free(buf);
	store_cmd_clear(&cmd);

	/* Seed state the command can act on: a lease and a few revisions. */
	struct store *s = store_create(NULL);
	static const uint8_t grant[] = {1, 4, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
					10, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t put[] = {1, 1, 0, 0, 2, 0, 1, 0, 0, 0, 'k',
				      1, 0, 0, 0, 'v', 1, 0, 0, 0, 0, 0, 0, 0};
	fuzz_check(store_apply(s, 0, grant, sizeof(grant), NULL) == STORE_OK);
	fuzz_check(store_apply(s, 0, put, sizeof(put), NULL) == STORE_OK);
	fuzz_check(store_apply(s, 0, put, sizeof(put), NULL) == STORE_OK);
	struct store_result res;
	fuzz_check(store_apply(s, 0, data, size, &res) != STORE_ERR_BROKEN);
	store_result_clear(&res);
	uint8_t *snap = NULL, *snap2 = NULL;
	size_t n1, n2;
	fuzz_check(store_snapshot(s, &snap, &n1) == STORE_OK);
	struct store *t = store_create(NULL);
	fuzz_check(store_restore(t, snap, n1) == STORE_OK);
	fuzz_check(store_snapshot(t, &snap2, &n2) == STORE_OK);
	fuzz_check(n1 == n2 && memcmp(snap, snap2, n1) == 0);
	free(snap);
	free(snap2);
	store_free(t);
	store_free(s);
	return 0;
}
