/* temporal_ordered sequences over a buffer of times and folded chains (see
 * cor_seq.h for the layout and why).
 *
 * Both searches rest on one fact about matching steps to events of their
 * rules with times non-decreasing: taking, step after step, the earliest
 * event that fits (forward) gives the earliest possible end, and taking the
 * latest that fits (backward) the latest possible start. Events of one rule
 * differ only in time, so any matching can be changed into the greedy one
 * without moving an end later or a start earlier. A rule at several steps
 * takes its events in time order (a cursor per slot), so one event never
 * fills two steps. */
#include <string.h>

#include "cor_seq.h"

void cor_seq_shape_of(cor_seq_shape *s, const uint32_t *ref_idx, uint32_t n)
{
    memset(s, 0, sizeof(*s));
    s->n = n;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t j = 0;
        while (j < k && ref_idx[j] != ref_idx[k])
            j++;
        s->slot[k] = j < k ? s->slot[j] : (uint8_t)s->m++;
        s->mult[s->slot[k]]++;
    }
}

/* Where things are in the array. */
#define P(ts, j) ((ts)[(j)])                /* j in 1 .. n-1 */
#define F(s, ts) ((ts)[(s)->n])
#define CNT(s, ts, k) ((ts)[(s)->n + 1 + (k)])

void cor_seq_init(const cor_seq_shape *s, int64_t *ts)
{
    ts[0] = COR_SEQ_TAG;
    for (uint32_t j = 1; j <= s->n; j++)
        ts[j] = INT64_MIN; /* P and F */
    for (uint32_t k = 0; k < s->m; k++)
        CNT(s, ts, k) = 0;
}

uint32_t cor_seq_len(const cor_seq_shape *s, const int64_t *ts)
{
    uint32_t len = cor_seq_head(s);
    for (uint32_t k = 0; k < s->m; k++)
        len += (uint32_t)CNT(s, ts, k);
    return len;
}

/* The buffered times of slot k, and how many. */
static int64_t *cor_seq_times(const cor_seq_shape *s, const int64_t *ts, uint32_t k, uint32_t *cnt)
{
    uint32_t off = cor_seq_head(s);
    for (uint32_t i = 0; i < k; i++)
        off += (uint32_t)CNT(s, ts, i);
    *cnt = (uint32_t)CNT(s, ts, k);
    return (int64_t *)ts + off;
}

/* First index in t[0..n) whose time is >= x (strict: > x). */
static uint32_t cor_seq_bound(const int64_t *t, uint32_t n, int64_t x, bool strict)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (t[mid] < x || (strict && t[mid] == x))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Drops the first d times of slot k. */
static void cor_seq_drop(const cor_seq_shape *s, int64_t *ts, uint32_t k, uint32_t d)
{
    if (!d)
        return;
    uint32_t cnt, len = cor_seq_len(s, ts);
    int64_t *t = cor_seq_times(s, ts, k, &cnt);
    int64_t *end = ts + len;
    memmove(t, t + d, (size_t)(end - (t + d)) * sizeof(int64_t));
    CNT(s, ts, k) -= d;
}

/* Folds, per slot k, the first take[k] buffered times into P (see the file
 * comment: backward greedy over them, from each step j down, starting from
 * a folded chain P[i] only if the event at step i+1 is not before F). */
static void cor_seq_fold_first(const cor_seq_shape *s, int64_t *ts, const uint32_t *take)
{
    const int64_t *t[COR_SEQ_MAX];
    int64_t nf = F(s, ts), np[COR_SEQ_MAX];
    uint32_t moved = 0;
    for (uint32_t k = 0; k < s->m; k++) {
        uint32_t cnt;
        t[k] = cor_seq_times(s, ts, k, &cnt);
        moved += take[k];
        if (take[k] && t[k][take[k] - 1] > nf)
            nf = t[k][take[k] - 1];
    }
    if (!moved)
        return;
    for (uint32_t j = 1; j < s->n; j++) {
        int64_t best = P(ts, j), prev = INT64_MAX;
        uint32_t cur[COR_SEQ_MAX];
        memcpy(cur, take, s->m * sizeof(uint32_t));
        for (uint32_t i = j; i >= 1; i--) { /* step i (1-based), slot of step i-1 */
            uint32_t k = s->slot[i - 1];
            uint32_t idx = cor_seq_bound(t[k], cur[k], prev, true);
            if (idx == 0)
                break;
            cur[k] = idx - 1;
            prev = t[k][idx - 1];
            if (i == 1) {
                if (prev > best)
                    best = prev;
            } else if (P(ts, i - 1) != INT64_MIN && prev >= F(s, ts) && P(ts, i - 1) > best) {
                best = P(ts, i - 1);
            }
        }
        np[j] = best;
    }
    for (uint32_t j = s->n - 1; j >= 1; j--) {
        if (j + 1 < s->n && np[j + 1] > np[j])
            np[j] = np[j + 1]; /* a chain's prefix is a chain */
        P(ts, j) = np[j];
    }
    F(s, ts) = nf;
    for (uint32_t k = 0; k < s->m; k++)
        cor_seq_drop(s, ts, k, take[k]);
}

