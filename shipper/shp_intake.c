/* Receives alert batches from the correlator: each new alert goes into the
 * outbox in the receiver's transaction (with the stream position), behind
 * its enqueue time (shp.h), and the outputs are woken after the commit. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shp.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/wire.h"

static int shp_on_batch(void *ud, vg_rstream *st, const vg_msg *m, uint32_t skip)
{
    shp *s = ud;
    (void)st;
    uint64_t now = (uint64_t)vg_now_us();
    unsigned char hdr[SHP_REC_HDR];
    for (int b = 0; b < SHP_REC_HDR; b++)
        hdr[b] = (unsigned char)(now >> (8 * b));
    for (uint32_t i = skip; i < m->count; i++) {
        msgpack_sbuffer_clear(&s->rec);
        int rc = msgpack_sbuffer_write(&s->rec, (const char *)hdr, sizeof(hdr));
        if (rc == 0)
            rc = vg_wire_pack_alert(&s->rec, &m->alerts[i]);
        if (rc == 0)
            rc = vg_queue_append(s->outbox, s->rec.data, s->rec.size, NULL);
        if (rc)
            return rc;
    }
    return 0;
}

static void shp_on_commit(void *ud)
{
    shp_outputs_check_full(ud);
    shp_outputs_kick(ud);
}

int shp_intake_start(shp *s)
{
    const vg_pipeline_conf *pc = vg_daemon_pipeline(s->d);
    char *path = s->conf.listen[0] == '/' ? strdup(s->conf.listen)
                                          : vg_daemon_path(pc->run_dir, s->conf.listen);
    if (!path)
        return -ENOMEM;
    vg_receiver_cfg rc_cfg = {
        .path = path, .allow_uid = pc->uid, .role = "shipper", .name = s->conf.name,
        .type = VG_MSG_ALERTS, .store = s->store, .on_batch = shp_on_batch,
        .on_commit = shp_on_commit, .ud = s, .store_dir = s->dir,
        .map_key = "shipper.outbox_size", .map_mb = (size_t)(s->conf.outbox_size >> 20),
    };
    int rc = vg_receiver_start(s->loop, &rc_cfg, &s->receiver);
    if (rc == 0)
        vg_info("listening on %s", path);
    free(path);
    return rc;
}

void shp_intake_pause(shp *s, int paused)
{
    s->intake_paused = paused;
    vg_receiver_pause(s->receiver, paused);
}

void shp_intake_stop(shp *s)
{
    vg_receiver_stop(s->receiver);
    s->receiver = NULL;
}
