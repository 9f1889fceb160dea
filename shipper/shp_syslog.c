/* Syslog output: one RFC 5424 message per alert, its MSG a CEF or LEEF 2.0
 * line (lib/cef.c), over UDP (RFC 5426), TCP (RFC 6587 octet counting) or
 * TLS (RFC 5425). The whole behaviour is described in docs/shipper-syslog.md.
 *
 * Delivery. Syslog has no application acknowledgement, so for TCP and TLS
 * the strongest proof available is the receiver's kernel: an attempt
 * succeeds only once SIOCOUTQ on our socket is 0, i.e. the peer's TCP has
 * acknowledged every byte we wrote, while the connection is still
 * established (or was closed by the peer with a FIN, which Linux sends only
 * when the application read everything). Until then the batch is not
 * delivered: a reset, an EOF before the acknowledgement, a TLS alert or the
 * attempt's timeout closes the connection and fails the attempt, and the
 * driver sends the batch again after its backoff (at least once). UDP
 * succeeds when sendto() did: no guarantee at all.
 *
 * Lifetime. Everything runs on the shipper's loop. The state (shp_sl) owns
 * two timers, a UDP handle (udp:// only), at most one current connection
 * and at most one name resolution; a failed connection is detached and
 * closed, and lives until its close callback. 'refs' counts the handles
 * and requests whose callbacks are still due, so that close() can free the
 * state and call shp_out_closed() only after the last one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "shp_out.h"
#include "shp_tls_client.h"
#include "vigil/cef.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/syslog.h"
#include "vigil/tls.h"

#ifndef VG_VERSION
#define VG_VERSION ""
#endif

#define SHP_SYSLOG_MIN_SIZE 480    /* RFC 5424 6.1: every receiver takes this much */
#define SHP_SYSLOG_UDP_MAX 65507   /* largest UDP payload over IPv4 */
#define SHP_SYSLOG_POLL_FIRST_MS 2 /* first SIOCOUTQ re-check after the write */
#define SHP_SYSLOG_POLL_MAX_MS 20  /* re-checks back off to this interval */
#define SHP_SYSLOG_TLS13_GRACE_MS 500
#define SHP_SYSLOG_DEFAULT_TIMEOUT_MS 10000
#define SHP_SYSLOG_MAX_ADDRS 8

enum shp_sl_proto { SHP_SL_UDP, SHP_SL_TCP, SHP_SL_TLS };

static const char *const shp_syslog_keys[] = {
    "url",      "format",   "framing", "leef_delimiter",   "facility",
    "hostname", "app_name", "max_message_size", "tls_ca",
    "tls_cert", "tls_key",  "tls_verify",       "tls_server_name",
    "tls_ciphers", "tls_crl", NULL};

typedef struct shp_sl_url {
    int proto;      /* enum shp_sl_proto */
    char host[256]; /* without the brackets of an IPv6 literal */
    char port[6];
} shp_sl_url;

typedef struct shp_sl shp_sl;

enum shp_sl_conn_state { SHP_CONN_CONNECTING, SHP_CONN_HANDSHAKE, SHP_CONN_READY };

/* One TCP (or TLS) connection. Freed in its close callback. */
typedef struct shp_sl_conn {
    shp_sl *sl; /* always valid: the state outlives its connections */
    uv_tcp_t tcp;
    uv_connect_t creq;
    int state; /* enum shp_sl_conn_state */
    int closing;
    int writes; /* uv_write requests not completed */
    int tls_on;
    shp_tls_client tls;
    char peer[80]; /* "ADDR:PORT", for messages */
} shp_sl_conn;

/* A write request; buf is owned (TLS ciphertext) or NULL (batch bytes). */
typedef struct shp_sl_wreq {
    uv_write_t req;
    shp_sl_conn *c;
    char *buf;
} shp_sl_wreq;

struct shp_sl {
    shp_out *o;
    /* settings, from o->conf at open */
    shp_sl_url url;
    int facility;
    int leef;
    int newline;          /* framing: newline (tcp/tls) */
    vg_leef_opts leef_opts;
    char hostname[256];
    char app[49];
    size_t limit; /* largest message (header + MSG) we send */
    int64_t timeout_ms;
    char server_name[256]; /* TLS name to verify and send as SNI */
    shp_tls_client_ctx tls;
    vg_buf msg; /* scratch: one message before its frame */
    /* where to */
    struct sockaddr_storage addrs[SHP_SYSLOG_MAX_ADDRS];
    int naddrs, next_addr;
    uv_getaddrinfo_t *gai; /* resolution in progress, or NULL */
    /* the connection (TCP, TLS) or socket (UDP) */
    shp_sl_conn *conn; /* current connection, or NULL */
    uv_udp_t udp;
    int udp_connected;
    struct shp_sl_udp_att *uatt; /* UDP attempt in flight, or NULL */
    /* the attempt in flight */
    shp_batch *batch;      /* NULL: none */
    shp_sl_conn *wrote_on; /* the connection it was written to, or NULL */
    uv_timer_t deadline;   /* the attempt's timeout */
    size_t unacked;        /* bytes not acknowledged at the last deadline (SIZE_MAX: none yet) */
    uv_timer_t poll;       /* SIOCOUTQ re-checks; TLS 1.3 grace */
    int poll_ms;
    /* counters (report) */
    uint64_t connects, connect_errors, disconnects, truncated, tls_errors, discarded;
    uint64_t tls_revoked; /* handshakes failed on a certificate tls_crl revokes */
    /* lifetime */
    int refs;
    int closing;
};

/* ---- settings ------------------------------------------------------------ */

