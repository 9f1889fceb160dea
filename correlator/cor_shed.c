/* Room in a full state store: the groups least recently updated, across
 * every rule, are evicted as max_groups evicts a rule's own (counted per
 * rule, with the rule's degradation alert), so that detection goes on,
 * degraded, where a full store used to refuse every batch (cor_room.c
 * drives it; docs/rules.md, "When the state store is full").
 *
 * Their records are deleted first, in transactions of their own that
 * commit before the groups leave memory: memory never lacks a group that
 * the store still holds, so what a restart would load is what runs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cor_eval_int.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/store.h"

/* Room for n picks. 0, or -ENOMEM. */
static int cor_shed_room(cor_eval *e, size_t n)
{
    if (n <= e->capshed)
        return 0;
    struct cor_shed_pick *v = realloc(e->shed, n * sizeof(*v));
    if (!v)
        return -ENOMEM;
    e->shed = v;
    e->capshed = n;
    return 0;
}

/* The order of stored keys (rule id, NUL, group key: cor__state_key,
 * compared as LMDB does, bytes then length), so that a transaction's
 * deletes in a row fall on the same leaf pages, each copied once: picked
 * in update order, they touched a page each. A key stored as its hash (a
 * long one) sorts by its own bytes: only their place is off. */
static int cor_shed_cmp(const void *a, const void *b)
{
    const struct cor_shed_pick *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    size_t n = x->g->keylen < y->g->keylen ? x->g->keylen : y->g->keylen;
    int c = memcmp(x->g->key, y->g->key, n);
    if (c)
        return c;
    return (x->g->keylen > y->g->keylen) - (x->g->keylen < y->g->keylen);
}

/* The picks in the order of their stored keys (cor_shed_cmp). */
static void cor_shed_sort(cor_eval *e, uint32_t *order)
{
    size_t nt = e->rs->n;
    /* the rules by id: an insertion sort (a full store is rare, and
     * qsort would want the rule set in a global) */
    for (size_t i = 0; i < nt; i++) {
        size_t j = i;
        for (; j > 0 && strcmp(e->rs->rules[order[j - 1]].id, e->rs->rules[i].id) > 0; j--)
            order[j] = order[j - 1];
        order[j] = (uint32_t)i;
    }
    uint32_t *rank = malloc((nt ? nt : 1) * sizeof(*rank));
    if (!rank)
        return; /* left in update order: slower, as correct */
    for (size_t i = 0; i < nt; i++)
        rank[order[i]] = (uint32_t)i;
    for (size_t i = 0; i < e->nshed; i++)
        e->shed[i].rank = rank[e->shed[i].ri];
    free(rank);
    qsort(e->shed, e->nshed, sizeof(*e->shed), cor_shed_cmp);
}

/* A merge of the rules' LRU lists from their tails (each is in update
 * order, cor_group.touch): the oldest of their oldest, n times. One pass
 * over the tables per pick: rare (a full store), and a heap would not pay
 * below some thousands of rules. Then sorted by stored key. */
size_t cor_eval_shed_pick(cor_eval *e, size_t n)
{
    e->nshed = 0;
    size_t nt = e->rs->n;
    cor_group **at = calloc(nt ? nt : 1, sizeof(*at));
    if (!at || cor_shed_room(e, n) != 0) {
        free(at);
        return 0;
    }
    for (size_t i = 0; i < nt; i++)
        at[i] = cor_stateful(&e->rs->rules[i]) ? e->tables[i].tail : NULL;
    while (e->nshed < n) {
        size_t best = nt;
        for (size_t i = 0; i < nt; i++)
            if (at[i] && (best == nt || at[i]->touch < at[best]->touch ||
                          (at[i]->touch == at[best]->touch && at[i]->last_us < at[best]->last_us)))
                best = i;
        if (best == nt)
            break; /* every group is picked */
        e->shed[e->nshed++] = (struct cor_shed_pick){at[best], (uint32_t)best, 0};
        at[best] = at[best]->prev;
    }
    /* at's room serves as the order of the rules (one slot per rule) */
    cor_shed_sort(e, (uint32_t *)at);
    free(at);
    return e->nshed;
}

