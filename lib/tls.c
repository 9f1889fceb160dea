/* TLS over memory BIOs (see vigil/tls.h). */
#include <errno.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/tls.h"

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
