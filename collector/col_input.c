/* Syslog intake: UDP datagrams and TCP streams with RFC 6587 framing
 * (octet counting or newline, decided per frame by its first byte). */
#include <errno.h>
#include <linux/filter.h>
#include <linux/membarrier.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "col.h"
#include "col_frame.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/syslog.h"
#include "vigil/util.h"

#define COL_READ_CHUNK (128u << 10)

/* The reason a cut message carries in the spool (frame a COL_FRAME_* cut
 * flag): a line without its LF says what ended its stream, so a SOC reader
 * can tell a sender's reset from the collector's own stop or idle_timeout. */
static const char *col_input_cut_reason(int frame)
{
    switch (frame) {
    case COL_FRAME_CUT_SHORT: return "connection ended inside an octet-counted frame";
    case COL_FRAME_CUT_STOP: return "line cut by the collector's stop (the rest was not read)";
    case COL_FRAME_CUT_RESET: return "line cut by a connection reset (the rest never came)";
    case COL_FRAME_CUT_TLS:
        return "line cut by a TLS connection ended without close_notify (the rest never came)";
    case COL_FRAME_CUT_IDLE:
        return "line cut by the collector's idle_timeout (the rest was not read)";
    case COL_FRAME_CUT_TIMEOUT:
        return "frame unfinished for the collector's frame_timeout (the sender trickled or "
               "stalled mid-frame): kept raw, as read";
    default: return "truncated to max_message_size";
    }
}

/* col_input_message, with why (a static string, or NULL) as the reason of
 * a message that parses as empty: an empty datagram says so, where one
 * that held only line ends says "empty message" (the parser's); so does
 * a frame cut before any of it came, with its cut's reason. frame is
 * the message's COL_FRAME_* flag: a cut makes it truncated, a framing
 * error malformed without reading it as syslog (it is no whole message:
 * a fragment that happens to start with a PRI must not pass for one). */
static void col_input_event(col *c, const char *src, const struct sockaddr *sa, const char *buf,
                            size_t len, int frame, const char *why)
{
    /* Trailing CR, LF and NUL are framing left-overs of the sender (CRLF
     * files, octet-counted frames that kept the line end), never content. */
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == '\0'))
        len--;
    int cut = col_frame_is_cut(frame);
    if (cut && len == 0) /* "50 " and the close: the cut is why it is empty */
        why = col_input_cut_reason(frame);
    vg_syslog_opts o = {.now_us = vg_now_us(), .truncated = cut};
    vg_event ev;
    if (frame == COL_FRAME_DESYNC)
        vg_syslog_raw(buf, len, o.now_us,
                      "octet-counted framing lost: bytes where a frame should start "
                      "(a count that did not match its frame?), kept up to the next frame",
                      &ev);
    else if (frame == COL_FRAME_EMPTY)
        vg_syslog_raw(buf, len, o.now_us, "empty octet-counted frame (count 0)", &ev);
    else if (frame == COL_FRAME_CUT_TIMEOUT) /* a suspect's bytes: kept as they came */
        vg_syslog_raw(buf, len, o.now_us, col_input_cut_reason(frame), &ev);
    else
        vg_syslog_parse(buf, len, &o, &ev);
    ev.src = vg_str_c(src);
    if (why && (ev.flags & VG_EV_MALFORMED))
        ev.reason = vg_str_c(why);
    /* Tag by the message's own HOSTNAME before falling back to the sender's
     * address for it: a missing hostname must not match a host pattern. */
    col_sources_tag(c->sources, sa, ev.host, &ev.agency, &ev.site);
    if (!ev.host.p) { /* the sender's address; a local socket's sender is this machine */
        ev.host = sa ? ev.src : vg_str_c(c->hostname);
        ev.flags |= VG_EV_NO_HOST;
    }
    if (cut) {
        ev.flags |= VG_EV_TRUNCATED;
        if (!ev.reason.p)
            ev.reason = vg_str_c(col_input_cut_reason(frame));
        c->stats.truncated++;
    }
    c->stats.received++;
    c->stats.bytes += len;
    if (ev.flags & VG_EV_MALFORMED)
        c->stats.malformed++;
    if (ev.flags & VG_EV_UNKNOWN_VERSION) /* kept and parsed, but a sender to look at */
        c->stats.unknown_version++;
    col_counters_note(c->counters, ev.src, ev.agency, ev.host, len, ev.flags, o.now_us);
    if (col_spool_add(c, &ev) != 0) {
        vg_error("out of memory queuing a message from %s", src);
        col_counters_drop(c->counters, ev.src, ev.agency, 1);
    }
}

void col_input_message(col *c, const char *src, const struct sockaddr *sa, const char *buf,
                       size_t len, int frame)
{
    col_input_event(c, src, sa, buf, len, frame, NULL);
}

/* Puts a message of the collector's own into its stream, as a syslog
 * warning from program vigil-collector on this host: a loss the collector
 * sees (datagrams dropped or refused) then reaches the SOC as an event,
 * spooled and correlated like any other (rules/vigil.yml alerts on it),
 * not only as a line in a log nobody reads on a holiday. Not counted as
 * received: nobody sent it. */
void col_input_notice(col *c, const char *text)
{
    char host[256] = "", stamp[40], line[1024];
    if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
        snprintf(host, sizeof(host), "-");
    int64_t now = vg_now_us();
    vg_time_format(now, stamp, sizeof(stamp));
    int len = snprintf(line, sizeof(line), "<44>1 %s %s vigil-collector %ld - - %s", stamp, host,
                       (long)getpid(), text);
    if (len < 0)
        return;
    vg_syslog_opts o = {.now_us = now};
    vg_event ev;
    vg_syslog_parse(line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1, &o, &ev);
    ev.src = vg_str_c("local");
    col_sources_tag(c->sources, NULL, ev.host, &ev.agency, &ev.site);
    if (col_spool_add(c, &ev) != 0)
        vg_error("out of memory queuing the collector's own message: %s", text);
}

/* An IPv4 sender as a dual-stack listener ([::]) sees it, ::ffff:a.b.c.d,
 * rewritten in place as the IPv4 address a.b.c.d (port kept): one sender
 * is then one src, one per-source counter, one fallback host and one
 * address for max_connections_per_ip, whichever listener it came in by. */
static void col_addr_unmap(struct sockaddr_storage *ss)
{
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
    if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
        return;
    struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = s6->sin6_port};
    memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, &s4, sizeof(s4));
}

static void col_addr_name(const struct sockaddr *sa, char *out, size_t cap)
{
    out[0] = '\0';
    if (sa->sa_family == AF_INET)
        uv_ip4_name((const struct sockaddr_in *)sa, out, cap);
    else if (sa->sa_family == AF_INET6)
        uv_ip6_name((const struct sockaddr_in6 *)sa, out, cap);
    if (!out[0])
        snprintf(out, cap, "unknown");
}

/* ---- UDP ---------------------------------------------------------------- */

static void col_udp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    col *c = h->data;
    (void)hint;
    *buf = uv_buf_init(c->udp_buf, 65536);
}

/* A datagram's message (UDP or Unix; partial if the kernel cut it to our
 * buffer), cut to max_message_size after its transport's line ends. An
 * empty datagram (0 bytes: a load balancer's health check, a broken
 * sender) is a malformed message like one holding only "\n": received,
 * counted and spooled, with reason "empty datagram", never dropped unseen. */
static void col_datagram_message(col *c, const char *src, const struct sockaddr *sa,
                                 const char *buf, size_t n, int partial)
{
    const char *why = n == 0 ? "empty datagram" : NULL;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == '\0'))
        n--; /* transport artifacts, not message content */
    if (n > c->conf.max_message) { /* the rest is skipped, and counted as a stream's is */
        c->stats.skipped_bytes += n - c->conf.max_message;
        n = c->conf.max_message;
        partial = 1;
    }
    col_input_event(c, src, sa, buf, n, partial, why);
}

/* A datagram refused while the spool is full, counted against its sender
 * and the agency the message would have been tagged with had it been
 * taken: its HOSTNAME's pattern first, then the sender's network (as
 * col_input_event tags). Tagged by network alone, a relay's datagrams and
 * every Unix socket datagram were counted under another agency (or
 * "unknown") than the same messages taken a moment earlier. Parsing the
 * header allocates nothing. */
