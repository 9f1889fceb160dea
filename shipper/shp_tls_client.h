/* TLS client for the syslog output (RFC 5425), on OpenSSL with memory BIOs
 * so that libuv keeps owning the socket: the mirror of collector/col_tls.c.
 *
 * The caller moves bytes: ciphertext read from the socket goes in with
 * shp_tls_client_feed(); whatever OpenSSL wants to send (handshake records,
 * encrypted data, alerts) comes out of shp_tls_client_pending() and must be
 * written to the socket in order. Nothing here touches a socket or a loop.
 */
#ifndef SHP_TLS_CLIENT_H
#define SHP_TLS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

/* One per output: the SSL_CTX with its trust and client certificate. */
typedef struct shp_tls_client_ctx {
    SSL_CTX *ctx;
    bool verify;
    bool own_ciphers; /* tls_ciphers was set (else VG_TLS_CIPHERS) */
    bool system_cas;  /* no tls_ca: the system's default CA paths */
    char *crl;        /* tls_crl (malloc'd), read again for each connection; NULL: none */
    /* after a failed shp_tls_client_ctx_init: the output key its error is
     * about ("tls_ca", "tls_cert", "tls_key" or "tls_ciphers"), for the
     * line of the refusal; NULL when it is about none (no TLS context);
     * "tls_crl" too */
    const char *bad_key;
} shp_tls_client_ctx;

/* Builds the context (TLS 1.2 or later). ca: PEM file of the CAs that may
 * sign the server's certificate, or "" / NULL for the system's default CA
 * paths. crl: PEM file of CRLs (vg_tls_store_load_crl) that the server's
 * chain is checked against, or "" / NULL for none; loaded here (so that a
 * bad file is refused at load) and again by each shp_tls_client_init, so
 * that a new CRL written into the file applies from the next connection,
 * without a reload (CRLs expire: see docs/shipper-syslog.md). cert and key: the client certificate chain and its key (PEM),
 * both or neither. verify false: the server is not verified at all.
 * ciphers: the TLS 1.2 cipher string (checked beforehand with
 * vg_tls_ciphers_check), or "" / NULL for VG_TLS_CIPHERS; TLS 1.3 keeps
 * OpenSSL's suites. Returns 0, or VG_ECONFIG with "FILE: reason"
 * (OpenSSL's) in err. */
int shp_tls_client_ctx_init(shp_tls_client_ctx *t, const char *ca, const char *crl,
                            const char *cert, const char *key, bool verify, const char *ciphers, char *err,
                            size_t errlen);
void shp_tls_client_ctx_free(shp_tls_client_ctx *t);

/* One connection. */
typedef struct shp_tls_client {
    SSL *ssl;
    BIO *rbio, *wbio;   /* owned by ssl */
    int handshake_done; /* our side of the handshake is complete */
    int confirmed;      /* ...and the server has accepted it (see below) */
    bool own_ciphers;   /* the context's, for the hint of a refused ClientHello */
    /* after a feed returned -EACCES: OpenSSL's verify result (an
     * X509_V_ERR_*, e.g. X509_V_ERR_CERT_REVOKED); X509_V_OK otherwise */
    long verify_err;
} shp_tls_client;

/* Why 'confirmed': in TLS 1.2 the client finishes last, after the server's
 * Finished, so a finished handshake means the server accepted us. In TLS
 * 1.3 the client finishes first: the server checks our Finished (and our
 * certificate, or its absence) only afterwards, and a refusal arrives as an
 * alert after we may already have sent a batch that the server's kernel
 * acknowledged, which would count as delivered and be lost. A TLS 1.3
 * server that accepted us sends a NewSessionTicket (OpenSSL and GnuTLS
 * servers do by default), so the first ticket sets 'confirmed'. A caller
 * that gets no ticket must decide after a grace period (shp_syslog.c waits
 * SHP_SYSLOG_TLS13_GRACE_MS). */

/* Starts a client session that verifies the server against name (a DNS
 * name, or an IP address literal matched against the certificate's IP
 * SANs) when the context verifies; a DNS name is also sent as SNI. With a
 * CRL file, the session verifies against a store of its own: the
 * context's CAs and the file's CRLs as they are now. The first handshake
 * flight is left in wbio (shp_tls_client_pending). c must not move until
 * shp_tls_client_free (OpenSSL keeps a pointer to it). Returns 0, -ENOMEM,
 * -EINVAL, or VG_ECONFIG when the CRL file cannot be read now ("FILE:
 * cannot load CRLs: reason" in why). */
int shp_tls_client_init(shp_tls_client_ctx *t, shp_tls_client *c, const char *name, char *why,
                        size_t whylen);
void shp_tls_client_free(shp_tls_client *c);

enum { SHP_TLS_CLOSED = 1 }; /* the server sent close_notify */

/* Feeds n bytes of ciphertext (n may be 0 to just drive the handshake);
 * afterwards c->handshake_done and c->confirmed tell where it stands.
 * Application data from the server (a syslog receiver sends none) is
 * discarded; *discarded, if given, counts its bytes. Returns 0 to go on,
 * SHP_TLS_CLOSED, or a negative code with the reason in why: -EPROTO for a
 * TLS error, -EACCES when the server's certificate failed verification
 * (why then carries OpenSSL's verify message). When the server answered our
 * ClientHello with a handshake_failure alert, why adds
 * shp_tls_ciphers_hint's text. */
int shp_tls_client_feed(shp_tls_client *c, const char *p, size_t n, size_t *discarded, char *why,
                        size_t whylen);

/* Encrypts n bytes of application data into wbio (the handshake must be
 * done). Returns 0, or -EPROTO with why. */
int shp_tls_client_write(shp_tls_client *c, const char *p, size_t n, char *why, size_t whylen);

/* Moves the bytes waiting for the server into a malloc'ed buffer: *buf
 * (the caller frees it) and *n; *buf NULL and *n 0 when there are none.
 * Returns 0 or -ENOMEM (the bytes stay in wbio: the connection cannot go
 * on, since records must not be skipped). */
int shp_tls_client_pending(shp_tls_client *c, char **buf, size_t *n);

/* What an output logs after its TLS server refused the ClientHello with a
 * handshake_failure alert (OpenSSL: "sslv3 alert handshake failure"):
 * most often no TLS 1.2 cipher suite in common, since the default
 * tls_ciphers leaves out the CBC and static-RSA suites that older
 * receivers still offer alone. own_ciphers: tls_ciphers is set. A static
 * string, without the parentheses the callers put around it. */
const char *shp_tls_ciphers_hint(bool own_ciphers);

#endif
