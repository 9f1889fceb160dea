/* Receives alert batches from the correlator and commits them to the outbox
 * with the stream position in one transaction, then acknowledges. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "shp.h"
#include "vigil/err.h"
#include "vigil/log.h"

typedef struct shp_stream {
    char name[128];
    uint64_t last;
    int ready;
} shp_stream;

static shp *shp_global; /* the one shipper of this process, for link callbacks */

static void shp_on_alerts(shp *s, vg_link *l, shp_stream *st, const vg_msg *m)
{
    uint64_t first = m->seq, end = m->seq + m->count - 1;
    if (first > st->last + 1) {
        vg_error("stream %s: batch starts at seq %" PRIu64 " but %" PRIu64 " is next; closing",
                 st->name, first, st->last + 1);
        vg_link_close(l, VG_ESTATE);
        return;
    }
    if (end <= st->last) {
        s->stats.duplicates += m->count;
        vg_stream_ack(l, st->last);
        return;
    }
    int rc = vg_store_begin(s->store);
    for (uint32_t i = 0; rc == 0 && i < m->count; i++) {
        const vg_alert *al = &m->alerts[i];
        if (al->seq <= st->last) {
            s->stats.duplicates++;
            continue;
        }
        msgpack_sbuffer_clear(&s->rec);
        rc = vg_wire_pack_alert(&s->rec, al);
        if (rc == 0)
            rc = vg_queue_append(s->outbox, s->rec.data, s->rec.size, NULL);
    }
    if (rc == 0)
        rc = vg_stream_set_last(s->store, vg_str_c(st->name), end);
    if (rc == 0)
        rc = vg_store_commit(s->store);
    else
        vg_store_abort(s->store);
    if (rc) {
        vg_error("stream %s: commit of seq %" PRIu64 "..%" PRIu64 " failed: %s; closing link",
                 st->name, first, end, vg_strerror(rc));
        vg_link_close(l, rc);
        return;
    }
    s->stats.received += end - (first > st->last ? first : st->last + 1) + 1;
    st->last = end;
    vg_stream_ack(l, end);
    shp_output_kick(s);
}

static void shp_on_msg(vg_link *l, const vg_msg *m)
{
    shp_stream *st = l->data;
    shp *s = shp_global;
    if (m->type == VG_MSG_HELLO && !st->ready) {
        if (m->name.len >= sizeof(st->name)) {
            vg_link_close(l, VG_EPROTO);
            return;
        }
        memcpy(st->name, m->name.p, m->name.len);
        st->name[m->name.len] = '\0';
        int rc = vg_stream_hello(s->store, l, m, "shipper", s->conf.name, &st->last);
        if (rc) {
            vg_link_close(l, rc);
            return;
        }
        st->ready = 1;
        return;
    }
    if (m->type == VG_MSG_ALERTS && st->ready) {
        shp_on_alerts(s, l, st, m);
        return;
    }
    if (m->type == VG_MSG_STATS)
        return;
    vg_warn("peer pid %ld sent message type %d out of order; closing", (long)l->peer_pid,
            (int)m->type);
    vg_link_close(l, VG_EPROTO);
}

static void shp_on_open(vg_link *l)
{
    (void)l;
}

static void shp_on_close(vg_link *l, int err)
{
    shp_stream *st = l->data;
    if (st && st->ready)
        vg_info("stream %s disconnected (%s)", st->name,
                err < -30000 ? vg_strerror(err) : (err ? uv_strerror(err) : "closed"));
    free(st);
    l->data = NULL;
}

static void shp_on_link(vg_server *srv, vg_link *l)
{
    (void)srv;
    l->data = calloc(1, sizeof(shp_stream));
    if (!l->data)
        vg_link_close(l, -ENOMEM);
}

static const vg_link_ops shp_link_ops = {shp_on_open, shp_on_msg, shp_on_close};

int shp_intake_start(shp *s)
{
    const vg_pipeline_conf *pc = vg_daemon_pipeline(s->d);
    shp_global = s;
    char *path = s->conf.listen[0] == '/' ? strdup(s->conf.listen)
                                          : vg_daemon_path(pc->run_dir, s->conf.listen);
    if (!path)
        return -ENOMEM;
    int rc = vg_server_start(s->loop, path, pc->uid, &shp_link_ops, shp_on_link, s, &s->server);
    if (rc == 0)
        vg_info("listening on %s", path);
    free(path);
    return rc;
}

void shp_intake_stop(shp *s)
{
    if (s->server)
        vg_server_stop(s->server);
    s->server = NULL;
}
