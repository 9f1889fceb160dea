/* Unit tests for lib/store.c (and vg_queue_epoch from lib/sender.c) on real
 * LMDB files: every test gets a fresh mkdtemp directory, removed afterwards.
 * Records are deterministic byte strings (binary, NULs included) of varying
 * length, so a scan can be checked byte for byte. */
#include "vigil/err.h"
#include "vigil/sender.h"
#include "vigil/store.h"

#include <check.h>

#include "vt_tmp.h"
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char basedir[128]; /* per run, made and removed by the parent process */
static char tmpdir[256];  /* per test, inside basedir */
static char dbdir[PATH_MAX];

/* Unchecked fixture, in the runner (see vt_tmp.h). */
static void base_setup(void)
{
    vt_tmp_base(basedir, sizeof(basedir), "store");
}

static void base_teardown(void)
{
    vt_rm_tree(basedir);
}

static void setup(void)
{
    ck_assert_ptr_nonnull(vt_tmp_sub(tmpdir, sizeof(tmpdir), basedir));
    snprintf(dbdir, sizeof(dbdir), "%s/db", tmpdir);
}

static void teardown(void)
{
    vt_rm_tree(tmpdir);
}

/* ---- helpers ----------------------------------------------------------- */

#define REC_MAX 300

/* The record stored under seq in queue 'tag': 1..REC_MAX bytes, binary. */
static size_t mkrec(char tag, uint64_t seq, unsigned char *buf)
{
    size_t n = 1 + (size_t)((seq * 37 + (unsigned char)tag) % REC_MAX);
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(seq * 131 + i * 7 + (unsigned char)tag);
    buf[0] = (unsigned char)tag;
    if (n > 2)
        buf[n / 2] = 0;
    return n;
}

static vg_store *open_store(const char *dir, size_t map_mb)
{
    vg_store *st = NULL;
    int rc = vg_store_open(&st, dir, map_mb);
    ck_assert_msg(rc == 0, "vg_store_open(%s): %s", dir, vg_strerror(rc));
    ck_assert_ptr_nonnull(st);
    ck_assert_ptr_nonnull(vg_store_env(st));
    ck_assert_ptr_null(vg_store_txn(st));
    return st;
}

static vg_queue *open_queue(vg_store *st, const char *name)
{
    vg_queue *q = NULL;
    ck_assert_int_eq(vg_queue_open(st, name, &q), 0);
    ck_assert_ptr_nonnull(q);
    ck_assert_str_eq(vg_queue_name(q), name);
    return q;
}

/* Appends records from..to of queue tag inside the open txn, checking seqs. */
static void append_range(vg_queue *q, char tag, uint64_t from, uint64_t to)
{
    unsigned char buf[REC_MAX];
    for (uint64_t s = from; s <= to; s++) {
        size_t n = mkrec(tag, s, buf);
        uint64_t got = 0;
        int rc = vg_queue_append(q, buf, n, &got);
        ck_assert_msg(rc == 0, "append %llu: %s", (unsigned long long)s, vg_strerror(rc));
        ck_assert_uint_eq(got, s);
        ck_assert_uint_eq(vg_queue_last(q), s);
    }
}

static void commit(vg_store *st)
{
    int rc = vg_store_commit(st);
    ck_assert_msg(rc == 0, "commit: %s", vg_strerror(rc));
    ck_assert_ptr_null(vg_store_txn(st));
}

static void begin(vg_store *st)
{
    ck_assert_int_eq(vg_store_begin(st), 0);
    ck_assert_ptr_nonnull(vg_store_txn(st));
}

/* Scan callback: checks that seqs are consecutive from 'next' and that each
 * record is exactly mkrec(tag, seq); stops after 'stop_after' records. */
typedef struct scan_ck {
    char tag;
    uint64_t next;
    size_t seen;
    size_t stop_after; /* 0: never stop */
} scan_ck;

static int scan_cb(void *ud, uint64_t seq, const void *rec, size_t len)
{
    scan_ck *c = ud;
    unsigned char want[REC_MAX];
    ck_assert_uint_eq(seq, c->next);
    size_t n = mkrec(c->tag, seq, want);
    ck_assert_uint_eq(len, n);
    ck_assert_mem_eq(rec, want, n);
    c->next++;
    c->seen++;
    return c->stop_after && c->seen >= c->stop_after;
}

/* Scans from 'from' (at most max) and expects records first..last exactly. */
static void expect_scan(vg_queue *q, char tag, uint64_t from, size_t max, uint64_t first,
                        uint64_t last)
{
    scan_ck c = {tag, first, 0, 0};
    int n = vg_queue_scan(q, from, max, scan_cb, &c);
    uint64_t want = last >= first ? last - first + 1 : 0;
    ck_assert_int_eq(n, (int)want);
    ck_assert_uint_eq(c.seen, want);
}

/* Queue state in one go: last, first, count. */
static void expect_state(vg_queue *q, uint64_t last, uint64_t first, uint64_t count)
{
    ck_assert_uint_eq(vg_queue_last(q), last);
    ck_assert_uint_eq(vg_queue_first(q), first);
    ck_assert_uint_eq(vg_queue_count(q), count);
}

