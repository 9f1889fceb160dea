/* TLS intake (see col_tls.h). */
#include <errno.h>
#include <fnmatch.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "col_tls.h"
#include "vigil/err.h"
#include "vigil/tls.h"
#include "vigil/log.h"

static const vg_conf_key col_tls_keys[] = {
    {"cert", VG_CONF_PATH, NULL, offsetof(col_tls_conf, cert), "server certificate chain (PEM)", 0, 0},
    {"key", VG_CONF_PATH, NULL, offsetof(col_tls_conf, key), "server private key (PEM)", 0, 0},
    {"ca", VG_CONF_PATH, NULL, offsetof(col_tls_conf, ca),
     "CA certificates that sign client certificates (PEM)", 0, 0},
    {"require_client_cert", VG_CONF_BOOL, "false", offsetof(col_tls_conf, require_client_cert),
     "refuse clients without a certificate signed by 'ca'", 0, 0},
    {"allowed_names", VG_CONF_NODE, NULL, offsetof(col_tls_conf, allowed),
     "client certificate names (DNS SANs, or the CN without any; globs) allowed to send", 0, 0},
    {"ciphers", VG_CONF_STR, NULL, offsetof(col_tls_conf, ciphers),
     "TLS 1.2 cipher suites (an OpenSSL cipher string); default forward-secret AEAD only", 0, 0},
    {NULL, 0, NULL, 0, NULL, 0, 0},
};

static void col_strv_free(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

int col_tls_conf_load(const vg_node *sec, const char *file, col_tls_conf *cf, char *err,
                      size_t errlen)
{
    memset(cf, 0, sizeof(*cf));
    if (!sec)
        return 0;
    int rc = vg_conf_apply(sec, file, col_tls_keys, cf, err, errlen);
    if (rc)
        return rc;
    if (!cf->cert || !cf->key) {
        rc = vg_conf_errf(err, errlen, sec, "tls needs 'cert' and 'key'");
        goto fail;
    }
    cf->cert_line = vg_node_get(sec, "cert")->line;
    cf->key_line = vg_node_get(sec, "key")->line;
    cf->ca_line = cf->ca ? vg_node_get(sec, "ca")->line : 0;
    if (!(cf->where = strdup(sec->file ? sec->file : file))) {
        rc = -ENOMEM;
        goto fail;
    }
    if (cf->ciphers && (rc = vg_tls_ciphers_conf(cf->ciphers, vg_node_get(sec, "ciphers"),
                                                 "ciphers", err, errlen)) != 0)
        goto fail;
    if (cf->require_client_cert && !cf->ca) {
        rc = vg_conf_errf(err, errlen, vg_node_get(sec, "require_client_cert"),
                          "require_client_cert needs 'ca'");
        goto fail;
    }
    if (cf->allowed) {
        const vg_node *l = cf->allowed;
        if (l->kind != VG_NODE_SEQ || l->n == 0) {
            rc = vg_conf_errf(err, errlen, l, "allowed_names must be a non-empty list");
            goto fail;
        }
        if (!cf->require_client_cert) {
            rc = vg_conf_errf(err, errlen, l, "allowed_names needs require_client_cert: true");
            goto fail;
        }
        cf->names = calloc(l->n + 1, sizeof(char *));
        if (!cf->names) {
            rc = -ENOMEM;
            goto fail;
        }
        for (size_t i = 0; i < l->n; i++) {
            if (l->items[i]->kind != VG_NODE_SCALAR || !l->items[i]->str[0]) {
                rc = vg_conf_errf(err, errlen, l->items[i], "allowed_names entries are names");
                goto fail;
            }
            if (!(cf->names[i] = strdup(l->items[i]->str))) {
                rc = -ENOMEM;
                goto fail;
            }
        }
        cf->allowed = NULL; /* the tree does not outlive loading */
    }
    return 0;
fail:
    col_tls_conf_free(cf);
    return rc;
}

void col_tls_conf_free(col_tls_conf *cf)
{
    col_strv_free(cf->names);
    cf->names = NULL;
    free(cf->where);
    vg_conf_release(col_tls_keys, cf);
    memset(cf, 0, sizeof(*cf));
}

/* Records the first certificate of the client's chain that fails
 * verification, and why, in its connection's peer (the SSL's app data),
 * for the line of the failed handshake: a server's OpenSSL says only
 * "certificate verify failed", the same for a unit whose certificate has
 * expired, one from another CA, or one not yet valid. The verdict is
 * OpenSSL's, unchanged. */
static int col_tls_on_verify(int ok, X509_STORE_CTX *x)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    col_tls_conn *tc = ssl ? SSL_get_app_data(ssl) : NULL;
    if (!ok && tc && !tc->peer[0]) {
        char subject[200] = "";
        X509 *c = X509_STORE_CTX_get_current_cert(x);
        if (c)
            X509_NAME_oneline(X509_get_subject_name(c), subject, sizeof(subject));
        snprintf(tc->peer, sizeof(tc->peer), "%s: %s", subject,
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(x)));
    }
    return ok;
}

