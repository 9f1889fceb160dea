/* HTTP outputs: Elasticsearch _bulk, Splunk HEC, and a webhook for people
 * channels (docs/shipper-http.md).
 *
 * Each output owns one libcurl easy handle, reused for every request so the
 * connection stays open; the transfers run on the shared multi handle of
 * shp_curl.c, on the daemon's loop. One request is in flight per output
 * (the driver sends one batch at a time).
 *
 * What a reply means is decided here and nowhere else (shp_http_judge):
 * - everything a server may say again later (429, 5xx, timeouts, refused
 *   connections) and everything that is our configuration's fault (401,
 *   403, 404, HEC's "incorrect index") fails the attempt, and the driver
 *   retries it after backoff: an alert is never thrown away because the
 *   credentials were rotated or the URL is wrong;
 * - an item is refused for good (SHP_ITEM_FAILED, dead-letter file) only
 *   when the server says that this very alert is wrong: an item status in
 *   a _bulk reply, HEC's invalid-event-number, or a 400/413 for a request
 *   that carried that one alert alone. When a request of several alerts is
 *   refused as a whole (400, 413), the batch is sent again one alert per
 *   request ("isolation") to find the culprit, so one bad alert does not
 *   take its neighbours to the dead-letter file or block the output.
 *
 * A batch goes out in one request, unless a request was cut at the cap
 * of SHP_HTTP_TIMEOUT_CAP timeouts while the server was still taking it:
 * then the batch goes out in requests of half as many alerts (down to
 * one), each judged on its own like those of isolation, and the size
 * doubles back after requests answered quickly (shp_http_shrink/grow).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/x509_vfy.h>

#include "shp.h"
#include "shp_curl.h"
#include "shp_es_tally.h"
#include "shp_tls_client.h"
#include "vigil/cfile.h"
#include "vigil/ecs.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/tls.h"
#include "vigil/util.h"

#ifndef VG_VERSION
#define VG_VERSION "0"
#endif

#define SHP_HTTP_UA "vigil-shipper/" VG_VERSION
#define SHP_HTTP_MAX_REPLY (32u << 20) /* a _bulk reply with every item in error */
#define SHP_HTTP_ES_INDEX "vigil-alerts"
#define SHP_HTTP_HEC_PATH "/services/collector/event"
/* A request still moving bytes at its timeout gets another one, up to
 * this many timeouts in all (libcurl's CURLOPT_TIMEOUT). */
#define SHP_HTTP_TIMEOUT_CAP 8

enum shp_http_kind { SHP_HTTP_ES, SHP_HTTP_HEC, SHP_HTTP_HOOK };

/* Why shp_http_on_deadline gave up on a request. */
#define SHP_HTTP_CUT_IDLE 1 /* nothing moved during a whole timeout */
#define SHP_HTTP_CUT_CAP 2  /* SHP_HTTP_TIMEOUT_CAP timeouts, still moving */

/* shp_http_judge's answer besides 0 (settled) and rc < 0 (retry all). */
#define SHP_HTTP_ISOLATE 1
#define SHP_HTTP_LEAN 2 /* a webhook's alert refused as too large: its text alone next */

typedef struct shp_http {
    shp_out *o;
    int kind;                /* enum shp_http_kind */
    CURL *easy;
    struct curl_slist *headers;
    struct curl_slist *connect_to;
    char *url;               /* where the requests go */
    shp_curl_req req;
    int refd;                /* holds a reference on shp_curl */
    uv_timer_t deadline;     /* the request's timeout, renewed while it makes progress */
    int64_t moved;           /* shp_http_moved at the last renewal (0 at the start) */
    int64_t started_ms;      /* when the request started (uv_now) */
    vg_buf reply;            /* the current reply's body */
    vg_buf body;             /* request body when items are not contiguous */
    char errbuf[CURL_ERROR_SIZE];
    /* the attempt in flight: a request carries items [at, at + nreq) */
    shp_batch *batch;
    size_t at, nreq;
    size_t iso_end;          /* one alert per request (isolation) up to here; 0: off */
    int lean;                /* a webhook's request carries the lean body (shp_hook_lean) */
    size_t full_len;         /* then: the size of the body the server refused */
    size_t unread;           /* the last nreq's tail the server did not read (HEC stopped
                              * at a bad event): not settled, it goes in the next request */
    int cut;                 /* shp_http_on_deadline ended it: SHP_HTTP_CUT_* */
    size_t post_len;         /* the request's body, bytes */
    /* Alerts per request after one was cut at the cap while moving bytes
     * (shp_http_shrink); 0: the output's batch. Kept across attempts. */
    size_t chunk;
    /* counters (report) */
    uint64_t requests, http_errors;
    uint64_t tls_revoked; /* attempts failed on a certificate tls_crl revokes */
    uint64_t cluster_refused; /* _bulk requests the cluster refused for its state */
    /* a run of such requests (shp_es_refusing): since when (uv_now, 0:
     * none), how many, and the error type last logged */
    int64_t refusing_since;
    uint64_t refusing_n;
    char refusing_type[64];
    /* the last line summing a _bulk reply's refused items by error type
     * (shp_es_refused_items): its set of types, when (uv_now, 0: none) */
    uint64_t items_key;
    int64_t items_logged;
    long last_status;
    long logged;             /* the last condition logged as an error (no flood) */
} shp_http;

/* ---- configuration ---------------------------------------------------- */

static const char *const shp_es_keys[] = {"url", "index", "username", "password", "api_key",
                                          "tls_ca", "tls_cert", "tls_key", "tls_verify",
                                          "tls_server_name", "tls_ciphers", "tls_crl",
                                          "item_retry_for", NULL};
static const char *const shp_hec_keys[] = {"url", "token", "index", "sourcetype", "source",
                                           "tls_ca", "tls_cert", "tls_key", "tls_verify",
                                           "tls_server_name", "tls_ciphers", "tls_crl", NULL};
static const char *const shp_hook_keys[] = {"url", "token", "tls_ca", "tls_cert", "tls_key",
                                            "tls_verify", "tls_server_name", "tls_ciphers",
                                            "tls_crl", NULL};

static int shp_http_set(const char *s)
{
    return s && *s;
}

/* The node of key in the output's map, for FILE:LINE; the map itself when
 * the key is absent. */
static const vg_node *shp_http_at(const vg_node *sec, const char *key)
{
    const vg_node *n = vg_node_get(sec, key);
    return n ? n : sec;
}

/* Elasticsearch's rules for index names, so a typo is refused at load
 * rather than as a 400 on every item. */
static const char *shp_es_index_problem(const char *ix)
{
    if (strlen(ix) > 255)
        return "is longer than 255 bytes";
    if (strcmp(ix, ".") == 0 || strcmp(ix, "..") == 0)
        return "may not be '.' or '..'";
    if (strchr("-_+", ix[0]))
        return "may not start with '-', '_' or '+'";
    for (const char *p = ix; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            return "must be lowercase";
        if (strchr("\\/*?\"<>| ,#:", *p))
            return "may not contain \\ / * ? \" < > | space , # :";
    }
    return NULL;
}


/* Whether one of the TLS files set (tls_ca, tls_crl, tls_cert, tls_key) cannot be
 * read by this process as it runs now: -errno (access(2)) or VG_ECONFIG,
 * with its key and path and why
 * (errno's text, or vg_cfile_open's reason: a FIFO, a device, a directory
 * or a file over VG_CFILE_MAX, which libcurl would read in the shipper's
 * loop at a connection, and block on or never end), else 0. At load and
 * again after the privilege drop. */
static int shp_http_tls_unreadable(const shp_out_conf *c, const char **key, const char **path,
                                   char *why, size_t cap)
{
    static const char *const keys[] = {"tls_ca", "tls_crl", "tls_cert", "tls_key"};
    const char *const paths[] = {c->tls_ca, c->tls_crl, c->tls_cert, c->tls_key};
    char err[PATH_MAX + 256];
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (!shp_http_set(paths[i]))
            continue;
        int fd = -1, rc;
        if (access(paths[i], R_OK) != 0) {
            rc = -errno;
            snprintf(why, cap, "%s", strerror(-rc));
        } else if ((fd = vg_cfile_open(paths[i], VG_CFILE_MAX, NULL, err, sizeof(err))) < 0) {
            rc = fd;
            snprintf(why, cap, "%s", err + strlen(paths[i]) + 2); /* "PATH: reason" */
        } else {
            close(fd);
            continue;
        }
        *key = keys[i];
        *path = paths[i];
        return rc;
    }
    return 0;
}

/* Parses the TLS files as OpenSSL reads them (libcurl's backend here), so
 * that -t and a reload refuse a CA or a client certificate or key that is
 * no PEM, or a key that does not match its certificate, at its line: libcurl
 * reads them only at each connection, and every delivery attempt failed.
 * Without tls_key, the key is taken from tls_cert, as libcurl does. */
