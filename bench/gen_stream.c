/* vigil-genstream: a seeded, realistic mixed syslog stream for bench/correlator.
 *
 *   vigil-genstream [-n LINES] [-s SEED] [-r RATE] [-o FILE] [-v]
 *
 * Writes LINES (default 1000000) RFC 3164 lines with PRI ("<38>Jun  1 00:00:00 HOST
 * TAG[PID]: MSG", about 200 bytes each, LF-terminated) to FILE or stdout. Event time
 * starts at 2024-06-01 00:00:00 UTC and advances RATE lines per second (default 200,
 * so a million lines span about 83 minutes); replay them with --year 2024.
 *
 * The background is what a ministry's hosts send all day: sshd (internet scanners
 * failing now and then, staff and service accounts logging in, sessions, preauth
 * disconnects), sudo, kernel firewall (UFW BLOCK/AUDIT/ALLOW), nginx access lines
 * through syslog, cron, systemd, postfix, su, dhclient, ntpd, dockerd, logind. Hosts
 * are ~1,200 unit hosts (road/avn/rail) plus web/db/bastion/mail servers under
 * example.net. Into it, attack campaigns are injected and interleaved with the
 * background: SSH brute force (sometimes followed by a successful login from the same
 * address), password spraying, port scans, web scans, SMTP AUTH guessing and relay
 * probing, privilege escalation on one host (sudo failures, /etc/shadow, setuid
 * chmod, new user), service crash loops, OOM kills, disk errors, AppArmor denials.
 * The vocabulary covers what ../shared/bench/rules50.txt and rules500.txt look for,
 * so some 5-10% of the lines match one of those rules, as in a real feed.
 *
 * The same seed gives the same stream, byte for byte. -v prints a summary (lines,
 * bytes, average length, attack lines, campaigns per kind) on stderr.
 *
 * Not a test and not installed: see bench/README.md.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_rng.h"

#define GS_LINE_MAX 1024
#define GS_MAX_CAMPAIGNS 4

static uint64_t gs_rng;

static uint64_t gs_next(void)
{
    return bench_rng_next(&gs_rng);
}

static unsigned gs_rand(unsigned n)
{
    return (unsigned)(gs_next() % n);
}

#define GS_PICK(a) ((a)[gs_rand(sizeof(a) / sizeof((a)[0]))])
#define GS_N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- vocabulary ---------------------------------------------------------------- */

static const char *const gs_mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const gs_units[] = {"road", "avn", "rail"};
static const char *const gs_roles[] = {"gw", "web", "db", "atc", "sig", "cam", "ops", "vpn", "dns", "app"};
static const char *const gs_sites[] = {"north", "south", "east", "west"};
static const char *const gs_staff[] = {"alice", "bmartin", "cdupont", "dkovac", "eng-ops",
                                       "fsilva", "gnakamura", "hpetit", "deploy", "jenkins",
                                       "ansible", "backup"};
/* what scanners try, including the names the peer rules watch */
static const char *const gs_scan_users[] = {
    "root", "admin", "oracle", "postgres", "test", "guest", "pi", "vagrant", "support", "ubuntu",
    "user", "git", "ftp", "mysql", "hadoop", "tomcat", "zabbix", "nagios", "www-data", "deploy",
    "jenkins", "backup", "ansible", "alice", "bob", "carol", "dave", "erin", "frank", "mallory",
    "admin1", "sysadmin", "operator", "default", "ec2-user", "centos", "steam", "minecraft"};
static const char *const gs_svc_kinds[] = {"app", "bi", "etl", "k8s", "ml", "ops", "sec", "db", "web", "ci"};
static const char *const gs_cmds[] = {
    "/usr/bin/systemctl restart nginx", "/usr/bin/apt-get update", "/usr/sbin/iptables -L -n",
    "/usr/bin/journalctl -u sshd --since today", "/usr/bin/tail -n 200 /var/log/auth.log",
    "/usr/bin/docker ps -a", "/usr/bin/vim /etc/nginx/sites-enabled/default",
    "/usr/bin/rsync -a /srv/data/ backup01:/srv/data/", "/usr/bin/curl -s http://localhost:8080/health",
    "/usr/bin/wget -q https://deb.example.net/key.gpg", "/usr/bin/systemctl status postgresql",
    "/bin/cat /var/log/nginx/error.log", "/bin/chmod 0644 /etc/nginx/conf.d/site.conf"};
static const char *const gs_evil_cmds[] = {"/bin/cat /etc/shadow", "/bin/chmod 4755 /tmp/.x ",
                                           "/usr/bin/passwd root", "/bin/bash", "/bin/sh",
                                           "/usr/bin/nc -lvp 4444 -e /bin/sh", "/bin/chmod 6755 /usr/local/bin/helper "};
static const char *const gs_paths[] = {"/api/v1/flights", "/api/v1/trains/positions", "/login",
                                       "/static/app.js", "/api/v2/roads/incidents", "/healthz",
                                       "/api/v1/tickets", "/static/css/site.css", "/favicon.ico",
                                       "/api/v1/stations/nearby", "/index.html", "/api/v1/users",
                                       "/actuator/health"};
