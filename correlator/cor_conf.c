/* The 'correlator' section of the configuration. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cor.h"
#include "cor_calendar.h"
#include "vigil/err.h"
#include "vigil/log.h"
#include "vigil/util.h"

static const vg_conf_key cor_conf_keys[] = {
    {"name", VG_CONF_NAME, "correlator", offsetof(cor_conf, name),
     "instance name; the shipper tracks the alert stream by it", 0, 0},
    {"listen_socket", VG_CONF_STR, VG_SOCK_CORRELATOR, offsetof(cor_conf, listen),
     "socket collectors connect to, relative to pipeline.run_dir", 0, 0},
    {"shipper_socket", VG_CONF_NODE, NULL, offsetof(cor_conf, shipper_node),
     "the shipper's socket, relative to pipeline.run_dir, or a list of up to 8 (one per "
     "shipper: each gets every alert; default " VG_SOCK_SHIPPER ")", 0, 0},
    {"rules_dir", VG_CONF_PATH, "/etc/vigil/rules", offsetof(cor_conf, rules_dir),
     "directory of rule files (*.yml, *.yaml)", 0, 0},
    {"state_size", VG_CONF_SIZE, "1G", offsetof(cor_conf, state_size),
     "size of the LMDB map holding state, lists and the outbox", 1 << 20, (int64_t)1 << 40},
    {"match_limit", VG_CONF_INT, "100000", offsetof(cor_conf, match_limit),
     "PCRE2 match limit per regex and event (ReDoS guard)", 1000, 100000000},
    {"lateness", VG_CONF_DURATION, "5m", offsetof(cor_conf, lateness_ms),
     "how far behind the newest event time an event may arrive and still count", 0,
     7LL * 24 * 3600 * 1000},
    {"max_groups", VG_CONF_INT, "100000", offsetof(cor_conf, max_groups),
     "default cap of groups per correlation rule (oldest evicted beyond it)", 10, 100000000},
    VG_STATS_LOG_KEY(cor_conf, stats_log),
    {"lists", VG_CONF_NODE, NULL, offsetof(cor_conf, lists_node),
     "watchlists: NAME: FILE, loaded at start and on SIGHUP", 0, 0},
    {NULL, 0, NULL, 0, NULL, 0, 0},
};

/* "FILE:LINE" of node n, or FILE without it (a default): malloc'd. */
static char *cor_conf_at(const vg_node *n, const char *file)
{
    char buf[4200];
    if (n && n->file && n->line > 0)
        snprintf(buf, sizeof(buf), "%s:%d", n->file, n->line);
    else
        snprintf(buf, sizeof(buf), "%s", file ? file : "(default)");
    return strdup(buf);
}

/* If err is about path itself ("PATH: reason"), puts "AT: KEY: " in front:
 * which line of the configuration named the file that failed. */
static void cor_conf_blame(char *err, size_t errlen, const char *path, const char *at,
                           const char *key)
{
    size_t n = path ? strlen(path) : 0;
    if (!at || !n || strncmp(err, path, n) != 0 || strncmp(err + n, ": ", 2) != 0)
        return;
    char *old = strdup(err);
    if (!old)
        return;
    snprintf(err, errlen, "%s: %s: %s", at, key, old);
    free(old);
}

void cor_conf_rules_err(const cor_conf *cf, char *err, size_t errlen)
{
    cor_conf_blame(err, errlen, cf->rules_dir, cf->rules_dir_at, "correlator.rules_dir");
}

int cor_conf_sock_path(const char *run_dir, const char *sock, char *out, size_t cap)
{
    return vg_path_resolve(run_dir, sock, out, cap);
}

int cor_conf_sock_key(const char *run_dir, const char *sock, char *out, size_t cap)
{
    char path[4096], dir[4096];
    /* run_dir resolved as a socket's directory is: the one comparison */
    int rc = vg_path_resolve(run_dir, sock, path, sizeof(path));
    if (rc == 0)
        rc = vg_path_resolve(run_dir, "x", dir, sizeof(dir));
    if (rc)
        return rc;
    size_t n = strlen(dir) - 1; /* dir is "RUN_DIR/x": keep "RUN_DIR/" */
    const char *k = strncmp(path, dir, n) == 0 ? path + n : path;
    int w = snprintf(out, cap, "%s", k);
    return w < 0 || (size_t)w >= cap ? -ENAMETOOLONG : 0;
}

