/*
 * store_snap: canonical snapshot encoding of the replicated store state.
 *
 * 8< snapshot-layout
 * Layout (little-endian, see docs/store.md "Snapshot format"):
 *   header   u32 magic "SLST", u16 version, u16 reserved (0),
 *            u64 applied_index, i64 revision, i64 compact_revision
 *   leases   u32 count, then per lease (ascending id): i64 id, i64 ttl
 *   records  u64 count, then per record in (main, sub) order:
 *            i64 main, i64 sub, u8 flags (bit 0 tombstone),
 *            u32 key_len, key, u32 value_len, value,
 *            i64 create_revision, i64 version, i64 lease
 *   trailer  u32 CRC32C of every byte before it
 * >8 snapshot-layout
 *
 * Restoring validates every invariant the MVCC core relies on (ordering,
 * per-key version chains, compaction shape, contiguous revisions above the
 * compact revision, live keys referencing existing leases), because a
 * snapshot arrives from another node over the network and the core trusts
 * its own state without re-checking.
 */
#include "store_snap.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define SNAP_MAGIC 0x54534c53u /* "SLST" read as little-endian u32 */
#define SNAP_VERSION 1u
#define SNAP_FLAG_TOMBSTONE 0x01u

/* CRC32C (Castagnoli, reflected 0x82f63b78) byte table, generated once
 * and pasted so there is no lazy initialisation to race on. */
