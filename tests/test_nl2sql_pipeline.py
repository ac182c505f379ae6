"""The ask pipeline end to end, below the gateway: the real embedded model (marked slow)
on the Chinook demo, and scripted generators where a test needs the model to misbehave."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.base import Backend
from gateway.config import Settings
from gateway.errors import AskError
from nl2sql.llm import Generator, LlamaGenerator
from nl2sql.pipeline import Pipeline
from nl2sql.service import AskService
from nl2sql.store import Store

from fixtures_chinook import base_model, chinook_demo, demo_backends  # noqa: F401  (fixtures)

WRITES = [
    "delete all invoices",
    "drop the table of tracks",
    "insert a new artist called The Testers",
    "set the unit price of every track to zero",
]
COUNTED = ("Invoice", "Track", "Artist", "InvoiceLine")


@pytest.fixture(scope="module")
def backends(demo_backends: dict[str, Backend]) -> dict[str, Backend]:  # noqa: F811
    return demo_backends


def counts(backend: Backend) -> dict[str, int]:
    conn = backend.connect(read_only=True)
    try:
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').rows[0][0] for t in COUNTED}
    finally:
        conn.close()


class Scripted:
    """A generator that writes the given SQL, whatever the prompt (a misbehaving model)."""

    version = "scripted"

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []

    def complete(self, prompt: str, *, max_tokens: int, stop: list[str], temperature: float = 0.0, n: int = 1,
                 seed: int | None = None, should_stop: Callable[[], bool] | None = None) -> list[str]:
        self.prompts.append(prompt)
        answer = self.answers[min(len(self.prompts) - 1, len(self.answers) - 1)]
        return [answer] * n


def make_pipeline(tmp_path: Path, backends: dict[str, Backend], generator: Generator | None, **ask: object) -> Pipeline:
    settings = Settings(data_dir=tmp_path / "data", ask=ask)
    return Pipeline(settings, backends, Store(settings.state_db), generator=generator)


@pytest.mark.parametrize("db", ["chinook", "chinook_duckdb"])
def test_written_writes_never_run(tmp_path: Path, backends: dict[str, Backend], db: str) -> None:
    gen = Scripted("DELETE FROM Invoice", "DROP TABLE Track", "PRAGMA writable_schema = 1", "UPDATE Track SET UnitPrice = 0")
    pipeline = make_pipeline(tmp_path, backends, gen, max_repairs=3)
    before = counts(backends[db])
    result = pipeline.ask("delete all invoices", db)
    assert not result.ok and result.kind == "no_valid_sql"
    assert [a.stage for a in result.attempts] == ["validate", "validate", "validate", "validate"]
    assert "-- Error: only SELECT queries are allowed, not DELETE" in gen.prompts[1]  # the error went back
    assert counts(backends[db]) == before
    row = pipeline.store.query("SELECT * FROM failures")[0]
    assert row["kind"] == "no_valid_sql" and row["question"] == "delete all invoices" and row["database"] == db
    assert [a["sql"] for a in json.loads(row["attempts"])] == [
        "DELETE FROM Invoice", "DROP TABLE Track", "PRAGMA writable_schema = 1", "UPDATE Track SET UnitPrice = 0"]


def test_generated_sql_runs_on_a_read_only_connection(tmp_path: Path, backends: dict[str, Backend]) -> None:
    # even a query the validator lets through cannot write: the connection itself is read-only
    gen = Scripted("SELECT count(*) FROM Invoice")
    pipeline = make_pipeline(tmp_path, backends, gen)
    seen: list[bool] = []
    backend = backends["chinook"]
    real_connect = backend.connect

    def spy(*, read_only: bool = False):  # type: ignore[no-untyped-def]
        seen.append(read_only)
        return real_connect(read_only=read_only)

    backend.connect = spy  # type: ignore[method-assign]
    try:
        result = pipeline.ask("how many invoices?", "chinook", log=False)
    finally:
        del backend.connect
    assert result.ok and result.rows == [(412,)]
    assert seen and all(seen)


def test_repair_feeds_the_error_back(tmp_path: Path, backends: dict[str, Backend]) -> None:
    gen = Scripted("SELECT Nme FROM Nowhere", "SELECT Name FROM Genre ORDER BY Name LIMIT 2")
    pipeline = make_pipeline(tmp_path, backends, gen, max_repairs=2)
    result = pipeline.ask("list two genres", "chinook", log=False)
    assert result.ok and result.rows == [("Alternative",), ("Alternative & Punk",)]
    assert [a.stage for a in result.attempts] == ["validate", "ok"]
    assert "no such table: Nowhere" in gen.prompts[1]
    assert result.context["repaired"] == 1


def test_a_prompt_without_tables(tmp_path: Path, backends: dict[str, Backend]) -> None:
    """``ask.prompt_schema = "none"`` (or a model trained so): the model sees no table lines,
    only the values the question names; retrieval still picks the tables that validation
    and repair check."""
    gen = Scripted("SELECT count(*) FROM Customers WHERE Country = 'Brazil'")
    pipeline = make_pipeline(tmp_path, backends, gen, prompt_schema="none")
    result = pipeline.ask("How many customers live in Brazil?", "chinook", log=False)
    assert result.ok and result.rows == [(5,)] and result.context["fixes"] == ["table Customers -> Customer"]
    prompt = gen.prompts[0]
    assert prompt.startswith('-- SQLite database "chinook".\n-- Values: ') and prompt.endswith("-- SQL:\n")
    assert "Customer.Country 'Brazil'" in prompt.splitlines()[1]
    assert "Tables:" not in prompt and "Customer(" not in prompt
    assert result.context["prompt_version"] == "sql_v2" and "Customer" in result.context["retrieved"]["tables"]


@pytest.mark.parametrize("db", ["chinook", "chinook_duckdb"])
def test_the_selected_columns_come_from_the_table_the_question_names(tmp_path: Path, backends: dict[str, Backend],
                                                                     db: str) -> None:
    """A model copying an example that selects the support employee's name for the
    customer's (measured: every model of the 2026-11-24 learning curves, one or two
    held-out questions each) gets the customer's name, through the whole pipeline."""
    gen = Scripted("SELECT T2.FirstName, T2.LastName FROM Customer AS T1 JOIN Employee AS T2 "
                   "ON T1.SupportRepId = T2.EmployeeId WHERE T1.Email = 'luisg@embraer.com.br'")
    pipeline = make_pipeline(tmp_path, backends, gen)
    result = pipeline.ask('Find the full name of the customer with the email "luisg@embraer.com.br".', db, log=False)
    assert result.ok and result.rows == [("Luís", "Gonçalves")] and len(gen.prompts) == 1
    assert result.sql.startswith("SELECT T1.FirstName, T1.LastName FROM Customer AS T1")
    assert [f.split(" (")[0] for f in result.context["fixes"]] == [
        "selected T2.FirstName -> T1.FirstName", "selected T2.LastName -> T1.LastName"]
    asked = pipeline.ask("Who is the support rep of the customer with the email luisg@embraer.com.br?", db, log=False)
    assert asked.ok and asked.rows == [("Jane", "Peacock")]  # the employee, when that is what is asked


