/* Gives the memory of a flood's groups back to the system. glibc keeps
 * what the correlator frees for its own reuse: after a flood made a
 * million groups and the sweep dropped them, the process kept its peak
 * RSS for ever (the heap's free chunks sit between the groups still
 * live, below its top, where free() never returns them). Once enough
 * bytes of groups are freed, malloc_trim(0) hands the free pages back. */
#ifndef COR_MEM_H
#define COR_MEM_H

#include <stdint.h>

#include "cor_eval.h"

/* Bytes of groups freed since the last trim that make a check trim
 * (cor_eval_freed_bytes). Counted in bytes, not groups: a group is 200
 * bytes to a MiB (a value_count of 10,000 values), so a count of groups
 * said nothing of what a trim would return. A trim walks the heap once (a
 * few ms for a GiB), so at most one per 64 MiB freed. */
#define COR_TRIM_BYTES (UINT64_C(64) << 20)

typedef struct cor_mem {
    uint64_t mark; /* cor_eval_freed_bytes at the last trim (or rebase) */
} cor_mem;

/* The figures of a trim, for its log line. */
typedef struct cor_mem_trim {
    uint64_t freed;                          /* bytes of groups freed since the last trim */
    uint64_t live;                           /* groups held now */
    long long rss_before_kib, rss_after_kib; /* -1: /proc not readable */
} cor_mem_trim;

/* Counts from now (at the start, and when e was replaced by a new engine:
 * cor_eval_reload). */
void cor_mem_rebase(cor_mem *m, const cor_eval *e);

/* After sweeps or a reload: if e freed at least threshold bytes of groups
 * (COR_TRIM_BYTES, or a test's) since the last trim, and malloc holds at
 * least threshold bytes free (glibc's mallinfo2: groups freed and replaced
 * by as many others, churn, leave little free, and are not trimmed nor
 * logged), trims (malloc_trim(0), where glibc has it), fills *t and
 * returns 1; else 0. */
int cor_mem_check(cor_mem *m, cor_eval *e, uint64_t threshold, cor_mem_trim *t);

/* This process's resident set in KiB (/proc/self/statm), -1 if unknown. */
long long cor_mem_rss_kib(void);

#endif