static int shp_http_tls_parse(const shp_out_conf *c, const vg_node *sec, char *err,
                              size_t errlen)
{
    if (!shp_http_set(c->tls_ca) && !shp_http_set(c->tls_crl) && !shp_http_set(c->tls_cert))
        return 0;
    shp_tls_client_ctx t;
    char why[PATH_MAX * 2 + 600];
    const char *key = shp_http_set(c->tls_key) ? c->tls_key : c->tls_cert;
    if (shp_tls_client_ctx_init(&t, c->tls_ca, c->tls_crl, c->tls_cert, key, c->tls_verify, NULL,
                                why, sizeof(why)) != 0) {
        const char *k = t.bad_key;
        if (k && strcmp(k, "tls_key") == 0 && !shp_http_set(c->tls_key))
            k = "tls_cert";
        return vg_conf_errf(err, errlen, k ? shp_http_at(sec, k) : sec, "%s", why);
    }
    shp_tls_client_ctx_free(&t);
    return 0;
}

static int shp_http_check(const shp_out_conf *c, const vg_node *sec, char *err, size_t errlen)
{
    int rc = shp_curl_global();
    if (rc)
        return vg_conf_errf(err, errlen, sec, "libcurl does not initialise");
    const vg_node *at = shp_http_at(sec, "url");
    if (!shp_http_set(c->url))
        return vg_conf_errf(err, errlen, at, "output '%s' (%s) needs url: http(s)://HOST[:PORT]",
                            c->name, c->type);
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL;
    CURLUcode uc = u ? curl_url_set(u, CURLUPART_URL, c->url, 0) : CURLUE_OUT_OF_MEMORY;
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
    if (uc == CURLUE_OK) { /* CURLUE_NO_USER, CURLUE_NO_PASSWORD: none */
        curl_url_get(u, CURLUPART_USER, &user, 0);
        curl_url_get(u, CURLUPART_PASSWORD, &pass, 0);
    }
    int https = scheme && strcmp(scheme, "https") == 0;
    if (uc != CURLUE_OK)
        rc = vg_conf_errf(err, errlen, at, "url '%s' does not parse: %s", c->url,
                          curl_url_strerror(uc));
    else if (user || pass) /* the url goes into log lines; not echoed here either */
        rc = vg_conf_errf(err, errlen, at,
                          "url holds a user name or password, which would be logged with it: "
                          "give them as username and password (elasticsearch) or token");
    else if (!https && strcmp(scheme, "http") != 0)
        rc = vg_conf_errf(err, errlen, at, "url '%s': the scheme must be http or https", c->url);
    else if (!host || !*host)
        rc = vg_conf_errf(err, errlen, at, "url '%s' has no host", c->url);
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(pass);
    curl_url_cleanup(u);
    if (rc)
        return rc;

    /* TLS settings on a plain-http URL would give a false sense of safety. */
    static const char *const tls[] = {"tls_ca",          "tls_cert",    "tls_key",
                                      "tls_server_name", "tls_ciphers", "tls_crl"};
    const char *const tlsv[] = {c->tls_ca,          c->tls_cert,    c->tls_key,
                                c->tls_server_name, c->tls_ciphers, c->tls_crl};
    for (size_t i = 0; i < sizeof(tls) / sizeof(tls[0]); i++)
        if (shp_http_set(tlsv[i]) && !https)
            return vg_conf_errf(err, errlen, shp_http_at(sec, tls[i]),
                                "%s is set but url '%s' is not https://", tls[i], c->url);
    /* libcurl hands the string to OpenSSL, which skips names it does not
     * know: checked name by name, as the collector's ciphers. */
    if (shp_http_set(c->tls_ciphers) &&
        (rc = vg_tls_ciphers_conf(c->tls_ciphers, shp_http_at(sec, "tls_ciphers"), "tls_ciphers",
                                  err, errlen)) != 0)
        return rc;
    const char *key, *path;
    char twhy[PATH_MAX + 256];
    if (shp_http_tls_unreadable(c, &key, &path, twhy, sizeof(twhy)))
        return vg_conf_errf(err, errlen, shp_http_at(sec, key), "%s '%s': %s", key, path, twhy);
    if (shp_http_set(c->tls_crl) && !c->tls_verify)
        return vg_conf_errf(err, errlen, shp_http_at(sec, "tls_crl"),
                            "tls_crl is set but tls_verify is false: nothing would be checked");
    if (shp_http_set(c->tls_key) && !shp_http_set(c->tls_cert))
        return vg_conf_errf(err, errlen, shp_http_at(sec, "tls_key"),
                            "tls_key needs tls_cert (the client certificate)");
    if ((rc = shp_http_tls_parse(c, sec, err, errlen)))
        return rc;

    if (strcmp(c->type, "elasticsearch") == 0) {
        const char *why = shp_http_set(c->index) ? shp_es_index_problem(c->index) : NULL;
        if (why)
            return vg_conf_errf(err, errlen, shp_http_at(sec, "index"), "index '%s' %s",
                                c->index, why);
        if (shp_http_set(c->username) != shp_http_set(c->password))
            return vg_conf_errf(err, errlen,
                                shp_http_at(sec, shp_http_set(c->username) ? "username" : "password"),
                                "username and password go together");
        if (shp_http_set(c->api_key) && shp_http_set(c->username))
            return vg_conf_errf(err, errlen, shp_http_at(sec, "api_key"),
                                "set api_key or username/password, not both");
    } else if (strcmp(c->type, "splunk_hec") == 0) {
        if (!shp_http_set(c->token))
            return vg_conf_errf(err, errlen, shp_http_at(sec, "token"),
                                "output '%s' (splunk_hec) needs token: the HEC token", c->name);
    }
    return 0;
}

/* ---- opening ---------------------------------------------------------- */

static int shp_http_ends(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* The request URL for this kind of output: malloc'ed, or NULL. The path
 * is added before a query (Elasticsearch's ?pipeline=, HEC's ?channel=):
 * after it, it became part of the last parameter's value. */
static char *shp_http_request_url(const char *base, int kind)
{
    size_t end = strlen(base), n = strcspn(base, "?#");
    while (n > 0 && base[n - 1] == '/')
        n--;
    const char *add = "";
    if (kind == SHP_HTTP_ES && !shp_http_ends(base, n, "/_bulk"))
        add = "/_bulk";
    else if (kind == SHP_HTTP_HEC && !shp_http_ends(base, n, SHP_HTTP_HEC_PATH) &&
             !shp_http_ends(base, n, SHP_HTTP_HEC_PATH "/1.0"))
        add = shp_http_ends(base, n, "/services/collector") ? "/event" : SHP_HTTP_HEC_PATH;
    else if (kind == SHP_HTTP_HOOK)
        n = end; /* a webhook URL is used exactly as written */
    const char *rest = base + (kind == SHP_HTTP_HOOK ? end : strcspn(base, "?#"));
    char *u = malloc(n + strlen(add) + strlen(rest) + 1);
    if (u)
        sprintf(u, "%.*s%s%s", (int)n, base, add, rest);
    return u;
}

/* tls_server_name: the URL names the server we verify, and CURLOPT_CONNECT_TO
 * sends the connection to the host the URL had (e.g. an address). */
static int shp_http_server_name(shp_http *h, const char *name)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *url = NULL;
    int rc = -EINVAL;
    if (u && curl_url_set(u, CURLUPART_URL, h->url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_HOST, name, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &url, 0) == CURLUE_OK) {
        char rule[600];
        snprintf(rule, sizeof(rule), "%s:%s:%s:%s", name, port, host, port);
        struct curl_slist *l = curl_slist_append(NULL, rule);
        char *copy = strdup(url);
        if (l && copy) {
            h->connect_to = l;
            free(h->url);
            h->url = copy;
            rc = 0;
        } else {
            curl_slist_free_all(l);
            free(copy);
            rc = -ENOMEM;
        }
    }
    curl_free(host);
    curl_free(port);
    curl_free(url);
    curl_url_cleanup(u);
    return rc;
}

static size_t shp_http_on_body(char *p, size_t size, size_t n, void *ud)
{
    shp_http *h = ud;
    size_t len = size * n;
    /* Returning less than len aborts the transfer (CURLE_WRITE_ERROR): the
     * attempt is retried, and _bulk's 'create' makes that harmless. */
    if (h->reply.len + len > SHP_HTTP_MAX_REPLY || vg_buf_add(&h->reply, p, len) != 0)
        return 0;
    return len;
}

static int shp_http_header(shp_http *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int shp_http_header(shp_http *h, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line))
        return -E2BIG;
    struct curl_slist *l = curl_slist_append(h->headers, line);
    if (!l)
        return -ENOMEM;
    h->headers = l;
    return 0;
}

static void shp_http_free(shp_http *h)
{
    if (h->easy)
        curl_easy_cleanup(h->easy);
    curl_slist_free_all(h->headers);
    curl_slist_free_all(h->connect_to);
    free(h->url);
    vg_buf_free(&h->reply);
    vg_buf_free(&h->body);
    free(h);
}

