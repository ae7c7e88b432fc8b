#!/usr/bin/env python3
"""exp_coeffs.py - the coefficients of core/vmath.h's float64 exp, derived here.

vm_exp reduces x = (k/N) ln2 + r with N = 2^m table entries 2^(j/N), so that
|r| <= ln2 / (2N), and approximates e^r = 1 + r + r^2 q(r). This script finds
q of a given degree minimising the largest *relative* error of
1 + r + r^2 q(r) against e^r on [-L, L] (Remez exchange, all arithmetic in
Python's decimal at 60 digits, e^r from decimal's correctly rounded exp),
rounds the coefficients to doubles, measures the rounded polynomial's error
on a dense grid, and prints the C constants with the table of 2^(j/N) split
as the bits of its nearest double and the relative rest.

Standard library only. Usage:
  bench/exp_coeffs.py --m 1 --degree 10      # core/vmath.h's AVX-512 exp
  bench/exp_coeffs.py --m 6 --degree 5       # its AVX2 and generic exp
  bench/exp_coeffs.py --survey               # the lowest degree for each m
  bench/exp_coeffs.py --bench-header | clang-format --assume-filename=x.h \
      > bench/exp_f64_candidates.h           # bench/exp_f64.c's candidates
"""
import argparse
import math
import struct
from decimal import Decimal, getcontext

getcontext().prec = 60
LN2 = Decimal(2).ln()
ULP1 = Decimal(2) ** -53  # half an ulp of 1 (an ulp of numbers just below 1)


def dexp(x):
    return x.exp()


def horner(c, r):
    acc = Decimal(0)
    for ci in reversed(c):
        acc = acc * r + ci
    return acc


def rel_error(q, r):
    """(1 + r + r^2 q(r) - e^r) / e^r."""
    e = dexp(r)
    return (1 + r + r * r * horner(q, r) - e) / e


def solve(a, b):
    """Gaussian elimination with partial pivoting, in Decimal."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(n):
        piv = max(range(col, n), key=lambda i: abs(m[i][col]))
        m[col], m[piv] = m[piv], m[col]
        for i in range(col + 1, n):
            f = m[i][col] / m[col][col]
            for j in range(col, n + 1):
                m[i][j] -= f * m[col][j]
    x = [Decimal(0)] * n
    for i in reversed(range(n)):
        s = m[i][n] - sum(m[i][j] * x[j] for j in range(i + 1, n))
        x[i] = s / m[i][i]
    return x


def extrema(q, lo, hi, grid):
    """Points of largest |error| between sign changes, on a grid refined
    around each one."""
    xs = [lo + (hi - lo) * Decimal(i) / grid for i in range(grid + 1)]
    es = [rel_error(q, x) for x in xs]
    runs, cur = [], None
    for x, e in zip(xs, es):
        if e == 0:
            continue
        s = e > 0
        if cur is None or cur[0] != s:
            cur = [s, x, e]
            runs.append(cur)
        elif abs(e) > abs(cur[2]):
            cur[1], cur[2] = x, e
    step = (hi - lo) / grid
    for run in runs:  # golden-section-like refinement around each grid maximum
        x0 = run[1]
        a, b = max(lo, x0 - step), min(hi, x0 + step)
        for _ in range(60):
            m1, m2 = a + (b - a) / 3, b - (b - a) / 3
            if abs(rel_error(q, m1)) < abs(rel_error(q, m2)):
                a = m1
            else:
                b = m2
        xm = (a + b) / 2
        if abs(rel_error(q, xm)) > abs(run[2]):
            run[1], run[2] = xm, rel_error(q, xm)
    return [(r[1], r[2]) for r in runs]


def remez(nq, L, iters=12, grid=2000):
    """q of degree nq - 1 (nq coefficients), minimax relative error on [-L, L]."""
    npts = nq + 1
    # start from Chebyshev extrema
    pts = [L * Decimal(repr(-math.cos(math.pi * i / (npts - 1)))) for i in range(npts)]
    q = [Decimal(0)] * nq
    for _ in range(iters):
        a, b = [], []
        for k, x in enumerate(pts):
            e = dexp(x)
            row = [x ** (i + 2) for i in range(nq)] + [(-1) ** k * e]
            a.append(row)
            b.append(e - 1 - x)
        sol = solve(a, b)
        q, E = sol[:nq], sol[nq]
        ext = extrema(q, -L, L, grid)
        if len(ext) < npts:
            break
        # keep npts alternating extrema: the window with the largest minimum
        best = max(range(len(ext) - npts + 1), key=lambda i: min(abs(e) for _, e in ext[i : i + npts]))
        pts = [x for x, _ in ext[best : best + npts]]
    return q, abs(E)


def to_double(x):
    return float(x)


def max_error(q, L, grid=4000):
    return max(abs(rel_error(q, -L + 2 * L * Decimal(i) / grid)) for i in range(grid + 1))


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def reduced_range(m):
    # |r| <= ln2 / 2^(m+1), plus the rounding of k (x * 2^m / ln2 rounded to
    # nearest in double: the argument can land a hair past the half-way point)
    return LN2 / 2 ** (m + 1) * (1 + Decimal(2) ** -40)


def survey():
    print("m  degree  minimax rel. error   in units of 2^-53 (after rounding q to doubles)")
    for m in range(0, 8):
        L = reduced_range(m)
        for deg in range(4, 14):
            if deg - 1 < 1:
                continue
            q, E = remez(deg - 1, L, iters=6, grid=600)
            qd = [Decimal(to_double(c)) for c in q]
            err = max_error(qd, L, grid=800)
            if err / ULP1 < 0.5:
                print("%d  %2d      %.3e            %.3f" % (m, deg, E, err / ULP1))
                break


def fit(m, degree):
    """q's coefficients (as doubles), the minimax error and the rounded one."""
    L = reduced_range(m)
    q, E = remez(degree - 1, L)
    qd = [to_double(c) for c in q]
    return qd, E, max_error([Decimal(c) for c in qd], L)


