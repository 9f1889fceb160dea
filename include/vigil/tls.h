/* TLS over memory BIOs, the pieces the collector (server side, col_tls.c)
 * and the shipper (client side, shp_tls_client.c) share. Both drive OpenSSL
 * from libuv: ciphertext read from the socket goes into the SSL's read BIO,
 * and what the SSL wants sent collects in its write BIO. Linked only by the
 * daemons that speak TLS (vigil_tls_dep): the correlator does not. */
#ifndef VIGIL_TLS_H
#define VIGIL_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

/* OpenSSL's error queue as one line ("a; b; ..."), emptying the queue;
 * dflt when the queue was empty. */
void vg_tls_errstr(char *buf, size_t cap, const char *dflt);

/* A new SSL for ctx with two memory BIOs, which the SSL owns (SSL_free
 * frees them). *rbio and *wbio stay valid for as long as *ssl. Returns 0, or
 * -ENOMEM with the three set to NULL. */
int vg_tls_mem_new(SSL_CTX *ctx, SSL **ssl, BIO **rbio, BIO **wbio);

/* Takes everything waiting in wbio: *buf (malloc'd, the caller frees) and
 * *n, or NULL and 0 when nothing waits. Returns 0, or -ENOMEM (the bytes
 * stay in wbio). */
int vg_tls_drain(BIO *wbio, char **buf, size_t *n);

#endif
