/* The live engine: one EVENTS batch in -> rules -> alerts appended to the
 * outbox, correlation state and the stream's position, all committed in one
 * LMDB transaction -> ACK to the collector -> the sender ships the outbox.
 *
 * Because the input position and everything it caused commit together, a
 * kill at any instant leaves either both or neither: after a restart the
 * collector re-sends from the committed position, the state is the one of
 * that position, and the alerts come out as in an uninterrupted run. */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cor.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/util.h"
#include "vigil/wire.h"

#define COR_TICK_MS 5000

/* Appends one alert. Its id is the outbox epoch (queue.outbox.epoch, as its
 * sender has it: a sender renews it when its shipper shows the store is an
 * older copy) and the seq it is about to get: unique, and the same on every
 * re-delivery of the record. */
int cor_engine_emit(void *ud, const vg_alert *in)
{
    cor *c = ud;
    vg_alert al = *in;
    char id[33];
    uint64_t epoch = c->primary ? vg_sender_epoch(c->primary) : c->epoch;
    snprintf(id, sizeof(id), "%016" PRIx64 "%016" PRIx64, epoch, vg_queue_last(c->outbox) + 1);
    al.id = vg_str_n(id, 32);
    msgpack_sbuffer_clear(&c->rec);
    int rc = vg_wire_pack_alert(&c->rec, &al);
    if (rc == 0)
        rc = vg_queue_append(c->outbox, c->rec.data, c->rec.size, NULL);
    if (rc == 0)
        rc = cor_room_keep(c, c->rec.data, c->rec.size);
    if (rc == 0)
        c->stats.alerts++;
    return rc;
}

/* Once a minute at most: true, and *last = now, if the last time was a
 * minute or more before now. */
static bool cor_warn_due(int64_t *last, int64_t now)
{
    if (now - *last < 60 * 1000000LL)
        return false;
    *last = now;
    return true;
}

/* The warning times of collector name, in a slot found by its name or
 * taken for it (a free one, else the one looked up least recently). */
static cor_skew_warned *cor_skew_slot(cor *c, const char *name, int64_t now)
{
    cor_skew_warned *w = &c->skew[0];
    for (int i = 0; i < COR_SKEW_STREAMS; i++) {
        cor_skew_warned *s = &c->skew[i];
        if (strcmp(s->name, name) == 0) {
            s->used_us = now;
            return s;
        }
        if (s->used_us < w->used_us)
            w = s; /* a free slot (used_us 0) or the least recently used */
    }
    memset(w, 0, sizeof(*w));
    snprintf(w->name, sizeof(w->name), "%s", name);
    w->used_us = now;
    return w;
}

/* Arrival times are the collector's clock, and the engine judges them and
 * the events' own times by this host's clock (cor_eval_set_now, before the
 * batch runs; cor_event_time in cor_eval.c). A collector whose clock runs
 * ahead or lags is named in the log once a minute at most for each (if it
 * is this host's clock that is wrong, every collector is), and so is a
 * device whose stamps run far past their arrival (their time not trusted).
 * Each collector is timed apart: with one timer for all, a busy agency's
 * wrong clock, warned about first every minute, kept another's from ever
 * being named. */
static void cor_warn_skew(cor *c, const vg_rstream *st, int64_t now)
{
    int64_t ahead, behind;
    cor_eval_skew(c->eval, &ahead, &behind);
    const cor_eval_stats *es = cor_eval_get_stats(c->eval);
    const char *name = st ? st->name : "?";
    const char *host;
    int64_t dev = cor_eval_device_ahead(c->eval, &host);
    if (!ahead && !behind && !dev)
        return;
    cor_skew_warned *w = cor_skew_slot(c, name, now);
    if (ahead && cor_warn_due(&w->ahead_us, now))
        vg_warn("collector %s stamps arrivals up to %lld s past this host's clock, so one of the "
                "two clocks is wrong (check the time sync of both): %llu events in all have "
                "taken this host's time as their arrival",
                name, (long long)((ahead + 500000) / 1000000),
                (unsigned long long)es->clock_ahead);
    if (behind && cor_warn_due(&w->behind_us, now))
        vg_warn("collector %s stamps arrivals up to %lld s before the events' own times, which "
                "agree with this host's clock: its clock may lag (check its time sync); %llu "
                "events in all have kept their own times",
                name, (long long)((behind + 500000) / 1000000),
                (unsigned long long)es->clock_behind);
    if (dev && cor_warn_due(&w->device_us, now))
        vg_warn("host %s (via collector %s) stamps events up to %lld s past their arrival: its "
                "clock runs ahead, or its stamps are wrong (check its time sync); %llu events in "
                "all have taken their arrival time instead of their own",
                host[0] ? host : "-", name, (long long)((dev + 500000) / 1000000),
                (unsigned long long)es->device_ahead);
}