static int shp_syslog_url_parse(const char *url, shp_sl_url *u, const char **why)
{
    memset(u, 0, sizeof(*u));
    const char *p;
    if (!url || !url[0]) {
        *why = "'url' is required (udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT)";
        return -EINVAL;
    }
    if (strncmp(url, "udp://", 6) == 0)
        u->proto = SHP_SL_UDP, p = url + 6;
    else if (strncmp(url, "tcp://", 6) == 0)
        u->proto = SHP_SL_TCP, p = url + 6;
    else if (strncmp(url, "tls://", 6) == 0)
        u->proto = SHP_SL_TLS, p = url + 6;
    else {
        *why = "url must start with udp://, tcp:// or tls://";
        return -EINVAL;
    }
    const char *hend, *colon;
    if (*p == '[') {
        hend = strchr(p, ']');
        if (!hend || hend[1] != ':') {
            *why = "an IPv6 address in a url is written [ADDR]:PORT";
            return -EINVAL;
        }
        colon = hend + 1;
        p++;
        struct in6_addr a6;
        char tmp[64];
        size_t n = (size_t)(hend - p);
        if (n == 0 || n >= sizeof(tmp) ||
            (memcpy(tmp, p, n), tmp[n] = '\0', inet_pton(AF_INET6, tmp, &a6) != 1)) {
            *why = "not an IPv6 address between [ and ]";
            return -EINVAL;
        }
    } else {
        colon = strrchr(p, ':');
        hend = colon;
        if (!colon || strchr(p, ':') != colon) {
            *why = "url needs HOST:PORT (an IPv6 address in brackets: [::1]:514)";
            return -EINVAL;
        }
    }
    size_t hn = (size_t)(hend - p);
    if (hn == 0 || hn >= sizeof(u->host)) {
        *why = "url has no host, or one longer than 255 bytes";
        return -EINVAL;
    }
    for (size_t i = 0; i < hn; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch <= ' ' || ch >= 0x7f || ch == '/' || ch == '@') {
            *why = "url host has a character that no host name or address has";
            return -EINVAL;
        }
    }
    memcpy(u->host, p, hn);
    const char *port = colon + 1;
    size_t pn = strlen(port);
    long v = 0;
    for (size_t i = 0; i < pn; i++) {
        if (port[i] < '0' || port[i] > '9') {
            v = -1;
            break;
        }
        v = v * 10 + (port[i] - '0');
        if (v > 65535)
            break;
    }
    if (pn == 0 || pn > 5 || v < 1 || v > 65535) {
        *why = "url port must be 1..65535 (and nothing may follow it)";
        return -EINVAL;
    }
    memcpy(u->port, port, pn + 1);
    return 0;
}

static int shp_syslog_facility(const char *s)
{
    if (!s || !s[0])
        return 16; /* local0, the loader's default too */
    for (int i = 0; i < 24; i++)
        if (strcmp(s, vg_syslog_facilities[i]) == 0)
            return i;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end == '\0' && v >= 0 && v <= 23)
        return (int)v;
    return -1;
}

/* RFC 5424 PRINTUSASCII (33..126), 1..max bytes. */
static int shp_syslog_printusascii(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126)
            return 0;
    return 1;
}

static const vg_node *shp_syslog_at(const vg_node *sec, const char *key)
{
    const vg_node *n = sec ? vg_node_get(sec, key) : NULL;
    return n ? n : sec;
}

static int shp_syslog_is_set(const char *s)
{
    return s && s[0];
}

static int shp_syslog_check(const shp_out_conf *c, const vg_node *sec, char *err, size_t errlen)
{
    shp_sl_url u;
    const char *why = NULL;
    if (shp_syslog_url_parse(c->url, &u, &why) != 0)
        return vg_conf_errf(err, errlen, shp_syslog_at(sec, "url"), "%s", why);
    int leef = 0;
    if (shp_syslog_is_set(c->format)) {
        if (strcmp(c->format, "leef") == 0)
            leef = 1;
        else if (strcmp(c->format, "cef") != 0)
            return vg_conf_errf(err, errlen, shp_syslog_at(sec, "format"),
                                "format must be cef or leef, not '%s'", c->format);
    }
    if (shp_syslog_is_set(c->leef_delimiter)) {
        char d;
        if (!leef)
            return vg_conf_errf(err, errlen, shp_syslog_at(sec, "leef_delimiter"),
                                "leef_delimiter needs format: leef");
        if (vg_leef_delim_parse(c->leef_delimiter, &d) != 0)
            return vg_conf_errf(err, errlen, shp_syslog_at(sec, "leef_delimiter"),
                                "leef_delimiter '%s' is not one character or its hex code "
                                "(x09, 0x5E), or is one LEEF cannot use (= | \\ , ' - . : + _, "
                                "letters, digits, space)",
                                c->leef_delimiter);
    }
    if (strcmp(c->framing, "octet-counting") != 0 && strcmp(c->framing, "newline") != 0)
        return vg_conf_errf(err, errlen, shp_syslog_at(sec, "framing"),
                            "framing must be octet-counting or newline, got '%s'", c->framing);
    if (strcmp(c->framing, "newline") == 0 && u.proto == SHP_SL_UDP)
        return vg_conf_errf(err, errlen, shp_syslog_at(sec, "framing"),
                            "framing is only for tcp:// and tls:// urls");
    if (shp_syslog_facility(c->facility) < 0)
        return vg_conf_errf(
            err, errlen, shp_syslog_at(sec, "facility"),
            "facility '%s' is not a syslog facility (kern, user, ..., local0..local7, "
            "or 0..23)",
            c->facility);
    if (shp_syslog_is_set(c->hostname) && !shp_syslog_printusascii(c->hostname, 255))
        return vg_conf_errf(err, errlen, shp_syslog_at(sec, "hostname"),
                            "hostname must be 1..255 printable ASCII characters without spaces");
    if (shp_syslog_is_set(c->app_name) && !shp_syslog_printusascii(c->app_name, 48))
        return vg_conf_errf(err, errlen, shp_syslog_at(sec, "app_name"),
                            "app_name must be 1..48 printable ASCII characters without spaces");
    if (c->max_message_size && c->max_message_size < SHP_SYSLOG_MIN_SIZE)
        return vg_conf_errf(err, errlen, shp_syslog_at(sec, "max_message_size"),
                            "max_message_size must be at least %d (RFC 5424's minimum)",
                            SHP_SYSLOG_MIN_SIZE);
    static const char *const tls_keys[] = {"tls_ca",          "tls_cert",    "tls_key",
                                           "tls_server_name", "tls_ciphers", "tls_crl"};
    const char *tls_vals[] = {c->tls_ca,          c->tls_cert,    c->tls_key,
                              c->tls_server_name, c->tls_ciphers, c->tls_crl};
    if (u.proto != SHP_SL_TLS) {
        for (size_t i = 0; i < sizeof(tls_keys) / sizeof(tls_keys[0]); i++)
            if (shp_syslog_is_set(tls_vals[i]))
                return vg_conf_errf(err, errlen, shp_syslog_at(sec, tls_keys[i]),
                                    "%s is only for tls:// urls", tls_keys[i]);
        if (!c->tls_verify)
            return vg_conf_errf(err, errlen, shp_syslog_at(sec, "tls_verify"),
                                "tls_verify is only for tls:// urls");
        return 0;
    }
    if (shp_syslog_is_set(c->tls_cert) != shp_syslog_is_set(c->tls_key))
        return vg_conf_errf(
            err, errlen,
            shp_syslog_at(sec, shp_syslog_is_set(c->tls_cert) ? "tls_cert" : "tls_key"),
            "tls_cert and tls_key go together");
    if (shp_syslog_is_set(c->tls_crl) && !c->tls_verify)
        return vg_conf_errf(err, errlen, shp_syslog_at(sec, "tls_crl"),
                            "tls_crl is set but tls_verify is false: nothing would be checked");
    if (shp_syslog_is_set(c->tls_server_name) && !shp_syslog_printusascii(c->tls_server_name, 253))
        return vg_conf_errf(err, errlen, shp_syslog_at(sec, "tls_server_name"),
                            "tls_server_name must be a host name or an address");
    char why2[600];
    int rc;
    if (shp_syslog_is_set(c->tls_ciphers) &&
        (rc = vg_tls_ciphers_conf(c->tls_ciphers, shp_syslog_at(sec, "tls_ciphers"),
                                  "tls_ciphers", err, errlen)) != 0)
        return rc;
    /* Load the files now, so that -t and a reload say what is wrong with
     * them instead of every delivery attempt failing later. */
    shp_tls_client_ctx t;
    rc = shp_tls_client_ctx_init(&t, c->tls_ca, c->tls_crl, c->tls_cert, c->tls_key,
                                 c->tls_verify, c->tls_ciphers, why2, sizeof(why2));
    if (rc) {
        return vg_conf_errf(err, errlen, t.bad_key ? shp_syslog_at(sec, t.bad_key) : sec, "%s",
                            why2);
    }
    shp_tls_client_ctx_free(&t);
    return 0;
}

