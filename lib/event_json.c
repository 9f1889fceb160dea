/* An event as one JSON object, for operators' tools (spool dump, explain)
 * and tests. Field names follow the record layout in docs/protocol.md. */
#include <inttypes.h>

#include "vigil/event_json.h"
#include "vigil/syslog.h"

static void vg__field(vg_buf *b, const char *key, vg_str v)
{
    vg_buf_addf(b, ",\"%s\":", key);
    if (!v.p) {
        vg_buf_adds(b, "null");
        return;
    }
    vg_buf_addc(b, '"');
    vg_json_escape(b, v);
    vg_buf_addc(b, '"');
}

int vg_event_json(vg_buf *b, const vg_event *ev)
{
    static const char *const names[] = {"malformed", "truncated", "rfc5424", "no_ts",
                                        "no_host",   "bom"};
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
    vg__field(b, "host", ev->host);
    vg__field(b, "app", ev->app);
    vg__field(b, "procid", ev->procid);
    vg__field(b, "msgid", ev->msgid);
    vg__field(b, "sd", ev->sd);
    vg__field(b, "msg", ev->msg);
    vg__field(b, "src", ev->src);
    vg__field(b, "agency", ev->agency);
    vg__field(b, "site", ev->site);
    vg__field(b, "reason", ev->reason);
    vg__field(b, "raw", ev->raw);
    vg_buf_adds(b, "}\n");
    if (b->oom) {
        b->len = start;
        return -12;
    }
    return 0;
}
