/* Reliable hop, downstream end (see receiver.h). */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/receiver.h"
#include "vigil/util.h"

/* A refused batch whose effects the owner keeps in memory
 * (vg_receiver_cfg.on_hold): its records up to end are not given to the
 * owner again, and its position is written with the next commit. */
typedef struct vg__held {
    char name[128];
    uint64_t epoch; /* the stream's, when held */
    uint64_t last;  /* committed then */
    uint64_t end;   /* run in memory up to here */
} vg__held;

/* Streams held at once at most; one more drops them all (on_abort). */
#define VG_HELD_MAX 64

struct vg_receiver {
    vg_receiver_cfg cfg;
    vg__held held[VG_HELD_MAX];
    int nheld;
    char *role, *name, *store_dir, *map_key;
    vg_server *server;
    vg_receiver_stats stats;
    int paused;
    int busy;    /* inside vg__batch, whose callbacks may stop the receiver */
    int stopped; /* vg_receiver_stop ran while busy: free when it ends */
    uv_loop_t *loop;
    vg_streak fails; /* failed commits since the last one that passed (vg__failed) */
    vg_streak clash; /* HELLOs refused: a name another live upstream has (vg__clash) */
};

typedef struct vg__same {
    const vg_link *self;
    const char *name;
    uint64_t epoch;        /* the new link's */
    const vg_link *clash;  /* a live link of the name with another epoch */
} vg__same;

/* Whether the upstream of link o has closed its end (or died): the kernel
 * marks a Unix stream socket whose peer is gone with POLLHUP at once, even
 * while bytes the peer wrote are still unread here. */
static int vg__peer_gone(vg_link *o)
{
    uv_os_fd_t fd;
    if (o->closing || uv_fileno((const uv_handle_t *)&o->pipe, &fd) != 0)
        return 1;
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL));
}

/* Finds an open link of the new link's stream name whose upstream is alive
 * and has another queue (epoch): a second upstream configured with the
 * same name, not the first one reconnecting (one upstream's queue keeps
 * its epoch, and its old link's end is marked as soon as it closed it). */
static void vg__find_clash(vg_link *o, void *ud)
{
    vg__same *s = ud;
    const vg_rstream *ost = o->data;
    if (o == s->self || !ost || !ost->ready || strcmp(ost->name, s->name) != 0 ||
        ost->epoch == s->epoch || vg__peer_gone(o))
        return;
    s->clash = o;
}

/* A stream says HELLO on a new link while an older link of it is still
 * open: the upstream reconnected before the old link's end was read (the
 * intake was paused, say). The old link goes: its unread batches would be
 * applied after the new link's position was read, and the new link would
 * apply them again (and move the stored position back). The upstream sends
 * them again on the new link. */
static void vg__close_same(vg_link *o, void *ud)
{
    const vg__same *s = ud;
    const vg_rstream *ost = o->data;
    if (o == s->self || !ost || !ost->ready || strcmp(ost->name, s->name) != 0)
        return;
    vg_info("stream %s connected again (pid %ld): closing its older link (pid %ld), whose end "
            "was not read yet",
            s->name, (long)s->self->peer_pid, (long)o->peer_pid);
    vg_link_close(o, VG_ESTATE);
}

/* Refuses link l, whose HELLO named a stream that a live upstream with
 * another queue has (vg__find_clash): two collectors (or correlators)
 * configured with one name. Taking it would reset the stream's position
 * to the newcomer's epoch at every turn, so that records the other re-sends
 * count again, and each would be told its acknowledged records were lost.
 * The first refusal is an error, then one line a minute; the refused
 * upstream keeps its queue and retries. */
static void vg__clash(vg_receiver *r, const vg_link *l, const vg_rstream *st, const vg__same *s)
{
    const vg_rstream *ost = s->clash->data;
    int say = vg_streak_fail(&r->clash, uv_now(r->loop));
    if (say == VG_STREAK_FIRST)
        vg_error("stream %s: refused a second upstream with this name (%s, pid %ld, epoch "
                 "%016" PRIx64 ") while pid %ld (epoch %016" PRIx64 ") is connected with it: "
                 "two %ss configured with one name? Give each its own name (it names its "
                 "stream here: shared, their positions would mix and re-sent records count "
                 "again); the refused one keeps its records and retries (logged once a minute)",
                 st->name, st->role, (long)l->peer_pid, s->epoch, (long)s->clash->peer_pid,
                 ost->epoch, st->role);
    else if (say == VG_STREAK_REMIND)
        vg_error("stream %s: still refusing a second upstream with this name (pid %ld) while "
                 "pid %ld has it: %" PRIu64 " refusals over %" PRIu64 " s",
                 st->name, (long)l->peer_pid, (long)s->clash->peer_pid, r->clash.count,
                 (r->clash.logged_ms - r->clash.first_ms) / 1000);
}

