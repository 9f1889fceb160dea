/* The collector's durable spool: parsed events are encoded at once (their
 * views point into read buffers that will be reused), held until the end of
 * the loop iteration, then committed to LMDB in one transaction. Only then
 * are they "accepted": see docs/architecture.md for what that promises. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "col.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/util.h"
#include "vigil/wire.h"

#define COL_FLUSH_AT 4096 /* records: commit early within a long loop pass */
#define COL_FLUSH_BYTES_MAX (8u << 20) /* ... or bytes (less with a small spool) */

static void col_spool_on_bp(uv_timer_t *t);

/* fsync runs on libuv's thread pool so that the loop keeps reading and
 * parsing while the disk works (LMDB's sync may run beside a commit). A
 * record may leave for the correlator only once it is synced. */
static void col_sync_work(uv_work_t *w)
{
    col *c = w->data;
    c->sync_rc = vg_store_sync(c->store);
}

static void col_sync_start(col *c);

static void col_sync_done(uv_work_t *w, int status)
{
    col *c = w->data;
    c->syncing = 0;
    if (status == 0 && c->sync_rc == 0) {
        c->synced = c->sync_target;
        /* not once stopping: a sync queued by the last flush ends after
         * vg_sender_stop, whose sender is freed when its link closes */
        if (c->sender && !c->stopping)
            vg_sender_limit(c->sender, c->synced);
    } else {
        vg_error("spool sync failed: %s; retrying", vg_strerror(c->sync_rc ? c->sync_rc : status));
    }
    if (c->committed > c->synced && !c->stopping)
        col_sync_start(c);
}

static void col_sync_start(col *c)
{
    if (c->syncing)
        return;
    c->syncing = 1;
    c->sync_target = c->committed;
    c->sync_work.data = c;
    if (uv_queue_work(c->loop, &c->sync_work, col_sync_work, col_sync_done) != 0) {
        c->syncing = 0;
        c->sync_rc = vg_store_sync(c->store); /* no thread pool: sync here */
        if (c->sync_rc == 0) {
            c->synced = c->committed;
            if (c->sender)
                vg_sender_limit(c->sender, c->synced);
        }
    }
}

/* After each loop pass, what it read is committed. Not while a failed
 * commit waits for its retry (col_spool_flush starts the timers that
 * retry it 4 times a second): datagrams still arriving, each refused,
 * woke the loop hundreds of times a second, and every pass tried a commit
 * on the full disk (145 in 0.2 s, against "retrying 4 times a second"). */
static void col_spool_on_check(uv_check_t *h)
{
    col *c = h->data;
    if (!uv_is_active((uv_handle_t *)&c->retry_timer))
        col_spool_flush(c);
}

static void col_spool_on_retry(uv_timer_t *t)
{
    col_spool_flush(t->data);
}

/* The datagrams refused since the last such notice, as a notice of the
 * collector's own (TCP senders only waited). */
static void col_spool_note_refused(col *c)
{
    if (c->stats.dropped > c->dropped_noted) {
        char text[300];
        snprintf(text, sizeof(text),
                 "intake loss: %llu UDP datagrams (%llu in all) were refused while the "
                 "spool was full",
                 (unsigned long long)(c->stats.dropped - c->dropped_noted),
                 (unsigned long long)c->stats.dropped);
        col_input_notice(c, text);
        c->dropped_noted = c->stats.dropped;
    }
}

/* A pause at spool_limit, as a warning: the first of a run, and again
 * (say VG_STREAK_REMIND) a minute or more after the last line with the
 * pauses counted so far. */
static void col_spool_say_full(col *c, int say, uint64_t used)
{
    const vg_streak *r = &c->full_runs;
    if (say == VG_STREAK_FIRST)
        vg_warn("spool full (%llu bytes, limit %llu): pausing TCP intake, refusing datagrams",
                (unsigned long long)used, (unsigned long long)c->spool_high);
    else if (say == VG_STREAK_REMIND)
        vg_warn("spool full (%llu bytes, limit %llu): TCP intake paused, datagrams refused; "
                "paused %llu times over %llu s (each pause and resume within a minute of the "
                "last such line is counted, not logged; %llu datagrams refused so far)",
                (unsigned long long)used, (unsigned long long)c->spool_high,
                (unsigned long long)r->count,
                (unsigned long long)((uv_now(c->loop) - r->first_ms) / 1000),
                (unsigned long long)c->stats.dropped);
}

