/* Rule files: loading, validation and matching (docs/rules.md).
 *
 * A rule file is a YAML map with one key, 'rules', holding a list of rules.
 * Every problem is reported as "FILE:LINE: reason" and refuses the whole
 * set, so a reload either applies every file or none. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cor.h"
#include "vigil/conf.h"
#include "vigil/err.h"

#define COR_MAX_RULES 100000

static void cor_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

static void cor_rule_free(cor_rule *r)
{
    free(r->id);
    free(r->name);
    free(r->file);
    cor_strv_free(r->programs);
    cor_strv_free(r->hosts);
    for (uint32_t i = 0; i < r->ncaps; i++)
        free(r->cap_names[i]);
    free(r->cap_names);
    free(r->cap_groups);
    pcre2_code_free(r->re);
}

void cor_rules_free(cor_ruleset *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n; i++)
        cor_rule_free(&rs->rules[i]);
    free(rs->rules);
    pcre2_match_data_free(rs->md);
    pcre2_match_context_free(rs->mctx);
    free(rs->dir);
    free(rs);
}

/* A string or a list of strings, as a NULL-terminated vector. */
static int cor_strv(const vg_node *n, const char *what, char ***out, char *err, size_t errlen)
{
    size_t cnt = n->kind == VG_NODE_SCALAR ? 1 : n->kind == VG_NODE_SEQ ? n->n : 0;
    if (cnt == 0)
        return vg_conf_errf(err, errlen, n, "'%s' must be a string or a non-empty list of strings", what);
    char **v = calloc(cnt + 1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < cnt; i++) {
        const vg_node *s = n->kind == VG_NODE_SCALAR ? n : n->items[i];
        if (s->kind != VG_NODE_SCALAR) {
            cor_strv_free(v);
            return vg_conf_errf(err, errlen, s, "'%s' entries must be strings", what);
        }
        if (!(v[i] = strdup(s->str))) {
            cor_strv_free(v);
            return -ENOMEM;
        }
    }
    *out = v;
    return 0;
}

/* Collects the regex's named groups so alerts can carry them by name. */
static int cor_rule_captures(cor_rule *r)
{
    uint32_t count, esize;
    PCRE2_SPTR table;
    pcre2_pattern_info(r->re, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(r->re, PCRE2_INFO_NAMEENTRYSIZE, &esize);
    pcre2_pattern_info(r->re, PCRE2_INFO_NAMETABLE, &table);
    if (count > VG_ALERT_MAX_FIELDS)
        return VG_ERULE;
    r->cap_names = calloc(count ? count : 1, sizeof(char *));
    r->cap_groups = calloc(count ? count : 1, sizeof(uint32_t));
    if (!r->cap_names || !r->cap_groups)
        return -ENOMEM;
    for (uint32_t i = 0; i < count; i++) {
        const unsigned char *e = table + (size_t)i * esize;
        r->cap_groups[i] = (uint32_t)(e[0] << 8 | e[1]);
        if (!(r->cap_names[i] = strdup((const char *)e + 2)))
            return -ENOMEM;
        r->ncaps++;
    }
    return 0;
}

static int cor_rule_match_block(cor_rule *r, const vg_node *m, int64_t match_limit, char *err,
                                size_t errlen)
{
    (void)match_limit;
    if (m->kind != VG_NODE_MAP)
        return vg_conf_errf(err, errlen, m, "'match' must be a map");
    const vg_node *re = NULL;
    for (size_t i = 0; i < m->n; i++) {
        const char *k = m->keys[i]->str;
        const vg_node *v = m->items[i];
        int rc = 0;
        if (strcmp(k, "regex") == 0) {
            if (v->kind != VG_NODE_SCALAR || !v->str[0])
                return vg_conf_errf(err, errlen, v, "'regex' must be a non-empty string");
            re = v;
        } else if (strcmp(k, "program") == 0) {
            rc = cor_strv(v, "program", &r->programs, err, errlen);
        } else if (strcmp(k, "host") == 0) {
            rc = cor_strv(v, "host", &r->hosts, err, errlen);
        } else {
            return vg_conf_errf(err, errlen, m->keys[i],
                                "unknown key '%s' in match (expected regex, program, host)", k);
        }
        if (rc)
            return rc;
    }
    if (!re)
        return vg_conf_errf(err, errlen, m, "'match' needs a 'regex'");
    int ec;
    PCRE2_SIZE eo;
    r->re = pcre2_compile((PCRE2_SPTR)re->str, PCRE2_ZERO_TERMINATED, PCRE2_DUPNAMES, &ec, &eo, NULL);
    if (!r->re) {
        char msg[256];
        pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof(msg));
        return vg_conf_errf(err, errlen, re, "regex does not compile at offset %zu: %s", (size_t)eo, msg);
    }
    /* JIT is best effort: without it (e.g. an exotic arch) matching still
     * works, only slower. */
    pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE);
    if (cor_rule_captures(r) != 0)
        return vg_conf_errf(err, errlen, re, "regex has more than %d named captures",
                            VG_ALERT_MAX_FIELDS);
    return 0;
}