/* correlator.shipper_socket: one socket (a string, as ever) or a list of
 * 1 to COR_MAX_SHIPPERS distinct ones, into cf->shipper. None is the
 * listen_socket: one path for both made the correlator its own shipper,
 * connected to itself. Both are taken relative to run_dir (or absolute),
 * and compared as resolved (cor_conf_sock_path), so that two spellings of
 * one socket are one. */
static int cor_conf_shippers(const vg_node *sec, const char *run_dir, cor_conf *cf, char *err,
                             size_t errlen)
{
    const vg_node *n = cf->shipper_node, *ln = vg_node_get(sec, "listen_socket");
    cf->shipper_node = NULL;
    if (!cf->listen[0])
        return vg_conf_errf(err, errlen, ln, "'listen_socket' must name a socket");
    const vg_node *one = n && n->kind == VG_NODE_SCALAR ? n : NULL;
    if (n && !one && (n->kind != VG_NODE_SEQ || n->n < 1 || n->n > COR_MAX_SHIPPERS))
        return vg_conf_errf(err, errlen, n, "'shipper_socket' must be a socket or a list of 1 "
                            "to %d sockets (one per shipper)", COR_MAX_SHIPPERS);
    char paths[COR_MAX_SHIPPERS + 1][4096]; /* resolved; the last: listen_socket's */
    char *lpath = paths[COR_MAX_SHIPPERS];
    if (cor_conf_sock_path(run_dir, cf->listen, lpath, sizeof(paths[0])))
        return vg_conf_errf(err, errlen, ln, "'listen_socket' is too long");
    size_t count = n && !one ? n->n : 1;
    for (size_t i = 0; i < count; i++) {
        const vg_node *it = one ? one : n ? n->items[i] : NULL;
        const char *v = it ? it->str : VG_SOCK_SHIPPER;
        if (it && (it->kind != VG_NODE_SCALAR || !it->str[0]))
            return vg_conf_errf(err, errlen, it, one ? "'shipper_socket' must name a socket"
                                                     : "'shipper_socket' item %zu must name a "
                                                       "socket", i + 1);
        if (cor_conf_sock_path(run_dir, v, paths[i], sizeof(paths[0])))
            return vg_conf_errf(err, errlen, it, "shipper_socket '%s' is too long", v);
        if (strcmp(paths[i], lpath) == 0) {
            char lat[32] = " (the default)";
            if (ln)
                snprintf(lat, sizeof(lat), " (line %d)", ln->line);
            return vg_conf_errf(err, errlen, it ? it : ln,
                                "listen_socket '%s'%s and shipper_socket '%s'%s are both %s: the "
                                "correlator would connect to itself",
                                cf->listen, lat, v, it ? "" : " (the default)", lpath);
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(paths[i], paths[j]) == 0)
                return vg_conf_errf(err, errlen, it,
                                    "shipper_socket '%s' is listed twice (line %d as '%s'; both "
                                    "are %s): each shipper has its own socket, and one listed "
                                    "twice would get every alert twice",
                                    v, n->items[j]->line, cf->shipper[j], paths[i]);
        if (!(cf->shipper[i] = strdup(v)))
            return -ENOMEM;
        cf->nshippers++;
    }
    return 0;
}

