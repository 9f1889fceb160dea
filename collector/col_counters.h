/* Per-source, per-agency and per-host counters the operator sees.
 *
 * Three bounded tables, keyed by strings copied in:
 *   source  the sender address as the collector names it ("10.20.1.5",
 *           "2001:db8::7", "unix"): messages, bytes, malformed, truncated,
 *           dropped, connections refused, last seen, and the agency of its
 *           latest message;
 *   agency  the agency tag (col_sources_tag): the same counters;
 *   host    the HOSTNAME as sent (bytes compared exactly, case included):
 *           messages and last seen. The correlator uses it to notice hosts
 *           that fell silent.
 * Each table holds at most its cap of keys. When a new key arrives at a full
 * table, the least recently seen key (the one longest without a note or a
 * drop) is evicted and the table's eviction counter grows: hostile senders
 * can invent addresses behind NAT or host names at will, and must not be
 * able to grow the collector's memory. Keys longer than
 * COL_COUNTERS_KEY_MAX bytes are cut to that length.
 *
 * Memory (64-bit): per key 64 bytes of entry (keys up to 40 bytes are stored
 * inline; longer ones take a malloc'ed copy), up to 16 bytes of hash index,
 * plus 80 (source), 72 (agency) or 16 (host) bytes of counters. At the
 * default caps a full host table is about 24 MiB and a full source table
 * about 10 MiB. Entries and counters are calloc'ed for the cap up front and
 * filled in order, so untouched pages cost nothing; the index starts small
 * and doubles as keys arrive.
 *
 * Cost per message (col_counters_note): each table first compares the key
 * with the one it saw last (a burst from one connection hashes nothing);
 * otherwise one keyed hash (SipHash-1-3 with a random key, so that names
 * chosen to collide cannot turn probing quadratic), shared between tables
 * when source and host are the same view, and a linear probe in an index
 * kept at most half full. No allocation unless a new key is over 40 bytes.
 *
 * Not thread-safe; the collector's one loop owns it.
 */
#ifndef COL_COUNTERS_H
#define COL_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/str.h"

#define COL_COUNTERS_MAX_SOURCES 65536 /* default caps */
#define COL_COUNTERS_MAX_AGENCIES 1024
#define COL_COUNTERS_MAX_HOSTS 262144
#define COL_COUNTERS_CAP_LIMIT (1u << 30) /* largest cap accepted */
#define COL_COUNTERS_KEY_MAX 255          /* longer keys are cut */

typedef struct col_counters col_counters;

enum col_counters_kind { COL_COUNT_SOURCE, COL_COUNT_AGENCY, COL_COUNT_HOST };

/* One key's counters. For hosts only messages and last_seen_us are kept
 * (the others read 0). last_seen_us is the now_us of the latest note, 0 if
 * the key was only ever named in a drop. */
typedef struct col_count {
    uint64_t messages, bytes, malformed, truncated, dropped;
    uint64_t refused; /* connections closed at once: max_connections(_per_ip), the fd room */
    uint64_t throttled, throttled_ms; /* max_rate_per_ip's throttles, and ms held (col_rate.h) */
    int64_t last_seen_us;
} col_count;

/* Makes the three tables with the given caps (0 = the default). Returns 0
 * and *out, -EINVAL for a cap over COL_COUNTERS_CAP_LIMIT, -ENOMEM. */
int col_counters_new(col_counters **out, uint32_t max_sources, uint32_t max_agencies,
                     uint32_t max_hosts);
/* Frees cc and every key it holds (NULL is fine). */
void col_counters_free(col_counters *cc);

/* Counts one received message: bytes is its length as received, ev_flags
 * its VG_EV_* flags (VG_EV_MALFORMED and VG_EV_TRUNCATED are counted),
 * now_us the arrival time. An absent or empty src, agency or host is not
 * counted in that table. The views are read during the call only. */
void col_counters_note(col_counters *cc, vg_str src, vg_str agency, vg_str host, size_t bytes,
                       uint16_t ev_flags, int64_t now_us);

/* Counts n messages from src (and agency) that were received -- and noted
 * -- but lost before the spool. Makes the keys if they are absent; does not
 * change last_seen_us. */
void col_counters_drop(col_counters *cc, vg_str src, vg_str agency, uint64_t n);

/* Counts one TCP or TLS connection from src (tagged with agency, its
 * network's) that the collector refused: a sender shut out by a flood of
 * connections from others is then seen by its own address, not only in
 * the collector's total. Makes the keys if they are absent; does not
 * change last_seen_us. */
void col_counters_refuse(col_counters *cc, vg_str src, vg_str agency);

/* Counts n throttles (max_rate_per_ip: col_rate_hold) of src (tagged with
 * agency, its network's) and ms of its reading held back. Makes the keys
 * if they are absent; does not change last_seen_us. */
void col_counters_throttle(col_counters *cc, vg_str src, vg_str agency, uint64_t n, uint64_t ms);

/* Copies key's counters into *out without touching its recency. Returns 0,
 * or -ENOENT if the table does not hold key. */
int col_counters_get(const col_counters *cc, enum col_counters_kind kind, vg_str key,
                     col_count *out);

/* Keys held, cap, and keys evicted so far, for one table; any pointer may
 * be NULL. */
void col_counters_info(const col_counters *cc, enum col_counters_kind kind, size_t *used,
                       size_t *cap, uint64_t *evicted);

/* Calls fn for every key of one table, most recently seen first (so silent
 * hosts come last). key is valid during the call only. fn must not call
 * into cc. */
typedef void col_counters_each_fn(void *arg, vg_str key, const col_count *c);
void col_counters_each(const col_counters *cc, enum col_counters_kind kind,
                       col_counters_each_fn *fn, void *arg);

/* Writes the operator's report, one NUL-terminated line per call of fn
 * (no newline; fn typically logs it):
 *   counters sources=U/CAP evicted=E agencies=U/CAP evicted=E hosts=U/CAP evicted=E nomem=N
 *   agency NAME messages=M bytes=B malformed=X truncated=T dropped=D last_seen=TIME
 *   source ADDR agency=NAME messages=M bytes=B malformed=X truncated=T dropped=D last_seen=TIME
 * (agencies and sources with refused connections add conns_refused=R before
 * last_seen, and those throttled by max_rate_per_ip throttled=N
 * throttled_ms=T after that)
 *   host NAME messages=M last_seen=TIME
 *   sources: K more not shown            (likewise "hosts: K more not shown")
 * Every agency is listed; sources and hosts are the 'top' with the most
 * messages and refused connections (0 = all). Each group is in descending
 * order of those, ties by name. TIME is RFC 3339 UTC to the second ("2024-05-01T10:20:30Z") or "-"
 * when never seen. Bytes of names outside '!'..'~', and '\', are written as
 * \xHH, so a hostile host name cannot forge log lines or fields; a source whose agency entry was
 * evicted since shows agency=-. nomem counts notes that found no memory
 * for a long key's copy (that key went uncounted). If the sort buffer
 * cannot be allocated, sources and hosts come most recently seen first
 * instead. */
typedef void col_counters_line_fn(void *arg, const char *line);
void col_counters_report(const col_counters *cc, size_t top, col_counters_line_fn *fn, void *arg);

#endif
