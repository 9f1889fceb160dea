/* Token buckets for max_rate_per_ip (col_rate.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "col_rate.h"

/* Refills k up to now_ms: rate thousandths of a message a millisecond, up
 * to rate * 1000 (a second's worth). A full bucket, not held, ends its
 * throttle (pressed): the sender stayed under the rate for a second. */
static void col_rate_refill(const col_rate *r, col_rate_key *k, uint64_t now_ms)
{
    uint64_t cap = (uint64_t)r->rate * 1000;
    if (now_ms > k->at_ms) {
        uint64_t add = (now_ms - k->at_ms) * (uint64_t)r->rate;
        k->milli = cap - k->milli <= add ? cap : k->milli + add;
        k->at_ms = now_ms;
    }
    if (k->milli > cap)
        k->milli = cap;
    if (k->milli == cap && !k->held) /* a second's worth unused: the hold is over */
        k->pressed = 0;
}

col_rate_key *col_rate_get(col_rate *r, const char *key, uint64_t now_ms)
{
    for (col_rate_key *k = r->keys; k; k = k->next)
        if (strcmp(k->key, key) == 0) {
            k->conns++;
            return k;
        }
    col_rate_key *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    snprintf(k->key, sizeof(k->key), "%s", key);
    k->milli = (uint64_t)r->rate * 1000;
    k->at_ms = now_ms;
    k->conns = 1;
    k->next = r->keys;
    if (r->keys)
        r->keys->prev = k;
    r->keys = k;
    r->nkeys++;
    return k;
}

static void col_rate_unlink(col_rate *r, col_rate_key *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        r->keys = k->next;
    if (k->next)
        k->next->prev = k->prev;
    r->nkeys--;
    free(k);
}

/* Whether k, without a connection, can go: its bucket is full again, so a
 * new one made for a new connection gives the sender nothing more. */
static int col_rate_spent(const col_rate *r, col_rate_key *k, uint64_t now_ms)
{
    if (k->conns || k->held)
        return 0;
    if (r->rate <= 0)
        return 1;
    col_rate_refill(r, k, now_ms);
    return k->milli >= (uint64_t)r->rate * 1000;
}

void col_rate_put(col_rate *r, col_rate_key *k, uint64_t now_ms)
{
    if (k->conns)
        k->conns--;
    if (col_rate_spent(r, k, now_ms))
        col_rate_unlink(r, k);
}

size_t col_rate_budget(col_rate *r, col_rate_key *k, uint64_t now_ms)
{
    if (r->rate <= 0)
        return SIZE_MAX;
    col_rate_refill(r, k, now_ms);
    return (size_t)(k->milli / 1000);
}

void col_rate_take(col_rate *r, col_rate_key *k, uint64_t n)
{
    if (r->rate <= 0)
        return;
    uint64_t m = n > UINT64_MAX / 1000 ? UINT64_MAX : n * 1000;
    k->milli = k->milli > m ? k->milli - m : 0;
}

uint64_t col_rate_wait_ms(col_rate *r, col_rate_key *k, uint64_t now_ms)
{
    if (r->rate <= 0)
        return 0;
    col_rate_refill(r, k, now_ms);
    uint64_t want = (uint64_t)r->rate * 1000 / 20;
    if (want < 1000)
        want = 1000;
    if (k->milli >= want)
        return 0;
    uint64_t rate = (uint64_t)r->rate;
    return (want - k->milli + rate - 1) / rate; /* rounded up: then it holds want */
}

void col_rate_set(col_rate *r, int64_t rate, uint64_t now_ms)
{
    int64_t was = r->rate;
    for (col_rate_key *k = r->keys; was > 0 && k; k = k->next)
        col_rate_refill(r, k, now_ms); /* at the old rate, up to now */
    r->rate = rate;
    for (col_rate_key *k = r->keys; k; k = k->next) {
        uint64_t cap = rate > 0 ? (uint64_t)rate * 1000 : 0;
        if (was <= 0 || k->milli > cap) /* from unlimited: a full bucket */
            k->milli = cap;
        k->at_ms = now_ms;
    }
    col_rate_sweep(r, now_ms);
}

void col_rate_sweep(col_rate *r, uint64_t now_ms)
{
    for (col_rate_key *k = r->keys, *next; k; k = next) {
        next = k->next;
        if (r->rate > 0 && !k->held) /* and a sender silent for a second is no longer pressed */
            col_rate_refill(r, k, now_ms);
        if (col_rate_spent(r, k, now_ms))
            col_rate_unlink(r, k);
    }
}

void col_rate_free(col_rate *r)
{
    while (r->keys)
        col_rate_unlink(r, r->keys);
}

int col_rate_hold(col_rate *r, col_rate_key *k, uint64_t now_ms)
{
    (void)r;
    if (k->held)
        return 0;
    k->held = 1;
    k->held_ms = now_ms;
    if (k->pressed)
        return 0;
    k->pressed = 1;
    return 1;
}

uint64_t col_rate_release(col_rate *r, col_rate_key *k, uint64_t now_ms)
{
    (void)r;
    if (!k->held)
        return 0;
    k->held = 0;
    return now_ms > k->held_ms ? now_ms - k->held_ms : 0;
}