static int count_cb(void *ud, uint64_t seq, const void *rec, size_t len)
{
    (void)seq, (void)rec, (void)len;
    (*(int *)ud)++;
    return 0;
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(test_open_creates_dirs)
{
    char deep[PATH_MAX];
    snprintf(deep, sizeof(deep), "%s/a/b/c", tmpdir);
    vg_store *st = open_store(deep, 4);
    struct stat sb;
    ck_assert_int_eq(stat(deep, &sb), 0);
    ck_assert(S_ISDIR(sb.st_mode));
    ck_assert_uint_eq(sb.st_mode & 0077, 0);
    char data[PATH_MAX + 16];
    snprintf(data, sizeof(data), "%s/data.mdb", deep);
    ck_assert_int_eq(stat(data, &sb), 0);
    vg_store_close(st);
    vg_store_close(NULL);

    /* a path through a regular file cannot be opened */
    char file[PATH_MAX];
    snprintf(file, sizeof(file), "%s/file", tmpdir);
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(deep, sizeof(deep), "%s/file/db", tmpdir);
    st = (vg_store *)1;
    ck_assert_int_eq(vg_store_open(&st, deep, 4), -ENOTDIR);
    ck_assert_ptr_eq(st, (vg_store *)1);
}
END_TEST

START_TEST(test_txn_misuse)
{
    vg_store *st = open_store(dbdir, 4);
    vg_queue *q = open_queue(st, "spool");
    unsigned char rec[1] = {1};
    uint64_t seq = 99;
    ck_assert_int_eq(vg_queue_append(q, rec, 1, &seq), -EINVAL);
    ck_assert_uint_eq(seq, 99);
    ck_assert_int_eq(vg_queue_trim(q, 10), -EINVAL);
    ck_assert_int_eq(vg_meta_put_u64(st, "k", 1), -EINVAL);
    ck_assert_int_eq(vg_meta_put(st, "k", "v", 1), -EINVAL);
    ck_assert_int_eq(vg_store_commit(st), -EINVAL);
    vg_store_abort(st); /* no txn: a no-op */
    begin(st);
    ck_assert_int_eq(vg_store_begin(st), -EBUSY);
    vg_store_abort(st);
    ck_assert_ptr_null(vg_store_txn(st));
    expect_state(q, 0, 0, 0);
    vg_store_close(st);
}
END_TEST

START_TEST(test_append_scan)
{
    vg_store *st = open_store(dbdir, 4);
    vg_queue *q = open_queue(st, "spool");
    expect_state(q, 0, 0, 0);
    expect_scan(q, 'a', 0, SIZE_MAX, 1, 0);

    begin(st);
    append_range(q, 'a', 1, 50);
    /* reads inside the txn see its own writes */
    expect_state(q, 50, 1, 50);
    expect_scan(q, 'a', 1, SIZE_MAX, 1, 50);
    commit(st);
    expect_state(q, 50, 1, 50);

    expect_scan(q, 'a', 0, SIZE_MAX, 1, 50);
    expect_scan(q, 'a', 1, SIZE_MAX, 1, 50);
    expect_scan(q, 'a', 17, SIZE_MAX, 17, 50); /* from the middle */
    expect_scan(q, 'a', 50, SIZE_MAX, 50, 50); /* the last one */
    expect_scan(q, 'a', 51, SIZE_MAX, 51, 50); /* past the end: nothing */
    expect_scan(q, 'a', UINT64_MAX, SIZE_MAX, 1, 0);
    expect_scan(q, 'a', 1, 7, 1, 7); /* max */
    expect_scan(q, 'a', 20, 5, 20, 24); /* from + max */
    expect_scan(q, 'a', 48, 5, 48, 50); /* max beyond the end */
    expect_scan(q, 'a', 1, 1, 1, 1);

    /* max 0 visits nothing */
    int calls = 0;
    ck_assert_int_eq(vg_queue_scan(q, 1, 0, count_cb, &calls), 0);
    ck_assert_int_eq(calls, 0);

    /* the callback stops the scan: the stopping record counts as visited */
    scan_ck c = {'a', 10, 0, 3};
    ck_assert_int_eq(vg_queue_scan(q, 10, SIZE_MAX, scan_cb, &c), 3);
    ck_assert_uint_eq(c.seen, 3);
    ck_assert_uint_eq(c.next, 13);
    c = (scan_ck){'a', 1, 0, 1};
    ck_assert_int_eq(vg_queue_scan(q, 0, 10, scan_cb, &c), 1);
    ck_assert_uint_eq(c.next, 2);

    /* a second txn continues the sequence */
    begin(st);
    append_range(q, 'a', 51, 60);
    commit(st);
    expect_state(q, 60, 1, 60);
    expect_scan(q, 'a', 45, SIZE_MAX, 45, 60);
    vg_store_close(st);
}
END_TEST

/* Compares one record with the expected bytes. */
typedef struct want_bytes {
    const unsigned char *want;
    size_t len;
    int calls;
} want_bytes;

static int bytes_cb(void *ud, uint64_t seq, const void *rec, size_t len)
{
    want_bytes *x = ud;
    (void)seq;
    ck_assert_uint_eq(len, x->len);
    if (len)
        ck_assert_int_eq(memcmp(rec, x->want, len), 0);
    x->calls++;
    return 0;
}

/* Empty records and records spanning several pages keep their exact bytes. */
START_TEST(test_record_sizes)
{
    vg_store *st = open_store(dbdir, 16);
    vg_queue *q = open_queue(st, "spool");
    static const size_t sizes[] = {0, 1, 2047, 4096, 70000, 1 << 20};
    unsigned char *buf = malloc(1 << 20);
    ck_assert_ptr_nonnull(buf);
    begin(st);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (size_t j = 0; j < sizes[i]; j++)
            buf[j] = (unsigned char)(j * 251 + i);
        uint64_t seq = 0;
        ck_assert_int_eq(vg_queue_append(q, buf, sizes[i], &seq), 0);
        ck_assert_uint_eq(seq, i + 1);
    }
    ck_assert_int_eq(vg_queue_append(q, "x", 1, NULL), 0); /* seq is optional */
    ck_assert_uint_eq(vg_queue_last(q), 7);
    commit(st);
    vg_store_close(st);

    st = open_store(dbdir, 16);
    q = open_queue(st, "spool");
    expect_state(q, 7, 1, 7);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (size_t j = 0; j < sizes[i]; j++)
            buf[j] = (unsigned char)(j * 251 + i);
        want_bytes x = {buf, sizes[i], 0};
        ck_assert_int_eq(vg_queue_scan(q, i + 1, 1, bytes_cb, &x), 1);
        ck_assert_int_eq(x.calls, 1);
    }
    free(buf);
    vg_store_close(st);
}
END_TEST

START_TEST(test_abort_commit_reopen)
{
    vg_store *st = open_store(dbdir, 4);
    vg_queue *q = open_queue(st, "spool");
    begin(st);
    append_range(q, 'a', 1, 5);
    commit(st);

    /* abort rolls back the records and vg_queue_last */
    begin(st);
    append_range(q, 'a', 6, 8);
    expect_state(q, 8, 1, 8);
    vg_store_abort(st);
    ck_assert_ptr_null(vg_store_txn(st));
    expect_state(q, 5, 1, 5);
    expect_scan(q, 'a', 0, SIZE_MAX, 1, 5);

    /* the sequence resumes after the last commit, not after the aborted appends */
    begin(st);
    append_range(q, 'a', 6, 6);
    commit(st);
    expect_state(q, 6, 1, 6);

    /* an aborted trim restores the records too */
    begin(st);
    ck_assert_int_eq(vg_queue_trim(q, 4), 0);
    expect_state(q, 6, 5, 2);
    vg_store_abort(st);
    expect_state(q, 6, 1, 6);

    /* closing with a txn open aborts it */
    begin(st);
    append_range(q, 'a', 7, 9);
    vg_store_close(st);

    st = open_store(dbdir, 4);
    q = open_queue(st, "spool");
    expect_state(q, 6, 1, 6);
    expect_scan(q, 'a', 0, SIZE_MAX, 1, 6);
    /* an abort right after reopening goes back to the stored last, not 0 */
    begin(st);
    append_range(q, 'a', 7, 8);
    vg_store_abort(st);
    expect_state(q, 6, 1, 6);
    begin(st);
    append_range(q, 'a', 7, 7);
    commit(st);
    vg_store_close(st);

    st = open_store(dbdir, 4);
    q = open_queue(st, "spool");
    expect_state(q, 7, 1, 7);
    expect_scan(q, 'a', 0, SIZE_MAX, 1, 7);
    vg_store_close(st);
}
END_TEST