/* ---- formatting ---------------------------------------------------------- */

/* RFC 5424 severity from the rule level: 13..15 crit (2), 10..12 err (3),
 * 6..9 warning (4), 0..5 notice (5): the bands of the CEF severity
 * (docs/cef-leef.md), one syslog severity each. Never emerg/alert: those
 * mean the system itself is unusable. */
static int shp_syslog_severity(int32_t level)
{
    return level >= 13 ? 2 : level >= 10 ? 3 : level >= 6 ? 4 : 5;
}

/* TIMESTAMP: UTC with microseconds, "2026-11-25T02:14:17.123456Z"; "-"
 * (NILVALUE) for a time that has no four-digit year. */
static void shp_syslog_time(int64_t us, char *out, size_t cap)
{
    int64_t s = us / 1000000, f = us % 1000000;
    if (f < 0)
        f += 1000000, s--;
    time_t t = (time_t)s;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
        snprintf(out, cap, "-");
        return;
    }
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)f);
}

/* Where to cut a message of len bytes to at most limit (> hdr): never
 * inside a UTF-8 sequence, and for CEF never after the backslash of an
 * escape, so that the cut line is still valid UTF-8 and valid escaping. */
static size_t shp_syslog_cut(const char *p, size_t hdr, size_t limit, int cef)
{
    size_t n = limit;
    while (n > hdr && ((unsigned char)p[n] & 0xC0) == 0x80)
        n--;
    if (cef) {
        size_t bs = 0;
        while (n - bs > hdr && p[n - bs - 1] == '\\')
            bs++;
        if (bs & 1)
            n--;
    }
    return n;
}

static int shp_syslog_format(shp_out *o, const vg_alert *al, vg_buf *b)
{
    shp_sl *sl = o->tp;
    vg_buf *m = &sl->msg;
    char ts[40];
    m->len = 0;
    m->oom = 0;
    shp_syslog_time(al->ts_us, ts, sizeof(ts));
    int pri = sl->facility * 8 + shp_syslog_severity(al->level);
    const char *msgid = vg_str_eq(al->kind, "summary") ? "summary" : "alert";
    /* No BOM before MSG: CEF and LEEF receivers take the MSG as the line,
     * and a BOM would become part of "CEF:0". */
    int rc = vg_buf_addf(m, "<%d>1 %s %s %s - %s - ", pri, ts, sl->hostname, sl->app, msgid);
    if (rc)
        return rc;
    size_t hdr = m->len;
    rc = sl->leef ? vg_leef_alert(m, al, VG_VERSION, &sl->leef_opts)
                  : vg_cef_alert(m, al, VG_VERSION);
    if (rc)
        return rc;
    if (m->len > sl->limit) {
        m->len = shp_syslog_cut(m->p, hdr, sl->limit, !sl->leef);
        sl->truncated++;
    }
    size_t start = b->len;
    if (sl->url.proto != SHP_SL_UDP && !sl->newline)
        rc = vg_buf_addf(b, "%zu ", m->len); /* RFC 6587 3.4.1: MSG-LEN SP SYSLOG-MSG */
    if (!rc)
        rc = vg_buf_add(b, m->p, m->len);
    /* 3.4.2, for receivers without octet counting: safe because a CEF or
     * LEEF line never holds a raw LF (lib/cef.c escapes it). */
    if (!rc && sl->newline)
        rc = vg_buf_addc(b, '\n');
    if (rc)
        b->len = start; /* the item is whole or absent */
    return rc;
}

/* ---- the attempt --------------------------------------------------------- */

static void shp_syslog_unref(shp_sl *sl);
static void shp_syslog_connect_next(shp_sl *sl);
static void shp_syslog_write(shp_sl *sl);
static void shp_syslog_on_poll(uv_timer_t *t);

/* Ends the attempt in flight, if any. The driver may start the next one
 * from inside shp_out_done, so nothing of the attempt is touched after. */
static void shp_syslog_end(shp_sl *sl, int rc, const char *why)
{
    uv_timer_stop(&sl->deadline);
    uv_timer_stop(&sl->poll);
    sl->uatt = NULL; /* a UDP attempt still sending is abandoned */
    sl->wrote_on = NULL;
    if (!sl->batch)
        return;
    sl->batch = NULL;
    shp_out_done(sl->o, rc, why);
}

