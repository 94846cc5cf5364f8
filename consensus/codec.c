/*
 * raft_codec: encoder and WireGuard-style decoder for raft messages.
 *
 * Decoding reads through a cursor whose getters fail instead of reading
 * past the end, so every field read is a length check. Fixed-size types are
 * compared against their exact size first (a shorter or longer frame is a
 * lie about the type). For AppendEntries the entry count is bounded by the
 * bytes present (each entry needs at least its 13-byte header) before the
 * array is allocated, so a forged count cannot make us allocate more than
 * a small multiple of the frame size.
 */
#include "codec.h"
#include "byte.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Body sizes of the fixed-layout types (after the 4-byte header). */
#define CODEC_RV_BODY 33	/* term, candidate, last idx, last term, flags */
#define CODEC_RVR_BODY 9	/* term, flags */
#define CODEC_AER_BODY 33	/* term, flags, index, last_log_index, ctx */
#define CODEC_ISR_BODY 25	/* term, last_index, next_offset, flags */
#define CODEC_TN_BODY 24	/* term, last_log_index, last_log_term */
#define CODEC_AE_FIXED 44	/* term, prev idx, prev term, commit, ctx, n */
#define CODEC_ENTRY_HDR 13	/* term u64, type u8, len u32 */
#define CODEC_IS_FIXED 41	/* 5 x u64, flags u8 */

__attribute__((format(printf, 3, 4)))
static int codec_bad(char *errmsg, size_t len, const char *fmt, ...)
{
	if (errmsg != NULL && len > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(errmsg, len, fmt, ap);
		va_end(ap);
	}
	return RAFT_MALFORMED;
}

/* ---- writer ---- */

struct codec_w {
	uint8_t *p;
};

static void w_u8(struct codec_w *w, uint8_t v)
{
	*w->p++ = v;
}

static void w_u16(struct codec_w *w, uint16_t v)
{
	for (int i = 0; i < 2; i++)
		*w->p++ = (uint8_t)(v >> (8 * i));
}

static void w_u32(struct codec_w *w, uint32_t v)
{
	raft_put_le32(w->p, v);
	w->p += 4;
}

static void w_u64(struct codec_w *w, uint64_t v)
{
	raft_put_le64(w->p, v);
	w->p += 8;
}

static void w_bytes(struct codec_w *w, const void *b, size_t n)
{
	if (n > 0)
		memcpy(w->p, b, n);
	w->p += n;
}

/* ---- reader ---- */

struct codec_r {
	const uint8_t *p;
	size_t left;
};

static bool r_u8(struct codec_r *r, uint8_t *v)
{
	if (r->left < 1)
		return false;
	*v = *r->p++;
	r->left--;
	return true;
}

static bool r_u16(struct codec_r *r, uint16_t *v)
{
	if (r->left < 2)
		return false;
	*v = (uint16_t)(r->p[0] | (r->p[1] << 8));
	r->p += 2;
	r->left -= 2;
	return true;
}

static bool r_u32(struct codec_r *r, uint32_t *v)
{
	if (r->left < 4)
		return false;
	*v = raft_get_le32(r->p);
	r->p += 4;
	r->left -= 4;
	return true;
}

static bool r_u64(struct codec_r *r, uint64_t *v)
{
	if (r->left < 8)
		return false;
	*v = raft_get_le64(r->p);
	r->p += 8;
	r->left -= 8;
	return true;
}

/* Borrow n bytes in place. */
static bool r_bytes(struct codec_r *r, size_t n, const uint8_t **out)
{
	if (r->left < n)
		return false;
	*out = r->p;
	r->p += n;
	r->left -= n;
	return true;
}

/* ---- size ---- */

