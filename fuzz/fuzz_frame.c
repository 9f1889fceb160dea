/* Fuzz target: the collector's RFC 6587 framing (col_frame_take), the first
 * code a TCP or TLS sender's bytes meet. The input's first three bytes set
 * max (the longest message, 1..1024, from the low 10 bits of the first
 * two), how the stream ends (the first byte's high bits: an orderly close
 * or one of the cuts, col_frame.h's eof values) and a seed; the rest is the
 * stream.
 *
 * TCP delivers a stream in whatever pieces it likes, so the messages must
 * not depend on them. Checked:
 *   - the stream framed in one call (with eof) gives the reference;
 *   - the same stream delivered in pieces of seeded random sizes, framed
 *     the way vigil-collector does it (a piece framed where it lies when
 *     nothing is pending, else appended to a buffer of max + 64 bytes and
 *     framed there, the unfinished tail kept), gives the same messages,
 *     with the same flags (cut, framing error) and the same count of
 *     skipped bytes;
 *   - the stream framed with a quota of 0 to 3 messages a call (seeded;
 *     max_rate_per_ip's col_frame_take_n), the rest passed again, gives
 *     the same messages and never more than the quota a call;
 *   - what is left unfinished always fits that buffer, and a full buffer
 *     is always consumed in part (no stall);
 *   - every message is at most max bytes (AddressSanitizer checks that it
 *     lies inside the input);
 *   - framed in one call, the messages are views into the stream, in its
 *     order and not overlapping, none ends in CR, and their bytes and the
 *     skipped ones add up to at most the stream's;
 *   - only the last message can be cut short by the stream's end (flags
 *     COL_FRAME_CUT_*), and only in the way that end says.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "col_frame.h"
#include "fuzz.h"

#define FZ_MAX_MSGS 4096

typedef struct fz_msgs {
    size_t n;
    size_t max;
    const char *base; /* the stream, when the messages are views into it (one call) */
    size_t base_n;
    size_t end;       /* where the last message ended, an offset into base */
    uint64_t bytes;   /* the messages' bytes */
    uint32_t len[FZ_MAX_MSGS];
    uint8_t trunc[FZ_MAX_MSGS]; /* the COL_FRAME_* flag */
    uint64_t hash[FZ_MAX_MSGS]; /* FNV-1a of the bytes: pieces move them around */
} fz_msgs;

static void fz_on_msg(void *ud, const char *p, size_t n, int flag)
{
    fz_msgs *m = ud;
    FZ_CHECKF(n <= m->max, "a message of %zu bytes, max %zu", n, m->max);
    FZ_CHECKF(flag >= 0 && flag <= COL_FRAME_EMPTY, "flag %d", flag);
    FZ_CHECK(flag != COL_FRAME_EMPTY || n == 0);
    FZ_CHECKF(n == 0 || p[n - 1] != '\r', "message %zu ends in CR", m->n);
    if (m->base) {
        FZ_CHECKF(p >= m->base + m->end && p <= m->base + m->base_n &&
                      n <= (size_t)(m->base + m->base_n - p),
                  "message %zu at %td..%td, the one before ended at %zu, stream %zu", m->n,
                  p - m->base, p - m->base + (ptrdiff_t)n, m->end, m->base_n);
        m->end = (size_t)(p - m->base) + n;
    }
    m->bytes += n;
    if (m->n == FZ_MAX_MSGS) return;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    m->len[m->n] = (uint32_t)n;
    m->trunc[m->n] = (uint8_t)flag;
    m->hash[m->n] = h;
    m->n++;
}