static void col_datagram_refuse(col *c, const char *src, const struct sockaddr *sa,
                                const char *buf, size_t n)
{
    c->stats.dropped++;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == '\0'))
        n--;
    int cut = n > c->conf.max_message;
    if (cut)
        n = c->conf.max_message;
    vg_syslog_opts o = {.now_us = vg_now_us(), .truncated = cut};
    vg_event ev;
    vg_syslog_parse(buf, n, &o, &ev);
    col_sources_tag(c->sources, sa, ev.host, &ev.agency, &ev.site);
    col_counters_drop(c->counters, vg_str_c(src), ev.agency, 1);
}

/* One datagram of a UDP listener (n bytes in buf, partial if the kernel cut
 * it to the buffer): refused and counted while the spool is full, else
 * parsed and spooled. */
static void col_udp_take(col *c, const struct sockaddr *from, char *buf, size_t n, int partial)
{
    char src[64];
    struct sockaddr_storage ss;
    memcpy(&ss, from, from->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                  : sizeof(struct sockaddr_in));
    col_addr_unmap(&ss);
    const struct sockaddr *sa = (const struct sockaddr *)&ss;
    col_addr_name(sa, src, sizeof(src));
    if (c->paused) { /* spool full: refused, and counted per source */
        col_datagram_refuse(c, src, sa, buf, n);
        return;
    }
    col_datagram_message(c, src, sa, buf, n, partial);
}

static void col_udp_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *sa,
                         unsigned flags)
{
    col *c = h->data;
    if (n < 0) {
        c->stats.udp_errors++;
        return;
    }
    if (!sa) /* n == 0 without an address: nothing more to read (libuv) */
        return;
    col_udp_take(c, sa, buf->base, (size_t)n, (flags & UV_UDP_PARTIAL) != 0);
}

/* At a stop, reads the datagrams the kernel still holds for a UDP listener.
 * Closing the socket would free them unseen: sent before the stop, counted
 * nowhere (udp_kernel_drops counts only what a full buffer refused), and
 * a restart for an upgrade would lose up to the whole 8 MiB buffer.
 * Bounded, since senders go on sending while we read. */
static void col_udp_drain(col *c, uv_udp_t *u)
{
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)u, &fd) != 0)
        return;
    for (int i = 0; i < COL_DRAIN_DATAGRAMS; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        ssize_t n = recvfrom(fd, c->udp_buf, 65536, MSG_DONTWAIT | MSG_TRUNC,
                             (struct sockaddr *)&ss, &sl);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                c->stats.udp_errors++;
            return;
        }
        col_udp_take(c, (struct sockaddr *)&ss, c->udp_buf, n > 65536 ? 65536 : (size_t)n,
                         n > 65536);
    }
}

/* ---- max_rate_per_ip ------------------------------------------------------ */

static void col_rate_arm(col *c);
static void col_conn_go(col_conn *k);

/* Messages k may hand on now: SIZE_MAX when its sender is not limited
 * (max_rate_per_ip 0, no key, or a stop, which reads everything), else
 * what its sender's bucket holds (col_rate_budget); 0 while it is held. */
static size_t col_conn_quota(col_conn *k)
{
    col *c = k->c;
    if (!k->rk || c->rate.rate <= 0 || c->reading_all)
        return SIZE_MAX;
    if (k->rk->held)
        return 0;
    return col_rate_budget(&c->rate, k->rk, uv_now(c->loop));
}

/* The agency k's sender is tagged with by its network (as a refused
 * connection is). */
static vg_str col_conn_agency(col_conn *k)
{
    vg_str agency, site;
    col_sources_tag(k->c->sources, (const struct sockaddr *)&k->peer, VG_STR_NULL, &agency,
                    &site);
    return agency;
}

/* k's sender went past max_rate_per_ip: none of its connections is read
 * until its bucket refills (the rate timer, col_rate_on_timer). Nothing is
 * dropped: what it sends waits in the kernels' buffers, and TCP's flow
 * control stops the sender. A throttle (col_rate_hold) is counted, per
 * sender too, and logged at most once a minute, naming the sender. */
static void col_rate_hold_conns(col_conn *k)
{
    col *c = k->c;
    col_rate_key *rk = k->rk;
    uint64_t now = uv_now(c->loop);
    if (rk->held)
        return;
    if (col_rate_hold(&c->rate, rk, now)) {
        c->stats.throttles++;
        c->rate_unlogged++;
        col_counters_throttle(c->counters, vg_str_c(rk->key), col_conn_agency(k), 1, 0);
        if (c->rate_logged_ms == 0 || now - c->rate_logged_ms >= 60000) {
            char by[COL_ADDR_KEY_MAX + 16] = "";
            if (strcmp(rk->key, k->src)) /* a /64, a scope: say which */
                snprintf(by, sizeof(by), " by %s", rk->key);
            vg_warn("connection from %s held back: max_rate_per_ip (%lld messages a second) "
                    "reached%s; its sender's connections are read no faster, nothing is "
                    "dropped; %llu such throttles since the last such message",
                    k->src, (long long)c->rate.rate, by,
                    (unsigned long long)c->rate_unlogged);
            c->rate_logged_ms = now ? now : 1;
            c->rate_unlogged = 0;
        }
    }
    for (col_conn *o = c->conns; o; o = o->next)
        if (o->rk == rk)
            uv_read_stop((uv_stream_t *)&o->tcp);
    col_rate_arm(c);
}

/* Ends the hold of k's sender, counting how long it lasted. */
static void col_rate_unhold(col_conn *k)
{
    col *c = k->c;
    uint64_t ms = col_rate_release(&c->rate, k->rk, uv_now(c->loop));
    c->stats.throttled_ms += ms;
    col_counters_throttle(c->counters, vg_str_c(k->rk->key), col_conn_agency(k), 0, ms);
}

/* k is closing: if it is the last connection of a held sender, the hold
 * ends with it. */
static void col_rate_unhold_last(col *c, col_conn *k)
{
    (void)c;
    if (k->rk->held && k->rk->conns == 1)
        col_rate_unhold(k);
}

/* ---- TCP ---------------------------------------------------------------- */

static void col_conn_closed(uv_handle_t *h)
{
    col_conn *k = h->data;
    col *c = k->c;
    if (k->prev)
        k->prev->next = k->next;
    else
        c->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    c->stats.tcp_open--;
    if (k->rk) {
        col_rate_unhold_last(c, k);
        col_rate_put(&c->rate, k->rk, uv_now(c->loop));
    }
    if (k->tls) {
        col_tls_conn_free(k->tls);
        free(k->tls);
    }
    free(k->buf);
    free(k);
}

static void col_conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    col_conn *k = h->data;
    (void)hint;
    /* a sender near max_rate_per_ip is read in pieces of max_message_size
     * + 64 bytes, so that what its budget leaves of a read fits the
     * connection's buffer (col_conn_frames) */
    size_t small = k->c->conf.max_message + 64;
    bool near = col_conn_quota(k) < COL_READ_CHUNK;
    if (k->tls) { /* ciphertext: decrypted into k->buf by col_conn_read */
        *buf = uv_buf_init(k->c->udp_buf, near && small < 65536 ? (unsigned)small : 65536);
        return;
    }
    /* Nothing pending: read into the collector's shared buffer, so one
     * read(2) carries hundreds of lines and idle connections hold no big
     * buffer. Only the unfinished tail of a read is kept per connection. */
    if (k->len == 0) {
        *buf = uv_buf_init(k->c->read_buf, near && small < COL_READ_CHUNK ? (unsigned)small
                                                                          : COL_READ_CHUNK);
        return;
    }
    size_t want = k->c->conf.max_message + 64;
    if (k->cap < want) {
        char *p = realloc(k->buf, want);
        if (!p) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        k->buf = p;
        k->cap = want;
    }
    *buf = uv_buf_init(k->buf + k->len, (unsigned)(k->cap - k->len));
}

/* A message framed out of a connection's stream. */
static void col_conn_message(void *ud, const char *p, size_t n, int flag)
{
    col_conn *k = ud;
    k->frames++;
    if (n && flag != COL_FRAME_EMPTY)
        k->msgs++;
    col_input_message(k->c, k->src, (const struct sockaddr *)&k->peer, p, n, flag);
}

