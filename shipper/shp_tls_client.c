/* TLS client with memory BIOs (see shp_tls_client.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shp_tls_client.h"
#include "vigil/err.h"
#include "vigil/tls.h"

/* OpenSSL calls this for each session ticket the server sends. */
static int shp_tls_client_on_ticket(SSL *ssl, SSL_SESSION *sess)
{
    (void)sess;
    shp_tls_client *c = SSL_get_app_data(ssl);
    if (c)
        c->confirmed = 1;
    return 0; /* not kept: OpenSSL frees it */
}

int shp_tls_client_ctx_init(shp_tls_client_ctx *t, const char *ca, const char *crl,
                            const char *cert, const char *key, bool verify, const char *ciphers,
                            char *err, size_t errlen)
{
    char why[512];
    memset(t, 0, sizeof(*t));
    ERR_clear_error();
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (!t->ctx) {
        snprintf(err, errlen, "cannot create a TLS context");
        return -ENOMEM;
    }
    t->verify = verify;
    /* TLS 1.2 is RFC 5425's floor today (RFC 9662); older versions are
     * refused by every current receiver anyway. */
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);
    /* TLS 1.2: forward-secret AEAD suites only unless tls_ciphers says
     * otherwise (see VG_TLS_CIPHERS); TLS 1.3 suites are all of that kind. */
    t->own_ciphers = ciphers && ciphers[0];
    if (SSL_CTX_set_cipher_list(t->ctx, t->own_ciphers ? ciphers : VG_TLS_CIPHERS) != 1) {
        vg_tls_errstr(why, sizeof(why), "no cipher suite left");
        snprintf(err, errlen, "cannot set the TLS 1.2 ciphers: %s", why);
        t->bad_key = "tls_ciphers";
        goto fail;
    }
    t->system_cas = !(ca && ca[0]);
    if (ca && ca[0]) {
        if (vg_tls_load_ca_file(t->ctx, ca, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "%s: cannot load CA certificates: %s", ca, why);
            t->bad_key = "tls_ca";
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
        vg_tls_errstr(why, sizeof(why), "unknown error");
        snprintf(err, errlen, "cannot load the system's CA certificates: %s", why);
        t->bad_key = "tls_ca";
        goto fail;
    }
    /* Read here to refuse a bad file at load; used by the store each
     * connection builds (shp_tls_client_store), not by the context's:
     * there the CRLs of the start would shadow a renewed one. */
    if (crl && crl[0]) {
        X509_STORE *st = X509_STORE_new();
        int crc = st ? vg_tls_store_load_crl(st, crl, why, sizeof(why)) : -ENOMEM;
        X509_STORE_free(st);
        if (crc) {
            snprintf(err, errlen, "%s: cannot load CRLs: %s", crl,
                     crc == -ENOMEM ? "out of memory" : why);
            t->bad_key = "tls_crl";
            goto fail;
        }
    }
    if (crl && crl[0] && !(t->crl = strdup(crl))) {
        snprintf(err, errlen, "out of memory");
        SSL_CTX_free(t->ctx);
        t->ctx = NULL;
        return -ENOMEM;
    }
    if (cert && cert[0]) {
        if (vg_tls_use_chain_file(t->ctx, cert, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "%s: cannot load TLS client certificate: %s", cert, why);
            t->bad_key = "tls_cert";
            goto fail;
        }
        int krc = vg_tls_use_key_file(t->ctx, key, why, sizeof(why));
        if (krc == 0 && SSL_CTX_check_private_key(t->ctx) != 1) {
            vg_tls_errstr(why, sizeof(why), "unknown error");
            krc = VG_ECONFIG;
        }
        if (krc) {
            snprintf(err, errlen, "%s: cannot load TLS client key or it does not match %s: %s", key,
                     cert, why);
            t->bad_key = "tls_key";
            goto fail;
        }
    }
    SSL_CTX_set_verify(t->ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    /* Sessions are not resumed (one long-lived connection); the callback
     * only notices the server's tickets (see 'confirmed' in the header). */
    SSL_CTX_set_session_cache_mode(t->ctx,
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(t->ctx, shp_tls_client_on_ticket);
    return 0;
fail:
    SSL_CTX_free(t->ctx);
    t->ctx = NULL;
    free(t->crl);
    t->crl = NULL;
    return VG_ECONFIG;
}

/* A store for one connection: the context's CAs (and the CRLs tls_ca may
 * hold), or the system's CA paths, with t->crl's CRLs read now, so that a
 * CRL file renewed while the shipper runs (a CRL expires within days)
 * applies from the next connection; the context's store is built once, at
 * the start. NULL with why set. */
static X509_STORE *shp_tls_client_store(shp_tls_client_ctx *t, char *why, size_t whylen)
{
    X509_STORE *st = X509_STORE_new(), *from = SSL_CTX_get_cert_store(t->ctx);
    char r[512];
    int ok = st != NULL;
    if (ok && t->system_cas)
        ok = X509_STORE_set_default_paths(st) == 1;
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(from);
    for (int i = 0; ok && i < sk_X509_OBJECT_num(objs); i++) {
        X509_OBJECT *o = sk_X509_OBJECT_value(objs, i);
        if (X509_OBJECT_get_type(o) == X509_LU_X509)
            ok = X509_STORE_add_cert(st, X509_OBJECT_get0_X509(o)) == 1;
        else if (X509_OBJECT_get_type(o) == X509_LU_CRL)
            ok = X509_STORE_add_crl(st, X509_OBJECT_get0_X509_CRL(o)) == 1;
    }
    if (!ok) {
        vg_tls_errstr(r, sizeof(r), "out of memory");
        snprintf(why, whylen, "cannot build the TLS trust store: %s", r);
    } else if (vg_tls_store_load_crl(st, t->crl, r, sizeof(r)) != 0) {
        snprintf(why, whylen, "%s: cannot load CRLs: %s", t->crl, r);
        ok = 0;
    }
    if (!ok) {
        X509_STORE_free(st);
        return NULL;
    }
    return st;
}

void shp_tls_client_ctx_free(shp_tls_client_ctx *t)
{
    SSL_CTX_free(t->ctx);
    free(t->crl);
    memset(t, 0, sizeof(*t));
}

int shp_tls_client_init(shp_tls_client_ctx *t, shp_tls_client *c, const char *name, char *why,
                        size_t whylen)
{
    memset(c, 0, sizeof(*c));
    snprintf(why, whylen, "out of memory");
    if (vg_tls_mem_new(t->ctx, &c->ssl, &c->rbio, &c->wbio) != 0)
        return -ENOMEM;
    if (t->crl && t->verify) {
        X509_STORE *st = shp_tls_client_store(t, why, whylen);
        int ok = st && SSL_set1_verify_cert_store(c->ssl, st) == 1;
        X509_STORE_free(st); /* the SSL holds its own reference */
        if (!ok) {
            shp_tls_client_free(c);
            ERR_clear_error();
            return st ? -ENOMEM : VG_ECONFIG;
        }
    }
    SSL_set_app_data(c->ssl, c);
    SSL_set_connect_state(c->ssl);
    c->own_ciphers = t->own_ciphers;
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
    int ok = 1;
    if (t->verify) {
        /* The chain alone proves only that some CA vouches for the server;
         * the name check proves it is the one we meant. An address is
         * matched against IP SANs, a name against DNS SANs (and the CN). */
        X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
        if (is_ip)
            ok = X509_VERIFY_PARAM_set1_ip_asc(vp, name) == 1;
        else {
            X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            ok = SSL_set1_host(c->ssl, name) == 1;
        }
    }
    /* RFC 6066: SNI carries host names only, never an address literal. */
    if (ok && !is_ip && name[0])
        ok = SSL_set_tlsext_host_name(c->ssl, name) == 1;
    if (!ok) {
        shp_tls_client_free(c);
        snprintf(why, whylen, "cannot set the name to verify");
        return -EINVAL;
    }
    ERR_clear_error();
    SSL_do_handshake(c->ssl); /* leaves the ClientHello in wbio */
    return 0;
}

void shp_tls_client_free(shp_tls_client *c)
{
    SSL_free(c->ssl);
    memset(c, 0, sizeof(*c));
}

const char *shp_tls_ciphers_hint(bool own_ciphers)
{
    if (own_ciphers)
        return "the server refused our ClientHello: most likely it has no cipher suite in "
               "common with tls_ciphers";
    return "the server refused our ClientHello: most likely it has no TLS 1.2 cipher suite in "
           "common with the default tls_ciphers (ECDHE or DHE with AES-GCM or "
           "ChaCha20-Poly1305); enable one of those or TLS 1.3 on the server, or set "
           "tls_ciphers to a suite it has";
}

/* Whether the server answered our ClientHello with a handshake_failure
 * alert: the handshake is still at the ClientHello (no ServerHello came)
 * and the alert is what failed it. A TLS 1.2 server that shares no suite
 * with us does that (OpenSSL logs "no shared cipher" on its side); one
 * that refuses our certificate does it later, past the ServerHello. */
static bool shp_tls_client_hello_refused(shp_tls_client *c)
{
    unsigned long e = ERR_peek_last_error();
    return !c->handshake_done && SSL_get_state(c->ssl) == TLS_ST_CW_CLNT_HELLO &&
           ERR_GET_LIB(e) == ERR_LIB_SSL &&
           ERR_GET_REASON(e) == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE;
}

/* Why the handshake failed: the verify result when verification is what
 * failed (the part an operator can act on), else OpenSSL's error queue,
 * with the likely cause when the server refused our ClientHello. */
static int shp_tls_client_fail(shp_tls_client *c, char *why, size_t whylen)
{
    char q[400];
    bool hello_refused = shp_tls_client_hello_refused(c);
    vg_tls_errstr(q, sizeof(q), "connection closed during the handshake");
    long v = SSL_get_verify_result(c->ssl);
    if (!c->handshake_done && v != X509_V_OK) {
        c->verify_err = v;
        /* only a store given CRLs (tls_crl) says "revoked" */
        snprintf(why, whylen, "certificate verify failed: %s%s (%s)",
                 X509_verify_cert_error_string(v),
                 v == X509_V_ERR_CERT_REVOKED ? ", listed in tls_crl" : "", q);
        return -EACCES;
    }
    if (hello_refused)
        snprintf(why, whylen, "%s (%s)", q, shp_tls_ciphers_hint(c->own_ciphers));
    else
        snprintf(why, whylen, "%s", q);
    return -EPROTO;
}

int shp_tls_client_feed(shp_tls_client *c, const char *p, size_t n, size_t *discarded, char *why,
                        size_t whylen)
{
    if (n && BIO_write(c->rbio, p, (int)n) != (int)n) {
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    ERR_clear_error();
    if (!c->handshake_done) {
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return 0;
            return shp_tls_client_fail(c, why, whylen);
        }
        c->handshake_done = 1;
        if (SSL_version(c->ssl) < TLS1_3_VERSION)
            c->confirmed = 1;
    }
    /* After the handshake the server may still send records: TLS 1.3
     * session tickets, a close_notify, an alert. Read them all. */
    char buf[4096];
    for (;;) {
        int r = SSL_read(c->ssl, buf, sizeof(buf));
        if (r > 0) {
            if (discarded)
                *discarded += (size_t)r;
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        if (e == SSL_ERROR_ZERO_RETURN)
            return SHP_TLS_CLOSED;
        return shp_tls_client_fail(c, why, whylen);
    }
}

int shp_tls_client_write(shp_tls_client *c, const char *p, size_t n, char *why, size_t whylen)
{
    ERR_clear_error();
    /* Memory BIOs grow as needed, so SSL_write takes everything at once;
     * chunks keep each call's int length in range. */
    while (n) {
        int chunk = n > (1u << 30) ? 1 << 30 : (int)n;
        int r = SSL_write(c->ssl, p, chunk);
        if (r <= 0) {
            vg_tls_errstr(why, whylen, "TLS write failed");
            return -EPROTO;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int shp_tls_client_pending(shp_tls_client *c, char **buf, size_t *n)
{
    return vg_tls_drain(c->wbio, buf, n);
}