int raft_codec_size(const struct raft_message *msg, size_t *size)
{
	if (msg == NULL || size == NULL)
		return RAFT_INVALID;
	size_t n = RAFT_CODEC_HDR;
	switch (msg->type) {
	case RAFT_MSG_REQUEST_VOTE:
		n += CODEC_RV_BODY;
		break;
	case RAFT_MSG_REQUEST_VOTE_RESULT:
		n += CODEC_RVR_BODY;
		break;
	case RAFT_MSG_APPEND_ENTRIES: {
		const struct raft_append_entries *ae = &msg->append_entries;
		if (ae->n_entries > RAFT_CODEC_MAX_ENTRIES)
			return RAFT_TOOBIG;
		if (ae->n_entries > 0 && ae->entries == NULL)
			return RAFT_INVALID;
		n += CODEC_AE_FIXED;
		for (unsigned i = 0; i < ae->n_entries; i++) {
			if (ae->entries[i].buf.len > UINT32_MAX)
				return RAFT_TOOBIG;
			n += CODEC_ENTRY_HDR + ae->entries[i].buf.len;
		}
		break;
	}
	case RAFT_MSG_APPEND_ENTRIES_RESULT:
		n += CODEC_AER_BODY;
		break;
	case RAFT_MSG_INSTALL_SNAPSHOT: {
		const struct raft_install_snapshot *is = &msg->install_snapshot;
		/* Encoded configuration: u8 version, u32 n, per server
		 * u64 id, u8 role, u16 len, address (raft.h). */
		size_t conf = 5;
		for (unsigned i = 0; i < is->conf.n; i++) {
			size_t alen = is->conf.servers[i].address
					      ? strlen(is->conf.servers[i].address)
					      : 0;
			if (alen > UINT16_MAX)
				return RAFT_TOOBIG;
			conf += 11 + alen;
		}
		if (conf > UINT32_MAX || is->data.len > UINT32_MAX)
			return RAFT_TOOBIG;
		n += CODEC_IS_FIXED + 4 + conf + 4 + is->data.len;
		break;
	}
	case RAFT_MSG_INSTALL_SNAPSHOT_RESULT:
		n += CODEC_ISR_BODY;
		break;
	case RAFT_MSG_TIMEOUT_NOW:
		n += CODEC_TN_BODY;
		break;
	default:
		return RAFT_INVALID;
	}
	*size = n;
	return RAFT_OK;
}

/* ---- encode ---- */

int raft_codec_encode_to(const struct raft_message *msg, void *buf,
			 size_t size)
{
	size_t want;
	int rv = raft_codec_size(msg, &want);
	if (rv != RAFT_OK)
		return rv;
	if (buf == NULL || size != want)
		return RAFT_INVALID;
	struct codec_w w = { .p = buf };
	w_u8(&w, RAFT_CODEC_VERSION);
	w_u8(&w, msg->type);
	w_u16(&w, 0);
	switch (msg->type) {
	case RAFT_MSG_REQUEST_VOTE: {
		const struct raft_request_vote *m = &msg->request_vote;
		w_u64(&w, m->term);
		w_u64(&w, m->candidate_id);
		w_u64(&w, m->last_log_index);
		w_u64(&w, m->last_log_term);
		w_u8(&w, (uint8_t)((m->disrupt_leader ? 1 : 0) |
				   (m->pre_vote ? 2 : 0)));
		break;
	}
	case RAFT_MSG_REQUEST_VOTE_RESULT: {
		const struct raft_request_vote_result *m =
			&msg->request_vote_result;
		w_u64(&w, m->term);
		w_u8(&w, (uint8_t)((m->vote_granted ? 1 : 0) |
				   (m->pre_vote ? 2 : 0)));
		break;
	}
	case RAFT_MSG_APPEND_ENTRIES: {
		const struct raft_append_entries *m = &msg->append_entries;
		w_u64(&w, m->term);
		w_u64(&w, m->prev_log_index);
		w_u64(&w, m->prev_log_term);
		w_u64(&w, m->leader_commit);
		w_u64(&w, m->read_ctx);
		w_u32(&w, m->n_entries);
		for (unsigned i = 0; i < m->n_entries; i++) {
			const struct raft_entry *e = &m->entries[i];
			w_u64(&w, e->term);
			w_u8(&w, e->type);
			w_u32(&w, (uint32_t)e->buf.len);
			w_bytes(&w, e->buf.base, e->buf.len);
		}
		break;
	}
	case RAFT_MSG_APPEND_ENTRIES_RESULT: {
		const struct raft_append_entries_result *m =
			&msg->append_entries_result;
		w_u64(&w, m->term);
		w_u8(&w, m->rejected ? 1 : 0);
		w_u64(&w, m->index);
		w_u64(&w, m->last_log_index);
		w_u64(&w, m->read_ctx);
		break;
	}
	case RAFT_MSG_INSTALL_SNAPSHOT: {
		const struct raft_install_snapshot *m = &msg->install_snapshot;
		w_u64(&w, m->term);
		w_u64(&w, m->last_index);
		w_u64(&w, m->last_term);
		w_u64(&w, m->conf_index);
		w_u64(&w, m->offset);
		w_u8(&w, m->done ? 1 : 0);
		/* Same layout as raft_configuration_encode (raft.h), written
		 * in place to avoid a temporary allocation. */
		uint8_t *conf_len_at = w.p;
		w_u32(&w, 0);
		uint8_t *conf_start = w.p;
		w_u8(&w, 1);
		w_u32(&w, m->conf.n);
		for (unsigned i = 0; i < m->conf.n; i++) {
			const struct raft_server *s = &m->conf.servers[i];
			size_t alen = s->address ? strlen(s->address) : 0;
			w_u64(&w, s->id);
			w_u8(&w, s->role);
			w_u16(&w, (uint16_t)alen);
			w_bytes(&w, s->address, alen);
		}
		struct codec_w lw = { .p = conf_len_at };
		w_u32(&lw, (uint32_t)(w.p - conf_start));
		w_u32(&w, (uint32_t)m->data.len);
		w_bytes(&w, m->data.base, m->data.len);
		break;
	}
	case RAFT_MSG_INSTALL_SNAPSHOT_RESULT: {
		const struct raft_install_snapshot_result *m =
			&msg->install_snapshot_result;
		w_u64(&w, m->term);
		w_u64(&w, m->last_index);
		w_u64(&w, m->next_offset);
		w_u8(&w, (uint8_t)((m->rejected ? 1 : 0) | (m->done ? 2 : 0)));
		break;
	}
	case RAFT_MSG_TIMEOUT_NOW: {
		const struct raft_timeout_now *m = &msg->timeout_now;
		w_u64(&w, m->term);
		w_u64(&w, m->last_log_index);
		w_u64(&w, m->last_log_term);
		break;
	}
	}
	return (size_t)(w.p - (uint8_t *)buf) == size ? RAFT_OK : RAFT_INVALID;
}