static const char *const gs_evil_paths[] = {"/wp-login.php", "/.env", "/admin/config.php", "/.git/config",
                                            "/phpmyadmin/", "/server-status", "/cgi-bin/luci",
                                            "/actuator/health", "/index.html", "/api/v1/users",
                                            "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
                                            "/boaform/admin/formLogin", "/.aws/credentials"};
static const char *const gs_agents[] = {
    "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0", "curl/7.88.1",
    "python-requests/2.28.1", "Go-http-client/1.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"};
static const char *const gs_scan_agents[] = {"zgrab/0.x", "Mozilla/5.0 zgrab/0.x", "masscan/1.3",
                                             "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
                                             "python-requests/2.31.0", "curl/8.4.0"};
static const char *const gs_services[] = {"nginx", "postgresql@15-main", "docker", "containerd", "rsyslog",
                                          "redis", "haproxy", "certbot", "apt-daily", "logrotate",
                                          "man-db", "fstrim", "fwupd-refresh", "ssh", "unattended-upgrades"};
static const char *const gs_ifaces[] = {"eth0", "eth1", "ens3", "ens5"};
static const char *const gs_rcpt[] = {"root", "admin", "deploy", "alice", "bob", "carol", "postgres",
                                      "backup", "info", "sales", "support", "jenkins", "svc_app03",
                                      "svc_etl07", "noreply", "helpdesk", "user", "test"};

/* first octets: the attacker networks the peer rules name, and others */
static const unsigned gs_bad_nets[] = {45, 61, 103, 185, 193, 194, 212, 218, 222, 5, 31, 77, 91, 141, 176};
static const unsigned gs_other_nets[] = {203, 198, 192, 82, 89, 95, 109, 151, 178, 188, 37, 46, 62, 80};

static void gs_ext_ip(char *out, size_t cap, int bad)
{
    unsigned a = bad ? GS_PICK(gs_bad_nets) : GS_PICK(gs_other_nets);
    snprintf(out, cap, "%u.%u.%u.%u", a, gs_rand(256), gs_rand(256), 1 + gs_rand(254));
}

static void gs_int_ip(char *out, size_t cap)
{
    snprintf(out, cap, "10.%u.%u.%u", gs_rand(3), gs_rand(64), 1 + gs_rand(254));
}

static void gs_svc_user(char *out, size_t cap)
{
    snprintf(out, cap, "svc_%s%02u", GS_PICK(gs_svc_kinds), gs_rand(10));
}

/* A host name: a unit host most of the time, a server under example.net otherwise. */
static void gs_host(char *out, size_t cap)
{
    unsigned k = gs_rand(100);
    if (k < 70)
        snprintf(out, cap, "%s-%s-%02u.%s.vigil.example", GS_PICK(gs_units), GS_PICK(gs_roles),
                 1 + gs_rand(25), GS_PICK(gs_sites));
    else if (k < 85)
        snprintf(out, cap, "web%02u.example.net", 1 + gs_rand(20));
    else if (k < 93)
        snprintf(out, cap, "db%02u.example.net", 1 + gs_rand(10));
    else if (k < 97)
        snprintf(out, cap, "bastion%02u.example.net", 1 + gs_rand(3));
    else
        snprintf(out, cap, "mail%02u.example.net", 1 + gs_rand(4));
}

static void gs_sha(char *out, size_t n)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i++)
        out[i] = b64[gs_rand(64)];
    out[n] = '\0';
}

/* ---- one line ---------------------------------------------------------------- */

typedef struct gs_line {
    char *p;      /* whole line */
    size_t cap;
    int hl;       /* header length */
    unsigned pid;
    char ts[32];
    int64_t t;    /* event time, seconds */
    struct tm tm;
} gs_line;

/* Starts a line: "<PRI>Mmm dd hh:mm:ss HOST ". */
static void gs_hdr(gs_line *l, unsigned pri, const char *host)
{
    l->hl = snprintf(l->p, l->cap, "<%u>%s %s ", pri, l->ts, host);
}

/* Appends the message (printf-style) and returns the line length, LF included. */
__attribute__((format(printf, 2, 3))) static int gs_msg(gs_line *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = l->cap - (size_t)l->hl - 1;
    int n = vsnprintf(l->p + l->hl, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= room)
        n = (int)room - 1;
    l->p[l->hl + n] = '\n';
    return l->hl + n + 1;
}

/* ---- background ---------------------------------------------------------------- */

