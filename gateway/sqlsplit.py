"""Split a Query message into statements, the way PostgreSQL's lexer sees them.

Semicolons inside quotes (``'...'``, ``E'...'``, ``"..."``, ``$tag$...$tag$``) and
comments (``--``, nested ``/* */``) do not end a statement. Each piece keeps its own
text, comments included (a question lives in a comment).
"""

from __future__ import annotations

import re

from gateway.errors import SyntaxError_

_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z_0-9]*)?\$")
# Where the scanners stop; the text in between is skipped by the regex engine.
_SPLIT_STOPS = re.compile(r"['\";$]|--|/\*")
_STRIP_STOPS = re.compile(r"['\"$]|--|/\*")
_COMMENT_MARKS = re.compile(r"/\*|\*/")
# The rest of a quoted literal after its opening quote, through its closing one.
_REST = {
    ("'", False): re.compile(r"(?:[^']|'')*+'"),
    ("'", True): re.compile(r"(?:[^'\\]|\\.|'')*+'", re.S),
    ('"', False): re.compile(r'(?:[^"]|"")*+"'),
}


def _skip_quoted(sql: str, i: int, quote: str, *, backslash: bool) -> int:
    """Index after the closing ``quote`` of the literal opened at ``i``."""
    m = _REST[quote, backslash].match(sql, i + 1)
    if m is not None:
        return m.end()
    kind = "identifier" if quote == '"' else "string"
    raise SyntaxError_(f"unterminated quoted {kind} at or near \"{sql[i:i + 10]}\"", context={"position": i + 1})


def _is_escape_string(sql: str, i: int) -> bool:
    """Whether the quote at ``i`` opens an ``E'...'`` literal (backslash escapes)."""
    if i == 0 or sql[i - 1] not in "eE":
        return False
    return i == 1 or not (sql[i - 2].isalnum() or sql[i - 2] in "_$")


def _skip_block_comment(sql: str, i: int) -> int:
    depth = 0
    j = i
    while (m := _COMMENT_MARKS.search(sql, j)) is not None:
        j = m.end()
        if m.group() == "/*":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return j
    raise SyntaxError_("unterminated /* comment", context={"position": i + 1})


def split_statements(sql: str) -> list[str]:
    """The statements of ``sql`` (without their ``;``), comments kept. Blank pieces
    between semicolons are dropped except that an all-blank input gives ``[]``."""
    out: list[str] = []
    start = 0
    i = 0
    n = len(sql)
    while (stop := _SPLIT_STOPS.search(sql, i)) is not None:
        i = stop.start()
        c = sql[i]
        if c == "'":
            i = _skip_quoted(sql, i, "'", backslash=_is_escape_string(sql, i))
        elif c == '"':
            i = _skip_quoted(sql, i, '"', backslash=False)
        elif c == "-" and sql.startswith("--", i):
            nl = sql.find("\n", i)
            i = n if nl < 0 else nl + 1
        elif c == "/" and sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
        elif c == "$":
            m = _DOLLAR.match(sql, i)
            prev = sql[i - 1] if i > 0 else " "
            if m and not (prev.isalnum() or prev == "_"):
                end = sql.find(m.group(0), m.end())
                if end < 0:
                    raise SyntaxError_("unterminated dollar-quoted string", context={"position": i + 1})
                i = end + len(m.group(0))
            else:
                i += 1
        elif c == ";":
            out.append(sql[start:i])
            i += 1
            start = i
        else:
            i += 1
    out.append(sql[start:])
    return [s for s in out if s.strip()]


def strip_comments(sql: str) -> str:
    """``sql`` with its comments replaced by a space (quotes respected)."""
    parts: list[str] = []
    i = 0
    last = 0
    n = len(sql)
    while (stop := _STRIP_STOPS.search(sql, i)) is not None:
        i = stop.start()
        c = sql[i]
        if c == "'":
            i = _skip_quoted(sql, i, "'", backslash=_is_escape_string(sql, i))
        elif c == '"':
            i = _skip_quoted(sql, i, '"', backslash=False)
        elif c == "-" and sql.startswith("--", i):
            parts.append(sql[last:i])
            nl = sql.find("\n", i)
            i = n if nl < 0 else nl + 1
            parts.append(" ")
            last = i
        elif c == "/" and sql.startswith("/*", i):
            parts.append(sql[last:i])
            i = _skip_block_comment(sql, i)
            parts.append(" ")
            last = i
        elif c == "$":
            m = _DOLLAR.match(sql, i)
            prev = sql[i - 1] if i > 0 else " "
            if m and not (prev.isalnum() or prev == "_"):
                end = sql.find(m.group(0), m.end())
                i = n if end < 0 else end + len(m.group(0))
            else:
                i += 1
        else:
            i += 1
    parts.append(sql[last:])
    return "".join(parts)
