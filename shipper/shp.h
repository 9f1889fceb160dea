/* vigil-shipper internals: alerts in from the correlator, durable outbox,
 * delivery to the outputs. See docs/architecture.md. */
#ifndef SHP_H
#define SHP_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "vigil/daemon.h"
#include "vigil/event.h"
#include "vigil/link.h"
#include "vigil/receiver.h"
#include "vigil/sender.h"
#include "vigil/store.h"
#include "vigil/util.h"

typedef struct shp_conf {
    char *name;
    char *listen;      /* our socket, relative to run_dir */
    uint64_t outbox_size;
    char *json_file;   /* ECS JSON lines; empty: off */
    bool json_stdout;  /* also print each alert on stdout */
    int64_t batch;     /* alerts per delivery pass */
} shp_conf;

typedef struct shp_stats {
    uint64_t delivered, write_errors, batches;
} shp_stats;

typedef struct shp {
    vg_daemon *d;
    uv_loop_t *loop;
    shp_conf conf;
    vg_store *store;
    vg_queue *outbox;
    vg_receiver *receiver;
    uv_idle_t deliver_idle;
    uv_timer_t retry_timer;
    int file_fd;
    uint64_t cursor;   /* highest outbox seq delivered to the file */
    uint64_t offset;   /* file size after that delivery */
    msgpack_sbuffer rec;
    vg_buf out;
    shp_stats stats;
    int stopping;
} shp;

int shp_conf_load(const vg_node *root, const char *file, shp_conf *cf, char *err, size_t errlen);
void shp_conf_free(shp_conf *cf);

int shp_intake_start(shp *s);
void shp_intake_stop(shp *s);

int shp_output_open(shp *s);
void shp_output_kick(shp *s);
void shp_output_close(shp *s);


#endif
