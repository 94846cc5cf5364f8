/*
 * lin_check: a linearizability checker for histories of a key-value store
 * seen as independent registers (read, write, compare-and-swap), in the
 * style of Porcupine and Knossos.
 *
 * Algorithm: Wing & Gong's search over the interleavings that respect real
 * time, with Lowe's memoization: a configuration (set of operations already
 * linearized, register value) reached once is never explored again, so the
 * search is polynomial in practice for the bounded concurrency of a test.
 * Registers are independent (P-compositionality, Horn & Kroening), so each
 * key's sub-history is checked alone.
 *
 * Outcomes follow Jepsen: ok (happened, result known), fail (definitely did
 * not happen: dropped before the search), info (unknown: timed out or the
 * connection died; it may have taken effect at any point after its invoke,
 * or never, so its return time is infinite). Reads with an info outcome
 * constrain nothing and are dropped too.
 *
 * The search is bounded: past a budget of steps (or cache entries) a key's
 * verdict is LIN_UNKNOWN, never a hang.
 *
 * Errors: functions returning int give 0 or -errno; lin_history_read()
 * fills an errmsg naming the line and the field.
 * Threading: no global state; one history per thread.
 */
#ifndef SLUICE_TESTS_LIN_CHECK_H
#define SLUICE_TESTS_LIN_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Register value of a key that does not exist. Written values are >= 0. */
#define LIN_NIL ((int64_t)-1)
/* The register value after an info write or CAS whose value no read
 * returns and no CAS compares against: the checker does not tell such
 * values apart (symmetry reduction, lin_check.c). */
#define LIN_UNSEEN INT64_MIN
/* Return time of an op that has not returned (info). */
#define LIN_T_INF UINT64_MAX

enum lin_kind {
	LIN_READ = 1,  /* value: what was read (LIN_NIL if absent) */
	LIN_WRITE = 2, /* value: what was written */
	LIN_CAS = 3,   /* expect -> value; cas_ok: whether it swapped */
};

enum lin_outcome {
	LIN_OK = 1,
	LIN_FAIL = 2,
	LIN_INFO = 3,
};

struct lin_op {
	uint32_t client;
	uint32_t key;
	enum lin_kind kind;
	enum lin_outcome outcome;
	int64_t value;
	int64_t expect;
	bool cas_ok;        /* CAS with outcome ok only */
	uint64_t invoke_ns; /* monotonic */
	uint64_t return_ns; /* monotonic; ignored (infinite) for info */
};

enum lin_verdict {
	LIN_LINEARIZABLE = 0,
	LIN_NOT_LINEARIZABLE = 1,
	LIN_UNKNOWN = 2, /* search budget exceeded */
};

const char *lin_verdict_str(enum lin_verdict v);

struct lin_params {
	uint64_t max_steps;   /* per key; 0 = 50,000,000 */
	size_t max_cache;     /* memo entries per key; 0 = 4,000,000 */
	FILE *report;         /* failure/unknown details; NULL = silent */
};

/* Per-key result. */
struct lin_key_result {
	uint32_t key;
	enum lin_verdict verdict;
	size_t n_ops;        /* ops checked (after dropping fail/info reads) */
	size_t n_linearized; /* longest linearizable prefix found */
	uint64_t steps;
	int64_t final_value; /* register value after the linearization found
			      * (LINEARIZABLE only; info ops left out count as
			      * not applied; LIN_UNSEEN if the last one placed
			      * was an info op nobody observed) */
};

struct lin_result {
	enum lin_verdict verdict; /* worst over the keys */
	size_t n_keys;
	size_t n_ops;
	size_t n_bad;       /* keys NOT_LINEARIZABLE */
	size_t n_unknown;   /* keys UNKNOWN */
	struct lin_key_result *keys; /* n_keys entries, sorted by key;
				      * owned by the result */
};

/*
 * Check ops[0..n) (any order; copied). Fills *res (free it with
 * lin_result_free). Writes a one-paragraph report per bad or unknown key
 * to p->report: the longest linearization found (its last steps) and the
 * operations that could not be placed after it, which is the offending
 * sub-history. 0 or -ENOMEM / -EINVAL (a malformed op: bad kind or
 * outcome, return before invoke, negative written value).
 */
int lin_check(const struct lin_op *ops, size_t n, const struct lin_params *p,
	      struct lin_result *res);

void lin_result_free(struct lin_result *res); /* accepts zeroed */

/*
 * History file: one op per line, '#' comments:
 *   client key kind outcome value expect cas_ok invoke_ns return_ns
 * kind: r w cas; outcome: ok fail info; value/expect: integers (nil = -1);
 * return_ns "-" for info. lin_history_write prints the same format.
 */
int lin_history_write(FILE *f, const struct lin_op *ops, size_t n);

/* Parse text (NUL not required; len bytes). *ops is malloc'd (free it).
 * 0, or -EINVAL with errmsg "line N: <field> ..." , or -ENOMEM. */
int lin_history_parse(const char *text, size_t len, struct lin_op **ops,
		      size_t *n, char *errmsg, size_t errlen);

/* One op as text, for reports ("c3 k7 cas 5->9 ok=1 [t0, t1]"). */
void lin_op_format(const struct lin_op *op, char *buf, size_t len);

#endif /* SLUICE_TESTS_LIN_CHECK_H */
