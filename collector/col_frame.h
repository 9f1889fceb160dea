/* RFC 6587 framing of a syslog stream (TCP, TLS): which bytes are messages.
 * Pure: no I/O and no allocation, so the same code frames a plain TCP read,
 * a TLS record's plaintext and a fuzzer's input (fuzz/fuzz_frame.c). */
#ifndef COL_FRAME_H
#define COL_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Octet counts. Any count up to COL_FRAME_COUNT_MAX is one. A larger one,
 * up to COL_FRAME_COUNT_DIGITS digits, is one when the frame after it starts
 * with '<' (a PRI): RFC 6587 sets no bound, and a sender whose messages are
 * longer than that (rsyslog's octet-counted TCP, RFC 5425 TLS) sends no LF,
 * so reading its count as the start of an LF-framed line would take every
 * frame after it into that line. A line such as "1234567 items" stays a
 * line. Longer runs of digits start an LF-framed message. */
#define COL_FRAME_COUNT_DIGITS 9
#define COL_FRAME_COUNT_MAX 65536

/* Longest plausible frame start, "LEN SP <PRI>": a count of up to
 * COL_FRAME_COUNT_DIGITS digits, SP, '<', 1-3 digits, '>'. */
#define COL_FRAME_START_MAX (COL_FRAME_COUNT_DIGITS + 6)
_Static_assert(COL_FRAME_START_MAX < 64, "what col_frame_take leaves must fit max + 64 bytes");

/* One stream's framing state, carried from one read to the next. */
typedef struct col_framer {
    size_t max;    /* longest message; longer ones are cut here and flagged */
    int skipping;  /* discarding the tail of a truncated LF-framed line */
    size_t skip_n; /* bytes left to discard of a truncated octet-counted frame */
    int octet;     /* an octet-counted frame was taken: the stream is octet-counted */
    uint64_t skipped; /* bytes discarded so far (tails of over-long messages, NULs
                         between frames); the caller reads it, col_frame_take
                         only adds to it */
} col_framer;

/* Why a message is cut: longer than max, its octet-counted frame
 * unfinished when the stream ended (a count that lied, a cut connection),
 * or a line without its LF when the stream ended other than by the
 * sender's orderly close: the collector stopped reading (a stop whose
 * reading ended before the sender's: the rest of the line was never
 * read), the peer reset the connection, a TLS connection ended without
 * close_notify (or with a TLS error), or idle_timeout closed it. A line
 * without its LF at an orderly close (FIN, TLS close_notify) is no cut:
 * many senders end their last line without one. */
enum {
    COL_FRAME_OVER_MAX = 1,
    COL_FRAME_CUT_SHORT = 2,
    COL_FRAME_CUT_STOP = 3,
    COL_FRAME_CUT_RESET = 4,
    COL_FRAME_CUT_TLS = 5,
    COL_FRAME_CUT_IDLE = 6
};

/* Framing errors of an octet-counted stream, which are no cut: bytes
 * where a frame should start but none does (a count that did not match
 * its frame, garbage between frames), and a frame of count 0. */
enum { COL_FRAME_DESYNC = 7, COL_FRAME_EMPTY = 8 };

/* Not from col_frame_take: the bytes of a frame left unfinished for
 * frame_timeout, all of them as read (a count and its PRI too), handed on
 * whole by the collector when it closes the connection (col_input.c):
 * cut, and kept raw, unparsed. */
enum { COL_FRAME_CUT_TIMEOUT = 9 };

/* Whether flag (a COL_FRAME_* value) says the message was cut. */
static inline int col_frame_is_cut(int flag)
{
    return (flag >= COL_FRAME_OVER_MAX && flag <= COL_FRAME_CUT_IDLE) ||
           flag == COL_FRAME_CUT_TIMEOUT;
}

/* eof values of col_frame_take, how the stream ended: the peer's orderly
 * close, or the collector stopped reading it, the peer reset it (or a read
 * failed), a TLS stream ended without close_notify, idle_timeout closed
 * it. All but the first flag an unfinished line as cut (col_frame_line_cut). */
enum {
    COL_FRAME_EOF = 1,
    COL_FRAME_STOPPED = 2,
    COL_FRAME_RESET = 3,
    COL_FRAME_TLS_CUT = 4,
    COL_FRAME_IDLE = 5
};

/* The flag of a last line without its LF at a stream's end eof: 0 at an
 * orderly close, else the COL_FRAME_CUT_* value naming the cut. */
static inline int col_frame_line_cut(int eof)
{
    switch (eof) {
    case COL_FRAME_STOPPED: return COL_FRAME_CUT_STOP;
    case COL_FRAME_RESET: return COL_FRAME_CUT_RESET;
    case COL_FRAME_TLS_CUT: return COL_FRAME_CUT_TLS;
    case COL_FRAME_IDLE: return COL_FRAME_CUT_IDLE;
    default: return 0;
    }
}

/* A message: n bytes at p (a view into the caller's buffer, valid during
 * the call); flag 0, why it is cut (COL_FRAME_OVER_MAX, COL_FRAME_CUT_SHORT,
 * COL_FRAME_CUT_STOP and the other COL_FRAME_CUT_*), or the framing error it is (COL_FRAME_DESYNC, and
 * COL_FRAME_EMPTY with n 0). */
typedef void (*col_frame_fn)(void *ud, const char *p, size_t n, int flag);

/* Takes the complete frames at the front of data[0, len) and returns the
 * number of bytes consumed; the rest is an unfinished frame, to be passed
 * again at the front of the next call with more bytes after it. With eof,
 * everything is consumed (a last frame without its end is a message; with
 * any eof but COL_FRAME_EOF a last line without its LF is flagged cut, by
 * col_frame_line_cut(eof)).
 * What is left is always shorter than max + COL_FRAME_START_MAX, so a
 * buffer of max + 64 bytes always makes progress. A frame that starts
 * with a digit followed by digits and a space is octet-counted (RFC 6587
 * 3.4.1, count as above); any other runs to the next LF (3.4.2) until the
 * stream has sent an octet-counted frame (f->octet). From then on the
 * stream is octet-counted and sends no LF: "0 " is an empty frame
 * (COL_FRAME_EMPTY), and any other byte where a count should be starts a
 * message flagged COL_FRAME_DESYNC that runs to the next plausible frame
 * start ("LEN SP <PRI>", count without a leading zero), max bytes
 * or LF, whichever comes first (an LF ends it, and is dropped); framing
 * goes on from there. Such bytes that start with '<' and end at an LF (or
 * the stream's end) are a line, taken as an LF-framed one (a sender that
 * mixes the two). Stray CR, LF and NUL
 * between frames are skipped on either kind of stream, the NULs added to
 * f->skipped (no line end: a run of them is garbage, never framing). A message never ends
 * in CR (they are the line end, or an LF's yet to come: col_input_message
 * drops them all). A message longer than max is cut there, flagged, and the
 * rest of it skipped and added to f->skipped; the frames after it are taken
 * as usual. Longer counts the frame as sent (an LF-framed line's CRs
 * included): whether a line's LF arrives in the same read must not change
 * the flag, and before it arrives a CR may be content. The messages, their
 * flags and f->skipped never depend on how the stream is cut into calls. */
size_t col_frame_take(col_framer *f, const char *data, size_t len, int eof, col_frame_fn fn,
                      void *ud);

/* col_frame_take, handing on at most quota messages (unless eof: then
 * all, the stream ends): it stops after the quota'th and returns the bytes
 * consumed up to there, as if the read had ended after that message; the
 * rest is passed again later, as an unfinished frame is (the messages,
 * flags and f->skipped are the same as with no quota). *taken (if not
 * NULL): the messages handed on. max_rate_per_ip holds a sender's
 * messages back so (col_rate.h). */
size_t col_frame_take_n(col_framer *f, const char *data, size_t len, int eof, size_t quota,
                        col_frame_fn fn, void *ud, size_t *taken);

/* How many of the n bytes at p, an unfinished frame as col_frame_take left
 * it (f's state after that call), are bytes of a message: all of them but
 * the count that starts an octet-counted frame, i.e. digits that may still
 * be a count, a count and its SP ("50 "), or, on an octet-counted stream,
 * a lone "0" (an empty frame's count, its SP yet to come). idle_timeout
 * counts only a message or these bytes as activity: a count alone (at most
 * COL_FRAME_COUNT_DIGITS + 2 bytes) says nothing, and a sender trickling
 * "0" and " " in reads of their own held a "0" every other read. */
size_t col_frame_held_body(const col_framer *f, const char *p, size_t n);

#endif
