/* LMDB environment, durable queues and the meta table (see store.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/store.h"
#include "vigil/syslog.h"
#include "vigil/util.h"

#define VG_QUEUES_MAX 8

struct vg_queue {
    vg_store *st;
    MDB_dbi dbi;
    char name[48];
    char last_key[64]; /* meta key holding the highest seq ever appended */
    uint64_t last;     /* including appends of the open write txn */
    uint64_t last_committed;
};

struct vg_store {
    MDB_env *env;
    MDB_dbi meta;
    MDB_txn *wtxn;
    MDB_txn *rtxn; /* reused read txn (reset between uses) */
    uint64_t nudges; /* small commits after failed transactions (vg__nudge) */
    int starved;     /* commits left to nudge after, since a failure (vg__nudge) */
    size_t psize;    /* LMDB's page size */
    size_t reserve;  /* pages kept for commits that append nothing (vg__room) */
    uint64_t grow_bytes; /* bytes appended or put in the open write txn (vg__room) */
    int raw;         /* the open write txn was handed out (vg_store_write_txn) */
    int grew;        /* the open write txn put records (vg_store_put): counted in grow_bytes */
    uint64_t probes; /* commits whose room vg__probe settled (vg_store_probes) */
    int full;        /* an append or put of the open write txn met a full map (vg__reap) */
    int nqueues;
    vg_queue queues[VG_QUEUES_MAX];
    int owner_fd; /* DIR/owner.lock, locked (VG_STORE_OWNER); -1: none */
};

/* Takes DIR/owner.lock for this process (VG_STORE_OWNER), writing its pid
 * there (best effort: the lock is what counts). */
static int vg__store_own(vg_store *st, const char *dir)
{
    char path[4200], pid[32] = "";
    snprintf(path, sizeof(path), "%s/owner.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (rc == -EBUSY)
            vg_error("%s is in use by another process (pid %s): one daemon per store; give each "
                     "instance its own name (or data_dir)", dir, pid[0] ? pid : "unknown");
        close(fd);
        return rc;
    }
    int k = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)k, 0) != k) {
        /* a full disk: the lock holds without the pid */
    }
    st->owner_fd = fd;
    return 0;
}


int vg_store_open(vg_store **out, const char *dir, size_t map_mb)
{
    return vg_store_open_ex(out, dir, map_mb, 0);
}

static int vg__rc(int rc);

int vg_epoch_random(uint64_t old, uint64_t *epoch)
{
    uint64_t e = 0;
    while (e == 0 || e == old)
        if (getrandom(&e, sizeof(e), 0) != sizeof(e))
            return -errno;
    *epoch = e;
    return 0;
}

/* The identity of a store's data file: its inode and, where the file
 * system keeps one, its birth time (ns). An inode number alone is not
 * enough: "rm -rf DIR && cp -a BACKUP DIR" often gets the number the
 * deleted file had. */
typedef struct vg_file_id {
    uint64_t ino, birth_ns;
} vg_file_id;

static int vg__file_id(vg_store *st, vg_file_id *id)
{
    int fd;
    struct statx sx;
    int rc = mdb_env_get_fd(st->env, &fd);
    if (rc)
        return vg__rc(rc);
    if (statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_BTIME, &sx) != 0)
        return -errno;
    id->ino = sx.stx_ino;
    id->birth_ns = (sx.stx_mask & STATX_BTIME)
                       ? (uint64_t)sx.stx_btime.tv_sec * 1000000000u + sx.stx_btime.tv_nsec
                       : 0;
    return 0;
}

/* A birth time for the copy warning: RFC 3339 UTC (vg_time_format), or
 * "at an unknown time" (a file system that keeps none). */
static void vg__birth_str(uint64_t ns, char *out, size_t len)
{
    if (!ns || !vg_time_format((int64_t)(ns / 1000), out, len))
        snprintf(out, len, "at an unknown time");
}

