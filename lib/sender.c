/* Reliable hop: queue -> link sender, and the receiver's stream table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/sender.h"
#include "vigil/util.h"

#define VG_SEND_HIGH_WATER (8u << 20) /* bytes queued on the link before we pause */
#define VG_TRIM_MS 200

struct vg_sender {
    vg_sender_cfg cfg;
    char *path, *role, *name;
    char *epoch_key; /* cfg.epoch_key's copy, or NULL */
    char *listed_key; /* cfg.listed_key's copy, or NULL */
    uint64_t listed_upto; /* what listed_key held at the start (with has_listed) */
    int has_listed;
    uv_loop_t *loop;
    vg_client *client;
    vg_link *link;       /* open link past HELLO, or NULL */
    vg_link *handshake;  /* open link waiting for the peer's HELLO */
    uint64_t epoch;
    uint64_t next;       /* next seq to send */
    uint64_t acked;      /* highest seq acknowledged */
    uint64_t trimmed;    /* highest seq trimmed from the queue */
    uint64_t max_sent;   /* highest seq ever sent, to count re-sends */
    uint64_t limit;      /* highest seq that may be sent */
    uv_timer_t trim_timer; /* also sends STATS every cfg.stats_ms */
    uint64_t since_stats_ms;
    uv_idle_t pump_idle;
    vg_sender_stats stats;
    msgpack_sbuffer sb;
    int stopping;
    int open_handles; /* handles still to be closed before s can be freed */
    /* links lost in a row with records outstanding and none acknowledged
     * (a downstream refusing them: vg__lost) */
    vg_streak refusals;
    uint64_t acked_at_open; /* s->acked when the current link opened */
    /* links closed in a row before the downstream answered HELLO (it
     * refuses the stream: another upstream has its name; vg__hello_refused) */
    vg_streak hello_refusals;
    int renewed;            /* a new epoch was just taken: the next HELLO starts it afresh */
    int fresh;              /* ...and it is the first this epoch key has (a downstream added
                             * to a queue that had records: vg_sender_cfg.epoch_key) */
    vg_streak trim_fails;   /* trims failed in a row (vg__trim) */
    uint32_t version;       /* the protocol of the next HELLO, and of the link it opens
                             * (vg__step_down) */
    uint32_t batch_now;     /* records a batch holds at most now (vg__lost) */
};

/* key, or queue q's own epoch key into buf */
static const char *vg__epoch_key(vg_queue *q, const char *key, char *buf, size_t cap)
{
    if (key)
        return key;
    snprintf(buf, cap, "queue.%s.epoch", vg_queue_name(q));
    return buf;
}

int vg_epoch_new(vg_store *st, vg_queue *q, const char *key, uint64_t old, uint64_t *epoch)
{
    char buf[96];
    key = vg__epoch_key(q, key, buf, sizeof(buf));
    uint64_t e;
    int rc = vg_epoch_random(old, &e), own = !vg_store_txn(st);
    if (rc)
        return rc;
    if (own && (rc = vg_store_begin(st)))
        return rc;
    rc = vg_meta_put_u64(st, key, e);
    if (own)
        rc = rc ? (vg_store_abort(st), rc) : vg_store_commit(st);
    if (rc == 0)
        *epoch = e;
    return rc;
}

int vg_epoch_get(vg_store *st, vg_queue *q, const char *key, uint64_t *epoch)
{
    char buf[96];
    key = vg__epoch_key(q, key, buf, sizeof(buf));
    int rc = vg_meta_get_u64(st, key, epoch);
    if (rc || *epoch)
        return rc;
    return vg_epoch_new(st, q, key, 0, epoch);
}

int vg_queue_new_epoch(vg_store *st, vg_queue *q, uint64_t old, uint64_t *epoch)
{
    return vg_epoch_new(st, q, NULL, old, epoch);
}

int vg_queue_epoch(vg_store *st, vg_queue *q, uint64_t *epoch)
{
    return vg_epoch_get(st, q, NULL, epoch);
}

uint64_t vg_sender_acked(const vg_sender *s)
{
    return s->acked;
}