/* Every option of the output's easy handle; set once at open. */
static int shp_http_setup(shp_http *h)
{
    const shp_out_conf *c = &h->o->conf;
    CURL *e = h->easy;
    int rc = 0;
    if (h->kind == SHP_HTTP_ES)
        rc = shp_http_header(h, "Content-Type: application/x-ndjson");
    else
        rc = shp_http_header(h, "Content-Type: application/json");
    /* libcurl would wait for "100 Continue" before large bodies: one round
     * trip per request for nothing, since we send the body regardless. */
    if (rc == 0)
        rc = shp_http_header(h, "Expect:");
    if (rc == 0 && h->kind == SHP_HTTP_ES && shp_http_set(c->api_key))
        rc = shp_http_header(h, "Authorization: ApiKey %s", c->api_key);
    if (rc == 0 && h->kind == SHP_HTTP_HEC)
        rc = shp_http_header(h, "Authorization: Splunk %s", c->token);
    if (rc == 0 && h->kind == SHP_HTTP_HOOK && shp_http_set(c->token))
        rc = shp_http_header(h, "Authorization: Bearer %s", c->token);
    if (rc == 0 && shp_http_set(c->tls_server_name))
        rc = shp_http_server_name(h, c->tls_server_name);
    if (rc)
        return rc;

    CURLcode cc = CURLE_OK;
#define SHP_OPT(opt, val)                                                                          \
    do {                                                                                           \
        if (cc == CURLE_OK)                                                                        \
            cc = curl_easy_setopt(e, opt, val);                                                    \
    } while (0)
    SHP_OPT(CURLOPT_URL, h->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    SHP_OPT(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SHP_OPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    SHP_OPT(CURLOPT_NOSIGNAL, 1L); /* no SIGALRM around name lookups: we own signals */
    SHP_OPT(CURLOPT_USERAGENT, SHP_HTTP_UA);
    SHP_OPT(CURLOPT_HTTPHEADER, h->headers);
    SHP_OPT(CURLOPT_POST, 1L);
    SHP_OPT(CURLOPT_WRITEFUNCTION, shp_http_on_body);
    SHP_OPT(CURLOPT_WRITEDATA, (void *)h);
    SHP_OPT(CURLOPT_ERRORBUFFER, h->errbuf);
    SHP_OPT(CURLOPT_TCP_KEEPALIVE, 1L);
    if (c->timeout_ms > 0) {
        /* in case shp_http_on_deadline, which cuts at the cap, runs late */
        SHP_OPT(CURLOPT_TIMEOUT_MS, (long)(c->timeout_ms * (SHP_HTTP_TIMEOUT_CAP + 1)));
        SHP_OPT(CURLOPT_CONNECTTIMEOUT_MS, (long)(c->timeout_ms < 10000 ? c->timeout_ms : 10000));
    }
    /* TLS 1.2 at least, as the syslog output; its suites as there: the
     * forward-secret AEAD ones unless tls_ciphers says otherwise. */
    SHP_OPT(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    SHP_OPT(CURLOPT_SSL_CIPHER_LIST,
            shp_http_set(c->tls_ciphers) ? c->tls_ciphers : VG_TLS_CIPHERS);
    SHP_OPT(CURLOPT_SSL_VERIFYPEER, c->tls_verify ? 1L : 0L);
    SHP_OPT(CURLOPT_SSL_VERIFYHOST, c->tls_verify ? 2L : 0L);
    if (shp_http_set(c->tls_ca))
        SHP_OPT(CURLOPT_CAINFO, c->tls_ca);
    /* read by path at each new connection, as tls_ca (checked before each
     * request by shp_http_tls_unreadable); libcurl's OpenSSL backend sets
     * X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL, as
     * vg_tls_store_load_crl does for the syslog output */
    if (shp_http_set(c->tls_crl))
        SHP_OPT(CURLOPT_CRLFILE, c->tls_crl);
    if (shp_http_set(c->tls_cert))
        SHP_OPT(CURLOPT_SSLCERT, c->tls_cert);
    if (shp_http_set(c->tls_key))
        SHP_OPT(CURLOPT_SSLKEY, c->tls_key);
    if (h->connect_to)
        SHP_OPT(CURLOPT_CONNECT_TO, h->connect_to);
    if (h->kind == SHP_HTTP_ES && shp_http_set(c->username)) {
        SHP_OPT(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        SHP_OPT(CURLOPT_USERNAME, c->username);
        SHP_OPT(CURLOPT_PASSWORD, c->password);
    }
#undef SHP_OPT
    if (cc != CURLE_OK) {
        vg_error("output %s: libcurl refuses an option: %s", c->name, curl_easy_strerror(cc));
        return -EINVAL;
    }
    return 0;
}

static int shp_http_open(shp_out *o)
{
    /* The configuration was checked at load, at the start as root, for
     * whom access() passes; libcurl reads these files at every connection
     * as the user the shipper runs as now (pipeline.user). A key only root
     * can read failed every request, retried for ever. */
    const char *key, *path;
    char why[PATH_MAX + 256];
    int urc = shp_http_tls_unreadable(&o->conf, &key, &path, why, sizeof(why));
    if (urc) {
        vg_error("output %s: %s '%s': %s (read as uid %u, the user the shipper runs as: "
                 "pipeline.user)",
                 o->conf.name, key, path, why, (unsigned)getuid());
        return urc;
    }
    const shp_transport *t = o->tp_ops;
    shp_http *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->o = o;
    h->kind = t == &shp_es_transport ? SHP_HTTP_ES
              : t == &shp_hec_transport ? SHP_HTTP_HEC : SHP_HTTP_HOOK;
    int rc = shp_curl_global();
    if (rc == 0) {
        h->url = shp_http_request_url(o->conf.url, h->kind);
        h->easy = curl_easy_init();
        rc = h->url && h->easy ? 0 : -ENOMEM;
    }
    if (rc == 0)
        rc = shp_http_setup(h);
    if (rc == 0)
        rc = shp_curl_ref(o->loop);
    if (rc) {
        vg_error("output %s: cannot set up HTTP: %s", o->conf.name, strerror(-rc));
        shp_http_free(h);
        return rc;
    }
    h->refd = 1;
    uv_timer_init(o->loop, &h->deadline);
    h->deadline.data = h;
    if (!o->conf.tls_verify)
        vg_warn("output %s: tls_verify is off: the server's certificate and name are not "
                "checked, anyone on the path can read and alter what is sent",
                o->conf.name);
    /* shp_http_check made sure the scheme is http or https */
    const char *cred = shp_http_set(o->conf.password) ? "password"
                       : shp_http_set(o->conf.api_key) ? "api_key"
                       : shp_http_set(o->conf.token)   ? "token"
                                                       : NULL;
    if (cred && strncasecmp(o->conf.url, "https://", 8) != 0)
        vg_warn("output %s: url is plain http://: its %s goes over the network in clear text "
                "with every request (use https:// unless the server is on this host)",
                o->conf.name, cred);
    o->tp = h;
    return 0;
}

/* ---- formatting ------------------------------------------------------- */

/* The ECS document without its trailing newline. */
static int shp_http_doc(shp_out *o, const vg_alert *al, vg_buf *b)
{
    int rc = vg_ecs_alert(b, al, shp_name(o->s));
    if (rc == 0 && b->len > 0 && b->p[b->len - 1] == '\n')
        b->len--;
    return rc;
}

static int shp_http_jstr(vg_buf *b, const char *key, vg_str v)
{
    int rc = vg_buf_addf(b, "\"%s\":\"", key);
    if (rc == 0)
        rc = vg_json_escape(b, v);
    if (rc == 0)
        rc = vg_buf_addc(b, '"');
    return rc;
}

/* {"create":{"_index":"<index>","_id":"<id>"}}\n<doc>\n */
static int shp_es_format(shp_out *o, const vg_alert *al, vg_buf *b)
{
    const char *ix = shp_http_set(o->conf.index) ? o->conf.index : SHP_HTTP_ES_INDEX;
    int rc = vg_buf_adds(b, "{\"create\":{");
    if (rc == 0)
        rc = shp_http_jstr(b, "_index", vg_str_c(ix));
    /* Without an id Elasticsearch makes one up, and a re-delivery would be
     * stored twice: only a summary (not an alert) may lack one. */
    if (rc == 0 && al->id.len) {
        rc = vg_buf_addc(b, ',');
        if (rc == 0)
            rc = shp_http_jstr(b, "_id", al->id);
    }
    if (rc == 0)
        rc = vg_buf_adds(b, "}}\n");
    if (rc == 0)
        rc = vg_ecs_alert(b, al, shp_name(o->s)); /* ends with the newline */
    return rc;
}

/* {["time":S.mmm,]"host":..,"source":..,"sourcetype":..[,"index":..],"event":<doc>}\n
 * Without "time" for an event before 1970 (a device whose clock is wrong):
 * HEC then gives it the time it arrives, where "time":0 filed it under
 * 1970-01-01; the event's @timestamp keeps the exact time. */
static int shp_hec_format(shp_out *o, const vg_alert *al, vg_buf *b)
{
    const shp_out_conf *c = &o->conf;
    int64_t ms = al->ts_us / 1000;
    int rc = vg_buf_addc(b, '{');
    if (rc == 0 && al->ts_us > 0)
        rc = vg_buf_addf(b, "\"time\":%" PRId64 ".%03d,", ms / 1000, (int)(ms % 1000));
    if (rc == 0)
        rc = shp_http_jstr(b, "host", al->host.len ? al->host : vg_str_c(shp_name(o->s)));
    if (rc == 0)
        rc = vg_buf_addc(b, ',');
    if (rc == 0)
        rc = shp_http_jstr(b, "source", vg_str_c(shp_http_set(c->source) ? c->source : "vigil"));
    if (rc == 0)
        rc = vg_buf_addc(b, ',');
    if (rc == 0)
        rc = shp_http_jstr(b, "sourcetype",
                           vg_str_c(shp_http_set(c->sourcetype) ? c->sourcetype : "vigil:alert"));
    if (rc == 0 && shp_http_set(c->index)) {
        rc = vg_buf_addc(b, ',');
        if (rc == 0)
            rc = shp_http_jstr(b, "index", vg_str_c(c->index));
    }
    if (rc == 0)
        rc = vg_buf_adds(b, ",\"event\":");
    if (rc == 0)
        rc = shp_http_doc(o, al, b);
    if (rc == 0)
        rc = vg_buf_adds(b, "}\n");
    return rc;
}

static vg_str shp_http_field(const vg_alert *al, const char *key)
{
    for (uint32_t i = 0; i < al->nfields && i < VG_ALERT_MAX_FIELDS; i++)
        if (vg_str_eq(al->fields[i].key, key))
            return al->fields[i].val;
    return VG_STR_NULL;
}

#define SHP_HOOK_VALUE_MAX 200 /* bytes of one value in the text line */

/* Appends a value to the text line: a control character (vg_utf8_control:
 * C0, DEL, C1, U+2028/U+2029; a line feed in a rule name, an escape
 * sequence in a user name a device sent) becomes a space, so the line
 * stays one line and shows what a person can read; cut at max bytes
 * (0: no cut) between characters, marked with an ellipsis. Invalid UTF-8
 * is left to vg_json_escape (U+FFFD). */
static void shp_hook_add_max(vg_buf *t, const char *p, size_t n, size_t max)
{
    size_t i = 0;
    while (i < n) {
        unsigned cp;
        size_t c = vg_utf8_control(p + i, n - i, &cp);
        size_t k = c ? c : vg_utf8_len(p + i, n - i);
        if (k == 0)
            k = 1;
        if (max && i + k > max) {
            vg_buf_adds(t, "\xe2\x80\xa6"); /* ... */
            return;
        }
        if (c)
            vg_buf_addc(t, ' ');
        else
            vg_buf_add(t, p + i, k);
        i += k;
    }
}

static void shp_hook_add(vg_buf *t, const char *p, size_t n)
{
    shp_hook_add_max(t, p, n, SHP_HOOK_VALUE_MAX);
}

/* The one line a person reads first, e.g.
 *   [LEVEL 5] SSH authentication failure — bastion-hn01, aviation/tan-son-nhat,
 *   1 event, src 203.0.113.5, user admin
 * (", 1 of 3 raw lines [cut]" after it when the alert's evidence is incomplete)
 * and for a rate-limit summary the driver's sentence:
 *   [LEVEL 10] summary: 37 more alerts of ... */
static void shp_hook_text(const vg_alert *al, vg_buf *t)
{
    vg_buf_addf(t, "[LEVEL %d] ", (int)al->level);
    vg_str name = al->rule_name.len ? al->rule_name : al->rule_id;
    if (vg_str_eq(al->kind, "summary")) {
        vg_buf_adds(t, "summary: ");
        if (al->message.len) { /* the driver's sentence, which names the rule */
            shp_hook_add_max(t, al->message.p, al->message.len, 0);
        } else {
            vg_buf_addf(t, "%" PRIu64 " more alerts of ", al->count);
            shp_hook_add(t, name.p, name.len);
        }
        return;
    }
    shp_hook_add(t, name.p, name.len);
    vg_buf_adds(t, " \xe2\x80\x94 "); /* em dash */
    if (al->host.len)
        shp_hook_add(t, al->host.p, al->host.len);
    else
        vg_buf_adds(t, "unknown host");
    if (al->agency.len || al->site.len) {
        vg_buf_adds(t, ", ");
        shp_hook_add(t, al->agency.len ? al->agency.p : "-", al->agency.len ? al->agency.len : 1);
        vg_buf_addc(t, '/');
        shp_hook_add(t, al->site.len ? al->site.p : "-", al->site.len ? al->site.len : 1);
    }
    vg_buf_addf(t, ", %" PRIu64 " event%s", al->count, al->count == 1 ? "" : "s");
    vg_str src = shp_http_field(al, "src_ip"), user = shp_http_field(al, "user");
    if (src.len) {
        vg_buf_adds(t, ", src ");
        shp_hook_add(t, src.p, src.len);
    }
    if (user.len) {
        vg_buf_adds(t, ", user ");
        shp_hook_add(t, user.p, user.len);
    }
    /* the evidence is incomplete: said on the line a person reads first */
    unsigned cut = 0;
    for (uint32_t i = 0; i < al->nraw && i < VG_ALERT_MAX_RAW; i++)
        cut += (al->raw_cut >> i) & 1u;
    if (cut)
        vg_buf_addf(t, ", %u of %u raw line%s [cut]", cut, (unsigned)al->nraw,
                    al->nraw == 1 ? "" : "s");
}

/* Slack's message formatting (Mattermost and others follow it) reads
 * <!channel>, <@U123> and <url|label> in text as mentions and links, and
 * & as the start of an entity: a user name a device sent could ping a
 * whole channel. The line's own words hold none of & < >, so escaping the
 * whole line escapes exactly the values in it. */
static void shp_hook_escape(const vg_buf *t, vg_buf *out)
{
    for (size_t i = 0; i < t->len; i++) {
        char ch = t->p[i];
        if (ch == '&')
            vg_buf_adds(out, "&amp;");
        else if (ch == '<')
            vg_buf_adds(out, "&lt;");
        else if (ch == '>')
            vg_buf_adds(out, "&gt;");
        else
            vg_buf_addc(out, ch);
    }
}

/* {"text":"<line>","alert":<doc>} */
static int shp_hook_format(shp_out *o, const vg_alert *al, vg_buf *b)
{
    vg_buf t = {0}, e = {0};
    shp_hook_text(al, &t);
    if (!t.oom)
        shp_hook_escape(&t, &e);
    int rc = t.oom || e.oom ? -ENOMEM : vg_buf_addc(b, '{');
    if (rc == 0)
        rc = shp_http_jstr(b, "text", vg_str_n(e.len ? e.p : "", e.len));
    vg_buf_free(&t);
    vg_buf_free(&e);
    if (rc == 0)
        rc = vg_buf_adds(b, ",\"alert\":");
    if (rc == 0)
        rc = shp_http_doc(o, al, b);
    if (rc == 0)
        rc = vg_buf_addc(b, '}');
    return rc;
}

/* A webhook body {"text":"<line>","alert":<doc>} (shp_hook_format) as
 * {"text":"<line>","alert":{"event":{"id":"<id>"},"vigil":{"omitted":..}}}:
 * for a server that refused the whole one as too large (413: a chat
 * service takes a few tens of KB; an alert with long captures and raw
 * lines is larger). The line is what a person reads, and the alert is
 * whole in the other outputs; without this the person got nothing. Works
 * on the formatted bytes, as the batch holds them. */
static void shp_hook_lean(const char *p, size_t n, vg_buf *out)
{
    static const char head[] = "{\"text\":\"", idk[] = "\"event\":{\"kind\":\"";
    size_t i = sizeof(head) - 1;
    if (n < i || memcmp(p, head, i) != 0) { /* not ours: sent as it is */
        vg_buf_add(out, p, n);
        return;
    }
    while (i < n && p[i] != '"')
        i += p[i] == '\\' ? 2 : 1;
    if (i >= n) {
        vg_buf_add(out, p, n);
        return;
    }
    vg_buf_add(out, p, i + 1);
    vg_buf_adds(out, ",\"alert\":{\"event\":{\"id\":\"");
    /* the id: 32 hex digits after "event":{"kind":"...","id":" (ECS's fixed order) */
    const char *e = memmem(p + i, n - i, idk, sizeof(idk) - 1);
    const char *q = e ? memmem(e, (size_t)(p + n - e), "\"id\":\"", 6) : NULL;
    if (q && (size_t)(p + n - q) >= 6 + 32 && q[6 + 32] == '"')
        vg_buf_add(out, q + 6, 32);
    vg_buf_addf(out, "\"},\"vigil\":{\"omitted\":\"the alert document (%zu bytes) is larger "
                     "than this server takes (HTTP 413): the other outputs have it\"}}}",
                n);
}

static int shp_http_format(shp_out *o, const vg_alert *al, vg_buf *b)
{
    shp_http *h = o->tp;
    size_t start = b->len;
    int rc = h->kind == SHP_HTTP_ES    ? shp_es_format(o, al, b)
             : h->kind == SHP_HTTP_HEC ? shp_hec_format(o, al, b)
                                       : shp_hook_format(o, al, b);
    if (rc) {
        b->len = start; /* the item is whole or absent */
        return -ENOMEM;
    }
    return 0;
}

/* ---- replies ---------------------------------------------------------- */

static void shp_http_mark(shp_item *it, int state, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void shp_http_mark(shp_item *it, int state, const char *fmt, ...)
{
    it->state = state;
    if (!fmt) {
        it->reason[0] = '\0';
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->reason, sizeof(it->reason), fmt, ap);
    va_end(ap);
}

static const char *shp_http_jget(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

/* "type: reason" of an Elasticsearch error object (or its text). */
static void shp_es_error(json_t *err, char *out, size_t cap)
{
    if (json_is_string(err))
        snprintf(out, cap, "%s", json_string_value(err));
    else if (json_is_object(err))
        snprintf(out, cap, "%s: %s", shp_http_jget(err, "type"), shp_http_jget(err, "reason"));
    else
        snprintf(out, cap, "no error detail");
}

/* A short, printable excerpt of a reply we do not otherwise understand. */
static void shp_http_excerpt(shp_http *h, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < h->reply.len && n + 1 < cap && n < 100; i++) {
        unsigned char ch = (unsigned char)h->reply.p[i];
        out[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : ' ';
    }
    out[n] = '\0';
}

/* What the server said about the whole request, in a few words. */
static void shp_http_detail(shp_http *h, char *out, size_t cap)
{
    json_t *r = json_loadb(h->reply.p ? h->reply.p : "", h->reply.len, 0, NULL);
    out[0] = '\0';
    if (json_is_object(r) && h->kind == SHP_HTTP_ES && json_object_get(r, "error"))
        shp_es_error(json_object_get(r, "error"), out, cap);
    else if (json_is_object(r) && h->kind == SHP_HTTP_HEC && json_object_get(r, "text"))
        snprintf(out, cap, "%s (HEC code %lld)", shp_http_jget(r, "text"),
                 (long long)json_integer_value(json_object_get(r, "code")));
    else
        shp_http_excerpt(h, out, cap);
    json_decref(r);
}

/* Elasticsearch errors that are the cluster's state, not the alert's: while
 * they last every alert gets them, so they are an outage of the output
 * (kept and sent again with its backoff, never dead-lettered, never on
 * item_retry_for's clock), not a bad alert. NULL for any other type;
 * otherwise a hint for the person who fixes the cause.
 * - cluster_block_exception: a write block (403 FORBIDDEN/12 on older
 *   versions, 429 TOO_MANY_REQUESTS/12 on newer ones; 503 for "no
 *   master"); the disk flood-stage watermark's is the common one;
 * - index_closed_exception (400): a closed index (ILM, an operator);
 * - index_not_found_exception (404): the index is missing and
 *   action.auto_create_index forbids creating it: configuration, which
 *   a person fixes while the alerts wait, as for a wrong password. */
static const char *shp_es_cluster_refusal(const char *type, const char *reason)
{
    if (strcmp(type, "cluster_block_exception") == 0)
        return strstr(reason, "flood-stage") || strstr(reason, "allow-delete") ||
                       strstr(reason, "allow delete")
                   ? "disk flood stage? free disk space on the data nodes; before "
                     "Elasticsearch 7.4 also reset index.blocks.read_only_allow_delete"
                   : "a write block on the index or the cluster";
    if (strcmp(type, "index_closed_exception") == 0)
        return "the index is closed (ILM or an operator?): open it";
    if (strcmp(type, "index_not_found_exception") == 0)
        return "the index does not exist and may not be created (action.auto_create_index?): "
               "create it or check index";
    return NULL;
}

/* A request the cluster refused for its state (err: the ES error object
 * of the request or of its first such item; borrowed). Counted; logged as
 * an error at the first of a run and when the error type changes within
 * it (the run ends at a _bulk reply without such a refusal,
 * shp_es_accepting). */
static void shp_es_refusing(shp_http *h, json_t *err)
{
    const char *type = shp_http_jget(err, "type"), *why = shp_http_jget(err, "reason");
    const char *hint = shp_es_cluster_refusal(type, why);
    int64_t now = (int64_t)uv_now(h->o->loop);
    h->cluster_refused++;
    h->refusing_n++;
    if (!h->refusing_since)
        h->refusing_since = now ? now : 1;
    else if (strcmp(h->refusing_type, type) == 0)
        return;
    snprintf(h->refusing_type, sizeof(h->refusing_type), "%s", type);
    vg_error("output %s: cluster refuses writes: %s: %s (%s): alerts kept, retrying",
             h->o->conf.name, type, why, hint ? hint : "");
}

/* A _bulk reply without a refusal for the cluster's state: the end of a
 * run of them, said once. */
static void shp_es_accepting(shp_http *h)
{
    if (!h->refusing_since)
        return;
    vg_info("output %s: cluster accepts writes again after %" PRIu64 " refused request%s "
            "(%.1f s)",
            h->o->conf.name, h->refusing_n, h->refusing_n == 1 ? "" : "s",
            (double)((int64_t)uv_now(h->o->loop) - h->refusing_since) / 1e3);
    h->refusing_since = 0;
    h->refusing_n = 0;
    h->refusing_type[0] = '\0';
}

/* Logs the error types of the items a _bulk reply refused (t; total: the
 * items sent), each with its count: the lines for the alerts name the
 * first refused one's cause alone ("N alerts refused for now (...)"), and
 * the causes of a mixed refusal (a write block beside a mapping error)
 * need different people. At most once a minute while the mix of types
 * stays the same; at once when it changes. */
static void shp_es_refused_items(shp_http *h, shp_es_tally *t, size_t total)
{
    int64_t now = (int64_t)uv_now(h->o->loop);
    uint64_t key = shp_es_tally_key(t);
    if (h->items_logged && key == h->items_key && now - h->items_logged < 60000)
        return;
    char text[600];
    shp_es_tally_text(t, text, sizeof(text));
    vg_warn("output %s: _bulk refused %zu of %zu alert%s: %s", h->o->conf.name, t->items, total,
            total == 1 ? "" : "s", text);
    h->items_key = key;
    h->items_logged = now ? now : 1;
}

/* A 2xx _bulk reply: "errors": false settles everything; otherwise one
 * entry per item, in the order sent. An item refused for the cluster's
 * state (shp_es_cluster_refusal) is kept and sent again, whatever its
 * status, like a 429: the items taken beside it are settled. */
static int shp_es_reply(shp_http *h, long status, shp_item *items, size_t n, char *reason,
                        size_t cap)
{
    json_error_t je;
    json_t *r = json_loadb(h->reply.p ? h->reply.p : "", h->reply.len, 0, &je);
    json_t *errors = json_object_get(r, "errors"), *arr = json_object_get(r, "items");
    json_t *blocked = NULL; /* the first item refused for the cluster's state */
    shp_es_tally tally = {0};
    int rc = 0;
    if (!json_is_object(r) || !json_is_boolean(errors)) {
        snprintf(reason, cap, "HTTP %ld but the reply is not a _bulk answer (%s)", status,
                 r ? "no \"errors\"" : je.text);
        rc = -EBADMSG;
    } else if (json_is_false(errors)) {
        for (size_t i = 0; i < n; i++)
            shp_http_mark(&items[i], SHP_ITEM_OK, NULL);
    } else if (!json_is_array(arr) || json_array_size(arr) != n) {
        /* We cannot tell which were stored: send them all again; those that
         * were are refused with 409 and counted as duplicates. */
        snprintf(reason, cap, "HTTP %ld but the _bulk reply lists %zu items for %zu sent", status,
                 json_array_size(arr), n);
        rc = -EBADMSG;
    } else {
        for (size_t i = 0; i < n; i++) {
            json_t *it = json_array_get(arr, i);
            json_t *act = json_object_get(it, "create");
            if (!act && json_is_object(it)) /* whatever action it was */
                act = json_object_iter_value(json_object_iter(it));
            long st = (long)json_integer_value(json_object_get(act, "status"));
            json_t *err = json_object_get(act, "error");
            char why[140];
            shp_es_error(err, why, sizeof(why));
            if (st == 200 || st == 201)
                shp_http_mark(&items[i], SHP_ITEM_OK, NULL);
            else if (shp_es_cluster_refusal(shp_http_jget(err, "type"),
                                            shp_http_jget(err, "reason"))) {
                shp_http_mark(&items[i], SHP_ITEM_RETRY, "item HTTP %ld %s", st, why);
                items[i].refused_itself = 0; /* an outage: item_retry_for does not run */
                if (!blocked)
                    blocked = err;
            } else if (st == 409)
                shp_http_mark(&items[i], SHP_ITEM_DUP, NULL);
            else if (st == 429 || st >= 500 || st == 0 || st == 401 || st == 403 || st == 404) {
                /* 401/403 per item: the user may not write this index
                 * (security_exception); 404: the index does not exist and
                 * may not be created. Ours to fix, not the alert's fault;
                 * nor is a 429 (es_rejected_execution_exception: the
                 * cluster is overloaded, an outage in all but name), so
                 * only an item 5xx runs item_retry_for's clock. */
                shp_http_mark(&items[i], SHP_ITEM_RETRY, "item HTTP %ld %s", st, why);
                items[i].refused_itself = st >= 500;
            }
            else
                shp_http_mark(&items[i], SHP_ITEM_FAILED, "item HTTP %ld %s", st, why);
            if (items[i].state == SHP_ITEM_RETRY || items[i].state == SHP_ITEM_FAILED)
                shp_es_tally_add(&tally, shp_http_jget(err, "type"), st);
        }
        if (tally.items)
            shp_es_refused_items(h, &tally, n);
        shp_es_tally_free(&tally);
    }
    if (blocked) /* before r goes: blocked is in it */
        shp_es_refusing(h, blocked);
    else if (rc == 0)
        shp_es_accepting(h);
    json_decref(r);
    return rc;
}

/* HEC codes that are our configuration's fault, not the alert's. */
static int shp_hec_config_code(long code)
{
    return code == 1 || code == 2 || code == 3 || code == 4 || code == 7 || code == 10 ||
           code == 11 || code == 14 || code == 16;
}

/* Logs a condition that needs a person (credentials, URL, certificate)
 * as an error once, until it changes; the driver logs every retry. */
static void shp_http_alarm(shp_http *h, long what, const char *reason)
{
    if (h->logged == what)
        return;
    h->logged = what;
    vg_error("output %s: %s", h->o->conf.name, reason);
}

/* A HEC 4xx (not 401/403/404/413). HEC reads the events in order and
 * stops at the first bad one, which it names (invalid-event-number): the
 * ones before it were indexed, the ones after it were not read. Those are
 * left unsettled in h->unread and go at once in the next request of the
 * attempt: HEC refused none of them for now, so they wait for no backoff
 * (which doubled with each bad event of a batch). */
static int shp_hec_refused(shp_http *h, long status, shp_item *items, size_t n, char *reason,
                           size_t cap)
{
    json_t *r = json_loadb(h->reply.p ? h->reply.p : "", h->reply.len, 0, NULL);
    json_t *jcode = json_object_get(r, "code"), *jbad = json_object_get(r, "invalid-event-number");
    long code = json_is_integer(jcode) ? (long)json_integer_value(jcode) : -1;
    char text[100];
    snprintf(text, sizeof(text), "%s", shp_http_jget(r, "text"));
    long long bad = json_is_integer(jbad) ? json_integer_value(jbad) : -1;
    json_decref(r);
    if (shp_hec_config_code(code)) {
        snprintf(reason, cap, "HTTP %ld HEC code %ld: %s (check this output's token and index; "
                 "alerts are kept and retried)", status, code, text);
        shp_http_alarm(h, 1000 + code, reason);
        return -EINVAL;
    }
    if (bad >= 0 && (size_t)bad < n) {
        for (size_t i = 0; i < n; i++) {
            if (i < (size_t)bad)
                shp_http_mark(&items[i], SHP_ITEM_OK, NULL);
            else if (i == (size_t)bad)
                shp_http_mark(&items[i], SHP_ITEM_FAILED, "HTTP %ld HEC code %ld: %s", status,
                              code, text);
            else
                shp_http_mark(&items[i], SHP_ITEM_PENDING, NULL);
        }
        h->unread = n - (size_t)bad - 1;
        return 0;
    }
    snprintf(reason, cap, "HTTP %ld HEC code %ld: %s", status, code, text);
    if (n > 1)
        return SHP_HTTP_ISOLATE;
    shp_http_mark(&items[0], SHP_ITEM_FAILED, "%s", reason);
    return 0;
}

/* What a reply with this status means for these items (see the top of the
 * file): 0 when every item's state is set, SHP_HTTP_ISOLATE, or rc < 0 with
 * reason when the attempt failed as a whole. */
static int shp_http_judge(shp_http *h, long status, shp_item *items, size_t n, char *reason,
                          size_t cap)
{
    const char *name = h->o->conf.name;
    char detail[140];
    if (status >= 200 && status <= 299) {
        h->logged = 0;
        if (h->kind == SHP_HTTP_ES)
            return shp_es_reply(h, status, items, n, reason, cap);
        for (size_t i = 0; i < n; i++)
            shp_http_mark(&items[i], SHP_ITEM_OK, NULL);
        return 0;
    }
    shp_http_detail(h, detail, sizeof(detail));
    if (h->kind == SHP_HTTP_ES && status >= 400) {
        /* a block on the whole cluster (cluster.blocks.read_only, no
         * master) refuses the request as a whole: an outage, not our
         * credentials (403) nor a body to isolate (400) */
        json_t *r = json_loadb(h->reply.p ? h->reply.p : "", h->reply.len, 0, NULL);
        json_t *err = json_object_get(r, "error");
        int blocked = json_is_object(err) &&
                      shp_es_cluster_refusal(shp_http_jget(err, "type"),
                                             shp_http_jget(err, "reason"));
        if (blocked) {
            shp_es_refusing(h, err);
            snprintf(reason, cap, "HTTP %ld %s (the cluster refuses writes; alerts are kept and "
                     "retried)", status, detail);
        }
        json_decref(r);
        if (blocked)
            return -EAGAIN;
    }
    if (status == 401 || status == 403 || status == 407) {
        const char *what = h->kind == SHP_HTTP_ES    ? "username/password or api_key"
                           : h->kind == SHP_HTTP_HEC ? "token"
                                                     : "token";
        snprintf(reason, cap, "HTTP %ld %s: the server refuses our credentials (check %s of "
                 "output %s); alerts are kept and retried", status, detail, what, name);
        shp_http_alarm(h, status, reason);
        return -EACCES;
    }
    if (status == 404 || status == 405) {
        char shown[300];
        snprintf(reason, cap, "HTTP %ld %s: nothing to post to at %s (check url); alerts are "
                 "kept and retried", status, detail,
                 shp_url_shown(h->url, h->kind != SHP_HTTP_HOOK, shown, sizeof(shown)));
        shp_http_alarm(h, status, reason);
        return -ENOENT;
    }
    if (status == 408 || status == 429 || status >= 500) {
        snprintf(reason, cap, "HTTP %ld %s", status, detail);
        return -EAGAIN;
    }
    if (status == 413) {
        if (n > 1) {
            snprintf(reason, cap, "HTTP 413: %zu alerts in one request are too large for the "
                     "server; lower this output's batch", n);
            return SHP_HTTP_ISOLATE;
        }
        if (h->kind == SHP_HTTP_HOOK && !h->lean) {
            snprintf(reason, cap, "HTTP 413: this alert (%zu bytes) is larger than the server "
                     "takes", items[0].len);
            return SHP_HTTP_LEAN;
        }
        if (h->lean)
            shp_http_mark(&items[0], SHP_ITEM_FAILED,
                          "HTTP 413: this alert (%zu bytes) is larger than the server takes, "
                          "and so is its text alone (%zu bytes)",
                          h->full_len, h->post_len);
        else
            shp_http_mark(&items[0], SHP_ITEM_FAILED,
                          "HTTP 413: this alert (%zu bytes) is larger than the server takes",
                          items[0].len);
        return 0;
    }
    if (status >= 400 && status <= 499) {
        if (h->kind == SHP_HTTP_HEC)
            return shp_hec_refused(h, status, items, n, reason, cap);
        snprintf(reason, cap, "HTTP %ld %s", status, detail);
        if (n > 1)
            return SHP_HTTP_ISOLATE;
        shp_http_mark(&items[0], SHP_ITEM_FAILED, "%s", reason);
        return 0;
    }
    snprintf(reason, cap, "HTTP %ld: unexpected answer (redirects are not followed: check url)",
             status);
    shp_http_alarm(h, status, reason);
    return -EPROTO;
}

static int shp_http_curl_errno(CURLcode cc)
{
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return -EHOSTUNREACH;
    case CURLE_COULDNT_CONNECT:
        return -ECONNREFUSED;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    default:
        return -EIO;
    }
}

/* TLS failures that a person must fix (certificate, CA file, key). */
static int shp_http_tls_problem(CURLcode cc)
{
    return cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
           cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_CIPHER ||
           cc == CURLE_SSL_ISSUER_ERROR || cc == CURLE_SSL_CRL_BADFILE;
}

/* Whether the server refused the handshake with a handshake_failure alert
 * (libcurl's text of OpenSSL's error: "... sslv3 alert handshake
 * failure"), most often for want of a common cipher suite (see
 * shp_tls_ciphers_hint). libcurl does not say at which step, so a server
 * that refuses our client certificate that way gets the hint too; its
 * certificate problems have codes of their own (shp_http_tls_problem). */
static int shp_http_hello_refused(CURLcode cc, const char *text)
{
    return cc == CURLE_SSL_CONNECT_ERROR &&
           (strstr(text, "alert handshake failure") || strstr(text, "no shared cipher"));
}

/* ---- requests --------------------------------------------------------- */

/* Bytes of the request in flight the server's kernel has acknowledged:
 * those handed to our socket, less what is still in its send queue. */
static int64_t shp_http_taken(shp_http *h)
{
    curl_off_t up = 0;
    int outq = 0;
    curl_easy_getinfo(h->easy, CURLINFO_SIZE_UPLOAD_T, &up);
    /* not CURLINFO_ACTIVESOCKET: it is set only once a transfer is done */
    if (h->req.fd == CURL_SOCKET_BAD || ioctl(h->req.fd, SIOCOUTQ, &outq) != 0 || outq < 0)
        outq = 0;
    return (int64_t)up - outq;
}

/* How far the request in flight got: bytes of it the server's kernel
 * has acknowledged (handed to our socket, less what is still in the
 * socket's send queue: SIOCOUTQ) plus bytes of the answer, received or
 * waiting in our socket (SIOCINQ). Only its growth means anything: it
 * grows while the server takes the body or answers, even when our socket
 * took the whole body at once. */
static int64_t shp_http_moved(shp_http *h)
{
    curl_off_t down = 0;
    int inq = 0;
    curl_easy_getinfo(h->easy, CURLINFO_SIZE_DOWNLOAD_T, &down);
    if (h->req.fd == CURL_SOCKET_BAD || ioctl(h->req.fd, SIOCINQ, &inq) != 0 || inq < 0)
        inq = 0;
    return shp_http_taken(h) + (int64_t)down + inq;
}

static void shp_http_on_done(shp_curl_req *req, CURLcode cc);

/* Gives up on the request in flight (why: SHP_HTTP_CUT_*, reason: for
 * the log) and ends it. The connection is reset (SO_LINGER 0), not closed:
 * closed, our kernel went on sending the rest of the body from its send
 * queue, and a server that still read it stored alerts we count as not
 * delivered, which then arrived twice (HEC has no 409). Reset, what is
 * still queued is dropped and the server sees the body end short. */
static void shp_http_cut(shp_http *h, int why, const char *reason)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    if (h->req.fd != CURL_SOCKET_BAD)
        setsockopt(h->req.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    shp_curl_stop(&h->req); /* closes the connection: it is mid-request */
    h->cut = why;
    snprintf(h->errbuf, sizeof(h->errbuf), "%s", reason);
    shp_http_on_done(&h->req, CURLE_OPERATION_TIMEDOUT);
}

/* The request's timeout ran out. A server still taking the body (a thin
 * link, a busy node reading slowly) or still sending its answer gets
 * another timeout: failing it sent the same batch again from its start,
 * and a batch that takes longer than the timeout never got through. One
 * that moved nothing since the last timeout fails as before. At
 * SHP_HTTP_TIMEOUT_CAP timeouts any request ends, and the next requests
 * carry fewer alerts (shp_http_shrink). libcurl's CURLOPT_TIMEOUT is set
 * one timeout later, in case this timer runs late. */
static void shp_http_on_deadline(uv_timer_t *t)
{
    shp_http *h = t->data;
    int64_t ms = h->o->conf.timeout_ms, cap = ms * SHP_HTTP_TIMEOUT_CAP;
    int64_t took = (int64_t)uv_now(h->o->loop) - h->started_ms;
    if (!h->req.easy)
        return;
    int64_t moved = shp_http_moved(h);
    if (moved > h->moved && took < cap) {
        h->moved = moved;
        uv_timer_start(&h->deadline, shp_http_on_deadline,
                       (uint64_t)(cap - took < ms ? cap - took : ms), 0);
        return;
    }
    char why[CURL_ERROR_SIZE];
    if (moved > h->moved) {
        snprintf(why, sizeof(why),
                 "timed out: cut at %d x timeout (%" PRId64 " ms), the most a request may "
                 "take, while still moving bytes (%" PRId64 " of %zu bytes of the request "
                 "taken by the server)",
                 SHP_HTTP_TIMEOUT_CAP, cap, shp_http_taken(h), h->post_len);
        shp_http_cut(h, SHP_HTTP_CUT_CAP, why);
        return;
    }
    snprintf(why, sizeof(why),
             "timed out: nothing sent or received in the last %" PRId64 " ms (timeout), %" PRId64
             " ms in all",
             ms, took);
    shp_http_cut(h, SHP_HTTP_CUT_IDLE, why);
}

static int shp_http_post(shp_http *h, const char *p, size_t n)
{
    h->reply.len = 0;
    h->errbuf[0] = '\0';
    h->cut = 0;
    h->post_len = n;
    /* libcurl reads the TLS files (by path) at each new connection, in this
     * loop: one that has become a FIFO, a device or a directory since the
     * start is refused here, before it can block the loop or never end.
     * The attempt fails (its alerts retried) with the file and why. */
    const char *key, *path;
    char why[PATH_MAX + 256];
    int urc = shp_http_tls_unreadable(&h->o->conf, &key, &path, why, sizeof(why));
    if (urc) {
        snprintf(h->errbuf, sizeof(h->errbuf), "%.8s '%.100s': %.120s", key, path, why);
        return urc;
    }
    curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
    /* Not copied: the batch's bytes stay valid until shp_out_done. */
    curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, p);
    h->requests++;
    int rc = shp_curl_start(&h->req, h->easy);
    if (rc == 0 && h->o->conf.timeout_ms > 0) {
        h->moved = 0;
        h->started_ms = (int64_t)uv_now(h->o->loop);
        uv_timer_start(&h->deadline, shp_http_on_deadline, (uint64_t)h->o->conf.timeout_ms, 0);
    }
    return rc;
}

/* Posts items [at, at + nreq) of the batch. */
static int shp_http_post_current(shp_http *h)
{
    shp_batch *b = h->batch;
    shp_item *items = &b->items[h->at];
    if (h->lean) {
        h->body.len = 0;
        h->body.oom = 0;
        shp_hook_lean(b->data.p + items[0].off, items[0].len, &h->body);
        if (h->body.oom)
            return -ENOMEM;
        return shp_http_post(h, h->body.p, h->body.len);
    }
    /* The driver may re-send a subset with the bytes where they were:
     * send the items' bytes, whatever else data holds. */
    size_t at = items[0].off;
    int contiguous = 1;
    for (size_t i = 0; i < h->nreq && contiguous; i++) {
        contiguous = items[i].off == at;
        at += items[i].len;
    }
    if (contiguous)
        return shp_http_post(h, b->data.p + items[0].off, at - items[0].off);
    h->body.len = 0;
    h->body.oom = 0;
    for (size_t i = 0; i < h->nreq; i++)
        vg_buf_add(&h->body, b->data.p + items[i].off, items[i].len);
    if (h->body.oom)
        return -ENOMEM;
    return shp_http_post(h, h->body.p, h->body.len);
}

/* Alerts the next request of the attempt carries: one in isolation, else
 * up to the current chunk (the output's batch unless shrunk). */
static size_t shp_http_next_size(const shp_http *h)
{
    size_t left = h->batch->n - h->at, per = (size_t)h->o->conf.batch;
    if (h->chunk && h->chunk < per)
        per = h->chunk;
    if (h->iso_end || h->kind == SHP_HTTP_HOOK || per == 0)
        per = 1;
    return left < per ? left : per;
}

/* A request of nreq alerts was cut at SHP_HTTP_TIMEOUT_CAP timeouts while
 * it was still moving bytes: a server that reads this slowly (a thin
 * link, a busy node) never takes that many within the cap, and sending
 * them again whole failed the same way for ever. The next requests carry
 * half as many, down to one; shp_http_grow brings the size back. */
static void shp_http_shrink(shp_http *h)
{
    size_t per = h->nreq / 2;
    if (per == 0 || (h->chunk && per >= h->chunk))
        return;
    h->chunk = per;
    vg_warn("output %s: a request of %zu alerts was cut at %d x timeout (%" PRId64 " ms) while "
            "the server was still taking it; sending at most %zu alerts per request, and "
            "twice as many after each request answered within %d x timeout (if this recurs, "
            "lower batch or raise timeout)",
            h->o->conf.name, h->nreq, SHP_HTTP_TIMEOUT_CAP,
            h->o->conf.timeout_ms * SHP_HTTP_TIMEOUT_CAP, per, SHP_HTTP_TIMEOUT_CAP / 2);
}

/* A request of nreq alerts was answered (2xx) within half the cap: twice
 * as many fit in the cap at that pace. A request slower than that keeps
 * the size, so that a link that takes n alerts in 6 timeouts does not
 * alternate between n and a 2n cut at the cap. */
static void shp_http_grow(shp_http *h, int64_t took_ms)
{
    size_t batch = (size_t)h->o->conf.batch;
    if (!h->chunk || took_ms >= h->o->conf.timeout_ms * (SHP_HTTP_TIMEOUT_CAP / 2) ||
        2 * h->nreq <= h->chunk)
        return;
    h->chunk = 2 * h->nreq;
    if (h->chunk < batch)
        return;
    h->chunk = 0;
    vg_info("output %s: requests are answered within %d x timeout again: back to batch %zu "
            "alerts per request", h->o->conf.name, SHP_HTTP_TIMEOUT_CAP / 2, batch);
}

/* Ends the attempt. h may be gone when this returns (the driver may close
 * the output from shp_out_done), so it is always the last thing done. */
static void shp_http_finish(shp_http *h, int rc, const char *reason)
{
    shp_out *o = h->o;
    h->batch = NULL;
    h->iso_end = 0;
    h->unread = 0;
    shp_out_done(o, rc, rc < 0 ? reason : NULL);
}

/* A request failed as a whole after earlier ones of the attempt settled
 * their items (or in isolation): those keep their verdicts, the items
 * from this request on are left for the next attempt. */
static void shp_http_abort(shp_http *h, const char *reason)
{
    shp_batch *b = h->batch;
    for (size_t i = h->at; i < b->n; i++)
        shp_http_mark(&b->items[i], SHP_ITEM_RETRY, "%s", reason);
    shp_http_finish(h, 0, NULL);
}

/* After a request: the attempt goes on with the next one, or ends. A
 * batch goes out in one request, except after a cut at the cap (chunks,
 * shp_http_shrink) or a refusal as a whole (its alerts one per request,
 * then chunks again). */
static void shp_http_next(shp_http *h, int rc, const char *reason)
{
    shp_batch *b = h->batch;
    h->lean = 0;
    if (rc == SHP_HTTP_LEAN) {
        vg_warn("output %s: %s; sending its text alone, without the alert document (the other "
                "outputs have it whole)",
                h->o->conf.name, reason);
        h->lean = 1;
        h->full_len = b->items[h->at].len;
    } else if (rc == SHP_HTTP_ISOLATE && !h->iso_end) {
        vg_warn("output %s: %s; sending these %zu alerts one per request to find the refused one",
                h->o->conf.name, reason, h->nreq);
        h->iso_end = h->at + h->nreq;
    } else if (rc < 0) {
        if (h->at == 0 && !h->iso_end)
            shp_http_finish(h, rc, reason); /* nothing settled: the attempt failed */
        else
            shp_http_abort(h, reason);
        return;
    } else {
        int isolated = h->iso_end != 0, refused_now = 0;
        size_t done = h->nreq - h->unread; /* the tail HEC did not read goes next */
        h->unread = 0;
        for (size_t i = h->at; i < h->at + done; i++)
            refused_now |= b->items[i].state == SHP_ITEM_RETRY;
        h->at += done;
        if (h->iso_end && h->at >= h->iso_end)
            h->iso_end = 0;
        if (h->at == b->n) {
            shp_http_finish(h, 0, NULL);
            return;
        }
        if (refused_now && !isolated) {
            /* a chunk with alerts refused for now (an item 429): the
             * rest waits with them, in order */
            shp_http_abort(h, "not sent yet: an earlier request of the batch has alerts "
                              "refused for now");
            return;
        }
    }
    h->nreq = shp_http_next_size(h);
    rc = shp_http_post_current(h);
    if (rc)
        shp_http_abort(h, h->errbuf[0] ? h->errbuf : "cannot start an HTTP request");
}

/* A 429 or 503 with Retry-After (seconds, or a date: libcurl reads both)
 * sets the least delay before the next attempt (Slack, Teams and other
 * chat services send one when they throttle), and the reason says so. */
static void shp_http_retry_after(shp_http *h, long status, char *reason, size_t cap)
{
#if LIBCURL_VERSION_NUM >= 0x074200 /* 7.66.0: CURLINFO_RETRY_AFTER */
    curl_off_t secs = 0;
    if ((status == 429 || status == 503) &&
        curl_easy_getinfo(h->easy, CURLINFO_RETRY_AFTER, &secs) == CURLE_OK && secs > 0) {
        if (secs > 86400)
            secs = 86400;
        h->o->retry_after_ms = (int64_t)secs * 1000;
        size_t len = strlen(reason);
        if (len < cap)
            snprintf(reason + len, cap - len, " (Retry-After: %lld s)", (long long)secs);
    }
#else
    (void)h, (void)status, (void)reason, (void)cap;
#endif
}

static void shp_http_on_done(shp_curl_req *req, CURLcode cc)
{
    shp_http *h = (shp_http *)(void *)((char *)req - offsetof(shp_http, req));
    shp_batch *b = h->batch;
    shp_item *items = &b->items[h->at];
    size_t n = h->nreq;
    char reason[512] = "";
    int64_t took_ms = (int64_t)uv_now(h->o->loop) - h->started_ms;
    uv_timer_stop(&h->deadline);
    long status = 0;
    curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
    h->last_status = status;
    int rc;
    if (cc != CURLE_OK) {
        h->http_errors++;
        /* The error buffer says more ("SSL certificate problem: ...",
         * "Failed to connect to ... port ...") than the code's name. */
        snprintf(reason, sizeof(reason), "%s", h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc));
        /* A socket error the loop found (shp_curl_req.sock_err): libcurl,
         * told only "error", ends the transfer with CURLE_SEND_ERROR and
         * "select/poll returned error"; the cause goes first. (A refused
         * connect comes that way too, as CURLE_COULDNT_CONNECT with a
         * text of its own that says so.) */
        if (req->sock_err && cc == CURLE_SEND_ERROR)
            snprintf(reason, sizeof(reason), "%s (libcurl: %s)", strerror(req->sock_err),
                     h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc));
        rc = shp_http_curl_errno(cc);
        long vr = X509_V_OK;
        if (cc == CURLE_PEER_FAILED_VERIFICATION &&
            curl_easy_getinfo(h->easy, CURLINFO_SSL_VERIFYRESULT, &vr) == CURLE_OK &&
            vr == X509_V_ERR_CERT_REVOKED)
            h->tls_revoked++;
        if (shp_http_tls_problem(cc)) {
            char why[1000], shown[300];
            /* revoked: only a tls_crl can say so, and no other key mends it */
            snprintf(why, sizeof(why), "TLS with %s failed: %s (%s); alerts are kept and retried",
                     shp_url_shown(h->url, h->kind != SHP_HTTP_HOOK, shown, sizeof(shown)), reason,
                     vr == X509_V_ERR_CERT_REVOKED
                         ? "tls_crl revokes the server's certificate or a CA of its chain: the "
                           "server needs a new certificate"
                         : "check tls_ca, tls_server_name, tls_cert/tls_key");
            shp_http_alarm(h, -(long)cc, why);
        } else if (shp_http_hello_refused(cc, reason)) {
            char why[1400], shown[300];
            snprintf(why, sizeof(why), "TLS with %s failed: %s (%s); alerts are kept and retried",
                     shp_url_shown(h->url, h->kind != SHP_HTTP_HOOK, shown, sizeof(shown)), reason,
                     shp_tls_ciphers_hint(shp_http_set(h->o->conf.tls_ciphers)));
            shp_http_alarm(h, -(long)cc, why);
            /* the "delivery failed" warnings carry the cause too: the
             * hint in full on the first of a run of failed attempts, then
             * a short pointer (they come at attempts 1, 2, 4, 8, ...) */
            size_t at = strlen(reason);
            snprintf(reason + at, sizeof(reason) - at, " (%s)",
                     h->o->attempt == 0
                         ? shp_tls_ciphers_hint(shp_http_set(h->o->conf.tls_ciphers))
                         : "the server refused our ClientHello, most likely for want of a "
                           "common cipher suite: see tls_ciphers");
        }
        /* at the cap; or libcurl's CURLOPT_TIMEOUT, when our deadline ran
         * late, on a request that had moved bytes (not a connect timeout) */
        if (h->cut == SHP_HTTP_CUT_CAP ||
            (cc == CURLE_OPERATION_TIMEDOUT && !h->cut && h->moved > 0))
            shp_http_shrink(h);
    } else {
        if (status < 200 || status > 299)
            h->http_errors++;
        else
            shp_http_grow(h, took_ms);
        rc = shp_http_judge(h, status, items, n, reason, sizeof(reason));
        shp_http_retry_after(h, status, reason, sizeof(reason));
    }
    shp_http_next(h, rc, reason);
}

static int shp_http_send(shp_out *o, shp_batch *b)
{
    shp_http *h = o->tp;
    h->batch = b;
    h->at = 0;
    h->iso_end = 0;
    h->lean = 0;
    h->unread = 0;
    h->req.done = shp_http_on_done;
    if (b->n == 0) {
        shp_http_finish(h, 0, NULL);
        return 0;
    }
    /* A webhook takes one alert per request (max_batch 1); should a larger
     * batch come, it goes out one by one all the same. */
    h->nreq = shp_http_next_size(h);
    int rc = shp_http_post_current(h);
    if (rc) {
        h->batch = NULL;
        shp_out_done(o, rc, h->errbuf[0] ? h->errbuf : "cannot start an HTTP request");
    }
    return 0;
}

/* ---- the rest --------------------------------------------------------- */

static void shp_http_report(shp_out *o, vg_buf *line)
{
    shp_http *h = o->tp;
    if (h)
        vg_buf_addf(line,
                    " requests=%" PRIu64 " http_errors=%" PRIu64 " last_status=%ld"
                    " request_batch=%zu",
                    h->requests, h->http_errors, h->last_status,
                    h->chunk && h->chunk < (size_t)o->conf.batch ? h->chunk
                                                                 : (size_t)o->conf.batch);
    if (h && h->kind == SHP_HTTP_ES)
        vg_buf_addf(line, " cluster_refused=%" PRIu64, h->cluster_refused);
    if (h && shp_http_set(o->conf.tls_crl))
        vg_buf_addf(line, " tls_revoked=%" PRIu64, h->tls_revoked);
}

static void shp_http_on_closed(void *ud)
{
    shp_out_closed(ud);
}

static void shp_http_on_deadline_closed(uv_handle_t *t)
{
    shp_http *h = t->data;
    shp_out *o = h->o;
    int refd = h->refd;
    shp_http_free(h);
    if (refd)
        shp_curl_unref(shp_http_on_closed, o);
    else
        shp_out_closed(o);
}

static void shp_http_close(shp_out *o)
{
    shp_http *h = o->tp;
    if (!h) {
        shp_out_closed(o);
        return;
    }
    shp_curl_stop(&h->req); /* an attempt in flight is abandoned: no done */
    o->tp = NULL;
    /* h is freed once the timer's handle is closed */
    uv_close((uv_handle_t *)&h->deadline, shp_http_on_deadline_closed);
}

/* The three HTTP outputs differ only in their keys and envelopes (chosen
 * by the output's kind in shp_http_open and shp_http_format). */
#define SHP_HTTP_OPS                                                                               \
    .check = shp_http_check, .open = shp_http_open, .format = shp_http_format,                     \
    .send = shp_http_send, .close = shp_http_close, .report = shp_http_report

const shp_transport shp_es_transport = {.type = "elasticsearch", .keys = shp_es_keys, SHP_HTTP_OPS};

const shp_transport shp_hec_transport = {.type = "splunk_hec", .keys = shp_hec_keys, SHP_HTTP_OPS};

const shp_transport shp_webhook_transport = {
    .type = "webhook", .keys = shp_hook_keys, SHP_HTTP_OPS, .max_batch = 1};