/* Whether ctx's store holds a CRL (read from the 'ca' file with its CAs). */
static int col_tls_has_crl(SSL_CTX *ctx)
{
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
    for (int i = 0; i < sk_X509_OBJECT_num(objs); i++)
        if (X509_OBJECT_get_type(sk_X509_OBJECT_value(objs, i)) == X509_LU_CRL)
            return 1;
    return 0;
}

int col_tls_init(col_tls *t, const col_tls_conf *cf, char *err, size_t errlen)
{
    char why[512];
    memset(t, 0, sizeof(*t));
    t->ctx = SSL_CTX_new(TLS_server_method());
    if (!t->ctx)
        return -ENOMEM;
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);
    /* TLS 1.2 suites (TLS 1.3 keeps OpenSSL's, all forward-secret AEAD);
     * checked by col_tls_conf_load. DHE needs DH parameters: OpenSSL's
     * built-in ones, sized to the certificate's key. */
    if (SSL_CTX_set_cipher_list(t->ctx, cf->ciphers ? cf->ciphers : VG_TLS_CIPHERS) != 1 ||
        SSL_CTX_set_dh_auto(t->ctx, 1) != 1) {
        vg_tls_errstr(why, sizeof(why), "unknown TLS error");
        snprintf(err, errlen, "%s: cannot set the TLS 1.2 ciphers: %s",
                 cf->where ? cf->where : "", why);
        goto fail;
    }
    /* "CONFIG:LINE: FILE: reason": the line that names the file, then the file */
    const char *where = cf->where ? cf->where : "";
    if (vg_tls_use_chain_file(t->ctx, cf->cert, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s:%d: %s: cannot load TLS certificate: %s", where, cf->cert_line,
                 cf->cert, why);
        goto fail;
    }
    int krc = vg_tls_use_key_file(t->ctx, cf->key, why, sizeof(why));
    if (krc == 0 && SSL_CTX_check_private_key(t->ctx) != 1) {
        vg_tls_errstr(why, sizeof(why), "unknown TLS error");
        krc = VG_ECONFIG;
    }
    if (krc) {
        snprintf(err, errlen, "%s:%d: %s: cannot load TLS key or it does not match %s: %s", where,
                 cf->key_line, cf->key, cf->cert, why);
        goto fail;
    }
    if (cf->ca) {
        if (vg_tls_load_ca_file(t->ctx, cf->ca, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "%s:%d: %s: cannot load CA certificates: %s", where, cf->ca_line,
                     cf->ca, why);
            goto fail;
        }
        /* OpenSSL ignores the CRLs of a store unless told to check them:
         * a unit's certificate revoked in the 'ca' file (a stolen relay)
         * got in. With one, each client certificate is checked against
         * its CA's CRL, which must be there and current. */
        if (col_tls_has_crl(t->ctx))
            X509_STORE_set_flags(SSL_CTX_get_cert_store(t->ctx), X509_V_FLAG_CRL_CHECK);
        SSL_CTX_set_verify(t->ctx,
                           SSL_VERIFY_PEER |
                               (cf->require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                           col_tls_on_verify);
    }
    /* Clients resume their session on a reconnect (TLS 1.2 session ids,
     * TLS 1.3 tickets). With peer verification on, OpenSSL refuses every
     * resumption ("session id context uninitialized") unless the context
     * names which sessions are ours. A resumed session keeps the client's
     * verified certificate, and allowed_names is checked on it after each
     * handshake (col_tls_check_peer), resumed or not. Sessions die with
     * this context: after a reload of the certificates, clients make a
     * full handshake again. */
    static const unsigned char sid_ctx[] = "vigil-collector";
    if (SSL_CTX_set_session_id_context(t->ctx, sid_ctx, sizeof(sid_ctx) - 1) != 1) {
        snprintf(err, errlen, "cannot set the TLS session id context");
        goto fail;
    }
    if (cf->names) {
        size_t n = 0;
        while (cf->names[n])
            n++;
        t->names = calloc(n + 1, sizeof(char *));
        for (size_t i = 0; t->names && i < n; i++)
            t->names[i] = strdup(cf->names[i]);
    }
    return 0;
fail:
    SSL_CTX_free(t->ctx);
    t->ctx = NULL;
    return VG_ECONFIG;
}

