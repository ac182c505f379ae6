"""Questions through the real gateway (``askgres serve``) with the real embedded model:
both comment forms from psql and psycopg, NOTICEs, one model call per question under the
extended protocol, read-only answers, the failure log, feedback, and an approved example
changing the next answer. All slow: every gateway here loads the model."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, Gateway, cancelled, finish_gateway, launch_gateway

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.slow


ASK_TIMEOUT_S = 300.0


def warmed(gw: Gateway) -> Gateway:
    """Ask a first question: the gateway loads the model and builds its indexes then
    (slow on a busy machine; psycopg waits as long as it takes)."""
    with gw.connect() as conn:
        try:
            conn.execute("-- ask: how many tracks are there?").fetchall()
        except psycopg.Error as e:
            assert e.sqlstate == "42000", e  # answered or not, the model is loaded now
    return gw


@pytest.fixture(scope="module")
def askgw(tmp_path_factory: pytest.TempPathFactory, chinook_demo: Path) -> Iterator[Gateway]:
    """A gateway of its own: these tests write pairs and failures into its store."""
    gw = launch_gateway(tmp_path_factory.mktemp("askgw"), {}, demo_dir=chinook_demo)
    try:
        warmed(gw)
    except BaseException:
        gw.stop()
        raise
    yield gw
    finish_gateway(gw)


def state(gw: Gateway, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the gateway's state store directly (read-only)."""
    conn = sqlite3.connect(f"file:{gw.data_dir / 'askgres.sqlite'}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def asks(gw: Gateway) -> int:
    return int(state(gw, "SELECT count(*) FROM asks")[0][0])


def notices_of(conn: Any) -> list[str]:
    seen: list[str] = []
    conn.add_notice_handler(lambda diag: seen.append(diag.message_primary or ""))
    return seen


def table_counts(conn: Any) -> dict[str, int]:
    out = {}
    for table in ("Invoice", "InvoiceLine", "Track", "Artist"):
        row = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        out[table] = int(row[0])
    return out


def test_psql_dash_dash_question(askgw: Gateway) -> None:
    out = askgw.psql("-c", "-- ask: how many customers live in Brazil?", timeout=ASK_TIMEOUT_S)
    assert "(1 row)" in out.stdout or "rows)" in out.stdout, out.stdout
    notices = [line for line in out.stderr.splitlines() if line.startswith("NOTICE:")]
    assert len(notices) >= 2, out.stderr
    assert any(line.startswith("NOTICE:  SQL: SELECT") for line in notices)
    assert askgw.alive()


def test_psql_block_comment_question_from_a_script(askgw: Gateway) -> None:
    # not -c: psql strips `--` comments from scripts but sends `/* */` ones
    out = askgw.psql("-f", "-", input="/* ask: which 3 genres have the most tracks? */;\n", timeout=ASK_TIMEOUT_S)
    assert "row" in out.stdout, out.stdout + out.stderr
    assert "NOTICE:  SQL: " in out.stderr


def test_psycopg_question_rows_and_notices(askgw: Gateway) -> None:
    with askgw.connect() as conn:
        seen = notices_of(conn)
        cur = conn.execute("-- ask: how many customers live in Brazil?")
        rows = cur.fetchall()
        assert rows and cur.description
        assert len(seen) >= 2 and seen[-1].startswith("SQL: SELECT")
        assert seen[0] and not seen[0].startswith("SQL:")  # the summary comes first
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_extended_protocol_asks_the_model_once(askgw: Gateway) -> None:
    with askgw.connect() as conn:
        before = asks(askgw)
        cur = conn.cursor()
        cur.execute("/* ask: list the names of all media types */", prepare=True)  # Parse, Describe, Bind, Execute
        assert cur.fetchall()
        assert asks(askgw) == before + 1
        cur.execute("-- ask: list the names of all playlists", ())
        assert cur.fetchall()
        assert asks(askgw) == before + 2
        # the prepared question executed again (Bind, Execute): asked again, as its text sent
        # again would be, so a model swapped in meanwhile answers it and its rows are fresh
        cur.execute("/* ask: list the names of all media types */", prepare=True)
        assert cur.fetchall()
        assert asks(askgw) == before + 3


def test_prepared_question_keeps_its_result_type_when_the_data_changes(gateway_factory: Any, tmp_path: Path) -> None:
    """SQLite types a sum by its values: REAL over rows, NULL over none. A prepared
    question answered again over emptied data is sent in the type described at Parse (as
    PostgreSQL would: the plan did not change), not refused with 0A000; an answer whose
    values cannot be sent so still is."""
    shop = tmp_path / "shop.sqlite"
    with sqlite3.connect(shop) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, amount REAL)")
        db.executemany("INSERT INTO orders (customer, amount) VALUES (?, ?)",
                       [("ann", 12.5), ("bob", 18.0), ("ann", 7.25)])
    gw = gateway_factory(demo=False, databases=[{"name": "shop", "kind": "sqlite", "path": str(shop)}])
    question = "What is the total amount of all orders?"
    with gw.connect("shop") as conn:
        conn.execute("INSERT INTO askgres.pairs (database, question, sql) VALUES "
                     f"('shop', '{question}', 'SELECT SUM(amount) FROM orders')")  # trust auth: an admin
        cur = conn.cursor()
        cur.execute(f"/* ask: {question} */", prepare=True)
        assert cur.description is not None and cur.description[0].type_code == 701  # float8
        assert cur.fetchall() == [(37.75,)]
        conn.execute("DELETE FROM orders")
        cur.execute(f"/* ask: {question} */", prepare=True)  # Bind, Execute of the prepared question
        assert cur.fetchall() == [(None,)]
        assert cur.description is not None and cur.description[0].type_code == 701
        conn.execute("INSERT INTO orders (customer, amount) VALUES ('cy', 4.5)")
        cur.execute(f"/* ask: {question} */", prepare=True)
        assert cur.fetchall() == [(4.5,)]


