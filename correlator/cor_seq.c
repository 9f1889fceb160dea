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
 * fills two steps.
 *
 * One line may match two rules of the list: its copies in their slots are
 * linked (cor_seq_link), and the steps at one time must then be filled by
 * distinct events (cor_seq_fits, a matching). The greedy searches stay
 * exact: each step takes the latest (earliest) time at which the steps
 * taken at that time still fit; a step at a later (earlier) time frees the
 * steps after (before) it of nothing they could use. With no links, which
 * is every rule whose lines match one of its rules each, none of this
 * runs. */
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
#define NL(s, ts) ((ts)[(s)->n + 1 + (s)->m])

void cor_seq_init(const cor_seq_shape *s, int64_t *ts)
{
    ts[0] = COR_SEQ_TAG;
    for (uint32_t j = 1; j <= s->n; j++)
        ts[j] = INT64_MIN; /* P and F */
    for (uint32_t k = 0; k < s->m; k++)
        CNT(s, ts, k) = 0;
    NL(s, ts) = 0;
}

/* Where the times of slot k start: after the head and the times of the
 * slots before it (k == s->m: where the links start). */
static uint32_t cor_seq_off(const cor_seq_shape *s, const int64_t *ts, uint32_t k)
{
    uint32_t off = cor_seq_head(s);
    for (uint32_t i = 0; i < k; i++)
        off += (uint32_t)CNT(s, ts, i);
    return off;
}

uint32_t cor_seq_len(const cor_seq_shape *s, const int64_t *ts)
{
    return cor_seq_off(s, ts, s->m) + 2 * (uint32_t)NL(s, ts);
}

/* The buffered times of slot k, and how many. */
static int64_t *cor_seq_times(const cor_seq_shape *s, const int64_t *ts, uint32_t k, uint32_t *cnt)
{
    *cnt = (uint32_t)CNT(s, ts, k);
    return (int64_t *)ts + cor_seq_off(s, ts, k);
}

/* The links (pairs time, mask, by time), and how many. */
static int64_t *cor_seq_links(const cor_seq_shape *s, const int64_t *ts, uint32_t *nl)
{
    *nl = (uint32_t)NL(s, ts);
    return (int64_t *)ts + cor_seq_off(s, ts, s->m);
}

/* First i in [0, n) whose time t[i * stride] is >= x (strict: > x); the
 * times at that stride are sorted. Stride 1: buffered times, 2: links. */
static uint32_t cor_seq_search(const int64_t *t, uint32_t n, uint32_t stride, int64_t x,
                               bool strict)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t y = t[(size_t)mid * stride];
        if (y < x || (strict && y == x))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First index in t[0..n) whose time is >= x (strict: > x). */
static uint32_t cor_seq_bound(const int64_t *t, uint32_t n, int64_t x, bool strict)
{
    return cor_seq_search(t, n, 1, x, strict);
}

/* First link whose time is >= x (strict: > x). */
static uint32_t cor_seq_lbound(const int64_t *lk, uint32_t nl, int64_t x, bool strict)
{
    return cor_seq_search(lk, nl, 2, x, strict);
}

/* Forgets the links before x (strict: up to x): their copies went. */
static void cor_seq_unlink_to(const cor_seq_shape *s, int64_t *ts, int64_t x, bool strict)
{
    uint32_t nl;
    int64_t *lk = cor_seq_links(s, ts, &nl);
    uint32_t d = nl ? cor_seq_lbound(lk, nl, x, strict) : 0;
    if (!d)
        return;
    memmove(lk, lk + 2 * d, (size_t)(nl - d) * 2 * sizeof(int64_t));
    NL(s, ts) -= d;
}

/* Kuhn's augmenting path: a link for one more step of slot q. */
static bool cor_seq_aug(const uint32_t *mk, uint32_t nly, int *match, uint32_t *seen, uint32_t q)
{
    for (uint32_t l = 0; l < nly; l++) {
        if (!(mk[l] >> q & 1) || (*seen >> l & 1))
            continue;
        *seen |= 1u << l;
        if (match[l] < 0 || cor_seq_aug(mk, nly, match, seen, (uint32_t)match[l])) {
            match[l] = (int)q;
            return true;
        }
    }
    return false;
}