void col_tls_free(col_tls *t)
{
    SSL_CTX_free(t->ctx);
    col_strv_free(t->names);
    memset(t, 0, sizeof(*t));
}

void col_tls_replace(col_tls *t, col_tls *nt)
{
    SSL_CTX_free(t->ctx); /* each live SSL holds its own reference */
    col_strv_free(t->names);
    t->ctx = nt->ctx;
    t->names = nt->names;
    nt->ctx = NULL;
    nt->names = NULL;
}

int col_tls_expiry(const col_tls *t, const char *path, char *text, size_t cap)
{
    X509 *x = t->ctx ? SSL_CTX_get0_certificate(t->ctx) : NULL;
    struct tm tm;
    text[0] = '\0';
    if (!x || ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
        return -1;
    char subject[256] = "", until[32];
    X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
    strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
    int days = 0, secs = 0;
    ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)); /* from now */
    if (days < 0 || secs < 0) {
        snprintf(text, cap, "TLS certificate %s (%s) expired on %s", path, subject, until);
        return 2;
    }
    if (days < 14) {
        snprintf(text, cap, "TLS certificate %s (%s) expires on %s, in %d day%s", path, subject,
                 until, days, days == 1 ? "" : "s");
        return 1;
    }
    snprintf(text, cap, "TLS certificate %s (%s) valid until %s", path, subject, until);
    return 0;
}

int col_tls_renewal_check(const col_tls *nt, const col_tls *t, const col_tls_conf *cf, char *err,
                          size_t errlen)
{
    char text[800], running[800];
    if (col_tls_expiry(nt, cf->cert, text, sizeof(text)) != 2 ||
        col_tls_expiry(t, "", running, sizeof(running)) == 2)
        return 0;
    snprintf(err, errlen, "%s:%d: %s: an expired certificate does not replace a valid one",
             cf->where ? cf->where : "", cf->cert_line, text);
    return VG_ECONFIG;
}

void col_tls_describe(const col_tls *t, const char *path)
{
    char text[800];
    int rc = col_tls_expiry(t, path, text, sizeof(text));
    if (rc == 2)
        vg_error("%s: clients that check it refuse it", text);
    else if (rc == 1)
        vg_warn("%s: renew it and send SIGHUP", text);
    else if (rc == 0)
        vg_info("%s", text);
}

int col_tls_conn_init(col_tls *t, col_tls_conn *tc)
{
    memset(tc, 0, sizeof(*tc));
    if (vg_tls_mem_new(t->ctx, &tc->ssl, &tc->rbio, &tc->wbio) != 0)
        return -ENOMEM;
    SSL_set_accept_state(tc->ssl);
    SSL_set_app_data(tc->ssl, tc); /* for col_tls_on_verify: tc does not move */
    return 0;
}

void col_tls_conn_free(col_tls_conn *tc)
{
    SSL_free(tc->ssl);
    memset(tc, 0, sizeof(*tc));
}

static int col_tls_name_ok(char **names, const char *name)
{
    for (char **p = names; *p; p++)
        if (fnmatch(*p, name, FNM_CASEFOLD) == 0)
            return 1;
    return 0;
}

/* Whether a failure line about a client may be logged now (vg_budget);
 * *more gets what the line must add about those held back before it. */
static bool col_tls_say(col_tls *t, char *more, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t held = 0, now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    more[0] = '\0';
    if (!vg_budget_take(&t->log_budget, now, &held))
        return false;
    if (held)
        snprintf(more, cap, " (%llu TLS failure lines held back before this one: at most %d "
                 "a minute are logged)", (unsigned long long)held, VG_BUDGET_LINES);
    return true;
}