int raft_codec_encode(const struct raft_message *msg, struct raft_buffer *out)
{
	size_t size;
	int rv = raft_codec_size(msg, &size);
	if (rv != RAFT_OK)
		return rv;
	void *buf = raft_heap_malloc(size);
	if (buf == NULL)
		return RAFT_NOMEM;
	rv = raft_codec_encode_to(msg, buf, size);
	if (rv != RAFT_OK) {
		raft_heap_free(buf);
		return rv;
	}
	out->base = buf;
	out->len = size;
	return RAFT_OK;
}

/* ---- decode ---- */

static int codec_flags(uint8_t flags, uint8_t allowed, bool *a, bool *b,
		       char *errmsg, size_t errmsg_len)
{
	if (flags & (uint8_t)~allowed)
		return codec_bad(errmsg, errmsg_len,
				 "flags 0x%02x set undefined bits", flags);
	*a = (flags & 1) != 0;
	if (b != NULL)
		*b = (flags & 2) != 0;
	return RAFT_OK;
}

static int codec_exact(const struct codec_r *r, size_t body, const char *what,
		       char *errmsg, size_t errmsg_len)
{
	if (r->left != body)
		return codec_bad(errmsg, errmsg_len,
				 "%s body is %zu bytes, must be exactly %zu",
				 what, r->left, body);
	return RAFT_OK;
}

