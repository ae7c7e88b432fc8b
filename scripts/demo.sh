#!/usr/bin/env bash
# demo.sh - the main job: start mcmcd, submit the post's ULA workload, watch
# its progress stream live with curl, fetch the summary and the draws, stop.
# Usage: scripts/demo.sh [PATH/TO/mcmcd]
set -euo pipefail
cd "$(dirname "$0")/.."
MCMCD=${1:-./build/server/mcmcd}
data=out/demo-data
mkdir -p out
"$MCMCD" serve --port 0 --data-dir "$data" >out/demo-serve.out 2>out/demo-serve.err &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening out/demo-serve.out 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^mcmcd listening on //p' out/demo-serve.out)
echo "== mcmcd is up at $url (data in $data)"
# every route but /healthz and /v1/info needs a token: on its first start
# the daemon wrote the admin's into the data dir (mode 0600)
auth="Authorization: Bearer $(cat "$data/admin.token")"
echo "== token: $data/admin.token; every curl below sends -H \"Authorization: Bearer \$(cat $data/admin.token)\""
echo "== submitting examples/post-ula.json: ULA, N = 1e5, d = 5, 20000 draws x 4 chains"
job=$(curl -s -H "$auth" --json @examples/post-ula.json "$url/v1/jobs")
id=$(printf '%s' "$job" | sed -n 's/^{"id":"\([0-9a-f]*\)".*/\1/p')
echo "$job"
echo "== curl -sN $url/v1/jobs/$id/events   (one JSON event per line, live)"
curl -sN -H "$auth" "$url/v1/jobs/$id/events"
echo "== curl -s $url/v1/jobs/$id/summary"
curl -s -H "$auth" "$url/v1/jobs/$id/summary"
echo "== curl -s -o out/demo-draws.npy '$url/v1/jobs/$id/draws?format=npy'"
curl -s -H "$auth" -o out/demo-draws.npy "$url/v1/jobs/$id/draws?format=npy"
ls -l out/demo-draws.npy