int cor_conf_load(const vg_node *root, const char *file, const char *run_dir, cor_conf *cf,
                  char *err, size_t errlen)
{
    memset(cf, 0, sizeof(*cf));
    const vg_node *sec = vg_node_get(root, "correlator");
    int rc = vg_conf_apply(sec, file, cor_conf_keys, cf, err, errlen);
    if (rc)
        return rc;
    if ((rc = cor_conf_shippers(sec, run_dir, cf, err, errlen)))
        goto fail;
    /* where each path comes from, for the errors of reading them later */
    const vg_node *rd = vg_node_get(sec, "rules_dir");
    cf->rules_dir_at = cor_conf_at(rd, file);
    if (!cf->rules_dir_at) {
        rc = -ENOMEM;
        goto fail;
    }
    const vg_node *l = cf->lists_node;
    cf->lists_node = NULL;
    if (!l)
        return 0;
    if (l->kind != VG_NODE_MAP || l->n > COR_MAX_LISTS) {
        rc = vg_conf_errf(err, errlen, l, "lists must be a map of NAME: FILE (at most %d)",
                          COR_MAX_LISTS);
        goto fail;
    }
    for (size_t i = 0; i < l->n; i++) {
        if (!cor_lists_name_ok(l->keys[i]->str)) {
            rc = vg_conf_errf(err, errlen, l->keys[i], "bad list name '%s' (1 to %d of A-Z a-z "
                              "0-9 _ . -)", l->keys[i]->str, COR_LIST_NAME_MAX);
            goto fail;
        }
        if (l->items[i]->kind != VG_NODE_SCALAR || !l->items[i]->str[0]) {
            rc = vg_conf_errf(err, errlen, l->items[i], "list '%s' needs a file path",
                              l->keys[i]->str);
            goto fail;
        }
        char what[COR_LIST_NAME_MAX + 16];
        snprintf(what, sizeof(what), "list '%s'", l->keys[i]->str);
        if ((rc = vg_conf_path_check(l->items[i], what, err, errlen)))
            goto fail;
        cf->lists[i].name = strdup(l->keys[i]->str);
        cf->lists[i].path = vg_conf_path(file, l->items[i]->str);
        cf->lists[i].at = cor_conf_at(l->items[i], file);
        cf->nlists++;
        if (!cf->lists[i].name || !cf->lists[i].path || !cf->lists[i].at) {
            rc = -12;
            goto fail;
        }
    }
    return 0;
fail:
    cor_conf_free(cf);
    return rc;
}

void cor_conf_free(cor_conf *cf)
{
    for (int i = 0; i < cf->nlists; i++)
        free(cf->lists[i].name), free(cf->lists[i].path), free(cf->lists[i].at);
    free(cf->rules_dir_at);
    for (int i = 0; i < cf->nshippers; i++)
        free(cf->shipper[i]);
    vg_conf_release(cor_conf_keys, cf);
    memset(cf, 0, sizeof(*cf));
}

cor_rules_opts cor_conf_rules_opts(const cor_conf *cf)
{
    cor_rules_opts o = {
        .match_limit = cf->match_limit ? cf->match_limit : 100000,
        .max_groups = cf->max_groups ? (uint32_t)cf->max_groups : 100000,
        .lateness_us = cf->lateness_ms * 1000,
    };
    return o;
}

static int cor_is_list_file(const struct dirent *de)
{
    size_t n = strlen(de->d_name);
    return de->d_name[0] != '.' && n >= 5 && strcmp(de->d_name + n - 4, ".txt") == 0;
}

/* Lists shipped with the rules: RULES_DIR/lists/NAME.txt is list NAME,
 * unless the configuration names a file for NAME itself (with a single
 * rule file as RULES_DIR, the lists/ next to it, as for calendars). No
 * lists/ means no lists; one that cannot be read is an error, else every
 * "in list" condition would quietly be false. Loaded in name
 * order, so that which lists a refused file leaves replaced (each list is
 * replaced on its own) is the same on every run. */
static int cor_list_names_add(cor_list_names *names, const char *name)
{
    if (!names)
        return 0;
    char **v = realloc(names->v, (names->n + 1) * sizeof(char *));
    if (!v)
        return -ENOMEM;
    names->v = v;
    if (!(v[names->n] = strdup(name)))
        return -ENOMEM;
    names->n++;
    return 0;
}

void cor_list_names_free(cor_list_names *n)
{
    for (size_t i = 0; i < n->n; i++)
        free(n->v[i]);
    free(n->v);
    n->v = NULL;
    n->n = 0;
}

void cor_list_names_retired(const cor_list_names *old, const cor_list_names *new_)
{
    for (size_t i = 0; i < old->n; i++) {
        size_t j = 0;
        while (j < new_->n && strcmp(old->v[i], new_->v[j]) != 0)
            j++;
        if (j == new_->n)
            vg_warn("list %s is no longer in correlator.lists nor in the rules' lists/: its last "
                    "version stays active for the rules that name it (to retire it, empty it: "
                    "--load-list %s /dev/null)",
                    old->v[i], old->v[i]);
    }
}

