/* lib/tls.c: vg_tls_ciphers_check, which the collector's tls.ciphers and
 * the shipper's tls_ciphers go through at load, on the OpenSSL the tests
 * run with; and VG_TLS_CIPHERS, the default both offer for TLS 1.2. */
#include <check.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>

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

int main(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("ciphers");
    tcase_add_test(tc, test_default_forward_secret_aead);
    tcase_add_test(tc, test_check_accepts);
    tcase_add_test(tc, test_check_refuses);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
