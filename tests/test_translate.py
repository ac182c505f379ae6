"""PostgreSQL -> SQLite/DuckDB translation.

Golden cases live in ``tests/fixtures/translate_cases.jsonl`` (one JSON object per line:
``name``, ``pg``, the expected ``sqlite`` and ``duckdb`` text, ``same_rows``), read by
:func:`load_cases`. Each case is checked three ways: the translation is the golden text;
it runs on small SQLite and DuckDB databases made here and both give the same rows; it
runs on the Chinook demo (both backends) with the same rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connectors.duckdb import DuckdbBackend
from connectors.sqlite import SqliteBackend
from engine_support import make_duckdb, make_sqlite, normal_rows
from gateway.errors import PgError, SyntaxError_
from gateway.translate import (
    command_tag,
    parameter_numbers,
    parse,
    pg_output_name,
    statement_info,
    to_backend,
)
from gateway.utility import session_setup

CASES_FILE = Path(__file__).parent / "fixtures" / "translate_cases.jsonl"


def load_cases() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CASES_FILE.read_text().splitlines() if line.strip()]


CASES = load_cases()
IDS = [c["name"] for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_golden_translation(case: dict[str, Any]) -> None:
    tree = parse(case["pg"])
    for dialect in ("sqlite", "duckdb"):
        assert to_backend(tree, dialect).sql == case[dialect], f"{case['name']} on {dialect}"


def _connections(sqlite_path: Path, duckdb_path: Path, *, read_only: bool) -> dict[str, Any]:
    out = {}
    for name, backend in (("sqlite", SqliteBackend("t", sqlite_path, read_only=read_only)),
                          ("duckdb", DuckdbBackend("t", duckdb_path, read_only=read_only))):
        conn = backend.connect()
        for stmt in session_setup(name):
            try:  # as the engine does: a read-only SQLite connection refuses the PRAGMA
                conn.execute(stmt)
            except PgError:
                pass
        out[name] = (backend, conn)
    return out


def _run_all(conns: dict[str, Any]) -> None:
    failures = []
    for case in CASES:
        results = {}
        for dialect, (_, conn) in conns.items():
            sql = to_backend(parse(case["pg"]), dialect).sql
            try:
                res = conn.execute(sql)
            except Exception as e:  # collect every failure, not just the first
                failures.append(f"{case['name']} on {dialect}: {e}\n  {sql}")
                continue
            results[dialect] = ([c.name.lower() for c in res.columns or []], normal_rows(res.rows))
        if case["same_rows"] and len(results) == 2 and results["sqlite"] != results["duckdb"]:
            failures.append(f"{case['name']}: SQLite {results['sqlite']} != DuckDB {results['duckdb']}")
    assert not failures, "\n".join(failures)


def test_cases_run_on_small_databases(tmp_path: Path) -> None:
    conns = _connections(make_sqlite(tmp_path / "s.sqlite"), make_duckdb(tmp_path / "s.duckdb"), read_only=False)
    try:
        _run_all(conns)
    finally:
        for backend, conn in conns.values():
            conn.close()
            backend.close()


@pytest.mark.slow
def test_cases_run_on_chinook_demo(chinook_demo: Path) -> None:
    conns = _connections(chinook_demo / "chinook.sqlite", chinook_demo / "chinook.duckdb", read_only=True)
    try:
        _run_all(conns)
    finally:
        for backend, conn in conns.values():
            conn.close()
            backend.close()


def test_case_sensitive_like_and_ilike(tmp_path: Path) -> None:
    """PostgreSQL's LIKE is case-sensitive and ILIKE is not, on both backends."""
    conns = _connections(make_sqlite(tmp_path / "s.sqlite"), make_duckdb(tmp_path / "s.duckdb"), read_only=False)
    try:
        for dialect, (_, conn) in conns.items():
            like = conn.execute(to_backend(parse("SELECT count(*) FROM album WHERE Title LIKE '%Rock%'"), dialect).sql)
            ilike = conn.execute(to_backend(parse("SELECT count(*) FROM album WHERE Title ILIKE '%rock%'"), dialect).sql)
            assert like.rows[0][0] == 2, dialect
            assert ilike.rows[0][0] == 3, dialect
    finally:
        for backend, conn in conns.values():
            conn.close()
            backend.close()