START_TEST(test_trim)
{
    vg_store *st = open_store(dbdir, 4);
    vg_queue *q = open_queue(st, "spool");
    begin(st);
    append_range(q, 'a', 1, 30);
    commit(st);

    begin(st);
    ck_assert_int_eq(vg_queue_trim(q, 0), 0); /* nothing is <= 0 */
    commit(st);
    expect_state(q, 30, 1, 30);

    begin(st);
    ck_assert_int_eq(vg_queue_trim(q, 12), 0);
    commit(st);
    expect_state(q, 30, 13, 18);
    expect_scan(q, 'a', 0, SIZE_MAX, 13, 30);
    expect_scan(q, 'a', 5, SIZE_MAX, 13, 30); /* a trimmed 'from' starts at the first kept */
    expect_scan(q, 'a', 20, SIZE_MAX, 20, 30);

    begin(st);
    ck_assert_int_eq(vg_queue_trim(q, 12), 0); /* again: a no-op */
    ck_assert_int_eq(vg_queue_trim(q, 5), 0);  /* below first: a no-op */
    ck_assert_int_eq(vg_queue_trim(q, 13), 0); /* exactly one */
    commit(st);
    expect_state(q, 30, 14, 17);

    /* trim everything: last stays, the next append continues the sequence */
    begin(st);
    ck_assert_int_eq(vg_queue_trim(q, 30), 0);
    commit(st);
    expect_state(q, 30, 0, 0);
    expect_scan(q, 'a', 0, SIZE_MAX, 1, 0);
    begin(st);
    append_range(q, 'a', 31, 33);
    commit(st);
    expect_state(q, 33, 31, 3);

    /* ... also after a reopen with the queue empty */
    begin(st);
    ck_assert_int_eq(vg_queue_trim(q, UINT64_MAX), 0);
    commit(st);
    expect_state(q, 33, 0, 0);
    vg_store_close(st);
    st = open_store(dbdir, 4);
    q = open_queue(st, "spool");
    expect_state(q, 33, 0, 0);
    begin(st);
    append_range(q, 'a', 34, 35);
    commit(st);
    expect_state(q, 35, 34, 2);
    expect_scan(q, 'a', 0, SIZE_MAX, 34, 35);
    vg_store_close(st);
}
END_TEST

static int add_key(void *ud, const char *key, size_t len)
{
    vg_buf *b = ud;
    return vg_buf_add(b, key, len) || vg_buf_addc(b, ';') ? -ENOMEM : 0;
}

static int stop_key(void *ud, const char *key, size_t len)
{
    (void)ud, (void)key, (void)len;
    return -E2BIG;
}

START_TEST(test_meta)
{
    vg_store *st = open_store(dbdir, 4);
    uint64_t v = 77;
    ck_assert_int_eq(vg_meta_get_u64(st, "missing", &v), 0);
    ck_assert_uint_eq(v, 0);
    char buf[64];
    size_t len = 1234;
    ck_assert_int_eq(vg_meta_get(st, "missing", buf, sizeof(buf), &len), -ENOENT);

    static const char blob[] = "\x00\x01binary\xff\x00";
    begin(st);
    ck_assert_int_eq(vg_meta_put_u64(st, "u", 0x0123456789abcdefull), 0);
    ck_assert_int_eq(vg_meta_put_u64(st, "max", UINT64_MAX), 0);
    ck_assert_int_eq(vg_meta_put(st, "blob", blob, sizeof(blob)), 0);
    ck_assert_int_eq(vg_meta_put(st, "empty", "", 0), 0);
    /* visible inside the txn */
    ck_assert_int_eq(vg_meta_get_u64(st, "u", &v), 0);
    ck_assert_uint_eq(v, 0x0123456789abcdefull);
    commit(st);

    ck_assert_int_eq(vg_meta_get_u64(st, "u", &v), 0);
    ck_assert_uint_eq(v, 0x0123456789abcdefull);
    ck_assert_int_eq(vg_meta_get_u64(st, "max", &v), 0);
    ck_assert_uint_eq(v, UINT64_MAX);
    memset(buf, 0x55, sizeof(buf));
    ck_assert_int_eq(vg_meta_get(st, "blob", buf, sizeof(buf), &len), 0);
    ck_assert_uint_eq(len, sizeof(blob));
    ck_assert_mem_eq(buf, blob, sizeof(blob));
    ck_assert_int_eq(vg_meta_get(st, "empty", buf, sizeof(buf), &len), 0);
    ck_assert_uint_eq(len, 0);

    /* too small a buffer: -ENOBUFS, the full length, and a prefix */
    memset(buf, 0x55, sizeof(buf));
    ck_assert_int_eq(vg_meta_get(st, "blob", buf, 4, &len), -ENOBUFS);
    ck_assert_uint_eq(len, sizeof(blob));
    ck_assert_mem_eq(buf, blob, 4);
    ck_assert_uint_eq((unsigned char)buf[4], 0x55);

    /* a value that is not 8 bytes is not a u64 */
    ck_assert_int_eq(vg_meta_get_u64(st, "blob", &v), VG_ESTATE);
    ck_assert_int_eq(vg_meta_get_u64(st, "empty", &v), VG_ESTATE);

    /* an aborted put leaves nothing; an overwrite replaces */
    begin(st);
    ck_assert_int_eq(vg_meta_put_u64(st, "ghost", 5), 0);
    ck_assert_int_eq(vg_meta_put_u64(st, "u", 1), 0);
    vg_store_abort(st);
    ck_assert_int_eq(vg_meta_get(st, "ghost", buf, sizeof(buf), &len), -ENOENT);
    ck_assert_int_eq(vg_meta_get_u64(st, "u", &v), 0);
    ck_assert_uint_eq(v, 0x0123456789abcdefull);
    begin(st);
    ck_assert_int_eq(vg_meta_put_u64(st, "u", 42), 0);
    commit(st);
    vg_store_close(st);

    st = open_store(dbdir, 4);
    ck_assert_int_eq(vg_meta_get_u64(st, "u", &v), 0);
    ck_assert_uint_eq(v, 42);
    ck_assert_int_eq(vg_meta_get_u64(st, "max", &v), 0);
    ck_assert_uint_eq(v, UINT64_MAX);
    ck_assert_int_eq(vg_meta_get(st, "blob", buf, sizeof(buf), &len), 0);
    ck_assert_uint_eq(len, sizeof(blob));
    ck_assert_mem_eq(buf, blob, sizeof(blob));
    ck_assert_int_eq(vg_meta_get(st, "ghost", buf, sizeof(buf), &len), -ENOENT);

    /* the keys under a prefix, in order, and only those */
    begin(st);
    ck_assert_int_eq(vg_meta_put_u64(st, "out.b.rl", 1), 0);
    ck_assert_int_eq(vg_meta_put_u64(st, "out.a.cursor", 2), 0);
    ck_assert_int_eq(vg_meta_put_u64(st, "out", 3), 0);
    ck_assert_int_eq(vg_meta_put_u64(st, "outx", 4), 0);
    commit(st);
    vg_buf keys = {0};
    ck_assert_int_eq(vg_meta_keys(st, "out.", add_key, &keys), 0);
    ck_assert_int_eq(vg_buf_addc(&keys, '\0'), 0);
    ck_assert_str_eq(keys.p, "out.a.cursor;out.b.rl;");
    keys.len = 0;
    ck_assert_int_eq(vg_meta_keys(st, "nothing.", add_key, &keys), 0);
    ck_assert_uint_eq(keys.len, 0);
    vg_buf_free(&keys);
    ck_assert_int_eq(vg_meta_keys(st, "out.", stop_key, NULL), -E2BIG);
    vg_store_close(st);
}
END_TEST

