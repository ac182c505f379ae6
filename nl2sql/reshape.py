"""Repairs of a generated query's shape, driven by the question and the schema's keys.

A tuned small model writes valid SQL that answers another question: it joins along the
wrong key (:func:`repair_joins`), joins a table it never reads (:func:`repair_stray_joins`),
selects the wrong table's columns (:func:`repair_projection`) or the wrong ones
(:func:`repair_selection`), forgets the value the question names
(:func:`repair_missing_value`), anchors a pattern (:func:`repair_patterns`) or sorts the
wrong way (:func:`repair_order`) or not at all (:func:`repair_superlative`), lists what the question asks to count
(:func:`repair_count`), counts the rows of a joined table (:func:`repair_counted_rows`),
groups by the column it aggregates (:func:`repair_grouping`), filters groups on a number
the question never names (:func:`repair_having`), joins what the question asks
to be missing (:func:`repair_absent`), or sets a column equal to two values at once
(:func:`repair_contradiction`). Each rule is narrow: none may change what a correct query
answers (``tests/test_nl2sql_validate.py`` runs them all on the gold SQL of Spider dev and
Chinook). Names are repaired before, by :mod:`nl2sql.constrain`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Set as AbstractSet

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.optimizer.scope import Scope, build_scope

from connectors.base import SchemaInfo, TableInfo
from connectors.types import TEXT_TYPES
from nl2sql.constrain import (
    STOP_WORDS, TOKEN, key_pairs, keys_holding, one_column_keys, question_words, scope_sources, select_scopes,
    singular, table_words, words,
)


def _own_tables(scope: Scope, schema: SchemaInfo, *, fold: bool = True) -> dict[str, TableInfo] | None:
    """``scope``'s own sources by alias (lower-cased when ``fold``), when every one is a table
    of ``schema``; ``None`` when a derived table, a CTE or an unknown name is among them."""
    tables = {(alias.lower() if fold else alias): t for alias, src in scope.sources.items()
              if isinstance(src, exp.Table) and (t := schema.table(src.name)) is not None}
    return tables if len(tables) == len(scope.sources) else None


def repair_projection(
    tree: exp.Expression, schema: SchemaInfo, question: str,
) -> tuple[exp.Expression, list[str]]:
    """A copy of ``tree`` where the selected columns of a joined table the question never
    names are taken from the one table of the join that it names and that has columns of
    the same names: for "the full name of the customer with the email ...", small models
    copy an example that selects the support employee's ``T2.FirstName, T2.LastName``
    from ``Customer AS T1 JOIN Employee AS T2``; the customer's own columns are meant.
    All of that table's selected columns move, or none; never to a column the WHERE
    clause sets equal to a constant (asking for what was given). Returns the fixes made."""
    tree = tree.copy()
    fixes: list[str] = []
    asked = question_words(question)
    for scope in select_scopes(tree):
        select = scope.expression
        if not isinstance(select, exp.Select):
            continue
        sources = scope.sources.items()
        aliases = {a.lower(): a for a, src in sources}
        tables = {a.lower(): schema.table(src.name) if isinstance(src, exp.Table) else None for a, src in sources}
        known = {a: t for a, t in tables.items() if t is not None}
        if len(known) < 2 or len(known) != len(tables):  # a derived table or CTE: left alone
            continue
        named = {a for a, t in known.items() if table_words(schema, t) & asked}
        if not named:
            continue
        given = _set_by_where(select)
        by_alias: dict[str, list[exp.Column]] = {}
        for projection in select.expressions:
            for col in projection.find_all(exp.Column):
                if col.table and col.find_ancestor(exp.Select) is select:
                    by_alias.setdefault(col.table.lower(), []).append(col)
        for alias, cols in by_alias.items():
            if alias not in known or alias in named:
                continue
            targets = [a for a in named if all(
                known[a].column(c.name) is not None and (a, c.name.lower()) not in given for c in cols)]
            if len(targets) != 1:
                continue
            to = aliases[targets[0]]
            for col in cols:
                fixes.append(f"selected {col.sql()} -> {to}.{col.name} (the question names "
                             f"{known[targets[0]].name}, not {known[alias].name})")
                col.set("table", exp.to_identifier(to))
    return tree, fixes


_IDS = re.compile(r"\bids?\b", re.IGNORECASE)


def repair_selection(tree: exp.Expression, schema: SchemaInfo, question: str) -> tuple[exp.Expression, list[str]]:
    """A copy of ``tree`` whose answer columns follow two plain words of the question, which
    tuned small models overrule with the habits of their training data:

    - of two selected columns that differ by their first word (``FirstName``, ``LastName``),
      the one whose word the question does not say is dropped when the other's it does ("the
      first names and ids of employees");
    - "ids" asked and no key selected: the primary key of the first selected column's table
      is added beside it ("the album names, ids and the number of tracks": ``T2.Title,
      COUNT(*) ... GROUP BY T2.AlbumId`` -> ``T2.Title, T2.AlbumId, COUNT(*)``), when the
      query groups by that key or not at all.

    The outermost query only. Returns the fixes made."""
    tree = tree.copy()
    fixes: list[str] = []
    select = tree if isinstance(tree, exp.Select) else None
    if select is None:
        return tree, fixes
    said = {w.lower() for w in TOKEN.findall(question)} | question_words(question)
    plain = [e for e in select.expressions if isinstance(e, exp.Column) and not e.is_star]
    if "full" in said or "whole" in said:  # "the full names": every part
        plain = []
    drop: list[exp.Column] = []
    for a in plain:
        wa = words(a.name)
        for b in plain:
            wb = words(b.name)
            if a is b or (a.table or "").lower() != (b.table or "").lower() or len(wa) != len(wb) or len(wa) < 2:
                continue
            if wa[1:] != wb[1:] or wa[0] == wb[0]:  # one first word apart: FirstName, LastName
                continue
            if wa[0] in said and wb[0] not in said and b not in drop:
                drop.append(b)
    if drop and len(drop) < len(select.expressions):
        for col in drop:
            fixes.append(f"selected {col.sql()} dropped (the question asks for no {words(col.name)[0]} name)"
                         if words(col.name)[-1] == "name" else f"selected {col.sql()} dropped (the question does not say it)")
            col.pop()
    if _IDS.search(question) and not any(
            c.name.lower().endswith("id") for e in select.expressions for c in e.find_all(exp.Column)):
        _add_key(select, schema, fixes)
    return tree, fixes


def _add_key(select: exp.Select, schema: SchemaInfo, fixes: list[str]) -> None:
    """Beside the first selected column of a table, that table's one-column primary key."""
    scope = build_scope(select)
    if scope is None:
        return
    group = select.args.get("group")
    if group is None and any(e.find(exp.AggFunc) for e in select.expressions):
        return
    for i, e in enumerate(select.expressions):
        if not isinstance(e, exp.Column) or e.is_star:
            continue
        owners = [(alias, t) for alias, src in scope.sources.items()
                  if isinstance(src, exp.Table) and (t := schema.table(src.name)) is not None
                  and (alias.lower() == e.table.lower() if e.table else t.column(e.name) is not None)]
        if len(owners) != 1 or len(owners[0][1].primary_key) != 1:
            return
        alias, table = owners[0]
        key = table.primary_key[0]
        qualified = exp.column(key, table=e.table) if e.table else exp.column(key)
        if group is not None and not any(
                isinstance(g, exp.Column) and g.name.lower() == key.lower()
                and (g.table or "").lower() in ("", alias.lower()) for g in group.expressions):
            return
        select.expressions.insert(i + 1, qualified)
        select.set("expressions", select.expressions)
        fixes.append(f"selected {qualified.sql()} added (the question asks for ids)")
        return