/* A store restored from a copy holds queue numbers that its downstream has
 * already seen for other records: what it appends from now on would be
 * skipped there as re-sends (lost), or share alert ids with older alerts
 * (which a SIEM then drops as duplicates). The HELLO check catches that
 * only while the copy holds fewer records than the downstream has seen.
 * A copy (cp, tar, rsync, mdb_copy) is a new data file: its identity
 * (vg__file_id) differs from the one recorded when the store first opened.
 * Then every queue of the store takes a new epoch, in the transaction that
 * records the new identity, so that the records it appends start a new
 * stream downstream. A store renamed within its file system keeps its
 * identity; one moved to another costs at most re-sends of what it still
 * held (at least once, as ever). */
static int vg__check_copy(vg_store *st, const char *dir)
{
    vg_file_id now, was = {0, 0};
    size_t len = 0;
    int rc = vg__file_id(st, &now);
    if (rc)
        return rc;
    rc = vg_meta_get(st, "store.file", &was, sizeof(was), &len);
    if (rc && rc != -ENOENT && rc != -ENOBUFS)
        return rc;
    if (rc == 0 && len == sizeof(was) && was.ino == now.ino && was.birth_ns == now.birth_ns)
        return 0;
    int copied = rc != -ENOENT; /* else the first open: the identity is recorded */
    if ((rc = vg_store_begin(st)))
        return rc;
    int renewed = 0;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    rc = copied ? vg__rc(mdb_cursor_open(st->wtxn, st->meta, &cur)) : 0;
    for (int op = MDB_FIRST; rc == 0 && cur && mdb_cursor_get(cur, &k, &v, op) == 0;
         op = MDB_NEXT) {
        const char *key = k.mv_data;
        uint64_t old, e;
        if (k.mv_size < 13 || memcmp(key, "queue.", 6) != 0 ||
            memcmp(key + k.mv_size - 6, ".epoch", 6) != 0 || v.mv_size != sizeof(old))
            continue;
        memcpy(&old, v.mv_data, sizeof(old));
        if ((rc = vg_epoch_random(old, &e)) == 0)
            rc = vg__rc(mdb_cursor_put(cur, &k, &(MDB_val){sizeof(e), &e}, MDB_CURRENT));
        renewed += rc == 0;
    }
    if (cur)
        mdb_cursor_close(cur);
    if (rc == 0)
        rc = vg_meta_put(st, "store.file", &now, sizeof(now));
    rc = rc ? (vg_store_abort(st), rc) : vg_store_commit(st);
    if (rc == 0 && copied) {
        char bnow[40], bwas[40];
        vg__birth_str(now.birth_ns, bnow, sizeof(bnow));
        vg__birth_str(was.birth_ns, bwas, sizeof(bwas));
        vg_warn("%s is a copy (its data file is not the one it was made in: inode %llu made %s, "
                "was inode %llu made %s): %d queue(s) take a new epoch, so that what they hold "
                "from now on is not taken downstream for records sent before the copy",
                dir, (unsigned long long)now.ino, bnow, (unsigned long long)was.ino, bwas,
                renewed);
    }
    return rc;
}

/* Clears the reader slots of processes that are gone (mdb_reader_check)
 * and returns how many it cleared (0 on an error). A process killed (kill
 * -9, a crash) while it held a read transaction leaves its slot in the lock
 * file, with the snapshot it read; LMDB resets the slots only when an opener
 * finds itself alone. While another process keeps the store open (the
 * daemon, when an operator's dump of its store was killed; a tool that
 * outlives a killed daemon), that slot pins the snapshot: no page freed
 * since is reused, the map fills, and appends are refused (VG_EFULL) for
 * ever. Called at each open and whenever the store finds no room, never on
 * a commit that has room: it takes a lock per slot. 'when' says which, for
 * the log. */
static int vg__reap(vg_store *st, const char *when)
{
    int dead = 0;
    const char *path = NULL;
    if (mdb_reader_check(st->env, &dead) != 0 || dead <= 0)
        return 0;
    if (mdb_env_get_path(st->env, &path) != 0 || !path)
        path = "store";
    vg_warn("store %s (%s): cleared %d read transaction(s) left by processes that died in them "
            "(kill -9 or a crash): the pages they held are reused", path, when, dead);
    return dead;
}

