"""Validation of generated SQL: one read-only query whose tables and columns exist.

Parsed with sqlglot in the backend's dialect. Allowed: a single SELECT (with WITH, UNION,
INTERSECT, EXCEPT, subqueries). Rejected: writes, DDL, ATTACH, PRAGMA, COPY, INSTALL,
LOAD, SET, SELECT INTO, several statements, table functions (``read_csv(...)``) and
file paths in FROM, functions that reach outside the database (``load_extension``...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import re
from typing import Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.qualify import qualify

from connectors.base import SchemaInfo

ErrorKind = Literal["parse", "not_read_only", "unknown_table", "unknown_column"]

_QUERY_ROOTS = (exp.Select, exp.SetOperation, exp.Subquery, exp.Paren)
_FORBIDDEN_NODES: tuple[type[exp.Expression], ...] = (
    exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter,
    exp.Command, exp.Pragma, exp.Attach, exp.Detach, exp.Copy, exp.Install, exp.Set,
    exp.Into, exp.TruncateTable, exp.Use, exp.Transaction, exp.Commit, exp.Rollback,
    exp.LoadData,
)
_FORBIDDEN_FUNCTIONS = frozenset({
    "load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "getenv",
    "read_csv", "read_csv_auto", "read_parquet", "parquet_scan", "read_json", "read_json_auto",
    "read_ndjson", "read_text", "read_blob", "glob", "sniff_csv", "query", "query_table",
    "current_setting", "set_config", "pg_read_file", "pg_sleep", "sqlite_compileoption_get",
})
_SCHEMA_QUALIFIERS = {"", "main"}


class ValidationError(Exception):
    """Generated SQL that may not run; ``kind`` says why, the message is fed back to the model."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message


@dataclass
class Checked:
    """A validated query: its tree, its SQL in the backend dialect and the tables it reads."""

    tree: exp.Expression
    sql: str
    tables: list[str] = field(default_factory=list)


def parse_query(sql: str, dialect: str) -> exp.Expression:
    """Exactly one statement, parsed; raises :class:`ValidationError` (``parse``)."""
    text = sql.strip()
    if not text:
        raise ValidationError("parse", "empty SQL")
    try:
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    except SqlglotError as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValidationError("parse", f"syntax error: {first}") from None
    if not statements:
        raise ValidationError("parse", "empty SQL")
    if len(statements) > 1:
        raise ValidationError("not_read_only", "only one statement is allowed")
    tree = statements[0]
    if not isinstance(tree, exp.Expression):
        raise ValidationError("parse", "not a SQL statement")
    for select in tree.find_all(exp.Select):
        if not select.expressions:
            raise ValidationError("parse", "incomplete SQL: SELECT without anything to select")
    return tree


def function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    return node.sql_name().lower()


def check_read_only(tree: exp.Expression) -> None:
    """Raises :class:`ValidationError` (``not_read_only``) unless ``tree`` is a pure query."""
    if not isinstance(tree, _QUERY_ROOTS):
        raise ValidationError("not_read_only", f"only SELECT queries are allowed, not {tree.key.upper()}")
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise ValidationError("not_read_only", f"{node.key.upper()} is not allowed in a question's SQL")
        if isinstance(node, exp.Func) and function_name(node) in _FORBIDDEN_FUNCTIONS:
            raise ValidationError("not_read_only", f"function {function_name(node)}() is not allowed")
        if isinstance(node, exp.Table) and not isinstance(node.this, exp.Identifier):
            raise ValidationError("not_read_only", "table functions are not allowed in FROM")


def cte_names(tree: exp.Expression) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def query_tables(tree: exp.Expression) -> list[exp.Table]:
    """The base-table references of ``tree`` (not CTE names)."""
    ctes = cte_names(tree)
    return [t for t in tree.find_all(exp.Table) if t.name and t.name.lower() not in ctes]


def check_tables(tree: exp.Expression, schema: SchemaInfo) -> list[str]:
    """The real names of the tables read; raises ``unknown_table`` for any other."""
    names: list[str] = []
    for table in query_tables(tree):
        if table.args.get("catalog") is not None or table.db.lower() not in _SCHEMA_QUALIFIERS:
            raise ValidationError("unknown_table", f"table {table.sql()} is outside the database")
        info = schema.table(table.name)
        if info is None:
            raise ValidationError("unknown_table", f"no such table: {table.name}")
        if info.name not in names:
            names.append(info.name)
    return names


def sqlglot_schema(schema: SchemaInfo) -> dict[str, object]:
    """``{table: {column: type}}`` with lower-case names, for :func:`qualify`."""
    return {
        t.name.lower(): {c.name.lower(): (c.pg_type or "text") for c in t.columns}
        for t in schema.tables
    }


def _lower_identifiers(tree: exp.Expression) -> exp.Expression:
    """A copy with every identifier lower-cased (SQLite and DuckDB match names case-insensitively)."""
    copy = tree.copy()
    for ident in copy.find_all(exp.Identifier):
        ident.set("this", str(ident.this).lower())
        ident.set("quoted", False)
    return copy


def check_columns(tree: exp.Expression, schema: SchemaInfo, dialect: str) -> None:
    """Raises ``unknown_column`` when a column cannot be resolved against the schema."""
    try:
        qualify(
            _lower_identifiers(tree),
            schema=sqlglot_schema(schema),
            dialect=dialect,
            validate_qualify_columns=True,
            quote_identifiers=False,
            identify=False,
            expand_stars=False,
        )
    except OptimizeError as e:
        raise ValidationError("unknown_column", _column_message(str(e), tree)) from None
    except SqlglotError:
        return  # a construct qualify does not model: let the database judge it


_UNRESOLVED = re.compile(r"(?:Column '([^']+)' could not be resolved|Unknown column: (\S+))")


def _column_message(text: str, tree: exp.Expression) -> str:
    """``no such column: Album.Name`` in the query's own spelling."""
    m = _UNRESOLVED.search(text)
    if m is None:
        return (text.splitlines() or ["unknown column"])[0]
    low = (m.group(1) or m.group(2) or "").lower()
    for col in tree.find_all(exp.Column):
        if col.name.lower() == low:
            return f"no such column: {col.sql()}"
    return f"no such column: {low}"


def validate(sql: str, schema: SchemaInfo, *, check_identifiers: bool = True) -> Checked:
    """Parse and check ``sql`` for ``schema``'s dialect; raises :class:`ValidationError`."""
    tree = parse_query(sql, schema.dialect)
    check_read_only(tree)
    tables = check_tables(tree, schema)
    if check_identifiers:
        check_columns(tree, schema, schema.dialect)
    return Checked(tree=tree, sql=sql.strip().rstrip(";").strip(), tables=tables)


def is_read_only_query(sql: str, dialect: str) -> bool:
    """True for one SELECT-like statement that passes :func:`check_read_only`."""
    try:
        check_read_only(parse_query(sql, dialect))
    except ValidationError:
        return False
    return True
