/* The 'file' output (ECS JSON lines, exactly once, size-based rotation);
 * the 'stdout' output is in shp_stdout.c.
 *
 * File: each batch is written and fdatasync'ed on the thread pool (a slow
 * disk stalls only this output), then the driver commits the cursor with
 * the file size after the batch ("out.NAME.offset"). On start, bytes past
 * the committed size belong to a batch whose commit never happened: they
 * are cut off and written again, so every alert is in the file once. A new
 * output records its starting size (what the file already held) before it
 * writes anything, so that this holds for its first batch too.
 *
 * Rotation happens after a commit that leaves the file at rotate_size or
 * more: PATH.N-1 -> PATH.N ... PATH -> PATH.1 (the oldest beyond
 * rotate_keep is replaced), a new PATH, offset 0 committed. A crash
 * between the rename and that commit leaves a new, short PATH and a larger
 * committed offset, which the start-up check reads as "rotated": append.
 */
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
#include "vigil/util.h"

typedef struct shp_file {
    int fd;
    uint64_t offset;      /* committed size */
    uint64_t next;        /* size after the batch in flight */
    uv_work_t work;
    const shp_batch *b;
    int rc;               /* the work's result */
    int busy;             /* work queued */
    int device;           /* a character device: no size, no sync, no rotation */
    int dead;             /* closed while busy: free after the work */
    uint64_t rotations, write_errors;
    uint64_t external;    /* PATH moved or cut by something else, and followed */
} shp_file;

static int shp_file_key(const shp_out *o, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "out.%s.offset", o->conf.name);
    return n > 0 && (size_t)n < cap ? 0 : -ENAMETOOLONG;
}

/* "out.NAME.path": the file the recorded offset is of. */
static int shp_file_path_key(const shp_out *o, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "out.%s.path", o->conf.name);
    return n > 0 && (size_t)n < cap ? 0 : -ENAMETOOLONG;
}

/* Records offset as the committed size of the configured path, in a
 * transaction of its own. */
static int shp_file_record(shp_out *o, uint64_t offset)
{
    char key[128], pkey[128];
    int rc = shp_file_key(o, key, sizeof(key));
    if (rc == 0)
        rc = shp_file_path_key(o, pkey, sizeof(pkey));
    if (rc == 0 && (rc = vg_store_begin(o->s->store)) == 0) {
        rc = vg_meta_put_u64(o->s->store, key, offset);
        if (rc == 0)
            rc = vg_meta_put(o->s->store, pkey, o->conf.path, strlen(o->conf.path));
        rc = rc ? (vg_store_abort(o->s->store), rc) : vg_store_commit(o->s->store);
    }
    return rc;
}

/* Whether the recorded offset is of another file than the configured one
 * (the output's path was changed, which takes a restart): 1 if so, as its
 * size then says nothing of this file, which must not be cut to it; 0 if
 * not; -1 if no path is recorded (state from before paths were), which is
 * taken as of this path. */
static int shp_file_moved(shp_out *o)
{
    char pkey[128], rec[4096];
    size_t len = 0;
    if (shp_file_path_key(o, pkey, sizeof(pkey)) != 0 ||
        vg_meta_get(o->s->store, pkey, rec, sizeof(rec), &len) != 0)
        return -1;
    return len != strlen(o->conf.path) || memcmp(rec, o->conf.path, len) != 0;
}