CATEGORY_ROWS = 100
"""Most rows of a table whose values read as a category (a genre among 25, not an album title)."""


def _meant(table: str, value: str, holders: dict[str, list[TableInfo]], asked: AbstractSet[str] = frozenset()) -> bool:
    """Whether ``table`` is the one a question naming ``value`` means: the only table that holds
    it, or, of several, the one the question calls by name (``asked``: "albums by the artist
    Metallica" names Artist's 'Metallica', not the tracks Metallica composed), or else the one
    short list (at most :data:`CATEGORY_ROWS` rows, fewer than every other holder): "pop tracks"
    names Genre's 'Pop', not the album titled 'Pop'."""
    tables = holders.get(value.strip().lower(), [])
    if len(tables) <= 1:
        return True
    called = {t.name.lower() for t in tables if t.name.lower() in asked}
    if len(called) == 1:
        return table.lower() in called
    mine = [t for t in tables if t.name.lower() == table.lower()]
    if len(mine) != 1 or mine[0].row_count > CATEGORY_ROWS:
        return False
    return all(t.row_count > mine[0].row_count for t in tables if t is not mine[0])


def repair_missing_value(
    tree: exp.Expression, schema: SchemaInfo, named: dict[tuple[str, str], list[str]], question: str = "",
) -> tuple[exp.Expression, list[str]]:
    """A copy of ``tree`` that filters on the value the question names when the query forgot
    it: for "the longest and shortest pop tracks", ``SELECT MAX(Milliseconds),
    MIN(Milliseconds) FROM Track`` -> ``... WHERE Track.GenreId IN (SELECT GenreId FROM Genre
    WHERE Name = 'Pop')``. ``named`` is what retrieval found the question naming (table,
    column -> values: quoted strings and word n-grams equal to a stored value). Only when
    exactly one named value qualifies: no other column holds it (or the others are longer
    lists than its table, a category, or the question calls it by its table's name:
    :func:`_meant`), its table is not in the query, one foreign key links it with one table of
    the query (either way; its table referring to the query's only when no other table holds
    the value or the question calls its table by name: "the employees who help the customer
    Leonie", ``Employee.EmployeeId IN (SELECT SupportRepId FROM Customer WHERE FirstName =
    'Leonie')``), no text of the query has it as a word, and no column of its table holds
    another named value. A condition setting a key of the query equal to a number the
    question never names (``EmployeeId = 1``) goes: the model put it where the value belongs.
    The outermost query only. Returns the fixes made."""
    tree = tree.copy()
    fixes: list[str] = []
    if not isinstance(tree, exp.Select) or not named:
        return tree, fixes
    scope = build_scope(tree)
    if scope is None:
        return tree, fixes
    sources = _own_tables(scope, schema, fold=False)  # the alias as written: it goes into the new condition
    if sources is None:
        return tree, fixes
    texts = [lit.this.strip().lower() for lit in tree.find_all(exp.Literal) if lit.is_string]
    texts += [c.name.strip().lower() for c in tree.find_all(exp.Column) if c.this.args.get("quoted")]  # "Pop"
    in_query = {t.name.lower() for t in sources.values()}
    holders: dict[str, list[TableInfo]] = {}
    for (table, _), values in named.items():
        for v in values:
            if (t := schema.table(table)) is not None:
                holders.setdefault(v.strip().lower(), []).append(t)
    words_asked = question_words(question)
    asked = {t.name.lower() for ts in holders.values() for t in ts if table_words(schema, t) & words_asked}
    by_table: dict[str, list[tuple[str, str]]] = {}
    for (table, column), values in named.items():
        by_table.setdefault(table.lower(), []).extend((column, v) for v in values if _meant(table, v, holders, asked))
    found: list[tuple[str, str, str, str, str, str]] = []  # alias, its key, the key it matches, table, column, value
    for table, pairs in by_table.items():
        ref = schema.table(table)
        if ref is None or table in in_query or len(pairs) != 1 or len(ref.primary_key) != 1:
            continue
        column, value = pairs[0]
        low = value.strip().lower()
        if column.lower() in {k.lower() for k in ref.primary_key} or any(
                re.search(r"(?<!\w)" + re.escape(low) + r"(?!\w)", t) for t in texts):
            continue  # another table's value too, a key, or the query has it (maybe inside a longer text)
        links = [(alias, fk.columns[0], ref.primary_key[0]) for alias, t in sources.items() for fk in t.foreign_keys
                 if fk.ref_table.lower() == table and len(fk.columns) == 1]
        if len(holders.get(low, [])) == 1 or table in asked:  # a short list is a category: referred to, not referring
            links += [(alias, t.primary_key[0], fk.columns[0]) for alias, t in sources.items()
                      for fk in ref.foreign_keys
                      if fk.ref_table.lower() == t.name.lower() and len(fk.columns) == 1 and len(t.primary_key) == 1
                      and fk.ref_columns[0].lower() == t.primary_key[0].lower()]  # the value's table refers to ours
        if len(links) == 1:
            found.append((*links[0], ref.name, column, value))
    if len(found) != 1:
        return tree, fixes
    alias, key, through, table, column, value = found[0]
    cond = exp.column(key, table=alias).isin(query=keys_holding(through, table, column, value))
    invented = _invented_key_filters(tree, sources, question)
    if invented:
        where = tree.args["where"]
        kept = [c for c in _conjuncts(where.this) if all(c is not i for i in invented)]
        tree.set("where", None)
        for c in kept:
            tree.where(c, copy=False)
    tree.where(cond, copy=False)
    fixes.append(f"added {cond.sql()} (the question names {table}.{column} '{value}')"
                 + (f" in place of {' AND '.join(i.sql() for i in invented)} (a key the question does not name)"
                    if invented else ""))
    return tree, fixes