/* Stream state lives in the meta table under "stream.NAME.epoch" and
 * "stream.NAME.last". */
static int vg__stream_key(char *buf, size_t cap, const char *name, const char *what)
{
    int n = snprintf(buf, cap, "stream.%s.%s", name, what);
    return n > 0 && (size_t)n < cap ? 0 : -ENAMETOOLONG;
}

static void vg__receiver_free(vg_receiver *r);

static vg__held *vg__held_find(vg_receiver *r, const char *name)
{
    for (int i = 0; i < r->nheld; i++)
        if (strcmp(r->held[i].name, name) == 0)
            return &r->held[i];
    return NULL;
}

/* What is held cannot be kept (vg_receiver_cfg.on_hold): the owner drops
 * it all (on_abort: the store's state again), and the upstreams re-send. */
static void vg__held_drop(vg_receiver *r)
{
    if (!r->nheld)
        return;
    r->nheld = 0;
    if (r->cfg.on_abort)
        r->cfg.on_abort(r->cfg.ud);
}

/* The positions of the streams held, but st's (its batch writes its own),
 * into the open transaction: the owner writes their effects in it too. */
static int vg__held_put(vg_receiver *r, const vg_rstream *st)
{
    char key[192];
    int rc = 0;
    for (int i = 0; i < r->nheld && rc == 0; i++)
        if (strcmp(r->held[i].name, st->name) != 0 &&
            (rc = vg__stream_key(key, sizeof(key), r->held[i].name, "last")) == 0)
            rc = vg_meta_put_u64(r->cfg.store, key, r->held[i].end);
    return rc;
}

static void vg__held_settle_one(vg_link *l, void *ud)
{
    vg_receiver *r = ud;
    vg_rstream *st = l->data;
    vg__held *h = st && st->ready ? vg__held_find(r, st->name) : NULL;
    if (h && h->epoch == st->epoch && h->end > st->last)
        st->last = h->end;
}

/* A transaction with the held positions (vg__held_put) committed: the
 * links of those streams are at them, and their records are counted. */
static void vg__held_settle(vg_receiver *r, const vg_rstream *st)
{
    if (!r->nheld)
        return;
    vg_server_foreach(r->server, vg__held_settle_one, r);
    for (int i = 0; i < r->nheld; i++)
        if (strcmp(r->held[i].name, st->name) != 0)
            r->stats.records += r->held[i].end - r->held[i].last;
    r->nheld = 0;
}

/* A refused batch of st, run up to end: held when the owner keeps it
 * (vg_receiver_cfg.on_hold), else everything held is dropped. */
static void vg__hold_or_drop(vg_receiver *r, const vg_rstream *st, uint64_t end)
{
    vg__held *h = vg__held_find(r, st->name);
    if ((h || r->nheld < VG_HELD_MAX) && r->cfg.on_hold && r->cfg.on_hold(r->cfg.ud)) {
        if (!h) {
            h = &r->held[r->nheld++];
            snprintf(h->name, sizeof(h->name), "%s", st->name);
            h->epoch = st->epoch;
            h->last = st->last;
        }
        h->end = end;
        return;
    }
    r->nheld = 0;
    if (r->cfg.on_abort)
        r->cfg.on_abort(r->cfg.ud);
}

int vg_receiver_holding(const vg_receiver *r)
{
    return r && r->nheld > 0;
}

void vg_receiver_drop_held(vg_receiver *r)
{
    if (!r || !r->nheld)
        return;
    for (int i = 0; i < r->nheld; i++)
        vg_info("stream %s: the refused batch held in memory (seq %llu to %llu) is dropped, its "
                "link gone: the state is loaded again, and the batch runs when it is sent again",
                r->held[i].name, (unsigned long long)r->held[i].last + 1,
                (unsigned long long)r->held[i].end);
    r->busy++; /* on_abort may stop r */
    vg__held_drop(r);
    if (--r->busy == 0 && r->stopped)
        vg__receiver_free(r);
}

