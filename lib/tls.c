/* TLS over memory BIOs (see vigil/tls.h). */
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/cfile.h"
#include "vigil/conf.h"
#include "vigil/err.h"
#include "vigil/tls.h"

int vg_tls_ciphers_check(const char *s, char *why, size_t cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    int rc = 0;
    if (!ctx)
        return -ENOMEM;
    for (const char *p = s; *p && rc == 0;) {
        size_t n = strcspn(p, ":, ;"); /* OpenSSL's separators */
        char item[256];
        const char *name = p[0] == '+' ? p + 1 : p;
        size_t len = n - (size_t)(name - p);
        if (n && p[0] != '!' && p[0] != '-' && p[0] != '@') {
            if (len == 0 || len >= sizeof(item)) {
                snprintf(why, cap, "'%.*s' is no cipher suite name", (int)(n > 64 ? 64 : n), p);
                rc = VG_ECONFIG;
                continue;
            }
            memcpy(item, name, len);
            item[len] = '\0';
            if (SSL_CTX_set_cipher_list(ctx, item) != 1) {
                snprintf(why, cap, "'%s' matches no TLS 1.2 cipher suite of this OpenSSL "
                         "(`openssl ciphers -v` lists them; TLS 1.3 suites are not set here)",
                         item);
                rc = VG_ECONFIG;
            }
        }
        p += n;
        p += strspn(p, ":, ;");
    }
    if (rc == 0 && SSL_CTX_set_cipher_list(ctx, s) != 1) {
        snprintf(why, cap, "'%s' leaves no TLS 1.2 cipher suite", s);
        rc = VG_ECONFIG;
    }
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return rc;
}

void vg_tls_errstr(char *buf, size_t cap, const char *dflt)
{
    unsigned long e;
    size_t n = 0;
    buf[0] = '\0';
    while ((e = ERR_get_error()) != 0 && n + 2 < cap) {
        if (n)
            buf[n++] = ';', buf[n++] = ' ';
        ERR_error_string_n(e, buf + n, cap - n);
        n = strlen(buf);
    }
    if (!buf[0])
        snprintf(buf, cap, "%s", dflt);
}

int vg_tls_mem_new(SSL_CTX *ctx, SSL **ssl, BIO **rbio, BIO **wbio)
{
    *ssl = SSL_new(ctx);
    *rbio = BIO_new(BIO_s_mem());
    *wbio = BIO_new(BIO_s_mem());
    if (!*ssl || !*rbio || !*wbio) {
        SSL_free(*ssl);
        BIO_free(*rbio);
        BIO_free(*wbio);
        *ssl = NULL;
        *rbio = *wbio = NULL;
        return -ENOMEM;
    }
    SSL_set_bio(*ssl, *rbio, *wbio); /* the SSL owns both BIOs now */
    return 0;
}

int vg_tls_drain(BIO *wbio, char **buf, size_t *n)
{
    size_t len = (size_t)BIO_ctrl_pending(wbio);
    *buf = NULL;
    *n = 0;
    if (len == 0)
        return 0;
    char *b = malloc(len);
    if (!b)
        return -ENOMEM;
    int r = BIO_read(wbio, b, (int)len);
    if (r <= 0) {
        free(b);
        return 0;
    }
    *buf = b;
    *n = (size_t)r;
    return 0;
}

int vg_tls_ciphers_conf(const char *s, const vg_node *at, const char *key, char *err,
                        size_t errlen)
{
    char why[600];
    int rc = vg_tls_ciphers_check(s, why, sizeof(why));
    return rc == VG_ECONFIG ? vg_conf_errf(err, errlen, at, "%s: %s", key, why) : rc;
}

/* why gets err without its leading "PATH: " (the caller names the file). */
static void vg__tls_why(const char *path, const char *err, char *why, size_t cap)
{
    size_t n = strlen(path);
    if (strncmp(err, path, n) == 0 && err[n] == ':' && err[n + 1] == ' ') err += n + 2;
    snprintf(why, cap, "%s", err);
}

/* The PEM file at path in a memory BIO (vg_cfile_read: refused at once
 * when it is no regular file or too big). NULL with why set. */
static BIO *vg__tls_pem(const char *path, char *why, size_t cap)
{
    char err[PATH_MAX + 256], *buf = NULL;
    size_t len = 0;
    int rc = vg_cfile_read(path, VG_CFILE_MAX, &buf, &len, err, sizeof(err));
    if (rc) {
        vg__tls_why(path, err, why, cap);
        return NULL;
    }
    /* a copy: the BIO outlives buf */
    BIO *b = BIO_new(BIO_s_mem());
    if (!b || (len && BIO_write(b, buf, (int)len) != (int)len)) {
        BIO_free(b);
        b = NULL;
        snprintf(why, cap, "out of memory");
    }
    free(buf);
    return b;
}