/* The reserve of a map of 'pages' pages, in pages. LMDB fails every write
 * transaction on a truly full map, those that would free room included: an
 * outbox whose last append left no free page could not record its next
 * hop's cursor, so never trim, so never free room again (a wedge that a
 * restart kept). So a transaction that appends (or writes through
 * vg_store_write_txn) is refused as on a full map (VG_EFULL: the batch fails
 * whole and is retried, as before) unless it leaves this many pages that
 * the next transaction can take (vg__room); those that append nothing use
 * it. Refused batches take nothing from it (aborted). What it must hold:
 * two or three small commits before the pages that the first freed become
 * usable (a cursor update, the nudge: a few pages each for the paths they
 * copy), and the list of pages a trim frees, which LMDB stores in the same
 * commit (8 bytes a page: a whole map's worth trimmed at once needs a
 * 512th of the map). 32 pages plus a 256th of the map covers both twice
 * (at most 16 MiB more: the trims of a larger map, one delivered batch
 * each, are far smaller than the map).
 * The map LMDB gets is the configured size plus the reserve, so that the
 * records a store holds are what its size said, and a store wedged before
 * this reopens with the reserve free. */
static size_t vg__reserve_pages(size_t pages)
{
    size_t part = pages / 256;
    return 32 + (part < 4096 ? part : 4096); /* past 4 GiB, trims are smaller than maps */
}

int vg_store_open_ex(vg_store **out, const char *dir, size_t map_mb, unsigned flags)
{
    vg_store *st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    st->owner_fd = -1;
    int rc = vg_mkdirs(dir, 0700, 0700);
    if (rc == 0 && (flags & VG_STORE_OWNER))
        rc = vg__store_own(st, dir);
    if (rc)
        goto fail;
    long pg = sysconf(_SC_PAGESIZE);
    st->psize = pg > 0 ? (size_t)pg : 4096; /* LMDB's page size is the system's */
    st->reserve = vg__reserve_pages((map_mb << 20) / st->psize);
    if ((rc = mdb_env_create(&st->env)) || (rc = mdb_env_set_maxdbs(st->env, VG_QUEUES_MAX + 8)) ||
        (rc = mdb_env_set_mapsize(st->env, map_mb ? (map_mb << 20) + st->reserve * st->psize : 0)) ||
        (rc = mdb_env_open(st->env, dir,
                           MDB_NOTLS | ((flags & VG_STORE_ASYNC_SYNC) ? MDB_NOSYNC : 0), 0600)))
        goto fail;
    vg__reap(st, "opened");
    MDB_stat es;
    MDB_envinfo ei;
    if ((rc = mdb_env_stat(st->env, &es)) || (rc = mdb_env_info(st->env, &ei)))
        goto fail;
    if (!map_mb) /* a tool's open: the map the file had */
        st->reserve = vg__reserve_pages(ei.me_mapsize / es.ms_psize);
    st->psize = es.ms_psize;
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)))
        goto fail;
    if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &st->meta))) {
        mdb_txn_abort(txn);
        goto fail;
    }
    if ((rc = mdb_txn_commit(txn)))
        goto fail;
    if ((rc = vg__check_copy(st, dir)))
        goto fail;
    *out = st;
    return 0;
fail:
    if (st->env)
        mdb_env_close(st->env);
    if (st->owner_fd >= 0)
        close(st->owner_fd);
    free(st);
    return rc > 0 ? -rc : rc;
}

void vg_store_close(vg_store *st)
{
    if (!st)
        return;
    if (st->wtxn)
        vg_store_abort(st);
    if (st->rtxn)
        mdb_txn_abort(st->rtxn);
    mdb_env_close(st->env);
    if (st->owner_fd >= 0)
        close(st->owner_fd); /* releases the lock */
    free(st);
}

MDB_env *vg_store_env(vg_store *st)
{
    return st->env;
}

MDB_txn *vg_store_txn(vg_store *st)
{
    return st->wtxn;
}

MDB_txn *vg_store_write_txn(vg_store *st)
{
    if (st->wtxn)
        st->raw = 1; /* its writes are not counted: vg__room probes */
    return st->wtxn;
}

size_t vg_store_reserve(const vg_store *st)
{
    return st->reserve;
}

/* LMDB returns positive errno values or its own negative codes; callers of
 * this module see negative values only. */
/* LMDB's code as ours: negative errno, and a full map as VG_EFULL (its own
 * code, -30792, reads "Unknown error" in a log). */
