"""Recognise the utility statements the engine answers itself (transaction control,
SET/SHOW/RESET, cursors, COPY, DISCARD, PREPARE...) before any SQL goes to a backend.

:func:`classify` looks only at the statement's words, never at what a backend would say;
everything it does not recognise is ordinary SQL for the translator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gateway.errors import FeatureNotSupported, SyntaxError_
from gateway.sqlsplit import strip_comments


@dataclass
class Utility:
    """A recognised utility statement. ``kind`` names it; the other fields are what it
    says (``name`` a setting/cursor/savepoint, ``values`` the SET values, ``query`` the
    inner query of DECLARE/COPY/PREPARE)."""

    kind: str
    tag: str = ""
    name: str = ""
    values: list[str] | None = None
    local: bool = False
    query: str = ""
    count: int | None = None  # FETCH/MOVE: rows; None = ALL
    direction: str = "forward"
    hold: bool = False
    scroll: bool = False  # DECLARE ... SCROLL CURSOR
    options: dict[str, str] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    isolation: str | None = None
    read_only: bool | None = None


_WS = re.compile(r"\s+")
_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z_0-9$.]*)'
_TX_MODES = re.compile(
    r"isolation\s+level\s+(read\s+uncommitted|read\s+committed|repeatable\s+read|serializable)"
    r"|read\s+only|read\s+write|(?:not\s+)?deferrable",
    re.IGNORECASE,
)


def unquote_ident(name: str) -> str:
    """``"Foo""x"`` -> ``Foo"x``; an unquoted name folds to lower case."""
    name = name.strip()
    if name.startswith('"') and name.endswith('"') and len(name) >= 2:
        return name[1:-1].replace('""', '"')
    return name.lower()


def _tx_modes(text: str) -> tuple[str | None, bool | None]:
    isolation: str | None = None
    read_only: bool | None = None
    for m in _TX_MODES.finditer(text):
        word = m.group(0).lower()
        if m.group(1):
            isolation = _WS.sub(" ", m.group(1).lower())
        elif word.startswith("read only"):
            read_only = True
        elif word.startswith("read write"):
            read_only = False
    return isolation, read_only


def parse_set_values(text: str) -> list[str]:
    """The comma-separated values of ``SET x TO ...``: quoted strings unescaped,
    double-quoted identifiers kept quoted, words and numbers as written."""
    values: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace() or c == ",":
            i += 1
            continue
        if c == "'" or (c in "eE" and i + 1 < n and text[i + 1] == "'"):
            escape = c != "'"
            j = i + (2 if escape else 1)
            buf: list[str] = []
            while j < n:
                if escape and text[j] == "\\" and j + 1 < n:
                    buf.append(text[j + 1])
                    j += 2
                    continue
                if text[j] == "'":
                    if j + 1 < n and text[j + 1] == "'":
                        buf.append("'")
                        j += 2
                        continue
                    break
                buf.append(text[j])
                j += 1
            else:
                raise SyntaxError_("unterminated quoted string in SET")
            values.append("".join(buf))
            i = j + 1
        elif c == '"':
            j = text.find('"', i + 1)
            while j >= 0 and j + 1 < n and text[j + 1] == '"':
                j = text.find('"', j + 2)
            if j < 0:
                raise SyntaxError_("unterminated quoted identifier in SET")
            values.append(text[i : j + 1])
            i = j + 1
        else:
            m = re.compile(r"[^\s,]+").match(text, i)
            assert m is not None
            values.append(m.group(0))
            i = m.end()
    return values


