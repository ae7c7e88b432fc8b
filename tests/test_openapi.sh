#!/usr/bin/env bash
# test_openapi.sh - proto/openapi.yaml against the daemon it describes: the
# document is well formed (every $ref and discriminator target resolves,
# path parameters are declared, examples and defaults fit their schemas),
# its operations are exactly the routes of server/api.c's table as
# `mcmcd routes` prints it (each one routed, each route documented, public
# exactly where the table says, other methods 405 with the documented
# Allow list), its samplers and models are the tables /v1/info serves (each
# sampler's schema lists exactly its parameters with the table's types,
# defaults, bounds and enums), and what a real daemon answers (status codes, content types,
# headers, JSON bodies, NDJSON and SSE streams) is what the document says,
# for successes and for the 400/401/404/409/413/415/422/429 errors: every
# operation answers as documented without a token and with a bad one (401,
# or 200 on the public routes), and with the admin token the daemon writes
# on its first start; idempotent retries replay the first answer.
# Usage: test_openapi.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_openapi.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DOC="$here/../proto/openapi.yaml"
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir openapi

# The routes the daemon serves, from server/api.c's route table itself:
# `mcmcd routes` prints METHOD PATTERN ACCESS, one a line.
if ! ROUTES=$("$MCMCD" routes) || [ -z "$ROUTES" ]; then
    bad "mcmcd routes prints the route table"
    finish
    exit 1
fi
ok "mcmcd routes prints the route table ($(printf '%s\n' "$ROUTES" | wc -l) routes)"
export ROUTES

check "proto/openapi.yaml exists" "[ -s '$DOC' ]"
if ! "$PY" -c 'import yaml' 2>/dev/null; then
    bad "python3-yaml is installed (needed to read the OpenAPI document; add it to ./dev's PACKAGES)"
    finish
    exit 1
fi

# Small limits so that 413 and 429 are cheap to reach; short heartbeats.
cat >"$work/mcmcd.conf" <<'CONF'
workers = 1
max_queued_jobs = 2
max_body_bytes = 64k
heartbeat_seconds = 0.2
CONF
start_daemon --config "$work/mcmcd.conf" --bind 127.0.0.1
port=$(printf '%s\n' "$URL" | sed -n 's|^http://127\.0\.0\.1:\([0-9][0-9]*\)$|\1|p')
check "the daemon starts and prints its port first" "[ -n '$port' ]"
if [ -z "$port" ]; then
    finish
    exit 1
fi
# On its first start the daemon makes the admin user and writes its token.
check "the daemon wrote data/admin.token (mode 0600)" \
    "[ -s '$work/data/admin.token' ] && [ \"\$(stat -c %a '$work/data/admin.token')\" = 600 ]"
MCMCD_TOKEN=$(head -n 1 "$work/data/admin.token" 2>/dev/null)
export MCMCD_TOKEN

cat >"$work/check.py" <<'PY'
import http.client, json, os, re, socket, sys, time, traceback

import yaml

DOC_PATH, PORT = sys.argv[1], int(sys.argv[2])
TOKEN = os.environ.get("MCMCD_TOKEN", "")
# well formed, but no token the daemon made
BAD_TOKEN = "mcmcd_" + "0" * 16 + "_" + "0" * 64
# (METHOD, PATTERN) -> ACCESS (public, user, admin, metrics), from `mcmcd routes`
ACCESS = {(m, p): acc for m, p, acc in (l.split() for l in os.environ["ROUTES"].strip().splitlines())}
ROUTES = sorted(ACCESS)
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DUMMY = {"/v1/datasets/": "0" * 32, "/v1/jobs/": "0" * 24, "/ui/": "app.js"}


def result(name, good, diag=None):
    print(("ok - " if good else "not ok - ") + name, flush=True)
    if not good and diag:
        for line in str(diag).splitlines()[:12]:
            print("#   " + line[:400], flush=True)
    return good


# ---- the document -----------------------------------------------------------

doc = yaml.safe_load(open(DOC_PATH))


def pointer(ref):
    """The target of a local $ref, or KeyError."""
    if not ref.startswith("#/"):
        raise KeyError(ref)
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[part] if isinstance(node, dict) else node[int(part)]
    return node


def deref(node):
    for _ in range(20):
        if isinstance(node, dict) and "$ref" in node:
            node = pointer(node["$ref"])
        else:
            return node
    raise KeyError("a $ref cycle")


