"""Types without executing: parameter types for Parse when the client declared none
(asyncpg and pgjdbc rely on them), and result column types from the introspected schema
(SQLite reports none of its own).

Rules for a ``$n`` the client left untyped, from its place in the statement:
compared with a column (``=``, ``<``, ``IN``, ``BETWEEN``, ``LIKE``, ``SET col =``,
``INSERT (col) VALUES``) -> that column's type; ``LIMIT``/``OFFSET`` -> int8;
``$n::type`` -> type; arithmetic with an integer -> int8, with a numeric or float ->
numeric/float8; anything else -> text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlglot import exp

from connectors.base import Column, SchemaInfo, TableInfo
from gateway.pgtypes import TYPES, normalize

_INTS = {"int2", "int4", "int8"}
_NUMS = _INTS | {"numeric", "float4", "float8"}


class SchemaIndex:
    """Fast lookups over one introspected schema."""

    def __init__(self, schema: SchemaInfo | None) -> None:
        self.schema = schema
        self.tables: dict[str, TableInfo] = {t.name.lower(): t for t in (schema.tables if schema else [])}
        by_col: dict[str, set[str]] = {}
        for t in self.tables.values():
            for c in t.columns:
                by_col.setdefault(c.name.lower(), set()).add(c.pg_type)
        # a column name every table agrees on the type of
        self.unique_col_type = {k: next(iter(v)) for k, v in by_col.items() if len(v) == 1}

    def table(self, name: str) -> TableInfo | None:
        return self.tables.get(name.lower())

    def column_type(self, table: str | None, column: str) -> str | None:
        if table:
            t = self.table(table)
            c = t.column(column) if t else None
            return c.pg_type if c else None
        return self.unique_col_type.get(column.lower())


class _Scope:
    """Tables named in a statement: alias or name (lower case) -> table name."""

    def __init__(self, tree: exp.Expr, index: SchemaIndex, params: Sequence[str] | None = None) -> None:
        self.index = index
        self.params = params  # the statement's parameter types ($1 first), where known
        self.aliases: dict[str, str] = {}
        self.order: list[tuple[str, str]] = []  # (alias, table) in FROM order
        for t in tree.find_all(exp.Table):
            if not isinstance(t.this, exp.Identifier):
                continue
            name = t.name
            alias = (t.alias or name).lower()
            self.aliases[alias] = name
            self.aliases.setdefault(name.lower(), name)
            self.order.append((alias, name))
        # derived tables, ``FROM (SELECT ...) AS s``: alias -> their SELECT
        self.derived: dict[str, exp.Select] = {
            sq.alias.lower(): sq.this for sq in tree.find_all(exp.Subquery)
            if sq.alias and isinstance(sq.this, exp.Select)
        }
        # common table expressions, ``WITH s(g) AS (SELECT 1 UNION ALL ...)``: their first SELECT
        self.named: dict[str, list[str]] = {}  # a CTE's column list, where it has one
        for cte in tree.find_all(exp.CTE):
            body = cte.this
            while isinstance(body, exp.SetOperation):
                body = body.this
            cte_alias = cte.args.get("alias")
            if not cte.alias or not isinstance(body, exp.Select):
                continue
            self.derived.setdefault(cte.alias.lower(), body)
            if isinstance(cte_alias, exp.TableAlias) and cte_alias.columns:
                self.named[cte.alias.lower()] = [c.name.lower() for c in cte_alias.columns]
        self._inner: dict[str, _Scope] = {}  # the scope of each derived table's SELECT, made once

    def column(self, col: exp.Column) -> tuple[str | None, str | None]:
        """(table name, pg type) of a column reference."""
        if col.table:
            if col.table.lower() in self.derived:
                return None, self._derived(col.table.lower(), col.name)
            table = self.aliases.get(col.table.lower(), col.table)
            return table, self.index.column_type(table, col.name)
        for _, table in self.order:
            t = self.index.table(table)
            if t is not None and t.column(col.name) is not None:
                return t.name, self.index.column_type(t.name, col.name)
        for alias in self.derived:
            found = self._derived(alias, col.name)
            if found is not None:
                return None, found
        return None, self.index.column_type(None, col.name)

    def _derived(self, alias: str, name: str) -> str | None:
        """The type of column ``name`` of the derived table ``alias`` (its select item's)."""
        select = self.derived[alias]
        names = self.named.get(alias)
        for i, item in enumerate(select.expressions):
            if (names[i] if names is not None and i < len(names) else item.alias_or_name.lower()) == name.lower():
                inner = self._inner.get(alias)
                if inner is None:
                    inner = self._inner[alias] = _Scope(select, self.index, self.params)
                return type_of(item, inner)
        return None


PARAM_MARK = "askgres_p"
"""The translator writes ``$n`` as the placeholder ``askgres_p<n>`` until it numbers the ``?``."""


def marked_number(node: exp.Placeholder) -> int | None:
    """``n`` of a placeholder :data:`PARAM_MARK` ``<n>`` (``None`` for any other)."""
    this = node.this
    if isinstance(this, str) and this.startswith(PARAM_MARK) and this[len(PARAM_MARK):].isdigit():
        return int(this[len(PARAM_MARK):])
    return None


def _declared(p: str | None) -> str | None:
    if p is None:
        return None
    low = p.strip().lower()
    if low in ("", "unknown", "0"):
        return None
    return normalize(low)


def infer_param_types(tree: exp.Expr, declared: Sequence[str | None], index: SchemaIndex) -> list[str]:
    """One PostgreSQL type name per ``$1..$n`` (n = the largest number used or declared)."""
    params = [p for p in tree.find_all(exp.Parameter) if _number(p) is not None]
    count = max([_number(p) or 0 for p in params] + [len(declared)])
    out: list[str | None] = [_declared(declared[i]) if i < len(declared) else None for i in range(count)]
    scope = _Scope(tree, index)
    for p in params:
        n = (_number(p) or 1) - 1
        if out[n] is not None:
            continue
        guess = _from_context(p, scope)
        if guess is not None:
            out[n] = guess
    return [t or "text" for t in out]


def _number(p: exp.Parameter) -> int | None:
    this = p.this
    if isinstance(this, exp.Literal) and not this.is_string:
        return int(this.this)
    if isinstance(this, (exp.Var, exp.Identifier)) and str(this.this).isdigit():
        return int(this.this)
    return None


_COMPARE = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike, exp.NullSafeEQ,
            exp.NullSafeNEQ, exp.Is)
