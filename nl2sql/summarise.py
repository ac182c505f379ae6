"""A plain-language sentence that answers the question from the rows.

:func:`template_summary` never says anything that is not in the result. When
``ask.summarise_with_model`` is set, the model phrases the sentence instead and
:func:`check_summary` verifies that every number and name in it appears in the result
(or in the question); a sentence that fails falls back to the template.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.base import Column

if TYPE_CHECKING:
    from nl2sql.state import AskState, Env

_MOST = re.compile(r"\b(most|highest|largest|biggest|greatest|maximum|max|top|longest|best)\b", re.I)
_LEAST = re.compile(r"\b(least|fewest|lowest|smallest|minimum|min|shortest|cheapest|worst)\b", re.I)
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?![\w])")
_CAPWORD = re.compile(r"\b[A-Z][\w'&/-]*")
_COMMON = frozenset(
    "the there this these those that it its a an answer result results found no yes in of on for with "
    "only all each most least which what who when where how total and or but row rows first last "
    "is are was were has have had one none top name names sql i".split()
)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def fmt(value: Any) -> str:
    """A value as a sentence shows it: ``347``, ``3.14``, ``Iron Maiden``, ``NULL``."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (float, Decimal)):
        f = float(value)
        if f.is_integer() and abs(f) < 1e15:
            return str(int(f))
        return f"{f:.2f}".rstrip("0").rstrip(".")
    if isinstance(value, (_dt.date, _dt.datetime, _dt.time)):
        return value.isoformat(sep=" ") if isinstance(value, _dt.datetime) else value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(bytes(value))} bytes>"
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _describe_row(row: Sequence[Any]) -> str:
    if len(row) == 1:
        return fmt(row[0])
    head, rest = fmt(row[0]), ", ".join(fmt(v) for v in row[1:4])
    more = ", ..." if len(row) > 4 else ""
    return f"{head} ({rest}{more})"


def template_summary(
    question: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]], *, truncated: bool = False
) -> str:
    """``The answer is 347.`` / ``Iron Maiden has the most, with 21.`` / ``Found 3 rows; ...``."""
    n = len(rows)
    if n == 0:
        return "No rows match the question."
    if n == 1:
        row = rows[0]
        if len(row) == 1:
            return f"The answer is {fmt(row[0])}."
        if len(row) == 2:
            (a, b) = row
            name, number = (a, b) if is_number(b) and not is_number(a) else (b, a) if is_number(a) and not is_number(b) else (None, None)
            if name is not None:
                if _LEAST.search(question):
                    return f"{fmt(name)} has the least, with {fmt(number)}."
                if _MOST.search(question):
                    return f"{fmt(name)} has the most, with {fmt(number)}."
                return f"{fmt(name)}: {fmt(number)}."
        pairs = ", ".join(f"{c.name} = {fmt(v)}" for c, v in zip(columns, row))
        return f"The result is {pairs}."
    count = f"more than {n}" if truncated else str(n)
    shown = " (only the first are shown)" if truncated else ""
    return f"Found {count} rows{shown}; the first is {_describe_row(rows[0])}."


def _number_forms(value: Any) -> set[str]:
    forms: set[str] = set()
    if is_number(value):
        f = float(value)
        for digits in (0, 1, 2, 3, 4):
            r = round(f, digits)
            forms.add(str(int(r)) if float(r).is_integer() else f"{r:.{digits}f}".rstrip("0").rstrip("."))
        forms.add(fmt(value))
    return forms


def _parse_number(text: str) -> str:
    text = text.replace(",", "")
    try:
        f = float(text)
    except ValueError:
        return text
    return str(int(f)) if f.is_integer() else f"{f}".rstrip("0").rstrip(".")


def check_summary(
    sentence: str, question: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]]
) -> list[str]:
    """What in ``sentence`` is not backed by the result: numbers and capitalised names
    that appear neither in the rows (nor the row count) nor in the question. Empty: OK."""
    problems: list[str] = []
    numbers: set[str] = {str(len(rows))}
    texts: list[str] = [question.lower()] + [c.name.lower() for c in columns]
    for row in rows:
        for value in row:
            if is_number(value):
                numbers |= _number_forms(value)
            elif value is not None:
                text = fmt(value) if not isinstance(value, str) else value
                texts.append(text.lower())
                numbers |= {_parse_number(m) for m in _NUMBER.findall(text)}
    numbers |= {_parse_number(m) for m in _NUMBER.findall(question)}
    for m in _NUMBER.findall(sentence):
        if _parse_number(m) not in numbers:
            problems.append(f"number {m} is not in the result")
    haystack = "\n".join(texts)
    for m in _CAPWORD.findall(sentence):
        word = m.strip("'-/&")
        if not word or word.lower() in _COMMON:
            continue
        if word.lower() not in haystack:
            problems.append(f"name {word} is not in the result")
    return problems


def model_prompt(question: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> str:
    """The prompt for a model-written summary (first rows only)."""
    header = " | ".join(c.name for c in columns)
    lines = [" | ".join(fmt(v) for v in row) for row in rows[:5]]
    more = f"\n({len(rows)} rows in all)" if len(rows) > 5 else ""
    return (
        "Answer the question in one short sentence using only the result below.\n"
        f"Question: {question}\nResult:\n{header}\n" + "\n".join(lines) + more + "\nAnswer:"
    )


def clean_model_sentence(text: str) -> str:
    """The first sentence of a model completion."""
    text = " ".join(text.strip().split())
    m = re.match(r"(.+?[.!?])(\s|$)", text)
    return (m.group(1) if m else text).strip()


def summarise(state: AskState, env: Env) -> None:
    """Stage ``summarise``: the template sentence, or the model's when it passes the check."""
    import time

    t0 = time.perf_counter()
    result = state.result
    columns = list(result.columns or []) if result is not None else []
    rows = list(result.rows) if result is not None else []
    text = template_summary(state.question, columns, rows, truncated=bool(result and result.truncated))
    if env.config.summarise_with_model and rows:
        try:
            out = env.generator.complete(model_prompt(state.question, columns, rows), max_tokens=48,
                                         stop=["\n"], temperature=0.0)
        except Exception as e:  # noqa: BLE001 - a summary never fails an answered question
            state.extra["summary_error"] = str(e)
        else:
            sentence = clean_model_sentence(out[0] if out else "")
            problems = check_summary(sentence, state.question, columns, rows) if sentence else ["empty"]
            if problems:
                state.extra["summary_rejected"] = {"sentence": sentence, "problems": problems}
            else:
                text = sentence
    state.summary = text
    state.timed("summarise", t0)