def table(m):
    """[bits of hi, bits of (2^(j/N) - hi) / hi] for j < N = 2^m."""
    N, out = 2 ** m, []
    for j in range(N):
        t = Decimal(2) ** (Decimal(j) / N)
        hi = to_double(t)
        out += [bits(hi), bits(to_double((t - Decimal(hi)) / Decimal(hi)))]
    return out


def c_array(kind, name, values, per_line):
    lines = ["static const %s %s[%d] = {" % (kind, name, len(values))]
    for i in range(0, len(values), per_line):
        lines.append("    " + " ".join(v + "," for v in values[i : i + per_line]))
    return "\n".join(lines) + "\n};"


BENCH_CANDIDATES = [(0, 11), (1, 9), (1, 10), (2, 8), (3, 7), (4, 6), (6, 5)]


def bench_header():
    print("/* exp_f64_candidates.h - written by bench/exp_coeffs.py --bench-header: the")
    print(" * tables 2^(j/N) (hi bits, relative rest bits) and the minimax q of each")
    print(" * candidate of bench/exp_f64.c (c[0] multiplies r^2). Do not edit. */")
    for m in sorted({m for m, _ in BENCH_CANDIDATES if m > 0}):
        print(c_array("uint64_t", "exp_tab%d" % m, ["0x%016xULL" % b for b in table(m)], 2))
    for m, deg in BENCH_CANDIDATES:
        qd, E, err = fit(m, deg)
        print("/* m = %d, degree %d: %.3e relative (%.3f ulp of 1), rounded %.3e (%.3f) */"
              % (m, deg, E, E / ULP1, err, err / ULP1))
        print(c_array("double", "exp_m%dd%d" % (m, deg), [c.hex() for c in qd], 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--m", type=int, default=4, help="table of 2^m entries 2^(j/2^m)")
    ap.add_argument("--degree", type=int, default=6, help="degree of 1 + r + r^2 q(r)")
    ap.add_argument("--survey", action="store_true", help="the lowest degree for each m")
    ap.add_argument("--bench-header", action="store_true", help="bench/exp_f64_candidates.h")
    a = ap.parse_args()
    if a.survey:
        survey()
        return
    if a.bench_header:
        bench_header()
        return
    qd, E, err = fit(a.m, a.degree)
    N = 2 ** a.m
    print("/* e^r = 1 + r + r^2 (c2 + c3 r + ...), |r| <= ln2/%d: minimax relative error" % (2 * N))
    print(" * %.3e (%.4f ulp of 1), %.3e (%.4f) with the coefficients rounded to double. */"
          % (E, E / ULP1, err, err / ULP1))
    print(c_array("double", "vm_exp_q", [c.hex() for c in qd], 2))
    if a.m > 0:
        print(c_array("uint64_t", "vm_exp_tab", ["0x%016xULL" % b for b in table(a.m)], 2))


if __name__ == "__main__":
    main()