/* Notes, after k's bytes were framed (msgs_was: k->msgs before), when
 * its unfinished frame began, for frame_timeout: none left, none; one left
 * after a message with content was framed began in this read; one left
 * after none was began earlier (kept) or now: empty frames ("0 ") framed
 * in between do not start it again, or a sender trickling " 0" would hold
 * an unfinished frame for ever. Unfinished: bytes held of a frame, the
 * tail of an over-long message being skipped, or part of a TLS record
 * (a sender trickling bytes never ends its frame, and is never idle).
 * Not during a TLS handshake: tls_handshake_timeout bounds that. */
static void col_conn_frame_mark(col_conn *k, uint64_t msgs_was)
{
    bool open = k->len || k->framer.skipping || k->framer.skip_n ||
                (k->tls && col_tls_partial(k->tls));
    if (!open || (k->tls && !k->tls->handshake_done)) {
        k->frame_ms = 0;
        return;
    }
    if (k->msgs != msgs_was || !k->frame_ms) {
        uint64_t now = uv_now(k->c->loop);
        k->frame_ms = now ? now : 1;
    }
}

/* Takes complete frames from the front of the buffer (col_frame_take) and
 * returns the number of bytes consumed; the bytes it skipped (tails of
 * over-long messages) are counted in skipped_bytes. */
static size_t col_conn_frames(col_conn *k, char *data, size_t len, int eof)
{
    uint64_t was = k->framer.skipped;
    size_t quota = col_conn_quota(k), taken = 0;
    k->framer.max = k->c->conf.max_message;
    size_t used = col_frame_take_n(&k->framer, data, len, eof, quota, col_conn_message, k, &taken);
    k->c->stats.skipped_bytes += k->framer.skipped - was;
    if (k->rk && quota != SIZE_MAX) {
        col_rate_take(&k->c->rate, k->rk, taken);
        /* the budget stopped it with bytes left: the sender is past its rate */
        if (!eof && taken == quota && used < len)
            col_rate_hold_conns(k);
    }
    return used;
}

/* Plaintext out of TLS: appended to the framing buffer, framed as it comes.
 * The buffer is made with the first plaintext, after the handshake: peers
 * that never finish one hold no max_message_size buffer each. */
static int col_conn_plain(void *ud, const char *p, size_t n)
{
    col_conn *k = ud;
    if (!k->buf && n) {
        size_t want = k->c->conf.max_message + 64;
        if (!(k->buf = malloc(want)))
            return -1;
        k->cap = want;
    }
    while (n) {
        if (k->rk && k->rk->held && !k->c->reading_all) {
            /* max_rate_per_ip holds the sender back: the plaintext is kept
             * (at most a read's, col_conn_alloc) and framed once it is read
             * again (col_conn_go) */
            if (k->len + n > k->cap) {
                char *q = realloc(k->buf, k->len + n);
                if (!q)
                    return -1;
                k->buf = q;
                k->cap = k->len + n;
            }
            memcpy(k->buf + k->len, p, n);
            k->len += n;
            return 0;
        }
        size_t room = k->cap - k->len, m = n < room ? n : room;
        memcpy(k->buf + k->len, p, m);
        k->len += m;
        p += m;
        n -= m;
        size_t used = col_conn_frames(k, k->buf, k->len, 0);
        if (used < k->len)
            memmove(k->buf, k->buf + used, k->len - used);
        k->len -= used;
        if (m == 0 && used == 0 && !(k->rk && k->rk->held))
            return -1; /* cannot happen: frames always make room (cap > max_message) */
    }
    return 0;
}

static void col_conn_tls_write_done(uv_write_t *req, int status)
{
    (void)status;
    free(req->data);
    free(req);
}

/* Sends what TLS wants the peer to receive (handshake, alerts). */
static void col_conn_tls_flush(col_conn *k)
{
    char *out;
    size_t n = col_tls_pending(k->tls, &out);
    if (!n)
        return;
    uv_write_t *req = malloc(sizeof(*req));
    uv_buf_t b = uv_buf_init(out, (unsigned)n);
    if (!req || uv_write(req, (uv_stream_t *)&k->tcp, &b, 1, col_conn_tls_write_done) != 0) {
        free(req);
        free(out);
        return;
    }
    req->data = out;
}

/* Closes a connection the collector ends itself (idle, handshake timeout,
 * stop): what it had read of an unfinished frame is a message too, not
 * freed unseen with the buffer: an octet-counted frame flagged truncated,
 * and a line without its LF flagged cut by how (eof: COL_FRAME_STOPPED,
 * COL_FRAME_IDLE): the reading ended there, not the sender's line (a
 * sender still writing at the end of the stop's reading, or one that paused
 * mid-line), and kept as a whole line "seq=00001234" cut to "seq=0000" made
 * an alert for a line nobody sent. A TLS peer gets our close_notify first,
 * so that it can tell the close from a cut connection. */
static void col_conn_end(col_conn *k, int eof)
{
    if (k->end) /* its stream had ended (col_conn_take): as it did */
        eof = k->end;
    if (k->len) {
        col_conn_frames(k, k->buf, k->len, eof);
        k->len = 0;
    }
    if (k->tls) { /* a few dozen bytes: uv_write sends them at once, before the close */
        col_tls_close_notify(k->tls);
        col_conn_tls_flush(k);
    }
    uv_read_stop((uv_stream_t *)&k->tcp);
    uv_close((uv_handle_t *)&k->tcp, col_conn_closed);
}

/* How a stream that read n (< 0) ended, as col_frame_take's eof: an
 * orderly close (FIN, or under TLS the peer's close_notify) leaves a last
 * line without its LF a line, since many senders end so; a reset or a read
 * error cuts it, and so does a TLS stream's end without close_notify (a FIN
 * under TLS, a TLS error: to TLS a truncation attack or a crashed
 * sender look just like that). */
static int col_conn_end_kind(const col_conn *k, ssize_t n)
{
    if (k->tls && (n == UV_EOF || n == UV_EPROTO))
        return col_tls_peer_closed(k->tls) ? COL_FRAME_EOF : COL_FRAME_TLS_CUT;
    return n == UV_EOF ? COL_FRAME_EOF : COL_FRAME_RESET;
}

/* One read of k (n bytes in buf, or how it ended): TLS, framing, the
 * end of the stream (col_conn_read notes the unfinished frame after). */
static void col_conn_take(col_conn *k, ssize_t n, const uv_buf_t *buf)
{
    if (k->tls && n > 0) {
        int rc = col_tls_feed(&k->c->tls, k->tls, buf->base, (size_t)n, col_conn_plain, k, k->src);
        if (rc == 1)
            col_tls_close_notify(k->tls); /* the peer's close_notify, answered */
        col_conn_tls_flush(k);
        if (rc == 0)
            return;
        /* the peer's close_notify is an orderly close; a TLS error cuts */
        n = rc == 1 ? UV_EOF : UV_EPROTO;
    } else if (k->tls && n < 0) /* the peer left inside its handshake: a failure too */
        col_tls_abandoned(&k->c->tls, k->tls, n != UV_EOF, k->src);
    int eof = n < 0 ? col_conn_end_kind(k, n) : 0;
    if (eof && k->len && col_conn_quota(k) != SIZE_MAX) {
        /* the end (a TLS close_notify read with the records before it, or
         * a FIN) waits for the messages max_rate_per_ip holds back: framed
         * all at once here, a sender could pass the limit by a buffer's
         * worth with each connection it closes (col_conn_go ends it) */
        size_t used = col_conn_frames(k, k->buf, k->len, 0);
        if (used < k->len)
            memmove(k->buf, k->buf + used, k->len - used);
        k->len -= used;
        if (k->rk->held) {
            k->end = eof;
            uv_read_stop((uv_stream_t *)&k->tcp);
            return;
        }
    }
    if (n > 0 && buf->base == k->c->read_buf) {
        /* frames straight from the shared buffer; keep the unfinished tail */
        size_t len = (size_t)n, used = col_conn_frames(k, buf->base, len, 0);
        size_t tail = len - used, want = k->c->conf.max_message + 64;
        if (want < tail) /* cannot happen: col_conn_alloc reads no more then */
            want = tail;
        if (tail) {
            if (k->cap < want) {
                char *p = realloc(k->buf, want);
                if (!p) {
                    uv_close((uv_handle_t *)&k->tcp, col_conn_closed);
                    return;
                }
                k->buf = p;
                k->cap = want;
            }
            memcpy(k->buf, buf->base + used, tail); /* < want: frames consume longer runs */
            k->len = tail;
        }
        return;
    }
    if (n > 0)
        k->len += (size_t)n;
    size_t used = col_conn_frames(k, k->buf, k->len, eof);
    if (used < k->len)
        memmove(k->buf, k->buf + used, k->len - used);
    k->len -= used;
    if (eof) {
        if (n != UV_EOF)
            vg_debug("connection from %s: %s", k->src, uv_strerror((int)n));
        uv_close((uv_handle_t *)&k->tcp, col_conn_closed);
    }
}

