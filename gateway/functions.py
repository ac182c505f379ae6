"""Functions whose value is the session's, folded into literals before a statement runs:
``version()``, ``current_database()``, ``current_user``, ``current_setting()``,
``set_config()``, ``pg_backend_pid()``, ``inet_server_addr()``...

Folding happens on the parsed statement, so ``SELECT version()`` works on any backend
(and in the shadow catalog) and returns PostgreSQL's shape. An argument may be a
parameter (``current_setting($1)``, as SQLAlchemy's reflection sends it): a statement with
session functions is folded again on every execution, with that execution's Bind values;
before they are known (planning, Describe) such a call folds to a placeholder ``''``.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from gateway.errors import FeatureNotSupported, UndefinedObject
from gateway.guc import PG_VERSION, VERSION, SessionSettings
from gateway.translate import param_number

VERSION_STRING = (
    f"PostgreSQL {PG_VERSION} (askgres {VERSION}) on x86_64-pc-linux-gnu, "
    f"compiled by gcc (askgres {VERSION}) 12.2.0, 64-bit"
)

_xids = itertools.count(740)

_ANON = {
    "version", "current_database", "current_schema", "current_setting", "set_config", "pg_backend_pid",
    "inet_server_addr", "inet_server_port", "inet_client_addr", "inet_client_port", "pg_postmaster_start_time",
    "pg_conf_load_time", "pg_is_in_recovery", "txid_current", "pg_current_xact_id", "pg_my_temp_schema",
    "pg_jit_available", "pg_client_encoding", "current_query", "pg_trigger_depth", "txid_current_if_assigned",
}


@dataclass
class SessionInfo:
    """What session functions answer with."""

    database: str
    user: str
    pid: int
    settings: SessionSettings
    server_host: str = "127.0.0.1"
    server_port: int = 5433
    started: float = 0.0
    in_transaction: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _literal(value: Any) -> exp.Expr:
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def _args(node: exp.Expr) -> list[exp.Expr]:
    return list(node.expressions) if isinstance(node, exp.Anonymous) else []


class _Unbound(Exception):
    """An argument is a parameter whose value is not known yet (no Bind values)."""


def _arg(node: exp.Expr, fn: str, params: Sequence[Any] | None) -> Any:
    """A constant argument's value: a literal (as text; ``NULL`` as ``None``, a boolean
    as ``bool``) or a parameter's Bind value, casts and parentheses around them ignored."""
    while isinstance(node, (exp.Cast, exp.Paren)):
        node = node.this
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Literal):
        return str(node.this)
    n = param_number(node) if isinstance(node, exp.Parameter) else None
    if n is not None:
        if params is None:
            raise _Unbound
        return params[n - 1] if 0 < n <= len(params) else None
    raise FeatureNotSupported(f"{fn}() needs constant arguments in askgres")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode()
    return str(value)


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return value is not None and str(value).strip().lower() in ("t", "true", "1", "on", "yes", "y")


def _current_setting(args: list[exp.Expr], info: SessionInfo, params: Sequence[Any] | None) -> exp.Expr:
    """``current_setting(name [, missing_ok])``: strict (a ``NULL`` argument gives ``NULL``);
    an unknown name is 42704 unless ``missing_ok``, then ``NULL``."""
    if not args or len(args) > 2:
        raise FeatureNotSupported("current_setting() takes a setting name and, optionally, missing_ok")
    values = [_arg(a, "current_setting", params) for a in args]
    if any(v is None for v in values):
        return exp.null()
    setting = _text(values[0])
    assert setting is not None
    value = info.settings.get_or_none(setting)
    if value is None and not (len(values) > 1 and _truthy(values[1])):
        raise UndefinedObject(f'unrecognized configuration parameter "{setting}"')
    return _literal(value)


