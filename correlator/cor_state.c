/* Correlation state in LMDB: one record per group, keyed by rule id and
 * group key, written by cor_eval_flush inside the caller's transaction
 * (committed with the input position) and read back by cor__state_load at
 * start and after an aborted transaction. Records written by earlier
 * versions are read too (see cor_group_unpack). */
#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cor_eval_int.h"
#include "cor_seq.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/util.h"

/* Group record: [rule_hash, last_us, suppress_until, aux, fired, [ts], [vals], [raw], touch,
 * [raw times], key, raw_cut] (records written before touch was saved have 8 elements, before
 * the raw lines' times 9: their lines go into every alert, as then). The group key is the
 * 11th element when the LMDB key holds its hash instead (cor__state_key), nil otherwise; it
 * is left out (10 elements) when it is nil and no raw line is cut. raw_cut, only when a line
 * is: bit i set when raw line i is incomplete (records written before it have at most 11
 * elements: their lines are read as whole). */
static int cor_group_pack(cor_eval *e, const cor_rule *r, const cor_group *g, int with_key)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(&e->sb);
    msgpack_packer_init(&pk, &e->sb, msgpack_sbuffer_write);
    uint32_t start = g->nraw < COR_RAW_KEEP ? 0 : g->rawpos;
    uint64_t cut = 0;
    for (uint32_t i = 0; i < g->nraw; i++) {
        const char *l = g->raw[(start + i) % COR_RAW_KEEP];
        if (l && cor_raw_cut(l))
            cut |= UINT64_C(1) << i;
    }
    msgpack_pack_array(&pk, cut ? 12 : with_key ? 11 : 10);
    msgpack_pack_uint64(&pk, r->hash);
    msgpack_pack_int64(&pk, g->last_us);
    msgpack_pack_int64(&pk, g->suppress_until);
    msgpack_pack_int64(&pk, g->vals ? 0 : g->aux); /* value_count: its index, not saved */
    msgpack_pack_uint8(&pk, g->fired);
    uint32_t nts = r->kind == COR_EVENT_COUNT || r->kind == COR_TEMPORAL_ORDERED ||
                           r->kind == COR_MATCH
                       ? g->n
                   : r->kind == COR_VALUE_COUNT || r->kind == COR_TEMPORAL ? g->n * COR_VC_TIMES
                                                : cor__group_nts(r);
    msgpack_pack_array(&pk, nts);
    for (uint32_t i = 0; i < nts; i++)
        msgpack_pack_int64(&pk, g->ts[i]);
    uint32_t nv = r->kind == COR_VALUE_COUNT || r->kind == COR_TEMPORAL ? g->n : 0;
    msgpack_pack_array(&pk, nv);
    for (uint32_t i = 0; i < nv; i++) {
        size_t l = strlen(g->vals[i]);
        msgpack_pack_str(&pk, l);
        msgpack_pack_str_body(&pk, g->vals[i], l);
    }
    msgpack_pack_array(&pk, g->nraw);
    for (uint32_t i = 0; i < g->nraw; i++) {
        const char *l = g->raw[(start + i) % COR_RAW_KEEP];
        size_t n = l ? strlen(cor_raw_line(l)) : 0;
        msgpack_pack_str(&pk, n);
        msgpack_pack_str_body(&pk, l ? cor_raw_line(l) : "", n);
    }
    msgpack_pack_uint64(&pk, g->touch);
    msgpack_pack_array(&pk, g->nraw);
    for (uint32_t i = 0; i < g->nraw; i++) {
        const char *l = g->raw[(start + i) % COR_RAW_KEEP];
        msgpack_pack_int64(&pk, l ? cor_raw_time(l) : COR_RAW_NOTIME);
    }
    if (with_key) {
        msgpack_pack_bin(&pk, g->keylen);
        msgpack_pack_bin_body(&pk, g->key, g->keylen);
    } else if (cut) {
        msgpack_pack_nil(&pk);
    }
    if (cut)
        msgpack_pack_uint64(&pk, cut);
    return 0;
}