static int vg__rc(int rc)
{
    if (rc == MDB_MAP_FULL)
        return VG_EFULL;
    return rc > 0 ? -rc : rc;
}

static int vg__begin(vg_store *st, unsigned flags)
{
    if (st->wtxn)
        return -EBUSY;
    st->grow_bytes = 0;
    st->raw = 0;
    st->grew = 0;
    st->full = 0;
    return vg__rc(mdb_txn_begin(st->env, NULL, flags, &st->wtxn));
}

int vg_store_begin(vg_store *st)
{
    return vg__begin(st, 0);
}

/* MDB_NOMETASYNC: the commit syncs its pages but not the meta page, which
 * the next commit's sync takes along; a system crash may undo it (never
 * the one before), which loses nothing for deletes whose groups stay in
 * memory until they commit: the store then still holds them, and a
 * restart loads them. One sync a commit instead of two. */
int vg_store_begin_deletes(vg_store *st)
{
    return vg__begin(st, MDB_NOMETASYNC);
}

/* The pages on LMDB's freelist as of the last commit, less those that the
 * last two commits freed (not usable yet: vg__nudge), read in a read
 * transaction of its own: cheaper than vg__room's probe, but blind to what
 * the open write transaction took, and to a read transaction that another
 * process keeps open (the pages freed since are not usable while it
 * lasts); so the fast path wants twice the reserve. 0 on an error. */
static size_t vg__free_pages(vg_store *st, size_t last_txnid)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    size_t n = 0;
    if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn))
        return 0;
    if (mdb_cursor_open(txn, 0, &cur) == 0) { /* dbi 0: LMDB's FREE_DBI */
        while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
            size_t id, cnt;
            if (k.mv_size != sizeof(id) || v.mv_size < sizeof(cnt))
                break;
            memcpy(&id, k.mv_data, sizeof(id));
            if (id + 2 > last_txnid)
                break; /* keys in order: the rest is newer */
            memcpy(&cnt, v.mv_data, sizeof(cnt)); /* an IDL: its length first */
            n += cnt;
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return n;
}

/* Whether the open write transaction leaves, once committed, at least
 * st->reserve pages that the next transaction can take: 1 yes, 0 no,
 * negative on an error. Asked of LMDB itself: a nested transaction takes
 * the reserve, one page at a time (values of one overflow page each, under
 * keys that nothing else uses), and is aborted, which gives everything
 * back. It finds exactly what a later transaction could: the pages that
 * the open one has not taken (LMDB shows no count of those: mdb_env_info
 * tells the last commit's end only), freed pages that no reader can still
 * see, and the room between the map's end and the last page used.
 * Counting LMDB's freelist instead would count pages that the last commit
 * freed, which the next transaction cannot use yet. Costly (R page
 * allocations): only when the last commit left less than the transaction
 * can have used plus the reserve, or its writes were not counted
 * (vg_store_write_txn). */
static int vg__probe_n(vg_store *st, size_t pages)
{
    MDB_txn *probe;
    int rc = mdb_txn_begin(st->env, st->wtxn, 0, &probe);
    if (rc)
        return vg__rc(rc);
    /* a value of one page less its header fills one overflow page */
    MDB_val v = {st->psize - 16, NULL};
    for (size_t i = 0; i < pages && rc == 0; i++) {
        char key[32];
        int n = snprintf(key, sizeof(key), "store.reserve.%zu", i);
        MDB_val k = {(size_t)n, key};
        rc = mdb_put(probe, st->meta, &k, &v, MDB_RESERVE);
    }
    mdb_txn_abort(probe);
    if (rc == MDB_MAP_FULL)
        return 0;
    return rc ? vg__rc(rc) : 1;
}

static int vg__probe(vg_store *st)
{
    return vg__probe_n(st, st->reserve);
}

int vg_store_room_left(vg_store *st, size_t pages)
{
    return st->wtxn ? vg__probe_n(st, pages) : -EINVAL;
}

/* vg__probe's answer, asked only when the count as of the last commit
 * (vg__free_pages) does not settle it; and once more after a vg__reap that
 * cleared something, so that a daemon recovers without a restart. */