/* Whether k is still inside an over-long message (its tail being
 * skipped): a sender writing one, not an idle one. */
static bool col_conn_in_long(const col_conn *k)
{
    return k->framer.skipping || k->framer.skip_n;
}

/* The bytes of a message in the unfinished frame k holds: not its count
 * (col_frame_held_body). */
static size_t col_conn_held_body(const col_conn *k)
{
    return k->len ? col_frame_held_body(&k->framer, k->buf, k->len) : 0;
}

/* Resets k's idle_timeout clock after a read if the read was activity: it
 * framed a message with content, or grew (or began) the message bytes of
 * the unfinished frame k holds, or went on with the tail of an over-long
 * message, or was part of a TLS handshake (tls_handshake_timeout bounds
 * that). Line ends, NULs and empty frames ("0 ") are not, nor is the count
 * of a frame whose message has not begun: a sender trickling only those
 * holds no unfinished frame's message (frame_timeout never closes it), and
 * when its bytes reset the clock (each byte, or each "0" it sent in a read
 * of its own) it kept its connection for ever without sending a message.
 * Neither is part of a TLS record alone: it counts once its plaintext
 * makes a message or a frame. body_was, long_was, hs_was: k's held message
 * bytes (col_conn_held_body), col_conn_in_long and handshake before the
 * read. */
static void col_conn_activity(col_conn *k, uint64_t msgs_was, size_t body_was, bool long_was,
                              bool hs_was)
{
    size_t body = col_conn_held_body(k);
    if (k->msgs != msgs_was || (body && body != body_was) || long_was || col_conn_in_long(k) ||
        hs_was)
        k->last_ms = uv_now(k->c->loop);
}

static void col_conn_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    col_conn *k = st->data;
    if (n == 0)
        return;
    uint64_t msgs_was = k->msgs;
    size_t body_was = col_conn_held_body(k);
    bool long_was = col_conn_in_long(k), hs_was = k->tls && !k->tls->handshake_done;
    col_conn_take(k, n, buf);
    if (uv_is_closing((uv_handle_t *)&k->tcp))
        return;
    col_conn_activity(k, msgs_was, body_was, long_was, hs_was);
    col_conn_frame_mark(k, msgs_was);
}

/* k may be read again (its sender's hold ended, or a pause for a full
 * spool): what it holds is framed first, as far as its sender's budget
 * goes (bytes a hold left unframed, col_conn_frames), then it is read
 * unless its sender is held again or the spool is full. */
static void col_conn_go(col_conn *k)
{
    col *c = k->c;
    if (uv_is_closing((uv_handle_t *)&k->tcp) || c->paused || (k->rk && k->rk->held))
        return;
    if (k->len) {
        uint64_t msgs_was = k->msgs;
        size_t used = col_conn_frames(k, k->buf, k->len, 0);
        if (used < k->len)
            memmove(k->buf, k->buf + used, k->len - used);
        k->len -= used;
        col_conn_frame_mark(k, msgs_was);
    }
    if (k->end && !(k->rk && k->rk->held)) { /* its stream had ended: now it is over */
        col_conn_frames(k, k->buf, k->len, k->end);
        k->len = 0;
        if (!uv_is_closing((uv_handle_t *)&k->tcp))
            uv_close((uv_handle_t *)&k->tcp, col_conn_closed);
        return;
    }
    if (!c->paused && !(k->rk && k->rk->held))
        uv_read_start((uv_stream_t *)&k->tcp, col_conn_alloc, col_conn_read);
}

static void col_conn_free(uv_handle_t *h)
{
    free(h->data);
}

/* At a stop, reads what the kernel holds for a connection before it is
 * closed: the sender took those bytes as delivered (TCP syslog has no
 * acknowledgement of its own), and a close with unread data throws them
 * away with a reset. The loop reads a connection 32 times per pass, and
 * once the collector reads again the sender's kernel sends what its own
 * queue holds (megabytes after a pause). So what the connection holds now
 * is read whatever the time, and a connection that gave data is then read
 * on until it has been quiet for COL_DRAIN_QUIET_MS or deadline_ns
 * (uv_hrtime) has passed, whichever comes first. Read as the loop would
 * (col_conn_read: TLS, framing, the peer's EOF), at most COL_DRAIN_BYTES,
 * and not while the spool is full. */
static void col_conn_drain(col_conn *k, uint64_t deadline_ns)
{
    uv_os_fd_t fd;
    int queued = 0;
    if (uv_fileno((uv_handle_t *)&k->tcp, &fd) != 0 || ioctl(fd, FIONREAD, &queued) != 0)
        queued = 0;
    if (k->len && !k->c->paused && !uv_is_closing((uv_handle_t *)&k->tcp)) {
        /* what a max_rate_per_ip hold left unframed: it may fill the buffer */
        size_t used = col_conn_frames(k, k->buf, k->len, 0);
        if (used < k->len)
            memmove(k->buf, k->buf + used, k->len - used);
        k->len -= used;
    }
    for (size_t got = 0; got < COL_DRAIN_BYTES;) {
        if (k->c->paused || uv_is_closing((uv_handle_t *)&k->tcp))
            return;
        uint64_t now = uv_hrtime();
        if (got >= (size_t)queued && now >= deadline_ns)
            return; /* out of time: what came after the stop waits no longer */
        uv_buf_t b;
        col_conn_alloc((uv_handle_t *)&k->tcp, 0, &b);
        if (!b.base || !b.len)
            return;
        ssize_t n = recv(fd, b.base, b.len, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (got == 0 || now >= deadline_ns)
                return; /* idle */
            uint64_t left_ms = (deadline_ns - now) / 1000000 + 1;
            int wait_ms = (int)(left_ms < COL_DRAIN_QUIET_MS ? left_ms : COL_DRAIN_QUIET_MS);
            struct pollfd pf = {.fd = fd, .events = POLLIN};
            if (poll(&pf, 1, wait_ms) <= 0)
                return; /* quiet */
            continue;
        }
        col_conn_read((uv_stream_t *)&k->tcp, n > 0 ? n : n == 0 ? UV_EOF : -errno, &b);
        if (n <= 0)
            return;
        got += (size_t)n;
    }
}

/* Whether one more connection from k's address fits max_connections and
 * max_connections_per_ip (counted by k->ipkey: an IPv6 sender's /64
 * but for link-local, loopback and a few others, col_addr.h); else counts it and says why (logged at most once
 * a minute, with the number refused meanwhile: a flood of connections must
 * not flood the log). Accepting and closing, rather than leaving them in the
 * kernel's backlog, keeps the listener answering the senders that fit. */
