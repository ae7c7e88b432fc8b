#!/usr/bin/env python3
"""log1p_coeffs.py - the coefficients of core/vmath.h's log1p, derived here.

The logistic link's log-likelihood needs log(1 + t) only for t = e^-|eta|
in [0, 1]. core/vmath.h computes it two ways:

  float32 (vmf_log1p): t Q(t), Q a polynomial of degree 10 close to
      log(1 + t) / t on [0, 1]: no division.
  float64 (vm_log1p):  2 atanh(s) = 2s (1 + z P(z)) with s = t / (2 + t)
      <= 1/3 and z = s^2 <= 1/9, P of degree 9 close to
      (atanh(s) / s - 1) / z: one division.

Each polynomial interpolates its function at the Chebyshev nodes of the
interval (within a small factor of the minimax error), solved in Python's
decimal at 60 digits, then rounded to the target type. The script prints
the rounded polynomial's largest relative error on a dense grid, in units
of 2^-24 (float) or 2^-53 (double), and the C constants.

Standard library only (and exp_coeffs.py's Horner and elimination). Usage:
  bench/log1p_coeffs.py            # both sets, as in core/vmath.h
  bench/log1p_coeffs.py --survey   # the error of each degree
"""
import argparse
import math
import os
import struct
import sys
from decimal import Decimal, getcontext

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exp_coeffs import horner, solve  # noqa: E402  (Decimal Horner and elimination)

getcontext().prec = 60


def q_log1p(t):
    """log(1 + t) / t."""
    return Decimal(1) if t == 0 else (1 + t).ln() / t


def p_atanh(z):
    """(atanh(s) / s - 1) / z with z = s^2: the series sum z^(k-1) / (2k + 1)."""
    acc, zk, k = Decimal(0), Decimal(1), 1
    while True:
        term = zk / (2 * k + 1)
        if term < Decimal(10) ** -55:
            return acc
        acc, zk, k = acc + term, zk * z, k + 1


def to_float(x):
    return struct.unpack("<f", struct.pack("<f", float(x)))[0]


def chebyshev_fit(fn, hi, degree, rounding):
    """Coefficients of the polynomial interpolating fn at the Chebyshev
    nodes of [0, hi], each rounded by rounding."""
    n = degree + 1
    nodes = [hi / 2 * (1 - Decimal(repr(math.cos(math.pi * (2 * i + 1) / (2 * n))))) for i in range(n)]
    rows = [[x ** j if j else Decimal(1) for j in range(n)] for x in nodes]
    return [Decimal(rounding(c)) for c in solve(rows, [fn(x) for x in nodes])]


def error_f32(c, grid=2000):
    """Largest relative error of t Q(t) against log(1 + t) on [0, 1]."""
    ts = [Decimal(i) / grid for i in range(grid + 1)]
    return max(abs(horner(c, t) - q_log1p(t)) / q_log1p(t) for t in ts)


def error_f64(c, grid=2000):
    """Largest relative error of 1 + z P(z) against atanh(s) / s on [0, 1/9]."""
    zs = [Decimal(i) / (9 * grid) for i in range(grid + 1)]
    return max(abs(z * (horner(c, z) - p_atanh(z))) / (1 + z * p_atanh(z)) for z in zs)


SETS = {  # name: (function, interval end, degree, rounding, error, unit, C type, suffix)
    "float32": (q_log1p, Decimal(1), 10, to_float, error_f32, 2.0 ** -24, "float", "f"),
    "float64": (p_atanh, Decimal(1) / 9, 9, float, error_f64, 2.0 ** -53, "double", ""),
}


def hex_literal(x):
    """x as a C hex literal, trailing zeros of the mantissa dropped."""
    mant, exp = float(x).hex().split("p")
    mant = mant.rstrip("0").rstrip(".")
    return "%sp%s" % (mant, exp)


def c_constants(name, c):
    ctype, sfx = SETS[name][6], SETS[name][7]
    values = [hex_literal(x) + sfx for x in c]
    lines = ["static const %s c[%d] = {" % (ctype, len(values))]
    for i in range(0, len(values), 4):
        lines.append("    " + " ".join(v + "," for v in values[i : i + 4]))
    return "\n".join(lines) + "\n};"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--survey", action="store_true", help="the error of each degree")
    a = ap.parse_args()
    for name, (fn, hi, degree, rounding, error, unit, _, _) in SETS.items():
        degrees = range(degree - 3, degree + 3) if a.survey else [degree]
        for deg in degrees:
            c = chebyshev_fit(fn, hi, deg, rounding)
            print("/* %s, degree %d: %.3f ulp relative */" % (name, deg, float(error(c)) / unit))
            if not a.survey:
                print(c_constants(name, c))


if __name__ == "__main__":
    main()