/* Whether list name is in the store l (or, without one, among names). */
static bool cor_list_known(cor_lists *l, const cor_list_names *names, const char *name)
{
    cor_list_info info;
    if (l)
        return cor_lists_info(l, name, &info) != -ENOENT;
    for (size_t j = 0; names && j < names->n; j++)
        if (strcmp(names->v[j], name) == 0)
            return true;
    return false;
}

/* A known list whose name differs from name only by case or by '-' for '_'
 * (threat_ip for threat-ip: the misspellings a rule author makes), into
 * out; "" if none. */
static void cor_list_near(cor_lists *l, const cor_list_names *names, const char *name, char *out,
                          size_t cap)
{
    size_t n = strlen(name);
    out[0] = '\0';
    if (n >= cap)
        return;
    for (int variant = 0; variant < 6; variant++) {
        for (size_t i = 0; i <= n; i++) {
            char ch = name[i];
            if (variant % 3 == 1 && ch == '_')
                ch = '-';
            else if (variant % 3 == 2 && ch == '-')
                ch = '_';
            if (variant >= 3 && ch >= 'A' && ch <= 'Z')
                ch = (char)(ch - 'A' + 'a');
            out[i] = ch;
        }
        if (strcmp(out, name) != 0 && cor_list_known(l, names, out))
            return;
    }
    out[0] = '\0';
}

size_t cor_warn_unloaded_lists(cor_lists *l, const cor_list_names *names, const cor_ruleset *rs)
{
    size_t n = 0;
    for (size_t i = 0; (l || names) && rs && i < rs->n; i++) {
        const cor_rule *r = &rs->rules[i];
        for (uint32_t k = 0; k < r->nconds; k++) {
            const char *name = r->conds[k].list;
            int seen = 0; /* named by a condition before this one */
            for (size_t j = 0; j <= i && !seen; j++)
                for (uint32_t q = 0; q < rs->rules[j].nconds && !seen; q++) {
                    if (j == i && q == k) break;
                    seen = strcmp(rs->rules[j].conds[q].list, name) == 0;
                }
            for (size_t j = 0; !l && names && j < names->n && !seen; j++)
                seen = strcmp(names->v[j], name) == 0;
            cor_list_info info;
            if (seen || (l && cor_lists_info(l, name, &info) != -ENOENT))
                continue;
            n++;
            /* at the condition's line, with a loaded name it may have meant */
            char near[80], hint[120] = "";
            cor_list_near(l, names, name, near, sizeof(near));
            if (near[0])
                snprintf(hint, sizeof(hint), "; did you mean '%s'?", near);
            if (l)
                vg_warn("%s:%d: rule %s: list %s was never loaded, so 'in list %s' never holds "
                        "and 'not in list %s' always does (a list loads from "
                        "RULES_DIR/lists/%s.txt, correlator.lists, --load-list or --list)%s",
                        r->file, r->conds[k].line, r->id, name, name, name, name, hint);
            else
                vg_warn("%s:%d: rule %s: list %s is not in RULES_DIR/lists/ nor in "
                        "correlator.lists: unless --load-list loads it, 'in list %s' never holds "
                        "and 'not in list %s' always does%s",
                        r->file, r->conds[k].line, r->id, name, name, name, hint);
        }
    }
    return n;
}

size_t cor_warn_past_calendars(const cor_ruleset *rs, int64_t now_us)
{
    size_t n = 0, count = rs ? cor_calendars_count(rs->cals) : 0;
    char msg[1024];
    for (size_t i = 0; i < count; i++)
        if (cor_calendar_over(rs->cals, (int)i, now_us, msg, sizeof(msg))) {
            vg_warn("%s", msg);
            n++;
        }
    return n;
}

/* The list files of RULES_DIR/lists/ (cor_rules_side_dir) into *ents, in
 * name order, their directory into dir: their number, 0 without a lists/,
 * or -1 with errno when it cannot be read. The caller frees *ents. */
static int cor_rule_list_files(const char *rules_dir, char *dir, size_t cap, struct dirent ***ents)
{
    cor_rules_side_dir(rules_dir, "lists", dir, cap);
    int ne = scandir(dir, ents, cor_is_list_file, alphasort);
    if (ne < 0 && errno == ENOENT) {
        *ents = NULL;
        return 0;
    }
    return ne;
}

