/* A full state store degrades detection instead of stopping it. A batch
 * (or a clock tick) whose transaction the store refuses for want of room
 * (VG_EFULL) has run whole in memory: its alerts are made, its groups
 * updated. Rather than drop all that, reload the whole state and have the
 * collector send the batch again (every 5 s, every batch refused while the
 * store stays full: detection stopped for everyone), the oldest groups of
 * all rules are evicted (cor_shed.c) and the batch's writes are made again
 * in a new transaction: the same alert records under the same ids, its
 * state, and the degradation alerts that name each rule that lost groups.
 * See docs/rules.md, "When the state store is full". */
#include <inttypes.h>
#include <string.h>

#include "cor.h"
#include "vigil/err.h"
#include "vigil/log.h"

/* Each round evicts a tenth of the groups (at least COR_ROOM_MIN), the
 * least recently updated of all rules: the state then holds about 90% of
 * what filled the store, so that it fills again only after as many new
 * groups came, not at the next batch. A round that is not enough is
 * followed by another (vg_receiver_cfg.on_full). */
#define COR_ROOM_PART 10
#define COR_ROOM_MIN 64
/* Pages a transaction of deletes touches at most (cor_room_make): about
 * half the reserve at 1 GiB; a commit whose list of freed pages finds no
 * room halves it for the rest of the round */
#define COR_ROOM_PAGES 512
/* Transactions of deletes that find no room, in a row, before a round
 * gives up (each with fewer deletes) */
#define COR_ROOM_TRIES 8

int cor_room_keep(cor *c, const void *rec, size_t len)
{
    uint32_t n = (uint32_t)len;
    if (msgpack_sbuffer_write(&c->pending, (const char *)&n, sizeof(n)) != 0 ||
        msgpack_sbuffer_write(&c->pending, rec, len) != 0)
        return -ENOMEM;
    return 0;
}

int cor_room_make(cor *c)
{
    /* an outbox that holds half the store is the shipper's backlog: the
     * batches wait for it as before (nothing lost), rather than the state
     * making room for alerts that are not taken */
    if (!c->ran || vg_queue_bytes(c->outbox) * 2 >= c->conf.state_size)
        return VG_EFULL;
    /* the pages that the last commits freed (a trim, as the shippers took
     * the outbox) are usable only after a commit more: the failed one's
     * nudge (vg_store_commit) made them so, and one more try of the batch
     * may find them, where evicting would cost groups for nothing */
    if (!c->room_tried) {
        c->room_tried = 1;
        return 0;
    }
    uint64_t groups = cor_eval_get_stats(c->eval)->groups;
    size_t want = groups / COR_ROOM_PART < COR_ROOM_MIN ? COR_ROOM_MIN
                                                          : (size_t)(groups / COR_ROOM_PART);
    size_t n = cor_eval_shed_pick(c->eval, want);
    if (!n)
        return VG_EFULL;
    /* The deletes copy the pages they touch, which a transaction of deletes
     * may take from the reserve, and its commit lists the pages it freed
     * (LMDB's free list). The picks are in the order of their keys, so that
     * a run of them on one leaf page copies it once: a transaction takes
     * deletes until they have touched COR_ROOM_PAGES pages at most, as
     * counted by cor_eval_shed_delete (a list of more wants runs of free
     * pages that a full store may not have: such commits failed), and
     * while LMDB has a margin left for its commit and the nudge that makes
     * what it freed usable, asked every few deletes. A transaction that
     * fails anyway is tried again with fewer deletes between the checks
     * (each abort nudges, so a try may find what the last commits freed).
     * A commit syncs once (vg_store_begin_deletes). */
    uint64_t t0 = uv_hrtime();
    size_t reserve = vg_store_reserve(c->store), margin = 8 + reserve / 2;
    size_t budget = reserve / 2 < COR_ROOM_PAGES ? reserve / 2 : COR_ROOM_PAGES;
    size_t step = margin / 8, done = 0;
    unsigned txns = 0, fails = 0;
    int rc = 0;
    if (step == 0)
        step = 1;
    if (budget == 0)
        budget = 1;
    while (done < n) {
        size_t at = done, pages = 0;
        rc = vg_store_begin_deletes(c->store);
        while (rc == 0 && at < n && pages < budget) {
            size_t to = n - at > step ? at + step : n;
            if ((rc = cor_eval_shed_delete(c->eval, at, to, budget, &at, &pages)) != 0)
                break;
            int room = at < n && pages < budget ? vg_store_room_left(c->store, margin) : 1;
            if (room <= 0) {
                rc = room; /* 0: this transaction is full, it commits */
                break;
            }
        }
        if (rc == 0 && at == done)
            rc = VG_EFULL; /* cannot be (the first pick always goes): never loop */
        if (rc == 0)
            rc = cor_eval_shed_count(c->eval, done, at);
        rc = rc ? (vg_store_abort(c->store), rc) : vg_store_commit(c->store);
        if (rc == 0) {
            cor_eval_shed_drop(c->eval, done, at); /* gone from the store: from memory too */
            done = at;
            txns++;
            fails = 0;
            vg_store_nudge(c->store);
            continue;
        }
        if (rc != VG_EFULL || ++fails > COR_ROOM_TRIES)
            break;
        step = step > 1 ? step / 2 : 1;
        budget = budget > 1 ? budget / 2 : 1;
    }
    vg_store_nudge(c->store); /* what the last delete freed: usable by the batch */
    /* committed, whatever becomes of the batch: a refusal's reload keeps
     * them counted (the store has their counts, cor_eval_shed_delete) */
    c->eval_mark.evictions += done;
    if (done)
        vg_warn("state store full (correlator.state_size %" PRIu64 " MiB): evicted the %zu "
                "least recently updated groups of %" PRIu64 ", across rules, in %u "
                "transactions (%.1f ms), so that the batch commits; %" PRIu64
                " groups remain. Detection is degraded: the vigil.correlation_degraded alert "
                "names each rule that lost groups (at most one an hour per rule)",
                c->conf.state_size >> 20, done, groups, txns, (double)(uv_hrtime() - t0) / 1e6,
                cor_eval_get_stats(c->eval)->groups);
    else
        vg_error("state store full: cannot evict groups to make room: %s", vg_strerror(rc));
    return done ? 0 : VG_EFULL;
}