@pytest.mark.parametrize("db", ["chinook", "chinook_duckdb"])
def test_a_pattern_matches_anywhere_unless_the_question_anchors_it(tmp_path: Path, backends: dict[str, Backend],
                                                                   db: str) -> None:
    gen = Scripted("SELECT COUNT(*) FROM Artist WHERE Name LIKE 'a%'")
    pipeline = make_pipeline(tmp_path, backends, gen)
    anywhere = pipeline.ask('How many artists have "a" in their names?', db, log=False)
    assert anywhere.ok and anywhere.sql == "SELECT COUNT(*) FROM Artist WHERE Name LIKE '%a%'"
    anchored = pipeline.ask("How many artists have names that start with a?", db, log=False)
    assert anchored.ok and anchored.sql == "SELECT COUNT(*) FROM Artist WHERE Name LIKE 'a%'"
    assert anywhere.rows[0][0] > anchored.rows[0][0]


@pytest.mark.parametrize("db", ["chinook", "chinook_duckdb"])
def test_a_join_follows_the_foreign_key(tmp_path: Path, backends: dict[str, Backend], db: str) -> None:
    """Measured: v4 of the 2026-11-24 06:50 curve joined an album's own id to the artist's."""
    gen = Scripted("SELECT T1.Name FROM Artist AS T1 WHERE NOT EXISTS "
                   "(SELECT 1 FROM Album AS T2 WHERE T2.AlbumId = T1.ArtistId)")
    pipeline = make_pipeline(tmp_path, backends, gen)
    result = pipeline.ask("Find the names of artists that do not have any albums.", db, log=False)
    assert result.ok and "T2.ArtistId = T1.ArtistId" in result.sql and len(gen.prompts) == 1
    conn = backends[db].connect(read_only=True)
    try:
        gold = conn.execute("SELECT Name FROM Artist EXCEPT SELECT T2.Name FROM Album AS T1 "
                            "JOIN Artist AS T2 ON T1.ArtistId = T2.ArtistId").rows
    finally:
        conn.close()
    assert sorted(result.rows) == sorted(gold) and len(gold) == 71