uint64_t vg_sender_epoch(const vg_sender *s)
{
    return s->epoch;
}

const char *vg_sender_listed_key(const vg_sender *s)
{
    return s->listed_key;
}

/* One batch being filled. Records go in until the next one would bring
 * them past VG_BATCH_BYTES (the first always goes in), so that a batch of
 * large records (512 events of two 64 KiB messages are over VG_FRAME_MAX)
 * still fits in a frame. */
typedef struct vg__batch_fill {
    msgpack_sbuffer *sb;
    size_t bytes; /* of the records taken */
    uint32_t n;   /* records taken */
    int full;     /* stopped by the byte budget */
} vg__batch_fill;

static int vg__batch_add(void *ud, uint64_t seq, const void *rec, size_t len)
{
    vg__batch_fill *f = ud;
    (void)seq;
    if (f->n && (f->bytes >= VG_BATCH_BYTES || len > VG_BATCH_BYTES - f->bytes)) {
        f->full = 1;
        return 1;
    }
    if (vg_wire_batch_add(f->sb, rec, len))
        return 1; /* no memory: f->n short, reported by the caller */
    f->bytes += len;
    f->n++;
    return 0;
}

/* Sends batches while there is something committed to send, the window is
 * open and the link is not backed up. */
static void vg__pump(vg_sender *s)
{
    vg_link *l = s->link;
    if (!l || l->closing)
        return;
    if (vg_store_txn(s->cfg.store)) { /* only committed records leave */
        vg_sender_kick(s);
        return;
    }
    uint64_t last = vg_queue_last(s->cfg.queue);
    if (last > s->limit)
        last = s->limit;
    while (s->next <= last && s->next - s->acked - 1 < s->cfg.window &&
           l->write_queue < VG_SEND_HIGH_WATER) {
        uint64_t n = last - s->next + 1, cap = s->batch_now;
        if (s->version < 3 && cap > VG_BATCH_MAX_V2)
            cap = VG_BATCH_MAX_V2; /* an older downstream refuses more */
        if (n > cap)
            n = cap;
        if (n > s->cfg.window - (s->next - s->acked - 1)) /* the window is a bound */
            n = s->cfg.window - (s->next - s->acked - 1);
        size_t start;
        vg_wire_batch_begin(&s->sb, s->cfg.type, s->next, (uint32_t)n, &start);
        vg__batch_fill f = {.sb = &s->sb};
        int rc = vg_queue_scan(s->cfg.queue, s->next, n, vg__batch_add, &f);
        if (rc >= 0 && f.full) {
            /* Large records (rare): the header says n; begin again with
             * the records that fit. The common batch is read once. */
            s->sb.size = start;
            n = f.n;
            vg_wire_batch_begin(&s->sb, s->cfg.type, s->next, (uint32_t)n, &start);
            f = (vg__batch_fill){.sb = &s->sb};
            rc = vg_queue_scan(s->cfg.queue, s->next, n, vg__batch_add, &f);
        }
        if (rc < 0) {
            /* The store could not be read (say, LMDB's readers table is
             * full): nothing is lost; try again after the reconnect. */
            vg_error("queue %s: cannot read from seq %llu: %s; reconnecting",
                     vg_queue_name(s->cfg.queue), (unsigned long long)s->next, vg_strerror(rc));
            msgpack_sbuffer_clear(&s->sb);
            vg_link_close(l, rc);
            return;
        }
        if (f.n != n) {
            /* The queue lost records it still owed downstream: a bug or a
             * damaged store. Say so; never send a frame with a gap. */
            vg_error("queue %s: expected %llu records from seq %llu, found %u",
                     vg_queue_name(s->cfg.queue), (unsigned long long)n,
                     (unsigned long long)s->next, f.n);
            msgpack_sbuffer_clear(&s->sb);
            vg_link_close(l, VG_ESTATE);
            return;
        }
        rc = vg_wire_batch_end(&s->sb, start);
        if (rc != 0) {
            /* No length header was written: sending these bytes would be a
             * malformed frame. Only a lone record near VG_FRAME_MAX gets
             * here; records are far smaller. */
            vg_error("queue %s: batch of %llu records from seq %llu does not fit in a frame: %s",
                     vg_queue_name(s->cfg.queue), (unsigned long long)n,
                     (unsigned long long)s->next, vg_strerror(rc));
            msgpack_sbuffer_clear(&s->sb);
            vg_link_close(l, rc);
            return;
        }
        if (vg_link_send(l, &s->sb) != 0)
            return;
        uint64_t end = s->next + n - 1;
        if (s->max_sent >= s->next)
            s->stats.resent += (s->max_sent < end ? s->max_sent : end) - s->next + 1;
        if (end > s->max_sent)
            s->max_sent = end;
        s->stats.sent += n;
        s->stats.batches++;
        s->next = end + 1;
    }
}