/* Whether steps at time y, need[q] of slot q, can take distinct events
 * there: a linked event fills one of them (the copies of slot q at y are
 * its unlinked ones, one step each, and the links' events). */
static bool cor_seq_fits(const cor_seq_shape *s, const int64_t *ts, const int64_t *const *t,
                         const uint32_t *cnt, int64_t y, const uint32_t *need)
{
    uint32_t nl, mk[COR_SEQ_MAX], nly = 0;
    const int64_t *lk = cor_seq_links(s, ts, &nl);
    for (uint32_t l = cor_seq_lbound(lk, nl, y, false); l < nl && lk[2 * l] == y; l++)
        if (nly < COR_SEQ_MAX) /* at most n copies at y, two per link */
            mk[nly++] = (uint32_t)lk[2 * l + 1];
    if (!nly)
        return true;
    int match[COR_SEQ_MAX];
    for (uint32_t l = 0; l < nly; l++)
        match[l] = -1;
    for (uint32_t q = 0; q < s->m; q++) {
        if (!need[q])
            continue;
        uint32_t atq = cor_seq_bound(t[q], cnt[q], y, true) - cor_seq_bound(t[q], cnt[q], y, false);
        uint32_t linked = 0;
        for (uint32_t l = 0; l < nly; l++)
            linked += mk[l] >> q & 1;
        uint32_t single = atq > linked ? atq - linked : 0;
        for (uint32_t u = single; u < need[q]; u++) {
            uint32_t seen = 0;
            if (!cor_seq_aug(mk, nly, match, &seen, q))
                return false;
        }
    }
    return true;
}

/* The steps a search has put at one time, for cor_seq_fits. */
typedef struct cor_seq_blk {
    int64_t y;
    uint32_t need[COR_SEQ_MAX];
} cor_seq_blk;

/* Puts one more step of slot q into the block at time y (a block at another
 * time starts empty) if cor_seq_fits lets it; false leaves b->need as it was. */
static bool cor_seq_take(const cor_seq_shape *s, const int64_t *ts, const int64_t *const *t,
                         const uint32_t *cnt, cor_seq_blk *b, uint32_t q, int64_t y)
{
    if (y != b->y) {
        b->y = y;
        memset(b->need, 0, sizeof(b->need));
    }
    b->need[q]++;
    if (cor_seq_fits(s, ts, t, cnt, y, b->need))
        return true;
    b->need[q]--;
    return false;
}

/* Backward greedy, one step of slot q: the latest time at or before *prev
 * among the first cur[q] times of q that the block there can take. */
static bool cor_seq_back(const cor_seq_shape *s, const int64_t *ts, const int64_t *const *t,
                         const uint32_t *cnt, bool links, uint32_t *cur, uint32_t q, int64_t *prev,
                         cor_seq_blk *b)
{
    uint32_t idx = cor_seq_bound(t[q], cur[q], *prev, true);
    while (idx) {
        int64_t y = t[q][idx - 1];
        if (links && !cor_seq_take(s, ts, t, cnt, b, q, y)) {
            idx = cor_seq_bound(t[q], idx, y, false); /* times before y */
            continue;
        }
        cur[q] = idx - 1;
        *prev = y;
        return true;
    }
    return false;
}

/* Forward greedy, one step of slot q: the earliest time at or after lo
 * from cur[q] on that the block there can take. */
