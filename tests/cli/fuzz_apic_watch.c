/*
 * fuzz_apic_watch: a watch stream as a server could send it (untrusted
 * bytes), through apic_watch_decode(), the same line splitting and event
 * decoding apic_watch() runs on libcurl's chunks. The first input byte
 * picks the chunk size (0 = all at once), so lines split at every offset.
 * Properties: no crash or sanitizer report; every delivered event has a
 * string type and an object; the count matches the callbacks; an input
 * decoded whole and decoded in chunks gives the same events.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "apic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
	if (!cond)
		abort();
}

struct seen {
	long n;
	uint64_t sum; /* of type lengths and object sizes, to compare runs */
};

static bool on_event(void *arg, const char *type, json_t *object)
{
	struct seen *s = arg;
	fuzz_check(type != NULL && json_is_object(object));
	s->n++;
	s->sum = s->sum * 31 + strlen(type) * 7 + json_object_size(object);
	return strcmp(type, "STOP") != 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	int ok_whole, ok_chunked;

	if (size == 0)
		return 0;
	size_t chunk = data[0] % 17; /* 0 = whole */
	struct seen whole = {0}, chunked = {0};
	long n1 = apic_watch_decode((const char *)data + 1, size - 1, 0, on_event, &whole, &ok_whole,
				    err, sizeof(err));
	long n2 = apic_watch_decode((const char *)data + 1, size - 1, chunk, on_event, &chunked,
				    &ok_chunked, err, sizeof(err));
	fuzz_check(n1 == whole.n && n2 == chunked.n);
	fuzz_check(n1 == n2 && whole.sum == chunked.sum && ok_whole == ok_chunked);
	if (!ok_chunked)
		fuzz_check(err[0] != '\0');
	return 0;
}
