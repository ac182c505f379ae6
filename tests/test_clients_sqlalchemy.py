"""SQLAlchemy 2 with psycopg 3 against the running gateway, on both backends: engine connect
(the dialect's version parse, ``show transaction isolation level``,
``show standard_conforming_strings``, ``current_schema()``), ``inspect()`` of tables,
columns, primary and foreign keys, a Core select on a reflected table, and pandas
``read_sql``; each compared with the same calls on PostgreSQL 15 holding the same Chinook."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from clients_support import BACKENDS, Endpoint, chinook_endpoint
from refpg import pg_ref  # noqa: F401  (fixture)

sa = pytest.importorskip("sqlalchemy")
pytest.importorskip("psycopg")


def engine_for(ep: Endpoint) -> Any:
    url = ep.url.replace("postgresql://", "postgresql+psycopg://")
    return sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 15})


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> Iterator[Any]:
    eng = engine_for(chinook_endpoint(request, request.param))
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def ref_engine(pg_ref: Any) -> Iterator[Any]:
    eng = engine_for(Endpoint.of(pg_ref))
    yield eng
    eng.dispose()


def test_connect_initialises_the_dialect(engine: Any) -> None:
    with engine.connect() as conn:
        assert conn.execute(sa.text("select 1")).scalar() == 1
        assert conn.execute(sa.text("show standard_conforming_strings")).scalar() == "on"
        assert conn.execute(sa.text("show transaction isolation level")).scalar() == "read committed"
    d = engine.dialect
    assert d.server_version_info[0] == 15
    assert d.default_schema_name == "public"
    assert engine.connect().get_isolation_level() == "READ COMMITTED"


def _columns(insp: Any, table: str) -> list[tuple[str, str, bool]]:
    return [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)]


def test_inspect_tables_columns_keys(engine: Any, ref_engine: Any) -> None:
    insp, ref = sa.inspect(engine), sa.inspect(ref_engine)
    assert insp.get_schema_names().count("public") == 1
    tables = sorted(insp.get_table_names())
    assert tables == sorted(ref.get_table_names())
    assert insp.get_view_names() == ref.get_view_names()
    for t in tables:
        assert _columns(insp, t) == _columns(ref, t), t
        assert insp.get_pk_constraint(t)["constrained_columns"] == ref.get_pk_constraint(t)["constrained_columns"], t
        fks = sorted((tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"])) for f in insp.get_foreign_keys(t))
        want = sorted((tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"])) for f in ref.get_foreign_keys(t))
        assert fks == want, t
    assert insp.has_table("Track") and not insp.has_table("NoSuchTable")


def test_core_select_on_reflected_table(engine: Any, ref_engine: Any) -> None:
    def run(eng: Any) -> list[tuple[Any, ...]]:
        md = sa.MetaData()
        track = sa.Table("Track", md, autoload_with=eng)
        genre = sa.Table("Genre", md, autoload_with=eng)
        q = (
            sa.select(genre.c.Name, sa.func.count(track.c.TrackId).label("n"), sa.func.sum(track.c.Milliseconds).label("ms"))
            .join(track, track.c.GenreId == genre.c.GenreId)
            .where(track.c.UnitPrice > sa.bindparam("price", 0.5), genre.c.Name.like("R%"))
            .group_by(genre.c.Name)
            .order_by(sa.desc("n"))
        )
        with eng.connect() as conn:
            return [tuple(r) for r in conn.execute(q)]

    got = run(engine)
    assert got and got == run(ref_engine)


def test_text_query_with_bound_parameters(engine: Any, ref_engine: Any) -> None:
    q = sa.text('SELECT "FirstName", "LastName", "Email" FROM "Customer" WHERE "Country" = :c AND "CustomerId" > :n ORDER BY "CustomerId"')

    def run(eng: Any) -> list[tuple[Any, ...]]:
        with eng.connect() as conn:
            return [tuple(r) for r in conn.execute(q, {"c": "Brazil", "n": 10})]

    assert run(engine) == run(ref_engine)


def test_pandas_read_sql(engine: Any, ref_engine: Any) -> None:
    pd = pytest.importorskip("pandas")
    q = ('SELECT "InvoiceId", "CustomerId", "InvoiceDate", "BillingCountry", "Total" FROM "Invoice" '
         'WHERE "InvoiceId" <= 40 ORDER BY "InvoiceId"')
    got, want = pd.read_sql(q, engine), pd.read_sql(q, ref_engine)
    assert list(got.columns) == list(want.columns)
    assert str(got["InvoiceDate"].dtype).startswith("datetime64")
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert got["InvoiceId"].dtype == want["InvoiceId"].dtype