/* Retried at every trim tick while the store cannot commit (a full disk):
 * the first failure is a warning, then one a minute, and the recovery.
 * Nothing is lost: acknowledged records stay a while. */
int vg_queue_trim_logged(vg_store *st, vg_queue *q, uint64_t upto, vg_streak *fails,
                         uint64_t now_ms, const char *const *marks, const uint64_t *vals,
                         int nmarks)
{
    int rc = vg_store_begin(st);
    for (int i = 0; rc == 0 && i < nmarks; i++)
        rc = vg_meta_put_u64(st, marks[i], vals[i]);
    if (rc == 0 && (rc = vg_queue_trim(q, upto)) == 0)
        rc = vg_store_commit(st);
    else if (rc == 0 || vg_store_txn(st))
        vg_store_abort(st);
    int say = rc ? vg_streak_fail(fails, now_ms) : VG_STREAK_QUIET;
    if (say == VG_STREAK_FIRST)
        vg_warn("queue %s: trim failed: %s (retried; further failures are logged once a minute)",
                vg_queue_name(q), vg_strerror(rc));
    else if (say == VG_STREAK_REMIND)
        vg_warn("queue %s: trims still failing: %s; %llu attempts over %llu s", vg_queue_name(q),
                vg_strerror(rc), (unsigned long long)fails->count,
                (unsigned long long)((now_ms - fails->first_ms) / 1000));
    if (rc)
        return rc;
    double secs;
    uint64_t n = vg_streak_end(fails, now_ms, &secs);
    if (n)
        vg_info("queue %s: trimmed again, after %llu failed attempts over %.1f s",
                vg_queue_name(q), (unsigned long long)n, secs);
    return 0;
}

static void vg__trim(vg_sender *s)
{
    if (s->cfg.acked_fn) { /* several senders on one queue: the owner trims */
        s->cfg.acked_fn(s->cfg.acked_ud);
        return;
    }
    if (s->acked <= s->trimmed || vg_store_txn(s->cfg.store))
        return;
    if (vg_queue_trim_logged(s->cfg.store, s->cfg.queue, s->acked, &s->trim_fails,
                             uv_now(s->loop), NULL, NULL, 0) == 0)
        s->trimmed = s->acked;
}

static void vg__send_stats(vg_sender *s)
{
    vg_stat st[VG_STATS_MAX];
    uint32_t n = s->cfg.stats_fn(s->cfg.stats_ud, st, VG_STATS_MAX);
    if (n > VG_STATS_MAX)
        n = VG_STATS_MAX;
    if (vg_wire_frame_stats(&s->sb, s->name, st, n) == 0)
        vg_link_send(s->link, &s->sb);
    else
        msgpack_sbuffer_clear(&s->sb);
}

static void vg__on_trim_timer(uv_timer_t *t)
{
    vg_sender *s = t->data;
    vg__trim(s);
    s->since_stats_ms += VG_TRIM_MS;
    /* not onto a backed-up link (a downstream that stopped reading): only
     * the latest counters matter, and queued frames would grow for as long
     * as it does not read; they go once the link drains */
    if (s->cfg.stats_fn && s->link && s->link->write_queue == 0 &&
        s->since_stats_ms >= s->cfg.stats_ms) {
        s->since_stats_ms = 0;
        vg__send_stats(s);
    }
}

/* Pumping happens from an idle handle so that many kicks in one loop
 * iteration (one per commit) cost one pass. */
