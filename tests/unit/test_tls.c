/* lib/tls.c: vg_tls_ciphers_check, which the collector's tls.ciphers and
 * the shipper's tls_ciphers go through at load, on the OpenSSL the tests
 * run with; VG_TLS_CIPHERS, the default both offer for TLS 1.2; and
 * vg_tls_use_key_file with a key that has a passphrase; and
 * vg_tls_store_load_crl, the shipper's tls_crl. */
#include <check.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vigil/err.h"
#include "vigil/tls.h"

/* The default selects nine suites, each with ECDHE or DHE key exchange
 * and an AEAD cipher, and nothing else. */
START_TEST(test_default_forward_secret_aead)
{
    char why[400] = "";
    ck_assert_int_eq(vg_tls_ciphers_check(VG_TLS_CIPHERS, why, sizeof(why)), 0);
    ck_assert_str_eq(why, "");
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(SSL_CTX_set_cipher_list(ctx, VG_TLS_CIPHERS), 1);
    STACK_OF(SSL_CIPHER) *l = SSL_CTX_get_ciphers(ctx);
    int tls12 = 0;
    for (int i = 0; i < sk_SSL_CIPHER_num(l); i++) {
        const SSL_CIPHER *c = sk_SSL_CIPHER_value(l, i);
        if (strcmp(SSL_CIPHER_get_version(c), "TLSv1.3") == 0)
            continue; /* OpenSSL's TLS 1.3 suites, not set by the string */
        tls12++;
        int kx = SSL_CIPHER_get_kx_nid(c);
        ck_assert_msg(kx == NID_kx_ecdhe || kx == NID_kx_dhe, "%s", SSL_CIPHER_get_name(c));
        ck_assert_msg(SSL_CIPHER_is_aead(c), "%s", SSL_CIPHER_get_name(c));
    }
    ck_assert_int_eq(tls12, 9);
    SSL_CTX_free(ctx);
}
END_TEST

START_TEST(test_check_accepts)
{
    static const char *const ok[] = {
        "AES128-SHA",
        "ECDHE+AESGCM:ECDHE+CHACHA20:AES128-SHA",
        "ECDHE+AESGCM:!aNULL:-SHA1:@STRENGTH",
        "+ECDHE-RSA-AES128-GCM-SHA256 DHE-RSA-AES128-GCM-SHA256,ECDHE-RSA-AES256-GCM-SHA384",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char why[400] = "";
        ck_assert_msg(vg_tls_ciphers_check(ok[i], why, sizeof(why)) == 0, "%s: %s", ok[i], why);
        ck_assert_int_eq(ERR_peek_error(), 0); /* the queue is left empty */
    }
}
END_TEST

/* Refused with the name at fault; OpenSSL alone took each of the first
 * two and used what was left of it. */
