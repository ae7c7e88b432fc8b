#!/usr/bin/env bash
# test_client_install.sh - libmcmcclient as another project sees it: install
# the build into a temporary prefix, check what is installed (one header, a
# shared library with a SONAME, a static one, mcmcclient.pc, the CMake
# package), build client/examples/example.c against it with pkg-config and
# with find_package (shared and static), then start a daemon and run the
# in-tree mcmc_example and the outside builds against it: each uploads data,
# runs MALA with 4 chains, prints progress and posterior means, and all of
# them print the same means. Usage: test_client_install.sh PATH/TO/mcmcd
# (the build directory is the one holding server/mcmcd).
set -u
MCMCD=${1:?usage: test_client_install.sh PATH/TO/mcmcd}
BUILD=$(cd "$(dirname "$MCMCD")/.." && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/lib.sh
. "$SRC/tests/lib.sh"
test_workdir client-install
unset MCMC_TOKEN
prefix=$work/prefix

# --- install ----------------------------------------------------------------
echo "# \$ cmake --install BUILD --prefix $prefix"
check "cmake --install into a temporary prefix" \
    "cmake --install '$BUILD' --prefix '$prefix' >'$work/install.log' 2>&1"
lib=$prefix/lib
[ -d "$lib/pkgconfig" ] || lib=$(dirname "$(find "$prefix" -name mcmcclient.pc | head -n 1)")/..
check "the only installed header is mcmcclient.h" \
    "[ \"\$(ls '$prefix/include')\" = mcmcclient.h ]"
check "libmcmcclient.so has the SONAME libmcmcclient.so.1" \
    "readelf -d '$lib/libmcmcclient.so' | grep -q 'SONAME.*\[libmcmcclient.so.1\]'"
check "libmcmcclient.so.1 and libmcmcclient.a are installed" \
    "[ -L '$lib/libmcmcclient.so.1' ] && [ -f '$lib/libmcmcclient.a' ]"
check "the shared library exports only mcmc_* functions" \
    "! nm -D --defined-only '$lib/libmcmcclient.so' | awk '\$2 == \"T\" {print \$3}' | grep -v '^mcmc_'"
check "the CMake package files are installed" \
    "[ -f '$lib/cmake/mcmcclient/mcmcclientConfig.cmake' ] &&
     [ -f '$lib/cmake/mcmcclient/mcmcclientConfigVersion.cmake' ]"

# A sanitized build's library needs its users built with the same runtime.
san=''
if readelf -d "$lib/libmcmcclient.so" | grep -q 'libasan'; then
    san='-fsanitize=address,undefined -fno-omit-frame-pointer'
    echo "# the library is built with ASan+UBSan: so are the examples"
fi
export PKG_CONFIG_PATH=$lib/pkgconfig

# --- build the example from outside -----------------------------------------
echo "# \$ pkg-config --cflags --libs mcmcclient"
pkg-config --cflags --libs mcmcclient 2>&1 | show
check "pkg-config knows mcmcclient $(pkg-config --modversion mcmcclient 2>/dev/null)" \
    "pkg-config --exists 'mcmcclient >= 1.1'"
# shellcheck disable=SC2046
check "example.c builds with pkg-config (-Wall -Wextra -Werror)" \
    "cc -std=c17 -Wall -Wextra -Werror $san '$SRC/client/examples/example.c' \
        \$(pkg-config --cflags --libs mcmcclient) -lm -o '$work/example-pc' 2>'$work/pc.log'"
[ -s "$work/pc.log" ] && show <"$work/pc.log"
for kind in shared static; do
    static=OFF
    [ "$kind" = static ] && static=ON
    check "example.c builds with find_package(mcmcclient), $kind library" \
        "cmake -S '$SRC/client/examples' -B '$work/example-$kind' -DCMAKE_PREFIX_PATH='$prefix' \
            -DMCMC_EXAMPLE_STATIC=$static -DCMAKE_C_FLAGS='$san' >'$work/cmake-$kind.log' 2>&1 &&
         cmake --build '$work/example-$kind' >>'$work/cmake-$kind.log' 2>&1"
done
check "the static build does not need libmcmcclient.so" \
    "! readelf -d '$work/example-static/mcmc_example' | grep -q libmcmcclient"

# --- a daemon, and the examples against it ------------------------------------
# its admin token is not at the default data dir, so the library's loopback
# search would not find it: start_daemon exports MCMC_TOKEN for the
# examples, which pass NULL
daemon_or_exit --workers 2

# every run prints the same means: same rows, same spec, same key
run_example() { # NAME BINARY [ARGS...]
    local name=$1
    shift
    echo "# \$ $(basename "$1") ${*:2}"
    if LD_LIBRARY_PATH=$lib "$@" >"$work/$name.out" 2>"$work/$name.err"; then
        ok "$name runs: upload, MALA with 4 chains, progress, means"
    else
        bad "$name runs (exit $?)"
        show <"$work/$name.err"
    fi
    show <"$work/$name.out"
}
run_example in-tree "$BUILD/client/mcmc_example" "$URL"
out=$work/in-tree.out
check "progress came from the watch callback, for each of the 4 chains" \
    "[ \$(grep -cE '^chain [0-3]: [0-9]+/4000 iterations' '$out') -ge 4 ] &&
     [ \$(grep -oE '^chain [0-3]' '$out' | sort -u | wc -l) = 4 ] && grep -q '^job succeeded' '$out'"
check "the posterior means are near the true (1, -2, 0.5): within 4 sd" \
    "awk -v t='1 -2 0.5' 'BEGIN {split(t, th)} /^theta/ {n++; m = \$3 + 0; s = \$5 + 0;
        if (s <= 0 || (m - th[n]) ^ 2 > 16 * s * s) bad = 1} END {exit bad || n != 3}' '$out'"
grep '^theta' "$out" >"$work/means"
for name in example-pc example-shared example-static; do
    case $name in
    example-pc) bin=$work/example-pc ;;
    *) bin=$work/$name/mcmc_example ;;
    esac
    run_example "$name" "$bin" "$URL"
    check "$name prints the in-tree example's means" \
        "grep '^theta' '$work/$name.out' | cmp -s - '$work/means'"
done

# the CSV path: a file streamed as text/csv; y ~ Bernoulli(sigmoid(1.5 x1 - x2))
awk 'BEGIN { srand(3); print "x1,x2,y"
    for (i = 0; i < 300; i++) { a = 4 * rand() - 2; b = 4 * rand() - 2
        printf "%.6f,%.6f,%d\n", a, b, rand() < 1 / (1 + exp(-(1.5 * a - b))) }}' >"$work/rows.csv"
run_example example-csv "$BUILD/client/mcmc_example" "$URL" "$work/rows.csv"
check "the example uploads a CSV file (2 covariates) and samples it, named from the header" \
    "grep -q '^theta.x2: mean' '$work/example-csv.out' && ! grep -q '^theta.3' '$work/example-csv.out'"

stop_daemon
finish