static int codec_decode_ae(struct codec_r *r, struct raft_append_entries *m,
			   char *errmsg, size_t errmsg_len)
{
	uint32_t n;
	if (r->left < CODEC_AE_FIXED)
		return codec_bad(errmsg, errmsg_len,
				 "AppendEntries shorter than its header");
	r_u64(r, &m->term);
	r_u64(r, &m->prev_log_index);
	r_u64(r, &m->prev_log_term);
	r_u64(r, &m->leader_commit);
	r_u64(r, &m->read_ctx);
	r_u32(r, &n);
	/* Each entry needs its header, so the count cannot exceed what the
	 * remaining bytes could describe: bound it before allocating. */
	if (n > RAFT_CODEC_MAX_ENTRIES || n > r->left / CODEC_ENTRY_HDR)
		return codec_bad(errmsg, errmsg_len,
				 "AppendEntries claims %" PRIu32
				 " entries in %zu bytes",
				 n, r->left);
	m->n_entries = n;
	m->entries = NULL;
	if (n == 0)
		goto tail;
	m->entries = raft_heap_calloc(n, sizeof(*m->entries));
	if (m->entries == NULL)
		return RAFT_NOMEM;
	for (uint32_t i = 0; i < n; i++) {
		struct raft_entry *e = &m->entries[i];
		uint32_t len;
		const uint8_t *p;
		if (!r_u64(r, &e->term) || !r_u8(r, &e->type) ||
		    !r_u32(r, &len)) {
			codec_bad(errmsg, errmsg_len,
				  "entry %" PRIu32 " header truncated", i);
			goto fail;
		}
		if (e->type < RAFT_COMMAND || e->type > RAFT_CHANGE) {
			codec_bad(errmsg, errmsg_len,
				  "entry %" PRIu32 " has unknown type %u", i,
				  e->type);
			goto fail;
		}
		if (!r_bytes(r, len, &p)) {
			codec_bad(errmsg, errmsg_len,
				  "entry %" PRIu32 " claims %" PRIu32
				  " bytes, %zu left",
				  i, len, r->left);
			goto fail;
		}
		e->buf.base = (void *)(uintptr_t)p;	/* borrowed, see codec.h */
		e->buf.len = len;
	}
tail:
	if (r->left != 0) {
		codec_bad(errmsg, errmsg_len,
			  "%zu trailing bytes after AppendEntries", r->left);
		goto fail;
	}
	return RAFT_OK;
fail:
	raft_heap_free(m->entries);
	m->entries = NULL;
	m->n_entries = 0;
	return RAFT_MALFORMED;
}

static int codec_decode_is(struct codec_r *r, struct raft_install_snapshot *m,
			   char *errmsg, size_t errmsg_len)
{
	uint8_t flags;
	uint32_t conf_len, data_len;
	const uint8_t *conf, *data;
	if (r->left < CODEC_IS_FIXED + 4)
		return codec_bad(errmsg, errmsg_len,
				 "InstallSnapshot shorter than its header");
	r_u64(r, &m->term);
	r_u64(r, &m->last_index);
	r_u64(r, &m->last_term);
	r_u64(r, &m->conf_index);
	r_u64(r, &m->offset);
	r_u8(r, &flags);
	int rv = codec_flags(flags, 1, &m->done, NULL, errmsg, errmsg_len);
	if (rv != RAFT_OK)
		return rv;
	r_u32(r, &conf_len);
	if (!r_bytes(r, conf_len, &conf))
		return codec_bad(errmsg, errmsg_len,
				 "configuration claims %" PRIu32
				 " bytes, %zu left",
				 conf_len, r->left);
	if (!r_u32(r, &data_len))
		return codec_bad(errmsg, errmsg_len, "data length truncated");
	if (!r_bytes(r, data_len, &data))
		return codec_bad(errmsg, errmsg_len,
				 "data claims %" PRIu32 " bytes, %zu left",
				 data_len, r->left);
	if (r->left != 0)
		return codec_bad(errmsg, errmsg_len,
				 "%zu trailing bytes after InstallSnapshot",
				 r->left);
	raft_configuration_init(&m->conf);
	struct raft_buffer cb = { .base = (void *)(uintptr_t)conf,
				  .len = conf_len };
	rv = raft_configuration_decode(&cb, &m->conf);
	if (rv != RAFT_OK) {
		raft_configuration_close(&m->conf);
		if (rv == RAFT_NOMEM)
			return rv;
		return codec_bad(errmsg, errmsg_len,
				 "InstallSnapshot configuration malformed");
	}
	m->data.base = (void *)(uintptr_t)data;
	m->data.len = data_len;
	return RAFT_OK;
}