/* Runs the rules over the new events of one batch, inside the receiver's
 * write transaction: alerts, state and position commit together. */
static int cor_on_batch(void *ud, vg_rstream *st, const vg_msg *m, uint32_t skip)
{
    cor *c = ud;
    int rc = cor_room_begin(c); /* a held batch's alerts first, under their ids */
    if (rc)
        return rc;
    c->last_batch_us = vg_now_us();
    for (uint32_t i = skip; i < m->count; i++) {
        c->stats.events++;
        if (m->events[i].flags & VG_EV_MALFORMED)
            c->stats.malformed_in++;
    }
    cor_eval_set_now(c->eval, c->last_batch_us);
    rc = skip < m->count ? cor_eval_events(c->eval, &m->events[skip], m->count - skip,
                                               cor_engine_emit, c)
                             : 0;
    c->ran = rc == 0; /* whole: a full store's commit can be made again (cor_room.c) */
    if (rc == 0 && skip < m->count) {
        cor_warn_skew(c, st, c->last_batch_us);
        c->ref_event_us = cor_eval_watermark(c->eval);
        c->ref_mono_ns = uv_hrtime();
    }
    return rc ? rc : cor_eval_flush(c->eval);
}

static void cor_kick(cor *c)
{
    for (int i = 0; i < c->nsenders; i++)
        vg_sender_kick(c->sender[i]);
}

static void cor_on_commit(void *ud)
{
    cor *c = ud;
    cor_eval_committed(c->eval);
    msgpack_sbuffer_clear(&c->pending);
    c->ran = 0;
    c->holding = 0;
    cor_kick(c);
}

/* vg_receiver_cfg.on_full and on_rewrite: cor_room.c. */
static int cor_on_full(void *ud)
{
    return cor_room_make(ud);
}

static int cor_on_rewrite(void *ud)
{
    return cor_room_rewrite(ud);
}

/* vg_receiver_cfg.on_hold: a refused batch that ran whole stays in memory
 * (cor_room_hold), where it was taken back by loading the whole state
 * again at every refusal (seconds at a large state, every 5 s while the
 * outbox stays full); the receiver does not run it again when it is
 * re-sent, and the next commit writes it with its position. A kill leaves
 * the store without it, as before: the collector sends it again. */
static int cor_on_hold(void *ud)
{
    return cor_room_hold(ud);
}

/* The transaction that ran a batch (or a tick) was aborted, e.g. because
 * the outbox was full: the store is as it was, but the groups in memory saw
 * the events, and the collector will send them again. The state is loaded
 * again from the store, so that they count once. Without that state the
 * process cannot go on correctly: a failed reload stops it (a restart loads
 * the same state). */
static void cor_on_abort(void *ud)
{
    cor *c = ud;
    c->stats = c->stats_mark; /* taken before the first held one, if any */
    msgpack_sbuffer_clear(&c->pending);
    c->ran = 0;
    c->holding = 0;
    int rc = cor_eval_reload(&c->eval, &c->eval_mark);
    if (rc == 0)
        cor_mem_rebase(&c->mem, c->eval); /* a new engine: its churn starts at 0 */
    if (rc) {
        vg_error("cannot load the correlation state again after an aborted transaction: %s; "
                 "stopping (a restart loads it)", vg_strerror(rc));
        vg_daemon_fail(c->d, 3);
    }
}