def _conjuncts(cond: exp.Expr) -> list[exp.Expr]:
    return list(cond.flatten()) if isinstance(cond, exp.And) else [cond]


def _invented_key_filters(select: exp.Select, sources: dict[str, TableInfo], question: str) -> list[exp.Expr]:
    """The conjuncts of ``select``'s WHERE clause that set a key column (primary or foreign)
    equal to a number the question does not name (``EmployeeId = 1`` for "employees who
    help the customer Leonie")."""
    where = select.args.get("where")
    if where is None:
        return []
    out: list[exp.Expr] = []
    for c in _conjuncts(where.this):
        if not isinstance(c, exp.EQ):
            continue
        col, lit = (c.this, c.expression) if isinstance(c.this, exp.Column) else (c.expression, c.this)
        if not isinstance(col, exp.Column) or not isinstance(lit, exp.Literal) or not re.fullmatch(r"\d+", lit.name):
            continue
        owners = [sources[col.table]] if col.table in sources else [
            t for t in sources.values() if t.column(col.name) is not None] if not col.table else []
        if len(owners) != 1:
            continue
        t, name = owners[0], col.name.lower()
        if name in {k.lower() for k in t.primary_key} or any(name in (x.lower() for x in fk.columns)
                                                              for fk in t.foreign_keys):
            if not re.search(rf"(?<!\w){lit.name}(?!\w)", question):
                out.append(c)
    return out


def _set_by_where(select: exp.Select) -> set[tuple[str, str]]:
    """``(alias, column)`` pairs that the WHERE clause sets equal to a constant."""
    where = select.args.get("where")
    out: set[tuple[str, str]] = set()
    if where is None:
        return out
    for eq in where.find_all(exp.EQ):
        for side, other in ((eq.this, eq.expression), (eq.expression, eq.this)):
            if isinstance(side, exp.Column) and isinstance(other, exp.Literal) and side.table:
                out.add((side.table.lower(), side.name.lower()))
    return out


_ANCHORED = re.compile(
    r"\b(?:start|starts|starting|started|begin|begins|beginning|began|end|ends|ending|ended|prefix|prefixed|"
    r"suffix|first|last|initial|initials|leading|trailing)\b", re.IGNORECASE)
"""Words by which a question asks for a pattern at the start or the end of a text."""


def repair_patterns(tree: exp.Expression, question: str) -> tuple[exp.Expression, list[str]]:
    """A copy of ``tree`` where a ``LIKE`` pattern anchored at one end (``'a%'``, ``'%a'``)
    matches anywhere (``'%a%'``) when the question never asks for a start or an end: for
    "artists that have 'a' in their names" small models write ``Name LIKE 'a%'``. Only
    patterns of letters and spaces (``'199%'`` for "the 90s" stays). Returns the fixes made."""
    tree = tree.copy()
    fixes: list[str] = []
    if _ANCHORED.search(question):
        return tree, fixes
    for like in tree.find_all(exp.Like, exp.ILike):
        lit = like.expression
        if not (isinstance(lit, exp.Literal) and lit.is_string):
            continue
        pattern = lit.this
        core = pattern.strip("%")
        if pattern.startswith("%") == pattern.endswith("%") or not re.fullmatch(r"[^\W\d_]+(?: [^\W\d_]+)*", core):
            continue
        like.set("expression", exp.Literal.string(f"%{core}%"))
        fixes.append(f"pattern '{pattern}' -> '%{core}%' (the question asks for no start or end)")
    return tree, fixes


def _join_conditions(scope: Scope) -> Iterable[exp.EQ]:
    """Equalities that join: those of ON clauses, and those of a correlated subquery's WHERE
    clause that compare a column of an enclosing query."""
    select = scope.expression
    if not isinstance(select, exp.Select):
        return
    for join in select.args.get("joins") or []:
        on = join.args.get("on")
        if on is not None:
            yield from (eq for eq in on.find_all(exp.EQ) if eq.find_ancestor(exp.Select) is select)
    where = select.args.get("where")
    if where is not None and scope.parent is not None:
        own = {a.lower() for a in scope.sources}
        for eq in where.find_all(exp.EQ):
            if eq.find_ancestor(exp.Select) is not select:
                continue
            quals = [c.table.lower() for c in (eq.this, eq.expression) if isinstance(c, exp.Column) and c.table]
            if len(quals) == 2 and (quals[0] in own) != (quals[1] in own):
                yield eq


def repair_joins(tree: exp.Expression, schema: SchemaInfo) -> tuple[exp.Expression, list[str]]:
    """A copy of ``tree`` where a join condition between two tables that compares columns no
    foreign key links (``Album.AlbumId = Artist.ArtistId``, ``Employee.EmployeeId =
    Customer.Email``) follows the one foreign key between those tables instead
    (``Album.ArtistId = Artist.ArtistId``). Conditions between columns of the same name,
    between a table and itself, or between tables with no or several keys stay.
    Returns the fixes made."""
    tree = tree.copy()
    fixes: list[str] = []
    for scope in select_scopes(tree):
        sources = {s.alias.lower(): s.table for s in scope_sources(scope, schema)}
        for eq in list(_join_conditions(scope)):
            left, right = eq.this, eq.expression
            if not (isinstance(left, exp.Column) and isinstance(right, exp.Column) and left.table and right.table):
                continue
            a, b = sources.get(left.table.lower()), sources.get(right.table.lower())
            if a is None or b is None or a.name.lower() == b.name.lower():
                continue
            if left.name.lower() == right.name.lower():
                continue
            pairs = key_pairs(a, b)
            if len(pairs) != 1 or (left.name.lower(), right.name.lower()) in {
                    (x.lower(), y.lower()) for x, y in pairs}:
                continue
            x, y = pairs[0]
            new = exp.EQ(this=exp.column(x, table=left.table), expression=exp.column(y, table=right.table))
            fixes.append(f"join {eq.sql()} -> {new.sql()} (the foreign key between {a.name} and {b.name})")
            eq.replace(new)
    return tree, fixes


def _own_key(col: exp.Column, sources: dict[str, TableInfo]) -> TableInfo | None:
    """The table whose one-column primary key ``col`` is, through its qualifier."""
    table = sources.get(col.table.lower())
    if table is None or len(table.primary_key) != 1 or table.primary_key[0].lower() != col.name.lower():
        return None
    return table


def _uses(select: exp.Select, alias: str, table: TableInfo, others: list[TableInfo], *skip: exp.Expression) -> bool:
    """Whether ``select`` reads the source ``alias`` anywhere but in ``skip``: a column qualified by
    it, or an unqualified one that only its table has."""
    low = alias.lower()
    for col in select.find_all(exp.Column):
        if any(_inside(col, s) for s in skip):
            continue
        if col.table:
            if col.table.lower() == low:
                return True
        elif col.find_ancestor(exp.Select) is not select:
            continue  # a subquery's own column (its tables are not known here: taken as not ours)
        elif table.column(col.name) is not None and not any(o.column(col.name) is not None for o in others):
            return True
    return False


