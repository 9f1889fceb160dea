/* Durable storage on LMDB: one environment per process, holding
 *   - queues: records keyed by a 64-bit sequence number that only grows
 *     (the collector's spool, the correlator's and the shipper's outboxes);
 *   - a meta table of small named values (per-stream "last committed seq",
 *     output cursors, instance ids).
 *
 * All writes go through one write transaction at a time (vg_store_begin /
 * vg_store_commit), so a process can commit "records received up to seq N"
 * together with everything N caused, atomically. LMDB's default durability
 * is kept (fsync at commit): a committed transaction survives kill -9 and a
 * power cut. Single-threaded use only: the daemons run one libuv loop.
 */
#ifndef VIGIL_STORE_H
#define VIGIL_STORE_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vg_store vg_store;
typedef struct vg_queue vg_queue;

/* Opens (creating if needed) the environment in directory 'dir' (created
 * with mode 0700 if missing) with a map of 'map_mb' MiB. A store whose data
 * file is a copy of the one it was made in (restored from a backup) gives
 * every queue a new epoch first, with a warning (lib/store.c). The read
 * transactions that processes killed in them (kill -9, a crash) left in
 * the lock file are cleared, with a warning: here, and again whenever the
 * store finds no room for an append, so that a dead reader's snapshot
 * cannot keep freed pages from reuse while another process has the store
 * open (mdb_reader_check). */
int vg_store_open(vg_store **out, const char *dir, size_t map_mb);

/* VG_STORE_ASYNC_SYNC: a commit writes to the page cache without fsync
 * (it survives a kill of the process at once) and vg_store_sync, safe to
 * call from another thread while this one commits, makes everything
 * committed before it durable. For the collector's intake, whose fsync
 * would otherwise stall the event loop. LMDB (MDB_NOSYNC) then does not
 * write a commit's pages before its meta page: a power cut while commits
 * are unsynced can damage the environment, synced data included; the
 * collector's spool_sync: commit opens without it. */
#define VG_STORE_ASYNC_SYNC 1u
/* VG_STORE_OWNER: the daemon that owns the store (not a one-shot tool
 * reading it): holds an exclusive lock on DIR/owner.lock, with its pid in
 * it, for as long as the store is open. A second daemon on the same store
 * (two instances with one name and data_dir) is refused with -EBUSY and
 * an error naming the holder's pid: two writers took turns appending to one
 * queue and each broke the other's stream. */
#define VG_STORE_OWNER 2u
int vg_store_open_ex(vg_store **out, const char *dir, size_t map_mb, unsigned flags);

/* Warns, once at start, when the map of the store in 'dir' ('map_mb' MiB,
 * set by the configuration key 'key', e.g. "collector.spool_size") is
 * larger than its file system can give it: its free space plus what the
 * data file already holds. The disk then fills before the map does, and
 * commits fail as on any full disk (the upstream or the TCP sender waits,
 * datagrams are refused and counted) rather than meeting the size the
 * operator chose (the collector's spool_limit
 * would never pause intake). Returns 1 when it warned, 0 when the map
 * fits, negative errno when the file system cannot be asked (no warning:
 * the store opened, so this is only advice). */
int vg_store_check_room(const char *dir, const char *key, size_t map_mb);

/* A random queue epoch: nonzero and not old. */
int vg_epoch_random(uint64_t old, uint64_t *epoch);

int vg_store_sync(vg_store *st);
void vg_store_close(vg_store *st);
MDB_env *vg_store_env(vg_store *st);

/* Write transactions: begin, any number of queue/meta writes, commit or
 * abort. Only one may be open; read functions work inside it too, and
 * outside it they use a short read transaction of their own.
 *
 * A store keeps a reserve of free pages (about 32 plus a 256th of the
 * map, on top of map_mb) for the transactions that append nothing (cursor
 * updates, trims, deletes): those can always commit, so that a full store
 * can always free room. A transaction that appends, or writes through
 * vg_store_write_txn, fails at commit with VG_EFULL, as on a full map,
 * unless it leaves the reserve free: nothing of it is kept, and it may be
 * tried again once room is freed. */
int vg_store_begin(vg_store *st);
/* A transaction of deletes only (a full store's evictions): its commit may
 * be undone by a system crash, though not by a killed process (see
 * store.c); for writes whose loss costs nothing. */
int vg_store_begin_deletes(vg_store *st);
int vg_store_commit(vg_store *st);
void vg_store_abort(vg_store *st);
MDB_txn *vg_store_txn(vg_store *st); /* the open write txn, or NULL */
/* The open write txn (or NULL) for writes of the caller's own (mdb_put on
 * a vg_store_dbi database): the store cannot count what they take, so the
 * transaction is then held to the reserve like one that appends. */
