/* RFC 6587 framing (col_frame.h). */
#include <string.h>

#include "col_frame.h"

/* Hands a message on without the CRs it ends with: before its LF they are
 * the line end, and a message cut at max may end in the CRs of a line end
 * that had not arrived yet (col_input_message drops them all anyway). */
static void col_frame_emit(col_frame_fn fn, void *ud, const char *p, size_t n, int truncated)
{
    while (n && p[n - 1] == '\r')
        n--;
    fn(ud, p, n, truncated);
}

size_t col_frame_take(col_framer *f, const char *data, size_t len, int eof, col_frame_fn fn,
                      void *ud)
{
    size_t off = 0, max = f->max;
    while (off < len) {
        const char *p = data + off;
        size_t avail = len - off;
        if (f->skip_n) { /* tail of an over-long octet-counted frame */
            size_t n = avail < f->skip_n ? avail : f->skip_n;
            f->skip_n -= n;
            off += n;
            continue;
        }
        if (f->skipping) { /* tail of an over-long LF-framed line */
            const char *nl = memchr(p, '\n', avail);
            if (!nl) return len;
            off += (size_t)(nl - p) + 1;
            f->skipping = 0;
            continue;
        }
        if (*p == '\n' || *p == '\r' || *p == '\0') { /* stray separators */
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
                    col_frame_emit(fn, ud, p + i + 1, want, n > max ? COL_FRAME_OVER_MAX : 0);
                    off += i + 1 + want;
                    f->skip_n = n - want;
                    continue;
                }
                if (!eof) return off; /* the frame fits in the buffer once it arrives */
                col_frame_emit(fn, ud, p + i + 1, body, COL_FRAME_CUT_SHORT);
                return len;
            }
            /* digits without a valid count: an LF-framed message after all */
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
            col_frame_emit(fn, ud, p, keep > max ? max : keep, ml > max ? COL_FRAME_OVER_MAX : 0);
            off += ml + 1;
            continue;
        }
        if (avail > max || eof) { /* no LF in what was read */
            int trunc = avail > max;
            col_frame_emit(fn, ud, p, trunc ? max : avail,
                           trunc                         ? COL_FRAME_OVER_MAX
                           : eof == COL_FRAME_STOPPED ? COL_FRAME_CUT_STOP
                                                         : 0);
            f->skipping = trunc && !eof; /* the rest of the line comes in later reads */
            return len;
        }
        return off;
    }
    return off;
}
