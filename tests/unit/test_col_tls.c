/* collector/col_tls.c's configuration: the collector's 'tls' section,
 * each refusal at the line of the key at fault. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "col.h"
#include "vigil/conf.h"
#include "vigil/err.h"

static char err[1024];

/* Loads doc (named "c.yaml") and its top-level 'tls' map: must fail with
 * exactly msg. */
static void tls_fails(const char *doc, const char *msg)
{
    vg_node *root = NULL;
    col_tls_conf cf;
    ck_assert_int_eq(vg_yaml_load_mem("c.yaml", doc, strlen(doc), &root, err, sizeof(err)), 0);
    ck_assert_int_eq(col_tls_conf_load(vg_node_get(root, "tls"), "c.yaml", &cf, err, sizeof(err)),
                     VG_ECONFIG);
    ck_assert_str_eq(err, msg);
    vg_node_free(root);
}

/* require_client_cert without 'ca' named the section's first key (cert). */
START_TEST(test_tls_conf_lines)
{
    tls_fails("tls:\n  cert: c.pem\n  key: k.pem\n  require_client_cert: true\n",
              "c.yaml:4: require_client_cert needs 'ca'");
    tls_fails("tls:\n  cert: c.pem\n  key: k.pem\n  allowed_names: []\n",
              "c.yaml:4: allowed_names must be a non-empty list");
    tls_fails("tls:\n  cert: c.pem\n  key: k.pem\n  require_client_cert: maybe\n",
              "c.yaml:4: 'require_client_cert' must be a boolean (true/false, yes/no, on/off), "
              "got 'maybe'");
}
END_TEST

static Suite *col_tls_suite(void)
{
    Suite *s = suite_create("col_tls");
    TCase *tc = tcase_create("conf");
    tcase_add_test(tc, test_tls_conf_lines);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(col_tls_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
