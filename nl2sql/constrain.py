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
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope

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


TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'&/.\-]*[A-Za-z0-9]|[A-Za-z0-9]")
"""A token of a question: a word, a number, or a name like ``AC/DC`` or ``e-mail``."""


def question_words(question: str) -> set[str]:
    """Lower-cased, singularised content words of a question (camelCase split)."""
    out: set[str] = set()
    for tok in TOKEN.findall(question):
        for w in [tok.lower(), *words(tok)]:
            if w not in STOP_WORDS and len(w) > 1:
                out.add(singular(w))
    return out


def table_words(schema: SchemaInfo, table: TableInfo) -> set[str]:
    """Words a question may call ``table`` by: its name's (``media``, ``type``) and those of
    the foreign keys that point at it (``SupportRepId`` -> ``support``, ``rep`` for
    Employee), singular, stop words left out."""
    names = [table.name] + [c for t in schema.tables for fk in t.foreign_keys
                            if fk.ref_table.lower() == table.name.lower() for c in fk.columns]
    return {singular(w) for n in names for w in words(n) if w not in STOP_WORDS}


def one_column_keys(child: TableInfo, parent: TableInfo) -> list[tuple[str, str]]:
    """``(column of child, column of parent)`` for each single-column foreign key from ``child`` to ``parent``."""
    return [(fk.columns[0], fk.ref_columns[0]) for fk in child.foreign_keys
            if fk.ref_table.lower() == parent.name.lower() and len(fk.columns) == len(fk.ref_columns) == 1]


def key_pairs(a: TableInfo, b: TableInfo) -> list[tuple[str, str]]:
    """``(column of a, column of b)`` for each single-column foreign key between ``a`` and ``b``."""
    return one_column_keys(a, b) + [(x, y) for y, x in one_column_keys(b, a)]


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def singular(word: str) -> str:
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
    if singular(na) == singular(nb):
        return 0.97
    wa = {singular(w) for w in words(a)}
    wb = {singular(w) for w in words(b)}
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


def scope_sources(scope: Scope | None, schema: SchemaInfo) -> list[_Source]:
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
        for prefix in {tname, singular(tname)}:
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
    sources = scope_sources(scope, schema)
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
    for scope in select_scopes(tree):
        for col in list(scope.columns):
            if id(col) in done:
                continue
            done.add(id(col))
            _fix_column(col, scope, schema, fixes)
    return tree, fixes


def select_scopes(tree: exp.Expression) -> list[Scope]:
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
    done: set[int] = set()  # columns resolved in an inner scope: an enclosing one lists them too
    for scope in select_scopes(tree):
        sources = [s for s in scope_sources(scope, schema) if s.table is not None]
        for col in list(scope.columns):
            if id(col) in done:
                continue
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
            else:  # the innermost scope that has the column is the one it names
                own = {a.lower() for a in scope.sources}
                mine = [s for s in sources if s.alias.lower() in own and _has_column(s, col.name)] or [
                    s for s in sources if _has_column(s, col.name)]
            if len(mine) != 1:
                continue
            done.add(id(col))
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
                if question is not None:
                    _to_called(parent, col, lit, source, sources, owners, fixes, schema, question)
                continue
            if exists is not None and exists(source.table.name, name, lit.this):
                continue
            named = question is None or named_in(lit.this, question)
            if owners and _move_value(parent, col, lit, source, name, sources, owners, fixes, schema, named):
                continue
            if not named:
                _drop_condition(parent, fixes)
    return tree, fixes


def _move_value(eq: exp.EQ, col: exp.Column, lit: exp.Literal, source: _Source, name: str,
                sources: list[_Source], owners: list[tuple[str, str, str]], fixes: list[str],
                schema: SchemaInfo, named: bool) -> bool:
    """Move ``col = lit`` to the one column of the query's tables that holds the value (or
    through a foreign key; to a table that refers to the query's only when the question
    names the value); True when moved, or when several columns hold it."""
    assert source.table is not None
    elsewhere = {(s.alias, c): (t, v) for s in sources for t, c, v in owners
                 if s.table is not None and t == s.table.name}
    if len(elsewhere) > 1:  # the model's table, then a column of the model's name
        mine_only = {k: v for k, v in elsewhere.items() if k[0] == source.alias}
        same = {k: v for k, v in elsewhere.items() if k[1].lower() == name.lower()}
        elsewhere = mine_only or same or elsewhere
    if not elsewhere:
        return (_through_key(eq, col, source.table, name, owners, fixes)
                or (named and _through_linked(eq, col, source.table, owners, fixes, schema)))
    if len(elsewhere) != 1:
        return True
    (alias, column), (table, value) = next(iter(elsewhere.items()))
    new = exp.column(column, table=alias)
    fixes.append(f"{col.sql()} = '{lit.this}' -> {new.sql()} = '{value}' (the value is {column} of {table})")
    col.replace(new)
    lit.replace(exp.Literal.string(value))
    return True