static int col_conn_fits(col *c, const col_conn *k)
{
    const char *why = NULL;
    char by[COL_ADDR_KEY_MAX + 16] = "";
    int64_t lim = 0;
    if (c->stats.tcp_open >= (uint64_t)c->conf.max_conns) {
        why = "max_connections";
        lim = c->conf.max_conns;
    } else if (c->stats.tcp_open >= (uint64_t)c->fd_conns) {
        why = "the open files limit's room for connections";
        lim = c->fd_conns;
    } else {
        int64_t same = 0;
        if (k->ipkey[0])
            for (const col_conn *o = c->conns; o; o = o->next)
                same += strcmp(o->ipkey, k->ipkey) == 0;
        if (same >= c->conf.max_conns_ip) {
            why = "max_connections_per_ip";
            lim = c->conf.max_conns_ip;
            if (strcmp(k->ipkey, k->src)) /* a /64, a scope: say which */
                snprintf(by, sizeof(by), " by %s", k->ipkey);
        }
    }
    if (!why)
        return 1;
    c->stats.conns_refused++;
    c->refused_unlogged++;
    /* per source too: the log line names one address a minute, and a
     * sender shut out by another's flood must show up by its own; one
     * shut out by max_connections_per_ip as the /64 it counted by (an
     * IPv6 host changing its address for each connection would otherwise
     * fill the source table, one entry per address, and evict the rest) */
    vg_str agency, site;
    col_sources_tag(c->sources, (const struct sockaddr *)&k->peer, VG_STR_NULL, &agency, &site);
    col_counters_refuse(c->counters, vg_str_c(by[0] ? k->ipkey : k->src), agency);
    uint64_t now = uv_now(c->loop);
    if (c->refused_logged_ms == 0 || now - c->refused_logged_ms >= 60000) {
        vg_warn("connection from %s closed: %s (%lld) reached%s; %llu refused since the last "
                "such message", k->src, why, (long long)lim, by,
                (unsigned long long)c->refused_unlogged);
        c->refused_logged_ms = now ? now : 1;
        c->refused_unlogged = 0;
    }
    return 0;
}

static void col_conn_setup(col *c, col_conn *k, int tls);

static void col_tcp_accept(uv_stream_t *ls, int status)
{
    col *c = ls->data;
    if (status < 0)
        return;
    col_conn *k = calloc(1, sizeof(*k));
    if (!k) {
        /* libuv took the connection off the queue and stops watching the
         * listener until uv_accept: without a retry the port would stay
         * dead until a restart. col_conn_sweep tries again each second. */
        int i = (int)((uv_tcp_t *)ls - c->tcp);
        if (!(c->accept_stalled & (1u << i)))
            vg_error("out of memory accepting a connection on listener %d; trying again each "
                     "second", i);
        c->accept_stalled |= 1u << i;
        return;
    }
    k->c = c;
    uv_tcp_init(c->loop, &k->tcp);
    k->tcp.data = k;
    if (uv_accept(ls, (uv_stream_t *)&k->tcp) != 0) {
        uv_close((uv_handle_t *)&k->tcp, col_conn_free);
        return;
    }
    col_conn_setup(c, k, c->tcp_is_tls[(uv_tcp_t *)ls - c->tcp]);
}

/* Connections of plain TCP listener i that the kernel has completed but
 * the loop has not accepted yet, accepted now (at a stop). A sender that
 * connected, wrote and closed just before the stop took its lines as
 * sent; closing the listener would reset them unread. (A TLS sender has
 * written nothing before our handshake.) At most max_connections. */
static void col_tcp_accept_pending(col *c, int i)
{
    uv_os_fd_t lfd;
    if (c->tcp_is_tls[i] || uv_fileno((uv_handle_t *)&c->tcp[i], &lfd) != 0)
        return;
    for (int64_t n = 0; n < c->conf.max_conns; n++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && errno == EINTR)
            continue;
        if (fd < 0)
            return; /* none left (EAGAIN), or out of descriptors */
        col_conn *k = calloc(1, sizeof(*k));
        if (!k) {
            close(fd);
            return;
        }
        k->c = c;
        uv_tcp_init(c->loop, &k->tcp);
        k->tcp.data = k;
        if (uv_tcp_open(&k->tcp, fd) != 0) {
            close(fd);
            uv_close((uv_handle_t *)&k->tcp, col_conn_free);
            continue;
        }
        col_conn_setup(c, k, 0);
    }
}

/* An accepted connection k: its peer, the limits, keepalive, TLS, the
 * list of connections, and reading. */
static void col_conn_setup(col *c, col_conn *k, int tls)
{
    int len = sizeof(k->peer);
    if (uv_tcp_getpeername(&k->tcp, (struct sockaddr *)&k->peer, &len) == 0) {
        col_addr_unmap(&k->peer);
        col_addr_name((struct sockaddr *)&k->peer, k->src, sizeof(k->src));
        col_addr_key((struct sockaddr *)&k->peer, k->ipkey, sizeof(k->ipkey));
    } else
        snprintf(k->src, sizeof(k->src), "unknown");
    if (!col_conn_fits(c, k)) {
        uv_close((uv_handle_t *)&k->tcp, col_conn_free);
        return;
    }
    k->start_ms = k->last_ms = uv_now(c->loop);
    /* a sender that vanished (power cut, cable) never closes: the kernel's
     * keepalive probes find it, and the descriptor comes back */
    uv_tcp_keepalive(&k->tcp, 1, 300);
    if (tls) {
        k->tls = calloc(1, sizeof(*k->tls));
        if (!k->tls || col_tls_conn_init(&c->tls, k->tls) != 0) {
            free(k->tls);
            k->tls = NULL;
            uv_close((uv_handle_t *)&k->tcp, col_conn_free);
            return;
        }
    }
    if (k->ipkey[0]) /* its sender's max_rate_per_ip bucket (NULL out of memory: none) */
        k->rk = col_rate_get(&c->rate, k->ipkey, uv_now(c->loop));
    k->next = c->conns;
    if (c->conns)
        c->conns->prev = k;
    c->conns = k;
    c->stats.tcp_conns++;
    c->stats.tcp_open++;
    if (!c->paused && !(k->rk && k->rk->held)) /* a held sender's new one waits too */
        uv_read_start((uv_stream_t *)&k->tcp, col_conn_alloc, col_conn_read);
}

/* ---- Unix datagram socket (like /dev/log) -------------------------------- */

/* Reads up to max datagrams of a Unix datagram socket, or until it is
 * empty. */
static void col_unix_take(col *c, int fd, int max)
{
    for (int i = 0; i < max; i++) {
        ssize_t n = recv(fd, c->udp_buf, 65536, MSG_TRUNC | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                c->stats.udp_errors++;
            return;
        }
        if (c->paused) {
            col_datagram_refuse(c, "unix", NULL, c->udp_buf, (size_t)n > 65536 ? 65536 : (size_t)n);
            continue;
        }
        if (n > 65536) /* what the kernel cut off past the buffer is skipped too */
            c->stats.skipped_bytes += (uint64_t)n - 65536;
        col_datagram_message(c, "unix", NULL, c->udp_buf, (size_t)n > 65536 ? 65536 : (size_t)n,
                             n > 65536);
    }
}

/* libuv has no Unix datagram handle; the socket is non-blocking and polled,
 * and each readiness drains it. */
static void col_unix_readable(uv_poll_t *h, int status, int events)
{
    col *c = h->data;
    (void)events;
    if (status < 0)
        return;
    col_unix_take(c, c->unix_fd[h - c->unix_poll], 256); /* bounded: let other handles run */
}

static int col_unix_open(col *c, const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    struct stat sb;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (lstat(path, &sb) == 0) {
        if (!S_ISSOCK(sb.st_mode)) {
            close(fd);
            return -EEXIST;
        }
        /* Another datagram socket there is taken over (the last binder
         * owns it, as syslog daemons do with /dev/log); a stream socket
         * someone listens on is another program's (the correlator's, by a
         * mistaken path): unlinked, it cut every collector off. */
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno == EPROTOTYPE) {
            close(fd);
            return -EADDRINUSE;
        }
        close(fd);
        unlink(path);
        if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
            return -errno;
    }
    int sz = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    /* Mode 0666 (every local program may log) from bind itself: a chmod
     * of the path after it, made as root, followed whatever the path was
     * by then, and whoever can write in the socket's directory (the
     * pipeline user, in run_dir) could swap in a symlink to /etc/shadow. */
    mode_t um = umask(0111);
    int brc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(um);
    if (brc != 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    int i = c->nunix++;
    c->unix_fd[i] = fd;
    uv_poll_init(c->loop, &c->unix_poll[i], fd);
    c->unix_poll[i].data = c;
    return uv_poll_start(&c->unix_poll[i], UV_READABLE, col_unix_readable);
}

/* ---- backpressure -------------------------------------------------------- */

void col_input_pause(col *c)
{
    if (c->paused)
        return;
    c->paused = 1;
    c->stats.pauses++;
    for (col_conn *k = c->conns; k; k = k->next)
        uv_read_stop((uv_stream_t *)&k->tcp);
}

