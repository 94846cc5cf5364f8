/*
 * libFuzzer target for consensus/codec.c (raft_codec_decode).
 *
 * Besides "no crash, no over-read, no leak" it checks canonicity: any input
 * the decoder accepts must re-encode to exactly the same bytes. A decoder
 * that accepted two spellings of one message (a stray flag bit, a slack
 * length) would fail here, and such slack is where parser differentials
 * between versions start. Seeds: tests/fuzz/corpus/raft_codec/, one valid
 * encoding per message type plus a few lies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct raft_message msg;
	if (raft_codec_decode(data, size, &msg, NULL, 0) != RAFT_OK)
		return 0;
	struct raft_buffer out;
	int rv = raft_codec_encode(&msg, &out);
	/* Decoded messages always fit the encoder's limits. */
	if (rv != RAFT_OK)
		abort();
	if (out.len != size || memcmp(out.base, data, size) != 0)
		abort();
	raft_heap_free(out.base);
	raft_codec_release(&msg);
	return 0;
}
