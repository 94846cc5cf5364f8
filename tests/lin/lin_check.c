/*
 * lin_check: Wing & Gong's linearizability search with Lowe's memoization,
 * per key, over a register model (read / write / CAS).
 *
 * Each op becomes a call entry and a return entry in a doubly linked list
 * sorted by time (calls before returns at equal times, so touching
 * intervals count as concurrent: the lenient reading of a clock tie). The
 * search walks the list: at a call entry it tries to linearize that op now
 * (the model must accept it from the current state), lifting both entries
 * out of the list; at a return entry it has met an op that must already
 * have been linearized, so it backtracks. A configuration (linearized set,
 * register value) seen before failed already and is skipped: that cache is
 * what makes the search practical (Lowe, "Testing for linearizability",
 * 2017; the same structure as Porcupine's checkSingle).
 *
 * The set is a bitset with an incremental Zobrist hash so pushing and
 * popping an op costs O(1) hashing; the cache stores the full bitset to
 * rule out collisions.
 *
 * Info ops have an infinite return, so they never force a backtrack; the
 * search succeeds once every ok op is placed (info ops not placed by then
 * are the "never happened" case, always allowed).
 */
#include "lin_check.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define LIN_DEFAULT_STEPS 50000000ull
#define LIN_DEFAULT_CACHE 4000000u
/* Cache memory cap whatever the entry count: a long key history makes
 * each bitset large. */
#define LIN_CACHE_BYTES (512ull << 20)
#define LIN_REPORT_TAIL 8

const char *lin_verdict_str(enum lin_verdict v)
{
	switch (v) {
	case LIN_LINEARIZABLE: return "linearizable";
	case LIN_NOT_LINEARIZABLE: return "NOT linearizable";
	case LIN_UNKNOWN: return "unknown (search budget exceeded)";
	}
	return "?";
}

static const char *lin_kind_str(enum lin_kind k)
{
	switch (k) {
	case LIN_READ: return "r";
	case LIN_WRITE: return "w";
	case LIN_CAS: return "cas";
	}
	return "?";
}

static const char *lin_outcome_str(enum lin_outcome o)
{
	switch (o) {
	case LIN_OK: return "ok";
	case LIN_FAIL: return "fail";
	case LIN_INFO: return "info";
	}
	return "?";
}

void lin_op_format(const struct lin_op *op, char *buf, size_t len)
{
	char ret[32];

	if (op->outcome == LIN_INFO)
		snprintf(ret, sizeof(ret), "inf");
	else
		snprintf(ret, sizeof(ret), "%" PRIu64, op->return_ns);
	if (op->kind == LIN_CAS)
		snprintf(buf, len, "c%" PRIu32 " k%" PRIu32 " cas %" PRId64
			 "->%" PRId64 " %s%s [%" PRIu64 ", %s]", op->client,
			 op->key, op->expect, op->value,
			 lin_outcome_str(op->outcome),
			 op->outcome == LIN_OK ? (op->cas_ok ? " swapped" :
						  " not-swapped") : "",
			 op->invoke_ns, ret);
	else
		snprintf(buf, len, "c%" PRIu32 " k%" PRIu32 " %s %" PRId64
			 " %s [%" PRIu64 ", %s]", op->client, op->key,
			 lin_kind_str(op->kind), op->value,
			 lin_outcome_str(op->outcome), op->invoke_ns, ret);
}

/* ------------------------------------------------------------ model */

/* Apply op (writing nv, op->value or LIN_UNSEEN) to state; false if the
 * register cannot produce op's result from this state. */
static bool lin_step(int64_t state, const struct lin_op *op, int64_t nv,
		     int64_t *next)
{
	switch (op->kind) {
	case LIN_READ:
		*next = state;
		return state == op->value;
	case LIN_WRITE:
		*next = nv;
		return true;
	case LIN_CAS:
		if (op->outcome == LIN_INFO) {
			/* If it happened here, its effect is fixed by the
			 * state; "never happened" is not placing it. */
			*next = state == op->expect ? nv : state;
			return true;
		}
		if (op->cas_ok) {
			*next = nv;
			return state == op->expect;
		}
		*next = state;
		return state != op->expect;
	}
	return false;
}

