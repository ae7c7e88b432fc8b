#!/usr/bin/env bash
# test_deploy.sh - what `cmake --install` gives a systemd host, checked
# without one running:
# - install into a temporary prefix: the unit (written with that prefix:
#   ExecStart is PREFIX/bin/mcmcd, the config PREFIX/etc/mcmcd/mcmcd.conf),
#   the sysusers.d file and the config (mcmcd.conf and mcmcd.conf.example);
#   with DESTDIR and prefix /usr: /usr/bin/mcmcd and /etc/mcmcd/mcmcd.conf,
#   and a reinstall keeps an edited mcmcd.conf;
# - `systemd-analyze security --offline=true` rates the installed unit's
#   exposure at most 3.0, and `systemd-analyze verify` finds nothing wrong;
# - the daemon runs as the unit runs it (the installed binary and config, as
#   an unprivileged user with no capabilities and no new privileges, umask
#   077, with the unit's LimitNICE where the machine lets the test raise
#   RLIMIT_NICE, so its threads take the config's service_nice; else it
#   says that was refused) under strace, through a workload (threads: a job of two chains,
#   followed draws and events, summary, metrics, SIGTERM), and does nothing
#   the unit forbids: every system call is in its SystemCallFilter, no memory
#   is both writable and executable (MemoryDenyWriteExecute), every socket
#   is of a family in RestrictAddressFamilies, of /proc it opens only its own
#   process's files (ProcSubset=pid), and it writes nowhere but its state
#   directory (ProtectSystem=strict); it writes admin.token there, mode 0600,
#   and exits 0 on SIGTERM.
# systemd-analyze or strace missing, or a daemon that cannot start, fails.
# Usage: test_deploy.sh PATH/TO/mcmcd (the build directory holds server/mcmcd).
set -u
MCMCD=${1:?usage: test_deploy.sh PATH/TO/mcmcd}
BUILD=$(cd "$(dirname "$MCMCD")/.." && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir deploy # (at exit: strace, then the daemon it traces, stopped)
chmod 755 "$work" # the daemon below runs as another user

for tool in systemd-analyze strace setpriv; do
    if ! command -v "$tool" >/dev/null; then
        bad "$tool is installed (./dev installs the Debian packages systemd, strace)"
        finish
        exit 1
    fi
done

# --- install into a prefix --------------------------------------------------
prefix=$work/usr
cmake --install "$BUILD" --prefix "$prefix" >"$work/install.log" 2>&1
check "cmake --install into a temporary prefix" "[ $? -eq 0 ]"
unit=$prefix/lib/systemd/system/mcmcd.service
conf=$prefix/etc/mcmcd/mcmcd.conf
check "it installs the unit, the sysusers.d file and the config (and its .example)" \
    "[ -f '$unit' ] && [ -f '$prefix/lib/sysusers.d/mcmcd.conf' ] && [ -f '$conf' ] &&
     cmp -s '$conf' '$conf.example' && [ -x '$prefix/bin/mcmcd' ]"
grep '^ExecStart=' "$unit" | show
check "the unit runs PREFIX/bin/mcmcd with PREFIX/etc/mcmcd/mcmcd.conf on its state directory" \
    "grep -qx 'ExecStart=$prefix/bin/mcmcd serve --config $conf --data-dir \${STATE_DIRECTORY}' '$unit' &&
     grep -qx 'StateDirectory=mcmcd' '$unit' && grep -qx 'User=mcmcd' '$unit'"
check "the sysusers.d file makes the system user mcmcd" \
    "grep -q '^u mcmcd ' '$prefix/lib/sysusers.d/mcmcd.conf'"

dest=$work/dest
DESTDIR=$dest cmake --install "$BUILD" --prefix /usr >"$work/install2.log" 2>&1
check "with DESTDIR and prefix /usr: /usr/bin/mcmcd reading /etc/mcmcd/mcmcd.conf" \
    "grep -qx 'ExecStart=/usr/bin/mcmcd serve --config /etc/mcmcd/mcmcd.conf --data-dir \${STATE_DIRECTORY}' \
        '$dest/usr/lib/systemd/system/mcmcd.service' && [ -f '$dest/etc/mcmcd/mcmcd.conf' ] &&
     [ -f '$dest/usr/lib/sysusers.d/mcmcd.conf' ] && [ -x '$dest/usr/bin/mcmcd' ]"
echo 'workers = 3 # edited' >>"$dest/etc/mcmcd/mcmcd.conf"
DESTDIR=$dest cmake --install "$BUILD" --prefix /usr >>"$work/install2.log" 2>&1
check "a reinstall keeps an edited mcmcd.conf, and refreshes mcmcd.conf.example" \
    "grep -q 'edited' '$dest/etc/mcmcd/mcmcd.conf' && ! grep -q 'edited' '$dest/etc/mcmcd/mcmcd.conf.example'"

# --- systemd's own checks ----------------------------------------------------
systemd-analyze security --offline=true "$unit" >"$work/security.txt" 2>&1
grep -E '✗|Overall' "$work/security.txt" | show
exposure=$(sed -n 's/.*Overall exposure level for mcmcd.service: \([0-9.]*\).*/\1/p' "$work/security.txt")
check "systemd-analyze security: exposure $exposure <= 3.0" \
    "[ -n '$exposure' ] && awk 'BEGIN { exit !($exposure <= 3.0) }'"
systemd-analyze verify "$unit" >"$work/verify.txt" 2>&1
rc=$?
show <"$work/verify.txt"
check "systemd-analyze verify finds nothing to say" "[ $rc -eq 0 ] && [ ! -s '$work/verify.txt' ]"

# --- the daemon as the unit runs it, traced ----------------------------------
state=$work/state # the state directory: the unit's StateDirectory= (0700)
mkdir -m 700 "$state" "$work/trace"
as_user=(setpriv --no-new-privs --inh-caps=-all)
nice_limit=$(sed -n 's/^LimitNICE=//p' "$unit")
if [ "$(id -u)" -eq 0 ]; then # the unit's User=: not root, and no capabilities
    chown nobody:nogroup "$state" "$work/trace"
    as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs
        --inh-caps=-all --bounding-set=-all)