START_TEST(test_epoch)
{
    vg_store *st = open_store(dbdir, 4);
    vg_queue *q = open_queue(st, "spool");
    vg_queue *o = open_queue(st, "outbox");
    uint64_t e1 = 0, again = 0, eo = 0;
    ck_assert_int_eq(vg_queue_epoch(st, q, &e1), 0);
    ck_assert_uint_ne(e1, 0);
    ck_assert_int_eq(vg_queue_epoch(st, q, &again), 0);
    ck_assert_uint_eq(again, e1);
    ck_assert_int_eq(vg_queue_epoch(st, o, &eo), 0);
    ck_assert_uint_ne(eo, 0);
    ck_assert_uint_ne(eo, e1);
    ck_assert_ptr_null(vg_store_txn(st));
    vg_store_close(st);

    st = open_store(dbdir, 4);
    q = open_queue(st, "spool");
    again = 0;
    ck_assert_int_eq(vg_queue_epoch(st, q, &again), 0);
    ck_assert_uint_eq(again, e1);
    vg_store_close(st);

    /* a fresh directory is a new sequence: a new epoch */
    char fresh[PATH_MAX];
    snprintf(fresh, sizeof(fresh), "%s/fresh", tmpdir);
    st = open_store(fresh, 4);
    q = open_queue(st, "spool");
    uint64_t e2 = 0;
    ck_assert_int_eq(vg_queue_epoch(st, q, &e2), 0);
    ck_assert_uint_ne(e2, 0);
    ck_assert_uint_ne(e2, e1);
    vg_store_close(st);
}
END_TEST

/* A store copied file by file (a backup put back) is a new data file: each
 * of its queues takes a new epoch, once, and the last-appended numbers stay.
 * The original, opened again, is unchanged; so is a store renamed in place.
 * A backup copied back over a removed store is a copy too. */
START_TEST(test_copy_takes_new_epochs)
{
    vg_store *st = open_store(dbdir, 4);
    vg_queue *q = open_queue(st, "spool");
    vg_queue *o = open_queue(st, "outbox");
    uint64_t eq = 0, eo = 0, e = 0;
    ck_assert_int_eq(vg_queue_epoch(st, q, &eq), 0);
    ck_assert_int_eq(vg_queue_epoch(st, o, &eo), 0);
    ck_assert_int_eq(vg_store_begin(st), 0);
    uint64_t seq = 0;
    ck_assert_int_eq(vg_queue_append(q, "r", 1, &seq), 0);
    ck_assert_int_eq(vg_store_commit(st), 0);
    vg_store_close(st);

    char copy[PATH_MAX + 16], cmd[6 * PATH_MAX];
    snprintf(copy, sizeof(copy), "%s/copy", tmpdir);
    snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", dbdir, copy);
    ck_assert_int_eq(system(cmd), 0);
    st = open_store(copy, 4);
    q = open_queue(st, "spool");
    o = open_queue(st, "outbox");
    uint64_t cq = 0, co = 0;
    ck_assert_int_eq(vg_queue_epoch(st, q, &cq), 0);
    ck_assert_int_eq(vg_queue_epoch(st, o, &co), 0);
    ck_assert_uint_ne(cq, 0);
    ck_assert_uint_ne(cq, eq);
    ck_assert_uint_ne(co, 0);
    ck_assert_uint_ne(co, eo);
    ck_assert_uint_eq(vg_queue_last(q), 1);
    vg_store_close(st);
    /* once only: the copy is now a store of its own */
    st = open_store(copy, 4);
    ck_assert_int_eq(vg_queue_epoch(st, open_queue(st, "spool"), &e), 0);
    ck_assert_uint_eq(e, cq);
    vg_store_close(st);

    st = open_store(dbdir, 4);
    ck_assert_int_eq(vg_queue_epoch(st, open_queue(st, "spool"), &e), 0);
    ck_assert_uint_eq(e, eq);
    vg_store_close(st);
    char moved[PATH_MAX + 16];
    snprintf(moved, sizeof(moved), "%s/moved", tmpdir);
    ck_assert_int_eq(rename(dbdir, moved), 0);
    st = open_store(moved, 4);
    ck_assert_int_eq(vg_queue_epoch(st, open_queue(st, "outbox"), &e), 0);
    ck_assert_uint_eq(e, eo);
    vg_store_close(st);

    /* the usual restore: the store removed, a backup copied in its place
     * (the new file often gets the inode number the removed one had) */
    char backup[PATH_MAX + 16];
    snprintf(backup, sizeof(backup), "%s/backup", tmpdir);
    snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s' && rm -rf '%s' && cp -a '%s' '%s'", moved,
             backup, moved, backup, moved);
    ck_assert_int_eq(system(cmd), 0);
    st = open_store(moved, 4);
    ck_assert_int_eq(vg_queue_epoch(st, open_queue(st, "outbox"), &e), 0);
    ck_assert_uint_ne(e, eo);
    vg_store_close(st);
}
END_TEST

START_TEST(test_two_queues)
{
    vg_store *st = open_store(dbdir, 4);
    vg_queue *a = open_queue(st, "a");
    vg_queue *b = open_queue(st, "b");
    ck_assert_ptr_ne(a, b);
    vg_queue *a2 = NULL;
    ck_assert_int_eq(vg_queue_open(st, "a", &a2), 0);
    ck_assert_ptr_eq(a2, a);

    begin(st);
    append_range(a, 'a', 1, 3);
    append_range(b, 'b', 1, 2);
    append_range(a, 'a', 4, 4);
    commit(st);
    expect_state(a, 4, 1, 4);
    expect_state(b, 2, 1, 2);
    expect_scan(a, 'a', 0, SIZE_MAX, 1, 4);
    expect_scan(b, 'b', 0, SIZE_MAX, 1, 2);

    /* abort undoes writes to both */
    begin(st);
    append_range(a, 'a', 5, 6);
    append_range(b, 'b', 3, 3);
    ck_assert_int_eq(vg_queue_trim(b, 1), 0);
    ck_assert_int_eq(vg_meta_put_u64(st, "stream.x.last", 6), 0);
    vg_store_abort(st);
    expect_state(a, 4, 1, 4);
    expect_state(b, 2, 1, 2);
    uint64_t v = 1;
    ck_assert_int_eq(vg_meta_get_u64(st, "stream.x.last", &v), 0);
    ck_assert_uint_eq(v, 0);

    /* commit applies writes to both (and the meta value) together */
    begin(st);
    append_range(a, 'a', 5, 6);
    append_range(b, 'b', 3, 3);
    ck_assert_int_eq(vg_queue_trim(b, 1), 0);
    ck_assert_int_eq(vg_meta_put_u64(st, "stream.x.last", 6), 0);
    commit(st);
    expect_state(a, 6, 1, 6);
    expect_state(b, 3, 2, 2);
    vg_store_close(st);

    st = open_store(dbdir, 4);
    b = open_queue(st, "b"); /* opened in the other order */
    a = open_queue(st, "a");
    expect_state(a, 6, 1, 6);
    expect_state(b, 3, 2, 2);
    expect_scan(a, 'a', 0, SIZE_MAX, 1, 6);
    expect_scan(b, 'b', 0, SIZE_MAX, 2, 3);
    ck_assert_int_eq(vg_meta_get_u64(st, "stream.x.last", &v), 0);
    ck_assert_uint_eq(v, 6);
    vg_store_close(st);
}
END_TEST