def _to_called(eq: exp.EQ, col: exp.Column, lit: exp.Literal, source: _Source, sources: list[_Source],
               owners: list[tuple[str, str, str]], fixes: list[str], schema: SchemaInfo, question: str) -> bool:
    """Move ``col = lit``, whose column holds the value, to the one other table holding it that
    the question calls by name while it does not call ``col``'s: "albums by the artist
    Metallica" compared on ``Track.Composer`` (Metallica composed tracks too) -> the artist's
    name, in the query or through the one foreign key between Artist and a table of the
    query (``Album.ArtistId IN (SELECT ArtistId FROM Artist WHERE Name = 'Metallica')``).
    True when moved."""
    assert source.table is not None
    asked = question_words(question)
    if table_words(schema, source.table) & asked:
        return False
    called = {t for t, _, _ in owners if t != source.table.name
              and (info := schema.table(t)) is not None and table_words(schema, info) & asked}
    if len(called) != 1:
        return False
    holder = schema.table(called.pop())
    assert holder is not None
    held = {(c, v) for t, c, v in owners if t == holder.name}
    if len(held) != 1:
        return False
    column, value = held.pop()
    if any(fk.ref_table.lower() == holder.name.lower() and [x.lower() for x in fk.columns] == [col.name.lower()]
           for fk in source.table.foreign_keys):
        return False  # the compared column is a key to the holder's: the same value either way
    present = [s for s in sources if s.table is not None and s.table.name == holder.name]
    if len(present) == 1:
        new = exp.column(column, table=present[0].alias)
        fixes.append(f"{col.sql()} = '{lit.this}' -> {new.sql()} = '{value}' (the question calls it "
                     f"{holder.name}'s)")
        col.replace(new)
        lit.replace(exp.Literal.string(value))
        return True
    if present:
        return False
    links = [(s.alias, here, there) for s in sources if s.table is not None  # alias, its key, the holder's
             for here, there in key_pairs(s.table, holder)]
    if len(links) != 1:
        return False
    alias, here, there = links[0]
    new_cond = exp.column(here, table=alias).isin(query=keys_holding(there, holder.name, column, value))
    fixes.append(f"{eq.sql()} -> {new_cond.sql()} (the question calls the value {holder.name}'s)")
    eq.replace(new_cond)
    return True


def keys_holding(key: str, table: str, column: str, value: str) -> exp.Select:
    """``SELECT key FROM table WHERE column = 'value'``: the subquery a filter moved to
    another table goes through."""
    return exp.select(exp.column(key)).from_(exp.to_table(table)).where(
        exp.EQ(this=exp.column(column), expression=exp.Literal.string(value)))


def _through_linked(eq: exp.EQ, col: exp.Column, table: TableInfo, owners: list[tuple[str, str, str]],
                    fixes: list[str], schema: SchemaInfo) -> bool:
    """A value ``table`` holds nowhere, held (in one column) by exactly one table that one
    foreign key links to ``table``, either way round; True when done:

    * the holder refers to ``table``: ``Employee.FirstName = 'Leonie'`` (or ``EmployeeId =
      'Leonie'``) for "the employee who helps the customer Leonie" -> the rows the holder
      points at, ``Employee.EmployeeId IN (SELECT SupportRepId FROM Customer WHERE
      FirstName = 'Leonie')``;
    * ``table`` refers to the holder: ``Track.Name = 'Reggae'`` for "albums with Reggae
      genre tracks" -> ``Track.GenreId IN (SELECT GenreId FROM Genre WHERE Name = 'Reggae')``."""
    found: list[tuple[str, str, str, str, str, str]] = []  # (holder, column, value, key here, key there, link)
    for t, c, v in owners:
        ref = schema.table(t)
        if ref is None or ref.name.lower() == table.name.lower():
            continue
        back = [fk for fk in ref.foreign_keys if fk.ref_table.lower() == table.name.lower() and len(fk.columns) == 1]
        out = [fk for fk in table.foreign_keys if fk.ref_table.lower() == ref.name.lower() and len(fk.columns) == 1]
        if len(back) + len(out) != 1:
            continue
        if back and len(table.primary_key) == 1:
            found.append((ref.name, c, v, table.primary_key[0], back[0].columns[0], f"which refers to {table.name}"))
        elif out:
            found.append((ref.name, c, v, out[0].columns[0], out[0].ref_columns[0], f"which {table.name} refers to"))
    if len({(t, c) for t, c, *_ in found}) != 1:
        return False
    holder, column, value, here, there, link = found[0]
    new = exp.column(here, table=col.table or None).isin(query=keys_holding(there, holder, column, value))
    fixes.append(f"{eq.sql()} -> {new.sql()} (the value is {column} of {holder}, {link})")
    eq.replace(new)
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
        new = col.copy().isin(query=keys_holding(fk.ref_columns[0], fk.ref_table, column, value))
        fixes.append(f"{eq.sql()} -> {new.sql()}")
        eq.replace(new)
        return True
    return False