static void shp_syslog_conn_closed(uv_handle_t *h)
{
    shp_sl_conn *c = h->data;
    shp_sl *sl = c->sl;
    if (c->tls_on)
        shp_tls_client_free(&c->tls);
    free(c);
    shp_syslog_unref(sl);
}

/* Detaches the current connection (if any) and closes it. */
static void shp_syslog_drop(shp_sl *sl)
{
    shp_sl_conn *c = sl->conn;
    if (sl->gai) {
        uv_cancel((uv_req_t *)sl->gai); /* its callback still comes, and frees it */
        sl->gai = NULL;
    }
    if (!c)
        return;
    sl->conn = NULL;
    if (c->state == SHP_CONN_READY)
        sl->disconnects++;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, shp_syslog_conn_closed);
}

/* The attempt failed: close the connection, let the driver retry. */
__attribute__((format(printf, 3, 4))) static void shp_syslog_fail(shp_sl *sl, int rc,
                                                                  const char *fmt, ...)
{
    char why[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    shp_syslog_drop(sl);
    if (sl->batch) {
        shp_syslog_end(sl, rc, why);
    } else {
        /* Between batches: nothing is lost; the next batch reconnects. */
        vg_info("output %s: %s; reconnecting with the next batch", sl->o->conf.name, why);
        uv_timer_stop(&sl->deadline);
        uv_timer_stop(&sl->poll);
    }
}

/* Bytes of the written batch the receiver's kernel has not acknowledged
 * (still in libuv's queue or in our socket's), or SIZE_MAX when that
 * cannot be told. */
static size_t shp_syslog_unacked(shp_sl *sl)
{
    shp_sl_conn *c = sl->conn;
    uv_os_fd_t fd;
    int outq = 0;
    if (!c || !sl->batch || c->state != SHP_CONN_READY || sl->wrote_on != c ||
        uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0 || ioctl(fd, SIOCOUTQ, &outq) != 0 ||
        outq < 0)
        return SIZE_MAX;
    return uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) + (size_t)outq;
}

static void shp_syslog_on_deadline(uv_timer_t *t)
{
    shp_sl *sl = t->data;
    shp_sl_conn *c = sl->conn;
    /* A receiver that is still taking the batch (a thin link, a long
     * backlog) gets another timeout while it makes progress: failing it
     * sent the same batch again and again, and the output never moved.
     * One that stopped reading (its window is full) fails as before, and
     * nothing of the batch counts as sent. */
    size_t unacked = shp_syslog_unacked(sl);
    if (unacked != SIZE_MAX && unacked < sl->unacked) {
        sl->unacked = unacked;
        uv_timer_start(&sl->deadline, shp_syslog_on_deadline, (uint64_t)sl->timeout_ms, 0);
        return;
    }
    const char *what = sl->gai                           ? "resolving the host"
                       : !c                              ? "sending"
                       : c->state == SHP_CONN_CONNECTING ? "connecting"
                       : c->state == SHP_CONN_HANDSHAKE  ? "the TLS handshake"
                       : c->writes                       ? "writing"
                                                         : "the receiver's acknowledgement";
    if (c && c->state == SHP_CONN_CONNECTING)
        sl->connect_errors++;
    shp_syslog_fail(sl, -ETIMEDOUT, "%s:%s: timed out after %" PRId64 " ms waiting for %s",
                    sl->url.host, sl->url.port, sl->timeout_ms, what);
}

/* Has the receiver's kernel acknowledged every byte we wrote? */
static void shp_syslog_check_acked(shp_sl *sl)
{
    shp_sl_conn *c = sl->conn;
    uv_os_fd_t fd;
    /* Only once the batch itself was written: handshake records written
     * before it are acknowledged too, and prove nothing about it. */
    if (!c || !sl->batch || sl->wrote_on != c || c->writes)
        return;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0) {
        shp_syslog_fail(sl, -EBADF, "%s: connection lost", c->peer);
        return;
    }
    int outq = 0, soerr = 0;
    socklen_t sl_len = sizeof(soerr);
    struct tcp_info ti;
    socklen_t ti_len = sizeof(ti);
    memset(&ti, 0, sizeof(ti));
    if (ioctl(fd, SIOCOUTQ, &outq) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl_len) != 0 ||
        getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &ti_len) != 0) {
        int e = errno;
        shp_syslog_fail(sl, -e, "%s: cannot read the socket's state: %s", c->peer, strerror(e));
        return;
    }
    if (soerr) {
        shp_syslog_fail(sl, -soerr, "%s: %s", c->peer, strerror(soerr));
        return;
    }
    /* ESTABLISHED, or CLOSE_WAIT: the peer closed with a FIN after its
     * kernel acknowledged our bytes; any other state means a reset, which
     * also empties the queue, so 0 would prove nothing. */
    if (ti.tcpi_state != TCP_ESTABLISHED && ti.tcpi_state != TCP_CLOSE_WAIT) {
        shp_syslog_fail(sl, -ECONNRESET, "%s: connection reset by the receiver", c->peer);
        return;
    }
    if (outq == 0) {
        /* Bytes (a TLS alert) or a reset may be waiting that the loop has
         * not read yet, since timers run before I/O: look first. */
        char x;
        ssize_t r = recv(fd, &x, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            int e = errno;
            shp_syslog_fail(sl, -e, "%s: %s", c->peer, strerror(e));
            return;
        }
        if (r <= 0) { /* nothing to read, or a clean EOF after the ack */
            vg_debug("output %s: %s acknowledged all %zu bytes of %zu alerts", sl->o->conf.name,
                     c->peer, sl->batch->data.len, sl->batch->n);
            sl->poll_ms = 0;
            shp_syslog_end(sl, 0, NULL);
            return;
        }
        /* r > 0: let the read callback see it, then look again. */
    }
    sl->poll_ms = sl->poll_ms ? sl->poll_ms * 2 : SHP_SYSLOG_POLL_FIRST_MS;
    if (sl->poll_ms > SHP_SYSLOG_POLL_MAX_MS)
        sl->poll_ms = SHP_SYSLOG_POLL_MAX_MS;
    uv_timer_start(&sl->poll, shp_syslog_on_poll, (uint64_t)sl->poll_ms, 0);
}