static int cor_rule_load(cor_rule *r, const vg_node *n, int64_t match_limit, char *err,
                         size_t errlen)
{
    if (n->kind != VG_NODE_MAP)
        return vg_conf_errf(err, errlen, n, "a rule must be a map with id, name, level, match");
    r->line = n->line;
    r->alert = 1;
    r->level = -1;
    const vg_node *match = NULL;
    for (size_t i = 0; i < n->n; i++) {
        const char *k = n->keys[i]->str;
        const vg_node *v = n->items[i];
        if (strcmp(k, "id") == 0 || strcmp(k, "name") == 0) {
            if (v->kind != VG_NODE_SCALAR || !v->str[0])
                return vg_conf_errf(err, errlen, v, "'%s' must be a non-empty string", k);
            char **dst = k[0] == 'i' ? &r->id : &r->name;
            if (!(*dst = strdup(v->str)))
                return -ENOMEM;
        } else if (strcmp(k, "level") == 0) {
            char *end;
            long lv = v->kind == VG_NODE_SCALAR ? strtol(v->str, &end, 10) : -1;
            if (v->kind != VG_NODE_SCALAR || *end || !v->str[0] || lv < 0 || lv > 15)
                return vg_conf_errf(err, errlen, v, "'level' must be an integer 0..15");
            r->level = (int)lv;
        } else if (strcmp(k, "alert") == 0) {
            bool b;
            int rc = vg_conf_parse_bool(v, &b, err, errlen);
            if (rc)
                return rc;
            r->alert = b;
        } else if (strcmp(k, "match") == 0) {
            match = v;
        } else if (strcmp(k, "description") == 0 || strcmp(k, "tags") == 0) {
            /* documentation for people and exporters; not used in matching */
        } else {
            return vg_conf_errf(err, errlen, n->keys[i],
                                "unknown key '%s' in rule (expected id, name, level, alert, "
                                "match, description, tags)", k);
        }
    }
    if (!r->id)
        return vg_conf_errf(err, errlen, n, "rule has no 'id'");
    for (const char *p = r->id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
            return vg_conf_errf(err, errlen, n, "rule id '%s': use lower-case letters, digits, '.', '_', '-'", r->id);
    if (!r->name)
        return vg_conf_errf(err, errlen, n, "rule '%s' has no 'name'", r->id);
    if (r->level < 0)
        return vg_conf_errf(err, errlen, n, "rule '%s' has no 'level'", r->id);
    if (!match)
        return vg_conf_errf(err, errlen, n, "rule '%s' has no 'match'", r->id);
    return cor_rule_match_block(r, match, match_limit, err, errlen);
}

static int cor_rules_file(cor_ruleset *rs, const char *path, int64_t match_limit, char *err,
                          size_t errlen)
{
    vg_node *root = NULL;
    int rc = vg_yaml_load(path, &root, err, errlen);
    if (rc)
        return VG_ERULE;
    const vg_node *list = vg_node_get(root, "rules");
    if (root->kind != VG_NODE_MAP || root->n != 1 || !list || list->kind != VG_NODE_SEQ) {
        rc = vg_conf_errf(err, errlen, root->n ? root->keys[0] : root,
                          "a rule file is a map with one key, 'rules', holding a list");
        goto out;
    }
    for (size_t i = 0; i < list->n; i++) {
        if (rs->n == COR_MAX_RULES) {
            rc = vg_conf_errf(err, errlen, list->items[i], "more than %d rules", COR_MAX_RULES);
            goto out;
        }
        cor_rule *r = &rs->rules[rs->n];
        memset(r, 0, sizeof(*r));
        r->file = strdup(path);
        rc = r->file ? cor_rule_load(r, list->items[i], match_limit, err, errlen) : -ENOMEM;
        if (rc) {
            cor_rule_free(r);
            goto out;
        }
        for (size_t j = 0; j < rs->n; j++) {
            if (strcmp(rs->rules[j].id, r->id) == 0) {
                rc = vg_conf_errf(err, errlen, list->items[i], "duplicate rule id '%s' (also %s:%d)",
                                  r->id, rs->rules[j].file, rs->rules[j].line);
                cor_rule_free(r);
                goto out;
            }
        }
        rs->n++;
    }
out:
    vg_node_free(root);
    return rc ? VG_ERULE : 0;
}

static int cor_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cor_is_rule_file(const char *n)
{
    size_t l = strlen(n);
    return n[0] != '.' && ((l > 4 && strcmp(n + l - 4, ".yml") == 0) ||
                           (l > 5 && strcmp(n + l - 5, ".yaml") == 0));
}

int cor_rules_load(const char *dir, int64_t match_limit, cor_ruleset **out, char *err,
                   size_t errlen)
{
    DIR *dh = opendir(dir);
    if (!dh) {
        snprintf(err, errlen, "%s: cannot open rules directory: %s", dir, strerror(errno));
        return VG_ERULE;
    }
    char **names = NULL;
    size_t nn = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(dh))) {
        if (!cor_is_rule_file(de->d_name))
            continue;
        if (nn == cap) {
            cap = cap ? cap * 2 : 16;
            char **p = realloc(names, cap * sizeof(*p));
            if (!p) {
                rc = -ENOMEM;
                break;
            }
            names = p;
        }
        if (!(names[nn] = vg_daemon_path(dir, de->d_name))) {
            rc = -ENOMEM;
            break;
        }
        nn++;
    }
    closedir(dh);
    cor_ruleset *rs = calloc(1, sizeof(*rs));
    if (rc == 0 && (!rs || !(rs->rules = calloc(COR_MAX_RULES, sizeof(cor_rule)))))
        rc = -ENOMEM;
    if (names)
        qsort(names, nn, sizeof(*names), cor_name_cmp);
    for (size_t i = 0; rc == 0 && i < nn; i++)
        rc = cor_rules_file(rs, names[i], match_limit, err, errlen);
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    if (rc == 0 && rs->n == 0) {
        snprintf(err, errlen, "%s: no rules found (*.yml, *.yaml)", dir);
        rc = VG_ERULE;
    }
    if (rc == 0) {
        uint32_t maxcap = 1;
        for (size_t i = 0; i < rs->n; i++) {
            uint32_t c;
            pcre2_pattern_info(rs->rules[i].re, PCRE2_INFO_CAPTURECOUNT, &c);
            if (c + 1 > maxcap)
                maxcap = c + 1;
        }
        rs->md = pcre2_match_data_create(maxcap, NULL);
        rs->mctx = pcre2_match_context_create(NULL);
        rs->dir = strdup(dir);
        if (!rs->md || !rs->mctx || !rs->dir)
            rc = -ENOMEM;
        else
            pcre2_set_match_limit(rs->mctx, (uint32_t)match_limit);
    }
    if (rc) {
        if (rc == -ENOMEM && !err[0])
            snprintf(err, errlen, "%s: out of memory loading rules", dir);
        cor_rules_free(rs);
        return rc;
    }
    cor_rule *shrunk = realloc(rs->rules, rs->n * sizeof(cor_rule));
    if (shrunk)
        rs->rules = shrunk;
    *out = rs;
    return 0;
}

