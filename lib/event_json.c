/* An event as one JSON object, for operators' tools (spool dump, explain)
 * and tests. Field names follow the record layout in docs/protocol.md. */
#include <inttypes.h>

#include "vigil/event_json.h"
#include "vigil/syslog.h"

/* Whether every byte of v is part of a valid UTF-8 sequence. */
static int vg__utf8_valid(vg_str v)
{
    const unsigned char *p = (const unsigned char *)v.p;
    for (size_t i = 0, l; i < v.len; i += l)
        if (!(l = p[i] < 0x80 ? 1 : vg_utf8_len(p + i, v.len - i)))
            return 0;
    return 1;
}

/* Appends v as the body of a JSON string whose text reads back to v's
 * bytes: each byte that is not UTF-8 as the text \xHH, each backslash as
 * \\, everything else as vg_json_escape writes it. */
static void vg__json_bytes(vg_buf *b, vg_str v)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)v.p;
    size_t i = 0, run = 0;
    while (i < v.len) {
        size_t l = p[i] < 0x80 ? 1 : vg_utf8_len(p + i, v.len - i);
        if (l && p[i] != '\\') {
            i += l;
            continue;
        }
        vg_json_escape(b, vg_str_n(v.p + run, i - run));
        if (l) { /* a backslash: \\ in the text, each one JSON-escaped */
            vg_buf_adds(b, "\\\\\\\\");
        } else {
            char e[4] = {'\\', '\\', 'x', hex[p[i] >> 4]};
            vg_buf_add(b, e, 4);
            vg_buf_addc(b, hex[p[i] & 15]);
        }
        run = ++i;
    }
    vg_json_escape(b, vg_str_n(v.p + run, i - run));
}

/* One field. With exact, a value that is not valid UTF-8 is written by
 * vg__json_bytes and its key added to esc (bit k for field k). */
static void vg__field(vg_buf *b, const char *key, vg_str v, int exact, unsigned *esc, unsigned k)
{
    vg_buf_addf(b, ",\"%s\":", key);
    if (!v.p) {
        vg_buf_adds(b, "null");
        return;
    }
    vg_buf_addc(b, '"');
    if (exact && !vg__utf8_valid(v)) {
        vg__json_bytes(b, v);
        *esc |= 1u << k;
    } else {
        vg_json_escape(b, v);
    }
    vg_buf_addc(b, '"');
}

static int vg__event_json(vg_buf *b, const vg_event *ev, int exact)
{
    static const char *const names[] = {"malformed", "truncated", "rfc5424",        "no_ts",
                                        "no_host",   "bom",       "unknown_version"};
    char ts[40], rt[40];
    size_t start = b->len;
    vg_time_format(ev->ts_us, ts, sizeof(ts));
    vg_time_format(ev->recv_us, rt, sizeof(rt));
    vg_buf_addf(b, "{\"seq\":%" PRIu64 ",\"ts\":\"%s\",\"tz_min\":%d,\"recv\":\"%s\",\"pri\":%d",
                ev->seq, ts, (int)ev->tz_min, rt, (int)ev->pri);
    vg_buf_adds(b, ",\"flags\":[");
    int first = 1;
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (ev->flags & (1u << i)) {
            vg_buf_addf(b, "%s\"%s\"", first ? "" : ",", names[i]);
            first = 0;
        }
    }
    vg_buf_addc(b, ']');
    const struct {
        const char *key;
        vg_str v;
    } fields[] = {{"host", ev->host}, {"app", ev->app},       {"procid", ev->procid},
                  {"msgid", ev->msgid}, {"sd", ev->sd},       {"msg", ev->msg},
                  {"src", ev->src},   {"agency", ev->agency}, {"site", ev->site},
                  {"reason", ev->reason}, {"raw", ev->raw}};
    unsigned esc = 0, nf = sizeof(fields) / sizeof(fields[0]);
    for (unsigned k = 0; k < nf; k++)
        vg__field(b, fields[k].key, fields[k].v, exact, &esc, k);
    if (esc) {
        vg_buf_adds(b, ",\"escaped\":[");
        for (unsigned k = 0, n = 0; k < nf; k++)
            if (esc & (1u << k))
                vg_buf_addf(b, "%s\"%s\"", n++ ? "," : "", fields[k].key);
        vg_buf_addc(b, ']');
    }
    vg_buf_adds(b, "}\n");
    if (b->oom) {
        b->len = start;
        return -12;
    }
    return 0;
}

int vg_event_json(vg_buf *b, const vg_event *ev)
{
    return vg__event_json(b, ev, 0);
}

int vg_event_json_exact(vg_buf *b, const vg_event *ev)
{
    return vg__event_json(b, ev, 1);
}
