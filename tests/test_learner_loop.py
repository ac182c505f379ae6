"""The whole learning loop on a small schema made by the test, through the real gateway:
failures logged by real clients trigger a training run (a separate process) that
synthesizes data, fine-tunes a few LoRA steps, exports a GGUF, gates it against the
current model and promotes or refuses it; admins approve pairs through SQL (others get
42501); the gateway hot-swaps models under concurrent queries without failing any; a
training run killed with SIGKILL loses nothing and the next run resumes it.

Slow: each training run converts/loads the model and trains on 2 CPU cores.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, Gateway

psycopg = pytest.importorskip("psycopg")
pytest.importorskip("peft")
pytest.importorskip("trl")

pytestmark = pytest.mark.slow

LEARN = {"auto": True, "threshold": 3, "max_steps": 4, "batch_size": 2, "synth_pairs": 40,
         "max_minutes": 4.0, "lora_r": 4}
USERS = {"admin": {"password": "adminpw", "admin": True}, "bob": {"password": "bobpw"}}
QUESTIONS = [
    ("how many customers are there?", "SELECT COUNT(*) FROM customers"),
    ("which city has the most customers?",
     "SELECT city FROM customers GROUP BY city ORDER BY COUNT(*) DESC LIMIT 1"),
    ("what is the total quantity ordered of each product?",
     "SELECT p.name, SUM(o.quantity) FROM orders o JOIN products p ON p.id = o.product_id GROUP BY p.name"),
]


def make_shop(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL);
        CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL);
        CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
                             product_id INTEGER NOT NULL REFERENCES products(id), quantity INTEGER NOT NULL,
                             ordered_at TEXT NOT NULL);
        """
    )
    cities = ["Lisbon", "Oslo", "Lima", "Porto", "Quito"]
    con.executemany("INSERT INTO customers VALUES (?, ?, ?)",
                    [(i, f"Customer {i}", cities[i % len(cities)]) for i in range(1, 26)])
    con.executemany("INSERT INTO products VALUES (?, ?, ?)",
                    [(i, n, p) for i, (n, p) in enumerate([("Lamp", 20.0), ("Desk", 150.0), ("Chair", 45.5),
                                                           ("Shelf", 80.0), ("Rug", 60.0)], start=1)])
    con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
                    [(i, 1 + i % 25, 1 + i % 5, 1 + i % 4, f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}")
                     for i in range(1, 121)])
    con.commit()
    con.close()
    return path


