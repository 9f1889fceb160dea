/* vigil-shipper internals: alerts in from the correlator, durable outbox,
 * delivery to any number of outputs. See docs/shipper.md.
 *
 * Outbox records are [8 bytes: enqueue time, microseconds, little endian]
 * [the alert, msgpack as in wire.h]. The time gives each output's backlog
 * age without decoding the alert. */
#ifndef SHP_H
#define SHP_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "shp_out.h"
#include "vigil/daemon.h"
#include "vigil/event.h"
#include "vigil/link.h"
#include "vigil/receiver.h"
#include "vigil/sender.h"
#include "vigil/stats_log.h"
#include "vigil/store.h"
#include "vigil/util.h"

#define SHP_REC_HDR 8 /* enqueue time before each outbox record */

typedef struct shp_conf {
    char *name;
    char *listen;      /* our socket, relative to run_dir */
    uint64_t outbox_size;
    char *json_file;   /* shorthand for a 'file' output named "json_file" */
    bool json_stdout;  /* shorthand for a 'stdout' output named "stdout" */
    int64_t batch;     /* default batch for outputs */
    int64_t stats_log; /* ms between stats lines while the counters change */
    const vg_node *outputs_node;
    /* resolved */
    shp_out_conf *outputs;
    size_t noutputs;
} shp_conf;

struct shp {
    vg_daemon *d;
    uv_loop_t *loop;
    shp_conf conf;
    char *dir;           /* DATA_DIR/shipper/NAME: the outbox, dead-letter files */
    vg_store *store;
    vg_queue *outbox;
    vg_receiver *receiver;
    shp_out **outs;
    size_t nouts;
    uv_timer_t tick;     /* backlog policies, rate-limit windows */
    vg_stats_log stats_log; /* the stats lines every conf.stats_log, when they changed */
    uv_idle_t kick_idle; /* runs the delivery passes after an intake commit */
    msgpack_sbuffer rec;
    int intake_paused;
    vg_streak full_runs; /* block-policy pauses: one run while they repeat (shp_outputs_check_full) */
    int stopping;
    size_t closing;      /* outputs whose close has not finished */
    uv_timer_t stop_timer; /* during a stop: closes outputs once their attempt ended */
    uint64_t stop_deadline_ms; /* loop time at which an attempt still in flight is abandoned */
    int stop_waited;     /* the stop waited for an attempt: report the counters again */
};

const char *shp_name(const shp *s);

int shp_conf_load(const vg_node *root, const char *file, shp_conf *cf, char *err, size_t errlen);
void shp_conf_free(shp_conf *cf);

/* One output's section: fills c (common keys, the type's own keys, the
 * filter) or returns "FILE:LINE: reason". */
int shp_out_conf_load(const vg_node *sec, const char *file, int64_t default_batch, shp_out_conf *c,
                      char *err, size_t errlen);
/* A file output with the defaults (the json_file shorthand), or stdout. */
int shp_out_conf_simple(const char *type, const char *name, const char *path, int64_t batch,
                        const char *file, shp_out_conf *c, char *err, size_t errlen);
void shp_out_conf_free(shp_out_conf *c);
/* Does the alert go to this output? */
bool shp_filter_match(const shp_filter *f, const vg_alert *al);

/* The alert of an outbox record (after its enqueue time); VG_EPROTO if
 * it does not decode. Views into rec. */
int shp_rec_alert(const void *rec, size_t len, vg_alert *al);
/* The cursor output NAME starts from: its stored one, or for an output
 * that never ran, just before what the outbox holds. */
int shp_out_start_cursor(vg_store *st, vg_queue *outbox, const char *name, uint64_t *cursor);

/* --dump-outbox [OUTPUT] (shp_tools.c): a one-shot mode of vg_daemon_main. */
int shp_dump_outbox(vg_daemon *d, const vg_node *root, int argc, char **argv);

int shp_intake_start(shp *s);
void shp_intake_stop(shp *s);
/* Stops / resumes reading from the correlator (the 'block' policy). */
void shp_intake_pause(shp *s, int paused);

/* Opens every configured output (cursors from the store) and starts
 * delivering. */
int shp_outputs_open(shp *s);
/* An intake commit added alerts: run a delivery pass where one is due. */
void shp_outputs_kick(shp *s);
/* Pauses or resumes the intake per the block policy. */
void shp_outputs_check_full(shp *s);
/* Applies a reloaded configuration's safe changes (filter, limits). */
void shp_outputs_reload(shp *s, shp_conf *cf);
/* Logs one stats line per output. */
void shp_outputs_report(shp *s);
/* Folds every output's counters into h (vg_fnv1a): the stats lines change
 * exactly when it does. */
uint64_t shp_outputs_fp(const shp *s, uint64_t h);
/* Starts the stop: no new attempt; each output closes once its attempt in
 * flight has ended (up to SHP_STOP_GRACE_MS), its handles then on the loop. */
void shp_outputs_close(shp *s);
void shp_outputs_free(shp *s);

#endif