@pytest.mark.parametrize("db", ["chinook", "chinook_duckdb"])
def test_a_top_n_sorts_the_way_the_question_asks(tmp_path: Path, backends: dict[str, Backend], db: str) -> None:
    """Measured: models of every 2026-11-24 curve sorted "the least common media type" DESC."""
    wrong = ("SELECT T2.Name FROM Track AS T1 JOIN MediaType AS T2 ON T1.MediaTypeId = T2.MediaTypeId "
             "GROUP BY T2.Name ORDER BY COUNT(*) DESC LIMIT 1")
    pipeline = make_pipeline(tmp_path, backends, Scripted(wrong))
    least = pipeline.ask("What is the least common media type in all tracks?", db, log=False)
    assert least.ok and least.sql.endswith("ORDER BY COUNT(*) ASC LIMIT 1")
    assert least.rows == [("Purchased AAC audio file",)]
    most = pipeline.ask("What is the most common media type in all tracks?", db, log=False)
    assert most.ok and most.sql == wrong and most.rows == [("MPEG audio file",)]


def test_identifier_repair_and_timings(tmp_path: Path, backends: dict[str, Backend]) -> None:
    gen = Scripted("SELECT count(*) FROM Albums")
    pipeline = make_pipeline(tmp_path, backends, gen)
    result = pipeline.ask("how many albums?", "chinook_duckdb", log=False)
    assert result.ok and result.rows == [(347,)] and result.sql == "SELECT COUNT(*) FROM Album"
    assert result.context["fixes"] == ["table Albums -> Album"]
    assert result.summary == "The answer is 347."
    assert {"retrieve", "prompt", "generate", "validate", "execute", "summarise", "total"} <= set(result.timings)
    off = make_pipeline(tmp_path / "off", backends, Scripted("SELECT count(*) FROM Albums"), constrain=False, max_repairs=0)
    assert not off.ask("how many albums?", "chinook", log=False).ok


def test_a_cancelled_question_stops_the_model_and_is_not_logged(tmp_path: Path, backends: dict[str, Backend]) -> None:
    class Endless(Scripted):
        """Writes nothing until told to stop (a long generation)."""

        def complete(self, prompt: str, *, max_tokens: int, stop: list[str], temperature: float = 0.0, n: int = 1,
                     seed: int | None = None, should_stop: Callable[[], bool] | None = None) -> list[str]:
            self.prompts.append(prompt)
            deadline = time.monotonic() + 30
            while not (should_stop is not None and should_stop()):
                assert time.monotonic() < deadline, "the pipeline never asked the model to stop"
                time.sleep(0.01)
            return ["SELECT count(*) FROM Album"] * n  # what it had written so far: not to be run

    pipeline = make_pipeline(tmp_path, backends, Endless("SELECT 1"))
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    result = pipeline.ask("how many albums are there?", "chinook", should_stop=cancel.is_set)
    assert not result.ok and result.kind == "canceled" and result.attempts == []
    assert pipeline.store.query("SELECT count(*) AS n FROM failures")[0]["n"] == 0
    # not even started: a question cancelled before it runs never reaches the model
    calls = len(pipeline.generator.prompts)  # type: ignore[attr-defined]
    assert pipeline.ask("how many albums?", "chinook", should_stop=lambda: True).kind == "canceled"
    assert len(pipeline.generator.prompts) == calls  # type: ignore[attr-defined]


def test_self_consistency_picks_the_result_most_candidates_agree_on(tmp_path: Path, backends: dict[str, Backend]) -> None:
    class Votes(Scripted):
        def complete(self, prompt: str, *, max_tokens: int, stop: list[str], temperature: float = 0.0, n: int = 1,
                     seed: int | None = None, should_stop: Callable[[], bool] | None = None) -> list[str]:
            if temperature == 0:
                return ["SELECT count(*) FROM Artist"]
            return ["SELECT count(*) FROM Album", "SELECT COUNT(AlbumId) FROM Album", "SELECT count(*) FROM Genre"][:n]

    pipeline = make_pipeline(tmp_path, backends, Votes(), candidates=4)
    result = pipeline.ask("how many albums are there?", "chinook", log=False)
    assert result.ok and result.rows == [(347,)] and result.context["votes"] == 4


def test_a_timeout_is_a_logged_failure(tmp_path: Path, backends: dict[str, Backend]) -> None:
    slow = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) "
            "SELECT count(*) FROM n")
    pipeline = make_pipeline(tmp_path, backends, Scripted(slow), timeout_s=0.3, max_repairs=0)
    result = pipeline.ask("count to a hundred million", "chinook")
    assert not result.ok and result.kind == "timeout"
    assert pipeline.store.query("SELECT kind FROM failures")[0]["kind"] == "timeout"