/* "cor.degraded.RULE": the time of the rule's last degradation alert
 * (cor_degraded, at most one an hour); "cor.evicted.RULE" (what "evicted"):
 * its evictions so far, the alert's count; "cor.dghash.RULE": the hash of
 * the definition they belong to, so that a rule changed while the
 * correlator was stopped does not take them back at the start (its groups
 * are dropped then: its degradation memory goes with them, as at a
 * reload). -ENAMETOOLONG past an LMDB key. */
int cor__degraded_key(const char *id, const char *what, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "cor.%s.%s", what, id);
    return n > 0 && (size_t)n < cap && n <= COR_STATE_KEY_MAX ? 0 : -ENAMETOOLONG;
}

size_t cor__state_key(const char *rule_id, const char *key, size_t keylen, char *out,
                      size_t cap, int *hashed)
{
    size_t il = strlen(rule_id) + 1;
    *hashed = il + keylen > COR_STATE_KEY_MAX;
    size_t n = *hashed ? il + 33 : il + keylen;
    if (n > cap || n > COR_STATE_KEY_MAX)
        return 0;
    memcpy(out, rule_id, il);
    if (!*hashed) {
        memcpy(out + il, key, keylen);
        return n;
    }
    /* two different 64-bit hashes: a collision would merge two groups */
    uint64_t a = vg_fnv1a(VG_FNV1A_INIT, key, keylen), b = cor_hash(key, keylen);
    char hex[40];
    snprintf(hex, sizeof(hex), "\x01%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
    memcpy(out + il, hex, 33);
    return n;
}

/* One line per rule, so that an operator who edited a rule mid-attack sees
 * which counts started again (a summary line follows with the totals). */
void cor_state_dropped_log(const char *rule_id, uint64_t n, cor_drop_why why)
{
    static const char *const reason[] = {
        [COR_DROP_CHANGED] = "its definition changed",
        [COR_DROP_REMOVED] = "the rule was removed",
        [COR_DROP_STATELESS] = "the rule keeps no state now",
    };
    vg_info("correlation state of rule %s dropped (%llu group%s): %s", rule_id,
            (unsigned long long)n, n == 1 ? "" : "s", reason[why]);
}

void cor_eval_committed(cor_eval *e)
{
    if (!e->flushed)
        return;
    e->flushed = 0;
    for (size_t i = 0; i < e->nwritten; i++)
        if (e->written[i].g && e->written[i].g->dirty == 2)
            e->written[i].g->dirty = 0;
    e->nwritten = 0;
    for (size_t i = 0; i < e->ndels_flushed; i++)
        free(e->dels[i].key);
    if (e->ndels_flushed && e->ndels > e->ndels_flushed) /* pushed since (a reload) */
        memmove(e->dels, e->dels + e->ndels_flushed,
                (e->ndels - e->ndels_flushed) * sizeof(*e->dels));
    e->ndels -= e->ndels_flushed;
    e->ndels_flushed = 0;
    for (size_t ri = 0; ri < e->rs->n; ri++) {
        cor_table *t = &e->tables[ri];
        if (t->degraded_dirty == 2) {
            t->degraded_dirty = 0;
            t->evicted_stored = t->evicted;
        }
    }
}

void cor_eval_unflushed(cor_eval *e)
{
    if (!e->flushed)
        return;
    e->flushed = 0;
    for (size_t i = 0; i < e->nwritten; i++)
        if (e->written[i].g && e->written[i].g->dirty == 2) {
            e->written[i].g->dirty = 0;
            cor__dirty(e, e->written[i].ri, e->written[i].g); /* back on the list */
        }
    e->nwritten = 0;
    e->ndels_flushed = 0; /* its deletes stay first in dels: done again */
    for (size_t ri = 0; ri < e->rs->n; ri++)
        if (e->tables[ri].degraded_dirty == 2)
            e->tables[ri].degraded_dirty = 1;
}

/* g was written into the open transaction: kept in e->written until it
 * commits (cor_eval_committed). 0, or -ENOMEM. */
static int cor_written_push(cor_eval *e, uint32_t ri, cor_group *g)
{
    int rc = cor__gref_push(&e->written, &e->nwritten, &e->capwritten, g, ri);
    if (rc == 0)
        g->dirty = 2;
    return rc;
}

/* Writes group g of rule ri (at dirty 1) into the open transaction. */
static int cor_group_write(cor_eval *e, uint32_t ri, cor_group *g, char *key, size_t cap)
{
    const cor_rule *r = &e->rs->rules[ri];
    int hashed = 0;
    size_t kl = cor__state_key(r->id, g->key, g->keylen, key, cap, &hashed);
    if (kl == 0) {
        g->dirty = 0; /* a rule id too long for an LMDB key: in memory only */
        return 0;
    }
    cor_group_pack(e, r, g, hashed);
    MDB_val k = {kl, key}, v = {e->sb.size, e->sb.data};
    int rc = vg_store_put(e->st, e->dbi, &k, &v);
    return rc ? rc : cor_written_push(e, ri, g);
}

/* The groups at dirty 1 into the open transaction: those listed in
 * e->dirtyv, or, when the list was not kept up, every group. On an error
 * the groups not written stay listed. */
static int cor_dirty_write(cor_eval *e, char *key, size_t cap)
{
    int rc = 0;
    if (e->dirty_all) {
        for (size_t ri = 0; ri < e->rs->n && rc == 0; ri++)
            for (cor_group *g = e->tables[ri].head; g && rc == 0; g = g->next)
                if (g->dirty == 1)
                    rc = cor_group_write(e, (uint32_t)ri, g, key, cap);
        if (rc)
            return rc; /* the walk is done again */
        e->dirty_all = 0;
        e->ndirtyv = 0;
        return 0;
    }
    size_t i = 0;
    for (; i < e->ndirtyv && rc == 0; i++) {
        cor_gref *d = &e->dirtyv[i];
        if (d->g && d->g->dirty == 1)
            rc = cor_group_write(e, d->ri, d->g, key, cap);
    }
    if (rc) /* the one that failed and those after it stay */
        i--;
    if (i < e->ndirtyv) /* (dirtyv is NULL before the first group) */
        memmove(e->dirtyv, e->dirtyv + i, (e->ndirtyv - i) * sizeof(*e->dirtyv));
    e->ndirtyv -= i;
    return rc;
}

int cor_eval_flush(cor_eval *e)
{
    if (!e->st)
        return 0;
    cor_eval_committed(e); /* an earlier flush not settled: its transaction committed */
    /* its puts are counted (vg_store_put), so that the commit keeps them
     * out of the reserve without probing it */
    MDB_txn *txn = vg_store_txn(e->st);
    if (!txn)
        return -EINVAL;
    e->flushed = 1;
    e->ndels_flushed = e->ndels;
    int rc = 0;
    char key[4096];
    for (size_t i = 0; i < e->ndels && rc == 0; i++) {
        cor_del *d = &e->dels[i];
        MDB_val k = {d->len, d->key}, v;
        if (!d->prefix) {
            rc = vg_store_del(e->st, e->dbi, &k);
            if (rc == -ENOENT)
                rc = 0;
            continue;
        }
        /* a rule's whole state (changed or removed by a reload): its
         * degradation memory too, or a restart that finds the rule again
         * (re-added, or changed back) would take up a stale hour and count;
         * a rule that stays writes its own below (degraded_dirty) */
        static const char *const dg[] = {"degraded", "evicted", "dghash"};
        for (size_t j = 0; j < sizeof(dg) / sizeof(dg[0]) && rc == 0; j++)
            if (cor__degraded_key(d->key, dg[j], key, sizeof(key)) == 0)
                rc = vg_meta_del(e->st, key);
        if (rc)
            break;
        MDB_cursor *cur;
        /* deletes the store does not count: its commit probes the reserve */
        if ((rc = mdb_cursor_open(vg_store_write_txn(e->st), e->dbi, &cur)))
            break;
        for (;;) { /* re-seek after each delete: rule removals are rare */
            k = (MDB_val){d->len, d->key};
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
            if (rc || k.mv_size < d->len || memcmp(k.mv_data, d->key, d->len) != 0)
                break;
            if ((rc = mdb_cursor_del(cur, 0)))
                break;
        }
        mdb_cursor_close(cur);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (rc == 0)
        rc = cor_dirty_write(e, key, sizeof(key));
    for (size_t ri = 0; ri < e->rs->n && rc == 0; ri++) {
        const cor_rule *r = &e->rs->rules[ri];
        if (!cor_stateful(r))
            continue;
        cor_table *t = &e->tables[ri];
        if (rc == 0 && t->degraded_dirty == 1) {
            t->degraded_dirty = 2;
            if (cor__degraded_key(r->id, "degraded", key, sizeof(key)) == 0)
                rc = vg_meta_put_u64(e->st, key, (uint64_t)t->degraded_at);
            if (rc == 0 && cor__degraded_key(r->id, "evicted", key, sizeof(key)) == 0)
                rc = vg_meta_put_u64(e->st, key, t->evicted);
            if (rc == 0 && cor__degraded_key(r->id, "dghash", key, sizeof(key)) == 0)
                rc = vg_meta_put_u64(e->st, key, r->hash);
        }
    }
    if (rc == 0)
        rc = vg_meta_put_u64(e->st, "cor.watermark", (uint64_t)e->wm);
    /* the sweep's last look: the next is due a second of event time after
     * it, so a restart must not move it to the watermark */
    if (rc == 0)
        rc = vg_meta_put_u64(e->st, "cor.absence_checked", (uint64_t)e->absence_checked);
    /* the absence clock, ahead of the watermark while a caught-up input is
     * quiet: a restart that set it back would take the groups it made over
     * (max_groups' second order) for live until the next tick */
    if (rc == 0)
        rc = vg_meta_put_u64(e->st, "cor.clock", (uint64_t)e->clock);
    if (rc == MDB_MAP_FULL)
        return VG_EFULL;
    return rc > 0 ? -rc : rc;
}

/* A temporal_ordered group's saved times into g: cor_seq's layout (it
 * starts with COR_SEQ_TAG, or COR_SEQ_TAG_V1 before the links), or the
 * layout before it (per step the start
 * and end of one chain, 2n times; before that the starts alone, n).
 * 0, or VG_ESTATE when the record does not add up. */
static int cor_seq_unpack(const cor_rule *r, cor_group *g, const msgpack_object *ts)
{
    const cor_seq_shape *sh = &r->seq;
    uint32_t n = ts->type == MSGPACK_OBJECT_ARRAY ? ts->via.array.size : 0, head = cor_seq_head(sh);
    const msgpack_object *v = n ? ts->via.array.ptr : NULL;
    for (uint32_t i = 0; i < n; i++)
        if (v[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER && v[i].type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
            return VG_ESTATE;
    /* this layout, or the one before the links (a count of 0 inserted) */
    bool v1 = n >= head - 1 && v[0].via.i64 == COR_SEQ_TAG_V1;
    if ((n >= head && v[0].via.i64 == COR_SEQ_TAG) || v1) {
        uint32_t want = n + v1;
        if (want > g->tcap && (cor__ts_grow(r, g, want) != 0 || want > g->tcap))
            return VG_ESTATE;
        for (uint32_t i = 0; i < n; i++)
            g->ts[i] = v[i].via.i64;
        if (v1)
            cor_seq_from_v1(sh, g->ts, n);
        for (uint32_t k = 0; k <= sh->m; k++) /* the counts, then the links' */
            if (g->ts[sh->n + 1 + k] < 0 || g->ts[sh->n + 1 + k] > want)
                return VG_ESTATE;
        g->n = cor_seq_len(sh, g->ts);
        return g->n == want ? 0 : VG_ESTATE;
    }
    int64_t old[2 * COR_SEQ_MAX];
    if (n != r->nrefs && n != 2 * r->nrefs)
        return VG_ESTATE;
    for (uint32_t i = 0; i < 2 * r->nrefs; i++)
        old[i] = v[i % n].via.i64; /* starts alone: a step counts as at its chain's start */
    cor_seq_from_chains(sh, old, g->ts);
    g->n = cor_seq_len(sh, g->ts);
    return 0;
}

static int cor_group_unpack(cor_eval *e, const cor_rule *r, cor_table *t, const char *key,
                            size_t klen, const char *buf, size_t len)
{
    msgpack_unpacked u;
    size_t off = 0;
    msgpack_unpacked_init(&u);
    int rc = VG_ESTATE;
    if (msgpack_unpack_next(&u, buf, len, &off) != MSGPACK_UNPACK_SUCCESS)
        goto out;
    const msgpack_object *a = &u.data;
    if (a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size < 8 || a->via.array.size > 12)
        goto out;
    const msgpack_object *f = a->via.array.ptr;
    if (f[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || f[0].via.u64 != r->hash)
        goto out;
    if (a->via.array.size > 10 && f[10].type != MSGPACK_OBJECT_NIL) {
        /* the LMDB key is the group key's hash */
        if (f[10].type != MSGPACK_OBJECT_BIN)
            goto out;
        key = f[10].via.bin.ptr;
        klen = f[10].via.bin.size;
    }
    uint64_t cut = a->via.array.size > 11 && f[11].type == MSGPACK_OBJECT_POSITIVE_INTEGER
                       ? f[11].via.u64
                       : 0;
    uint64_t h = cor_hash(key, klen);
    if (cor__table_room(t) != 0) {
        rc = -ENOMEM;
        goto out;
    }
    cor_group *g = cor__group_new(e, r, key, klen, h);
    if (!g) {
        rc = -ENOMEM;
        goto out;
    }
    g->last_us = f[1].via.i64;
    g->suppress_until = f[2].via.i64;
    if (!g->vals) /* value_count's is its index, built again */
        g->aux = f[3].via.i64;
    g->fired = (uint8_t)f[4].via.u64;
    const msgpack_object *ts = &f[5], *vals = &f[6], *raw = &f[7];
    uint32_t cap = cor__group_nts(r), nsaved = 0, skip = 0;
    if (ts->type == MSGPACK_OBJECT_ARRAY)
        nsaved = ts->via.array.size;
    if (r->kind == COR_EVENT_COUNT && nsaved > cap) {
        /* a group that kept more than N (events out of order): the newest
         * fit (saved sorted, oldest first) */
        (void)cor__ts_grow(r, g, nsaved);
        cap = g->tcap;
        skip = nsaved > cap ? nsaved - cap : 0;
    }
    if (r->kind == COR_TEMPORAL_ORDERED) {
        if (cor_seq_unpack(r, g, ts) != 0) {
            cor__group_free(e, g);
            goto out;
        }
        nsaved = 0;
    }
    for (uint32_t i = 0; i + skip < nsaved && i < cap; i++)
        g->ts[i] = ts->via.array.ptr[i + skip].via.i64;
    if (r->kind == COR_EVENT_COUNT || r->kind == COR_MATCH)
        g->n = nsaved - skip < cap ? nsaved - skip : cap;
    if (r->kind == COR_MATCH && g->n == 0 && g->suppress_until != INT64_MIN) {
        /* saved before alert times were kept: the last alert */
        g->ts[0] = g->suppress_until - r->suppress_us;
        g->n = 1;
    }
    uint32_t nsv = vals->type == MSGPACK_OBJECT_ARRAY ? vals->via.array.size : 0;
    if (r->kind == COR_TEMPORAL && nsv == 0 && nsaved == r->nrefs) {
        /* state written before temporal kept its rules' times as values:
         * the latest time of each rule, by position */
        for (uint32_t k = 0; k < r->nrefs; k++) {
            int64_t t0 = ts->via.array.ptr[k].via.i64;
            char pos[12];
            snprintf(pos, sizeof(pos), "%u", k);
            if (t0 == INT64_MIN || !(g->vals[g->n] = strdup(pos)))
                continue;
            int64_t *vt = cor_vc_times(g, g->n++);
            for (uint32_t j = 0; j < COR_VC_TIMES; j++)
                vt[j] = j + 1 < COR_VC_TIMES ? INT64_MIN : t0;
        }
    } else if (r->kind == COR_VALUE_COUNT || r->kind == COR_TEMPORAL) {
        /* COR_VC_TIMES times per value, or one (the latest: state written
         * before value_count kept more) */
        uint32_t nv = vals->type == MSGPACK_OBJECT_ARRAY ? vals->via.array.size : 0;
        /* the room the running group had: it doubled from its first as
         * values came (cor_vc_add asks for one more at a time), so the same
         * steps give the same room, and a full group forgets a dead value's
         * place at the same value as before the restart (FIELD_values'
         * order); one step to nv gave nv, less than the running group had */
        while (nv > g->tcap) {
            uint32_t was = g->tcap;
            if (cor__vc_grow(r, g, was + 1) != 0 || g->tcap == was)
                break; /* at the rule's cap, or out of memory */
        }
        if (nv > g->tcap)
            nv = g->tcap;
        uint32_t per = nsaved == nv ? 1 : COR_VC_TIMES;
        if (nsaved < nv * per)
            nv = nsaved / per;
        for (g->n = 0; g->n < nv; g->n++) {
            const msgpack_object *sv = &vals->via.array.ptr[g->n];
            if (sv->type != MSGPACK_OBJECT_STR ||
                !(g->vals[g->n] = strndup(sv->via.str.ptr, sv->via.str.size)))
                break;
            int64_t *vt = cor_vc_times(g, g->n);
            for (uint32_t j = 0; j < COR_VC_TIMES; j++)
                vt[j] = j < COR_VC_TIMES - per
                            ? INT64_MIN
                            : ts->via.array.ptr[g->n * per + j - (COR_VC_TIMES - per)].via.i64;
        }
    }
    const msgpack_object *rawts = a->via.array.size > 9 && f[9].type == MSGPACK_OBJECT_ARRAY &&
                                          raw->type == MSGPACK_OBJECT_ARRAY &&
                                          f[9].via.array.size == raw->via.array.size
                                      ? &f[9]
                                      : NULL;
    if (g->raw && raw->type == MSGPACK_OBJECT_ARRAY)
        for (uint32_t i = 0; i < raw->via.array.size && g->nraw < COR_RAW_KEEP; i++) {
            const msgpack_object *l = &raw->via.array.ptr[i];
            if (l->type != MSGPACK_OBJECT_STR) /* not ours: skipped, not read */
                continue;
            const msgpack_object *lt = rawts ? &rawts->via.array.ptr[i] : NULL;
            int64_t rt = lt && (lt->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
                                lt->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                             ? lt->via.i64
                             : COR_RAW_NOTIME;
            cor__raw_keep(e, g, vg_str_n(l->via.str.ptr ? l->via.str.ptr : "", l->via.str.size),
                          rt, i < 64 && ((cut >> i) & 1));
        }
    cor__table_put(e, t, g);
    /* in key order for now: cor__state_load sorts them */
    g->touch = a->via.array.size > 8 && f[8].type == MSGPACK_OBJECT_POSITIVE_INTEGER
                   ? f[8].via.u64
                   : 0; /* an older record: ordered by last_us, before the others */
    if (g->touch > e->touch)
        e->touch = g->touch; /* updates after the restart come after every saved one */
    cor__lru_link(e, t, g);
    rc = 0;
out:
    msgpack_unpacked_destroy(&u);
    return rc;
}

static int cor_lru_cmp(const void *a, const void *b)
{
    const cor_group *x = *(cor_group *const *)a, *y = *(cor_group *const *)b;
    if (x->touch != y->touch)
        return x->touch < y->touch ? -1 : 1;
    return x->last_us < y->last_us ? -1 : x->last_us > y->last_us;
}

/* Restored groups come in key order; put the LRU list back in the order
 * the groups were last updated, as it was before the stop: eviction takes
 * its tail, the sweep drops expired groups from the tail and reports
 * absences in its order, so any other order would change alerts after a
 * restart (an update is one of arrival, not of event time: a late event
 * moves its group to the front). */
static int cor_table_sort_lru(cor_eval *e, cor_table *t)
{
    if (t->count < 2)
        return 0;
    cor_group **v = malloc(t->count * sizeof(*v));
    if (!v)
        return -ENOMEM;
    uint32_t n = 0;
    for (cor_group *g = t->head; g && n < t->count; g = g->next)
        v[n++] = g;
    qsort(v, n, sizeof(*v), cor_lru_cmp);
    t->head = t->tail = NULL;
    for (uint32_t i = 0; i < n; i++) {
        v[i]->prev = v[i]->next = NULL;
        cor__lru_link(e, t, v[i]);
    }
    free(v);
    return 0;
}

/* vg_meta_keys' callback over "cor.degraded." and "cor.evicted.": the
 * degradation memory of a rule not in the set (removed while the
 * correlator was stopped) goes at the next flush, as its groups do; kept, a
 * restart that lists the rule again within the hour would take up its
 * stale alert time and count. */
static int cor_degraded_orphan(void *ud, const char *key, size_t len)
{
    cor_eval *e = ud;
    size_t pl = strlen(key[4] == 'd' ? "cor.degraded." : "cor.evicted.");
    char id[COR_RULE_ID_MAX + 1];
    if (len <= pl || len - pl > COR_RULE_ID_MAX)
        return 0;
    memcpy(id, key + pl, len - pl);
    id[len - pl] = '\0';
    int ri = cor_rules_find(e->rs, id);
    if (ri < 0 || !cor_stateful(&e->rs->rules[ri]))
        return cor__del_push(e, id, "", 0, 1) ? 1 : 0;
    return 0;
}

int cor_eval_stored_groups(cor_eval *e, const uint8_t *want,
                           int (*fn)(void *ud, uint32_t ri, const cor_group_view *gv), void *ud)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = vg_store_read_begin(e->st, &txn);
    if (rc)
        return rc;
    if ((rc = mdb_cursor_open(txn, e->dbi, &cur))) {
        vg_store_read_end(e->st, txn);
        return -rc;
    }
    for (uint32_t ri = 0; rc == 0 && ri < e->rs->n; ri++) {
        const cor_rule *r = &e->rs->rules[ri];
        cor_table *t = &e->tables[ri];
        size_t il = strlen(r->id) + 1; /* the rule's keys: "ID\0KEY" */
        if (!want[ri] || !cor_stateful(r) || r->kind == COR_MATCH || il > COR_STATE_KEY_MAX)
            continue;
        MDB_val k = {il, (void *)r->id}, v;
        int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        for (; mrc == 0 && k.mv_size >= il && memcmp(k.mv_data, r->id, il) == 0;
             mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            int urc = cor_group_unpack(e, r, t, (const char *)k.mv_data + il, k.mv_size - il,
                                       v.mv_data, v.mv_size);
            if (urc == VG_ESTATE)
                continue; /* a start drops it: a rule changed since, or not ours */
            if (urc) {
                rc = urc;
                break;
            }
            cor_group *g = t->head; /* the only one */
            cor_group_view gv;
            cor__group_view(r, g, &gv);
            rc = fn(ud, ri, &gv);
            cor__table_remove(e, t, g);
            cor__group_free(e, g);
            if (rc)
                break;
        }
        if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
            rc = -mrc;
    }
    mdb_cursor_close(cur);
    vg_store_read_end(e->st, txn);
    return rc;
}

/* Loads persisted state for the current rules; state of rules that are
 * gone or changed is deleted. */
int cor__state_load(cor_eval *e)
{
    MDB_txn *txn;
    int rc = vg_store_read_begin(e->st, &txn);
    if (rc)
        return rc;
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, e->dbi, &cur))) {
        vg_store_read_end(e->st, txn);
        return -rc;
    }
    MDB_val k, v;
    size_t loaded = 0, dropped = 0;
    /* the keys of one rule are together (they start with its id): one
     * line per rule whose groups are dropped, when the next rule starts */
    char run_id[COR_STATE_KEY_MAX + 1] = "";
    uint64_t run_n = 0;
    cor_drop_why run_why = COR_DROP_CHANGED;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        const char *key = k.mv_data;
        const char *nul = memchr(key, '\0', k.mv_size);
        int ri = nul ? cor_rules_find(e->rs, key) : -1;
        int ok = ri >= 0 && cor_stateful(&e->rs->rules[ri]) &&
                 cor_group_unpack(e, &e->rs->rules[ri], &e->tables[ri], nul + 1,
                                  k.mv_size - (size_t)(nul + 1 - key), v.mv_data, v.mv_size) == 0;
        if (ok) {
            loaded++;
        } else {
            dropped++;
            const char *id = nul ? key : "(a key without a rule id)";
            if (run_n && strcmp(run_id, id) != 0) {
                cor_state_dropped_log(run_id, run_n, run_why);
                run_n = 0;
            }
            if (!run_n)
                snprintf(run_id, sizeof(run_id), "%s", id);
            run_n++;
            run_why = ri < 0                               ? COR_DROP_REMOVED
                      : !cor_stateful(&e->rs->rules[ri]) ? COR_DROP_STATELESS
                                                          : COR_DROP_CHANGED;
            cor__del_push(e, nul ? key : "", nul ? nul + 1 : key,
                         nul ? k.mv_size - (size_t)(nul + 1 - key) : k.mv_size, 0);
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (run_n)
        cor_state_dropped_log(run_id, run_n, run_why);
    mdb_cursor_close(cur);
    vg_store_read_end(e->st, txn);
    for (size_t i = 0; i < e->rs->n && (rc == 0 || rc == MDB_NOTFOUND); i++)
        if (cor_table_sort_lru(e, &e->tables[i]) != 0)
            rc = ENOMEM; /* returned as -ENOMEM below */
    for (size_t i = 0; i < e->rs->n; i++) {
        const cor_rule *r = &e->rs->rules[i];
        char dk[600];
        uint64_t at = 0, ev = 0, hash = 0;
        if (!cor_stateful(r))
            continue;
        int has_at = cor__degraded_key(r->id, "degraded", dk, sizeof(dk)) == 0 &&
                     vg_meta_get_u64(e->st, dk, &at) == 0 && at;
        /* absent in a store of an older version: counted from 0, as then */
        int has_ev = cor__degraded_key(r->id, "evicted", dk, sizeof(dk)) == 0 &&
                     vg_meta_get_u64(e->st, dk, &ev) == 0 && ev;
        if (!has_at && !has_ev)
            continue;
        /* of another definition (changed while stopped): not this rule's,
         * overwritten at the next flush; no hash (stored before it was
         * kept): taken as this rule's, as then, and the hash recorded */
        int has_hash = cor__degraded_key(r->id, "dghash", dk, sizeof(dk)) == 0 &&
                       vg_meta_get_u64(e->st, dk, &hash) == 0 && hash;
        e->tables[i].degraded_dirty = !has_hash || hash != r->hash;
        if (has_hash && hash != r->hash)
            continue;
        e->tables[i].degraded_at = (int64_t)at;
        e->tables[i].evicted = e->tables[i].evicted_stored = ev;
    }
    if ((rc == 0 || rc == MDB_NOTFOUND) &&
        (vg_meta_keys(e->st, "cor.degraded.", cor_degraded_orphan, e) == 1 ||
         vg_meta_keys(e->st, "cor.evicted.", cor_degraded_orphan, e) == 1))
        rc = ENOMEM; /* returned as -ENOMEM below */
    uint64_t wm = 0;
    vg_meta_get_u64(e->st, "cor.watermark", &wm);
    e->wm = (int64_t)wm;
    uint64_t clk = 0; /* absent in a store of an older version: the watermark */
    vg_meta_get_u64(e->st, "cor.clock", &clk);
    e->clock = (int64_t)clk > e->wm ? (int64_t)clk : e->wm;
    uint64_t ac = 0;
    e->absence_checked =
        vg_meta_get_u64(e->st, "cor.absence_checked", &ac) == 0 && ac ? (int64_t)ac : e->wm;
    if (loaded || dropped)
        vg_info("correlation state: %zu groups restored, %zu dropped (rule gone or changed)",
                loaded, dropped);
    return rc == MDB_NOTFOUND ? 0 : -rc;
}
