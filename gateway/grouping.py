"""PostgreSQL's grouping rule, for SQLite: a column selected beside aggregates must be grouped,
or belong to a table whose primary key is grouped (its value is then determined).

SQLite answers ``SELECT "Name", count(*) FROM "Track"`` with the name of an arbitrary row;
PostgreSQL refuses it (42803), and so does DuckDB. The check is conservative: it refuses only
what it can resolve completely (plain grouped columns or select-list positions, tables of the
schema), and leaves alone anything with windows, grouping sets, derived tables or expressions
in GROUP BY.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from connectors.base import TableInfo
from gateway.errors import PgError


def _outside_aggregates(node: exp.Expr) -> list[exp.Column]:
    """The columns of ``node`` that no aggregate and no subquery contains."""
    found: list[exp.Column] = []

    def walk(n: exp.Expr) -> None:
        if isinstance(n, (exp.AggFunc, exp.Filter, exp.Subquery, exp.Select)):
            return
        if isinstance(n, exp.Column):
            found.append(n)
            return
        for child in n.iter_expressions():
            walk(child)

    walk(node)
    return found


def check_grouping(tree: exp.Expr, table_of: Callable[[str], TableInfo | None]) -> None:
    """Raise 42803 for a column of any SELECT of ``tree`` that PostgreSQL would refuse."""
    for select in list(tree.find_all(exp.Select)):
        _check_select(select, table_of)


def _check_select(select: exp.Select, table_of: Callable[[str], TableInfo | None]) -> None:
    group = select.args.get("group")
    items = select.expressions
    has_aggregate = any(isinstance(n, exp.AggFunc) and _same_select(n, select)
                        for e in items for n in e.find_all(exp.AggFunc))
    if group is None and not has_aggregate:
        return
    if any(isinstance(n, exp.Window) for n in select.find_all(exp.Window)) or select.args.get("distinct"):
        return
    if any(True for e in items for _ in e.find_all(exp.Anonymous)):
        return  # a function sqlglot does not know may be an aggregate (every, json_agg...)
    if group is not None and any(group.args.get(k) for k in ("grouping_sets", "cube", "rollup")):
        return
    if any(isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star)) for e in items):
        return
    # the tables of this SELECT, by the name a column qualifies them with
    tables: dict[str, TableInfo] = {}
    for source in [select.args.get("from_") or select.args.get("from"), *(select.args.get("joins") or [])]:
        if source is None:
            continue
        node = source.this
        if not isinstance(node, exp.Table) or not isinstance(node.this, exp.Identifier):
            return  # a derived table, a function: not resolved here
        info = table_of(node.name)
        if info is None:
            return
        tables[(node.alias or node.name).lower()] = info
    if not tables:
        return
    grouped: set[tuple[str, str]] = set()
    for g in group.expressions if group is not None else []:
        if isinstance(g, exp.Literal) and not g.is_string and str(g.this).isdigit():
            k = int(str(g.this))
            if not 1 <= k <= len(items):
                return
            g = items[k - 1].unalias()
        if not isinstance(g, exp.Column):
            return  # an expression: left to the backend
        owner = _owner(g, tables)
        if owner is None:
            return
        grouped.add((owner, g.name.lower()))

    def determined(owner: str) -> bool:
        key = [c.name.lower() for c in tables[owner].columns if c.primary_key]
        return bool(key) and all((owner, k) in grouped for k in key)

    for item in [*items, select.args.get("having")]:
        if item is None:
            continue
        for col in _outside_aggregates(item):
            owner = _owner(col, tables)
            if owner is None:
                if not col.table and not any(c.name.lower() == col.name.lower()
                                             for t in tables.values() for c in t.columns):
                    continue  # an output alias (HAVING n > 1) or an outer query's column
                return
            if (owner, col.name.lower()) in grouped or determined(owner):
                continue
            shown = f"{col.table or tables[owner].name}.{col.name}"
            raise PgError(f'column "{shown}" must appear in the GROUP BY clause or be used in an aggregate function',
                          sqlstate="42803")


def _same_select(node: exp.Expr, select: exp.Select) -> bool:
    return node.find_ancestor(exp.Select) is select


def _owner(col: exp.Column, tables: dict[str, TableInfo]) -> str | None:
    """The alias of the table ``col`` belongs to (``None``: not resolved)."""
    if col.table:
        owner = col.table.lower()
        if owner not in tables or tables[owner].column(col.name) is None:
            return None
        return owner
    owners = [a for a, t in tables.items() if t.column(col.name) is not None]
    return owners[0] if len(owners) == 1 else None
