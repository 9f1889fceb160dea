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
    uint64_t groups = cor_eval_get_stats(c->eval)->groups;
    size_t want = groups / COR_ROOM_PART < COR_ROOM_MIN ? COR_ROOM_MIN
                                                          : (size_t)(groups / COR_ROOM_PART);
    size_t n = cor_eval_shed_pick(c->eval, want);
    if (!n)
        return VG_EFULL;
    /* The deletes copy the pages they touch: a transaction may take the
     * reserve (deletes append nothing), so about half of it in deletes, one
     * page each at worst, fewer after a delete finds no room; each followed
     * by a nudge, so that the next one can use what it freed. */
    uint64_t t0 = uv_hrtime();
    size_t chunk = vg_store_reserve(c->store) / 2, done = 0;
    unsigned txns = 0;
    int rc = 0;
    if (chunk == 0)
        chunk = 1;
    while (done < n) {
        size_t to = n - done > chunk ? done + chunk : n;
        rc = vg_store_begin(c->store);
        if (rc == 0)
            rc = cor_eval_shed_delete(c->eval, done, to);
        rc = rc ? (vg_store_abort(c->store), rc) : vg_store_commit(c->store);
        if (rc == 0) {
            cor_eval_shed_drop(c->eval, done, to); /* gone from the store: from memory too */
            done = to;
            txns++;
            vg_store_nudge(c->store);
            continue;
        }
        if (rc != VG_EFULL || chunk == 1)
            break;
        chunk /= 2;
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

int cor_room_rewrite(cor *c)
{
    /* the same records, in the same order: the queue numbers them as
     * before, so each keeps the id it was made with (cor_on_alert) */
    int rc = 0;
    size_t off = 0, len = c->pending.size;
    while (rc == 0 && off + sizeof(uint32_t) <= len) {
        uint32_t n;
        memcpy(&n, c->pending.data + off, sizeof(n));
        off += sizeof(n);
        rc = vg_queue_append(c->outbox, c->pending.data + off, n, NULL);
        off += n;
    }
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
