/* Watchlists: named sets of IP addresses, CIDR blocks, domains, hashes and
 * strings, kept in the correlator's LMDB environment, for rule conditions
 * of the form `field in list NAME` (docs/watchlists.md).
 *
 * A list is loaded from a text file and replaces the previous version of
 * that list in one write transaction: a reader sees the old list or the new
 * one, never a mix, and a malformed file changes nothing. Lookups are a few
 * B-tree probes (O(log n)), so a list of millions of entries costs memory
 * in the page cache, not in the process.
 *
 * Storage (all in one LMDB database, "lists", so the store's DBI budget is
 * untouched); every key starts with a 32-bit big-endian generation number:
 *
 *   gen 0, 'G'                -> u32 LE: the last generation handed out
 *   gen 0, 'N', NAME          -> directory record of list NAME (see
 *                                cor_lists.c, lists__dir_encode)
 *   gen 0, 'S', NAME          -> source record of list NAME: the SHA-256
 *                                of the file content its version was
 *                                parsed from (cor_lists.c, lists__src)
 *   gen G, KIND, BODY         -> "" (one key per entry of the list whose
 *                                directory record holds generation G)
 *
 * KIND/BODY: '4' addr[4] len[1] (IPv4 network, masked; a plain address is
 * a /32), '6' addr[16] len[1] (IPv6 likewise, /128), 'd' lower-case domain,
 * 'h' binary hash (16, 20 or 32 bytes), 's' string bytes. Every load gets a
 * fresh generation larger than any before, so its sorted keys go in with
 * MDB_APPEND; the directory record is switched and the old generation's
 * keys deleted in the same transaction.
 *
 * Single-threaded, like the store: call from the loop thread only.
 */
#ifndef COR_LISTS_H
#define COR_LISTS_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vigil/str.h"
#include "vigil/store.h"

#define COR_LIST_NAME_MAX 64   /* bytes; names are [A-Za-z0-9_.-]+ */
#define COR_LIST_ENTRY_MAX 500 /* bytes of one entry after trimming */

typedef struct cor_lists cor_lists;
typedef struct cor_list cor_list;

/* What one list holds, as of the last committed load. */
typedef struct cor_list_info {
    uint64_t count; /* distinct entries */
    uint64_t ipv4;  /* IPv4 addresses and networks */
    uint64_t ipv6;  /* IPv6 addresses and networks */
    uint64_t domains;
    uint64_t hashes;
    uint64_t strings;
    uint64_t loaded; /* unix time of the load */
    uint32_t gen;    /* storage generation (changes with every load) */
} cor_list_info;

/* Lookup counters, for the SIGUSR1 report. */
typedef struct cor_lists_stats {
    uint64_t lookups, hits;
    uint64_t errors; /* LMDB failures during a lookup (answered "not in list") */
    uint64_t loads, load_failures;
    /* files read whole to compare with a stored list (not in the report;
     * an unchanged file seen before is not: docs/watchlists.md) */
    uint64_t hashed;
} cor_lists_stats;

/* Opens (creating on first use) the "lists" database in st's environment.
 * Must be called outside a write transaction (-EBUSY otherwise), because
 * it commits one of its own. *out is owned by the caller and freed with
 * cor_lists_close, which must come before vg_store_close(st).
 * Errors: -EBUSY, -ENOMEM, LMDB codes (MDB_DBS_FULL: the store's maxdbs). */
int cor_lists_open(vg_store *st, cor_lists **out);
void cor_lists_close(cor_lists *l);

/* Replaces list NAME with the entries of the file at PATH, in one write
 * transaction of its own (so: outside any open write transaction, -EBUSY
 * otherwise). File format: one entry per line (LF or CRLF; a UTF-8 BOM
 * at the start is skipped; a UTF-16 file and a CR inside an entry are
 * refused); '#' at the start of a line or after a blank
 * starts a comment; blank lines are ignored; surrounding blanks are
 * trimmed. Kinds are recognised as documented in
 * docs/watchlists.md. *count (if not NULL) gets the number of distinct
 * entries now in the list.
 *
 * On error nothing changes and err holds one line:
 *   "PATH:LINE: reason" for a malformed entry (returns VG_ECONFIG),
 *   "PATH: reason"      for a file that cannot be read (-errno),
 *   "NAME: reason"      for a bad list name (-EINVAL),
 *   "lists: reason"     for a storage failure (VG_EFULL when the map is
 *                       full: it must hold the old and the new list at once;
 *                       the reason is then "the list store is full (map
 *                       size N MiB)"; -ENOMEM; LMDB codes).
 * Handles of NAME see the new list from the next lookup on.
 * With l NULL the name and the file are only checked (-t): nothing is
 * stored, and *count gets the number of distinct entries in the file.
 * Always stores (a manual replace, --load-list), even a file whose content
 * is the stored one; like every load, it records the SHA-256 of the
 * content it parsed, for cor_lists_sync_file. */