def test_parameters_are_order_aware_and_may_repeat() -> None:
    tree = parse("SELECT * FROM album WHERE Title = $2 AND AlbumId > $1 OR ArtistId = $2 LIMIT $3")
    assert parameter_numbers(tree) == [2, 1, 2, 3]
    for dialect in ("sqlite", "duckdb"):
        out = to_backend(tree, dialect)
        assert "$" not in out.sql and out.sql.count("?") == 4
        assert out.param_order == [1, 0, 1, 2]
        assert out.bind(["a", "b", "c"]) == ["b", "a", "b", "c"]


def test_parameters_run_on_sqlite(tmp_path: Path) -> None:
    conns = _connections(make_sqlite(tmp_path / "s.sqlite"), make_duckdb(tmp_path / "s.duckdb"), read_only=False)
    try:
        tree = parse('SELECT "AlbumId" FROM album WHERE "ArtistId" = $2 AND "AlbumId" >= $1 ORDER BY 1')
        for dialect, (_, conn) in conns.items():
            out = to_backend(tree, dialect)
            res = conn.execute(out.sql, out.bind([4, 7]))
            assert [r[0] for r in res.rows] == [10, 11, 12], dialect
    finally:
        for backend, conn in conns.values():
            conn.close()
            backend.close()


def test_syntax_error_has_sqlstate_and_position() -> None:
    with pytest.raises(SyntaxError_) as info:
        parse("SELECT * FROM album WHERE (")
    assert info.value.sqlstate == "42601"
    assert "syntax error" in info.value.message
    assert info.value.context.get("position")


@pytest.mark.parametrize(
    ("sql", "verb", "tag"),
    [
        ("SELECT 1", "SELECT", "SELECT 5"),
        ("INSERT INTO t VALUES (1)", "INSERT", "INSERT 0 5"),
        ("UPDATE t SET a = 1", "UPDATE", "UPDATE 5"),
        ("DELETE FROM t", "DELETE", "DELETE 5"),
        ("CREATE TABLE t (a int)", "CREATE TABLE", "CREATE TABLE"),
        ("CREATE INDEX i ON t (a)", "CREATE INDEX", "CREATE INDEX"),
        ("CREATE VIEW v AS SELECT 1", "CREATE VIEW", "CREATE VIEW"),
        ("DROP TABLE t", "DROP TABLE", "DROP TABLE"),
        ("ALTER TABLE t ADD COLUMN b int", "ALTER TABLE", "ALTER TABLE"),
        ("CREATE TABLE t2 AS SELECT 1 AS a", "SELECT", "SELECT 5"),
    ],
)
def test_command_tags(sql: str, verb: str, tag: str) -> None:
    info = statement_info(parse(sql))
    assert info.verb == verb
    assert command_tag(info, 5) == tag


@pytest.mark.parametrize(
    ("expr", "name"),
    [("count(*)", "count"), ("max(x)", "max"), ("1 + 1", "?column?"), ("x::int", "x"), ("'a'::text", "text"),
     ("true", "bool"), ("now()", "now"), ("version()", "version"), ("current_database()", "current_database"),
     ("CASE WHEN x THEN 1 END", "case"), ("(SELECT max(y) FROM t)", "max"), ("coalesce(a, b)", "coalesce"),
     ("lower(n)", "lower"), ("x AS y", "y"), ("'{}'::json ->> 'a'", "?column?"), ("j::jsonb #> '{a}'", "?column?"),
     ("x::text ~ 'a'", "?column?"), ("regexp_replace(x, 'a', 'b')", "regexp_replace"), ("power(2, 3)", "power")],
)
def test_postgres_output_names(expr: str, name: str) -> None:
    select = parse(f"SELECT {expr}")
    assert pg_output_name(select.expressions[0]) == name


def test_serial_column_on_both_backends(tmp_path: Path) -> None:
    """``serial`` needs an INTEGER PRIMARY KEY on SQLite and a sequence on DuckDB."""
    conns = _connections(make_sqlite(tmp_path / "s.sqlite"), make_duckdb(tmp_path / "s.duckdb"), read_only=False)
    try:
        create = parse("CREATE TABLE notes (id serial PRIMARY KEY, body varchar(20) NOT NULL)")
        insert = parse("INSERT INTO notes (body) VALUES ('a'), ('b') RETURNING id")
        for dialect, (_, conn) in conns.items():
            out = to_backend(create, dialect)
            for pre in out.pre:
                conn.execute(pre)
            conn.execute(out.sql)
            res = conn.execute(to_backend(insert, dialect).sql)
            assert sorted(r[0] for r in res.rows) == [1, 2], dialect
    finally:
        for backend, conn in conns.values():
            conn.close()
            backend.close()