def _inside(node: exp.Expr, outer: exp.Expr) -> bool:
    return any(n is node for n in outer.walk())


def _column_equality(join: exp.Join) -> exp.EQ | None:
    """The condition of an inner ``join`` when it is one equality of two columns."""
    on = join.args.get("on")
    if (join.side or join.kind or join.args.get("using") or not isinstance(on, exp.EQ)
            or not isinstance(on.this, exp.Column) or not isinstance(on.expression, exp.Column)):
        return None
    return on


def repair_stray_joins(tree: exp.Expression, schema: SchemaInfo) -> tuple[exp.Expression, list[str]]:
    """A copy of ``tree`` without a joined table that the query reads nowhere but in a join
    condition equating its primary key with another table's (``FROM Genre AS T1 JOIN
    Playlist AS T2 ON T1.GenreId = T2.PlaylistId`` for "the names of the genres"): two
    tables' own keys of other names, with no foreign key between them, match by accident
    of numbering. Inner joins with a one-equality condition only; a ``*`` reads every
    table. A second copy of a table, joined along the same key as the first and read
    nowhere else (``Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId JOIN Track AS T3
    ON T2.GenreId = T3.GenreId`` for "tracks of the rock genre"), only multiplies the rows
    and goes as well, as does a join whose condition names no other table (``JOIN Genre AS T3
    ON T3.Name = 'World'``) read nowhere else. A grouping by the dropped table's key alone,
    with nothing aggregated, goes with it. Returns the fixes made."""
    tree = tree.copy()
    fixes: list[str] = []
    for scope in select_scopes(tree):
        select = scope.expression
        if not isinstance(select, exp.Select):
            continue
        joins = list(select.args.get("joins") or [])
        if not joins or any(isinstance(e, exp.Star) or (isinstance(e, exp.Column) and e.is_star)
                            for e in select.expressions):
            continue
        sources = _own_tables(scope, schema)
        if sources is None:
            continue
        _drop_repeated_joins(select, sources, fixes)
        _drop_unlinked_joins(select, sources, fixes)
        joins = list(select.args.get("joins") or [])
        for join in joins:
            on = _column_equality(join)
            if on is None:
                continue
            left, right = on.this, on.expression
            a, b = _own_key(left, sources), _own_key(right, sources)
            if a is None or b is None or a.name.lower() == b.name.lower() or left.name.lower() == right.name.lower() \
                    or key_pairs(a, b):
                continue
            joined = join.alias_or_name.lower()
            from_ = select.args.get("from_")
            first = from_.this if from_ is not None else None
            for col, table in ((left, a), (right, b)):
                alias = col.table.lower()
                others = [t for k, t in sources.items() if k != alias]
                group = _own_key_grouping(select, alias, table)
                if _uses(select, alias, table, others, on, *([group] if group is not None else [])):
                    continue
                if alias == joined:
                    select.set("joins", [j for j in select.args["joins"] if j is not join])
                elif (len(joins) == 1 and from_ is not None and isinstance(first, exp.Table)
                      and first.alias_or_name.lower() == alias):
                    from_.set("this", join.this.copy())
                    select.set("joins", None)
                else:
                    continue
                if group is not None:
                    select.set("group", None)
                    fixes.append(f"dropped {group.sql()} (one group per row of {table.name}, which goes)")
                fixes.append(f"join {on.sql()} dropped ({table.name} is read nowhere else, and no foreign key "
                             f"links it to {(b if table is a else a).name})")
                break
    return tree, fixes


def _own_key_grouping(select: exp.Select, alias: str, table: TableInfo) -> exp.Group | None:
    """``select``'s ``GROUP BY`` when it is the primary key of the source ``alias`` alone and
    nothing is aggregated (``GROUP BY T2.PlaylistId`` over a join to Playlist: one group per
    joined row, so without that join the grouping means nothing)."""
    group = select.args.get("group")
    if group is None or len(group.expressions) != 1 or select.args.get("having") is not None \
            or any(e.find(exp.AggFunc) for e in select.expressions):
        return None
    key = group.expressions[0]
    order = select.args.get("order")
    if not isinstance(key, exp.Column) or key.table.lower() != alias or len(table.primary_key) != 1 \
            or table.primary_key[0].lower() != key.name.lower() or (order is not None and order.find(exp.AggFunc)):
        return None
    return group


def _drop_unlinked_joins(select: exp.Select, sources: dict[str, TableInfo], fixes: list[str]) -> None:
    """Drop each inner join whose condition names no other table (``JOIN Genre AS T3 ON T3.Name
    = 'World'``, a cross join) when the query reads that table nowhere else: it can only
    repeat or empty the rows."""
    for join in list(select.args.get("joins") or []):
        on = join.args.get("on")
        alias = join.alias_or_name.lower()
        table = sources.get(alias)
        if join.side or join.kind or join.args.get("using") or on is None or table is None:
            continue
        cols = list(on.find_all(exp.Column))
        if not cols or any(not c.table or c.table.lower() != alias for c in cols) or on.find(exp.Select):
            continue
        others = [t for a, t in sources.items() if a != alias]
        if _uses(select, alias, table, others, on):
            continue
        select.set("joins", [j for j in select.args["joins"] if j is not join])
        fixes.append(f"join {table.name} ON {on.sql()} dropped (it links {join.alias_or_name} to no other table, "
                     f"and the query reads it nowhere else)")


def _drop_repeated_joins(select: exp.Select, sources: dict[str, TableInfo], fixes: list[str]) -> None:
    """Drop each inner join of a table that ``select`` reads elsewhere under another alias,
    joined by the same one-equality condition (``X.k = T3.k`` beside ``X.k = T1.k``) and read
    nowhere but there."""
    for join in list(select.args.get("joins") or []):
        on = _column_equality(join)
        if on is None:
            continue
        alias = join.alias_or_name.lower()
        table = sources.get(alias)
        if table is None:
            continue
        mine = [c for c in (on.this, on.expression) if c.table.lower() == alias]
        if len(mine) != 1:
            continue
        own = mine[0]
        other = on.expression if own is on.this else on.this
        twins = {a for a, t in sources.items() if a != alias and t.name.lower() == table.name.lower()}
        if not twins or not other.table:
            continue
        others = [t for a, t in sources.items() if a != alias]
        if _uses(select, alias, table, others, on):
            continue
        same = False
        for eq in select.find_all(exp.EQ):
            if eq is on or eq.find_ancestor(exp.Select) is not select or not isinstance(eq.this, exp.Column) \
                    or not isinstance(eq.expression, exp.Column):
                continue
            pair = {(eq.this.table.lower(), eq.this.name.lower()), (eq.expression.table.lower(), eq.expression.name.lower())}
            if (other.table.lower(), other.name.lower()) in pair and any(
                    (t, own.name.lower()) in pair for t in twins):
                same = True
                break
        if not same:
            continue
        select.set("joins", [j for j in select.args["joins"] if j is not join])
        fixes.append(f"join {on.sql()} dropped ({table.name} is joined twice along the same key, "
                     f"and {join.alias_or_name} is read nowhere else)")