START_TEST(test_queue_limits)
{
    vg_store *st = open_store(dbdir, 4);
    vg_queue *q = NULL;
    char name[64];
    memset(name, 'n', 47);
    name[47] = '\0';
    ck_assert_int_eq(vg_queue_open(st, name, &q), 0); /* 47 chars fit */
    name[47] = 'n';
    name[48] = '\0';
    q = NULL;
    ck_assert_int_eq(vg_queue_open(st, name, &q), -EINVAL);
    ck_assert_ptr_null(q);
    for (int i = 1; i < 8; i++) {
        snprintf(name, sizeof(name), "q%d", i);
        open_queue(st, name);
    }
    ck_assert_int_eq(vg_queue_open(st, "ninth", &q), -EINVAL);
    ck_assert_ptr_null(q);
    q = open_queue(st, "q3"); /* an open one is still found */
    begin(st);
    append_range(q, 'q', 1, 2);
    commit(st);
    expect_state(q, 2, 1, 2);
    vg_store_close(st);
}
END_TEST

/* Records of test_map_full: 2000 bytes of 0xab, the first byte the low
 * byte of the seq; seqs consecutive from *next. */
static int check_full(void *ud, uint64_t seq, const void *r, size_t len)
{
    uint64_t *next = ud;
    const unsigned char *p = r;
    ck_assert_uint_eq(seq, *next);
    ck_assert_uint_eq(len, 2000);
    ck_assert_uint_eq(p[0], (unsigned char)seq);
    size_t bad = 1;
    while (bad < len && p[bad] == 0xab)
        bad++;
    ck_assert_uint_eq(bad, len);
    (*next)++;
    return 0;
}

/* vg_store_check_room: a map the file system can hold is quiet; one far
 * beyond any disk (1 PiB) is warned about; a directory that is not there
 * is an error, not a warning. */
START_TEST(test_check_room)
{
    vg_store *st = open_store(dbdir, 1);
    ck_assert_int_eq(vg_store_check_room(dbdir, "collector.spool_size", 1), 0);
    ck_assert_int_eq(vg_store_check_room(dbdir, "collector.spool_size", (size_t)1 << 30), 1);
    char missing[PATH_MAX + 16];
    snprintf(missing, sizeof(missing), "%s/none", dbdir);
    ck_assert_int_eq(vg_store_check_room(missing, "collector.spool_size", 1), -ENOENT);
    vg_store_close(st);
}
END_TEST

START_TEST(test_map_full)
{
    vg_store *st = open_store(dbdir, 1);
    vg_queue *q = open_queue(st, "spool");
    unsigned char rec[2000];
    memset(rec, 0xab, sizeof(rec));
    uint64_t committed = 0, seq = 0;
    int rc = 0;

    /* one txn that never commits: the append that finds no room says so */
    begin(st);
    for (int i = 0; i < 1000 && rc == 0; i++) {
        rec[0] = (unsigned char)(i + 1);
        rc = vg_queue_append(q, rec, sizeof(rec), &seq);
        if (rc == 0)
            ck_assert_uint_eq(seq, (uint64_t)i + 1);
    }
    ck_assert_msg(rc == VG_EFULL, "append: rc %d (%s)", rc, vg_strerror(rc));
    ck_assert_uint_gt(vg_queue_last(q), 40);
    vg_store_abort(st);
    expect_state(q, 0, 0, 0);

    /* commits of 8 records until the map is full, by append or by commit */
    int in_append = 0;
    rc = 0;
    for (int round = 0; round < 1000 && rc == 0; round++) {
        begin(st);
        for (int i = 0; i < 8 && rc == 0; i++) {
            rec[0] = (unsigned char)(committed + (uint64_t)i + 1);
            rc = vg_queue_append(q, rec, sizeof(rec), &seq);
            if (rc == 0)
                ck_assert_uint_eq(seq, committed + (uint64_t)i + 1);
            else
                in_append = 1;
        }
        if (rc == 0) {
            rc = vg_store_commit(st);
            if (rc == 0)
                committed += 8;
        }
    }
    ck_assert_msg(rc == VG_EFULL, "rc %d (%s)", rc, vg_strerror(rc));
    /* 1 MiB holds at most ~520 records of 2000 bytes; the exact number
     * depends on the page size and LMDB overhead */
    ck_assert_uint_gt(committed, 40);
    ck_assert_uint_lt(committed, 520);
    if (in_append)
        vg_store_abort(st);
    ck_assert_ptr_null(vg_store_txn(st));
    expect_state(q, committed, 1, committed);

    /* earlier commits are intact */
    uint64_t next = 1;
    ck_assert_int_eq(vg_queue_scan(q, 0, SIZE_MAX, check_full, &next), (int)committed);
    ck_assert_uint_eq(next, committed + 1);

    /* still usable: meta reads, trimming frees room, appends resume */
    uint64_t v = 1;
    ck_assert_int_eq(vg_meta_get_u64(st, "queue.spool.last", &v), 0);
    ck_assert_uint_eq(v, committed);
    begin(st);
    ck_assert_int_eq(vg_queue_trim(q, committed / 2), 0);
    commit(st);
    expect_state(q, committed, committed / 2 + 1, committed - committed / 2);
    begin(st);
    rec[0] = (unsigned char)(committed + 1);
    ck_assert_int_eq(vg_queue_append(q, rec, sizeof(rec), &seq), 0);
    ck_assert_uint_eq(seq, committed + 1);
    commit(st);
    vg_store_close(st);

    st = open_store(dbdir, 1);
    q = open_queue(st, "spool");
    expect_state(q, committed + 1, committed / 2 + 1, committed - committed / 2 + 1);
    next = committed / 2 + 1;
    ck_assert_int_eq(vg_queue_scan(q, 0, SIZE_MAX, check_full, &next),
                     (int)(committed - committed / 2 + 1));
    vg_store_close(st);
}
END_TEST

/* Appends half the map's worth of records (n) in one transaction; 0 or the
 * error, with the transaction aborted. */
static int append_many(vg_store *st, vg_queue *q, const unsigned char *rec, size_t len, uint64_t n)
{
    uint64_t seq;
    begin(st);
    int rc = 0;
    for (uint64_t i = 0; i < n && rc == 0; i++)
        rc = vg_queue_append(q, rec, len, &seq);
    if (rc)
        vg_store_abort(st);
    else
        rc = vg_store_commit(st);
    return rc;
}

/* A full map drained in one transaction (the next hop came back and
 * acknowledged everything): LMDB does not reuse the pages the last commit
 * freed, so a large transaction right after it would fail. After a failed
 * transaction the store makes a small commit (vg__nudge), and goes on doing
 * so after the next commits that append nothing (the trims): the first
 * attempt after the drain has the room. Before, it failed, and only the
 * nudge after that failure let the next attempt in, one backoff later; and
 * before the nudge every attempt failed, forever: the hop was wedged. A
 * drain that comes with no failure before it still gets the nudge after
 * the first failure. */