int cor_eval_shed_delete(cor_eval *e, size_t from, size_t to, size_t max_pages, size_t *next,
                         size_t *pages)
{
    MDB_txn *txn = vg_store_txn(e->st); /* not vg_store_write_txn: deletes use the reserve */
    if (!txn)
        return -EINVAL;
    if (to > e->nshed)
        to = e->nshed;
    if (*pages == 0)
        e->shed_follow_len = 0; /* a new transaction: no page copied yet */
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, e->dbi, &cur);
    if (rc)
        return rc > 0 ? -rc : rc;
    char key[COR_STATE_KEY_MAX + 1];
    size_t i = from;
    for (; i < to && rc == 0; i++) {
        const cor_group *g = e->shed[i].g;
        int hashed = 0;
        size_t kl = cor__state_key(e->rs->rules[e->shed[i].ri].id, g->key, g->keylen, key,
                                   sizeof(key), &hashed);
        if (kl == 0)
            continue; /* never stored */
        /* a key that follows the last one deleted is on its page (or the
         * next): any other may be on a page not copied yet */
        int near = e->shed_follow_len == kl && memcmp(e->shed_follow, key, kl) == 0;
        if (!near && *pages >= max_pages)
            break;
        MDB_val k = {kl, key}, v;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
        if (rc == MDB_NOTFOUND) { /* made by the batch, not committed */
            rc = 0;
            continue;
        }
        if (rc == 0)
            rc = mdb_cursor_del(cur, 0);
        if (rc)
            break;
        *pages += !near;
        e->shed_follow_len = 0;
        if (mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT) == 0 && k.mv_size <= sizeof(e->shed_follow)) {
            memcpy(e->shed_follow, k.mv_data, k.mv_size);
            e->shed_follow_len = k.mv_size;
        }
    }
    mdb_cursor_close(cur);
    *next = i;
    if (rc == MDB_MAP_FULL)
        return VG_EFULL;
    return rc > 0 ? -rc : rc;
}

int cor_eval_shed_count(cor_eval *e, size_t from, size_t to)
{
    if (!vg_store_txn(e->st))
        return -EINVAL;
    if (to > e->nshed)
        to = e->nshed;
    uint32_t *per = calloc(e->rs->n ? e->rs->n : 1, sizeof(*per));
    if (!per)
        return -ENOMEM;
    for (size_t i = from; i < to; i++)
        per[e->shed[i].ri]++;
    char key[COR_STATE_KEY_MAX + 1];
    int rc = 0;
    /* each rule's count, with the deletes: a restart (or the reload of a
     * batch refused after all) counts them, as it lacks the groups */
    for (size_t ri = 0; ri < e->rs->n && rc == 0; ri++) {
        if (!per[ri])
            continue;
        const cor_rule *r = &e->rs->rules[ri];
        if (cor__degraded_key(r->id, "evicted", key, sizeof(key)) == 0)
            rc = vg_meta_put_u64(e->st, key, e->tables[ri].evicted_stored + per[ri]);
        if (rc == 0 && cor__degraded_key(r->id, "dghash", key, sizeof(key)) == 0)
            rc = vg_meta_put_u64(e->st, key, r->hash);
    }
    free(per);
    if (rc == MDB_MAP_FULL)
        return VG_EFULL;
    return rc > 0 ? -rc : rc;
}

void cor_eval_shed_drop(cor_eval *e, size_t from, size_t to)
{
    for (size_t i = from; i < to && i < e->nshed; i++) {
        cor_group *g = e->shed[i].g;
        cor_rule *r = &e->rs->rules[e->shed[i].ri];
        cor_table *t = &e->tables[e->shed[i].ri];
        cor__table_remove(e, t, g);
        cor__group_free(e, g);
        e->shed[i].g = NULL;
        r->evictions++;
        e->stats.evictions++;
        t->evicted++; /* the alert's "so far", committed with the batch */
        t->evicted_stored++; /* as cor_eval_shed_delete stored it */
        t->degraded_dirty = 1;
        t->shed = 1;
    }
}

int cor_eval_shed_alerts(cor_eval *e, cor_emit_fn emit, void *ud)
{
    int rc = 0;
    for (size_t i = 0; i < e->rs->n && rc == 0; i++) {
        cor_table *t = &e->tables[i];
        if (!t->shed)
            continue;
        t->shed = 0;
        rc = cor__degraded(e, &e->rs->rules[i], t, e->wm > 0 ? e->wm : e->clock, 1, emit, ud);
    }
    return rc;
}
