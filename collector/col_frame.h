/* RFC 6587 framing of a syslog stream (TCP, TLS): which bytes are messages.
 * Pure: no I/O and no allocation, so the same code frames a plain TCP read,
 * a TLS record's plaintext and a fuzzer's input (fuzz/fuzz_frame.c). */
#ifndef COL_FRAME_H
#define COL_FRAME_H

#include <stddef.h>

/* Octet counts. Any count up to COL_FRAME_COUNT_MAX is one. A larger one,
 * up to COL_FRAME_COUNT_DIGITS digits, is one when the frame after it starts
 * with '<' (a PRI): RFC 6587 sets no bound, and a sender whose messages are
 * longer than that (rsyslog's octet-counted TCP, RFC 5425 TLS) sends no LF,
 * so reading its count as the start of an LF-framed line would take every
 * frame after it into that line. A line such as "1234567 items" stays a
 * line. Longer runs of digits start an LF-framed message. */
#define COL_FRAME_COUNT_DIGITS 9
#define COL_FRAME_COUNT_MAX 65536

/* One stream's framing state, carried from one read to the next. */
typedef struct col_framer {
    size_t max;    /* longest message; longer ones are cut here and flagged */
    int skipping;  /* discarding the tail of a truncated LF-framed line */
    size_t skip_n; /* bytes left to discard of a truncated octet-counted frame */
} col_framer;

/* Why a message is cut: longer than max, its octet-counted frame
 * unfinished when the stream ended (a count that lied, a cut connection),
 * or a line without its LF when the collector stopped reading (a stop
 * whose reading ended before the sender's: the rest of the line was never
 * read). */
enum { COL_FRAME_OVER_MAX = 1, COL_FRAME_CUT_SHORT = 2, COL_FRAME_CUT_STOP = 3 };

/* eof values of col_frame_take: the peer ended the stream, or the
 * collector stopped reading it (an unfinished line is then cut, and
 * flagged COL_FRAME_CUT_STOP). */
enum { COL_FRAME_EOF = 1, COL_FRAME_STOPPED = 2 };

/* A message: n bytes at p (a view into the caller's buffer, valid during
 * the call); truncated 0, or why it is cut (COL_FRAME_OVER_MAX or
 * COL_FRAME_CUT_SHORT). */
typedef void (*col_frame_fn)(void *ud, const char *p, size_t n, int truncated);

/* Takes the complete frames at the front of data[0, len) and returns the
 * number of bytes consumed; the rest is an unfinished frame, to be passed
 * again at the front of the next call with more bytes after it. With eof,
 * everything is consumed (a last frame without its end is a message; with
 * COL_FRAME_STOPPED a last line without its LF is flagged COL_FRAME_CUT_STOP).
 * What is left is always shorter than max + COL_FRAME_COUNT_DIGITS + 2, so
 * a buffer of max + 64 bytes always makes progress. A frame that starts
 * with a digit followed by digits and a space is octet-counted (RFC 6587
 * 3.4.1, count as above); any other runs to the next LF
 * (3.4.2). A message never ends in CR (they are the line end, or an LF's
 * yet to come: col_input_message drops them all). A message longer than max is cut
 * there, flagged, and the rest of it skipped; the frames after it are taken
 * as usual. Longer counts the frame as sent (an LF-framed line's CRs
 * included): whether a line's LF arrives in the same read must not change
 * the flag, and before it arrives a CR may be content. */
size_t col_frame_take(col_framer *f, const char *data, size_t len, int eof, col_frame_fn fn,
                      void *ud);

#endif