/* The wall clock, but never past the event time the last batch reached
 * carried on by the monotonic clock: a host clock far ahead (a machine that
 * booted with a wrong clock) would otherwise take the absence rules hours
 * ahead and report every host silent. With synchronised clocks the two
 * agree (the event time lags by the events' transit); with none seen
 * since the start, the wall clock alone. */
static int64_t cor_tick_time(const cor *c, int64_t wall)
{
    if (!c->ref_mono_ns)
        return wall;
    int64_t carried = c->ref_event_us + (int64_t)((uv_hrtime() - c->ref_mono_ns) / 1000);
    return carried < wall ? carried : wall;
}

/* With no events, time still passes: absence rules need the clock. The
 * wall clock (cor_tick_time) minus the allowed lateness stands for event
 * time only when the input is caught up — every connected collector
 * reports an empty spool — and nothing arrived for two ticks: while a
 * backlog drains after an outage, hosts are not silent, only queued. */
/* Once a tick: when COR_TRIM_BYTES of groups were freed since the last
 * trim (a flood's, swept in the batches or ticks since, evicted, or
 * dropped by a rule reload), gives the memory glibc holds for them back to
 * the system (cor_mem.h), and says so with the figures: the RSS a flood
 * took otherwise stayed at its peak. */
static void cor_mem_tick(cor *c)
{
    cor_mem_trim t;
    if (!cor_mem_check(&c->mem, c->eval, COR_TRIM_BYTES, &t))
        return;
    char rss[96] = "";
    if (t.rss_before_kib >= 0 && t.rss_after_kib >= 0)
        snprintf(rss, sizeof(rss), ": resident %.1f MiB -> %.1f MiB",
                 (double)t.rss_before_kib / 1024, (double)t.rss_after_kib / 1024);
    vg_info("memory: %.1f MiB of groups freed since the last trim (swept, evicted or dropped by a "
            "reload), %llu groups held now: given back to the system (malloc_trim)%s",
            (double)t.freed / (1 << 20), (unsigned long long)t.live, rss);
}

static void cor_on_tick(uv_timer_t *t)
{
    cor *c = t->data;
    cor_mem_tick(c);
    int64_t wall = vg_now_us(), now = cor_tick_time(c, wall) - c->rules->lateness_us;
    int quiet = wall - c->last_batch_us > 2 * COR_TICK_MS * 1000;
    if (now <= cor_eval_watermark(c->eval) || !quiet || !vg_receiver_caught_up(c->receiver))
        return;
    if (vg_receiver_holding(c->receiver)) {
        /* every collector connected is caught up, so the one whose refused
         * batch is held is gone (the tick cannot write its position): the
         * batch is dropped, the state loaded again as before session 30,
         * and the clock goes on at the next tick */
        vg_receiver_drop_held(c->receiver);
        return;
    }
    int rc = vg_store_begin(c->store);
    if (rc) {
        vg_error("state commit on the clock tick failed: %s", vg_strerror(rc));
        return;
    }
    rc = cor_room_begin(c); /* a held tick's alerts first */
    if (rc == 0)
        rc = cor_eval_tick(c->eval, now, cor_engine_emit, c);
    c->ran = rc == 0;
    if (rc == 0)
        rc = cor_eval_flush(c->eval);
    rc = rc ? (vg_store_abort(c->store), rc) : vg_store_commit(c->store);
    if (rc == VG_EFULL)
        rc = cor_room_retry(c, rc); /* a full store: room from the oldest groups */
    if (rc == 0)
        cor_on_commit(c);
    else {
        vg_error("state commit on the clock tick failed: %s", vg_strerror(rc));
        if (!cor_room_hold(c)) /* held: the next tick or batch writes it */
            cor_on_abort(c);
    }
}

