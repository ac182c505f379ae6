"""Execution-accuracy scoring (Spider's rules): multiset vs ordered, column order, float
rounding, and gold-vs-gold on real Spider Chinook queries."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from nl2sql.scoring import execution_match, gold_is_ordered, results_match

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CHINOOK = SHARED / "chinook" / "Chinook_Sqlite.sqlite"
CHINOOK_QUESTIONS = SHARED / "chinook" / "spider_chinook_1.jsonl"


def test_multiset_ignores_row_order_unless_ordered() -> None:
    gold = [(1, "a"), (2, "b"), (3, "c")]
    shuffled = [(3, "c"), (1, "a"), (2, "b")]
    assert results_match(gold, shuffled, ordered=False)
    assert not results_match(gold, shuffled, ordered=True)
    assert results_match(gold, list(gold), ordered=True)


def test_multiset_counts_duplicates() -> None:
    assert not results_match([(1,), (1,), (2,)], [(1,), (2,), (2,)], ordered=False)
    assert not results_match([(1,), (1,)], [(1,)], ordered=False)
    assert results_match([(1,), (2,), (1,)], [(1,), (1,), (2,)], ordered=False)


def test_column_order_is_ignored() -> None:
    gold = [("AC/DC", 2), ("Accept", 2), ("Aerosmith", 1)]
    swapped = [(2, "AC/DC"), (2, "Accept"), (1, "Aerosmith")]
    assert results_match(gold, swapped, ordered=False)
    assert results_match(gold, swapped, ordered=True)
    # ordered: the permuted rows must keep the gold order
    assert not results_match(gold, [(1, "Aerosmith"), (2, "AC/DC"), (2, "Accept")], ordered=True)


def test_column_permutation_must_be_consistent_across_rows() -> None:
    # Each column holds the same values, but no single permutation maps rows onto rows.
    gold = [(1, 2), (3, 4)]
    pred = [(1, 4), (3, 2)]
    assert not results_match(gold, pred, ordered=False)
    # Two look-alike columns: the permutation search must try the second assignment.
    assert results_match([(1, 1, "x"), (2, 2, "y")], [("x", 1, 1), ("y", 2, 2)], ordered=True)


def test_width_and_length_must_match() -> None:
    assert not results_match([(1, "a")], [(1,)], ordered=False)
    assert not results_match([(1, "a")], [(1, "a", "extra")], ordered=False)
    assert not results_match([(1,)], [], ordered=False)
    assert not results_match([], [(1,)], ordered=False)
    assert results_match([], [], ordered=True)


def test_floats_are_rounded() -> None:
    assert results_match([(1 / 3,)], [(0.33333333,)], ordered=False)
    assert results_match([(3.0,)], [(3,)], ordered=False)
    assert results_match([(Decimal("2.50"),)], [(2.5,)], ordered=False)
    assert not results_match([(0.33,)], [(0.34,)], ordered=False)
    assert not results_match([(1.0,)], [("1.0",)], ordered=False)


def test_nulls_and_unhashable_values() -> None:
    assert results_match([(None, 1)], [(1, None)], ordered=False)
    assert results_match([([1, 2], {"a": 1.00001})], [([1, 2], {"a": 1.0})], ordered=False)
    assert not results_match([([1, 2],)], [([2, 1],)], ordered=False)


def test_gold_is_ordered_looks_at_the_outer_query() -> None:
    assert gold_is_ordered("SELECT Name FROM Artist ORDER BY Name")
    assert gold_is_ordered("select a from t union select b from u order by 1")
    assert not gold_is_ordered("SELECT count(*) FROM Album")
    assert not gold_is_ordered("SELECT Name FROM Track WHERE Milliseconds = (SELECT max(Milliseconds) FROM Track ORDER BY 1 LIMIT 1)")
    assert gold_is_ordered("SELECT x FROM t ORDER BY x DESC LIMIT 3", dialect="duckdb")


def _chinook_backend(path: Path):  # noqa: ANN202 - the connectors' SqliteBackend
    sqlite_mod = pytest.importorskip("connectors.sqlite")
    return sqlite_mod.SqliteBackend("chinook", path, read_only=True)


@pytest.fixture(scope="module")
def chinook_cases() -> list[dict[str, str]]:
    if not CHINOOK.exists() or not CHINOOK_QUESTIONS.exists():
        pytest.skip("../shared/data/chinook is absent")
    return [json.loads(line) for line in CHINOOK_QUESTIONS.read_text().splitlines() if line.strip()]


def test_gold_against_itself_is_always_right(chinook_cases: list[dict[str, str]]) -> None:
    backend = _chinook_backend(CHINOOK)
    try:
        for case in chinook_cases[::7]:
            assert execution_match(backend, case["sql"], case["sql"]), case["sql"]
    finally:
        backend.close()


def test_execution_match_on_real_queries(chinook_cases: list[dict[str, str]]) -> None:
    backend = _chinook_backend(CHINOOK)
    try:
        # Same answer, different SQL: columns swapped, different spelling.
        assert execution_match(
            backend,
            "SELECT T2.Name, count(*) FROM ALBUM AS T1 JOIN ARTIST AS T2 ON T1.ArtistId = T2.ArtistId GROUP BY T2.Name",
            "SELECT count(*) AS n, ar.Name FROM Artist ar JOIN Album al USING (ArtistId) GROUP BY ar.ArtistId",
        )
        # ORDER BY in the gold: a reversed order is wrong, the same order right.
        gold = "SELECT Name FROM Genre ORDER BY Name"
        assert execution_match(backend, gold, "SELECT Name FROM Genre ORDER BY GenreId") is False
        assert execution_match(backend, gold, "SELECT g.Name FROM Genre g ORDER BY 1")
        # A wrong answer, and a prediction that fails to run, are both wrong.
        assert not execution_match(backend, "SELECT count(*) FROM Album", "SELECT count(*) FROM Artist")
        assert not execution_match(backend, "SELECT count(*) FROM Album", "SELECT count(*) FROM Albums")
    finally:
        backend.close()


def test_results_match_on_sqlite_rows(chinook_cases: list[dict[str, str]]) -> None:
    """The pure function on rows fetched with the sqlite3 module directly."""
    conn = sqlite3.connect(f"file:{CHINOOK}?mode=ro", uri=True)
    try:
        for case in chinook_cases[::5]:
            rows = conn.execute(case["sql"]).fetchall()
            ordered = gold_is_ordered(case["sql"])
            assert results_match(rows, list(reversed(rows)) if not ordered else rows, ordered=ordered)
            if rows and len(rows[0]) > 1:
                flipped = [tuple(reversed(r)) for r in rows]
                assert results_match(rows, flipped, ordered=ordered)
    finally:
        conn.close()
