#!/usr/bin/env python3
"""http_fuzz.py - random and mutated HTTP requests against a running mcmcd,
over raw sockets (curl and urllib refuse to send most of them).

Each request is built from a seeded generator: a method, a path (every
route of `mcmcd routes`, its {id} a real job or dataset id or a mutated
one), a query (repeated, huge, invalid UTF-8, bad percent-encoding, too
many arguments), headers (Host, the admin token or none or a bad one,
duplicates, huge, invalid UTF-8 in Content-Type, Content-Length against
Transfer-Encoding, bad chunk sizes such as 0xffffffffffffffff) and a body
(mutated job specs, dataset CSVs and JSON, truncated, huge numbers), sent
at once, slowly, pipelined, cut off (early close), sent whole and then
abandoned before or while the answer comes, or left unfinished.

Checks, per answer:
- every answer is JSON (an error is {"error": {"code", "message"}} with
  both non-empty strings), or one of the documented exceptions: the other
  media types of a 2xx (draws, metrics, streams), and libmicrohttpd's own
  HTML for 400, 413, 414, 431 and 505 (README, "Every error is JSON");
  0.9.75 also sends the head of some of its 400s twice, the second copy
  inside the Content-Length;
- no 500: a client cannot cause a server fault;
- a request the daemon has all of is answered within --answer-timeout;
  one left unfinished is answered or closed within the idle timeout (plus
  slack); a chunked body past max_body may be cut off by a close. One
  exception, libmicrohttpd's (0.9.75; a minimal MHD server does the
  same): a request with "Expect: 100-continue" and no body, with more
  bytes behind it (a pipelined request), gets "100 Continue" and a close
  (counted as mhd-expect-close);
- the daemon keeps accepting connections.
Prints one line per failure (the worker, the request's number, the
request and the answer, shortened), then "N requests, M failures" and a
count per status; exits 1 on any failure.

Usage: http_fuzz.py --port P --token T --routes FILE --ids FILE
       [--seed S] [--seconds N] [--workers W] [--idle-timeout S]
"""
import argparse
import json
import random
import socket
import sys
import threading
import time

# --- what to send --------------------------------------------------------------

SPEC = {
    "data": {"synthetic": {"n": 60, "d": 2, "seed": 3}},
    "sampler": {"type": "mala", "step_size": 0.1},
    "chains": 1, "num_samples": 200, "num_warmup": 20, "progress_every": 50, "key": 7,
}
DATASET_JSON = {"X": [[1, 2], [3, 4], [5, 6]], "y": [0, 1, 1]}
CSV = b"a,b,y\n0.5,1.25,1\n-1,2e-3,0\n3,4,1\n"
QUERY_NAMES = ["format", "chain", "start", "stop", "thin", "follow", "stats",
               "include_warmup", "after", "state", "page_size", "page_token", "name",
               "tag", "user", "action", "priority", "owner", "q", ""]
# the parameters each route reads (the rest come from QUERY_NAMES)
ROUTE_QUERY = {
    "/draws": ["format", "chain", "start", "stop", "thin", "follow", "stats",
               "include_warmup"],
    "/events": ["after"],
    "/v1/jobs": ["state", "page_size", "page_token", "tag", "name"],
    "/v1/audit": ["user", "action", "page_size", "page_token"],
    "/v1/datasets": ["name", "page_size", "page_token"],
}
QUERY_VALUES = ["json", "csv", "npy", "ndjson", "cmdstan", "xml", "0", "1", "-1", "2",
                "99999999999999999999", "1e3", "true", "false", "queued", "running",
                "succeeded", "failed", "cancelled", "admin", "job.delete", "", "%", "%zz",
                "%ff%fe", "%e2%82", "%00", "a%20b", "+", "\u00e9", "\U0001f600"]
ACCEPTS = ["application/json", "application/x-ndjson", "text/event-stream", "text/csv",
           "application/x-npy", "*/*", "text/*", "text/csv;profile=cmdstan",
           "application/json;q=0, text/csv;q=0.5", "application/xml", "", ";;;,,,",
           "text/event-stream;q=2", "*/*;q=0"]
