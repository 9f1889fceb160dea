/* temporal_ordered: finding events e1 <= e2 <= ... <= en of a rule's steps
 * (times non-decreasing, en - e1 < T) whatever order they arrive in
 * (docs/rules.md gives the semantics; cor_window.c keeps one such state per
 * group).
 *
 * A group's state is one int64_t array, so that it grows and persists like
 * event_count's times:
 *
 *   [0]            COR_SEQ_TAG (tells this layout from older ones)
 *   [1 .. n-1]     P[j]: the latest start of a chain of steps 1..j made of
 *                  folded events, INT64_MIN if none
 *   [n]            F: the latest folded time, INT64_MIN if none
 *   [n+1 .. n+m]   the number of buffered times of each slot
 *   [n+m+1]        the number of links
 *   [n+m+2 ..]     the buffered times, slot by slot, each slot's sorted
 *   then           the links, two entries each (time, mask of slots), by
 *                  time: one event buffered in several slots (a line that
 *                  matches two rules of the list), so that it fills one
 *                  step only (docs/rules.md: one distinct event per step)
 *
 * n is the number of steps, m the number of distinct rules among them (a
 * rule may be listed at several steps; its events fill one "slot").
 *
 * Why two parts: events that can still be joined by an event to come
 * earlier than themselves (at or after L = watermark - lateness) are kept
 * one by one in the buffer; events before L can only begin a sequence that
 * events to come complete, so all they need to say is how late a chain of
 * steps 1..j they can start (P). An event moves from the buffer to P when
 * it falls below L ("folding"), or when the buffer is full (then events to
 * come must not be earlier than F to extend P: exact for those later than
 * F; an earlier one may miss, and so may one at F, which a sequence may
 * need before a folded event of time F; the caller counts both).
 *
 * All functions are pure over the array; the caller owns it and makes
 * room (cor_seq_len's result + 1) before cor_seq_add. */
#ifndef COR_SEQ_H
#define COR_SEQ_H

#include <stdbool.h>
#include <stdint.h>

#define COR_SEQ_MAX 32 /* steps of one rule (refused beyond, cor_rules.c) */
#define COR_SEQ_TAG (INT64_MIN + 0x5ea)    /* this layout */
#define COR_SEQ_TAG_V1 (INT64_MIN + 0x5e9) /* without the links (n+m+1 on) */

/* A rule's steps as slots: built once per call from the rule's ref_idx. */
typedef struct cor_seq_shape {
    uint32_t n, m;
    uint8_t slot[COR_SEQ_MAX]; /* step -> slot */
    uint8_t mult[COR_SEQ_MAX]; /* slot -> number of steps it fills */
} cor_seq_shape;

/* Fills s from a rule's n resolved references (n <= COR_SEQ_MAX). */
void cor_seq_shape_of(cor_seq_shape *s, const uint32_t *ref_idx, uint32_t n);

/* Entries of the header (before the buffered times). */
static inline uint32_t cor_seq_head(const cor_seq_shape *s)
{
    return 2 + s->n + s->m;
}

/* Writes an empty state (cor_seq_head entries). */
void cor_seq_init(const cor_seq_shape *s, int64_t *ts);

/* Entries in use. */
uint32_t cor_seq_len(const cor_seq_shape *s, const int64_t *ts);

/* Forgets what no fireable sequence can use (times and starts at or before
 * dead: see cor_dead) and folds the buffered times before limit into P. */
void cor_seq_fold(const cor_seq_shape *s, int64_t *ts, int64_t limit, int64_t dead);

/* Folds the oldest buffered time(s) (all at the oldest time): room for one
 * more when the buffer is at its cap. */
void cor_seq_fold_oldest(const cor_seq_shape *s, int64_t *ts);

/* The latest folded time, INT64_MIN if none: chains folded so far take no
 * event before it. */
int64_t cor_seq_folded(const cor_seq_shape *s, const int64_t *ts);

/* Buffers time x of slot; needs room for one more entry. Returns false when
 * nothing was added: the slot already holds x as often as it has steps
 * (copies linked to other slots not counted: they may be needed there), or
 * n times. */
bool cor_seq_add(const cor_seq_shape *s, int64_t *ts, uint32_t slot, int64_t x);

/* The copy of x just added to slot is the event whose copies at x are in the
 * slots of mask (mask != 0, slot not in it): records it (room for two more
 * entries when mask has one slot). Returns false when it could not: mask's
 * copies are no longer buffered (folded or used), or x has COR_SEQ_MAX
 * links already; the caller then takes the new copy back (cor_seq_unadd). */
bool cor_seq_link(const cor_seq_shape *s, int64_t *ts, int64_t x, uint32_t mask, uint32_t slot);

/* Removes one copy of x from slot (one cor_seq_add just made). */
void cor_seq_unadd(const cor_seq_shape *s, int64_t *ts, uint32_t slot, int64_t x);

/* Converts a state of the layout COR_SEQ_TAG_V1 in place (room for one
 * more entry, len_v1 entries in use). */
void cor_seq_from_v1(const cor_seq_shape *s, int64_t *ts, uint32_t len_v1);

/* After x (of slot) was added: finds the sequence holding x, of span below
 * T, that ends at or after su, the earliest-ending and of those the
 * latest-starting. Returns true and sets *start, *end if there is one. */
bool cor_seq_find(const cor_seq_shape *s, const int64_t *ts, uint32_t slot, int64_t x,
                  int64_t T, int64_t su, int64_t *start, int64_t *end);

/* For --explain: how many steps, from the first and in order, the events
 * kept complete within the window (x - T, x] (a folded chain of steps 1..j
 * that started inside it, then buffered times from the latest folded time
 * on). Links are not read: a line matching two rules of the list may show
 * one step more than it can fill. */
uint32_t cor_seq_progress(const cor_seq_shape *s, const int64_t *ts, int64_t T, int64_t x);

/* A sequence ending at end fired: the events up to it are used up (the
 * buffered times up to end, and every folded chain). */
void cor_seq_used(const cor_seq_shape *s, int64_t *ts, int64_t end);

/* Converts a state of the layout before this one (per step, the start and
 * then the end time of one chain: 2n entries, old[k] and old[n + k]) into
 * ts (room for cor_seq_head + 3 entries): a chain of one or two steps
 * becomes its events, buffered; a longer one (whose middle times were not
 * kept) a folded chain that events extend only from the latest such end
 * on (it may miss with a late event, never make a wrong sequence). */
void cor_seq_from_chains(const cor_seq_shape *s, const int64_t *old, int64_t *ts);

#endif