def _copy_options(text: str) -> dict[str, str]:
    opts: dict[str, str] = {}
    text = text.strip()
    if text.lower().startswith("with"):
        text = text[4:].strip()
    if text.startswith("(") and text.endswith(")"):
        for part in text[1:-1].split(","):
            words = part.strip().split(None, 1)
            if words:
                opts[words[0].lower()] = words[1].strip().strip("'") if len(words) > 1 else "true"
    else:  # old syntax: CSV HEADER, BINARY, DELIMITER 'x'
        words = text.split()
        k = 0
        while k < len(words):
            w = words[k].lower()
            if w in ("csv", "binary"):
                opts["format"] = w
            elif w == "header":
                opts["header"] = "true"
            elif w in ("delimiter", "null", "quote", "escape") and k + 1 < len(words):
                opts[w] = words[k + 1].strip("'")
                k += 1
            k += 1
    return opts


_FETCH = re.compile(
    r"^(fetch|move)\s+(?:(next|prior|first|last|all|forward\s+all|backward\s+all|forward|backward"
    r"|absolute\s+[-+]?\d+|relative\s+[-+]?\d+|forward\s+\d+|backward\s+\d+|[-+]?\d+)\s+)?"
    r"(?:(?:from|in)\s+)?(" + _IDENT + r")$",
    re.IGNORECASE,
)
_DECLARE = re.compile(
    r"^declare\s+(" + _IDENT + r")\s+((?:binary\s+|asensitive\s+|insensitive\s+|no\s+scroll\s+|scroll\s+)*)"
    r"cursor\s+(?:(with|without)\s+hold\s+)?for\s+(.*)$",
    re.IGNORECASE | re.DOTALL,
)


def classify(sql: str) -> Utility | None:
    """The utility statement ``sql`` is, or ``None`` for ordinary SQL."""
    text = strip_comments(sql).strip().rstrip(";").strip()
    if not text:
        return None
    flat = _WS.sub(" ", text)
    low = flat.lower()
    first = low.split(" ", 1)[0]
    if first not in _FIRST_WORDS:
        return None
    return _classify(first, text, flat, low)


_FIRST_WORDS = {
    "begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release", "set", "reset", "show",
    "discard", "deallocate", "prepare", "execute", "listen", "notify", "unlisten", "declare", "fetch", "move",
    "close", "copy", "lock", "vacuum", "checkpoint", "load",
}