static void vg__on_pump_idle(uv_idle_t *h)
{
    vg_sender *s = h->data;
    uv_idle_stop(h);
    vg__pump(s);
}

void vg_sender_limit(vg_sender *s, uint64_t seq)
{
    s->limit = seq;
    vg_sender_kick(s);
}

void vg_sender_kick(vg_sender *s)
{
    if (s->link && !s->stopping)
        uv_idle_start(&s->pump_idle, vg__on_pump_idle);
}

static void vg__on_open(vg_link *l)
{
    vg_sender *s = l->data;
    s->handshake = l;
    vg_wire_frame_hello_v(&s->sb, s->version, s->role, s->name, s->epoch,
                          vg_queue_last(s->cfg.queue));
    vg_link_send(l, &s->sb);
}

static void vg__on_msg(vg_link *l, const vg_msg *m)
{
    vg_sender *s = l->data;
    if (m->type == VG_MSG_HELLO && l == s->handshake) {
        if (m->version != s->version) {
            vg_error("%s answered in protocol %u, we said %u", s->path, m->version, s->version);
            vg_link_close(l, VG_EVERSION);
            return;
        }
        uint64_t last = vg_queue_last(s->cfg.queue);
        if (m->seq > last) {
            /* The downstream holds more of this stream than exists here:
             * this state is older than the one that sent it (a data
             * directory restored from a copy). Under the same epoch, what
             * is numbered from here on would be taken for re-sends of what
             * the old state sent, and skipped. A new epoch makes it a new
             * sequence downstream; what this queue still holds is sent
             * again (at least once, never lost). */
            uint64_t e = 0;
            int rc = vg_epoch_new(s->cfg.store, s->cfg.queue, s->epoch_key, s->epoch, &e);
            if (rc) {
                vg_error("%s claims seq %llu of stream %s, but only %llu exist, and a new epoch "
                         "cannot be stored: %s; retrying", s->path, (unsigned long long)m->seq,
                         s->name, (unsigned long long)last, vg_strerror(rc));
            } else {
                vg_warn("%s has seq %llu of stream %s, but only %llu exist here: this state is "
                        "older than the one that sent them (restored from a copy?); the stream "
                        "starts a new epoch, so that what follows is not taken for re-sends",
                        s->path, (unsigned long long)m->seq, s->name, (unsigned long long)last);
                s->epoch = e;
                s->renewed = 1;
            }
            vg_link_close(l, VG_ESTATE); /* the next link says hello with the new epoch */
            return;
        }
        s->handshake = NULL;
        s->link = l;
        s->stats.connected = 1;
        s->stats.version = s->version;
        if (s->version < VG_PROTO_VERSION)
            vg_warn("link to %s speaks protocol %u, an older one than ours (%u): batches of at "
                    "most %u records until the downstream is upgraded (docs/protocol.md)",
                    s->path, s->version, VG_PROTO_VERSION, VG_BATCH_MAX_V2);
        double hsecs;
        uint64_t refused = vg_streak_end(&s->hello_refusals, uv_now(s->loop), &hsecs);
        if (refused > 1) {
            vg_info("link to %s: HELLO answered again, after %llu links closed before it over "
                    "%.1f s",
                    s->path, (unsigned long long)refused, hsecs);
            vg_client_quiet(s->client, vg_streak_failing(&s->refusals));
        }
        s->stats.reconnects++;
        if (m->seq > s->acked) {
            /* acked counts what this process sent: past max_sent, what
             * the downstream has was sent by an earlier run (killed
             * before it trimmed), and acknowledged to that one */
            uint64_t own = m->seq < s->max_sent ? m->seq : s->max_sent;
            if (own > s->acked)
                s->stats.acked += own - s->acked;
            s->acked = m->seq;
        }
        s->stats.last_acked = s->acked;
        s->next = m->seq + 1;
        if (m->seq < s->acked && s->renewed) {
            /* the first HELLO of the new epoch: the downstream starts it
             * afresh, and what was acknowledged before was delivered under
             * the old one (not lost: the error below would say so) */
            uint64_t held = vg_queue_first(s->cfg.queue), from = held ? held : last + 1;
            if (s->fresh)
                vg_info("stream %s: %s is new to this queue; sending from seq %llu (what it "
                        "still holds; up to %llu left it before)",
                        s->name, s->path, (unsigned long long)from, (unsigned long long)s->acked);
            else
                vg_info("stream %s: %s starts the new epoch; sending from seq %llu (up to %llu "
                        "were delivered under the previous epoch)",
                        s->name, s->path, (unsigned long long)from, (unsigned long long)s->acked);
            s->next = from;
            s->acked = from - 1;
            s->stats.last_acked = s->acked;
        } else if (m->seq < s->acked) {
            /* The downstream is behind what it acknowledged: its state was
             * lost or replaced by an older copy. What is still held here is
             * sent again; what was trimmed is gone, and saying so is all
             * that can be done (the downstream takes the gap with a warning:
             * lib/receiver.c). */
            uint64_t held = vg_queue_first(s->cfg.queue), from = held ? held : last + 1;
            if (from > s->next && s->stats.reconnects == 1 && s->has_listed &&
                m->seq >= s->listed_upto) {
                /* the first HELLO since the start: what it lacks left the
                 * queue while this sender did not run (vg_sender_cfg's
                 * listed_key), acknowledged by the others; not a loss */
                vg_info("stream %s: %s has seq %llu; seq %llu..%llu were made and delivered "
                        "elsewhere while its socket was not listed (the queue was trimmed "
                        "past them) and are not sent to it; sending from %llu",
                        s->name, s->path, (unsigned long long)m->seq,
                        (unsigned long long)s->next, (unsigned long long)(from - 1),
                        (unsigned long long)from);
                s->next = from;
            } else if (from > s->next && s->stats.reconnects == 1 && s->has_listed &&
                       s->listed_upto < from - 1) {
                /* both: it lost what it acknowledged up to listed_upto, and
                 * the rest left while it was not listed */
                vg_error("stream %s: %s has seq %llu, but acknowledged up to %llu before (its "
                         "state was lost or replaced): seq %llu..%llu are no longer held here "
                         "and are lost; %llu..%llu were made while its socket was not listed "
                         "and are not sent to it; sending from %llu",
                         s->name, s->path, (unsigned long long)m->seq,
                         (unsigned long long)s->listed_upto, (unsigned long long)s->next,
                         (unsigned long long)s->listed_upto,
                         (unsigned long long)(s->listed_upto + 1), (unsigned long long)(from - 1),
                         (unsigned long long)from);
                s->next = from;
            } else if (from > s->next) {
                vg_error("stream %s: %s has seq %llu, but acknowledged up to %llu before (its "
                         "state was lost or replaced): seq %llu..%llu are no longer held here "
                         "and are lost; sending from %llu",
                         s->name, s->path, (unsigned long long)m->seq,
                         (unsigned long long)s->acked, (unsigned long long)s->next,
                         (unsigned long long)(from - 1), (unsigned long long)from);
                s->next = from;
            } else {
                vg_warn("stream %s: %s has seq %llu, but acknowledged up to %llu before (its "
                        "state was lost or replaced); sending again from %llu",
                        s->name, s->path, (unsigned long long)m->seq,
                        (unsigned long long)s->acked, (unsigned long long)s->next);
            }
            s->acked = s->next - 1; /* the window counts from here */
            s->stats.last_acked = s->acked;
        }
        vg_log(vg_streak_active(&s->refusals, uv_now(s->loop)) ? VG_LOG_DEBUG : VG_LOG_INFO,
               "stream %s: %s has everything up to seq %llu; %llu to send", s->name, s->path,
               (unsigned long long)m->seq, (unsigned long long)(last - m->seq));
        s->acked_at_open = s->acked;
        s->renewed = s->fresh = 0;
        vg__trim(s);
        vg__pump(s);
        return;
    }
    if (m->type == VG_MSG_ACK && l == s->link) {
        if (m->seq > s->max_sent || m->seq < s->acked) {
            vg_error("%s acknowledged seq %llu outside [%llu, %llu]", s->path,
                     (unsigned long long)m->seq, (unsigned long long)s->acked,
                     (unsigned long long)s->max_sent);
            l->stats->bad_frames++; /* breaks the protocol: counted as docs/protocol.md says */
            vg_link_close(l, VG_EPROTO);
            return;
        }
        s->stats.acked += m->seq - s->acked;
        s->acked = m->seq;
        s->stats.last_acked = s->acked;
        if (s->batch_now < s->cfg.batch_max) /* taken again: back up, step by step */
            s->batch_now = s->batch_now * 2 < s->cfg.batch_max ? s->batch_now * 2
                                                               : s->cfg.batch_max;
        double secs;
        int was = vg_streak_failing(&s->refusals);
        uint64_t lost = vg_streak_end(&s->refusals, uv_now(s->loop), &secs);
        if (lost > 1)
            vg_info("link to %s: acknowledging again (seq %llu), after %llu links lost in a "
                    "row over %.1f s",
                    s->path, (unsigned long long)m->seq, (unsigned long long)lost, secs);
        if (was)
            vg_client_quiet(s->client, 0);
        vg__pump(s);
        return;
    }
    vg_warn("%s sent an unexpected message type %d; closing link", s->path, (int)m->type);
    l->stats->bad_frames++;
    vg_link_close(l, VG_EPROTO);
}