_ARITH = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)


def _from_context(node: exp.Expr, scope: _Scope) -> str | None:  # noqa: C901 - one rule per context
    child = node
    parent = node.parent
    while isinstance(parent, exp.Paren):
        child, parent = parent, parent.parent
    if parent is None:
        return None
    if isinstance(parent, exp.Cast) and isinstance(parent.to, exp.DataType):
        return normalize(parent.to.sql("postgres"))
    if isinstance(parent, (exp.Limit, exp.Offset, exp.Fetch)):
        return "int8"
    if isinstance(parent, _COMPARE):
        other = parent.expression if parent.this is child else parent.this
        t = type_of(other, scope)
        return _widen(t) if t else None
    if isinstance(parent, exp.In):
        if parent.this is child:
            exprs = parent.expressions
            return type_of(exprs[0], scope) if exprs else None
        return type_of(parent.this, scope)
    if isinstance(parent, exp.Between):
        return type_of(parent.this, scope) if parent.this is not child else type_of(parent.args["low"], scope)
    if isinstance(parent, _ARITH):
        other = parent.expression if parent.this is child else parent.this
        t = type_of(other, scope)
        if t in _INTS:
            return "int8"
        if t in ("numeric", "float4", "float8"):
            return t
        return _from_context(parent, scope)
    if isinstance(parent, exp.Neg):
        return _from_context(parent, scope)
    if isinstance(parent, exp.Tuple) and isinstance(parent.parent, exp.Values):
        return _insert_column_type(parent, child, scope)
    if isinstance(parent, exp.Values):
        return None
    if isinstance(parent, exp.Coalesce):
        for e in [parent.this, *parent.expressions]:
            if e is not child:
                t = type_of(e, scope)
                if t:
                    return t
    return None