static void shp_syslog_ready(shp_sl *sl, shp_sl_conn *c, const char *how)
{
    c->state = SHP_CONN_READY;
    sl->connects++;
    if (c->tls_on)
        vg_info("output %s: connected to %s, %s, %s%s", sl->o->conf.name, c->peer,
                SSL_get_version(c->tls.ssl), SSL_get_cipher_name(c->tls.ssl), how);
    else
        vg_info("output %s: connected to %s%s", sl->o->conf.name, c->peer, how);
    if (sl->batch)
        shp_syslog_write(sl);
}

static void shp_syslog_on_poll(uv_timer_t *t)
{
    shp_sl *sl = t->data;
    shp_sl_conn *c = sl->conn;
    if (c && c->state == SHP_CONN_HANDSHAKE) { /* TLS 1.3 grace ended without a ticket */
        shp_syslog_ready(sl, c, " (TLS 1.3; no session ticket from the server, taken as accepted)");
        return;
    }
    shp_syslog_check_acked(sl);
}

/* ---- TCP and TLS connections --------------------------------------------- */

static void shp_syslog_on_write(uv_write_t *req, int status)
{
    shp_sl_wreq *w = (shp_sl_wreq *)req;
    shp_sl_conn *c = w->c;
    shp_sl *sl = c->sl;
    free(w->buf);
    free(w);
    c->writes--;
    if (c->closing || sl->conn != c)
        return; /* cancelled by the close: the attempt already ended */
    if (status < 0) {
        shp_syslog_fail(sl, status, "%s: write failed: %s", c->peer, uv_strerror(status));
        return;
    }
    if (c->writes == 0 && sl->batch && sl->wrote_on == c) {
        sl->poll_ms = 0;
        shp_syslog_check_acked(sl);
    }
}

/* Queues n bytes on the connection; owned (malloc'ed, freed after) or not
 * (the batch's bytes, which live until shp_out_done). */
static int shp_syslog_queue(shp_sl_conn *c, char *p, size_t n, int owned)
{
    shp_sl_wreq *w = calloc(1, sizeof(*w));
    if (!w) {
        if (owned)
            free(p);
        return -ENOMEM;
    }
    w->c = c;
    w->buf = owned ? p : NULL;
    uv_buf_t b = uv_buf_init(p, (unsigned)n);
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, shp_syslog_on_write);
    if (rc) {
        free(w->buf);
        free(w);
        return rc;
    }
    c->writes++;
    return 0;
}

/* Sends what OpenSSL has for the server (handshake, records, alerts). */
static int shp_syslog_tls_flush(shp_sl_conn *c)
{
    char *buf;
    size_t n;
    int rc = shp_tls_client_pending(&c->tls, &buf, &n);
    if (rc || n == 0)
        return rc;
    return shp_syslog_queue(c, buf, n, 1);
}

/* Writes the batch in flight on the ready connection. */
static void shp_syslog_write(shp_sl *sl)
{
    shp_sl_conn *c = sl->conn;
    shp_batch *b = sl->batch;
    int rc;
    if (b->data.len == 0) {
        shp_syslog_end(sl, 0, NULL);
        return;
    }
    sl->wrote_on = c;
    if (c->tls_on) {
        char why[400];
        rc = shp_tls_client_write(&c->tls, b->data.p, b->data.len, why, sizeof(why));
        if (rc) {
            sl->tls_errors++;
            shp_syslog_fail(sl, rc, "%s: TLS: %s", c->peer, why);
            return;
        }
        rc = shp_syslog_tls_flush(c);
    } else {
        /* unsigned: uv_buf_t's length; a batch is far below 4 GiB */
        rc = b->data.len > UINT32_MAX ? -EMSGSIZE : shp_syslog_queue(c, b->data.p, b->data.len, 0);
    }
    if (rc)
        shp_syslog_fail(sl, rc, "%s: write failed: %s", c->peer, uv_strerror(rc));
}

static void shp_syslog_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    (void)h;
    buf->base = malloc(16384);
    buf->len = buf->base ? 16384 : 0;
}

/* The peer closed (EOF) or reset the connection. */
static void shp_syslog_peer_closed(shp_sl *sl, shp_sl_conn *c, int status)
{
    int acked = 0;
    if (status == UV_EOF && sl->batch && sl->wrote_on == c && c->writes == 0) {
        /* A FIN after the batch: if every byte was acknowledged before it,
         * the receiver had read everything (Linux answers a close with
         * unread data by a reset, not a FIN), so the batch is delivered. */
        uv_os_fd_t fd;
        int outq = -1;
        acked = uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0 && ioctl(fd, SIOCOUTQ, &outq) == 0 &&
                outq == 0;
    }
    if (acked) {
        shp_syslog_drop(sl); /* first: the driver may send the next batch from done */
        shp_syslog_end(sl, 0, NULL);
    } else if (status == UV_EOF) {
        shp_syslog_fail(sl, -ECONNRESET, "%s: the receiver closed the connection", c->peer);
    } else {
        shp_syslog_fail(sl, status, "%s: connection lost: %s", c->peer, uv_strerror(status));
    }
}

static void shp_syslog_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    shp_sl_conn *c = s->data;
    shp_sl *sl = c->sl;
    if (c->closing || sl->conn != c) {
        free(buf->base);
        return;
    }
    if (nread < 0) {
        free(buf->base);
        shp_syslog_peer_closed(sl, c, (int)nread);
        return;
    }
    if (nread == 0) {
        free(buf->base);
        return;
    }
    if (!c->tls_on) {
        /* A syslog receiver sends nothing; whatever it does is dropped. */
        sl->discarded += (size_t)nread;
        free(buf->base);
        return;
    }
    char why[600];
    size_t discarded = 0;
    int rc = shp_tls_client_feed(&c->tls, buf->base, (size_t)nread, &discarded, why, sizeof(why));
    free(buf->base);
    sl->discarded += discarded;
    int frc = shp_syslog_tls_flush(c); /* handshake replies; an alert for the error */
    if (rc < 0) {
        sl->tls_errors++;
        if (c->tls.verify_err == X509_V_ERR_CERT_REVOKED)
            sl->tls_revoked++;
        if (c->state != SHP_CONN_READY)
            sl->connect_errors++;
        shp_syslog_fail(sl, rc, "%s: TLS %s failed: %s", c->peer,
                        c->state == SHP_CONN_READY ? "session" : "handshake", why);
        return;
    }
    if (rc == SHP_TLS_CLOSED) {
        shp_syslog_peer_closed(sl, c, UV_EOF);
        return;
    }
    if (frc) {
        shp_syslog_fail(sl, frc, "%s: write failed: %s", c->peer, uv_strerror(frc));
        return;
    }
    if (c->state == SHP_CONN_HANDSHAKE && c->tls.handshake_done) {
        if (c->tls.confirmed) {
            uv_timer_stop(&sl->poll);
            shp_syslog_ready(sl, c, "");
        } else if (!uv_is_active((uv_handle_t *)&sl->poll)) {
            uv_timer_start(&sl->poll, shp_syslog_on_poll, SHP_SYSLOG_TLS13_GRACE_MS, 0);
        }
    }
}

