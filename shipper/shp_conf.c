/* The 'shipper' section of the configuration: the instance, its outbox, and
 * the list of outputs (docs/shipper.md). json_file and stdout remain as
 * shorthands for a 'file' output named json_file and a 'stdout' output. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shp.h"

static const vg_conf_key shp_conf_keys[] = {
    {"name", VG_CONF_NAME, "shipper", offsetof(shp_conf, name), "instance name", 0, 0},
    {"listen_socket", VG_CONF_STR, VG_SOCK_SHIPPER, offsetof(shp_conf, listen),
     "socket the correlator connects to, relative to pipeline.run_dir", 0, 0},
    {"outbox_size", VG_CONF_SIZE, "1G", offsetof(shp_conf, outbox_size),
     "size of the LMDB map holding the outbox", 1 << 20, (int64_t)1 << 40},
    {"json_file", VG_CONF_PATH, NULL, offsetof(shp_conf, json_file),
     "shorthand: a 'file' output named json_file writing ECS JSON lines here", 0, 0},
    {"stdout", VG_CONF_BOOL, "false", offsetof(shp_conf, json_stdout),
     "shorthand: a 'stdout' output (ECS JSON lines on standard output)", 0, 0},
    {"batch", VG_CONF_INT, "1024", offsetof(shp_conf, batch),
     "default alerts per delivery attempt of each output", 1, 65536},
    VG_STATS_LOG_KEY(shp_conf, stats_log),
    {"outputs", VG_CONF_NODE, NULL, offsetof(shp_conf, outputs_node),
     "list of outputs: name, type, filter and the type's settings", 0, 0},
    {NULL, 0, NULL, 0, NULL, 0, 0},
};

/* Whether two outputs are file outputs on one regular file (the same
 * path, or two names of one existing file). A device (/dev/null, a
 * console) is written as it comes, with no record to cut back to, so
 * several outputs may share it. */
static bool shp_same_file(const shp_out_conf *a, const shp_out_conf *b)
{
    if (strcmp(a->type, "file") != 0 || strcmp(b->type, "file") != 0 || !a->path || !b->path)
        return false;
    struct stat sa, sb;
    bool ea = stat(a->path, &sa) == 0, eb = stat(b->path, &sb) == 0;
    if (ea && S_ISCHR(sa.st_mode))
        return false;
    if (strcmp(a->path, b->path) == 0)
        return true;
    return ea && eb && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int shp_conf_add(shp_conf *cf, shp_out_conf *oc, const vg_node *at, char *err,
                        size_t errlen)
{
    for (size_t i = 0; i < cf->noutputs; i++)
        if (strcmp(cf->outputs[i].name, oc->name) == 0) {
            int rc = vg_conf_errf(err, errlen, at, "output name '%s' is used twice", oc->name);
            shp_out_conf_free(oc);
            return rc;
        }
    for (size_t i = 0; i < cf->noutputs; i++)
        if (shp_same_file(&cf->outputs[i], oc)) {
            int rc = vg_conf_errf(err, errlen, at,
                                  "output '%s' writes to %s, the file of output '%s': each file "
                                  "output keeps its own record of what it delivered there, and "
                                  "at a start cuts what it did not record (the other's "
                                  "deliveries); give each its own path",
                                  oc->name, oc->path, cf->outputs[i].name);
            shp_out_conf_free(oc);
            return rc;
        }
    shp_out_conf *v = realloc(cf->outputs, (cf->noutputs + 1) * sizeof(*v));
    if (!v) {
        shp_out_conf_free(oc);
        return -ENOMEM;
    }
    cf->outputs = v;
    cf->outputs[cf->noutputs++] = *oc;
    return 0;
}

int shp_conf_load(const vg_node *root, const char *file, shp_conf *cf, char *err, size_t errlen)
{
    memset(cf, 0, sizeof(*cf));
    const vg_node *sec = vg_node_get(root, "shipper");
    int rc = vg_conf_apply(sec, file, shp_conf_keys, cf, err, errlen);
    if (rc)
        return rc;
    if (!cf->listen[0]) {
        rc = vg_conf_errf(err, errlen, vg_node_get(sec, "listen_socket"),
                          "'listen_socket' must name a socket");
        shp_conf_free(cf);
        return rc;
    }
    const char *cfile = sec ? sec->file : file;
    shp_out_conf oc;
    if (cf->json_file && cf->json_file[0]) {
        rc = shp_out_conf_simple("file", "json_file", cf->json_file, cf->batch, cfile, &oc, err,
                                 errlen);
        if (rc == 0) { /* its path's line is json_file's, for -t's warnings and refusals */
            const vg_node *jn = vg_node_get(sec, "json_file");
            oc.path_line = jn ? jn->line : 0;
            rc = shp_conf_add(cf, &oc, sec, err, errlen);
        }
    }
    if (rc == 0 && cf->json_stdout) {
        rc = shp_out_conf_simple("stdout", "stdout", NULL, cf->batch, cfile, &oc, err, errlen);
        if (rc == 0)
            rc = shp_conf_add(cf, &oc, sec, err, errlen);
    }
    const vg_node *l = cf->outputs_node;
    if (rc == 0 && l && l->kind != VG_NODE_SEQ)
        rc = vg_conf_errf(err, errlen, l, "outputs must be a list of maps");
    for (size_t i = 0; rc == 0 && l && i < l->n; i++) {
        rc = shp_out_conf_load(l->items[i], cfile, cf->batch, &oc, err, errlen);
        if (rc == 0)
            rc = shp_conf_add(cf, &oc, l->items[i], err, errlen);
    }
    if (rc == 0 && cf->noutputs == 0)
        rc = vg_conf_errf(err, errlen, sec ? sec : root,
                          "shipper has no output: add 'outputs', or set json_file or stdout: true");
    if (rc)
        shp_conf_free(cf);
    return rc;
}

void shp_conf_free(shp_conf *cf)
{
    for (size_t i = 0; i < cf->noutputs; i++)
        shp_out_conf_free(&cf->outputs[i]);
    free(cf->outputs);
    vg_conf_release(shp_conf_keys, cf);
    memset(cf, 0, sizeof(*cf));
}