int vg_tls_use_chain_file(SSL_CTX *ctx, const char *path, char *why, size_t cap)
{
    BIO *b = vg__tls_pem(path, why, cap);
    if (!b) return VG_ECONFIG;
    ERR_clear_error();
    pem_password_cb *cb = SSL_CTX_get_default_passwd_cb(ctx);
    void *ud = SSL_CTX_get_default_passwd_cb_userdata(ctx);
    int rc = VG_ECONFIG;
    X509 *x = PEM_read_bio_X509_AUX(b, NULL, cb, ud);
    if (!x || SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_clear_chain_certs(ctx) != 1)
        goto out;
    /* the rest of the file: the chain, up to the end of the PEM blocks */
    X509 *ca;
    while ((ca = PEM_read_bio_X509(b, NULL, cb, ud)) != NULL) {
        if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
            X509_free(ca);
            goto out;
        }
    }
    unsigned long e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
        ERR_clear_error();
        rc = 0;
    }
out:
    if (rc) vg_tls_errstr(why, cap, "no certificate in it");
    X509_free(x);
    BIO_free(b);
    return rc;
}

/* The passphrase callback for a key: none is given, and *asked records
 * that one was wanted. OpenSSL's default asks on the terminal (/dev/tty):
 * an encrypted key made -t, a start in the foreground and a SIGHUP wait
 * at "Enter PEM pass phrase:" for a person, the daemon's loop held. */
static int vg__tls_no_passphrase(char *buf, int size, int rwflag, void *asked)
{
    (void)buf, (void)size, (void)rwflag;
    *(int *)asked = 1;
    return -1;
}

int vg_tls_use_key_file(SSL_CTX *ctx, const char *path, char *why, size_t cap)
{
    BIO *b = vg__tls_pem(path, why, cap);
    if (!b) return VG_ECONFIG;
    ERR_clear_error();
    int asked = 0;
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, vg__tls_no_passphrase, &asked);
    int rc = k && SSL_CTX_use_PrivateKey(ctx, k) == 1 ? 0 : VG_ECONFIG;
    if (rc && !k && asked) {
        ERR_clear_error();
        snprintf(why, cap, "the key is encrypted (it has a passphrase), and a daemon cannot be "
                 "asked for one: write it unencrypted (openssl pkey -in KEY -out NEW), "
                 "readable only by the user the daemon runs as");
    } else if (rc) {
        vg_tls_errstr(why, cap, "no private key in it");
    }
    EVP_PKEY_free(k);
    BIO_free(b);
    return rc;
}

int vg_tls_load_ca_file(SSL_CTX *ctx, const char *path, char *why, size_t cap)
{
    BIO *b = vg__tls_pem(path, why, cap);
    if (!b) return VG_ECONFIG;
    ERR_clear_error();
    X509_STORE *st = SSL_CTX_get_cert_store(ctx);
    STACK_OF(X509_INFO) *inf = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
    int rc = inf ? 0 : VG_ECONFIG, n = 0;
    for (int i = 0; inf && rc == 0 && i < sk_X509_INFO_num(inf); i++) {
        X509_INFO *it = sk_X509_INFO_value(inf, i);
        if (it->x509) {
            if (X509_STORE_add_cert(st, it->x509) != 1) rc = VG_ECONFIG;
            n++;
        }
        if (it->crl) {
            if (X509_STORE_add_crl(st, it->crl) != 1) rc = VG_ECONFIG;
            n++;
        }
    }
    if (rc == 0 && n == 0) {
        rc = VG_ECONFIG;
        ERR_clear_error();
    }
    if (rc) vg_tls_errstr(why, cap, "no certificate in it");
    sk_X509_INFO_pop_free(inf, X509_INFO_free);
    BIO_free(b);
    return rc;
}

int vg_tls_store_load_crl(X509_STORE *st, const char *path, char *why, size_t cap)
{
    BIO *b = vg__tls_pem(path, why, cap);
    if (!b) return VG_ECONFIG;
    ERR_clear_error();
    STACK_OF(X509_INFO) *inf = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
    int rc = inf ? 0 : VG_ECONFIG, n = 0, other = 0;
    for (int i = 0; inf && rc == 0 && i < sk_X509_INFO_num(inf); i++) {
        X509_INFO *it = sk_X509_INFO_value(inf, i);
        if (it->crl) {
            if (X509_STORE_add_crl(st, it->crl) != 1) rc = VG_ECONFIG;
            n++;
        }
        if (it->x509 || it->x_pkey) other++;
    }
    if (rc == 0 && (n == 0 || other)) {
        ERR_clear_error();
        snprintf(why, cap, "%s", other ? "it holds a certificate or key besides CRLs (tls_crl "
                                         "takes PEM 'X509 CRL' blocks only; CAs go in tls_ca)"
                                       : "no CRL in it (PEM 'X509 CRL' blocks, e.g. from "
                                         "openssl ca -gencrl)");
        rc = VG_ECONFIG;
    } else if (rc) {
        vg_tls_errstr(why, cap, "no CRL in it");
    }
    if (rc == 0 &&
        X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL) != 1) {
        vg_tls_errstr(why, cap, "cannot turn on CRL checks");
        rc = VG_ECONFIG;
    }
    sk_X509_INFO_pop_free(inf, X509_INFO_free);
    BIO_free(b);
    return rc;
}