def state(data_dir: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{data_dir / 'askgres.sqlite'}?mode=ro", uri=True, timeout=30)
    try:
        return [tuple(r) for r in con.execute(sql, params)]
    finally:
        con.close()


def cli(config: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", "import sys; from gateway.cli import main; sys.exit(main(prog_name='askgres'))",
           "--config", str(config), *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def fail_question(conn: Any, question: str, correct_sql: str) -> None:
    """Ask; whatever happens, the result is a logged failure (an error, or marked wrong)."""
    try:
        conn.execute(f"-- ask: {question}").fetchall()
    except psycopg.Error as e:
        assert e.sqlstate and e.sqlstate.startswith("42"), e  # an ask error, never a dropped connection
        return
    conn.execute(f"SELECT askgres.feedback('wrong', {quote(correct_sql)})").fetchall()


def quote(text: str) -> str:
    """A SQL string literal (askgres.* statements take literals, not bind parameters)."""
    return "'" + text.replace("'", "''") + "'"


def wait_run(data_dir: Path, *, timeout: float = 900) -> tuple[Any, ...]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = state(data_dir, "SELECT id, status, candidate_model, current_accuracy, candidate_accuracy, error "
                               "FROM training_runs ORDER BY id DESC LIMIT 1")
        if rows and rows[0][1] in ("promoted", "refused", "failed"):
            return rows[0]
        time.sleep(2)
    raise AssertionError(f"no training run finished within {timeout}s: {rows}")


@pytest.fixture(scope="module")
def shop_gw(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from conftest import finish_gateway, launch_gateway

    work = tmp_path_factory.mktemp("loop")
    shop = make_shop(work / "shop.sqlite")
    gw = launch_gateway(work, {"databases": [{"name": "shop", "kind": "sqlite", "path": str(shop)}],
                               "users": USERS, "learner": LEARN})
    yield gw
    finish_gateway(gw)


def test_failures_trigger_a_run_that_gates_and_promotes_or_refuses(shop_gw: Gateway) -> None:
    with shop_gw.connect("shop", user="bob", password="bobpw") as conn:
        for question, sql in QUESTIONS:
            fail_question(conn, question, sql)
        # people: bob may read the review queue but not approve
        pending = conn.execute("SELECT id FROM askgres.pairs WHERE status = 'pending'").fetchall()
        assert pending, "marking an answer wrong with the correct SQL queues a pair for review"
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"UPDATE askgres.pairs SET status = 'approved' WHERE id = {int(pending[0][0])}")
    with shop_gw.connect("shop", user="admin", password="adminpw") as admin:
        admin.execute("UPDATE askgres.pairs SET status = 'approved' WHERE status = 'pending'")
        approved = admin.execute("SELECT count(*) FROM askgres.pairs WHERE status = 'approved'").fetchone()[0]
    assert approved >= 1
    failures = state(shop_gw.data_dir, "SELECT count(*) FROM failures WHERE database = 'shop'")[0][0]
    assert failures >= len(QUESTIONS)

    run_id, status, candidate, cur_acc, cand_acc, error = wait_run(shop_gw.data_dir)
    assert status in ("promoted", "refused"), f"run failed: {error}\n{(shop_gw.data_dir / 'runs' / 'learner.log').read_text()[-3000:]}"
    assert candidate and cur_acc is not None and cand_acc is not None
    assert (status == "promoted") == (cand_acc >= cur_acc)  # the gate's rule
    model = state(shop_gw.data_dir, "SELECT status, path FROM models WHERE version = ?", (candidate,))[0]
    assert model[0] == ("active" if status == "promoted" else "refused")
    assert Path(model[1]).stat().st_size > 50_000_000  # a real GGUF, kept whatever the verdict
    report = json.loads(state(shop_gw.data_dir, "SELECT report FROM training_runs WHERE id = ?", (run_id,))[0][0])
    assert report["gate"]["n"] >= 1 and report["train"]["steps"] >= 1
    # a finished run keeps its adapter and drops its resume checkpoints
    from learner.runs import run_dir

    lora = run_dir(shop_gw.data_dir, run_id) / "lora"
    assert (lora / "adapter").is_dir() and not (lora / "checkpoints").exists()
    # the failures it consumed are resolved, and none was lost
    assert state(shop_gw.data_dir, "SELECT count(*) FROM failures WHERE run_id = ?", (run_id,))[0][0] >= len(QUESTIONS)
    assert state(shop_gw.data_dir, "SELECT count(*) FROM failures")[0][0] == failures
    assert shop_gw.alive()


def test_hot_swap_under_concurrent_queries(shop_gw: Gateway) -> None:
    versions = [r[0] for r in state(shop_gw.data_dir, "SELECT version FROM models WHERE version != 'base'")]
    assert versions, "the previous test made a model version"
    target = versions[-1]
    errors: list[str] = []
    answered = {"sql": 0, "ask": 0}
    stop = threading.Event()

    def client(i: int) -> None:
        with shop_gw.connect("shop", user="bob", password="bobpw") as conn:
            while not stop.is_set():
                try:
                    assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 120
                    answered["sql"] += 1
                    conn.execute("-- ask: how many products are there?").fetchall()
                    answered["ask"] += 1
                except psycopg.Error as e:
                    if not (e.sqlstate or "").startswith("42"):  # an unanswerable question is not a failure of the swap
                        errors.append(f"{type(e).__name__}: {e}")
                except Exception as e:  # noqa: BLE001 - any other failure counts
                    errors.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        for args in (("promote", target), ("rollback", "--to", "base"), ("promote", target)):
            time.sleep(3)
            r = cli(shop_gw.config_path, "model", *args)
            assert r.returncode == 0, r.stderr
        # keep the clients going until an ask is answered by the promoted version
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            recent = {r[0] for r in state(shop_gw.data_dir, "SELECT model_version FROM asks ORDER BY id DESC LIMIT 3")}
            if target in recent:
                break
            time.sleep(1)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=300)
    assert not errors, errors[:5]
    assert answered["sql"] > 10 and answered["ask"] >= 1
    assert target in recent, f"no ask was answered by {target} after the swap: {recent}"
    listing = cli(shop_gw.config_path, "model", "list")
    assert target in listing.stdout and "[active]" in listing.stdout
    assert shop_gw.alive()


def test_killed_run_loses_nothing_and_resumes(tmp_path: Path) -> None:
    from gateway.config import Settings

    shop = make_shop(tmp_path / "shop.sqlite")
    settings = Settings(data_dir=tmp_path / "data", databases=[{"name": "shop", "kind": "sqlite", "path": shop}],
                        learner={**LEARN, "auto": False, "max_steps": 8})
    from learner.pairs import add_pair
    from nl2sql.store import Store

    store = Store(settings.state_db)
    for q, sql in QUESTIONS:
        add_pair(store, database="shop", question=q, sql=sql, source="admin", status="approved", reviewed_by="admin")
        store.insert("failures", created_at=store.now(), database="shop", question=q, kind="no_valid_sql", correct_sql=sql)
    before = {t: store.query(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in ("pairs", "failures")}
    cfg = tmp_path / "settings.json"
    cfg.write_text(settings.model_dump_json())
    proc = subprocess.Popen([sys.executable, "-m", "learner.runner", "--settings", str(cfg), "--database", "shop"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        rows = store.query("SELECT status FROM training_runs ORDER BY id DESC LIMIT 1")
        if rows and rows[0]["status"] == "training":
            time.sleep(3)  # inside the fine-tuning: the dataset is saved, the model is loading or stepping
            break
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.5)
    else:
        raise AssertionError("the run never reached training")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    run_id = store.query("SELECT id FROM training_runs ORDER BY id DESC LIMIT 1")[0]["id"]
    # nothing acknowledged is lost
    after = {t: store.query(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in ("pairs", "failures")}
    assert after == before
    # the next run recovers the killed one and finishes it from its saved dataset and checkpoints
    r = subprocess.run([sys.executable, "-m", "learner.runner", "--settings", str(cfg), "--database", "shop"],
                       cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    runs = store.query("SELECT id, status FROM training_runs ORDER BY id")
    assert [row["id"] for row in runs] == [run_id], "the killed run was resumed, not replaced"
    assert runs[0]["status"] in ("promoted", "refused")
    assert store.query("SELECT count(*) AS n FROM models WHERE run_id = ?", (run_id,))[0]["n"] == 1
    assert {t: store.query(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in ("pairs", "failures")} == before