static uint32_t cor_stats_fn(void *ud, vg_stat *out, uint32_t cap)
{
    cor *c = ud;
    const vg_receiver_stats *rs = vg_receiver_get_stats(c->receiver);
    const cor_eval_stats *es = cor_eval_get_stats(c->eval);
    const vg_stat all[] = {
        {"events", c->stats.events},     {"malformed_in", c->stats.malformed_in},
        {"alerts", c->stats.alerts},     {"duplicates", rs->duplicates},
        {"commit_errors", rs->commit_errors},
        {"outbox", vg_queue_count(c->outbox)},
        {"late", es->late},              {"evictions", es->evictions},
        {"groups", es->groups},          {"trimmed", es->trimmed},
        {"clock_ahead", es->clock_ahead},  {"clock_behind", es->clock_behind},
        {"device_ahead", es->device_ahead},
    };
    uint32_t n = sizeof(all) / sizeof(all[0]);
    if (n > cap)
        n = cap;
    memcpy(out, all, n * sizeof(*out));
    return n;
}

/* The meta key under which sender s's position is recorded (its
 * vg_sender_cfg.listed_key), or NULL while its shipper has not answered a
 * HELLO in this run: its vg_sender_acked is then the outbox's first seq - 1,
 * not what the shipper has (one left out of the list before has less). */
static const char *cor_position_key(vg_sender *s)
{
    return vg_sender_get_stats(s)->reconnects ? vg_sender_listed_key(s) : NULL;
}

/* The senders' acked_fn (vg_sender_cfg): every shipper reads the one
 * outbox, and a record leaves it only once each has acknowledged it, at
 * the lowest seq they have. A shipper that is down holds the outbox (it
 * fills, and the correlator's backpressure stops taking events) until it
 * comes back or its socket is removed from the configuration (a SIGHUP:
 * cor_senders_reload; only the running senders count here).
 * Retried on the next tick while the store cannot commit (a full disk):
 * the first failure is a warning, then one a minute; nothing is lost. */
static void cor_outbox_trim(void *ud)
{
    cor *c = ud;
    uint64_t upto = UINT64_MAX;
    for (int i = 0; i < c->nsenders; i++) {
        uint64_t a = vg_sender_acked(c->sender[i]);
        if (a < upto)
            upto = a;
    }
    if (!c->nsenders || upto <= c->trimmed || vg_store_txn(c->store))
        return;
    /* each running socket's position, recorded with the trim: what a
     * socket listed again later finds missing past it was trimmed while it
     * was out of the list (cor_sender_add's listed key), not lost */
    const char *marks[COR_MAX_SHIPPERS];
    uint64_t vals[COR_MAX_SHIPPERS];
    int nmarks = 0;
    for (int i = 0; i < c->nsenders; i++)
        if (cor_position_key(c->sender[i])) {
            vals[nmarks] = vg_sender_acked(c->sender[i]);
            marks[nmarks++] = cor_position_key(c->sender[i]);
        }
    if (vg_queue_trim_logged(c->store, c->outbox, upto, &c->trim_fails, uv_now(c->loop), marks,
                             vals, nmarks) == 0)
        c->trimmed = upto;
}

/* Records the position of each of the n senders in s under its listed key
 * (as cor_outbox_trim does), before they stop: a socket removed (SIGHUP)
 * or left out at the next start is then known to have acknowledged up to
 * there, and what is trimmed after it is not a loss if it is listed again.
 * A failure (a full disk) is a warning: listed again, such a socket's
 * shipper may be told of a loss that is not one. */
static void cor_mark_positions(cor *c, vg_sender *const *s, int n)
{
    int rc = 0, any = 0;
    for (int i = 0; i < n; i++)
        any |= cor_position_key(s[i]) != NULL;
    if (!any || vg_store_txn(c->store) || (rc = vg_store_begin(c->store)))
        goto out;
    for (int i = 0; rc == 0 && i < n; i++)
        if (cor_position_key(s[i]))
            rc = vg_meta_put_u64(c->store, cor_position_key(s[i]), vg_sender_acked(s[i]));
    rc = rc ? (vg_store_abort(c->store), rc) : vg_store_commit(c->store);
out:
    if (rc)
        vg_warn("cannot record the shipper links' positions: %s", vg_strerror(rc));
}

