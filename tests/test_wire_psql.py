"""psql against the real gateway: ``-c`` with several statements, ``-f`` with a file,
command tags, errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("psql") is None, reason="psql not installed")


def test_c_runs_every_statement(gateway) -> None:
    out = gateway.psql("-A", "-t", "-c", 'SELECT count(*) FROM "Album"; SELECT \'second\' AS s; SELECT 1 + 1').stdout
    assert out.split() == ["347", "second", "2"]


def test_c_prints_command_tags(gateway) -> None:
    out = gateway.psql("-c", "BEGIN; SELECT 1 AS one; COMMIT").stdout
    lines = [line.strip() for line in out.splitlines()]
    assert lines[0] == "BEGIN"
    assert "one" in lines and "(1 row)" in lines
    assert lines[-1] == "COMMIT"


def test_both_backends(gateway) -> None:
    for db in ("chinook", "chinook_duckdb"):
        out = gateway.psql("-A", "-t", "-c", 'SELECT "Name" FROM "Artist" WHERE "ArtistId" = 1', db=db).stdout
        assert out.strip() == "AC/DC", db


def test_f_runs_a_file(gateway, tmp_path: Path) -> None:
    script = tmp_path / "q.sql"
    script.write_text(
        "-- a comment psql strips\n"
        'SELECT count(*) AS tracks FROM "Track";\n'
        "/* a block comment */ SELECT 'a;b' AS semicolon_in_a_string;\n"
        "\n"
        'SELECT "Title"\n  FROM "Album"\n WHERE "AlbumId" = 1;\n'
    )
    out = gateway.psql("-A", "-t", "-f", str(script)).stdout
    assert out.splitlines() == ["3503", "a;b", "For Those About To Rock We Salute You"]


def test_error_reports_sqlstate_and_stops(gateway, tmp_path: Path) -> None:
    script = tmp_path / "bad.sql"
    script.write_text('SELECT 1;\nSELECT * FROM "NoSuchTable";\nSELECT 2;\n')
    proc = gateway.psql("-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", "-A", "-t", "-f", str(script), check=False)
    assert proc.returncode == 3
    assert proc.stdout.split() == ["1"]
    assert "ERROR:  42P01" in proc.stderr


def test_error_in_the_middle_of_c(gateway) -> None:
    """The statements before the failing one ran and printed; the ones after did not."""
    proc = gateway.psql("-A", "-t", "-c", 'SELECT 10; SELECT * FROM "NoSuchTable"; SELECT 20', check=False)
    assert proc.returncode == 1
    assert proc.stdout.split() == ["10"]
    assert "ERROR" in proc.stderr


def test_empty_and_comment_only_queries(gateway) -> None:
    assert gateway.psql("-c", ";").returncode == 0
    assert gateway.psql("-c", "-- only a comment").returncode == 0


def test_copy_to_stdout(gateway) -> None:
    out = gateway.psql("-c", 'COPY (SELECT "GenreId", "Name" FROM "Genre" ORDER BY "GenreId" LIMIT 3) TO STDOUT').stdout
    assert out == "1\tRock\n2\tJazz\n3\tMetal\n"


def test_stdin_script_with_transaction(gateway) -> None:
    out = gateway.psql("-A", "-t", input="BEGIN;\nSELECT 'in tx';\nROLLBACK;\n").stdout
    assert out.split() == ["BEGIN", "in", "tx", "ROLLBACK"]


@pytest.mark.parametrize("kind", ["sqlite", "duckdb"])
def test_command_tags_on_a_writable_database(gateway_factory, tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"scratch.{kind}"
    gw = gateway_factory(demo=False, databases=[{"name": "scratch", "kind": kind, "path": str(path)}])
    out = gw.psql(
        "-c",
        "CREATE TABLE t (id integer PRIMARY KEY, name text); "
        "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c'); "
        "UPDATE t SET name = 'z' WHERE id >= 2; "
        "DELETE FROM t WHERE id = 3; "
        "SELECT count(*) AS n FROM t",
        db="scratch",
    ).stdout
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    assert lines[:4] == ["CREATE TABLE", "INSERT 0 3", "UPDATE 2", "DELETE 1"]
    assert lines[4:] == ["n", "---", "2", "(1 row)"]
    with gw.connect("scratch") as c:
        cur = c.cursor()
        for sql, params, tag in [
            ("INSERT INTO t VALUES (%s, %s)", (9, "x"), "INSERT 0 1"),
            ("UPDATE t SET name = %s WHERE id = %s", ("y", 9), "UPDATE 1"),
            ("DELETE FROM t WHERE id = %s", (9,), "DELETE 1"),
        ]:
            cur.execute(sql, params)
            assert cur.statusmessage == tag
        cur.execute("DROP TABLE t")
        assert cur.statusmessage == "DROP TABLE"
