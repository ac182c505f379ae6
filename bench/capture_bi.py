"""Capture the catalog queries SQLAlchemy 2's PostgreSQL dialect (what Superset uses to
browse a database) sends, against the reference PostgreSQL 15 loaded with Chinook, and
write them as ``tests/fixtures/bi/superset.sql`` with the bound values inlined.

    python -m bench.capture_bi

Regenerate after a SQLAlchemy upgrade; the test suite only reads the file.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from bench.pg_reference import SHARED_CHINOOK, pg_reference

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "bi" / "superset.sql"

HEADER = """\
-- Superset 4 browsing a PostgreSQL database goes through SQLAlchemy's postgresql dialect
-- (sqlalchemy/dialects/postgresql/base.py, psycopg driver): engine connect, then the
-- Inspector calls Superset's SQL Lab and dataset editor make. Captured from SQLAlchemy {version}
-- talking to PostgreSQL 15 with Chinook by bench/capture_bi.py (bound values inlined).
-- Format: see dbeaver.sql.
"""

# (inspector call, checks): what each reflection query's answer must match on
CALLS: list[tuple[str, str, list[str]]] = [
    ("schemas", "get_schema_names()", ["columns", "contains nspname: public"]),
    ("tables", "get_table_names(schema='public')", ["columns", "rows"]),
    ("views", "get_view_names(schema='public')", ["columns", "rows"]),
    ("columns", "get_columns('Track', schema='public')", ["columns", "rows name, format_type, default, not_null, table_name"]),
    ("pk", "get_pk_constraint('Track', schema='public')", ["columns", "rows cols"]),
    ("fks", "get_foreign_keys('Track', schema='public')", ["columns", "rows relname, anon_1, nspname"]),
    ("indexes", "get_indexes('Track', schema='public')", ["columns"]),
    ("unique", "get_unique_constraints('Track', schema='public')", ["columns", "rows cols"]),
    ("comment", "get_table_comment('Track', schema='public')", ["columns", "rows"]),
    ("has-table", "has_table('Track', schema='public')", ["columns", "rows"]),
]


def capture(url: str, log: Path) -> list[tuple[str, str, list[str]]]:
    import psycopg
    import sqlalchemy as sa

    seen: list[tuple[str, Any]] = []
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"), poolclass=sa.pool.NullPool)

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        seen.append((statement, parameters))

    raw = psycopg.connect(url)
    track_oid = raw.execute("""SELECT '"Track"'::regclass::oid""").fetchone()[0]  # type: ignore[index]

    def inline(statement: str, params: Any) -> str:
        sql = psycopg.ClientCursor(raw).mogrify(statement, params) if params else statement
        # the oid SQLAlchemy got from an earlier answer: the same table on any server
        return re.sub(rf"\b{track_oid}\b", """CAST('"Track"' AS REGCLASS)""", sql)

    out: list[tuple[str, str, list[str]]] = []
    start = log.stat().st_size
    with engine.connect() as conn:
        # what the dialect sends on first connect (before event listeners): from the server log
        for line in log.read_text(errors="replace")[start:].splitlines():
            m = re.match(r"^[^|]*\|LOG:  statement: (.*)$", line)
            if m and not m.group(1).upper().startswith(("BEGIN", "ROLLBACK", "COMMIT", "SAVEPOINT", "RELEASE")):
                checks = ["columns"] if "version()" in m.group(1) else ["columns", "rows"]
                out.append(("connect", m.group(1), checks))
        seen.clear()
        insp = sa.inspect(conn)
        for name, call, checks in CALLS:
            eval(f"insp.{call}", {"insp": insp})  # noqa: S307 - fixed strings above
            for i, (stmt, params) in enumerate(seen):
                lookup = stmt.startswith("SELECT pg_catalog.pg_class.oid, pg_catalog.pg_class.relname")
                # the oid lookup every per-table call starts with: only the name is comparable
                these = ["columns", "rows relname"] if lookup else checks
                out.append((f"{name}" + (f"-{i + 1}" if len(seen) > 1 else ""), inline(stmt, params), these))
            seen.clear()
            insp.clear_cache()
    raw.close()
    return out


def main() -> None:
    import sqlalchemy as sa

    src = Path(sys.argv[1]) if len(sys.argv) > 1 else SHARED_CHINOOK
    with pg_reference(src, settings={"log_statement": "all", "log_line_prefix": "%a|"}) as pg:
        stmts = capture(pg.url, pg.socket_dir / "postgres.log")
    parts = [HEADER.format(version=sa.__version__)]
    used: set[str] = set()
    for name, sql, checks in stmts:
        base, n = name, 2
        while name in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name)
        lines = ["-- ====", f"-- name: {name}", *(f"-- check: {c}" for c in checks), sql.strip()]
        parts.append("\n".join(lines))
    OUT.write_text("\n".join(parts) + "\n")
    sys.stdout.write(f"{len(stmts)} statements -> {OUT}\n")


if __name__ == "__main__":
    main()
