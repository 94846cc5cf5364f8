/*
 * lin_driver: N concurrent clients do random reads, writes and CAS on a
 * few keys of an etcd-gateway-shaped API (sluice masters or etcd 3.4),
 * record the history, then check it:
 *   1. linearizability (lin_check.h), with a final linearizable read of
 *      every key from every endpoint appended to the history;
 *   2. every endpoint's own (serializable) copy of every key agrees once
 *      the cluster has healed;
 *   3. no acknowledged write lost: the final value of a key was written by
 *      an op that did not complete before any acknowledged write on that
 *      key began (values are unique, so a write that finished before an
 *      acked write started must have been overwritten by it or later).
 *
 * Keys rotate (Jepsen's "independent" keys): after keys*ops_per_key ops
 * the clients move to fresh keys, so each key's sub-history stays short and
 * the info ops a fault leaves behind burden only a few keys' searches.
 *
 * A request goes to one endpoint; a reply that is not a success moves that
 * client to the next endpoint for its next op (no retry of the same op: a
 * retried write of an unknown first attempt could apply twice).
 *
 * Exit: 0 pass; 1 not linearizable, lost write or replicas disagree (the
 * offending sub-history is printed); 2 search budget exceeded; 3 harness
 * or usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kvc.h"
#include "lin_check.h"

#define DRV_LAST_SLOTS 4096
#define DRV_MAX_CLIENTS 256
#define DRV_GARBAGE ((int64_t)-2) /* a read of a value we never wrote */

struct drv_cfg {
	struct kvc_params kp;
	unsigned clients;
	double duration_s;
	unsigned keys;
	unsigned ops_per_key;
	char prefix[128];
	const char *history;
	const char *check_only;
	unsigned final_timeout_s;
	uint64_t budget;
	unsigned seed;
	bool serializable; /* reads from the member's local store: stale
			    * reads possible, a deliberate negative control */
};

struct drv_client {
	pthread_t th;
	unsigned id;
	const struct drv_cfg *cfg;
	struct kvc *c;
	struct lin_op *ops;
	size_t n, cap;
	uint64_t rng;
	unsigned long rejected;
	int oom;
};

static atomic_uint_fast64_t drv_op_counter;
static atomic_int_fast64_t drv_value_counter;
/* Per key slot: the last two values ok ops saw (CAS expectations). */
static atomic_int_fast64_t drv_last[DRV_LAST_SLOTS];
static atomic_int_fast64_t drv_prev[DRV_LAST_SLOTS];

static void drv_saw(atomic_int_fast64_t *last, atomic_int_fast64_t *prev,
		    int64_t v)
{
	int64_t old = atomic_exchange(last, v);

	if (old != v)
		atomic_store(prev, old);
}
static atomic_bool drv_stop;
static atomic_uint drv_err_printed;

static uint64_t drv_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t drv_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void drv_key_name(const struct drv_cfg *cfg, uint32_t key, char *buf,
			 size_t len)
{
	snprintf(buf, len, "%s%08" PRIu32, cfg->prefix, key);
}

/* A value read back: our decimal values, anything else is garbage. */
static int64_t drv_parse_value(const struct kvc_reply *r)
{
	char *end;

	if (!r->found)
		return LIN_NIL;
	if (r->value_len == 0 || r->value[0] < '0' || r->value[0] > '9')
		return DRV_GARBAGE;
	errno = 0;
	long long v = strtoll(r->value, &end, 10);
	return errno || *end ? DRV_GARBAGE : (int64_t)v;
}