START_TEST(test_map_full_drained)
{
    vg_store *st = open_store(dbdir, 1);
    vg_queue *q = open_queue(st, "outbox");
    unsigned char rec[2000];
    memset(rec, 0xcd, sizeof(rec));
    uint64_t committed = 0, seq = 0;
    int rc = 0, in_append = 0;
    for (int round = 0; round < 1000 && rc == 0; round++) {
        begin(st);
        for (int i = 0; i < 8 && rc == 0; i++) {
            rc = vg_queue_append(q, rec, sizeof(rec), &seq);
            in_append = rc != 0;
        }
        if (rc == 0 && (rc = vg_store_commit(st)) == 0)
            committed += 8;
    }
    ck_assert_msg(rc == VG_EFULL, "rc %d (%s)", rc, vg_strerror(rc));
    if (in_append)
        vg_store_abort(st);
    ck_assert_uint_gt(committed, 40);
    /* everything acknowledged at once */
    begin(st);
    ck_assert_int_eq(vg_queue_trim(q, committed), 0);
    commit(st);
    ck_assert_uint_eq(vg_queue_count(q), 0);
    /* half the map in one transaction, at the first attempt */
    uint64_t n = committed / 2;
    rc = append_many(st, q, rec, sizeof(rec), n);
    ck_assert_msg(rc == 0, "first attempt after the drain: rc %d (%s)", rc, vg_strerror(rc));
    ck_assert_uint_eq(vg_queue_count(q), n);
    /* no failure since: drained again, the first attempt of more than half
     * the map may fail, the second may not */
    begin(st);
    ck_assert_int_eq(vg_queue_trim(q, vg_queue_last(q)), 0);
    commit(st);
    ck_assert_uint_eq(vg_queue_count(q), 0);
    uint64_t m = committed * 3 / 4;
    if ((rc = append_many(st, q, rec, sizeof(rec), m)) != 0)
        rc = append_many(st, q, rec, sizeof(rec), m);
    ck_assert_msg(rc == 0, "second attempt: rc %d (%s)", rc, vg_strerror(rc));
    ck_assert_uint_eq(vg_queue_count(q), m);
    vg_store_close(st);
}
END_TEST

/* Appends records of 'len' bytes (the first byte the seq's low byte, the
 * rest 0xef), 'per' to a transaction, until a commit or an append fails;
 * at most 'rounds' transactions. Returns the failure (0: none). */
static int fill_until_full(vg_store *st, vg_queue *q, size_t len, int per, int rounds)
{
    static unsigned char rec[4000];
    memset(rec, 0xef, sizeof(rec));
    int rc = 0;
    for (int r = 0; r < rounds && rc == 0; r++) {
        begin(st);
        for (int i = 0; i < per && rc == 0; i++) {
            rec[0] = (unsigned char)(vg_queue_last(q) + 1);
            rc = vg_queue_append(q, rec, len, NULL);
        }
        if (rc)
            vg_store_abort(st);
        else
            rc = vg_store_commit(st);
    }
    return rc;
}

/* A 1 MiB store that does not fsync at commit (test_map_full_frees makes
 * thousands of commits). */
static vg_store *open_nosync(const char *dir)
{
    vg_store *st = NULL;
    int rc = vg_store_open_ex(&st, dir, 1, VG_STORE_ASYNC_SYNC);
    ck_assert_msg(rc == 0, "vg_store_open_ex(%s): %s", dir, vg_strerror(rc));
    return st;
}

/* An output's commit: its cursor and the trim up to it, in one
 * transaction (shp_out_commit's shape). */
static int cursor_trim(vg_store *st, vg_queue *q, uint64_t upto)
{
    begin(st);
    int rc = vg_meta_put_u64(st, "out.siem.cursor", upto);
    if (rc == 0)
        rc = vg_queue_trim(q, upto);
    if (rc == 0)
        return vg_store_commit(st);
    vg_store_abort(st);
    return rc;
}

/* A map filled to its last page by one large transaction (the shipper's
 * intake batch): the commit that records the next hop's cursor and trims up
 * to it must pass, or nothing could ever free room again (a wedge: before,
 * every write transaction failed with MDB_MAP_FULL, this one too, and the
 * store reopened as full). On fresh stores, one transaction of n - j
 * records of 1000 bytes (4 a page), n the most one transaction can put, j
 * from 0: the first 24 that commit leave no page, one page, two... (before;
 * now the reserve, and up to 6 pages more). A batch refused
 * again and again must not eat the room either; a cursor update with no
 * trim (the output delivered nothing new) must pass too. After the trim the
 * queue takes appends again, and holds exactly what it held. */
START_TEST(test_map_full_frees)
{
    uint64_t n = 0;
    int passed = 0;
    for (uint64_t j = 0; j < 400 && passed < 24; j++) {
        char dir[PATH_MAX + 16];
        snprintf(dir, sizeof(dir), "%s/j%llu", dbdir, (unsigned long long)j);
        vg_store *st = open_nosync(dir);
        vg_queue *q = open_queue(st, "outbox");
        if (n == 0) { /* the same in every fresh store */
            begin(st);
            unsigned char rec[1000] = {0};
            int rc = 0;
            while (rc == 0 && n < 2000)
                if ((rc = vg_queue_append(q, rec, sizeof(rec), NULL)) == 0)
                    n++;
            ck_assert_int_eq(rc, VG_EFULL);
            vg_store_abort(st);
            ck_assert_uint_gt(n, 100);
        }
        ck_assert_uint_eq(vg_queue_last(q), 0);
        if (fill_until_full(st, q, 1000, (int)(n - j), 1) != 0) {
            ck_assert_uint_eq(vg_queue_last(q), 0); /* refused whole */
            vg_store_close(st);
            continue;
        }
        passed++;
        uint64_t last = vg_queue_last(q);
        ck_assert_uint_eq(last, n - j);
        /* an intake batch refused, and retried */
        for (int i = 0; i < 5; i++)
            ck_assert_int_eq(fill_until_full(st, q, 200, 512, 1), VG_EFULL);
        ck_assert_uint_eq(vg_queue_last(q), last);
        /* the output comes back: a cursor with nothing new, then a trim */
        int rc = cursor_trim(st, q, 0);
        ck_assert_msg(rc == 0, "j %llu: cursor on a full map: %s", (unsigned long long)j,
                      vg_strerror(rc));
        rc = cursor_trim(st, q, last / 2);
        ck_assert_msg(rc == 0, "j %llu: trim on a full map: %s", (unsigned long long)j,
                      vg_strerror(rc));
        ck_assert_uint_eq(vg_queue_count(q), last - last / 2);
        ck_assert_uint_eq(vg_queue_first(q), last / 2 + 1);
        /* appends resume (the trim's pages are usable two commits on) */
        ck_assert_int_eq(cursor_trim(st, q, last / 2), 0);
        rc = fill_until_full(st, q, 1000, 8, 2);
        ck_assert_msg(rc == 0, "j %llu: append after the trim: %s", (unsigned long long)j,
                      vg_strerror(rc));
        ck_assert_uint_eq(vg_queue_last(q), last + 16);
        uint64_t next = last / 2 + 1;
        ck_assert_int_eq(vg_queue_scan(q, 0, SIZE_MAX, count_cb, &(int){0}),
                         (int)(last + 16 - next + 1));
        /* full again by small batches, then a restart: the first commit
         * after it records the cursor and trims everything */
        ck_assert_int_eq(fill_until_full(st, q, 1000, 64, 100), VG_EFULL);
        ck_assert_int_eq(fill_until_full(st, q, 1000, 1, 100), VG_EFULL);
        last = vg_queue_last(q);
        vg_store_close(st);
        st = open_nosync(dir);
        q = open_queue(st, "outbox");
        ck_assert_uint_eq(vg_queue_last(q), last);
        rc = cursor_trim(st, q, last);
        ck_assert_msg(rc == 0, "j %llu: trim after a restart: %s", (unsigned long long)j,
                      vg_strerror(rc));
        ck_assert_uint_eq(vg_queue_count(q), 0);
        vg_store_close(st);
    }
    ck_assert_int_eq(passed, 24);
}
END_TEST