def _widen(t: str) -> str:
    """A parameter compared with a column takes the column's type (varchar -> text)."""
    return "text" if t in ("varchar", "bpchar", "name") else t


def _insert_column_type(row: exp.Tuple, child: exp.Expr, scope: _Scope) -> str | None:
    insert = row.find_ancestor(exp.Insert)
    if insert is None:
        return None
    target = insert.this
    pos = next((i for i, e in enumerate(row.expressions) if e is child), None)
    if pos is None:
        return None
    if isinstance(target, exp.Schema):
        table = target.this
        cols = [c.name for c in target.expressions]
    else:
        table = target
        info = scope.index.table(target.name) if isinstance(target, exp.Table) else None
        cols = [c.name for c in info.columns] if info else []
    if not isinstance(table, exp.Table) or pos >= len(cols):
        return None
    found = scope.index.column_type(table.name, cols[pos])
    return _widen(found) if found else None


def type_of(node: exp.Expr | None, scope: _Scope) -> str | None:  # noqa: C901 - a table of rules
    """The PostgreSQL type of an expression, when the schema and the expression say it."""
    if node is None:
        return None
    if isinstance(node, (exp.Paren, exp.Alias)):
        return type_of(node.this, scope)
    if isinstance(node, exp.Column):
        return scope.column(node)[1]
    if isinstance(node, (exp.Parameter, exp.Placeholder)):  # $n, or $n as the translator marks it
        n = _number(node) if isinstance(node, exp.Parameter) else marked_number(node)
        known = scope.params
        return known[n - 1] if known is not None and n is not None and 0 < n <= len(known) else None
    if isinstance(node, exp.Literal):
        if node.is_string:
            return "text"
        text = str(node.this)
        if any(c in text for c in ".eE"):
            return "numeric"
        return "int4" if abs(int(text)) < 2**31 else "int8"
    if isinstance(node, exp.Boolean):
        return "bool"
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Cast) and isinstance(node.to, exp.DataType):
        return normalize(node.to.sql("postgres"))
    if isinstance(node, (exp.Predicate, exp.Not, exp.And, exp.Or, exp.Exists, exp.In, exp.Between)):
        return "bool"
    if isinstance(node, exp.Count):
        return "int8"
    if isinstance(node, exp.Sum):
        t = type_of(node.this, scope)
        return "int8" if t in ("int2", "int4") else ("numeric" if t in ("int8", "numeric", None) else t)
    if isinstance(node, exp.Avg):
        t = type_of(node.this, scope)
        return "float8" if t in ("float4", "float8") else "numeric"
    if isinstance(node, (exp.Max, exp.Min, exp.Abs, exp.Coalesce, exp.Greatest, exp.Least, exp.Nullif, exp.Ceil,
                         exp.Floor)):
        return type_of(node.this, scope)
    if isinstance(node, exp.Round):
        return "numeric" if node.args.get("decimals") is not None else type_of(node.this, scope)
    if isinstance(node, (exp.Div, exp.IntDiv)):  # IntDiv: a Div the DuckDB translation rewrote below
        a, b = type_of(node.this, scope), type_of(node.expression, scope)
        return _arith(a, b)
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Mod)):
        a, b = type_of(node.this, scope), type_of(node.expression, scope)
        if isinstance(node, exp.Sub) and a in ("timestamp", "timestamptz", "date") and b == a:
            return "int4" if a == "date" else "interval"  # days between dates; the time between moments
        if a in ("timestamp", "timestamptz", "date") or b in ("timestamp", "timestamptz", "date"):
            if isinstance(node, (exp.Add, exp.Sub)) and "interval" in (a, b):  # a moment moved by an interval
                stamp = a if b == "interval" else b
                return "timestamptz" if stamp == "timestamptz" else "timestamp"
            return None
        return _arith(a, b)
    if isinstance(node, exp.Neg):
        return type_of(node.this, scope)
    if isinstance(node, (exp.DPipe, exp.Concat, exp.Lower, exp.Upper, exp.Trim, exp.Substring, exp.Left,
                         exp.Right, exp.GroupConcat, exp.Initcap, exp.Pad, exp.ArrayToString)):
        return "text"
    if isinstance(node, (exp.Length, exp.StrPosition, exp.ArraySize)):
        return "int4"
    if isinstance(node, (exp.Reverse, exp.Translate, exp.Format)):
        return "text"
    if isinstance(node, (exp.LogicalAnd, exp.LogicalOr, exp.StartsWith)):
        return "bool"
    if isinstance(node, exp.WidthBucket):
        return "int4"
    if isinstance(node, exp.Uuid):
        return "uuid"
    if isinstance(node, exp.Interval):
        return "interval"
    if isinstance(node, (exp.Stddev, exp.StddevPop, exp.StddevSamp, exp.Variance, exp.VariancePop)):
        return "float8" if type_of(node.this, scope) in ("float4", "float8") else "numeric"
    if isinstance(node, exp.StringToArray):
        return "_text"
    if isinstance(node, (exp.MD5, exp.SplitPart, exp.RegexpReplace, exp.JSONExtractScalar, exp.JSONBExtractScalar)):
        return "text"
    if isinstance(node, (exp.JSONExtract, exp.JSONBExtract)):  # -> and #>: the type of the left side
        return "jsonb" if type_of(node.this, scope) == "jsonb" else "json"
    if isinstance(node, exp.ArrayAgg):
        item = node.this.this if isinstance(node.this, exp.Order) else node.this
        if isinstance(item, exp.Distinct) and len(item.expressions) == 1:
            item = item.expressions[0]
        elem = type_of(item, scope)
        return f"_{elem}" if elem and f"_{elem}" in TYPES else "_text"
    if isinstance(node, exp.Array) and node.expressions:  # ARRAY[a, b]: the first typed element's array type
        elem = next((t for t in (type_of(e, scope) for e in node.expressions) if t), None)
        return f"_{elem}" if elem and f"_{elem}" in TYPES else "_text"
    if isinstance(node, exp.CurrentTimestamp):
        return "timestamptz"
    if isinstance(node, exp.CurrentDate):
        return "date"
    if isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)):
        return "timestamp"
    if isinstance(node, exp.Extract):
        return "numeric"
    if isinstance(node, exp.Case):
        for branch in node.args.get("ifs") or []:
            t = type_of(branch.args.get("true"), scope)
            if t:
                return t
        return type_of(node.args.get("default"), scope)
    if isinstance(node, exp.Window):
        return type_of(node.this, scope)
    if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select) and node.this.expressions:
        return type_of(node.this.expressions[0], _Scope(node.this, scope.index, scope.params))
    if isinstance(node, (exp.RowNumber, exp.Rank, exp.DenseRank)):
        return "int8"
    if isinstance(node, exp.Anonymous):
        name = str(node.this).lower()
        if name in ("lower", "upper", "concat", "replace", "substr", "btrim", "ltrim", "rtrim", "split_part",
                    "initcap", "md5", "to_char", "format", "string_agg"):
            return "text"
        if name in ("strpos", "length", "char_length", "octet_length", "cardinality"):
            return "int4"
        if name == "make_date":
            return "date"
        if name == "every":
            return "bool"
        if name in ("ascii",):
            return "int4"
        if name in ("chr", "concat_ws"):
            return "text"
    return None