static int shp_file_open_fd(shp_out *o, shp_file *f)
{
    /* O_NONBLOCK: a FIFO without a reader fails at once (ENXIO) instead
     * of blocking the loop; a FIFO is refused below anyway */
    f->fd = open(o->conf.path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (f->fd < 0 && errno == ENOENT) {
        f->fd = open(o->conf.path, O_WRONLY | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0640);
        if (f->fd >= 0)
            (void)vg_fsync_parent(o->conf.path); /* best effort */
    }
    if (f->fd < 0) {
        int rc = -errno;
        vg_error("output %s: cannot open %s: %s", o->conf.name, o->conf.path, strerror(errno));
        return rc;
    }
    struct stat sb;
    if (fstat(f->fd, &sb) != 0) {
        int rc = -errno;
        close(f->fd);
        f->fd = -1;
        return rc;
    }
    f->device = S_ISCHR(sb.st_mode);
    if (f->device) {
        /* a terminal, a serial console, /dev/null: no size to record or
         * cut back to, and fdatasync refuses it (which made every batch be
         * written again and again). Written as it comes: at least once. */
        int fl = fcntl(f->fd, F_GETFL);
        if (fl >= 0)
            (void)fcntl(f->fd, F_SETFL, fl & ~O_NONBLOCK);
        return 0;
    }
    if (!S_ISREG(sb.st_mode)) {
        vg_error("output %s: %s is neither a regular file nor a device; a file output needs one "
                 "(for a pipe, use an output of type stdout)", o->conf.name, o->conf.path);
        close(f->fd);
        f->fd = -1;
        return -EINVAL;
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size > f->offset) {
        vg_warn("output %s: removing %" PRIu64 " bytes of an unrecorded delivery from %s; they "
                "are written again", o->conf.name, size - f->offset, o->conf.path);
        if (ftruncate(f->fd, (off_t)f->offset) != 0)
            return -errno;
    } else if (size < f->offset) {
        vg_warn("output %s: %s is shorter (%" PRIu64 " bytes) than delivered (%" PRIu64 "): it "
                "was rotated or truncated; appending", o->conf.name, o->conf.path, size,
                f->offset);
        f->offset = size;
        /* recorded before anything is written there, as in shp_file_follow:
         * else a crash between this write and its commit would find the
         * file shorter than the old record again and append the batch a
         * second time (or cut it mid-line if it passed the old size) */
        int rc = shp_file_record(o, size);
        if (rc)
            vg_warn("output %s: cannot record where %s starts now (%s); a crash before the "
                    "next delivery is recorded may write that delivery twice",
                    o->conf.name, o->conf.path, vg_strerror(rc));
    }
    if (lseek(f->fd, (off_t)f->offset, SEEK_SET) < 0)
        return -errno;
    return 0;
}

static int shp_file_open(shp_out *o)
{
    shp_file *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->fd = -1;
    o->tp = f;
    char key[128], val[8];
    size_t len = 0;
    int rc = shp_file_key(o, key, sizeof(key));
    int moved = rc == 0 ? shp_file_moved(o) : 0;
    if (rc == 0 &&
        (moved == 1 || vg_meta_get(o->s->store, key, val, sizeof(val), &len) == -ENOENT)) {
        /* A new output (or a renamed or moved one): what the file holds is
         * not ours to cut. Append after it. */
        struct stat sb;
        if (stat(o->conf.path, &sb) == 0 && sb.st_size > 0) {
            f->offset = (uint64_t)sb.st_size;
            vg_info("output %s: appending to the existing %s (%" PRIu64 " bytes)", o->conf.name,
                    o->conf.path, f->offset);
        }
        /* else a crash before the first commit would find our own first
         * batch there, take it for someone else's, and append it again */
        int wr = shp_file_record(o, f->offset);
        if (wr)
            vg_warn("output %s: cannot record the starting size of %s (%s); a crash before "
                    "the first delivery is recorded may write that delivery twice",
                    o->conf.name, o->conf.path, vg_strerror(wr));
    } else if (rc == 0) {
        rc = vg_meta_get_u64(o->s->store, key, &f->offset);
        if (rc == 0 && moved < 0 && shp_file_record(o, f->offset) != 0)
            vg_warn("output %s: cannot record the path of %s", o->conf.name, o->conf.path);
    }
    if (rc == 0 && (rc = shp_file_open_fd(o, f)) == -ENOENT) {
        /* The file's directory is missing (renamed, a mount not there
         * yet): the file is opened again at each attempt, with the
         * output's backoff, as when that happens while running; the cut
         * of an unrecorded delivery is made then (shp_file_send). A start
         * refused here stopped every other output with it. Other errors
         * (a FIFO, no permission) stay refused at start. */
        vg_warn("output %s: starting without %s; trying again with each delivery",
                o->conf.name, o->conf.path);
        if (f->fd >= 0)
            close(f->fd);
        f->fd = -1;
        rc = 0;
    }
    if (rc) { /* not started: nothing will close it */
        if (f->fd >= 0)
            close(f->fd);
        free(f);
        o->tp = NULL;
    }
    return rc;
}

int shp_format_ecs(shp_out *o, const vg_alert *al, vg_buf *b)
{
    return vg_ecs_alert(b, al, shp_name(o->s));
}

static void shp_file_work(uv_work_t *w)
{
    shp_out *o = w->data;
    shp_file *f = o->tp;
    f->rc = vg_write_all(f->fd, f->b->data.p, f->b->data.len);
    if (f->rc)
        return;
    if (!f->device && fdatasync(f->fd) != 0)
        f->rc = -errno;
}

static void shp_file_free(shp_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    free(f);
}

static void shp_file_after(uv_work_t *w, int status)
{
    shp_out *o = w->data;
    shp_file *f = o->tp;
    f->busy = 0;
    if (f->dead) {
        shp_file_free(f);
        o->tp = NULL;
        shp_out_closed(o);
        return;
    }
    int rc = status < 0 ? status : f->rc;
    if (rc) {
        f->write_errors++;
        char why[256];
        snprintf(why, sizeof(why), "%s: %s", o->conf.path, rc < -30000 ? vg_strerror(rc)
                                                                       : strerror(-rc));
        /* Take back what may have been written, so the retry writes it once. */
        if (!f->device &&
            (ftruncate(f->fd, (off_t)f->offset) != 0 ||
             lseek(f->fd, (off_t)f->offset, SEEK_SET) < 0) &&
            (f->write_errors & (f->write_errors - 1)) == 0)
            vg_error("output %s: cannot roll %s back to %" PRIu64 " bytes", o->conf.name,
                     o->conf.path, f->offset);
        shp_out_done(o, rc, why);
        return;
    }
    f->next = f->offset + (f->device ? 0 : f->b->data.len);
    shp_out_done(o, 0, NULL);
}

/* Follows PATH when something else moved or truncated it (logrotate with
 * or without copytruncate, an operator's mv): the writes would otherwise go
 * on into the renamed file, unseen by whatever reads PATH, or past a hole
 * of zeros in the truncated one. After a rename or removal a new PATH is
 * opened (appended to if something already wrote there); after a
 * truncation writing goes on at its new end. The new start is recorded
 * before anything is written there, as for a new output, so that a crash
 * cannot write a batch twice. What was delivered stays in the old file. */
static int shp_file_follow(shp_out *o, shp_file *f)
{
    struct stat at, ours;
    if (f->device || f->fd < 0 || fstat(f->fd, &ours) != 0)
        return 0;
    int rc = 0, present = stat(o->conf.path, &at) == 0;
    if (!present || at.st_dev != ours.st_dev || at.st_ino != ours.st_ino) {
        uint64_t start = present ? (uint64_t)at.st_size : 0;
        vg_warn("output %s: %s was moved or removed by something else (logrotate?); what was "
                "delivered stays there (%" PRIu64 " bytes); writing to a new %s from byte %" PRIu64,
                o->conf.name, o->conf.path, f->offset, o->conf.path, start);
        close(f->fd);
        f->fd = -1;
        f->offset = f->next = start;
    } else if ((uint64_t)ours.st_size < f->offset) {
        vg_warn("output %s: %s was cut from %" PRIu64 " to %" PRIu64 " bytes by something else "
                "(logrotate copytruncate?); writing on at its end",
                o->conf.name, o->conf.path, f->offset, (uint64_t)ours.st_size);
        f->offset = f->next = (uint64_t)ours.st_size;
        if (lseek(f->fd, (off_t)f->offset, SEEK_SET) < 0)
            return -errno;
    } else {
        return 0;
    }
    f->external++;
    if ((rc = shp_file_record(o, f->offset)) != 0)
        vg_warn("output %s: cannot record where %s starts now (%s); a crash before the next "
                "delivery is recorded may write that delivery twice",
                o->conf.name, o->conf.path, vg_strerror(rc));
    return f->fd < 0 ? shp_file_open_fd(o, f) : 0;
}

static int shp_file_send(shp_out *o, shp_batch *b)
{
    shp_file *f = o->tp;
    int rc = f->fd < 0 ? shp_file_open_fd(o, f) : shp_file_follow(o, f);
    if (rc)
        return rc;
    f->b = b;
    f->work.data = o;
    rc = uv_queue_work(o->loop, &f->work, shp_file_work, shp_file_after);
    if (rc == 0)
        f->busy = 1;
    return rc;
}

static int shp_file_commit(shp_out *o, vg_store *st)
{
    shp_file *f = o->tp;
    char key[128];
    int rc = shp_file_key(o, key, sizeof(key));
    /* A cursor move without a write (filtered alerts) keeps the offset. */
    if (f->next < f->offset)
        f->next = f->offset;
    return rc ? rc : vg_meta_put_u64(st, key, f->next);
}

static void shp_file_rotate(shp_out *o, shp_file *f)
{
    size_t cap = strlen(o->conf.path) + 16;
    char *from = malloc(cap), *to = malloc(cap);
    if (!from || !to)
        goto out;
    for (int64_t i = o->conf.rotate_keep - 1; i >= 1; i--) {
        snprintf(from, cap, "%s.%" PRId64, o->conf.path, i);
        snprintf(to, cap, "%s.%" PRId64, o->conf.path, i + 1);
        if (rename(from, to) != 0 && errno != ENOENT)
            vg_warn("output %s: cannot rename %s: %s", o->conf.name, from, strerror(errno));
    }
    snprintf(to, cap, "%s.1", o->conf.path);
    if (rename(o->conf.path, to) != 0) {
        vg_error("output %s: cannot rotate %s: %s; going on with it", o->conf.name, o->conf.path,
                 strerror(errno));
        goto out;
    }
    (void)vg_fsync_parent(o->conf.path); /* best effort */
    close(f->fd);
    f->fd = -1;
    f->offset = f->next = 0;
    f->rotations++;
    int rc = shp_file_record(o, 0);
    if (rc)
        vg_warn("output %s: cannot record the rotation (%s); the next start appends",
                o->conf.name, vg_strerror(rc));
    if ((rc = shp_file_open_fd(o, f)) != 0)
        vg_error("output %s: cannot open the new %s: %s; retrying at the next batch",
                 o->conf.name, o->conf.path, vg_strerror(rc));
    else
        vg_info("output %s: rotated %s", o->conf.name, o->conf.path);
out:
    free(from);
    free(to);
}

static void shp_file_committed(shp_out *o)
{
    shp_file *f = o->tp;
    f->offset = f->next;
    if (o->conf.rotate_size && f->offset >= o->conf.rotate_size && !f->device)
        shp_file_rotate(o, f);
}

static void shp_file_close(shp_out *o)
{
    shp_file *f = o->tp;
    if (f && f->busy) {
        f->dead = 1; /* the work cannot be cancelled once running */
        return;
    }
    if (f)
        shp_file_free(f);
    o->tp = NULL;
    shp_out_closed(o);
}

static void shp_file_report(shp_out *o, vg_buf *line)
{
    shp_file *f = o->tp;
    if (f)
        vg_buf_addf(line,
                    " size=%" PRIu64 " rotations=%" PRIu64 " write_errors=%" PRIu64
                    " external_rotations=%" PRIu64,
                    f->offset, f->rotations, f->write_errors, f->external);
}

/* The smallest rotate_size but 0 (never). A file rotated every few
 * alerts (rotate_size: 100, bytes) keeps only rotate_keep batches: the
 * archive that should hold every alert lost all but its last few, and
 * each batch cost a cascade of renames. */
#define SHP_FILE_ROTATE_MIN ((uint64_t)1 << 20)

static int shp_file_check(const shp_out_conf *c, const vg_node *sec, char *err, size_t errlen)
{
    if (!c->path || !c->path[0])
        return vg_conf_errf(err, errlen, sec, "a file output needs 'path'");
    if (c->rotate_size && c->rotate_size < SHP_FILE_ROTATE_MIN) {
        const vg_node *at = vg_node_get(sec, "rotate_size");
        return vg_conf_errf(err, errlen, at ? at : sec,
                            "'rotate_size' must be 0 (never) or at least 1M, got '%s': the "
                            "file would be rotated every few alerts, and only rotate_keep "
                            "files of them kept",
                            at && at->kind == VG_NODE_SCALAR ? at->str : "?");
    }
    return 0;
}

static const char *const shp_file_keys[] = {"path", "rotate_size", "rotate_keep", NULL};

const shp_transport shp_file_transport = {
    .type = "file",
    .keys = shp_file_keys,
    .check = shp_file_check,
    .open = shp_file_open,
    .format = shp_format_ecs,
    .send = shp_file_send,
    .commit = shp_file_commit,
    .committed = shp_file_committed,
    .close = shp_file_close,
    .report = shp_file_report,
};