/* xorshift64*: the piece sizes */
static uint64_t fz_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    size_t max = 1 + (((size_t)data[0] << 8 | data[1]) % 1024);
    int eof = COL_FRAME_EOF + (data[0] >> 2) % COL_FRAME_IDLE;
    uint64_t seed = 0x9E3779B97F4A7C15ULL ^ data[2];
    const char *s = (const char *)data + 3;
    size_t n = size - 3;

    static fz_msgs want, got;
    memset(&want, 0, sizeof(want));
    memset(&got, 0, sizeof(got));
    want.max = got.max = max;
    want.base = s;
    want.base_n = n;
    col_framer f = {.max = max};
    FZ_CHECK(col_frame_take(&f, s, n, eof, fz_on_msg, &want) == n);
    FZ_CHECKF(want.bytes + f.skipped <= n, "%llu bytes of messages and %llu skipped of %zu",
              (unsigned long long)want.bytes, (unsigned long long)f.skipped, n);
    for (size_t i = 0; i < want.n && i < FZ_MAX_MSGS; i++) {
        int fl = want.trunc[i];
        if (fl < COL_FRAME_CUT_SHORT || fl > COL_FRAME_CUT_IDLE) continue;
        FZ_CHECKF(i + 1 == want.n, "message %zu of %zu flagged %d: only the last is cut by the end",
                  i, want.n, fl);
        FZ_CHECKF(fl == COL_FRAME_CUT_SHORT || fl == col_frame_line_cut(eof),
                  "last message flagged %d, the stream ended with eof %d", fl, eof);
    }

    /* pieces, as col_conn_read frames them */
    col_framer g = {.max = max};
    size_t cap = max + 64, len = 0, at = 0;
    char *buf = malloc(cap);
    FZ_CHECK(buf != NULL);
    while (at < n) {
        /* mostly small pieces, sometimes large ones */
        uint64_t r = fz_next(&seed);
        size_t piece = 1 + (size_t)(r % ((r >> 32) % 4 == 0 ? 4 * cap : 16));
        if (piece > n - at) piece = n - at;
        if (len == 0) { /* nothing pending: framed where it lies */
            size_t used = col_frame_take(&g, s + at, piece, 0, fz_on_msg, &got);
            size_t tail = piece - used;
            FZ_CHECKF(tail < cap, "an unfinished tail of %zu bytes, buffer %zu", tail, cap);
            memcpy(buf, s + at + used, tail);
            len = tail;
            at += piece;
            continue;
        }
        if (piece > cap - len) piece = cap - len; /* a read fills the room left */
        memcpy(buf + len, s + at, piece);
        len += piece;
        at += piece;
        size_t used = col_frame_take(&g, buf, len, 0, fz_on_msg, &got);
        FZ_CHECKF(len < cap || used > 0, "a full buffer of %zu bytes, none consumed", len);
        memmove(buf, buf + used, len - used);
        len -= used;
    }
    FZ_CHECK(col_frame_take(&g, buf, len, eof, fz_on_msg, &got) == len);
    free(buf);
    FZ_CHECKF(g.skipped == f.skipped, "%llu bytes skipped in pieces, %llu in one",
              (unsigned long long)g.skipped, (unsigned long long)f.skipped);

    FZ_CHECKF(got.n == want.n, "%zu messages in pieces, %zu in one (max %zu)", got.n, want.n, max);
    for (size_t i = 0; i < want.n; i++)
        FZ_CHECKF(got.len[i] == want.len[i] && got.trunc[i] == want.trunc[i] &&
                      got.hash[i] == want.hash[i],
                  "message %zu: %u bytes flag %d in pieces, %u bytes flag %d in one (max %zu)", i,
                  got.len[i], got.trunc[i], want.len[i], want.trunc[i], max);

    /* a quota of 0 to 3 messages a call (max_rate_per_ip), the rest passed
     * again: the same messages */
    static fz_msgs quo;
    memset(&quo, 0, sizeof(quo));
    quo.max = max;
    col_framer h = {.max = max};
    size_t off = 0;
    for (int calls = 0; off < n && calls < 1 << 20; calls++) {
        size_t quota = (size_t)(fz_next(&seed) % 4), taken = 9;
        size_t used = col_frame_take_n(&h, s + off, n - off, 0, quota, fz_on_msg, &quo, &taken);
        FZ_CHECKF(taken <= quota, "%zu messages taken, quota %zu", taken, quota);
        off += used;
        if (taken < quota)
            break; /* not stopped by the quota: what is left is unfinished */
    }
    FZ_CHECK(col_frame_take_n(&h, s + off, n - off, eof, 0, fz_on_msg, &quo, NULL) == n - off);
    FZ_CHECKF(h.skipped == f.skipped && quo.n == want.n, "%zu messages with quotas, %zu in one",
              quo.n, want.n);
    for (size_t i = 0; i < want.n; i++)
        FZ_CHECKF(quo.len[i] == want.len[i] && quo.trunc[i] == want.trunc[i] &&
                      quo.hash[i] == want.hash[i],
                  "message %zu: %u bytes flag %d with quotas, %u bytes flag %d in one", i,
                  quo.len[i], quo.trunc[i], want.len[i], want.trunc[i]);
    return 0;
}
