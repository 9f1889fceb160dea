/* Alerts as CEF and LEEF 2.0 (see cef.h, docs/cef-leef.md).
 *
 * Every value goes through vg__put, which walks it one character at a
 * time: an ASCII byte by the rules of the field it is in (vg__rep), a valid
 * UTF-8 sequence as it is, any other byte as U+FFFD. Bounds count the bytes
 * of the value the receiver decodes (an escaping backslash does not count),
 * so a value is cut between characters, never inside an escape or a UTF-8
 * sequence; and since UTF-8 never has fewer bytes than UTF-16 has code
 * units, a bound in bytes keeps the spec's limit in (Java) characters.
 *
 * Captures with a well-known name fill the formats' own keys exactly as in
 * ECS (lib/ecs.c): src_ip/dst_ip only when a valid IP, src_port/dst_port
 * only when 0..65535 (written as that integer: "0398" is 398),
 * user/target_user when not empty; the first such
 * capture of a name wins and every other capture is kept as a custom field.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vigil/cef.h"
#include "vigil/syslog.h"

/* Bounds, in bytes of the decoded value: the field lengths of the CEF spec
 * (rev 25). LEEF defines none; its values use VG__LEEF_MAX. */
#define VG__CEF_VERSION_MAX 31 /* Device Version */
#define VG__CEF_SIGID_MAX 1023 /* Signature ID */
#define VG__CEF_NAME_MAX 512   /* Name */
#define VG__CEF_USER_MAX 1023  /* suser, duser */
#define VG__CEF_HOST_MAX 100   /* dvchost */
#define VG__CEF_MSG_MAX 1023   /* msg */
#define VG__CEF_CS_MAX 4000    /* cs1..cs6 */
#define VG__CEF_PROC_MAX 1023  /* deviceProcessName */
#define VG__CEF_EXTID_MAX 40   /* externalId */
#define VG__IP_MAX 64          /* src, dst, dvc: already checked to be an address */
#define VG__LEEF_MAX 1023      /* every LEEF value, the tag list included */

#define VG__FFFD "\xEF\xBF\xBD"

/* The kinds of field, each with its own escaping (vg__rep). */
enum { VG__CEF_HDR, VG__CEF_EXT, VG__LEEF_HDR, VG__LEEF_VAL };

typedef struct vg__fmt {
    int kind;
    /* VG__CEF_EXT only: the characters an element of a list value (cs4,
     * cs6) escapes with a backslash before the whole value is CEF-escaped,
     * so that the list splits back unambiguously; NULL outside lists. */
    const char *inner;
    char delim; /* VG__LEEF_VAL: the attribute delimiter */
} vg__fmt;

static const vg__fmt vg__cef_hdr = {VG__CEF_HDR, NULL, 0};
static const vg__fmt vg__cef_ext = {VG__CEF_EXT, NULL, 0};
static const vg__fmt vg__cef_tag = {VG__CEF_EXT, "\\,", 0};   /* an element of cs4 */
static const vg__fmt vg__cef_fkey = {VG__CEF_EXT, "\\;=", 0}; /* a name in cs6 */
static const vg__fmt vg__cef_fval = {VG__CEF_EXT, "\\;", 0};  /* a value in cs6 */
static const vg__fmt vg__leef_hdr = {VG__LEEF_HDR, NULL, 0};

/* What the ASCII byte c becomes in a field of kind f, or NULL when it stays
 * as it is (tmp is scratch for a composed escape). *dlen is the length of
 * what the receiver decodes from it. */