/* ---- dead readers ------------------------------------------------------- */

/* mdb_reader_list callback: counts the slots of process 'pid' that hold a
 * snapshot (a line "pid thread txnid" per slot, txnid "-" when none). */
typedef struct rdr_count {
    pid_t pid;
    int n;
} rdr_count;

static int rdr_line(const char *msg, void *ctx)
{
    rdr_count *c = ctx;
    int pid = 0;
    size_t tid = 0;
    char txn[32];
    if (sscanf(msg, "%d %zx %31s", &pid, &tid, txn) == 3 && pid == c->pid && strcmp(txn, "-") != 0)
        c->n++;
    return 0;
}

static int readers_of(vg_store *st, pid_t pid)
{
    rdr_count c = {pid, 0};
    ck_assert_int_ge(mdb_reader_list(vg_store_env(st), rdr_line, &c), 0);
    return c.n;
}

/* A process of its own that opens the store in 'dir' (map_mb MiB), begins
 * a read transaction (its snapshot: the last commit) and waits, 10 s at
 * most; returned once its transaction is open (5 s at most). */
static pid_t reader_start(const char *dir, size_t map_mb)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[0]);
        vg_store *st = NULL;
        MDB_txn *txn = NULL;
        char ok = vg_store_open(&st, dir, map_mb) == 0 && vg_store_read_begin(st, &txn) == 0
                      ? 'r'
                      : 'e';
        if (write(p[1], &ok, 1) != 1)
            _exit(2);
        for (int i = 0; i < 1000; i++)
            usleep(10000);
        _exit(3);
    }
    close(p[1]);
    struct pollfd pf = {p[0], POLLIN, 0};
    char c = 0;
    ck_assert_int_eq(poll(&pf, 1, 5000), 1);
    ck_assert_int_eq(read(p[0], &c, 1), 1);
    close(p[0]);
    ck_assert_int_eq(c, 'r');
    return pid;
}