static int gs_background(gs_line *l)
{
    char host[64], ip[24], ip2[24], user[32], sha[48];
    gs_host(host, sizeof(host));
    unsigned pid = l->pid;
    const char *u = GS_PICK(gs_staff);
    unsigned k = gs_rand(1000);
    if (k < 30) { /* internet noise on exposed sshd: one try per address, mostly */
        gs_hdr(l, 38, host);
        gs_ext_ip(ip, sizeof(ip), gs_rand(3) == 0);
        int inv = gs_rand(2);
        return gs_msg(l, "sshd[%u]: Failed password for %s%s from %s port %u ssh2",
                      pid, inv ? "invalid user " : "", GS_PICK(gs_scan_users), ip,
                      1024 + gs_rand(64000));
    }
    if (k < 40) {
        gs_hdr(l, 38, host);
        gs_ext_ip(ip, sizeof(ip), gs_rand(3) == 0);
        return gs_msg(l, "sshd[%u]: Invalid user %s from %s port %u", pid, GS_PICK(gs_scan_users),
                      ip, 1024 + gs_rand(64000));
    }
    if (k < 60) {
        gs_hdr(l, 38, host);
        gs_ext_ip(ip, sizeof(ip), gs_rand(3) == 0);
        if (gs_rand(3))
            return gs_msg(l, "sshd[%u]: Connection closed by %s port %u [preauth]", pid, ip,
                          1024 + gs_rand(64000));
        return gs_msg(l, "sshd[%u]: Connection closed by authenticating user %s %s port %u [preauth]",
                      pid, GS_PICK(gs_scan_users), ip, 1024 + gs_rand(64000));
    }
    if (k < 75) {
        gs_hdr(l, 38, host);
        gs_ext_ip(ip, sizeof(ip), gs_rand(4) == 0);
        return gs_msg(l, "sshd[%u]: Received disconnect from %s port %u:11: %s", pid, ip,
                      1024 + gs_rand(64000),
                      gs_rand(2) ? "Bye Bye [preauth]" : "disconnected by user");
    }
    if (k < 125) {
        gs_hdr(l, 38, host);
        gs_ext_ip(ip, sizeof(ip), 0);
        gs_int_ip(ip2, sizeof(ip2));
        return gs_msg(l,
                      "sshd[%u]: Connection from %s port %u on %s port 22 rdomain \"\" "
                      "(key exchange curve25519-sha256, cipher chacha20-poly1305@openssh.com)",
                      pid, ip, 1024 + gs_rand(64000), ip2);
    }
    if (k < 155) { /* staff and service accounts logging in */
        gs_int_ip(ip, sizeof(ip));
        int svc = gs_rand(3) == 0;
        if (svc)
            gs_svc_user(user, sizeof(user));
        else
            snprintf(user, sizeof(user), "%s", gs_rand(40) ? u : "root");
        gs_hdr(l, 38, host);
        if (gs_rand(4) == 0) {
            gs_sha(sha, 43);
            return gs_msg(l, "sshd[%u]: Accepted publickey for %s from %s port %u ssh2: RSA SHA256:%s",
                          pid, user, ip, 1024 + gs_rand(64000), sha);
        }
        if (gs_rand(6) == 0)
            return gs_msg(l, "sshd[%u]: Accepted password for %s from %s port %u ssh2", pid, user, ip,
                          1024 + gs_rand(64000));
        gs_sha(sha, 43);
        return gs_msg(l, "sshd[%u]: Accepted publickey for %s from %s port %u ssh2: ED25519 SHA256:%s",
                      pid, user, ip, 1024 + gs_rand(64000), sha);
    }
    if (k < 200) {
        gs_hdr(l, 86, host);
        if (gs_rand(2))
            return gs_msg(l,
                          "sshd[%u]: pam_unix(sshd:session): session opened for user %s(uid=%u) by (uid=0)",
                          pid, gs_rand(10) ? u : "root", 1000 + gs_rand(30));
        return gs_msg(l, "sshd[%u]: pam_unix(sshd:session): session closed for user %s", pid, u);
    }
    if (k < 206) {
        gs_hdr(l, 85, host);
        gs_ext_ip(ip, sizeof(ip), gs_rand(2));
        return gs_msg(l,
                      "sshd[%u]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
                      "tty=ssh ruser= rhost=%s  user=%s",
                      pid, ip, gs_rand(3) ? GS_PICK(gs_staff) : "root");
    }
    if (k < 241) { /* sudo */
        gs_hdr(l, 85, host);
        if (gs_rand(5) == 0) { /* service accounts run their jobs from home */
            gs_svc_user(user, sizeof(user));
            return gs_msg(l, "sudo[%u]: %8s : TTY=pts/%u ; PWD=/home/%s ; USER=root ; COMMAND=%s", pid,
                          user, gs_rand(8), user, GS_PICK(gs_cmds));
        }
        snprintf(user, sizeof(user), "%s", u);
        return gs_msg(l,
                      "sudo[%u]: %8s : TTY=pts/%u ; PWD=/home/%s/work/ticket-%u ; USER=root ; "
                      "ENV=LANG=C.UTF-8 ; COMMAND=%s",
                      pid, user, gs_rand(8), user, 1000 + gs_rand(9000), GS_PICK(gs_cmds));
    }
    if (k < 266) {
        gs_hdr(l, 86, host);
        return gs_msg(l,
                      "sudo[%u]: pam_unix(sudo:session): session %s for user root(uid=0) by %s(uid=%u)",
                      pid, gs_rand(2) ? "opened" : "closed", u, 1000 + gs_rand(30));
    }
    if (k < 416) { /* kernel firewall */
        static const unsigned benign[] = {80, 443, 8080, 8443, 5060, 853, 993, 25, 5353, 4500, 500};
        static const unsigned probed[] = {22, 23, 3389, 445, 139, 135, 3306, 1433, 5432, 161, 6379, 27017, 9200, 11211, 5900};
        gs_hdr(l, 4, host);
        int r = gs_rand(10);
        const char *act = r < 6 ? "BLOCK" : r < 9 ? "AUDIT" : "ALLOW";
        gs_ext_ip(ip, sizeof(ip), gs_rand(3) == 0);
        gs_int_ip(ip2, sizeof(ip2));
        unsigned dpt = gs_rand(10) == 0 ? GS_PICK(probed) : GS_PICK(benign);
        int udp = dpt == 161 || dpt == 500 || dpt == 4500 || dpt == 5353 ? 1 : gs_rand(8) == 0;
        return gs_msg(l,
                      "kernel: [%u.%06u] [UFW %s] IN=%s OUT= MAC=52:54:00:%02x:%02x:%02x:fa:16:3e:%02x:%02x:%02x:08:00 "
                      "SRC=%s DST=%s LEN=%u TOS=0x00 PREC=0x00 TTL=%u ID=%u PROTO=%s SPT=%u DPT=%u %s",
                      gs_rand(2000000), gs_rand(1000000), act, GS_PICK(gs_ifaces), gs_rand(256),
                      gs_rand(256), gs_rand(256), gs_rand(256), gs_rand(256), gs_rand(256), ip, ip2,
                      40 + gs_rand(1400), 32 + gs_rand(96), gs_rand(65536), udp ? "UDP" : "TCP",
                      1024 + gs_rand(64000), dpt, udp ? "LEN=48" : "WINDOW=64240 RES=0x00 SYN URGP=0");
    }
    if (k < 431) {
        gs_hdr(l, 6, host);
        switch (gs_rand(3)) {
        case 0:
            return gs_msg(l, "kernel: [%u.%06u] audit: type=1400 audit(%u.%03u:%u): apparmor=\"ALLOWED\" "
                             "operation=\"open\" profile=\"/usr/sbin/ntpd\" name=\"/var/lib/ntp/ntp.drift\" pid=%u comm=\"ntpd\"",
                          gs_rand(2000000), gs_rand(1000000), 1717200000 + gs_rand(10000), gs_rand(1000),
                          gs_rand(100000), pid);
        case 1:
            return gs_msg(l, "kernel: [%u.%06u] EXT4-fs (dm-%u): mounted filesystem %08x-%04x with ordered data mode. Quota mode: none.",
                          gs_rand(2000000), gs_rand(1000000), gs_rand(4), (unsigned)gs_next(), gs_rand(65536));
        default:
            return gs_msg(l, "kernel: [%u.%06u] eth%u: Link is Up - 10Gbps/Full - flow control off; NIC firmware 1.%u.%u",
                          gs_rand(2000000), gs_rand(1000000), gs_rand(2), gs_rand(20), gs_rand(100));
        }
    }
    if (k < 621) { /* nginx access through syslog */
        gs_hdr(l, 190, host);
        if (gs_rand(3))
            gs_ext_ip(ip, sizeof(ip), gs_rand(10) == 0);
        else
            gs_int_ip(ip, sizeof(ip));
        unsigned st = gs_rand(50) == 0 ? (gs_rand(2) ? 500u : 502u)
                    : (unsigned[]){200, 200, 200, 200, 200, 304, 301, 404, 403, 201}[gs_rand(10)];
        const char *path = GS_PICK(gs_paths);
        return gs_msg(l, "nginx[%u]: %s - - \"%s %s%s HTTP/1.1\" %u %u \"%s\" \"%s\" rt=0.%03u uct=0.00%u",
                      pid, ip, gs_rand(5) ? "GET" : "POST", path,
                      gs_rand(2) ? "" : "?page=2&sort=desc&lang=en", st, 200 + gs_rand(90000),
                      gs_rand(3) ? "https://portal.vigil.example/dashboard/overview" : "-",
                      GS_PICK(gs_agents), gs_rand(1000), gs_rand(10));
    }
    if (k < 661) {
        gs_hdr(l, 78, host);
        unsigned r = gs_rand(10);
        if (r < 4)
            return gs_msg(l, "CRON[%u]: pam_unix(cron:session): session %s for user %s%s", pid,
                          gs_rand(2) ? "opened" : "closed", gs_rand(4) ? "root" : u,
                          gs_rand(2) ? "(uid=0) by (uid=0)" : "");
        return gs_msg(l, "CRON[%u]: (%s) CMD (%s >> /var/log/cron-jobs/%s.log 2>&1; flock -n /run/lock/job-%u)",
                      pid, gs_rand(2) ? "root" : u,
                      r == 4 ? "/usr/local/bin/backup.sh --incremental" : "/usr/local/bin/report --daily",
                      u, gs_rand(100));
    }
    if (k < 716) {
        gs_hdr(l, 30, host);
        const char *svc = GS_PICK(gs_services);
        switch (gs_rand(5)) {
        case 0:
            return gs_msg(l, "systemd[1]: Started %s.service - %s daemon (instance %u).", svc, svc, gs_rand(9));
        case 1:
            return gs_msg(l, "systemd[1]: Starting %s.service - %s daemon (instance %u)...", svc, svc, gs_rand(9));
        case 2:
            return gs_msg(l, "systemd[1]: %s.service: Consumed %u.%03us CPU time, memory peak %u.%uM.",
                          svc, gs_rand(60), gs_rand(1000), gs_rand(500), gs_rand(10));
        case 3:
            return gs_msg(l, "systemd[1]: %s.service: Deactivated successfully.", svc);
        default:
            return gs_msg(l, "systemd[1]: Finished %s.service - Daily %s activities; next run in %uh.", svc, svc, 1 + gs_rand(23));
        }
    }
    if (k < 786) { /* mail */
        char mh[64];
        snprintf(mh, sizeof(mh), "mail%02u.example.net", 1 + gs_rand(4));
        gs_hdr(l, 22, mh);
        gs_ext_ip(ip, sizeof(ip), 0);
        switch (gs_rand(5)) {
        case 0:
            return gs_msg(l, "postfix/smtpd[%u]: connect from mx%u.partner-%u.example.org[%s]", pid,
                          gs_rand(4), gs_rand(300), ip);
        case 1:
            return gs_msg(l, "postfix/smtpd[%u]: disconnect from mx%u.partner-%u.example.org[%s] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5",
                          pid, gs_rand(4), gs_rand(300), ip);
        case 2:
            return gs_msg(l, "postfix/qmgr[%u]: %010llX: from=<%s@vigil.example>, size=%u, nrcpt=1 (queue active)",
                          pid, (unsigned long long)(gs_next() >> 24), u, 1000 + gs_rand(90000));
        case 3:
            return gs_msg(l, "postfix/smtp[%u]: %010llX: to=<%s@example.org>, relay=mx.example.org[%s]:25, "
                             "delay=%u.%u, delays=0.1/0/0.2/0.3, dsn=2.0.0, status=sent (250 2.0.0 OK queued)",
                          pid, (unsigned long long)(gs_next() >> 24), u, ip, gs_rand(9), gs_rand(100));
        default:
            return gs_msg(l, "postfix/cleanup[%u]: %010llX: message-id=<%08x.%u@vigil.example>", pid,
                          (unsigned long long)(gs_next() >> 24), (unsigned)gs_next(), gs_rand(100000));
        }
    }
    if (k < 796) {
        gs_hdr(l, 86, host);
        if (gs_rand(2))
            return gs_msg(l, "su[%u]: (to postgres) %s on pts/%u", pid, u, gs_rand(8));
        return gs_msg(l, "su[%u]: pam_unix(su-l:session): session opened for user postgres(uid=114) by %s(uid=%u)",
                      pid, u, 1000 + gs_rand(30));
    }
    if (k < 811) {
        gs_hdr(l, 30, host);
        gs_int_ip(ip, sizeof(ip));
        return gs_msg(l, "dhclient[%u]: DHCPACK of %s from 10.0.0.%u (xid=0x%08x), renewal in %u seconds on eth%u",
                      pid, gs_rand(50) ? ip : "192.168.1.23", 1 + gs_rand(3), (unsigned)gs_next(),
                      300 + gs_rand(3000), gs_rand(2));
    }
    if (k < 821) {
        gs_hdr(l, 30, host);
        gs_ext_ip(ip, sizeof(ip), gs_rand(8) == 0);
        return gs_msg(l, "ntpd[%u]: Soliciting pool server %s (stratum %u, offset +0.%06u s, jitter 0.%06u s)",
                      pid, ip, 1 + gs_rand(3), gs_rand(1000000), gs_rand(1000000));
    }
    if (k < 921) {
        gs_hdr(l, 30, host);
        return gs_msg(l,
                      "dockerd[%u]: time=\"2024-06-01T%02u:%02u:%02u.%09uZ\" level=info "
                      "msg=\"ignoring event\" container=%016llx module=libcontainerd namespace=moby topic=/tasks/delete",
                      pid, l->tm.tm_hour, l->tm.tm_min, l->tm.tm_sec, gs_rand(1000000000),
                      (unsigned long long)gs_next());
    }
    gs_hdr(l, 30, host);
    return gs_msg(l, "systemd-logind[%u]: New session %u of user %s; seat0 not assigned, remote=yes, service=sshd, class=user, leader=%u",
                  pid, gs_rand(100000), u, gs_rand(60000));
}

