/*
 * fuzz_lin_history: the history file parser and the checker on untrusted
 * bytes. Properties: no crash or sanitizer report; an accepted history
 * re-written and re-parsed gives the same ops; the checker (small budget)
 * returns a verdict for it and never fails on an op the parser accepted.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lin_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lin_op *ops = NULL, *again = NULL;
	size_t n = 0, n2 = 0;
	char err[128];

	if (lin_history_parse((const char *)data, size, &ops, &n, err,
			      sizeof(err)))
		return 0;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	fuzz_check(f != NULL);
	fuzz_check(lin_history_write(f, ops, n) == 0);
	fclose(f);
	fuzz_check(lin_history_parse(buf, len, &again, &n2, err,
				     sizeof(err)) == 0);
	fuzz_check(n2 == n);
	for (size_t i = 0; i < n; i++)
		fuzz_check(again[i].value == ops[i].value &&
			   again[i].invoke_ns == ops[i].invoke_ns &&
			   again[i].kind == ops[i].kind &&
			   again[i].outcome == ops[i].outcome);
	struct lin_params p = { .max_steps = 100000, .max_cache = 100000 };
	struct lin_result res;
	fuzz_check(lin_check(ops, n, &p, &res) == 0);
	fuzz_check(res.n_bad + res.n_unknown <= res.n_keys);
	lin_result_free(&res);
	free(buf);
	free(ops);
	free(again);
	return 0;
}
