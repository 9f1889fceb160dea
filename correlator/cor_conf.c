/* The 'correlator' section of the configuration. */
#include <stddef.h>
#include <string.h>

#include "cor.h"

static const vg_conf_key cor_conf_keys[] = {
    {"name", VG_CONF_STR, "correlator", offsetof(cor_conf, name),
     "instance name; the shipper tracks the alert stream by it", 0, 0},
    {"listen_socket", VG_CONF_STR, "correlator.sock", offsetof(cor_conf, listen),
     "socket collectors connect to, relative to pipeline.run_dir", 0, 0},
    {"shipper_socket", VG_CONF_STR, "shipper.sock", offsetof(cor_conf, shipper),
     "the shipper's socket, relative to pipeline.run_dir", 0, 0},
    {"rules_dir", VG_CONF_PATH, "/etc/vigil/rules", offsetof(cor_conf, rules_dir),
     "directory of rule files (*.yml, *.yaml)", 0, 0},
    {"state_size", VG_CONF_SIZE, "1G", offsetof(cor_conf, state_size),
     "size of the LMDB map holding state and the outbox", 1 << 20, (int64_t)1 << 40},
    {"match_limit", VG_CONF_INT, "100000", offsetof(cor_conf, match_limit),
     "PCRE2 match limit per regex and event (ReDoS guard)", 1000, 100000000},
    {NULL, 0, NULL, 0, NULL, 0, 0},
};

int cor_conf_load(const vg_node *root, const char *file, cor_conf *cf, char *err, size_t errlen)
{
    memset(cf, 0, sizeof(*cf));
    return vg_conf_apply(vg_node_get(root, "correlator"), file, cor_conf_keys, cf, err, errlen);
}

void cor_conf_free(cor_conf *cf)
{
    vg_conf_release(cor_conf_keys, cf);
    memset(cf, 0, sizeof(*cf));
}
