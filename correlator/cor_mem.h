/* Gives the memory of a flood's groups back to the system. glibc keeps
 * what the correlator frees for its own reuse: after a flood made a
 * million groups and the sweep dropped them, the process kept its peak
 * RSS for ever (the heap's free chunks sit between the groups still
 * live, below its top, where free() never returns them). Once enough
 * groups are gone, malloc_trim(0) hands the free pages back. */
#ifndef COR_MEM_H
#define COR_MEM_H

#include <stdint.h>

#include "cor_eval.h"

/* Groups gone from the most held at once since the last trim that make
 * a check trim: some 200 bytes to several KiB each (docs/rules.md,
 * sizing), so tens of MiB at least; a trim walks the heap once (a few ms
 * for a GiB). */
#define COR_TRIM_GROUPS 100000

typedef struct cor_mem {
    uint64_t peak; /* the most groups held at once since the last trim */
} cor_mem;

/* The figures of a trim, for its log line. */
typedef struct cor_mem_trim {
    uint64_t peak, live;                     /* groups: the peak since the last trim, now */
    long long rss_before_kib, rss_after_kib; /* -1: /proc not readable */
} cor_mem_trim;

/* Forgets the peak (at the start, and when e was replaced by a new
 * engine: cor_eval_reload). */
void cor_mem_rebase(cor_mem *m, cor_eval *e);

/* After sweeps or a reload: if the groups e holds now are at least
 * threshold (COR_TRIM_GROUPS, or a test's) fewer than the most it held at
 * once since the last trim, trims (malloc_trim(0), where glibc has it),
 * fills *t and returns 1; else 0. A flood's groups replaced by as many
 * others need no trim: their memory is in use again. */
int cor_mem_check(cor_mem *m, cor_eval *e, uint64_t threshold, cor_mem_trim *t);

/* This process's resident set in KiB (/proc/self/statm), -1 if unknown. */
long long cor_mem_rss_kib(void);

#endif