/* Which socket has the outbox's own epoch key, queue.outbox.epoch: its
 * name (cor_conf_sock_key) under this meta key. See cor_senders_start. */
#define COR_EPOCH_SOCKET "queue.outbox.epoch_socket"

/* The meta key of the outbox epoch of shipper socket sock (not the one of
 * COR_EPOCH_SOCKET): "queue.outbox.NAME.epoch", NAME its cor_conf_sock_key,
 * into key. Before Session 20, NAME was the socket as written; a key under
 * a spelling that now resolves to another NAME ("./x.sock", "RUN_DIR/x.sock")
 * moves to the new one once, value and all, so that its shipper sees the
 * same epoch and nothing is sent to it again. */
static int cor_epoch_key(cor *c, const char *run_dir, const char *sock, char *key, size_t cap)
{
    char name[4096], legacy[4200];
    int rc = cor_conf_sock_key(run_dir, sock, name, sizeof(name));
    int n = rc ? 0 : snprintf(key, cap, "queue.outbox.%s.epoch", name);
    if (rc == 0 && (n < 0 || (size_t)n >= cap))
        rc = -ENAMETOOLONG;
    snprintf(legacy, sizeof(legacy), "queue.outbox.%s.epoch", sock);
    uint64_t was = 0, now = 0;
    if (rc || strcmp(legacy, key) == 0 ||
        (rc = vg_meta_get_u64(c->store, legacy, &was)) || !was ||
        (rc = vg_meta_get_u64(c->store, key, &now)) || now)
        return rc;
    if ((rc = vg_store_begin(c->store)))
        return rc;
    if ((rc = vg_meta_put_u64(c->store, key, was)) == 0)
        rc = vg_meta_del(c->store, legacy);
    rc = rc ? (vg_store_abort(c->store), rc) : vg_store_commit(c->store);
    if (rc == 0)
        vg_info("shipper socket %s: its outbox epoch moves from meta key %s to %s (named after "
                "the socket's resolved path now); its shipper sees no change",
                sock, legacy, key);
    return rc;
}

/* Starts the sender of shipper socket sock into *out: on queue.outbox.epoch
 * when sock is the COR_EPOCH_SOCKET one (primary), else on its own key;
 * *made tells whether that key is new (the sender made it: a SIGHUP that
 * fails later takes it away again, cor_senders_reload). Each socket's
 * position (what its shipper acknowledged) is recorded under
 * queue.outbox.NAME.acked (cor_outbox_trim, cor_mark_positions,
 * vg_sender_cfg.listed_key): a socket taken out of the list and listed
 * again (by SIGHUP or at a restart) resumes where its shipper is when the
 * outbox still holds what follows (nothing twice), and is sent what the
 * outbox holds, with an info line, when what follows was trimmed while it
 * was out of the list (nothing reported lost that was not). */
static int cor_sender_add(cor *c, const vg_pipeline_conf *pc, const char *sock, bool primary,
                          vg_sender **out, bool *made)
{
    char spath[4096], key[4200], name[4096], lkey[4200];
    uint64_t had = 0;
    *made = false;
    int rc = cor_conf_sock_path(pc->run_dir, sock, spath, sizeof(spath));
    if (rc == 0)
        rc = cor_conf_sock_key(pc->run_dir, sock, name, sizeof(name));
    if (rc == 0 && (size_t)snprintf(lkey, sizeof(lkey), "queue.outbox.%s.acked", name) >=
                       sizeof(lkey))
        rc = -ENAMETOOLONG;
    if (rc == 0 && !primary)
        rc = cor_epoch_key(c, pc->run_dir, sock, key, sizeof(key));
    if (rc == 0 && !primary)
        rc = vg_meta_get_u64(c->store, key, &had);
    if (rc)
        return rc;
    vg_sender_cfg sc = {
        .path = spath, .allow_uid = pc->uid, .role = "correlator", .name = c->conf.name,
        .type = VG_MSG_ALERTS, .store = c->store, .queue = c->outbox,
        .stats_fn = cor_stats_fn, .stats_ud = c, .stats_ms = (uint32_t)pc->stats_interval,
        .epoch_key = primary ? NULL : key, .acked_fn = cor_outbox_trim, .acked_ud = c,
        .listed_key = lkey,
    };
    rc = vg_sender_start(c->loop, &sc, out);
    *made = rc == 0 && !primary && !had;
    return rc;
}

