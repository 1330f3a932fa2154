"""A slow, obviously-correct model of RISC-V floating point, from the definitions.

Every operation is computed exactly with Fractions and rounded once by
`round_to`, which follows IEEE 754 literally: round the exact value to the
format's precision in the given mode; overflow if that, with an unbounded
exponent, is beyond the largest finite number; underflow if it is tiny
(below 2^emin after rounding with an unbounded exponent, as RISC-V detects
tininess) and inexact. It shares no code or technique with softfloat.c, which
is what makes it a useful second reference (it covers RMM, which the host FPU
lacks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

NX, UF, OF, DZ, NV = 1, 2, 4, 8, 16
RNE, RTZ, RDN, RUP, RMM = range(5)


@dataclass(frozen=True)
class Fmt:
    width: int
    frac_bits: int

    @property
    def exp_bits(self) -> int:
        return self.width - 1 - self.frac_bits

    @property
    def bias(self) -> int:
        return (1 << (self.exp_bits - 1)) - 1

    @property
    def precision(self) -> int:
        return self.frac_bits + 1

    @property
    def emin(self) -> int:
        return 1 - self.bias

    @property
    def emax(self) -> int:
        return self.bias

    @property
    def inf(self) -> int:
        return ((1 << self.exp_bits) - 1) << self.frac_bits

    @property
    def nan(self) -> int:
        return self.inf | (1 << (self.frac_bits - 1))

    def sign_bit(self, neg: bool) -> int:
        return int(neg) << (self.width - 1)


F32 = Fmt(32, 23)
F64 = Fmt(64, 52)


@dataclass(frozen=True)
class Val:
    """A decoded operand: kind is 'num', 'inf', 'qnan' or 'snan'."""

    kind: str
    neg: bool = False
    mag: Fraction = Fraction(0)


def decode(f: Fmt, bits: int) -> Val:
    neg = bool(bits >> (f.width - 1))
    e = (bits >> f.frac_bits) & ((1 << f.exp_bits) - 1)
    m = bits & ((1 << f.frac_bits) - 1)
    if e == (1 << f.exp_bits) - 1:
        if m == 0:
            return Val("inf", neg)
        return Val("qnan" if m >> (f.frac_bits - 1) else "snan", neg)
    if e == 0:
        return Val("num", neg, Fraction(m) * Fraction(2) ** (f.emin - f.frac_bits))
    return Val(
        "num", neg, Fraction(m + (1 << f.frac_bits)) * Fraction(2) ** (e - f.bias - f.frac_bits)
    )


def _round_int(q: Fraction, neg: bool, rm: int) -> int:
    """q >= 0 rounded to an integer magnitude; neg is the sign of the value."""
    n = math.floor(q)
    rest = q - n
    if rest == 0:
        return n
    half = Fraction(1, 2)
    up = {
        RNE: rest > half or (rest == half and n % 2 == 1),
        RMM: rest >= half,
        RTZ: False,
        RDN: neg,
        RUP: not neg,
    }[rm]
    return n + int(up)


def _ilog2(x: Fraction) -> int:
    """floor(log2(x)) for x > 0."""
    e = x.numerator.bit_length() - x.denominator.bit_length()
    if Fraction(2) ** e > x:
        e -= 1
    return e


def round_to(f: Fmt, neg: bool, mag: Fraction, rm: int) -> tuple[int, int]:
    """The exact nonzero value (-1)^neg * mag rounded to f: (bits, flags)."""
    assert mag > 0
    p = f.precision
    e = _ilog2(mag)
    # Tininess after rounding: round to p bits with an unbounded exponent.
    n = _round_int(mag / Fraction(2) ** (e - p + 1), neg, rm)
    e_unbounded = e + 1 if n == 1 << p else e
    tiny = e_unbounded < f.emin
    if e_unbounded > f.emax:
        away = rm in (RNE, RMM) or (rm == RUP and not neg) or (rm == RDN and neg)
        big = f.inf if away else f.inf - 1
        return f.sign_bit(neg) | big, OF | NX
    # The real rounding: below 2^emin the last place stays at emin - p + 1.
    ulp_exp = max(e, f.emin) - p + 1
    q = mag / Fraction(2) ** ulp_exp
    n = _round_int(q, neg, rm)
    flags = NX if n != q else 0
    if tiny and flags:
        flags |= UF
    if n >= 1 << (p - 1):  # normal (n may be 2^p: the exponent field absorbs it)
        bits = ((ulp_exp + p - 1 + f.bias) << f.frac_bits) + n - (1 << f.frac_bits)
    else:
        bits = n
    return f.sign_bit(neg) | bits, flags


def _zero_sum(f: Fmt, terms_zero: bool, neg_a: bool, neg_b: bool, rm: int) -> int:
    """Sign rule for an exact zero sum: x + (-x) = +0 (-0 rounding down);
    zeros of equal sign keep it."""
    if terms_zero and neg_a == neg_b:
        return f.sign_bit(neg_a)
    return f.sign_bit(rm == RDN)


def _signed(v: Val) -> Fraction:
    return -v.mag if v.neg else v.mag


def _result(f: Fmt, x: Fraction, rm: int) -> tuple[int, int]:
    return round_to(f, x < 0, abs(x), rm)


def _nan(*vals: Val, invalid: bool = False) -> tuple[int, int] | None:
    if any(v.kind == "snan" for v in vals) or invalid:
        return -1, NV
    if any(v.kind == "qnan" for v in vals):
        return -1, 0
    return None


def _canon(f: Fmt, r: tuple[int, int]) -> tuple[int, int]:
    return (f.nan if r[0] == -1 else r[0]), r[1]


def add(f: Fmt, a: int, b: int, rm: int, negate_b: bool = False) -> tuple[int, int]:
    x, y = decode(f, a), decode(f, b)
    if negate_b:
        y = Val(y.kind, not y.neg, y.mag)
    n = _nan(x, y)
    if n:
        return _canon(f, n)
    if x.kind == "inf" or y.kind == "inf":
        if x.kind == y.kind and x.neg != y.neg:
            return f.nan, NV
        return f.sign_bit((x if x.kind == "inf" else y).neg) | f.inf, 0
    s = _signed(x) + _signed(y)
    if s == 0:
        return _zero_sum(f, x.mag == 0 and y.mag == 0, x.neg, y.neg, rm), 0
    return _result(f, s, rm)


def mul(f: Fmt, a: int, b: int, rm: int) -> tuple[int, int]:
    x, y = decode(f, a), decode(f, b)
    n = _nan(x, y)
    if n:
        return _canon(f, n)
    neg = x.neg != y.neg
    if x.kind == "inf" or y.kind == "inf":
        if (x.mag == 0 and x.kind == "num") or (y.mag == 0 and y.kind == "num"):
            return f.nan, NV
        return f.sign_bit(neg) | f.inf, 0
    if x.mag == 0 or y.mag == 0:
        return f.sign_bit(neg), 0
    return round_to(f, neg, x.mag * y.mag, rm)


def div(f: Fmt, a: int, b: int, rm: int) -> tuple[int, int]:
    x, y = decode(f, a), decode(f, b)
    n = _nan(x, y)
    if n:
        return _canon(f, n)
    neg = x.neg != y.neg
    if x.kind == "inf":
        return (f.nan, NV) if y.kind == "inf" else (f.sign_bit(neg) | f.inf, 0)
    if y.kind == "inf":
        return f.sign_bit(neg), 0
    if y.mag == 0:
        return (f.nan, NV) if x.mag == 0 else (f.sign_bit(neg) | f.inf, DZ)
    if x.mag == 0:
        return f.sign_bit(neg), 0
    return round_to(f, neg, x.mag / y.mag, rm)


def sqrt(f: Fmt, a: int, rm: int) -> tuple[int, int]:
    x = decode(f, a)
    n = _nan(x)
    if n:
        return _canon(f, n)
    if x.kind == "num" and x.mag == 0:
        return a, 0
    if x.neg:
        return f.nan, NV
    if x.kind == "inf":
        return a, 0
    # sqrt(x) to 2 * precision + 8 fractional bits, plus a quarter unit of
    # that when inexact: a root is never exactly halfway, so this sticky
    # quarter rounds exactly like the irrational tail.
    s = 2 * f.precision + 8 - _ilog2(x.mag) // 2
    scaled = x.mag * Fraction(4) ** s
    r = math.isqrt(math.floor(scaled))
    root = Fraction(r)
    if r * r != scaled:
        root += Fraction(1, 4)
    return round_to(f, False, root / Fraction(2) ** s, rm)


def fma(f: Fmt, a: int, b: int, c: int, neg_prod: bool, neg_c: bool, rm: int) -> tuple[int, int]:
    x, y, z = decode(f, a), decode(f, b), decode(f, c)
    infzero = (x.kind == "inf" and y.kind == "num" and y.mag == 0) or (
        y.kind == "inf" and x.kind == "num" and x.mag == 0
    )
    n = _nan(x, y, z, invalid=infzero)  # RISC-V: inf * 0 is NV even with a qNaN addend
    if n:
        return _canon(f, n)
    neg_p = (x.neg != y.neg) != neg_prod
    neg_z = z.neg != neg_c
    if x.kind == "inf" or y.kind == "inf":
        if z.kind == "inf" and neg_z != neg_p:
            return f.nan, NV
        return f.sign_bit(neg_p) | f.inf, 0
    if z.kind == "inf":
        return f.sign_bit(neg_z) | f.inf, 0
    p = x.mag * y.mag
    s = (-p if neg_p else p) + (-z.mag if neg_z else z.mag)
    if s == 0:
        return _zero_sum(f, p == 0 and z.mag == 0, neg_p, neg_z, rm), 0
    return _result(f, s, rm)


def to_int(f: Fmt, a: int, rm: int, signed: bool, bits: int) -> tuple[int, int]:
    """fcvt.{w,wu,l,lu}.{s,d}: the 64-bit register value and flags."""
    lo = -(1 << (bits - 1)) if signed else 0
    hi = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
    x = decode(f, a)
    if x.kind in ("qnan", "snan"):
        r, flags = hi, NV
    elif x.kind == "inf":
        r, flags = (lo if x.neg else hi), NV
    else:
        n = _round_int(x.mag, x.neg, rm)
        v = -n if x.neg else n
        if lo <= v <= hi:
            r, flags = v, (NX if n != x.mag else 0)
        else:
            r, flags = (lo if x.neg else hi), NV
    r &= (1 << bits) - 1
    if bits == 32 and r >> 31:  # W results are sign-extended, even unsigned ones
        r |= 0xFFFFFFFF_00000000
    return r & (2**64 - 1), flags


def from_int(f: Fmt, v: int, rm: int) -> tuple[int, int]:
    if v == 0:
        return 0, 0
    return round_to(f, v < 0, Fraction(abs(v)), rm)


def convert(src: Fmt, dst: Fmt, a: int, rm: int) -> tuple[int, int]:
    """fcvt.s.d / fcvt.d.s."""
    x = decode(src, a)
    n = _nan(x)
    if n:
        return _canon(dst, n)
    if x.kind == "inf":
        return dst.sign_bit(x.neg) | dst.inf, 0
    if x.mag == 0:
        return dst.sign_bit(x.neg), 0
    return round_to(dst, x.neg, x.mag, rm)
