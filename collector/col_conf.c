/* The 'collector' section of the configuration. */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "col.h"
#include "vigil/err.h"
#include "vigil/syslog.h"

static const vg_conf_key col_conf_keys[] = {
    {"name", VG_CONF_NAME, "collector", offsetof(col_conf, name),
     "instance name; the correlator tracks each collector's stream by it", 0, 0},
    {"listen", VG_CONF_NODE, NULL, offsetof(col_conf, listen),
     "list of udp://ADDR:PORT and tcp://ADDR:PORT ([::1]:PORT for IPv6)", 0, 0},
    {"correlator_socket", VG_CONF_STR, VG_SOCK_CORRELATOR, offsetof(col_conf, correlator),
     "the correlator's socket, relative to pipeline.run_dir", 0, 0},
    {"max_message_size", VG_CONF_SIZE, "8K", offsetof(col_conf, max_message),
     "longest message kept whole; longer ones are truncated and flagged", VG_MAX_MESSAGE_MIN,
     VG_MAX_MESSAGE_MAX},
    {"spool_size", VG_CONF_SIZE, "1G", offsetof(col_conf, spool_size),
     "size of the LMDB spool map", 1 << 20, (int64_t)1 << 40},
    {"spool_limit", VG_CONF_SIZE, "0", offsetof(col_conf, spool_limit),
     "spool bytes at which TCP reading pauses and datagrams are refused; 0: 3/4 of spool_size",
     0, (int64_t)1 << 40},
    {"spool_sync", VG_CONF_STR, "background", offsetof(col_conf, spool_sync),
     "background (commits synced by a worker; fast) or commit (each commit synced before the "
     "next: a power cut cannot damage the spool)", 0, 0},
    {"max_connections", VG_CONF_INT, "4096", offsetof(col_conf, max_conns),
     "TCP and TLS connections open at once; more are closed as they come, and counted", 1,
     1000000},
    {"max_connections_per_ip", VG_CONF_INT, "1024", offsetof(col_conf, max_conns_ip),
     "TCP and TLS connections open at once from one address", 1, 1000000},
    {"max_rate_per_ip", VG_CONF_INT, "0", offsetof(col_conf, max_rate_ip),
     "messages a second taken from one address's TCP and TLS connections (counted as "
     "max_connections_per_ip counts); past it their reading waits; 0: no limit",
     0, COL_RATE_MAX},
    {"tls_handshake_timeout", VG_CONF_DURATION, "30s", offsetof(col_conf, handshake_ms),
     "a TLS connection whose handshake is not done after this is closed", 1000, 3600000},
    {"idle_timeout", VG_CONF_DURATION, "0", offsetof(col_conf, idle_ms),
     "a TCP or TLS connection silent this long is closed; 0: never (docs/configuration.md)", 0,
     (int64_t)365 * 86400000},
    {"frame_timeout", VG_CONF_DURATION, "60s", offsetof(col_conf, frame_ms),
     "a TCP or TLS connection whose line or octet-counted frame stays unfinished this long is "
     "closed, the bytes kept raw; 0: never (docs/configuration.md)", 0,
     (int64_t)365 * 86400000},
    VG_STATS_LOG_KEY(col_conf, stats_log),
    {"sources", VG_CONF_NODE, NULL, offsetof(col_conf, sources_node),
     "agency and site per sender network / HOSTNAME pattern (docs/configuration.md)", 0, 0},
    {"tls", VG_CONF_NODE, NULL, offsetof(col_conf, tls_node),
     "TLS settings for tls:// listeners: cert, key, ca, require_client_cert, allowed_names, "
     "ciphers", 0, 0},
    {NULL, 0, NULL, 0, NULL, 0, 0},
};