/* ---- attack campaigns ---------------------------------------------------------- */

enum gs_kind {
    GS_BRUTE, GS_SPRAY, GS_PORTSCAN, GS_WEBSCAN, GS_SMTP, GS_PRIVESC, GS_CRASH, GS_MISC, GS_NKINDS
};
static const char *const gs_kind_names[GS_NKINDS] = {
    "ssh-bruteforce", "password-spray", "port-scan", "web-scan", "smtp-auth", "privesc",
    "crash-loop", "oom/disk/apparmor"};
static const unsigned gs_kind_weight[GS_NKINDS] = {25, 12, 20, 18, 10, 6, 5, 4};

typedef struct gs_camp {
    enum gs_kind kind;
    unsigned left, step;
    char ip[24], host[64], user[32], svc[32];
    int success; /* brute force: ends with an accepted login */
} gs_camp;

static void gs_camp_start(gs_camp *c)
{
    unsigned w = 0, tot = 0;
    for (int i = 0; i < GS_NKINDS; i++)
        tot += gs_kind_weight[i];
    unsigned r = gs_rand(tot);
    int k = 0;
    for (; k < GS_NKINDS - 1; k++) {
        w += gs_kind_weight[k];
        if (r < w)
            break;
    }
    memset(c, 0, sizeof(*c));
    c->kind = (enum gs_kind)k;
    gs_ext_ip(c->ip, sizeof(c->ip), gs_rand(5) != 0);
    gs_host(c->host, sizeof(c->host));
    if (gs_rand(3) == 0)
        gs_svc_user(c->user, sizeof(c->user));
    else
        snprintf(c->user, sizeof(c->user), "%s", GS_PICK(gs_scan_users));
    snprintf(c->svc, sizeof(c->svc), "%s", GS_PICK(gs_services));
    switch (c->kind) {
    case GS_BRUTE:
        c->left = 10 + gs_rand(60);
        c->success = gs_rand(4) == 0;
        break;
    case GS_SPRAY:
        c->left = 10 + gs_rand(40);
        break;
    case GS_PORTSCAN:
        c->left = 20 + gs_rand(150);
        break;
    case GS_WEBSCAN:
        c->left = 15 + gs_rand(100);
        break;
    case GS_SMTP:
        c->left = 10 + gs_rand(40);
        snprintf(c->host, sizeof(c->host), "mail%02u.example.net", 1 + gs_rand(4));
        break;
    case GS_PRIVESC:
        c->left = 6 + gs_rand(10);
        snprintf(c->user, sizeof(c->user), "%s", GS_PICK(gs_staff));
        break;
    case GS_CRASH:
        c->left = 4 + gs_rand(20);
        break;
    default:
        c->left = 1 + gs_rand(4);
        break;
    }
}

