#!/usr/bin/env python3
"""Independent cross-check of Vigil's CEF and LEEF 2.0 lines (lib/cef.c).

Usage: cef_check.py [--syslog-ng PREFIX] FILE

FILE holds records of two lines each:
  1. a JSON object: {"format": "cef"|"leef", "delim": "\\t" (LEEF only),
     "version": HEX, "alert": {...}} where every string of the alert is
     given as the hex of its raw bytes (null = absent), so that any bytes,
     invalid UTF-8 and NULs included, reach this script unchanged;
  2. the line lib/cef.c made from that alert, raw bytes.

For each record this script
  * parses the line with its own strict parser, written from the format
    specs and not from lib/cef.c: CEF header split on unescaped '|' with
    only \\\\ and \\| allowed, extension keys found as ' key=' before an
    unescaped '=', only \\\\ \\= \\n \\r allowed in values, every '='
    in a value escaped, no raw CR or LF, strict UTF-8, no duplicate key;
    LEEF: 'LEEF:2.0|', the delimiter field (a character, or xHH / 0xHH),
    attributes split on the delimiter, key before the first '=';
  * computes, from the raw alert, the fields docs/cef-leef.md says the
    receiver must decode (its mapping, defaults, replacements and bounds,
    with Python's own UTF-8 decoder and ipaddress module);
  * compares the two and prints every difference as "MISMATCH ...".
Exit status 0 when every record matches, 1 otherwise.

With --syslog-ng PREFIX it also writes, for each CEF line, the decoded
extension as JSON to PREFIX.json and the line's own extension tokens sorted
by key to PREFIX.expected: cef_check.sh feeds the first to syslog-ng's
$(format-cef-extension) and compares its output with the second.
"""
import datetime
import ipaddress
import json
import re
import sys

MAPPED = ["src_ip", "src_port", "dst_ip", "dst_port", "user", "target_user"]
INT32_MAX = 2**31 - 1


class Bad(Exception):
    pass


# ---- the documented value rules ---------------------------------------------

def chars(raw):
    """Characters of raw bytes: valid UTF-8 as decoded, each other byte U+FFFD."""
    out, i = [], 0
    while i < len(raw):
        if raw[i] < 0x80:
            out.append(chr(raw[i]))
            i += 1
            continue
        for n in (2, 3, 4):
            try:
                ch = raw[i:i + n].decode("utf-8")
            except UnicodeDecodeError:
                continue
            if len(ch) == 1:
                out.append(ch)
                i += n
                break
        else:
            out.append("\ufffd")
            i += 1
    return out


def clean(raw, kind, delim=None):
    """The value a receiver decodes, before any bound (docs/cef-leef.md)."""
    out = []
    for c in chars(raw):
        if kind == "cef-hdr" and c in "\r\n":
            c = " "
        elif kind == "leef-hdr" and c in "|\r\n":
            c = " "
        elif kind == "leef" and (c == delim or c in "\r\n"):
            c = " "
        elif ord(c) < 0x20 and c != "\t" and not (kind == "cef" and c in "\r\n"):
            c = "\ufffd"
        out.append(c)
    return out


def bound(cs, limit, extra=lambda c: 0):
    """Whole characters while the UTF-8 length stays within limit."""
    out, used = [], 0
    for c in cs:
        n = len(c.encode("utf-8")) + extra(c)
        if used + n > limit:
            break
        out.append(c)
        used += n
    return "".join(out)


def is_ip(raw):
    if raw is None or not 0 < len(raw) < 64:
        return False
    try:
        s = raw.decode("ascii")
    except UnicodeDecodeError:
        return False
    if "%" in s:  # scoped IPv6: inet_pton() refuses it
        return False
    try:
        ipaddress.ip_address(s)
    except ValueError:
        return False
    return True


def is_port(raw):
    return raw is not None and re.fullmatch(rb"[0-9]{1,5}", raw) is not None and int(raw) <= 65535


def sender_ip(raw):
    if raw is None:
        return None
    if is_ip(raw):
        return raw
    m = re.fullmatch(rb"(.+):([0-9]*)", raw, re.S)
    if not m or not is_port(m.group(2)):
        return None
    a = m.group(1)
    if len(a) >= 2 and a[:1] == b"[" and a[-1:] == b"]":
        a = a[1:-1]
        return a if b":" in a and is_ip(a) else None
    return a if b":" not in a and is_ip(a) else None


