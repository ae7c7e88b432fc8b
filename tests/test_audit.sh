#!/usr/bin/env bash
# test_audit.sh - the audit log: a user submits, cancels and deletes a job
# and uploads and deletes a dataset, two requests fail to authenticate,
# `mcmcd user add`, `token new` and `token revoke` run from the command line
# while the daemon serves, and a plain user asks for the log. GET /v1/audit
# (as admin) must list exactly those events, newest first, with the right
# user, action, object, status and remote address (127.0.0.1; none for the
# command line, whose user is "cli:" and the login name), and no token's
# text may appear in the log or on the daemon's stderr. A plain user gets
# 403; pages of 2 walk every event once; ?user= and ?action= filter; a
# page_token we did not make is 400. Usage: test_audit.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_audit.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir audit

daemon_or_exit

cli() { "$MCMCD" "$@" --data-dir "$work/data"; }
# as alice: her token, not the admin's curlrc
ca() { curl -q -s --max-time 20 -H "Authorization: Bearer $AT" "$@"; }

cli user add alice >/dev/null
AT=$(cli token new alice 2>/dev/null)
check "alice and her token are made from the command line" "[ \${#AT} -eq 87 ]"

# --- alice's job: submit, cancel, delete -------------------------------------------
long='{"data": {"synthetic": {"n": 2000, "d": 3, "seed": 1}},
 "sampler": {"type": "ula", "step_size": 1e-4}, "num_samples": 10000, "thin": 10000, "chains": 1}'
code=$(ca -o "$work/job.json" -w '%{http_code}' --json "$long" "$URL/v1/jobs")
JOB=$(jget "$work/job.json" 'j["id"]')
check "alice submits a job (201)" "[ '$code' = 201 ] && [ -n '$JOB' ]"
code=$(ca -o /dev/null -w '%{http_code}' -X POST "$URL/v1/jobs/$JOB/cancel")
check "alice cancels it (202)" "[ '$code' = 202 ]"
state=$(wait_job "$JOB")
check "it ends cancelled" "[ '$state' = cancelled ]"
code=$(ca -o /dev/null -w '%{http_code}' -X DELETE "$URL/v1/jobs/$JOB")
check "alice deletes it (204)" "[ '$code' = 204 ]"

# --- alice's dataset: upload, delete -----------------------------------------------
code=$(ca -o "$work/ds.json" -w '%{http_code}' \
    --json '{"synthetic": {"n": 50, "d": 2, "seed": 3}, "name": "mydata"}' "$URL/v1/datasets")
DS=$(jget "$work/ds.json" 'j["id"]')
check "alice uploads a dataset named mydata (201)" "[ '$code' = 201 ] && [ -n '$DS' ]"
code=$(ca -o /dev/null -w '%{http_code}' -X DELETE "$URL/v1/datasets/mydata")
check "alice deletes it by its name (204)" "[ '$code' = 204 ]"

# --- two failed authentications ------------------------------------------------------
BAD=mcmcd_0123456789abcdef_$(printf 'f%.0s' $(seq 64))
code1=$(curl -q -s -o /dev/null -w '%{http_code}' --max-time 20 "$URL/v1/jobs")
code2=$(curl -q -s -o /dev/null -w '%{http_code}' --max-time 20 \
    -H "Authorization: Bearer $BAD" "$URL/v1/datasets")
check "no token, then a bad one: 401 twice ($code1 $code2)" "[ '$code1' = 401 ] && [ '$code2' = 401 ]"

# --- the command line while the daemon serves ------------------------------------------
cli user add bob >/dev/null
BT=$(cli token new bob 2>/dev/null)
BID=${BT:6:16}
cli token revoke "$BT" >/dev/null # by its whole text: the log names it by id
check "bob's token (id $BID) is made and revoked by its text" \
    "[ \${#BT} -eq 87 ] && ! cli token list bob | grep -q '$BID'"

# --- who may read the log -------------------------------------------------------------
code=$(ca -o "$work/forbidden.json" -w '%{http_code}' "$URL/v1/audit")
check "alice (not an admin) gets 403 forbidden" \
    "[ '$code' = 403 ] && [ \"\$(jget '$work/forbidden.json' 'j[\"error\"][\"code\"]')\" = forbidden ]"
code=$(curl -q -s -o /dev/null -w '%{http_code}' --max-time 20 "$URL/v1/audit")
check "no token: 401" "[ '$code' = 401 ]"

# --- the log ------------------------------------------------------------------------------
code=$(c -o "$work/audit.json" -w '%{http_code}' "$URL/v1/audit?page_size=1000")
check "the admin reads the log (200)" "[ '$code' = 200 ]"
echo "# \$ curl -s '$URL/v1/audit?page_size=1000'"
"$PY" -c 'import json,sys
for e in json.load(open(sys.argv[1]))["events"]: print(json.dumps(e))' "$work/audit.json" | show
check "every event, newest first, with its user, action, object, status, detail and remote" \
    "$PY - '$work/audit.json' '$JOB' '$DS' '${AT:6:16}' '$BID' <<'PY'