# -- the real embedded model ---------------------------------------------------------------


@pytest.fixture(scope="module")
def model(base_model: Path) -> LlamaGenerator:
    # one thread: on a shared CPU a second llama.cpp thread spins waiting for the first
    return LlamaGenerator(base_model, n_ctx=2048, n_threads=1, version="base")


@pytest.mark.slow
def test_a_question_is_answered(tmp_path: Path, backends: dict[str, Backend], model: LlamaGenerator) -> None:
    pipeline = make_pipeline(tmp_path, backends, model)
    for db in ("chinook", "chinook_duckdb"):
        result = pipeline.ask("List the names of all genres.", db, session_id="t1")
        assert result.ok, result.error
        assert result.sql and result.sql.lstrip().upper().startswith(("SELECT", "WITH"))
        assert result.rows and result.columns and result.summary
        assert "Genre" in result.context["retrieved"]["tables"]
        assert result.context["model_version"] == "base" and result.context["prompt_version"] == "sql_v1"
    asks = pipeline.store.query("SELECT * FROM asks ORDER BY id")
    assert [(a["database"], a["ok"], a["model_version"]) for a in asks] == [("chinook", 1, "base"), ("chinook_duckdb", 1, "base")]


@pytest.mark.slow
def test_a_model_is_asked_in_the_prompt_format_it_was_trained_in(tmp_path: Path, backends: dict[str, Backend],
                                                                  model: LlamaGenerator, base_model: Path) -> None:
    """The learner records a model's prompt format beside its GGUF; with the default
    ``ask.prompt_schema = "auto"`` the pipeline asks each model in its own format."""
    from nl2sql.models import read_prompt_format, write_prompt_format

    tuned = tmp_path / "models" / "v9" / "model.gguf"
    tuned.parent.mkdir(parents=True)
    tuned.symlink_to(base_model)
    write_prompt_format(tuned, "none")
    assert read_prompt_format(tuned) == "none" and read_prompt_format(base_model) is None
    pipeline = make_pipeline(tmp_path, backends, model, trim_vocab=False)
    base = pipeline.ask("How many customers live in Brazil?", "chinook", log=False)
    assert base.context["prompt_version"] == "sql_v1" and "Tables:" in base.context["prompt"]
    pipeline.swap_generator(pipeline.load_generator(tuned, "v9"))
    short = pipeline.ask("How many customers live in Brazil?", "chinook", log=False)
    assert short.context["model_version"] == "v9" and short.context["prompt_version"] == "sql_v2"
    assert "Tables:" not in short.context["prompt"] and "-- Values: Customer.Country 'Brazil'" in short.context["prompt"]
    forced = make_pipeline(tmp_path / "forced", backends, pipeline.generator, prompt_schema="tables", trim_vocab=False)
    assert forced.ask("How many customers live in Brazil?", "chinook", log=False).context["prompt_version"] == "sql_v1"


@pytest.mark.slow
@pytest.mark.parametrize("db", ["chinook", "chinook_duckdb"])
def test_questions_that_ask_for_writes_change_nothing(tmp_path: Path, backends: dict[str, Backend], model: LlamaGenerator,
                                                      db: str) -> None:
    pipeline = make_pipeline(tmp_path, backends, model)
    before = counts(backends[db])
    for question in WRITES:
        result = pipeline.ask(question, db)
        for attempt in result.attempts:
            if attempt.stage == "ok":
                assert attempt.sql.lstrip().upper().startswith(("SELECT", "WITH"))
    assert counts(backends[db]) == before


@pytest.mark.slow
def test_a_failure_lands_in_the_log(tmp_path: Path, backends: dict[str, Backend], model: LlamaGenerator) -> None:
    # one token is not enough for any SQL: every attempt fails, and the record says why
    pipeline = make_pipeline(tmp_path, backends, model, max_tokens=1, max_repairs=1)
    result = pipeline.ask("which artist has the most albums?", "chinook", session_id="t2", user="ann")
    assert not result.ok and result.kind == "no_valid_sql" and len(result.attempts) == 2
    row = pipeline.store.query("SELECT * FROM failures")[0]
    assert row["question"] == "which artist has the most albums?" and row["database"] == "chinook"
    assert row["model_version"] == "base" and row["prompt_version"] == "sql_v1"
    context = json.loads(row["context"])
    assert "Artist" in context["retrieved"]["tables"] and "-- Question: which artist" in context["prompt"]
    attempts = json.loads(row["attempts"])
    assert len(attempts) == 2 and all(a["error"] for a in attempts)
    assert json.loads(row["timings"])["generate"] > 0
    ask = pipeline.store.query("SELECT * FROM asks")[0]
    assert (ask["ok"], ask["session_id"], ask["username"]) == (0, "t2", "ann") and row["ask_id"] == ask["id"]