def split_captures(fields):
    """(mapped name -> raw value, [(name, value)] of the rest), as ECS does."""
    got, rest = {}, []
    for k, v in fields:
        ok = k in (n.encode() for n in MAPPED) and k.decode() not in got and len(v) > 0
        if ok and k in (b"src_ip", b"dst_ip"):
            ok = is_ip(v)
        elif ok and k in (b"src_port", b"dst_port"):
            ok = is_port(v)
            if ok:
                v = str(int(v)).encode()  # the integer, as ECS writes it: 022 is 22
        if ok:
            got[k.decode()] = v
        else:
            rest.append((k, v))
    return got, rest


def severity(level):
    level = max(0, min(15, level))
    return int(level * 10 / 15 + 0.5)


def ms(us):
    return us // 1000


def nonempty(raw):
    return raw is not None and len(raw) > 0


def h(x):
    return None if x is None else bytes.fromhex(x)


def load_alert(a):
    al = {k: (h(v) if isinstance(v, str) or v is None else v) for k, v in a.items()
          if k not in ("fields", "tags")}
    al["fields"] = [(h(k), h(v)) for k, v in a["fields"]]
    al["tags"] = [h(t) for t in a["tags"]]
    return al


# ---- expected fields ---------------------------------------------------------

def expect_cef(rec):
    al = load_alert(rec["alert"])
    ver = h(rec["version"]) or b""
    name = al["rule_name"] if nonempty(al["rule_name"]) else (al["rule_id"] or b"")
    header = ["0", "Vigil", "vigil", bound(clean(ver, "cef-hdr"), 31),
              bound(clean(al["rule_id"] or b"", "cef-hdr"), 1023),
              bound(clean(name, "cef-hdr"), 512), str(severity(al["level"]))]
    ext = {}

    def put(key, raw, limit):
        if nonempty(raw):
            ext[key] = bound(clean(raw, "cef"), limit)

    ext["rt"] = str(ms(al["ts_us"]))
    ext["start"] = str(ms(al["first_us"] or al["ts_us"]))
    ext["end"] = str(ms(al["ts_us"]))
    got, rest = split_captures(al["fields"])
    put("src", got.get("src_ip"), 64)
    put("spt", got.get("src_port"), 64)
    put("dst", got.get("dst_ip"), 64)
    put("dpt", got.get("dst_port"), 64)
    put("suser", got.get("user"), 1023)
    put("duser", got.get("target_user"), 1023)
    put("dvchost", al["host"], 100)
    put("dvc", sender_ip(al["src"]), 64)
    ext["cnt"] = str(min(al["count"], INT32_MAX))
    put("msg", al["message"], 1023)
    for n, label, raw, default in ((1, "rule.kind", al["kind"], b"match"),
                                   (2, "agency", al["agency"], b"unknown"),
                                   (3, "site", al["site"], b"unknown")):
        ext["cs%dLabel" % n] = label
        put("cs%d" % n, raw if nonempty(raw) else default, 4000)
    # lists: whole elements while the decoded list (inner escapes counted)
    # stays within 4000 bytes
    tags, used = [], 0
    for t in (t for t in al["tags"] if t):  # empty tags are left out
        cs = clean(t, "cef")
        n = len("".join(cs).encode()) + sum(c in "\\," for c in cs) + (1 if tags else 0)
        if used + n > 4000:
            break
        tags.append("".join(cs))
        used += n
    if tags:
        ext["cs4Label"] = "tags"
        ext["cs4"] = tags
    if nonempty(al["id"]):
        ext["cs5Label"] = "alert.id"
        put("cs5", al["id"], 4000)
    pairs, used = [], 0
    for k, v in rest:
        ck, cv = clean(k, "cef"), clean(v, "cef")
        n = (len("".join(ck).encode()) + sum(c in "\\;=" for c in ck) + 1 +
             len("".join(cv).encode()) + sum(c in "\\;" for c in cv) + (1 if pairs else 0))
        if used + n > 4000:
            break
        pairs.append(["".join(ck), "".join(cv)])
        used += n
    if pairs:
        ext["cs6Label"] = "fields"
        ext["cs6"] = pairs
    put("deviceProcessName", al["app"], 1023)
    put("externalId", al["id"], 40)
    return header, ext


def leef_time(us):
    t = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=us)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d+0000" % (t.microsecond // 1000)


