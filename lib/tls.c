/* TLS over memory BIOs (see vigil/tls.h). */
#include <errno.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