static int vg__room(vg_store *st)
{
    MDB_envinfo ei;
    size_t tail = 0;
    if (mdb_env_info(st->env, &ei) == 0) {
        size_t pages = ei.me_mapsize / st->psize, used = ei.me_last_pgno + 1;
        tail = pages > used ? pages - used : 0;
    }
    /* an upper bound of what appends and puts took: each record half a
     * page's worth of its bytes at worst, and the paths copied on write */
    size_t est = (size_t)(2 * st->grow_bytes / st->psize) + 64;
    if (!st->raw && (tail >= st->reserve + est ||
                     tail + vg__free_pages(st, ei.me_last_txnid) >= 2 * st->reserve + est))
        return 1;
    st->probes++;
    int rc = vg__probe(st);
    /* No room: a dead process's read transaction may be what holds it
     * (vg__reap); the probe then finds the pages it freed. */
    if (rc == 0 && vg__reap(st, "no room for an append"))
        rc = vg__probe(st);
    return rc;
}

/* LMDB never hands out the pages that the last committed transaction
 * freed: the snapshot before it must stay readable. So when a map has
 * filled up and one transaction then frees most of it (an outbox drained
 * in one go once the next hop is back), every large transaction after it
 * fails for want of room, and if nothing else commits, it fails forever:
 * the upstream re-sends the same batch and the hop is wedged. A small
 * commit after a failed transaction moves the free pages into reach, so
 * that the next attempt can succeed. It appends nothing, so it may use the
 * reserve (vg__reserve_pages), which keeps the map from being truly full. */
#define VG_STARVED_COMMITS 16

static void vg__nudge(vg_store *st)
{
    MDB_txn *txn;
    if (mdb_txn_begin(st->env, NULL, 0, &txn))
        return;
    static const char key[] = "store.nudge";
    uint64_t n = ++st->nudges;
    MDB_val k = {sizeof(key) - 1, (void *)key}, v = {sizeof(n), &n};
    if (mdb_put(txn, st->meta, &k, &v, 0) == 0)
        mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
}

void vg_store_nudge(vg_store *st)
{
    if (!st->wtxn)
        vg__nudge(st);
}

int vg_store_commit(vg_store *st)
{
    if (!st->wtxn)
        return -EINVAL;
    /* Each queue's high-water mark is written once per transaction, not
     * once per record: it is the hot path of the collector. */
    int rc = 0, appended = 0;
    for (int i = 0; i < st->nqueues && rc == 0; i++) {
        vg_queue *q = &st->queues[i];
        if (q->last != q->last_committed) {
            appended = 1;
            MDB_val k = {strlen(q->last_key), q->last_key}, v = {sizeof(q->last), &q->last};
            rc = mdb_put(st->wtxn, st->meta, &k, &v, 0);
        }
    }
    /* The reserve (vg__reserve_pages): a transaction that appends, or
     * writes through vg_store_write_txn, must leave it free; one that does not
     * (a cursor update, a trim, a delete) may use it, so that what frees
     * room can always commit. */
    int roomless = 0;
    if (rc == 0 && (appended || st->raw || st->grew)) {
        int room = vg__room(st);
        roomless = room == 0;
        rc = room < 0 ? room : room == 0 ? MDB_MAP_FULL : 0;
    }
    if (rc)
        mdb_txn_abort(st->wtxn);
    else
        rc = mdb_txn_commit(st->wtxn);
    st->wtxn = NULL;
    /* LMDB found the map full: the next attempt may find the room that a
     * dead reader held (vg__room cleared those itself) */
    if (st->full || (rc == MDB_MAP_FULL && !roomless))
        vg__reap(st, "found full");
    for (int i = 0; i < st->nqueues; i++) {
        if (rc == 0)
            st->queues[i].last_committed = st->queues[i].last;
        else
            st->queues[i].last = st->queues[i].last_committed;
    }
    /* After a failure, the commits that pass without appending are most
     * often the ones that free room (an outbox trimmed as the next hop
     * acknowledges it): nudge after them too, so that the upstream's next
     * attempt finds that room at once instead of failing once more and
     * waiting out another backoff. Until an append passes, or for
     * VG_STARVED_COMMITS commits. */
    if (rc) {
        vg__nudge(st);
        st->starved = VG_STARVED_COMMITS;
    } else if (appended) {
        st->starved = 0;
    } else if (st->starved) {
        vg__nudge(st);
        st->starved--;
    }
    if (rc == MDB_MAP_FULL || rc == VG_EFULL)
        return VG_EFULL;
    return vg__rc(rc);
}