static void vg__sender_release(vg_sender *s);
static void vg__on_sender_handle_closed(uv_handle_t *h);

/* A downstream that cannot commit (its store or disk full) closes the link
 * on each batch, and the link comes back after the backoff, for as long as
 * that lasts. A link lost with records outstanding and none acknowledged
 * is a warning as any loss; from the second in a row, one line a minute,
 * and the connect and HELLO lines of each attempt at debug level (the
 * downstream's log says why, its own lines kept as few); the first
 * acknowledgement after them ends it (vg__on_msg), but such a loss within
 * VG_STREAK_GRACE_MS of that continues the run (no new first line). */
/* A link the downstream closed before it answered HELLO: once, a stop or
 * a restart there; again and again, it refuses this stream (a receiver
 * refuses a name that a live upstream with another queue has: two
 * upstreams configured with one name). From the second in a row one line
 * a minute, the connect lines at debug level meanwhile; the next answered
 * HELLO ends it (vg__on_msg). */
static void vg__hello_refused(vg_sender *s, const char *why)
{
    uint64_t now = uv_now(s->loop);
    vg_streak *f = &s->hello_refusals;
    int say = vg_streak_fail(f, now);
    if (f->count == 1 || say == VG_STREAK_FIRST) {
        vg_warn("link to %s lost (%s); will resend from seq %llu", s->path, why,
                (unsigned long long)s->acked + 1);
        return;
    }
    vg_client_quiet(s->client, 1);
    if (f->count == 2) {
        f->logged_ms = now;
        vg_warn("link to %s closed again before it answered HELLO (%s): it refuses stream %s "
                "(see its log: does another upstream have the name %s?); the queue keeps "
                "everything; will retry, and log this once a minute",
                s->path, why, s->name, s->name);
    } else if (say == VG_STREAK_REMIND) {
        vg_warn("link to %s still refusing stream %s before HELLO (%s): %llu links closed in a "
                "row over %llu s",
                s->path, s->name, why, (unsigned long long)f->count,
                (unsigned long long)((now - f->first_ms) / 1000));
    }
}

