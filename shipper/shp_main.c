/* vigil-shipper: takes alerts from the correlator into a durable outbox and
 * delivers them to the outputs the SIEM and the duty officers read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shp.h"
#include "vigil/err.h"
#include "vigil/log.h"

static const vg_daemon_desc shp_desc = {
    .prog = "vigil-shipper",
    .section = "shipper",
    .summary = "vigil-shipper - deliver alerts from the correlator to the SIEM and the on-call",
    .help =
        "Description:\n"
        "  Accepts the alert stream of vigil-correlator on the Unix socket\n"
        "  shipper.listen_socket, commits each alert to an LMDB outbox before\n"
        "  acknowledging it, and delivers the outbox in order as ECS JSON lines to\n"
        "  shipper.json_file (exactly once, fdatasync'ed) and, with shipper.stdout,\n"
        "  to standard output. An alert leaves the outbox only once delivered.\n",
};

static int shp_configure(vg_daemon *d, const vg_node *root, int first, char *err, size_t errlen)
{
    shp *s = vg_daemon_data(d);
    shp_conf cf;
    int rc = shp_conf_load(root, vg_daemon_config_path(d), &cf, err, errlen);
    if (rc)
        return rc;
    if (vg_daemon_check_only(d) || !first) {
        if (!first) {
            /* Output settings that are safe to change live. */
            s->conf.json_stdout = cf.json_stdout;
            s->conf.batch = cf.batch;
            if (strcmp(cf.json_file, s->conf.json_file) || strcmp(cf.listen, s->conf.listen) ||
                strcmp(cf.name, s->conf.name))
                vg_warn("shipper name, socket and json_file changes take effect after a restart");
        }
        shp_conf_free(&cf);
        return 0;
    }
    s->conf = cf;
    s->d = d;
    s->loop = vg_daemon_loop(d);
    msgpack_sbuffer_init(&s->rec);
    const vg_pipeline_conf *pc = vg_daemon_pipeline(d);
    char name[256];
    snprintf(name, sizeof(name), "shipper/%s", s->conf.name);
    char *dir = vg_daemon_path(pc->data_dir, name);
    if ((rc = vg_daemon_prepare_dir(d, pc->data_dir, 0700)) ||
        (rc = vg_daemon_prepare_dir(d, pc->run_dir, 0750)) || (rc = vg_daemon_drop_privileges(d)) ||
        (rc = dir ? vg_store_open(&s->store, dir, (size_t)(s->conf.outbox_size >> 20)) : -12) ||
        (rc = vg_queue_open(s->store, "outbox", &s->outbox)) || (rc = shp_output_open(s)) ||
        (rc = shp_intake_start(s))) {
        snprintf(err, errlen, "%s: startup failed: %s", vg_daemon_config_path(d), vg_strerror(rc));
        free(dir);
        return rc;
    }
    free(dir);
    return 0;
}

static void shp_report(vg_daemon *d)
{
    shp *s = vg_daemon_data(d);
    const vg_receiver_stats *rs = s->receiver ? vg_receiver_get_stats(s->receiver) : NULL;
    const vg_link_stats *ls = s->receiver ? vg_receiver_link_stats(s->receiver) : NULL;
    vg_info("stats: received=%llu duplicates=%llu delivered=%llu write_errors=%llu batches=%llu "
            "outbox=%llu cursor=%llu bad_frames=%llu peers_refused=%llu",
            (unsigned long long)(rs ? rs->records : 0), (unsigned long long)(rs ? rs->duplicates : 0),
            (unsigned long long)s->stats.delivered, (unsigned long long)s->stats.write_errors,
            (unsigned long long)s->stats.batches,
            (unsigned long long)(s->outbox ? vg_queue_count(s->outbox) : 0),
            (unsigned long long)s->cursor, (unsigned long long)(ls ? ls->bad_frames : 0),
            (unsigned long long)(ls ? ls->peers_refused : 0));
    vg_receiver_report(s->receiver);
}

static void shp_shutdown(vg_daemon *d)
{
    shp *s = vg_daemon_data(d);
    shp_report(d);
    shp_intake_stop(s);
    if (s->store)
        shp_output_close(s);
}

static const vg_daemon_ops shp_ops = {shp_configure, shp_shutdown, shp_report};

int main(int argc, char **argv)
{
    static shp s = {.file_fd = -1};
    int rc = vg_daemon_main(argc, argv, &shp_desc, &shp_ops, &s);
    if (s.store)
        vg_store_close(s.store);
    msgpack_sbuffer_destroy(&s.rec);
    vg_buf_free(&s.out);
    shp_conf_free(&s.conf);
    return rc;
}