static const uint32_t store_snap_crc_table[256] = {
	0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u, 0xc79a971fu, 0x35f1141cu,
	0x26a1e7e8u, 0xd4ca64ebu, 0x8ad958cfu, 0x78b2dbccu, 0x6be22838u, 0x9989ab3bu,
	0x4d43cfd0u, 0xbf284cd3u, 0xac78bf27u, 0x5e133c24u, 0x105ec76fu, 0xe235446cu,
	0xf165b798u, 0x030e349bu, 0xd7c45070u, 0x25afd373u, 0x36ff2087u, 0xc494a384u,
	0x9a879fa0u, 0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u, 0x5d1d08bfu, 0xaf768bbcu,
	0xbc267848u, 0x4e4dfb4bu, 0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u, 0x33ed7d2au,
	0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u, 0xaa64d611u, 0x580f5512u,
	0x4b5fa6e6u, 0xb93425e5u, 0x6dfe410eu, 0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau,
	0x30e349b1u, 0xc288cab2u, 0xd1d83946u, 0x23b3ba45u, 0xf779deaeu, 0x05125dadu,
	0x1642ae59u, 0xe4292d5au, 0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au,
	0x7da08661u, 0x8fcb0562u, 0x9c9bf696u, 0x6ef07595u, 0x417b1dbcu, 0xb3109ebfu,
	0xa0406d4bu, 0x522bee48u, 0x86e18aa3u, 0x748a09a0u, 0x67dafa54u, 0x95b17957u,
	0xcba24573u, 0x39c9c670u, 0x2a993584u, 0xd8f2b687u, 0x0c38d26cu, 0xfe53516fu,
	0xed03a29bu, 0x1f682198u, 0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u,
	0x96bf4dccu, 0x64d4cecfu, 0x77843d3bu, 0x85efbe38u, 0xdbfc821cu, 0x2997011fu,
	0x3ac7f2ebu, 0xc8ac71e8u, 0x1c661503u, 0xee0d9600u, 0xfd5d65f4u, 0x0f36e6f7u,
	0x61c69362u, 0x93ad1061u, 0x80fde395u, 0x72966096u, 0xa65c047du, 0x5437877eu,
	0x4767748au, 0xb50cf789u, 0xeb1fcbadu, 0x197448aeu, 0x0a24bb5au, 0xf84f3859u,
	0x2c855cb2u, 0xdeeedfb1u, 0xcdbe2c45u, 0x3fd5af46u, 0x7198540du, 0x83f3d70eu,
	0x90a324fau, 0x62c8a7f9u, 0xb602c312u, 0x44694011u, 0x5739b3e5u, 0xa55230e6u,
	0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u, 0x3cdb9bddu, 0xceb018deu,
	0xdde0eb2au, 0x2f8b6829u, 0x82f63b78u, 0x709db87bu, 0x63cd4b8fu, 0x91a6c88cu,
	0x456cac67u, 0xb7072f64u, 0xa457dc90u, 0x563c5f93u, 0x082f63b7u, 0xfa44e0b4u,
	0xe9141340u, 0x1b7f9043u, 0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu,
	0x92a8fc17u, 0x60c37f14u, 0x73938ce0u, 0x81f80fe3u, 0x55326b08u, 0xa759e80bu,
	0xb4091bffu, 0x466298fcu, 0x1871a4d8u, 0xea1a27dbu, 0xf94ad42fu, 0x0b21572cu,
	0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u, 0xa24bb5a6u, 0x502036a5u,
	0x4370c551u, 0xb11b4652u, 0x65d122b9u, 0x97baa1bau, 0x84ea524eu, 0x7681d14du,
	0x2892ed69u, 0xdaf96e6au, 0xc9a99d9eu, 0x3bc21e9du, 0xef087a76u, 0x1d63f975u,
	0x0e330a81u, 0xfc588982u, 0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du,
	0x758fe5d6u, 0x87e466d5u, 0x94b49521u, 0x66df1622u, 0x38cc2a06u, 0xcaa7a905u,
	0xd9f75af1u, 0x2b9cd9f2u, 0xff56bd19u, 0x0d3d3e1au, 0x1e6dcdeeu, 0xec064eedu,
	0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u, 0xd0ddd530u, 0x0417b1dbu, 0xf67c32d8u,
	0xe52cc12cu, 0x1747422fu, 0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu, 0x5a048dffu,
	0x8ecee914u, 0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u, 0xd3d3e1abu, 0x21b862a8u,
	0x32e8915cu, 0xc083125fu, 0x144976b4u, 0xe622f5b7u, 0xf5720643u, 0x07198540u,
	0x590ab964u, 0xab613a67u, 0xb831c993u, 0x4a5a4a90u, 0x9e902e7bu, 0x6cfbad78u,
	0x7fab5e8cu, 0x8dc0dd8fu, 0xe330a81au, 0x115b2b19u, 0x020bd8edu, 0xf0605beeu,
	0x24aa3f05u, 0xd6c1bc06u, 0xc5914ff2u, 0x37faccf1u, 0x69e9f0d5u, 0x9b8273d6u,
	0x88d28022u, 0x7ab90321u, 0xae7367cau, 0x5c18e4c9u, 0x4f48173du, 0xbd23943eu,
	0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u, 0x34f4f86au, 0xc69f7b69u,
	0xd5cf889du, 0x27a40b9eu, 0x79b737bau, 0x8bdcb4b9u, 0x988c474du, 0x6ae7c44eu,
	0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u, 0xad7d5351u,
};

static uint32_t store_snap_crc32c(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < n; i++)
		crc = store_snap_crc_table[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
	return ~crc;
}

/* ------------------------------------------------------------- writing */

struct store_snap_w {
	uint8_t *p;
	size_t off;
};

static void store_snap_put_uint(struct store_snap_w *w, uint64_t v,
				size_t width)
{
	for (size_t i = 0; i < width; i++)
		w->p[w->off++] = (uint8_t)(v >> (8 * i));
}

static void store_snap_put_bytes(struct store_snap_w *w, const uint8_t *b,
				 size_t n)
{
	store_snap_put_uint(w, n, 4);
	if (n)
		memcpy(w->p + w->off, b, n);
	w->off += n;
}