static bool cor_seq_fwd(const cor_seq_shape *s, const int64_t *ts, const int64_t *const *t,
                        const uint32_t *cnt, bool links, uint32_t *cur, uint32_t q, int64_t lo,
                        int64_t *p, cor_seq_blk *b)
{
    uint32_t idx = cor_seq_bound(t[q], cnt[q], lo, false);
    if (idx < cur[q])
        idx = cur[q];
    while (idx < cnt[q]) {
        int64_t y = t[q][idx];
        if (links && !cor_seq_take(s, ts, t, cnt, b, q, y)) {
            idx = cor_seq_bound(t[q], cnt[q], y, true); /* times after y */
            continue;
        }
        cur[q] = idx + 1;
        *p = y;
        return true;
    }
    return false;
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
    uint32_t moved = 0, cnt[COR_SEQ_MAX];
    bool links = NL(s, ts) != 0;
    for (uint32_t k = 0; k < s->m; k++) {
        t[k] = cor_seq_times(s, ts, k, &cnt[k]);
        moved += take[k];
        if (take[k] && t[k][take[k] - 1] > nf)
            nf = t[k][take[k] - 1];
    }
    if (!moved)
        return;
    for (uint32_t j = 1; j < s->n; j++) {
        int64_t best = P(ts, j), prev = INT64_MAX;
        uint32_t cur[COR_SEQ_MAX];
        cor_seq_blk b = {.y = INT64_MIN};
        memcpy(cur, take, s->m * sizeof(uint32_t));
        for (uint32_t i = j; i >= 1; i--) { /* step i (1-based), slot of step i-1 */
            if (!cor_seq_back(s, ts, t, cnt, links, cur, s->slot[i - 1], &prev, &b))
                break;
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
    cor_seq_unlink_to(s, ts, x, strict);
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
    cor_seq_unlink_to(s, ts, dead, true);
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
    uint32_t nl = 0, linked = 0;
    const int64_t *lk = NL(s, ts) ? cor_seq_links(s, ts, &nl) : NULL;
    for (uint32_t l = nl ? cor_seq_lbound(lk, nl, x, false) : 0; l < nl && lk[2 * l] == x; l++)
        linked += (uint32_t)(lk[2 * l + 1] >> slot & 1); /* copies of lines also of other slots */
    if (hi - lo - linked >= s->mult[slot] || hi - lo >= s->n)
        return false; /* another copy could fill no step the others cannot
                       * (n events of slot at x: a sequence leaves one free) */
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
    bool links = NL(s, ts) != 0;
    for (uint32_t a = k + 1; a-- > 0;) {
        if (++need[s->slot[a]] > atx[s->slot[a]] || (links && !cor_seq_fits(s, ts, t, cnt, x, need)))
            break; /* not enough events at x for steps a..k; fewer for a-1 */
        /* the latest start for steps 0..a-1, all before x */
        int64_t S = a == 0 ? x : INT64_MIN, prev = x;
        uint32_t cur[COR_SEQ_MAX];
        cor_seq_blk bk = {.y = INT64_MIN};
        memcpy(cur, below, s->m * sizeof(uint32_t));
        for (uint32_t i = a; i >= 1; i--) {
            /* steps 0..i-1 left; the folded chain of steps 1..i (P[i]) may
             * take them if the event at step i (0-based) is not before F */
            if (P(ts, i) != INT64_MIN && prev >= F(s, ts) && P(ts, i) > S)
                S = P(ts, i);
            if (!cor_seq_back(s, ts, t, cnt, links, cur, s->slot[i - 1], &prev, &bk))
                break;
            if (i == 1 && prev > S)
                S = prev;
        }
        if (S == INT64_MIN)
            continue;
        uint32_t need2[COR_SEQ_MAX];
        memcpy(need2, need, sizeof(need2));
        for (uint32_t b = k; b < s->n; b++) {
            if (b > k && (++need2[s->slot[b]] > atx[s->slot[b]] ||
                          (links && !cor_seq_fits(s, ts, t, cnt, x, need2))))
                break;
            /* the earliest end for steps b+1..n-1, all after x */
            int64_t E = x, p = x;
            uint32_t c2[COR_SEQ_MAX];
            cor_seq_blk bf = {.y = INT64_MIN};
            memcpy(c2, above, s->m * sizeof(uint32_t));
            bool ok = true;
            for (uint32_t i = b + 1; i < s->n && ok; i++) {
                int64_t lo = i + 1 == s->n && su > p ? su : p;
                if (!cor_seq_fwd(s, ts, t, cnt, links, c2, s->slot[i], lo, &p, &bf)) {
                    ok = false;
                    break;
                }
                E = p;
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

uint32_t cor_seq_progress(const cor_seq_shape *s, const int64_t *ts, int64_t T, int64_t x)
{
    const int64_t *t[COR_SEQ_MAX];
    uint32_t cnt[COR_SEQ_MAX], best = 0;
    for (uint32_t q = 0; q < s->m; q++)
        t[q] = cor_seq_times(s, ts, q, &cnt[q]);
    /* j = 0: every step from the buffer; j > 0: steps 1..j folded */
    for (uint32_t j = 0; j < s->n; j++) {
        if (j > 0 && (P(ts, j) == INT64_MIN || P(ts, j) <= x - T))
            continue;
        int64_t p = j ? F(s, ts) : x - T + 1;
        uint32_t cur[COR_SEQ_MAX] = {0}, k = j;
        for (; k < s->n; k++) { /* forward greedy: the earliest that fits */
            uint32_t q = s->slot[k], idx = cor_seq_bound(t[q], cnt[q], p, false);
            if (idx < cur[q])
                idx = cur[q];
            if (idx >= cnt[q] || t[q][idx] > x)
                break;
            cur[q] = idx + 1;
            p = t[q][idx];
        }
        if (k > best)
            best = k;
    }
    return best;
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
    cor_seq_unlink_to(s, ts, end, true);
}

bool cor_seq_link(const cor_seq_shape *s, int64_t *ts, int64_t x, uint32_t mask, uint32_t slot)
{
    for (uint32_t q = 0; q < s->m; q++) {
        uint32_t cnt;
        const int64_t *t = cor_seq_times(s, ts, q, &cnt);
        if ((mask >> q & 1) && cor_seq_bound(t, cnt, x, true) == cor_seq_bound(t, cnt, x, false))
            return false; /* folded or used since */
    }
    uint32_t nl, len = cor_seq_len(s, ts);
    int64_t *lk = cor_seq_links(s, ts, &nl);
    uint32_t lo = cor_seq_lbound(lk, nl, x, false), hi = cor_seq_lbound(lk, nl, x, true);
    if (mask & (mask - 1)) { /* linked already: that link takes slot too */
        while (lo < hi && (uint32_t)lk[2 * lo + 1] != mask)
            lo++;
        if (lo == hi)
            return false;
        lk[2 * lo + 1] |= (int64_t)1 << slot;
        return true;
    }
    if (hi - lo >= COR_SEQ_MAX)
        return false; /* a block at x takes no more events (cor_seq_fits) */
    memmove(lk + 2 * hi + 2, lk + 2 * hi, (size_t)((ts + len) - (lk + 2 * hi)) * sizeof(int64_t));
    lk[2 * hi] = x;
    lk[2 * hi + 1] = (int64_t)(mask | 1u << slot);
    NL(s, ts)++;
    return true;
}

void cor_seq_unadd(const cor_seq_shape *s, int64_t *ts, uint32_t slot, int64_t x)
{
    uint32_t cnt, len = cor_seq_len(s, ts);
    int64_t *t = cor_seq_times(s, ts, slot, &cnt);
    uint32_t i = cor_seq_bound(t, cnt, x, false);
    if (i == cnt || t[i] != x)
        return;
    memmove(t + i, t + i + 1, (size_t)((ts + len) - (t + i + 1)) * sizeof(int64_t));
    CNT(s, ts, slot)--;
}

void cor_seq_from_v1(const cor_seq_shape *s, int64_t *ts, uint32_t len_v1)
{
    uint32_t at = s->n + 1 + s->m;
    memmove(ts + at + 1, ts + at, (size_t)(len_v1 - at) * sizeof(int64_t));
    ts[at] = 0;
    ts[0] = COR_SEQ_TAG;
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
