#!/usr/bin/env bash
# test_auth_matrix.sh - who may call what. Every operation of
# proto/openapi.yaml is called by every kind of caller: no token, a
# well-formed but unknown token, a malformed one, another user, the owner
# of the object, an admin, and the owner's metrics-scope token; each answer
# must be the status of its cell in MATRIX below. An operation of the
# document without a row here fails the test, so no route is added without
# its access rules. Around the matrix: 401s carry WWW-Authenticate and the
# JSON codes unauthorized / invalid_token, 403s the code forbidden;
# another user's job or dataset answers the very 404 of an id that does not
# exist (existence does not leak); lists show a user their own objects and
# an admin everyone's; no token text reaches the daemon's log or an answer.
# The matrix is printed as a table at the end. Usage: test_auth_matrix.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_auth_matrix.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
DOC="$here/../proto/openapi.yaml"

test_workdir matrix
mkdir -p "$work/resp"

# The callers, in the table's column order.
WHO='none bad malformed other owner admin metrics'

# METHOD PATH, then the status each caller gets. "other" is bob, "owner"
# alice, whose objects the {id} routes name; on the create routes every
# caller creates their own. "metrics" is a metrics-scope token of alice.
MATRIX='
GET    /healthz                   200 200 200 200 200 200 200
GET    /v1/info                   200 200 200 200 200 200 200
GET    /                          200 200 200 200 200 200 200
GET    /ui/{id}                   200 200 200 200 200 200 200
GET    /metrics                   401 401 401 403 403 200 200
GET    /v1/users/me               401 401 401 200 200 200 403
GET    /v1/users                  401 401 401 403 403 200 403
GET    /v1/audit                  401 401 401 403 403 200 403
GET    /v1/jobs                   401 401 401 200 200 200 403
POST   /v1/jobs                   401 401 401 201 201 201 403
GET    /v1/jobs/{id}              401 401 401 404 200 200 403
DELETE /v1/jobs/{id}              401 401 401 404 204 204 403
POST   /v1/jobs/{id}/cancel       401 401 401 404 202 202 403
GET    /v1/jobs/{id}/events       401 401 401 404 200 200 403
GET    /v1/jobs/{id}/draws        401 401 401 404 200 200 403
GET    /v1/jobs/{id}/summary      401 401 401 404 200 200 403
POST   /v1/jobs/{id}/blocks       401 401 401 401 401 401 401
GET    /v1/jobs/{id}/result       401 401 401 404 409 409 403
GET    /v1/datasets               401 401 401 200 200 200 403
POST   /v1/datasets               401 401 401 201 201 201 403
GET    /v1/datasets/{id}          401 401 401 404 200 200 403
DELETE /v1/datasets/{id}          401 401 401 404 204 204 403
'

# --- every operation of the document has a row ---------------------------