def walk(node, where="#"):
    yield where, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, where + "/" + str(k).replace("~", "~0").replace("/", "~1"))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, "%s/%d" % (where, i))


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def same(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def validate(schema, v, at="$"):
    """Errors of v against an OpenAPI 3.0 schema (the subset this document uses)."""
    schema = deref(schema)
    errs = []
    if v is None:
        if schema.get("nullable") or not schema.get("type") and "oneOf" not in schema:
            return []
        if "oneOf" in schema and any(not validate(b, v, at) for b in schema["oneOf"]):
            return []
        return ["%s: null is not allowed" % at]
    if "oneOf" in schema:
        n = sum(1 for b in schema["oneOf"] if not validate(b, v, at))
        if n != 1:
            errs.append("%s: %r matches %d branches of oneOf" % (at, v, n))
    for b in schema.get("allOf", []):
        errs += validate(b, v, at)
    t = schema.get("type")
    kinds = {"object": lambda x: isinstance(x, dict), "array": lambda x: isinstance(x, list),
             "string": lambda x: isinstance(x, str), "boolean": lambda x: isinstance(x, bool),
             "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
             "number": is_num}
    if t and not kinds[t](v):
        return errs + ["%s: %r is not of type %s" % (at, v, t)]
    if "enum" in schema and not any(same(v, e) for e in schema["enum"]):
        errs.append("%s: %r is not one of %r" % (at, v, schema["enum"]))
    if is_num(v):
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if lo is not None and (v < lo or (schema.get("exclusiveMinimum") and v == lo)):
            errs.append("%s: %r is below the minimum %r" % (at, v, lo))
        if hi is not None and (v > hi or (schema.get("exclusiveMaximum") and v == hi)):
            errs.append("%s: %r is above the maximum %r" % (at, v, hi))
    if isinstance(v, str):
        if len(v) < schema.get("minLength", 0) or len(v) > schema.get("maxLength", 1 << 62):
            errs.append("%s: %r has a length out of range" % (at, v))
        if "pattern" in schema and not re.search(schema["pattern"], v):
            errs.append("%s: %r does not match %s" % (at, v, schema["pattern"]))
    if isinstance(v, list):
        if len(v) < schema.get("minItems", 0) or len(v) > schema.get("maxItems", 1 << 62):
            errs.append("%s: %d items, out of range" % (at, len(v)))
        if "items" in schema:
            for i, x in enumerate(v):
                errs += validate(schema["items"], x, "%s[%d]" % (at, i))
                if len(errs) > 20:
                    break
    if isinstance(v, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            if k not in v:
                errs.append("%s: %s is required" % (at, k))
        extra = schema.get("additionalProperties", True)
        for k, x in v.items():
            if k in props:
                errs += validate(props[k], x, "%s.%s" % (at, k))
            elif extra is False:
                errs.append("%s: %s is not a documented property" % (at, k))
            elif isinstance(extra, dict):
                errs += validate(extra, x, "%s.%s" % (at, k))
    return errs


def operations():
    for path, item in doc.get("paths", {}).items():
        for m in METHODS:
            if m in item:
                yield path, m, item, item[m]


def check_document():
    result("the document is OpenAPI 3.0.3 with info and paths",
           doc.get("openapi") == "3.0.3" and doc.get("info", {}).get("title")
           and doc.get("info", {}).get("version") and doc.get("paths"))
    bad_refs = []
    for where, node in walk(doc):
        if isinstance(node, dict) and "$ref" in node:
            try:
                pointer(node["$ref"])
            except (KeyError, IndexError, ValueError, TypeError):
                bad_refs.append("%s -> %s" % (where, node["$ref"]))
        if isinstance(node, dict) and isinstance(node.get("discriminator"), dict):
            for target in node["discriminator"].get("mapping", {}).values():
                try:
                    pointer(target)
                except (KeyError, IndexError, ValueError, TypeError):
                    bad_refs.append("%s discriminator -> %s" % (where, target))
    result("every $ref and discriminator mapping resolves", not bad_refs, "\n".join(bad_refs))

    ids, problems = set(), []
    for path, m, item, op in operations():
        name = "%s %s" % (m.upper(), path)
        oid = op.get("operationId")
        if not oid or oid in ids:
            problems.append("%s: missing or duplicate operationId %r" % (name, oid))
        ids.add(oid)
        if not op.get("responses"):
            problems.append("%s: no responses" % name)
        for code, r in op.get("responses", {}).items():
            if not re.fullmatch(r"[1-5][0-9][0-9]", str(code)):
                problems.append("%s: response key %r is not a status code" % (name, code))
            elif not deref(r).get("description"):
                problems.append("%s %s: no description" % (name, code))
        declared = {deref(p)["name"] for p in item.get("parameters", []) + op.get("parameters", [])
                    if deref(p).get("in") == "path" and deref(p).get("required")}
        for p in re.findall(r"{([^}]+)}", path):
            if p not in declared:
                problems.append("%s: path parameter %s is not declared (required)" % (name, p))
    result("operations have unique ids, described responses, declared path parameters",
           not problems, "\n".join(problems))

    # Examples and defaults against their schemas.
    problems, count = [], 0
    for where, node in walk(doc):
        if not isinstance(node, dict):
            continue
        if "schema" in node and ("example" in node or "examples" in node):
            media = where.rsplit("/", 1)[-1].replace("~1", "/")
            samples = []
            if "example" in node:
                samples.append(("example", node["example"]))
            for k, e in node.get("examples", {}).items():
                samples.append(("examples/" + k, deref(e).get("value")))
            for label, value in samples:
                if media == "application/x-ndjson" and isinstance(value, str):
                    values = [json.loads(l) for l in value.splitlines() if l.strip()]
                elif media.startswith("text/") or media == "application/x-npy":
                    continue
                else:
                    values = [value]
                for x in values:
                    count += 1
                    problems += ["%s/%s: %s" % (where, label, e) for e in validate(node["schema"], x)]
        if where.startswith("#/components/schemas/") and where.count("/") == 3 and "example" in node:
            count += 1
            problems += ["%s/example: %s" % (where, e) for e in validate(node, node["example"])]
        if "default" in node and (isinstance(node.get("type"), str) or "oneOf" in node):
            count += 1
            problems += ["%s/default: %s" % (where, e) for e in validate(node, node["default"])]
    result("all %d examples and defaults fit their schemas" % count, not problems and count > 0,
           "\n".join(problems))


# ---- the tables: the document's samplers and models against /v1/info -------


def branches(schema):
    """name -> schema of each oneOf branch, named by its `type` enum."""
    out = {}
    for b in deref(schema).get("oneOf", []):
        t = deref(b).get("properties", {}).get("type", {})
        names = t.get("enum", [])
        out[names[0] if len(names) == 1 else repr(names)] = deref(b)
    return out


def info_param(p):
    """What /v1/info says of one parameter, in a form both sides share."""
    d = {"type": p["type"], "required": bool(p.get("required"))}
    for k in ("default", "minimum", "maximum", "enum"):
        if k in p:
            d[k] = p[k]
    if "exclusiveMinimum" in p:
        d["minimum"], d["exclusive"] = p["exclusiveMinimum"], True
    return d


def doc_param(prop, required):
    """The same of a parameter's schema in the document (OpenAPI 3.0 bounds)."""
    prop = deref(prop)
    t = prop.get("type")
    if t == "array" and deref(prop.get("items", {})).get("type") == "array":
        t = "matrix"
    d = {"type": t, "required": required}
    for k in ("default", "minimum", "maximum", "enum"):
        if k in prop:
            d[k] = prop[k]
    if prop.get("exclusiveMinimum"):
        d["exclusive"] = True
    return d


def differences(a, b):
    keys = sorted(set(a) | set(b))
    return ["%s: /v1/info %r, the document %r" % (k, a.get(k), b.get(k)) for k in keys
            if k not in a or k not in b or not same(a[k], b[k])]


def entry_problems(what, e, schema, extra_fields):
    """Where a sampler's or model's schema disagrees with its table entry."""
    problems = []
    props, required = schema.get("properties", {}), set(schema.get("required", []))
    for p in e.get("params", []):
        if p["name"] not in props:
            problems.append("%s %s: parameter %s is not in the document" % (what, e["name"], p["name"]))
            continue
        if not deref(props[p["name"]]).get("description"):
            problems.append("%s %s.%s: no description" % (what, e["name"], p["name"]))
        problems += ["%s %s.%s: %s" % (what, e["name"], p["name"], d) for d in
                     differences(info_param(p), doc_param(props[p["name"]], p["name"] in required))]
    known = {p["name"] for p in e.get("params", [])} | {"type"} | extra_fields(e)
    problems += ["%s %s: the document has %s, which /v1/info does not list" % (what, e["name"], k)
                 for k in sorted(set(props) - known)]
    if schema.get("additionalProperties") is not False:
        problems.append("%s %s: additionalProperties must be false" % (what, e["name"]))
    return problems


def table_problems(what, entries, union, extra_fields):
    """Every way the document's `union` of schemas and the table disagree."""
    docs = branches(union)
    names = [e if isinstance(e, str) else e["name"] for e in entries]
    problems = ["%s %s is in /v1/info, not in the document" % (what, n) for n in names if n not in docs]
    problems += ["%s %s is in the document, not in /v1/info" % (what, n) for n in docs if n not in names]
    mapping = deref(union).get("discriminator", {}).get("mapping")
    if mapping is not None and {k: deref({"$ref": v}) is docs.get(k) for k, v in mapping.items()} != \
            {k: True for k in docs}:
        problems.append("the %s discriminator mapping disagrees with its oneOf" % what)
    for e in entries:
        if not isinstance(e, str) and e["name"] in docs:
            problems += entry_problems(what, e, docs[e["name"]], extra_fields)
    return problems


def tables_agree():
    info = call("GET", "/v1/info").json() or {}
    samplers = info.get("samplers") or []
    result("/v1/info lists the sampler table", samplers and all(isinstance(e, dict) for e in samplers),
           samplers)
    union = doc["components"]["schemas"]["JobSpec"]["properties"]["sampler"]
    problems = table_problems("sampler", samplers, union,
                              lambda e: {"inv_metric"} if e.get("uses_metric") else set())
    result("the document's samplers and their parameters (names, types, defaults, bounds, enums) "
           "are the table's", not problems, "\n".join(problems))
    models = info.get("models") or []
    union = doc["components"]["schemas"]["JobSpec"]["properties"]["model"]
    problems = table_problems("model", models, union, lambda e: set())
    result("the document's models are the table's", models and not problems, "\n".join(problems))


# ---- the daemon -------------------------------------------------------------


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body
        self.media = headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def call(method, url, body=None, ctype=None, headers=None, timeout=15, token=None):
    """One request, with the admin token unless `token` says otherwise ("": none)."""
    h = dict(headers or {})
    token = TOKEN if token is None else token
    if token:
        h["Authorization"] = "Bearer " + token
    if isinstance(body, (dict, list)):
        body, ctype = json.dumps(body).encode(), ctype or "application/json"
    elif isinstance(body, str):
        body = body.encode()
    if ctype:
        h["Content-Type"] = ctype
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    try:
        conn.request(method, url, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


def read_for(url, seconds, headers=None):
    """A stream for at most `seconds` (or until it ends): the answer with the
    complete chunks of its body, and whether the body ended."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    headers = dict(headers or {})
    if TOKEN:
        headers["Authorization"] = "Bearer " + TOKEN
    head = "".join("%s: %s\r\n" % kv for kv in headers.items())
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n"
               % (url, head)).encode())
    s.settimeout(0.1)
    raw, deadline = b"", time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            data = s.recv(65536)
        except (socket.timeout, TimeoutError):
            continue
        if not data:
            break
        raw += data
    s.close()
    top, _, rest = raw.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    body, ended = b"", False
    if hdrs.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size_line, sep, after = rest.partition(b"\r\n")
            if not sep:
                break
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                ended = True
                break
            if len(after) < size + 2:
                break
            body, rest = body + after[:size], after[size + 2:]
    else:
        body = rest
        ended = "content-length" in hdrs and len(rest) >= int(hdrs["content-length"])
    return Resp(status, hdrs, body), ended


def complete(resp):
    """resp without a trailing partial line (NDJSON) or frame (SSE)."""
    sep = b"\n\n" if resp.media == "text/event-stream" else b"\n"
    cut = resp.body.rfind(sep)
    resp.body = resp.body[:cut + len(sep)] if cut >= 0 else b""
    return resp


def sse_events(text):
    """The Event objects of an SSE body, after checking its framing."""
    events, problems = [], []
    for frame in text.split("\n\n"):
        lines = [l for l in frame.split("\n") if l]
        if not lines or all(l.startswith(":") for l in lines) or lines[0].startswith("retry: "):
            continue
        fields = dict(l.split(": ", 1) for l in lines if ": " in l)
        try:
            ev = json.loads(fields.get("data", ""))
        except ValueError:
            problems.append("frame without JSON data: %r" % frame)
            continue
        if fields.get("id") != str(ev.get("seq")) or fields.get("event") != ev.get("type"):
            problems.append("id/event lines disagree with data: %r" % frame)
        events.append(ev)
    return events, problems


def conformance(method, tmpl, resp):
    """What is wrong with resp as an answer of the documented operation."""
    op = doc["paths"].get(tmpl, {}).get(method.lower())
    if op is None:
        return ["%s %s is not documented" % (method, tmpl)]
    r = op["responses"].get(str(resp.status))
    if r is None:
        return ["status %d is not documented for %s %s (documented: %s)"
                % (resp.status, method, tmpl, ", ".join(sorted(op["responses"])))]
    r = deref(r)
    problems = []
    for h, spec in r.get("headers", {}).items():
        if deref(spec).get("required") and h.lower() not in resp.headers:
            problems.append("documented header %s is missing" % h)
    content = r.get("content", {})
    if not resp.body and not content:
        return problems
    if resp.media not in content:
        return problems + ["content type %r is not documented for %d (documented: %s)"
                           % (resp.media, resp.status, ", ".join(content) or "no body")]
    schema = content[resp.media].get("schema", {})
    text = resp.body.decode("utf-8", "replace")
    if resp.media == "application/json":
        try:
            problems += validate(schema, json.loads(text))
        except ValueError as e:
            problems.append("the body is not JSON: %s" % e)
    elif resp.media == "application/x-ndjson":
        for line in text.splitlines():
            if line.strip():
                problems += validate(schema, json.loads(line))
    elif resp.media == "text/event-stream":
        events, problems = sse_events(text)
        for ev in events:
            problems += validate({"$ref": "#/components/schemas/Event"}, ev)
    elif resp.media == "application/x-npy":
        if not resp.body.startswith(b"\x93NUMPY"):
            problems.append("not a .npy body")
    return problems[:20]


def url_of(tmpl, ids=None, query=""):
    ids = ids or {}
    url = tmpl
    for prefix, dummy in DUMMY.items():
        if tmpl.startswith(prefix + "{id}"):
            url = tmpl.replace("{id}", ids.get(prefix, dummy))
    return url + query


def req(name, method, tmpl, expect, ids=None, query="", body=None, ctype=None, headers=None,
        code=None, token=None):
    """One request: its status must be `expect`, its answer as documented."""
    resp = call(method, url_of(tmpl, ids, query), body, ctype, headers, token=token)
    problems = conformance(method, tmpl, resp)
    if resp.status != expect:
        problems.insert(0, "status %d, expected %d: %s" % (resp.status, expect, resp.body[:300]))
    err = ((resp.json() or {}).get("error") or {}) if resp.media == "application/json" else {}
    if code and err.get("code") != code:
        problems.insert(0, "error code %r, expected %r" % (err.get("code"), code))
    result("%s: %s %s -> %d as documented" % (name, method, tmpl, expect), not problems,
           "\n".join(problems))
    return resp


def routing():
    doc_ops = sorted((m.upper(), p) for p, m, _, _ in operations())
    missing = [r for r in ROUTES if r not in doc_ops]
    extra = [r for r in doc_ops if r not in ROUTES]
    result("every route of server/api.c is documented", not missing,
           "undocumented: %s" % ", ".join(" ".join(r) for r in missing))
    result("every documented operation is a route of server/api.c", not extra,
           "not served: %s" % ", ".join(" ".join(r) for r in extra))
    security = {(m.upper(), p): op.get("security") == [] for p, m, _, op in operations()}
    wrong = ["%s %s: %s in api.c, %s in the document" %
             (m, p, ACCESS[(m, p)], "public" if security[(m, p)] else "a bearer token")
             for m, p in ROUTES if (m, p) in security and security[(m, p)] != (ACCESS[(m, p)] == "public")]
    result("the document's public operations are api.c's public routes", not wrong, "\n".join(wrong))
    for method, tmpl in doc_ops:
        body = {} if method == "POST" and tmpl in ("/v1/jobs", "/v1/datasets") else None
        resp = call(method, url_of(tmpl), body)
        err = ((resp.json() or {}).get("error") or {}) if resp.media == "application/json" else {}
        routed = not (resp.status == 404 and
                      (err.get("code") != "not_found" or err.get("message", "").startswith("no route")))
        problems = conformance(method, tmpl, resp)
        result("%s %s is routed (%d)" % (method, tmpl, resp.status), routed and not problems,
               "\n".join(["answered %d %s" % (resp.status, resp.body[:200])] + problems))
    resp = call("GET", "/v1/no-such-thing")
    err = (resp.json() or {}).get("error") or {}
    result("an undocumented path is 404 'no route'",
           resp.status == 404 and err.get("message", "").startswith("no route"), resp.body[:200])


def authentication():
    """Every operation without a token and with a bad one: 401 as documented,
    naming the problem in the code and in WWW-Authenticate; the public
    routes answer as if the token did not matter."""
    for path, m, item, op in operations():
        public = op.get("security") == []
        body = {} if m == "post" and path in ("/v1/jobs", "/v1/datasets") else None
        for label, token, code, challenge in (
                ("no token", "", "unauthorized", 'Bearer realm="mcmcd"'),
                ("a bad token", BAD_TOKEN, "invalid_token",
                 'Bearer realm="mcmcd", error="invalid_token"')):
            resp = call(m.upper(), url_of(path), body, token=token)
            problems = conformance(m.upper(), path, resp)
            if public:
                if resp.status != 200:
                    problems.insert(0, "status %d: %s" % (resp.status, resp.body[:200]))
                result("%s %s with %s: 200 (public)" % (m.upper(), path, label), not problems,
                       "\n".join(problems))
                continue
            err = ((resp.json() or {}).get("error") or {}) if resp.media == "application/json" else {}
            if resp.status != 401 or err.get("code") != code:
                problems.insert(0, "answered %d %s" % (resp.status, resp.body[:200]))
            if resp.headers.get("www-authenticate") != challenge:
                problems.append("WWW-Authenticate: %r" % resp.headers.get("www-authenticate"))
            if TOKEN and TOKEN in resp.body.decode("utf-8", "replace"):
                problems.append("the body carries a token")
            result("%s %s with %s: 401 %s as documented" % (m.upper(), path, label, code),
                   not problems, "\n".join(problems))


def method_not_allowed(ids):
    for path, item in doc["paths"].items():
        allowed = {m.upper() for m in METHODS if m in item}
        for method in ("PATCH", "PUT"):  # no route takes these: no side effects
            if method in allowed:
                continue
            resp = call(method, url_of(path, ids), None)
            got = {m.strip() for m in resp.headers.get("allow", "").split(",") if m.strip()}
            err = (resp.json() or {}).get("error") or {}
            result("%s %s -> 405 with Allow: %s" % (method, path, ", ".join(sorted(allowed))),
                   resp.status == 405 and got == allowed and err.get("code") == "method_not_allowed"
                   and not validate({"$ref": "#/components/schemas/Error"}, resp.json()),
                   "answered %d, Allow %r: %s" % (resp.status, resp.headers.get("allow"),
                                                  resp.body[:200]))


def wait_for(what, pred, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    result("waited for " + what, False, "not within %d s" % seconds)
    return None


def job_state(jid):
    return (call("GET", "/v1/jobs/" + jid).json() or {}).get("state")


def scenarios():
    DS, JB = "/v1/datasets/", "/v1/jobs/"
    # datasets
    rows = {"name": "tiny", "X": [[1, 2], [3, 4], [5, -6]], "y": [0, 1, True]}
    d1 = req("upload JSON rows", "POST", "/v1/datasets", 201, body=rows).json() or {}
    req("upload the same rows again", "POST", "/v1/datasets", 200, body=rows)
    req("upload CSV with ?name=", "POST", "/v1/datasets", 201, query="?name=csv",
        body="x1,x2,y\n1,2,0\n3,4,1\n0.5,-1,1\n", ctype="text/csv; charset=utf-8")
    big = req("upload a synthetic dataset", "POST", "/v1/datasets", 201,
              body={"synthetic": {"n": 20000, "d": 2, "seed": 7}, "name": "slow"}).json() or {}
    req("upload malformed JSON", "POST", "/v1/datasets", 400, body="[1", ctype="application/json",
        code="invalid_json")
    req("upload a bad CSV", "POST", "/v1/datasets", 400, body="a,b,y\n1,2,0\n3,4\n",
        ctype="text/csv", code="invalid_csv")
    req("upload a bad y", "POST", "/v1/datasets", 422, body={"X": [[1]], "y": ["2"]},
        code="invalid_dataset")
    req("upload a bad synthetic spec", "POST", "/v1/datasets", 422,
        body={"synthetic": {"n": 10, "d": 0}}, code="invalid_dataset")
    req("upload as text/plain", "POST", "/v1/datasets", 415, body="x", ctype="text/plain",
        code="unsupported_media_type")
    key = {"Idempotency-Key": "openapi-test dataset 1"}
    first = req("upload with an Idempotency-Key", "POST", "/v1/datasets", 201,
                body={"name": "idem", "X": [[7]], "y": [1]}, headers=key)
    again = req("the same upload retried", "POST", "/v1/datasets", 201,
                body={"name": "idem", "X": [[7]], "y": [1]}, headers=key)
    result("the retried upload is the first answer, marked Idempotent-Replayed: true",
           again.headers.get("idempotent-replayed") == "true" and again.body == first.body
           and again.headers.get("location") == first.headers.get("location")
           and "idempotent-replayed" not in first.headers, again.headers)
    req("the same Idempotency-Key, another body", "POST", "/v1/datasets", 422,
        body={"name": "idem", "X": [[8]], "y": [1]}, headers=key, code="idempotency_key_reused")
    req("list datasets", "GET", "/v1/datasets", 200)
    ids = {DS: d1.get("id", "0" * 32)}
    req("get a dataset", "GET", "/v1/datasets/{id}", 200, ids=ids)
    byname = req("get a dataset by its name", "GET", "/v1/datasets/{id}", 200,
                 ids={DS: "tiny"}).json() or {}
    result("the name finds the same dataset", byname.get("id") == d1.get("id"), byname)
    req("get a missing dataset", "GET", "/v1/datasets/{id}", 404, code="not_found")

    # a small job, run to the end
    spec = {"data": {"dataset": "tiny"}, "name": "small", "tags": ["openapi", "mala"], "priority": 5,
            "sampler": {"type": "mala", "step_size": 0.05}, "num_samples": 300, "chains": 2,
            "key": [0, 42], "progress_every": 100}
    key = {"Idempotency-Key": "openapi-test job 1"}
    j = req("submit a job", "POST", "/v1/jobs", 201, body=spec, headers=key).json() or {}
    jid = j.get("id", "0" * 24)
    ids[JB] = jid
    again = req("the same submission retried", "POST", "/v1/jobs", 201, body=spec, headers=key)
    result("the retry is the first job, marked Idempotent-Replayed: true",
           (again.json() or {}).get("id") == jid
           and again.headers.get("idempotent-replayed") == "true", again.headers)
    req("the same Idempotency-Key, another spec", "POST", "/v1/jobs", 422,
        body=dict(spec, num_samples=301), headers=key, code="idempotency_key_reused")
    wait_for("the job to succeed", lambda: job_state(jid) == "succeeded")
    g = req("job status", "GET", "/v1/jobs/{id}", 200, ids=ids).json() or {}
    result("the status carries the canonical spec, valid as a JobSpec",
           "spec" in g and not validate({"$ref": "#/components/schemas/JobSpec"}, g["spec"]),
           validate({"$ref": "#/components/schemas/JobSpec"}, g.get("spec")))
    req("list jobs", "GET", "/v1/jobs", 200)
    req("list succeeded jobs", "GET", "/v1/jobs", 200, query="?state=succeeded&page_size=1")
    found = req("list by name and tags", "GET", "/v1/jobs", 200,
                query="?name=small&tag=openapi&tag=mala").json() or {}
    result("the filters find the named, tagged job",
           [x.get("id") for x in found.get("jobs", [])] == [jid], found)
    none = req("list by a tag no job has", "GET", "/v1/jobs", 200, query="?tag=openapi&tag=nope")
    result("a tag no job has finds nothing", (none.json() or {}).get("jobs") == [], none.body[:200])
    req("list with a bad state", "GET", "/v1/jobs", 400, query="?state=bogus", code="invalid_query")
    req("list with a bad page_size", "GET", "/v1/jobs", 400, query="?page_size=5000",
        code="invalid_query")
    req("list with a bad page_token", "GET", "/v1/jobs", 400, query="?page_token=zzz",
        code="invalid_query")
    ev = req("events, NDJSON", "GET", "/v1/jobs/{id}/events", 200, ids=ids)
    lines = [json.loads(l) for l in ev.body.decode().splitlines() if l.strip()]
    result("a finished job's events end with done",
           lines and lines[-1].get("type") == "done" and lines[0].get("seq") == 1, lines[-1:])
    req("events, SSE, resumed with ?after=", "GET", "/v1/jobs/{id}/events", 200, ids=ids,
        query="?after=2", headers={"Accept": "text/event-stream"})
    req("events resumed with Last-Event-ID", "GET", "/v1/jobs/{id}/events", 200, ids=ids,
        headers={"Last-Event-ID": "3"})
    req("events with a bad Last-Event-ID", "GET", "/v1/jobs/{id}/events", 400, ids=ids,
        headers={"Last-Event-ID": "x"}, code="invalid_query")
    dj = req("draws as JSON", "GET", "/v1/jobs/{id}/draws", 200, ids=ids, query="?stop=5").json()
    result("JSON draws have shape [2, 5, 2]", (dj or {}).get("shape") == [2, 5, 2], dj)
    req("draws as CSV (Accept)", "GET", "/v1/jobs/{id}/draws", 200, ids=ids,
        query="?chain=1&start=10&stop=20&thin=3", headers={"Accept": "text/csv"})
    req("draws as .npy", "GET", "/v1/jobs/{id}/draws", 200, ids=ids, query="?format=npy")
    req("draws as NDJSON", "GET", "/v1/jobs/{id}/draws", 200, ids=ids, query="?format=ndjson&stop=3")
    req("draws followed", "GET", "/v1/jobs/{id}/draws", 200, ids=ids, query="?follow=1&start=290")
    req("draws, unknown format", "GET", "/v1/jobs/{id}/draws", 400, ids=ids, query="?format=xml",
        code="invalid_query")
    req("draws, follow as JSON", "GET", "/v1/jobs/{id}/draws", 400, ids=ids,
        query="?follow=1&format=json", code="invalid_query")
    req("draws, chain out of range", "GET", "/v1/jobs/{id}/draws", 400, ids=ids, query="?chain=2",
        code="invalid_query")
    dp = req("draws, one column", "GET", "/v1/jobs/{id}/draws", 200, ids=ids,
             query="?stop=5&params=1").json()
    result("params=1 keeps one column: shape [2, 5, 1]", (dp or {}).get("shape") == [2, 5, 1], dp)
    bad = req("draws, params past d", "GET", "/v1/jobs/{id}/draws", 400, ids=ids,
              query="?params=0-2", code="invalid_query").json() or {}
    result("a bad params names it in details",
           ((bad.get("error") or {}).get("details") or [{}])[0].get("path") == "params", bad)
    req("draws, divergent=1 of MALA (no divergent__)", "GET", "/v1/jobs/{id}/draws", 400, ids=ids,
        query="?divergent=1&format=csv", code="invalid_query")
    req("summary", "GET", "/v1/jobs/{id}/summary", 200, ids=ids)
    req("cancel a finished job", "POST", "/v1/jobs/{id}/cancel", 409, ids=ids, code="conflict")
    req("status of a missing job", "GET", "/v1/jobs/{id}", 404, code="not_found")

    # bad submissions
    req("submit malformed JSON", "POST", "/v1/jobs", 400, body="{", ctype="application/json",
        code="invalid_json")
    req("submit as text/plain", "POST", "/v1/jobs", 415, body="{}", ctype="text/plain",
        code="unsupported_media_type")
    e = req("submit an invalid spec", "POST", "/v1/jobs", 422,
            body={"sampler": {"type": "x"}, "thin": 0, "bogus": 1}, code="invalid_spec").json()
    paths = sorted(d.get("path") for d in ((e or {}).get("error") or {}).get("details", []))
    result("every spec error is reported with its path",
           paths == ["bogus", "sampler.type", "thin"], paths)
    req("submit with a missing dataset", "POST", "/v1/jobs", 422, code="invalid_spec",
        body={"data": {"dataset": "nope"}, "sampler": {"type": "ula", "step_size": 1}})
    req("submit over max_body_bytes", "POST", "/v1/jobs", 413, code="body_too_large",
        body=json.dumps({"pad": "x" * 70000}), ctype="application/json")

    # a long job on the slow dataset: 409s, 429, live streams, cancel, delete
    slow = {"data": {"dataset": big.get("id", "0" * 32)}, "sampler": {"type": "ula", "step_size": 1e-6},
            "num_samples": 10000, "thin": 10000, "progress_every": 500}
    long1 = (req("submit a long job", "POST", "/v1/jobs", 201, body=slow).json() or {}).get("id", "0" * 24)
    # running once its chain reported: it has then left the queue
    wait_for("the long job to run", lambda: (call("GET", JB + long1).json() or {})
             .get("progress", {}).get("iter", 0) > 0)
    long2 = (req("submit a second long job (queued)", "POST", "/v1/jobs", 201, body=slow).json()
             or {}).get("id", "0" * 24)
    r = req("submit past max_queued_jobs", "POST", "/v1/jobs", 429, body=slow, code="too_many_jobs")
    result("429 carries Retry-After", r.headers.get("retry-after", "").isdigit(), r.headers)
    req("delete a dataset a running job uses (its reference)", "DELETE", "/v1/datasets/{id}", 204,
        ids={DS: big.get("id", "0" * 32)})
    req("the deleted dataset is gone for its user", "GET", "/v1/datasets/{id}", 404,
        ids={DS: big.get("id", "0" * 32)}, code="not_found")
    req("delete a running job", "DELETE", "/v1/jobs/{id}", 409, ids={JB: long1}, code="conflict")
    req("summary of a running job", "GET", "/v1/jobs/{id}/summary", 200, ids={JB: long1})
    req("list queued jobs", "GET", "/v1/jobs", 200, query="?state=queued")
    for label, url, hdrs, tmpl in (
            ("live NDJSON events", JB + long1 + "/events", {}, "/v1/jobs/{id}/events"),
            ("heartbeats of a queued job", JB + long2 + "/events?after=1", {}, "/v1/jobs/{id}/events"),
            ("live SSE events", JB + long1 + "/events", {"Accept": "text/event-stream"},
             "/v1/jobs/{id}/events"),
            ("followed draws", JB + long1 + "/draws?follow=1", {}, "/v1/jobs/{id}/draws"),
            ("heartbeats of a queued job's followed draws", JB + long2 + "/draws?follow=1", {},
             "/v1/jobs/{id}/draws")):
        resp, ended = read_for(url, 0.8, hdrs)
        problems = conformance("GET", tmpl, complete(resp))
        if ended or not resp.body:
            problems.insert(0, "the stream ended or sent nothing: %r" % resp.body[:200])
        if "heartbeat" in label and b'"heartbeat"' not in resp.body:
            problems.insert(0, "no heartbeat in %r" % resp.body[:200])
        result("%s stream as documented" % label, not problems, "\n".join(problems))
    c2 = req("cancel a queued job", "POST", "/v1/jobs/{id}/cancel", 202, ids={JB: long2}).json()
    result("a queued job is cancelled at once", (c2 or {}).get("state") == "cancelled", c2)
    req("cancel a running job", "POST", "/v1/jobs/{id}/cancel", 202, ids={JB: long1})
    wait_for("the long job to be cancelled", lambda: job_state(long1) == "cancelled")
    ev = req("events of the cancelled job", "GET", "/v1/jobs/{id}/events", 200, ids={JB: long1},
             query="?after=2")
    last = ([json.loads(l) for l in ev.body.decode().splitlines() if l.strip()] or [{}])[-1]
    result("the stream ends with done: cancelled",
           last.get("type") == "done" and last.get("state") == "cancelled", last)
    method_not_allowed({DS: d1.get("id", "0" * 32), JB: jid})
    for jb in (long1, long2):
        req("delete a finished job", "DELETE", "/v1/jobs/{id}", 204, ids={JB: jb})
    req("the deleted job is gone", "GET", "/v1/jobs/{id}", 404, ids={JB: long1}, code="not_found")
    req("delete a dataset by its name", "DELETE", "/v1/datasets/{id}", 204, ids={DS: "tiny"})
    req("delete it again", "DELETE", "/v1/datasets/{id}", 404, ids={DS: "tiny"}, code="not_found")

    # users and the audit log
    me = req("whoami", "GET", "/v1/users/me", 200).json() or {}
    result("the admin token is the admin user's", me.get("name") == "admin" and me.get("admin") is True,
           me)
    us = req("list users", "GET", "/v1/users", 200).json() or {}
    result("the users list the admin", [u.get("name") for u in us.get("users", [])] == ["admin"], us)
    au = req("the audit log", "GET", "/v1/audit", 200, query="?page_size=1000").json() or {}
    events = au.get("events", [])
    result("the audit log has the job submitted and the failed authentications (status 401)",
           jid in [e.get("object") for e in events] and any(e.get("status") == 401 for e in events),
           json.dumps(events[:3] + events[-3:]))
    req("the audit log, one per page", "GET", "/v1/audit", 200, query="?page_size=1")
    req("the audit log with a bad page_size", "GET", "/v1/audit", 400, query="?page_size=x",
        code="invalid_query")

    # service
    req("info", "GET", "/v1/info", 200)
    req("healthz", "GET", "/healthz", 200)
    m = req("metrics", "GET", "/metrics", 200)
    result("metrics are Prometheus text", b"# TYPE mcmcd_jobs gauge" in m.body, m.body[:200])


try:
    check_document()
    routing()
    authentication()
    tables_agree()
    scenarios()
except Exception:
    result("the checker ran to the end", False, traceback.format_exc())
PY

while IFS= read -r line; do
    case "$line" in
    "ok - "*) ok "${line#ok - }" ;;
    "not ok - "*) bad "${line#not ok - }" ;;
    *) echo "$line" ;;
    esac
done < <(timeout 240 "$PY" "$work/check.py" "$DOC" "$port" 2>&1 || echo "not ok - the checker exited with status $?")

stop_daemon 10
check "SIGTERM stops the daemon cleanly (status $stop_rc)" "[ '$stop_rc' = 0 ]"
check "no sanitizer or crash report on stderr" "! grep -qE 'ERROR: (Address|Leak|Undefined)|runtime error|Segmentation' '$work/daemon.err'"

finish
