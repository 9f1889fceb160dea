#!/bin/sh
# Cross-checks the CEF and LEEF lines of lib/cef.c against two independent
# implementations. Usage: cef_check.sh FILE (FILE as cef_check.py reads it).
#
# 1. cef_check.py, always: a strict CEF/LEEF parser and a model of
#    docs/cef-leef.md, written apart from lib/cef.c.
# 2. syslog-ng's own CEF formatter, $(format-cef-extension), when a
#    syslog-ng 3.x is found: under $VG_SYSLOG_NG_ROOT, a directory the Debian
#    packages syslog-ng-core and libivykis0 were unpacked into with
#    `apt-get download` + `dpkg-deb -x` (the package conflicts with rsyslog,
#    so it is not installed), or else syslog-ng on PATH. syslog-ng is given
#    the decoded extension of every CEF line (as JSON) and must write that
#    line's extension back byte for byte, keys sorted as it sorts them.
#    Without syslog-ng this part is skipped with a note.
#
# Exit status 0 when both agree with lib/cef.c. Runs syslog-ng in the
# foreground on a temp dir and stops it by its PID.
set -eu

[ $# -eq 1 ] || { echo "usage: $0 FILE" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vg-cefcheck-XXXXXX")
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

python3 "$here/cef_check.py" --syslog-ng "$tmp/sng" "$1" || exit 1

if [ -n "${VG_SYSLOG_NG_ROOT:-}" ]; then
    r=$VG_SYSLOG_NG_ROOT
    bin=$r/usr/sbin/syslog-ng
    modules=$(ls -d "$r"/usr/lib/syslog-ng/3.* 2>/dev/null | head -n 1)
    libs=$r/usr/lib/syslog-ng
    for d in "$r"/usr/lib/*-linux-gnu "$r"/lib/*-linux-gnu; do [ -d "$d" ] && libs=$libs:$d; done
    LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export LD_LIBRARY_PATH
elif command -v syslog-ng >/dev/null 2>&1; then
    bin=syslog-ng
    modules=
else
    echo "cef_check.sh: no syslog-ng (set VG_SYSLOG_NG_ROOT): formatter cross-check skipped"
    exit 0
fi

n=$(wc -l < "$tmp/sng.expected")
[ "$n" -gt 0 ] || { echo "cef_check.sh: no CEF line for syslog-ng"; exit 0; }
cfgver=$("$bin" --version | sed -n 's/^Config version: *//p')
cat > "$tmp/sng.conf" <<EOF
@version: $cfgver
options { stats_freq(0); log_msg_size(1048576); };
source s { file("$tmp/sng.json" flags(no-parse) follow-freq(1)); };
parser p { json-parser(prefix(".cef.")); };
destination d { file("$tmp/sng.out" template("\$(format-cef-extension --subkeys .cef.)\n")); };
log { source(s); parser(p); destination(d); };
EOF
"$bin" -F --no-caps -f "$tmp/sng.conf" ${modules:+--module-path="$modules"} \
    -R "$tmp/persist" -p "$tmp/pid" -c "$tmp/ctl" > "$tmp/sng.log" 2>&1 &
pid=$!
i=0
while [ "$(cat "$tmp/sng.out" 2>/dev/null | wc -l)" -lt "$n" ] && [ $i -lt 300 ]; do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
done
if cmp -s "$tmp/sng.out" "$tmp/sng.expected"; then
    echo "cef_check.sh: syslog-ng $("$bin" --version | sed -n 's/^Installer-Version: *//p')" \
        "format-cef-extension agrees on $n CEF extensions"
    exit 0
fi
echo "cef_check.sh: syslog-ng format-cef-extension disagrees (< syslog-ng, > lib/cef.c):"
diff "$tmp/sng.out" "$tmp/sng.expected" | head -n 20 || true
sed -n 1,20p "$tmp/sng.log"
exit 1