_FEWEST = re.compile(
    r"\b(?:fewest|(?<!\bat )least|lowest|smallest|minimum|minimal|shortest|cheapest|less common|rarest)\b",
    re.IGNORECASE)
_MOST = re.compile(
    r"\b(?:(?<!\bat )most|highest|largest|greatest|maximum|maximal|longest|biggest|priciest)\b", re.IGNORECASE)
"""Words by which a question asks for the smallest or the largest (``at least``/``at most`` bound)."""


def repair_order(tree: exp.Expression, question: str, dialect: str | None = None) -> tuple[exp.Expression, list[str]]:
    """A copy of ``tree`` where a top-N query (``ORDER BY`` one key, ``LIMIT``) sorts the way
    the question asks: "the least common media type" with ``ORDER BY COUNT(*) DESC LIMIT 1``
    sorts ascending. Only when the question asks for one direction alone (a word of the
    fewest, none of the most, or the other way round) and the key is an aggregate.
    ``dialect`` decides where NULLs sort (its default for the new direction). Returns the fixes made."""
    tree = tree.copy()
    fixes: list[str] = []
    fewest, most = bool(_FEWEST.search(question)), bool(_MOST.search(question))
    if fewest == most:
        return tree, fixes
    nulls = Dialect.get_or_raise(dialect).NULL_ORDERING
    for select in tree.find_all(exp.Select):
        order = select.args.get("order")
        if order is None or select.args.get("limit") is None or len(order.expressions) != 1:
            continue
        key = order.expressions[0]
        if not isinstance(key, exp.Ordered) or not isinstance(key.this, exp.AggFunc):
            continue
        desc = bool(key.args.get("desc"))
        if desc == most:
            continue
        key.set("desc", most)
        key.set("nulls_first", nulls == "nulls_are_small" and not most or nulls == "nulls_are_large" and most)
        fixes.append(f"ORDER BY {key.this.sql()} {'DESC' if desc else 'ASC'} -> {'DESC' if most else 'ASC'} "
                     f"(the question asks for the {'most' if most else 'fewest'})")
    return tree, fixes


_COMMON = re.compile(r"\b(?:common|popular|frequent|often|rarest)\b", re.IGNORECASE)
_COUNTED = re.compile(
    r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|top|first|last|each|every|per)\b", re.IGNORECASE)
"""Words that ask which is the most or least frequent, and words that ask for more than one row (or one per group)."""


_Source = tuple[str, TableInfo]


def _parent_and_child(tree: exp.Select, schema: SchemaInfo) -> tuple[Scope, _Source, _Source] | None:
    """For a ``SELECT`` of two tables, one inner join along their one-column foreign key (the
    referenced one's primary key): its scope, and the referenced (parent) and referring (child)
    source, each as its lower-cased alias and its table."""
    joins = tree.args.get("joins") or []
    scope = build_scope(tree)
    sources = _own_tables(scope, schema) if scope is not None else None
    if len(joins) != 1 or joins[0].side or not sources or len(sources) != 2 or scope is None:
        return None
    on = _column_equality(joins[0])
    if on is None:
        return None
    ends = [(c.table.lower(), sources.get(c.table.lower()), c.name.lower()) for c in (on.this, on.expression)]
    if ends[0][0] == ends[1][0]:
        return None
    for (pa, pt, pc), (ca, ct, cc) in (ends, ends[::-1]):
        if pt is None or ct is None:
            return None
        if (cc, pc) in {(x.lower(), y.lower()) for x, y in one_column_keys(ct, pt)} and len(pt.primary_key) == 1 \
                and pt.primary_key[0].lower() == pc:
            return scope, (pa, pt), (ca, ct)
    return None


def _selects_only(select: exp.Select, source: _Source, other: TableInfo) -> bool:
    """Whether ``select`` selects plain columns of ``source`` (alias, table) only: qualified by
    its alias, or unqualified and a column of its table that ``other`` lacks."""
    alias, table = source
    for e in select.expressions:
        col = e.this if isinstance(e, exp.Alias) else e
        if not isinstance(col, exp.Column) or col.is_star:
            return False
        owner = col.table.lower() if col.table else (
            alias if table.column(col.name) is not None and other.column(col.name) is None else "")
        if owner != alias:
            return False
    return True


def repair_superlative(tree: exp.Expression, schema: SchemaInfo, question: str,
                       dialect: str | None = None) -> tuple[exp.Expression, list[str]]:
    """A copy of ``tree`` that counts and keeps the top row when the question asks for the
    most or least common thing and the query only joins: for "the least common media type
    across all tracks" small models write ``SELECT T2.Name FROM Track AS T1 JOIN MediaType
    AS T2 ON T1.MediaTypeId = T2.MediaTypeId`` (every track's media type) -> ``... GROUP BY
    T2.MediaTypeId, T2.Name ORDER BY COUNT(*) ASC LIMIT 1``. Only when the question asks for one
    direction alone, by "most/least common" (popular, frequent) or "the most/fewest <rows of
    the other table>", names no number of rows nor a group ("top 3", "each"), and the query
    is a plain ``SELECT`` of two tables joined along their one foreign key, with no aggregate,
    grouping, order or limit, that selects columns of the referenced table only. ``dialect``
    as for :func:`repair_order`. Returns the fixes made."""
    tree = tree.copy()
    fixes: list[str] = []
    fewest, most = _FEWEST.search(question), _MOST.search(question)
    if bool(fewest) == bool(most) or _COUNTED.search(question) or not isinstance(tree, exp.Select):
        return tree, fixes
    if any(tree.args.get(k) for k in ("group", "having", "order", "limit", "offset", "distinct")) \
            or tree.find(exp.AggFunc, exp.Window, exp.Subquery, exp.Union) is not None:
        return tree, fixes
    linked = _parent_and_child(tree, schema)
    if linked is None:
        return tree, fixes
    scope, parent, child = linked
    word = (fewest or most)
    assert word is not None
    after = question[word.end():].split()[:2]
    rows_of = table_words(schema, child[1])
    if not (_COMMON.search(" ".join([word.group(0), *after]))
            or any(singular(w.lower().strip("?.,!")) in rows_of for w in after)):
        return tree, fixes
    if not _selects_only(tree, parent, child[1]):
        return tree, fixes
    key = exp.column(parent[1].primary_key[0], table=next(a for a in scope.sources if a.lower() == parent[0]))
    keys = [key] + [c for e in tree.expressions  # DuckDB groups only by what is named
                    if (c := (e.this if isinstance(e, exp.Alias) else e)).name.lower() != key.name.lower()]
    tree.group_by(*(k.copy() for k in keys), copy=False)
    nulls = Dialect.get_or_raise(dialect).NULL_ORDERING  # as the dialect sorts by default: no NULLS clause
    nulls_first = nulls == "nulls_are_small" and not most or nulls == "nulls_are_large" and bool(most)
    tree.order_by(exp.Ordered(this=exp.Count(this=exp.Star()), desc=bool(most), nulls_first=nulls_first), copy=False)
    tree.limit(1, copy=False)
    fixes.append(f"counted the {child[1].name} rows of each {parent[1].name} and kept the one with the "
                 f"{'most' if most else 'fewest'} (the question asks for it)")
    return tree, fixes