/* ------------------------------------------------------------ cache */

struct lin_cache {
	uint32_t *buckets; /* entry index + 1; 0 = empty */
	size_t n_buckets;  /* power of two */
	uint64_t *words;   /* per entry: hash, state, next, bitset[W] */
	size_t n, cap, max;
	size_t w; /* bitset words */
};

static size_t lin_cache_stride(const struct lin_cache *c)
{
	return 3 + c->w;
}

static int lin_cache_init(struct lin_cache *c, size_t w, size_t max)
{
	memset(c, 0, sizeof(*c));
	c->w = w;
	c->n_buckets = 1024;
	c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
	size_t by_bytes = LIN_CACHE_BYTES / ((3 + w) * sizeof(uint64_t));
	c->max = max < by_bytes ? max : by_bytes;
	if (c->max > UINT32_MAX - 1)
		c->max = UINT32_MAX - 1;
	return c->buckets ? 0 : -ENOMEM;
}

static void lin_cache_free(struct lin_cache *c)
{
	free(c->buckets);
	free(c->words);
	memset(c, 0, sizeof(*c));
}

static int lin_cache_grow(struct lin_cache *c)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4096;
		uint64_t *w = realloc(c->words,
				      cap * lin_cache_stride(c) * sizeof(*w));
		if (!w)
			return -ENOMEM;
		c->words = w;
		c->cap = cap;
	}
	if (c->n * 2 >= c->n_buckets) {
		size_t nb = c->n_buckets * 2;
		uint32_t *b = calloc(nb, sizeof(*b));
		if (!b)
			return -ENOMEM;
		for (size_t i = 0; i < c->n; i++) {
			uint64_t *e = c->words + i * lin_cache_stride(c);
			size_t slot = (size_t)e[0] & (nb - 1);
			e[2] = b[slot];
			b[slot] = (uint32_t)(i + 1);
		}
		free(c->buckets);
		c->buckets = b;
		c->n_buckets = nb;
	}
	return 0;
}

/* 1 if (set, state) was present, 0 if added now, -ENOSPC when full,
 * -ENOMEM. */
static int lin_cache_add(struct lin_cache *c, uint64_t h,
			 const uint64_t *set, int64_t state)
{
	size_t stride = lin_cache_stride(c);
	size_t slot = (size_t)h & (c->n_buckets - 1);

	for (uint32_t i = c->buckets[slot]; i; ) {
		uint64_t *e = c->words + (i - 1) * stride;
		if (e[0] == h && (int64_t)e[1] == state &&
		    !memcmp(e + 3, set, c->w * sizeof(*set)))
			return 1;
		i = (uint32_t)e[2];
	}
	if (c->n >= c->max)
		return -ENOSPC;
	int rc = lin_cache_grow(c);
	if (rc)
		return rc;
	slot = (size_t)h & (c->n_buckets - 1);
	uint64_t *e = c->words + c->n * stride;
	e[0] = h;
	e[1] = (uint64_t)state;
	e[2] = c->buckets[slot];
	memcpy(e + 3, set, c->w * sizeof(*set));
	c->buckets[slot] = (uint32_t)(c->n + 1);
	c->n++;
	return 0;
}

/* ------------------------------------------------------------ search */

struct lin_entry {
	uint64_t t;
	uint32_t op;
	bool call;
};

static int lin_entry_cmp(const void *a, const void *b)
{
	const struct lin_entry *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->call != y->call)
		return x->call ? -1 : 1;
	return x->op < y->op ? -1 : x->op > y->op;
}