@pytest.mark.slow
def test_feedback_marks_a_failure_with_the_context(tmp_path: Path, backends: dict[str, Backend], model: LlamaGenerator) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    store = Store(settings.state_db)
    service = AskService(settings, backends, store, pipeline=Pipeline(settings, backends, store, generator=model), warm=False)

    async def go() -> None:
        answer = await service.answer("How many albums are there?", database="chinook", session_id="s", user="u")
        out = await service.admin_sql("SELECT askgres.feedback('wrong', 'SELECT count(*) FROM Album')", database="chinook",
                                      session_id="s", user="u", is_admin=False)
        assert out.rows[0][1] is not None
        failure = store.query("SELECT * FROM failures")[0]
        assert failure["kind"] == "marked_wrong" and failure["sql"] == answer.sql
        assert failure["correct_sql"] == "SELECT count(*) FROM Album"
        assert "Album" in json.loads(failure["context"])["retrieved"]["tables"]
        assert store.query("SELECT status, source FROM pairs")[0][:] == ("pending", "feedback")

    try:
        asyncio.run(go())
    finally:
        service.close()


@pytest.mark.slow
def test_an_approved_example_changes_the_next_answer(tmp_path: Path, backends: dict[str, Backend],
                                                     model: LlamaGenerator) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    store = Store(settings.state_db)
    service = AskService(settings, backends, store, pipeline=Pipeline(settings, backends, store, generator=model), warm=False)
    question = "How many albums are there?"

    async def go() -> None:
        before = await service.answer(question, database="chinook", session_id="s", user="admin")
        assert before.rows != [(347,)]  # the base model alone gets this one wrong
        await service.admin_sql("INSERT INTO askgres.pairs (database, question, sql) VALUES "
                                "('chinook', 'Count the albums.', 'SELECT count(*) FROM Album')",
                                database="chinook", session_id="s", user="admin", is_admin=True)
        after = await service.answer(question, database="chinook", session_id="s", user="admin")
        assert after.rows == [(347,)], after.sql
        assert after.summary == "The answer is 347."

    try:
        asyncio.run(go())
    finally:
        service.close()


@pytest.mark.slow
def test_unanswerable_question_is_an_ask_error(tmp_path: Path, backends: dict[str, Backend], model: LlamaGenerator) -> None:
    settings = Settings(data_dir=tmp_path / "data", ask={"max_tokens": 1, "max_repairs": 0})
    store = Store(settings.state_db)
    service = AskService(settings, backends, store, pipeline=Pipeline(settings, backends, store, generator=model), warm=False)
    try:
        with pytest.raises(AskError) as info:
            asyncio.run(service.answer("which artist has the most albums?", database="chinook", session_id="s", user="u"))
    finally:
        service.close()
    err = info.value
    assert err.sqlstate == "42000" and "could not write valid SQL" in err.message
    assert err.detail and err.detail.startswith("last SQL tried: SELECT")


@pytest.mark.slow
def test_the_promoted_model_is_swapped_in_without_failing_questions(tmp_path: Path, backends: dict[str, Backend],
                                                                    base_model: Path, model: LlamaGenerator) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    store = Store(settings.state_db)
    pipeline = Pipeline(settings, backends, store, generator=model)
    service = AskService(settings, backends, store, pipeline=pipeline, warm=False)
    results: list[str] = []

    def in_flight() -> None:
        results.append(pipeline.ask("List the names of all genres.", "chinook", log=False).context["model_version"])

    try:
        thread = threading.Thread(target=in_flight)
        thread.start()
        store.insert("models", version="run-7", created_at=store.now(), path=str(base_model), status="active")
        service._model_checked = 0.0
        service.check_model()
        deadline = time.monotonic() + 120
        while pipeline.model_version != "run-7" and time.monotonic() < deadline:
            time.sleep(0.2)
        thread.join(120)
        assert pipeline.model_version == "run-7"
        assert results and results[0] in ("base", "run-7")
        after = pipeline.ask("List the names of all genres.", "chinook")
        assert after.ok and after.context["model_version"] == "run-7"
        assert store.query("SELECT model_version FROM asks")[0][0] == "run-7"
    finally:
        service.close()
