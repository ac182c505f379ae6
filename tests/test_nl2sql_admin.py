"""SQL on the askgres schema: reads for everyone, pair review for admins only, nothing
else reachable; approvals reach the example index at once; feedback marks answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Backend
from connectors.sqlite import SqliteBackend
from gateway.api import Outcome
from gateway.config import Settings
from gateway.errors import PgError
from nl2sql.failures import record
from nl2sql.service import AskService
from nl2sql.state import AskResult
from nl2sql.store import Store
from test_nl2sql_validate import make_sqlite


@pytest.fixture
def service(tmp_path: Path) -> Iterator[AskService]:
    backends: dict[str, Backend] = {"music": SqliteBackend("music", make_sqlite(tmp_path / "music.sqlite"))}
    settings = Settings(data_dir=tmp_path / "data")
    store = Store(settings.state_db)
    svc = AskService(settings, backends, store, warm=False)
    yield svc
    svc.close()
    store.close()
    backends["music"].close()


def run(svc: AskService, sql: str, *, admin: bool, session: str = "s1", user: str = "alice") -> Outcome:
    return asyncio.run(svc.admin_sql(sql, database="music", session_id=session, user=user, is_admin=admin))


def fails(svc: AskService, sql: str, *, admin: bool, session: str = "s1") -> PgError:
    with pytest.raises(PgError) as info:
        run(svc, sql, admin=admin, session=session)
    return info.value


def answered(store: Store, *, session: str, question: str, sql: str) -> None:
    """An ask the session got an answer to, as the pipeline logs it."""
    record(store, AskResult(ok=True, question=question, database="music", sql=sql, columns=[], rows=[], summary="",
                            attempts=[], timings={}, error=None, kind=None,
                            context={"prompt_version": "sql_v1", "model_version": "base"}), session_id=session, user="bob")


@pytest.mark.parametrize("sql,expected", [
    ("SELECT * FROM askgres.failures", True),
    ("select id from ASKGRES.pairs", True),
    ('SELECT * FROM "askgres"."pairs"', True),
    ("SELECT askgres.feedback('wrong')", True),
    ("UPDATE askgres.pairs SET status = 'approved' WHERE id = 1", True),
    ("SELECT 'askgres.failures'", False),
    ("-- askgres.pairs\nSELECT 1", False),
    ("SELECT * FROM Album", False),
    ("SELECT askgres FROM t", False),
])
def test_is_admin_sql(service: AskService, sql: str, expected: bool) -> None:
    assert service.is_admin_sql(sql) is expected


def test_anyone_reads_the_log_tables(service: AskService) -> None:
    answered(service.store, session="s9", question="how many albums?", sql="SELECT count(*) FROM Album")
    out = run(service, "SELECT question, ok FROM askgres.asks ORDER BY id", admin=False)
    assert out.tag == "SELECT 1" and out.rows == [("how many albums?", 1)]
    assert [c.name for c in out.columns] == ["question", "ok"] and out.columns[1].pg_type == "int8"
    out = run(service, "SELECT count(*) FROM askgres.failures", admin=False)
    assert out.rows == [(0,)] and out.columns[0].name == "count"
    for table in ("training_runs", "models", "pairs"):
        assert run(service, f"SELECT * FROM askgres.{table}", admin=False).tag == "SELECT 0"


@pytest.mark.parametrize("sql,sqlstate", [
    ("SELECT * FROM askgres.pairs JOIN Album ON 1 = 1", "42501"),
    ("SELECT * FROM askgres.pairs WHERE id IN (SELECT id FROM sqlite_master)", "42501"),
    ("SELECT * FROM askgres.secrets", "42P01"),
    ("SELECT askgres.drop_everything()", "42883"),
    ("UPDATE askgres.failures SET kind = 'x'", "42501"),
    ("DELETE FROM askgres.asks", "42501"),
    ("INSERT INTO askgres.models (version) VALUES ('x')", "42501"),
    ("DROP TABLE askgres.pairs", "0A000"),
    ("UPDATE askgres.pairs SET source = 'x' WHERE id = 1", "42501"),
    ("UPDATE askgres.pairs SET status = 'maybe' WHERE id = 1", "22000"),
    ("SELECT * FROM askgres.pairs WHERE id = $1", "0A000"),
])
def test_nothing_else_is_reachable(service: AskService, sql: str, sqlstate: str) -> None:
    assert fails(service, sql, admin=True).sqlstate == sqlstate


@pytest.mark.parametrize("sql", [
    "INSERT INTO askgres.pairs (database, question, sql) VALUES ('music', 'q', 'SELECT 1')",
    "UPDATE askgres.pairs SET status = 'approved' WHERE id = 1",
    "DELETE FROM askgres.pairs WHERE id = 1",
])
def test_pair_review_needs_an_admin(service: AskService, sql: str) -> None:
    now = service.store.now()
    service.store.insert("pairs", created_at=now, updated_at=now, database="music", question="q",
                         sql="SELECT count(*) FROM Album", source="synth")
    before = [tuple(r) for r in service.store.query("SELECT * FROM pairs")]
    err = fails(service, sql, admin=False)
    assert err.sqlstate == "42501"
    assert [tuple(r) for r in service.store.query("SELECT * FROM pairs")] == before


def test_approval_reaches_the_example_index_at_once(service: AskService) -> None:
    examples = service.pipeline.examples
    now = service.store.now()
    pid = service.store.insert("pairs", created_at=now, updated_at=now, database="music",
                               question="How many albums are there?", sql="SELECT count(*) FROM Album", source="synth")
    assert examples.search("music", "count the albums", k=4) == []
    out = run(service, f"UPDATE askgres.pairs SET status = 'approved', note = 'ok' WHERE id = {pid}", admin=True)
    assert out.tag == "UPDATE 1"
    row = service.store.query("SELECT * FROM pairs WHERE id = ?", (pid,))[0]
    assert row["status"] == "approved" and row["reviewed_by"] == "alice" and row["updated_at"] > now
    hits = examples.search("music", "count the albums", k=4)
    assert [(h.question, h.sql, h.pair_id) for h in hits] == [("How many albums are there?", "SELECT count(*) FROM Album", pid)]
    # ask.example_min_similarity: a floor under the cosine similarity of what the prompt shows
    assert examples.search("music", "count the albums", k=4, min_similarity=hits[0].score - 0.01) == hits
    assert examples.search("music", "count the albums", k=4, min_similarity=hits[0].score + 0.01) == []

    out = run(service, "INSERT INTO askgres.pairs (database, question, sql) VALUES "
                       "('music', 'List every genre.', 'SELECT Name FROM Genre;')", admin=True)
    assert out.tag == "INSERT 0 1"
    new = service.store.query("SELECT * FROM pairs WHERE source = 'admin'")[0]
    assert new["status"] == "approved" and new["sql"] == "SELECT Name FROM Genre" and new["reviewed_by"] == "alice"
    assert examples.search("music", "which genres exist?", k=1)[0].sql == "SELECT Name FROM Genre"

    assert run(service, f"UPDATE askgres.pairs SET status = 'rejected' WHERE id = {pid}", admin=True).tag == "UPDATE 1"
    assert all(h.pair_id != pid for h in examples.search("music", "count the albums", k=4))
    assert run(service, "DELETE FROM askgres.pairs WHERE source = 'admin'", admin=True).tag == "DELETE 1"
    assert examples.search("music", "which genres exist?", k=4) == []


@pytest.mark.parametrize("sql", [
    "INSERT INTO askgres.pairs (database, question, sql) VALUES ('music', 'q', 'DELETE FROM Album')",
    "INSERT INTO askgres.pairs (database, question, sql) VALUES ('nowhere', 'q', 'SELECT 1')",
    "INSERT INTO askgres.pairs (database, question) VALUES ('music', 'q')",
])
def test_bad_pairs_are_refused(service: AskService, sql: str) -> None:
    fails(service, sql, admin=True)
    assert service.store.query("SELECT count(*) AS n FROM pairs")[0]["n"] == 0


def test_an_approval_of_write_sql_is_refused(service: AskService) -> None:
    now = service.store.now()
    pid = service.store.insert("pairs", created_at=now, updated_at=now, database="music", question="wipe",
                               sql="DELETE FROM Album", source="teacher")
    assert fails(service, f"UPDATE askgres.pairs SET status = 'approved' WHERE id = {pid}", admin=True).sqlstate == "42601"
    assert service.store.query("SELECT status FROM pairs WHERE id = ?", (pid,))[0]["status"] == "pending"


def test_feedback_marks_the_sessions_last_answer(service: AskService) -> None:
    assert fails(service, "SELECT askgres.feedback('wrong')", admin=False, session="s1").sqlstate == "42704"
    answered(service.store, session="s1", question="how many albums?", sql="SELECT count(*) FROM Track")
    answered(service.store, session="s2", question="other session", sql="SELECT 1")
    out = run(service, "SELECT askgres.feedback('wrong')", admin=False, session="s1")
    assert out.notices and "how many albums?" in out.notices[0].message
    failure = service.store.query("SELECT * FROM failures ORDER BY id DESC LIMIT 1")[0]
    assert failure["kind"] == "marked_wrong" and failure["question"] == "how many albums?"
    assert failure["sql"] == "SELECT count(*) FROM Track" and failure["correct_sql"] is None
    assert failure["model_version"] == "base" and failure["prompt_version"] == "sql_v1"

    out = run(service, "SELECT askgres.feedback('wrong', 'SELECT count(*) FROM Album')", admin=False, session="s1")
    _, failure_id, pair_id = out.rows[0]
    pair = service.store.query("SELECT * FROM pairs WHERE id = ?", (pair_id,))[0]
    assert (pair["status"], pair["source"], pair["failure_id"]) == ("pending", "feedback", failure_id)
    assert pair["sql"] == "SELECT count(*) FROM Album" and pair["question"] == "how many albums?"
    attempts: list[dict[str, Any]] = json.loads(service.store.query(
        "SELECT attempts FROM failures WHERE id = ?", (failure_id,))[0]["attempts"])
    assert attempts[0]["sql"] == "SELECT count(*) FROM Track"

    # an admin approving the pair fills in the failure's correct SQL
    run(service, f"UPDATE askgres.pairs SET status = 'approved' WHERE id = {pair_id}", admin=True)
    assert service.store.query("SELECT correct_sql FROM failures WHERE id = ?", (failure_id,))[0][0] == "SELECT count(*) FROM Album"

    assert fails(service, "SELECT askgres.feedback('great')", admin=False).sqlstate == "22000"
    assert fails(service, "SELECT askgres.feedback('wrong', 'DROP TABLE Album')", admin=False).sqlstate == "42601"