static uint64_t lin_mix(uint64_t x)
{
	/* splitmix64 finalizer */
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

struct lin_search {
	const struct lin_op *ops; /* this key's ops */
	size_t n;
	struct lin_entry *ent; /* 2n entries, then head at 2n */
	int32_t *next, *prev;  /* over 2n + 1 slots; -1 = none */
	int32_t *match;        /* call entry -> its return entry */
	uint32_t *stack_ent;
	int64_t *stack_state;
	uint32_t *best; /* op ids of the longest linearization found */
	size_t best_len;
	uint64_t *set;
	uint64_t *zob;
	int64_t *eff;     /* value each op writes (LIN_UNSEEN: unobserved) */
	int32_t *grp_prev; /* previous op of the same symmetry group, or -1 */
};

static int lin_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static bool lin_observed(const int64_t *seen, size_t n, int64_t v)
{
	return bsearch(&v, seen, n, sizeof(*seen), lin_cmp_i64) != NULL;
}

/*
 * Symmetry reduction for info ops, the ones that blow the search up (each
 * stays pending forever). An info write or CAS whose value no read returns
 * and no CAS compares against leaves the register in a state nothing can
 * tell from another such state, so its value becomes LIN_UNSEEN (merging
 * cache entries). Two such ops of the same group (writes; CAS with the same
 * expected value) then have the same effect, and the one invoked first can
 * stand in for the other anywhere the other could go (fewer ops must
 * precede it). So any linearization can be rewritten to use a group's
 * ops in invoke order: placing op i is only tried once its group
 * predecessor is placed. k interchangeable ops cost k+1 prefixes instead
 * of 2^k subsets. ops are sorted by invoke time.
 */
static int lin_symmetry(struct lin_search *s)
{
	const struct lin_op *ops = s->ops;
	size_t n = s->n, ns = 0;
	int64_t *seen = malloc((n ? n : 1) * sizeof(*seen));

	if (!seen)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (ops[i].kind == LIN_READ)
			seen[ns++] = ops[i].value;
		else if (ops[i].kind == LIN_CAS)
			seen[ns++] = ops[i].expect;
	}
	qsort(seen, ns, sizeof(*seen), lin_cmp_i64);
	for (size_t i = 0; i < n; i++) {
		s->eff[i] = ops[i].value;
		s->grp_prev[i] = -1;
		if (ops[i].outcome != LIN_INFO || ops[i].kind == LIN_READ ||
		    lin_observed(seen, ns, ops[i].value))
			continue;
		s->eff[i] = LIN_UNSEEN;
		for (size_t j = i; j-- > 0; ) {
			if (s->eff[j] != LIN_UNSEEN ||
			    ops[j].kind != ops[i].kind ||
			    (ops[i].kind == LIN_CAS &&
			     ops[j].expect != ops[i].expect))
				continue;
			s->grp_prev[i] = (int32_t)j;
			break;
		}
	}
	free(seen);
	return 0;
}

static void lin_lift(struct lin_search *s, int32_t e)
{
	int32_t m = s->match[e];

	s->next[s->prev[e]] = s->next[e];
	s->prev[s->next[e]] = s->prev[e];
	s->next[s->prev[m]] = s->next[m];
	if (s->next[m] >= 0)
		s->prev[s->next[m]] = s->prev[m];
}

static void lin_unlift(struct lin_search *s, int32_t e)
{
	int32_t m = s->match[e];

	s->next[s->prev[m]] = m;
	if (s->next[m] >= 0)
		s->prev[s->next[m]] = m;
	s->next[s->prev[e]] = e;
	s->prev[s->next[e]] = e;
}

static void lin_report(FILE *f, const struct lin_search *s, uint32_t key,
		       enum lin_verdict v, uint64_t steps)
{
	char buf[256];
	int64_t state = LIN_NIL;
	size_t tail = s->best_len > LIN_REPORT_TAIL ?
		      s->best_len - LIN_REPORT_TAIL : 0;
	bool *in = calloc(s->n ? s->n : 1, sizeof(*in));