static void vg__lost(vg_sender *s, const char *why)
{
    if (s->handshake && !s->link) {
        vg__hello_refused(s, why);
        return;
    }
    uint64_t now = uv_now(s->loop);
    /* records outstanding, and none acknowledged on this link, or a run of
     * such losses that recovered less than VG_STREAK_GRACE_MS ago (a
     * downstream that fails one batch in a few: one run, not a line each) */
    int refused = s->link && s->max_sent > s->acked &&
                  (s->acked == s->acked_at_open || vg_streak_active(&s->refusals, now));
    /* A batch the downstream cannot commit (a store whose room is smaller
     * than the batch: a backlog of 4,096 alerts to a shipper with a small
     * outbox) would be refused for ever: the next ones are halved while
     * links are lost so, down to one record, and grow back as they are
     * acknowledged. */
    if (refused && s->batch_now > 1)
        s->batch_now /= 2;
    vg_streak *f = &s->refusals;
    double secs;
    if (!refused && vg_streak_failing(f)) {
        vg_streak_end(f, now, &secs);
        vg_client_quiet(s->client, 0);
    }
    int say = refused ? vg_streak_fail(f, now) : VG_STREAK_FIRST;
    if (say == VG_STREAK_FIRST) {
        vg_warn("link to %s lost (%s); will resend from seq %llu", s->path, why,
                (unsigned long long)s->acked + 1);
        return;
    }
    /* the run goes on (also past an acknowledgement less than
     * VG_STREAK_GRACE_MS ago: a downstream that takes one batch in a few) */
    vg_client_quiet(s->client, 1);
    if (f->count == 2) {
        f->logged_ms = now;
        vg_warn("link to %s lost again with nothing acknowledged (%s): it keeps refusing seq %llu "
                "(see its log); will resend, and log this once a minute",
                s->path, why, (unsigned long long)s->acked + 1);
    } else if (say == VG_STREAK_REMIND) {
        vg_warn("link to %s still refusing seq %llu (%s): %llu links lost in a row over %llu s",
                s->path, (unsigned long long)s->acked + 1, why, (unsigned long long)f->count,
                (unsigned long long)((now - f->first_ms) / 1000));
    }
}