int cor_lists_load_file(cor_lists *l, const char *name, const char *path, size_t *count, char *err,
                        size_t errlen);

/* cor_lists_load_file for a reload (start, SIGHUP): leaves list NAME alone
 * when its stored version was parsed, by this correlator's parser, from a
 * file with the content PATH has now (SHA-256 of the whole file; PATH a
 * regular file: a device is always read). *unchanged (if not NULL) then
 * says so, *count gets the stored count, and nothing is written: no write
 * transaction, no new generation, the load time kept, stats.loads not
 * counted. Whoever stored that version (this process, --load-list of the
 * same content) does not matter: the stored form is the same.
 * With check, nothing is ever stored (a SIGHUP's check before its rules
 * build): an unchanged file is not even parsed (it was when stored), a
 * changed one is parsed and checked as with l NULL in cor_lists_load_file.
 * Errors as cor_lists_load_file, and a FIFO at PATH is refused without a
 * read (VG_ECONFIG, "PATH: a FIFO cannot be a configured list: ..."): the
 * daemon reads its lists at every start and SIGHUP, twice on a SIGHUP, and
 * a read would block it while a writer holds the FIFO open. l NULL:
 * cor_lists_load_file(NULL, ...) but for that refusal. */
int cor_lists_sync_file(cor_lists *l, const char *name, const char *path, bool check, size_t *count,
                        bool *unchanged, char *err, size_t errlen);

/* LMDB bytes a list may take per byte of its file, at most. The densest
 * file is one of short IPv6 addresses: "::1f" is 5 bytes with its newline,
 * and its key 4 (generation) + 1 (kind) + 16 bytes, plus 8 of node header
 * and 2 of page index: 31 bytes. Pages appended in key order are full. */
#define COR_LISTS_MAP_PER_BYTE 8

/* The LMDB map, in MiB, that holds lists loaded from files of file_bytes
 * bytes in all, besides the environment's own pages: for a store that holds
 * only lists (the offline tools'). A map is address space, not memory nor
 * disk, so a generous bound costs nothing. */
size_t cor_lists_map_mb(uint64_t file_bytes);

/* Whether name is a valid list name (1 to COR_LIST_NAME_MAX of A-Z a-z 0-9
 * _ . -), for callers that can say where the name was written. */
bool cor_lists_name_ok(const char *name);

/* Resolves NAME once into a handle for the hot path. The list need not
 * exist yet: until it is loaded it is empty. The handle is owned by l and
 * stays valid until cor_lists_close. Errors: -EINVAL (bad name), -ENOMEM. */
int cor_lists_handle(cor_lists *l, const char *name, cor_list **out);
const char *cor_list_name(const cor_list *h);

/* Is VALUE in the list? VALUE is read as
 *   - an IPv4 or IPv6 address (IPv4-mapped IPv6 counts as IPv4; IPv4
 *     octets may be zero-padded, "010.001.002.003", and are decimal; an
 *     IPv6 zone, "fe80::1%eth0", is dropped): matched against the list's
 *     addresses and networks;
 *   - a domain/host name: matched case-insensitively against the list's
 *     domains, itself and every parent (a.b.example.com matches an entry
 *     example.com; a trailing dot is ignored);
 *   - a 32/40/64-digit hex hash, case-insensitively;
 *   - anything else: byte for byte against the list's strings.
 * Reads in the store's open write transaction if there is one (the engine
 * calls this while it applies a batch), else in a short read transaction.
 * A storage error answers false and is counted (stats.errors). VALUE is
 * only read during the call. */
bool cor_list_contains(cor_list *h, vg_str value);

/* The same, reading in TXN (a read or the write transaction of this
 * environment), e.g. to see one snapshot across several lookups. */
bool cor_list_contains_txn(cor_list *h, MDB_txn *txn, vg_str value);

/* Convenience: cor_lists_handle + cor_list_contains (false for a bad name).
 * Costs a name check and a scan of the handles on every call: rules should
 * resolve their list once with cor_lists_handle and call cor_list_contains. */
bool cor_lists_contains(cor_lists *l, const char *name, vg_str value);

/* Entries in list NAME (0 if it does not exist). */
uint64_t cor_lists_size(cor_lists *l, const char *name);

/* Fills *info for list NAME. Errors: -ENOENT (never loaded), -EINVAL, LMDB. */
int cor_lists_info(cor_lists *l, const char *name, cor_list_info *info);

/* Writes list NAME to OUT as a list file (a '#' header line, then one entry
 * per line in canonical form, grouped by kind): loading the output again
 * gives the same list. Reads one snapshot. Errors: -ENOENT, -EINVAL, -EIO
 * (write error on OUT), LMDB codes. */
int cor_lists_dump(cor_lists *l, const char *name, FILE *out);

void cor_lists_get_stats(const cor_lists *l, cor_lists_stats *out);

#endif
