"""Recognise a question in a statement's text.

A statement is a question when, after any leading comments that are not the question,
it starts with ``-- ask: ...`` or ``/* ask: ... */`` and nothing but whitespace, ``;``
or further comments follows. ``-- ask:`` questions may continue on the following
``--`` lines. Anything else is plain SQL and goes through untouched.
"""

from __future__ import annotations

import re

_ASK = re.compile(r"^\s*(?:\*\s*)?ask\s*:", re.IGNORECASE)


def _skip_blank(sql: str, i: int) -> int:
    while i < len(sql) and (sql[i].isspace() or sql[i] == ";"):
        i += 1
    return i


def _line_comment(sql: str, i: int) -> tuple[str, int]:
    """The text of the ``--`` comment at ``i`` and the index after its line."""
    end = sql.find("\n", i)
    end = len(sql) if end < 0 else end
    return sql[i + 2 : end], end + 1


def _block_comment(sql: str, i: int) -> tuple[str, int] | None:
    """The text of the (possibly nested) ``/* */`` comment at ``i`` and the index after it."""
    depth, j = 0, i
    while j < len(sql) - 1:
        pair = sql[j : j + 2]
        if pair == "/*":
            depth += 1
            j += 2
        elif pair == "*/":
            depth -= 1
            j += 2
            if depth == 0:
                return sql[i + 2 : j - 2], j
        else:
            j += 1
    return None  # unterminated: not a comment we can read


def _only_comments_left(sql: str, i: int) -> bool:
    while True:
        i = _skip_blank(sql, i)
        if i >= len(sql):
            return True
        if sql.startswith("--", i):
            _, i = _line_comment(sql, i)
        elif sql.startswith("/*", i):
            block = _block_comment(sql, i)
            if block is None:
                return False
            i = block[1]
        else:
            return False


def _clean(question: str) -> str | None:
    text = " ".join(question.split()).strip()
    return text or None


def extract_question(sql: str) -> str | None:
    """The question carried by ``sql``, or ``None`` for plain SQL."""
    i = 0
    while True:
        i = _skip_blank(sql, i)
        if sql.startswith("--", i):
            text, i = _line_comment(sql, i)
            m = _ASK.match(text)
            if m is None:
                continue  # a leading comment that is not the question
            parts = [text[m.end() :]]
            # continuation lines: further `--` comments right below the question
            while True:
                j = i
                while j < len(sql) and sql[j] in " \t\r":
                    j += 1
                if not sql.startswith("--", j):
                    break
                more, nxt = _line_comment(sql, j)
                if _ASK.match(more):
                    break
                parts.append(more)
                i = nxt
            if not _only_comments_left(sql, i):
                return None
            return _clean(" ".join(parts))
        if sql.startswith("/*", i):
            block = _block_comment(sql, i)
            if block is None:
                return None
            text, i = block
            m = _ASK.match(text)
            if m is None:
                continue
            if not _only_comments_left(sql, i):
                return None
            # strip the decorative leading `*` of multi-line block comments
            lines = [re.sub(r"^\s*\*(?!/)", "", line) for line in text[m.end() :].splitlines()]
            return _clean(" ".join(lines))
        return None