int raft_codec_decode(const void *buf, size_t len, struct raft_message *msg,
		      char *errmsg, size_t errmsg_len)
{
	if (msg == NULL || (buf == NULL && len > 0))
		return RAFT_INVALID;
	memset(msg, 0, sizeof(*msg));
	struct codec_r r = { .p = buf, .left = len };
	uint8_t version, type;
	uint16_t reserved;
	if (!r_u8(&r, &version) || !r_u8(&r, &type) || !r_u16(&r, &reserved))
		return codec_bad(errmsg, errmsg_len,
				 "%zu bytes: shorter than the header", len);
	if (version != RAFT_CODEC_VERSION)
		return codec_bad(errmsg, errmsg_len, "unknown version %u",
				 version);
	if (reserved != 0)
		return codec_bad(errmsg, errmsg_len,
				 "reserved field is 0x%04x, must be zero",
				 reserved);
	int rv;
	uint8_t flags = 0;
	switch (type) {
	case RAFT_MSG_REQUEST_VOTE: {
		struct raft_request_vote *m = &msg->request_vote;
		rv = codec_exact(&r, CODEC_RV_BODY, "RequestVote", errmsg,
				 errmsg_len);
		if (rv != RAFT_OK)
			return rv;
		r_u64(&r, &m->term);
		r_u64(&r, &m->candidate_id);
		r_u64(&r, &m->last_log_index);
		r_u64(&r, &m->last_log_term);
		r_u8(&r, &flags);
		rv = codec_flags(flags, 3, &m->disrupt_leader, &m->pre_vote,
				 errmsg, errmsg_len);
		break;
	}
	case RAFT_MSG_REQUEST_VOTE_RESULT: {
		struct raft_request_vote_result *m = &msg->request_vote_result;
		rv = codec_exact(&r, CODEC_RVR_BODY, "RequestVoteResult", errmsg,
				 errmsg_len);
		if (rv != RAFT_OK)
			return rv;
		r_u64(&r, &m->term);
		r_u8(&r, &flags);
		rv = codec_flags(flags, 3, &m->vote_granted, &m->pre_vote,
				 errmsg, errmsg_len);
		break;
	}
	case RAFT_MSG_APPEND_ENTRIES:
		rv = codec_decode_ae(&r, &msg->append_entries, errmsg,
				     errmsg_len);
		break;
	case RAFT_MSG_APPEND_ENTRIES_RESULT: {
		struct raft_append_entries_result *m =
			&msg->append_entries_result;
		rv = codec_exact(&r, CODEC_AER_BODY, "AppendEntriesResult",
				 errmsg, errmsg_len);
		if (rv != RAFT_OK)
			return rv;
		r_u64(&r, &m->term);
		r_u8(&r, &flags);
		r_u64(&r, &m->index);
		r_u64(&r, &m->last_log_index);
		r_u64(&r, &m->read_ctx);
		rv = codec_flags(flags, 1, &m->rejected, NULL, errmsg,
				 errmsg_len);
		break;
	}
	case RAFT_MSG_INSTALL_SNAPSHOT:
		rv = codec_decode_is(&r, &msg->install_snapshot, errmsg,
				     errmsg_len);
		break;
	case RAFT_MSG_INSTALL_SNAPSHOT_RESULT: {
		struct raft_install_snapshot_result *m =
			&msg->install_snapshot_result;
		rv = codec_exact(&r, CODEC_ISR_BODY, "InstallSnapshotResult",
				 errmsg, errmsg_len);
		if (rv != RAFT_OK)
			return rv;
		r_u64(&r, &m->term);
		r_u64(&r, &m->last_index);
		r_u64(&r, &m->next_offset);
		r_u8(&r, &flags);
		rv = codec_flags(flags, 3, &m->rejected, &m->done, errmsg,
				 errmsg_len);
		break;
	}
	case RAFT_MSG_TIMEOUT_NOW: {
		struct raft_timeout_now *m = &msg->timeout_now;
		rv = codec_exact(&r, CODEC_TN_BODY, "TimeoutNow", errmsg,
				 errmsg_len);
		if (rv != RAFT_OK)
			return rv;
		r_u64(&r, &m->term);
		r_u64(&r, &m->last_log_index);
		r_u64(&r, &m->last_log_term);
		rv = RAFT_OK;
		break;
	}
	default:
		return codec_bad(errmsg, errmsg_len, "unknown message type %u",
				 type);
	}
	if (rv != RAFT_OK) {
		memset(msg, 0, sizeof(*msg));
		return rv;
	}
	msg->type = type;
	return RAFT_OK;
}

void raft_codec_release(struct raft_message *msg)
{
	if (msg == NULL)
		return;
	switch (msg->type) {
	case RAFT_MSG_APPEND_ENTRIES:
		raft_heap_free(msg->append_entries.entries);
		msg->append_entries.entries = NULL;
		msg->append_entries.n_entries = 0;
		break;
	case RAFT_MSG_INSTALL_SNAPSHOT:
		raft_configuration_close(&msg->install_snapshot.conf);
		break;
	default:
		break;
	}
}
