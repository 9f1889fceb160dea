/* Shared by the integration tests: the rule that matches every test line,
 * sending numbered lines with logger(1), and checking the alerts file. */
#ifndef IT_COMMON_H
#define IT_COMMON_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vt.h"

#define IT_RULES                                                                                   \
    "rules:\n"                                                                                     \
    "  - id: test.every_line\n"                                                                    \
    "    name: Every numbered test line\n"                                                         \
    "    level: 3\n"                                                                               \
    "    match:\n"                                                                                 \
    "      program: vigiltest\n"                                                               \
    "      regex: 'seq=(?<n>[0-9]+)'\n"

/* One sshd rule with four captures, for the tests that check an alert's
 * exact bytes. */
#define IT_SSH_RULES                                                                               \
    "rules:\n"                                                                                     \
    "  - id: ssh.auth_failed\n"                                                                    \
    "    name: SSH authentication failure\n"                                                       \
    "    level: 5\n"                                                                               \
    "    match:\n"                                                                                 \
    "      program: sshd\n"                                                                        \
    "      regex: 'Failed (?<method>\\S+) for (?:invalid user )?(?<user>\\S+) "                     \
    "from (?<src_ip>[0-9.]+) port (?<src_port>\\d+)'\n"

/* The source tree (meson sets VG_SOURCE_ROOT for the tests). */
static inline const char *it_src_root(void)
{
    const char *r = getenv("VG_SOURCE_ROOT");
    return r ? r : ".";
}

/* A CA, a server certificate for localhost/127.0.0.1 and client
 * certificates, made by openssl(1) into dir (tests/support/mkcerts.sh). */
static inline int it_make_certs(const char *dir)
{
    char script[600];
    snprintf(script, sizeof(script), "%s/tests/support/mkcerts.sh", it_src_root());
    char *argv[] = {"sh", script, (char *)dir, NULL};
    return vt_run(argv, 60);
}

/* Writes lines "vigil integration seq=%05d" for [from, to) into DIR/name. */
static inline int it_write_lines(const vt_pipe *p, const char *name, int from, int to, char *path,
                                 size_t cap)
{
    snprintf(path, cap, "%s/%s", p->dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    for (int i = from; i < to; i++)
        fprintf(f, "vigil integration seq=%05d\n", i);
    return fclose(f);
}

/* Sends a file of lines with logger --tcp (newline framing, RFC 5424). */
static inline int it_logger_tcp(const vt_pipe *p, const char *file, const char *extra)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", p->port);
    char *argv[] = {"logger", "--tcp", "-n", "127.0.0.1", "-P", port, "-t", "vigiltest",
                    "-f", (char *)file, (char *)extra, NULL};
    return vt_run(argv, 120);
}

/* Checks that the alerts file holds exactly one alert of test.every_line
 * for each number in [0, n) and nothing else. Prints what is wrong and
 * returns the number of problems. */
static inline int it_check_exactly_once(const char *alerts, int n)
{
    size_t len;
    char *b = vt_read_file(alerts, &len);
    if (!b) {
        printf("no alerts file %s\n", alerts);
        return 1;
    }
    int *seen = calloc((size_t)n, sizeof(int));
    int problems = 0, lines = 0;
    for (char *line = b, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl) {
            printf("alerts file ends without a newline\n");
            problems++;
            break;
        }
        *nl = '\0';
        lines++;
        const char *m = strstr(line, "\"message\":\"vigil integration seq=");
        const char *r = strstr(line, "\"rule\":{\"id\":\"test.every_line\"");
        const char *k = strstr(line, "\"event\":{\"kind\":\"alert\"");
        int num = m ? atoi(m + strlen("\"message\":\"vigil integration seq=")) : -1;
        if (!m || !r || !k || num < 0 || num >= n) {
            if (problems++ < 5)
                printf("unexpected alert line: %.300s\n", line);
            continue;
        }
        seen[num]++;
    }
    for (int i = 0; i < n; i++) {
        if (seen[i] != 1 && problems++ < 20)
            printf("seq %05d arrived %d times\n", i, seen[i]);
    }
    if (lines != n)
        printf("%d alert lines, expected %d\n", lines, n);
    free(seen);
    free(b);
    return problems + (lines != n);
}

/* The value of "key" in the last line of process which's log holding head
 * (its stats line: "stats: received=", "stats: events="), or -1. With ask,
 * a new line is asked for with SIGUSR1 first and waited for (up to 2 s):
 * the process must have logged " started (config ", or SIGUSR1 kills it. */
static inline long it_stat(vt_pipe *p, int which, const char *head, const char *key, bool ask)
{
    char log[400];
    vt_pipe_log(p, which, log, sizeof(log));
    int before = vt_count_text(log, head);
    if (ask)
        kill(p->pid[which], SIGUSR1);
    for (int i = 0; ask && i < 100 && vt_count_text(log, head) == before; i++)
        vt_sleep_ms(20);
    char *lb = vt_read_file(log, NULL);
    char *last = lb ? strstr(lb, head) : NULL;
    for (char *q = last; q; q = strstr(q + 1, head))
        last = q;
    char *nl = last ? strchr(last, '\n') : NULL;
    if (nl)
        *nl = '\0';
    char *at = last ? strstr(last, key) : NULL;
    long v = at ? atol(at + strlen(key)) : -1;
    free(lb);
    return v;
}

#endif