CONTENT_TYPES = [b"application/json", b"text/csv", b"application/json; charset=utf-8",
                 b"text/csv; charset=latin1", b"text/\xe2\x82", b"\xff\xfe/json",
                 b"multipart/form-data; boundary=x", b"application/x-www-form-urlencoded",
                 b"", b"application/json;" + b"x" * 300, b"APPLICATION/JSON", b"text/plain"]
HUGE_NUMBERS = [10 ** 400, -10 ** 400, 2 ** 64, 2 ** 63, -2 ** 63 - 1, 1e308, 4294967296,
                429496729, 0, -1, 0.5, 1e-320]
BAD_VALUES = HUGE_NUMBERS + [None, True, "", "x" * 1000, "\ud800", [], {}, [[[]]],
                             "\u00e9\U0001f600", "NaN", "Infinity"]
METHODS = [b"GET", b"POST", b"DELETE", b"HEAD", b"PUT", b"PATCH", b"OPTIONS", b"TRACE",
           b"get", b"BR\xc3EW", b"G" * 300, b"CONNECT", b"PRI"]
VERSIONS = [b"HTTP/1.1"] * 120 + [b"HTTP/1.0"] * 5 + [b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.2", b"HTTP/0.9",
                                b"HTTP/1", b"http/1.1", b"FOO"]
STREAM_TYPES = ("application/x-ndjson", "text/event-stream")
OTHER_2XX = ("application/x-npy", "text/csv", "text/csv;profile=cmdstan",
             "text/plain; version=0.0.4")
MHD_HTML = (400, 413, 414, 431, 505)  # libmicrohttpd's own answers (README)
PAGE_TYPES = ("text/html", "text/javascript", "text/css")  # the dashboard at / and /ui/


class Request:
    """The bytes to send and what may come back."""

    def __init__(self):
        self.data = b""
        self.head = False  # HEAD: no body in the answer
        self.unfinished = False  # the daemon may wait for more (then time out)
        self.big_chunked = False  # a chunked body past max_body: a close will do
        self.mode = "whole"
        self.kind = "jobs"  # what a 201 made: its id joins the pool
        self.page = False  # a path of the dashboard: its files are not JSON