/* The campaign's next line. */
static int gs_camp_line(gs_line *l, gs_camp *c)
{
    unsigned pid = l->pid, port = 1024 + gs_rand(64000);
    c->step++;
    c->left--;
    switch (c->kind) {
    case GS_BRUTE: {
        const char *u = gs_rand(3) ? c->user : GS_PICK(gs_scan_users);
        if (c->left == 0 && c->success) {
            gs_hdr(l, 38, c->host);
            return gs_msg(l, "sshd[%u]: Accepted password for %s from %s port %u ssh2", pid, u, c->ip, port);
        }
        unsigned r = gs_rand(12);
        if (r == 0) {
            gs_hdr(l, 37, c->host);
            return gs_msg(l, "sshd[%u]: error: maximum authentication attempts exceeded for %s from %s port %u ssh2 [preauth]",
                          pid, u, c->ip, port);
        }
        if (r == 1) {
            gs_hdr(l, 38, c->host);
            return gs_msg(l, "sshd[%u]: Disconnected from authenticating user %s %s port %u [preauth]",
                          pid, gs_rand(2) ? "root" : "admin", c->ip, port);
        }
        if (r == 2) {
            gs_hdr(l, 85, c->host);
            return gs_msg(l, "sshd[%u]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
                             "tty=ssh ruser= rhost=%s  user=%s", pid, c->ip, gs_rand(2) ? "root" : u);
        }
        gs_hdr(l, 38, c->host);
        int inv = strcmp(u, "root") && gs_rand(2);
        return gs_msg(l, "sshd[%u]: Failed password for %s%s from %s port %u ssh2", pid,
                      inv ? "invalid user " : "", u, c->ip, port);
    }
    case GS_SPRAY: {
        const char *u = GS_PICK(gs_scan_users);
        char su[32];
        if (gs_rand(3) == 0) {
            gs_svc_user(su, sizeof(su));
            u = su;
        }
        gs_hdr(l, 38, c->host);
        if (gs_rand(2))
            return gs_msg(l, "sshd[%u]: Invalid user %s from %s port %u", pid, u, c->ip, port);
        return gs_msg(l, "sshd[%u]: Failed password for invalid user %s from %s port %u ssh2", pid, u,
                      c->ip, port);
    }
    case GS_PORTSCAN: {
        static const unsigned ports[] = {22, 23, 53, 80, 110, 123, 135, 139, 143, 161, 389, 443, 445,
                                         993, 995, 1433, 1521, 2049, 3306, 3389, 4444, 5432, 5900,
                                         6379, 6667, 8080, 8443, 9200, 11211, 27017, 31337};
        unsigned dpt = GS_PICK(ports);
        int udp = dpt == 53 || dpt == 123 || dpt == 161;
        char dst[24];
        gs_int_ip(dst, sizeof(dst));
        gs_hdr(l, 4, c->host);
        return gs_msg(l,
                      "kernel: [%u.%06u] [UFW %s] IN=%s OUT= MAC=52:54:00:%02x:%02x:%02x:fa:16:3e:%02x:%02x:%02x:08:00 "
                      "SRC=%s DST=%s LEN=%u TOS=0x00 PREC=0x00 TTL=%u ID=%u PROTO=%s SPT=%u DPT=%u %s",
                      gs_rand(2000000), gs_rand(1000000), dpt == 6379 && gs_rand(3) == 0 ? "ALLOW" : "BLOCK",
                      GS_PICK(gs_ifaces), gs_rand(256), gs_rand(256), gs_rand(256), gs_rand(256),
                      gs_rand(256), gs_rand(256), c->ip, dst, 40 + gs_rand(20), 32 + gs_rand(96),
                      gs_rand(65536), udp ? "UDP" : "TCP", port, dpt,
                      udp ? "LEN=48" : "WINDOW=1024 RES=0x00 SYN URGP=0");
    }
    case GS_WEBSCAN: {
        gs_hdr(l, 190, c->host);
        unsigned st = (unsigned[]){404, 404, 404, 403, 200, 301, 500}[gs_rand(7)];
        return gs_msg(l, "nginx[%u]: %s - - \"GET %s HTTP/1.1\" %u %u \"-\" \"%s\" rt=0.%03u", pid,
                      c->ip, GS_PICK(gs_evil_paths), st, 100 + gs_rand(5000), GS_PICK(gs_scan_agents),
                      gs_rand(1000));
    }
    case GS_SMTP:
        if (gs_rand(3)) {
            gs_hdr(l, 20, c->host);
            return gs_msg(l, "postfix/smtpd[%u]: warning: unknown[%s]: SASL %s authentication failed: UGFzc3dvcmQ6",
                          pid, c->ip, gs_rand(2) ? "LOGIN" : "PLAIN");
        }
        gs_hdr(l, 22, c->host);
        if (gs_rand(3) == 0)
            return gs_msg(l, "postfix/smtpd[%u]: connect from unknown[%s]", pid, c->ip);
        return gs_msg(l, "postfix/smtpd[%u]: NOQUEUE: reject: RCPT from unknown[%s]: 554 5.7.1 <%s@example.com>: "
                         "Relay access denied; from=<%s> to=<%s@example.com> proto=ESMTP helo=<%s>",
                      pid, c->ip, GS_PICK(gs_rcpt), gs_rand(3) ? "spam@mx1.spamhost.biz" : "",
                      GS_PICK(gs_rcpt), gs_rand(2) ? "WIN-3KJ2L" : "localhost");
    case GS_PRIVESC: {
        unsigned r = c->left == 0 ? 9 : gs_rand(9);
        switch (r) {
        case 0:
        case 1:
            gs_hdr(l, 81, c->host);
            return gs_msg(l, "sudo[%u]: %8s : %u incorrect password attempts ; TTY=pts/%u ; PWD=/home/%s ; USER=root ; COMMAND=/bin/bash",
                          pid, c->user, 1 + gs_rand(3), gs_rand(8), c->user);
        case 2:
            gs_hdr(l, 81, c->host);
            return gs_msg(l, "sudo[%u]: %8s : user NOT in sudoers ; TTY=pts/%u ; PWD=/home/%s ; USER=root ; COMMAND=/bin/cat /etc/shadow",
                          pid, c->user, gs_rand(8), c->user);
        case 3:
            gs_hdr(l, 85, c->host);
            return gs_msg(l, "sudo[%u]: pam_unix(sudo:auth): authentication failure; logname=%s uid=%u euid=0 tty=/dev/pts/%u ruser=%s rhost=  user=%s",
                          pid, c->user, 1000 + gs_rand(30), gs_rand(8), c->user, c->user);
        case 4:
            gs_hdr(l, 85, c->host);
            return gs_msg(l, "su[%u]: FAILED SU (to root) %s on pts/%u", pid, c->user, gs_rand(8));
        case 5:
            gs_hdr(l, 86, c->host);
            return gs_msg(l, "su[%u]: pam_unix(su-l:session): session opened for user root(uid=0) by %s(uid=%u)",
                          pid, c->user, 1000 + gs_rand(30));
        case 6:
            gs_hdr(l, 86, c->host);
            return gs_msg(l, "useradd[%u]: new user: name=%s%u, UID=%u, GID=%u, home=/home/%s%u, shell=/bin/bash, from=/dev/pts/%u",
                          pid, "sysupd", gs_rand(10), 1001 + gs_rand(50), 1001 + gs_rand(50), "sysupd",
                          gs_rand(10), gs_rand(8));
        case 7:
            gs_hdr(l, 86, c->host);
            return gs_msg(l, "passwd[%u]: pam_unix(passwd:chauthtok): password changed for root", pid);
        default:
            gs_hdr(l, 85, c->host);
            return gs_msg(l, "sudo[%u]: %8s : TTY=pts/%u ; PWD=/home/%s ; USER=root ; COMMAND=%s", pid,
                          c->user, gs_rand(8), c->user, GS_PICK(gs_evil_cmds));
        }
    }
    case GS_CRASH:
        gs_hdr(l, 27, c->host);
        if (c->step % 2)
            return gs_msg(l, "systemd[1]: %s.service: Main process exited, code=exited, status=%u/FAILURE",
                          c->svc, 1 + gs_rand(254));
        return gs_msg(l, "systemd[1]: %s.service: Failed with result 'exit-code'.", c->svc);
    default:
        switch (gs_rand(4)) {
        case 0:
            gs_hdr(l, 3, c->host);
            return gs_msg(l, "kernel: [%u.%06u] Out of memory: Killed process %u (%s) total-vm:%ukB, anon-rss:%ukB, file-rss:0kB, shmem-rss:0kB, UID:%u",
                          gs_rand(2000000), gs_rand(1000000), pid,
                          (const char *[]){"java", "mysqld", "postgres", "node"}[gs_rand(4)],
                          1000000 + gs_rand(9000000), 500000 + gs_rand(4000000), 100 + gs_rand(900));
        case 1:
            gs_hdr(l, 2, c->host);
            return gs_msg(l, "kernel: [%u.%06u] EXT4-fs error (device sd%c%u): ext4_find_entry:%u: inode #%u: comm %s: reading directory lblock 0",
                          gs_rand(2000000), gs_rand(1000000), 'a' + gs_rand(3), 1 + gs_rand(3),
                          1400 + gs_rand(200), gs_rand(9000000), "rsync");
        case 2:
            gs_hdr(l, 5, c->host);
            return gs_msg(l, "kernel: [%u.%06u] audit: type=1400 audit(%u.%03u:%u): apparmor=\"DENIED\" operation=\"open\" "
                             "profile=\"/usr/sbin/nginx\" name=\"/etc/shadow\" pid=%u comm=\"nginx\" requested_mask=\"r\" denied_mask=\"r\"",
                          gs_rand(2000000), gs_rand(1000000), 1717200000 + gs_rand(10000), gs_rand(1000),
                          gs_rand(100000), pid);
        default:
            gs_hdr(l, 5, c->host);
            return gs_msg(l, "kernel: [%u.%06u] audit: type=1400 audit(%u.%03u:%u): apparmor=\"DENIED\" operation=\"open\" "
                             "profile=\"/usr/bin/python3\" name=\"/etc/ssl/private/server.key\" pid=%u comm=\"python3\"",
                          gs_rand(2000000), gs_rand(1000000), 1717200000 + gs_rand(10000), gs_rand(1000),
                          gs_rand(100000), pid);
        }
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vigil-genstream [-n LINES] [-s SEED] [-r RATE] [-a PERMILLE] [-o FILE] [-v]\n"
            "  Writes LINES (default 1000000) RFC 3164 syslog lines of about 200 bytes: a mixed\n"
            "  background (sshd, sudo, kernel UFW, nginx, cron, systemd, postfix, ...) with attack\n"
            "  campaigns interleaved (PERMILLE of the lines, default 40). Event time starts at\n"
            "  2024-06-01 00:00:00 UTC and advances RATE lines per second (default 200). The same\n"
            "  SEED (default 42) gives the same stream. -v: a summary on stderr.\n");
}

