"""The synthesizer's toolbox: seeded random choices weighted by focus, real values from the
profile, SQL literals and identifiers per dialect, and the phrases questions are made of.

Shapes (``learner.shapes_single``, ``learner.shapes_join``) combine these; nothing here
knows a particular schema.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from learner import naming
from learner.focus import FocusHints
from learner.profile import ColProfile, DbProfile, Edge, TableProfile

T = TypeVar("T")

_BARE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED = frozenset("""
all and as asc between by case cast check collate column constraint create cross current_date
current_time current_timestamp default delete desc distinct drop else end escape except exists
foreign from full glob group having in index inner insert intersect into is isnull join key left
like limit natural not notnull null of offset on or order outer primary references right select
set table then to transaction union unique update using values when where with window
""".split())


@dataclass
class Cand:
    """A candidate pair before validation."""

    question: str
    sql: str
    shape: str
    tables: tuple[str, ...]
    allow_empty: bool = False


def ident(name: str) -> str:
    """An identifier as the SQL shows it: bare when it can be, else double-quoted."""
    if _BARE.match(name) and name.lower() not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def lit(value: Any) -> str:
    """A SQL literal for a sampled value."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return fmt_num(value)
    return "'" + str(value).replace("'", "''") + "'"


def fmt_num(x: float) -> str:
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.2f}".rstrip("0").rstrip(".")


def nice_number(x: float, *, integer: bool) -> float:
    """``x`` rounded to a number a person would type (two significant digits)."""
    if x == 0:
        return 0
    mag = 10 ** (math.floor(math.log10(abs(x))) - 1)
    v = round(x / mag) * mag
    if integer or abs(v) >= 10:
        return float(round(v))
    return round(v, 2)