class Generator:
    def __init__(self, rng, routes, ids, token, host, max_body):
        self.r, self.routes, self.ids, self.token, self.host = rng, routes, ids, token, host
        self.max_body = max_body
        self.deep = [m_p for m_p in routes if m_p[0] == "POST" or "{id}/" in m_p[1]] * 2
        self.pattern = ""
        self._unfinished = False

    # -- pieces --
    def mutate_bytes(self, b, n=None):
        r = self.r
        b = bytearray(b)
        for _ in range(n if n is not None else r.randint(1, 4)):
            op = r.randrange(5)
            i = r.randrange(len(b) + 1)
            if op == 0 and b:
                b[min(i, len(b) - 1)] = r.randrange(256)
            elif op == 1:
                b[i:i] = bytes(r.choice([b"\xff", b"\xc3", b"\x00", b"\xe2\x82", b"9" * 40,
                                         b'"', b"{", b"]", b",", b"\r\n", b"%"]))
            elif op == 2 and b:
                del b[i:i + r.randint(1, 8)]
            elif op == 3:
                b = b[:i]
            else:
                b[i:i] = b[i:i + r.randint(1, 30)]
        return bytes(b)

    def mutate_json(self, obj):
        r = self.r
        obj = json.loads(json.dumps(obj))

        def walk(o, depth):
            if isinstance(o, dict) and o:
                k = r.choice(list(o))
                if depth > 0 and isinstance(o[k], (dict, list)) and r.random() < 0.6:
                    walk(o[k], depth - 1)
                elif r.random() < 0.2:
                    del o[k]
                elif r.random() < 0.2:
                    o[r.choice(["extra", "\u00e9", "", "key", "chains"])] = r.choice(BAD_VALUES)
                else:
                    o[k] = r.choice(BAD_VALUES)
            elif isinstance(o, list) and o:
                i = r.randrange(len(o))
                if isinstance(o[i], (dict, list)) and r.random() < 0.6:
                    walk(o[i], depth - 1)
                else:
                    o[i] = r.choice(BAD_VALUES)

        for _ in range(r.randint(1, 3)):
            walk(obj, 3)
        text = json.dumps(obj, allow_nan=True).encode("utf-8", "surrogatepass")
        if r.random() < 0.1:
            text = b"[" * 20000 + b"]" * 20000
        return text

    def real_id(self, kind):
        return self.r.choice(self.ids.get(kind) or ["0" * 24])

    def an_id(self, kind):
        r = self.r
        i = self.real_id(kind).encode()
        p = r.random()
        if p < 0.55:
            return i
        choices = [
            lambda: i[:-1] + bytes([r.choice(b"0123456789abcdef")]),
            lambda: i[:r.randrange(len(i))],
            lambda: i + b"0",
            lambda: i.upper(),
            lambda: b"\xff\xfe" + i,
            lambda: b"%ff%fe",
            lambda: b"%00",
            lambda: b"%2f..%2f",
            lambda: b"..",
            lambda: b"",
            lambda: b"x" * r.choice([100, 5000, 9000]),
            lambda: "\u00e9\U0001f600".encode(),
            lambda: b"\xe2\x82",
            lambda: i + b"/extra",
            lambda: b"%" + i,
        ]
        return r.choice(choices)()

    def path(self):
        r = self.r
        # the routes that take a body or an id get more of the requests
        method, pattern = r.choice(self.routes + self.deep)
        self.pattern = pattern
        kind = "datasets" if "datasets" in pattern else "jobs"
        p = pattern.encode().replace(b"{id}", self.an_id(kind))
        x = r.random()
        if x < 0.75:
            pass
        elif x < 0.8:
            p += b"/"
        elif x < 0.84:
            p = p.replace(b"/", b"//", 1)
        elif x < 0.87:
            p = p.upper()
        elif x < 0.9:
            p = b"http://" + self.host + p
        elif x < 0.92:
            p = b"*"
        elif x < 0.95:
            p = p.replace(b"v", b"%76", 1)
        else:
            p = self.mutate_bytes(p, 1)
        return method.encode(), p

    def query(self):
        r = self.r
        x = r.random()
        if x < 0.4:
            return b""
        if x < 0.45:  # over the argument limit: 400
            return b"?" + b"&".join([b"a=1"] * r.randint(101, 600))
        if x < 0.48:  # over the target limit: 414
            return b"?q=" + b"x" * r.randint(8000, 12000)
        parts = []
        names = next((v for k, v in ROUTE_QUERY.items() if self.pattern.endswith(k)), QUERY_NAMES)
        for _ in range(r.randint(1, 6)):
            name = r.choice(names if r.random() < 0.7 else QUERY_NAMES)
            value = r.choice(QUERY_VALUES)
            if r.random() < 0.1:
                value = "v" * r.randint(100, 3000)
            item = name.encode() + b"=" + value.encode()
            if r.random() < 0.1:
                item = name.encode()
            if r.random() < 0.08:
                item = self.mutate_bytes(item, 1)
            parts.append(item)
            if r.random() < 0.15:
                parts.append(item)  # repeated
        sep = b"&&" if r.random() < 0.05 else b"&"
        return b"?" + sep.join(parts)

    def body(self, method, path):
        """(content type, body) or (None, b'')."""
        r = self.r
        if method not in (b"POST", b"PUT", b"PATCH") and r.random() < 0.8:
            return None, b""
        x = r.random()
        if b"datasets" in path:
            if x < 0.35:
                return b"text/csv", self.mutate_bytes(CSV) if r.random() < 0.7 else CSV
            if x < 0.6:
                return b"application/json", self.mutate_json(DATASET_JSON)
            if x < 0.7:
                n = r.choice([10, 429496729, 2 ** 40, -1])
                return b"application/json", json.dumps({"synthetic": {"n": n, "d": 3}}).encode()
        else:
            if x < 0.15:
                return b"application/json", json.dumps(SPEC).encode()
            if x < 0.6:
                return b"application/json", self.mutate_json(SPEC)
            if x < 0.7:
                return b"application/json", self.mutate_bytes(json.dumps(SPEC).encode())
        if x < 0.8:
            return r.choice(CONTENT_TYPES), bytes(r.randrange(256) for _ in range(r.randint(0, 64)))
        if x < 0.85:
            return b"application/json", b'{"n": ' + b"9" * r.randint(1000, 200000) + b"}"
        if x < 0.88:  # over max_body
            return b"text/csv", b"1,2,3\n" * r.randint(200000, 400000)
        return b"application/json", b""

    def auth(self):
        r = self.r
        x = r.random()
        if x < 0.65:
            return [b"Authorization: Bearer " + self.token.encode()]
        if x < 0.85:
            return []
        return [r.choice([b"Authorization: Bearer", b"Authorization: Bearer " + b"x" * 64,
                          b"Authorization: Basic YWRtaW46YWRtaW4=",
                          b"Authorization: Bearer " + self.token.encode() + b"x",
                          b"Authorization: Bearer \xff\xfe", b"Authorization: " + b"B" * 9000,
                          b"Authorization: Bearer " + self.token.encode() +
                          b"\r\nAuthorization: Bearer x"])]

    def host_header(self):
        r = self.r
        x = r.random()
        if x < 0.88:
            return [b"Host: " + self.host]
        return [r.choice([b"Host: evil.example", b"Host: localhost", b"Host: \xff\xfe",
                          b"Host: " + self.host + b"\r\nHost: evil.example", b"Host:",
                          b"Host: [::1]:1", b"Host: " + b"h" * 3000])] if x < 0.97 else []

    def extra_headers(self):
        r = self.r
        h = []
        if r.random() < 0.3:
            h.append(b"Accept: " + r.choice(ACCEPTS).encode())
        if r.random() < 0.1:
            h.append(b"Last-Event-ID: " + r.choice([b"3", b"-1", b"x", b"99999999999999999999",
                                                    b"\xff", b"1" * 500]))
        if r.random() < 0.1:
            h.append(b"Idempotency-Key: " + r.choice([b"k1", b"k2", b"\xff\xfe", b"x" * 300, b""]))
        if r.random() < 0.05:
            h.append(b"X-Big: " + b"y" * r.choice([1000, 30000, 70000]))
        if r.random() < 0.03:
            h += [b"X-Many-%d: v" % i for i in range(r.randint(100, 2000))]
        if r.random() < 0.05:
            h.append(r.choice([b"NoColonHere", b" folded: continuation", b"X-\xff: v",
                               b": empty-name", b"X-Sp ace: v", b"X-Ctl: a\x01b"]))
        if r.random() < 0.05:
            h.append(b"Expect: 100-continue")
        return h

    # -- a whole request --
    def request(self):
        r = self.r
        q = Request()
        self._unfinished = False
        route_method, path = self.path()
        q.kind = "datasets" if b"datasets" in path else "jobs"
        # the daemon sees the path up to a NUL (libmicrohttpd hands it over as a C string)
        page = path.split(b"\x00")[0]
        q.page = page == b"/" or page.startswith(b"/ui/")
        method = route_method if r.random() < 0.8 else r.choice(METHODS)
        q.head = method == b"HEAD"
        target = path + self.query()
        ctype, body = self.body(method, path)
        version = r.choice(VERSIONS)
        headers = self.host_header() + self.auth()
        if ctype is not None:
            headers.append(b"Content-Type: " + ctype)
        headers += self.extra_headers()
        keep = r.random() < 0.1
        headers.append(b"Connection: keep-alive" if keep else b"Connection: close")
        framing = self.framing(body)
        headers += framing[0]
        q.unfinished = self._unfinished
        q.big_chunked = b"Transfer-Encoding: chunked" in framing[0] and len(body) > self.max_body
        body = framing[1]
        r.shuffle(headers)
        q.data = method + b" " + target + b" " + version + b"\r\n" + b"".join(
            x + b"\r\n" for x in headers) + b"\r\n" + body
        x = r.random()
        if x < 0.1:
            q.mode = "slow"
        elif x < 0.18:
            q.mode = "early"
        elif x < 0.22:
            q.mode = "stall"
            q.unfinished = True
        elif x < 0.27 and not q.unfinished:
            q.mode = "pipeline"
        elif x < 0.35:
            q.mode = "abandon"  # all sent, then gone before (or while) the answer comes
        return q

    def framing(self, body):
        """(headers, body bytes) for how the body is delimited."""
        r = self.r
        q_unfinished = False
        x = r.random()
        if not body and x < 0.7:
            return [], b""
        if x < 0.6:
            h, b = [b"Content-Length: %d" % len(body)], body
        elif x < 0.65:  # declares more than it sends: the daemon waits, then times out
            h, b = [b"Content-Length: %d" % (len(body) + r.randint(1, 1000))], body
            q_unfinished = True
        elif x < 0.7:
            h, b = [b"Content-Length: " + r.choice([b"-1", b"abc", b"1e3", b" 5", b"0x10",
                                                  b"99999999999999999999999", b""])], body
        elif x < 0.74:
            h, b = [b"Content-Length: %d" % len(body)] * 2, body
        elif x < 0.76:
            h, b = [b"Content-Length: %d" % len(body), b"Content-Length: 1"], body
        elif x < 0.8:
            h, b = [b"Content-Length: %d" % len(body), b"Transfer-Encoding: chunked"], \
                self.chunked(body)
        elif x < 0.92:
            h, b = [b"Transfer-Encoding: chunked"], self.chunked(body)
        elif x < 0.95:
            size = r.choice([b"ffffffffffffffff", b"10000000000000000", b"-1", b"zz", b"",
                             b"8000000000000000", b"7fffffffffffffff", b"0x10", b"1;ext=\xff"])
            h, b = [b"Transfer-Encoding: chunked"], size + b"\r\n" + body[:50]
            q_unfinished = True
        else:
            h, b = [b"Transfer-Encoding: " + r.choice([b"gzip", b"identity", b"chunked, chunked",
                                                       b"\xff"])], body
            q_unfinished = True
        self._unfinished = self._unfinished or q_unfinished
        return h, b

    def chunked(self, body):
        r = self.r
        out, i = b"", 0
        while i < len(body):
            n = r.randint(1, max(1, min(len(body) - i, 70000)))
            ext = b";x=y" if r.random() < 0.1 else b""
            out += b"%x" % n + ext + b"\r\n" + body[i:i + n] + b"\r\n"
            i += n
        if r.random() < 0.9:
            out += b"0\r\n\r\n"
        else:
            self._unfinished = True
        return out


