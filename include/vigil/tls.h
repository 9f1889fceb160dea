/* TLS over memory BIOs, the pieces the collector (server side, col_tls.c)
 * and the shipper (client side, shp_tls_client.c) share. Both drive OpenSSL
 * from libuv: ciphertext read from the socket goes into the SSL's read BIO,
 * and what the SSL wants sent collects in its write BIO. Linked only by the
 * daemons that speak TLS (vigil_tls_dep): the correlator does not. */
#ifndef VIGIL_TLS_H
#define VIGIL_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

/* The TLS 1.2 suites offered when the configuration names none (the
 * collector's collector.tls.ciphers, a shipper output's tls_ciphers):
 * ECDHE or DHE key exchange with AES-GCM or ChaCha20-Poly1305 (Mozilla's
 * "intermediate" list). OpenSSL's default also offers static-RSA key
 * exchange, where whoever gets the server's key later decrypts every
 * session recorded before, and CBC suites. TLS 1.3 suites are OpenSSL's
 * (all forward-secret AEAD) and not set by this string. */
#define VG_TLS_CIPHERS                                                                             \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                                   \
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"

/* Whether the OpenSSL cipher string s selects TLS 1.2 suites, and each of
 * its names or aliases (other than exclusions, !X and -X, and @ commands)
 * at least one. OpenSSL skips a name it does not know without a word, so
 * that a typo in one name quietly leaves the others (or nothing but the
 * suites the operator meant to add). Returns 0, VG_ECONFIG with the reason
 * in why ("'X' matches no TLS 1.2 cipher suite of this OpenSSL (...)"; the
 * caller adds the file, line and key), or -ENOMEM. Leaves OpenSSL's error
 * queue empty. */
int vg_tls_ciphers_check(const char *s, char *why, size_t cap);

struct vg_node;
/* vg_tls_ciphers_check of a configuration value s read from node at (key
 * named key): 0, VG_ECONFIG with "FILE:LINE: KEY: why" in err, or -ENOMEM.
 * The one refusal the collector's ciphers and the shipper's tls_ciphers
 * share. */
int vg_tls_ciphers_conf(const char *s, const struct vg_node *at, const char *key, char *err,
                        size_t errlen);

/* OpenSSL's error queue as one line ("a; b; ..."), emptying the queue;
 * dflt when the queue was empty. */
void vg_tls_errstr(char *buf, size_t cap, const char *dflt);

/* The TLS files of a context, read with vg_cfile_read (vigil/cfile.h):
 * each is read at start, -t and every SIGHUP in the daemon's loop, and
 * OpenSSL's own *_file functions would open a FIFO and wait on it, or read
 * /dev/zero without end. A file that is not a regular file or is over
 * VG_CFILE_MAX is refused before any read. Each returns 0, or VG_ECONFIG
 * with the reason in why (the file is not named: the caller names it),
 * OpenSSL's errors included (its queue is emptied).
 *   vg_tls_use_chain_file: PEM certificate, then its chain (as
 *     SSL_CTX_use_certificate_chain_file);
 *   vg_tls_use_key_file: PEM private key (SSL_CTX_use_PrivateKey_file),
 *     unencrypted: one with a passphrase is refused, never asked for;
 *   vg_tls_load_ca_file: PEM CA certificates and CRLs, at least one, into
 *     ctx's store (SSL_CTX_load_verify_locations with a file). */
int vg_tls_use_chain_file(SSL_CTX *ctx, const char *path, char *why, size_t cap);
int vg_tls_use_key_file(SSL_CTX *ctx, const char *path, char *why, size_t cap);
int vg_tls_load_ca_file(SSL_CTX *ctx, const char *path, char *why, size_t cap);

/* The certificate revocation lists of a shipper output's tls_crl: PEM
 * "X509 CRL" blocks, at least one, read with vg_cfile_read as the files
 * above, added to the store st (the caller's), and st told to check them
 * (X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL, as libcurl's
 * CURLOPT_CRLFILE does with OpenSSL): each certificate of the peer's chain
 * but the trust anchor is then checked against the CRL of the CA that
 * signed it, which the store must hold and which must be current. A file
 * with no CRL (a certificate, a key, text) is refused: it would check
 * nothing, or refuse every peer. Returns 0, or VG_ECONFIG with the reason
 * in why (the file is not named). */
int vg_tls_store_load_crl(X509_STORE *st, const char *path, char *why, size_t cap);

/* A new SSL for ctx with two memory BIOs, which the SSL owns (SSL_free
 * frees them). *rbio and *wbio stay valid for as long as *ssl. Returns 0, or
 * -ENOMEM with the three set to NULL. */
int vg_tls_mem_new(SSL_CTX *ctx, SSL **ssl, BIO **rbio, BIO **wbio);

/* Takes everything waiting in wbio: *buf (malloc'd, the caller frees) and
 * *n, or NULL and 0 when nothing waits. Returns 0, or -ENOMEM (the bytes
 * stay in wbio). */
int vg_tls_drain(BIO *wbio, char **buf, size_t *n);

#endif
