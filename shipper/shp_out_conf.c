/* One output's configuration: the keys every output has, the keys of its
 * type, and its routing filter. One table for all types keeps parsing in
 * one place; each transport lists the keys it accepts, and a key of
 * another type is refused with the file and line. */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "shp.h"
#include "vigil/err.h"

#define OFF(f) offsetof(shp_out_conf, f)

static const vg_conf_key shp_out_keys[] = {
    /* common */
    {"name", VG_CONF_STR, NULL, OFF(name), "output name (letters, digits, . _ -), unique", 0, 0},
    {"type", VG_CONF_STR, NULL, OFF(type),
     "file, stdout, syslog, elasticsearch, splunk_hec or webhook", 0, 0},
    {"filter", VG_CONF_NODE, NULL, OFF(filter_node),
     "routing: min_level, agency, site, rule, tag, not_rule", 0, 0},
    {"batch", VG_CONF_INT, "0", OFF(batch), "alerts per delivery attempt; 0: shipper.batch", 0,
     65536},
    {"max_backlog", VG_CONF_INT, "0", OFF(max_backlog),
     "alerts waiting for this output before on_full applies; 0: no limit", 0, INT64_MAX},
    {"on_full", VG_CONF_STR, "block", OFF(on_full),
     "block (stop taking alerts from the correlator) or drop_oldest (skip, count, log)", 0, 0},
    {"retry_min", VG_CONF_DURATION, "500ms", OFF(retry_min_ms), "first retry delay", 1,
     3600000},
    {"retry_max", VG_CONF_DURATION, "1m", OFF(retry_max_ms), "longest retry delay", 1, 86400000},
    {"rate_limit", VG_CONF_INT, "0", OFF(rate_limit),
     "alerts per rule per rate_window; the rest are summarised; 0: no limit", 0, 1000000},
    {"rate_window", VG_CONF_DURATION, "1m", OFF(rate_window_ms), "rate-limit window", 100,
     86400000},
    {"timeout", VG_CONF_DURATION, "30s", OFF(timeout_ms),
     "one delivery attempt (renewed while bytes move)", 100, 3600000},
    /* elasticsearch (parsed by shp_out_conf_finish: a duration or "forever") */
    {"item_retry_for", VG_CONF_STR, "1h", OFF(item_retry_for),
     "elasticsearch: an alert refused for now item by item for this long goes to the dead-letter "
     "file; 0 or forever: never",
     0, 0},
    /* file */
    {"path", VG_CONF_PATH, NULL, OFF(path), "file: the JSON lines file", 0, 0},
    {"rotate_size", VG_CONF_SIZE, "100M", OFF(rotate_size),
     "file: rotate to PATH.1 once this big; 0: never", 0, 0},
    {"rotate_keep", VG_CONF_INT, "10", OFF(rotate_keep), "file: rotated files kept", 1, 1000},
    /* syslog and http */
    {"url", VG_CONF_STR, NULL, OFF(url),
     "syslog: udp|tcp|tls://HOST:PORT; http outputs: http(s)://HOST:PORT[/PATH]", 0, 0},
    {"format", VG_CONF_STR, "cef", OFF(format), "syslog: cef or leef", 0, 0},
    {"framing", VG_CONF_STR, "octet-counting", OFF(framing),
     "syslog tcp/tls: octet-counting (RFC 6587 3.4.1) or newline (3.4.2)", 0, 0},
    {"leef_delimiter", VG_CONF_STR, NULL, OFF(leef_delimiter), "syslog: LEEF attribute delimiter",
     0, 0},
    {"facility", VG_CONF_STR, "local0", OFF(facility), "syslog: facility name", 0, 0},
    {"hostname", VG_CONF_STR, NULL, OFF(hostname), "syslog: HOSTNAME; default: this host's", 0,
     0},
    {"app_name", VG_CONF_STR, "vigil", OFF(app_name), "syslog: APP-NAME", 0, 0},
    {"max_message_size", VG_CONF_SIZE, "64K", OFF(max_message_size),
     "syslog: longer messages are cut", 480, 16 << 20},
    {"tls_ca", VG_CONF_PATH, NULL, OFF(tls_ca), "CA certificates (PEM); default: the system's",
     0, 0},
    {"tls_crl", VG_CONF_PATH, NULL, OFF(tls_crl),
     "CRLs (PEM) the server's chain is checked against; default: none", 0, 0},
    {"tls_cert", VG_CONF_PATH, NULL, OFF(tls_cert), "client certificate (PEM)", 0, 0},
    {"tls_key", VG_CONF_PATH, NULL, OFF(tls_key), "client private key (PEM)", 0, 0},
    {"tls_verify", VG_CONF_BOOL, "true", OFF(tls_verify), "verify the server's certificate", 0, 0},
    {"tls_server_name", VG_CONF_STR, NULL, OFF(tls_server_name),
     "name the server's certificate must carry; default: the URL's host", 0, 0},
    {"tls_ciphers", VG_CONF_STR, NULL, OFF(tls_ciphers),
     "TLS 1.2 cipher suites (an OpenSSL cipher string); default: forward-secret AEAD only", 0, 0},
    {"index", VG_CONF_STR, NULL, OFF(index), "elasticsearch / splunk_hec: index", 0, 0},
    {"username", VG_CONF_STR, NULL, OFF(username), "elasticsearch: basic auth user", 0, 0},
    {"password", VG_CONF_STR, NULL, OFF(password), "elasticsearch: basic auth password", 0, 0},
    {"api_key", VG_CONF_STR, NULL, OFF(api_key), "elasticsearch: API key", 0, 0},
    {"token", VG_CONF_STR, NULL, OFF(token), "splunk_hec: HEC token; webhook: bearer token", 0, 0},
    {"sourcetype", VG_CONF_STR, "vigil:alert", OFF(sourcetype), "splunk_hec: sourcetype", 0, 0},
    {"source", VG_CONF_STR, "vigil", OFF(source), "splunk_hec: source", 0, 0},
    {NULL, 0, NULL, 0, NULL, 0, 0},
};