# "METHOD PATH" of each operation: with PyYAML when there is one, else the
# paths: section read line by line (two-space path keys, four-space methods).
doc_operations() {
    if "$PY" -c 'import yaml' 2>/dev/null; then
        "$PY" - "$DOC" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
for path, item in doc["paths"].items():
    for m in item:
        if m in ("get", "put", "post", "delete", "options", "head", "patch", "trace"):
            print(m.upper(), path)
PY
    else
        awk '/^paths:/ {p = 1; next}
             p && /^[^ #]/ {p = 0}
             p && /^  \/[^ ]*:[ ]*$/ {path = $1; sub(/:$/, "", path)}
             p && /^    (get|put|post|delete|options|head|patch|trace):/ {
                 m = $1; sub(/:$/, "", m); print toupper(m), path }' "$DOC"
    fi
}
doc_operations | sort >"$work/doc.ops"
echo "$MATRIX" | awk 'NF {print $1, $2}' | sort >"$work/matrix.ops"
check "proto/openapi.yaml lists operations ($(wc -l <"$work/doc.ops"))" "[ -s '$work/doc.ops' ]"
while read -r op; do
    bad "$op is in proto/openapi.yaml but has no row in the access matrix"
done < <(comm -23 "$work/doc.ops" "$work/matrix.ops")
while read -r op; do
    bad "the access matrix has a row for $op, which proto/openapi.yaml does not document"
done < <(comm -13 "$work/doc.ops" "$work/matrix.ops")
check "every operation of proto/openapi.yaml has a row, and every row an operation" \
    "cmp -s '$work/doc.ops' '$work/matrix.ops'"

# --- the daemon, the users and their tokens ------------------------------

daemon_or_exit
ADMIN=$TOKEN
"$MCMCD" user add alice --data-dir "$work/data" >/dev/null
"$MCMCD" user add bob --data-dir "$work/data" >/dev/null
ALICE=$("$MCMCD" token new alice --data-dir "$work/data" 2>/dev/null)
BOB=$("$MCMCD" token new bob --data-dir "$work/data" 2>/dev/null)
ALICE_M=$("$MCMCD" token new alice --scope metrics --data-dir "$work/data" 2>/dev/null)
hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
UNKNOWN="mcmcd_$(hex 8)_$(hex 32)" # well formed; no such token
MALFORMED="mcmcd_$(hex 5)-not-a-token"
form='^mcmcd_[0-9a-f]{16}_[0-9a-f]{64}$'
check "mcmcd token new prints tokens of the documented form" \
    "echo '$ALICE' | grep -Eq '$form' && echo '$BOB' | grep -Eq '$form' && echo '$ALICE_M' | grep -Eq '$form'"
declare -A TOK=([none]='' [bad]=$UNKNOWN [malformed]=$MALFORMED [other]=$BOB [owner]=$ALICE
    [admin]=$ADMIN [metrics]=$ALICE_M)

# req WHO METHOD PATH [curl args]: one request as WHO; sets code, and hdr
# and body (the files of the answer).
nreq=0
req() {
    local who=$1 method=$2 path=$3 auth=()
    shift 3
    nreq=$((nreq + 1))
    hdr=$work/resp/$nreq.hdr body=$work/resp/$nreq.body
    [ -n "${TOK[$who]}" ] && auth=(-H "Authorization: Bearer ${TOK[$who]}")
    code=$(curl -q -s --max-time 20 -X "$method" ${auth[@]+"${auth[@]}"} -D "$hdr" -o "$body" \
        -w '%{http_code}' "$@" "$URL$path")
}
# header FILE NAME: the first value of header NAME (in bash: ~150 cells
# call it, and a pipe of three programs each cost ~20 ms here)
header() {
    local line name=${2,,}
    while IFS= read -r line; do
        line=${line%$'\r'}
        if [[ ${line,,} == "$name: "* ]]; then
            echo "${line#*: }"
            return
        fi
    done <"$1"
}
jid() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])' 2>/dev/null; }

QUICK='{"data": {"synthetic": {"n": 50, "d": 2, "seed": 1}}, "sampler": {"type": "ula", "step_size": 0.01}, "num_samples": 200, "chains": 1}'
LONG='{"data": {"synthetic": {"n": 20000, "d": 5, "seed": 1}}, "sampler": {"type": "ula", "step_size": 1e-4}, "num_samples": 10000, "thin": 10000, "chains": 1, "progress_every": 100}'
# new_job WHO SPEC: prints the id of a job WHO submits
new_job() { req "$1" POST /v1/jobs -H 'Content-Type: application/json' --data-binary "$2" && jid <"$body"; }
# A CSV no other upload has: datasets are stored by content, and the
# same rows from the same user would answer 200, not 201.
nds=0
csv_unique() {
    nds=$((nds + 1))
    printf 'a,b\n%d,2\n3,%d\n' "$nds" "$RANDOM"
}
# new_dataset WHO NAME: prints the id of a dataset WHO uploads
new_dataset() {
    req "$1" POST "/v1/datasets?name=$2" -H 'Content-Type: text/csv' --data-binary "$(csv_unique)" &&
        jid <"$body"
}

# alice's objects: one job and one dataset that every caller reads, and a
# fresh finished job and dataset for each caller's DELETE.
J=$(new_job owner "$QUICK")
DS=$(new_dataset owner mine)
declare -A DJ DD CJ
for w in $WHO; do
    DJ[$w]=$(new_job owner "$QUICK")
    DD[$w]=$(new_dataset owner "del-$w")
done
check "alice has a job ($J) and a dataset ($DS)" "[ -n '$J' ] && [ -n '$DS' ]"
state=$(wait_job "$J")
check "alice's job succeeds ($state)" "[ '$state' = succeeded ]"
for w in $WHO; do wait_job "${DJ[$w]}" >/dev/null; done

# --- the matrix -----------------------------------------------------------

