/* Returning a flood's memory to the system (cor_mem.h). */
#include <stdio.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "cor_mem.h"

void cor_mem_rebase(cor_mem *m, const cor_eval *e)
{
    m->mark = cor_eval_freed_bytes(e);
}

int cor_mem_check(cor_mem *m, cor_eval *e, uint64_t threshold, cor_mem_trim *t)
{
    uint64_t freed = cor_eval_freed_bytes(e);
    if (freed < m->mark || freed - m->mark < threshold) /* (< : another engine's count) */
        return 0;
#if defined(__GLIBC__)
    /* churn: groups freed and as many made since, in the same memory;
     * malloc holds little free, and a trim (and its log line) would give
     * back nothing. (An arena of 0: glibc's malloc is not the one in use,
     * e.g. under ASan or a preloaded allocator, and cannot tell.) */
    struct mallinfo2 mi = mallinfo2();
    if (mi.arena > 0 && mi.fordblks < threshold) {
        m->mark = freed;
        return 0;
    }
#endif
    t->freed = freed - m->mark;
    t->live = cor_eval_get_stats(e)->groups;
    m->mark = freed;
    t->rss_before_kib = cor_mem_rss_kib();
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
    t->rss_after_kib = cor_mem_rss_kib();
    return 1;
}

long long cor_mem_rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long long size, resident;
    if (!f)
        return -1;
    int n = fscanf(f, "%lld %lld", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return n == 2 && page > 0 ? resident * (page / 1024) : -1;
}