/* The lowest protocol this sender may speak: an alert may carry the cut
 * marks of version 2, which a version-1 reader refuses; events are the
 * same in every version. */
static uint32_t vg__proto_floor(const vg_sender *s)
{
    return s->cfg.type == VG_MSG_ALERTS ? 2 : VG_PROTO_VERSION_MIN;
}

/* A downstream older than this sender closes the link at a HELLO in a
 * version it does not know, and says nothing the sender could read. So a
 * link closed before its HELLO was answered makes the next HELLO one
 * version lower (past the floor, the own version again: a downstream that
 * refuses the stream for another reason, or is restarting, is tried in
 * every version in turn, all of which a current downstream takes); a link
 * lost after its answer, the own version again, so that an upgraded
 * downstream is spoken to in it from its restart on. */
static void vg__step_down(vg_sender *s, int answered)
{
    uint32_t was = s->version;
    if (answered || s->version <= vg__proto_floor(s))
        s->version = VG_PROTO_VERSION;
    else
        s->version--;
    if (!answered && s->version < was)
        vg_info("link to %s closed before it answered HELLO in protocol %u: the next HELLO says "
                "%u (a downstream not yet upgraded closes the link at a version it does not know)",
                s->path, was, s->version);
}

static void vg__on_close(vg_link *l, int err)
{
    vg_sender *s = l->data;
    if (s->link == l || s->handshake == l) {
        if (!s->stopping) {
            vg__lost(s, err < -30000 ? vg_strerror(err) : (err ? uv_strerror(err) : "closed"));
            vg__step_down(s, s->link == l);
        }
        s->stats.version = 0;
        s->link = NULL;
        s->handshake = NULL;
        s->stats.connected = 0;
        s->next = s->acked + 1;
        if (s->stopping)
            vg__sender_release(s);
    }
}

static const vg_link_ops vg__sender_ops = {vg__on_open, vg__on_msg, vg__on_close};

