#!/usr/bin/env bash
# test_tls.sh - HTTPS through libmicrohttpd's GnuTLS support, set up as an
# admin would: openssl makes a throwaway CA and a server certificate for
# 127.0.0.1 and localhost, and the daemon starts with --tls-cert and
# --tls-key. Checks: it says https://; curl --cacert gets 200 and the JSON
# from /healthz and /v1/info (by address and by name), also 20 at once;
# without --cacert curl refuses the certificate (and with -k it answers, so
# the certificate check was the only obstacle); plain http:// to the TLS
# port gets no 200 and the daemon still serves HTTPS afterwards. Bad setups
# exit 1 with a message and create nothing: --tls-cert alone, a missing key
# file (named), a key that does not match the certificate (both named).
# Only the public routes are used. A daemon that cannot start fails.
# Usage: test_tls.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_tls.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir tls

# --- a CA and a certificate it signed for 127.0.0.1 and localhost ----------
make_certs() (
    cd "$work" || exit 1
    local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 2 \
        -subj "/CN=mcmcd test CA" &&
        openssl req "${ec[@]}" -keyout server.key -out server.csr -subj "/CN=localhost" &&
        printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' 'basicConstraints=CA:FALSE' \
            'extendedKeyUsage=serverAuth' >server.ext &&
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 1 -days 2 \
            -extfile server.ext -out server.pem
) >"$work/openssl.log" 2>&1

if ! make_certs; then
    show <"$work/openssl.log"
    bad "openssl makes a CA and a server certificate"
    finish
    exit 1
fi
ok "openssl makes a CA and a server certificate"

# --- the daemon over HTTPS ---------------------------------------------------
daemon_or_exit --tls-cert "$work/server.pem" --tls-key "$work/server.key" # (with both)
check "it says it listens on https://127.0.0.1:PORT" \
    '[ "${URL%:*}" = https://127.0.0.1 ] && [ "${URL##*:}" -gt 0 ]'
port=${URL##*:}
ca=(--cacert "$work/ca.pem")

code=$(c "${ca[@]}" -o "$work/health.json" -w '%{http_code}' "$URL/healthz")
check "curl --cacert: GET /healthz answers 200" '[ "$code" = 200 ]'
check "... with {\"status\": \"ok\"}" '[ "$(jget "$work/health.json" "j[\"status\"]")" = ok ]'
code=$(c "${ca[@]}" -o "$work/info.json" -w '%{http_code}' "https://localhost:$port/v1/info")
check "curl --cacert https://localhost:PORT/v1/info answers 200 (the name is in the certificate)" \
    '[ "$code" = 200 ]'
check "... and names mcmcd" '[ "$(jget "$work/info.json" "j[\"name\"]")" = mcmcd ]'

pids=()
for i in $(seq 20); do
    c "${ca[@]}" -o /dev/null -w '%{http_code}\n' "$URL/healthz" >"$work/many.$i" &
    pids+=($!)
done
wait "${pids[@]}" # not a bare wait: the daemon is a child too
check "20 HTTPS requests at once all answer 200" \
    '[ "$(cat "$work"/many.* | grep -c "^200$")" = 20 ]'

c -o /dev/null "$URL/healthz"
rc=$?
check "without --cacert curl refuses the certificate (curl exit $rc, not 0)" '[ "$rc" -ne 0 ]'
code=$(c -k -o /dev/null -w '%{http_code}' "$URL/healthz")
check "... while curl -k gets 200: the certificate check was what failed" '[ "$code" = 200 ]'

code=$(c -o "$work/plain.out" -w '%{http_code}' "http://127.0.0.1:$port/healthz")
check "plain http:// to the TLS port gets no 200 (got '$code')" '[ "$code" != 200 ]'
code=$(c "${ca[@]}" -o /dev/null -w '%{http_code}' "$URL/healthz")
check "... and the daemon still answers HTTPS after it" \
    'kill -0 "$daemon_pid" 2>/dev/null && [ "$code" = 200 ]'
stop_daemon

# --- setups that must not start ------------------------------------------------
# refused NAME EXPECTED_TEXT ARGS...: exit 1, stderr holding
# EXPECTED_TEXT, no data dir made.
refused() {
    local name=$1 want=$2
    shift 2
    rm -rf "$work/bad"
    refused_daemon "$work/bad" "$@"
    show <"$work/refused.err"
    check "$name: exits 1 (got $refused_rc)" '[ "$refused_rc" = 1 ]'
    check "$name: says '$want'" 'grep -qF -- "$want" "$work/refused.err"'
    check "$name: creates nothing" '[ ! -e "$work/bad" ] && [ ! -s "$work/refused.out" ]'
}

refused "--tls-cert without --tls-key" "tls_key is not" --tls-cert "$work/server.pem"
refused "a missing key file" "$work/missing.key" \
    --tls-cert "$work/server.pem" --tls-key "$work/missing.key"
refused "a key that is not the certificate's" "$work/server.pem and key $work/ca.key" \
    --tls-cert "$work/server.pem" --tls-key "$work/ca.key"
check "... and says they do not match" 'grep -qi "do not match" "$work/refused.err"'

finish
