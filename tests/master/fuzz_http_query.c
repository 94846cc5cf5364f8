/*
 * fuzz_http_query: http_query_parse() on untrusted query strings. Beyond
 * not crashing: at most HTTP_MAX_QUERY pairs, every key and value is a
 * NUL-terminated string inside the parser's buffer, no longer than the
 * input, and http_query_get() finds each key's first value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define FUZZ_CHECK(c)                                                          \
	do {                                                                   \
		if (!(c))                                                      \
			abort();                                               \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *qs = malloc(size + 1);
	if (qs == NULL)
		return 0;
	memcpy(qs, data, size);
	qs[size] = '\0';
	size_t in_len = strlen(qs);
	struct http_query q;
	if (http_query_parse(qs, &q) == 0) {
		FUZZ_CHECK(q.n <= HTTP_MAX_QUERY);
		FUZZ_CHECK(q.n == 0 || q.buf != NULL);
		const char *end = q.buf + 3 * in_len + 2;
		for (size_t i = 0; i < q.n; i++) {
			FUZZ_CHECK(q.keys[i] >= q.buf && q.keys[i] < end);
			FUZZ_CHECK(q.vals[i] >= q.buf && q.vals[i] < end);
			FUZZ_CHECK(strlen(q.keys[i]) <= in_len);
			FUZZ_CHECK(strlen(q.vals[i]) <= in_len);
			const char *v = http_query_get(&q, q.keys[i]);
			FUZZ_CHECK(v != NULL);
			for (size_t j = 0; j < i; j++)
				if (strcmp(q.keys[j], q.keys[i]) == 0) {
					FUZZ_CHECK(v == q.vals[j]);
					break;
				}
		}
		http_query_clear(&q);
	} else {
		FUZZ_CHECK(q.n == 0 && q.buf == NULL);
	}
	free(qs);
	return 0;
}
