/* Returning a flood's memory to the system (cor_mem.h). */
#include <stdio.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "cor_mem.h"

void cor_mem_rebase(cor_mem *m, cor_eval *e)
{
    uint64_t live;
    cor_eval_groups_peak(e, &live);
    m->peak = live;
}

int cor_mem_check(cor_mem *m, cor_eval *e, uint64_t threshold, cor_mem_trim *t)
{
    uint64_t live, peak = cor_eval_groups_peak(e, &live);
    if (peak > m->peak)
        m->peak = peak;
    if (m->peak - live < threshold)
        return 0;
    t->peak = m->peak;
    t->live = live;
    m->peak = live;
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