def _classify(first: str, text: str, flat: str, low: str) -> Utility | None:  # noqa: C901 - a table of forms
    if first in ("begin", "start"):
        if first == "start" and not low.startswith("start transaction"):
            return None
        if first == "begin" and not re.fullmatch(r"begin(\s+(work|transaction))?(\s+.*)?", low):
            return None
        iso, ro = _tx_modes(low)
        return Utility("begin", tag="BEGIN" if first == "begin" else "START TRANSACTION", isolation=iso, read_only=ro)
    if first in ("commit", "end"):
        if re.fullmatch(r"(commit|end)(\s+(work|transaction))?(\s+and\s+(no\s+)?chain)?", low):
            return Utility("commit", tag="COMMIT")
        if low.startswith("commit prepared"):
            raise FeatureNotSupported("two-phase commit is not supported by askgres")
        return None
    if first in ("rollback", "abort"):
        m = re.fullmatch(r"rollback(?:\s+(?:work|transaction))?\s+to\s+(?:savepoint\s+)?(" + _IDENT + ")", flat,
                         re.IGNORECASE)
        if m:
            return Utility("rollback_to", tag="ROLLBACK", name=m.group(1))
        if re.fullmatch(r"(rollback|abort)(\s+(work|transaction))?(\s+and\s+(no\s+)?chain)?", low):
            return Utility("rollback", tag="ROLLBACK")
        if low.startswith("rollback prepared"):
            raise FeatureNotSupported("two-phase commit is not supported by askgres")
        return None
    if first == "savepoint":
        return Utility("savepoint", tag="SAVEPOINT", name=flat.split(" ", 1)[1] if " " in flat else "")
    if first == "release":
        m = re.fullmatch(r"release\s+(?:savepoint\s+)?(" + _IDENT + ")", flat, re.IGNORECASE)
        return Utility("release", tag="RELEASE", name=m.group(1)) if m else None
    if first == "set":
        return _classify_set(flat, low)
    if first == "reset":
        name = flat[6:].strip()
        return Utility("reset", tag="RESET", name=name.lower() if name.lower() == "all" else name)
    if first == "show":
        return _classify_show(flat, low)
    if first == "discard":
        what = low[8:].strip().upper()
        if what not in ("ALL", "PLANS", "SEQUENCES", "TEMP", "TEMPORARY"):
            return None
        return Utility("discard", tag=f"DISCARD {'TEMP' if what == 'TEMPORARY' else what}", name=what.lower())
    if first == "deallocate":
        rest = re.sub(r"^deallocate\s+(prepare\s+)?", "", flat, flags=re.IGNORECASE).strip()
        if rest.lower() == "all":
            return Utility("deallocate", tag="DEALLOCATE ALL", name="all")
        return Utility("deallocate", tag="DEALLOCATE", name=unquote_ident(rest))
    if first == "prepare":
        if low.startswith("prepare transaction"):
            raise FeatureNotSupported("two-phase commit is not supported by askgres")
        m = re.match(r"prepare\s+(" + _IDENT + r")\s*(?:\(([^)]*)\))?\s+as\s+(.*)$", text, re.IGNORECASE | re.DOTALL)
        if not m:
            return None
        types = [t.strip() for t in m.group(2).split(",")] if m.group(2) else []
        return Utility("prepare", tag="PREPARE", name=unquote_ident(m.group(1)), columns=types, query=m.group(3))
    if first == "execute":
        m = re.match(r"execute\s+(" + _IDENT + r")\s*(?:\((.*)\))?\s*$", text, re.IGNORECASE | re.DOTALL)
        if not m:
            return None
        return Utility("execute", name=unquote_ident(m.group(1)), query=m.group(2) or "")
    if first in ("listen", "notify", "unlisten"):
        return Utility(first, tag=first.upper())
    if first == "declare":
        m = _DECLARE.match(text)
        if not m:
            return None
        if "binary" in m.group(2).lower():
            raise FeatureNotSupported("binary cursors are not supported by askgres")
        opts = m.group(2).lower().split()
        return Utility("declare", tag="DECLARE CURSOR", name=unquote_ident(m.group(1)),
                       hold=(m.group(3) or "").lower() == "with", query=m.group(4),
                       scroll="scroll" in opts and "no" not in opts)
    if first in ("fetch", "move"):
        return _classify_fetch(flat)
    if first == "close":
        rest = flat[5:].strip()
        return Utility("close", tag="CLOSE CURSOR", name="all" if rest.lower() == "all" else unquote_ident(rest))
    if first == "copy":
        return _classify_copy(text)
    if first in ("lock", "checkpoint", "load"):
        return Utility(first, tag=first.upper() + (" TABLE" if first == "lock" else ""))
    return None


def _classify_set(flat: str, low: str) -> Utility:
    local = False
    rest = flat[4:].strip()
    rlow = rest.lower()
    if rlow.startswith("session characteristics as transaction"):
        iso, ro = _tx_modes(rlow)
        return Utility("set_characteristics", tag="SET", isolation=iso, read_only=ro)
    if rlow.startswith("local "):
        local, rest = True, rest[6:].strip()
    elif rlow.startswith("session ") and not rlow.startswith("session authorization"):
        rest = rest[8:].strip()
    rlow = rest.lower()
    if rlow.startswith("transaction"):
        if rlow.startswith("transaction snapshot"):
            raise FeatureNotSupported("SET TRANSACTION SNAPSHOT is not supported by askgres")
        iso, ro = _tx_modes(rlow)
        return Utility("set_transaction", tag="SET", isolation=iso, read_only=ro)
    if rlow.startswith("time zone"):
        value = rest[9:].strip()
        vals = None if value.lower() in ("default", "local") else parse_set_values(value)
        return Utility("set", tag="SET", name="TimeZone", values=vals, local=local)
    if rlow.startswith("names"):
        return Utility("set", tag="SET", name="client_encoding", values=parse_set_values(rest[5:]), local=local)
    if rlow.startswith("schema"):
        return Utility("set", tag="SET", name="search_path", values=parse_set_values(rest[6:]), local=local)
    if rlow.startswith("session authorization") or rlow.startswith("role"):
        return Utility("set_role", tag="SET", values=parse_set_values(rest.split(None, 2 if rlow.startswith("session") else 1)[-1]))
    m = re.match(r"(" + _IDENT + r")\s*(?:=|\bto\b)\s*(.*)$", rest, re.IGNORECASE | re.DOTALL)
    if not m:
        raise SyntaxError_(f'syntax error at or near "{rest.split(" ", 1)[0] if rest else "SET"}"')
    value = m.group(2).strip()
    vals = None if value.lower() == "default" else parse_set_values(value)
    return Utility("set", tag="SET", name=m.group(1).strip('"'), values=vals, local=local)