/* Kills reader_start's process (SIGKILL, by its pid) and reaps it. */
static void reader_kill(pid_t pid)
{
    int status = 0;
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* Opens and closes the store in 'dir' in a process of its own (a tool run
 * while the daemon has it open); its exit status: 0 when it opened. */
static int open_elsewhere(const char *dir, size_t map_mb)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        vg_store *st = NULL;
        int rc = vg_store_open(&st, dir, map_mb);
        vg_store_close(st);
        _exit(rc == 0 ? 0 : 1);
    }
    int status = 0;
    pid_t got = 0;
    for (int i = 0; i < 500 && (got = waitpid(pid, &status, WNOHANG)) == 0; i++)
        usleep(10000);
    if (got == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    ck_assert_int_eq(got, pid);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* A process killed (kill -9) in a read transaction leaves its reader slot
 * in the lock file while another process keeps the store open (LMDB resets
 * the slots only when an opener finds itself alone): this one here, the
 * daemon. The next open by any process clears it (mdb_reader_check):
 * before, it stayed until every process had closed the store, pinning the
 * dead reader's snapshot. */
START_TEST(test_dead_reader_open)
{
    vg_store *st = open_store(dbdir, 1);
    vg_queue *q = open_queue(st, "outbox");
    begin(st);
    append_range(q, 'o', 1, 10);
    commit(st);
    pid_t dead = reader_start(dbdir, 1);
    ck_assert_int_eq(readers_of(st, dead), 1);
    reader_kill(dead);
    ck_assert_int_eq(readers_of(st, dead), 1); /* left behind */
    ck_assert_int_eq(open_elsewhere(dbdir, 1), 0);
    ck_assert_int_eq(readers_of(st, dead), 0);
    /* a live reader is left alone */
    pid_t live = reader_start(dbdir, 1);
    ck_assert_int_eq(open_elsewhere(dbdir, 1), 0);
    ck_assert_int_eq(readers_of(st, live), 1);
    reader_kill(live);
    expect_scan(q, 'o', 1, SIZE_MAX, 1, 10);
    vg_store_close(st);
}
END_TEST

/* The same dead reader, with the store full when it died: the store
 * trimmed empty (its next hop took everything) could not reuse a page
 * freed since, the dead reader's snapshot held them all, so every batch
 * was refused (VG_EFULL) until a restart of every process that had the
 * store open. Now the store that finds no room clears dead readers and
 * asks again, without reopening: in vg__room (a write through
 * vg_store_write_txn, whose room is always probed), and after an append
 * that met the full map (the next batch passes). Each time, the map takes
 * about as much again as it held (the same records, less 16 for the trims'
 * bookkeeping). */
START_TEST(test_dead_reader_full)
{
    vg_store *st = open_nosync(dbdir);
    vg_queue *q = open_queue(st, "outbox");
    ck_assert_int_eq(fill_until_full(st, q, 1000, 8, 1000), VG_EFULL);
    uint64_t held = vg_queue_last(q);
    ck_assert_uint_gt(held, 100);
    for (int round = 0; round < 2; round++) {
        uint64_t last = vg_queue_last(q);
        pid_t dead = reader_start(dbdir, 1);
        reader_kill(dead);
        ck_assert_int_eq(readers_of(st, dead), 1);
        for (int i = 0; i < 3; i++) /* the trim's pages: past the last two commits */
            ck_assert_int_eq(cursor_trim(st, q, last), 0);
        ck_assert_uint_eq(vg_queue_count(q), 0);
        int refused = 0;
        if (round == 0) { /* the probe's path: the first commit passes */
            begin(st);
            ck_assert_ptr_nonnull(vg_store_write_txn(st));
            unsigned char rec[1000] = {0};
            for (int i = 0; i < 8; i++)
                ck_assert_int_eq(vg_queue_append(q, rec, sizeof(rec), NULL), 0);
            int rc = vg_store_commit(st);
            ck_assert_msg(rc == 0, "write txn after the dead reader: %s", vg_strerror(rc));
            ck_assert_int_eq(readers_of(st, dead), 0);
        }
        /* batches of 8 until the map is full again: at most one refused */
        int rc = 0;
        for (int i = 0; i < 1000 && refused <= 1; i++) {
            if ((rc = fill_until_full(st, q, 1000, 8, 1)) == 0)
                continue;
            ck_assert_int_eq(rc, VG_EFULL);
            if (vg_queue_count(q) + 16 >= held)
                break; /* full again */
            refused++;
        }
        ck_assert_msg(vg_queue_count(q) + 16 >= held,
                      "round %d: %llu records after the dead reader, %llu before (%d refused)",
                      round, (unsigned long long)vg_queue_count(q), (unsigned long long)held,
                      refused);
        ck_assert_int_le(refused, 1);
        ck_assert_int_eq(readers_of(st, dead), 0);
        ck_assert_uint_eq(vg_queue_first(q), last + 1);
    }
    vg_store_close(st);
}
END_TEST

/* vg_store_put: a correlator's flush rewrites its touched groups at
 * places of their own in the tree. Through vg_store_write_txn every
 * commit probed the whole reserve (32 + 1 per MiB of map page allocations:
 * 62% of the live correlator's CPU at a 4 GiB state_size). Counted puts
 * commit without a probe while the map has room, and still never take the
 * reserve: filled to the end by such puts, a commit that only deletes
 * passes, and the puts commit again once room is freed. */
START_TEST(test_counted_puts)
{
    vg_store *st = open_nosync(dbdir);
    MDB_dbi dbi;
    ck_assert_int_eq(vg_store_dbi(st, "groups", &dbi), 0);
    char key[32], val[300];
    memset(val, 'v', sizeof(val));
    uint32_t x = 7; /* keys spread over the tree, as groups' hashes are */
    int k = 0, rc = 0;
    begin(st);
    for (; k < 10; k++) {
        x = x * 1103515245u + 12345u;
        MDB_val kv = {(size_t)snprintf(key, sizeof(key), "g.%08x.%d", x, k), key},
                vv = {sizeof(val), val};
        ck_assert_int_eq(vg_store_put(st, dbi, &kv, &vv), 0);
    }
    commit(st);
    ck_assert_uint_eq(vg_store_probes(st), 0);
    /* the same through vg_store_write_txn: probed */
    begin(st);
    MDB_val kv = {3, "raw"}, vv = {sizeof(val), val};
    ck_assert_int_eq(mdb_put(vg_store_write_txn(st), dbi, &kv, &vv, 0), 0);
    commit(st);
    ck_assert_uint_eq(vg_store_probes(st), 1);
    /* batches of 5 until the 1 MiB map refuses one */
    int batches = 0;
    for (; batches < 1000 && rc == 0; batches++) {
        begin(st);
        for (int i = 0; i < 5 && rc == 0; i++, k++) {
            x = x * 1103515245u + 12345u;
            MDB_val a = {(size_t)snprintf(key, sizeof(key), "g.%08x.%d", x, k), key},
                    b = {sizeof(val), val};
            rc = vg_store_put(st, dbi, &a, &b);
        }
        if (rc)
            vg_store_abort(st);
        else
            rc = vg_store_commit(st);
    }
    ck_assert_int_eq(rc, VG_EFULL);
    ck_assert_int_gt(batches, 10);
    ck_assert_uint_gt(vg_store_probes(st), 1); /* near the end the count no longer settles it */
    /* a commit that only deletes takes the reserve: it passes */
    begin(st);
    MDB_val first = {3, "raw"};
    ck_assert_int_eq(vg_store_del(st, dbi, &first), 0);
    ck_assert_int_eq(vg_store_del(st, dbi, &first), -ENOENT);
    MDB_cursor *cur;
    ck_assert_int_eq(mdb_cursor_open(vg_store_txn(st), dbi, &cur), 0);
    MDB_val ck, cv;
    int dels = 0;
    while (dels < 200 && mdb_cursor_get(cur, &ck, &cv, MDB_FIRST) == 0 &&
           mdb_cursor_del(cur, 0) == 0)
        dels++;
    mdb_cursor_close(cur);
    ck_assert_int_eq(dels, 200);
    commit(st);
    /* and the freed room takes puts again (after the commits LMDB needs to
     * hand out what the deletes freed) */
    for (int i = 0, ok = 0; i < 4 && !ok; i++) {
        begin(st);
        x = x * 1103515245u + 12345u;
        MDB_val a = {(size_t)snprintf(key, sizeof(key), "g.%08x.%d", x, k++), key},
                b = {sizeof(val), val};
        ck_assert_int_eq(vg_store_put(st, dbi, &a, &b), 0);
        ok = vg_store_commit(st) == 0;
        ck_assert_msg(ok || i < 3, "no room after 200 deletes");
    }
    vg_store_close(st);
}
END_TEST

/* The sender's restart path: 100 spooled, 40 acknowledged and trimmed, the
 * process restarts, and re-sending starts at 41 with 60 records. */
START_TEST(test_resend_after_reopen)
{
    vg_store *st = open_store(dbdir, 4);
    vg_queue *q = open_queue(st, "spool");
    uint64_t epoch = 0;
    ck_assert_int_eq(vg_queue_epoch(st, q, &epoch), 0);
    begin(st);
    append_range(q, 's', 1, 100);
    commit(st);
    begin(st);
    ck_assert_int_eq(vg_queue_trim(q, 40), 0);
    commit(st);
    vg_store_close(st);

    st = open_store(dbdir, 4);
    q = open_queue(st, "spool");
    uint64_t e = 0;
    ck_assert_int_eq(vg_queue_epoch(st, q, &e), 0);
    ck_assert_uint_eq(e, epoch);
    ck_assert_uint_eq(vg_queue_first(q), 41);
    ck_assert_uint_eq(vg_queue_last(q), 100);
    ck_assert_uint_eq(vg_queue_count(q), 60);
    expect_scan(q, 's', 41, SIZE_MAX, 41, 100);
    expect_scan(q, 's', 41, 512, 41, 100);
    /* new records after the restart follow on */
    begin(st);
    append_range(q, 's', 101, 101);
    commit(st);
    expect_scan(q, 's', 41, SIZE_MAX, 41, 101);
    vg_store_close(st);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *t = tcase_create("store");
    tcase_add_unchecked_fixture(t, base_setup, base_teardown);
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_open_creates_dirs);
    tcase_add_test(t, test_txn_misuse);
    tcase_add_test(t, test_append_scan);
    tcase_add_test(t, test_record_sizes);
    tcase_add_test(t, test_abort_commit_reopen);
    tcase_add_test(t, test_trim);
    tcase_add_test(t, test_meta);
    tcase_add_test(t, test_epoch);
    tcase_add_test(t, test_copy_takes_new_epochs);
    tcase_add_test(t, test_two_queues);
    tcase_add_test(t, test_queue_limits);
    tcase_add_test(t, test_check_room);
    tcase_add_test(t, test_map_full);
    tcase_add_test(t, test_map_full_drained);
    tcase_add_test(t, test_map_full_frees);
    tcase_add_test(t, test_counted_puts);
    tcase_add_test(t, test_resend_after_reopen);
    tcase_add_test(t, test_dead_reader_open);
    tcase_add_test(t, test_dead_reader_full);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(store_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
