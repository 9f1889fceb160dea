/* Alerts as ECS JSON lines (Elastic Common Schema 8.x field names).
 *
 * Named captures with a well-known name map to ECS fields (src_ip ->
 * source.ip, user -> user.name, ...); an address field that is not a valid
 * IP is not put in an ECS ip field (a SIEM would reject the whole document)
 * but kept under vigil.fields with every other capture. Key order is fixed
 * so that the output is byte-for-byte reproducible. */
#include <arpa/inet.h>
#include <string.h>

#include "shp.h"
#include "vigil/syslog.h"

#define SHP_ECS_VERSION "8.11.0"

typedef struct shp_ecs_map {
    const char *capture;
    const char *object; /* ECS object */
    const char *field;
    int is_ip;
} shp_ecs_map;

static const shp_ecs_map shp_ecs_known[] = {
    {"src_ip", "source", "ip", 1},      {"src_port", "source", "port", 0},
    {"dst_ip", "destination", "ip", 1}, {"dst_port", "destination", "port", 0},
    {"user", "user", "name", 0},
};
#define SHP_ECS_NKNOWN (sizeof(shp_ecs_known) / sizeof(shp_ecs_known[0]))

static int shp_is_ip(vg_str v)
{
    char tmp[64];
    unsigned char bin[16];
    if (v.len == 0 || v.len >= sizeof(tmp))
        return 0;
    memcpy(tmp, v.p, v.len);
    tmp[v.len] = '\0';
    return inet_pton(AF_INET, tmp, bin) == 1 || inet_pton(AF_INET6, tmp, bin) == 1;
}

static int shp_is_port(vg_str v)
{
    if (v.len == 0 || v.len > 5)
        return 0;
    unsigned n = 0;
    for (uint32_t i = 0; i < v.len; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return 0;
        n = n * 10 + (unsigned)(v.p[i] - '0');
    }
    return n <= 65535;
}

static void shp_kv(vg_buf *b, const char *key, vg_str v, int comma)
{
    if (comma)
        vg_buf_addc(b, ',');
    vg_buf_addc(b, '"');
    vg_buf_adds(b, key);
    vg_buf_adds(b, "\":\"");
    vg_json_escape(b, v);
    vg_buf_addc(b, '"');
}

/* Index of the ECS mapping a field may use, or -1 (goes to vigil.fields). */
static int shp_ecs_slot(const vg_kv *f)
{
    for (size_t k = 0; k < SHP_ECS_NKNOWN; k++) {
        if (!vg_str_eq(f->key, shp_ecs_known[k].capture))
            continue;
        if (shp_ecs_known[k].is_ip ? shp_is_ip(f->val)
                                   : (strcmp(shp_ecs_known[k].field, "port") != 0 || shp_is_port(f->val)))
            return (int)k;
        return -1;
    }
    return -1;
}

int shp_ecs_format(vg_buf *b, const vg_alert *al, const char *observer)
{
    char ts[40];
    vg_time_format(al->ts_us, ts, sizeof(ts));
    size_t start = b->len;
    vg_buf_addf(b, "{\"@timestamp\":\"%s\",\"ecs\":{\"version\":\"" SHP_ECS_VERSION "\"}", ts);
    vg_buf_adds(b, ",\"event\":{\"kind\":\"alert\"");
    shp_kv(b, "id", al->id, 1);
    vg_buf_addf(b, ",\"severity\":%d,\"count\":%llu}", (int)al->level,
                (unsigned long long)al->count);
    vg_buf_adds(b, ",\"rule\":{");
    shp_kv(b, "id", al->rule_id, 0);
    shp_kv(b, "name", al->rule_name, 1);
    vg_buf_addc(b, '}');
    if (al->host.p) {
        vg_buf_adds(b, ",\"host\":{");
        shp_kv(b, "name", al->host, 0);
        vg_buf_addc(b, '}');
    }
    /* ECS objects from captures, in the fixed order of shp_ecs_known. */
    int slot[VG_ALERT_MAX_FIELDS];
    for (uint32_t i = 0; i < al->nfields; i++)
        slot[i] = shp_ecs_slot(&al->fields[i]);
    const char *open_obj = NULL;
    for (size_t k = 0; k < SHP_ECS_NKNOWN; k++) {
        for (uint32_t i = 0; i < al->nfields; i++) {
            if (slot[i] != (int)k)
                continue;
            const shp_ecs_map *m = &shp_ecs_known[k];
            int first = !open_obj || strcmp(open_obj, m->object) != 0;
            if (first) {
                if (open_obj)
                    vg_buf_addc(b, '}');
                vg_buf_addf(b, ",\"%s\":{", m->object);
                open_obj = m->object;
            }
            if (strcmp(m->field, "port") == 0)
                vg_buf_addf(b, "%s\"port\":%.*s", first ? "" : ",", (int)al->fields[i].val.len,
                            al->fields[i].val.p);
            else
                shp_kv(b, m->field, al->fields[i].val, !first);
            break; /* first capture of a name wins */
        }
    }
    if (open_obj)
        vg_buf_addc(b, '}');
    if (al->message.p)
        shp_kv(b, "message", al->message, 1);
    vg_buf_adds(b, ",\"observer\":{\"vendor\":\"Vigil\",\"product\":\"vigil\"");
    shp_kv(b, "name", vg_str_c(observer), 1);
    vg_buf_addc(b, '}');
    vg_buf_adds(b, ",\"labels\":{");
    shp_kv(b, "agency", al->agency.p ? al->agency : vg_str_c("unknown"), 0);
    shp_kv(b, "site", al->site.p ? al->site : vg_str_c("unknown"), 1);
    vg_buf_addc(b, '}');
    int any = 0;
    for (uint32_t i = 0; i < al->nfields; i++) {
        if (slot[i] >= 0)
            continue;
        vg_buf_adds(b, any ? "" : ",\"vigil\":{\"fields\":{");
        vg_buf_adds(b, any ? ",\"" : "\"");
        vg_json_escape(b, al->fields[i].key);
        vg_buf_adds(b, "\":\"");
        vg_json_escape(b, al->fields[i].val);
        vg_buf_addc(b, '"');
        any = 1;
    }
    if (any)
        vg_buf_adds(b, "}}");
    vg_buf_adds(b, "}\n");
    if (b->oom) {
        b->len = start;
        return -12; /* -ENOMEM */
    }
    return 0;
}
