"""PostgreSQL types on the wire: name <-> OID and typlen (the table itself is
:mod:`gateway.pgtypes`, shared with the catalog), and the choice of a value's encoder or
decoder by type and format.

``encoder(type_name, fmt)`` gives a function from a Python value to the bytes of one
DataRow field; ``decoder(oid, fmt)`` gives a function from the bytes of one Bind
parameter to a Python value. The formats themselves are in :mod:`.text_format` and
:mod:`.binary_format`; values coming from SQLite are loosely typed (a ``DATETIME`` column
holds strings, a ``NUMERIC`` one floats), so encoders coerce what they sensibly can
(:mod:`.coerce`) and fall back to the value's text.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from gateway import pgtypes
from gateway.errors import DataException
from gateway.protocol.binary_format import BINARY_IN, BINARY_OUT, numeric_binary, numeric_from_binary
from gateway.protocol.coerce import bad_binary
from gateway.protocol.constants import FORMAT_BINARY
from gateway.protocol.framing import I32, U32
from gateway.protocol.text_format import TEXT_IN, TEXT_OUT, parse_array_text, parse_interval, text_of_array, text_str, to_text

Encoder = Callable[[Any], bytes]
Decoder = Callable[[bytes], Any]

TEXT_OID = 25
UNKNOWN_OID = 705

__all__ = [
    "TEXT_OID", "UNKNOWN_OID", "decoder", "element_of", "encoder", "name_of", "normalize", "numeric_binary",
    "numeric_from_binary", "oid_of", "parse_array_text", "parse_interval", "typlen_of",
]

# --- names, OIDs, lengths ------------------------------------------------------------


def normalize(name: str) -> str:
    """Internal type name for any SQL spelling (``integer`` -> ``int4``); ``text`` when
    unknown. An exact internal name wins (``char`` is the one-byte ``"char"``, OID 18,
    as in ``pg_type``; SQL's ``CHAR(n)`` is ``bpchar``)."""
    if name in pgtypes.TYPES:
        return name
    return pgtypes.normalize(name)


def oid_of(name: str) -> int:
    return pgtypes.TYPES[normalize(name)].oid


def typlen_of(name: str) -> int:
    return pgtypes.TYPES[normalize(name)].length


def name_of(oid: int) -> str | None:
    """The internal type name of an OID, ``None`` when askgres does not know it."""
    t = pgtypes.BY_OID.get(oid)
    return t.name if t else None


def element_of(name: str) -> str | None:
    """For an array type (``_int4``) its element type (``int4``), else ``None``."""
    t = pgtypes.TYPES.get(name)
    if t is None or not t.elem_oid:
        return None
    return name_of(t.elem_oid)


# --- output --------------------------------------------------------------------------


def _text_out(name: str) -> Callable[[Any], str]:
    elem = element_of(name)
    if elem is not None:
        return text_of_array(_text_out(elem))
    return TEXT_OUT.get(name, to_text)


def _binary_of_array(elem_name: str) -> Encoder:
    """A one-dimensional array: ndim, has-null flag, element OID, size and lower bound,
    then each element with its length (-1 for NULL)."""
    elem_oid = oid_of(elem_name)
    elem = _binary_out(elem_name)

    def enc(v: Any) -> bytes:
        if isinstance(v, str) and v.startswith("{"):  # PostgreSQL's array text (SQLite's array_agg)
            v = parse_array_text(v, text_str)
        if not isinstance(v, (list, tuple)):
            raise DataException(f"cannot send {v!r} as a binary array", sqlstate="22P03")
        if not v:
            return I32.pack(0) + I32.pack(0) + U32.pack(elem_oid)
        has_null = any(x is None for x in v)
        out = [I32.pack(1), I32.pack(1 if has_null else 0), U32.pack(elem_oid), I32.pack(len(v)), I32.pack(1)]
        for x in v:
            if x is None:
                out.append(I32.pack(-1))
            else:
                b = elem(x)
                out.append(I32.pack(len(b)) + b)
        return b"".join(out)

    return enc


def _binary_out(name: str) -> Encoder:
    elem = element_of(name)
    if elem is not None:
        return _binary_of_array(elem)
    enc = BINARY_OUT.get(name)
    if enc is not None:
        return enc
    text = _text_out(name)  # text-like types: the binary format is the text
    return lambda v: text(v).encode()


_TEXT_LIKE = frozenset({"text", "varchar", "bpchar", "name", "unknown", "json", "jsonb"})
_INTEGERS = frozenset({"int2", "int4", "int8", "oid"})


def _fast_text(name: str, text: Callable[[Any], str]) -> Encoder:
    """Text encoders with a shortcut for the value type a column usually holds (a str in
    a text column, an int in an integer column); anything else takes the general path."""
    if name in _TEXT_LIKE:
        return lambda v: v.encode() if type(v) is str else text(v).encode()
    if name in _INTEGERS:
        return lambda v: str(v).encode() if type(v) is int else text(v).encode()
    if name == "float8":
        def float8(v: Any) -> bytes:
            if type(v) is float and 1e-4 <= abs(v) < 1e15:
                r = repr(v)  # shortest round-trip digits, positional in this range
                return (r[:-2] if r.endswith(".0") else r).encode()
            return text(v).encode()

        return float8
    return lambda v: text(v).encode()


@lru_cache(maxsize=512)
def encoder(type_name: str, fmt: int = 0) -> Encoder:
    """The DataRow encoder of a column of type ``type_name`` in format ``fmt``
    (``None`` values are handled by the caller)."""
    name = normalize(type_name)
    if fmt == FORMAT_BINARY:
        return _binary_out(name)
    return _fast_text(name, _text_out(name))


# --- input ---------------------------------------------------------------------------


def _binary_array(b: bytes) -> list[Any]:
    if len(b) < 12:
        raise bad_binary("array")
    ndim, elem_oid = I32.unpack_from(b, 0)[0], U32.unpack_from(b, 8)[0]
    if ndim == 0:
        return []
    if not 0 < ndim <= 6 or len(b) < 12 + 8 * ndim:
        raise bad_binary("array")
    dims = [I32.unpack_from(b, 12 + 8 * i)[0] for i in range(ndim)]
    elem = decoder(elem_oid, FORMAT_BINARY)
    pos = 12 + 8 * ndim
    flat: list[Any] = []
    for _ in range(math.prod(dims)):
        if pos + 4 > len(b):
            raise bad_binary("array")
        n = I32.unpack_from(b, pos)[0]
        pos += 4
        if n == -1:
            flat.append(None)
            continue
        if n < 0 or pos + n > len(b):
            raise bad_binary("array")
        flat.append(elem(b[pos : pos + n]))
        pos += n
    for size in reversed(dims[1:]):
        flat = [flat[i : i + size] for i in range(0, len(flat), size)]
    return flat


@lru_cache(maxsize=512)
def decoder(oid: int, fmt: int = 0) -> Decoder:
    """The Bind-parameter decoder for type ``oid`` in format ``fmt``. Unknown types (and
    ``0``/``unknown``) decode to ``str`` in text format and stay ``bytes`` in binary."""
    name = name_of(oid)
    binary = fmt == FORMAT_BINARY
    if name is None or name == "unknown":
        return bytes if binary else text_str
    elem = element_of(name)
    if elem is not None:
        if binary:
            return _binary_array
        elem_dec = decoder(oid_of(elem), 0)
        return lambda b: parse_array_text(b.decode(), elem_dec)
    if binary:
        return BINARY_IN.get(name, text_str)
    return TEXT_IN.get(name, text_str)