int store_snapshot(struct store *s, uint8_t **out, size_t *out_len)
{
	if (s == NULL || out == NULL || out_len == NULL)
		return STORE_ERR_INVAL;
	/* Size first, then one allocation: the layout is fixed-width. */
	size_t size = 4 + 2 + 2 + 8 + 8 + 8 + 4 + s->n_leases * 16 + 8 + 4;
	for (size_t i = 0; i < s->n_log; i++)
		size += 8 + 8 + 1 + 4 + s->log[i]->key->len + 4 +
			s->log[i]->value_len + 24;
	struct store_snap_w w = {.p = store_malloc(size)};
	if (w.p == NULL) {
		store_set_err(s, "snapshot: out of memory (%zu bytes)", size);
		return STORE_ERR_NOMEM;
	}
	store_snap_put_uint(&w, SNAP_MAGIC, 4);
	store_snap_put_uint(&w, SNAP_VERSION, 2);
	store_snap_put_uint(&w, 0, 2);
	store_snap_put_uint(&w, s->applied_index, 8);
	store_snap_put_uint(&w, (uint64_t)s->rev, 8);
	store_snap_put_uint(&w, (uint64_t)s->compact_rev, 8);
	store_snap_put_uint(&w, s->n_leases, 4);
	for (size_t i = 0; i < s->n_leases; i++) {
		store_snap_put_uint(&w, (uint64_t)s->leases[i].id, 8);
		store_snap_put_uint(&w, (uint64_t)s->leases[i].ttl, 8);
	}
	store_snap_put_uint(&w, s->n_log, 8);
	for (size_t i = 0; i < s->n_log; i++) {
		const struct store_rec *r = s->log[i];
		store_snap_put_uint(&w, (uint64_t)r->main, 8);
		store_snap_put_uint(&w, (uint64_t)r->sub, 8);
		store_snap_put_uint(&w, r->tombstone ? SNAP_FLAG_TOMBSTONE : 0,
				    1);
		store_snap_put_bytes(&w, r->key->key, r->key->len);
		store_snap_put_bytes(&w, r->value, r->value_len);
		store_snap_put_uint(&w, (uint64_t)r->create_rev, 8);
		store_snap_put_uint(&w, (uint64_t)r->version, 8);
		store_snap_put_uint(&w, (uint64_t)r->lease, 8);
	}
	store_snap_put_uint(&w, store_snap_crc32c(w.p, w.off), 4);
	*out = w.p;
	*out_len = w.off;
	return STORE_OK;
}

/* ------------------------------------------------------------- reading */

struct store_snap_r {
	const uint8_t *p;
	size_t len, off;
	struct store *s; /* for errmsg */
	int bad;
};

static uint64_t store_snap_get(struct store_snap_r *r, size_t width,
			       const char *what)
{
	uint64_t v = 0;
	if (r->bad)
		return 0;
	if (r->len - r->off < width) {
		store_set_err(r->s, "snapshot: %s at offset %zu truncated",
			      what, r->off);
		r->bad = 1;
		return 0;
	}
	for (size_t i = 0; i < width; i++)
		v |= (uint64_t)r->p[r->off + i] << (8 * i);
	r->off += width;
	return v;
}