START_TEST(test_check_refuses)
{
    static const struct {
        const char *s, *why;
    } bad[] = {
        {"ECDHE-RSA-AES128-GCM-SHA256:NOPE",
         "'NOPE' matches no TLS 1.2 cipher suite of this OpenSSL (`openssl ciphers -v` lists "
         "them; TLS 1.3 suites are not set here)"},
        {"ECDHE-RSA-AES128-GCM-SHA265:AES128-GCM-SHA256",
         "'ECDHE-RSA-AES128-GCM-SHA265' matches no TLS 1.2 cipher suite of this OpenSSL "
         "(`openssl ciphers -v` lists them; TLS 1.3 suites are not set here)"},
        {"TLS_AES_128_GCM_SHA256",
         "'TLS_AES_128_GCM_SHA256' matches no TLS 1.2 cipher suite of this OpenSSL "
         "(`openssl ciphers -v` lists them; TLS 1.3 suites are not set here)"},
        {"!ALL", "'!ALL' leaves no TLS 1.2 cipher suite"},
        {"AES128-SHA:+", "'+' is no cipher suite name"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char why[400] = "";
        ck_assert_int_eq(vg_tls_ciphers_check(bad[i].s, why, sizeof(why)), VG_ECONFIG);
        ck_assert_str_eq(why, bad[i].why);
        ck_assert_int_eq(ERR_peek_error(), 0);
    }
}
END_TEST

/* A key with a passphrase is refused with a reason that says so and how to
 * mend it, without asking: OpenSSL's default callback asked on the
 * terminal ("Enter PEM pass phrase:"), so vigil-collector -t, a start in
 * the foreground and a SIGHUP waited there for a person (the collector's
 * loop held), and without a terminal the reason was OpenSSL's alone. The
 * same key unencrypted loads. */
START_TEST(test_encrypted_key_refused)
{
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char plain[512], enc[512], why[600] = "";
    snprintf(plain, sizeof(plain), "%s/test_tls_plain_%d.key", dir, (int)getpid());
    snprintf(enc, sizeof(enc), "%s/test_tls_enc_%d.key", dir, (int)getpid());
    EVP_PKEY *k = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(k);
    FILE *f = fopen(plain, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    f = fopen(enc, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(PEM_write_PrivateKey(f, k, EVP_aes_256_cbc(), NULL, 0, NULL, "secret"), 1);
    fclose(f);
    EVP_PKEY_free(k);
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    ck_assert_int_eq(vg_tls_use_key_file(ctx, enc, why, sizeof(why)), VG_ECONFIG);
    ck_assert_str_eq(why, "the key is encrypted (it has a passphrase), and a daemon cannot be "
                          "asked for one: write it unencrypted (openssl pkey -in KEY -out NEW), "
                          "readable only by the user the daemon runs as");
    ck_assert_int_eq(ERR_peek_error(), 0);
    ck_assert_int_eq(vg_tls_use_key_file(ctx, plain, why, sizeof(why)), 0);
    SSL_CTX_free(ctx);
    unlink(plain);
    unlink(enc);
}
END_TEST

/* A CRL of the issuer CN=cn, signed with k (its signature is checked at
 * verification, against the issuer's certificate, not at load). */
static X509_CRL *crl_new(const char *cn, EVP_PKEY *k)
{
    X509_CRL *c = X509_CRL_new();
    X509_NAME *n = X509_NAME_new();
    ASN1_TIME *now = ASN1_TIME_set(NULL, time(NULL));
    ck_assert_ptr_nonnull(c);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    ck_assert_int_eq(X509_CRL_set_version(c, X509_CRL_VERSION_2), 1);
    ck_assert_int_eq(X509_CRL_set_issuer_name(c, n), 1);
    ck_assert_int_eq(X509_CRL_set1_lastUpdate(c, now), 1);
    ck_assert_int_gt(X509_CRL_sign(c, k, EVP_sha256()), 0);
    X509_NAME_free(n);
    ASN1_TIME_free(now);
    return c;
}

/* The number of CRLs in st. */
static int crls_in(X509_STORE *st)
{
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(st);
    int n = 0;
    for (int i = 0; i < sk_X509_OBJECT_num(objs); i++)
        n += X509_OBJECT_get_type(sk_X509_OBJECT_value(objs, i)) == X509_LU_CRL;
    return n;
}

/* tls_crl: a file of two CRLs loads both and turns the checks on; a file
 * with a key besides its CRL, one without any CRL, and a directory are
 * refused, with the reason, and leave the store unchecked. */
START_TEST(test_crl_file)
{
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char two[512], mixed[512], none[512], why[600] = "";
    snprintf(two, sizeof(two), "%s/test_tls_two_%d.crl", dir, (int)getpid());
    snprintf(mixed, sizeof(mixed), "%s/test_tls_mixed_%d.crl", dir, (int)getpid());
    snprintf(none, sizeof(none), "%s/test_tls_none_%d.crl", dir, (int)getpid());
    EVP_PKEY *k = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(k);
    X509_CRL *a = crl_new("Vigil Test CA 1", k), *b = crl_new("Vigil Test CA 2", k);
    FILE *f = fopen(two, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(PEM_write_X509_CRL(f, a), 1);
    ck_assert_int_eq(PEM_write_X509_CRL(f, b), 1);
    fclose(f);
    f = fopen(mixed, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(PEM_write_X509_CRL(f, a), 1);
    ck_assert_int_eq(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    f = fopen(none, "w");
    ck_assert_ptr_nonnull(f);
    fputs("not a CRL\n", f);
    fclose(f);
    const unsigned long checks = X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;

    X509_STORE *st = X509_STORE_new();
    ck_assert_int_eq(vg_tls_store_load_crl(st, two, why, sizeof(why)), 0);
    ck_assert_int_eq(crls_in(st), 2);
    ck_assert_uint_eq(X509_VERIFY_PARAM_get_flags(X509_STORE_get0_param(st)) & checks, checks);
    X509_STORE_free(st);

    const struct {
        const char *path, *why;
    } bad[] = {
        {mixed, "it holds a certificate or key besides CRLs (tls_crl takes PEM 'X509 CRL' blocks "
                "only; CAs go in tls_ca)"},
        {none, "no CRL in it (PEM 'X509 CRL' blocks, e.g. from openssl ca -gencrl)"},
        {dir, "is a directory, not a regular file (refused without reading it: it could block "
              "or never end)"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        st = X509_STORE_new();
        ck_assert_int_eq(vg_tls_store_load_crl(st, bad[i].path, why, sizeof(why)), VG_ECONFIG);
        ck_assert_msg(strcmp(why, bad[i].why) == 0, "%s: got '%s'", bad[i].path, why);
        ck_assert_uint_eq(X509_VERIFY_PARAM_get_flags(X509_STORE_get0_param(st)) & checks, 0);
        ck_assert_int_eq(ERR_peek_error(), 0);
        X509_STORE_free(st);
    }
    X509_CRL_free(a);
    X509_CRL_free(b);
    EVP_PKEY_free(k);
    unlink(two);
    unlink(mixed);
    unlink(none);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("ciphers");
    tcase_add_test(tc, test_default_forward_secret_aead);
    tcase_add_test(tc, test_check_accepts);
    tcase_add_test(tc, test_check_refuses);
    suite_add_tcase(s, tc);
    TCase *keys = tcase_create("keys");
    tcase_add_test(keys, test_encrypted_key_refused);
    tcase_add_test(keys, test_crl_file);
    suite_add_tcase(s, keys);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
