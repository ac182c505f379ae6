"""PostgreSQL's built-in types as data: OIDs, lengths, categories, display names.

One table shared by the catalog emulation (``pg_type``, ``format_type``) and anyone who
needs a type OID from a type name (the wire layer's RowDescription). Type names are
PostgreSQL's internal names (``int4``, ``varchar``, ``_text``...); :func:`normalize`
accepts the SQL spellings too (``integer``, ``character varying``, ``text[]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class PgType:
    name: str
    oid: int
    array_oid: int  # 0 for types without an array type (arrays themselves)
    length: int  # typlen: -1 varlena, -2 cstring
    category: str  # typcategory
    display: str  # format_type() output without typmod
    byval: bool = False
    align: str = "i"
    elem_oid: int = 0  # for arrays: the element type
    io: str = ""  # stem of the input/output functions (int4 -> int4in/int4out)

    @property
    def input_fn(self) -> str:
        return "array_in" if self.elem_oid else f"{self.io or self.name}in"

    @property
    def output_fn(self) -> str:
        return "array_out" if self.elem_oid else f"{self.io or self.name}out"


_BASE: list[tuple[str, int, int, int, str, str, bool, str, str]] = [
    # name, oid, array oid, typlen, category, display, byval, align, io stem
    ("bool", 16, 1000, 1, "B", "boolean", True, "c", ""),
    ("bytea", 17, 1001, -1, "U", "bytea", False, "i", ""),
    ("char", 18, 1002, 1, "Z", '"char"', True, "c", ""),
    ("name", 19, 1003, 64, "S", "name", False, "c", ""),
    ("int8", 20, 1016, 8, "N", "bigint", True, "d", ""),
    ("int2", 21, 1005, 2, "N", "smallint", True, "s", ""),
    ("int2vector", 22, 1006, -1, "A", "int2vector", False, "i", ""),
    ("int4", 23, 1007, 4, "N", "integer", True, "i", ""),
    ("regproc", 24, 1008, 4, "N", "regproc", True, "i", ""),
    ("text", 25, 1009, -1, "S", "text", False, "i", ""),
    ("oid", 26, 1028, 4, "N", "oid", True, "i", ""),
    ("tid", 27, 1010, 6, "U", "tid", False, "s", ""),
    ("xid", 28, 1011, 4, "U", "xid", True, "i", ""),
    ("cid", 29, 1012, 4, "U", "cid", True, "i", ""),
    ("oidvector", 30, 1013, -1, "A", "oidvector", False, "i", ""),
    ("json", 114, 199, -1, "U", "json", False, "i", "json_"),
    ("xml", 142, 143, -1, "U", "xml", False, "i", "xml_"),
    ("point", 600, 1017, 16, "G", "point", False, "d", "point_"),
    ("cidr", 650, 651, -1, "I", "cidr", False, "i", "cidr_"),
    ("float4", 700, 1021, 4, "N", "real", True, "i", ""),
    ("float8", 701, 1022, 8, "N", "double precision", True, "d", ""),
    ("unknown", 705, 0, -2, "X", "unknown", False, "c", "unknown"),
    ("money", 790, 791, 8, "N", "money", True, "d", "cash_"),
    ("macaddr", 829, 1040, 6, "U", "macaddr", False, "i", "macaddr_"),
    ("inet", 869, 1041, -1, "I", "inet", False, "i", "inet_"),
    ("aclitem", 1033, 1034, 12, "U", "aclitem", False, "i", ""),
    ("bpchar", 1042, 1014, -1, "S", "character", False, "i", ""),
    ("varchar", 1043, 1015, -1, "S", "character varying", False, "i", ""),
    ("date", 1082, 1182, 4, "D", "date", True, "i", "date_"),
    ("time", 1083, 1183, 8, "D", "time without time zone", True, "d", "time_"),
    ("timestamp", 1114, 1115, 8, "D", "timestamp without time zone", True, "d", "timestamp_"),
    ("timestamptz", 1184, 1185, 8, "D", "timestamp with time zone", True, "d", "timestamptz_"),
    ("interval", 1186, 1187, 16, "T", "interval", False, "d", "interval_"),
    ("timetz", 1266, 1270, 12, "D", "time with time zone", False, "d", "timetz_"),
    ("bit", 1560, 1561, -1, "V", "bit", False, "i", "bit_"),
    ("varbit", 1562, 1563, -1, "V", "bit varying", False, "i", "varbit_"),
    ("numeric", 1700, 1231, -1, "N", "numeric", False, "i", "numeric_"),
    ("regprocedure", 2202, 2207, 4, "N", "regprocedure", True, "i", ""),
    ("regoper", 2203, 2208, 4, "N", "regoper", True, "i", ""),
    ("regclass", 2205, 2210, 4, "N", "regclass", True, "i", ""),
    ("regtype", 2206, 2211, 4, "N", "regtype", True, "i", ""),
    ("record", 2249, 2287, -1, "P", "record", False, "d", "record_"),
    ("cstring", 2275, 1263, -2, "P", "cstring", False, "c", "cstring_"),
    ("any", 2276, 0, 4, "P", '"any"', True, "i", "any_"),
    ("anyarray", 2277, 0, -1, "P", "anyarray", False, "d", "anyarray_"),
    ("void", 2278, 0, 4, "P", "void", True, "i", "void_"),
    ("trigger", 2279, 0, 4, "P", "trigger", True, "i", "trigger_"),
    ("anyelement", 2283, 0, 4, "P", "anyelement", True, "i", "anyelement_"),
    ("uuid", 2950, 2951, 16, "U", "uuid", False, "c", "uuid_"),
    ("jsonb", 3802, 3807, -1, "U", "jsonb", False, "i", "jsonb_"),
    ("regnamespace", 4089, 4090, 4, "N", "regnamespace", True, "i", ""),
    ("regrole", 4096, 4097, 4, "N", "regrole", True, "i", ""),
]


def _build() -> dict[str, PgType]:
    out: dict[str, PgType] = {}
    for name, oid, arr, length, cat, display, byval, align, io in _BASE:
        out[name] = PgType(name, oid, arr, length, cat, display, byval, align, 0, io)
        if arr:
            out[f"_{name}"] = PgType(f"_{name}", arr, 0, -1, "A", f"{display}[]", False, align, oid)
    return out


TYPES: dict[str, PgType] = _build()
BY_OID: dict[int, PgType] = {t.oid: t for t in TYPES.values()}

_ALIASES = {
    "integer": "int4",
    "int": "int4",
    "serial": "int4",
    "bigint": "int8",
    "bigserial": "int8",
    "smallint": "int2",
    "smallserial": "int2",
    "boolean": "bool",
    "real": "float4",
    "float": "float8",
    "double precision": "float8",
    "double": "float8",
    "decimal": "numeric",
    "character varying": "varchar",
    "character": "bpchar",
    "char": "bpchar",  # SQL CHAR(n); the one-byte "char" is spelled with quotes
    '"char"': "char",
    "string": "text",
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamptz",
    "time without time zone": "time",
    "time with time zone": "timetz",
    "datetime": "timestamp",
    "blob": "bytea",
}


def normalize(name: str) -> str:
    """The internal name of a type spelled in SQL (``integer`` -> ``int4``,
    ``varchar(20)`` -> ``varchar``, ``text[]`` -> ``_text``); ``text`` when unknown."""
    low = re.sub(r"\s+", " ", name.strip().lower())
    low = low.removeprefix("pg_catalog.")
    is_array = low.endswith("[]")
    if is_array:
        low = low[:-2].strip()
    low = re.sub(r"\s*\(.*?\)", "", low).strip()
    base = _ALIASES.get(low, low)
    if base not in TYPES:
        return "_text" if is_array else "text"
    if is_array:
        return f"_{base}" if f"_{base}" in TYPES else "_text"
    return base


def oid_of(name: str) -> int:
    """The OID of a type name (any spelling :func:`normalize` accepts)."""
    return TYPES[normalize(name)].oid


def typmod_of(declared: str, pg_type: str) -> int:
    """PostgreSQL's ``atttypmod`` for a declared backend type such as ``NVARCHAR(160)``
    or ``NUMERIC(10,2)``; -1 when it carries none."""
    m = re.search(r"\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)", declared)
    if not m:
        return -1
    first, second = int(m.group(1)), int(m.group(2) or 0)
    if pg_type in ("varchar", "bpchar"):
        return first + 4
    if pg_type == "numeric":
        return ((first << 16) | second) + 4
    if pg_type in ("timestamp", "timestamptz", "time", "timetz", "interval"):
        return first
    return -1


def format_type(pg_type: str, typmod: int = -1) -> str:
    """What ``format_type(oid, typmod)`` prints (``character varying(160)``)."""
    t = TYPES.get(pg_type) or TYPES["text"]
    if typmod is None or typmod < 0:
        return t.display
    if t.name in ("varchar", "bpchar"):
        return f"{t.display}({typmod - 4})"
    if t.name == "numeric":
        mod = typmod - 4
        return f"numeric({mod >> 16},{mod & 0xFFFF})"
    if t.name in ("timestamp", "timestamptz", "time", "timetz"):
        words = t.display.split(" ", 1)
        return f"{words[0]}({typmod}) {words[1]}" if len(words) == 2 else f"{t.display}({typmod})"
    return t.display
