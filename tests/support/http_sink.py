#!/usr/bin/env python3
"""A small HTTP server that plays Elasticsearch _bulk, Splunk HEC and a webhook
for the shipper's tests (tests/integration/test_ship_http.c). Standard library
only.

  http_sink.py --port-file F --store S.jsonl --log R.jsonl [--port N]
               [--faults 'LINE;LINE...'] [--control FILE]
               [--hec-token T] [--hook-token T] [--tls-cert C --tls-key K]
               [--tls12-ciphers OPENSSL-CIPHER-STRING] [--rcvbuf BYTES]

--tls12-ciphers makes the HTTPS server an older one: TLS 1.2 at most, with
these suites alone (e.g. AES128-SHA).

Endpoints (POST):
  .../_bulk                  Elasticsearch: 'create' actions, an idempotent store
                             keyed by (index, _id): an id already stored is
                             answered 409 version_conflict_engine_exception.
  /services/collector/event  Splunk HEC: "Authorization: Splunk <hec-token>";
                             concatenated event objects.
  /hook                      webhook: one JSON object {"text", "alert"};
                             "Authorization: Bearer <hook-token>" when set.

Every document accepted is appended to the store file, one JSON object a line,
"kind" and "id" first: {"kind":"es","id":..,"index":..,"doc":..},
{"kind":"hec","id":..,"time":..,...,"event":..}, {"kind":"hook","id":..,"body":"<raw>"}; a webhook's exact body also goes to
STORE.raw, one a line.
Every request is appended to the log file: {"n","endpoint","items","status",
"fault","stored":[ids],"dup":[ids],"refused":{id: status},"query","t","bytes"} ("query":
what followed '?' in the request's path; "t": when the request arrived, in seconds;
"bytes": its Content-Length).

Faults: a queue of lines, each consumed by one request; a line may start with
an endpoint ("es", "hec", "hook") and then waits for a request to that one.
Lines come from --faults (';'-separated) and from the --control file, which is
read, appended and removed at every request (write it with a rename).
  503 | 429 | 403 | 413 | 400 ...   answer the whole request with that status;
                                    "429 ra=2": with the header Retry-After: 2
  items 2=429 3=400                 _bulk: errors:true, these items (1-based) refused
                                    (429 es_rejected_execution_exception, 400
                                    mapper_parsing_exception, 5xx); the others stored;
                                    "*=429": every item. A status may name the error
                                    (ES_KIND): "2=403:ro", "*=429:flood" (the disk
                                    flood-stage block), "3=400:closed", "4=404:nf"
  403:ro, 429:flood ...             the whole request refused with that error
  hec-bad K                         HEC: events before K (0-based) indexed, 400 code 6
                                    invalid-event-number K (what Splunk does)
  hec-code C                        HEC: 400 with code C, nothing indexed (7: incorrect
                                    index, a configuration error)
  stall MS                          store normally, then wait MS before answering
  slow BPS                          read the body at BPS bytes a second (a thin link or a
                                    busy server), then answer normally; with --rcvbuf
                                    small, the client sees its bytes acknowledged slowly
  slow-over BYTES BPS               the same, for the next request whose body is larger
                                    than BYTES (smaller ones pass it by and take the
                                    lines after it): a link too thin for a whole batch
  pass                              answer normally (to skip requests)
  close                             read the request, close without answering
  reset                             read the request, then reset the connection (RST, as a
                                    server killed or a proxy giving up)
--es-poison TEXT: every _bulk item whose document holds TEXT is refused with an item
500 (internal_server_error), every time, the others of its request stored: a document
an ingest pipeline throws on. It takes no fault.
--max-body N: a request whose body is larger than N bytes is answered 413 (a chat
service's limit on a webhook's body), whatever the faults say; it takes no fault.
The port actually bound is written to --port-file once listening.
"""
import argparse
import http.server
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time

LOCK = threading.Lock()
STATE = {"n": 0, "faults": [], "es": set()}
ARGS = None


def log_line(path, obj):
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(obj) + "\n")
        f.flush()