/* Folds the buffered times before x (strict: up to x). */
static void cor_seq_fold_to(const cor_seq_shape *s, int64_t *ts, int64_t x, bool strict)
{
    uint32_t take[COR_SEQ_MAX];
    for (uint32_t k = 0; k < s->m; k++) {
        uint32_t cnt;
        const int64_t *t = cor_seq_times(s, ts, k, &cnt);
        take[k] = cor_seq_bound(t, cnt, x, strict);
    }
    cor_seq_fold_first(s, ts, take);
}

void cor_seq_fold(const cor_seq_shape *s, int64_t *ts, int64_t limit, int64_t dead)
{
    for (uint32_t j = 1; j < s->n; j++)
        if (P(ts, j) <= dead)
            P(ts, j) = INT64_MIN;
    for (uint32_t k = 0; k < s->m; k++) {
        uint32_t cnt;
        const int64_t *t = cor_seq_times(s, ts, k, &cnt);
        cor_seq_drop(s, ts, k, cor_seq_bound(t, cnt, dead, true));
    }
    cor_seq_fold_to(s, ts, limit, false);
}

void cor_seq_fold_oldest(const cor_seq_shape *s, int64_t *ts)
{
    int64_t oldest = INT64_MAX;
    for (uint32_t k = 0; k < s->m; k++) {
        uint32_t cnt;
        const int64_t *t = cor_seq_times(s, ts, k, &cnt);
        if (cnt && t[0] < oldest)
            oldest = t[0];
    }
    if (oldest != INT64_MAX)
        cor_seq_fold_to(s, ts, oldest, true);
}

int64_t cor_seq_folded(const cor_seq_shape *s, const int64_t *ts)
{
    return F(s, ts);
}

bool cor_seq_add(const cor_seq_shape *s, int64_t *ts, uint32_t slot, int64_t x)
{
    uint32_t cnt, len = cor_seq_len(s, ts);
    int64_t *t = cor_seq_times(s, ts, slot, &cnt);
    uint32_t lo = cor_seq_bound(t, cnt, x, false), hi = cor_seq_bound(t, cnt, x, true);
    if (hi - lo >= s->mult[slot])
        return false; /* another copy could fill no step the others cannot */
    memmove(t + hi + 1, t + hi, (size_t)((ts + len) - (t + hi)) * sizeof(int64_t));
    t[hi] = x;
    CNT(s, ts, slot)++;
    return true;
}

/* The sequences holding x at step k (0-based), by the block of steps a..b
 * (a <= k <= b) whose events are at time x: steps before a take times
 * below x (backward greedy, or a folded chain), steps after b times above
 * x (forward greedy, the last one at or after su). Keeps the best in
 * *start, *end. */
