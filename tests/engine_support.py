"""Small Chinook-shaped databases for engine tests (no sockets), and helpers to drive a
:class:`gateway.engine.GatewayEngine` directly.

The same tables and rows are written to SQLite and to DuckDB, with Chinook's mixed-case
names (``Album``, ``ArtistId``) so that case folding is exercised.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import sqlite3
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from connectors.base import Backend
from connectors.duckdb import DuckdbBackend
from connectors.sqlite import SqliteBackend
from gateway.api import Outcome
from gateway.config import Settings
from gateway.engine import GatewayEngine, Session

T = TypeVar("T")

SCHEMA = """
CREATE TABLE "Artist" ("ArtistId" INTEGER NOT NULL PRIMARY KEY, "Name" NVARCHAR(120));
CREATE TABLE "Album" ("AlbumId" INTEGER NOT NULL PRIMARY KEY, "Title" NVARCHAR(160) NOT NULL,
    "ArtistId" INTEGER NOT NULL REFERENCES "Artist" ("ArtistId"));
CREATE TABLE "Track" ("TrackId" INTEGER NOT NULL PRIMARY KEY, "Name" NVARCHAR(200) NOT NULL,
    "AlbumId" INTEGER REFERENCES "Album" ("AlbumId"), "Composer" NVARCHAR(220),
    "Milliseconds" INTEGER NOT NULL, "UnitPrice" NUMERIC(10,2) NOT NULL);
CREATE TABLE "Invoice" ("InvoiceId" INTEGER NOT NULL PRIMARY KEY, "InvoiceDate" {ts} NOT NULL,
    "Total" NUMERIC(10,2) NOT NULL);
CREATE INDEX "IFK_AlbumArtistId" ON "Album" ("ArtistId");
"""

ARTISTS = [(1, "AC/DC"), (2, "Accept"), (3, "Aerosmith"), (4, "Alanis Morissette"), (5, "Apocalyptica"),
           (6, "Audioslave"), (7, "Led Zeppelin")]
ALBUMS = [(1, "For Those About To Rock We Salute You", 1), (2, "Balls to the Wall", 2), (3, "Restless and Wild", 2),
          (4, "Let There Be Rock", 1), (5, "Big Ones", 3), (6, "Jagged Little Pill", 4),
          (7, "Plays Metallica By Four Cellos", 5), (8, "Audioslave", 6), (9, "Out Of Exile", 6),
          (10, "Led Zeppelin IV", 7), (11, "Physical Graffiti", 7), (12, "Houses Of The Holy", 7),
          (13, "rock bottom", 3)]
TRACKS = [
    (1, "For Those About To Rock (We Salute You)", 1, "Angus Young, Malcolm Young, Brian Johnson", 343719, "0.99"),
    (2, "Balls to the Wall", 2, None, 342562, "0.99"),
    (3, "Fast As a Shark", 3, "F. Baltes, S. Kaufman", 230619, "0.99"),
    (4, "Restless and Wild", 3, "F. Baltes, R.A. Smith-Diesel", 252051, "0.99"),
    (5, "Go Down", 4, "AC/DC", 331180, "0.99"),
    (6, "Walk On Water", 5, "Steven Tyler, Joe Perry", 295680, "0.99"),
    (7, "Cochise", 8, "Audioslave/Chris Cornell", 222380, "0.99"),
    (8, "Black Dog", 10, "Jimmy Page, Robert Plant", 296672, "1.99"),
    (9, "Stairway To Heaven", 10, "Jimmy Page, Robert Plant", 482830, "1.99"),
    (10, "Kashmir", 11, None, 508000, "1.99"),
]
INVOICES = [(1, "2009-01-01 00:00:00", "1.98"), (2, "2009-01-02 00:00:00", "3.96"), (3, "2009-02-03 00:00:00", "5.94"),
            (4, "2010-03-06 00:00:00", "8.91"), (5, "2010-03-11 00:00:00", "13.86"),
            (6, "2011-12-19 00:00:00", "0.99")]


def make_sqlite(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.executescript(SCHEMA.format(ts="DATETIME"))
    _fill(con.executemany)
    con.commit()
    con.close()
    return path


def make_duckdb(path: Path) -> Path:
    con = duckdb.connect(str(path))
    for stmt in SCHEMA.format(ts="TIMESTAMP").split(";"):
        if stmt.strip():
            con.execute(stmt)
    _fill(con.executemany)
    con.close()
    return path


def _fill(executemany: Any) -> None:
    executemany('INSERT INTO "Artist" VALUES (?, ?)', ARTISTS)
    executemany('INSERT INTO "Album" VALUES (?, ?, ?)', ALBUMS)
    executemany('INSERT INTO "Track" VALUES (?, ?, ?, ?, ?, ?)', [(*t[:5], float(t[5])) for t in TRACKS])
    executemany('INSERT INTO "Invoice" VALUES (?, ?, ?)', [(i, d, float(t)) for i, d, t in INVOICES])


def make_backends(tmp: Path) -> dict[str, Backend]:
    """``small`` (SQLite) and ``small_duckdb`` (DuckDB), read-write."""
    return {
        "small": SqliteBackend("small", make_sqlite(tmp / "small.sqlite")),
        "small_duckdb": DuckdbBackend("small_duckdb", make_duckdb(tmp / "small.duckdb")),
    }


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class EngineHarness:
    """An engine over the small databases, with a session per call to :meth:`session`."""

    def __init__(self, tmp: Path, **settings: Any) -> None:
        self.backends = make_backends(tmp)
        self.settings = Settings(data_dir=tmp / "data", **settings)
        self.engine = GatewayEngine(self.settings, self.backends)

    def session(self, database: str = "small", user: str = "tester", is_admin: bool = True) -> Session:
        return self.engine.open_session(database=database, user=user, is_admin=is_admin)

    async def aclose(self) -> None:
        await self.engine.close()
        for b in self.backends.values():
            b.close()


def rows_of(outcome: Outcome) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in outcome.rows]


def normal(value: Any) -> Any:
    """Compare values across backends: numbers to 6 significant digits, timestamps and
    dates as ISO text, booleans as booleans."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float, decimal.Decimal)):
        return float(f"{float(value):.6g}")
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def normal_rows(rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    return [tuple(normal(v) for v in r) for r in rows]
