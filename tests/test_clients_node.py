"""node-postgres (``pg`` from npm, installed into tests/node by .ci/run with
``npm --prefix tests/node ci``) against the running gateway, on both backends: a query, a
parameterised query, a named prepared statement, typed parameters, and an error that leaves
the connection usable; compared with PostgreSQL 15 holding the same Chinook."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from clients_support import BACKENDS, Endpoint, chinook_endpoint
from refpg import pg_ref  # noqa: F401  (fixture)

NODE_DIR = Path(__file__).resolve().parent / "node"

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="node not installed"),
    pytest.mark.skipif(not (NODE_DIR / "node_modules" / "pg").is_dir(), reason="run: npm --prefix tests/node ci"),
]


def run_client(ep: Endpoint) -> dict[str, Any]:
    proc = subprocess.run(
        ["node", str(NODE_DIR / "client.js"), ep.host, str(ep.port), ep.dbname, ep.user],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, f"client.js failed on {ep.dbname}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


@pytest.fixture(scope="module")
def reference(pg_ref: Any) -> dict[str, Any]:
    return run_client(Endpoint.of(pg_ref))


@pytest.mark.parametrize("db", BACKENDS)
def test_node_postgres(request: pytest.FixtureRequest, db: str, reference: dict[str, Any]) -> None:
    got = run_client(chinook_endpoint(request, db))
    assert got["query"] == reference["query"]  # rows, field names and type OIDs, command, rowCount
    assert got["param"] == reference["param"]
    assert got["named"] == reference["named"]
    assert got["types"] == reference["types"] == {"s": "héllo 'x'", "i": 42, "b": True, "n": None}
    assert got["error"]["code"] == reference["error"]["code"] == "42703"
    assert got["after_error"] == 1