# target ROUTE WHO: sets path and args (curl arguments) of ROUTE for WHO.
target() {
    args=()
    case "$1" in
    'DELETE /v1/jobs/{id}') path=/v1/jobs/${DJ[$2]} ;;
    'POST /v1/jobs/{id}/cancel') path=/v1/jobs/${CJ[$2]}/cancel ;;
    'DELETE /v1/datasets/{id}') path=/v1/datasets/${DD[$2]} ;;
    'POST /v1/jobs') path=/v1/jobs args=(-H 'Content-Type: application/json' --data-binary "$QUICK") ;;
    'POST /v1/datasets')
        path="/v1/datasets?name=up-$2" args=(-H 'Content-Type: text/csv' --data-binary "$(csv_unique)")
        ;;
    *)
        path=${1#* }
        case "$path" in
        /v1/jobs/*) path=${path/'{id}'/$J} ;;
        /v1/datasets/*) path=${path/'{id}'/$DS} ;;
        /ui/*) path=${path/'{id}'/app.js} ;; # the dashboard's script
        esac
        ;;
    esac
}

# What else a 401 or 403 answer must carry; prints what is wrong.
error_shape() { # WHO STATUS
    local want_code='' want_auth=''
    case "$2" in
    401)
        want_auth='Bearer realm="mcmcd"' want_code=unauthorized
        [ "$1" = none ] || want_auth='Bearer realm="mcmcd", error="invalid_token"' want_code=invalid_token
        ;;
    403) want_code=forbidden ;;
    404) want_code=not_found ;;
    *) return 0 ;;
    esac
    local got_code got_auth
    # the daemon's JSON is compact: the first "code" is the error's
    local re='^\{"error":\{"code":"([a-z_]*)"'
    got_code=''
    [[ $(<"$body") =~ $re ]] && got_code=${BASH_REMATCH[1]}
    got_auth=$(header "$hdr" WWW-Authenticate)
    [ "$got_code" = "$want_code" ] || echo "error code '$got_code', not '$want_code'"
    [ -z "$want_auth" ] || [ "$got_auth" = "$want_auth" ] ||
        echo "WWW-Authenticate '$got_auth', not '$want_auth'"
}

declare -A CELL
while read -r method route expect; do
    [ -n "$method" ] || continue
    row="$method $route"
    if [ "$row" = 'POST /v1/jobs/{id}/cancel' ]; then # fresh, unfinished jobs of alice
        for w in $WHO; do CJ[$w]=$(new_job owner "$LONG"); done
    fi
    read -r -a want_all <<<"$expect"
    i=0
    for w in $WHO; do
        want=${want_all[$i]:-}
        i=$((i + 1))
        target "$row" "$w"
        req "$w" "$method" "$path" ${args[@]+"${args[@]}"}
        wrong=$(error_shape "$w" "$code")
        if [ "$code" = "$want" ] && [ -z "$wrong" ]; then
            CELL[$row.$w]=$code
            ok "$row as $w: $code"
        else
            CELL[$row.$w]="$code!=$want"
            bad "$row as $w: $code, expected $want${wrong:+ ($wrong)}"
            [ -z "$wrong" ] || echo "$wrong" | show
            head -c 300 "$body" | show
        fi
    done
    if [ "$row" = 'POST /v1/jobs/{id}/cancel' ]; then # the ones left running
        for w in $WHO; do c -o /dev/null -X POST "$URL/v1/jobs/${CJ[$w]}/cancel"; done
    fi
done <<<"$MATRIX"

# --- another user's object answers the 404 of one that does not exist -----

# An id of the same length that names nothing: each hex digit rotated.
ghost() { echo "$1" | tr '0-9a-f' '1-9a-f0'; }
# The answer with the id blanked, and its headers less Date.
shape() { # ID: of the last request
    sed "s/$1/ID/g" "$body"
    echo
    tr -d '\r' <"$hdr" | grep -iv '^date:' | sort
}
for route in "GET /v1/jobs/ID" "DELETE /v1/jobs/ID" "POST /v1/jobs/ID/cancel" "GET /v1/jobs/ID/events" \
    "GET /v1/jobs/ID/draws" "GET /v1/jobs/ID/summary" "GET /v1/datasets/ID" "DELETE /v1/datasets/ID"; do
    method=${route%% *} path=${route#* }
    case "$path" in /v1/jobs/*) id=$J ;; *) id=$DS ;; esac
    req other "$method" "${path/ID/$id}"
    theirs=$(shape "$id")
    req other "$method" "${path/ID/$(ghost "$id")}"
    none=$(shape "$(ghost "$id")")
    check "$route: another user's object and a missing one answer the same 404, byte for byte but the id" \
        "[ '$code' = 404 ] && [ \"\$theirs\" = \"\$none\" ]"
    [ "$theirs" = "$none" ] || diff <(echo "$theirs") <(echo "$none") | show
done
req other GET /v1/datasets/mine
check "another user asking for alice's dataset by her name for it: 404" "[ '$code' = 404 ]"
req owner GET /v1/datasets/mine
check "alice asking for it by her name: 200, its id" "[ '$code' = 200 ] && [ \"\$(jget '$body' 'j[\"id\"]')\" = '$DS' ]"
req admin GET "/v1/jobs/$(ghost "$J")"
check "an admin asking for a job that does not exist: 404" "[ '$code' = 404 ]"
req admin GET "/v1/jobs/$J"
check "an admin reads alice's job: owner alice" "[ \"\$(jget '$body' 'j[\"owner\"]')\" = alice ]"

# --- lists ------------------------------------------------------------------

# owners LIST_FILE KEY: the owners of the listed objects, sorted, unique
owners() { jget "$1" "' '.join(sorted(set(str(o['owner']) for o in j['$2'])))"; }
# has LIST_FILE KEY ID: whether the list holds ID
has() { [ "$(jget "$1" "any(o['id'] == '$3' for o in j['$2'])")" = True ]; }

req other GET /v1/jobs
check "bob's job list: only his own jobs, none of alice's ($(owners "$body" jobs))" \
    "[ '$code' = 200 ] && [ \"\$(owners '$body' jobs)\" = bob ] && ! has '$body' jobs '$J'"
req other GET '/v1/jobs?owner=alice'
check "bob's job list with ?owner=alice: nothing of alice's" \
    "[ '$code' = 200 ] && ! has '$body' jobs '$J' && [ -z \"\$(owners '$body' jobs)\" ]"
req owner GET /v1/jobs
check "alice's job list: her jobs only ($(owners "$body" jobs))" \
    "[ '$code' = 200 ] && [ \"\$(owners '$body' jobs)\" = alice ] && has '$body' jobs '$J'"
req admin GET /v1/jobs
check "the admin's job list: everyone's ($(owners "$body" jobs))" \
    "[ '$code' = 200 ] && [ \"\$(owners '$body' jobs)\" = 'admin alice bob' ] && has '$body' jobs '$J'"
req admin GET '/v1/jobs?owner=alice'
check "the admin's job list with ?owner=alice: alice's" \
    "[ '$code' = 200 ] && [ \"\$(owners '$body' jobs)\" = alice ] && has '$body' jobs '$J'"
req other GET /v1/datasets
check "bob's dataset list: only his own ($(owners "$body" datasets))" \
    "[ '$code' = 200 ] && [ \"\$(owners '$body' datasets)\" = bob ] && ! has '$body' datasets '$DS'"
req owner GET /v1/datasets
check "alice's dataset list: hers only, with 'mine'" \
    "[ '$code' = 200 ] && [ \"\$(owners '$body' datasets)\" = alice ] && has '$body' datasets '$DS'"
req admin GET /v1/datasets
check "the admin's dataset list: everyone's ($(owners "$body" datasets))" \
    "[ '$code' = 200 ] && [ \"\$(owners '$body' datasets)\" = 'admin alice bob' ] && has '$body' datasets '$DS'"

# --- no token text in the log or in an answer -------------------------------

leaked=''
for t in "$ADMIN" "$ALICE" "$BOB" "$ALICE_M" "$UNKNOWN" "$MALFORMED"; do
    secret=${t##*_} # the secret part alone must not show either
    grep -qF -e "$t" -e "$secret" "$work/daemon.err" "$work/daemon.out" && leaked="$leaked ${t:0:12}..."
done
check "no token appears in the daemon's stdout or stderr${leaked:+ (found:$leaked)}" "[ -z '$leaked' ]"
leaked=''
for t in "$ADMIN" "$ALICE" "$BOB" "$ALICE_M" "$UNKNOWN" "$MALFORMED"; do
    grep -rqF -e "${t##*_}" "$work/resp" && leaked="$leaked ${t:0:12}..."
done
check "no token appears in any answer's headers or body ($nreq answers)${leaked:+ (found:$leaked)}" \
    "[ -z '$leaked' ]"

# --- the table -----------------------------------------------------------------

echo "# access matrix: status by caller (GOT!=WANT where they differ)"
printf '# %-28s' route
for w in $WHO; do printf ' %-9s' "$w"; done
echo
while read -r method route _; do
    [ -n "$method" ] || continue
    printf '# %-28s' "$method $route"
    for w in $WHO; do printf ' %-9s' "${CELL[$method $route.$w]:-?}"; done
    echo
done <<<"$MATRIX"
stop_daemon
finish
