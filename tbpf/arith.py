"""Integer-width helpers: the only place that knows how sBPF wraps, extends and divides.

Python integers are unbounded, so every guest value passes through one of these named
helpers (ubpf's ``u32()``/``i32()`` style). Guest registers are always stored as unsigned
64-bit Python ints in ``[0, 2**64)``. Signed division truncates toward zero and the
remainder takes the sign of the dividend (Rust semantics, SBPF_SPEC 0.3); Python's ``//``
and ``%`` floor instead, so they are never applied to signed values directly.

This module must not import anything from the rest of TBPF.
"""

from __future__ import annotations

U8_MASK = 0xFF
U16_MASK = 0xFFFF
U32_MASK = 0xFFFF_FFFF
U64_MASK = 0xFFFF_FFFF_FFFF_FFFF
I32_MIN = -(1 << 31)
I64_MIN = -(1 << 63)
U32_SIGN = 1 << 31
U64_SIGN = 1 << 63

__all__ = [
    "U8_MASK", "U16_MASK", "U32_MASK", "U64_MASK", "I32_MIN", "I64_MIN",
    "wrap32", "wrap64", "sx32", "sx16", "to_i32", "to_i64", "from_i64",
    "sdiv_trunc", "srem_trunc", "bswap16", "bswap32", "bswap64",
    "mulhi_unsigned", "mulhi_signed",
]


def wrap32(value: int) -> int:
    """Return the low 32 bits of ``value`` as an unsigned int.

    >>> wrap32(-1)
    4294967295
    >>> wrap32(1 << 32)
    0
    """
    return value & U32_MASK


def wrap64(value: int) -> int:
    """Return the low 64 bits of ``value`` as an unsigned int.

    >>> wrap64(-1) == U64_MASK
    True
    """
    return value & U64_MASK


def sx32(value: int) -> int:
    """Sign-extend bit 31 of ``value`` to an unsigned 64-bit int (``sx32`` in the spec).

    >>> hex(sx32(0x8000_0000))
    '0xffffffff80000000'
    >>> sx32(0x1_7FFF_FFFF)
    2147483647
    """
    value &= U32_MASK
    return value | 0xFFFF_FFFF_0000_0000 if value & U32_SIGN else value


def sx16(value: int) -> int:
    """Interpret the low 16 bits of ``value`` as a signed i16.

    >>> sx16(0xFFFF)
    -1
    """
    value &= U16_MASK
    return value - 0x1_0000 if value & 0x8000 else value


def to_i32(value: int) -> int:
    """Interpret the low 32 bits of ``value`` as a signed i32.

    >>> to_i32(0xFFFF_FFFF)
    -1
    """
    value &= U32_MASK
    return value - (1 << 32) if value & U32_SIGN else value


def to_i64(value: int) -> int:
    """Interpret the low 64 bits of ``value`` as a signed i64.

    >>> to_i64(U64_MASK)
    -1
    """
    value &= U64_MASK
    return value - (1 << 64) if value & U64_SIGN else value


def from_i64(value: int) -> int:
    """Encode a signed value as its unsigned 64-bit two's complement.

    >>> from_i64(-2) == U64_MASK - 1
    True
    """
    return value & U64_MASK


def sdiv_trunc(dividend: int, divisor: int) -> int:
    """Signed quotient truncated toward zero (operands are Python signed ints).

    The caller has already excluded a zero divisor and MIN / -1.

    >>> sdiv_trunc(-7, 2)
    -3
    >>> sdiv_trunc(7, -2)
    -3
    """
    quotient = abs(dividend) // abs(divisor)
    return -quotient if (dividend < 0) != (divisor < 0) else quotient


def srem_trunc(dividend: int, divisor: int) -> int:
    """Signed remainder with the sign of the dividend (operands are Python signed ints).

    >>> srem_trunc(-7, 2)
    -1
    >>> srem_trunc(7, -2)
    1
    """
    return dividend - sdiv_trunc(dividend, divisor) * divisor


def bswap16(value: int) -> int:
    """Swap the two low bytes of ``value``.

    >>> hex(bswap16(0x1122))
    '0x2211'
    """
    return int.from_bytes((value & U16_MASK).to_bytes(2, "little"), "big")


def bswap32(value: int) -> int:
    """Swap the four low bytes of ``value``.

    >>> hex(bswap32(0x11223344))
    '0x44332211'
    """
    return int.from_bytes((value & U32_MASK).to_bytes(4, "little"), "big")


def bswap64(value: int) -> int:
    """Swap the eight bytes of ``value``.

    >>> hex(bswap64(0x1122334455667788))
    '0x8877665544332211'
    """
    return int.from_bytes((value & U64_MASK).to_bytes(8, "little"), "big")


def mulhi_unsigned(a: int, b: int) -> int:
    """High 64 bits of the unsigned 128-bit product (``uhmul64``).

    >>> hex(mulhi_unsigned(U64_MASK, U64_MASK))
    '0xfffffffffffffffe'
    """
    return ((a & U64_MASK) * (b & U64_MASK)) >> 64


def mulhi_signed(a: int, b: int) -> int:
    """High 64 bits of the signed 128-bit product, as unsigned 64 (``shmul64``).

    >>> hex(mulhi_signed(U64_MASK, 2))
    '0xffffffffffffffff'
    """
    return ((to_i64(a) * to_i64(b)) >> 64) & U64_MASK