fi
# and the unit's LimitNICE=, which lets it take the config's service_nice,
# where this machine lets us raise RLIMIT_NICE (CAP_SYS_RESOURCE)
limit_nice=no
if prlimit "--nice=$nice_limit" true 2>/dev/null; then
    as_user=(prlimit "--nice=$nice_limit" "${as_user[@]}")
    limit_nice=yes
fi
sed -n 's/^ExecStart=//p' "$unit" | sed "s#\${STATE_DIRECTORY}#$state#" >"$work/exec"
read -r -a exec_start <"$work/exec"
(
    umask 077
    # a sanitized build: LeakSanitizer cannot work under ptrace (the other
    # tests look for leaks)
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
    exec "${as_user[@]}" -- strace -f -qq -o "$work/trace/trace" "${exec_start[@]}" --port 0 \
        >"$work/daemon.out" 2>"$work/daemon.err"
) &
tracer=$!
bg_pids="$bg_pids $tracer"
URL=''
# true once it says where it listens (sets URL), or strace has exited
listening() {
    local line
    line=$(head -n 1 "$work/daemon.out" 2>/dev/null)
    case "$line" in "mcmcd listening on http://"*) URL=${line#mcmcd listening on } && return 0 ;; esac
    pid_gone "$tracer"
}
wait_for 20 listening # as launch_daemon: an ASan build starts slowly
daemon_pid=$(pgrep -P "$tracer" | head -n 1)
check "the installed mcmcd starts with the installed config, as an unprivileged user ($URL)" \
    "[ -n '$URL' ] && [ -n '$daemon_pid' ]"
if [ -z "$URL" ]; then
    show <"$work/daemon.err"
    finish
    exit 1
fi
use_token "$state" # every curl below sends the admin's token
c "$URL/healthz" >/dev/null
c --json '{"data": {"synthetic": {"n": 300, "d": 3, "seed": 4}}, "chains": 2,
 "sampler": {"type": "nuts", "step_size": 0.1}, "num_samples": 300, "num_warmup": 100, "key": 9}' \
    "$URL/v1/jobs" >"$work/job.json"