	fprintf(f, "key %" PRIu32 ": %s after %" PRIu64 " steps; "
		"longest linearization: %zu of %zu ops\n", key,
		lin_verdict_str(v), steps, s->best_len, s->n);
	for (size_t i = 0; i < s->best_len; i++) {
		const struct lin_op *op = &s->ops[s->best[i]];
		if (in)
			in[s->best[i]] = true;
		if (i >= tail) {
			lin_op_format(op, buf, sizeof(buf));
			if (state == LIN_UNSEEN)
				fprintf(f, "  #%zu %s   (value before: one "
					"nobody read)\n", i, buf);
			else
				fprintf(f, "  #%zu %s   (value before: %" PRId64
					")\n", i, buf, state);
		}
		int64_t nx;
		lin_step(state, op, s->eff[s->best[i]], &nx);
		state = nx;
	}
	if (state == LIN_UNSEEN)
		fprintf(f, "  register after it: a value nobody read\n");
	else
		fprintf(f, "  register after it: %" PRId64 "\n", state);
	if (!in)
		return;
	/* The ops that could come next: every unplaced op invoked before
	 * the earliest unplaced (ok) return. None of them fits. */
	uint64_t min_ret = LIN_T_INF;
	for (size_t i = 0; i < s->n; i++)
		if (!in[i] && s->ops[i].outcome == LIN_OK &&
		    s->ops[i].return_ns < min_ret)
			min_ret = s->ops[i].return_ns;
	fprintf(f, "  none of these fits next:\n");
	for (size_t i = 0; i < s->n; i++) {
		if (in[i] || s->ops[i].invoke_ns > min_ret)
			continue;
		lin_op_format(&s->ops[i], buf, sizeof(buf));
		fprintf(f, "    %s\n", buf);
	}
	free(in);
}