_NONE = re.compile(r"\b(?:(?:do|does|did|have|has|had)(?:n't| not)|never|without|no)\b((?:\s+[\w'-]+){1,4})",
                   re.IGNORECASE)
"""A negation and the words after it ("do not have any albums", "without invoices")."""


def repair_absent(tree: exp.Expression, schema: SchemaInfo, question: str) -> tuple[exp.Expression, list[str]]:
    """A copy of ``tree`` that keeps the rows with no match when the question asks for them and
    the query joins: for "artists that do not have any albums" small models write ``SELECT
    T1.Name FROM Artist AS T1 JOIN Album AS T2 ON T1.ArtistId = T2.ArtistId`` (the artists
    that have) -> ``SELECT T1.Name FROM Artist AS T1 WHERE NOT EXISTS (SELECT 1 FROM Album AS
    T2 WHERE T2.ArtistId = T1.ArtistId)``. Only when a negation in the question ("do not
    have", "never", "without", "no") is followed within four words by a word naming the
    referring table's rows, and the query is a plain ``SELECT`` of two tables joined along
    their one foreign key, with no aggregate, grouping or negation of its own, that selects
    columns of the referenced table only. Conditions on the referring table go into the
    subquery. Returns the fixes made."""
    tree = tree.copy()
    fixes: list[str] = []
    if not isinstance(tree, exp.Select) or not _NONE.search(question):
        return tree, fixes
    linked = _parent_and_child(tree, schema)
    if linked is None:
        return tree, fixes
    _, (pa, pt), (ca, ct) = linked
    never = _never_true_negations(tree, ca, ct)
    own = [n for n in tree.find_all(exp.AggFunc, exp.Window, exp.Subquery, exp.Union, exp.Not, exp.NEQ, exp.Is)
           if not any(_inside(n, x) for x in never)]  # a negation, grouping or subquery of the model's
    if own or any(tree.args.get(k) for k in ("group", "having")):
        return tree, fixes
    rows_of = table_words(schema, ct)
    if not any(singular(w.lower().strip("?.,!")) in rows_of
               for m in _NONE.finditer(question) for w in m.group(1).split()):
        return tree, fixes
    if not _selects_only(tree, (pa, pt), ct):
        return tree, fixes
    join, from_ = tree.args["joins"][0], tree.args["from_"]
    outer, referring = (from_.this, join.this) if join.this.alias_or_name.lower() == ca else (join.this, from_.this)
    inner = exp.select("1").from_(referring.copy()).where(join.args["on"].copy())
    where = tree.args.get("where")
    kept: list[exp.Expr] = []
    dropped: list[str] = []
    if where is not None:
        for cond in _conjuncts(where.this):
            if any(cond is x for x in never):
                dropped.append(cond.sql())  # the model's own negation, never true over the join
                continue
            owners = {c.table.lower() for c in cond.find_all(exp.Column)}
            if "" in owners or not owners or len(owners) > 1:
                return tree, fixes
            if owners == {ca}:
                if all(re.search(rf"(?<!\w){re.escape(lit.name.strip('%_ '))}(?!\w)", question, re.IGNORECASE)
                       for lit in cond.find_all(exp.Literal)):
                    inner.where(cond.copy(), copy=False)
                else:  # "without any albums": a value the question never names narrows nothing it asks
                    dropped.append(cond.sql())
            else:
                kept.append(cond.copy())
    from_.set("this", outer.copy())
    tree.set("joins", None)
    tree.set("where", None)
    for cond in kept:
        tree.where(cond, copy=False)
    tree.where(exp.Not(this=exp.Exists(this=inner)), copy=False)
    fixes.append(f"kept the {pt.name} rows with no {ct.name} row (the question asks for those without)"
                 + (f", dropping {' AND '.join(dropped)} (a value the question does not name, or never true)"
                    if dropped else "")
                 + f": {tree.sql()}")
    return tree, fixes


def _never_true_negations(select: exp.Select, alias: str, table: TableInfo) -> list[exp.Expr]:
    """The AND-ed WHERE conditions of ``select`` of the form ``NOT alias.c IN (SELECT c FROM
    table)``: a row of ``table`` always has its own ``c`` among them, so they are never true
    (the models' "artists that do not have any albums" over ``Artist JOIN Album``)."""
    where = select.args.get("where")
    out: list[exp.Expr] = []
    for cond in _conjuncts(where.this) if where is not None else []:
        inner = cond.this if isinstance(cond, exp.Not) else None
        if not isinstance(inner, exp.In) or not isinstance(inner.this, exp.Column) \
                or inner.this.table.lower() != alias:
            continue
        query = inner.args.get("query")
        sub = query.this if isinstance(query, exp.Subquery) else None
        if not isinstance(sub, exp.Select) or len(sub.expressions) != 1 or any(
                sub.args.get(k) for k in ("where", "joins", "group", "having", "limit")):
            continue
        picked, source = sub.expressions[0], sub.args["from_"].this
        if isinstance(picked, exp.Column) and picked.name.lower() == inner.this.name.lower() \
                and isinstance(source, exp.Table) and source.name.lower() == table.name.lower():
            out.append(cond)
    return out


_HOW_MANY = re.compile(
    r"^\s*(?:how many\b|(?:(?:what|which) (?:is|are|was|were) |what's |find |give (?:me )?|show (?:me )?|return |count )?"
    r"(?:the )?(?:total )?number of\b)", re.IGNORECASE)
_PER_ROW = re.compile(r"\b(?:each|every|per|list|listed|names? them|and (?:what|which|who|list|give|show|return))\b",
                      re.IGNORECASE)