class Ctx:
    """One synthesis run: the profile, a seeded RNG and the focus weights."""

    def __init__(self, prof: DbProfile, rng: random.Random, focus: FocusHints | None = None) -> None:
        self.prof = prof
        self.rng = rng
        self.focus = focus or FocusHints()
        self.dialect = prof.dialect
        self.family = ""  # the shape family drawing now (set by the synthesizer)
        self.picks: Counter[tuple[str, str]] = Counter()  # (family, table/edge/column) -> times picked

    # -- random choices ---------------------------------------------------------------
    def choice(self, items: Sequence[T]) -> T:
        return items[self.rng.randrange(len(items))]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def weighted(self, items: Sequence[T], weight: Callable[[T], float]) -> T | None:
        ws = [max(0.0, weight(i)) for i in items]
        if not items or sum(ws) <= 0:
            return None
        return self.rng.choices(list(items), weights=ws, k=1)[0]

    def table_weight(self, name: str) -> float:
        """Focus first; then tables people ask about: named rows, linked to others."""
        t = self.prof.tables[name]
        degree = sum(1 for e in self.prof.edges if name in (e.child, e.parent) and e.child != e.parent)
        prior = 1.0 + (0.6 if t.label else 0.0) + 0.2 * min(3, degree) - (0.5 if t.bridge else 0.0)
        boost = 3.0 * self.focus.tables.get(name, 0.0)
        if self.focus.words and {naming.singularize(w) for w in naming.split_words(name)} <= self.focus.words:
            boost += 1.0  # failed questions name this table
        return prior * (1.0 + boost)

    def col_weight(self, cp: ColProfile) -> float:
        w = 1.0 + 3.0 * self.focus.columns.get(f"{cp.table}.{cp.name}", 0.0)
        if self.focus.words & cp.words:
            w += 1.0
        return w

    def _balanced(self, items: Sequence[T], key: Callable[[T], str], weight: Callable[[T], float]) -> T | None:
        """A weighted choice that favours what this shape family has picked least (coverage)."""
        got = self.weighted(items, lambda i: weight(i) / (1.0 + self.picks[(self.family, key(i))]) ** 0.5)
        if got is not None:
            self.picks[(self.family, key(got))] += 1
        return got

    def table(self, pred: Callable[[TableProfile], bool] = lambda t: True) -> TableProfile | None:
        cands = [t for t in self.prof.tables.values() if t.rows > 0 and pred(t)]
        return self._balanced(cands, lambda t: t.name, lambda t: self.table_weight(t.name))

    def col(self, tp: TableProfile, pred: Callable[[ColProfile], bool]) -> ColProfile | None:
        cands = [c for c in tp.cols.values() if c.nonnull > 0 and pred(c)]
        return self._balanced(cands, lambda c: f"{c.table}.{c.name}", self.col_weight)

    def edge(self, pred: Callable[[Edge], bool] = lambda e: True, *, bridges: bool = False) -> Edge | None:
        """A foreign key (not self-referencing; not from a bridge table unless ``bridges``)."""
        cands = [e for e in self.prof.edges if e.child != e.parent and pred(e)
                 and (bridges or not self.prof.tables[e.child].bridge)]
        return self._balanced(
            cands, lambda e: f"{e.child}.{e.child_col}", lambda e: self.table_weight(e.child) + self.table_weight(e.parent) - 1.0
        )

    # -- values ---------------------------------------------------------------------
    def text_value(self, cp: ColProfile, *, frequent: bool = False) -> str | None:
        vals = [v for v in cp.texts() if 0 < len(v) <= 40 and "\n" not in v and v.strip() == v]
        if not vals:
            return None
        if frequent:
            return self.choice(vals[: max(3, len(vals) // 4)])
        return self.choice(vals)

    def row(self, tp: TableProfile, *cols: str) -> dict[str, Any] | None:
        """A sampled row whose ``cols`` are all set (short text values only)."""
        rows = [r for r in tp.sample if all(_usable(r.get(c)) for c in cols)]
        return self.choice(rows) if rows else None

    def threshold(self, cp: ColProfile, *, low: float = 0.2, high: float = 0.8) -> float | None:
        nums = cp.numbers()
        if len(nums) < 2:
            return None
        q = self.rng.uniform(low, high)
        raw = nums[min(len(nums) - 1, int(q * len(nums)))]
        v = nice_number(raw, integer=cp.is_integer)
        return v if nums[0] < v < nums[-1] or nums[0] <= v <= nums[-1] else None

    def say(self, value: Any, cp: ColProfile | None = None) -> str:
        """``value`` as a person writes it in a question: bare, quoted, or lower case."""
        if not isinstance(value, str):
            return fmt_num(float(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)
        r = self.rng.random()
        if r < 0.4 or " " not in value and r < 0.5:
            return value
        if r < 0.72:
            return f'"{value}"'
        if r < 0.88:
            return f"'{value}'"
        if cp is not None and value.lower() != value and (cp.categorical or self.prof.tables[cp.table].rows <= 60):
            return value.lower()  # "rock tracks": the pipeline matches values case-insensitively
        return value

    # -- SQL pieces -----------------------------------------------------------------
    def label_cols(self, tp: TableProfile) -> list[str]:
        if tp.label:
            return list(tp.label)
        return [tp.key] if tp.key else []

    def sel(self, cols: Sequence[str], alias: str = "") -> str:
        pre = f"{alias}." if alias else ""
        return ", ".join(pre + ident(c) for c in cols)

    def group(self, key: str, shown: str) -> str:
        """The GROUP BY list for rows grouped by ``key`` and showing ``shown`` (a select list):
        SQLite accepts the key alone; DuckDB wants every shown column too."""
        if self.dialect == "sqlite":
            return key
        cols = [key] + [x for x in shown.split(", ") if x and x != key]
        return ", ".join(dict.fromkeys(cols))

    def year_expr(self, cp: ColProfile, alias: str = "") -> str:
        col = (f"{alias}." if alias else "") + ident(cp.name)
        if self.dialect == "sqlite":
            return f"strftime('%Y', {col})"
        if cp.kind == "date" and cp.pg_type in ("date", "timestamp", "timestamptz"):
            return f"date_part('year', {col})"
        return f"date_part('year', CAST({col} AS TIMESTAMP))"

    def year_lit(self, year: int) -> str:
        return f"'{year}'" if self.dialect == "sqlite" else str(year)

    def like_op(self) -> str:
        return "LIKE" if self.dialect == "sqlite" else "ILIKE"

    # -- phrases --------------------------------------------------------------------
    def cw(self, cp: ColProfile) -> str:
        """The words a question uses for a column (its own, or a common synonym)."""
        vs = naming.column_variants(cp.phrase)
        return vs[0] if len(vs) == 1 or self.chance(0.55) else self.choice(vs[1:])

    def label_phrase(self, tp: TableProfile, *, plural: bool) -> str:
        if len(tp.label) == 2:
            opts = ["full names", "full names", "first and last names", "first names and last names"] if plural else [
                "full name", "full name", "first and last name", "first name and last name"]
            return self.choice(opts)
        if tp.label:
            p = tp.cols[tp.label[0]].phrase
            return naming.plural_phrase(p) if plural else p
        return "ids" if plural else "id"

    def name_of(self, tp: TableProfile, row: dict[str, Any]) -> str | None:
        """How a question names one row: its label value(s)."""
        cols = self.label_cols(tp)
        if not cols or not all(_usable(row.get(c)) for c in cols):
            return None
        if len(cols) == 2:
            return f"{row[cols[0]]} {row[cols[1]]}"
        return self.say(row[cols[0]], tp.cols[cols[0]])

    def where_label(self, tp: TableProfile, row: dict[str, Any], alias: str = "") -> str:
        pre = f"{alias}." if alias else ""
        return " AND ".join(f"{pre}{ident(c)} = {lit(row[c])}" for c in self.label_cols(tp))

    def is_person(self, tp: TableProfile) -> bool:
        return len(tp.label) == 2

    def who(self, tp: TableProfile) -> str:
        return self.choice(["who", "that"]) if self.is_person(tp) else self.choice(["that", "which"]) if self.chance(0.3) else "that"

    def cond_eq(self, tp: TableProfile, cp: ColProfile, said: str) -> str:
        """A phrase after the noun: "whose country is Brazil", "in the city of Calgary"."""
        col = self.cw(cp)
        opts = [f"whose {col} is {said}", f"with {col} {said}", f"with the {col} {said}",
                f"that have {col} {said}", f"where the {col} is {said}", f"having {col} {said}"]
        if cp.is_place:
            opts += [f"in {said}", f"from {said}", f"in the {col} of {said}", f"located in {said}", f"whose {col} is {said}"]
            if " " not in col:
                opts += [f"in {said} {col}", f"in the {col} {said}"]
            if self.is_person(tp):
                opts += [f"who live in {said}", f"living in {said}", f"who live in the {col} of {said}",
                         f"living in the {col} of {said}", f"who live in {said} {col}" if " " not in col else f"who live in {said}"]
        return self.choice(opts)

    def cond_num(self, cp: ColProfile, op: str, said: str, *, with_only: bool = False) -> str:
        """"whose unit price is greater than 1"; ``with_only``: "with unit price over 1"."""
        col = self.cw(cp)
        words = {
            ">": ["greater than", "more than", "larger than", "bigger than", "above", "over", "higher than", "exceeding"],
            "<": ["less than", "smaller than", "below", "under", "lower than"],
            ">=": ["at least", "no less than", "greater than or equal to"],
            "<=": ["at most", "no more than", "less than or equal to"],
        }[op]
        w = self.choice(words)
        if with_only:
            return self.choice([f"with {col} {w} {said}", f"with a {col} {w} {said}", f"with {col} of {w} {said}"])
        return self.choice([f"whose {col} is {w} {said}", f"with {col} {w} {said}", f"with a {col} {w} {said}",
                            f"whose {col} is {w} {said}", f"that have {col} {w} {said}"])

    def show(self, what: str) -> str:
        """A request opener around ``what``: "What are the X?", "List the X." (ends punctuated)."""
        if " of all " in what:  # no "all the names of all tracks"
            return self.choice([f"What are the {what}?", f"List the {what}.", f"Show the {what}.", f"Find the {what}.",
                                f"Give me the {what}.", f"Return the {what}.", f"Please list the {what}."])
        return self.choice([
            f"What are the {what}?", f"List the {what}.", f"Show the {what}.", f"Find the {what}.",
            f"Give me the {what}.", f"Return the {what}.", f"Show me the {what}.", f"Tell me the {what}.",
            f"Please list the {what}.", f"Please show the {what}.", f"What are all the {what}?", f"Find all the {what}.",
        ])

    def how_many(self, plural: str, rest: str) -> str:
        rest = rest.strip()
        return self.choice([
            f"How many {plural} {rest}?", f"Find the number of {plural} {rest}.",
            f"Count the {plural} {rest}.", f"What is the number of {plural} {rest}?",
            f"Count the number of {plural} {rest}.", f"Return the number of {plural} {rest}.",
        ])


def _usable(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, str):
        return 0 < len(v) <= 40 and "\n" not in v and v.strip() == v
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def finish(question: str) -> str:
    """Tidy a question: single spaces, capitalised, punctuated."""
    q = " ".join(question.split())
    q = q.replace(" ,", ",").replace(" ?", "?").replace(" .", ".")
    q = re.sub(r"\btotal total\b", "sum of the total", q)
    q = re.sub(r"\b(\w+) \1\b", r"\1", q)  # "the the", "total total"
    q = re.sub(r"\b(with|have|has|had|is|for|of) a ([A-Za-z]\w\w+)",
               lambda m: f"{m.group(1)} {naming.article(m.group(2))} {m.group(2)}", q)  # "with an email"
    if not q:
        return q
    q = q[0].upper() + q[1:]
    if q[-1] not in "?.!":
        q += "?"
    return q
