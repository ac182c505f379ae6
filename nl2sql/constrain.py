"""Keep generated identifiers inside the schema.

Small models invent names (``Albums``, ``GenreName``, ``Album.Name``). After parsing,
:func:`repair_identifiers` maps every unknown table and column to the nearest real one:
a case-insensitive match first, then a table-prefixed column (``GenreName`` ->
``Genre.Name``), then the same column in another table of the query, then a fuzzy match
on names, qualified by which tables the query reads. Unresolvable double-quoted names
become string literals (``LIKE "%rock%"``). What cannot be repaired is left for
validation, whose message goes back to the model.

:mod:`nl2sql.grammar` goes further and masks tokens during decoding.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, build_scope, traverse_scope

from connectors.base import SchemaInfo, TableInfo
from nl2sql.validate import cte_names

STOP_WORDS = frozenset(
    "a an the of in on at to for by with from and or is are was were be been do does did how many much "
    "what which who whom whose when where why list show give find all each every me their there that "
    "this these those have has had than more most less least number count total average per not no "
    "it its as into one two get return name names id".split()
)
"""Words of a question that name nothing in the data."""
_VAGUE = STOP_WORDS | frozenset("any some other only also just both either neither none".split())
CUTOFF = 0.62
"""Lowest similarity at which a fuzzy match replaces an unknown name."""

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def words(name: str) -> list[str]:
    """``InvoiceLineId`` -> ``['invoice', 'line', 'id']``; ``first_name`` -> ``['first', 'name']``."""
    return [w.lower() for w in _WORD.findall(name)]


_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'&/.\-]*[A-Za-z0-9]|[A-Za-z0-9]")
"""A token of a question: a word, a number, or a name like ``AC/DC`` or ``e-mail``."""


def question_words(question: str) -> set[str]:
    """Lower-cased, singularised content words of a question (camelCase split)."""
    out: set[str] = set()
    for tok in _TOKEN.findall(question):
        for w in [tok.lower(), *words(tok)]:
            if w not in STOP_WORDS and len(w) > 1:
                out.add(_singular(w))
    return out


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("es") and word[:-2].endswith(("s", "x", "ch", "sh")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def similarity(a: str, b: str) -> float:
    """How alike two identifiers are, 0..1 (1: the same up to case, ``_`` and plural)."""
    na, nb = _norm(a), _norm(b)
    if na == nb:
        return 1.0
    if _singular(na) == _singular(nb):
        return 0.97
    wa = {_singular(w) for w in words(a)}
    wb = {_singular(w) for w in words(b)}
    jaccard = len(wa & wb) / len(wa | wb) if wa and wb else 0.0
    subset = 0.8 if wa and wb and (wa <= wb or wb <= wa) else 0.0
    ratio = difflib.SequenceMatcher(None, na, nb).ratio()
    return max(ratio, jaccard * 0.9, subset)


def nearest(name: str, candidates: Iterable[str], *, cutoff: float = CUTOFF) -> str | None:
    """The candidate most like ``name`` (first one wins ties), or ``None`` below ``cutoff``."""
    best, best_score = None, cutoff
    for cand in candidates:
        score = similarity(name, cand)
        if score > best_score or (best is None and score >= best_score):
            best, best_score = cand, score
    return best


@dataclass
class _Source:
    alias: str
    table: TableInfo | None  # None: a derived table or CTE
    columns: list[str]  # output columns of a derived table / CTE


def _scope_sources(scope: Scope | None, schema: SchemaInfo) -> list[_Source]:
    """The sources visible from ``scope`` (its own first, then the enclosing scopes')."""
    out: list[_Source] = []
    seen: set[str] = set()
    while scope is not None:
        for alias, source in scope.sources.items():
            if alias.lower() in seen:
                continue
            seen.add(alias.lower())
            if isinstance(source, exp.Table):
                out.append(_Source(alias, schema.table(source.name), []))
            elif isinstance(source, Scope):
                names = list(getattr(source.expression, "named_selects", []) or [])
                out.append(_Source(alias, None, names))
        scope = scope.parent
    return out


def _projection_aliases(scope: Scope) -> set[str]:
    expr = scope.expression
    if isinstance(expr, exp.Select):
        return {e.alias.lower() for e in expr.expressions if isinstance(e, exp.Alias) and e.alias}
    return set()


def _has_column(source: _Source, name: str) -> str | None:
    if source.table is not None:
        col = source.table.column(name)
        return col.name if col else None
    low = name.lower()
    return next((c for c in source.columns if c.lower() == low), None)


def _repair_tables(tree: exp.Expression, schema: SchemaInfo, prefer: Sequence[str], fixes: list[str]) -> None:
    ctes = cte_names(tree)
    preferred = [t for t in prefer if schema.table(t) is not None]
    others = [t.name for t in schema.tables if t.name not in preferred]
    for table in tree.find_all(exp.Table):
        name = table.name
        if not name or name.lower() in ctes or schema.table(name) is not None:
            continue
        if not isinstance(table.this, exp.Identifier):
            continue
        real = nearest(name, preferred) or nearest(name, others)
        if real is not None:
            table.set("this", exp.to_identifier(real))
            fixes.append(f"table {name} -> {real}")


def _prefixed(name: str, sources: list[_Source]) -> tuple[_Source, str] | None:
    """``GenreName`` -> (the Genre source, ``Name``)."""
    for source in sources:
        if source.table is None:
            continue
        tname = _norm(source.table.name)
        low = _norm(name)
        for prefix in {tname, _singular(tname)}:
            if low.startswith(prefix) and len(low) > len(prefix):
                rest = low[len(prefix):]
                for col in source.table.columns:
                    if _norm(col.name) == rest:
                        return source, col.name
    return None


def _holder_of_all(qualifier: str, scope: Scope, sources: list[_Source]) -> _Source | None:
    """For an alias the query never defines (``T3.Name`` in a query of ``T1`` and ``T2``):
    the one table of the query that has every column written with it (``T3.Name``,
    ``T3.ArtistId``: Artist, not Album, which has no ``Name``)."""
    names = {c.name for c in scope.columns if c.table.lower() == qualifier.lower() and c.name}
    holders = [s for s in sources if s.table is not None and names and all(_has_column(s, n) for n in names)]
    return holders[0] if len(holders) == 1 else None


def _fix_column(col: exp.Column, scope: Scope, schema: SchemaInfo, fixes: list[str]) -> None:
    name = col.name
    if not name or isinstance(col.this, exp.Star):
        return
    sources = _scope_sources(scope, schema)
    qualifier = col.table
    before = col.sql()

    def set_to(source: _Source | None, column: str) -> None:
        col.set("this", exp.to_identifier(column))
        if source is not None:
            col.set("table", exp.to_identifier(source.alias))
        fixes.append(f"column {before} -> {col.sql()}")

    if qualifier:
        source = next((s for s in sources if s.alias.lower() == qualifier.lower()), None)
        if source is None:
            # qualified by a table name that has an alias, or by an invented name
            source = next((s for s in sources if s.table and s.table.name.lower() == qualifier.lower()), None)
            if source is None:
                aliased = [s for s in sources if s.table is not None]
                guess = nearest(qualifier, [s.table.name for s in aliased if s.table])
                source = next((s for s in aliased if s.table and s.table.name == guess), None)
            if source is None:
                source = _holder_of_all(qualifier, scope, sources)
                if source is not None:  # the alias's other columns too (their turn sees it fixed)
                    for other in scope.columns:
                        if other is not col and other.table.lower() == qualifier.lower():
                            was = other.sql()
                            other.set("table", exp.to_identifier(source.alias))
                            fixes.append(f"column {was} -> {other.sql()}")
            if source is None:
                return
            col.set("table", exp.to_identifier(source.alias))
        if source.table is None or _has_column(source, name):
            if col.sql() != before:
                fixes.append(f"column {before} -> {col.sql()}")
            return
        candidates = [source] + [s for s in sources if s is not source]
    else:
        if name.lower() in _projection_aliases(scope):
            return
        if any(_has_column(s, name) for s in sources):
            return
        if any(s.table is None for s in sources) and not any(s.table for s in sources):
            return  # only derived sources: their columns are checked by the database
        candidates = sources

    base = [s for s in candidates if s.table is not None]
    # 1. the same column in another table of the query
    for source in base:
        real = _has_column(source, name)
        if real:
            set_to(source, real)
            return
    # 2. a table-prefixed name: GenreName -> Genre.Name
    hit = _prefixed(name, base)
    if hit is not None:
        set_to(hit[0], hit[1])
        return
    # 3. the nearest column name, the qualifying table's first
    for source in base:
        assert source.table is not None
        real = nearest(name, [c.name for c in source.table.columns])
        if real is not None:
            set_to(source if qualifier or len(base) > 1 else None, real)
            return
    # 4. a double-quoted name that is no identifier was meant as a string
    if not qualifier and isinstance(col.this, exp.Identifier) and col.this.quoted:
        col.replace(exp.Literal.string(name))
        fixes.append(f"identifier {before} -> string '{name}'")


def repair_identifiers(
    tree: exp.Expression, schema: SchemaInfo, *, prefer: Sequence[str] = ()
) -> tuple[exp.Expression, list[str]]:
    """A copy of ``tree`` with unknown tables and columns mapped to real ones, and the list
    of fixes made (``["table Albums -> Album", ...]``). ``prefer``: the retrieved tables,
    tried first."""
    tree = tree.copy()
    fixes: list[str] = []
    _repair_tables(tree, schema, prefer, fixes)
    done: set[int] = set()
    for scope in _scopes(tree):
        for col in list(scope.columns):
            if id(col) in done:
                continue
            done.add(id(col))
            _fix_column(col, scope, schema, fixes)
    return tree, fixes


def _scopes(tree: exp.Expression) -> list[Scope]:
    """The query's scopes, or none when sqlglot cannot resolve them."""
    try:
        return list(traverse_scope(tree))
    except SqlglotError:
        return []


def column_owners(schema: SchemaInfo, name: str) -> list[str]:
    """Tables that have a column called ``name`` (for error messages fed back to the model)."""
    return [t.name for t in schema.tables if t.column(name) is not None]


ValueIndex = dict[str, list[tuple[str, str, str]]]
"""``lower(value) -> [(table, column, value)]``: the text values of a database
(:attr:`nl2sql.schema_index.DbSchema.values`)."""
Exists = Callable[[str, str, str], bool]
"""``exists(table, column, value)``: whether the database has ``value`` in that column."""


def repair_values(
    tree: exp.Expression, schema: SchemaInfo, values: ValueIndex, *, exists: Exists | None = None,
    question: str | None = None,
) -> tuple[exp.Expression, list[str]]:
    """A copy of ``tree`` where ``column = 'text'`` compares the text with a column that
    holds it. Small models name the right value on the wrong table of a join
    (``Track.Name = 'Jazz'`` beside ``JOIN Genre``): when the database has the value in
    none of the compared column's rows (``exists``, asked only then: the index keeps at
    most a few thousand values per column) but in one column of a table the query reads
    (another column of the same table first, then a column of the same name), the
    comparison moves there; when the compared column is a foreign key to a table the
    query does not read, which has the value in one column, the comparison becomes
    ``key IN (SELECT ref FROM that table WHERE column = 'text')``. A value that differs from the stored
    one only in case takes the stored spelling.

    With ``question`` (and ``exists``), a comparison that stays with a value its column
    does not hold and that the question does not name either (``Employee.State = 'FL'``
    for "how many cities do employees live in?", ``Genre.Name = 'Track'``) is dropped
    when it is one of the WHERE clause's AND-ed conditions: it could only make the answer
    empty, and small models invent such filters after examples that have one. A value
    the question names stays (an empty answer then says that there is no such row).
    Returns the fixes made."""
    tree = tree.copy()
    fixes: list[str] = []
    for scope in _scopes(tree):
        sources = [s for s in _scope_sources(scope, schema) if s.table is not None]
        for col in list(scope.columns):
            parent = col.parent
            if not isinstance(parent, exp.EQ):
                continue
            lit = parent.expression if parent.this is col else parent.this
            if not (isinstance(lit, exp.Literal) and lit.is_string):
                continue
            owners = values.get(lit.this.strip().lower(), [])
            if not owners and (question is None or exists is None):
                continue
            if col.table:
                mine = [s for s in sources if s.alias.lower() == col.table.lower()]
            else:
                mine = [s for s in sources if _has_column(s, col.name)]
            if len(mine) != 1:
                continue
            source = mine[0]
            assert source.table is not None
            name = _has_column(source, col.name)
            if name is None:
                continue
            here = [v for t, c, v in owners if t == source.table.name and c == name]
            if here:
                if lit.this not in here:
                    fixes.append(f"value '{lit.this}' -> '{here[0]}'")
                    lit.replace(exp.Literal.string(here[0]))
                continue
            if exists is not None and exists(source.table.name, name, lit.this):
                continue
            if owners and _move_value(parent, col, lit, source, name, sources, owners, fixes):
                continue
            if question is not None and not named_in(lit.this, question):
                _drop_condition(parent, fixes)
    return tree, fixes


def _move_value(eq: exp.EQ, col: exp.Column, lit: exp.Literal, source: _Source, name: str,
                sources: list[_Source], owners: list[tuple[str, str, str]], fixes: list[str]) -> bool:
    """Move ``col = lit`` to the one column of the query's tables that holds the value (or
    through ``col``'s foreign key); True when moved, or when several columns hold it."""
    assert source.table is not None
    elsewhere = {(s.alias, c): (t, v) for s in sources for t, c, v in owners
                 if s.table is not None and t == s.table.name}
    if len(elsewhere) > 1:  # the model's table, then a column of the model's name
        mine_only = {k: v for k, v in elsewhere.items() if k[0] == source.alias}
        same = {k: v for k, v in elsewhere.items() if k[1].lower() == name.lower()}
        elsewhere = mine_only or same or elsewhere
    if not elsewhere:
        return _through_key(eq, col, source.table, name, owners, fixes)
    if len(elsewhere) != 1:
        return True
    (alias, column), (table, value) = next(iter(elsewhere.items()))
    new = exp.column(column, table=alias)
    fixes.append(f"{col.sql()} = '{lit.this}' -> {new.sql()} = '{value}' (the value is {column} of {table})")
    col.replace(new)
    lit.replace(exp.Literal.string(value))
    return True


def named_in(value: str, question: str) -> bool:
    """Whether ``question`` names ``value``, whole or in part: the value, or one of its
    words that is not a stop word, as whole words in any case (``'Pop Music'`` for "pop
    tracks"; not ``'Track'`` for "all the tracks", nor ``'FL'``)."""
    text = " ".join(question.lower().split())
    wanted = " ".join(value.lower().split())
    if not wanted:
        return False
    parts = [wanted] + [w for w in re.findall(r"[^\W_]+", wanted) if len(w) > 2 and w not in _VAGUE]
    return any(re.search(r"(?<!\w)" + re.escape(p) + r"(?!\w)", text) for p in parts)


def _drop_condition(eq: exp.EQ, fixes: list[str]) -> None:
    """Remove ``eq`` when it is one of the AND-ed conditions of a WHERE clause."""
    target: exp.Expression = eq
    while isinstance(target.parent, exp.Paren):
        target = target.parent
    node = target.parent
    while isinstance(node, (exp.And, exp.Paren)):
        node = node.parent
    if not isinstance(node, exp.Where):
        return
    parent = target.parent
    if isinstance(parent, exp.Where):
        parent.pop()
    elif isinstance(parent, exp.And):
        parent.replace(parent.right if parent.left is target else parent.left)
    else:
        return
    fixes.append(f"dropped {eq.sql()} (a value neither the column nor the question has)")


def _through_key(eq: exp.EQ, col: exp.Column, table: TableInfo, name: str,
                 owners: list[tuple[str, str, str]], fixes: list[str]) -> bool:
    """``Track.GenreId = 'Jazz'`` -> ``Track.GenreId IN (SELECT GenreId FROM Genre WHERE Name = 'Jazz')``;
    True when done."""
    for fk in table.foreign_keys:
        if len(fk.columns) != 1 or fk.columns[0].lower() != name.lower():
            continue
        held = {(c, v) for t, c, v in owners if t.lower() == fk.ref_table.lower()}
        if len(held) != 1:
            return bool(held)
        column, value = held.pop()
        sub = exp.select(exp.column(fk.ref_columns[0])).from_(exp.to_table(fk.ref_table)).where(
            exp.EQ(this=exp.column(column), expression=exp.Literal.string(value)))
        new = col.copy().isin(query=sub)
        fixes.append(f"{eq.sql()} -> {new.sql()}")
        eq.replace(new)
        return True
    return False


def table_words(schema: SchemaInfo, table: TableInfo) -> set[str]:
    """Words a question may call ``table`` by: its name's (``media``, ``type``) and those of
    the foreign keys that point at it (``SupportRepId`` -> ``support``, ``rep`` for
    Employee), singular, stop words left out."""
    names = [table.name] + [c for t in schema.tables for fk in t.foreign_keys
                            if fk.ref_table.lower() == table.name.lower() for c in fk.columns]
    return {_singular(w) for n in names for w in words(n) if w not in STOP_WORDS}


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
    for scope in _scopes(tree):
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
    said = {w.lower() for w in _TOKEN.findall(question)} | question_words(question)
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


def _meant(table: str, value: str, holders: dict[str, list[TableInfo]]) -> bool:
    """Whether ``table`` is the one a question naming ``value`` means: the only table that holds
    it, or, of several, the one short list (at most :data:`CATEGORY_ROWS` rows, fewer than
    every other holder): "pop tracks" names Genre's 'Pop', not the album titled 'Pop'."""
    tables = holders.get(value.strip().lower(), [])
    if len(tables) <= 1:
        return True
    mine = [t for t in tables if t.name.lower() == table.lower()]
    if len(mine) != 1 or mine[0].row_count > CATEGORY_ROWS:
        return False
    return all(t.row_count > mine[0].row_count for t in tables if t is not mine[0])


def repair_missing_value(
    tree: exp.Expression, schema: SchemaInfo, named: dict[tuple[str, str], list[str]],
) -> tuple[exp.Expression, list[str]]:
    """A copy of ``tree`` that filters on the value the question names when the query forgot
    it: for "the longest and shortest pop tracks", ``SELECT MAX(Milliseconds),
    MIN(Milliseconds) FROM Track`` -> ``... WHERE Track.GenreId IN (SELECT GenreId FROM Genre
    WHERE Name = 'Pop')``. ``named`` is what retrieval found the question naming (table,
    column -> values: quoted strings and word n-grams equal to a stored value). Only when
    exactly one named value qualifies: no other column holds it (or the others are longer
    lists than its table, a category: :func:`_meant`), its table is not in the query, one table of the query has one foreign key to it, no text of the query has it as a
    word, and no column of its table holds another named value. The outermost query only. Returns the fixes made."""
    tree = tree.copy()
    fixes: list[str] = []
    if not isinstance(tree, exp.Select) or not named:
        return tree, fixes
    scope = build_scope(tree)
    if scope is None:
        return tree, fixes
    sources = {alias: t for alias, src in scope.sources.items()
               if isinstance(src, exp.Table) and (t := schema.table(src.name)) is not None}
    if len(sources) != len(scope.sources):
        return tree, fixes
    texts = [lit.this.strip().lower() for lit in tree.find_all(exp.Literal) if lit.is_string]
    texts += [c.name.strip().lower() for c in tree.find_all(exp.Column) if c.this.args.get("quoted")]  # "Pop"
    in_query = {t.name.lower() for t in sources.values()}
    holders: dict[str, list[TableInfo]] = {}
    for (table, _), values in named.items():
        for v in values:
            if (t := schema.table(table)) is not None:
                holders.setdefault(v.strip().lower(), []).append(t)
    by_table: dict[str, list[tuple[str, str]]] = {}
    for (table, column), values in named.items():
        by_table.setdefault(table.lower(), []).extend((column, v) for v in values if _meant(table, v, holders))
    found: list[tuple[str, str, str, str, str]] = []  # alias, key column, table, column, value
    for table, pairs in by_table.items():
        ref = schema.table(table)
        if ref is None or table in in_query or len(pairs) != 1 or len(ref.primary_key) != 1:
            continue
        column, value = pairs[0]
        low = value.strip().lower()
        if column.lower() in {k.lower() for k in ref.primary_key} or any(
                re.search(r"(?<!\w)" + re.escape(low) + r"(?!\w)", t) for t in texts):
            continue  # another table's value too, a key, or the query has it (maybe inside a longer text)
        links = [(alias, fk.columns[0]) for alias, t in sources.items() for fk in t.foreign_keys
                 if fk.ref_table.lower() == table and len(fk.columns) == 1]
        if len(links) == 1:
            found.append((links[0][0], links[0][1], ref.name, column, value))
    if len(found) != 1:
        return tree, fixes
    alias, key, table, column, value = found[0]
    ref = schema.table(table)
    assert ref is not None
    sub = exp.select(exp.column(ref.primary_key[0])).from_(exp.to_table(table)).where(
        exp.EQ(this=exp.column(column), expression=exp.Literal.string(value)))
    cond = exp.column(key, table=alias).isin(query=sub)
    tree.where(cond, copy=False)
    fixes.append(f"added {cond.sql()} (the question names {table}.{column} '{value}')")
    return tree, fixes


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


def _one_column_keys(child: TableInfo, parent: TableInfo) -> list[tuple[str, str]]:
    """``(column of child, column of parent)`` for each single-column foreign key from ``child`` to ``parent``."""
    return [(fk.columns[0], fk.ref_columns[0]) for fk in child.foreign_keys
            if fk.ref_table.lower() == parent.name.lower() and len(fk.columns) == len(fk.ref_columns) == 1]


def _key_pairs(a: TableInfo, b: TableInfo) -> list[tuple[str, str]]:
    """``(column of a, column of b)`` for each single-column foreign key between ``a`` and ``b``."""
    return _one_column_keys(a, b) + [(x, y) for y, x in _one_column_keys(b, a)]


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
    for scope in _scopes(tree):
        sources = {s.alias.lower(): s.table for s in _scope_sources(scope, schema)}
        for eq in list(_join_conditions(scope)):
            left, right = eq.this, eq.expression
            if not (isinstance(left, exp.Column) and isinstance(right, exp.Column) and left.table and right.table):
                continue
            a, b = sources.get(left.table.lower()), sources.get(right.table.lower())
            if a is None or b is None or a.name.lower() == b.name.lower():
                continue
            if left.name.lower() == right.name.lower():
                continue
            pairs = _key_pairs(a, b)
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


def _uses(select: exp.Select, alias: str, table: TableInfo, others: list[TableInfo], skip: exp.Expression) -> bool:
    """Whether ``select`` reads the source ``alias`` anywhere but in ``skip``: a column qualified by
    it, or an unqualified one that only its table has."""
    low = alias.lower()
    for col in select.find_all(exp.Column):
        if _inside(col, skip):
            continue
        if col.table:
            if col.table.lower() == low:
                return True
        elif table.column(col.name) is not None and not any(o.column(col.name) is not None for o in others):
            return True
    return False


def _inside(node: exp.Expression, outer: exp.Expression) -> bool:
    return any(n is node for n in outer.walk())


def repair_stray_joins(tree: exp.Expression, schema: SchemaInfo) -> tuple[exp.Expression, list[str]]:
    """A copy of ``tree`` without a joined table that the query reads nowhere but in a join
    condition equating its primary key with another table's (``FROM Genre AS T1 JOIN
    Playlist AS T2 ON T1.GenreId = T2.PlaylistId`` for "the names of the genres"): two
    tables' own keys of other names, with no foreign key between them, match by accident
    of numbering. Inner joins with a one-equality condition only; a ``*`` reads every
    table. Returns the fixes made."""
    tree = tree.copy()
    fixes: list[str] = []
    for scope in _scopes(tree):
        select = scope.expression
        if not isinstance(select, exp.Select):
            continue
        joins = list(select.args.get("joins") or [])
        if not joins or any(isinstance(e, exp.Star) or (isinstance(e, exp.Column) and e.is_star)
                            for e in select.expressions):
            continue
        sources = {alias.lower(): t for alias, src in scope.sources.items()
                   if isinstance(src, exp.Table) and (t := schema.table(src.name)) is not None}
        if len(sources) != len(scope.sources):
            continue
        for join in joins:
            on = join.args.get("on")
            if (join.side or join.kind or join.args.get("using") or not isinstance(on, exp.EQ)
                    or not isinstance(on.this, exp.Column) or not isinstance(on.expression, exp.Column)):
                continue
            left, right = on.this, on.expression
            a, b = _own_key(left, sources), _own_key(right, sources)
            if a is None or b is None or a.name.lower() == b.name.lower() or left.name.lower() == right.name.lower() \
                    or _key_pairs(a, b):
                continue
            joined = join.alias_or_name.lower()
            from_ = select.args.get("from_")
            first = from_.this if from_ is not None else None
            for col, table in ((left, a), (right, b)):
                alias = col.table.lower()
                others = [t for k, t in sources.items() if k != alias]
                if _uses(select, alias, table, others, on):
                    continue
                if alias == joined:
                    select.set("joins", [j for j in select.args["joins"] if j is not join])
                elif (len(joins) == 1 and from_ is not None and isinstance(first, exp.Table)
                      and first.alias_or_name.lower() == alias):
                    from_.set("this", join.this.copy())
                    select.set("joins", None)
                else:
                    continue
                fixes.append(f"join {on.sql()} dropped ({table.name} is read nowhere else, and no foreign key "
                             f"links it to {(b if table is a else a).name})")
                break
    return tree, fixes


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