/* The subject's (first) CN as UTF-8 in cn, or "" when there is none, it
 * does not fit, or it holds a NUL (see col_tls_check_peer). */
static void col_tls_cn(X509 *cert, char *cn, size_t cap)
{
    const X509_NAME *nm = X509_get_subject_name(cert);
    int i = X509_NAME_get_index_by_NID(nm, NID_commonName, -1);
    const X509_NAME_ENTRY *e = i >= 0 ? X509_NAME_get_entry(nm, i) : NULL;
    unsigned char *u = NULL;
    int n = e ? ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(e)) : -1;
    cn[0] = '\0';
    if (n > 0 && (size_t)n < cap && !memchr(u, 0, (size_t)n)) {
        memcpy(cn, u, (size_t)n);
        cn[n] = '\0';
    }
    OPENSSL_free(u);
}

/* After the handshake: the verified client's names must match the
 * allow-list, when there is one. The names are its DNS SANs when it has
 * any, its CN only when it has none (RFC 6125 6.4.4, as OpenSSL's
 * X509_check_host): a CA that vets the SANs it signs may copy anything
 * into the CN, and a certificate issued for other.example with the CN of
 * an allowed relay got in. Records the name for the logs. A name holding
 * a NUL is no name (but still a DNS SAN, so the CN stays out): read as a
 * C string, "relay9.aviation.example\0.rogue.example" (which a CA may
 * sign for whoever owns rogue.example) matched "*.aviation.example". */
static int col_tls_check_peer(col_tls *t, col_tls_conn *tc, const char *src)
{
    X509 *cert = SSL_get1_peer_certificate(tc->ssl);
    if (!cert)
        return t->names ? -EACCES : 0;
    int ok = !t->names, has_dns = 0;
    GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        if (g->type != GEN_DNS)
            continue;
        has_dns = 1;
        const char *dns = (const char *)ASN1_STRING_get0_data(g->d.dNSName);
        int len = ASN1_STRING_length(g->d.dNSName);
        if (len <= 0 || memchr(dns, 0, (size_t)len))
            continue;
        if (!tc->peer[0])
            snprintf(tc->peer, sizeof(tc->peer), "%s", dns);
        if (!ok && col_tls_name_ok(t->names, dns)) {
            ok = 1;
            snprintf(tc->peer, sizeof(tc->peer), "%s", dns);
        }
    }
    GENERAL_NAMES_free(sans);
    char cn[256];
    col_tls_cn(cert, cn, sizeof(cn));
    int cn_ok = cn[0] && t->names && col_tls_name_ok(t->names, cn);
    if (!ok && !has_dns && cn_ok) {
        ok = 1;
        snprintf(tc->peer, sizeof(tc->peer), "%s", cn);
    }
    if (!tc->peer[0])
        snprintf(tc->peer, sizeof(tc->peer), "%s", cn);
    X509_free(cert);
    char more[200];
    if (!ok) {
        t->refused_names++;
        /* the CN that used to let it in: what an operator upgrading must see */
        char hint[400] = "";
        if (has_dns && cn_ok)
            snprintf(hint, sizeof(hint), " (its CN '%s' is not checked: the certificate has "
                     "DNS names)", cn);
        if (col_tls_say(t, more, sizeof(more)))
            vg_warn("TLS client %s: certificate name '%s' is not in allowed_names%s; closing%s",
                    src, tc->peer, hint, more);
        return -EACCES;
    }
    return 0;
}

/* What the log line of a failed handshake adds when the peer's first
 * bytes are plain syslog: '<' (a PRI) or a digit (an octet count) never
 * start TLS (a record starts 0x16, an SSLv2 hello 0x80), and OpenSSL only
 * says "wrong version number" or "packet length too long", which sends
 * the operator looking at TLS versions rather than at a sender set up for
 * plain TCP and pointed at the TLS port. "" for anything else. The bytes
 * go into the line raw: vg_log escapes the controls in it. */