/* The alerts kept in pending appended again, in the same order: the
 * queue numbers them as before (an abort set it back), so each keeps the
 * id it was made with (cor_engine_emit). */
static int cor_room_append(cor *c)
{
    int rc = 0;
    size_t off = 0, len = c->pending.size;
    while (rc == 0 && off + sizeof(uint32_t) <= len) {
        uint32_t n;
        memcpy(&n, c->pending.data + off, sizeof(n));
        off += sizeof(n);
        rc = vg_queue_append(c->outbox, c->pending.data + off, n, NULL);
        off += n;
    }
    return rc;
}

int cor_room_begin(cor *c)
{
    c->room_tried = 0;
    if (c->holding)
        return cor_room_append(c);
    c->stats_mark = c->stats;
    c->eval_mark = *cor_eval_get_stats(c->eval);
    msgpack_sbuffer_clear(&c->pending);
    return 0;
}

int cor_room_hold(cor *c)
{
    if (!c->ran)
        return 0;
    /* what the refused flush wrote is to be written again (as for a
     * rewrite): its groups back on the dirty list, its deletes kept */
    cor_eval_unflushed(c->eval);
    c->holding = 1; /* c->ran stays: a next transaction that fails before
                       it runs anything leaves the memory as valid */
    return 1;
}

int cor_room_rewrite(cor *c)
{
    int rc = cor_room_append(c);
    if (rc == 0)
        rc = cor_eval_shed_alerts(c->eval, cor_engine_emit, c);
    cor_eval_unflushed(c->eval);
    return rc ? rc : cor_eval_flush(c->eval);
}

int cor_room_retry(cor *c, int rc)
{
    for (int round = 0; rc == VG_EFULL && round < 32; round++) {
        if (cor_room_make(c) != 0 || (rc = vg_store_begin(c->store)) != 0)
            return VG_EFULL;
        rc = cor_room_rewrite(c);
        rc = rc ? (vg_store_abort(c->store), rc) : vg_store_commit(c->store);
    }
    return rc;
}