/* Answers a HELLO: loads the stream's position (resetting it when the
 * upstream's queue is new: another epoch) and replies with it. */
static int vg__hello(vg_receiver *r, vg_link *l, vg_rstream *st, const vg_msg *m)
{
    char kepoch[192], klast[192];
    /* an older upstream is answered in its own version: every record it
     * may send decodes here (an upgrade goes downstream first) */
    uint32_t vmax = r->cfg.proto_max ? r->cfg.proto_max : VG_PROTO_VERSION;
    if (m->version < VG_PROTO_VERSION_MIN || m->version > vmax) {
        vg_error("peer pid %ld speaks protocol %u, we speak %u to %u", (long)l->peer_pid,
                 m->version, VG_PROTO_VERSION_MIN, vmax);
        return VG_EVERSION;
    }
    if (m->name.len == 0 || m->name.len >= sizeof(st->name) || m->role.len >= sizeof(st->role) ||
        memchr(m->name.p, '\0', m->name.len))
        return VG_EPROTO;
    memcpy(st->name, m->name.p, m->name.len);
    st->name[m->name.len] = '\0';
    memcpy(st->role, m->role.p, m->role.len);
    st->role[m->role.len] = '\0';
    st->epoch = m->epoch;
    vg__same same = {l, st->name, m->epoch, NULL};
    vg_server_foreach(l->server, vg__find_clash, &same);
    if (same.clash) {
        vg__clash(r, l, st, &same);
        return VG_ESTATE;
    }
    vg_server_foreach(l->server, vg__close_same, &same);
    uint64_t epoch = 0;
    int rc = vg__stream_key(kepoch, sizeof(kepoch), st->name, "epoch");
    if (rc == 0)
        rc = vg__stream_key(klast, sizeof(klast), st->name, "last");
    if (rc == 0)
        rc = vg_meta_get_u64(r->cfg.store, kepoch, &epoch);
    if (rc == 0)
        rc = vg_meta_get_u64(r->cfg.store, klast, &st->last);
    if (rc)
        return rc;
    st->renewed = 0;
    if (epoch != m->epoch) {
        /* what is held of its old sequence cannot be written under the
         * new one */
        if (vg__held_find(r, st->name)) {
            vg__held_drop(r);
            if (r->stopped)
                return VG_ESTATE;
        }
        if (epoch)
            vg_warn("stream %s starts a new sequence (a new epoch: its queue was recreated, or "
                    "its state restored from a copy); it was at %" PRIu64, st->name, st->last);
        st->renewed = epoch != 0;
        st->last = 0;
        if ((rc = vg_store_begin(r->cfg.store)))
            return rc;
        rc = vg_meta_put_u64(r->cfg.store, kepoch, m->epoch);
        if (rc == 0)
            rc = vg_meta_put_u64(r->cfg.store, klast, 0);
        rc = rc ? (vg_store_abort(r->cfg.store), rc) : vg_store_commit(r->cfg.store);
        if (rc)
            return rc;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    rc = vg_wire_frame_hello_v(&sb, m->version, r->role, r->name, 0, st->last);
    if (rc == 0)
        rc = vg_link_send(l, &sb);
    msgpack_sbuffer_destroy(&sb);
    if (rc == 0) {
        double secs;
        st->ready = 1;
        vg_streak_end(&r->clash, uv_now(r->loop), &secs); /* a later clash is a new run */
        st->quiet = vg_streak_active(&r->fails, uv_now(r->loop));
        vg_log(st->quiet ? VG_LOG_DEBUG : VG_LOG_INFO,
               "stream %s (%s, pid %ld) connected; committed up to seq %" PRIu64, st->name,
               st->role, (long)l->peer_pid, st->last);
    }
    return rc;
}

static void vg__ack(vg_link *l, uint64_t seq)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (vg_wire_frame_ack(&sb, seq) == 0)
        vg_link_send(l, &sb);
    msgpack_sbuffer_destroy(&sb);
}

/* What the operator can do about a failed commit, as the collector's spool
 * says it: LMDB reports a write cut short by a full disk as EIO (or
 * ENOSPC), which alone names neither the store nor the disk; a full map
 * ("durable queue full") does not say which size key to raise. Empty for
 * other errors, or when the owner gave no directory. */