static const char *vg__rep(const vg__fmt *f, unsigned char c, char tmp[8], size_t *dlen)
{
    *dlen = 1;
    switch (f->kind) {
    case VG__CEF_EXT:
        if (f->inner && c && strchr(f->inner, c)) {
            /* "\c" for the list, then CEF escaping of both characters */
            size_t k = 0;
            tmp[k++] = '\\';
            tmp[k++] = '\\';
            if (c == '\\' || c == '=')
                tmp[k++] = '\\';
            tmp[k++] = (char)c;
            tmp[k] = '\0';
            *dlen = 2;
            return tmp;
        }
        if (c == '\\')
            return "\\\\";
        if (c == '=')
            return "\\=";
        if (c == '\n')
            return "\\n";
        if (c == '\r')
            return "\\r";
        break;
    case VG__CEF_HDR:
        if (c == '\\')
            return "\\\\";
        if (c == '|')
            return "\\|";
        if (c == '\n' || c == '\r') /* the header is one line: no escape exists */
            return " ";
        break;
    case VG__LEEF_HDR:
        if (c == '|' || c == '\n' || c == '\r') /* LEEF has no escapes */
            return " ";
        break;
    case VG__LEEF_VAL:
        if (c == (unsigned char)f->delim || c == '\n' || c == '\r')
            return " ";
        break;
    }
    if (c < 0x20 && c != '\t') { /* other C0 controls: no escape in either format */
        *dlen = 3;
        return VG__FFFD;
    }
    return NULL;
}

/* Appends v to b as a field of kind f, stopping before the character that
 * would take the decoded value past max bytes. Returns the decoded length.
 * With b == NULL it only measures. */
static size_t vg__put(vg_buf *b, vg_str v, const vg__fmt *f, size_t max)
{
    const unsigned char *p = (const unsigned char *)v.p;
    size_t used = 0;
    for (size_t i = 0; i < v.len;) {
        char tmp[8];
        const char *rep = NULL;
        size_t n = 1, d = 1; /* bytes read, bytes decoded */
        if (p[i] < 0x80) {
            rep = vg__rep(f, p[i], tmp, &d);
        } else if ((n = vg_utf8_len(p + i, v.len - i)) != 0) {
            d = n;
        } else {
            n = 1;
            rep = VG__FFFD;
            d = 3;
        }
        if (used + d > max)
            break;
        if (b && rep)
            vg_buf_adds(b, rep);
        else if (b)
            vg_buf_add(b, p + i, n);
        used += d;
        i += n;
    }
    return used;
}



/* The address in a sender "ip", "ipv4:port" or "[ipv6]:port"; absent when
 * it holds none ("unix", "unknown"). */
static vg_str vg__sender_ip(vg_str s)
{
    if (vg_is_ip(s))
        return s;
    uint32_t colon = s.len;
    while (colon > 0 && s.p[colon - 1] != ':')
        colon--;
    if (colon < 2 || !vg_is_port(vg_str_n(s.p + colon, s.len - colon)))
        return VG_STR_NULL;
    vg_str a = vg_str_n(s.p, colon - 1);
    if (a.p[0] == '[' && a.p[a.len - 1] == ']') {
        a = vg_str_n(a.p + 1, a.len - 2);
        return a.len && memchr(a.p, ':', a.len) && vg_is_ip(a) ? a : VG_STR_NULL;
    }
    return !memchr(a.p, ':', a.len) && vg_is_ip(a) ? a : VG_STR_NULL;
}

/* The captures that fill the formats' own keys, in this order. */
enum { VG__SRC, VG__SPT, VG__DST, VG__DPT, VG__USER, VG__TUSER, VG__NMAP };
static const char *const vg__mapped_name[VG__NMAP] = {"src_ip",   "src_port", "dst_ip",
                                                      "dst_port", "user",     "target_user"};

typedef struct vg__captures {
    vg_str key[VG__NMAP];            /* the value for each mapped key, absent if none */
    vg_kv rest[VG_ALERT_MAX_FIELDS]; /* every other capture, in rule order */
    size_t nrest;
    char port[2][6];                 /* spt, dpt as integers (key[] points here) */
} vg__captures;

/* A port as the integer ECS writes ("0398" -> "398"); v passed vg_is_port. */
static vg_str vg__port(vg_str v, char out[6])
{
    unsigned n = 0;
    for (uint32_t i = 0; i < v.len; i++)
        n = n * 10 + (unsigned)(v.p[i] - '0');
    int len = snprintf(out, 6, "%u", n % 65536);
    return vg_str_n(out, (size_t)len);
}