JOB=$(jget "$work/job.json" 'j["id"]')
c --max-time 60 "$URL/v1/jobs/$JOB/draws?follow=1" >"$work/draws.ndjson"
c "$URL/v1/jobs/$JOB/events" >"$work/events.ndjson"
c "$URL/v1/jobs/$JOB/summary" >"$work/summary.json"
c "$URL/metrics" >/dev/null
check "a job of two chains runs there: 600 draws followed, a summary" \
    "[ \"\$(grep -c '\"theta\"' '$work/draws.ndjson')\" = 600 ] &&
     [ \"\$(jget '$work/summary.json' 'j[\"state\"]')\" = succeeded ]"
check "it wrote admin.token in its state directory, mode 0600" \
    "[ \"\$(stat -c %a '$state/admin.token' 2>/dev/null)\" = 600 ]"
service_nice=$(sed -n 's/^service_nice *= *\([-0-9]*\).*/\1/p' "$conf")
if [ "$limit_nice" = yes ]; then # with the unit's LimitNICE, as systemd gives it
    check "with LimitNICE=$nice_limit its threads run at the config's service_nice ($service_nice)" \
        "[ -n '$service_nice' ] && [ \"\$(awk '{print \$19}' /proc/$daemon_pid/stat)\" = '$service_nice' ] &&
         ! grep -q 'service_nice.*refused' '$work/daemon.err'"
else # no LimitNICE to give: it says so, keeps 0 and runs all the same
    check "without LimitNICE it says service_nice was refused, and keeps nice 0" \
        "grep -q 'service_nice.*refused' '$work/daemon.err' &&
         [ \"\$(awk '{print \$19}' /proc/$daemon_pid/stat)\" = 0 ]"
fi
kill -TERM "$daemon_pid"
wait "$tracer"
rc=$?
daemon_pid='' tracer=''
check "SIGTERM: it exits 0 ($rc)" "[ $rc -eq 0 ]"
[ "$rc" -eq 0 ] || tail -n 20 "$work/daemon.err" | show

# the unit's SystemCallFilter= and RestrictAddressFamilies= lines
grep -E '^(SystemCallFilter|RestrictAddressFamilies)=' "$unit" >"$work/rules"
systemd-analyze syscall-filter --no-pager >"$work/sets" 2>&1
check "it does only what the unit allows (system calls, W^X memory, socket families, /proc, writes)" \
    "$PY - '$work/trace/trace' '$work/rules' '$work/sets' '$state' <<'PY'
import re, sys
trace, rules, sets_file, data = sys.argv[1:]
sets, cur = {}, None
for line in open(sets_file):
    s = line.strip()
    if line.startswith('@'):
        cur = sets[s] = []
    elif cur is not None and s and not s.startswith('#'):
        cur.append(s)
def expand(names):
    out = set()
    for n in names:
        out |= expand(sets[n]) if n.startswith('@') else {n}
    return out
# systemd.exec(5): after a first allow list, each later line adds its calls
# to the set, or with ~ takes them out, in the order written
allowed, families = set(), set()
for line in open(rules):
    key, value = line.strip().split('=', 1)
    if key == 'RestrictAddressFamilies':
        families |= set(value.split())
    elif value.startswith('~'):
        allowed -= expand(value[1:].split())
    else:
        allowed |= expand(value.split())
problems = set()
call = re.compile(r'^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]')
for line in open(trace):
    m = call.match(line)
    if not m:
        continue
    name = m.group(1)
    if name not in allowed:
        problems.add('system call outside the filter: ' + name)
    if name in ('mmap', 'mprotect', 'pkey_mprotect') and 'PROT_EXEC' in line and (
            'PROT_WRITE' in line or name != 'mmap'):
        problems.add('W+X or exec memory: ' + line.strip())
    if name == 'socket':
        fam = re.search(r'socket\((AF_[A-Z0-9]+)', line)
        if fam and fam.group(1) not in families:
            problems.add('socket family outside RestrictAddressFamilies: ' + fam.group(1))
    path = re.search(r'\"([^\"]*)\"', line)
    path = path.group(1) if path else ''
    if path.startswith('/proc/') and not re.match(r'/proc/(self|thread-self|\d+)(/|$)', path):
        problems.add('a /proc file ProcSubset=pid hides: ' + path)
    # a change made (not refused, as mkdir -p's EEXIST on the parents)
    writes = name in ('mkdir', 'mkdirat', 'rename', 'renameat', 'renameat2', 'unlink', 'unlinkat') or (
        name in ('open', 'openat', 'creat') and re.search(r'O_(WRONLY|RDWR|CREAT)', line))
    writes = writes and not re.search(r'= -1 E', line)
    if writes and path and not (path == data or path.startswith(data + '/') or path == '/dev/null'):
        problems.add('a write outside the state directory: ' + line.strip())
for p in sorted(problems):
    print(p)
sys.exit(1 if problems else 0)
PY"

finish