def short_insert_table(tree: exp.Expr) -> tuple[str, int] | None:
    """``INSERT INTO t VALUES (1, 'b')`` with no column list: the table and the width of
    its rows (PostgreSQL fills the missing trailing columns with defaults, SQLite and
    DuckDB refuse; :func:`name_insert_columns` names the leading ones)."""
    if not isinstance(tree, exp.Insert) or not isinstance(tree.this, exp.Table):
        return None
    values = tree.expression
    if not isinstance(values, exp.Values) or not values.expressions:
        return None
    width = max(len(t.expressions) if isinstance(t, exp.Tuple) else 1 for t in values.expressions)
    return tree.this.name, width


def name_insert_columns(tree: exp.Expr, columns: list[str]) -> None:
    found = short_insert_table(tree)
    if found is None or found[1] >= len(columns):
        return
    assert isinstance(tree, exp.Insert)
    cols = [exp.to_identifier(c, quoted=True) for c in columns[:found[1]]]
    tree.set("this", exp.Schema(this=tree.this.copy(), expressions=cols))


def expression_typer(
    tree: exp.Expr, index: SchemaIndex, params: Sequence[str] | None = None,
) -> Callable[[exp.Expr], str | None]:
    """A function giving the type of an expression of ``tree`` (for the translator);
    ``params``: the types of its parameters, when a Parse gave or implied them."""
    scope = _Scope(tree, index, params)

    def typer(node: exp.Expr) -> str | None:
        return type_of(node, scope)

    return typer


