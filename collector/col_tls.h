/* TLS intake for the collector (RFC 5425), on OpenSSL with memory BIOs so
 * that libuv keeps owning the socket. */
#ifndef COL_TLS_H
#define COL_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

#include "vigil/conf.h"
#include "vigil/util.h"

typedef struct col_tls_conf {
    char *cert;         /* server certificate chain (PEM) */
    char *key;          /* its private key (PEM) */
    char *ca;           /* CA bundle for client certificates; NULL = none */
    bool require_client_cert;
    const vg_node *allowed; /* allowed client names (DNS SANs, or the CN without any), globs */
    char **names;       /* parsed 'allowed', NULL-terminated; NULL = any verified client */
    char *ciphers;      /* OpenSSL cipher string for TLS 1.2; NULL = VG_TLS_CIPHERS */
    char *where;        /* "CONFIG:LINE" of cert, key and ca, for a file that does not load */
    int cert_line, key_line, ca_line;
} col_tls_conf;

typedef struct col_tls {
    SSL_CTX *ctx;
    char **names; /* owned copy of the allow-list */
    /* tls_errors: failed handshakes (a TLS error, or a peer that ended the
     * connection inside one after sending bytes), and TLS errors after the
     * handshake (a record that does not decrypt) */
    uint64_t handshakes, errors, refused_names;
    vg_budget log_budget; /* the failure lines a client can cause at will */
} col_tls;

/* Reads collector.tls; returns 0 and leaves cf zeroed when the section is
 * absent. A 'ciphers' string is tried on OpenSSL here, so that -t, a start
 * and a reload refuse it with its line. */
int col_tls_conf_load(const vg_node *sec, const char *file, col_tls_conf *cf, char *err,
                      size_t errlen);
void col_tls_conf_free(col_tls_conf *cf);

/* Builds the SSL_CTX (TLS 1.2+, cf->ciphers or VG_TLS_CIPHERS for 1.2).
 * Errors name the file and OpenSSL's reason. */
int col_tls_init(col_tls *t, const col_tls_conf *cf, char *err, size_t errlen);
void col_tls_free(col_tls *t);
/* Puts the context and allow-list of nt (from col_tls_init) in place of
 * t's, keeping t's counters; nt is left empty. Connections open keep the
 * context they were made with; new ones get nt's. */
void col_tls_replace(col_tls *t, col_tls *nt);
/* Writes "TLS certificate PATH (SUBJECT) valid until / expires on ... /
 * expired on ..." into text; returns 0 (valid for 14 days or more), 1
 * (expires within 14 days), 2 (expired), -1 (no certificate). */
int col_tls_expiry(const col_tls *t, const char *path, char *text, size_t cap);
/* At a reload: VG_ECONFIG, with err "CONFIG:LINE: TLS certificate ...
 * expired on ...: ...", when the certificate read again (nt) has expired
 * and the running one (t) has not: a renewal that put an old file back
 * would otherwise have every sender refuse the collector. 0 otherwise. */
int col_tls_renewal_check(const col_tls *nt, const col_tls *t, const col_tls_conf *cf, char *err,
                          size_t errlen);
/* Logs that: a warning within 14 days of the expiry, an error past it,
 * since renewals are due before. */
void col_tls_describe(const col_tls *t, const char *path);

/* One connection's TLS state: ciphertext in through rbio, out through wbio. */
typedef struct col_tls_conn {
    SSL *ssl;
    BIO *rbio, *wbio;
    int handshake_done;
    char peer[256]; /* verified client name, or ""; after a refused certificate,
                     * "SUBJECT: reason" of it (col_tls_on_verify) */
    unsigned char first[16]; /* the peer's first bytes, for the log line of a failed handshake */
    size_t nfirst;
} col_tls_conn;

int col_tls_conn_init(col_tls *t, col_tls_conn *tc);
void col_tls_conn_free(col_tls_conn *tc);

/* Feeds ciphertext and extracts plaintext: calls out(ud, buf, n) for each
 * decrypted run. Returns 0 to go on, 1 on a clean TLS close, negative on a
 * TLS error (reason logged) or when out returns non-zero (-ENOMEM). Bytes the
 * peer must receive (handshake) are left in wbio: see col_tls_pending. */
int col_tls_feed(col_tls *t, col_tls_conn *tc, const char *cipher, size_t n,
                 int (*out)(void *ud, const char *p, size_t n), void *ud, const char *src);
/* A connection that ended (the peer's FIN, or with reset a reset or a read
 * error)
 * before its handshake was done: a failed handshake, counted in errors and
 * logged like the others, when the peer had sent bytes (a ClientHello
 * begun: a client that gave up without an alert, a scanner that left after
 * the ServerHello, a slow handshake cut). One that sent nothing is not: a
 * load balancer's TCP health check, a port scan. */
void col_tls_abandoned(col_tls *t, const col_tls_conn *tc, int reset, const char *src);
/* Queues our close_notify for the peer (col_tls_pending hands it over):
 * RFC 5425 4.4 has the side that closes send one, and the side that gets
 * one answer it. Nothing before the handshake is done, nor twice. */
void col_tls_close_notify(col_tls_conn *tc);
/* Whether the peer's close_notify came: its stream ended in order, not cut. */
int col_tls_peer_closed(const col_tls_conn *tc);
/* Whether TLS holds part of a record (after the handshake): ciphertext
 * read but not yet decrypted, since the rest of its record has not come.
 * A sender trickling a record's bytes leaves its frame unfinished too
 * (frame_timeout, col_input.c) though no plaintext has come of it yet. */
int col_tls_partial(const col_tls_conn *tc);
/* Moves the bytes waiting for the peer into a malloc'ed buffer. */
size_t col_tls_pending(col_tls_conn *tc, char **buf);

#endif