/* Pauses intake when the spool reaches spool_limit, resumes below 90% of
 * it: TCP senders wait (their kernel buffers fill), datagrams are refused
 * and counted. Nothing already accepted is ever dropped. A backlog that a
 * correlator drains slower than the collector reads makes intake pause and
 * resume over and over (each resume reads a burst that reaches the limit
 * again, 4 times a second): those pauses are one run (vg_streak), so the
 * log says its first pause and first resume, then at most one of each a
 * minute, where it said both for every pause. A pause that came quietly
 * and lasts is said a minute after the resume line (vg_streak_overdue):
 * the last line must not say intake runs while it is paused. */
static void col_spool_check_full(col *c)
{
    uint64_t used = vg_queue_bytes(c->spool);
    uint64_t now = uv_now(c->loop);
    if (!c->paused && used >= c->spool_high) {
        col_spool_say_full(c, vg_streak_fail(&c->full_runs, now), used);
        col_input_pause(c);
        uv_timer_start(&c->bp_timer, col_spool_on_bp, 250, 250);
    } else if (c->paused && used <= c->spool_low && c->npend == 0) {
        /* after a full disk the spool was never above the limit: saying
         * it is below it again named the wrong cause */
        if (c->paused_commits) {
            vg_info("spool commits pass again: resuming intake (%llu datagrams refused so far)",
                    (unsigned long long)c->stats.dropped);
        } else {
            double secs;
            uint64_t n = vg_streak_end(&c->full_runs, now, &secs);
            if (n == 1)
                vg_info("spool below %llu bytes: resuming intake (%llu datagrams refused so far)",
                        (unsigned long long)c->spool_low, (unsigned long long)c->stats.dropped);
            else if (n > 1)
                vg_info("spool below %llu bytes: resuming intake (%llu datagrams refused so "
                        "far; paused %llu times over %.0f s)",
                        (unsigned long long)c->spool_low, (unsigned long long)c->stats.dropped,
                        (unsigned long long)n, secs);
        }
        c->paused_commits = 0;
        uv_timer_stop(&c->bp_timer);
        col_input_resume(c);
        col_spool_note_refused(c);
    } else if (c->paused && !c->paused_commits && vg_streak_overdue(&c->full_runs, now)) {
        col_spool_say_full(c, VG_STREAK_REMIND, used);
    }
}

/* At a stop, spool_limit pauses intake no more, and a pause for a full
 * spool (not for failing commits: the retry timer runs then) ends: the
 * senders took what the kernel holds as delivered, and the close would
 * throw it away (a restart while the correlator was down lost every line
 * in the socket buffers). It goes into the room the spool keeps above
 * spool_limit; a commit that does not fit there fails and pauses again
 * (col_spool_flush), which ends the reading, and col_spool_close tries it
 * once more, then logs what it still held. The limit is lifted also when
 * intake was not paused: a reading that crossed it paused at its next
 * commit, which ended the reading with the room free (the kernel's bytes
 * lost, counted as "spool commits failing" though none failed). The
 * datagrams refused meanwhile are told of first, as at a resume, so that
 * the notice is spooled. */
void col_spool_stop_pause(col *c)
{
    c->spool_high = UINT64_MAX; /* no new pause for the limit */
    if (!c->paused || uv_is_active((uv_handle_t *)&c->retry_timer))
        return;
    c->paused = 0;
    c->paused_commits = 0;
    uv_timer_stop(&c->bp_timer);
    col_spool_note_refused(c);
}

