"""pgjdbc (Debian's libpostgresql-jdbc-java) against the running gateway, on both backends:
``tests/java/ClientCheck.java`` is compiled and run against askgres and against PostgreSQL 15
holding the same Chinook; its facts (query rows, a prepared statement run past pgjdbc's
server-prepare threshold, booleans, DatabaseMetaData tables/columns/keys) must match."""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from clients_support import BACKENDS, Endpoint, chinook_endpoint
from refpg import pg_ref  # noqa: F401  (fixture)

JAR = Path("/usr/share/java/postgresql.jar")
SOURCE = Path(__file__).resolve().parent / "java" / "ClientCheck.java"

pytestmark = [
    pytest.mark.skipif(shutil.which("javac") is None or shutil.which("java") is None, reason="no JDK"),
    pytest.mark.skipif(not JAR.exists(), reason="apt-get install libpostgresql-jdbc-java"),
]


@pytest.fixture(scope="module")
def classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("jdbc")
    subprocess.run(["javac", "-d", str(out), "-cp", str(JAR), str(SOURCE)], check=True, capture_output=True, timeout=180)
    return out


def check(classes: Path, ep: Endpoint) -> dict[str, list[list[str]]]:
    argv = ["java", "-cp", f"{JAR}:{classes}", "ClientCheck", ep.host, str(ep.port), ep.dbname, ep.user]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"ClientCheck failed on {ep.dbname}:\n{proc.stdout[-3000:]}\n{proc.stderr[-4000:]}"
    facts: dict[str, list[list[str]]] = defaultdict(list)
    for line in proc.stdout.splitlines():
        kind, *fields = line.split("\t")
        facts[kind].append(fields)
    assert "done" in facts
    return facts


@pytest.fixture(scope="module")
def reference(classes: Path, pg_ref: Any) -> dict[str, list[list[str]]]:
    return check(classes, Endpoint.of(pg_ref))


@pytest.fixture(scope="module", params=BACKENDS)
def facts(request: pytest.FixtureRequest, classes: Path) -> dict[str, list[list[str]]]:
    return check(classes, chinook_endpoint(request, request.param))


def test_server_identifies_as_postgresql(facts: dict[str, list[list[str]]]) -> None:
    assert facts["server"] == [["PostgreSQL", "15"]]


def test_plain_query(facts: dict[str, list[list[str]]], reference: dict[str, list[list[str]]]) -> None:
    assert facts["query"] == reference["query"]


def test_prepared_statement_past_server_prepare_threshold(
    facts: dict[str, list[list[str]]], reference: dict[str, list[list[str]]]
) -> None:
    assert len(facts["prepared"]) == 12
    assert facts["prepared"] == reference["prepared"]
    assert facts["prepared-count"] == reference["prepared-count"]


def test_booleans(facts: dict[str, list[list[str]]], reference: dict[str, list[list[str]]]) -> None:
    assert facts["bool"] == reference["bool"]
    assert all(row[4] == "Boolean" for row in facts["bool"])


def errors(facts: dict[str, list[list[str]]], section: str) -> list[str]:
    return [row[1] for row in facts.get("error", []) if row[0] == section]


def test_metadata_tables(facts: dict[str, list[list[str]]], reference: dict[str, list[list[str]]]) -> None:
    assert not errors(facts, "table")
    assert sorted(facts["table"]) == sorted(reference["table"])


def test_metadata_columns(facts: dict[str, list[list[str]]], reference: dict[str, list[list[str]]]) -> None:
    # TABLE_NAME, ORDINAL_POSITION, COLUMN_NAME, DATA_TYPE (java.sql.Types), TYPE_NAME, NULLABLE
    assert not errors(facts, "column")
    assert facts["column"] == reference["column"]


def test_metadata_primary_keys(facts: dict[str, list[list[str]]], reference: dict[str, list[list[str]]]) -> None:
    assert not errors(facts, "pk"), facts.get("error")
    assert sorted(facts["pk"]) == sorted(reference["pk"])


def test_metadata_imported_keys(facts: dict[str, list[list[str]]], reference: dict[str, list[list[str]]]) -> None:
    assert not errors(facts, "fk"), facts.get("error")
    assert sorted(facts["fk"]) == sorted(reference["fk"])