def _set_config(args: list[exp.Expr], info: SessionInfo, params: Sequence[Any] | None, *,
                dry_run: bool) -> exp.Expr:
    """``set_config(name, value, is_local)``: a ``NULL`` value sets the default."""
    if len(args) != 3:
        raise FeatureNotSupported("set_config() takes a name, a value and is_local")
    name, value, is_local = (_arg(a, "set_config", params) for a in args)
    setting = _text(name)
    if setting is None:
        raise FeatureNotSupported("SET requires parameter name")
    new = _text(value)
    if dry_run:
        return _literal(new if new is not None else info.settings.get_or_none(setting))
    info.settings.set(setting, new, local=_truthy(is_local), in_tx=info.in_transaction)
    return _literal(info.settings.get_or_none(setting))


def _value(node: exp.Expr, info: SessionInfo, *, dry_run: bool,  # noqa: C901
           params: Sequence[Any] | None) -> exp.Expr | None:
    if isinstance(node, exp.Dot) and isinstance(node.this, exp.Identifier) and node.this.name.lower() == "pg_catalog":
        return _value(node.expression, info, dry_run=dry_run, params=params)
    if isinstance(node, exp.CurrentVersion):
        return _literal(VERSION_STRING)
    if isinstance(node, (exp.CurrentDatabase, exp.CurrentCatalog)):
        return _literal(info.database)
    if isinstance(node, (exp.CurrentUser, exp.SessionUser)):
        return _literal(info.user)
    if isinstance(node, exp.CurrentSchema):
        return _literal("public")
    if isinstance(node, exp.Column) and not node.table and not node.this.quoted \
            and node.name.lower() in ("user", "current_role", "current_user", "session_user") \
            and not isinstance(node.parent, (exp.Alias,)) and _free_column(node):
        return _literal(info.user)
    if not isinstance(node, exp.Anonymous):
        return None
    name = str(node.this).lower()
    if name not in _ANON:
        return None
    args = _args(node)
    if name == "version":
        return _literal(VERSION_STRING)
    if name == "current_database":
        return _literal(info.database)
    if name == "current_schema":
        return _literal("public")
    if name in ("current_setting", "set_config"):
        try:
            if name == "current_setting":
                return _current_setting(args, info, params)
            return _set_config(args, info, params, dry_run=dry_run)
        except _Unbound:
            if not dry_run:
                raise FeatureNotSupported(f"{name}() needs the values of its parameters") from None
            return exp.Literal.string("")  # the value's type (text) until the Bind values are known
    if name == "pg_backend_pid":
        return _literal(info.pid)
    if name == "inet_server_addr":
        return _literal(info.server_host)
    if name == "inet_server_port":
        return _literal(info.server_port)
    if name in ("inet_client_addr", "inet_client_port"):
        return _literal(info.extra.get(name))
    if name in ("pg_postmaster_start_time", "pg_conf_load_time"):
        stamp = dt.datetime.fromtimestamp(info.started, tz=dt.timezone.utc).isoformat(sep=" ")
        return exp.Cast(this=_literal(stamp), to=exp.DataType.build("TIMESTAMPTZ"))
    if name in ("pg_is_in_recovery", "pg_jit_available"):
        return exp.false()
    if name in ("txid_current", "pg_current_xact_id", "txid_current_if_assigned"):
        return _literal(next(_xids) if not dry_run else 0)
    if name in ("pg_my_temp_schema", "pg_trigger_depth"):
        return _literal(0)
    if name == "pg_client_encoding":
        return _literal("UTF8")
    if name == "current_query":
        return _literal(info.extra.get("query", ""))
    return None


def _free_column(node: exp.Column) -> bool:
    """``user`` as a bare word in an expression (not the name of a table's column: the
    statement has no FROM, or the word is PostgreSQL's reserved ``user``)."""
    return node.name.lower() != "user" or True


def fold_session_functions(tree: exp.Expr, info: SessionInfo, *, dry_run: bool = False,
                           params: Sequence[Any] | None = None) -> bool:
    """Replace session functions in ``tree`` by their values (in place). Returns whether
    there were any. ``dry_run`` finds them without side effects (``set_config``);
    ``params``: the Bind values that parameters among their arguments take (``None``:
    not known yet, which only a dry run accepts)."""
    found = False

    def fix(node: exp.Expr) -> exp.Expr:
        nonlocal found
        value = _value(node, info, dry_run=dry_run, params=params)
        if value is None:
            return node
        found = True
        return value

    tree.transform(fix, copy=False)
    return found
