/* Alerts as ECS JSON lines (see ecs.h, docs/alerts.md).
 *
 * Named captures with a well-known name map to ECS fields (src_ip ->
 * source.ip, user -> user.name, ...); an address that is not a valid IP,
 * or a port that is not 0..65535, is not put in an ECS field (a SIEM would
 * reject the whole document) but kept under vigil.fields with every other
 * capture. Key order is fixed so that output is byte-for-byte
 * reproducible: replay and live runs can be compared with diff. */
#include <arpa/inet.h>
#include <string.h>

#include "vigil/ecs.h"
#include "vigil/syslog.h"

typedef struct vg__ecs_map {
    const char *capture;
    const char *object; /* ECS object */
    const char *field;
    enum { VG__STR, VG__IP, VG__PORT } type;
    const char *related; /* related.ip / related.user, or NULL */
} vg__ecs_map;

static const vg__ecs_map vg__ecs_known[] = {
    {"src_ip", "source", "ip", VG__IP, "ip"},
    {"src_port", "source", "port", VG__PORT, NULL},
    {"dst_ip", "destination", "ip", VG__IP, "ip"},
    {"dst_port", "destination", "port", VG__PORT, NULL},
    {"user", "user", "name", VG__STR, "user"},
    {"target_user", "user", "target.name", VG__STR, "user"},
};
#define VG__NKNOWN (sizeof(vg__ecs_known) / sizeof(vg__ecs_known[0]))



static void vg__str(vg_buf *b, vg_str v)
{
    vg_buf_addc(b, '"');
    vg_json_escape(b, v);
    vg_buf_addc(b, '"');
}

static void vg__kv(vg_buf *b, const char *key, vg_str v, int comma)
{
    if (comma)
        vg_buf_addc(b, ',');
    vg_buf_addf(b, "\"%s\":", key);
    vg__str(b, v);
}

/* The ECS mapping a capture may use, or -1 (it goes to vigil.fields). */
static int vg__slot(const vg_kv *f)
{
    for (size_t k = 0; k < VG__NKNOWN; k++) {
        if (!vg_str_eq(f->key, vg__ecs_known[k].capture))
            continue;
        switch (vg__ecs_known[k].type) {
        case VG__IP:
            return vg_is_ip(f->val) ? (int)k : -1;
        case VG__PORT:
            return vg_is_port(f->val) ? (int)k : -1;
        default:
            return (int)k;
        }
    }
    return -1;
}

/* related.ip / related.user: every mapped address or user, once each. */
static void vg__related(vg_buf *b, const vg_alert *al, const int *slot, const char *which,
                        int *opened)
{
    int n = 0;
    for (uint32_t i = 0; i < al->nfields; i++) {
        if (slot[i] < 0 || !vg__ecs_known[slot[i]].related ||
            strcmp(vg__ecs_known[slot[i]].related, which) != 0)
            continue;
        int dup = 0;
        for (uint32_t j = 0; j < i && !dup; j++)
            dup = slot[j] >= 0 && vg__ecs_known[slot[j]].related &&
                  strcmp(vg__ecs_known[slot[j]].related, which) == 0 &&
                  al->fields[j].val.len == al->fields[i].val.len &&
                  memcmp(al->fields[j].val.p, al->fields[i].val.p, al->fields[i].val.len) == 0;
        if (dup)
            continue;
        if (!*opened) {
            vg_buf_adds(b, ",\"related\":{");
            *opened = 1;
        } else if (n == 0) {
            vg_buf_addc(b, ',');
        }
        vg_buf_adds(b, n == 0 ? "\"" : ",");
        if (n == 0) {
            vg_buf_adds(b, which);
            vg_buf_adds(b, "\":[");
        }
        vg__str(b, al->fields[i].val);
        n++;
    }
    if (n)
        vg_buf_addc(b, ']');
}