def expect_leef(rec):
    al = load_alert(rec["alert"])
    d = rec["delim"]
    ver = h(rec["version"]) or b""
    header = ["LEEF:2.0", "Vigil", "vigil", bound(clean(ver, "leef-hdr"), 31),
              bound(clean(al["rule_id"] or b"", "leef-hdr"), 1023)]
    attrs = {}

    def put(key, raw):
        if nonempty(raw):
            attrs[key] = bound(clean(raw, "leef", d), 1023)

    attrs["devTime"] = leef_time(al["ts_us"])
    attrs["devTimeFormat"] = "yyyy-MM-dd'T'HH:mm:ss.SSSZ"
    got, rest = split_captures(al["fields"])
    put("src", got.get("src_ip"))
    put("srcPort", got.get("src_port"))
    put("dst", got.get("dst_ip"))
    put("dstPort", got.get("dst_port"))
    put("usrName", got.get("user"))
    attrs["sev"] = str(max(1, severity(al["level"])))
    put("cat", al["kind"] if nonempty(al["kind"]) else b"match")
    put("identHostName", al["host"])
    put("targetUsrName", got.get("target_user"))
    put("sender", al["src"])
    attrs["count"] = str(al["count"])
    attrs["startTime"] = leef_time(al["first_us"] or al["ts_us"])
    put("ruleName", al["rule_name"])
    put("msg", al["message"])
    put("agency", al["agency"] if nonempty(al["agency"]) else b"unknown")
    put("site", al["site"] if nonempty(al["site"]) else b"unknown")
    tags, used = [], 0
    for t in (t for t in al["tags"] if t):
        s = "".join(clean(t, "leef", d))
        n = len(s.encode()) + (1 if tags else 0)
        if used + n > 1023:
            break
        tags.append(s)
        used += n
    if tags:
        attrs["tags"] = ",".join(tags)
    put("alertId", al["id"])
    put("process", al["app"])
    seen = set()
    for k, v in rest:
        if not k or not v:
            continue
        key = "field_" + re.sub(r"[^A-Za-z0-9]", "_", k[:64].decode("latin-1"))
        if key in seen:
            continue
        seen.add(key)
        put(key, v)
    delim_field = "x09" if d == "\t" else d
    return header, delim_field, attrs


# ---- strict parsers ------------------------------------------------------------

def text(line):
    if b"\r" in line or b"\n" in line:
        raise Bad("raw CR or LF in the line")
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Bad("not UTF-8: %s" % e)


def parse_cef(line):
    s = text(line)
    if not s.startswith("CEF:"):
        raise Bad("does not start with CEF:")
    fields, cur, i = [], [], 4
    while len(fields) < 7:
        if i >= len(s):
            raise Bad("header has %d fields, not 7" % len(fields))
        c = s[i]
        if c == "\\":
            if i + 1 >= len(s) or s[i + 1] not in "\\|":
                raise Bad("bad header escape at %d" % i)
            cur.append(s[i + 1])
            i += 2
        elif c == "|":
            fields.append("".join(cur))
            cur = []
            i += 1
        else:
            cur.append(c)
            i += 1
    ext = s[i:]
    key_re = re.compile(r"([A-Za-z0-9]+)=")
    m = key_re.match(ext)
    if not m:
        raise Bad("extension does not start with key=")
    pairs, key, val, i = {}, m.group(1), [], m.end()
    raw, vstart = {}, i
    unesc = {"\\": "\\", "=": "=", "n": "\n", "r": "\r"}
    while True:
        if i >= len(ext):
            c = None
        else:
            c = ext[i]
        nxt = key_re.match(ext, i + 1) if c == " " else None
        if c is None or nxt:
            if key in pairs:
                raise Bad("duplicate key %s" % key)
            if not val:
                raise Bad("empty value for %s" % key)
            pairs[key] = "".join(val)
            raw[key] = ext[vstart:i]
            if c is None:
                break
            key, val, i = nxt.group(1), [], nxt.end()
            vstart = i
        elif c == "\\":
            if i + 1 >= len(ext) or ext[i + 1] not in unesc:
                raise Bad("bad extension escape in %s at %d" % (key, i))
            val.append(unesc[ext[i + 1]])
            i += 2
        elif c == "=":
            raise Bad("unescaped '=' in the value of %s" % key)
        else:
            val.append(c)
            i += 1
    return fields, pairs, raw  # raw: each value as escaped in the line