static void cor_seq_at(const cor_seq_shape *s, const int64_t *ts, const int64_t *const *t,
                       const uint32_t *cnt, uint32_t k, int64_t x, int64_t T, int64_t su,
                       bool *found, int64_t *start, int64_t *end)
{
    uint32_t atx[COR_SEQ_MAX], below[COR_SEQ_MAX], above[COR_SEQ_MAX];
    for (uint32_t q = 0; q < s->m; q++) {
        below[q] = cor_seq_bound(t[q], cnt[q], x, false);
        above[q] = cor_seq_bound(t[q], cnt[q], x, true);
        atx[q] = above[q] - below[q];
    }
    uint32_t need[COR_SEQ_MAX] = {0};
    for (uint32_t a = k + 1; a-- > 0;) {
        if (++need[s->slot[a]] > atx[s->slot[a]])
            break; /* not enough events at x for steps a..k; fewer for a-1 */
        /* the latest start for steps 0..a-1, all before x */
        int64_t S = a == 0 ? x : INT64_MIN, prev = x;
        uint32_t cur[COR_SEQ_MAX];
        memcpy(cur, below, s->m * sizeof(uint32_t));
        for (uint32_t i = a; i >= 1; i--) {
            /* steps 0..i-1 left; the folded chain of steps 1..i (P[i]) may
             * take them if the event at step i (0-based) is not before F */
            if (P(ts, i) != INT64_MIN && prev >= F(s, ts) && P(ts, i) > S)
                S = P(ts, i);
            uint32_t q = s->slot[i - 1];
            uint32_t idx = cor_seq_bound(t[q], cur[q], prev, true);
            if (idx == 0)
                break;
            cur[q] = idx - 1;
            prev = t[q][idx - 1];
            if (i == 1 && prev > S)
                S = prev;
        }
        if (S == INT64_MIN)
            continue;
        uint32_t need2[COR_SEQ_MAX];
        memcpy(need2, need, sizeof(need2));
        for (uint32_t b = k; b < s->n; b++) {
            if (b > k && ++need2[s->slot[b]] > atx[s->slot[b]])
                break;
            /* the earliest end for steps b+1..n-1, all after x */
            int64_t E = x, p = x;
            uint32_t c2[COR_SEQ_MAX];
            memcpy(c2, above, s->m * sizeof(uint32_t));
            bool ok = true;
            for (uint32_t i = b + 1; i < s->n && ok; i++) {
                uint32_t q = s->slot[i];
                int64_t lo = i + 1 == s->n && su > p ? su : p;
                uint32_t idx = cor_seq_bound(t[q], cnt[q], lo, false);
                if (idx < c2[q])
                    idx = c2[q];
                if (idx >= cnt[q]) {
                    ok = false;
                    break;
                }
                c2[q] = idx + 1;
                p = E = t[q][idx];
            }
            if (!ok || E < su || E - S >= T)
                continue;
            if (!*found || E < *end || (E == *end && S > *start)) {
                *found = true;
                *start = S;
                *end = E;
            }
        }
    }
}

bool cor_seq_find(const cor_seq_shape *s, const int64_t *ts, uint32_t slot, int64_t x,
                  int64_t T, int64_t su, int64_t *start, int64_t *end)
{
    const int64_t *t[COR_SEQ_MAX];
    uint32_t cnt[COR_SEQ_MAX];
    for (uint32_t q = 0; q < s->m; q++)
        t[q] = cor_seq_times(s, ts, q, &cnt[q]);
    bool found = false;
    for (uint32_t k = 0; k < s->n; k++)
        if (s->slot[k] == slot)
            cor_seq_at(s, ts, t, cnt, k, x, T, su, &found, start, end);
    return found;
}

void cor_seq_used(const cor_seq_shape *s, int64_t *ts, int64_t end)
{
    for (uint32_t j = 1; j < s->n; j++)
        P(ts, j) = INT64_MIN;
    F(s, ts) = INT64_MIN; /* no folded chain is left for it to bound */
    for (uint32_t k = 0; k < s->m; k++) {
        uint32_t cnt;
        const int64_t *t = cor_seq_times(s, ts, k, &cnt);
        cor_seq_drop(s, ts, k, cor_seq_bound(t, cnt, end, true));
    }
}

void cor_seq_from_chains(const cor_seq_shape *s, const int64_t *old, int64_t *ts)
{
    cor_seq_init(s, ts);
    for (uint32_t j = 1; j < s->n; j++) {
        int64_t st = old[j - 1], e = old[s->n + j - 1];
        if (st == INT64_MIN)
            continue;
        if (j <= 2) {
            /* its events are known: buffered (once per time and rule: two
             * chains may share their first event) */
            const int64_t at[2] = {st, e};
            for (uint32_t i = 0; i < j; i++) {
                uint32_t cnt, q = s->slot[i];
                const int64_t *t = cor_seq_times(s, ts, q, &cnt);
                if (cor_seq_bound(t, cnt, at[i], true) == cor_seq_bound(t, cnt, at[i], false))
                    (void)cor_seq_add(s, ts, q, at[i]);
            }
            continue;
        }
        P(ts, j) = st; /* steps between unknown: from its end on, as it then was */
        if (e > F(s, ts))
            F(s, ts) = e;
    }
    for (uint32_t j = s->n - 1; j >= 1; j--)
        if (j + 1 < s->n && P(ts, j + 1) > P(ts, j))
            P(ts, j) = P(ts, j + 1);
}