/* The epoch key of non-primary socket sock (cor_epoch_key) is removed: a
 * SIGHUP that added it failed, so that the socket is new again when a
 * later one adds it. */
static void cor_epoch_key_forget(cor *c, const char *run_dir, const char *sock)
{
    char key[4200];
    int rc = cor_epoch_key(c, run_dir, sock, key, sizeof(key));
    if (rc == 0 && (rc = vg_store_begin(c->store)) == 0) {
        rc = vg_meta_del(c->store, key);
        rc = rc ? (vg_store_abort(c->store), rc) : vg_store_commit(c->store);
    }
    if (rc && rc != -ENOENT)
        vg_warn("shipper socket %s: cannot remove its new outbox epoch key: %s (if listed "
                "again, its shipper is sent from where the outbox is then)", sock,
                vg_strerror(rc));
}

/* Whether sock is the socket recorded under COR_EPOCH_SOCKET (the primary).
 * With none recorded (the first start, or a store from before Session 20),
 * the first socket of the list is, and is recorded (record true). */
static int cor_is_primary(cor *c, const char *run_dir, const char *sock, bool record,
                          bool *primary)
{
    char name[4096], had[4096];
    size_t len = 0;
    int rc = cor_conf_sock_key(run_dir, sock, name, sizeof(name));
    if (rc == 0)
        rc = vg_meta_get(c->store, COR_EPOCH_SOCKET, had, sizeof(had) - 1, &len);
    if (rc == 0) {
        had[len] = '\0';
        *primary = strcmp(had, name) == 0;
        return 0;
    }
    if (rc == -ENOENT && !record) { /* none yet: only a start records one */
        *primary = false;
        return 0;
    }
    if (rc != -ENOENT)
        return rc;
    if ((rc = vg_store_begin(c->store)))
        return rc;
    rc = vg_meta_put(c->store, COR_EPOCH_SOCKET, name, strlen(name));
    rc = rc ? (vg_store_abort(c->store), rc) : vg_store_commit(c->store);
    *primary = rc == 0;
    return rc;
}

/* One sender per shipper socket, all on the outbox. One socket, the
 * primary, keeps the outbox's own epoch key (queue.outbox.epoch: what a
 * single-shipper correlator always used, so an upgrade changes nothing,
 * and the alert ids take their first half from it): the first of the list
 * when the store first saw a list, recorded then under COR_EPOCH_SOCKET,
 * so that reordering the list or removing and adding sockets (at a restart
 * or a SIGHUP) never moves a key from one shipper to another. Each other
 * socket has its own, queue.outbox.NAME.epoch (cor_epoch_key), so that a
 * shipper that makes its sender take a new epoch (it holds more than this
 * outbox ever had: a restored copy) does not make the other shippers
 * receive everything again. The STATS (cor_stats_fn) go to every shipper. */
static int cor_senders_start(cor *c, const vg_pipeline_conf *pc)
{
    int rc = 0;
    uint64_t first = vg_queue_first(c->outbox);
    c->trimmed = first ? first - 1 : vg_queue_last(c->outbox);
    for (int i = 0; rc == 0 && i < c->conf.nshippers; i++) {
        bool primary = false;
        rc = cor_is_primary(c, pc->run_dir, c->conf.shipper[i], i == 0, &primary);
        bool made;
        if (rc == 0)
            rc = cor_sender_add(c, pc, c->conf.shipper[i], primary, &c->sender[i], &made);
        if (rc == 0 && primary)
            c->primary = c->sender[i];
        if (rc == 0)
            c->nsenders++;
    }
    return rc;
}