def _arith(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return None
    if a in _INTS and b in _INTS:
        return "int8" if "int8" in (a, b) else "int4"
    if "float8" in (a, b) or "float4" in (a, b):
        return "float8"
    if a in _NUMS and b in _NUMS:
        return "numeric"
    return None


def typed_by_params(tree: exp.Expr) -> bool:
    """Whether the result or the translation of ``tree`` depends on its parameters' types:
    a parameter in arithmetic (``"Milliseconds" / $1`` divides integers as integers only
    when $1 is one) or selected as it is."""
    for p in tree.find_all(exp.Parameter):
        parent = p.parent
        while isinstance(parent, exp.Paren):
            parent = parent.parent
        if isinstance(parent, (*_ARITH, exp.Neg, exp.Select)) or (
                isinstance(parent, exp.Alias) and isinstance(parent.parent, exp.Select)):
            return True
    return False


def result_columns(
    tree: exp.Expr, index: SchemaIndex, params: Sequence[str] | None = None,
) -> list[Column | None] | None:
    """The result columns of a query as far as the schema says (``None`` entries where
    it cannot tell); ``None`` when the statement returns no rows or has a ``*`` over
    something other than known tables."""
    select = tree
    if isinstance(select, (exp.Insert, exp.Update, exp.Delete)):
        returning = select.args.get("returning")
        if returning is None:
            return None
        scope = _Scope(tree, index, params)
        return _projection(returning.expressions, scope)
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return None
    return _projection(select.expressions, _Scope(select, index, params))


def _projection(exprs: list[exp.Expr], scope: _Scope) -> list[Column | None] | None:
    from gateway.translate import pg_output_name

    out: list[Column | None] = []
    for e in exprs:
        if isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star)):
            qualifier = e.table if isinstance(e, exp.Column) else ""
            tables = [t for a, t in scope.order if not qualifier or a == qualifier.lower()]
            for name in tables:
                t = scope.index.table(name)
                if t is None:
                    return None
                out.extend(Column(c.name, c.pg_type if c.pg_type in TYPES else "text") for c in t.columns)
            if not tables:
                return None
            continue
        found = type_of(e, scope)
        name = pg_output_name(e)
        if isinstance(e, exp.Column):
            table, _ = scope.column(e)
            ti = scope.index.table(table) if table else None
            ci = ti.column(e.name) if ti else None
            name = ci.name if ci else e.name
        out.append(Column(name, found) if found else None)
    return out
