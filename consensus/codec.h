/*
 * raft_codec: the wire encoding of struct raft_message (consensus/raft.h).
 *
 * Every message is: u8 version (1), u8 type, u16 reserved (0), then a body
 * whose layout depends on the type; all integers little-endian with
 * explicit widths, booleans packed into a flags byte whose unused bits must
 * be zero. Types with a fixed layout are accepted only at their exact size;
 * variable ones (AppendEntries, InstallSnapshot) carry counts and lengths
 * that are checked against the bytes present before anything is allocated
 * or read, and trailing bytes are refused. The layout is documented next to
 * each encoder in codec.c.
 *
 * The codec knows nothing of peers: the sender of a decoded message is set
 * by the transport from what it authenticated (see net.h).
 *
 * Errors follow raft.h: RAFT_OK, RAFT_MALFORMED (with the lie named in
 * errmsg), RAFT_NOMEM, RAFT_TOOBIG, RAFT_INVALID. Any thread; no state.
 */
#ifndef SLUICE_CONSENSUS_CODEC_H
#define SLUICE_CONSENSUS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "raft.h"

#define RAFT_CODEC_VERSION 1
#define RAFT_CODEC_HDR 4
/* Upper bound on entries in one AppendEntries; larger counts are lies. */
#define RAFT_CODEC_MAX_ENTRIES 65536u

/*
 * Size in bytes of msg's encoding into *size. RAFT_INVALID for an unknown
 * type or bad field (e.g. a bool that is neither 0 nor 1 is fine: any
 * non-zero is true), RAFT_TOOBIG if a length does not fit its field.
 */
int raft_codec_size(const struct raft_message *msg, size_t *size);

/* Encode msg into buf, which must hold exactly raft_codec_size() bytes. */
int raft_codec_encode_to(const struct raft_message *msg, void *buf,
			 size_t size);

/* Encode into out->base allocated with raft_heap_malloc (ownership passes
 * to the caller on RAFT_OK). */
int raft_codec_encode(const struct raft_message *msg, struct raft_buffer *out);

/*
 * Decode len bytes at buf into *msg. Zero-copy: entry payloads and snapshot
 * data in *msg point into buf, which must outlive *msg; the entries array
 * and the configuration are allocated (raft_heap_malloc). On RAFT_OK the
 * caller must call raft_codec_release(msg). On error *msg holds nothing to
 * release, and errmsg (may be NULL) names what was wrong.
 * server_id and server_address are set to 0 / NULL.
 */
int raft_codec_decode(const void *buf, size_t len, struct raft_message *msg,
		      char *errmsg, size_t errmsg_len);

/* Free what raft_codec_decode allocated (not the input bytes). */
void raft_codec_release(struct raft_message *msg);

#endif