@pytest.mark.parametrize("db", ["chinook", "chinook_duckdb"])
def test_questions_that_ask_for_writes_change_nothing(askgw: Gateway, db: str) -> None:
    with askgw.connect(db) as conn:
        before = table_counts(conn)
        for question in ("delete all invoices", "drop the track table", "add an artist named The Testers",
                         "set every track's unit price to zero"):
            try:
                conn.execute(f"-- ask: {question}").fetchall()
            except psycopg.Error as e:
                assert e.sqlstate == "42000", e
        assert table_counts(conn) == before


def test_feedback_and_an_approved_example(askgw: Gateway) -> None:
    question = "How many albums are there?"
    with askgw.connect() as conn:
        first = conn.execute(f"-- ask: {question}").fetchall()
        out = conn.execute("SELECT askgres.feedback('wrong', 'SELECT count(*) FROM Album')").fetchone()
        assert out is not None and out[1] is not None
        failure = state(askgw, "SELECT kind, question, correct_sql FROM failures WHERE id = ?", (out[1],))
        assert failure == [("marked_wrong", question, "SELECT count(*) FROM Album")]
        pending = conn.execute(f"SELECT id, status, source FROM askgres.pairs WHERE failure_id = {out[1]}").fetchall()
        assert [(p[1], p[2]) for p in pending] == [("pending", "feedback")]
        # trust auth on loopback: this user is an admin
        conn.execute(f"UPDATE askgres.pairs SET status = 'approved' WHERE id = {pending[0][0]}")
        second = conn.execute("-- ask: How many albums are in the database?").fetchall()
        assert second == [(347,)], (first, second)
        reviewed = conn.execute(f"SELECT reviewed_by FROM askgres.pairs WHERE id = {pending[0][0]}").fetchone()
        assert reviewed == ("tester",)


