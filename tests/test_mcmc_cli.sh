#!/usr/bin/env bash
# test_mcmc_cli.sh - the `mcmc` command-line tool against a real daemon on
# loopback, as a user and a script drive it: every subcommand (with
# MCMC_SERVER and with --server), --help everywhere, tables and --json,
# exit codes (0 done, 1 failed or cancelled job and server errors, 2 usage,
# 3 unreachable, 130 Ctrl-C), the samplers and their parameters as the
# server's /v1/info lists them (in `mcmc samplers` and submit's help, and
# this build's tables when the server is gone), specs edited by --sampler,
# --param and --set, `mcmc run` and `mcmc draws` files equal byte
# for byte to `mcmcd run`'s in .npy, CSV and JSON (and selections to the
# daemon's own), plain progress lines off a terminal, and progress bars
# redrawn with ANSI cursor movement on one (under script(1)); tokens: the
# one-line 401 hint, --token, MCMC_TOKEN, `mcmc whoami`, `mcmc login` from
# a pipe into the token store (modes 0600/0700, one line per server) and
# commands working from it, a store others may read skipped, the local
# daemon's admin token for a loopback server, 403 for a metrics-scope
# token, 429 over a per-user queued-jobs limit.
# Usage: test_mcmc_cli.sh PATH/TO/mcmcd (mcmc is BUILD/client/mcmc; KEEP=1
# keeps the work directory for a look afterwards).
set -u
MCMCD=${1:?usage: test_mcmc_cli.sh PATH/TO/mcmcd}
MCMC=$(cd "$(dirname "$MCMCD")/.." && pwd)/client/mcmc
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir mcmc-cli
unset MCMC_SERVER
# a HOME of our own: no token store or admin token of the user's is found,
# and `mcmc login` writes here
unset MCMC_TOKEN XDG_CONFIG_HOME XDG_STATE_HOME
export HOME=$work/home
mkdir -p "$HOME"
# mcmc with a time limit; stdout and stderr to $work/out and $work/err, rc in $rc
m() {
    timeout 60 "$MCMC" "$@" >"$work/out" 2>"$work/err"
    rc=$?
}
# the same with MCMC_SERVER naming a closed port: only --server can reach the daemon
ms() { MCMC_SERVER=http://127.0.0.1:1 m "$@"; }
# the same with MCMC_TOKEN unset
mn() {
    local saved=${MCMC_TOKEN:-}
    unset MCMC_TOKEN
    m "$@"
    export MCMC_TOKEN=$saved
}

if [ ! -x "$MCMC" ]; then
    bad "the mcmc binary is at $MCMC"
    finish
    exit 1
fi

# --- usage, before any daemon: --help everywhere, usage errors -------------
for cmd in "" "help" "data put" "data ls" "data rm" submit watch status ls cancel delete draws \
    summary run samplers whoami login; do
    # shellcheck disable=SC2086
    timeout 10 "$MCMC" $cmd --help >"$work/help" 2>"$work/help.err"
    hrc=$?
    check "mcmc ${cmd:+$cmd }--help: exit 0, usage on stdout" \
        "[ $hrc -eq 0 ] && grep -q '^usage: mcmc' '$work/help' && [ ! -s '$work/help.err' ]"
done
m help draws
check "mcmc help draws: the draws usage" "[ $rc -eq 0 ] && grep -q 'usage: mcmc draws JOB' '$work/out'"
m
check "mcmc alone: exit 2 and the usage on stderr" "[ $rc -eq 2 ] && grep -q '^usage:' '$work/err'"
for args in "frobnicate" "data" "data frob" "ls --bogus" "status" "status a b" "draws JOB" \
    "draws JOB -o x.txt" "draws JOB -o x.npy --thin 0" "draws JOB -o x.npy --chain -1" \
    "ls --state sleeping" "submit" "run spec.json" "watch J --progress fancy" \
    "submit /nonexistent/spec.json" "submit -p adapt_delta" "submit --set =1" "run -s mala" \
    "submit -s mala,delta" "samplers a b" "whoami x" "login x" "--token" "ls --token"; do
    # shellcheck disable=SC2086
    m $args
    check "mcmc $args: exit 2 with a 'mcmc: ' message" "[ $rc -eq 2 ] && grep -q '^mcmc: ' '$work/err'"
done

# --- the daemon: ephemeral port, temporary data dir -------------------------
daemon_or_exit
check "it listens on loopback" "case '$URL' in http://127.0.0.1:[0-9]*) true ;; *) false ;; esac"
export MCMC_SERVER=$URL
cd "$work" || exit 1
# the admin token the daemon made on its first start (this data dir is not
# the default one, so only MCMC_TOKEN, which start_daemon exports, brings it
# to mcmc)
TOK=$(head -n 1 "$work/data/admin.token" 2>/dev/null)
check "the daemon wrote data/admin.token, mode 600" \
    "[ -n '$TOK' ] && [ '$TOK' = \"\$MCMC_TOKEN\" ] && [ \"\$(stat -c %a '$work/data/admin.token')\" = 600 ]"

cat >spec.json <<'JSON'
{"data": {"synthetic": {"n": 500, "d": 3, "seed": 4}},
 "sampler": {"type": "mala", "step_size": 0.01},
 "num_samples": 2000, "num_warmup": 100, "chains": 4, "key": [0, 42],
 "init": "prior", "progress_every": 250}
JSON
"$PY" - "$work/data.csv" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(1)
X = rng.normal(size=(300, 2)); y = (rng.uniform(size=300) < 1 / (1 + np.exp(-X @ [1.5, -1]))).astype(int)
with open(sys.argv[1], 'w') as f:
    f.write('x1,x2,y\n')
    for r, t in zip(X, y): f.write('%r,%r,%d\n' % (r[0], r[1], t))
PY
cat >nodata.json <<'JSON'
{"sampler": {"type": "ula", "step_size": 0.001}, "num_samples": 500, "chains": 2,
 "progress_every": 100}
JSON

# --- datasets ---------------------------------------------------------------
echo "# \$ mcmc data put data.csv --name mine"
m data put data.csv --name mine
show <out
DS=$(awk '{print $1}' out)
check "data put: exit 0, one line: id, 300x2, name" \
    "[ $rc -eq 0 ] && [ \$(wc -l <out) -eq 1 ] && grep -q '300x2' out && grep -q 'mine\$' out && [ -n '$DS' ]"
ms --server "$URL" data put data.csv --json
check "data put --json (--server before the command): the same id" \
    "[ $rc -eq 0 ] && [ \"\$(jget out 'j[\"id\"]')\" = '$DS' ] && [ \"\$(jget out 'j[\"n\"]')\" = 300 ]"
echo "# \$ mcmc data ls"
m data ls
show <out
check "data ls: one line per dataset, with its id" "[ $rc -eq 0 ] && [ \$(wc -l <out) -eq 1 ] && grep -q '^$DS ' out"
m data ls --json
check "data ls --json: {\"datasets\": [...]} with it" \
    "[ $rc -eq 0 ] && [ \"\$(jget out '[d[\"id\"] for d in j[\"datasets\"]]')\" = \"['$DS']\" ]"

# --- submit --watch off a terminal: plain progress lines ---------------------
echo "# \$ mcmc submit spec.json --watch 2>progress.log"
m submit spec.json --watch
JOB=$(head -n 1 out)
head -n 4 err | show
check "submit --watch: exit 0, the job id alone on stdout" \
    "[ $rc -eq 0 ] && echo '$JOB' | grep -Eq '^[0-9a-f]{24}\$' && [ \$(wc -l <out) -eq 1 ]"
check "submit --watch off a terminal: plain 'job ID chain C: ITER/TOTAL' lines, no ANSI" \
    "grep -Eq '^job $JOB chain [0-3]: +[0-9]+/2100 .*it/s.*acc.*ETA' err && ! grep -q \$'\\033' err"
check "submit --watch: each chain's last line says 2100/2100" \
    "[ \$(grep -c '2100/2100 100.0%' err) -ge 4 ]"
check "submit --watch: ends with the final state" "[ \"\$(tail -n 1 err)\" = 'job $JOB succeeded' ]"

# --- status, ls, summary ---------------------------------------------------
echo "# \$ mcmc status $JOB"
m status "$JOB"
show <out
check "status: state, shape and one row per chain" \
    "[ $rc -eq 0 ] && grep -q '^state  *succeeded' out && grep -q '4 chains x 2000 draws x 3' out &&
     [ \$(grep -Ec '^ +[0-3] +2100/2100' out) -eq 4 ]"
ms status "$JOB" --json --server "$URL"
check "status --json --server: the job with its spec" \
    "[ $rc -eq 0 ] && [ \"\$(jget out 'j[\"state\"], j[\"shape\"], j[\"spec\"][\"chains\"]')\" = 'succeeded [4, 2000, 3] 4' ]"
echo "# \$ mcmc ls"
m ls
show <out
check "ls: a header and the job's row" "[ $rc -eq 0 ] && head -n 1 out | grep -q '^ID' && grep -q '^$JOB  succeeded' out"
m ls --state running
check "ls --state running: no job" "[ $rc -eq 0 ] && ! grep -q '$JOB' out"
ms ls --state succeeded --json --server "$URL"
check "ls --state succeeded --json: {\"jobs\": [...]} with it" \
    "[ $rc -eq 0 ] && [ \"\$(jget out '[x[\"id\"] for x in j[\"jobs\"]]')\" = \"['$JOB']\" ]"
echo "# \$ mcmc summary $JOB"
m summary "$JOB"
show <out
check "summary: a row per parameter (theta.1..3) with mean, sd, ESS and R-hat" \
    "[ $rc -eq 0 ] && grep -q 'mean.*sd.*ess_bulk.*rhat' out &&
     (for p in 1 2 3; do grep -Eq \"^theta.\$p +-?[0-9]\" out || exit 1; done)"
check "summary: a row per chain" "[ \$(grep -Ec '^ +[0-3] +0\\.[0-9]{3} +2000\$' out) -eq 4 ]"
m summary "$JOB" --json
check "summary --json: parameters and chains" \
    "[ $rc -eq 0 ] && [ \"\$(jget out '[p[\"name\"] for p in j[\"parameters\"]], len(j[\"chains\"])')\" = \"['theta.1', 'theta.2', 'theta.3'] 4\" ]"

# --- samplers: the server's table; specs from options ----------------------
timeout 20 curl -s -o info.json "$URL/v1/info"
NAMES=$(jget info.json '" ".join(s["name"] for s in j["samplers"])')
echo "# \$ mcmc samplers   (the server's: $NAMES)"
m samplers
head -n 6 out | show
check "samplers: every sampler /v1/info lists, each with every parameter as NAME=DEFAULT or NAME" \
    "[ $rc -eq 0 ] && [ -n '$NAMES' ] && $PY -c '
import json, re, sys
info, text = json.load(open(\"info.json\")), open(\"out\").read()
for s in info[\"samplers\"]:
    block = text.split(\"  %s: \" % s[\"name\"], 1)[1].split(\"\\n\\n\")[0]
    for p in s[\"params\"]:
        assert re.search(r\"^    %s[= ]\" % p[\"name\"], block, re.M), (s[\"name\"], p[\"name\"])
'"
m samplers --json
check "samplers --json: /v1/info's samplers and models, as they are" \
    "[ $rc -eq 0 ] && $PY -c 'import json; a = json.load(open(\"out\")); b = json.load(open(\"info.json\"))
assert a == {\"samplers\": b[\"samplers\"], \"models\": b[\"models\"]}'"
m samplers ula
check "samplers ula: that one only" "[ $rc -eq 0 ] && grep -q '^  ula: ' out && [ \$(grep -c '^  [a-z_]*: ' out) -eq 1 ]"
m samplers no_such_sampler
check "samplers no_such_sampler: exit 1" "[ $rc -eq 1 ] && grep -q 'no sampler or model' err"
m submit --help
check "submit --help: the usage, then what the server takes, every sampler" \
    "[ $rc -eq 0 ] && grep -q '^usage: mcmc submit' out && grep -q 'What $URL takes' out &&
     (for n in $NAMES; do grep -q \"^  \$n: \" out || exit 1; done)"

echo "# \$ mcmc submit spec.json -s rwm,adapt_delta=0.3 -p metric=unit --set num_warmup=400 --watch"
m submit spec.json -s rwm,adapt_delta=0.3 -p metric=unit --set num_warmup=400 --set chains=2 \
    --set progress_every=200 --watch --progress lines
RWM=$(head -n 1 out)
cp err rwm.err
grep "chain 0" err | show
check "submit -s/-p/--set: exit 0" "[ $rc -eq 0 ]"
m status "$RWM" --json
check "the spec has the sampler, its parameters and the fields from the options" \
    "[ \"\$(jget out 'j[\"spec\"][\"sampler\"][\"type\"], j[\"spec\"][\"sampler\"][\"adapt_delta\"], j[\"spec\"][\"sampler\"][\"metric\"], j[\"spec\"][\"num_warmup\"], j[\"spec\"][\"chains\"]')\" = 'rwm 0.3 unit 400 2' ]"
check "progress lines say warmup, then sampling, with the step size and divergences" \
    "grep -Eq '^job $RWM chain 0: +200/2400 .* warmup +eps [0-9.e+-]+ +div 0 ' rwm.err &&
     grep -Eq '^job $RWM chain 0: +2400/2400 .* sampling +eps [0-9.e+-]+ +div 0 .*acc 0\\.' rwm.err"
m status "$RWM"
check "status: phase, step size and divergences per chain" \
    "grep -q 'phase.*step_size.*divergent' out && [ \$(grep -Ec '^ +[01] +2400/2400 +100.0% +sampling +[0-9.e+-]+ +0 ' out) -eq 2 ]"
m submit -s ula,step_size=1e-3 --set data.synthetic.n=100 --set data.synthetic.d=2 \
    --set num_samples=50 --set progress_every=50 --watch --progress lines
check "a spec from options alone (ula): the accept rate is '-', it has no accept step" \
    "[ $rc -eq 0 ] && grep -Eq 'chain 0: +50/50 .*sampling +eps 0.001 .*acc +- ' err"
m submit spec.json -p no_such_parameter=1
check "an unknown parameter: exit 1, the server names it and the sampler" \
    "[ $rc -eq 1 ] && grep -q 'at sampler.no_such_parameter: unknown field for sampler mala' err"
m submit spec.json -s no_such_sampler
check "an unknown sampler: exit 1, the server lists the table's" \
    "[ $rc -eq 1 ] && grep -q 'at sampler.type: unknown sampler' err && (for n in $NAMES; do grep -q \"\$n\" err || exit 1; done)"

# --- draws: byte for byte mcmcd run's, selections the daemon's ---------------
for ext in npy csv json; do
    timeout 60 "$MCMCD" run -q --spec spec.json --out "offline.$ext" 2>/dev/null
    ms draws "$JOB" -o "draws.$ext" --server "$URL"
    check "draws -o draws.$ext: exit 0, equal to mcmcd run's .$ext byte for byte" \
        "[ $rc -eq 0 ] && cmp -s draws.$ext offline.$ext"
    m run spec.json -o "run.$ext" --progress none
    check "run spec.json -o run.$ext: equal to mcmcd run's .$ext byte for byte" \
        "[ $rc -eq 0 ] && cmp -s run.$ext offline.$ext"
done
check "numpy loads the .npy: 4 x 2000 x 3 float64" \
    "$PY -c 'import numpy as np; a = np.load(\"draws.npy\"); assert a.shape == (4, 2000, 3) and a.dtype == np.float64'"
for ext in csv json npy; do
    m draws "$JOB" -o "sel.$ext" --chain 2 --start 10 --stop 300 --thin 7
    timeout 20 curl -s -H "Authorization: Bearer $TOK" -o "sel-curl.$ext" \
        "$URL/v1/jobs/$JOB/draws?format=$ext&chain=2&start=10&stop=300&thin=7"
    check "draws --chain 2 --start 10 --stop 300 --thin 7 (.$ext): the daemon's bytes" \
        "[ $rc -eq 0 ] && cmp -s sel.$ext sel-curl.$ext"
done
check "the selection: chain 2's draws 10, 17, ... 297 in the CSV" \
    "[ \"\$(sed -n '2p;\$p' sel.csv | cut -d, -f1,2 | tr '\\n' ' ')\" = '2,10 2,297 ' ]"
m draws "$JOB" -o nodir/x.npy
check "draws into a missing directory: exit 1, no file" "[ $rc -eq 1 ] && [ ! -e nodir ]"
m draws 000000000000000000000000 -o missing.npy
check "draws of a missing job: exit 1, the server's 404, no file" \
    "[ $rc -eq 1 ] && grep -q '404' err && [ ! -e missing.npy ] && ! ls missing.npy.* 2>/dev/null"

# --- run --data: upload the rows and point the spec at them ------------------
for ext in npy csv; do
    timeout 60 "$MCMCD" run -q --spec nodata.json --data data.csv --out "offline-data.$ext" 2>/dev/null
    m run nodata.json --data data.csv -o "run-data.$ext"
    check "run nodata.json --data data.csv -o .$ext: mcmcd run --data's bytes" \
        "[ $rc -eq 0 ] && cmp -s run-data.$ext offline-data.$ext"
done
check "run prints the job id on stdout and 'wrote FILE' on stderr" \
    "grep -Eq '^[0-9a-f]{24}\$' out && grep -q 'wrote run-data.csv: 2 chains x 500 draws x 2' err"
m run spec.json --data data.csv -o x.npy
check "run --data with synthetic data in the spec: exit 2" "[ $rc -eq 2 ] && grep -q 'drop --data' err"

# --- an invalid spec: every field path ---------------------------------------
cat >bad.json <<'JSON'
{"data": {"synthetic": {"n": 100, "d": 2}}, "sampler": {"type": "ula", "step_size": -1},
 "chains": 0, "bogus": 1}
JSON
echo "# \$ mcmc submit bad.json"
m submit bad.json
show <err
check "invalid spec: exit 1, the server's message" "[ $rc -eq 1 ] && grep -q '^mcmc: submit: .*422' err"
for p in sampler.step_size chains bogus; do
    check "invalid spec: stderr names $p" "grep -q '^mcmc: .*at $p: ' err"
done
m run bad.json -o never.npy
check "run of an invalid spec: exit 1, no file" "[ $rc -eq 1 ] && grep -q 'at chains: ' err && [ ! -e never.npy ]"
printf '{"data": ' | timeout 20 "$MCMC" submit - >out 2>err
rc=$?
check "malformed JSON from stdin: exit 1 with the byte offset" "[ $rc -eq 1 ] && grep -q 'offset' err"

# --- a cancelled job: watch exits 1; delete ----------------------------------
cat >long.json <<'JSON'
{"data": {"synthetic": {"n": 20000, "d": 5}}, "sampler": {"type": "ula", "step_size": 1e-4},
 "num_samples": 10000, "thin": 10000, "chains": 2, "progress_every": 100}
JSON
m submit long.json --json
LONG=$(jget out 'j["id"]')
check "submit --json: the job as JSON" "[ $rc -eq 0 ] && [ -n '$LONG' ]"
timeout 60 "$MCMC" watch "$LONG" --json >watch.ndjson 2>watch.err &
watch_pid=$!
sleep 1
m cancel "$LONG"
check "cancel: exit 0" "[ $rc -eq 0 ] && grep -q '$LONG' out"
wait "$watch_pid"
wrc=$?
check "watch --json of the cancelled job: exit 1, NDJSON ending with done/cancelled" \
    "[ $wrc -eq 1 ] && [ \"\$(tail -n 1 watch.ndjson | $PY -c 'import json,sys; e=json.load(sys.stdin); print(e[\"type\"], e[\"state\"])')\" = 'done cancelled' ]"
m watch "$LONG"
check "watch of the cancelled job: exit 1, ends 'job ID cancelled'" \
    "[ $rc -eq 1 ] && [ \"\$(tail -n 1 err)\" = 'job $LONG cancelled' ]"
m cancel "$LONG"
check "cancel again: exit 1 with the server's 409" "[ $rc -eq 1 ] && grep -q '409' err"
ms --server="$URL" delete "$LONG"
check "delete --server=URL: exit 0" "[ $rc -eq 0 ] && grep -q 'deleted job $LONG' out"
m status "$LONG"
check "status of the deleted job: exit 1, 404 on stderr" "[ $rc -eq 1 ] && grep -q 'not_found' err"

# --- run and Ctrl-C: the job is cancelled, no file ---------------------------
# (mcmc itself gets the signal: timeout(1) would send it twice)
"$MCMC" run long.json -o int.npy --progress lines >int.out 2>int.err &
run_pid=$!
wait_for 20 grep -q 'chain' int.err # the job submitted and its progress flowing
kill -INT "$run_pid"
wait_for 30 pid_gone "$run_pid" # to cancel and exit
kill -KILL "$run_pid" 2>/dev/null
wait "$run_pid"
irc=$?
INT=$(head -n 1 int.out)
check "run, then SIGINT: exit 130, no file" "[ $irc -eq 130 ] && [ ! -e int.npy ] && ! ls int.npy.* 2>/dev/null"
check "run, then SIGINT: 'interrupted; job ID cancelled' on stderr" \
    "grep -q '^mcmc: interrupted; job $INT cancelled' int.err"
m status "$INT" --json
check "run, then SIGINT: the job is cancelled" "[ \"\$(jget out 'j[\"state\"]')\" = cancelled ]"
[ -n "$INT" ] && timeout 20 "$MCMC" cancel "$INT" >/dev/null 2>&1 # whatever happened: free the workers

# --- on a terminal: bars redrawn in place ------------------------------------
if command -v script >/dev/null 2>&1; then
    cat >bars.json <<'JSON'
{"data": {"synthetic": {"n": 5000, "d": 5, "seed": 1}}, "sampler": {"type": "ula", "step_size": 1e-4},
 "num_samples": 20000, "chains": 3, "progress_every": 1000}
JSON
    TERM=xterm timeout 60 script -qfec "'$MCMC' submit bars.json --watch" /dev/null >tty.out 2>&1
    trc=$?
    tr -d '\r' <tty.out | tail -n 5 | cat -v | show
    check "submit --watch on a terminal: exit 0" "[ $trc -eq 0 ]"
    check "on a terminal: ANSI cursor-up and clear-line sequences" \
        "grep -q \$'\\033\\[[0-9]*A' tty.out && grep -q \$'\\033\\[2K' tty.out"
    check "on a terminal: one bar line per chain, full at the end, with phase, step size, divergences" \
        "(for c in 0 1 2; do grep -aEq \"chain \$c \\[#+\\] 20000/20000 .*sampling +eps 0.0001 +div 0 .*acc +- +ETA\" tty.out || exit 1; done)"
    check "on a terminal: ends with the final state" "tr -d '\\r' <tty.out | tail -n 1 | grep -q 'succeeded'"
else
    bad "script(1) (bsdutils, which ./dev installs) is missing: the terminal mode went untested"
fi

# --- tokens: 401 and its hint, --token, whoami, login, 403 --------------------
HINT="(set MCMC_TOKEN, or run 'mcmc login')"
BAD=mcmcd_0000000000000000_0000000000000000000000000000000000000000000000000000000000000000
mn ls
show <err
check "no token: exit 1, one line: 'mcmc: 401 unauthorized: <message> $HINT'" \
    "[ $rc -eq 1 ] && [ \$(wc -l <err) -eq 1 ] &&
     grep -Eq \"^mcmc: 401 unauthorized: .+ \\\\(set MCMC_TOKEN, or run 'mcmc login'\\\\)\\\$\" err"
m --token "$BAD" status "$JOB"
check "a bad --token (before the command) wins over MCMC_TOKEN: the 401 hint" \
    "[ $rc -eq 1 ] && grep -qF \"\$HINT\" err && ! grep -q '0000000000000000000000' err"
mn ls --token "$TOK"
check "--token after the command, no MCMC_TOKEN: exit 0" "[ $rc -eq 0 ] && grep -q '$JOB' out"
MCMC_TOKEN=$BAD m watch "$JOB"
check "watch with a bad token: exit 1 at once, the 401 hint" "[ $rc -eq 1 ] && grep -qF \"\$HINT\" err"
m --token 'two words' ls
check "--token that is not a token: exit 2" "[ $rc -eq 2 ] && grep -q 'not a token' err"

echo "# \$ mcmc whoami"
m whoami
show <out
check "whoami: name admin, role admin, the token from MCMC_TOKEN" \
    "[ $rc -eq 0 ] && grep -Eq '^name +admin\$' out && grep -Eq '^role +admin\$' out &&
     grep -Eq '^token +MCMC_TOKEN\$' out"
check "whoami: a row per limit with its value and usage" \
    "grep -Eq '^queued_jobs +[0-9]+ +[0-9]+\$' out && grep -Eq '^running_chains +(none|[0-9]+) +[0-9]+\$' out &&
     grep -Eq '^stored_bytes +[^ ]+( [KMGT]?i?B)? +[0-9.]+ [KMGT]?i?B\$' out"
m whoami --json
check "whoami --json: name, admin, limits and usage as the server has them" \
    "[ $rc -eq 0 ] && [ \"\$(jget out 'j[\"name\"], j[\"admin\"], \"queued_jobs\" in j[\"limits\"],
        all(k in j[\"usage\"] for k in (\"queued_jobs\", \"running_chains\", \"stored_bytes\"))')\" = 'admin True True True' ]"
"$MCMCD" user add bob --data-dir "$work/data" >/dev/null 2>"$work/user.err"
BOB=$("$MCMCD" token new bob --data-dir "$work/data" 2>>"$work/user.err")
check "mcmcd user add bob; token new bob: a token" "[ -n '$BOB' ]"
[ -n "$BOB" ] || show <"$work/user.err"
mn --token "$BOB" whoami
check "whoami --token BOB: bob, role user" \
    "[ $rc -eq 0 ] && grep -Eq '^name +bob\$' out && grep -Eq '^role +user\$' out"

STORE=$HOME/.config/mcmc/tokens
echo "# \$ echo BOB | mcmc login"
mn login <<<"$BOB"
show <out
check "login from a pipe: exit 0, says who and where" \
    "[ $rc -eq 0 ] && grep -q 'logged in to $URL as bob (user)' out && grep -qF '$STORE' out"
check "login: the store is mode 600 in a directory of mode 700, one line 'URL TOKEN'" \
    "[ \"\$(stat -c %a '$STORE') \$(stat -c %a '$HOME/.config/mcmc')\" = '600 700' ] &&
     [ \"\$(cat '$STORE')\" = '$URL $BOB' ]"
mn whoami
check "no MCMC_TOKEN after login: whoami is bob, the token from the store" \
    "[ $rc -eq 0 ] && grep -Eq '^name +bob\$' out && grep -Eq '^token +$STORE\$' out"
mn ls
check "no MCMC_TOKEN after login: ls works, and bob sees none of admin's jobs" \
    "[ $rc -eq 0 ] && ! grep -q '$JOB' out"
mn status "$JOB"
check "bob: admin's job is 404" "[ $rc -eq 1 ] && grep -q '404' err"
mn login <<<"$BAD"
check "login with a token the server refuses: exit 1, nothing stored" \
    "[ $rc -eq 1 ] && grep -q 'refused' err && [ \"\$(cat '$STORE')\" = '$URL $BOB' ]"
mn login --server "$URL/" <<<"  $TOK  "
check "login again (URL with a slash, token with spaces around): that URL's line replaced" \
    "[ $rc -eq 0 ] && [ \"\$(cat '$STORE')\" = '$URL $TOK' ] && [ \"\$(stat -c %a '$STORE')\" = 600 ]"
mn login --server http://127.0.0.1:1 --token "$TOK"
check "login to a server that is not there: exit 3, nothing stored" \
    "[ $rc -eq 3 ] && [ \$(wc -l <'$STORE') -eq 1 ]"
mn whoami
check "whoami after the second login: admin" "[ $rc -eq 0 ] && grep -Eq '^name +admin\$' out"
if command -v script >/dev/null 2>&1; then
    # on a terminal: a prompt, and the token typed is not echoed
    mkfifo login.fifo
    env -u MCMC_TOKEN timeout 60 script -qfec "'$MCMC' login" /dev/null <login.fifo >tty-login.out 2>&1 &
    login_pid=$!
    exec 7>login.fifo
    wait_for 30 grep -q 'Token for' tty-login.out # the prompt shows once echo is off
    printf '%s\n' "$TOK" >&7
    wait "$login_pid"
    lrc=$?
    exec 7>&-
    tr -d '\r' <tty-login.out | show
    check "login on a terminal: a prompt, the token not echoed, stored" \
        "[ $lrc -eq 0 ] && grep -q 'Token for $URL: ' tty-login.out && grep -q 'logged in' tty-login.out &&
         ! grep -qF '$TOK' tty-login.out && [ \"\$(cat '$STORE')\" = '$URL $TOK' ]"
fi
chmod 644 "$STORE"
mn ls
show <err
check "a store others may read is skipped: the 401 hint, and a line naming it" \
    "[ $rc -eq 1 ] && grep -qF \"\$HINT\" err && grep -qF 'skipped $STORE' err"
chmod 600 "$STORE"

# the loopback rule: the local daemon's admin token at its default data dir
mv "$STORE" "$STORE.away"
mkdir -p "$work/state"
ln -s "$work/data" "$work/state/mcmcd"
XDG_STATE_HOME=$work/state mn whoami
check "no MCMC_TOKEN, no store, a loopback server: the default data dir's admin.token" \
    "[ $rc -eq 0 ] && grep -Eq '^name +admin\$' out && grep -q 'state/mcmcd/admin.token' out"
PORT=${URL##*:}
XDG_STATE_HOME=$work/state mn --server "http://localhost:$PORT" ls
check "... and through localhost" "[ $rc -eq 0 ]"
mv "$STORE.away" "$STORE"

MT=$("$MCMCD" token new admin --scope metrics --data-dir "$work/data" 2>>"$work/user.err")
MCMC_TOKEN=$MT m whoami
show <err
check "a metrics-scope token: whoami is 403 forbidden, exit 1" \
    "[ -n '$MT' ] && [ $rc -eq 1 ] && grep -q 'HTTP 403 forbidden' err"

# --- 429: a per-user limit of one queued job (a second daemon) ---------------
printf 'user_queued_jobs = 1\n' >quota.conf
other_daemon data2 --config quota.conf
QURL=$other_url
check "a daemon with user_queued_jobs = 1 listens" "[ -n '$QURL' ]"
"$MCMCD" user add carol --data-dir "$work/data2" >/dev/null 2>>"$work/user.err"
CAROL=$("$MCMCD" token new carol --data-dir "$work/data2" 2>>"$work/user.err")
MCMC_TOKEN=$CAROL m --server "$QURL" submit long.json
FIRST=$(head -n 1 out)
check "carol's first job: queued" "[ $rc -eq 0 ] && [ -n '$FIRST' ]"
MCMC_TOKEN=$CAROL m --server "$QURL" submit long.json
show <err
check "carol's second job: exit 1, 429 quota_exceeded with the server's message" \
    "[ $rc -eq 1 ] && grep -q 'HTTP 429 quota_exceeded' err && grep -q 'queued_jobs' err"
MCMC_TOKEN=$CAROL m --server "$QURL" whoami
check "whoami on it: queued_jobs limit 1, used 1" "[ $rc -eq 0 ] && grep -Eq '^queued_jobs +1 +1\$' out"
MCMC_TOKEN=$CAROL m --server "$QURL" cancel "$FIRST"
stop_other_daemon 60

# --- the daemon gone: unreachable is exit 3 -----------------------------------
stop_daemon 60
for args in "ls" "status $JOB" "data ls" "submit spec.json" "run spec.json -o y.npy"; do
    # shellcheck disable=SC2086
    m $args
    check "mcmc $args with the server gone: exit 3" "[ $rc -eq 3 ] && grep -q 'cannot reach' err"
done
m samplers
check "samplers with the server gone: this build's tables, said on stderr" \
    "[ $rc -eq 0 ] && grep -q 'did not answer' err && (for n in $NAMES; do grep -q \"^  \$n: \" out || exit 1; done)"
m submit --help
check "submit --help with the server gone: this build's tables" \
    "[ $rc -eq 0 ] && grep -q 'did not answer; this build' out && [ ! -s err ]"
MCMC_SERVER=$URL m --server http://127.0.0.1:1 ls
check "--server wins over MCMC_SERVER: a closed port, exit 3" "[ $rc -eq 3 ]"

finish
