"""BI tools' catalog queries, replayed against PostgreSQL 15 with Chinook and against askgres
on both backends (differential): the fixture files under tests/fixtures/bi/ hold what
DBeaver, Metabase, Grafana, pgAdmin and Superset (SQLAlchemy) send on connect and while
browsing a schema; each statement says what must match (see tests/bi_fixtures.py). psql's
``\\d+``, ``\\di``, ``\\dv``, ``\\df``, ``\\dt``, ``\\dn`` are compared the same way.

Known gaps are listed in tests/KNOWN_GAPS.md and marked ``xfail(strict=False)`` in
``GAPS`` below, one entry per (tool:statement, backend) that really fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

import bi_fixtures as bf
from clients_support import BACKENDS, Endpoint, chinook_endpoint
from refpg import pg_ref  # noqa: F401  (fixture)

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.slow

# (statement id or psql command, backend or "*") -> the KNOWN_GAPS.md entry it fails on
# (none open: DuckDB's VARCHAR lengths and constraint names come from askgres_meta since 2026-11-23)
GAPS: dict[tuple[str, str], str] = {}

STATEMENTS = [st for tool in bf.tools() for st in bf.load(tool)]


def _gap(key: str, backend: str) -> str | None:
    return GAPS.get((key, backend)) or GAPS.get((key, "*"))


def _params() -> list[Any]:
    out = []
    for backend in BACKENDS:
        for st in STATEMENTS:
            marks = []
            reason = _gap(st.id, backend)
            if reason:
                marks.append(pytest.mark.xfail(reason=reason, strict=False))
            out.append(pytest.param(backend, st, id=f"{backend}-{st.id}", marks=marks))
    return out


class Answers:
    """Every statement of a tool, run in the file's order on one fresh connection (the
    session state a tool builds up, SETs included), cached per server and tool."""

    def __init__(self) -> None:
        self.cache: dict[tuple[str, str], dict[str, bf.Answer]] = {}

    def get(self, ep: Endpoint, tool: str, key: str) -> dict[str, bf.Answer]:
        if (key, tool) not in self.cache:
            out: dict[str, bf.Answer] = {}
            with psycopg.connect(ep.dsn, autocommit=True, connect_timeout=15) as conn:
                for st in bf.load(tool):
                    out[st.name] = bf.run(conn, st.sql)
            self.cache[(key, tool)] = out
        return self.cache[(key, tool)]


@pytest.fixture(scope="module")
def answers() -> Iterator[Answers]:
    yield Answers()


@pytest.mark.parametrize(("backend", "stmt"), _params())
def test_bi_statement(request: pytest.FixtureRequest, backend: str, stmt: bf.Statement, pg_ref: Any, answers: Answers) -> None:
    ref = answers.get(Endpoint.of(pg_ref), stmt.tool, "postgres")[stmt.name]
    got = answers.get(chinook_endpoint(request, backend), stmt.tool, backend)[stmt.name]
    problems = bf.compare(stmt, ref, got)
    assert not problems, f"{stmt.id} on {backend}:\n" + "\n".join(problems) + f"\n--- SQL:\n{stmt.sql[:1500]}"


# --- psql meta-commands ------------------------------------------------------------------

META = [r'\d+ "Track"', r'\d "PlaylistTrack"', r"\di", r"\dv", r"\df", r"\dt", r"\dn"]


def psql(ep: Endpoint, command: str) -> tuple[int, str]:
    env = dict(os.environ, PGHOST=ep.host, PGPORT=str(ep.port), PGUSER=ep.user, PGDATABASE=ep.dbname, PGCONNECT_TIMEOUT="15")
    proc = subprocess.run(["psql", "-X", "-A", "-F", "|", "-P", "footer=on", "-c", command],
                          capture_output=True, text=True, env=env, timeout=60)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def table_rows(text: str, keep: list[str]) -> list[tuple[str, ...]]:
    """The rows of psql's unaligned table output, projected on the ``keep`` headers."""
    lines = text.splitlines()
    header_at = next((i for i, line in enumerate(lines) if line.count("|") >= 1 and keep[0] in line.split("|")), None)
    if header_at is None:
        return []
    headers = lines[header_at].split("|")
    idx = [headers.index(k) for k in keep]
    rows = []
    for line in lines[header_at + 1:]:
        if not line or line.startswith("(") or "|" not in line:
            break
        cells = line.split("|")
        rows.append(tuple(cells[i] for i in idx))
    return rows


def footer_lines(text: str) -> list[str]:
    """``\\d`` footers (Indexes:, Foreign-key constraints:, Referenced by:) without the
    constraint and index names, which a backend may not keep."""
    out, section = [], ""
    for line in text.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            section = line
        elif line.startswith("    ") and section:
            body = line.strip()
            if body.startswith('"'):
                body = body.split('"', 2)[2].strip()  # drop the leading "name"
            elif body.startswith("TABLE "):
                body = body.split(" CONSTRAINT ", 1)[0] + " " + body.split(" FOREIGN KEY", 1)[-1]
            out.append(f"{section} {body}")
    return sorted(out)


def _meta_params() -> list[Any]:
    out = []
    for backend in BACKENDS:
        for cmd in META:
            reason = _gap(cmd, backend)
            marks = [pytest.mark.xfail(reason=reason, strict=False)] if reason else []
            out.append(pytest.param(backend, cmd, id=f"{backend}-{cmd}", marks=marks))
    return out


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql not installed")
@pytest.mark.parametrize(("backend", "command"), _meta_params())
def test_psql_meta_command(request: pytest.FixtureRequest, backend: str, command: str, pg_ref: Any) -> None:
    rc_ref, want = psql(Endpoint.of(pg_ref), command)
    rc, got = psql(chinook_endpoint(request, backend), command)
    assert rc_ref == 0, want
    assert rc == 0 and "ERROR" not in got, f"psql {command} on {backend}:\n{got}"
    first = want.splitlines()[0]
    assert got.splitlines()[0] == first, f"title differs:\n{got}\n--- postgres:\n{want}"
    if command.startswith(r"\d "):
        cols = ["Column", "Type", "Nullable"]
    elif command.startswith(r"\d+"):
        cols = ["Column", "Type", "Nullable", "Storage"]
    elif command == r"\di":
        cols = ["Schema", "Name", "Type", "Table"]
    elif command == r"\dn":
        cols = ["Name"]
    else:
        cols = ["Schema", "Name", "Type"] if command != r"\df" else ["Schema", "Name"]
    assert table_rows(got, cols) == table_rows(want, cols), f"psql {command} on {backend}:\n{got}\n--- postgres:\n{want}"
    if command.startswith(r"\d") and '"' in command:
        assert footer_lines(got) == footer_lines(want), f"psql {command} on {backend}:\n{got}\n--- postgres:\n{want}"