static int drv_record(struct drv_client *cl, const struct lin_op *op)
{
	if (cl->n == cl->cap) {
		size_t cap = cl->cap ? cl->cap * 2 : 4096;
		struct lin_op *v = realloc(cl->ops, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		cl->ops = v;
		cl->cap = cap;
	}
	cl->ops[cl->n++] = *op;
	return 0;
}

static void drv_log_err(const struct drv_client *cl, const char *what,
			const struct kvc_reply *r)
{
	/* The first few only: a partitioned endpoint can fail fast. */
	if (atomic_fetch_add(&drv_err_printed, 1) < 20)
		fprintf(stderr, "lin_driver: client %u %s: %s\n", cl->id, what,
			r->err);
}

static void *drv_client_main(void *arg)
{
	struct drv_client *cl = arg;
	const struct drv_cfg *cfg = cl->cfg;
	uint64_t window = (uint64_t)cfg->keys * cfg->ops_per_key;
	struct kvc_reply *r = malloc(sizeof(*r));

	if (!r) {
		cl->oom = 1;
		return NULL;
	}
	while (!atomic_load(&drv_stop)) {
		uint64_t g = atomic_fetch_add(&drv_op_counter, 1);
		uint32_t key = (uint32_t)((g / window) * cfg->keys +
					  drv_rand(&cl->rng) % cfg->keys);
		char kname[160], val[32], exp[32];
		struct lin_op op = { .client = cl->id, .key = key };
		unsigned dice = (unsigned)(drv_rand(&cl->rng) % 10);
		atomic_int_fast64_t *last = &drv_last[key % DRV_LAST_SLOTS];
		atomic_int_fast64_t *prev = &drv_prev[key % DRV_LAST_SLOTS];

		drv_key_name(cfg, key, kname, sizeof(kname));
		op.kind = dice < 4 ? LIN_READ : dice < 7 ? LIN_WRITE : LIN_CAS;
		if (op.kind != LIN_READ) {
			op.value = atomic_fetch_add(&drv_value_counter, 1);
			snprintf(val, sizeof(val), "%" PRId64, op.value);
		}
		if (op.kind == LIN_CAS) {
			/* Mostly the latest value seen (likely to swap),
			 * sometimes the one before (likely refused); only
			 * values some ok op saw, so a value only an info op
			 * wrote stays unread and the checker's symmetry
			 * reduction applies to it. 0 is never written. */
			int64_t e = drv_rand(&cl->rng) % 4 ?
				    atomic_load(last) : atomic_load(prev);
			op.expect = e > 0 ? e : 0;
			snprintf(exp, sizeof(exp), "%" PRId64, op.expect);
		}
		op.invoke_ns = drv_now();
		switch (op.kind) {
		case LIN_READ:
			kvc_get(cl->c, kname, cfg->serializable, r);
			break;
		case LIN_WRITE:
			kvc_put(cl->c, kname, val, strlen(val), r);
			break;
		case LIN_CAS:
			kvc_cas(cl->c, kname, exp, val, strlen(val), r);
			break;
		}
		op.return_ns = drv_now();
		switch (r->status) {
		case KVC_OK:
			op.outcome = LIN_OK;
			if (op.kind == LIN_READ) {
				op.value = drv_parse_value(r);
				if (op.value > 0)
					drv_saw(last, prev, op.value);
			} else if (op.kind == LIN_WRITE) {
				drv_saw(last, prev, op.value);
			} else {
				op.cas_ok = r->succeeded;
				if (op.cas_ok)
					drv_saw(last, prev, op.value);
			}
			break;
		case KVC_NOT_SENT:
			op.outcome = LIN_FAIL;
			break;
		case KVC_REJECTED:
			cl->rejected++;
			drv_log_err(cl, "rejected", r);
			op.outcome = LIN_FAIL;
			break;
		case KVC_UNKNOWN:
			drv_log_err(cl, "unknown outcome", r);
			op.outcome = LIN_INFO;
			op.return_ns = LIN_T_INF;
			break;
		}
		if (drv_record(cl, &op)) {
			cl->oom = 1;
			break;
		}
		if (r->status != KVC_OK) {
			kvc_next_endpoint(cl->c);
			/* Do not spin on an endpoint that refuses at once. */
			if (r->status == KVC_NOT_SENT)
				usleep(20000);
		}
	}
	free(r);
	return NULL;
}

/* ------------------------------------------------------ final reads */

struct drv_final {
	const struct drv_cfg *cfg;
	int64_t *vals; /* per key index, LIN_NIL if absent */
	uint32_t n_keys;
	unsigned long garbage;
};

static void drv_final_fn(void *arg, const char *key, const char *val,
			 size_t len)
{
	struct drv_final *f = arg;
	size_t pl = strlen(f->cfg->prefix);
	char *end;
	struct kvc_reply r = { .found = true, .value_len = len };

	if (strncmp(key, f->cfg->prefix, pl))
		return;
	errno = 0;
	unsigned long k = strtoul(key + pl, &end, 10);
	if (errno || *end || k >= f->n_keys) {
		f->garbage++;
		return;
	}
	snprintf(r.value, sizeof(r.value), "%.*s", (int)len, val);
	f->vals[k] = drv_parse_value(&r);
}

/* One range over the prefix from endpoint ep, retried until it answers or
 * the deadline passes. Fills f->vals; t0 and t1 bracket the good request. */
static int drv_final_read(struct kvc *c, size_t ep, bool serializable,
			  struct drv_final *f, uint64_t deadline,
			  uint64_t *t0, uint64_t *t1)
{
	struct kvc_reply *r = malloc(sizeof(*r));

	if (!r)
		return -ENOMEM;
	kvc_set_endpoint(c, ep);
	for (;;) {
		for (uint32_t k = 0; k < f->n_keys; k++)
			f->vals[k] = LIN_NIL;
		*t0 = drv_now();
		kvc_range_prefix(c, f->cfg->prefix, serializable, drv_final_fn,
				 f, r);
		*t1 = drv_now();
		if (r->status == KVC_OK)
			break;
		if (drv_now() > deadline) {
			fprintf(stderr, "lin_driver: final read from %s: %s\n",
				f->cfg->kp.endpoints[ep], r->err);
			free(r);
			return -ETIMEDOUT;
		}
		usleep(200000);
	}
	free(r);
	return 0;
}

/* ------------------------------------------------------ lost writes */

/* Acked write lost? See the file comment, check 3. Returns the count of
 * problems printed. */
static size_t drv_lost_writes(const struct lin_op *ops, size_t n,
			      const int64_t *final, uint32_t n_keys,
			      int64_t max_value)
{
	size_t *writer = malloc((size_t)(max_value + 1) * sizeof(*writer));
	size_t bad = 0;
	char a[256], b[256];

	if (!writer) {
		fprintf(stderr, "lin_driver: out of memory (lost-write check)\n");
		return 1;
	}
	for (int64_t v = 0; v <= max_value; v++)
		writer[v] = SIZE_MAX;
	/* Failed ops too, so the report can name one that did apply. */
	for (size_t i = 0; i < n; i++)
		if (ops[i].kind != LIN_READ && ops[i].value >= 0 &&
		    ops[i].value <= max_value)
			writer[ops[i].value] = i;
	for (size_t i = 0; i < n; i++) {
		const struct lin_op *w = &ops[i];
		bool acked = w->outcome == LIN_OK &&
			     (w->kind == LIN_WRITE ||
			      (w->kind == LIN_CAS && w->cas_ok));
		if (!acked || w->key >= n_keys)
			continue;
		int64_t f = final[w->key];
		lin_op_format(w, a, sizeof(a));
		if (f == LIN_NIL || f < 0 || f > max_value ||
		    writer[f] == SIZE_MAX) {
			if (bad++ < 20)
				fprintf(stderr, "LOST WRITE: %s; final value "
					"%" PRId64 " was never written\n", a, f);
			continue;
		}
		const struct lin_op *x = &ops[writer[f]];
		if (x->outcome == LIN_FAIL) {
			lin_op_format(x, b, sizeof(b));
			if (bad++ < 20)
				fprintf(stderr, "LOST WRITE: %s; the final value "
					"comes from %s, recorded as failed: a "
					"reply said not applied and it was\n",
					a, b);
			continue;
		}
		if (x->key != w->key) {
			if (bad++ < 20)
				fprintf(stderr, "LOST WRITE: %s; final value "
					"%" PRId64 " belongs to key %" PRIu32
					"\n", a, f, x->key);
			continue;
		}
		if (x != w && x->outcome == LIN_OK &&
		    x->return_ns < w->invoke_ns) {
			lin_op_format(x, b, sizeof(b));
			if (bad++ < 20)
				fprintf(stderr, "LOST WRITE: %s; the final "
					"value comes from an earlier write %s\n",
					a, b);
		}
	}
	free(writer);
	return bad;
}

/* ------------------------------------------------------ main */

static void drv_usage(FILE *f)
{
	fprintf(f,
"usage: lin_driver [options]\n"
"  Drive a sluice master group or etcd 3.4 (the same /v3/kv JSON API) with\n"
"  concurrent reads, writes and CAS; check linearizability and that no\n"
"  acknowledged write is lost. Details: docs/lin.md\n"
"  --endpoints URL,URL,...  https://host:port of every member\n"
"  --config FILE            client config (admin.conf): servers, ca, cert, key\n"
"  --cacert F --cert F --key F   TLS material (client certificate auth)\n"
"  --clients N              concurrent clients (threads), default 8\n"
"  --duration S             seconds of load, default 30\n"
"  --keys K                 keys in use at a time, default 4\n"
"  --ops-per-key M          ops before a key retires, default 200\n"
"  --prefix P               key prefix, default lin/<pid>/\n"
"  --timeout-ms T           per request (then the op is unknown), default 2000\n"
"  --final-timeout S        wait for every endpoint at the end, default 60\n"
"  --budget STEPS           search steps per key, default 50000000\n"
"  --history FILE           write the history (one op per line)\n"
"  --check FILE             only check a history file written before\n"
"  --seed N                 random seed, default the pid\n"
"  --serializable-reads     read with serializable=true (a member's local,\n"
"                           possibly stale copy): a negative control that\n"
"                           should fail under partitions\n"
"  --help\n"
"exit: 0 pass, 1 violation, 2 search budget exceeded, 3 harness error\n");
}

static int drv_parse_args(int argc, char **argv, struct drv_cfg *cfg)
{
	static const struct option opts[] = {
		KVC_OPTIONS,
		{ "clients", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "keys", required_argument, NULL, 'k' },
		{ "ops-per-key", required_argument, NULL, 'm' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "final-timeout", required_argument, NULL, 'F' },
		{ "budget", required_argument, NULL, 'b' },
		{ "history", required_argument, NULL, 'H' },
		{ "check", required_argument, NULL, 'X' },
		{ "seed", required_argument, NULL, 's' },
		{ "serializable-reads", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	double v;
	int o;

	cfg->clients = 8;
	cfg->duration_s = 30;
	cfg->keys = 4;
	cfg->ops_per_key = 200;
	cfg->final_timeout_s = 60;
	cfg->seed = (unsigned)getpid();
	snprintf(cfg->prefix, sizeof(cfg->prefix), "lin/%d/", (int)getpid());
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int k = kvc_opt("lin_driver", o, optarg, &cfg->kp);
		if (k < 0)
			return -EINVAL;
		if (k > 0)
			continue;
		switch (o) {
		case 'c':
			if (kvc_num("lin_driver", "--clients", optarg, 1, DRV_MAX_CLIENTS, &v))
				return -EINVAL;
			cfg->clients = (unsigned)v;
			break;
		case 'd':
			if (kvc_num("lin_driver", "--duration", optarg, 0.1, 86400, &v))
				return -EINVAL;
			cfg->duration_s = v;
			break;
		case 'k':
			if (kvc_num("lin_driver", "--keys", optarg, 1, 1000, &v))
				return -EINVAL;
			cfg->keys = (unsigned)v;
			break;
		case 'm':
			if (kvc_num("lin_driver", "--ops-per-key", optarg, 1, 1e6, &v))
				return -EINVAL;
			cfg->ops_per_key = (unsigned)v;
			break;
		case 'p':
			if (strlen(optarg) == 0 ||
			    strlen(optarg) >= sizeof(cfg->prefix)) {
				fprintf(stderr, "lin_driver: --prefix: want 1..%zu"
					" bytes\n", sizeof(cfg->prefix) - 1);
				return -EINVAL;
			}
			strcpy(cfg->prefix, optarg);
			break;
		case 'F':
			if (kvc_num("lin_driver", "--final-timeout", optarg, 1, 3600, &v))
				return -EINVAL;
			cfg->final_timeout_s = (unsigned)v;
			break;
		case 'b':
			if (kvc_num("lin_driver", "--budget", optarg, 1, 1e12, &v))
				return -EINVAL;
			cfg->budget = (uint64_t)v;
			break;
		case 'H':
			cfg->history = optarg;
			break;
		case 'X':
			cfg->check_only = optarg;
			break;
		case 's':
			if (kvc_num("lin_driver", "--seed", optarg, 0, 4294967295.0, &v))
				return -EINVAL;
			cfg->seed = (unsigned)v;
			break;
		case 'S':
			cfg->serializable = true;
			break;
		case 'h':
			drv_usage(stdout);
			exit(0);
		default:
			drv_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "lin_driver: unexpected argument '%s'\n",
			argv[optind]);
		return -EINVAL;
	}
	return cfg->check_only ? 0 : kvc_opt_done("lin_driver", &cfg->kp);
}

/* Run the checker and print its verdict. Returns the exit code part. */
static int drv_check(const struct drv_cfg *cfg, const struct lin_op *ops,
		     size_t n)
{
	struct lin_params p = { .max_steps = cfg->budget, .report = stderr };
	struct lin_result res;
	uint64_t t0 = drv_now();

	if (lin_check(ops, n, &p, &res)) {
		fprintf(stderr, "lin_driver: checker failed (bad op or out "
			"of memory)\n");
		return 3;
	}
	uint64_t steps = 0;
	for (size_t i = 0; i < res.n_keys; i++)
		steps += res.keys[i].steps;
	printf("linearizability: %s (%zu ops on %zu keys checked, %zu bad, "
	       "%zu unknown; %" PRIu64 " search steps, %.2f s)\n",
	       lin_verdict_str(res.verdict), res.n_ops, res.n_keys, res.n_bad,
	       res.n_unknown, steps, (double)(drv_now() - t0) / 1e9);
	int rc = res.verdict == LIN_LINEARIZABLE ? 0 :
		 res.verdict == LIN_UNKNOWN ? 2 : 1;
	lin_result_free(&res);
	return rc;
}

static int drv_check_file(const struct drv_cfg *cfg)
{
	FILE *f = fopen(cfg->check_only, "r");
	char *text = NULL, err[256];
	size_t len = 0;
	struct lin_op *ops;
	size_t n;

	if (!f) {
		fprintf(stderr, "lin_driver: --check %s: %s\n",
			cfg->check_only, strerror(errno));
		return 3;
	}
	FILE *m = open_memstream(&text, &len);
	char buf[65536];
	size_t got;
	while (m && (got = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, got, m);
	fclose(f);
	if (!m || fclose(m)) {
		fprintf(stderr, "lin_driver: out of memory\n");
		return 3;
	}
	if (lin_history_parse(text, len, &ops, &n, err, sizeof(err))) {
		fprintf(stderr, "lin_driver: %s: %s\n", cfg->check_only, err);
		free(text);
		return 3;
	}
	free(text);
	int rc = drv_check(cfg, ops, n);
	free(ops);
	return rc;
}

int main(int argc, char **argv)
{
	static struct drv_cfg cfg;
	static struct drv_client cls[DRV_MAX_CLIENTS];
	int rc = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (drv_parse_args(argc, argv, &cfg))
		return 3;
	if (cfg.check_only)
		return drv_check_file(&cfg);
	if (kvc_global_init()) {
		fprintf(stderr, "lin_driver: libcurl init failed\n");
		return 3;
	}
	atomic_store(&drv_value_counter, 1);
	printf("lin_driver: %u clients, %.0f s, %u keys x %u ops, prefix %s, "
	       "%zu endpoints\n", cfg.clients, cfg.duration_s, cfg.keys,
	       cfg.ops_per_key, cfg.prefix, cfg.kp.n_endpoints);
	for (unsigned i = 0; i < cfg.clients; i++) {
		cls[i].id = i;
		cls[i].cfg = &cfg;
		cls[i].rng = 0x9e3779b97f4a7c15ull * (cfg.seed + i + 1) | 1;
		/* Spread clients over the members so followers forward. */
		cls[i].c = kvc_create(&cfg.kp, i);
		if (!cls[i].c) {
			fprintf(stderr, "lin_driver: client %u: libcurl setup "
				"failed\n", i);
			return 3;
		}
	}
	uint64_t t_start = drv_now();
	unsigned started = 0;
	for (; started < cfg.clients; started++)
		if (pthread_create(&cls[started].th, NULL, drv_client_main,
				   &cls[started])) {
			fprintf(stderr, "lin_driver: pthread_create failed\n");
			atomic_store(&drv_stop, true);
			rc = 3;
			break;
		}
	while (!rc && drv_now() - t_start < (uint64_t)(cfg.duration_s * 1e9))
		usleep(100000);
	atomic_store(&drv_stop, true);
	for (unsigned i = 0; i < started; i++)
		pthread_join(cls[i].th, NULL);
	if (rc)
		return rc;

	/* Merge. */
	size_t n = 0, cap = 0;
	unsigned long rejected = 0;
	for (unsigned i = 0; i < cfg.clients; i++) {
		cap += cls[i].n;
		rejected += cls[i].rejected;
		if (cls[i].oom) {
			fprintf(stderr, "lin_driver: out of memory\n");
			return 3;
		}
	}
	uint64_t window = (uint64_t)cfg.keys * cfg.ops_per_key;
	uint32_t n_keys = (uint32_t)((atomic_load(&drv_op_counter) / window + 1) *
				     cfg.keys);
	cap += (size_t)n_keys * (cfg.kp.n_endpoints + 1);
	struct lin_op *ops = malloc(cap * sizeof(*ops));
	int64_t *vals = malloc(n_keys * sizeof(*vals));
	int64_t *lin_vals = malloc(n_keys * sizeof(*lin_vals));
	if (!ops || !vals || !lin_vals) {
		fprintf(stderr, "lin_driver: out of memory\n");
		return 3;
	}
	unsigned long cnt[4][4] = { { 0 } };
	for (unsigned i = 0; i < cfg.clients; i++) {
		for (size_t j = 0; j < cls[i].n; j++) {
			ops[n++] = cls[i].ops[j];
			cnt[cls[i].ops[j].kind][cls[i].ops[j].outcome]++;
		}
		free(cls[i].ops);
	}
	printf("load: %zu ops in %.1f s (%.0f ops/s); read ok/fail/info "
	       "%lu/%lu/%lu, write %lu/%lu/%lu, cas %lu/%lu/%lu; %lu rejected\n",
	       n, cfg.duration_s, (double)n / cfg.duration_s,
	       cnt[LIN_READ][LIN_OK], cnt[LIN_READ][LIN_FAIL],
	       cnt[LIN_READ][LIN_INFO], cnt[LIN_WRITE][LIN_OK],
	       cnt[LIN_WRITE][LIN_FAIL], cnt[LIN_WRITE][LIN_INFO],
	       cnt[LIN_CAS][LIN_OK], cnt[LIN_CAS][LIN_FAIL],
	       cnt[LIN_CAS][LIN_INFO], rejected);
	if (cnt[LIN_WRITE][LIN_OK] == 0 || cnt[LIN_READ][LIN_OK] == 0) {
		fprintf(stderr, "lin_driver: no read or no write succeeded: "
			"this run proves nothing\n");
		rc = 3;
	}

	/* Final reads: linearizable from every endpoint (into the history),
	 * then every endpoint's own copy must converge to the same values. */
	struct drv_final fin = { .cfg = &cfg, .vals = vals, .n_keys = n_keys };
	uint64_t deadline = drv_now() + cfg.final_timeout_s * 1000000000ull;
	size_t disagree = 0;
	for (size_t ep = 0; ep < cfg.kp.n_endpoints && rc != 3; ep++) {
		uint64_t t0, t1;
		if (drv_final_read(cls[0].c, ep, false, &fin, deadline, &t0,
				   &t1)) {
			rc = 3;
			break;
		}
		for (uint32_t k = 0; k < n_keys; k++) {
			ops[n++] = (struct lin_op){ .client = DRV_MAX_CLIENTS +
						    (uint32_t)ep, .key = k,
						    .kind = LIN_READ,
						    .outcome = LIN_OK,
						    .value = vals[k],
						    .invoke_ns = t0,
						    .return_ns = t1 };
			if (ep == 0)
				lin_vals[k] = vals[k];
		}
	}
	for (size_t ep = 0; ep < cfg.kp.n_endpoints && rc != 3; ep++) {
		uint64_t t0, t1;
		uint32_t k = 0;
		/* A follower may still be applying: retry until equal. */
		while (!drv_final_read(cls[0].c, ep, true, &fin, deadline,
				       &t0, &t1)) {
			for (k = 0; k < n_keys && vals[k] == lin_vals[k]; k++)
				;
			if (k == n_keys || drv_now() > deadline)
				break;
			usleep(200000);
		}
		if (k < n_keys) {
			disagree++;
			fprintf(stderr, "REPLICAS DISAGREE: %s has key %" PRIu32
				" = %" PRId64 ", linearizable read gave %"
				PRId64 "\n", cfg.kp.endpoints[ep], k, vals[k],
				lin_vals[k]);
		}
	}
	if (fin.garbage)
		fprintf(stderr, "lin_driver: %lu keys under the prefix that we "
			"never wrote\n", fin.garbage);
	for (unsigned i = 0; i < cfg.clients; i++)
		kvc_free(cls[i].c);

	if (cfg.history) {
		FILE *f = fopen(cfg.history, "w");
		if (!f || lin_history_write(f, ops, n) || fclose(f)) {
			fprintf(stderr, "lin_driver: --history %s: %s\n",
				cfg.history, strerror(errno));
			rc = 3;
		} else {
			printf("history: %zu ops in %s\n", n, cfg.history);
		}
	}
	if (rc == 3) {
		free(ops);
		return 3;
	}
	int lin_rc = drv_check(&cfg, ops, n);
	size_t lost = drv_lost_writes(ops, n, lin_vals, n_keys,
				      atomic_load(&drv_value_counter));
	printf("acknowledged writes lost: %zu; replicas disagreeing: %zu\n",
	       lost, disagree);
	free(ops);
	free(vals);
	free(lin_vals);
	if (lin_rc == 1 || lost || disagree || fin.garbage)
		return 1;
	return lin_rc;
}
