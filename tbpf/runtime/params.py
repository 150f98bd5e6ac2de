"""Invoke parameters: the typed ``TYPE:VALUE`` notation of ``tbpf chain invoke --param``.

The input region of an invocation is the concatenation of its encoded parameters, in
order, with no header (the contract gets the total length in ``r2``):

=============  ==============================================================
``u8:N`` ...   ``u8``, ``u16``, ``u32``, ``u64``: unsigned little endian
``i8:N`` ...   ``i8``, ``i16``, ``i32``, ``i64``: two's complement little endian
``bool:B``     one byte, ``true``/``false``/``1``/``0``
``hash:HEX``   32 raw bytes (64 hex digits)
``addr:A``     32 bytes: 64 hex digits, or the development address of the name ``A``
``hex:HEX``    the bytes as they are
``bytes:HEX``  u32 LE length, then the bytes
``str:TEXT``   u32 LE length, then the UTF-8 text
=============  ==============================================================

Integers accept decimal or ``0x`` hex. Every malformed parameter raises ``ValueError``
with a message naming it.
"""

from __future__ import annotations

import hashlib

__all__ = ["encode_param", "encode_params", "dev_address", "parse_address"]

_INT_WIDTHS = {"8": 1, "16": 2, "32": 4, "64": 8}


def dev_address(name: str) -> bytes:
    """The 32-byte development address of a name (``sha256("tbpf-dev-account:" + name)``)."""
    return hashlib.sha256(b"tbpf-dev-account:" + name.encode("utf-8")).digest()


def parse_address(text: str) -> bytes:
    """64 hex digits as 32 bytes, otherwise the development address of ``text``."""
    if len(text) == 64:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    if not text:
        raise ValueError("empty address")
    return dev_address(text)


def _hex(value: str, what: str) -> bytes:
    try:
        return bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise ValueError(f"{what}: not hex: {value!r}") from None


def encode_param(spec: str) -> bytes:
    """Encode one ``TYPE:VALUE`` parameter.

    >>> encode_param("u32:7").hex()
    '07000000'
    >>> encode_param("str:hi").hex()
    '020000006869'
    >>> encode_param("u8:256")
    Traceback (most recent call last):
    ValueError: u8:256: 256 does not fit in u8

    Raises:
        ValueError: unknown type or bad value.
    """
    kind, sep, value = spec.partition(":")
    if not sep:
        raise ValueError(f"{spec!r}: expected TYPE:VALUE")
    kind = kind.lower()
    if kind[:1] in ("u", "i") and kind[1:] in _INT_WIDTHS:
        size = _INT_WIDTHS[kind[1:]]
        try:
            number = int(value, 0)
        except ValueError:
            raise ValueError(f"{spec}: not an integer") from None
        bits = 8 * size
        low, high = (0, (1 << bits) - 1) if kind[0] == "u" else (-(1 << (bits - 1)),
                                                                 (1 << (bits - 1)) - 1)
        if not low <= number <= high:
            raise ValueError(f"{spec}: {number} does not fit in {kind}")
        return (number & ((1 << bits) - 1)).to_bytes(size, "little")
    if kind == "bool":
        flag = value.lower()
        if flag not in ("true", "false", "1", "0"):
            raise ValueError(f"{spec}: expected true or false")
        return b"\x01" if flag in ("true", "1") else b"\x00"
    if kind == "hash":
        raw = _hex(value, spec)
        if len(raw) != 32:
            raise ValueError(f"{spec}: a hash is 32 bytes, got {len(raw)}")
        return raw
    if kind == "addr":
        return parse_address(value)
    if kind == "hex":
        return _hex(value, spec)
    if kind == "bytes":
        raw = _hex(value, spec)
        return len(raw).to_bytes(4, "little") + raw
    if kind == "str":
        raw = value.encode("utf-8")
        return len(raw).to_bytes(4, "little") + raw
    raise ValueError(f"{spec}: unknown parameter type {kind!r} (u8..u64, i8..i64, bool, "
                     f"hash, addr, hex, bytes, str)")


def encode_params(specs: list[str] | tuple[str, ...]) -> bytes:
    """Concatenate the encodings of ``specs`` (the invocation's input bytes)."""
    return b"".join(encode_param(s) for s in specs)
