/* The 'shipper' section of the configuration. */
#include <stddef.h>
#include <string.h>

#include "shp.h"

static const vg_conf_key shp_conf_keys[] = {
    {"name", VG_CONF_STR, "shipper", offsetof(shp_conf, name), "instance name", 0, 0},
    {"listen_socket", VG_CONF_STR, "shipper.sock", offsetof(shp_conf, listen),
     "socket the correlator connects to, relative to pipeline.run_dir", 0, 0},
    {"outbox_size", VG_CONF_SIZE, "1G", offsetof(shp_conf, outbox_size),
     "size of the LMDB map holding the outbox", 1 << 20, (int64_t)1 << 40},
    {"json_file", VG_CONF_PATH, "", offsetof(shp_conf, json_file),
     "file receiving one ECS JSON line per alert; empty: none", 0, 0},
    {"stdout", VG_CONF_BOOL, "false", offsetof(shp_conf, json_stdout),
     "also write each alert's JSON line to standard output", 0, 0},
    {"batch", VG_CONF_INT, "1024", offsetof(shp_conf, batch),
     "alerts written per delivery pass (one fdatasync each)", 1, 65536},
    {NULL, 0, NULL, 0, NULL, 0, 0},
};

int shp_conf_load(const vg_node *root, const char *file, shp_conf *cf, char *err, size_t errlen)
{
    memset(cf, 0, sizeof(*cf));
    const vg_node *sec = vg_node_get(root, "shipper");
    int rc = vg_conf_apply(sec, file, shp_conf_keys, cf, err, errlen);
    if (rc == 0 && !cf->json_file[0] && !cf->json_stdout) {
        rc = vg_conf_errf(err, errlen, sec ? sec : root,
                          "shipper has no output: set json_file or stdout: true");
        shp_conf_free(cf);
    }
    return rc;
}

void shp_conf_free(shp_conf *cf)
{
    vg_conf_release(shp_conf_keys, cf);
    memset(cf, 0, sizeof(*cf));
}
