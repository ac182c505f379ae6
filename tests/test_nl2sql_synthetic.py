"""Synthetic examples (nl2sql/synthetic.py): pairs the schema synthesizer writes for a
database, built once per schema, and retrieved beside approved examples, which win near
ties. Real SQLite, real embedder, real synthesizer."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.sqlite import SqliteBackend
from nl2sql.embed import shared_embedder
from nl2sql.examples import ExampleIndex
from nl2sql.schema_index import SchemaIndex
from nl2sql.store import Store
from nl2sql.synthetic import SyntheticExamples

from test_nl2sql_schema_index import DDL

MORE = """
INSERT INTO country VALUES (3, 'Chile'), (4, 'Japan');
INSERT INTO city VALUES (3, 'Santiago', 3), (4, 'Osaka', 4), (5, 'Natal', 1);
INSERT INTO store VALUES (3, 'Andes Goods', 3), (4, 'Kansai Corner', 4), (5, 'Dune Shop', 5);
INSERT INTO product VALUES (3, 'Oolong', 6.5, 'tea'), (4, 'Arabica', 14.0, 'coffee'), (5, 'Mate', 3.0, 'tea');
INSERT INTO sale VALUES (3, 3, 3, 2, '2024-02-01'), (4, 4, 4, 5, '2024-02-02'), (5, 5, 5, 1, '2024-03-03'),
                        (6, 1, 2, 2, '2024-03-04'), (7, 3, 1, 4, '2024-04-05');