import json, os, pwd, sys
page = json.load(open(sys.argv[1]))
job, ds, aid, bid = sys.argv[2:]
try:
    cli = 'cli:' + pwd.getpwuid(os.geteuid()).pw_name
except KeyError:
    cli = 'cli:uid %d' % os.geteuid()
L = '127.0.0.1'
want = [  # oldest first: (user, action, object, status, detail, remote)
    (cli, 'user.add', 'alice', 0, None, None),
    (cli, 'token.new', aid, 0, 'user alice, scope all', None),
    ('alice', 'job.submit', job, 201, None, L),
    ('alice', 'job.cancel', job, 202, None, L),
    ('alice', 'job.delete', job, 204, None, L),
    ('alice', 'dataset.upload', ds, 201, 'mydata', L),
    ('alice', 'dataset.delete', ds, 204, 'mydata', L),
    (None, 'auth.failed', '/v1/jobs', 401, 'missing token', L),
    (None, 'auth.failed', '/v1/datasets', 401, 'invalid token', L),
    (cli, 'user.add', 'bob', 0, None, None),
    (cli, 'token.new', bid, 0, 'user bob, scope all', None),
    (cli, 'token.revoke', bid, 0, None, None),
    ('alice', 'auth.forbidden', '/v1/audit', 403, 'not an admin', L),
    (None, 'auth.failed', '/v1/audit', 401, 'missing token', L),
]
ev = page['events']
got = [(e['user'], e['action'], e['object'], e['status'], e['detail'], e['remote']) for e in ev]
assert got == want[::-1], '\n'.join(map(str, got))
assert page['next_page_token'] == '', page['next_page_token']
seqs = [e['seq'] for e in ev]
assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs), seqs
times = [e['time'] for e in ev]
assert times == sorted(times, reverse=True) and all(t.endswith('Z') for t in times), times
assert all(sorted(e) == sorted(['seq', 'time', 'user', 'action', 'object', 'status', 'detail',
                                'remote']) for e in ev), ev[0]
PY"

secrets="$AT $BT $BAD $TOKEN"
leak=''
for t in $secrets; do
    for part in "$t" "${t:23}"; do # the whole text, and the secret alone
        grep -qF -- "$part" "$work/audit.json" "$work/daemon.err" "$work/daemon.out" && leak="$leak $part"
    done
done
check "no token's text (nor its secret) in the log or the daemon's output" "[ -z '$leak' ]"

# --- pages of two ---------------------------------------------------------------------------
check "pages of 2 walk every event once, newest first, and the last says so" \
    "$PY - '$URL' '$TOKEN' '$work/audit.json' <<'PY'
import json, sys, urllib.parse, urllib.request
url, token, full = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
def get(q):
    r = urllib.request.Request(url + '/v1/audit?' + q, headers={'Authorization': 'Bearer ' + token})
    return json.load(urllib.request.urlopen(r, timeout=20))
seqs, tok, pages = [], None, 0
while True:
    p = get('page_size=2' + ('&page_token=' + urllib.parse.quote(tok) if tok else ''))
    pages += 1
    assert 1 <= len(p['events']) <= 2, p
    seqs += [e['seq'] for e in p['events']]
    tok = p['next_page_token']
    if not tok:
        break
    assert pages < 100
want = [e['seq'] for e in full['events']]
assert seqs == want, (seqs, want)
assert pages == (len(want) + 1) // 2, pages
PY"

# --- filters --------------------------------------------------------------------------------
filter_is() { # QUERY EXPECTED_ACTIONS (newest first, comma-separated)
    c "$URL/v1/audit?$1" >"$work/filter.json"
    got=$(jget "$work/filter.json" '",".join(e["action"] for e in j["events"])')
    [ "$got" = "$2" ] || echo "# ?$1: $got"
    [ "$got" = "$2" ]
}
check "?user=alice: her events alone" \
    "filter_is 'user=alice' auth.forbidden,dataset.delete,dataset.upload,job.delete,job.cancel,job.submit"
check "?action=auth.failed: the failed authentications" \
    "filter_is 'action=auth.failed' auth.failed,auth.failed,auth.failed"
check "?user=alice&action=job.cancel: one" "filter_is 'user=alice&action=job.cancel' job.cancel"
check "?user=nobody: none" "filter_is 'user=nobody' ''"
code=$(c -o "$work/bad.json" -w '%{http_code}' "$URL/v1/audit?page_token=xyz")
check "a page_token we did not make: 400 invalid_query" \
    "[ '$code' = 400 ] && [ \"\$(jget '$work/bad.json' 'j[\"error\"][\"code\"]')\" = invalid_query ]"
code=$(c -o /dev/null -w '%{http_code}' "$URL/v1/audit?page_size=1001")
check "page_size over 1000: 400" "[ '$code' = 400 ]"

stop_daemon
check "no sanitizer or crash report on the daemon's stderr" \
    "! grep -qE 'Sanitizer|runtime error|Segmentation' '$work/daemon.err'"

finish