def take_fault(endpoint, size):
    """The next fault for this endpoint and a body of size bytes, after
    merging the control file."""
    if ARGS.control and os.path.exists(ARGS.control):
        try:
            with open(ARGS.control, encoding="utf-8") as f:
                STATE["faults"] += [l.strip() for l in f if l.strip()]
            os.unlink(ARGS.control)
        except OSError:
            pass
    for i, line in enumerate(STATE["faults"]):
        word = line.split()[0]
        if word in ("es", "hec", "hook"):
            if word != endpoint:
                continue
            line = line[len(word):].strip()
        if line.startswith("slow-over ") and size <= int(line.split()[1]):
            continue  # waits for a larger request
        del STATE["faults"][i]
        return line
    return ""


ES_ERR = {
    400: ("mapper_parsing_exception", "failed to parse field [event.severity] of type [long]"),
    403: ("security_exception", "action [indices:data/write/bulk[s]] is unauthorized for user [vigil]"),
    429: ("es_rejected_execution_exception", "rejected execution of coordinating operation"),
    500: ("internal_server_error", "injected"),
    503: ("unavailable_shards_exception", "primary shard is not active"),
}
# Errors that are the cluster's state, what Elasticsearch says (7.x, 8.x).
ES_KIND = {
    "ro": ("cluster_block_exception",
           "index [vigil-alerts] blocked by: [FORBIDDEN/12/index read-only / allow delete (api)];"),
    "flood": ("cluster_block_exception",
              "index [vigil-alerts] blocked by: [TOO_MANY_REQUESTS/12/disk usage exceeded "
              "flood-stage watermark, index has read-only-allow-delete block];"),
    "closed": ("index_closed_exception", "closed"),
    "nf": ("index_not_found_exception", "no such index [vigil-alerts]"),
}


def es_error(spec):
    """(status, type, reason) of a fault's "STATUS" or "STATUS:KIND"."""
    st, _, kind = spec.partition(":")
    st = int(st)
    t, r = ES_KIND[kind] if kind else ES_ERR.get(st, ("injected", "injected"))
    return st, t, r


