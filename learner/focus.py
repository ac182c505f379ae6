"""Focus: what failed, so the synthesizer and the teacher weight those tables, columns and
question shapes up. Derived from failure records: the tables in their retrieved context
and the words of their questions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.base import SchemaInfo
from learner import naming

# question words -> shape families (learner.shapes_*.SHAPES keys) they call for
_SHAPE_CUES: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (re.compile(r"\bhow many\b|\bnumber of\b|\bcount\b"), ("count_all", "count_where", "join_count", "path_where", "count_distinct")),
    (re.compile(r"\b(most|least|fewest|greatest|largest|highest|lowest|smallest|top|longest|shortest|oldest|youngest)\b"),
     ("order_top", "join_group", "group_by", "path_most")),
    (re.compile(r"\b(average|mean|total|sum|maximum|minimum|max|min)\b"), ("agg", "join_agg", "group_by")),
    (re.compile(r"\b(each|per|every|for all)\b"), ("group_by", "join_group", "path_most")),
    (re.compile(r"\b(no|not|without|never|none|any)\b"), ("anti_join", "where_and_or")),
    (re.compile(r"\b(contain|contains|containing|letter|word|start|starts|begin|end|ends|like)\b"), ("where_like",)),
    (re.compile(r"\b(more than|less than|greater|bigger|smaller|above|below|over|under|at least|at most|between)\b"),
     ("where_num", "join_has", "join_group")),
    (re.compile(r"\b(both|and also)\b"), ("path_both",)),
    (re.compile(r"\b(19|20)\d\d\b|\byear\b|\bdate\b|\bmonth\b"), ("date_part",)),
    (re.compile(r"\b(distinct|different|unique)\b"), ("distinct_col", "count_distinct")),
    (re.compile(r"\b(order|sorted|alphabetical)\b"), ("order_top",)),
    (re.compile(r"\baverage\b.*\b(above|below|more|less|greater|higher|lower)\b|\b(above|below) average\b"), ("above_avg",)),
    (re.compile(r"\b(information|details)\b"), ("where_eq",)),
]


@dataclass
class FocusHints:
    """Extra weights (on top of 1) for tables, columns (``Table.Column``) and shape families,
    and the words of failed questions."""

    tables: dict[str, float] = field(default_factory=dict)
    columns: dict[str, float] = field(default_factory=dict)
    shapes: dict[str, float] = field(default_factory=dict)
    words: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.tables or self.columns or self.shapes or self.words)

    @classmethod
    def from_failures(cls, failures: Iterable[Mapping[str, Any]], schema: SchemaInfo | None = None) -> FocusHints:
        """Hints from failure rows (``question`` and ``context`` as stored in ``failures``).

        Tables come from the context's retrieved tables and, when ``schema`` is given, from
        table and column names the question's words match. Weights are normalised to [0, 1].
        """
        tables: dict[str, float] = {}
        columns: dict[str, float] = {}
        shapes: dict[str, float] = {}
        words: set[str] = set()
        for f in failures:
            q = str(f.get("question") or "").lower()
            qwords = {naming.singularize(w) for w in re.findall(r"[a-z]+", q) if len(w) > 2}
            words |= qwords
            for name in context_tables(f.get("context")):
                tables[name] = tables.get(name, 0.0) + 1.0
            for pat, fams in _SHAPE_CUES:
                if pat.search(q):
                    for fam in fams:
                        shapes[fam] = shapes.get(fam, 0.0) + 1.0
            if schema is not None:
                for t in schema.tables:
                    tw = {naming.singularize(w) for w in naming.split_words(t.name)}
                    if tw and tw <= qwords:
                        tables[t.name] = tables.get(t.name, 0.0) + 1.0
                    for c in t.columns:
                        cw = {naming.singularize(w) for w in naming.split_words(c.name)} - {"id"}
                        if cw and cw <= qwords:
                            key = f"{t.name}.{c.name}"
                            columns[key] = columns.get(key, 0.0) + 1.0
        return cls(tables=_norm(tables), columns=_norm(columns), shapes=_norm(shapes), words=words)


def _norm(d: dict[str, float]) -> dict[str, float]:
    top = max(d.values(), default=0.0)
    return {k: v / top for k, v in d.items()} if top > 0 else {}


def context_tables(context: Any) -> list[str]:
    """Table names in a failure's context JSON (``tables``/``retrieved_tables``, names or dicts)."""
    if isinstance(context, str):
        try:
            context = json.loads(context or "{}")
        except ValueError:
            return []
    if not isinstance(context, Mapping):
        return []
    out: list[str] = []
    for key in ("tables", "retrieved_tables", "schema_tables"):
        val = context.get(key)
        if isinstance(val, list):
            for item in val:
                if isinstance(item, str):
                    out.append(item)
                elif isinstance(item, Mapping) and isinstance(item.get("name"), str):
                    out.append(item["name"])
    return out