"""A question that asks a number only by its first words, and words that ask for rows besides (or one count per group)."""


def repair_count(tree: exp.Expression, schema: SchemaInfo, question: str) -> tuple[exp.Expression, list[str]]:
    """A copy of ``tree`` that counts the rows it lists when the question asks how many: for
    "how many customers live in Brazil?" small models write ``SELECT FirstName, LastName
    FROM Customer WHERE Country = 'Brazil'`` -> ``SELECT COUNT(*) FROM (...) AS _listed``.
    Only when the question starts by asking for a number ("how many", "the number of") and
    asks for no rows or groups besides, and the query is a plain ``SELECT`` (no aggregate,
    ``GROUP BY`` or ``LIMIT``) of text columns that are no keys: a number or a key listed may
    be the answer. Returns the fixes made."""
    tree = tree.copy()
    fixes: list[str] = []
    if (not isinstance(tree, exp.Select) or not _HOW_MANY.search(question) or _PER_ROW.search(question)
            or any(tree.args.get(k) for k in ("group", "having", "limit", "offset"))
            or any(e.find(exp.AggFunc, exp.Window) for e in tree.expressions)):
        return tree, fixes
    scope = build_scope(tree)
    if scope is None:
        return tree, fixes
    sources = _own_tables(scope, schema)
    if not sources:
        return tree, fixes
    for e in tree.expressions:
        col = e.this if isinstance(e, exp.Alias) else e
        if not isinstance(col, exp.Column) or col.is_star:
            return tree, fixes
        owners = ([sources[col.table.lower()]] if col.table.lower() in sources else []) if col.table else [
            t for t in sources.values() if t.column(col.name) is not None]
        info = owners[0].column(col.name) if len(owners) == 1 else None
        if info is None or info.pg_type not in TEXT_TYPES or info.primary_key or any(
                col.name.lower() in (c.lower() for c in fk.columns) for fk in owners[0].foreign_keys):
            return tree, fixes
    counted = exp.select(exp.Count(this=exp.Star())).from_(tree.subquery("_listed"))
    fixes.append(f"counted the rows listed (the question asks how many): {counted.sql()}")
    return counted, fixes


_COUNT_OF = re.compile(r"\b(?:how many|number of|count(?: the)?(?!\s+(?:total\s+)?number\b))\s+"
                       r"(?:(?:different|distinct|unique|total)\s+)?([\w'-]+)", re.IGNORECASE)
"""What a question counts: the word after "how many", "number of" or "count (the)"."""


def repair_counted_rows(tree: exp.Expression, schema: SchemaInfo, question: str) -> tuple[exp.Expression, list[str]]:
    """A copy of ``tree`` that counts the rows the question asks about, not those of a table
    joined to them: for "how many albums does the artist Metallica have?" small models write
    ``SELECT COUNT(*) FROM Album AS T1 JOIN Track AS T2 ON T1.AlbumId = T2.AlbumId WHERE
    ...`` (one row per track) -> ``SELECT COUNT(*) FROM Album AS T1 WHERE ...``. Only when the
    query selects ``COUNT(*)`` alone, without grouping, from two tables joined along their one
    foreign key, the question asks the number of the referenced table's rows ("how many
    albums", "the number of albums") and never calls the referring table, which the query
    reads nowhere but in the join. Returns the fixes made."""
    tree = tree.copy()
    fixes: list[str] = []
    if (not isinstance(tree, exp.Select) or len(tree.expressions) != 1
            or not isinstance(tree.expressions[0], exp.Count)
            or any(tree.args.get(k) for k in ("group", "having", "distinct"))):
        return tree, fixes
    counted = [singular(m.group(1).lower()) for m in _COUNT_OF.finditer(question)]
    if not isinstance(tree.expressions[0].this, exp.Star):
        _count_rows_not_references(tree, schema, question, counted, fixes)
        return tree, fixes
    linked = _parent_and_child(tree, schema)
    if linked is None or not counted:
        return tree, fixes
    _, (pa, pt), (ca, ct) = linked
    if not table_words(schema, pt) & set(counted) or table_words(schema, ct) & question_words(question):
        return tree, fixes
    join, from_ = tree.args["joins"][0], tree.args["from_"]
    if _uses(tree, ca, ct, [pt], join.args["on"]):
        return tree, fixes
    if join.this.alias_or_name.lower() != ca:
        from_.set("this", join.this.copy())
    tree.set("joins", None)
    fixes.append(f"join {join.args['on'].sql()} dropped (the question counts {pt.name} rows, and the query "
                 f"reads {ct.name} nowhere else)")
    return tree, fixes


def _count_rows_not_references(select: exp.Select, schema: SchemaInfo, question: str, counted: list[str],
                               fixes: list[str]) -> None:
    """``COUNT(DISTINCT T1.MediaTypeId)`` (the media types the tracks have) -> ``COUNT(*)`` for
    "the number of tracks that are part of the rock genre": when the counted column is a
    foreign key of a table whose rows the question counts, to a table it never calls."""
    count = select.expressions[0]
    distinct = count.this
    if not isinstance(distinct, exp.Distinct) or len(distinct.expressions) != 1 \
            or not isinstance(col := distinct.expressions[0], exp.Column):
        return
    scope = build_scope(select)
    sources = _own_tables(scope, schema) if scope is not None else None
    if not sources:
        return
    owners = [sources[col.table.lower()]] if col.table.lower() in sources else [] if col.table else [
        t for t in sources.values() if t.column(col.name) is not None]
    if len(owners) != 1:
        return
    table = owners[0]
    refs = [schema.table(fk.ref_table) for fk in table.foreign_keys
            if [c.lower() for c in fk.columns] == [col.name.lower()]]
    if len(refs) != 1 or (ref := refs[0]) is None or not table_words(schema, table) & set(counted) \
            or table_words(schema, ref) & question_words(question):
        return
    new = exp.Count(this=exp.Star())
    fixes.append(f"{count.sql()} -> {new.sql()} (the question counts {table.name} rows, not the {ref.name} "
                 f"they refer to)")
    count.replace(new)


_GROUPED = re.compile(r"\b(?:each|every|per|by|different|various|respective|respectively|group|grouped|groups|"
                      r"apiece|breakdown|distribution|across)\b", re.IGNORECASE)
"""Words by which a question may ask one answer per group."""


