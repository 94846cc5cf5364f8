/*
 * log.c: in-memory Raft log cache (see log.h).
 *
 * A ring buffer of slots indexed by (index - offset - 1). Payload lifetime
 * is decoupled from slot lifetime by a small refcount cell per payload, so
 * truncation and compaction never free memory an in-flight io request still
 * reads.
 */
#include <assert.h>
#include <string.h>

#include "log.h"

struct log_ref {
	unsigned count;
	void *base;
};

void log_init(struct raft_log *l)
{
	memset(l, 0, sizeof(*l));
}

static void log_ref_put(struct log_ref *ref)
{
	if (ref == NULL)
		return;
	assert(ref->count > 0);
	if (--ref->count == 0) {
		raft_heap_free(ref->base);
		raft_heap_free(ref);
	}
}

static struct log_slot *log_slot_at(const struct raft_log *l, size_t i)
{
	return &l->slots[(l->head + i) % l->cap];
}

void log_close(struct raft_log *l)
{
	for (size_t i = 0; i < l->n; i++)
		log_ref_put(log_slot_at(l, i)->ref);
	raft_heap_free(l->slots);
	log_init(l);
}

raft_index log_first_index(const struct raft_log *l)
{
	return l->offset + 1;
}

raft_index log_last_index(const struct raft_log *l)
{
	return l->offset + l->n;
}

raft_term log_term_of(const struct raft_log *l, raft_index index)
{
	if (index > l->offset && index <= l->offset + l->n)
		return log_slot_at(l, (size_t)(index - l->offset - 1))
			->entry.term;
	if (index != 0 && index == l->snap_index)
		return l->snap_term;
	return 0;
}

raft_term log_last_term(const struct raft_log *l)
{
	return log_term_of(l, log_last_index(l));
}

const struct raft_entry *log_get(const struct raft_log *l, raft_index index)
{
	if (index > l->offset && index <= l->offset + l->n)
		return &log_slot_at(l, (size_t)(index - l->offset - 1))->entry;
	return NULL;
}

static int log_grow(struct raft_log *l)
{
	if (l->n < l->cap)
		return RAFT_OK;
	size_t cap = l->cap == 0 ? 16 : l->cap * 2;
	struct log_slot *slots = raft_heap_malloc(cap * sizeof(*slots));
	if (slots == NULL)
		return RAFT_NOMEM;
	for (size_t i = 0; i < l->n; i++)
		slots[i] = *log_slot_at(l, i);
	raft_heap_free(l->slots);
	l->slots = slots;
	l->cap = cap;
	l->head = 0;
	return RAFT_OK;
}

int log_append(struct raft_log *l, raft_term term, int type,
	       const struct raft_buffer *buf)
{
	struct log_ref *ref = NULL;
	if (log_grow(l) != RAFT_OK)
		return RAFT_NOMEM;
	if (buf->base != NULL) {
		ref = raft_heap_malloc(sizeof(*ref));
		if (ref == NULL)
			return RAFT_NOMEM;
		ref->count = 1;
		ref->base = buf->base;
	}
	struct log_slot *s = log_slot_at(l, l->n);
	s->entry.term = term;
	s->entry.type = (uint8_t)type;
	s->entry.buf = *buf;
	s->ref = ref;
	l->n++;
	return RAFT_OK;
}

int log_append_copy(struct raft_log *l, const struct raft_entry *e)
{
	struct raft_buffer buf = {NULL, e->buf.len};
	if (e->buf.len > 0) {
		buf.base = raft_heap_malloc(e->buf.len);
		if (buf.base == NULL)
			return RAFT_NOMEM;
		memcpy(buf.base, e->buf.base, e->buf.len);
	}
	int rv = log_append(l, e->term, e->type, &buf);
	if (rv != RAFT_OK)
		raft_heap_free(buf.base);
	return rv;
}

void log_truncate(struct raft_log *l, raft_index index)
{
	while (l->n > 0 && log_last_index(l) >= index) {
		log_ref_put(log_slot_at(l, l->n - 1)->ref);
		l->n--;
	}
}

void log_compact(struct raft_log *l, raft_index index)
{
	while (l->n > 0 && l->offset < index) {
		log_ref_put(log_slot_at(l, 0)->ref);
		l->head = (l->head + 1) % l->cap;
		l->n--;
		l->offset++;
	}
}

void log_restart(struct raft_log *l, raft_index index, raft_term term)
{
	log_truncate(l, 0);
	l->head = 0;
	l->offset = index;
	l->snap_index = index;
	l->snap_term = term;
}

int log_acquire(struct raft_log *l, raft_index from, unsigned n,
		struct log_batch *b)
{
	b->n = 0;
	b->entries = NULL;
	b->refs = NULL;
	if (n == 0)
		return RAFT_OK;
	assert(from > l->offset && from + n - 1 <= log_last_index(l));
	b->entries = raft_heap_malloc(n * sizeof(*b->entries));
	b->refs = raft_heap_malloc(n * sizeof(*b->refs));
	if (b->entries == NULL || b->refs == NULL) {
		raft_heap_free(b->entries);
		raft_heap_free(b->refs);
		b->entries = NULL;
		b->refs = NULL;
		return RAFT_NOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		struct log_slot *s =
			log_slot_at(l, (size_t)(from - l->offset - 1) + i);
		b->entries[i] = s->entry;
		b->refs[i] = s->ref;
		if (s->ref != NULL)
			s->ref->count++;
	}
	b->n = n;
	return RAFT_OK;
}

void log_batch_release(struct log_batch *b)
{
	for (unsigned i = 0; i < b->n; i++)
		log_ref_put(b->refs[i]);
	raft_heap_free(b->entries);
	raft_heap_free(b->refs);
	b->entries = NULL;
	b->refs = NULL;
	b->n = 0;
}