void col_input_resume(col *c)
{
    if (!c->paused)
        return;
    c->paused = 0;
    /* the pause was ours: it does not count against anyone's timeouts */
    uint64_t now = uv_now(c->loop);
    for (col_conn *k = c->conns; k; k = k->next) {
        k->start_ms = k->last_ms = now;
        if (k->frame_ms)
            k->frame_ms = now ? now : 1;
        col_conn_go(k);
    }
}

/* Reads again the connections of the held senders whose buckets have
 * refilled enough (col_rate_wait_ms), or of every held sender (all: the
 * limit was lifted), oldest connection first; then arms the timer for the
 * next. Their hold does not count against their timeouts (as a pause). */
static void col_rate_wake(col *c, bool all)
{
    uint64_t now = uv_now(c->loop);
    int any = 0;
    for (col_rate_key *rk = c->rate.keys; rk; rk = rk->next) {
        rk->wake = rk->held && (all || col_rate_wait_ms(&c->rate, rk, now) == 0);
        any |= rk->wake;
    }
    col_conn *oldest = NULL;
    for (col_conn *k = c->conns; any && k; k = k->next)
        oldest = k;
    for (col_conn *k = oldest; k; k = k->prev) {
        if (!k->rk || !k->rk->wake)
            continue;
        if (k->rk->wake == 1) { /* the first of its sender's connections */
            if (k->rk->held)
                col_rate_unhold(k);
            k->rk->wake = 2;
        }
        if (uv_is_closing((uv_handle_t *)&k->tcp))
            continue;
        k->start_ms = k->last_ms = now;
        if (k->frame_ms)
            k->frame_ms = now ? now : 1;
        col_conn_go(k); /* may hold its sender again: the rest then wait */
    }
    for (col_rate_key *rk = c->rate.keys; rk; rk = rk->next)
        rk->wake = 0;
    col_rate_arm(c);
}

static void col_rate_on_timer(uv_timer_t *t)
{
    col_rate_wake(t->data, false);
}

/* Starts the rate timer for the held sender that can be read again first,
 * or stops it when none is held. */
static void col_rate_arm(col *c)
{
    uint64_t now = uv_now(c->loop), next = UINT64_MAX;
    if (c->stopping || c->reading_all || !c->ntcp)
        return;
    for (col_rate_key *rk = c->rate.keys; rk; rk = rk->next)
        if (rk->held) {
            uint64_t w = col_rate_wait_ms(&c->rate, rk, now);
            next = w < next ? w : next;
        }
    if (next == UINT64_MAX)
        uv_timer_stop(&c->rate_timer);
    else
        uv_timer_start(&c->rate_timer, col_rate_on_timer, next ? next : 1, 0);
}

void col_input_rate_reload(col *c)
{
    col_rate_set(&c->rate, c->conf.max_rate_ip, uv_now(c->loop));
    col_rate_wake(c, c->rate.rate <= 0);
}

#define COL_CERT_CHECK_MS (24ull * 3600 * 1000)

/* A server certificate that expires within 14 days (or has expired) is a
 * notice of the collector's own once a day, and after each reload, so that
 * the SOC sees it coming in its SIEM (rules/vigil.yml), not only in the
 * collector's log: once it expires, every unit's TLS sender stops. */
static void col_cert_check(col *c, uint64_t now)
{
    if (!c->tls.ctx || (c->cert_checked_ms && now - c->cert_checked_ms < COL_CERT_CHECK_MS))
        return;
    c->cert_checked_ms = now ? now : 1;
    char text[800], note[900];
    if (col_tls_expiry(&c->tls, c->conf.tls.cert, text, sizeof(text)) > 0) {
        snprintf(note, sizeof(note), "certificate expiry: %s", text);
        col_input_notice(c, note);
    }
}

/* Closes k, whose frame has been unfinished for frame_timeout (a sender
 * trickling a byte now and then is never idle, and held its connection
 * for ever): the bytes it held of the frame are one message, kept raw as
 * read, flagged truncated and malformed (COL_FRAME_CUT_TIMEOUT), not
 * freed unseen; part of a TLS record cannot be read and is dropped.
 * Counted each (frame_timeouts), logged at most once a minute: a
 * slowloris opens them by the hundred. */
static void col_conn_frame_timeout(col *c, col_conn *k, uint64_t now)
{
    c->stats.frame_timeouts++;
    c->frame_unlogged++;
    if (c->frame_logged_ms == 0 || now - c->frame_logged_ms >= 60000) {
        vg_warn("connection from %s closed: its frame unfinished for %llu ms (frame_timeout "
                "%lld ms), %zu bytes of it kept raw; %llu such closes since the last such "
                "message", k->src, (unsigned long long)(now - k->frame_ms),
                (long long)c->conf.frame_ms, k->len, (unsigned long long)c->frame_unlogged);
        c->frame_logged_ms = now ? now : 1;
        c->frame_unlogged = 0;
    }
    if (k->len) {
        col_input_message(c, k->src, (const struct sockaddr *)&k->peer, k->buf, k->len,
                          COL_FRAME_CUT_TIMEOUT);
        k->len = 0;
    }
    col_conn_end(k, COL_FRAME_EOF);
}

/* Once a second: closes TLS connections whose handshake is not done after
 * tls_handshake_timeout (each holds a descriptor and TLS state for nothing:
 * a port scan, or a plain-TCP sender sent to the TLS port), connections
 * silent for idle_timeout when one is set, and those whose frame has been
 * unfinished for frame_timeout (col_conn_frame_timeout). Nothing while paused: no
 * connection is read then. */
static void col_conn_sweep(uv_timer_t *t)
{
    col *c = t->data;
    for (int i = 0; c->accept_stalled && i < c->ntcp; i++)
        if (c->accept_stalled & (1u << i)) {
            c->accept_stalled &= ~(1u << i);
            col_tcp_accept((uv_stream_t *)&c->tcp[i], 0);
        }
    col_cert_check(c, uv_now(c->loop));
    if (c->paused)
        return;
    uint64_t now = uv_now(c->loop), held = 0;
    char more[160];
    col_rate_sweep(&c->rate, now);
    for (col_conn *k = c->conns; k; k = k->next) {
        /* a sender held back by max_rate_per_ip is not read: no timeout */
        if (uv_is_closing((uv_handle_t *)&k->tcp) || (k->rk && k->rk->held))
            continue;
        bool handshake = k->tls && !k->tls->handshake_done &&
                         now - k->start_ms >= (uint64_t)c->conf.handshake_ms;
        bool idle = c->conf.idle_ms > 0 && now - k->last_ms >= (uint64_t)c->conf.idle_ms;
        if (!handshake && !idle && c->conf.frame_ms > 0 && k->frame_ms &&
            now - k->frame_ms >= (uint64_t)c->conf.frame_ms) {
            col_conn_frame_timeout(c, k, now);
            continue;
        }
        if (!handshake && !idle)
            continue;
        if (handshake)
            c->stats.handshake_timeouts++;
        else
            c->stats.idle_closed++;
        /* a port scan leaves connections by the thousand: the counters
         * take each, the log a few a minute */
        if (vg_budget_take(&c->closed_budget, now, &held)) {
            more[0] = '\0';
            if (held)
                snprintf(more, sizeof(more), " (%llu such lines held back before this one: at "
                         "most %d a minute are logged)", (unsigned long long)held,
                         VG_BUDGET_LINES);
            if (handshake)
                vg_info("TLS connection from %s closed: no handshake after %lld ms%s", k->src,
                        (long long)c->conf.handshake_ms, more);
            else
                vg_info("connection from %s closed: idle for %lld ms (idle_timeout)%s", k->src,
                        (long long)c->conf.idle_ms, more);
        }
        col_conn_end(k, handshake ? COL_FRAME_EOF : COL_FRAME_IDLE);
    }
}

/* Many senders at once: one descriptor each. Raise the soft limit to the
 * hard one so that 1,000+ connections need no tuning. */
static void col_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void col_udp_on_timer(uv_timer_t *t)
{
    col_udp_check_drops(t->data);
}