def repair_grouping(tree: exp.Expression, question: str) -> tuple[exp.Expression, list[str]]:
    """A copy of ``tree`` that aggregates over all its rows when the question asks one figure
    and the query answers one per group it never shows: for "the average unit price of all
    the tracks" small models write ``SELECT AVG(UnitPrice) FROM Track GROUP BY UnitPrice
    ORDER BY AVG(UnitPrice)`` (one unlabelled average per price: each is that price) ->
    ``SELECT AVG(UnitPrice) FROM Track``. Only when every selected expression is an
    aggregate, every grouping key is a column that they aggregate, the query has no
    ``HAVING``, and the question has no word that may ask for groups ("each", "per", "by",
    "different", ...). The sort goes too (one row is left). Returns the fixes made."""
    tree = tree.copy()
    fixes: list[str] = []
    if not isinstance(tree, exp.Select) or tree.args.get("group") is None or tree.args.get("having") is not None \
            or tree.args.get("distinct") or _GROUPED.search(question):
        return tree, fixes
    for e in tree.expressions:
        inner = e.this if isinstance(e, exp.Alias) else e
        if not isinstance(inner, exp.AggFunc) or inner.find(exp.Window) is not None:
            return tree, fixes
    group = tree.args["group"]
    read = {c.name.lower() for e in tree.expressions for c in e.find_all(exp.Column)}
    if any(not isinstance(k, exp.Column) or k.name.lower() not in read for k in group.expressions):
        return tree, fixes
    tree.set("group", None)
    tree.set("order", None)
    fixes.append(f"dropped {group.sql()} (the question asks one figure, and the query shows no group)")
    return tree, fixes


_NUMBER_WORDS = {"zero": 0, "none": 0, "one": 1, "once": 1, "single": 1, "two": 2, "twice": 2, "both": 2,
                 "three": 3, "thrice": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                 "ten": 10, "eleven": 11, "twelve": 12, "dozen": 12, "twenty": 20, "hundred": 100}


def _numbers_named(question: str) -> set[float]:
    """The numbers a question names, in digits or in words."""
    out = {float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", question)}
    out |= {float(_NUMBER_WORDS[w]) for w in re.findall(r"[a-z]+", question.lower()) if w in _NUMBER_WORDS}
    return out


def repair_having(tree: exp.Expression, question: str) -> tuple[exp.Expression, list[str]]:
    """A copy of ``tree`` without a ``HAVING`` condition that compares an aggregate with a
    number the question never names: for "the albums and how many tracks are on each"
    small models add ``HAVING COUNT(*) >= 2`` after examples that had one. Only whole
    ``HAVING`` clauses whose every AND-ed condition is such a comparison (``COUNT(*) >= 2``,
    ``SUM(x) > 100``), in any query of ``tree``. Returns the fixes made."""
    tree = tree.copy()
    fixes: list[str] = []
    named = _numbers_named(question)
    for select in list(tree.find_all(exp.Select)):
        having = select.args.get("having")
        if having is None:
            continue
        conds = _conjuncts(having.this)
        invented = True
        for c in conds:
            if not isinstance(c, (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.EQ, exp.NEQ)):
                invented = False
                break
            agg, num = (c.this, c.expression) if isinstance(c.expression, exp.Literal) else (c.expression, c.this)
            if not isinstance(agg, exp.AggFunc) or not isinstance(num, exp.Literal) or num.is_string:
                invented = False
                break
            try:
                value = float(num.name)
            except ValueError:
                invented = False
                break
            if {value, value - 1, value + 1} & named:  # "at least 3" may be written > 2
                invented = False
                break
        if invented:
            select.set("having", None)
            fixes.append(f"dropped {having.sql()} (a number the question does not name)")
    return tree, fixes

_BOTH = re.compile(r"\bboth\b", re.IGNORECASE)


_Equality = tuple[exp.EQ, exp.Column, exp.Literal]


def _column_constants(where: exp.Expr) -> tuple[list[exp.Expr], dict[tuple[str, str], list[_Equality]]]:
    """A WHERE clause's conjuncts, and its ``column = constant`` ones by column (each with
    its column and its constant, whichever side they are on)."""
    conjuncts = _conjuncts(where)
    by_column: dict[tuple[str, str], list[_Equality]] = {}
    for c in conjuncts:
        if not isinstance(c, exp.EQ):
            continue
        col, const = (c.this, c.expression) if isinstance(c.this, exp.Column) else (c.expression, c.this)
        if isinstance(col, exp.Column) and isinstance(const, exp.Literal):
            by_column.setdefault((col.table.lower(), col.name.lower()), []).append((c, col, const))
    return conjuncts, by_column


def repair_contradiction(tree: exp.Expression, question: str) -> tuple[exp.Expression, list[str]]:
    """A copy of ``tree`` where a WHERE clause that sets one column equal to two different
    constants (never true: the query answers nothing) says what the question meant. For
    "albums with tracks of both the Reggae and Rock genres" small models write ``... WHERE
    T3.Name = 'Reggae' AND T3.Name = 'Rock'``: with "both" in the question, the rows that
    hold for each value (``... = 'Reggae' INTERSECT ... = 'Rock'``); without it ("customers
    in Brazil and Germany"), the rows of either (``Country IN ('Brazil', 'Germany')``).
    Only a plain top-level ``SELECT`` without aggregates, ``GROUP BY`` or ``LIMIT``, and one
    such column. Returns the fixes made."""
    tree = tree.copy()
    fixes: list[str] = []
    where = tree.args.get("where") if isinstance(tree, exp.Select) else None
    if (where is None or any(tree.args.get(k) for k in ("group", "having", "limit", "offset", "order"))
            or any(e.find(exp.AggFunc, exp.Window) for e in tree.expressions)):
        return tree, fixes
    conjuncts, by_column = _column_constants(where.this)
    clashing = [found for found in by_column.values() if len({const.sql() for _, _, const in found}) > 1]
    if len(clashing) != 1 or any(e.find(exp.Subquery) for e in conjuncts):
        return tree, fixes
    eqs = [eq for eq, _, _ in clashing[0]]
    col, constants = clashing[0][0][1], [const for _, _, const in clashing[0]]
    rest = [c for c in conjuncts if not any(c is e for e in eqs)]
    if _BOTH.search(question):
        branches = []
        for eq in eqs:
            branch = tree.copy()
            branch.set("where", exp.Where(this=exp.and_(*[c.copy() for c in rest], eq.copy())))
            branches.append(branch)
        fixed: exp.Expression = branches[0]
        for branch in branches[1:]:
            fixed = exp.Intersect(this=fixed, expression=branch, distinct=True)
        fixes.append(f"{col.sql()} cannot equal {len(eqs)} values at once; the question asks for rows "
                     f"with both: INTERSECT")
        return fixed, fixes
    either = exp.In(this=col.copy(), expressions=[c.copy() for c in constants])
    tree.set("where", exp.Where(this=exp.and_(*[c.copy() for c in rest], either)))
    fixes.append(f"{col.sql()} cannot equal {len(eqs)} values at once: either of them ({either.sql()})")
    return tree, fixes