void vg_store_abort(vg_store *st)
{
    if (!st->wtxn)
        return;
    mdb_txn_abort(st->wtxn);
    st->wtxn = NULL;
    for (int i = 0; i < st->nqueues; i++)
        st->queues[i].last = st->queues[i].last_committed;
    /* an append met a full map (see vg_store_commit), or writes the store
     * did not see (vg_store_write_txn) failed, perhaps for the same reason */
    if (st->full || st->raw)
        vg__reap(st, "found full");
    vg__nudge(st); /* aborts follow failures, often a full map */
    st->starved = VG_STARVED_COMMITS;
}

/* Returns a transaction to read in: the open write txn, or the reusable
 * read txn renewed to see the latest commit. Pair with vg__read_end. */
static int vg__read_begin(vg_store *st, MDB_txn **txn)
{
    if (st->wtxn) {
        *txn = st->wtxn;
        return 0;
    }
    int rc = st->rtxn ? mdb_txn_renew(st->rtxn) : mdb_txn_begin(st->env, NULL, MDB_RDONLY, &st->rtxn);
    *txn = st->rtxn;
    return vg__rc(rc);
}

static void vg__read_end(vg_store *st, MDB_txn *txn)
{
    if (txn == st->rtxn)
        mdb_txn_reset(txn);
}

int vg_meta_get(vg_store *st, const char *key, void *buf, size_t cap, size_t *len)
{
    MDB_txn *txn;
    int rc = vg__read_begin(st, &txn);
    if (rc)
        return rc;
    MDB_val k = {strlen(key), (void *)key}, v;
    rc = mdb_get(txn, st->meta, &k, &v);
    if (rc == 0) {
        *len = v.mv_size;
        memcpy(buf, v.mv_data, v.mv_size < cap ? v.mv_size : cap);
        if (v.mv_size > cap)
            rc = -ENOBUFS;
    } else if (rc == MDB_NOTFOUND) {
        rc = -ENOENT;
    }
    vg__read_end(st, txn);
    return vg__rc(rc);
}

int vg_meta_put(vg_store *st, const char *key, const void *val, size_t len)
{
    if (!st->wtxn)
        return -EINVAL;
    MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)val};
    int rc = mdb_put(st->wtxn, st->meta, &k, &v, 0);
    st->grow_bytes += k.mv_size + len + 64;
    st->full |= rc == MDB_MAP_FULL;
    return rc == MDB_MAP_FULL ? VG_EFULL : vg__rc(rc);
}