/* Check one key's ops (fail ops and info reads already dropped). */
static int lin_check_key(const struct lin_op *ops, size_t n,
			 const struct lin_params *p, struct lin_key_result *kr)
{
	struct lin_search s = { .ops = ops, .n = n };
	struct lin_cache cache;
	size_t w = (n + 63) / 64;
	size_t ne = 2 * n;
	int rc = -ENOMEM;

	kr->n_ops = n;
	kr->steps = 0;
	kr->n_linearized = 0;
	kr->final_value = LIN_NIL;
	if (n > INT32_MAX / 2 - 1)
		return -EINVAL;
	if (lin_cache_init(&cache, w ? w : 1,
			   p->max_cache ? p->max_cache : LIN_DEFAULT_CACHE))
		return -ENOMEM;
	s.ent = malloc((ne + 1) * sizeof(*s.ent));
	s.next = malloc((ne + 1) * sizeof(*s.next));
	s.prev = malloc((ne + 1) * sizeof(*s.prev));
	s.match = malloc((ne + 1) * sizeof(*s.match));
	s.stack_ent = malloc((n + 1) * sizeof(*s.stack_ent));
	s.stack_state = malloc((n + 1) * sizeof(*s.stack_state));
	s.best = malloc((n + 1) * sizeof(*s.best));
	s.set = calloc(w ? w : 1, sizeof(*s.set));
	s.zob = malloc((n + 1) * sizeof(*s.zob));
	s.eff = malloc((n + 1) * sizeof(*s.eff));
	s.grp_prev = malloc((n + 1) * sizeof(*s.grp_prev));
	if (!s.ent || !s.next || !s.prev || !s.match || !s.stack_ent ||
	    !s.stack_state || !s.best || !s.set || !s.zob || !s.eff ||
	    !s.grp_prev || lin_symmetry(&s))
		goto out;

	size_t remaining_ok = 0;
	for (size_t i = 0; i < n; i++) {
		s.ent[2 * i] = (struct lin_entry){ ops[i].invoke_ns,
						   (uint32_t)i, true };
		s.ent[2 * i + 1] = (struct lin_entry){
			ops[i].outcome == LIN_INFO ? LIN_T_INF :
			ops[i].return_ns, (uint32_t)i, false };
		s.zob[i] = lin_mix((uint64_t)i * 0x2545f4914f6cdd1dull + 1);
		if (ops[i].outcome == LIN_OK)
			remaining_ok++;
	}
	qsort(s.ent, ne, sizeof(*s.ent), lin_entry_cmp);
	{
		int32_t *call_at = malloc((n + 1) * sizeof(*call_at));
		if (!call_at)
			goto out;
		for (size_t i = 0; i < ne; i++)
			if (s.ent[i].call)
				call_at[s.ent[i].op] = (int32_t)i;
		for (size_t i = 0; i < ne; i++) {
			s.match[i] = -1;
			if (!s.ent[i].call)
				s.match[call_at[s.ent[i].op]] = (int32_t)i;
		}
		free(call_at);
	}
	int32_t head = (int32_t)ne;
	for (size_t i = 0; i <= ne; i++) {
		s.next[i] = i + 1 < ne ? (int32_t)(i + 1) : -1;
		s.prev[i] = i == 0 ? head : (int32_t)(i - 1);
	}
	s.next[head] = ne ? 0 : -1;
	s.prev[head] = -1;

	uint64_t max_steps = p->max_steps ? p->max_steps : LIN_DEFAULT_STEPS;
	int64_t state = LIN_NIL;
	uint64_t zh = 0;
	size_t depth = 0;
	int32_t e = s.next[head];
	enum lin_verdict v = LIN_LINEARIZABLE;

	while (remaining_ok > 0) {
		if (++kr->steps > max_steps) {
			v = LIN_UNKNOWN;
			break;
		}
		if (e < 0) {
			/* Only info calls left past the last ok return, and
			 * none placeable: cannot happen (info always fits),
			 * but treat as a dead end. */
			v = LIN_NOT_LINEARIZABLE;
			break;
		}
		if (s.ent[e].call) {
			uint32_t id = s.ent[e].op;
			int32_t gp = s.grp_prev[id];
			int64_t nx;
			if ((gp < 0 || (s.set[(uint32_t)gp / 64] >>
					((uint32_t)gp % 64) & 1)) &&
			    lin_step(state, &ops[id], s.eff[id], &nx)) {
				s.set[id / 64] |= 1ull << (id % 64);
				uint64_t h = zh ^ s.zob[id] ^ lin_mix((uint64_t)nx);
				int c = lin_cache_add(&cache, h, s.set, nx);
				if (c == 0) {
					s.stack_ent[depth] = (uint32_t)e;
					s.stack_state[depth] = state;
					depth++;
					zh ^= s.zob[id];
					state = nx;
					if (ops[id].outcome == LIN_OK)
						remaining_ok--;
					if (depth > s.best_len) {
						for (size_t i = 0; i < depth; i++)
							s.best[i] = s.ent[s.stack_ent[i]].op;
						s.best_len = depth;
					}
					lin_lift(&s, e);
					e = s.next[head];
					continue;
				}
				s.set[id / 64] &= ~(1ull << (id % 64));
				if (c < 0) {
					if (c != -ENOSPC) {
						rc = c;
						goto out;
					}
					v = LIN_UNKNOWN;
					break;
				}
			}
			e = s.next[e];
			continue;
		}
		/* A return entry: its op is not placed yet and must precede
		 * everything after it. Backtrack. */
		if (depth == 0) {
			v = LIN_NOT_LINEARIZABLE;
			break;
		}
		depth--;
		e = (int32_t)s.stack_ent[depth];
		uint32_t id = s.ent[e].op;
		state = s.stack_state[depth];
		zh ^= s.zob[id];
		s.set[id / 64] &= ~(1ull << (id % 64));
		if (ops[id].outcome == LIN_OK)
			remaining_ok++;
		lin_unlift(&s, e);
		e = s.next[e];
	}
	kr->verdict = v;
	kr->n_linearized = v == LIN_LINEARIZABLE ? depth : s.best_len;
	if (v == LIN_LINEARIZABLE)
		kr->final_value = state;
	else if (p->report)
		lin_report(p->report, &s, kr->key, v, kr->steps);
	rc = 0;
out:
	lin_cache_free(&cache);
	free(s.ent);
	free(s.next);
	free(s.prev);
	free(s.match);
	free(s.stack_ent);
	free(s.stack_state);
	free(s.best);
	free(s.set);
	free(s.zob);
	free(s.eff);
	free(s.grp_prev);
	return rc;
}