int vg_sender_start(uv_loop_t *loop, const vg_sender_cfg *cfg, vg_sender **out)
{
    vg_sender *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->cfg = *cfg;
    s->path = strdup(cfg->path);
    s->role = strdup(cfg->role);
    s->name = strdup(cfg->name);
    s->epoch_key = cfg->epoch_key ? strdup(cfg->epoch_key) : NULL;
    s->listed_key = cfg->listed_key ? strdup(cfg->listed_key) : NULL;
    if (!s->path || !s->role || !s->name || (cfg->epoch_key && !s->epoch_key) ||
        (cfg->listed_key && !s->listed_key)) {
        free(s->path), free(s->role), free(s->name), free(s->epoch_key), free(s->listed_key);
        free(s);
        return -ENOMEM;
    }
    s->cfg.epoch_key = s->epoch_key; /* cfg's strings are the caller's */
    s->version = VG_PROTO_VERSION;
    s->cfg.listed_key = s->listed_key;
    if (!s->cfg.batch_max || s->cfg.batch_max > VG_BATCH_MAX)
        s->cfg.batch_max = VG_BATCH_MAX;
    s->batch_now = s->cfg.batch_max;
    if (!s->cfg.window)
        s->cfg.window = 32768;
    if (!s->cfg.stats_ms)
        s->cfg.stats_ms = 10000;
    s->limit = UINT64_MAX;
    s->loop = loop;
    msgpack_sbuffer_init(&s->sb);
    /* An epoch key not seen before (a sender added to a queue with records,
     * say a second shipper of the correlator's outbox): its downstream
     * starts the stream at what the queue holds now, as after a new epoch. */
    char kb[96];
    uint64_t had = 0;
    int rc = vg_meta_get_u64(cfg->store, vg__epoch_key(cfg->queue, s->epoch_key, kb, sizeof(kb)),
                             &had);
    if (rc == 0)
        rc = vg_epoch_get(cfg->store, cfg->queue, s->epoch_key, &s->epoch);
    s->renewed = s->fresh = rc == 0 && !had;
    if (rc == 0 && s->listed_key)
        rc = vg_meta_get_u64(cfg->store, s->listed_key, &s->listed_upto);
    if (rc == 0 && s->listed_key) {
        /* absent (0): a socket never trimmed while listed with this version */
        s->has_listed = s->listed_upto != 0;
    }
    if (rc) {
        free(s->path), free(s->role), free(s->name), free(s->epoch_key), free(s->listed_key);
        free(s);
        return rc;
    }
    uint64_t first = vg_queue_first(cfg->queue);
    s->acked = s->trimmed = first ? first - 1 : vg_queue_last(cfg->queue);
    s->next = s->acked + 1;
    uv_timer_init(loop, &s->trim_timer);
    s->trim_timer.data = s;
    uv_timer_start(&s->trim_timer, vg__on_trim_timer, VG_TRIM_MS, VG_TRIM_MS);
    uv_idle_init(loop, &s->pump_idle);
    s->pump_idle.data = s;
    rc = vg_client_start(loop, s->path, cfg->allow_uid, &vg__sender_ops, s, &s->client);
    if (rc) {
        /* s is freed once both handles have closed (their memory is in s):
         * a sender that a correlator's SIGHUP adds and cannot start leaves
         * nothing behind, and the daemon goes on */
        s->stopping = 1;
        s->open_handles = 2;
        uv_close((uv_handle_t *)&s->trim_timer, vg__on_sender_handle_closed);
        uv_close((uv_handle_t *)&s->pump_idle, vg__on_sender_handle_closed);
        return rc;
    }
    *out = s;
    return 0;
}

const vg_sender_stats *vg_sender_get_stats(vg_sender *s)
{
    return &s->stats;
}

const vg_link_stats *vg_sender_link_stats(vg_sender *s)
{
    return vg_client_stats(s->client);
}

/* s is freed once nothing can call back into it: both of its handles and
 * the open link (whose on_close uses s) have closed. */
static void vg__sender_release(vg_sender *s)
{
    if (--s->open_handles == 0) {
        msgpack_sbuffer_destroy(&s->sb);
        free(s->path), free(s->role), free(s->name), free(s->epoch_key), free(s->listed_key);
        free(s);
    }
}

static void vg__on_sender_handle_closed(uv_handle_t *h)
{
    vg__sender_release(h->data);
}

void vg_sender_stop(vg_sender *s)
{
    s->stopping = 1;
    vg__trim(s);
    s->open_handles = 2 + (s->link || s->handshake ? 1 : 0);
    vg_client_stop(s->client);
    uv_close((uv_handle_t *)&s->trim_timer, vg__on_sender_handle_closed);
    uv_close((uv_handle_t *)&s->pump_idle, vg__on_sender_handle_closed);
}