static const char *const shp_common_keys[] = {
    "name", "type", "filter", "batch", "max_backlog", "on_full", "retry_min", "retry_max",
    "rate_limit", "rate_window", "timeout", NULL,
};

static int shp_in_list(const char *const *l, const char *k)
{
    for (; l && *l; l++)
        if (strcmp(*l, k) == 0)
            return 1;
    return 0;
}

static void shp_strv_free(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

/* A filter list: one scalar or a sequence of scalars. */
static int shp_strv_load(const vg_node *n, const char *what, char ***out, char *err, size_t errlen)
{
    *out = NULL;
    if (!n)
        return 0;
    size_t cnt = n->kind == VG_NODE_SEQ ? n->n : 1;
    if (n->kind == VG_NODE_MAP || cnt == 0)
        return vg_conf_errf(err, errlen, n, "filter '%s' must be a name or a non-empty list", what);
    char **v = calloc(cnt + 1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < cnt; i++) {
        const vg_node *it = n->kind == VG_NODE_SEQ ? n->items[i] : n;
        if (it->kind != VG_NODE_SCALAR || !it->str[0]) {
            shp_strv_free(v);
            return vg_conf_errf(err, errlen, it, "filter '%s': items must be non-empty strings",
                                what);
        }
        if (!(v[i] = strdup(it->str))) {
            shp_strv_free(v);
            return -ENOMEM;
        }
    }
    *out = v;
    return 0;
}

typedef struct shp_filter_raw {
    int64_t min_level;
    const vg_node *agency, *site, *rule, *tag, *not_rule;
} shp_filter_raw;

static const vg_conf_key shp_filter_keys[] = {
    {"min_level", VG_CONF_INT, "0", offsetof(shp_filter_raw, min_level),
     "lowest rule level sent (rule levels are 0..15; 0: all)", 0, 15},
    {"agency", VG_CONF_NODE, NULL, offsetof(shp_filter_raw, agency), "agencies sent", 0, 0},
    {"site", VG_CONF_NODE, NULL, offsetof(shp_filter_raw, site), "sites sent", 0, 0},
    {"rule", VG_CONF_NODE, NULL, offsetof(shp_filter_raw, rule), "rule id globs sent", 0, 0},
    {"tag", VG_CONF_NODE, NULL, offsetof(shp_filter_raw, tag), "tag globs sent", 0, 0},
    {"not_rule", VG_CONF_NODE, NULL, offsetof(shp_filter_raw, not_rule),
     "rule id globs never sent", 0, 0},
    {NULL, 0, NULL, 0, NULL, 0, 0},
};

static int shp_filter_load(const vg_node *n, shp_filter *f, char *err, size_t errlen)
{
    shp_filter_raw raw;
    memset(f, 0, sizeof(*f));
    if (!n)
        return 0;
    int rc = vg_conf_apply(n, n->file, shp_filter_keys, &raw, err, errlen);
    if (rc)
        return rc;
    f->min_level = raw.min_level;
    if ((rc = shp_strv_load(raw.agency, "agency", &f->agency, err, errlen)) ||
        (rc = shp_strv_load(raw.site, "site", &f->site, err, errlen)) ||
        (rc = shp_strv_load(raw.rule, "rule", &f->rule, err, errlen)) ||
        (rc = shp_strv_load(raw.tag, "tag", &f->tag, err, errlen)) ||
        (rc = shp_strv_load(raw.not_rule, "not_rule", &f->not_rule, err, errlen)))
        return rc;
    return 0;
}

static void shp_filter_free(shp_filter *f)
{
    shp_strv_free(f->agency);
    shp_strv_free(f->site);
    shp_strv_free(f->rule);
    shp_strv_free(f->tag);
    shp_strv_free(f->not_rule);
    memset(f, 0, sizeof(*f));
}

/* Whether s is in a list of exact names or globs: 1 or 0, or -1 without
 * memory for a value of 256 bytes or more. Any length is compared. */
static int shp_str_in(char **v, vg_str s, int glob)
{
    char small[256], *buf = small;
    if (s.len >= sizeof(small) && !(buf = malloc(s.len + 1)))
        return -1; /* no memory: see shp_filter_match */
    memcpy(buf, s.p ? s.p : "", s.len);
    buf[s.len] = '\0';
    int in = 0;
    for (; *v && !in; v++)
        in = glob ? fnmatch(*v, buf, 0) == 0 : strcmp(*v, buf) == 0;
    if (buf != small)
        free(buf);
    return in;
}

bool shp_filter_match(const shp_filter *f, const vg_alert *al)
{
    if (al->level < f->min_level)
        return false;
    vg_str agency = vg_alert_tag(al->agency), site = vg_alert_tag(al->site); /* as formatted */
    /* shp_str_in < 0 (no memory for a long value): deliver rather than drop */
    if (f->agency && shp_str_in(f->agency, agency, 0) == 0)
        return false;
    if (f->site && shp_str_in(f->site, site, 0) == 0)
        return false;
    if (f->rule && shp_str_in(f->rule, al->rule_id, 1) == 0)
        return false;
    if (f->not_rule && shp_str_in(f->not_rule, al->rule_id, 1) == 1)
        return false;
    if (f->tag) {
        uint32_t i;
        for (i = 0; i < al->ntags; i++)
            if (shp_str_in(f->tag, al->tags[i], 1) != 0)
                break;
        if (i == al->ntags)
            return false;
    }
    return true;
}

/* Refuses a string key given as "" ('hostname: ""', 'token: '''): each
 * transport reads "" as "not set", so the output ran on the key's default
 * (this host's name, no bearer token, sourcetype vigil:alert) while -t
 * called the file valid. Every string key of an output has a default or
 * means something only when it has a value, so an empty one is a mistake. */
static int shp_out_conf_no_empty(const vg_node *sec, char *err, size_t errlen)
{
    for (size_t i = 0; sec && i < sec->n; i++) {
        const vg_node *v = sec->items[i];
        const vg_conf_key *k = shp_out_keys;
        while (k->key && strcmp(k->key, sec->keys[i]->str) != 0)
            k++;
        if (k->key && k->type == VG_CONF_STR && v->kind == VG_NODE_SCALAR && !v->str[0])
            return vg_conf_errf(err, errlen, v,
                                "'%s' is empty: give it a value, or leave the key out for "
                                "its default",
                                k->key);
    }
    return 0;
}

/* item_retry_for: a duration, or "forever" (= 0, never), which the key
 * table's DURATION type cannot say; hence a string read here. */
static int shp_out_conf_item_retry_for(const vg_node *sec, const vg_node *at, shp_out_conf *c,
                                       char *err, size_t errlen)
{
    const vg_node *n = vg_node_get(sec, "item_retry_for");
    int64_t ms = 0;
    if (strcmp(c->item_retry_for, "forever") != 0) {
        vg_node dflt = {.kind = VG_NODE_SCALAR, .str = c->item_retry_for};
        char why[256];
        if (vg_conf_parse_duration(n ? n : &dflt, &ms, why, sizeof(why)) != 0)
            return vg_conf_errf(err, errlen, n ? n : at,
                                "item_retry_for must be a duration (a number with unit ms, s, m, "
                                "h or d, e.g. 1h), 0 or forever, got '%s'",
                                c->item_retry_for);
        if (ms != 0 && (ms < 100 || ms > 30 * 86400000LL))
            return vg_conf_errf(err, errlen, n ? n : at,
                                "item_retry_for must be between 100ms and 30d (or 0 or forever), "
                                "got '%s'",
                                c->item_retry_for);
    }
    c->item_retry_for_ms = ms;
    return 0;
}

/* The line to name for retry_max < retry_min: retry_max's when the file
 * sets it, else retry_min's (the default retry_max is 1m), else the
 * output's. */
static const vg_node *shp_out_conf_retry_at(const vg_node *sec, const vg_node *at)
{
    const vg_node *n = vg_node_get(sec, "retry_max");
    if (!n)
        n = vg_node_get(sec, "retry_min");
    return n ? n : at;
}

/* Names end up in LMDB keys and file names. */
static int shp_out_conf_finish(const vg_node *sec, const vg_node *at, int64_t default_batch,
                               shp_out_conf *c, char *err, size_t errlen)
{
    const shp_transport *tp = shp_transport_find(c->type);
    if (!tp)
        return vg_conf_errf(err, errlen, at,
                            "unknown output type '%s' (expected file, stdout, syslog, "
                            "elasticsearch, splunk_hec or webhook)", c->type);
    if (!tp->open)
        return vg_conf_errf(err, errlen, at, "output type '%s' is not available in this build",
                            c->type);
    int rc;
    if (!vg_conf_name_ok(c->name))
        return vg_conf_errf(err, errlen, vg_node_get(sec, "name") ? vg_node_get(sec, "name") : at,
                            "output name '%s' must be 1 to %d letters, digits, '.', '_' or '-', "
                            "not starting with '.'",
                            c->name, VG_CONF_NAME_MAX);
    if (sec)
        for (size_t i = 0; i < sec->n; i++) {
            const char *k = sec->keys[i]->str;
            if (!shp_in_list(shp_common_keys, k) && !shp_in_list(tp->keys, k))
                return vg_conf_errf(err, errlen, sec->keys[i],
                                    "key '%s' does not apply to an output of type %s", k,
                                    c->type);
        }
    if ((rc = shp_out_conf_no_empty(sec, err, errlen)))
        return rc;
    if (strcmp(c->on_full, "block") == 0)
        c->policy = SHP_FULL_BLOCK;
    else if (strcmp(c->on_full, "drop_oldest") == 0)
        c->policy = SHP_FULL_DROP_OLDEST;
    else
        return vg_conf_errf(err, errlen, vg_node_get(sec, "on_full") ? vg_node_get(sec, "on_full")
                                                                     : at,
                            "on_full must be block or drop_oldest, got '%s'", c->on_full);
    if (c->retry_max_ms < c->retry_min_ms)
        return vg_conf_errf(err, errlen, shp_out_conf_retry_at(sec, at),
                            "retry_max (%lld ms) is shorter than retry_min (%lld ms)",
                            (long long)c->retry_max_ms, (long long)c->retry_min_ms);
    if ((rc = shp_out_conf_item_retry_for(sec, at, c, err, errlen)))
        return rc;
    if (c->batch == 0)
        c->batch = default_batch;
    if (tp->max_batch && c->batch > tp->max_batch)
        c->batch = tp->max_batch;
    rc = shp_filter_load(c->filter_node, &c->filter, err, errlen);
    if (rc == 0 && tp->check)
        rc = tp->check(c, sec ? sec : at, err, errlen);
    return rc;
}

int shp_out_conf_load(const vg_node *sec, const char *file, int64_t default_batch, shp_out_conf *c,
                      char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    if (!sec || sec->kind != VG_NODE_MAP)
        return vg_conf_errf(err, errlen, sec, "an output must be a map with 'name' and 'type'");
    int rc = vg_conf_apply(sec, file, shp_out_keys, c, err, errlen);
    if (rc)
        return rc;
    if (!c->name || !c->type) {
        rc = vg_conf_errf(err, errlen, sec, "an output needs 'name' and 'type'");
        shp_out_conf_free(c);
        return rc;
    }
    const vg_node *pn = vg_node_get(sec, "path");
    c->path_line = pn ? pn->line : 0;
    rc = shp_out_conf_finish(sec, vg_node_get(sec, "type"), default_batch, c, err, errlen);
    if (rc)
        shp_out_conf_free(c);
    return rc;
}

int shp_out_conf_simple(const char *type, const char *name, const char *path, int64_t batch,
                        const char *file, shp_out_conf *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    int rc = vg_conf_apply(NULL, file, shp_out_keys, c, err, errlen);
    if (rc)
        return rc;
    free(c->type);
    free(c->name);
    c->type = strdup(type);
    c->name = strdup(name);
    if (path && !(c->path = strdup(path)))
        rc = -ENOMEM;
    vg_node at = {.kind = VG_NODE_MAP, .file = file, .line = 0};
    if (rc == 0 && (!c->type || !c->name))
        rc = -ENOMEM;
    if (rc == 0)
        rc = shp_out_conf_finish(NULL, &at, batch, c, err, errlen);
    if (rc)
        shp_out_conf_free(c);
    return rc;
}

void shp_out_conf_free(shp_out_conf *c)
{
    vg_conf_release(shp_out_keys, c);
    shp_filter_free(&c->filter);
    memset(c, 0, sizeof(*c));
}

const shp_transport *shp_transport_find(const char *type)
{
    static const shp_transport *const all[] = {
        &shp_file_transport, &shp_stdout_transport, &shp_syslog_transport,
        &shp_es_transport,   &shp_hec_transport,    &shp_webhook_transport,
    };
    for (size_t i = 0; type && i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(all[i]->type, type) == 0)
            return all[i];
    return NULL;
}