int cor_senders_reload(cor *c, cor_conf *cf, char *err, size_t errlen)
{
    const vg_pipeline_conf *pc = vg_daemon_pipeline(c->d);
    vg_sender *next[COR_MAX_SHIPPERS] = {0};
    bool kept[COR_MAX_SHIPPERS] = {0}, added[COR_MAX_SHIPPERS] = {0},
         prim[COR_MAX_SHIPPERS] = {0}, made[COR_MAX_SHIPPERS] = {0};
    char np[4096], op[4096];
    int rc = 0, changed = cf->nshippers != c->nsenders;
    /* the running sender of each socket that stays, under any spelling */
    for (int j = 0; rc == 0 && j < cf->nshippers; j++) {
        rc = cor_conf_sock_path(pc->run_dir, cf->shipper[j], np, sizeof(np));
        for (int i = 0; rc == 0 && !next[j] && i < c->nsenders; i++) {
            if (kept[i] || cor_conf_sock_path(pc->run_dir, c->conf.shipper[i], op, sizeof(op)) ||
                strcmp(op, np) != 0)
                continue;
            next[j] = c->sender[i];
            kept[i] = true;
            changed |= i != j;
        }
        changed |= !next[j];
    }
    /* then the new ones: a failure leaves the running ones as they were */
    for (int j = 0; rc == 0 && j < cf->nshippers; j++) {
        if (next[j])
            continue;
        rc = cor_is_primary(c, pc->run_dir, cf->shipper[j], false, &prim[j]);
        if (rc == 0 && c->primary)
            prim[j] = false; /* cannot be: the running primary is another socket */
        if (rc == 0)
            rc = cor_sender_add(c, pc, cf->shipper[j], prim[j], &next[j], &made[j]);
        if (rc)
            snprintf(err, errlen, "%s: correlator.shipper_socket %s: cannot start its link: %s",
                     vg_daemon_config_path(c->d), cf->shipper[j], vg_strerror(rc));
        added[j] = rc == 0;
    }
    if (rc) {
        /* each stopped sender's memory goes from the loop (vg_sender_stop;
         * one that failed to start freed its own) */
        for (int j = 0; j < cf->nshippers; j++) {
            if (!added[j])
                continue;
            vg_sender_stop(next[j]);
            if (made[j])
                cor_epoch_key_forget(c, pc->run_dir, cf->shipper[j]);
        }
        return rc;
    }
    vg_sender *gone[COR_MAX_SHIPPERS];
    int ngone = 0;
    for (int i = 0; i < c->nsenders; i++) {
        if (kept[i])
            continue;
        uint64_t owed = vg_queue_last(c->outbox) - vg_sender_acked(c->sender[i]);
        if (c->sender[i] == c->primary) {
            /* its key stays: it is the outbox's epoch, which the alert ids
             * go on taking */
            c->epoch = vg_sender_epoch(c->primary);
            c->primary = NULL;
        }
        vg_info("shipper socket %s removed: its link closes, and the outbox no longer keeps "
                "alerts for it (it acknowledged up to seq %llu; %llu alerts after it are not "
                "sent to it, unless it is listed again before the outbox is trimmed past them)",
                c->conf.shipper[i], (unsigned long long)vg_sender_acked(c->sender[i]),
                (unsigned long long)owed);
        gone[ngone++] = c->sender[i];
    }
    for (int j = 0; j < cf->nshippers; j++) {
        c->sender[j] = next[j];
        if (prim[j])
            c->primary = next[j];
        if (added[j])
            vg_info("shipper socket %s added: its link starts (the outbox holds %llu alerts; a "
                    "shipper new to it gets them, and every alert from now on)",
                    cf->shipper[j], (unsigned long long)vg_queue_count(c->outbox));
    }
    for (int i = 0; i < c->conf.nshippers; i++)
        free(c->conf.shipper[i]);
    memcpy(c->conf.shipper, cf->shipper, sizeof(cf->shipper));
    c->conf.nshippers = cf->nshippers;
    memset(cf->shipper, 0, sizeof(cf->shipper));
    cf->nshippers = 0;
    c->nsenders = c->conf.nshippers;
    /* each stop trims (cor_outbox_trim) over the senders that remain */
    cor_mark_positions(c, gone, ngone);
    for (int i = 0; i < ngone; i++)
        vg_sender_stop(gone[i]);
    if (changed)
        cor_outbox_trim(c);
    return 0;
}