static const char *col_proto_name(enum col_proto p)
{
    return p == COL_UDP ? "udp" : p == COL_TCP ? "tcp" : p == COL_TLS ? "tls" : "unix";
}

int col_input_start(col *c)
{
    col_raise_nofile();
    /* glibc's syslog(3) writes no HOSTNAME to /dev/log: without this, every
     * local program's message would name its host "unix" */
    if (gethostname(c->hostname, sizeof(c->hostname) - 1) != 0 || !c->hostname[0])
        snprintf(c->hostname, sizeof(c->hostname), "localhost");
    if (c->conf.tls.cert) {
        char err[1024];
        int rc = col_tls_init(&c->tls, &c->conf.tls, err, sizeof(err));
        if (rc) {
            vg_error("%s", err);
            return rc;
        }
        col_tls_describe(&c->tls, c->conf.tls.cert);
    }
    c->udp_buf = malloc(65536);
    c->read_buf = malloc(COL_READ_CHUNK);
    if (!c->udp_buf || !c->read_buf)
        return -ENOMEM;
    for (int i = 0; i < c->conf.nlisten; i++) {
        const col_listen *l = &c->conf.ls[i];
        if (l->proto == COL_UNIX) {
            int rc = col_unix_open(c, l->addr);
            if (rc) {
                vg_error("cannot listen on unix://%s: %s", l->addr,
                         rc == -EADDRINUSE ? "another program's stream socket is there, live"
                         : rc == -EEXIST   ? "a file that is not a socket is there"
                                           : strerror(-rc));
                return rc;
            }
            vg_info("listening on unix://%s", l->addr);
            continue;
        }
        struct sockaddr_storage ss;
        if (uv_ip4_addr(l->addr, l->port, (struct sockaddr_in *)&ss) != 0)
            uv_ip6_addr(l->addr, l->port, (struct sockaddr_in6 *)&ss);
        int rc;
        if (l->proto == COL_UDP) {
            uv_udp_t *u = &c->udp[c->nudp++];
            uv_udp_init(c->loop, u);
            u->data = c;
            /* no UV_UDP_REUSEADDR: with it a second collector on the same
             * address started without a word and took every datagram */
            rc = uv_udp_bind(u, (struct sockaddr *)&ss, 0);
            if (rc == 0) {
                char name[300];
                snprintf(name, sizeof(name), "udp://%s:%d", l->addr, l->port);
                col_udp_buffer(u, COL_UDP_BUFFER, name);
                c->udp_ino[c->nudp - 1] = col_udp_inode(u);
                rc = uv_udp_recv_start(u, col_udp_alloc, col_udp_recv);
            }
        } else {
            c->tcp_is_tls[c->ntcp] = l->proto == COL_TLS;
            uv_tcp_t *t = &c->tcp[c->ntcp++];
            uv_tcp_init(c->loop, t);
            t->data = c;
            rc = uv_tcp_bind(t, (struct sockaddr *)&ss, 0);
            if (rc == 0)
                rc = uv_listen((uv_stream_t *)t, 1024, col_tcp_accept);
        }
        /* written as in collector.listen: an IPv6 address in brackets */
        int v6 = strchr(l->addr, ':') != NULL;
        if (rc) {
            vg_error("cannot listen on %s://%s%s%s:%d: %s", col_proto_name(l->proto),
                     v6 ? "[" : "", l->addr, v6 ? "]" : "", l->port, uv_strerror(rc));
            return rc;
        }
        vg_info("listening on %s://%s%s%s:%d", col_proto_name(l->proto), v6 ? "[" : "", l->addr,
                v6 ? "]" : "", l->port);
    }
    if (c->nudp) { /* the kernel's drops, warned about as they grow */
        const vg_pipeline_conf *pc = vg_daemon_pipeline(c->d);
        uint64_t ms = pc && pc->stats_interval > 0 ? (uint64_t)pc->stats_interval : 10000;
        if (col_udp_kernel_drops(c, &c->udp_drops_seen) != 0)
            c->udp_drops_seen = 0; /* new sockets: 0 anyway */
        uv_timer_init(c->loop, &c->stats_timer);
        c->stats_timer.data = c;
        uv_timer_start(&c->stats_timer, col_udp_on_timer, ms, ms);
    }
    c->rate.rate = c->conf.max_rate_ip;
    if (c->ntcp) {
        uv_timer_init(c->loop, &c->rate_timer);
        c->rate_timer.data = c;
        uv_timer_init(c->loop, &c->conn_timer);
        c->conn_timer.data = c;
        uv_timer_start(&c->conn_timer, col_conn_sweep, 1000, 1000);
        col_fd_room(c);
    }
    return 0;
}

/* Out of descriptors, libuv accepts each connection waiting in the backlog
 * and closes it at once (its EMFILE trick) without telling us: the lines
 * the senders wrote on them would be lost uncounted. So the collector keeps
 * COL_FD_RESERVE descriptors for its other files and refuses connections
 * past the rest itself, counted and logged like those past max_connections. */
void col_fd_room(col *c)
{
    struct rlimit rl;
    int64_t room = INT64_MAX;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        room = rl.rlim_cur > COL_FD_RESERVE ? (int64_t)(rl.rlim_cur - COL_FD_RESERVE) : 0;
    if (room < c->conf.max_conns && room != c->fd_conns)
        vg_warn("open files limit %llu is below max_connections (%lld) + %d: connections past "
                "%lld are refused (raise LimitNOFILE or lower max_connections)",
                (unsigned long long)rl.rlim_cur, (long long)c->conf.max_conns, COL_FD_RESERVE,
                (long long)room);
    c->fd_conns = room;
}

/* Connections not being closed: the stats show these, not tcp_open, which
 * counts a connection until its close callback has run (it still holds a
 * descriptor, so max_connections counts it). At a stop every connection is
 * being closed when the final stats line is written. */
uint64_t col_conns_open(const col *c)
{
    uint64_t n = 0;
    for (const col_conn *k = c->conns; k; k = k->next)
        n += !uv_is_closing((const uv_handle_t *)&k->tcp);
    return n;
}

/* At a stop, after its reading: what the kernel still holds for the
 * collector, which the close throws away, counted (stats.unread_at_stop)
 * and said in one warning line, with why the reading left it. A
 * connection: its receive queue (FIONREAD, i.e. SIOCINQ: bytes received
 * and not read; on TLS, ciphertext); not what the sender's kernel still
 * queues past our receive window, which the close's reset tells the sender
 * of. A datagram socket: FIONREAD there gives only the next datagram's
 * length, so its datagrams are taken off and counted, whole lengths
 * (MSG_TRUNC), at most COL_DRAIN_DATAGRAMS. */
static void col_input_unread(col *c)
{
    uint64_t cbytes = 0, dbytes = 0, dgrams = 0;
    unsigned nconn = 0, nsock = 0;
    for (col_conn *k = c->conns; k; k = k->next) {
        uv_os_fd_t fd;
        int q = 0;
        if (uv_is_closing((uv_handle_t *)&k->tcp) || uv_fileno((uv_handle_t *)&k->tcp, &fd) != 0 ||
            ioctl(fd, FIONREAD, &q) != 0 || q <= 0)
            continue;
        cbytes += (uint64_t)q;
        nconn++;
    }
    for (int i = 0; i < c->nudp + c->nunix; i++) {
        uv_os_fd_t fd = i < c->nudp ? -1 : c->unix_fd[i - c->nudp];
        if (i < c->nudp && uv_fileno((uv_handle_t *)&c->udp[i], &fd) != 0)
            continue;
        /* a Unix socket was shut for reading before its reading
         * (col_input_stop): what is left here is what that reading's
         * limit left, and no sender can put one more in after the count */
        uint64_t before = dgrams;
        for (int j = 0; j < COL_DRAIN_DATAGRAMS; j++) {
            char one;
            ssize_t n = recv(fd, &one, 1, MSG_TRUNC | MSG_DONTWAIT);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                break;
            dbytes += (uint64_t)n;
            dgrams++;
        }
        nsock += dgrams > before;
    }
    c->stats.unread_at_stop = cbytes + dbytes;
    if (!c->stats.unread_at_stop && !dgrams)
        return;
    const char *why = !c->paused ? "sent after the stop's reading, or past its limits"
                      : c->spool_rc == VG_EFULL ? "spool full"
                                                : "spool commits failing";
    vg_warn("stop: %llu bytes left unread and lost with the close: %llu on %u connection%s, "
            "%llu in %llu datagram%s on %u datagram socket%s (%s)",
            (unsigned long long)(cbytes + dbytes), (unsigned long long)cbytes, nconn,
            nconn == 1 ? "" : "s", (unsigned long long)dbytes, (unsigned long long)dgrams,
            dgrams == 1 ? "" : "s", nsock, nsock == 1 ? "" : "s", why);
}