static void vg__split(const vg_alert *al, vg__captures *c)
{
    size_t n = al->nfields < VG_ALERT_MAX_FIELDS ? al->nfields : VG_ALERT_MAX_FIELDS;
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < n; i++) {
        const vg_kv *f = &al->fields[i];
        int k;
        for (k = 0; k < VG__NMAP; k++)
            if (vg_str_eq(f->key, vg__mapped_name[k]))
                break;
        int ok = k < VG__NMAP && !c->key[k].p && f->val.len > 0;
        if (ok && (k == VG__SRC || k == VG__DST))
            ok = vg_is_ip(f->val);
        else if (ok && (k == VG__SPT || k == VG__DPT))
            ok = vg_is_port(f->val);
        if (ok && (k == VG__SPT || k == VG__DPT))
            c->key[k] = vg__port(f->val, c->port[k == VG__SPT ? 0 : 1]);
        else if (ok)
            c->key[k] = f->val;
        else
            c->rest[c->nrest++] = *f;
    }
}

static long long vg__ms(int64_t us)
{
    int64_t q = us / 1000;
    if (us % 1000 < 0)
        q--;
    return (long long)q;
}

int vg_cef_severity(int32_t level)
{
    if (level < 0)
        level = 0;
    if (level > 15)
        level = 15;
    return (int)((level * 2 + 1) / 3); /* = round(level * 10 / 15): never a tie */
}

int vg_leef_severity(int32_t level)
{
    int s = vg_cef_severity(level);
    return s < 1 ? 1 : s;
}

/* The positions (0-based) of al's raw lines that are cut, "0,3", into out;
 * "" when none is. out holds every list (16 lines: 16 * 3 bytes). */
static void vg__raw_cut_list(const vg_alert *al, char out[64])
{
    size_t n = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < al->nraw && i < VG_ALERT_MAX_RAW; i++)
        if (al->raw_cut & (UINT32_C(1) << i))
            n += (size_t)snprintf(out + n, 64 - n, n ? ",%u" : "%u", (unsigned)i);
}

/* ---- CEF ---------------------------------------------------------------- */

/* " key=value" in the extension; nothing when v is absent or empty. */
static void vg__cef_kv(vg_buf *b, const char *key, vg_str v, size_t max)
{
    if (!v.p || v.len == 0)
        return;
    vg_buf_addf(b, " %s=", key);
    vg__put(b, v, &vg__cef_ext, max);
}

static void vg__cef_cs(vg_buf *b, int n, const char *label, vg_str v)
{
    if (!v.p || v.len == 0)
        return;
    vg_buf_addf(b, " cs%dLabel=%s cs%d=", n, label, n);
    vg__put(b, v, &vg__cef_ext, VG__CEF_CS_MAX);
}

/* A list value: tags "a,b" (pairs == 0, keys only) or fields "k=v;k=v",
 * each element escaped (vg__cef_tag, vg__cef_fkey/fval) and whole elements
 * only, as many as keep the decoded value within VG__CEF_CS_MAX bytes.
 * Returns the number of elements; b == NULL only counts them. */
static size_t vg__cef_list(vg_buf *b, const vg_kv *el, size_t n, int pairs)
{
    size_t used = 0, w;
    for (w = 0; w < n; w++) {
        size_t d = w ? 1 : 0;
        if (pairs)
            d += vg__put(NULL, el[w].key, &vg__cef_fkey, SIZE_MAX) + 1 +
                 vg__put(NULL, el[w].val, &vg__cef_fval, SIZE_MAX);
        else
            d += vg__put(NULL, el[w].key, &vg__cef_tag, SIZE_MAX);
        if (used + d > VG__CEF_CS_MAX)
            break;
        used += d;
        if (!b)
            continue;
        if (w)
            vg_buf_addc(b, pairs ? ';' : ',');
        if (pairs) {
            vg__put(b, el[w].key, &vg__cef_fkey, SIZE_MAX);
            vg_buf_adds(b, "\\=");
            vg__put(b, el[w].val, &vg__cef_fval, SIZE_MAX);
        } else {
            vg__put(b, el[w].key, &vg__cef_tag, SIZE_MAX);
        }
    }
    return w;
}

