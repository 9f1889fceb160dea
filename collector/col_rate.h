/* max_rate_per_ip: a token bucket per sender, keyed as
 * max_connections_per_ip counts senders (col_addr_key: an IPv4 address,
 * an IPv6 /64 but for the exceptions there). Pure: no I/O, the time is
 * the caller's (loop milliseconds), so tests/unit/test_col_addr.c drives
 * it. The collector (col_input.c) takes a sender's messages while its
 * bucket has tokens, and stops reading the sender's TCP and TLS
 * connections (uv_read_stop) until it refills: nothing is dropped, the
 * sender's kernel and TCP flow control hold the rest back.
 *
 * The bucket holds one second's worth (burst = rate) and refills at rate
 * messages a second. Buckets are shared by the connections of one key
 * (col_rate_get / col_rate_put count them) and outlive the last one until
 * they are full again (col_rate_sweep): a sender that closed and came
 * back at once would otherwise get a full burst with each new connection.
 * So the table holds the keys with a connection open, and those that
 * closed their last one within about a second: at most max_connections
 * plus a second's worth of closed connections. Memory: about 130 bytes a
 * key, in a doubly linked list (a lookup, made once per accepted
 * connection, walks it, as max_connections_per_ip's count walks the
 * connections).
 *
 * Not thread-safe; the collector's one loop owns it. */
#ifndef COL_RATE_H
#define COL_RATE_H

#include <stddef.h>
#include <stdint.h>

#include "col_addr.h"

#define COL_RATE_MAX 10000000 /* largest max_rate_per_ip accepted (messages/s) */

typedef struct col_rate_key {
    char key[COL_ADDR_KEY_MAX]; /* col_addr_key's */
    /* private */
    uint64_t milli;     /* tokens, in thousandths of a message (up to rate * 1000) */
    uint64_t at_ms;     /* the time milli was last refilled to */
    uint32_t conns;     /* connections holding it (col_rate_get) */
    int held;           /* its connections' reading is stopped (col_rate_hold) */
    int pressed;        /* held since its bucket was last full: one throttle, however many
                           holds (a sender at 3 times the rate is held 20 times a second) */
    uint64_t held_ms;   /* when the hold began */
    struct col_rate_key *prev, *next;
    /* the caller's */
    int wake;           /* col_input.c: being read again (1: to release, 2: released) */
} col_rate_key;

typedef struct col_rate {
    int64_t rate;       /* messages a second; 0: unlimited */
    col_rate_key *keys; /* owned */
    size_t nkeys;
} col_rate;

/* The key's bucket, made full if absent, with one more connection on it.
 * Returns NULL when out of memory (the connection is then not limited).
 * The pointer stays valid until the matching col_rate_put. */
col_rate_key *col_rate_get(col_rate *r, const char *key, uint64_t now_ms);
/* One connection fewer on k; k stays in r (col_rate_sweep frees it once
 * it is full again, or at once if it is). */
void col_rate_put(col_rate *r, col_rate_key *k, uint64_t now_ms);
/* Messages k may hand on now: SIZE_MAX when r->rate is 0, else the whole
 * tokens it holds (refilled up to now_ms first). */
size_t col_rate_budget(col_rate *r, col_rate_key *k, uint64_t now_ms);
/* Takes n messages' tokens from k (down to 0: a stream's end and a stop
 * hand on every frame whatever the budget). */
void col_rate_take(col_rate *r, col_rate_key *k, uint64_t n);
/* Milliseconds, from now_ms, until k holds what a held key waits for to
 * be read again: a twentieth of a second's worth (at least one message),
 * so that a held sender is read in batches, not one message per wake-up.
 * 0 if it holds that already or r->rate is 0. */
uint64_t col_rate_wait_ms(col_rate *r, col_rate_key *k, uint64_t now_ms);
/* Marks k held (its connections are no longer read) at now_ms. Returns 1
 * if this begins a throttle: k's bucket has been full (a second's worth
 * unused) since the last hold, so the sender had fallen back under the
 * rate; 0 for a hold that goes on with the throttle before (a sender over
 * the rate is held, read a little, held again, ...) or if k is held. */
int col_rate_hold(col_rate *r, col_rate_key *k, uint64_t now_ms);
/* Ends k's hold; returns how long it lasted (ms; 0 if it was not held).
 * A key whose last connection closes while held must be released first. */
uint64_t col_rate_release(col_rate *r, col_rate_key *k, uint64_t now_ms);
/* Sets the rate (a reload): every bucket is capped at the new burst;
 * with 0, nothing is limited. */
void col_rate_set(col_rate *r, int64_t rate, uint64_t now_ms);
/* Frees the keys without a connection whose bucket is full again. */
void col_rate_sweep(col_rate *r, uint64_t now_ms);
/* Frees every key. */
void col_rate_free(col_rate *r);

#endif