static const uint8_t *store_snap_get_bytes(struct store_snap_r *r, size_t *n,
					   size_t max, const char *what)
{
	size_t len = (size_t)store_snap_get(r, 4, what);
	*n = 0;
	if (r->bad)
		return NULL;
	if (len > max || r->len - r->off < len) {
		store_set_err(r->s, "snapshot: %s at offset %zu: length %zu "
				    "too long or truncated",
			      what, r->off - 4, len);
		r->bad = 1;
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += len;
	*n = len;
	return p;
}

/* A parsed record before the key index exists. */
struct store_snap_ent {
	struct store_rec *rec;
	const uint8_t *key;
	size_t key_len;
};

static int store_snap_ent_cmp(const void *a, const void *b)
{
	const struct store_snap_ent *x = a, *y = b;
	int c = store_key_cmp(x->key, x->key_len, y->key, y->key_len);
	if (c)
		return c;
	return x->rec->main < y->rec->main ? -1 : x->rec->main > y->rec->main;
}

/* Record a corruption message (fmt must be a literal) and yield the code. */
#define STORE_SNAP_BAD(s, ...) \
	(store_set_err((s), "snapshot: " __VA_ARGS__), STORE_ERR_CORRUPT)

/* Check one key's records (ascending main) against the MVCC invariants. */
static int store_snap_check_key(struct store *s, struct store_key *k,
				int64_t compact_rev)
{
	for (size_t i = 0; i < k->n_revs; i++) {
		const struct store_rec *r = k->revs[i];
		const struct store_rec *p = i ? k->revs[i - 1] : NULL;
		if (p && p->main == r->main)
			return STORE_SNAP_BAD(s, "key written twice at "
						 "revision %lld",
					      (long long)r->main);
		if (r->main <= compact_rev && (p || r->tombstone))
			return STORE_SNAP_BAD(s, "history below compact "
						 "revision %lld kept at %lld",
					      (long long)compact_rev,
					      (long long)r->main);
		if (r->tombstone)
			continue;
		int64_t want_ver = p && !p->tombstone ? p->version + 1 : 1;
		int64_t want_create = p && !p->tombstone ? p->create_rev
							 : r->main;
		/* The first kept record may have older history compacted. */
		if (p == NULL) {
			if (r->version < 1 || r->create_rev < 1 ||
			    r->create_rev > r->main ||
			    (r->version == 1) != (r->create_rev == r->main))
				return STORE_SNAP_BAD(s, "bad version %lld / create revision "
					   "%lld",
					(long long)r->version,
					(long long)r->create_rev);
		} else if (r->version != want_ver ||
			   r->create_rev != want_create) {
			return STORE_SNAP_BAD(s, "broken version chain at "
						 "revision %lld (version %lld)",
					      (long long)r->main,
					      (long long)r->version);
		}
	}
	return STORE_OK;
}

int store_restore(struct store *s, const uint8_t *buf, size_t len)
{
	struct store t = {0};
	struct store_snap_r r = {.p = buf, .len = len, .s = s};
	struct store_snap_ent *ents = NULL;
	int rc = STORE_ERR_CORRUPT;

	if (s == NULL || (buf == NULL && len > 0))
		return STORE_ERR_INVAL;
	/* A fuzzer cannot forge a CRC; fuzz builds skip it to reach the
	 * validation below (the standard libFuzzer convention). */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	const bool check_crc = false;
#else
	const bool check_crc = true;
#endif
	if (len < 4 || (check_crc && store_snap_crc32c(buf, len - 4) !=
			       ((uint32_t)buf[len - 4] |
				(uint32_t)buf[len - 3] << 8 |
				(uint32_t)buf[len - 2] << 16 |
				(uint32_t)buf[len - 1] << 24))) {
		store_set_err(s, "snapshot: checksum mismatch or truncated");
		return STORE_ERR_CORRUPT;
	}
	r.len = len - 4;
	uint64_t magic = store_snap_get(&r, 4, "magic");
	uint64_t version = store_snap_get(&r, 2, "version");
	uint64_t reserved = store_snap_get(&r, 2, "reserved");
	t.applied_index = store_snap_get(&r, 8, "applied_index");
	t.rev = (int64_t)store_snap_get(&r, 8, "revision");
	t.compact_rev = (int64_t)store_snap_get(&r, 8, "compact_revision");
	if (r.bad)
		goto fail;
	if (magic != SNAP_MAGIC || version != SNAP_VERSION || reserved) {
		store_set_err(s, "snapshot: bad magic, version or reserved");
		goto fail;
	}
	if (t.rev < 1 || t.compact_rev < 0 || t.compact_rev > t.rev) {
		rc = STORE_SNAP_BAD(s, "revision %lld / compact revision %lld "
				       "out of order",
				    (long long)t.rev,
				    (long long)t.compact_rev);
		goto fail;
	}
	size_t nl = (size_t)store_snap_get(&r, 4, "lease count");
	/* Each lease is 16 bytes: a count the input cannot hold is a lie. */
	if (r.bad || nl > (r.len - r.off) / 16) {
		store_set_err(s, "snapshot: lease count exceeds the input");
		goto fail;
	}
	t.leases = store_calloc(nl ? nl : 1, sizeof(*t.leases));
	if (t.leases == NULL)
		goto nomem;
	t.cap_leases = nl ? nl : 1;
	for (size_t i = 0; i < nl; i++) {
		int64_t id = (int64_t)store_snap_get(&r, 8, "lease.id");
		int64_t ttl = (int64_t)store_snap_get(&r, 8, "lease.ttl");
		if (id <= 0 || ttl < 1 || ttl > STORE_LEASE_MAX_TTL ||
		    (i && id <= t.leases[i - 1].id)) {
			rc = STORE_SNAP_BAD(s, "lease %lld (ttl %lld) invalid "
					       "or out of order",
					    (long long)id, (long long)ttl);
			goto fail;
		}
		t.leases[i] = (struct store_lease_ent){.id = id, .ttl = ttl};
		t.n_leases++;
	}
	t.used = (uint64_t)nl * STORE_LEASE_COST;
	uint64_t nr64 = store_snap_get(&r, 8, "record count");
	/* The smallest record is 49 bytes. */
	if (r.bad || nr64 > (r.len - r.off) / 49) {
		store_set_err(s, "snapshot: record count exceeds the input");
		goto fail;
	}
	size_t nr = (size_t)nr64;
	t.log = store_calloc(nr ? nr : 1, sizeof(*t.log));
	ents = store_calloc(nr ? nr : 1, sizeof(*ents));
	if (t.log == NULL || ents == NULL)
		goto nomem;
	t.cap_log = nr ? nr : 1;
	int64_t lo_main = t.compact_rev > 1 ? t.compact_rev : 1;
	int64_t pm = 0, ps = -1;
	for (size_t i = 0; i < nr; i++) {
		struct store_rec *rec = store_calloc(1, sizeof(*rec));
		if (rec == NULL)
			goto nomem;
		t.log[t.n_log++] = rec;
		rec->main = (int64_t)store_snap_get(&r, 8, "record.main");
		rec->sub = (int64_t)store_snap_get(&r, 8, "record.sub");
		unsigned flags = (unsigned)store_snap_get(&r, 1,
							  "record.flags");
		const uint8_t *k = store_snap_get_bytes(
			&r, &ents[i].key_len, STORE_KEY_MAX, "record.key");
		size_t vlen;
		const uint8_t *v = store_snap_get_bytes(
			&r, &vlen, STORE_VALUE_MAX, "record.value");
		rec->create_rev = (int64_t)store_snap_get(&r, 8,
							  "record.create");
		rec->version = (int64_t)store_snap_get(&r, 8,
						       "record.version");
		rec->lease = (int64_t)store_snap_get(&r, 8, "record.lease");
		if (r.bad)
			goto fail;
		ents[i].rec = rec;
		ents[i].key = k;
		rec->tombstone = flags & SNAP_FLAG_TOMBSTONE;
		if ((flags & ~SNAP_FLAG_TOMBSTONE) || ents[i].key_len == 0) {
			rc = STORE_SNAP_BAD(s, "record %zu: bad flags or "
					       "empty key",
					    i);
			goto fail;
		}
		if (rec->main < 1 || rec->main > t.rev || rec->sub < 0 ||
		    rec->main < pm || (rec->main == pm && rec->sub <= ps)) {
			rc = STORE_SNAP_BAD(s, "record revision %lld.%lld out "
					       "of order",
					    (long long)rec->main,
					    (long long)rec->sub);
			goto fail;
		}
		/* Above the compact revision nothing was dropped, so main
		 * revisions are contiguous from the first write (revision 2,
		 * or the one after the compact revision) and subs count
		 * from 0. */
		if (rec->main > t.compact_rev) {
			bool ok;
			if (rec->main == pm)
				ok = rec->sub == ps + 1;
			else
				ok = rec->sub == 0 &&
				     rec->main == (pm > t.compact_rev
							   ? pm + 1
							   : lo_main + 1);
			if (!ok) {
				rc = STORE_SNAP_BAD(s, "gap before revision "
						       "%lld.%lld",
						    (long long)rec->main,
						    (long long)rec->sub);
				goto fail;
			}
		}
		pm = rec->main;
		ps = rec->sub;
		if (rec->tombstone ? (vlen || rec->create_rev ||
				      rec->version || rec->lease)
				   : rec->lease < 0) {
			rc = STORE_SNAP_BAD(s, "record %lld.%lld: bad "
					       "tombstone or lease",
					    (long long)rec->main,
					    (long long)rec->sub);
			goto fail;
		}
		if (vlen) {
			rec->value = store_malloc(vlen);
			if (rec->value == NULL)
				goto nomem;
			memcpy(rec->value, v, vlen);
			rec->value_len = vlen;
		}
		t.used += store_rec_cost(ents[i].key_len, vlen);
	}
	if (r.off != r.len) {
		store_set_err(s, "snapshot: %zu trailing bytes", r.len - r.off);
		goto fail;
	}
	/* The head revision's records cannot be compacted unless it is the
	 * compact revision itself, so a head with no record is a lie. */
	if (t.rev > lo_main && pm != t.rev) {
		rc = STORE_SNAP_BAD(s, "revision %lld has no record (last "
				       "%lld)",
				    (long long)t.rev, (long long)pm);
		goto fail;
	}
	/* Build the key index: sort by (key, main) and group. */
	qsort(ents, nr, sizeof(*ents), store_snap_ent_cmp);
	t.keys = store_calloc(nr ? nr : 1, sizeof(*t.keys));
	if (t.keys == NULL)
		goto nomem;
	t.cap_keys = nr ? nr : 1;
	for (size_t i = 0; i < nr;) {
		size_t j = i;
		while (j < nr && store_key_cmp(ents[j].key, ents[j].key_len,
					       ents[i].key,
					       ents[i].key_len) == 0)
			j++;
		struct store_key *key = store_calloc(1, sizeof(*key));
		if (key == NULL)
			goto nomem;
		t.keys[t.n_keys++] = key;
		key->key = store_malloc(ents[i].key_len);
		key->revs = store_calloc(j - i, sizeof(*key->revs));
		if (key->key == NULL || key->revs == NULL)
			goto nomem;
		memcpy(key->key, ents[i].key, ents[i].key_len);
		key->len = ents[i].key_len;
		key->cap_revs = j - i;
		for (size_t m = i; m < j; m++) {
			ents[m].rec->key = key;
			key->revs[key->n_revs++] = ents[m].rec;
		}
		if ((rc = store_snap_check_key(s, key, t.compact_rev)))
			goto fail;
		const struct store_rec *last = key->revs[key->n_revs - 1];
		if (!last->tombstone && last->lease &&
		    store_lease_find(&t, last->lease) == NULL) {
			rc = STORE_SNAP_BAD(s, "live key at revision %lld "
					       "attached to missing lease %lld",
					    (long long)last->main,
					    (long long)last->lease);
			goto fail;
		}
		i = j;
	}
	free(ents);
	/* Commit: swap the new data in; watchers and params stay. */
	store_clear_data(s);
	s->rev = t.rev;
	s->compact_rev = t.compact_rev;
	s->applied_index = t.applied_index;
	s->used = t.used;
	s->log = t.log;
	s->n_log = t.n_log;
	s->cap_log = t.cap_log;
	s->keys = t.keys;
	s->n_keys = t.n_keys;
	s->cap_keys = t.cap_keys;
	s->leases = t.leases;
	s->n_leases = t.n_leases;
	s->cap_leases = t.cap_leases;
	s->broken = false;
	s->errmsg[0] = 0;
	store_watch_compacted(s);
	return STORE_OK;
nomem:
	store_set_err(s, "snapshot: out of memory");
	rc = STORE_ERR_NOMEM;
fail:
	/* Records not yet attached to a key are freed through the log;
	 * clear_data frees both without double-freeing. */
	store_clear_data(&t);
	free(ents);
	if (rc == STORE_OK)
		rc = STORE_ERR_CORRUPT;
	return rc;
}
