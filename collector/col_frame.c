/* RFC 6587 framing (col_frame.h). */
#include <string.h>

#include "col_frame.h"

/* Hands a message on without the CRs it ends with: before its LF they are
 * the line end, and a message cut at max may end in the CRs of a line end
 * that had not arrived yet (col_input_message drops them all anyway). */
static void col_frame_emit(col_frame_fn fn, void *ud, const char *p, size_t n, int flag,
                           size_t *taken)
{
    while (n && p[n - 1] == '\r')
        n--;
    fn(ud, p, n, flag);
    (*taken)++;
}

static int col_frame_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Whether p[0, n) begins with a plausible frame start, "LEN SP <PRI>": a
 * count of 1 to COL_FRAME_COUNT_DIGITS digits without a leading zero, SP,
 * '<', 1 to 3 digits, '>'. 1 yes, 0 no, -1 not known yet (p ends inside
 * what could still be one). Every such start also reads as a count in
 * col_frame_take, whatever its value (a PRI follows it). */
static int col_frame_start(const char *p, size_t n)
{
    size_t i = 0, d;
    if (!n)
        return -1;
    if (p[0] < '1' || p[0] > '9')
        return 0;
    while (i < n && i <= COL_FRAME_COUNT_DIGITS && col_frame_digit(p[i]))
        i++;
    if (i > COL_FRAME_COUNT_DIGITS)
        return 0;
    if (i == n)
        return -1;
    if (p[i++] != ' ')
        return 0;
    if (i == n)
        return -1;
    if (p[i++] != '<')
        return 0;
    for (d = 0; i < n && d <= 3 && col_frame_digit(p[i]); d++)
        i++;
    if (d > 3)
        return 0;
    if (i == n)
        return -1;
    return d > 0 && p[i] == '>';
}

/* Where an octet-counted stream that lost its framing at p[0] (no count
 * there) starts again: the offset of the first plausible frame start or
 * LF in p[1, max] (*lf says which), or max when there is none (the bytes
 * before are then one message of max bytes; the search goes on after
 * them). Only starts the bytes show whole are taken, so the answer never
 * depends on how TCP cut the stream: returns 0 (wait for more bytes) when
 * p[0, avail) cannot tell yet, unless eof, where the end of the stream
 * ends the search. Deciding needs at most max + COL_FRAME_START_MAX - 1
 * bytes. */
static size_t col_frame_resync(const char *p, size_t avail, size_t max, int eof, int *lf)
{
    *lf = 0;
    for (size_t q = 1; q <= max; q++) {
        if (q == avail)
            return eof ? avail : 0;
        if (p[q] == '\n') {
            *lf = 1;
            return q;
        }
        int s = col_frame_start(p + q, avail - q);
        if (s > 0)
            return q;
        if (s < 0 && !eof)
            return 0;
    }
    return max;
}

size_t col_frame_take(col_framer *f, const char *data, size_t len, int eof, col_frame_fn fn,
                      void *ud)
{
    return col_frame_take_n(f, data, len, eof, SIZE_MAX, fn, ud, NULL);
}

