"""The schema index on a database the test creates: retrieval of the tables a question
needs, join paths along foreign keys, values named in the question, rebuild on change."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.sqlite import SqliteBackend
from nl2sql.embed import shared_embedder
from nl2sql.schema_index import SchemaIndex, fk_graph, question_words, shortest_path
from nl2sql.prompt import render_schema

DDL = """
CREATE TABLE country (country_id INTEGER PRIMARY KEY, country_name TEXT);
CREATE TABLE city (city_id INTEGER PRIMARY KEY, city_name TEXT, country_id INTEGER REFERENCES country(country_id));
CREATE TABLE store (store_id INTEGER PRIMARY KEY, store_name TEXT, city_id INTEGER REFERENCES city(city_id));
CREATE TABLE product (product_id INTEGER PRIMARY KEY, product_name TEXT, unit_price REAL, category TEXT);
CREATE TABLE sale (sale_id INTEGER PRIMARY KEY, store_id INTEGER REFERENCES store(store_id),
                   product_id INTEGER REFERENCES product(product_id), quantity INTEGER, sold_on TEXT);
CREATE TABLE employee (employee_id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT,
                       store_id INTEGER REFERENCES store(store_id), salary REAL);
CREATE TABLE supplier (supplier_id INTEGER PRIMARY KEY, supplier_name TEXT, phone TEXT);
CREATE TABLE shipment (shipment_id INTEGER PRIMARY KEY, supplier_id INTEGER REFERENCES supplier(supplier_id),
                       product_id INTEGER REFERENCES product(product_id), shipped_on TEXT);
INSERT INTO country VALUES (1, 'Brazil'), (2, 'Norway');
INSERT INTO city VALUES (1, 'Recife', 1), (2, 'Oslo', 2);
INSERT INTO store VALUES (1, 'Harbour Books', 1), (2, 'Fjord Market', 2);
INSERT INTO product VALUES (1, 'Espresso Beans', 12.5, 'coffee'), (2, 'Green Tea', 4.0, 'tea');
INSERT INTO sale VALUES (1, 1, 1, 3, '2024-01-02'), (2, 2, 2, 1, '2024-01-03');
INSERT INTO employee VALUES (1, 'Ana', 'Lima', 1, 3000), (2, 'Ola', 'Nordmann', 2, 4000);
INSERT INTO supplier VALUES (1, 'Beans & Co', '555-0101');
INSERT INTO shipment VALUES (1, 1, 1, '2024-01-01');
"""


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[SqliteBackend]:
    path = tmp_path / "shop.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(DDL)
    conn.close()
    backend = SqliteBackend("shop", path)
    yield backend
    backend.close()


@pytest.fixture
def index(tmp_path: Path) -> SchemaIndex:
    return SchemaIndex(tmp_path / "index", shared_embedder())


def test_question_words() -> None:
    assert {"sale", "store", "brazil"} <= question_words("How many sales did stores in Brazil make?")
    assert "how" not in question_words("How many sales?")


def test_fk_paths(shop: SqliteBackend) -> None:
    graph = fk_graph(shop.introspect())
    assert shortest_path(graph, "country", {"sale"}, max_hops=3) == ["country", "city", "store", "sale"]
    assert shortest_path(graph, "country", {"supplier"}, max_hops=3) is None  # 5 hops away


def test_retrieval_adds_the_join_path(shop: SqliteBackend, index: SchemaIndex) -> None:
    db = index.get(shop)
    got = index.retrieve(db, "total quantity sold in each country", k=2)
    assert {"sale", "country"} <= set(got.tables)
    assert {"city", "store"} <= set(got.joined)  # what the join from sale to country goes through
    assert got.tables == [t.name for t in db.schema.tables if t.name in got.tables]  # schema order: a stable prefix
    assert "supplier" not in got.tables and "employee" not in got.tables


def test_retrieval_finds_tables_by_their_values(shop: SqliteBackend, index: SchemaIndex) -> None:
    db = index.get(shop)
    got = index.retrieve(db, "which stores are in Oslo?", k=2)
    assert "city" in got.tables and "store" in got.tables
    assert got.values == {("city", "city_name"): ["Oslo"]}
    prompt = render_schema(index.prompt_schema(db, got))
    assert "city_name text e.g. 'Oslo'" in prompt
    assert "e.g. 'Recife'" not in prompt  # only named values are shown
    quoted = index.retrieve(db, "who supplies 'Beans & Co'?", k=1)
    assert quoted.values.get(("supplier", "supplier_name")) == ["Beans & Co"]


def test_full_schema_when_k_is_zero(shop: SqliteBackend, index: SchemaIndex) -> None:
    db = index.get(shop)
    got = index.retrieve(db, "anything", k=0)
    assert len(got.tables) == 8


def test_index_is_reused_and_rebuilt_when_the_schema_changes(shop: SqliteBackend, tmp_path: Path) -> None:
    first = SchemaIndex(tmp_path / "index", shared_embedder())
    db = first.get(shop)
    again = SchemaIndex(tmp_path / "index", shared_embedder()).get(shop)  # a new process: from LanceDB
    assert again.table_name == db.table_name and (again.vectors == db.vectors).all()

    conn = sqlite3.connect(shop.path)
    conn.execute("CREATE TABLE review (review_id INTEGER PRIMARY KEY, product_id INTEGER REFERENCES product(product_id),"
                 " stars INTEGER, review_text TEXT)")
    conn.commit()
    conn.close()
    rebuilt = first.refresh(shop)
    assert rebuilt.fingerprint != db.fingerprint and rebuilt.table_name != db.table_name
    assert "review" in first.retrieve(rebuilt, "average stars of product reviews", k=1).tables
    import lancedb

    names = list(getattr(lancedb.connect(str(tmp_path / "index")).list_tables(), "tables", []))
    assert db.table_name not in names and rebuilt.table_name in names  # the stale index is dropped