static void vg__cef_cs_list(vg_buf *b, int n, const char *label, const vg_kv *el, size_t nel,
                            int pairs)
{
    if (vg__cef_list(NULL, el, nel, pairs) == 0)
        return;
    vg_buf_addf(b, " cs%dLabel=%s cs%d=", n, label, n);
    vg__cef_list(b, el, nel, pairs);
}

int vg_cef_alert(vg_buf *b, const vg_alert *al, const char *product_version)
{
    size_t start = b->len;
    b->oom = 0;
    vg_buf_adds(b, "CEF:0|" VG_CEF_VENDOR "|" VG_CEF_PRODUCT "|");
    vg__put(b, vg_str_c(product_version), &vg__cef_hdr, VG__CEF_VERSION_MAX);
    vg_buf_addc(b, '|');
    vg__put(b, al->rule_id, &vg__cef_hdr, VG__CEF_SIGID_MAX);
    vg_buf_addc(b, '|');
    vg__put(b, al->rule_name.len ? al->rule_name : al->rule_id, &vg__cef_hdr, VG__CEF_NAME_MAX);
    vg_buf_addf(b, "|%d|", vg_cef_severity(al->level));

    vg_buf_addf(b, "rt=%lld start=%lld end=%lld", vg__ms(al->ts_us),
                vg__ms(al->first_us ? al->first_us : al->ts_us), vg__ms(al->ts_us));
    vg__captures c;
    vg__split(al, &c);
    vg__cef_kv(b, "src", c.key[VG__SRC], VG__IP_MAX);
    vg__cef_kv(b, "spt", c.key[VG__SPT], VG__IP_MAX);
    vg__cef_kv(b, "dst", c.key[VG__DST], VG__IP_MAX);
    vg__cef_kv(b, "dpt", c.key[VG__DPT], VG__IP_MAX);
    vg__cef_kv(b, "suser", c.key[VG__USER], VG__CEF_USER_MAX);
    vg__cef_kv(b, "duser", c.key[VG__TUSER], VG__CEF_USER_MAX);
    vg__cef_kv(b, "dvchost", al->host, VG__CEF_HOST_MAX);
    vg__cef_kv(b, "dvc", vg__sender_ip(al->src), VG__IP_MAX);
    vg_buf_addf(b, " cnt=%" PRIu64, al->count > INT32_MAX ? (uint64_t)INT32_MAX : al->count);
    vg__cef_kv(b, "msg", al->message, VG__CEF_MSG_MAX);
    vg__cef_cs(b, 1, "rule.kind", al->kind.len ? al->kind : vg_str_c("match"));
    vg__cef_cs(b, 2, "agency", vg_alert_tag(al->agency));
    vg__cef_cs(b, 3, "site", vg_alert_tag(al->site));
    vg_kv tags[VG_ALERT_MAX_TAGS];
    size_t ntags = 0;
    for (size_t i = 0; i < al->ntags && i < VG_ALERT_MAX_TAGS; i++)
        if (al->tags[i].len) /* an empty tag says nothing */
            tags[ntags++] = (vg_kv){al->tags[i], VG_STR_NULL};
    vg__cef_cs_list(b, 4, "tags", tags, ntags, 0);
    vg__cef_cs(b, 5, "alert.id", al->id);
    vg__cef_cs_list(b, 6, "fields", c.rest, c.nrest, 1);
    vg__cef_kv(b, "deviceProcessName", al->app, VG__CEF_PROC_MAX);
    vg__cef_kv(b, "externalId", al->id, VG__CEF_EXTID_MAX);
    char cut[64];
    vg__raw_cut_list(al, cut);
    if (cut[0])
        vg_buf_addf(b, " flexString1Label=raw.truncated flexString1=%s", cut);
    if (b->oom) {
        b->len = start;
        return -ENOMEM;
    }
    return 0;
}