def split_list(s, sep, allowed):
    """Splits s on unescaped sep; each element unescaped (\\x for x in allowed)."""
    out, cur, i = [], [], 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            if i + 1 >= len(s) or s[i + 1] not in allowed:
                raise Bad("bad list escape in %r" % s)
            cur.append("\\" + s[i + 1])
            i += 2
        elif c == sep:
            out.append(cur)
            cur = []
            i += 1
        else:
            cur.append(c)
            i += 1
    out.append(cur)
    return out


def unesc(parts):
    return "".join(p[1] if len(p) == 2 else p for p in parts)


def decode_tags(s):
    return [unesc(e) for e in split_list(s, ",", "\\,")]


def decode_fields(s):
    out = []
    for e in split_list(s, ";", "\\;="):
        try:
            eq = e.index("=")
        except ValueError:
            raise Bad("field without '=' in %r" % s)
        out.append([unesc(e[:eq]), unesc(e[eq + 1:])])
    return out


def parse_leef(line):
    s = text(line)
    parts = s.split("|", 6)
    if len(parts) != 7 or parts[0] != "LEEF:2.0":
        raise Bad("not a LEEF 2.0 header")
    spec = parts[5]
    if len(spec) == 1:
        d = spec
    else:
        m = re.fullmatch(r"(?:0x|x)([0-9A-Fa-f]{1,2})", spec, re.I)
        if not m:
            raise Bad("bad delimiter field %r" % spec)
        d = chr(int(m.group(1), 16))
    attrs = {}
    for a in parts[6].split(d):
        if "=" not in a:
            raise Bad("attribute without '=': %r" % a)
        k, v = a.split("=", 1)
        if not re.fullmatch(r"[A-Za-z0-9_]+", k):
            raise Bad("bad key %r" % k)
        if k in attrs:
            raise Bad("duplicate key %s" % k)
        if not v:
            raise Bad("empty value for %s" % k)
        attrs[k] = v
    return parts[:5], spec, attrs


# ---- comparison --------------------------------------------------------------------

def compare(n, what, got, exp, out):
    if got != exp:
        out.append("MISMATCH record %d %s: got %r, expected %r" % (n, what, got, exp))


def check(n, rec, line, out, sng):
    try:
        if rec["format"] == "cef":
            hdr, ext, raw = parse_cef(line)
            if sng and not any(c < " " and c not in "\r\n" for v in ext.values() for c in v):
                # syslog-ng writes TAB as \u0009, so lines with one are left out
                sng[0].write(json.dumps(ext, ensure_ascii=False).encode() + b"\n")
                sng[1].write(" ".join("%s=%s" % (k, raw[k]) for k in sorted(raw)).encode() +
                             b"\n")
            ehdr, eext = expect_cef(rec)
            compare(n, "header", hdr, ehdr, out)
            if "cs4" in ext:
                ext["cs4"] = decode_tags(ext["cs4"])
            if "cs6" in ext:
                ext["cs6"] = decode_fields(ext["cs6"])
            for k in sorted(set(ext) | set(eext)):
                compare(n, "ext " + k, ext.get(k), eext.get(k), out)
        else:
            hdr, spec, attrs = parse_leef(line)
            ehdr, espec, eattrs = expect_leef(rec)
            compare(n, "header", hdr, ehdr, out)
            compare(n, "delimiter", spec, espec, out)
            for k in sorted(set(attrs) | set(eattrs)):
                compare(n, "attr " + k, attrs.get(k), eattrs.get(k), out)
    except Bad as e:
        out.append("MISMATCH record %d: %s: %r" % (n, e, line[:300]))


def main():
    args = sys.argv[1:]
    sng = None
    if len(args) == 3 and args[0] == "--syslog-ng":
        sng = (open(args[1] + ".json", "wb"), open(args[1] + ".expected", "wb"))
        args = args[2:]
    if len(args) != 1:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    with open(args[0], "rb") as f:
        lines = f.read().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if len(lines) % 2:
        print("MISMATCH: odd number of lines (a raw LF in an output?)")
        return 1
    out, counts = [], {"cef": 0, "leef": 0}
    for n in range(len(lines) // 2):
        rec = json.loads(lines[2 * n])
        counts[rec["format"]] += 1
        check(n, rec, lines[2 * n + 1], out, sng)
    if sng:
        for f in sng:
            f.close()
    for m in out:
        print(m)
    print("cef_check: %d CEF and %d LEEF lines, %d mismatches"
          % (counts["cef"], counts["leef"], len(out)))
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main())
