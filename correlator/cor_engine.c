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

/* Runs the rules over the new events of one batch, inside the receiver's
 * write transaction: the alerts and the stream position commit together. */
static int cor_on_batch(void *ud, vg_rstream *st, const vg_msg *m, uint32_t skip)
{
    cor *c = ud;
    (void)st;
    cor_emit e = {c, 0};
    for (uint32_t i = skip; i < m->count; i++) {
        const vg_event *ev = &m->events[i];
        c->stats.events++;
        if (ev->flags & VG_EV_MALFORMED)
            c->stats.malformed_in++;
        int rc = cor_rules_eval(c->rules, ev, cor_on_alert, &e);
        if (rc)
            return rc;
    }
    return 0;
}

static void cor_on_commit(void *ud)
{
    cor *c = ud;
    vg_sender_kick(c->sender);
}

static uint32_t cor_stats_fn(void *ud, vg_stat *out, uint32_t cap)
{
    cor *c = ud;
    const vg_receiver_stats *rs = vg_receiver_get_stats(c->receiver);
    const vg_stat all[] = {
        {"events", c->stats.events},     {"malformed_in", c->stats.malformed_in},
        {"alerts", c->stats.alerts},     {"duplicates", rs->duplicates},
        {"commit_errors", rs->commit_errors},
        {"outbox", vg_queue_count(c->outbox)},
    };
    uint32_t n = sizeof(all) / sizeof(all[0]);
    if (n > cap)
        n = cap;
    memcpy(out, all, n * sizeof(*out));
    return n;
}

int cor_engine_start(cor *c)
{
    const vg_pipeline_conf *pc = vg_daemon_pipeline(c->d);
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
        .stats_fn = cor_stats_fn, .stats_ud = c, .stats_ms = (uint32_t)pc->stats_interval,
    };
    rc = lpath && spath ? vg_sender_start(c->loop, &sc, &c->sender) : -ENOMEM;
    vg_receiver_cfg rc_cfg = {
        .path = lpath, .allow_uid = pc->uid, .role = "correlator", .name = c->conf.name,
        .type = VG_MSG_EVENTS, .store = c->store, .on_batch = cor_on_batch,
        .on_commit = cor_on_commit, .ud = c,
    };
    if (rc == 0)
        rc = vg_receiver_start(c->loop, &rc_cfg, &c->receiver);
    if (rc == 0)
        vg_info("listening on %s; %llu alerts in the outbox", lpath,
                (unsigned long long)vg_queue_count(c->outbox));
    free(lpath);
    free(spath);
    return rc;
}

void cor_engine_stop(cor *c)
{
    vg_receiver_stop(c->receiver);
    if (c->sender)
        vg_sender_stop(c->sender);
    c->receiver = NULL;
    c->sender = NULL;
}