/* The line a load logs for list name from path: stored (its count), or
 * left alone because its file is unchanged (cor_lists_sync_file). */
static void cor_list_announce(const char *name, size_t n, const char *path, bool unchanged)
{
    if (unchanged)
        vg_info("list %s: %zu entries, unchanged in %s since stored: not stored again", name, n,
                path);
    else
        vg_info("list %s: %zu entries from %s", name, n, path);
}

static int cor_load_rule_lists(cor_lists *l, bool check, const cor_conf *cf, const char *rules_dir,
                               cor_list_names *names, bool announce, char *err, size_t errlen)
{
    char dir[4096];
    struct dirent **ents;
    int ne = cor_rule_list_files(rules_dir, dir, sizeof(dir), &ents);
    if (ne < 0) {
        snprintf(err, errlen, "%s: correlator.rules_dir: %s: cannot read lists directory: %s",
                 cf->rules_dir_at ? cf->rules_dir_at : "(default)", dir, strerror(errno));
        return VG_ECONFIG;
    }
    int rc = 0;
    for (int k = 0; k < ne; k++) {
        const char *fn = ents[k]->d_name;
        size_t n = strlen(fn);
        char name[256], path[4400];
        snprintf(name, sizeof(name), "%.*s", (int)(n - 4), fn);
        int named = 0;
        for (int i = 0; i < cf->nlists && !named; i++)
            named = strcmp(cf->lists[i].name, name) == 0;
        if (rc == 0 && !named) {
            snprintf(path, sizeof(path), "%s/%s", dir, fn);
            size_t cnt = 0;
            bool same = false;
            /* said with the file: the name alone ("bad name: bad list
             * name") does not tell where it came from */
            if (!cor_lists_name_ok(name)) {
                snprintf(err, errlen,
                         "%s: bad list name '%s' (1 to %d of A-Z a-z 0-9 _ . -; lists/NAME.txt "
                         "is list NAME)",
                         path, name, COR_LIST_NAME_MAX);
                rc = -EINVAL;
            } else {
                rc = cor_lists_sync_file(l, name, path, check, &cnt, &same, err, errlen);
            }
            if (rc == 0 && announce)
                cor_list_announce(name, cnt, path, same);
            if (rc == 0)
                rc = cor_list_names_add(names, name);
        }
        free(ents[k]);
    }
    free(ents);
    return rc;
}

uint64_t cor_list_files_bytes(const cor_conf *cf, const char *rules_dir)
{
    uint64_t sum = 0;
    struct stat sb;
    char dir[4096], path[4400];
    struct dirent **ents = NULL;
    int ne = rules_dir ? cor_rule_list_files(rules_dir, dir, sizeof(dir), &ents) : 0;
    for (int k = 0; k < ne; k++) {
        snprintf(path, sizeof(path), "%s/%s", dir, ents[k]->d_name);
        if (stat(path, &sb) == 0)
            sum += (uint64_t)sb.st_size;
        free(ents[k]);
    }
    free(ents); /* NULL when there is no lists/ */
    for (int i = 0; i < cf->nlists; i++)
        if (stat(cf->lists[i].path, &sb) == 0)
            sum += (uint64_t)sb.st_size;
    return sum;
}

int cor_load_lists(cor_lists *l, bool check, const cor_conf *cf, const char *rules_dir,
                   cor_list_names *names, bool announce, char *err, size_t errlen)
{
    int rrc =
        rules_dir ? cor_load_rule_lists(l, check, cf, rules_dir, names, announce, err, errlen) : 0;
    if (rrc)
        return rrc;
    for (int i = 0; i < cf->nlists; i++) {
        size_t n = 0;
        bool same = false;
        int rc = cor_lists_sync_file(l, cf->lists[i].name, cf->lists[i].path, check, &n, &same, err,
                                     errlen);
        if (rc) {
            char key[300];
            snprintf(key, sizeof(key), "correlator.lists.%s", cf->lists[i].name);
            cor_conf_blame(err, errlen, cf->lists[i].path, cf->lists[i].at, key);
            return rc;
        }
        if ((rc = cor_list_names_add(names, cf->lists[i].name)))
            return rc;
        if (announce)
            cor_list_announce(cf->lists[i].name, n, cf->lists[i].path, same);
    }
    return 0;
}