static void shp_syslog_addr_str(const struct sockaddr *sa, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        port = ntohs(a->sin6_port);
        snprintf(out, cap, "[%s]:%d", ip, port);
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        port = ntohs(a->sin_port);
        snprintf(out, cap, "%s:%d", ip, port);
    }
}

static void shp_syslog_on_connect(uv_connect_t *req, int status)
{
    shp_sl_conn *c = req->data;
    shp_sl *sl = c->sl;
    if (c->closing || sl->conn != c)
        return;
    if (status < 0) {
        sl->connect_errors++;
        if (sl->next_addr < sl->naddrs) { /* the host has another address: try it */
            vg_debug("output %s: connect to %s: %s; trying the next address", sl->o->conf.name,
                     c->peer, uv_strerror(status));
            shp_syslog_drop(sl);
            shp_syslog_connect_next(sl);
            return;
        }
        shp_syslog_fail(sl, status, "connect to %s: %s", c->peer, uv_strerror(status));
        return;
    }
    /* Nagle would hold the batch's last segment for the peer's delayed
     * ACK; we wait for exactly that ACK, so send at once. */
    uv_tcp_nodelay(&c->tcp, 1);
    /* A receiver that vanished without a FIN or reset (a NAT or firewall
     * dropped the idle connection) is then found between batches rather
     * than by the next batch's timeout. */
    uv_tcp_keepalive(&c->tcp, 1, 60);
    int rc = uv_read_start((uv_stream_t *)&c->tcp, shp_syslog_alloc, shp_syslog_on_read);
    if (rc) {
        shp_syslog_fail(sl, rc, "%s: %s", c->peer, uv_strerror(rc));
        return;
    }
    if (sl->url.proto != SHP_SL_TLS) {
        shp_syslog_ready(sl, c, "");
        return;
    }
    char why[PATH_MAX + 600];
    rc = shp_tls_client_init(&sl->tls, &c->tls, sl->server_name, why, sizeof(why));
    if (rc == 0) {
        c->tls_on = 1;
        c->state = SHP_CONN_HANDSHAKE;
        rc = shp_syslog_tls_flush(c);
        if (rc)
            snprintf(why, sizeof(why), "%s", uv_strerror(rc));
    }
    if (rc)
        shp_syslog_fail(sl, rc, "%s: cannot start TLS: %s", c->peer, why);
}

/* Connects to the next resolved address. */
static void shp_syslog_connect_next(shp_sl *sl)
{
    const struct sockaddr *sa = (const struct sockaddr *)&sl->addrs[sl->next_addr++];
    shp_sl_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        shp_syslog_fail(sl, -ENOMEM, "out of memory");
        return;
    }
    c->sl = sl;
    shp_syslog_addr_str(sa, c->peer, sizeof(c->peer));
    int rc = uv_tcp_init(sl->o->loop, &c->tcp);
    if (rc) {
        free(c);
        shp_syslog_fail(sl, rc, "connect to %s: %s", sl->url.host, uv_strerror(rc));
        return;
    }
    c->tcp.data = c;
    c->creq.data = c;
    sl->refs++;
    sl->conn = c;
    rc = uv_tcp_connect(&c->creq, &c->tcp, sa, shp_syslog_on_connect);
    if (rc) {
        sl->connect_errors++;
        shp_syslog_fail(sl, rc, "connect to %s: %s", c->peer, uv_strerror(rc));
    }
}

/* ---- resolution and UDP --------------------------------------------------- */

static void shp_syslog_udp_send(shp_sl *sl);

/* Addresses are in sl->addrs: go on with the attempt. */
static void shp_syslog_resolved(shp_sl *sl)
{
    if (sl->url.proto != SHP_SL_UDP) {
        shp_syslog_connect_next(sl);
        return;
    }
    const struct sockaddr *sa = (const struct sockaddr *)&sl->addrs[0];
    /* A connected UDP socket reports the ICMP errors of earlier datagrams
     * (port unreachable) on later sends: the only signal UDP gives. */
    int rc = uv_udp_connect(&sl->udp, sa);
    if (rc) {
        char a[80];
        shp_syslog_addr_str(sa, a, sizeof(a));
        sl->connect_errors++;
        shp_syslog_fail(sl, rc, "udp %s: %s", a, uv_strerror(rc));
        return;
    }
    /* counted like a TCP connection, so connects - disconnects = connected */
    sl->udp_connected = 1;
    sl->connects++;
    shp_syslog_udp_send(sl);
}

static void shp_syslog_on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    shp_sl *sl = req->data;
    int mine = sl->gai == req;
    free(req);
    if (!mine) { /* cancelled or superseded */
        uv_freeaddrinfo(res);
        shp_syslog_unref(sl);
        return;
    }
    sl->gai = NULL;
    sl->naddrs = sl->next_addr = 0;
    for (struct addrinfo *a = res; a && sl->naddrs < SHP_SYSLOG_MAX_ADDRS; a = a->ai_next) {
        if ((a->ai_family == AF_INET || a->ai_family == AF_INET6) &&
            a->ai_addrlen <= sizeof(sl->addrs[0]))
            memcpy(&sl->addrs[sl->naddrs++], a->ai_addr, a->ai_addrlen);
    }
    uv_freeaddrinfo(res);
    shp_syslog_unref(sl); /* the request's reference; sl is not closing, or mine would be 0 */
    if (status < 0 || sl->naddrs == 0) {
        sl->connect_errors++;
        shp_syslog_fail(sl, status < 0 ? status : -EADDRNOTAVAIL, "cannot resolve %s: %s",
                        sl->url.host, status < 0 ? uv_strerror(status) : "no IPv4 or IPv6 address");
        return;
    }
    shp_syslog_resolved(sl);
}