static void col_tls_plain_hint(const col_tls_conn *tc, char *hint, size_t cap)
{
    unsigned char c = tc->nfirst ? tc->first[0] : 0;
    hint[0] = '\0';
    if (c == '<' || (c >= '0' && c <= '9'))
        snprintf(hint, cap,
                 " (its first bytes \"%.*s\" are plain syslog, not TLS: a sender set up for "
                 "plain TCP sending to this TLS port?)",
                 (int)tc->nfirst, (const char *)tc->first);
}

int col_tls_feed(col_tls *t, col_tls_conn *tc, const char *cipher, size_t n,
                 int (*out)(void *ud, const char *p, size_t n), void *ud, const char *src)
{
    if (n && BIO_write(tc->rbio, cipher, (int)n) != (int)n)
        return -ENOMEM;
    if (!tc->handshake_done && tc->nfirst < sizeof(tc->first)) {
        size_t k = sizeof(tc->first) - tc->nfirst;
        if (k > n)
            k = n;
        memcpy(tc->first + tc->nfirst, cipher, k);
        tc->nfirst += k;
    }
    if (!tc->handshake_done) {
        int r = SSL_do_handshake(tc->ssl);
        if (r != 1) {
            int e = SSL_get_error(tc->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return 0;
            char why[512], more[200], hint[300];
            vg_tls_errstr(why, sizeof(why), "unknown TLS error");
            col_tls_plain_hint(tc, hint, sizeof(hint));
            if (tc->peer[0]) /* a certificate refused: which, and why */
                snprintf(hint, sizeof(hint), " (client certificate %s)", tc->peer);
            t->errors++;
            if (col_tls_say(t, more, sizeof(more)))
                vg_warn("TLS handshake with %s failed: %s%s%s", src, why, hint, more);
            return -EPROTO;
        }
        tc->handshake_done = 1;
        t->handshakes++;
        if (col_tls_check_peer(t, tc, src) != 0)
            return -EACCES;
        vg_debug("TLS client %s: %s, %s%s%s", src, SSL_get_version(tc->ssl),
                 SSL_get_cipher_name(tc->ssl), tc->peer[0] ? ", certificate " : "", tc->peer);
    }
    char buf[16384];
    for (;;) {
        int r = SSL_read(tc->ssl, buf, sizeof(buf));
        if (r > 0) {
            if (out(ud, buf, (size_t)r) != 0)
                return -ENOMEM; /* no room for the plaintext: end the connection */
            continue;
        }
        int e = SSL_get_error(tc->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        if (e == SSL_ERROR_ZERO_RETURN)
            return 1;
        char why[512], more[200];
        vg_tls_errstr(why, sizeof(why), "unknown TLS error");
        t->errors++; /* a record that does not decrypt: counted as a failed handshake is */
        if (col_tls_say(t, more, sizeof(more)))
            vg_warn("TLS read from %s failed: %s%s", src, why, more);
        return -EPROTO;
    }
}

void col_tls_abandoned(col_tls *t, const col_tls_conn *tc, int reset, const char *src)
{
    char more[200];
    if (tc->handshake_done || !tc->nfirst)
        return;
    t->errors++;
    if (col_tls_say(t, more, sizeof(more)))
        vg_warn("TLS handshake with %s failed: the client %s the connection during the handshake, "
                "without a TLS alert%s",
                src, reset ? "reset" : "closed", more);
}

void col_tls_close_notify(col_tls_conn *tc)
{
    if (!tc->ssl || !tc->handshake_done || (SSL_get_shutdown(tc->ssl) & SSL_SENT_SHUTDOWN))
        return;
    SSL_shutdown(tc->ssl); /* writes close_notify into wbio; never waits on memory BIOs */
    ERR_clear_error();
}

int col_tls_peer_closed(const col_tls_conn *tc)
{
    return tc->ssl && (SSL_get_shutdown(tc->ssl) & SSL_RECEIVED_SHUTDOWN) != 0;
}

int col_tls_partial(const col_tls_conn *tc)
{
    /* SSL_has_pending counts a record's bytes that are buffered but not
     * yet processed, a partial record included */
    return tc->ssl && tc->handshake_done &&
           (SSL_has_pending(tc->ssl) || BIO_ctrl_pending(tc->rbio) > 0);
}

size_t col_tls_pending(col_tls_conn *tc, char **buf)
{
    size_t n = 0;
    return vg_tls_drain(tc->wbio, buf, &n) == 0 ? n : 0;
}