HEC_ERR = {
    400: (6, "Invalid data format"),
    401: (2, "Token is required"),
    403: (4, "Invalid token"),
    413: (6, "Content too large"),
    429: (9, "Server is busy"),
    500: (8, "Internal server error"),
    503: (9, "Server is busy"),
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real server
    # The headers and the body of an answer are two writes: with Nagle's algorithm the body
    # waited for the client's delayed ACK of the headers, 40 ms an answer (a webhook output,
    # one alert a request, got 22 alerts a second through).
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        sys.stderr.write("sink: " + (fmt % args) + "\n")

    def reply(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self, n, fault):
        if not (fault and fault[0] == "slow"):
            return self.rfile.read(n)
        bps, parts = int(fault[1]), []
        while n > 0:  # 20 reads a second
            part = self.rfile.read(min(n, max(1, bps // 20)))
            if not part:
                break
            parts.append(part)
            n -= len(part)
            time.sleep(len(part) / bps)
        return b"".join(parts)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        path = self.path.split("?")[0]
        if path.endswith("/_bulk"):
            endpoint = "es"
        elif path.startswith("/services/collector"):
            endpoint = "hec"
        elif path == "/hook":
            endpoint = "hook"
        else:
            self.rfile.read(n)
            self.reply(404, {"error": "no such endpoint " + path})
            return
        with LOCK:
            STATE["n"] += 1
            rec = {"n": STATE["n"], "endpoint": endpoint, "items": 0, "status": 0,
                   "fault": "" if ARGS.max_body and n > ARGS.max_body else take_fault(endpoint, n),
                   "stored": [], "dup": [], "refused": {},
                   "query": self.path.partition("?")[2], "t": round(time.time(), 3)}
        rec["bytes"] = n
        fault = rec["fault"].split()
        if fault and fault[0] == "slow-over":
            fault = ["slow"] + fault[2:]
        try:
            body = self.read_body(n, fault)
        except (BrokenPipeError, ConnectionResetError):
            rec["client_gone"] = True
            log_line(ARGS.log, rec)
            return
        if len(body) < n:  # the client gave up (a timeout) before sending it all
            rec["client_gone"] = True
            log_line(ARGS.log, rec)
            self.close_connection = True
            return
        rec["read_s"] = round(time.time() - rec["t"], 3)
        stall = 0
        try:
            if ARGS.max_body and n > ARGS.max_body:  # a server's own limit, before any fault
                rec["status"] = 413
                self.reply(413, {"error": "request body larger than %d bytes" % ARGS.max_body})
                return
            if fault and fault[0] == "close":
                rec["status"] = -1
                self.close_connection = True
                return
            if fault and fault[0] == "reset":
                rec["status"] = -1
                self.close_connection = True
                # SO_LINGER 0: the close sends a reset, not a FIN; closed here, as the
                # server's own close shuts the socket for writing (a FIN) first
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                os.close(self.connection.detach())
                return
            if fault and fault[0].partition(":")[0].isdigit():
                status = int(fault[0].partition(":")[0])
                rec["status"] = status
                hdrs = [("Retry-After", f[3:]) for f in fault[1:] if f.startswith("ra=")]
                if endpoint == "es":
                    t, r = (es_error(fault[0])[1:] if ":" in fault[0]
                            else ES_ERR.get(status, ("injected", "injected fault")))
                    self.reply(status, {"error": {"type": t, "reason": r}, "status": status},
                               hdrs)
                elif endpoint == "hec":
                    c, t = HEC_ERR.get(status, (8, "Injected"))
                    self.reply(status, {"text": t, "code": c}, hdrs)
                else:
                    self.reply(status, {"error": "injected %d" % status}, hdrs)
                return
            if fault and fault[0] == "hec-code" and endpoint == "hec":
                rec["status"] = 400
                self.reply(400, {"text": "Incorrect index", "code": int(fault[1])})
                return
            if fault and fault[0] == "stall":
                stall = int(fault[1]) / 1000.0
            status, obj = getattr(self, "do_" + endpoint)(body, fault, rec)
            rec["status"] = status
            if stall:
                log_line(ARGS.log, dict(rec, stalling=True))
                time.sleep(stall)
            self.reply(status, obj)
        except (BrokenPipeError, ConnectionResetError):
            rec["client_gone"] = True
        finally:
            log_line(ARGS.log, rec)

    # -- Elasticsearch _bulk ------------------------------------------------
    def do_es(self, body, fault, rec):
        refuse = {}
        if fault and fault[0] == "items":
            for kv in fault[1:]:
                k, v = kv.split("=")
                refuse[0 if k == "*" else int(k)] = es_error(v)
        lines = body.decode("utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if len(lines) % 2:
            return 400, {"error": {"type": "illegal_argument_exception",
                                   "reason": "The bulk request must be terminated by a newline"},
                         "status": 400}
        items, errors = [], False
        for i in range(0, len(lines), 2):
            try:
                action = json.loads(lines[i])
                meta = action["create"]
            except (ValueError, KeyError, TypeError):
                return 400, {"error": {"type": "illegal_argument_exception",
                                       "reason": "Malformed action/metadata line [%d]" % (i + 1)},
                             "status": 400}
            ix, _id = meta.get("_index"), meta.get("_id")
            pos = i // 2 + 1
            rec["items"] += 1
            err = refuse.get(pos, refuse.get(0))
            st = err[0] if err else None
            if st is None and ARGS.es_poison and ARGS.es_poison in lines[i + 1]:
                st = 500
            doc = None
            if st is None:
                try:
                    doc = json.loads(lines[i + 1])
                except ValueError:
                    st = 400
            if st is None:
                with LOCK:
                    if (ix, _id) in STATE["es"]:
                        st = 409
                    else:
                        STATE["es"].add((ix, _id))
                        log_line(ARGS.store, {"kind": "es", "id": _id, "index": ix, "doc": doc})
                        st = 201
            res = {"_index": ix, "_id": _id, "status": st}
            if st == 201:
                res.update({"_version": 1, "result": "created"})
                rec["stored"].append(_id)
            elif st == 409:
                errors = True
                res["error"] = {"type": "version_conflict_engine_exception",
                                "reason": "[%s]: version conflict, document already exists "
                                          "(current version [1])" % _id}
                rec["dup"].append(_id)
            else:
                errors = True
                t, r = err[1:] if err else ES_ERR.get(st, ("injected", "injected"))
                res["error"] = {"type": t, "reason": r}
                rec["refused"][_id] = st
            items.append({"create": res})
        return 200, {"took": 1, "errors": errors, "items": items}

    # -- Splunk HEC ---------------------------------------------------------
    def do_hec(self, body, fault, rec):
        auth = self.headers.get("Authorization", "")
        if not auth:
            return 401, {"text": "Token is required", "code": 2}
        if auth != "Splunk " + (ARGS.hec_token or ""):
            return 403, {"text": "Invalid token", "code": 4}
        bad = int(fault[1]) if fault and fault[0] == "hec-bad" else -1
        text, dec, pos, k = body.decode("utf-8"), json.JSONDecoder(), 0, 0
        while True:
            while pos < len(text) and text[pos] in " \t\r\n":
                pos += 1
            if pos >= len(text):
                break
            try:
                ev, pos = dec.raw_decode(text, pos)
            except ValueError:
                return 400, {"text": "Invalid data format", "code": 6, "invalid-event-number": k}
            if not isinstance(ev, dict) or "event" not in ev:
                return 400, {"text": "Event field is required", "code": 12,
                             "invalid-event-number": k}
            if k == bad:
                rec["refused"][str(ev["event"].get("event", {}).get("id"))] = 400
                return 400, {"text": "Invalid data format", "code": 6, "invalid-event-number": k}
            _id = ev["event"].get("event", {}).get("id")
            line = {"kind": "hec", "id": _id}
            line.update(ev)
            with LOCK:
                log_line(ARGS.store, line)
            rec["stored"].append(_id)
            rec["items"] += 1
            k += 1
        if k == 0:
            return 400, {"text": "No data", "code": 5}
        return 200, {"text": "Success", "code": 0}

    # -- webhook ------------------------------------------------------------
    def do_hook(self, body, fault, rec):
        if ARGS.hook_token and self.headers.get("Authorization") != "Bearer " + ARGS.hook_token:
            return 401, {"error": "bad token"}
        try:
            obj = json.loads(body.decode("utf-8"))
            _id = obj["alert"]["event"]["id"]
            str(obj["text"])
        except (ValueError, KeyError, TypeError):
            return 400, {"error": "not a vigil webhook body"}
        with LOCK:
            log_line(ARGS.store, {"kind": "hook", "id": _id,
                                  "auth": self.headers.get("Authorization", ""),
                                  "body": body.decode("utf-8")})
            with open(ARGS.store + ".raw", "ab") as f:  # the exact bytes, one body a line
                f.write(body + b"\n")
        rec["items"] = 1
        rec["stored"].append(_id)
        return 200, {"ok": True}


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--faults", default="")
    ap.add_argument("--control")
    ap.add_argument("--hec-token")
    ap.add_argument("--hook-token")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--tls12-ciphers")
    ap.add_argument("--rcvbuf", type=int, default=0)
    ap.add_argument("--max-body", type=int, default=0)
    ap.add_argument("--es-poison", default="")
    ARGS = ap.parse_args()
    STATE["faults"] = [f.strip() for f in ARGS.faults.split(";") if f.strip()]
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler,
                                          bind_and_activate=False)
    if ARGS.rcvbuf:  # before listen(): accepted sockets inherit it, window included
        srv.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, ARGS.rcvbuf)
    srv.server_bind()
    srv.server_activate()
    srv.daemon_threads = True
    if ARGS.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.tls_cert, ARGS.tls_key)
        if ARGS.tls12_ciphers:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers(ARGS.tls12_ciphers)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, ARGS.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
