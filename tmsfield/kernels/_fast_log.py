"""A natural logarithm that LLVM can vectorise inside numba loops.

numba's ``math.log`` compiles to a scalar libm call unless llvmlite was built with Intel SVML,
which blocks SIMD vectorisation of any loop that contains it. :func:`fast_log` reimplements
the classic fdlibm ``__ieee754_log`` algorithm (Sun Microsystems, 1993; "Permission to use,
copy, modify, and distribute this software is freely granted, provided that this notice is
preserved.") with branch-free range reduction, so a loop over it becomes AVX2/AVX-512 code.

Accuracy: < 1 ulp of ``numpy.log`` for positive normal doubles in the fdlibm algorithm;
under ``fastmath`` reassociation we measure a worst relative error of a few 1e-16 (tested in
``tests/test_kernels_biot_savart.py``). Not valid for 0, negatives, subnormals, inf or NaN;
the callers only pass values >= 1.
"""

from llvmlite import ir
from numba import njit
from numba.core import types
from numba.extending import intrinsic

__all__ = ["fast_log", "atanh_series2"]

# fdlibm e_log.c minimax coefficients for log(1+f) = f - f²/2 + s(f²/2 + R(s²)), s = f/(2+f)
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_SQRT2 = 1.4142135623730951


@intrinsic
def _float_bits(typingctx, x):
    """Reinterpret a float64 as int64 (LLVM bitcast, no memory round trip)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _bits_float(typingctx, x):
    """Reinterpret an int64 as float64."""
    if x != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@njit(fastmath=True, error_model="numpy", inline="always", cache=True)
def fast_log(x):
    """Natural log of a positive normal float64, vectorisable (see module docstring).

    Examples
    --------
    >>> round(fast_log(2.718281828459045), 12)
    1.0
    """
    i = _float_bits(x)
    e = ((i >> 52) & 0x7FF) - 1023
    m = _bits_float((i & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)   # mantissa in [1, 2)
    big = m > _SQRT2
    m = m * 0.5 if big else m                                        # now in [sqrt(1/2), sqrt(2)]
    e = e + 1 if big else e
    f = m - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    r = t2 + t1
    k = float(e)
    return k * _LN2_HI - ((hfsq - (s * (hfsq + r) + k * _LN2_LO)) - f)



@njit(fastmath=True, error_model="numpy", inline="always", cache=True)
def atanh_series2(eps):
    """``2 atanh(eps) = ln((1 + eps)/(1 − eps))`` for ``0 <= eps <= 0.1716``, vectorisable.

    The fdlibm identity ``log(1+f) = 2s + s·R(s²)`` with ``s = f/(2+f)`` is exactly
    ``2 atanh(s)``, and its minimax polynomial R is accurate to < 1 ulp for
    ``|s| <= 3 − 2√2 ≈ 0.1716``; outside that range use :func:`fast_log`.

    Examples
    --------
    >>> import math
    >>> abs(atanh_series2(0.1) - 2 * math.atanh(0.1)) < 1e-16
    True
    """
    z = eps * eps
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    return 2.0 * eps + eps * (t1 + t2)
