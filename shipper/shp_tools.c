/* The shipper's one-shot modes. --dump-outbox: what waits in the outbox,
 * for an operator looking at a SIEM outage ("which alerts has it not had
 * yet?") without stopping anything. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shp.h"
#include "vigil/ecs.h"
#include "vigil/err.h"
#include "vigil/log.h"

typedef struct shp_dump {
    const char *name; /* the shipper's, for the ECS lines */
    vg_buf line;
    uint64_t unreadable;
} shp_dump;

static int shp_dump_one(void *ud, uint64_t seq, const void *rec, size_t len)
{
    shp_dump *dm = ud;
    vg_alert al;
    int rc = shp_rec_alert(rec, len, &al);
    if (rc) {
        fprintf(stderr, "outbox record %" PRIu64 " (%zu bytes) is unreadable: %s\n", seq, len,
                vg_strerror(rc));
        dm->unreadable++;
        return 0;
    }
    dm->line.len = 0;
    if ((rc = vg_ecs_alert(&dm->line, &al, dm->name)) != 0)
        return rc;
    fwrite(dm->line.p, 1, dm->line.len, stdout);
    return 0;
}

/* --dump-outbox [OUTPUT]: prints the alerts in the outbox as ECS JSON
 * lines, the bytes a file output writes, oldest first: all of them, or
 * those OUTPUT has not settled yet (past its cursor; its filter and rate
 * limit are not applied). On stderr, each output's cursor and how many
 * alerts wait for it. Safe while the shipper runs: LMDB readers never
 * block the writer. Exits 1 if the outbox cannot be read, OUTPUT is not
 * configured, or a record does not decode. */
int shp_dump_outbox(vg_daemon *d, const vg_node *root, int argc, char **argv)
{
    char err[1024] = "";
    shp_conf cf;
    if (argc > 1) {
        fprintf(stderr, "--dump-outbox takes at most one output name\n");
        return 2;
    }
    if (shp_conf_load(root, vg_daemon_config_path(d), &cf, err, sizeof(err))) {
        vg_error("%s", err);
        return 1;
    }
    const shp_out_conf *only = NULL;
    for (size_t i = 0; argc && i < cf.noutputs; i++)
        if (strcmp(cf.outputs[i].name, argv[0]) == 0)
            only = &cf.outputs[i];
    int rc = 0;
    if (argc && !only) {
        fprintf(stderr, "no output named '%s' in %s; the outputs are:", argv[0],
                vg_daemon_config_path(d));
        for (size_t i = 0; i < cf.noutputs; i++)
            fprintf(stderr, "%s %s", i ? "," : "", cf.outputs[i].name);
        fprintf(stderr, "\n");
        shp_conf_free(&cf);
        return 1;
    }
    vg_store *st = NULL;
    vg_queue *q = NULL;
    rc = vg_daemon_open_store(d, "shipper", cf.name, (size_t)(cf.outbox_size >> 20), "outbox",
                              "outbox", &st, &q);
    shp_dump dm = {.name = cf.name};
    if (rc == 0) {
        uint64_t last = vg_queue_last(q), from = vg_queue_first(q);
        for (size_t i = 0; i < cf.noutputs && rc == 0; i++) {
            uint64_t cur = 0;
            if ((rc = shp_out_start_cursor(st, q, cf.outputs[i].name, &cur)) != 0)
                break;
            uint64_t waiting = last > cur ? last - cur : 0;
            fprintf(stderr, "output %s (%s): cursor %" PRIu64 ", %" PRIu64 " alert%s waiting\n",
                    cf.outputs[i].name, cf.outputs[i].type, cur, waiting, waiting == 1 ? "" : "s");
            if (&cf.outputs[i] == only)
                from = cur + 1;
        }
        if (rc == 0 && from && from <= last)
            rc = vg_queue_scan(q, from, SIZE_MAX, shp_dump_one, &dm);
        rc = rc < 0 ? rc : 0;
    }
    if (rc && st)
        vg_error("outbox: %s", vg_strerror(rc));
    vg_buf_free(&dm.line);
    vg_store_close(st);
    shp_conf_free(&cf);
    fflush(stdout);
    return rc || dm.unreadable ? 1 : 0;
}