/* Finds the receiver's addresses: at once for an address literal, else
 * with getaddrinfo (on libuv's thread pool), anew for every connection so
 * that a moved receiver is found. */
static void shp_syslog_resolve(shp_sl *sl)
{
    struct sockaddr_in *a4 = (struct sockaddr_in *)&sl->addrs[0];
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&sl->addrs[0];
    int port = atoi(sl->url.port);
    memset(&sl->addrs[0], 0, sizeof(sl->addrs[0]));
    sl->naddrs = sl->next_addr = 0;
    if (uv_ip4_addr(sl->url.host, port, a4) == 0 || uv_ip6_addr(sl->url.host, port, a6) == 0) {
        sl->naddrs = 1;
        shp_syslog_resolved(sl);
        return;
    }
    uv_getaddrinfo_t *req = calloc(1, sizeof(*req));
    if (!req) {
        shp_syslog_fail(sl, -ENOMEM, "out of memory");
        return;
    }
    req->data = sl;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = sl->url.proto == SHP_SL_UDP ? SOCK_DGRAM : SOCK_STREAM,
                             .ai_flags = AI_ADDRCONFIG};
    int rc = uv_getaddrinfo(sl->o->loop, req, shp_syslog_on_resolved, sl->url.host, sl->url.port,
                            &hints);
    if (rc) {
        free(req);
        shp_syslog_fail(sl, rc, "cannot resolve %s: %s", sl->url.host, uv_strerror(rc));
        return;
    }
    sl->refs++;
    sl->gai = req;
}

/* One UDP attempt: a send request per item. It lives until the last
 * request's callback, which may come after the attempt was abandoned
 * (timeout, close): then 'sl->uatt' no longer points at it. The datagrams
 * are sent from its own copy of the batch's bytes (data): a request still
 * queued in libuv after the attempt was abandoned reads them later, when
 * the batch may have been repacked or freed (drop_oldest). */
typedef struct shp_sl_udp_att {
    shp_sl *sl;
    shp_batch *batch;
    size_t pending, failed;
    int first_err;
    char why[400];
    char *data;
    uv_udp_send_t reqs[];
} shp_sl_udp_att;

static void shp_syslog_on_udp_sent(uv_udp_send_t *req, int status)
{
    shp_sl_udp_att *a = req->data;
    shp_sl *sl = a->sl;
    int live = sl->uatt == a;
    if (status < 0 && live) {
        shp_item *it = &a->batch->items[req - a->reqs];
        it->state = SHP_ITEM_RETRY;
        snprintf(it->reason, sizeof(it->reason), "udp send: %s", uv_strerror(status));
        if (!a->failed++) {
            a->first_err = status;
            snprintf(a->why, sizeof(a->why), "udp %s:%s: %s", sl->url.host, sl->url.port,
                     uv_strerror(status));
        }
    }
    if (--a->pending)
        return;
    size_t n = a->batch->n, failed = a->failed;
    int err = a->first_err;
    char why[sizeof(a->why)];
    memcpy(why, a->why, sizeof(why));
    free(a);
    if (!live)
        return;
    sl->uatt = NULL;
    if (failed) {
        /* The ICMP error may belong to an earlier datagram; either way the
         * address is resolved and the socket connected anew next time. */
        uv_udp_connect(&sl->udp, NULL);
        sl->udp_connected = 0;
        sl->disconnects++;
    }
    /* All refused: the attempt failed. Partly sent: the sent ones are
     * delivered (as far as UDP goes), the refused ones are retried. */
    shp_syslog_end(sl, failed == n ? err : 0, failed == n ? why : NULL);
}

/* One datagram per item. */
static void shp_syslog_udp_send(shp_sl *sl)
{
    shp_batch *b = sl->batch;
    if (b->n == 0) {
        shp_syslog_end(sl, 0, NULL);
        return;
    }
    shp_sl_udp_att *a = calloc(1, sizeof(*a) + b->n * sizeof(a->reqs[0]) + b->data.len);
    if (!a) {
        shp_syslog_end(sl, -ENOMEM, "out of memory");
        return;
    }
    a->data = (char *)&a->reqs[b->n];
    memcpy(a->data, b->data.p, b->data.len);
    a->sl = sl;
    a->batch = b;
    /* Count them all first: a callback may only come from the loop, but
     * the count must be complete whatever happens below. */
    a->pending = b->n + 1;
    sl->uatt = a;
    for (size_t i = 0; i < b->n; i++) {
        uv_buf_t ub = uv_buf_init(a->data + b->items[i].off, (unsigned)b->items[i].len);
        a->reqs[i].data = a;
        int rc = uv_udp_send(&a->reqs[i], &sl->udp, &ub, 1, NULL, shp_syslog_on_udp_sent);
        if (rc)
            shp_syslog_on_udp_sent(&a->reqs[i], rc); /* not the last: pending has one more */
    }
    shp_syslog_on_udp_sent(&(uv_udp_send_t){.data = a}, 0); /* the extra count */
}

/* ---- the transport ---------------------------------------------------------- */

static void shp_syslog_unref(shp_sl *sl)
{
    if (--sl->refs > 0 || !sl->closing)
        return;
    shp_out *o = sl->o;
    shp_tls_client_ctx_free(&sl->tls);
    vg_buf_free(&sl->msg);
    free(sl);
    o->tp = NULL;
    shp_out_closed(o);
}

static void shp_syslog_handle_closed(uv_handle_t *h)
{
    shp_syslog_unref(h->data);
}