int vg_meta_del(vg_store *st, const char *key)
{
    if (!st->wtxn)
        return -EINVAL;
    MDB_val k = {strlen(key), (void *)key};
    int rc = mdb_del(st->wtxn, st->meta, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : vg__rc(rc);
}

/* A put at a place of its own may copy its leaf page, split it in two and
 * copy the branch above: counted as two pages beside its bytes, which
 * vg__room's estimate doubles (the first time a path is copied, pages
 * above it too: the estimate's constant). */
int vg_store_put(vg_store *st, MDB_dbi dbi, MDB_val *k, MDB_val *v)
{
    if (!st->wtxn)
        return -EINVAL;
    int rc = mdb_put(st->wtxn, dbi, k, v, 0);
    st->grow_bytes += k->mv_size + v->mv_size + 2 * st->psize;
    st->grew = 1;
    st->full |= rc == MDB_MAP_FULL;
    return vg__rc(rc);
}

int vg_store_del(vg_store *st, MDB_dbi dbi, MDB_val *k)
{
    if (!st->wtxn)
        return -EINVAL;
    int rc = mdb_del(st->wtxn, dbi, k, NULL);
    st->grow_bytes += 2 * st->psize; /* its copied path, for a transaction that also puts */
    st->full |= rc == MDB_MAP_FULL;
    return rc == MDB_NOTFOUND ? -ENOENT : vg__rc(rc);
}

uint64_t vg_store_probes(const vg_store *st)
{
    return st->probes;
}

int vg_meta_keys(vg_store *st, const char *prefix,
                 int (*fn)(void *ud, const char *key, size_t len), void *ud)
{
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    int rc = vg__read_begin(st, &txn), stop = 0;
    if (rc)
        return rc;
    size_t plen = strlen(prefix);
    MDB_val k = {plen, (void *)prefix}, v;
    rc = mdb_cursor_open(txn, st->meta, &cur);
    for (MDB_cursor_op op = MDB_SET_RANGE; rc == 0 && stop == 0; op = MDB_NEXT) {
        if ((rc = mdb_cursor_get(cur, &k, &v, op)) != 0)
            break;
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        stop = fn(ud, k.mv_data, k.mv_size);
    }
    if (cur)
        mdb_cursor_close(cur);
    vg__read_end(st, txn);
    return stop ? stop : rc == MDB_NOTFOUND ? 0 : vg__rc(rc);
}

int vg_meta_get_u64(vg_store *st, const char *key, uint64_t *v)
{
    size_t len = 0;
    uint64_t x = 0;
    int rc = vg_meta_get(st, key, &x, sizeof(x), &len);
    if (rc == -ENOENT) {
        *v = 0;
        return 0;
    }
    if ((rc == 0 || rc == -ENOBUFS) && len != sizeof(x))
        return VG_ESTATE; /* longer or shorter: not one of ours */
    *v = x;
    return rc;
}

int vg_meta_put_u64(vg_store *st, const char *key, uint64_t v)
{
    return vg_meta_put(st, key, &v, sizeof(v));
}

int vg_queue_open(vg_store *st, const char *name, vg_queue **out)
{
    for (int i = 0; i < st->nqueues; i++) {
        if (strcmp(st->queues[i].name, name) == 0) {
            *out = &st->queues[i];
            return 0;
        }
    }
    if (st->nqueues == VG_QUEUES_MAX || strlen(name) >= sizeof(st->queues[0].name))
        return -EINVAL;
    vg_queue *q = &st->queues[st->nqueues];
    memset(q, 0, sizeof(*q));
    q->st = st;
    snprintf(q->name, sizeof(q->name), "%s", name);
    snprintf(q->last_key, sizeof(q->last_key), "queue.%s.last", name);
    char dbname[64];
    snprintf(dbname, sizeof(dbname), "q.%s", name);
    /* The database handle must come from a committed transaction, or an
     * abort would leave the queue holding a handle LMDB has closed. */
    if (st->wtxn)
        return -EBUSY;
    int rc = vg_store_begin(st);
    if (rc)
        return rc;
    rc = vg__rc(mdb_dbi_open(st->wtxn, dbname, MDB_CREATE | MDB_INTEGERKEY, &q->dbi));
    if (rc == 0)
        rc = vg_meta_get_u64(st, q->last_key, &q->last);
    if (rc) {
        vg_store_abort(st);
        return rc;
    }
    q->last_committed = q->last;
    st->nqueues++;
    if ((rc = vg_store_commit(st))) {
        st->nqueues--;
        return rc;
    }
    *out = q;
    return 0;
}

int vg_queue_append(vg_queue *q, const void *rec, size_t len, uint64_t *seq)
{
    vg_store *st = q->st;
    if (!st->wtxn)
        return -EINVAL;
    uint64_t s = q->last + 1;
    MDB_val k = {sizeof(s), &s}, v = {len, (void *)rec};
    int rc = mdb_put(st->wtxn, q->dbi, &k, &v, MDB_APPEND);
    st->grow_bytes += len + 64;
    st->full |= rc == MDB_MAP_FULL;
    if (rc)
        return rc == MDB_MAP_FULL ? VG_EFULL : vg__rc(rc);
    q->last = s;
    if (seq)
        *seq = s;
    return 0;
}

int vg_queue_scan(vg_queue *q, uint64_t from, size_t max, vg_queue_fn fn, void *ud)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = vg__read_begin(q->st, &txn);
    if (rc)
        return rc;
    if ((rc = mdb_cursor_open(txn, q->dbi, &cur))) {
        vg__read_end(q->st, txn);
        return vg__rc(rc);
    }
    uint64_t s = from;
    MDB_val k = {sizeof(s), &s}, v;
    size_t n = 0;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && n < max) {
        uint64_t seq;
        memcpy(&seq, k.mv_data, sizeof(seq));
        n++;
        if (fn(ud, seq, v.mv_data, v.mv_size))
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    vg__read_end(q->st, txn);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return vg__rc(rc);
    return (int)n;
}

