#!/usr/bin/env bash
# test_openapi_lint.sh - proto/openapi.yaml passes `redocly lint` with its
# recommended rules as redocly.yaml adjusts them: the @redocly/cli pinned in
# tools/redocly (installed there by ./dev with npm ci) reports no error and
# no warning, and the lint is not vacuous (a copy of the document without
# its security requirement is refused). The ignore file silences one rule
# only, and the document's security is what the API does: a bearer scheme,
# required everywhere but GET /healthz, GET /v1/info and the dashboard's
# GET / and GET /ui/{id}, every protected operation documenting 401 with
# WWW-Authenticate, and the admin routes 403; a Slurm task's POST
# /v1/jobs/{id}/blocks takes its job's secret (jobSecret) instead.
# A missing node or redocly fails, saying to run ./dev.
# Usage: test_openapi_lint.sh [PATH/TO/mcmcd] (the daemon is not needed)
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
work=$(mktemp -d /tmp/mcmcd-openapi-lint.XXXXXX)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

tool=$root/tools/redocly
cli=$tool/node_modules/@redocly/cli/bin/cli.js
# no usage reports, no update checks: the test reads local files only
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

if ! command -v node >/dev/null 2>&1; then
    bad "node is installed (run ./dev build: it installs nodejs and npm, then @redocly/cli)"
    finish
    exit 1
fi
if [ ! -f "$cli" ]; then
    bad "@redocly/cli is installed in tools/redocly/node_modules (run ./dev build: it runs npm ci --prefix tools/redocly)"
    finish
    exit 1
fi
ok "node $(node --version) and @redocly/cli are installed"

# The installed version is the locked one: a stale node_modules fails here
# rather than judging the document by other rules.
locked=$(jget "$tool/package-lock.json" 'j["packages"]["node_modules/@redocly/cli"]["version"]')
installed=$(jget "$tool/node_modules/@redocly/cli/package.json" 'j["version"]')
check "the installed @redocly/cli ($installed) is the locked one ($locked; else run ./dev build)" \
    "[ -n '$locked' ] && [ '$installed' = '$locked' ]"

lint() { # lint DOC OUT.json: redocly's JSON report of DOC under redocly.yaml
    (cd "$root" && node "$cli" lint "$1" --config redocly.yaml --format=json --max-problems 1000 \
        >"$2" 2>"$2.err")
}
# "N errors, M warnings: rule at pointer: message" lines of a report
problems() {
    "$PY" - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t = r["totals"]
print("%d errors, %d warnings, %d ignored" % (t["errors"], t["warnings"], t["ignored"]))
for p in r["problems"]:
    loc = (p.get("location") or [{}])[0]
    print("%s %s at %s: %s" % (p["severity"], p["ruleId"], loc.get("pointer", "?"), p["message"]))
PY
}
count() { jget "$1" "j['totals']['$2']"; }

lint proto/openapi.yaml "$work/lint.json"
if [ -s "$work/lint.json" ] && [ "$(count "$work/lint.json" errors)" = 0 ] &&
    [ "$(count "$work/lint.json" warnings)" = 0 ]; then
    ok "redocly lint proto/openapi.yaml: no errors, no warnings ($(problems "$work/lint.json" | head -n 1))"
else
    bad "redocly lint proto/openapi.yaml: no errors, no warnings"
    { problems "$work/lint.json" 2>/dev/null || cat "$work/lint.json.err"; } | head -n 60 | show
fi

check "redocly.yaml extends the recommended rules" \
    "grep -Eq '^  - recommended\$' '$root/redocly.yaml' && grep -q '^extends:' '$root/redocly.yaml'"
ignored=$("$PY" -c '
import sys, yaml
d = yaml.safe_load(open(sys.argv[1])) or {}
print(" ".join(sorted({r for f in d.values() for r in f})))' "$root/.redocly.lint-ignore.yaml" 2>&1)
check "the ignore file silences no-invalid-media-type-examples only (it has: $ignored)" \
    "[ '$ignored' = no-invalid-media-type-examples ]"

# Not vacuous: without the root security requirement every protected
# operation must be reported by security-defined.
"$PY" -c '
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
del d["security"]
yaml.safe_dump(d, open(sys.argv[2], "w"), sort_keys=False)' "$root/proto/openapi.yaml" "$work/nosec.yaml"
lint "$work/nosec.yaml" "$work/nosec.json"
n=$(jget "$work/nosec.json" 'sum(p["ruleId"] == "security-defined" for p in j["problems"])')
check "the lint catches a document without security (security-defined: ${n:-no report})" \
    "[ -n '$n' ] && [ '$n' -gt 10 ] && [ \"\$(count '$work/nosec.json' errors)\" -gt 0 ]"

# The document's security, as the daemon applies it.
"$PY" - "$root/proto/openapi.yaml" >"$work/security.txt" 2>&1 <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
PUBLIC = {("get", "/healthz"), ("get", "/v1/info"), ("get", "/"), ("get", "/ui/{id}")}
ADMIN = {("get", "/v1/users"), ("get", "/v1/audit"), ("get", "/metrics")}
# a Slurm task's route: the job's secret (its own bearer scheme), no user
TASK = {("post", "/v1/jobs/{id}/blocks")}
comp = doc.get("components", {})


def deref(node):
    while isinstance(node, dict) and "$ref" in node:
        node = comp[node["$ref"].split("/")[2]][node["$ref"].split("/")[3]]
    return node


def say(good, what):
    print(("ok - " if good else "not ok - ") + what)


scheme = comp.get("securitySchemes", {}).get("bearerAuth", {})
say(scheme.get("type") == "http" and scheme.get("scheme") == "bearer",
    "components.securitySchemes.bearerAuth is http bearer")
say(doc.get("security") == [{"bearerAuth": []}], "the root security requires bearerAuth")
for path, item in doc["paths"].items():
    for m, op in item.items():
        if m not in ("get", "put", "post", "delete", "patch", "head", "options", "trace"):
            continue
        name = "%s %s" % (m.upper(), path)
        codes = op.get("responses", {})
        if (m, path) in PUBLIC:
            say(op.get("security") == [] and "401" not in codes and "403" not in codes,
                "%s is public (security: [], no 401 or 403)" % name)
            continue
        r401 = deref(codes.get("401", {}))
        if (m, path) in TASK:
            say(op.get("security") == [{"jobSecret": []}] and "403" not in codes and
                deref(r401.get("headers", {}).get("WWW-Authenticate", {})).get("required") is True,
                "%s takes the job's secret (jobSecret): 401 with WWW-Authenticate, no 403" % name)
            continue
        say("security" not in op and r401.get("headers", {}).get("WWW-Authenticate", {})
            and deref(r401["headers"]["WWW-Authenticate"]).get("required") is True,
            "%s needs a token: 401 with WWW-Authenticate" % name)
        r403 = deref(codes.get("403", {}))
        say("forbidden" in r403.get("description", "") and
            (("admin" in r403["description"]) == ((m, path) in ADMIN)),
            "%s documents 403 forbidden%s" % (name, " for non-admins" if (m, path) in ADMIN else ""))
for m, path in PUBLIC | ADMIN:
    say(m in doc["paths"].get(path, {}), "%s %s is documented" % (m.upper(), path))
PY
while IFS= read -r line; do
    case "$line" in
    "ok - "*) ok "${line#ok - }" ;;
    "not ok - "*) bad "${line#not ok - }" ;;
    *) echo "# $line" ;;
    esac
done <"$work/security.txt"
check "the security checks ran" "grep -q 'bearerAuth is http bearer' '$work/security.txt'"

finish
