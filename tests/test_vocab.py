"""The trimmed-vocabulary GGUF (nl2sql/vocab.py) on the real bundled model: smaller, spells
the schema and the prompt exactly as the full vocabulary does, writes the same SQL, and
is what the pipeline serves (or not, with ``ask.trim_vocab = false``)."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest

from connectors.base import Backend, SchemaInfo
from gateway.config import AskConfig, Settings
from nl2sql.llm import LlamaGenerator, load_llama
from nl2sql.prompt import STOP, build_prompt, render_schema
from nl2sql.vocab import STALE_S, schema_corpus, trim_file, trimmed_gguf

from fixtures_chinook import base_model, chinook_demo, demo_backends  # noqa: F401  (fixtures)

FULL_VOCAB = 262_144


@pytest.fixture(scope="module")
def schemas(demo_backends: dict[str, Backend]) -> list[SchemaInfo]:  # noqa: F811
    return [b.introspect(samples=3) for b in demo_backends.values()]


@pytest.fixture(scope="module")
def trimmed(base_model: Path, schemas: list[SchemaInfo]) -> Path:
    return trimmed_gguf(base_model, schema_corpus(schemas))


def vocab(path: Path) -> object:
    from llama_cpp import Llama

    return Llama(model_path=str(path), vocab_only=True, verbose=False)


def pieces(llm: object, text: str) -> list[bytes]:
    ids = llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)  # type: ignore[attr-defined]
    return [llm.detokenize([i]) for i in ids]  # type: ignore[attr-defined]


def test_trimmed_copy_is_smaller_and_spells_the_corpus_the_same(
    base_model: Path, trimmed: Path, schemas: list[SchemaInfo]
) -> None:
    assert trimmed != base_model and trimmed.name.startswith(base_model.stem + ".vocab-")
    assert trimmed.stat().st_size < 0.6 * base_model.stat().st_size
    full, small = vocab(base_model), vocab(trimmed)
    assert full.n_vocab() == FULL_VOCAB  # type: ignore[attr-defined]
    assert small.n_vocab() < FULL_VOCAB // 3  # type: ignore[attr-defined]
    for text in schema_corpus(schemas):
        assert pieces(small, text) == pieces(full, text), text[:80]
    sql = "SELECT T1.Name, COUNT(*) FROM Artist AS T1 JOIN Album AS T2 ON T1.ArtistId = T2.ArtistId WHERE T1.Name LIKE '%a%' GROUP BY 1;"
    assert pieces(small, sql) == pieces(full, sql)
    # what the trimmed vocabulary lacks still tokenizes: by smaller pieces, then by bytes
    odd = "Köln, 日本"
    assert b"".join(pieces(small, odd)) == odd.encode("utf-8")


def test_greedy_sql_is_the_full_models(base_model: Path, trimmed: Path, schemas: list[SchemaInfo]) -> None:
    schema = next(s for s in schemas if s.dialect == "sqlite")
    prompt = build_prompt(question="How many tracks does each genre have?",
                          schema=render_schema(schema, ["Genre", "Track"]), database=schema.database)
    outs = []
    for path in (base_model, trimmed):
        gen = LlamaGenerator(path, n_ctx=1024, n_threads=2)
        outs.append(gen.complete(prompt, max_tokens=48, stop=STOP)[0])
    assert outs[0].strip(), "the full model wrote nothing"
    assert outs[1] == outs[0]


def test_cached_and_rebuilt_when_the_source_changes(base_model: Path, trimmed: Path, schemas: list[SchemaInfo],
                                                   tmp_path: Path) -> None:
    before = trimmed.stat().st_mtime_ns
    assert trimmed_gguf(base_model, schema_corpus(schemas)) == trimmed
    assert trimmed.stat().st_mtime_ns == before  # not written again
    # another corpus is another file; a newer source rebuilds it
    src = tmp_path / "m.gguf"
    shutil.copyfile(base_model, src)
    first = trimmed_gguf(src, ["Zyzzogeton"])
    assert first != trimmed_gguf(src, ["Quux"])
    now = first.stat().st_mtime
    os.utime(first, (now - 1000, now - 1000))  # the source is now newer than its trimmed copy
    os.utime(src, (now - 500, now - 500))
    assert trimmed_gguf(src, ["Zyzzogeton"]) == first and first.stat().st_mtime > now - 500
    # a new corpus (new approvals) drops copies of other corpora left unused for an hour
    stale = trimmed_gguf(src, ["Quux"])
    os.utime(stale, (now - 2 * STALE_S, now - 2 * STALE_S))
    newest = trimmed_gguf(src, ["Frobnicate"])
    assert newest.exists() and first.exists() and not stale.exists()


def test_untrimmable_file_is_served_as_it_is(tmp_path: Path) -> None:
    bogus = tmp_path / "not-a-model.gguf"
    bogus.write_bytes(struct.pack("<IIQQ", 0x12345678, 3, 0, 0))
    assert trimmed_gguf(bogus, ["SELECT"]) == bogus
    with pytest.raises(ValueError):
        trim_file(bogus, tmp_path / "out.gguf")
    assert not (tmp_path / "out.gguf").exists()


def test_load_llama_follows_the_setting(base_model: Path, schemas: list[SchemaInfo], tmp_path: Path) -> None:
    def corpus() -> list[str]:
        return schema_corpus(schemas)

    on = Settings(data_dir=tmp_path, ask=AskConfig(trim_vocab=True, n_ctx=256))
    off = Settings(data_dir=tmp_path, ask=AskConfig(trim_vocab=False, n_ctx=256))
    served = load_llama(on, base_model, version="base", corpus=corpus)
    assert ".vocab-" in served.model_path.name and served.version == "base"
    assert load_llama(off, base_model, version="base", corpus=corpus).model_path == base_model
    assert load_llama(on, base_model, version="base", corpus=None).model_path == base_model


def test_served_ids_are_the_tokens_the_trimmed_copy_keeps(base_model: Path, trimmed: Path,
                                                          schemas: list[SchemaInfo]) -> None:
    """Fine-tuning scores the ids ``served_ids`` names (learner/train.py): they must be
    exactly the pieces the served copy has, in the full vocabulary's numbering."""
    from nl2sql.vocab import served_ids

    full, small = vocab(base_model), vocab(trimmed)
    ids = served_ids(base_model, schema_corpus(schemas))
    assert len(ids) == small.n_vocab() < FULL_VOCAB  # type: ignore[attr-defined]
    assert ids == sorted(set(ids))
    spelled = [full.detokenize([i]) for i in ids[::97]]  # type: ignore[attr-defined]
    assert spelled == [small.detokenize([ids.index(i)]) for i in ids[::97]]  # type: ignore[attr-defined]
    assert set(served_ids(base_model)) < set(ids)  # the corpus adds its pieces