int main(int argc, char **argv)
{
    uint64_t nlines = 1000000, seed = 42;
    unsigned rate = 200, attack = 40;
    const char *out = NULL;
    int opt, verbose = 0;
    while ((opt = getopt(argc, argv, "n:s:r:a:o:vh")) != -1) {
        switch (opt) {
        case 'n':
            nlines = strtoull(optarg, NULL, 10);
            break;
        case 's':
            seed = strtoull(optarg, NULL, 10);
            break;
        case 'r':
            rate = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'a':
            attack = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'o':
            out = optarg;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 64;
        }
    }
    if (nlines == 0 || nlines > 1000000000ull || rate == 0 || attack > 1000 || optind != argc) {
        usage(stderr);
        return 64;
    }
    FILE *f = out ? fopen(out, "w") : stdout;
    if (!f) {
        perror(out);
        return 1;
    }
    static char obuf[1 << 20];
    setvbuf(f, obuf, _IOFBF, sizeof(obuf));
    gs_rng = seed;
    char buf[GS_LINE_MAX];
    gs_line l = {.p = buf, .cap = sizeof(buf)};
    gs_camp camps[GS_MAX_CAMPAIGNS];
    int ncamp = 0;
    uint64_t bytes = 0, attack_lines = 0, started[GS_NKINDS] = {0};
    int64_t last_t = -1;
    for (uint64_t i = 0; i < nlines; i++) {
        l.t = 1717200000 + (int64_t)(i / rate);
        if (l.t != last_t) {
            time_t t = (time_t)l.t;
            gmtime_r(&t, &l.tm);
            snprintf(l.ts, sizeof(l.ts), "%s %2d %02d:%02d:%02d", gs_mon[l.tm.tm_mon], l.tm.tm_mday,
                     l.tm.tm_hour, l.tm.tm_min, l.tm.tm_sec);
            last_t = l.t;
        }
        l.pid = 300 + gs_rand(60000);
        int n;
        if (gs_rand(1000) < attack) {
            if (ncamp == 0 || (ncamp < GS_MAX_CAMPAIGNS && gs_rand(40) == 0)) {
                gs_camp_start(&camps[ncamp]);
                started[camps[ncamp].kind]++;
                ncamp++;
            }
            int c = (int)gs_rand((unsigned)ncamp);
            n = gs_camp_line(&l, &camps[c]);
            if (camps[c].left == 0)
                camps[c] = camps[--ncamp];
            attack_lines++;
        } else {
            n = gs_background(&l);
        }
        if (fwrite(buf, 1, (size_t)n, f) != (size_t)n) {
            perror(out ? out : "stdout");
            return 1;
        }
        bytes += (uint64_t)n;
    }
    if (fflush(f) != 0 || (out && fclose(f) != 0)) {
        perror(out ? out : "stdout");
        return 1;
    }
    if (verbose) {
        fprintf(stderr, "genstream lines=%llu bytes=%llu avg_line=%.1f attack_lines=%llu (%.1f%%) seed=%llu rate=%u/s span=%llus\n",
                (unsigned long long)nlines, (unsigned long long)bytes, (double)bytes / (double)nlines,
                (unsigned long long)attack_lines, 100.0 * (double)attack_lines / (double)nlines,
                (unsigned long long)seed, rate, (unsigned long long)(nlines / rate));
        fprintf(stderr, "campaigns:");
        for (int k = 0; k < GS_NKINDS; k++)
            fprintf(stderr, " %s=%llu", gs_kind_names[k], (unsigned long long)started[k]);
        fprintf(stderr, "\n");
    }
    return 0;
}