MDB_txn *vg_store_write_txn(vg_store *st);

/* A put into dbi (vg_store_dbi) in the open write transaction, counted for
 * the commit's check that the reserve stays free: its bytes and the pages
 * it may copy or split at a place of its own in the tree (an update, not an
 * append). The check is then arithmetic while the map has room, where a
 * transaction of vg_store_write_txn probes the whole reserve at each
 * commit. VG_EFULL when the map is full, -EINVAL without a transaction. */
int vg_store_put(vg_store *st, MDB_dbi dbi, MDB_val *k, MDB_val *v);
/* A delete from dbi in the open write transaction: -ENOENT if the key is not
 * there. It appends nothing, so alone it may use the reserve; with puts,
 * the pages it copies are counted with theirs. */
int vg_store_del(vg_store *st, MDB_dbi dbi, MDB_val *k);
/* Commits so far whose room the store had to probe (vg_store_write_txn, or
 * a map too full for the count to settle it): for tests and stats. */
uint64_t vg_store_probes(const vg_store *st);
/* The reserve, in LMDB pages: what a transaction that appends nothing (a
 * delete) may take of a full store. */
size_t vg_store_reserve(const vg_store *st);
/* A small commit of its own (outside a write transaction), so that the
 * pages that the last commit freed become usable by the next: LMDB never
 * hands out pages that the last committed transaction freed. */
void vg_store_nudge(vg_store *st);
/* Whether the open write transaction can still take pages more pages (1),
 * or not (0), asked of LMDB itself as the commit's check is (a nested
 * transaction that takes them and is aborted); negative on an error. A
 * transaction of many deletes commits while this holds, so that it uses
 * what the store has free without failing on it. */
int vg_store_room_left(vg_store *st, size_t pages);

/* Meta values: a uint64 or a byte string under a name. Missing -> *v = 0 / -ENOENT. */
int vg_meta_get_u64(vg_store *st, const char *key, uint64_t *v);
int vg_meta_put_u64(vg_store *st, const char *key, uint64_t v); /* inside a write txn */
int vg_meta_get(vg_store *st, const char *key, void *buf, size_t cap, size_t *len);
int vg_meta_put(vg_store *st, const char *key, const void *val, size_t len);
/* Removes a meta value (inside a write txn); one that is not there is 0. */
int vg_meta_del(vg_store *st, const char *key);
/* Calls fn with each meta key that starts with prefix (not NUL-terminated:
 * len bytes), in key order, until fn returns non-zero, which is returned.
 * fn must not write to the store. */
int vg_meta_keys(vg_store *st, const char *prefix,
                 int (*fn)(void *ud, const char *key, size_t len), void *ud);

/* Opens queue 'name' in st (created on first use), outside any write
 * transaction (-EBUSY otherwise). The queue is owned by st and freed by
 * vg_store_close. */
int vg_queue_open(vg_store *st, const char *name, vg_queue **out);

/* Appends one record inside the open write transaction; *seq gets its
 * number (last + 1; the first record of a new queue is 1). */
int vg_queue_append(vg_queue *q, const void *rec, size_t len, uint64_t *seq);

/* Calls fn for records with seq >= from, in order, until fn returns
 * non-zero, 'max' records were visited or the queue ends. The bytes passed
 * to fn are valid only during the call. Returns the number visited, or a
 * negative error. */
typedef int (*vg_queue_fn)(void *ud, uint64_t seq, const void *rec, size_t len);
int vg_queue_scan(vg_queue *q, uint64_t from, size_t max, vg_queue_fn fn, void *ud);

/* Deletes every record with seq <= upto, inside the open write transaction. */
int vg_queue_trim(vg_queue *q, uint64_t upto);

uint64_t vg_queue_last(const vg_queue *q);  /* highest seq ever appended (0: none) */
uint64_t vg_queue_first(vg_queue *q);       /* lowest seq still stored (0: empty) */
uint64_t vg_queue_count(vg_queue *q);       /* records stored */
uint64_t vg_queue_bytes(vg_queue *q);       /* bytes of LMDB pages the records occupy */
const char *vg_queue_name(const vg_queue *q);

/* A named plain database of the environment (byte-string keys), created on
 * first use; for modules that keep their own records (correlation state).
 * Call outside a write transaction. Writes then use vg_store_txn(st);
 * reads outside it may use vg_store_read_begin/end. */
int vg_store_dbi(vg_store *st, const char *name, MDB_dbi *out);
/* A transaction to read in: the open write transaction if any, else a
 * reusable read-only one. Pair every call with vg_store_read_end. */
int vg_store_read_begin(vg_store *st, MDB_txn **txn);
void vg_store_read_end(vg_store *st, MDB_txn *txn);

#endif
