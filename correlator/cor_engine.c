/* The live engine: one EVENTS batch in -> rules -> alerts appended to the
 * outbox, and the stream's last sequence number, committed in one LMDB
 * transaction -> ACK to the collector -> the sender ships the outbox.
 *
 * Because the input position and its consequences commit together, a kill
 * at any instant leaves either both or neither: after a restart the
 * collector re-sends from the committed position and the alerts come out
 * exactly as in an uninterrupted run. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cor.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/wire.h"

typedef struct cor_emit {
    cor *c;
    int rc;
} cor_emit;

/* Appends one alert. Its id is the outbox epoch and the seq it is about to
 * get: unique, and the same on every re-delivery of the record. */
static int cor_on_alert(void *ud, const cor_rule *r, vg_alert *al)
{
    cor_emit *e = ud;
    cor *c = e->c;
    (void)r;
    char id[33];
    snprintf(id, sizeof(id), "%016" PRIx64 "%016" PRIx64, c->epoch, vg_queue_last(c->outbox) + 1);
    al->id = vg_str_n(id, 32);
    msgpack_sbuffer_clear(&c->rec);
    int rc = vg_wire_pack_alert(&c->rec, al);
    if (rc == 0)
        rc = vg_queue_append(c->outbox, c->rec.data, c->rec.size, NULL);
    if (rc == 0)
        c->stats.alerts++;
    e->rc = rc;
    return rc;
}

static void cor_on_events(cor *c, vg_link *l, cor_stream *s, const vg_msg *m)
{
    uint64_t first = m->seq, end = m->seq + m->count - 1;
    if (first > s->last + 1) {
        vg_error("stream %s: batch starts at seq %" PRIu64 " but %" PRIu64 " is next; closing",
                 s->name, first, s->last + 1);
        vg_link_close(l, VG_ESTATE);
        return;
    }
    c->stats.batches++;
    if (end <= s->last) { /* all re-sends: already committed */
        c->stats.duplicates += m->count;
        vg_stream_ack(l, s->last);
        return;
    }
    int rc = vg_store_begin(c->store);
    cor_emit e = {c, 0};
    for (uint32_t i = 0; rc == 0 && i < m->count; i++) {
        const vg_event *ev = &m->events[i];
        if (ev->seq <= s->last) {
            c->stats.duplicates++;
            continue;
        }
        c->stats.events++;
        if (ev->flags & VG_EV_MALFORMED)
            c->stats.malformed_in++;
        rc = cor_rules_eval(c->rules, ev, cor_on_alert, &e);
    }
    if (rc == 0)
        rc = vg_stream_set_last(c->store, vg_str_c(s->name), end);
    if (rc == 0)
        rc = vg_store_commit(c->store);
    else
        vg_store_abort(c->store);
    if (rc) {
        /* Nothing of the batch is kept; the collector still holds it and
         * re-sends after the reconnect. */
        c->stats.commit_errors++;
        vg_error("stream %s: commit of seq %" PRIu64 "..%" PRIu64 " failed: %s; closing link",
                 s->name, first, end, vg_strerror(rc));
        vg_link_close(l, rc);
        return;
    }
    s->last = end;
    vg_stream_ack(l, end);
    vg_sender_kick(c->sender);
}

static cor *cor_of(vg_link *l);

static void cor_on_msg(vg_link *l, const vg_msg *m)
{
    cor_stream *s = l->data;
    cor *c = cor_of(l);
    if (m->type == VG_MSG_HELLO && !s->ready) {
        if (m->name.len >= sizeof(s->name)) {
            vg_link_close(l, VG_EPROTO);
            return;
        }
        memcpy(s->name, m->name.p, m->name.len);
        s->name[m->name.len] = '\0';
        int rc = vg_stream_hello(c->store, l, m, "correlator", c->conf.name, &s->last);
        if (rc) {
            vg_link_close(l, rc);
            return;
        }
        s->ready = 1;
        return;
    }
    if (m->type == VG_MSG_EVENTS && s->ready) {
        cor_on_events(c, l, s, m);
        return;
    }
    if (m->type == VG_MSG_STATS)
        return; /* upstream counters: accepted, reported by the sender itself */
    vg_warn("peer pid %ld sent message type %d out of order; closing", (long)l->peer_pid,
            (int)m->type);
    vg_link_close(l, VG_EPROTO);
}

static cor *cor_global; /* the one engine of this process, for link callbacks */

static cor *cor_of(vg_link *l)
{
    (void)l;
    return cor_global;
}

static void cor_on_open(vg_link *l)
{
    (void)l;
}

static void cor_on_close(vg_link *l, int err)
{
    cor_stream *s = l->data;
    if (s && s->ready)
        vg_info("stream %s disconnected (%s)", s->name,
                err < -30000 ? vg_strerror(err) : (err ? uv_strerror(err) : "closed"));
    free(s);
    l->data = NULL;
}

static void cor_on_link(vg_server *srv, vg_link *l)
{
    (void)srv;
    l->data = calloc(1, sizeof(cor_stream));
    if (!l->data)
        vg_link_close(l, -ENOMEM);
}

static const vg_link_ops cor_link_ops = {cor_on_open, cor_on_msg, cor_on_close};

int cor_engine_start(cor *c)
{
    const vg_pipeline_conf *pc = vg_daemon_pipeline(c->d);
    cor_global = c;
    char name[256];
    snprintf(name, sizeof(name), "correlator/%s", c->conf.name);
    char *dir = vg_daemon_path(pc->data_dir, name);
    int rc = dir ? vg_store_open(&c->store, dir, (size_t)(c->conf.state_size >> 20)) : -ENOMEM;
    if (rc) {
        vg_error("cannot open state %s: %s", dir ? dir : "", vg_strerror(rc));
        free(dir);
        return rc;
    }
    free(dir);
    msgpack_sbuffer_init(&c->rec);
    if ((rc = vg_queue_open(c->store, "outbox", &c->outbox)) ||
        (rc = vg_queue_epoch(c->store, c->outbox, &c->epoch)))
        return rc;
    char *lpath = c->conf.listen[0] == '/' ? strdup(c->conf.listen)
                                           : vg_daemon_path(pc->run_dir, c->conf.listen);
    char *spath = c->conf.shipper[0] == '/' ? strdup(c->conf.shipper)
                                            : vg_daemon_path(pc->run_dir, c->conf.shipper);
    vg_sender_cfg sc = {
        .path = spath, .allow_uid = pc->uid, .role = "correlator", .name = c->conf.name,
        .type = VG_MSG_ALERTS, .store = c->store, .queue = c->outbox,
    };
    rc = lpath && spath ? vg_sender_start(c->loop, &sc, &c->sender) : -ENOMEM;
    if (rc == 0)
        rc = vg_server_start(c->loop, lpath, pc->uid, &cor_link_ops, cor_on_link, c, &c->server);
    if (rc == 0)
        vg_info("listening on %s; %llu alerts in the outbox", lpath,
                (unsigned long long)vg_queue_count(c->outbox));
    free(lpath);
    free(spath);
    return rc;
}

void cor_engine_stop(cor *c)
{
    if (c->server)
        vg_server_stop(c->server);
    if (c->sender)
        vg_sender_stop(c->sender);
    c->server = NULL;
    c->sender = NULL;
}