static void vg__failed_hint(const vg_receiver *r, int rc, char *out, size_t cap)
{
    out[0] = '\0';
    if (!r->store_dir[0])
        return;
    if (rc == -ENOSPC || rc == -EIO)
        snprintf(out, cap, " (is the file system of %s full? the batch is taken once there is room)",
                 r->store_dir);
    else if (rc == VG_EFULL && r->map_key[0])
        snprintf(out, cap, " (the store %s is at its map size, %s %zu MiB: raise it, with a "
                 "restart, unless what it queues for the next hop is not being taken)",
                 r->store_dir, r->map_key, r->cfg.map_mb);
}

/* A store that cannot commit (outbox or map full, a full disk) fails every
 * batch, and the upstream re-sends after its backoff (up to 5 s), for as
 * long as it lasts: hours, if the next hop is down over a holiday. The
 * first failure is an error, later ones one line a minute (the
 * connect/disconnect lines of each attempt go to debug meanwhile), and
 * the recovery a warning. commit_errors counts every one. */
static void vg__failed(vg_receiver *r, vg_rstream *st, uint64_t first, uint64_t end, int rc)
{
    r->stats.commit_errors++;
    st->quiet = 1;
    int say = vg_streak_fail(&r->fails, uv_now(r->loop));
    if (say == VG_STREAK_FIRST) {
        char why[1024];
        vg__failed_hint(r, rc, why, sizeof(why));
        vg_error("stream %s: commit of seq %" PRIu64 "..%" PRIu64 " failed: %s%s; closing link "
                 "(the upstream holds the batch and sends it again; further failures are "
                 "logged once a minute)",
                 st->name, first, end, vg_strerror(rc), why);
    }
    else if (say == VG_STREAK_REMIND)
        vg_error("stream %s: commits still failing: %s; %" PRIu64 " attempts over %" PRIu64
                 " s (seq %" PRIu64 "..%" PRIu64 " this time)",
                 st->name, vg_strerror(rc), r->fails.count,
                 (r->fails.logged_ms - r->fails.first_ms) / 1000, first, end);
}

/* Rounds of room made for one batch at most (vg_receiver_cfg.on_full):
 * each frees a part of what the owner keeps, so that a few suffice. */
#define VG_FULL_ROUNDS 32