# --- reading the answer ----------------------------------------------------------

class Answer:
    def __init__(self):
        self.status = None
        self.headers = {}
        self.body = b""
        self.raw_head = b""
        self.closed = False  # the daemon closed the connection
        self.timeout = False


class Conn:
    """A socket and what was read from it but not yet parsed."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""


def read_answer(conn, deadline, head_request):
    """Reads one answer (interim 1xx skipped: a connection closed after
    one has no answer). Streams are read for a second after their
    headers, then left."""
    a = Answer()
    sock = conn.sock
    buf = conn.buf

    def more():
        nonlocal buf
        left = deadline - time.time()
        if left <= 0:
            a.timeout = True
            return False
        sock.settimeout(left)
        try:
            b = sock.recv(65536)
        except socket.timeout:
            a.timeout = True
            return False
        except (ConnectionResetError, BrokenPipeError):
            b = b""
        if not b:
            a.closed = True
            return False
        buf += b
        return True

    while True:
        while b"\r\n\r\n" not in buf:
            if not more():
                a.raw_head = buf[:300]
                a.status = None
                return a
        head, buf = buf.split(b"\r\n\r\n", 1)
        a.raw_head = head[:300]
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        try:
            a.status = int(parts[1])
        except (IndexError, ValueError):
            a.status = -1
            return a
        a.headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            a.headers[k.strip().lower().decode("latin1")] = v.strip().decode("latin1")
        if 100 <= a.status < 200:
            continue
        break
    if head_request or a.status in (204, 304):
        conn.buf = buf
        return a
    ctype = a.headers.get("content-type", "")
    if ctype.split(";")[0] in STREAM_TYPES:
        deadline = min(deadline, time.time() + 1.0)
    if "content-length" in a.headers:
        n = int(a.headers["content-length"])
        while len(buf) < n and more():
            pass
        a.body, buf = buf[:n], buf[n:]
    elif "chunked" in a.headers.get("transfer-encoding", "").lower():
        out, done = b"", False
        while not done:
            while b"\r\n" not in buf and more():
                pass
            if b"\r\n" not in buf:
                break
            line = buf.split(b"\r\n", 1)[0]
            try:
                n = int(line.split(b";")[0], 16)
            except ValueError:
                a.status = -1  # judged: a broken answer
                break
            start = len(line) + 2
            while len(buf) < start + n + 2 and more():
                pass
            out += buf[start:start + n]
            if len(buf) < start + n + 2:
                buf = b""
                break
            buf = buf[start + n + 2:]
            done = n == 0
        a.body = out
    else:
        while more():
            pass
        a.body, buf = buf, b""
    conn.buf = buf
    if a.timeout and ctype.split(";")[0] in STREAM_TYPES:
        a.timeout = False  # a stream that goes on: answered
    return a


def judge(q, a):
    """None if the answer is fine, else why not."""
    if a.status is None:
        return None
    if a.status == -1:
        return "no status line, or a broken chunked body"
    ctype = a.headers.get("content-type", "")
    base = ctype.split(";")[0].strip().lower()
    if a.status == 500:
        return "500: a client's request made a server fault"
    if q.head or a.status in (204, 304):
        return None  # no body is read
    if a.status >= 400:
        if base == "application/json":
            try:
                e = json.loads(a.body.decode("utf-8"))["error"]
                assert isinstance(e["code"], str) and e["code"]
                assert isinstance(e["message"], str) and e["message"]
            except Exception as x:  # noqa: BLE001 - any shape error is the finding
                return "%d: not a JSON error (%s)" % (a.status, type(x).__name__)
            return None
        # libmicrohttpd's own answers carry no Content-Type; the daemon's
        # always do. (0.9.75 sends the head of some 400s twice, the second
        # copy counted in the body.)
        if a.status in MHD_HTML and (base == "text/html" or "content-type" not in a.headers):
            return None
        return "%d with Content-Type %r: not JSON" % (a.status, ctype)
    if base == "application/json":
        try:
            json.loads(a.body.decode("utf-8"))
        except Exception:  # noqa: BLE001
            return "%d: a JSON answer that does not parse" % a.status
        return None
    if base in STREAM_TYPES or ctype in OTHER_2XX or base in OTHER_2XX:
        return None
    if q.page and base in PAGE_TYPES:
        return None
    return "%d with Content-Type %r" % (a.status, ctype)


# --- sending -------------------------------------------------------------------------

class Worker(threading.Thread):
    def __init__(self, n, args, routes, ids, stop_at, report):
        super().__init__(daemon=True)
        self.n, self.args, self.stop_at, self.report = n, args, stop_at, report
        self.rng = random.Random("%s-%d" % (args.seed, n))
        host = b"127.0.0.1:%d" % args.port
        self.gen = Generator(self.rng, routes, ids, args.token, host, args.max_body)
        self.count = 0

    def connect(self):
        for _ in range(50):
            try:
                return socket.create_connection(("127.0.0.1", self.args.port), timeout=5)
            except OSError:
                time.sleep(0.1)
        return None

    def run(self):
        while time.time() < self.stop_at and not self.report.gone:
            q = self.gen.request()
            if q.unfinished and q.mode == "pipeline":
                q.mode = "whole"
            self.count += 1
            self.one(q)

    def one(self, q):
        self.report.log(self.n, self.count, q)
        s = self.connect()
        if s is None:
            self.report.fail(self.n, self.count, q, None, "the daemon refuses connections")
            self.report.gone = True
            return
        r = self.rng
        try:
            data = q.data
            if q.mode == "pipeline":
                data = data.replace(b"Connection: close", b"Connection: keep-alive") + data
            if q.mode in ("early", "abandon"):
                s.sendall(data[:r.randrange(len(data) + 1)] if q.mode == "early" else data)
                if q.mode == "abandon":
                    time.sleep(r.choice([0, 0, 0.001, 0.01, 0.05]))
                    if r.random() < 0.5:
                        s.recv(r.choice([1, 100, 4096]))
                if r.random() < 0.5:  # a reset rather than a close
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                s.close()
                return
            if q.mode == "stall":
                s.sendall(data[:r.randrange(len(data))] if data else b"")
            elif q.mode == "slow":
                cuts = sorted(r.randrange(len(data)) for _ in range(r.randint(1, 6)))
                last = 0
                for c in cuts + [len(data)]:
                    s.sendall(data[last:c])
                    last = c
                    time.sleep(r.uniform(0, 0.2))
            else:
                s.sendall(data)
        except OSError:
            pass  # the daemon may answer and close before reading everything
        limit = self.args.answer_timeout
        if q.unfinished or q.mode == "stall":
            limit = self.args.idle_timeout + 5
        conn = Conn(s)
        a = read_answer(conn, time.time() + limit, q.head)
        self.check(q, a)
        if q.mode == "pipeline" and a.status and not a.timeout and \
                a.headers.get("connection", "").lower() != "close":
            self.check(q, read_answer(conn, time.time() + limit, q.head))
        s.close()

    def check(self, q, a):
        html = a.status and "content-type" not in a.headers and a.status >= 400
        self.report.seen("%sh" % a.status if html else a.status)
        if a.status is None:
            if a.timeout:
                self.report.fail(self.n, self.count, q, a,
                                 "no answer and not closed within %.0f s" % (
                                     self.args.idle_timeout + 5 if q.unfinished or
                                     q.mode == "stall" else self.args.answer_timeout))
            elif q.mode == "pipeline" and b"Expect: 100-continue" in q.data:
                self.report.seen("mhd-expect-close")
            elif not (q.unfinished or q.mode == "stall" or q.big_chunked):
                self.report.closed_without_answer(self.n, self.count, q)
            return
        why = judge(q, a)
        if not why and a.status == 201:
            try:  # later requests use the new job's or dataset's id too
                self.gen.ids.setdefault(q.kind, []).append(json.loads(a.body)["id"])
            except (ValueError, KeyError, TypeError):
                pass
        if why:
            self.report.fail(self.n, self.count, q, a, why)


class Report:
    def __init__(self, log):
        self.log_file = open(log, "wb") if log else None
        self.lock = threading.Lock()
        self.failures = []
        self.statuses = {}
        self.silent_closes = []
        self.gone = False

    def log(self, worker, n, q):
        if self.log_file:
            with self.lock:
                self.log_file.write(b"%d %d %s %s\n" % (worker, n, q.mode.encode(), repr(q.data).encode()))
                self.log_file.flush()

    def seen(self, status):
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1

    def fail(self, worker, n, q, a, why):
        with self.lock:
            self.failures.append((worker, n, q, a, why))

    def closed_without_answer(self, worker, n, q):
        with self.lock:
            self.silent_closes.append((worker, n, q))


def shorten(b, n=400):
    return repr(b if len(b) <= n else b[:n] + b"...(%d bytes)" % len(b))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--routes", required=True, help="the output of `mcmcd routes`")
    p.add_argument("--ids", required=True, help="lines 'jobs ID' or 'datasets ID'")
    p.add_argument("--seed", default="1")
    p.add_argument("--seconds", type=float, default=40)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--idle-timeout", type=float, default=2)
    p.add_argument("--answer-timeout", type=float, default=10)
    p.add_argument("--max-body", type=int, default=1 << 20)
    p.add_argument("--log", help="write every request (worker, number, how, bytes) here")
    args = p.parse_args()
    routes = []
    for line in open(args.routes):
        f = line.split()
        if len(f) >= 2:
            routes.append((f[0], f[1]))
    ids = {}
    for line in open(args.ids):
        f = line.split()
        if len(f) == 2:
            ids.setdefault(f[0], []).append(f[1])
    report = Report(args.log)
    stop_at = time.time() + args.seconds
    workers = [Worker(i, args, routes, ids, stop_at, report) for i in range(args.workers)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(args.seconds + 120)
    total = sum(w.count for w in workers)
    for worker, n, q, a, why in report.failures[:30]:
        print("# FAIL worker %d request %d (%s): %s" % (worker, n, q.mode, why))
        print("#   sent     %s" % shorten(q.data))
        if a is not None:
            print("#   answered %s / %s" % (shorten(a.raw_head, 200), shorten(a.body, 200)))
    silent = report.silent_closes
    for worker, n, q in silent[:10]:
        print("# closed without an answer: worker %d request %d (%s): %s" % (
            worker, n, q.mode, shorten(q.data, 300)))
    counts = " ".join("%s:%d" % (k, v) for k, v in sorted(report.statuses.items(), key=str))
    print("# statuses (NNNh: libmicrohttpd's own answer; None: closed, or cut off by the"
          " client) %s" % counts)
    print("%d requests, %d failures, %d complete requests closed without an answer" % (
        total, len(report.failures), len(silent)))
    alive = any(w.is_alive() for w in workers)
    if alive:
        print("# a worker is still waiting: an answer never came")
    return 1 if report.failures or silent or alive or report.gone else 0


if __name__ == "__main__":
    sys.exit(main())