def _classify_show(flat: str, low: str) -> Utility:
    rest = low[5:].strip()
    aliases = {
        "all": "all",
        "time zone": "TimeZone",
        "transaction isolation level": "transaction_isolation",
        "session authorization": "session_authorization",
    }
    if rest in aliases:
        return Utility("show", tag="SHOW", name=aliases[rest])
    name = flat[5:].strip()
    if not re.fullmatch(_IDENT, name):
        raise SyntaxError_(f'syntax error at or near "{name.split(" ")[0]}"')
    return Utility("show", tag="SHOW", name=name.strip('"'))


def _classify_fetch(flat: str) -> Utility:
    m = _FETCH.match(flat)
    if not m:
        raise SyntaxError_(f'syntax error at or near "{flat.split(" ")[-1]}"')
    kind = m.group(1).lower()
    how = (m.group(2) or "next").lower()
    name = unquote_ident(m.group(3))
    words = how.split()
    direction, count = "forward", 1
    if words[0] in ("next",):
        count = 1
    elif words[0] == "prior":
        direction = "backward"
    elif words[0] in ("first", "last"):
        direction, count = words[0], 1
    elif words[0] in ("absolute", "relative"):
        direction, count = words[0], int(words[1])
    elif words[0] == "all":
        return Utility(kind, tag=kind.upper(), name=name, count=None)
    elif words[0] in ("forward", "backward"):
        direction = words[0]
        if len(words) > 1:
            if words[1] == "all":
                return Utility(kind, tag=kind.upper(), name=name, count=None, direction=direction)
            count = int(words[1])
    else:
        count = int(words[0])
        if count < 0:
            direction, count = "backward", -count
    return Utility(kind, tag=kind.upper(), name=name, count=count, direction=direction)


def _classify_copy(text: str) -> Utility:
    m = re.match(r"copy\s+(\(.*\)|" + _IDENT + r")\s*(\([^)]*\))?\s+(to|from)\s+(\S+)\s*(.*)$", text,
                 re.IGNORECASE | re.DOTALL)
    if not m:
        raise SyntaxError_("syntax error in COPY")
    target, cols, direction, where, rest = m.groups()
    if direction.lower() == "from":
        raise FeatureNotSupported("COPY FROM is not supported by askgres", hint="Use INSERT statements.")
    if where.lower() != "stdout":
        raise FeatureNotSupported("COPY to a server file is not supported by askgres", hint="Use COPY ... TO STDOUT (psql \\copy).")
    opts = _copy_options(rest)
    if opts.get("format", "text").lower() != "text":
        raise FeatureNotSupported(f"COPY format {opts['format']} is not supported by askgres; use the text format")
    columns = [unquote_ident(c) for c in cols[1:-1].split(",")] if cols else []
    if target.startswith("("):
        return Utility("copy", tag="COPY", query=target[1:-1], options=opts)
    return Utility("copy", tag="COPY", name=target, columns=columns, options=opts)