/* ---- LEEF --------------------------------------------------------------- */

static int vg__delim_ok(char d)
{
    unsigned char c = (unsigned char)d;
    int punct = (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
                (c >= '{' && c <= '~');
    return c == '\t' || (punct && !strchr("=|\\,'-.:+_", c));
}

int vg_leef_delim_parse(const char *s, char *out)
{
    size_t n = strlen(s);
    unsigned v = 0;
    if (n == 1) {
        v = (unsigned char)s[0];
    } else {
        size_t i = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 2 : 1;
        if (n == 0 || (i == 1 && s[0] != 'x' && s[0] != 'X') || n - i < 1 || n - i > 2)
            return -EINVAL;
        for (; i < n; i++) {
            char h = s[i];
            unsigned x = h >= '0' && h <= '9'   ? (unsigned)(h - '0')
                         : h >= 'a' && h <= 'f' ? (unsigned)(h - 'a' + 10)
                         : h >= 'A' && h <= 'F' ? (unsigned)(h - 'A' + 10)
                                                : 16u;
            if (x > 15)
                return -EINVAL;
            v = v * 16 + x;
        }
    }
    if (!vg__delim_ok((char)v))
        return -EINVAL;
    *out = (char)v;
    return 0;
}

/* "key=value" after a delimiter (none before the first); nothing when v is
 * absent or empty. */
static void vg__leef_kv(vg_buf *b, const vg__fmt *f, int *n, const char *key, vg_str v)
{
    if (!v.p || v.len == 0)
        return;
    if ((*n)++)
        vg_buf_addc(b, f->delim);
    vg_buf_adds(b, key);
    vg_buf_addc(b, '=');
    vg__put(b, v, f, VG__LEEF_MAX);
}

/* t in devTimeFormat VG__LEEF_TIME_FMT, or "" when it has no such form. */
#define VG__LEEF_TIME_FMT "yyyy-MM-dd'T'HH:mm:ss.SSSZ"
static void vg__leef_time(int64_t t_us, char out[32])
{
    char iso[40];
    out[0] = '\0';
    if (vg_time_format(t_us, iso, sizeof(iso)) != 27) /* 2026-11-25T02:14:17.123456Z */
        return;
    memcpy(out, iso, 23);
    memcpy(out + 23, "+0000", 6);
}

/* Capture names as LEEF keys: "field_" and the name, any byte outside
 * [A-Za-z0-9_] as '_' (capture names never have one; group-by names might). */
static char vg__key_char(char c)
{
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    return ok ? c : '_';
}

#define VG__LEEF_KEY_MAX 64 /* bytes of a capture name kept in its key */

/* Whether two capture names give the same LEEF key. */
static int vg__same_key(vg_str a, vg_str b)
{
    uint32_t la = a.len < VG__LEEF_KEY_MAX ? a.len : VG__LEEF_KEY_MAX;
    uint32_t lb = b.len < VG__LEEF_KEY_MAX ? b.len : VG__LEEF_KEY_MAX;
    if (la != lb)
        return 0;
    for (uint32_t i = 0; i < la; i++)
        if (vg__key_char(a.p[i]) != vg__key_char(b.p[i]))
            return 0;
    return 1;
}

int vg_leef_alert(vg_buf *b, const vg_alert *al, const char *product_version,
                  const vg_leef_opts *o)
{
    char d = o && o->delim ? o->delim : '\t';
    b->oom = 0;
    if (!vg__delim_ok(d))
        return -EINVAL;
    const vg__fmt val = {VG__LEEF_VAL, NULL, d};
    size_t start = b->len;
    vg_buf_adds(b, "LEEF:2.0|" VG_CEF_VENDOR "|" VG_CEF_PRODUCT "|");
    vg__put(b, vg_str_c(product_version), &vg__leef_hdr, VG__CEF_VERSION_MAX);
    vg_buf_addc(b, '|');
    vg__put(b, al->rule_id, &vg__leef_hdr, VG__CEF_SIGID_MAX);
    if (d == '\t')
        vg_buf_adds(b, "|x09|");
    else
        vg_buf_addf(b, "|%c|", d);

    int n = 0;
    char t[32], num[24];
    vg__leef_time(al->ts_us, t);
    if (t[0]) {
        vg__leef_kv(b, &val, &n, "devTime", vg_str_c(t));
        vg__leef_kv(b, &val, &n, "devTimeFormat", vg_str_c(VG__LEEF_TIME_FMT));
    }
    vg__captures c;
    vg__split(al, &c);
    vg__leef_kv(b, &val, &n, "src", c.key[VG__SRC]);
    vg__leef_kv(b, &val, &n, "srcPort", c.key[VG__SPT]);
    vg__leef_kv(b, &val, &n, "dst", c.key[VG__DST]);
    vg__leef_kv(b, &val, &n, "dstPort", c.key[VG__DPT]);
    vg__leef_kv(b, &val, &n, "usrName", c.key[VG__USER]);
    snprintf(num, sizeof(num), "%d", vg_leef_severity(al->level));
    vg__leef_kv(b, &val, &n, "sev", vg_str_c(num));
    vg__leef_kv(b, &val, &n, "cat", al->kind.len ? al->kind : vg_str_c("match"));
    vg__leef_kv(b, &val, &n, "identHostName", al->host);
    vg__leef_kv(b, &val, &n, "targetUsrName", c.key[VG__TUSER]);
    vg__leef_kv(b, &val, &n, "sender", al->src);
    snprintf(num, sizeof(num), "%" PRIu64, al->count);
    vg__leef_kv(b, &val, &n, "count", vg_str_c(num));
    if (t[0]) {
        vg__leef_time(al->first_us ? al->first_us : al->ts_us, t);
        vg__leef_kv(b, &val, &n, "startTime", vg_str_c(t));
    }
    vg__leef_kv(b, &val, &n, "ruleName", al->rule_name);
    vg__leef_kv(b, &val, &n, "msg", al->message);
    vg__leef_kv(b, &val, &n, "agency", vg_alert_tag(al->agency));
    vg__leef_kv(b, &val, &n, "site", vg_alert_tag(al->site));
    for (size_t i = 0, w = 0, used = 0; i < al->ntags && i < VG_ALERT_MAX_TAGS; i++) {
        if (al->tags[i].len == 0)
            continue;
        size_t len = vg__put(NULL, al->tags[i], &val, SIZE_MAX) + (w ? 1 : 0);
        if (used + len > VG__LEEF_MAX)
            break; /* whole tags only */
        if (w++) {
            vg_buf_addc(b, ',');
        } else {
            if (n++)
                vg_buf_addc(b, d);
            vg_buf_adds(b, "tags=");
        }
        vg__put(b, al->tags[i], &val, SIZE_MAX);
        used += len;
    }
    vg__leef_kv(b, &val, &n, "alertId", al->id);
    vg__leef_kv(b, &val, &n, "process", al->app);
    char cut[64];
    vg__raw_cut_list(al, cut);
    vg__leef_kv(b, &val, &n, "rawTruncated", vg_str_c(cut));
    for (size_t i = 0; i < c.nrest; i++) {
        const vg_kv *f = &c.rest[i];
        int dup = f->key.len == 0 || f->val.len == 0;
        for (size_t j = 0; j < i && !dup; j++)
            dup = vg__same_key(c.rest[j].key, f->key) && c.rest[j].val.len > 0;
        if (dup)
            continue; /* LEEF keys must be unique: the first capture of a name wins */
        char key[6 + VG__LEEF_KEY_MAX + 1] = "field_";
        size_t k = 6;
        for (uint32_t x = 0; x < f->key.len && x < VG__LEEF_KEY_MAX; x++)
            key[k++] = vg__key_char(f->key.p[x]);
        key[k] = '\0';
        vg__leef_kv(b, &val, &n, key, f->val);
    }
    if (b->oom) {
        b->len = start;
        return -ENOMEM;
    }
    return 0;
}