/* Parses "udp://127.0.0.1:5514" or "tcp://[::1]:5514". */
static int col_conf_listen(const vg_node *n, col_listen *l, char *err, size_t errlen)
{
    if (n->kind != VG_NODE_SCALAR)
        return vg_conf_errf(err, errlen, n, "listen entries must be strings like tcp://127.0.0.1:5514");
    const char *s = n->str, *rest;
    if (strncmp(s, "unix://", 7) == 0) {
        l->proto = COL_UNIX;
        if (s[7] != '/' || strlen(s + 7) >= sizeof(l->addr))
            return vg_conf_errf(err, errlen, n, "listen '%s': unix:// needs an absolute path "
                                "shorter than %zu bytes", s, sizeof(l->addr));
        snprintf(l->addr, sizeof(l->addr), "%s", s + 7);
        /* its directory must be there: -t called the file valid and the
         * start then failed on the bind, without a line. One this user
         * may not look into (a SIGHUP after the start dropped root) is
         * left to the bind. */
        char dir[sizeof(l->addr)];
        snprintf(dir, sizeof(dir), "%s", l->addr);
        char *sl = strrchr(dir, '/');
        sl[sl == dir] = '\0'; /* "/log": the directory is "/" */
        struct stat sb;
        int st = stat(dir, &sb);
        if (st == 0 ? !S_ISDIR(sb.st_mode) : errno == ENOENT || errno == ENOTDIR)
            return vg_conf_errf(err, errlen, n, "listen '%s': its directory %s: %s", s, dir,
                                st == 0 ? "not a directory" : strerror(errno));
        return 0;
    }
    if (strncmp(s, "udp://", 6) == 0)
        l->proto = COL_UDP;
    else if (strncmp(s, "tcp://", 6) == 0)
        l->proto = COL_TCP;
    else if (strncmp(s, "tls://", 6) == 0)
        l->proto = COL_TLS;
    else
        return vg_conf_errf(err, errlen, n, "listen '%s': scheme must be udp://, tcp://, tls:// or unix://", s);
    rest = s + 6;
    const char *colon;
    size_t alen;
    if (*rest == '[') {
        const char *close = strchr(rest, ']');
        if (!close || close[1] != ':')
            return vg_conf_errf(err, errlen, n, "listen '%s': IPv6 form is [ADDR]:PORT", s);
        rest++;
        alen = (size_t)(close - rest);
        colon = close + 1;
    } else {
        colon = strrchr(rest, ':');
        if (!colon)
            return vg_conf_errf(err, errlen, n, "listen '%s': missing :PORT", s);
        alen = (size_t)(colon - rest);
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (alen == 0 || alen >= sizeof(l->addr) || *end || port < 1 || port > 65535)
        return vg_conf_errf(err, errlen, n, "listen '%s': bad address or port", s);
    memcpy(l->addr, rest, alen);
    l->addr[alen] = '\0';
    l->port = (int)port;
    struct sockaddr_storage ss;
    if (uv_ip4_addr(l->addr, l->port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(l->addr, l->port, (struct sockaddr_in6 *)&ss) != 0)
        return vg_conf_errf(err, errlen, n, "listen '%s': '%s' is not an IP address", s, l->addr);
    return 0;
}

/* An IP listener's address as IPv6 (IPv4 mapped), and whether it is
 * the wildcard of its family. */
static void col_listen_ip(const col_listen *l, struct in6_addr *a, bool *any)
{
    struct in_addr v4;
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, l->addr, &v4) == 1) {
        a->s6_addr[10] = a->s6_addr[11] = 0xff;
        memcpy(&a->s6_addr[12], &v4, 4);
        *any = v4.s_addr == htonl(INADDR_ANY);
    } else {
        inet_pton(AF_INET6, l->addr, a);
        *any = IN6_IS_ADDR_UNSPECIFIED(a);
    }
}

/* Whether two listeners would take one port (or path): the second could
 * not be opened, and only the start, not -t, said so. TCP and TLS share
 * TCP's ports; 0.0.0.0 takes a port on every IPv4 address, :: on every
 * address (libuv binds it dual-stack). */
static bool col_listen_clash(const col_listen *a, const col_listen *b)
{
    if (a->proto == COL_UNIX || b->proto == COL_UNIX)
        return a->proto == b->proto && strcmp(a->addr, b->addr) == 0;
    if ((a->proto == COL_UDP) != (b->proto == COL_UDP) || a->port != b->port)
        return false;
    struct in6_addr x, y;
    bool xany, yany;
    col_listen_ip(a, &x, &xany);
    col_listen_ip(b, &y, &yany);
    bool x4 = IN6_IS_ADDR_V4MAPPED(&x), y4 = IN6_IS_ADDR_V4MAPPED(&y);
    return memcmp(&x, &y, sizeof(x)) == 0 || (xany && (!x4 || y4)) || (yany && (!y4 || x4));
}

/* Fills cf->ls from cf->listen, or with the documented defaults when the
 * key is absent. */
static int col_conf_listens(col_conf *cf, const char *file, char *err, size_t errlen)
{
    static const char *defaults[] = {"udp://127.0.0.1:514", "tcp://127.0.0.1:514"};
    const vg_node *ls = cf->listen;
    int rc = 0;

    if (!ls) {
        for (int i = 0; i < 2 && rc == 0; i++) {
            vg_node n = {.kind = VG_NODE_SCALAR, .line = 0, .file = file, .str = (char *)defaults[i]};
            rc = col_conf_listen(&n, &cf->ls[cf->nlisten++], err, errlen);
        }
        return rc;
    }
    if (ls->kind != VG_NODE_SEQ || ls->n == 0 || ls->n > COL_MAX_LISTEN)
        return vg_conf_errf(err, errlen, ls, "listen must be a list of 1 to %d addresses",
                            COL_MAX_LISTEN);
    for (size_t i = 0; i < ls->n && rc == 0; i++) {
        rc = col_conf_listen(ls->items[i], &cf->ls[cf->nlisten++], err, errlen);
        for (size_t j = 0; j < i && rc == 0; j++)
            if (col_listen_clash(&cf->ls[j], &cf->ls[i]))
                rc = vg_conf_errf(err, errlen, ls->items[i],
                                  "listen '%s' takes the port (or path) of '%s', line %d: "
                                  "the collector could not open both",
                                  ls->items[i]->str, ls->items[j]->str, ls->items[j]->line);
    }
    return rc;
}

