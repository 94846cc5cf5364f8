/*
 * heap.c: the allocator hook every allocation in consensus/ goes through.
 *
 * Routing all allocations through one replaceable table lets the test
 * fixture fail the Nth allocation (STYLE 23) and lets buffers change owner
 * between the core, the io implementation and the FSM without each side
 * having to know the other's allocator.
 */
#include <stdlib.h>
#include <string.h>

#include "raft.h"

static void *heap_default_malloc(void *data, size_t size)
{
	(void)data;
	return malloc(size);
}

static void *heap_default_realloc(void *data, void *ptr, size_t size)
{
	(void)data;
	return realloc(ptr, size);
}

static void heap_default_free(void *data, void *ptr)
{
	(void)data;
	free(ptr);
}

static struct raft_heap heap_default = {
	.data = NULL,
	.malloc = heap_default_malloc,
	.realloc = heap_default_realloc,
	.free = heap_default_free,
};

static struct raft_heap *heap_current = &heap_default;

void raft_heap_set(struct raft_heap *heap)
{
	heap_current = heap != NULL ? heap : &heap_default;
}

void *raft_heap_malloc(size_t size)
{
	/* A zero-byte request still returns a unique pointer so callers can
	 * treat NULL strictly as "out of memory". */
	return heap_current->malloc(heap_current->data, size == 0 ? 1 : size);
}

void *raft_heap_calloc(size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		return NULL;
	void *p = raft_heap_malloc(nmemb * size);
	if (p != NULL)
		memset(p, 0, nmemb * size);
	return p;
}

void *raft_heap_realloc(void *ptr, size_t size)
{
	return heap_current->realloc(heap_current->data, ptr,
				     size == 0 ? 1 : size);
}

void raft_heap_free(void *ptr)
{
	if (ptr != NULL)
		heap_current->free(heap_current->data, ptr);
}
