/*
 * Model check of the MVCC core: a seeded random mix of puts, deletes
 * (single key and ranges), compare-and-swap txns and compactions is applied
 * to the store and to a deliberately naive reference (a flat list of every
 * write ever made). After every step, a full range at a random readable
 * revision must return exactly what the reference says: same keys, values,
 * create/mod revisions and versions, and the same store revision.
 */
#include "store_test_util.h"

#include <stdio.h>

#define MKEYS 8
#define MSTEPS 2000

struct mrec {
	int64_t rev;
	int key;
	bool del;
	char val[16];
	int64_t create, version;
};

static struct mrec hist[4 * MSTEPS];
static size_t nhist;
static int64_t mrev, mcompact;
static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static const char *kname(int k)
{
	static char names[MKEYS][4];
	snprintf(names[k], sizeof(names[k]), "k%d", k);
	return names[k];
}

/* Latest live record of key at rev, or NULL. */
static const struct mrec *m_live(int key, int64_t rev)
{
	const struct mrec *last = NULL;
	for (size_t i = 0; i < nhist; i++)
		if (hist[i].key == key && hist[i].rev <= rev)
			last = &hist[i];
	return last && !last->del ? last : NULL;
}

static void m_put(int key, const char *v, int64_t rev)
{
	const struct mrec *p = m_live(key, rev - 1);
	struct mrec *r = &hist[nhist++];
	memset(r, 0, sizeof(*r));
	r->rev = rev;
	r->key = key;
	snprintf(r->val, sizeof(r->val), "%s", v);
	r->create = p ? p->create : rev;
	r->version = p ? p->version + 1 : 1;
}

static void m_del(int key, int64_t rev)
{
	struct mrec *r = &hist[nhist++];
	memset(r, 0, sizeof(*r));
	r->rev = rev;
	r->key = key;
	r->del = true;
}

static void check_at(struct store *s, int64_t rev)
{
	struct store_op_result r;
	assert_int_equal(tu_range(s, "k", "l", rev, &r), STORE_OK);
	size_t j = 0;
	for (int k = 0; k < MKEYS; k++) {
		const struct mrec *m = m_live(k, rev);
		if (m == NULL)
			continue;
		if (j >= r.n_kvs)
			fail_msg("rev %lld: store lacks %s", (long long)rev,
				 kname(k));
		const struct store_kv *kv = &r.kvs[j++];
		assert_int_equal(kv->key_len, strlen(kname(k)));
		assert_memory_equal(kv->key, kname(k), kv->key_len);
		assert_int_equal(kv->value_len, strlen(m->val));
		assert_memory_equal(kv->value, m->val, kv->value_len);
		assert_int_equal(kv->create_revision, m->create);
		assert_int_equal(kv->mod_revision, m->rev);
		assert_int_equal(kv->version, m->version);
	}
	assert_int_equal(j, r.n_kvs);
	assert_int_equal(r.count, (int64_t)j);
	store_op_result_clear(&r);
}

static void test_model(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 4; seed++) {
		struct store *s = store_create(NULL);
		rng = seed * 88172645463325252ull;
		nhist = 0;
		mrev = 1;
		mcompact = 0;
		for (int step = 0; step < MSTEPS; step++) {
			char v[16];
			snprintf(v, sizeof(v), "v%d", step);
			uint32_t t = rnd(100);
			if (t < 45) {
				int k = (int)rnd(MKEYS);
				assert_int_equal(tu_put(s, kname(k), v, 0),
						 STORE_OK);
				m_put(k, v, ++mrev);
			} else if (t < 65) {
				/* [ka, kb): maybe empty, maybe one key. */
				int a = (int)rnd(MKEYS), b = a + (int)rnd(3);
				char end[4];
				snprintf(end, sizeof(end), "k%d", b);
				assert_int_equal(
					tu_del(s, kname(a),
					       b == a ? NULL : end),
					STORE_OK);
				bool any = false;
				for (int k = a; k <= (b == a ? a : b - 1) &&
						k < MKEYS;
				     k++)
					any |= m_live(k, mrev) != NULL;
				if (any) {
					mrev++;
					for (int k = a;
					     k <= (b == a ? a : b - 1) &&
					     k < MKEYS;
					     k++)
						if (m_live(k, mrev - 1))
							m_del(k, mrev);
				}
			} else if (t < 90) {
				/* CAS: if version(k) == x then put k1, del k2
				 * else put k3. */
				int k = (int)rnd(MKEYS);
				int64_t x = rnd(4);
				int k1 = (int)rnd(MKEYS);
				int k2 = (k1 + 1 + (int)rnd(MKEYS - 1)) % MKEYS;
				int k3 = (int)rnd(MKEYS);
				struct store_compare cmp = {
					.target = STORE_CMP_VERSION,
					.result = STORE_CMP_EQUAL,
					.key = U8(kname(k)), .key_len = 2,
					.operand = x};
				struct store_op succ[2] = {
					tu_put_op(kname(k1), v, 0),
					tu_del_op(kname(k2), NULL)};
				struct store_op fail_op[1] = {
					tu_put_op(kname(k3), v, 0)};
				struct store_cmd c = {
					.type = STORE_CMD_TXN, .cmps = &cmp,
					.n_cmps = 1, .success = succ,
					.n_success = 2, .failure = fail_op,
					.n_failure = 1};
				struct store_result res;
				assert_int_equal(tu_apply(s, &c, &res),
						 STORE_OK);
				const struct mrec *m = m_live(k, mrev);
				bool ok = (m ? m->version : 0) == x;
				assert_int_equal(res.succeeded, ok);
				store_result_clear(&res);
				mrev++;
				if (ok) {
					m_put(k1, v, mrev);
					if (m_live(k2, mrev - 1))
						m_del(k2, mrev);
				} else {
					m_put(k3, v, mrev);
				}
			} else if (mrev > mcompact) {
				int64_t c = mcompact + 1 +
					    (int64_t)rnd((uint32_t)(mrev -
								    mcompact));
				assert_int_equal(tu_compact(s, c), STORE_OK);
				mcompact = c;
			}
			assert_int_equal(store_revision(s), mrev);
			int64_t lo = mcompact > 1 ? mcompact : 1;
			check_at(s, lo + (int64_t)rnd((uint32_t)(mrev - lo + 1)));
			check_at(s, mrev);
			if (mcompact > 1) {
				struct store_op_result r;
				assert_int_equal(tu_range(s, "k", "l",
							  mcompact - 1, &r),
						 STORE_ERR_COMPACTED);
			}
		}
		store_free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model),
	};
	return cmocka_run_group_tests_name("store_model", tests, NULL, NULL);
}