int vg_ecs_alert(vg_buf *b, const vg_alert *al, const char *observer)
{
    char ts[40], first[40];
    size_t start = b->len;
    b->oom = 0;
    vg_time_format(al->ts_us, ts, sizeof(ts));
    vg_time_format(al->first_us ? al->first_us : al->ts_us, first, sizeof(first));
    vg_buf_addf(b, "{\"@timestamp\":\"%s\",\"ecs\":{\"version\":\"" VG_ECS_VERSION "\"}", ts);
    vg_buf_adds(b, ",\"event\":{\"kind\":\"alert\"");
    vg__kv(b, "id", al->id, 1);
    vg_buf_addf(b, ",\"severity\":%d,\"start\":\"%s\",\"end\":\"%s\"}", (int)al->level, first, ts);
    vg_buf_adds(b, ",\"rule\":{");
    vg__kv(b, "id", al->rule_id, 0);
    vg__kv(b, "name", al->rule_name, 1);
    vg_buf_addc(b, '}');
    if (al->ntags) {
        vg_buf_adds(b, ",\"tags\":[");
        for (uint32_t i = 0; i < al->ntags; i++) {
            if (i)
                vg_buf_addc(b, ',');
            vg__str(b, al->tags[i]);
        }
        vg_buf_addc(b, ']');
    }
    if (al->host.p) {
        vg_buf_adds(b, ",\"host\":{");
        vg__kv(b, "name", al->host, 0);
        vg_buf_addc(b, '}');
    }
    if (al->app.p) {
        vg_buf_adds(b, ",\"process\":{");
        vg__kv(b, "name", al->app, 0);
        vg_buf_addc(b, '}');
    }
    int slot[VG_ALERT_MAX_FIELDS];
    for (uint32_t i = 0; i < al->nfields; i++) {
        slot[i] = vg__slot(&al->fields[i]);
        for (uint32_t j = 0; j < i && slot[i] >= 0; j++)
            if (slot[j] == slot[i])
                slot[i] = -1; /* the first capture of a name maps; the others stay visible */
    }
    /* ECS objects from captures, in the fixed order of vg__ecs_known; the
     * first capture of a name wins. */
    const char *open_obj = NULL;
    for (size_t k = 0; k < VG__NKNOWN; k++) {
        for (uint32_t i = 0; i < al->nfields; i++) {
            if (slot[i] != (int)k)
                continue;
            const vg__ecs_map *m = &vg__ecs_known[k];
            int first_in_obj = !open_obj || strcmp(open_obj, m->object) != 0;
            if (first_in_obj) {
                if (open_obj)
                    vg_buf_addc(b, '}');
                vg_buf_addf(b, ",\"%s\":{", m->object);
                open_obj = m->object;
            }
            if (strcmp(m->field, "target.name") == 0) { /* nested: user.target.name */
                vg_buf_adds(b, first_in_obj ? "\"target\":{" : ",\"target\":{");
                vg__kv(b, "name", al->fields[i].val, 0);
                vg_buf_addc(b, '}');
            } else if (m->type == VG__PORT)
                vg_buf_addf(b, "%s\"port\":%.*s", first_in_obj ? "" : ",",
                            (int)al->fields[i].val.len, al->fields[i].val.p);
            else
                vg__kv(b, m->field, al->fields[i].val, !first_in_obj);
        }
    }
    if (open_obj)
        vg_buf_addc(b, '}');
    int rel = 0;
    vg__related(b, al, slot, "ip", &rel);
    vg__related(b, al, slot, "user", &rel);
    if (rel)
        vg_buf_addc(b, '}');
    if (al->message.p)
        vg__kv(b, "message", al->message, 1);
    vg_buf_adds(b, ",\"observer\":{\"vendor\":\"Vigil\",\"product\":\"vigil\"");
    vg__kv(b, "name", vg_str_c(observer), 1);
    vg_buf_addc(b, '}');
    vg_buf_adds(b, ",\"labels\":{");
    vg__kv(b, "agency", al->agency.p ? al->agency : vg_str_c("unknown"), 0);
    vg__kv(b, "site", al->site.p ? al->site : vg_str_c("unknown"), 1);
    vg_buf_addc(b, '}');
    vg_buf_adds(b, ",\"vigil\":{");
    vg__kv(b, "kind", al->kind.p ? al->kind : vg_str_c("match"), 0);
    vg_buf_addf(b, ",\"count\":%llu", (unsigned long long)al->count);
    if (al->src.p)
        vg__kv(b, "sender", al->src, 1);
    int any = 0;
    for (uint32_t i = 0; i < al->nfields; i++) {
        if (slot[i] >= 0)
            continue;
        vg_buf_adds(b, any ? "," : ",\"fields\":{");
        vg__str(b, al->fields[i].key);
        vg_buf_addc(b, ':');
        vg__str(b, al->fields[i].val);
        any = 1;
    }
    if (any)
        vg_buf_addc(b, '}');
    if (al->nraw) {
        vg_buf_adds(b, ",\"raw\":[");
        for (uint32_t i = 0; i < al->nraw; i++) {
            if (i)
                vg_buf_addc(b, ',');
            vg__str(b, al->raw[i]);
        }
        vg_buf_addc(b, ']');
    }
    vg_buf_adds(b, "}}\n");
    if (b->oom) {
        b->len = start;
        return -12; /* -ENOMEM */
    }
    return 0;
}
