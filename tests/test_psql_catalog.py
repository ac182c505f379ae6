"""psql's catalog commands against the real gateway (``gateway`` fixture: the Chinook demo
as ``chinook`` on SQLite and ``chinook_duckdb`` on DuckDB), asserting what psql prints:
table names, column names and types, the primary-key index, foreign keys both ways."""

from __future__ import annotations

import shutil

import pytest

pytestmark = [pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")]

DATABASES = ["chinook", "chinook_duckdb"]
TABLES = ["Album", "Artist", "Customer", "Employee", "Genre", "Invoice", "InvoiceLine", "MediaType", "Playlist",
          "PlaylistTrack", "Track"]


def psql_rows(gateway, db: str, command: str) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """psql's unaligned, tuples-only output of a meta-command, split into fields."""
    out = gateway.psql("-A", "-t", "-F", "|", "-c", command, db=db).stdout
    return [line.split("|") for line in out.splitlines() if line.strip()]


@pytest.mark.parametrize("db", DATABASES)
def test_list_databases(gateway, db: str) -> None:  # type: ignore[no-untyped-def]
    rows = psql_rows(gateway, db, r"\l")
    assert {"chinook", "chinook_duckdb"} <= {r[0] for r in rows}
    assert all(r[2] == "UTF8" for r in rows)


@pytest.mark.parametrize("db", DATABASES)
def test_list_tables(gateway, db: str) -> None:  # type: ignore[no-untyped-def]
    rows = psql_rows(gateway, db, r"\dt")
    assert [(r[0], r[1], r[2]) for r in rows] == [("public", t, "table") for t in TABLES]


@pytest.mark.parametrize("db", DATABASES)
def test_list_schemas(gateway, db: str) -> None:  # type: ignore[no-untyped-def]
    rows = psql_rows(gateway, db, r"\dn")
    assert [r[0] for r in rows] == ["public"]


@pytest.mark.parametrize("db", DATABASES)
def test_describe_album(gateway, db: str) -> None:  # type: ignore[no-untyped-def]
    """``\\d Album`` (psql folds it to ``album``) finds the mixed-case table."""
    out = gateway.psql("-c", r"\d Album", db=db).stdout
    assert 'Table "public.Album"' in out
    lines = [line.strip() for line in out.splitlines()]
    columns = {line.split("|")[0].strip(): [f.strip() for f in line.split("|")] for line in lines if "|" in line}
    assert columns["AlbumId"][1] == "integer" and columns["AlbumId"][3] == "not null"
    assert columns["Title"][1].startswith("character varying") and columns["Title"][3] == "not null"
    assert columns["ArtistId"][1] == "integer"
    if db == "chinook":  # SQLite keeps the declared length; DuckDB drops it
        assert columns["Title"][1] == "character varying(160)"
    assert "Indexes:" in lines
    assert any(line.endswith('PRIMARY KEY, btree ("AlbumId")') for line in lines)
    assert "Foreign-key constraints:" in lines
    assert any('FOREIGN KEY ("ArtistId") REFERENCES "Artist"("ArtistId")' in line for line in lines)
    assert "Referenced by:" in lines
    assert any(line.startswith('TABLE ""Track"" CONSTRAINT') and 'FOREIGN KEY ("AlbumId") REFERENCES "Album"("AlbumId")'
               in line for line in lines)


@pytest.mark.parametrize("db", DATABASES)
def test_describe_track_details(gateway, db: str) -> None:  # type: ignore[no-untyped-def]
    out = gateway.psql("-c", r'\d "Track"', db=db).stdout
    assert "numeric(10,2)" in out
    fk_section = out.split("Foreign-key constraints:")[1].split("Referenced by:")[0]
    assert fk_section.count("FOREIGN KEY") == 3
    referenced = out.split("Referenced by:")[1]
    assert '""InvoiceLine""' in referenced and '""PlaylistTrack""' in referenced


@pytest.mark.parametrize("db", DATABASES)
def test_describe_plus_and_indexes(gateway, db: str) -> None:  # type: ignore[no-untyped-def]
    out = gateway.psql("-c", r"\d+ Album", db=db).stdout
    assert "Storage" in out and "Access method: heap" in out
    rows = psql_rows(gateway, db, r"\di")
    assert any(r[2] == "index" and r[4] == "Album" for r in rows)


def test_describe_unknown_relation(gateway) -> None:  # type: ignore[no-untyped-def]
    proc = gateway.psql("-c", r"\d nosuchtable", check=False)
    assert "Did not find any relation named" in proc.stderr + proc.stdout