INSERT INTO employee VALUES (3, 'Rosa', 'Diaz', 3, 2500), (4, 'Kenji', 'Sato', 4, 3500), (5, 'Joao', 'Silva', 5, 2800);
"""


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[SqliteBackend]:
    path = tmp_path / "shop.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(DDL + MORE)
    conn.close()
    backend = SqliteBackend("shop", path)
    yield backend
    backend.close()


def _set(root: Path, shop: SqliteBackend, n: int = 40):  # type: ignore[no-untyped-def]
    db = SchemaIndex(root / "schema", shared_embedder()).get(shop)
    made = SyntheticExamples(root / "synthetic", shared_embedder(), n=n).build(shop, db.schema, db.fingerprint)
    assert made is not None
    return db, made


def test_built_once_per_schema_runnable_and_the_same_in_another_process(shop: SqliteBackend, tmp_path: Path) -> None:
    db, made = _set(tmp_path, shop)
    assert 20 <= len(made.questions) <= 40 and len(made.questions) == len(made.sqls) == made.vectors.shape[0]
    conn = sqlite3.connect(shop.path)
    for sql in made.sqls:
        conn.execute(sql).fetchall()  # every pair runs
    conn.close()
    _, again = _set(tmp_path, shop)  # a new process: read back from LanceDB, not synthesized anew
    assert again.questions == made.questions and (again.vectors == made.vectors).all()
    _, elsewhere = _set(tmp_path / "other", shop)  # another data folder: the same pairs (seeded)
    assert elsewhere.sqls == made.sqls

    conn = sqlite3.connect(shop.path)
    conn.execute("CREATE TABLE review (review_id INTEGER PRIMARY KEY, product_id INTEGER REFERENCES product(product_id),"
                 " stars INTEGER)")
    conn.execute("INSERT INTO review VALUES (1, 1, 5), (2, 2, 3), (3, 4, 4)")
    conn.commit()
    conn.close()
    db2 = SchemaIndex(tmp_path / "schema", shared_embedder()).refresh(shop)
    rebuilt = SyntheticExamples(tmp_path / "synthetic", shared_embedder(), n=40).build(shop, db2.schema, db2.fingerprint)
    assert rebuilt is not None and rebuilt.fingerprint != made.fingerprint
    import lancedb

    names = list(getattr(lancedb.connect(str(tmp_path / "synthetic")).list_tables(), "tables", []))
    assert names == [n for n in names if db2.fingerprint in n] and len(names) == 1  # the old schema's set is dropped


def test_get_synthesizes_only_after_a_warm_up_then_follows_schema_changes(shop: SqliteBackend, tmp_path: Path) -> None:
    db = SchemaIndex(tmp_path / "schema", shared_embedder()).get(shop)
    assert SyntheticExamples(tmp_path / "off", shared_embedder(), n=0).build(shop, db.schema, db.fingerprint) is None
    lazy = SyntheticExamples(tmp_path / "synthetic", shared_embedder(), n=30)
    assert lazy.get(shop, db.schema, db.fingerprint) is None
    time.sleep(0.5)
    assert lazy.get(shop, db.schema, db.fingerprint) is None  # never warmed: nothing was started
    made = lazy.build(shop, db.schema, db.fingerprint)
    assert made is not None and lazy.get(shop, db.schema, db.fingerprint) is made

    conn = sqlite3.connect(shop.path)
    conn.execute("ALTER TABLE product ADD COLUMN origin TEXT")
    conn.commit()
    conn.close()
    db2 = SchemaIndex(tmp_path / "schema", shared_embedder()).refresh(shop)
    assert lazy.get(shop, db2.schema, db2.fingerprint) is None  # being rebuilt: the question goes without
    deadline = time.monotonic() + 120
    got = None
    while got is None and time.monotonic() < deadline:
        time.sleep(0.2)
        got = lazy.get(shop, db2.schema, db2.fingerprint)
    assert got is not None and got.fingerprint == db2.fingerprint != made.fingerprint


def test_search_mixes_synthetic_examples_and_approved_ones_win_near_ties(shop: SqliteBackend, tmp_path: Path) -> None:
    _, made = _set(tmp_path, shop)
    index = ExampleIndex(tmp_path / "examples", shared_embedder(), Store(tmp_path / "state.sqlite"))
    question = made.questions[7]
    hits = index.search("shop", question, k=3, synthetic=made)
    assert hits[0].source == "synthetic" and hits[0].question == question and hits[0].pair_id is None
    assert index.search("shop", question, k=3) == []  # no approved pairs, no synthetic set: nothing

    # a person's pair for the same question wins over the synthetic twin (another SQL)
    index.add("shop", question, "SELECT 42", pair_id=5)
    hits = index.search("shop", question, k=3, synthetic=made)
    assert (hits[0].source, hits[0].sql, hits[0].pair_id) == ("approved", "SELECT 42", 5)
    assert hits[1].source == "synthetic" and len(hits) == 3
    # an SQL shown once is not shown again, whichever list it came from
    index.add("shop", "some unrelated wording", made.sqls[7], pair_id=6)
    sqls = [h.sql for h in index.search("shop", question, k=4, synthetic=made)]
    assert len(sqls) == len(set(sqls))


def test_hidden_pairs_are_never_retrieved_by_question_or_by_sql(shop: SqliteBackend, tmp_path: Path) -> None:
    """The learner's gate asks held-out questions with examples, as served, but none of
    them may retrieve its own answer: hidden pairs go, approved or synthetic, under any
    wording of the same SQL and under the same question with another SQL."""
    _, made = _set(tmp_path, shop)
    index = ExampleIndex(tmp_path / "examples", shared_embedder(), Store(tmp_path / "state.sqlite"))
    question, sql = made.questions[7], made.sqls[7]
    index.add("shop", question, "SELECT 42", pair_id=5)                      # same question, other SQL
    index.add("shop", "a wording of its own", sql.upper() + ";", pair_id=6)  # same SQL, other case and wording
    before = index.search("shop", question, k=4, synthetic=made)
    assert {h.pair_id for h in before[:2]} == {5, None} and any(h.sql == sql for h in before)

    index.hide([(question.upper() + "?", sql)])
    after = index.search("shop", question, k=4, synthetic=made)
    assert len(after) == 4
    assert all(h.sql.lower().rstrip(";") != sql.lower() and h.question != question for h in after)
    assert 5 not in {h.pair_id for h in after} and 6 not in {h.pair_id for h in after}
    other = made.questions[3]
    assert index.search("shop", other, k=1, synthetic=made)[0].question == other  # the rest as before


def test_a_closed_set_starts_no_build_and_stores_nothing(shop: SqliteBackend, tmp_path: Path) -> None:
    """Once its pipeline closes, a schema change starts no background build (the process is
    exiting: a thread left embedding would be killed inside torch)."""
    db = SchemaIndex(tmp_path / "schema", shared_embedder()).get(shop)
    lazy = SyntheticExamples(tmp_path / "synthetic", shared_embedder(), n=30)
    made = lazy.build(shop, db.schema, db.fingerprint)
    conn = sqlite3.connect(shop.path)
    conn.execute("ALTER TABLE product ADD COLUMN origin TEXT")
    conn.commit()
    conn.close()
    db2 = SchemaIndex(tmp_path / "schema", shared_embedder()).refresh(shop)
    lazy.close()
    for _ in range(10):
        assert lazy.get(shop, db2.schema, db2.fingerprint) is None
        time.sleep(0.2)
    assert made is not None and lazy.get(shop, db.schema, db.fingerprint) is made  # the old set is still there
    import lancedb

    from nl2sql.schema_index import _table_names

    stored = _table_names(lancedb.connect(str(tmp_path / "synthetic")))
    assert any(db.fingerprint in t for t in stored) and not any(db2.fingerprint in t for t in stored)