static void vg__batch_run(vg_receiver *r, vg_link *l, vg_rstream *st, const vg_msg *m)
{
    uint64_t first = m->seq, end = m->seq + m->count - 1;
    if (first > st->last + 1) {
        /* The upstream starts past what is stored here: it trimmed records
         * that an earlier state of this process acknowledged (state lost,
         * or restored from an older copy), or, fanned out (the correlator's
         * shipper_socket list), that it made while this shipper was not
         * listed; it says which in its own log. A
         * sender sends what it holds in order, so there is no other gap.
         * The records cannot come back; taking what there is beats a
         * stream stalled for good. */
        if (st->renewed)
            vg_info("stream %s: its new epoch starts at seq %" PRIu64 " (what it numbered "
                    "1..%" PRIu64 " was sent before, under the previous one)",
                    st->name, first, first - 1);
        else if (st->last == 0)
            vg_warn("stream %s: starts at seq %" PRIu64 " and nothing of it is stored here: seq "
                    "1..%" PRIu64 " were acknowledged by an earlier state and are gone",
                    st->name, first, first - 1);
        else
            vg_warn("stream %s: starts at seq %" PRIu64 " but %" PRIu64 " is next here: seq "
                    "%" PRIu64 "..%" PRIu64 " are not coming (the upstream's log says why: "
                    "this state is older than the one that acknowledged them, restored from a "
                    "copy; or, from a correlator, this shipper's socket was out of its "
                    "shipper_socket list while they were made)",
                    st->name, first, st->last + 1, st->last + 1, first - 1);
        st->last = first - 1;
    }
    r->stats.batches++;
    st->renewed = 0;
    if (end <= st->last) { /* all re-sent: already committed */
        r->stats.duplicates += m->count;
        vg__ack(l, st->last);
        return;
    }
    /* a batch held (vg_receiver_cfg.on_hold) ran up to h->end in memory:
     * re-sent, those records are not run again; a shorter one cannot be
     * cut there (its position would lag the state), so all held goes */
    vg__held *h = vg__held_find(r, st->name);
    if (h && (end < h->end || h->epoch != st->epoch)) {
        vg__held_drop(r);
        if (r->stopped)
            return;
        h = NULL;
    }
    uint64_t ran = h && h->end > st->last ? h->end : st->last;
    uint32_t skip = (uint32_t)(ran + 1 - first);
    char klast[192];
    int rc = vg__stream_key(klast, sizeof(klast), st->name, "last");
    if (rc == 0)
        rc = vg_store_begin(r->cfg.store);
    if (rc == 0) {
        rc = r->cfg.on_batch(r->cfg.ud, st, m, skip);
        if (rc == 0)
            rc = vg_meta_put_u64(r->cfg.store, klast, end);
        if (rc == 0)
            rc = vg__held_put(r, st);
        rc = rc ? (vg_store_abort(r->cfg.store), rc) : vg_store_commit(r->cfg.store);
        /* a full store: the owner frees room and writes the batch again,
         * once per room it made (vg_receiver_cfg.on_full) */
        for (int round = 0; rc == VG_EFULL && r->cfg.on_full && round < VG_FULL_ROUNDS;
             round++) {
            if (r->cfg.on_full(r->cfg.ud) != 0 || (rc = vg_store_begin(r->cfg.store)) != 0)
                break; /* rc stays VG_EFULL: refused */
            rc = r->cfg.on_rewrite(r->cfg.ud);
            if (rc == 0)
                rc = vg_meta_put_u64(r->cfg.store, klast, end);
            if (rc == 0)
                rc = vg__held_put(r, st);
            rc = rc ? (vg_store_abort(r->cfg.store), rc) : vg_store_commit(r->cfg.store);
        }
        if (rc)
            vg__hold_or_drop(r, st, end);
    }
    if (r->stopped)
        return; /* the owner stopped in a callback: the link is closing, nothing to add */
    if (rc) {
        /* Nothing of the batch is kept; the upstream still holds it and
         * re-sends it after the reconnect. */
        vg__failed(r, st, first, end, rc);
        vg_link_close(l, rc);
        return;
    }
    double secs;
    uint64_t fails = vg_streak_end(&r->fails, uv_now(r->loop), &secs);
    if (fails)
        vg_warn("stream %s: commits succeed again, after %" PRIu64 " failed attempts over "
                "%.1f s; nothing was lost (the upstream held it)",
                st->name, fails, secs);
    r->stats.duplicates += st->last + 1 - first; /* re-sent after a commit */
    r->stats.records += end - st->last;        /* held ones included */
    vg__held_settle(r, st);
    st->last = end;
    vg__ack(l, end);
    if (r->cfg.on_commit)
        r->cfg.on_commit(r->cfg.ud);
}

static void vg__receiver_free(vg_receiver *r)
{
    free(r->role), free(r->name), free(r->store_dir), free(r->map_key), free(r);
}

/* One batch (vg__batch_run). Its callbacks may stop the receiver (a
 * failed commit whose state cannot be reloaded stops the daemon): then r
 * is freed here, after them, not under them. */
static void vg__batch(vg_receiver *r, vg_link *l, vg_rstream *st, const vg_msg *m)
{
    r->busy++;
    vg__batch_run(r, l, st, m);
    if (--r->busy == 0 && r->stopped)
        vg__receiver_free(r);
}

static void vg__stats(vg_rstream *st, const vg_msg *m)
{
    uint32_t n = m->nstats < VG_RSTREAM_STATS ? m->nstats : VG_RSTREAM_STATS;
    for (uint32_t i = 0; i < n; i++) {
        snprintf(st->stat_names[i], sizeof(st->stat_names[i]), "%s", m->stats[i].name);
        st->stat_values[i] = m->stats[i].value;
    }
    st->nstats = n;
}

static void vg__on_msg(vg_link *l, const vg_msg *m)
{
    vg_rstream *st = l->data;
    vg_receiver *r = vg_server_data(l->server);
    int rc = 0;
    if (m->type == VG_MSG_HELLO && !st->ready) {
        r->busy++; /* what is held may be dropped: on_abort may stop r */
        rc = vg__hello(r, l, st, m);
        if (--r->busy == 0 && r->stopped) {
            vg__receiver_free(r);
            return;
        }
    }
    else if (m->type == r->cfg.type && st->ready)
        vg__batch(r, l, st, m);
    else if (m->type == VG_MSG_STATS && st->ready)
        vg__stats(st, m);
    else {
        vg_warn("peer pid %ld sent message type %d out of order; closing", (long)l->peer_pid,
                (int)m->type);
        l->stats->bad_frames++; /* well formed, but breaks the protocol */
        rc = VG_EPROTO;
    }
    if (rc)
        vg_link_close(l, rc);
}