static int lin_op_cmp_key(const void *a, const void *b)
{
	const struct lin_op *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->invoke_ns != y->invoke_ns)
		return x->invoke_ns < y->invoke_ns ? -1 : 1;
	return 0;
}

static bool lin_op_valid(const struct lin_op *op)
{
	if (op->kind != LIN_READ && op->kind != LIN_WRITE &&
	    op->kind != LIN_CAS)
		return false;
	if (op->outcome != LIN_OK && op->outcome != LIN_FAIL &&
	    op->outcome != LIN_INFO)
		return false;
	if (op->outcome != LIN_INFO && op->return_ns < op->invoke_ns)
		return false;
	if (op->kind != LIN_READ && op->value < 0)
		return false;
	return true;
}

int lin_check(const struct lin_op *ops, size_t n, const struct lin_params *p,
	      struct lin_result *res)
{
	struct lin_params dp = { 0 };
	struct lin_op *v;
	size_t m = 0;
	int rc = 0;

	memset(res, 0, sizeof(*res));
	if (!p)
		p = &dp;
	v = malloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!lin_op_valid(&ops[i])) {
			free(v);
			return -EINVAL;
		}
		/* fail: did not happen. info read: could have seen anything
		 * and changed nothing. Neither constrains the search. */
		if (ops[i].outcome == LIN_FAIL ||
		    (ops[i].outcome == LIN_INFO && ops[i].kind == LIN_READ))
			continue;
		v[m++] = ops[i];
	}
	qsort(v, m, sizeof(*v), lin_op_cmp_key);
	size_t nk = 0;
	for (size_t i = 0; i < m; i++)
		if (i == 0 || v[i].key != v[i - 1].key)
			nk++;
	res->keys = calloc(nk ? nk : 1, sizeof(*res->keys));
	if (!res->keys) {
		free(v);
		return -ENOMEM;
	}
	res->verdict = LIN_LINEARIZABLE;
	res->n_ops = m;
	for (size_t i = 0; i < m; ) {
		size_t j = i;
		while (j < m && v[j].key == v[i].key)
			j++;
		struct lin_key_result *kr = &res->keys[res->n_keys++];
		kr->key = v[i].key;
		rc = lin_check_key(v + i, j - i, p, kr);
		if (rc)
			break;
		if (kr->verdict == LIN_NOT_LINEARIZABLE) {
			res->n_bad++;
			res->verdict = LIN_NOT_LINEARIZABLE;
		} else if (kr->verdict == LIN_UNKNOWN) {
			res->n_unknown++;
			if (res->verdict == LIN_LINEARIZABLE)
				res->verdict = LIN_UNKNOWN;
		}
		i = j;
	}
	free(v);
	if (rc)
		lin_result_free(res);
	return rc;
}

void lin_result_free(struct lin_result *res)
{
	free(res->keys);
	memset(res, 0, sizeof(*res));
}

/* ------------------------------------------------------------ files */

int lin_history_write(FILE *f, const struct lin_op *ops, size_t n)
{
	fprintf(f, "# client key kind outcome value expect cas_ok invoke_ns "
		"return_ns\n");
	for (size_t i = 0; i < n; i++) {
		const struct lin_op *o = &ops[i];
		char ret[24];
		if (o->outcome == LIN_INFO)
			snprintf(ret, sizeof(ret), "-");
		else
			snprintf(ret, sizeof(ret), "%" PRIu64, o->return_ns);
		fprintf(f, "%" PRIu32 " %" PRIu32 " %s %s %" PRId64 " %" PRId64
			" %d %" PRIu64 " %s\n", o->client, o->key,
			lin_kind_str(o->kind), lin_outcome_str(o->outcome),
			o->value, o->expect, o->cas_ok ? 1 : 0, o->invoke_ns,
			ret);
	}
	return ferror(f) ? -EIO : 0;
}

static bool lin_parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = x;
	return true;
}