static int shp_syslog_open(shp_out *o)
{
    const shp_out_conf *cf = &o->conf;
    const char *why;
    shp_sl *sl = calloc(1, sizeof(*sl));
    if (!sl)
        return -ENOMEM;
    sl->o = o;
    int rc = shp_syslog_url_parse(cf->url, &sl->url, &why);
    if (rc) {
        vg_error("output %s: %s", cf->name, why);
        free(sl);
        return VG_ECONFIG;
    }
    sl->facility = shp_syslog_facility(cf->facility);
    sl->newline = strcmp(cf->framing, "newline") == 0;
    if (sl->facility < 0)
        sl->facility = 16;
    sl->leef = cf->format && strcmp(cf->format, "leef") == 0;
    sl->leef_opts.delim = '\t';
    if (sl->leef && shp_syslog_is_set(cf->leef_delimiter))
        vg_leef_delim_parse(cf->leef_delimiter, &sl->leef_opts.delim); /* check()ed */
    if (shp_syslog_is_set(cf->hostname)) {
        snprintf(sl->hostname, sizeof(sl->hostname), "%s", cf->hostname);
    } else {
        /* gethostname() need not be valid in a syslog header: keep
         * PRINTUSASCII only, as RFC 5424 requires. */
        char h[256] = "";
        gethostname(h, sizeof(h) - 1);
        size_t n = 0;
        for (const char *p = h; *p && n < sizeof(sl->hostname) - 1; p++)
            if ((unsigned char)*p > 32 && (unsigned char)*p < 127)
                sl->hostname[n++] = *p;
        if (n == 0)
            sl->hostname[n++] = '-';
    }
    snprintf(sl->app, sizeof(sl->app), "%s",
             shp_syslog_is_set(cf->app_name) ? cf->app_name : "vigil");
    sl->limit = cf->max_message_size ? (size_t)cf->max_message_size : 65536;
    if (sl->limit < SHP_SYSLOG_MIN_SIZE)
        sl->limit = SHP_SYSLOG_MIN_SIZE;
    if (sl->url.proto == SHP_SL_UDP && sl->limit > SHP_SYSLOG_UDP_MAX)
        sl->limit = SHP_SYSLOG_UDP_MAX; /* a datagram cannot be larger */
    sl->timeout_ms = cf->timeout_ms > 0 ? cf->timeout_ms : SHP_SYSLOG_DEFAULT_TIMEOUT_MS;
    if (sl->url.proto == SHP_SL_TLS) {
        char err[600];
        rc = shp_tls_client_ctx_init(&sl->tls, cf->tls_ca, cf->tls_crl, cf->tls_cert,
                                     cf->tls_key, cf->tls_verify, cf->tls_ciphers, err,
                                     sizeof(err));
        if (rc) {
            vg_error("output %s: %s", cf->name, err);
            free(sl);
            return rc;
        }
        snprintf(sl->server_name, sizeof(sl->server_name), "%s",
                 shp_syslog_is_set(cf->tls_server_name) ? cf->tls_server_name : sl->url.host);
        if (!cf->tls_verify)
            vg_warn("output %s: tls_verify is false: the server's certificate is not checked, "
                    "so anyone who can intercept %s:%s receives the alerts",
                    cf->name, sl->url.host, sl->url.port);
    }
    if (sl->url.proto == SHP_SL_UDP) {
        rc = uv_udp_init(o->loop, &sl->udp);
        if (rc) {
            vg_error("output %s: cannot open a UDP socket: %s", cf->name, uv_strerror(rc));
            free(sl); /* nothing opened yet */
            return rc;
        }
        sl->udp.data = sl;
        sl->refs++;
    }
    uv_timer_init(o->loop, &sl->deadline);
    uv_timer_init(o->loop, &sl->poll);
    sl->deadline.data = sl->poll.data = sl;
    sl->refs += 2;
    o->tp = sl;
    vg_info("output %s: syslog %s to %s:%s, %s, facility %s, max %zu bytes a message", cf->name,
            sl->url.proto == SHP_SL_UDP   ? "udp"
            : sl->url.proto == SHP_SL_TCP ? "tcp"
                                          : "tls",
            sl->url.host, sl->url.port, sl->leef ? "LEEF" : "CEF",
            vg_syslog_facilities[sl->facility], sl->limit);
    return 0;
}

/* Always returns 0: failures are reported through shp_out_done. */
static int shp_syslog_send(shp_out *o, shp_batch *b)
{
    shp_sl *sl = o->tp;
    sl->batch = b;
    sl->poll_ms = 0;
    sl->unacked = SIZE_MAX;
    uv_timer_start(&sl->deadline, shp_syslog_on_deadline, (uint64_t)sl->timeout_ms, 0);
    if (sl->url.proto == SHP_SL_UDP) {
        if (sl->udp_connected)
            shp_syslog_udp_send(sl);
        else
            shp_syslog_resolve(sl);
        return 0;
    }
    if (sl->conn && sl->conn->state == SHP_CONN_READY)
        shp_syslog_write(sl);
    else if (!sl->conn && !sl->gai)
        shp_syslog_resolve(sl);
    /* else: connecting; the batch goes when the connection is ready */
    return 0;
}

static void shp_syslog_close(shp_out *o)
{
    shp_sl *sl = o->tp;
    if (!sl) {
        shp_out_closed(o);
        return;
    }
    sl->closing = 1;
    sl->batch = NULL; /* the driver is stopping: no shp_out_done any more */
    sl->uatt = NULL;  /* its cancelled sends still call back, and free it */
    shp_syslog_drop(sl);
    uv_close((uv_handle_t *)&sl->deadline, shp_syslog_handle_closed);
    uv_close((uv_handle_t *)&sl->poll, shp_syslog_handle_closed);
    if (sl->url.proto == SHP_SL_UDP && sl->udp.data)
        uv_close((uv_handle_t *)&sl->udp, shp_syslog_handle_closed);
}

static void shp_syslog_report(shp_out *o, vg_buf *line)
{
    shp_sl *sl = o->tp;
    if (!sl)
        return;
    int up = sl->url.proto == SHP_SL_UDP ? sl->udp_connected
                                         : sl->conn && sl->conn->state == SHP_CONN_READY;
    vg_buf_addf(line,
                " connected=%d connects=%" PRIu64 " connect_errors=%" PRIu64 " disconnects=%" PRIu64
                " truncated=%" PRIu64,
                up, sl->connects, sl->connect_errors, sl->disconnects, sl->truncated);
    if (sl->url.proto == SHP_SL_TLS)
        vg_buf_addf(line, " tls_errors=%" PRIu64, sl->tls_errors);
    if (shp_syslog_is_set(o->conf.tls_crl))
        vg_buf_addf(line, " tls_revoked=%" PRIu64, sl->tls_revoked);
    if (sl->discarded)
        vg_buf_addf(line, " received_bytes_discarded=%" PRIu64, sl->discarded);
}

const shp_transport shp_syslog_transport = {
    .type = "syslog",
    .keys = shp_syslog_keys,
    .check = shp_syslog_check,
    .open = shp_syslog_open,
    .format = shp_syslog_format,
    .send = shp_syslog_send,
    .close = shp_syslog_close,
    .report = shp_syslog_report,
};