int cor_engine_start(cor *c)
{
    const vg_pipeline_conf *pc = vg_daemon_pipeline(c->d);
    char name[256], err[1024] = "";
    snprintf(name, sizeof(name), "correlator/%s", c->conf.name);
    char *dir = vg_daemon_path(pc->data_dir, name);
    int rc = dir ? vg_store_open_ex(&c->store, dir, (size_t)(c->conf.state_size >> 20),
                                    VG_STORE_OWNER)
                 : -ENOMEM;
    if (rc) {
        vg_error("cannot open state %s: %s", dir ? dir : "", vg_strerror(rc));
        free(dir);
        return rc;
    }
    vg_store_check_room(dir, "correlator.state_size", (size_t)(c->conf.state_size >> 20));
    free(dir);
    msgpack_sbuffer_init(&c->rec);
    msgpack_sbuffer_init(&c->pending);
    if ((rc = vg_queue_open(c->store, "outbox", &c->outbox)) ||
        (rc = vg_queue_epoch(c->store, c->outbox, &c->epoch)) ||
        (rc = cor_lists_open(c->store, &c->lists)))
        return rc;
    if ((rc = cor_load_lists(c->lists, false, &c->conf, c->conf.rules_dir, &c->list_names, true,
                             err, sizeof(err)))) {
        vg_error("%s", err);
        return rc;
    }
    cor_warn_unloaded_lists(c->lists, NULL, c->rules);
    cor_warn_past_calendars(c->rules, vg_now_us());
    if ((rc = cor_eval_new(&c->eval, c->rules, c->store, c->lists)))
        return rc;
    cor_mem_rebase(&c->mem, c->eval);
    char *lpath = c->conf.listen[0] == '/' ? strdup(c->conf.listen)
                                           : vg_daemon_path(pc->run_dir, c->conf.listen);
    dir = vg_daemon_path(pc->data_dir, name); /* named in a failed commit's line */
    rc = lpath && dir ? cor_senders_start(c, pc) : -ENOMEM;
    vg_receiver_cfg rc_cfg = {
        .path = lpath, .allow_uid = pc->uid, .role = "correlator", .name = c->conf.name,
        .type = VG_MSG_EVENTS, .store = c->store, .on_batch = cor_on_batch,
        .on_commit = cor_on_commit, .on_abort = cor_on_abort, .on_full = cor_on_full,
        .on_rewrite = cor_on_rewrite, .on_hold = cor_on_hold, .ud = c, .store_dir = dir,
        .map_key = "correlator.state_size", .map_mb = (size_t)(c->conf.state_size >> 20),
    };
    if (rc == 0)
        rc = vg_receiver_start(c->loop, &rc_cfg, &c->receiver);
    if (rc == 0) {
        uv_timer_init(c->loop, &c->tick);
        c->tick.data = c;
        uv_timer_start(&c->tick, cor_on_tick, COR_TICK_MS, COR_TICK_MS);
        vg_info("listening on %s; %llu alerts in the outbox", lpath,
                (unsigned long long)vg_queue_count(c->outbox));
    }
    free(lpath);
    free(dir);
    return rc;
}

void cor_engine_stop(cor *c)
{
    vg_receiver_stop(c->receiver);
    /* each stop trims once more (cor_outbox_trim), with every sender still
     * counted: their memory goes from the loop, later */
    cor_mark_positions(c, c->sender, c->nsenders);
    for (int i = 0; i < c->nsenders; i++)
        vg_sender_stop(c->sender[i]);
    if (c->receiver)
        uv_close((uv_handle_t *)&c->tick, NULL);
    c->receiver = NULL;
    c->nsenders = 0;
    c->primary = NULL;
}
