/* Delivery from the outbox to the outputs: an ECS JSON lines file and/or
 * standard output.
 *
 * The file gets each alert exactly once, even across kill -9: the cursor
 * (last alert delivered) and the file size after it are committed to LMDB
 * after the bytes are written and fdatasync'ed. On start, bytes past the
 * committed size belong to a delivery that never committed; they are cut
 * off and written again. Standard output is best effort (at least once). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shp.h"
#include "vigil/ecs.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/wire.h"

#define SHP_KEY_CURSOR "output.cursor"
#define SHP_KEY_OFFSET "output.file.offset"
#define SHP_RETRY_MS 1000

typedef struct shp_pass {
    shp *s;
    uint64_t last;
    uint64_t n;
} shp_pass;

static void shp_output_on_idle(uv_idle_t *h);

static int shp_output_format(void *ud, uint64_t seq, const void *rec, size_t len)
{
    shp_pass *p = ud;
    vg_alert al;
    int rc = vg_wire_decode_alert(rec, len, &al);
    if (rc == 0)
        rc = vg_ecs_alert(&p->s->out, &al, p->s->conf.name);
    if (rc) {
        /* A record we wrote ourselves does not decode: the store is damaged.
         * Say which one; skipping it is the only way to keep delivering. */
        p->s->stats.write_errors++;
        vg_error("outbox record %" PRIu64 " (%zu bytes) cannot be formatted: %s; skipped", seq, len,
                 vg_strerror(rc));
    }
    p->last = seq;
    p->n++;
    return 0;
}

static int shp_write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void shp_output_on_retry(uv_timer_t *t)
{
    shp_output_kick(t->data);
}

/* One delivery pass: up to conf.batch alerts, one write and one fdatasync. */
static void shp_output_pass(shp *s)
{
    shp_pass p = {s, s->cursor, 0};
    s->out.len = 0;
    s->out.oom = 0;
    int rc = vg_queue_scan(s->outbox, s->cursor + 1, (size_t)s->conf.batch, shp_output_format, &p);
    if (rc < 0) {
        vg_error("outbox read failed: %s", vg_strerror(rc));
        uv_timer_start(&s->retry_timer, shp_output_on_retry, SHP_RETRY_MS, 0);
        return;
    }
    if (p.n == 0)
        return;
    uint64_t offset = s->offset;
    if (s->file_fd >= 0) {
        rc = shp_write_all(s->file_fd, s->out.p, s->out.len);
        if (rc == 0 && fdatasync(s->file_fd) != 0)
            rc = -errno;
        if (rc) {
            s->stats.write_errors++;
            vg_error("%s: write failed: %s; retrying in %d ms", s->conf.json_file, strerror(-rc),
                     SHP_RETRY_MS);
            if (ftruncate(s->file_fd, (off_t)s->offset) != 0 ||
                lseek(s->file_fd, (off_t)s->offset, SEEK_SET) < 0)
                vg_error("%s: cannot roll back to %" PRIu64 " bytes", s->conf.json_file, s->offset);
            uv_timer_start(&s->retry_timer, shp_output_on_retry, SHP_RETRY_MS, 0);
            return;
        }
        offset += s->out.len;
    }
    rc = vg_store_begin(s->store);
    if (rc == 0)
        rc = vg_meta_put_u64(s->store, SHP_KEY_CURSOR, p.last);
    if (rc == 0)
        rc = vg_meta_put_u64(s->store, SHP_KEY_OFFSET, offset);
    if (rc == 0)
        rc = vg_queue_trim(s->outbox, p.last);
    if (rc == 0)
        rc = vg_store_commit(s->store);
    else
        vg_store_abort(s->store);
    if (rc) {
        /* The file holds bytes the store does not know about; cut them so
         * the retry writes them once. */
        vg_error("cannot commit delivery up to %" PRIu64 ": %s", p.last, vg_strerror(rc));
        if (s->file_fd >= 0 && (ftruncate(s->file_fd, (off_t)s->offset) != 0 ||
                                lseek(s->file_fd, (off_t)s->offset, SEEK_SET) < 0))
            vg_error("%s: cannot roll back", s->conf.json_file);
        uv_timer_start(&s->retry_timer, shp_output_on_retry, SHP_RETRY_MS, 0);
        return;
    }
    if (s->conf.json_stdout) {
        fwrite(s->out.p, 1, s->out.len, stdout);
        fflush(stdout);
    }
    s->stats.delivered += p.n;
    s->stats.batches++;
    s->cursor = p.last;
    s->offset = offset;
    if (p.n == (uint64_t)s->conf.batch)
        shp_output_kick(s);
}

static void shp_output_on_idle(uv_idle_t *h)
{
    shp *s = h->data;
    uv_idle_stop(h);
    shp_output_pass(s);
}

void shp_output_kick(shp *s)
{
    if (!s->stopping && !uv_is_active((uv_handle_t *)&s->retry_timer))
        uv_idle_start(&s->deliver_idle, shp_output_on_idle);
}

int shp_output_open(shp *s)
{
    int rc;
    s->file_fd = -1;
    if ((rc = vg_meta_get_u64(s->store, SHP_KEY_CURSOR, &s->cursor)) ||
        (rc = vg_meta_get_u64(s->store, SHP_KEY_OFFSET, &s->offset)))
        return rc;
    if (s->conf.json_file[0]) {
        s->file_fd = open(s->conf.json_file, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
        if (s->file_fd < 0) {
            rc = -errno;
            vg_error("cannot open %s: %s", s->conf.json_file, strerror(errno));
            return rc;
        }
        struct stat sb;
        if (fstat(s->file_fd, &sb) != 0)
            return -errno;
        uint64_t size = (uint64_t)sb.st_size;
        if (size > s->offset) {
            vg_warn("%s: removing %" PRIu64 " bytes of an uncommitted delivery; they are "
                    "written again", s->conf.json_file, size - s->offset);
            if (ftruncate(s->file_fd, (off_t)s->offset) != 0)
                return -errno;
        } else if (size < s->offset) {
            vg_warn("%s is shorter (%" PRIu64 " bytes) than delivered (%" PRIu64 "); it was "
                    "rotated or truncated by hand; appending", s->conf.json_file, size, s->offset);
            s->offset = size;
        }
        if (lseek(s->file_fd, (off_t)s->offset, SEEK_SET) < 0)
            return -errno;
    }
    uv_idle_init(s->loop, &s->deliver_idle);
    s->deliver_idle.data = s;
    uv_timer_init(s->loop, &s->retry_timer);
    s->retry_timer.data = s;
    vg_info("outputs:%s%s%s; %" PRIu64 " alerts to deliver", s->file_fd >= 0 ? " file " : "",
            s->file_fd >= 0 ? s->conf.json_file : "", s->conf.json_stdout ? " stdout" : "",
            vg_queue_count(s->outbox));
    shp_output_kick(s);
    return 0;
}

void shp_output_close(shp *s)
{
    s->stopping = 1;
    if (!uv_is_closing((uv_handle_t *)&s->deliver_idle)) {
        uv_close((uv_handle_t *)&s->deliver_idle, NULL);
        uv_close((uv_handle_t *)&s->retry_timer, NULL);
    }
    if (s->file_fd >= 0)
        close(s->file_fd);
    s->file_fd = -1;
}
