"""psycopg 3 against the real gateway: simple and extended protocol, typed and untyped
parameters, binary formats, prepared statements, transaction states."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

psycopg = pytest.importorskip("psycopg")

INVOICE_1 = (1, Decimal("1.98"), datetime(2009, 1, 1), "Stuttgart")
INVOICE_SQL = 'SELECT "InvoiceId", "Total", "InvoiceDate", "BillingCity" FROM "Invoice" WHERE "InvoiceId" = %s'


@pytest.fixture(params=["chinook", "chinook_duckdb"])
def conn(request: pytest.FixtureRequest, gateway: Any) -> Any:
    with gateway.connect(request.param) as c:
        yield c


def test_simple_protocol_several_statements(gateway: Any) -> None:
    with gateway.connect() as c:
        res = c.pgconn.exec_(b'SELECT 1; SELECT count(*) FROM "Genre"')
        assert res.status == psycopg.pq.ExecStatus.TUPLES_OK
        assert res.get_value(0, 0) == b"25"  # libpq keeps the last result
        cur = c.cursor()
        cur.execute('SELECT 1 AS a; SELECT count(*) AS n FROM "Genre"')
        assert cur.fetchall() == [(1,)]
        assert cur.nextset() and cur.fetchall() == [(25,)]


def test_extended_typed_parameters(conn: Any) -> None:
    assert conn.execute(INVOICE_SQL, (1,)).fetchone() == INVOICE_1
    row = conn.execute(
        'SELECT count(*) FROM "Invoice" WHERE "Total" > %s AND "InvoiceDate" >= %s AND "BillingCountry" = %s',
        (Decimal("10"), datetime(2010, 1, 1), "USA"),
    ).fetchone()
    assert row is not None and row[0] > 0


def test_extended_untyped_parameters(conn: Any) -> None:
    """A str goes out with type 0: the gateway infers it from the comparison."""
    cur = conn.execute('SELECT "Name" FROM "Artist" WHERE "ArtistId" = %s::int', ("1",))
    assert cur.fetchone() == ("AC/DC",)
    cur = conn.execute('SELECT "ArtistId" FROM "Artist" WHERE "Name" = %s', ("AC/DC",))
    assert cur.fetchone() == (1,)
    cur = conn.execute("SELECT %s, %s", ("text", None))
    assert cur.fetchone() == ("text", None)


def test_describe_reports_types(conn: Any) -> None:
    cur = conn.execute(INVOICE_SQL, (2,))
    names = [d.name for d in cur.description]
    oids = [d.type_code for d in cur.description]
    assert names == ["InvoiceId", "Total", "InvoiceDate", "BillingCity"]
    assert oids[0] in (21, 23, 20)
    assert oids[1] == 1700 and oids[2] == 1114 and oids[3] in (25, 1043)


def test_binary_results_and_parameters(conn: Any) -> None:
    text = conn.execute(INVOICE_SQL, (1,)).fetchone()
    cur = conn.cursor(binary=True)
    assert cur.execute(INVOICE_SQL, (1,)).fetchone() == text == INVOICE_1
    assert all(d is not None for d in cur.description)
    assert cur.pgresult.fformat(0) == 1
    cur.execute("SELECT %s::int8, %s::float8, %s::bool, %s::text, %s::numeric", (2**40, 0.25, True, "é", Decimal("-1.05")))
    assert cur.fetchone() == (2**40, 0.25, True, "é", Decimal("-1.05"))


def test_array_agg_json_and_regex_values(conn: Any) -> None:
    """What psycopg decodes from array_agg (an int4[] on SQLite too), JSON operators and
    regular expressions, in text and binary format."""
    sql = 'SELECT array_agg("GenreId") FROM "Genre" WHERE "GenreId" < 4'
    assert conn.execute(sql).fetchone() == ([1, 2, 3],)
    assert conn.cursor(binary=True).execute(sql).fetchone() == ([1, 2, 3],)
    row = conn.execute("SELECT %s::jsonb -> 'a', %s::json ->> 'a'", ('{"a": [1, 2]}', '{"a": "x"}')).fetchone()
    assert row == ([1, 2], "x")
    row = conn.execute('SELECT "Name", "Name" ~ %s FROM "Artist" WHERE "Name" ~* %s', ("^AC", "^ac/")).fetchall()
    assert row == [("AC/DC", True)]


def test_prepared_statements(gateway: Any) -> None:
    with gateway.connect(prepare_threshold=0) as c:
        for i in (1, 2, 3, 1):
            row = c.execute('SELECT "AlbumId", "Title" FROM "Album" WHERE "AlbumId" = %s', (i,), prepare=True).fetchone()
            assert row is not None and row[0] == i
        assert c.execute('SELECT count(*) FROM "Track" WHERE "AlbumId" = %s', (1,), prepare=True).fetchone() == (10,)


def test_executemany(gateway: Any) -> None:
    with gateway.connect() as c:
        cur = c.cursor()
        cur.executemany('SELECT "Name" FROM "Genre" WHERE "GenreId" = %s', [(1,), (2,)], returning=True)
        got = [cur.fetchone()]
        while cur.nextset():
            got.append(cur.fetchone())
        assert got == [("Rock",), ("Jazz",)]


def test_error_then_aborted_transaction_until_rollback(gateway: Any) -> None:
    with gateway.connect(autocommit=False) as c:
        assert c.execute('SELECT count(*) FROM "Genre"').fetchone() == (25,)
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        with pytest.raises(psycopg.errors.UndefinedTable):
            c.execute('SELECT * FROM "NoSuchTable"')
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        with pytest.raises(psycopg.errors.InFailedSqlTransaction) as e:
            c.execute("SELECT 1")
        assert e.value.sqlstate == "25P02"
        c.rollback()
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert c.execute("SELECT 1").fetchone() == (1,)


def test_error_fields(gateway: Any) -> None:
    with gateway.connect() as c:
        with pytest.raises(psycopg.Error) as e:
            c.execute('SELECT "Title" FROM "NoSuchTable"')
        diag = e.value.diag
        assert diag.severity == "ERROR" and diag.severity_nonlocalized == "ERROR"
        assert diag.sqlstate == "42P01"
        assert diag.message_primary
        assert c.execute("SELECT 1").fetchone() == (1,)  # the connection goes on


def test_startup_parameters(gateway: Any) -> None:
    with gateway.connect(application_name="wire-test") as c:
        ps = c.info.parameter_status
        assert ps("server_version").startswith("15")
        assert ps("server_encoding") == "UTF8" and ps("client_encoding") == "UTF8"
        assert ps("DateStyle").startswith("ISO")
        assert ps("integer_datetimes") == "on" and ps("standard_conforming_strings") == "on"
        for name in ("TimeZone", "IntervalStyle", "is_superuser"):
            assert ps(name), name
        assert ps("application_name") == "wire-test"
        assert c.execute("SHOW application_name").fetchone() == ("wire-test",)
        assert c.info.backend_pid != 0


def test_set_reports_parameter_status(gateway: Any) -> None:
    with gateway.connect() as c:
        c.execute("SET application_name = 'renamed'")
        assert c.info.parameter_status("application_name") == "renamed"


def test_server_side_cursor(gateway: Any) -> None:
    with gateway.connect(autocommit=False) as c:
        with c.cursor(name="tracks") as cur:
            cur.itersize = 100
            cur.execute('SELECT "TrackId" FROM "Track" ORDER BY "TrackId"')
            assert [r[0] for r in cur.fetchmany(3)] == [1, 2, 3]
            assert sum(1 for _ in cur) == 3500
        c.rollback()


def test_pipeline_mode(gateway: Any) -> None:
    with gateway.connect() as c:
        with c.pipeline():
            curs = [c.execute('SELECT "Name" FROM "Genre" WHERE "GenreId" = %s', (i,)) for i in (1, 2, 3)]
            c.execute('SELECT count(*) FROM "Track" WHERE "GenreId" = %s', (1,))
        assert [cur.fetchone() for cur in curs] == [("Rock",), ("Jazz",), ("Metal",)]
        with pytest.raises(psycopg.errors.UndefinedTable):
            with c.pipeline():
                c.execute("SELECT 1")
                c.execute('SELECT * FROM "NoSuchTable"')
                c.execute("SELECT 2")
        assert c.execute("SELECT 3").fetchone() == (3,)


def test_error_of_a_prepared_point_read_fails_the_transaction_and_the_session_goes_on(gateway: Any) -> None:
    """A prepared read answered at once on the event loop (quick read, no coroutines) that
    fails at execution: the error keeps its SQLSTATE, the transaction is failed (25P02 until
    ROLLBACK), and the same prepared statement answers again afterwards."""
    sql = 'SELECT abs(%s::bigint) AS a, "Name" FROM "Artist" WHERE "ArtistId" = 1'
    with gateway.connect("chinook", autocommit=False) as c:
        cur = c.cursor()
        for _ in range(6):  # psycopg prepares on the server from the fifth execution on
            cur.execute(sql, [7])
            assert cur.fetchall() == [(7, "AC/DC")]
        with pytest.raises(psycopg.errors.NumericValueOutOfRange):
            cur.execute(sql, [-9223372036854775808], prepare=True)
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            cur.execute(sql, [5], prepare=True)
        c.rollback()
        cur.execute(sql, [5], prepare=True)
        assert cur.fetchall() == [(5, "AC/DC")]