int col_spool_open(col *c)
{
    char name[256];
    snprintf(name, sizeof(name), "collector/%s", c->conf.name);
    char *dir = vg_daemon_path(vg_daemon_pipeline(c->d)->data_dir, name);
    if (!dir)
        return -ENOMEM;
    /* background: commits go to the page cache and a worker syncs them
     * (LMDB's MDB_NOSYNC), so the loop never waits for the disk; but LMDB
     * then does not write a commit's pages before its meta page, and a
     * power cut while commits are unsynced can leave the spool damaged.
     * commit: LMDB syncs each commit's pages, then its meta page, in the
     * commit; the loop waits for the disk once per pass. */
    int rc = vg_store_open_ex(&c->store, dir, (size_t)(c->conf.spool_size >> 20),
                              VG_STORE_OWNER |
                                  (c->conf.sync_each_commit ? 0 : VG_STORE_ASYNC_SYNC));
    if (rc == 0)
        rc = vg_store_sync(c->store); /* what a crash left in the page cache */
    if (rc) {
        vg_error("cannot open spool %s: %s", dir, vg_strerror(rc));
        free(dir);
        return rc;
    }
    vg_store_check_room(dir, "collector.spool_size", (size_t)(c->conf.spool_size >> 20));
    rc = vg_queue_open(c->store, "spool", &c->spool);
    if (rc == 0)
        vg_info("spool %s: %llu events waiting for the correlator; %s", dir,
                (unsigned long long)vg_queue_count(c->spool),
                c->conf.sync_each_commit ? "each commit synced before the next (spool_sync: commit)"
                                         : "commits synced in the background (spool_sync: "
                                           "background)");
    free(dir);
    msgpack_sbuffer_init(&c->pend);
    uv_check_init(c->loop, &c->flush_check);
    c->flush_check.data = c;
    uv_check_start(&c->flush_check, col_spool_on_check);
    uv_timer_init(c->loop, &c->retry_timer);
    c->retry_timer.data = c;
    uv_timer_init(c->loop, &c->bp_timer);
    c->bp_timer.data = c;
    c->spool_high = c->conf.spool_limit;
    c->spool_low = c->conf.spool_limit / 10 * 9;
    /* A loop pass that reads many connections at once (after a pause, a
     * stop, a stall) must not make one commit larger than the room the
     * spool keeps above spool_limit: a commit that can never fit is retried
     * whole forever, the spool empty and intake paused. A quarter of that
     * room a commit, so that the commits after the limit is crossed fit. */
    uint64_t room = (c->conf.spool_size - c->conf.spool_limit) / 4;
    c->flush_bytes = room < COL_FLUSH_BYTES_MAX ? (size_t)room : COL_FLUSH_BYTES_MAX;
    if (rc == 0)
        col_spool_check_full(c);
    return rc;
}

int col_spool_add(col *c, const vg_event *ev)
{
    if (c->npend == c->pend_cap) {
        size_t cap = c->pend_cap ? c->pend_cap * 2 : 1024;
        size_t *p = realloc(c->pend_off, (cap + 1) * sizeof(*p));
        if (!p)
            return -ENOMEM;
        c->pend_off = p;
        c->pend_cap = cap;
    }
    c->pend_off[c->npend] = c->pend.size;
    vg_wire_pack_event(&c->pend, ev);
    c->npend++;
    c->pend_off[c->npend] = c->pend.size;
    /* after a failed commit its timer retries it, not every message */
    if ((c->npend >= COL_FLUSH_AT || c->pend.size >= c->flush_bytes) &&
        !uv_is_active((uv_handle_t *)&c->retry_timer))
        col_spool_flush(c);
    return 0;
}

/* A spool that cannot commit (a full disk: ENOSPC, or EIO from LMDB's
 * short write) is retried about 4 times a second until it can; not once
 * the stop began (col_spool_stop_pause lifted the limit): its reading then
 * ends, and col_spool_close logs what it cannot commit, so the first line
 * says that instead (it said "retrying 4 times a second, TCP senders
 * wait" just before the senders were reset). Logging
 * each attempt wrote that many error lines, maybe to the very disk that is
 * full: the first failure is logged, then one line a minute while they go
 * on, and the recovery. spool_errors counts every attempt. */
static void col_spool_failed(col *c, int rc)
{
    vg_streak *f = &c->spool_fails;
    c->stats.spool_errors++;
    c->spool_rc = rc;
    int say = vg_streak_fail(f, uv_now(c->loop));
    const char *disk =
        rc == -ENOSPC || rc == -EIO ? " (is the file system of pipeline.data_dir full?)" : "";
    if (say == VG_STREAK_FIRST && c->spool_high == UINT64_MAX) /* the stop began */
        vg_error("spool commit of %zu events failed at the stop: %s%s; the connections are "
                 "read no more (what they still hold is counted at the close; datagrams are "
                 "refused and counted), and what %s is logged as 'not spooled' lines",
                 c->npend, vg_strerror(rc),
                 rc == VG_EFULL ? " (the room above spool_limit is used up)" : disk,
                 rc == VG_EFULL ? "the close cannot commit in one more try"
                                : "the close cannot commit within 3 s more");
    else if (say == VG_STREAK_FIRST)
        vg_error("spool commit of %zu events failed: %s%s; intake paused, retrying 4 times a "
                 "second (the events are held in memory, TCP senders wait; further failures "
                 "are logged once a minute)",
                 c->npend, vg_strerror(rc), disk);
    else if (say == VG_STREAK_REMIND)
        vg_error("spool commits still failing: %s; %llu attempts over %llu s, %zu events held, "
                 "intake paused",
                 vg_strerror(rc), (unsigned long long)f->count,
                 (unsigned long long)((f->logged_ms - f->first_ms) / 1000), c->npend);
}