static bool lin_parse_i64(const char *s, int64_t *out)
{
	char *end;

	if (!*s)
		return false;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = x;
	return true;
}

static int lin_parse_line(char *line, struct lin_op *op, const char **field)
{
	char *tok[10];
	size_t nt = 0;
	char *save = NULL;
	uint64_t u;

	for (char *t = strtok_r(line, " \t\r", &save); t;
	     t = strtok_r(NULL, " \t\r", &save)) {
		if (nt == 9) {
			*field = "trailing field";
			return -EINVAL;
		}
		tok[nt++] = t;
	}
	if (nt != 9) {
		*field = "field count (want 9)";
		return -EINVAL;
	}
	memset(op, 0, sizeof(*op));
	*field = "client";
	if (!lin_parse_u64(tok[0], &u) || u > UINT32_MAX)
		return -EINVAL;
	op->client = (uint32_t)u;
	*field = "key";
	if (!lin_parse_u64(tok[1], &u) || u > UINT32_MAX)
		return -EINVAL;
	op->key = (uint32_t)u;
	*field = "kind (r, w or cas)";
	if (!strcmp(tok[2], "r"))
		op->kind = LIN_READ;
	else if (!strcmp(tok[2], "w"))
		op->kind = LIN_WRITE;
	else if (!strcmp(tok[2], "cas"))
		op->kind = LIN_CAS;
	else
		return -EINVAL;
	*field = "outcome (ok, fail or info)";
	if (!strcmp(tok[3], "ok"))
		op->outcome = LIN_OK;
	else if (!strcmp(tok[3], "fail"))
		op->outcome = LIN_FAIL;
	else if (!strcmp(tok[3], "info"))
		op->outcome = LIN_INFO;
	else
		return -EINVAL;
	*field = "value";
	if (!lin_parse_i64(tok[4], &op->value))
		return -EINVAL;
	*field = "expect";
	if (!lin_parse_i64(tok[5], &op->expect))
		return -EINVAL;
	*field = "cas_ok (0 or 1)";
	if (strcmp(tok[6], "0") && strcmp(tok[6], "1"))
		return -EINVAL;
	op->cas_ok = tok[6][0] == '1';
	*field = "invoke_ns";
	if (!lin_parse_u64(tok[7], &op->invoke_ns))
		return -EINVAL;
	*field = "return_ns";
	if (!strcmp(tok[8], "-")) {
		if (op->outcome != LIN_INFO)
			return -EINVAL;
		op->return_ns = LIN_T_INF;
	} else if (!lin_parse_u64(tok[8], &op->return_ns) ||
		   op->return_ns < op->invoke_ns) {
		return -EINVAL;
	}
	*field = "value (negative write)";
	if (!lin_op_valid(op))
		return -EINVAL;
	return 0;
}

int lin_history_parse(const char *text, size_t len, struct lin_op **ops,
		      size_t *n, char *errmsg, size_t errlen)
{
	size_t cap = 0, cnt = 0, lineno = 0;
	struct lin_op *v = NULL;
	char line[512];

	*ops = NULL;
	*n = 0;
	for (size_t i = 0; i < len; ) {
		size_t j = i;
		while (j < len && text[j] != '\n')
			j++;
		lineno++;
		size_t ll = j - i;
		const char *field = "line";
		if (ll >= sizeof(line) || memchr(text + i, '\0', ll)) {
			snprintf(errmsg, errlen, "line %zu: too long or "
				 "contains NUL", lineno);
			free(v);
			return -EINVAL;
		}
		memcpy(line, text + i, ll);
		line[ll] = '\0';
		i = j + 1;
		char *s = line;
		while (*s == ' ' || *s == '\t' || *s == '\r')
			s++;
		if (*s == '#' || *s == '\0')
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 256;
			struct lin_op *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		if (lin_parse_line(s, &v[cnt], &field)) {
			snprintf(errmsg, errlen, "line %zu: bad %s", lineno,
				 field);
			free(v);
			return -EINVAL;
		}
		cnt++;
	}
	*ops = v;
	*n = cnt;
	return 0;
}