def test_unanswerable_question_is_an_error_and_a_logged_failure(gateway_factory: Any) -> None:
    gw = warmed(gateway_factory(ask={"max_tokens": 1, "max_repairs": 1}))
    with gw.connect() as conn:
        with pytest.raises(psycopg.Error) as info:
            conn.execute("-- ask: which artist has the most albums?")
        err = info.value
        assert err.sqlstate == "42000"
        assert "could not write valid SQL" in (err.diag.message_primary or "")
        assert (err.diag.message_detail or "").startswith("last SQL tried")
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the session goes on
        rows = conn.execute("SELECT question, kind, model_version, prompt_version FROM askgres.failures"
                            " WHERE question LIKE 'which artist%'").fetchall()
        assert rows == [("which artist has the most albums?", "no_valid_sql", "base", "sql_v1")]
    cli = subprocess.run(
        [sys.executable, "-c", "import sys; from gateway.cli import main; sys.exit(main(prog_name='askgres'))",
         "--config", str(gw.config_path), "failures", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert cli.returncode == 0, cli.stderr
    logged = json.loads(cli.stdout)
    assert logged[0]["question"] == "which artist has the most albums?"  # newest first
    assert len(logged[0]["attempts"]) == 2 and all(a["error"] for a in logged[0]["attempts"])
    assert "Artist" in logged[0]["context"]["retrieved"]["tables"]


def test_cancel_request_stops_a_question_being_answered(gateway_factory: Any) -> None:
    # 48 sampled candidates: the question runs for many seconds unless cancelled
    gw = gateway_factory(ask={"candidates": 48, "max_repairs": 0})
    question = "-- ask: list the names of every track with its album title and genre"
    with gw.connect() as conn:
        failures_before = conn.execute("SELECT count(*) FROM askgres.failures").fetchone()
        for attempt in range(2):  # the first loads the model meanwhile; the second finds it warm
            error, elapsed = cancelled(conn, question, after_s=2.0)
            assert error.sqlstate == "57014"
            if attempt == 1:
                assert elapsed < 2.0 + 10.0, elapsed  # stopped within a token, not after 48 completions
            assert conn.execute("SELECT 1").fetchone() == (1,)  # the session goes on
        # a cancelled question is no failure to learn from
        assert conn.execute("SELECT count(*) FROM askgres.failures").fetchone() == failures_before
    done = [e for e in gw.log_events("ask.done") if e.get("kind") == "canceled"]
    assert len(done) == 2


def test_only_admins_review_pairs(gateway_factory: Any) -> None:
    gw = gateway_factory(users={"alice": {"password": "alice-pw"}, "root": {"password": "root-pw", "admin": True}})
    insert = "INSERT INTO askgres.pairs (database, question, sql) VALUES ('chinook', 'Count the artists.', 'SELECT count(*) FROM Artist')"
    with gw.connect(user="alice", password="alice-pw") as conn:
        with pytest.raises(psycopg.Error) as info:
            conn.execute(insert)
        assert info.value.sqlstate == "42501"
        assert conn.execute("SELECT count(*) FROM askgres.pairs").fetchone() == (0,)  # reading is open
    with gw.connect(user="root", password="root-pw") as conn:
        conn.execute(insert)
        assert conn.execute("SELECT status, reviewed_by FROM askgres.pairs").fetchall() == [("approved", "root")]


def test_synthetic_examples_are_built_after_the_first_question_and_then_retrieved(gateway_factory: Any) -> None:
    """A gateway that was not warmed builds its databases' synthetic examples in the
    background at the first question; the questions after that get them as examples (there
    is no approved pair), and a restart reads them back instead of synthesizing."""
    import time

    def examples_once_built(gw: Gateway) -> int:
        deadline = time.monotonic() + ASK_TIMEOUT_S
        while True:
            warmed(gw)
            seen = gw.log_events("ask.done")[-1]["examples"]
            if seen or time.monotonic() > deadline:
                return int(seen)
            time.sleep(1)

    gw = gateway_factory(ask={"synthetic_examples": 60})
    assert examples_once_built(gw) == 4  # examples_k, all of them synthetic
    assert {e["database"] for e in gw.log_events("synth.done")} >= {"chinook"}
    finish_gateway(gw)
    tables = sorted(p.name for p in (gw.data_dir / "index" / "synthetic").iterdir() if p.suffix == ".lance")
    assert [t for t in tables if t.startswith("synth__chinook__")][0].endswith("__60.lance"), tables

    again = launch_gateway(gw.data_dir.parent, {k: v for k, v in gw.settings.items() if not k.startswith("_")})
    try:
        assert examples_once_built(again) == 4
        # read back, not synthesized again (a set whose build the stop cut short is made now)
        assert [e for e in again.log_events("synth.done") if e["database"] == "chinook"] == []
    finally:
        finish_gateway(again)