static void vg__on_open(vg_link *l)
{
    vg_receiver *r = vg_server_data(l->server);
    if (r->paused)
        vg_link_pause(l, 1);
}

static void vg__pause_one(vg_link *l, void *ud)
{
    vg_link_pause(l, *(int *)ud);
}

void vg_receiver_pause(vg_receiver *r, int paused)
{
    if (!r || r->paused == !!paused)
        return;
    r->paused = !!paused;
    vg_server_foreach(r->server, vg__pause_one, &r->paused);
}

static void vg__on_close(vg_link *l, int err)
{
    vg_rstream *st = l->data;
    if (st && st->ready) /* not the receiver: it may be gone (vg_receiver_stop) */
        vg_log(st->quiet ? VG_LOG_DEBUG : VG_LOG_INFO, "stream %s disconnected (%s)", st->name,
               err < -30000 ? vg_strerror(err) : (err ? uv_strerror(err) : "closed"));
    free(st);
    l->data = NULL;
}

static void vg__on_link(vg_server *srv, vg_link *l)
{
    (void)srv;
    l->data = calloc(1, sizeof(vg_rstream));
    if (!l->data)
        vg_link_close(l, -ENOMEM);
}

static const vg_link_ops vg__receiver_ops = {vg__on_open, vg__on_msg, vg__on_close};

int vg_receiver_start(uv_loop_t *loop, const vg_receiver_cfg *cfg, vg_receiver **out)
{
    vg_receiver *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->cfg = *cfg;
    r->loop = loop;
    r->role = strdup(cfg->role);
    r->name = strdup(cfg->name);
    r->store_dir = strdup(cfg->store_dir ? cfg->store_dir : "");
    r->map_key = strdup(cfg->map_key ? cfg->map_key : "");
    int rc = r->role && r->name && r->store_dir && r->map_key ? 0 : -ENOMEM;
    if (rc == 0)
        rc = vg_server_start(loop, cfg->path, cfg->allow_uid, &vg__receiver_ops, vg__on_link, r,
                             &r->server);
    if (rc) {
        vg__receiver_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void vg_receiver_stop(vg_receiver *r)
{
    if (!r || r->stopped)
        return;
    vg_server_stop(r->server); /* frees itself once its links have closed */
    r->server = NULL;
    r->stopped = 1;
    if (!r->busy)
        vg__receiver_free(r);
}

const vg_receiver_stats *vg_receiver_get_stats(vg_receiver *r)
{
    return &r->stats;
}

const vg_link_stats *vg_receiver_link_stats(vg_receiver *r)
{
    return vg_server_stats(r->server);
}

static void vg__report_one(vg_link *l, void *ud)
{
    vg_rstream *st = l->data;
    (void)ud;
    if (!st || !st->ready)
        return;
    char line[2048];
    int n = snprintf(line, sizeof(line), "upstream %s (%s, pid %ld): committed=%" PRIu64,
                     st->name, st->role, (long)l->peer_pid, st->last);
    for (uint32_t i = 0; i < st->nstats && n > 0 && (size_t)n < sizeof(line); i++)
        n += snprintf(line + n, sizeof(line) - (size_t)n, " %s=%" PRIu64, st->stat_names[i],
                      st->stat_values[i]);
    vg_info("%s", line);
}

typedef struct vg__idle {
    int streams, busy;
} vg__idle;

static void vg__idle_one(vg_link *l, void *ud)
{
    vg__idle *s = ud;
    vg_rstream *st = l->data;
    if (!st || !st->ready)
        return;
    s->streams++;
    for (uint32_t i = 0; i < st->nstats; i++)
        if (strcmp(st->stat_names[i], "pending") == 0) {
            if (st->stat_values[i] != 0)
                s->busy++;
            return;
        }
    s->busy++; /* no STATS yet: unknown, so not caught up */
}

int vg_receiver_caught_up(vg_receiver *r)
{
    vg__idle s = {0, 0};
    if (r)
        vg_server_foreach(r->server, vg__idle_one, &s);
    return s.streams > 0 && s.busy == 0;
}

void vg_receiver_report(vg_receiver *r)
{
    if (r)
        vg_server_foreach(r->server, vg__report_one, NULL);
}