void col_spool_flush(col *c)
{
    if (c->npend == 0 || !c->store)
        return;
    int rc = vg_store_begin(c->store);
    for (size_t i = 0; rc == 0 && i < c->npend; i++)
        rc = vg_queue_append(c->spool, c->pend.data + c->pend_off[i],
                             c->pend_off[i + 1] - c->pend_off[i], NULL);
    if (rc == 0) {
        rc = vg_store_commit(c->store);
    } else if (vg_store_txn(c->store)) {
        vg_store_abort(c->store);
    }
    if (rc) {
        /* Keep the records in memory and try again shortly; nothing is
         * dropped here (issue: spool-full backpressure pauses intake). */
        col_spool_failed(c, rc);
        if (!c->paused)
            c->paused_commits = 1;
        col_input_pause(c); /* do not pile up more in memory meanwhile */
        uv_timer_start(&c->bp_timer, col_spool_on_bp, 250, 250);
        uv_timer_start(&c->retry_timer, col_spool_on_retry, 500, 0);
        return;
    }
    c->spool_rc = 0;
    /* a commit passed (the back-pressure timer's, or a stop's): no retry
     * is due, and the loop's own commits (which a pending retry holds
     * back) must take over at once, or what arrives meanwhile piles up
     * past COL_FLUSH_AT into one commit */
    uv_timer_stop(&c->retry_timer);
    double secs;
    uint64_t fails = vg_streak_end(&c->spool_fails, uv_now(c->loop), &secs);
    if (fails)
        vg_warn("spool commits succeed again, after %llu failed attempts over %.1f s; %zu held "
                "events committed, none lost",
                (unsigned long long)fails, secs, c->npend);
    c->stats.spooled += c->npend;
    c->npend = 0;
    msgpack_sbuffer_clear(&c->pend);
    c->committed = vg_queue_last(c->spool);
    if (c->conf.sync_each_commit && !c->syncing) { /* synced by the commit itself */
        c->synced = c->committed;
        if (c->sender && !c->stopping)
            vg_sender_limit(c->sender, c->synced);
    } else {
        col_sync_start(c);
    }
    col_spool_check_full(c);
}

static void col_spool_on_bp(uv_timer_t *t)
{
    col *c = t->data;
    col_spool_flush(c);
    col_spool_check_full(c);
}

/* At a stop with commits still failing, the events held in memory would
 * be gone without a trace (TCP senders took them as delivered): their raw
 * messages go to the log instead, one line each, as JSON strings. */
static void col_spool_log_held(col *c)
{
    vg_error("%zu events could not be committed at shutdown; their raw messages follow, one "
             "'not spooled' line each",
             c->npend);
    vg_buf b = {0};
    for (size_t i = 0; i < c->npend; i++) {
        vg_event ev;
        b.len = 0;
        if (vg_wire_decode_event(c->pend.data + c->pend_off[i],
                                 c->pend_off[i + 1] - c->pend_off[i], &ev) != 0 ||
            vg_json_escape(&b, ev.raw) != 0 || vg_buf_addc(&b, '\0') != 0) {
            vg_error("not spooled: (event %zu of %zu cannot be shown)", i + 1, c->npend);
            continue;
        }
        vg_error("not spooled: \"%s\"", b.p);
    }
    vg_buf_free(&b);
}

void col_spool_close(col *c)
{
    /* stopped while paused: no resume will tell of the datagrams refused,
     * and the count starts again at 0 with the next start */
    col_spool_note_refused(c);
    /* One more try. After a full spool refused a commit this one may
     * pass all the same: the failed commit's abort lets LMDB hand out the
     * pages the last good commit freed (vg__nudge in lib/store.c). */
    col_spool_flush(c);
    /* A full disk: give it 3 s more. Not a full spool (VG_EFULL): nothing
     * takes from it while this waits (the sender runs in the loop), so
     * waiting adds no room, and the stop took 3 s longer for nothing. */
    for (int i = 0; i < 12 && c->npend && c->spool_rc != VG_EFULL; i++) {
        struct timespec ts = {0, 250 * 1000 * 1000};
        nanosleep(&ts, NULL);
        col_spool_flush(c);
    }
    if (c->npend)
        col_spool_log_held(c);
    c->stopping = 1;
    if (vg_store_sync(c->store) != 0)
        vg_error("final spool sync failed");
    uv_close((uv_handle_t *)&c->flush_check, NULL);
    uv_close((uv_handle_t *)&c->retry_timer, NULL);
    uv_close((uv_handle_t *)&c->bp_timer, NULL);
}