int vg_queue_trim(vg_queue *q, uint64_t upto)
{
    vg_store *st = q->st;
    if (!st->wtxn)
        return -EINVAL;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(st->wtxn, q->dbi, &cur);
    if (rc)
        return vg__rc(rc);
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        uint64_t seq;
        memcpy(&seq, k.mv_data, sizeof(seq));
        if (seq > upto)
            break;
        if ((rc = mdb_cursor_del(cur, 0)))
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return (rc == 0 || rc == MDB_NOTFOUND) ? 0 : vg__rc(rc);
}

uint64_t vg_queue_last(const vg_queue *q)
{
    return q->last;
}

uint64_t vg_queue_first(vg_queue *q)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    uint64_t seq = 0;
    if (vg__read_begin(q->st, &txn))
        return 0;
    if (mdb_cursor_open(txn, q->dbi, &cur) == 0) {
        MDB_val k, v;
        if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0)
            memcpy(&seq, k.mv_data, sizeof(seq));
        mdb_cursor_close(cur);
    }
    vg__read_end(q->st, txn);
    return seq;
}

uint64_t vg_queue_count(vg_queue *q)
{
    MDB_txn *txn;
    MDB_stat ms;
    uint64_t n = 0;
    if (vg__read_begin(q->st, &txn))
        return 0;
    if (mdb_stat(txn, q->dbi, &ms) == 0)
        n = ms.ms_entries;
    vg__read_end(q->st, txn);
    return n;
}

uint64_t vg_queue_bytes(vg_queue *q)
{
    MDB_txn *txn;
    MDB_stat ms;
    uint64_t n = 0;
    if (vg__read_begin(q->st, &txn))
        return 0;
    if (mdb_stat(txn, q->dbi, &ms) == 0)
        n = (uint64_t)ms.ms_psize * (ms.ms_branch_pages + ms.ms_leaf_pages + ms.ms_overflow_pages);
    vg__read_end(q->st, txn);
    return n;
}

const char *vg_queue_name(const vg_queue *q)
{
    return q->name;
}

int vg_store_dbi(vg_store *st, const char *name, MDB_dbi *out)
{
    if (st->wtxn)
        return -EBUSY;
    int rc = vg_store_begin(st);
    if (rc)
        return rc;
    rc = vg__rc(mdb_dbi_open(st->wtxn, name, MDB_CREATE, out));
    if (rc) {
        vg_store_abort(st);
        return rc;
    }
    return vg_store_commit(st);
}

int vg_store_read_begin(vg_store *st, MDB_txn **txn)
{
    return vg__read_begin(st, txn);
}

void vg_store_read_end(vg_store *st, MDB_txn *txn)
{
    vg__read_end(st, txn);
}

int vg_store_sync(vg_store *st)
{
    return vg__rc(mdb_env_sync(st->env, 1));
}

int vg_store_check_room(const char *dir, const char *key, size_t map_mb)
{
    char path[4096];
    struct statvfs sv;
    struct stat st;
    if (snprintf(path, sizeof(path), "%s/data.mdb", dir) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    if (statvfs(dir, &sv) != 0 || stat(path, &st) != 0)
        return -errno;
    /* st_blocks: what the (sparse) data file really holds on the disk */
    unsigned long long room = (unsigned long long)sv.f_bavail * sv.f_frsize +
                              (unsigned long long)st.st_blocks * 512;
    if (((unsigned long long)map_mb << 20) <= room)
        return 0;
    vg_warn("%s is %zu MiB, more than the file system of %s can give it (%llu MiB: its free "
            "space and what data.mdb holds): the disk will fill first, and commits then fail "
            "as on a full disk until there is room (intake waits, datagrams are refused and "
            "counted: docs/architecture.md); give it more room, or set %s to what it has",
            key, map_mb, dir, room >> 20, key);
    return 1;
}