/* Makes a TCP socket deaf, at a stop: a socket filter that drops every
 * packet before TCP sees it, so that its kernel acknowledges no more bytes
 * (and, on a listener, completes no more handshakes; a connection made
 * from it after this inherits the filter). A sender takes the bytes the
 * collector's kernel acknowledged as delivered, so every one of them must
 * be read or counted as unread: without this, bytes that arrived between
 * the last reading and the close (or a connection completed after the
 * last accept) were acknowledged, then thrown away by the close with a
 * reset, counted nowhere. What the filter drops stays unacknowledged in
 * the sender's queue, and the close's reset (or, on a listener, the
 * refused connection) tells the sender. Best effort: a kernel that refuses
 * the filter leaves the old window. */
static void col_input_deafen(uv_tcp_t *h)
{
    uv_os_fd_t fd;
    struct sock_filter drop = BPF_STMT(BPF_RET | BPF_K, 0);
    struct sock_fprog prog = {.len = 1, .filter = &drop};
    if (uv_is_closing((uv_handle_t *)h) || uv_fileno((uv_handle_t *)h, &fd) != 0)
        return;
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) != 0)
        vg_debug("stop: cannot attach a socket filter: %s", strerror(errno));
}

/* Waits until no packet can still be on its way into a socket made deaf
 * (col_input_deafen) past its filter. The kernel runs the filter first
 * and queues the packet after, both in one softirq, so a packet received
 * on the other CPU while the filter was being attached may have passed
 * the old one (none) and be queued a moment later: after the stop's last
 * reading, acknowledged and then lost with the close, uncounted (a vCPU
 * held up there by the hypervisor widens that moment to milliseconds).
 * That path is an RCU read-side section, and membarrier's GLOBAL command
 * returns only after an RCU grace period (synchronize_rcu), so every such
 * packet is queued by then and the reading after this finds it. Without
 * the command (nohz_full CPUs, an old kernel), a 20 ms pause instead:
 * best effort. Once per stop for the listeners and once for the
 * connections; a grace period is a few to tens of milliseconds. */
static void col_input_settle(const char *what)
{
    uint64_t t0 = uv_hrtime();
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) != 0) {
        vg_debug("stop: membarrier: %s; pausing 20 ms instead", strerror(errno));
        uv_sleep(20);
    }
    vg_debug("stop: %s settled in %.1f ms", what, (double)(uv_hrtime() - t0) / 1e6);
}

/* Makes a deaf connection's close a reset (SO_LINGER 0), at a stop. Its
 * filter drops the sender's ACK of our FIN and every byte it sends after
 * it: a plain close (FIN) would leave the sender in CLOSE_WAIT, its bytes
 * unacknowledged and retransmitted into the filter of our orphaned socket,
 * told of nothing until that socket dies minutes later (a sender writing
 * across a stop: still in CLOSE_WAIT, 11,961 bytes unacknowledged, 8 s
 * after the collector exited). The reset tells it at once; what it wrote
 * after the filter was never acknowledged. */
static void col_input_reset_on_close(uv_tcp_t *h)
{
    uv_os_fd_t fd;
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    if (uv_is_closing((uv_handle_t *)h) || uv_fileno((uv_handle_t *)h, &fd) != 0)
        return;
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0)
        vg_debug("stop: cannot set SO_LINGER: %s", strerror(errno));
}

/* Stops intake: what the kernel still holds for each socket is read first
 * (bounded: COL_DRAIN_*), then listeners and connections close; an
 * unfinished frame already read is kept (col_conn_end). Connections still
 * in a listener's backlog are accepted and read too, once before the
 * connections are read and once after (those that came meanwhile); before
 * the second, the listeners are made deaf (col_input_deafen), so that no
 * connection completes after it (col_input_settle: not even one whose
 * packet was past the filter as it was attached). Then each connection is
 * made deaf and, once settled the same way, what reached it since its
 * reading is read (or, past the limits, counted
 * and logged: col_input_unread), so that every byte the kernel
 * acknowledged is read or counted; its close is a reset
 * (col_input_reset_on_close). A sender's bytes that came after that
 * were never acknowledged (see docs/architecture.md). */
void col_input_stop(col *c)
{
    c->reading_all = 1; /* max_rate_per_ip holds nothing back now */
    if (c->ntcp && !uv_is_closing((uv_handle_t *)&c->rate_timer))
        uv_close((uv_handle_t *)&c->rate_timer, NULL);
    col_spool_stop_pause(c); /* a full spool: read all the same */
    for (int i = 0; i < c->nudp; i++)
        col_udp_drain(c, &c->udp[i]);
    /* A Unix socket is shut for reading before it is read: what is queued
     * is still read, and a local sender's send fails (EPIPE) from here on.
     * Shut only when the count came (col_input_unread), after the
     * connections were read, a datagram sent meanwhile was taken by the
     * kernel, its sender told it was sent, and lost with the close. */
    for (int i = 0; i < c->nunix; i++) {
        shutdown(c->unix_fd[i], SHUT_RD);
        col_unix_take(c, c->unix_fd[i], COL_DRAIN_DATAGRAMS);
    }
    uint64_t deadline = uv_hrtime() + (uint64_t)COL_DRAIN_MS * 1000000;
    for (int round = 0; round < 2; round++) {
        col_conn *read_before = round ? c->conns : NULL; /* new ones go first */
        for (int i = 0; round && i < c->ntcp; i++)
            col_input_deafen(&c->tcp[i]);
        if (round && c->ntcp)
            col_input_settle("the listeners' filters");
        for (int i = 0; i < c->ntcp; i++)
            col_tcp_accept_pending(c, i);
        /* oldest first (the list holds the newest first): lines a sender
         * wrote on one connection, then on a newer one, are spooled in
         * that order. Newest first, they came out of order, as far apart
         * in event time as the sender got ahead meanwhile (in a test: 8
         * minutes, past the correlator's lateness). */
        col_conn *oldest = NULL;
        for (col_conn *k = c->conns; k && k != read_before; k = k->next)
            oldest = k;
        for (col_conn *k = oldest; k; k = k->prev)
            col_conn_drain(k, deadline);
    }
    /* what came since each connection's reading, now that no more can
     * (deadline 0: what is queued, no waiting) */
    col_conn *oldest = NULL;
    for (col_conn *k = c->conns; k; k = k->next)
        oldest = k;
    for (col_conn *k = oldest; k; k = k->prev) {
        col_input_deafen(&k->tcp);
        col_input_reset_on_close(&k->tcp);
    }
    if (oldest)
        col_input_settle("the connections' filters");
    for (col_conn *k = oldest; k; k = k->prev)
        col_conn_drain(k, 0);
    col_input_unread(c);
    if (c->nudp) { /* the last count, while the sockets are still listed */
        col_udp_check_drops(c);
        if (!uv_is_closing((uv_handle_t *)&c->stats_timer))
            uv_close((uv_handle_t *)&c->stats_timer, NULL);
    }
    for (int i = 0; i < c->nudp; i++)
        uv_close((uv_handle_t *)&c->udp[i], NULL);
    for (int i = 0; i < c->ntcp; i++)
        uv_close((uv_handle_t *)&c->tcp[i], NULL);
    if (c->ntcp && !uv_is_closing((uv_handle_t *)&c->conn_timer))
        uv_close((uv_handle_t *)&c->conn_timer, NULL);
    for (int i = 0; i < c->nunix; i++) {
        uv_close((uv_handle_t *)&c->unix_poll[i], NULL);
        close(c->unix_fd[i]);
    }
    for (col_conn *k = c->conns; k; k = k->next)
        if (!uv_is_closing((uv_handle_t *)&k->tcp))
            col_conn_end(k, COL_FRAME_STOPPED);
}