size_t col_frame_take_n(col_framer *f, const char *data, size_t len, int eof, size_t quota,
                        col_frame_fn fn, void *ud, size_t *out_taken)
{
    size_t off = 0, max = f->max, none;
    size_t *taken = out_taken ? out_taken : &none;
    *taken = 0;
    if (eof) /* the stream ends: every frame is handed on */
        quota = SIZE_MAX;
    while (off < len && *taken < quota) {
        const char *p = data + off;
        size_t avail = len - off;
        if (f->skip_n) { /* tail of an over-long octet-counted frame */
            size_t n = avail < f->skip_n ? avail : f->skip_n;
            f->skip_n -= n;
            f->skipped += n;
            off += n;
            continue;
        }
        if (f->skipping) { /* tail of an over-long LF-framed line */
            const char *nl = memchr(p, '\n', avail);
            if (!nl) {
                f->skipped += avail;
                return len;
            }
            f->skipped += (size_t)(nl - p);
            off += (size_t)(nl - p) + 1;
            f->skipping = 0;
            continue;
        }
        if (*p == '\n' || *p == '\r' || *p == '\0') { /* stray separators */
            /* a NUL is no line end: a run of them (garbage, a file's zeroed
             * tail) is counted, not dropped unseen */
            f->skipped += *p == '\0';
            off++;
            continue;
        }
        if (*p >= '1' && *p <= '9') {
            size_t i = 0, n = 0;
            while (i < avail && i <= COL_FRAME_COUNT_DIGITS && p[i] >= '0' && p[i] <= '9')
                n = n * 10 + (size_t)(p[i++] - '0');
            if (i == avail && !eof) return off; /* the count may go on */
            int count = i < avail && p[i] == ' ' && i <= COL_FRAME_COUNT_DIGITS;
            if (count && n > COL_FRAME_COUNT_MAX) { /* a count if a PRI follows */
                if (i + 1 == avail && !eof) return off;
                count = i + 1 < avail && p[i + 1] == '<';
            }
            if (count) {
                size_t body = avail - i - 1, want = n > max ? max : n;
                if (body >= want) {
                    col_frame_emit(fn, ud, p + i + 1, want, n > max ? COL_FRAME_OVER_MAX : 0,
                                   taken);
                    off += i + 1 + want;
                    f->skip_n = n - want;
                    f->octet = 1;
                    continue;
                }
                if (!eof) return off; /* the frame fits in the buffer once it arrives */
                col_frame_emit(fn, ud, p + i + 1, body, COL_FRAME_CUT_SHORT, taken);
                f->octet = 1;
                return len;
            }
            /* digits without a valid count: an LF-framed message after all,
             * or on an octet-counted stream a framing error (below) */
        }
        if (f->octet) {
            /* An octet-counted stream sends no LF: read as a line, what
             * follows would run to max and every frame after it up to an
             * LF that never comes be skipped. A frame of count 0 is an
             * empty message. Anything else that is no count runs to the
             * next frame start or LF, one message flagged as a framing
             * error; unless it starts with a PRI and ends at an LF or
             * the stream's end: a line among the frames, taken as a line
             * as before. */
            if (*p == '0' && avail == 1 && !eof)
                return off; /* "0", or "0 " once its SP arrives */
            if (*p == '0' && avail > 1 && p[1] == ' ') {
                fn(ud, p + 2, 0, COL_FRAME_EMPTY);
                (*taken)++;
                off += 2;
                continue;
            }
            int lf;
            size_t n = col_frame_resync(p, avail, max, eof, &lf);
            if (!n)
                return off;
            int flag = COL_FRAME_DESYNC;
            if (*p == '<' && lf) /* a line */
                flag = 0;
            else if (*p == '<' && n == avail) /* a last line without its LF: as below */
                flag = col_frame_line_cut(eof);
            col_frame_emit(fn, ud, p, n, flag, taken);
            off += n + (size_t)lf;
            continue;
        }
        /* The whole buffer, not just max bytes: a line cut to max must end at
         * its own LF, and the lines after it in this read are framed too. */
        const char *nl = memchr(p, '\n', avail);
        if (nl) {
            size_t ml = (size_t)(nl - p), keep = ml;
            while (keep && p[keep - 1] == '\r')
                keep--;
            /* flagged by the line as sent, CRs included: the same whether or
             * not its LF came in the same read as the rest (col_frame.h) */
            col_frame_emit(fn, ud, p, keep > max ? max : keep,
                           ml > max ? COL_FRAME_OVER_MAX : 0, taken);
            if (ml > max)
                f->skipped += ml - max;
            off += ml + 1;
            continue;
        }
        if (avail > max || eof) { /* no LF in what was read */
            int trunc = avail > max;
            col_frame_emit(fn, ud, p, trunc ? max : avail,
                           trunc ? COL_FRAME_OVER_MAX : col_frame_line_cut(eof), taken);
            if (trunc)
                f->skipped += avail - max;
            f->skipping = trunc && !eof; /* the rest of the line comes in later reads */
            return len;
        }
        return off;
    }
    return off;
}

size_t col_frame_held_body(const col_framer *f, const char *p, size_t n)
{
    if (n == 1 && f->octet && p[0] == '0')
        return 0;
    if (!n || p[0] < '1' || p[0] > '9')
        return n;
    size_t i = 0;
    while (i < n && i <= COL_FRAME_COUNT_DIGITS && col_frame_digit(p[i]))
        i++;
    if (i == n) /* digits only: a count that may go on */
        return 0;
    if (i <= COL_FRAME_COUNT_DIGITS && p[i] == ' ')
        return n - i - 1; /* after the count and its SP */
    return n;
}
