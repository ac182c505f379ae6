"""Greedy decoding with n-gram drafts (nl2sql/speculate.py): the lookup itself, and on the
real bundled model: the loop is llama.cpp's greedy decoding when nothing is drafted, drafts
copied from the prompt are accepted (fewer model passes than tokens), a mask still decides
every token, and the generator uses it for greedy completions only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from connectors.base import Backend, SchemaInfo
from nl2sql.llm import LlamaGenerator
from nl2sql.prompt import STOP
from nl2sql.speculate import NgramDraft, Stats, greedy
from nl2sql.vocab import schema_corpus, trimmed_gguf

from fixtures_chinook import base_model, chinook_demo, demo_backends  # noqa: F401  (fixtures)

SQL = 'SELECT T1.Name FROM "Artist" AS T1 JOIN "Album" AS T2 ON T1.ArtistId = T2.ArtistId GROUP BY T1.ArtistId ORDER BY COUNT(*) DESC LIMIT 1'
QUESTION = "Which artist has the most albums?"
EXAMPLE = f"-- Question: {QUESTION}\n-- SQL: {SQL};\n"
PROMPT = (
    '-- SQLite database "chinook".\n' + EXAMPLE
    + "-- Question: How many tracks are there?\n-- SQL: SELECT COUNT(*) FROM \"Track\";\n"
    + EXAMPLE + f"-- Question: {QUESTION}\n-- SQL:"
)
"""The base model repeats an example seen twice: a completion known in advance."""


def test_draft_follows_the_latest_match_of_the_longest_suffix() -> None:
    d = NgramDraft(max_ngram=3, min_ngram=1)
    #        0  1  2  3  4  5  6  7  8  9
    ids = [5, 6, 7, 8, 1, 6, 7, 9, 2, 6, 7]
    # suffix (6, 7) last seen at 5..6, followed by 9, 2, 6...
    assert d.propose(ids, 3) == [9, 2, 6]
    # a longer suffix wins over a later shorter match: (8, 1, 6) at 0..2, (1, 6) last at 5..6
    assert d.propose([8, 1, 6, 0, 3, 1, 6, 7, 8, 1, 6], 2) == [0, 3]
    assert d.propose([1, 2, 3], 4) == []  # nothing repeats
    assert d.propose(ids, 0) == []
    # only matches of at least min_ngram tokens are trusted
    strict = NgramDraft(max_ngram=3, min_ngram=3)
    assert strict.propose(ids, 3) == []  # (6, 7) repeats, (2, 6, 7) does not
    assert strict.propose([8, 1, 6, 0, 3, 1, 6, 7, 8, 1, 6], 2) == [0, 3]


def test_draft_falls_back_to_remembered_completions_newest_first() -> None:
    d = NgramDraft(max_ngram=2, min_ngram=1, memory=2)
    d.remember([1, 2, 3, 4])
    assert d.propose([9, 2], 3) == [3, 4]
    d.remember([7, 2, 8])
    assert d.propose([9, 2], 3) == [8]  # the newest completion that has (2,)
    assert d.propose([9, 7, 2], 1) == [8]
    d.remember([0, 5, 6])  # memory 2: the first completion is forgotten
    assert d.propose([9, 3], 2) == []
    assert d.propose([9, 5], 2) == [6]


@pytest.fixture(scope="module")
def generator(base_model: Path, demo_backends: dict[str, Backend]) -> LlamaGenerator:  # noqa: F811
    schemas: list[SchemaInfo] = [b.introspect(samples=3) for b in demo_backends.values()]
    return LlamaGenerator(trimmed_gguf(base_model, schema_corpus(schemas)), n_ctx=1024, n_threads=2, draft_tokens=6)


def _ids(gen: LlamaGenerator, text: str) -> list[int]:
    return list(gen._llm.tokenize(text.encode("utf-8"), add_bos=True, special=False))


def test_without_drafts_the_loop_is_llama_cpps_greedy_decoding(generator: LlamaGenerator) -> None:
    prompts = [PROMPT, PROMPT.replace(QUESTION, "List the names of all genres."),
               '-- SQLite database "chinook".\n-- Question: How many customers live in Brazil?\n-- SQL:']
    refs = []
    for prompt in prompts:
        generator._llm.reset()  # both from a cold cache: same prompt batches, same numbers
        ref = generator._sampled(prompt, max_tokens=48, stop=list(STOP), temperature=0.0, seed=None, mask=None,
                                 stopped=lambda: False)
        generator._llm.reset()
        generator.draft_tokens = 0
        try:
            ours = generator._greedy(prompt, max_tokens=48, stop=list(STOP), mask=None, stopped=lambda: False)
        finally:
            generator.draft_tokens = 6
        assert ours == ref, prompt
        refs.append(ref)
    assert all(r.strip() for r in refs), refs


def test_drafts_copied_from_the_prompt_save_model_passes(generator: LlamaGenerator) -> None:
    llm = generator._llm
    stats = Stats()
    out = greedy(llm, _ids(generator, PROMPT), max_tokens=80, draft=NgramDraft(), draft_tokens=6,
                 done=lambda g: ";" in llm.detokenize(g).decode("utf-8", "ignore"), stats=stats)
    text = llm.detokenize(out).decode("utf-8", "ignore")
    assert text.strip().rstrip(";") == SQL  # the model repeats the example's SQL
    assert stats.accepted >= len(out) // 2, vars(stats)
    assert stats.passes < len(out) // 2, vars(stats)
    # the generator path cuts at the stop and gives the same SQL
    assert generator.complete(PROMPT, max_tokens=80, stop=list(STOP))[0].strip() == SQL


def test_a_mask_decides_every_token_drafted_or_not(generator: LlamaGenerator) -> None:
    llm = generator._llm
    banned = {int(t) for t in llm.tokenize(b' "Album"', add_bos=False, special=False)[:1]}
    banned |= {int(t) for t in llm.tokenize(b'"Album"', add_bos=False, special=False)[:1]}
    allowed = np.array([t for t in range(llm.n_vocab()) if t not in banned])
    seen: list[str] = []

    def mask(text: str) -> np.ndarray:
        seen.append(text)
        return allowed

    stats = Stats()
    out = greedy(llm, _ids(generator, PROMPT), max_tokens=60, draft=NgramDraft(), draft_tokens=6,
                 done=lambda g: ";" in llm.detokenize(g).decode("utf-8", "ignore"), mask=mask, stats=stats)
    assert not banned & set(out)
    assert stats.drafted > 0  # the example was drafted, and its banned token refused
    assert len(seen) >= len(out)  # asked for every token, accepted drafts included
    text = llm.detokenize(out).decode("utf-8", "ignore")
    assert text.strip() and SQL not in text


SET_SQL = ("SELECT T1.Title FROM Album AS T1 JOIN Track AS T2 ON T1.AlbumId = T2.AlbumId "
           "JOIN Genre AS T3 ON T2.GenreId = T3.GenreId WHERE T3.Name = 'Reggae' INTERSECT "
           "SELECT T1.Title FROM Album AS T1 JOIN Track AS T2 ON T1.AlbumId = T2.AlbumId "
           "JOIN Genre AS T3 ON T2.GenreId = T3.GenreId WHERE T3.Name = 'Rock'")
SET_QUESTION = "Which albums have both Reggae and Rock tracks?"


@pytest.mark.parametrize("draft_tokens", [0, 6])
def test_a_set_operations_second_branch_is_not_taken_for_a_loop(generator: LlamaGenerator, draft_tokens: int) -> None:
    """The second branch of INTERSECT repeats the first one's opening (more than 40
    characters): the completion runs to its end, where a repetition check that fires on a
    second occurrence cut it after ``... JOIN Track``. A real loop is still cut."""
    example = f"-- Question: {SET_QUESTION}\n-- SQL: {SET_SQL};\n"
    prompt = ('-- SQLite database "chinook".\n' + example
              + "-- Question: How many tracks are there?\n-- SQL: SELECT COUNT(*) FROM \"Track\";\n"
              + example + f"-- Question: {SET_QUESTION}\n-- SQL:")
    generator.draft_tokens = draft_tokens
    try:
        out = generator.complete(prompt, max_tokens=120, stop=list(STOP))[0]
    finally:
        generator.draft_tokens = 6
    assert out.strip().rstrip(";") == SET_SQL  # the model repeats the example, both branches
    from nl2sql.llm import _runaway
    looping = "SELECT Name FROM Track WHERE " + "Name = 'Rock' AND Name = 'Jazz' AND " * 4
    assert _runaway(looping)
    assert not any(_runaway(SET_SQL[:n]) for n in range(1, len(SET_SQL) + 1))
