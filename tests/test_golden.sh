#!/usr/bin/env bash
# test_golden.sh - the draws of a few fixed specs, bit for bit, on every SIMD
# path this CPU runs, against .npy files recorded before a kernel change
# (tests/golden/PATH/NAME.npy). A change that only reorders or regroups work
# must keep them; one that changes the last bits on purpose (a new exp, say)
# re-records them in the same commit and says why:
#   GOLDEN_RECORD=1 tests/test_golden.sh build/server/mcmcd
# Usage: test_golden.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_golden.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir golden
golden=$here/golden

# name|data|sampler|kept draws, warmup, thin, chains, row_threads. One
# table: small N, a d = 5 case (panel kernels) and a d = 500 one (row
# kernels, split over two row threads), each sampler of the post and the
# gradient-hungry ones.
specs='
ula-d5|{"synthetic":{"n":1000,"d":5,"seed":1}}|{"type":"ula","step_size":0.005}|50,0,1,2,1
mala-d5|{"synthetic":{"n":1000,"d":5,"seed":1}}|{"type":"mala","step_size":0.005}|50,0,1,2,1
sgld-d5|{"synthetic":{"n":1000,"d":5,"seed":1}}|{"type":"sgld","step_size":0.0005,"batch_size":100}|50,0,1,2,1
hmc-d5|{"synthetic":{"n":1000,"d":5,"seed":1}}|{"type":"hmc","step_size":0.05,"num_steps":8}|20,10,1,2,1
nuts-d5|{"synthetic":{"n":1000,"d":5,"seed":1}}|{"type":"nuts"}|20,20,1,2,1
ula-d500|{"synthetic":{"n":200,"d":500,"seed":2}}|{"type":"ula","step_size":0.0005}|4,0,5,1,2
mala-d500|{"synthetic":{"n":200,"d":500,"seed":2}}|{"type":"mala","step_size":0.0005}|4,0,5,1,2
sgld-d500|{"synthetic":{"n":200,"d":500,"seed":2}}|{"type":"sgld","step_size":0.00005,"batch_size":100}|4,0,5,1,1
hmc-d500|{"synthetic":{"n":200,"d":500,"seed":2}}|{"type":"hmc","step_size":0.002,"num_steps":4}|4,0,2,1,2
nuts-d500|{"synthetic":{"n":200,"d":500,"seed":2}}|{"type":"nuts","step_size":0.002,"max_tree_depth":4}|4,0,2,1,2
'

# A sanitizer build's instrumentation changes how GCC vectorises the row
# kernels' sums (d = 500), so there the bits are the release build's
# contract only: an ASan/UBSan binary must agree within the rounding such a
# reordering can cause, eps * d per sum, compounded over every iteration
# run (eps * d * iterations, relative to the largest value).
sanitized=''
if ldd "$MCMCD" 2>/dev/null | grep -q 'libasan\|libubsan'; then sanitized=yes; fi

# The paths the CPU can run, from its flags (simd.c asks the same ones).
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
has() { case " $flags " in *" $1 "*) return 0 ;; esac; return 1; }
paths=generic
if has avx2 && has fma; then paths="$paths avx2"; fi
# avx512_256: the AVX-512 build at 256-bit vector width, the same flags;
# avx512_rows: the avx512 path with MCMCD_ROW_GROUPS=0, its full-data
# passes over d > 64 in the row pass (simd.h), whose files are the avx512
# ones from before the row groups
if has avx512f && has avx512dq && has avx512vl && has avx512bw; then
    paths="$paths avx512 avx512_256 avx512_rows"
fi

run_spec() { # run_spec PATH NAME DTYPE DATA SAMPLER COUNTS OUT
    local path=$1 name=$2 dtype=$3 data=$4 sampler=$5 counts=$6 out=$7 n w t c r
    IFS=, read -r n w t c r <<<"$counts"
    printf '{"data": %s, "sampler": %s, "num_samples": %s, "num_warmup": %s, "thin": %s,
 "chains": %s, "row_threads": %s, "key": [7, 11], "init": "zeros", "dtype": "%s",
 "progress_every": 10}\n' "$data" "$sampler" "$n" "$w" "$t" "$c" "$r" "$dtype" >"$work/spec.json"
    local simd=${path%_rows} groups=1
    [ "$simd" = "$path" ] || groups=0
    MCMCD_SIMD=$simd MCMCD_ROW_GROUPS=$groups "$MCMCD" run -t 1 --spec "$work/spec.json" \
        --out "$out" >/dev/null 2>"$work/err" || { show <"$work/err"; return 1; }
    # the path asked for is the path that ran (simd.c falls back silently)
    grep -q ", $simd kernels)" "$work/err" || { show <"$work/err"; return 1; }
}

for path in $paths; do
    mkdir -p "$work/$path"
    [ -n "${GOLDEN_RECORD:-}" ] && mkdir -p "$golden/$path"
    while IFS='|' read -r name data sampler counts; do
        [ -n "$name" ] || continue
        for dtype in float64 float32; do
            file=$name-${dtype#float}.npy
            out=$work/$path/$file
            if ! run_spec "$path" "$name" "$dtype" "$data" "$sampler" "$counts" "$out"; then
                bad "$path $name $dtype runs on the $path kernels"
                continue
            fi
            if [ -n "${GOLDEN_RECORD:-}" ]; then
                cp "$out" "$golden/$path/$file" && ok "recorded $path/$file"
            elif [ ! -f "$golden/$path/$file" ]; then
                bad "$path/$file: no recorded file (GOLDEN_RECORD=1 records it)"
            elif cmp -s "$out" "$golden/$path/$file"; then
                ok "$path $name $dtype: the recorded draws, bit for bit"
            elif [ -n "$sanitized" ] && "$PY" - "$out" "$golden/$path/$file" "$dtype" \
                "${name##*-d}" "$counts" <<'PY'; then
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
eps = 2.0**-52 if sys.argv[3] == 'float64' else 2.0**-23
n, w, t, c, r = (int(v) for v in sys.argv[5].split(','))
tol = eps * int(sys.argv[4]) * (n * t + w) * max(1.0, np.abs(b).max())
sys.exit(0 if a.shape == b.shape and np.abs(a - b).max() <= tol else 1)
PY
                ok "$path $name $dtype: the recorded draws within rounding (sanitizer build)"
            else
                bad "$path $name $dtype differs from tests/golden/$path/$file"
                "$PY" - "$out" "$golden/$path/$file" <<'PY' | show
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
if a.shape != b.shape:
    print('shape', a.shape, 'recorded', b.shape)
else:
    d = np.abs(a - b)
    k = np.argwhere(d > 0)
    print('%d of %d values differ; first at %s; largest |difference| %.3g' %
          (len(k), a.size, tuple(k[0]), d.max()))
PY
            fi
        done
    done <<<"$specs"
done
finish