static int cor_in(char **v, vg_str s)
{
    for (; *v; v++)
        if (vg_str_eq(s, *v))
            return 1;
    return 0;
}

int cor_rules_eval(cor_ruleset *rs, const vg_event *ev, cor_alert_fn fn, void *ud)
{
    const char *subj = ev->msg.p ? ev->msg.p : "";
    size_t slen = ev->msg.len;
    for (size_t i = 0; i < rs->n; i++) {
        cor_rule *r = &rs->rules[i];
        if (r->programs && !cor_in(r->programs, ev->app))
            continue;
        if (r->hosts && !cor_in(r->hosts, ev->host))
            continue;
        int m = pcre2_match(r->re, (PCRE2_SPTR)subj, slen, 0, 0, rs->md, rs->mctx);
        if (m == PCRE2_ERROR_NOMATCH)
            continue;
        if (m < 0) {
            r->match_errors++; /* match limit hit or similar: counted, never fatal */
            continue;
        }
        r->hits++;
        if (!r->alert)
            continue;
        vg_alert al = {0};
        al.rule_id = vg_str_c(r->id);
        al.rule_name = vg_str_c(r->name);
        al.level = r->level;
        al.ts_us = ev->ts_us;
        al.count = 1;
        al.host = ev->host;
        al.agency = ev->agency;
        al.site = ev->site;
        al.message = ev->msg;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(rs->md);
        for (uint32_t k = 0; k < r->ncaps; k++) {
            uint32_t g = r->cap_groups[k];
            if ((int)g >= m || ov[2 * g] == PCRE2_UNSET)
                continue;
            al.fields[al.nfields].key = vg_str_c(r->cap_names[k]);
            al.fields[al.nfields].val = vg_str_n(subj + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
            al.nfields++;
        }
        int rc = fn(ud, r, &al);
        if (rc)
            return rc;
    }
    return 0;
}