int col_conf_load(const vg_node *root, const char *file, col_conf *cf, char *err, size_t errlen)
{
    memset(cf, 0, sizeof(*cf));
    const vg_node *sec = vg_node_get(root, "collector");
    int rc = vg_conf_apply(sec, file, col_conf_keys, cf, err, errlen);
    if (rc)
        return rc;
    if (!cf->correlator[0]) {
        rc = vg_conf_errf(err, errlen, vg_node_get(sec, "correlator_socket"),
                          "'correlator_socket' must name a socket");
        goto fail;
    }
    if ((rc = col_sources_load(cf->sources_node, &cf->sources, err, errlen)))
        goto fail;
    cf->sources_node = NULL;
    cf->spool_limit_set = cf->spool_limit;
    if (cf->spool_limit == 0)
        cf->spool_limit = cf->spool_size / 4 * 3;
    if (cf->spool_limit > cf->spool_size / 10 * 9) {
        rc = vg_conf_errf(err, errlen, vg_node_get(sec, "spool_limit"),
                          "spool_limit must leave LMDB at least 10%% of spool_size free");
        goto fail;
    }
    if (strcmp(cf->spool_sync, "commit") == 0) {
        cf->sync_each_commit = true;
    } else if (strcmp(cf->spool_sync, "background") != 0) {
        rc = vg_conf_errf(err, errlen, vg_node_get(sec, "spool_sync"),
                          "spool_sync must be background or commit, got '%s'", cf->spool_sync);
        goto fail;
    }
    if ((rc = col_conf_listens(cf, file, err, errlen)))
        goto fail;
    /* Checked whatever 'listen' says, so that a mistake in it is found
     * before a tls:// listener is added. */
    if ((rc = col_tls_conf_load(cf->tls_node, file, &cf->tls, err, errlen)))
        goto fail;
    const vg_node *ls = cf->listen;
    for (int i = 0; ls && i < cf->nlisten; i++) {
        if (cf->ls[i].proto == COL_TLS && !cf->tls.cert) {
            rc = vg_conf_errf(err, errlen, ls->items[i], "tls:// listener needs a 'tls' section "
                              "with cert and key");
            goto fail;
        }
    }
    cf->listen = NULL; /* the tree does not outlive loading */
    cf->tls_node = NULL;
    return 0;
fail:
    col_conf_free(cf);
    return rc;
}

static bool col_str_differ(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

bool col_tls_conf_differ(const col_tls_conf *a, const col_tls_conf *b)
{
    if (col_str_differ(a->cert, b->cert) || col_str_differ(a->key, b->key) ||
        col_str_differ(a->ca, b->ca) || col_str_differ(a->ciphers, b->ciphers) ||
        a->require_client_cert != b->require_client_cert)
        return true;
    size_t i = 0;
    for (; a->names && b->names && a->names[i] && b->names[i]; i++)
        if (strcmp(a->names[i], b->names[i]) != 0)
            return true;
    return (a->names ? a->names[i] : NULL) != (b->names ? b->names[i] : NULL);
}

int col_conf_restart_keys(const col_conf *was, const col_conf *now, char *out, size_t cap)
{
    const vg_conf_change keys[] = {
        {"name", strcmp(was->name, now->name) != 0},
        {"listen", was->nlisten != now->nlisten || memcmp(was->ls, now->ls, sizeof(was->ls)) != 0},
        {"correlator_socket", strcmp(was->correlator, now->correlator) != 0},
        {"max_message_size", was->max_message != now->max_message},
        {"spool_size", was->spool_size != now->spool_size},
        /* A limit derived from spool_size follows it: naming it too told
         * the operator of a change they did not make. */
        {"spool_limit", was->spool_limit != now->spool_limit &&
                            was->spool_limit_set != now->spool_limit_set},
        {"spool_sync", was->sync_each_commit != now->sync_each_commit},
        {"tls", col_tls_conf_differ(&was->tls, &now->tls)},
    };
    return vg_conf_changed_list(keys, sizeof(keys) / sizeof(keys[0]), out, cap);
}

void col_conf_free(col_conf *cf)
{
    col_sources_free(cf->sources);
    col_tls_conf_free(&cf->tls);
    vg_conf_release(col_conf_keys, cf);
    memset(cf, 0, sizeof(*cf));
}
