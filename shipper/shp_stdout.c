/* The 'stdout' output: ECS JSON lines on standard output, at least once.
 *
 * Each batch is written on the thread pool, as the file output does: the
 * reader of a pipe or a terminal may stop reading (a pager, a paused
 * terminal, a stuck log collector), and a write on the loop then stopped
 * the whole shipper (intake, every other output, the counters), not this
 * output alone. Nothing is synced and nothing is recorded: a batch whose
 * write failed or was cut by a crash is written again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shp.h"
#include "vigil/util.h"

typedef struct shp_stdout {
    uv_work_t work;
    shp_batch *b;  /* the batch being written, NULL between batches */
    int rc;        /* the write's result (0 or -errno), read after the work */
    int busy;      /* a work is queued or running */
    int dead;      /* closed while busy: freed when the work is done */
} shp_stdout;

static int shp_stdout_open(shp_out *o)
{
    shp_stdout *so = calloc(1, sizeof(*so));
    if (!so)
        return -ENOMEM;
    so->work.data = o;
    o->tp = so;
    return 0;
}

/* On the thread pool: may block as long as the reader does not read. */
static void shp_stdout_work(uv_work_t *w)
{
    shp_out *o = w->data;
    shp_stdout *so = o->tp;
    so->rc = vg_write_all(STDOUT_FILENO, so->b->data.p, so->b->data.len);
}

static void shp_stdout_after(uv_work_t *w, int status)
{
    shp_out *o = w->data;
    shp_stdout *so = o->tp;
    so->busy = 0;
    so->b = NULL;
    if (so->dead) {
        free(so);
        o->tp = NULL;
        shp_out_closed(o);
        return;
    }
    int rc = status < 0 ? status : so->rc;
    char why[160];
    if (rc)
        snprintf(why, sizeof(why), "standard output: %s", strerror(-rc));
    shp_out_done(o, rc, rc ? why : NULL);
}

static int shp_stdout_send(shp_out *o, shp_batch *b)
{
    shp_stdout *so = o->tp;
    so->b = b;
    int rc = uv_queue_work(o->loop, &so->work, shp_stdout_work, shp_stdout_after);
    if (rc) {
        so->b = NULL;
        return rc;
    }
    so->busy = 1;
    return 0;
}

static void shp_stdout_close(shp_out *o)
{
    shp_stdout *so = o->tp;
    if (so && so->busy) {
        so->dead = 1; /* a running work cannot be cancelled */
        return;
    }
    free(so);
    o->tp = NULL;
    shp_out_closed(o);
}

static const char *const shp_stdout_keys[] = {NULL};

const shp_transport shp_stdout_transport = {
    .type = "stdout",
    .keys = shp_stdout_keys,
    .open = shp_stdout_open,
    .format = shp_format_ecs,
    .send = shp_stdout_send,
    .close = shp_stdout_close,
};
