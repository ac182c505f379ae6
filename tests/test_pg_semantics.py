"""Values and errors as PostgreSQL gives them, where SQLite or DuckDB would answer
otherwise: division by zero, text constants that are not values of their type, a simple
query naming a parameter, numeric arithmetic, the array and text functions SQLite lacks,
parameters typed by the driver. Differential: the same statements through askgres (SQLite
and DuckDB behind it) and against the reference PostgreSQL 15; SQLSTATEs, messages, values
and column types must match, and the connection must stay usable after an error.
"""

from __future__ import annotations

from typing import Any

import pytest

from clients_support import BACKENDS, Endpoint, chinook_endpoint
from refpg import pg_ref  # noqa: F401  (fixture)

psycopg = pytest.importorskip("psycopg")

FAILING = [
    "SELECT 1/0",
    "SELECT 1.0/0",
    "SELECT 5 % 0",
    "SELECT 5.5 % 0",
    'SELECT count(*) FROM "Track" WHERE "Milliseconds" / ("GenreId" - 1) > 100000',
    "SELECT 'a'::int",
    "SELECT CAST(' 12x' AS bigint)",
    "SELECT '99999999999'::int",
    "SELECT '40000'::smallint",
    "SELECT 'abc'::numeric",
    "SELECT 'maybe'::boolean",
    "SELECT 'o'::boolean",
    "SELECT '2024-13-01'::date",
    "SELECT '2023-02-29'::date",
    "SELECT 'abc'::date",
    "SELECT $1",
    "SELECT 1, $1",
    'SELECT "GenreId" FROM "Genre" ORDER BY 5',
    "SELECT * FROM generate_series(1, 3, 0)",
    # a text constant compared with a typed column is read as that type (SQLite compared it as text)
    """SELECT count(*) FROM "Artist" WHERE "ArtistId" = 'abc'""",
    """SELECT count(*) FROM "Track" WHERE "UnitPrice" > 'cheap'""",
    """SELECT count(*) FROM "Invoice" WHERE "InvoiceDate" = '2009-02-30'""",
    """SELECT count(*) FROM "Track" WHERE "GenreId" = '1.5'""",
]

SQLSTATE_ONLY = [  # the backend words these otherwise; the code is PostgreSQL's
    'SELECT sum("Name") FROM "Genre"',
    # columns neither grouped nor aggregated: SQLite answered an arbitrary row's value
    'SELECT 1 FROM "Genre" GROUP BY "Name" HAVING "GenreId" > 1',
    'SELECT "Name", count(*) FROM "Track"',
    'SELECT "GenreId", "Name", count(*) FROM "Track" GROUP BY "GenreId"',
    'SELECT count(*), "GenreId" FROM "Track" WHERE "GenreId" = 1',
]

PASSING = [
    "SELECT 7/2, 7 % 3, 2/nullif(0, 0), 7.0/2 = 3.5",
    'SELECT "Name" FROM "Genre" WHERE "GenreId" / 1 = 1',
    'SELECT count(*) FROM "Track" WHERE "GenreId" > 1 AND "Milliseconds" / ("GenreId" - 1) > 100000',
    "SELECT ' 12 '::int, '-3'::smallint, '9223372036854775807'::bigint",
    "SELECT 'tr'::boolean, 'of'::boolean, 'YES'::boolean, ' 0 '::boolean, 'n'::boolean",
    "SELECT '2024-2-29'::date, '1e3'::float8, ' 2.5 '::real",
    """SELECT count(*) FROM "Invoice" WHERE "InvoiceDate" >= '2013-01-01'::date""",
    'SELECT 10::numeric / 4 = 2.5, 1.5 % 1, -7.5 % 2, round(2.5), round(-2.5), "UnitPrice" * 3, "UnitPrice" + 0.1 '
    'FROM "Track" WHERE "TrackId" = 1',
    "SELECT reverse('abc'), array_length(ARRAY[1, 2, 3], 1), cardinality(ARRAY[1, 2]), string_to_array('a,b,,c', ','), "
    "string_to_array('a b', ' '), '{1,2}'::int[]",
    "SELECT date '2024-03-01' - date '2024-02-01', left('abc', -1), right('abc', -1), 'abc'::varchar(2), "
    "translate('abc', 'ab', 'xy'), chr(66), ascii('A'), concat_ws('-', 'a', NULL, 'b')",
    "SELECT 'abc' SIMILAR TO 'a%', 'a.c' SIMILAR TO 'a_c', 'abc' SIMILAR TO '(a|x)b_', 'abc' SIMILAR TO 'b%', "
    "'a.c' SIMILAR TO 'a.c', 'abc' SIMILAR TO 'a.c'",
    "SELECT round(1234.5678, -2), round(2.5::float8), round(3.5::float8), ceil(-0.5), 1.2345::numeric(10, 2), "
    "ln(10)::numeric(10, 4)",
    'SELECT every("Total" > 0), bool_or("Total" > 20), stddev("Total")::numeric(10, 4), '
    'variance("Total")::numeric(10, 4), var_pop("Total")::numeric(10, 4) FROM "Invoice"',
    "SELECT format('%s-%s', 'a', 1), starts_with('abc', 'ab'), make_date(2024, 3, 5), now() - now()",
    "SELECT '2024-01-01 10:00+02'::timestamptz, '\\x6162'::bytea, '1 day'::interval, interval '2 hours 30 minutes'",
    "SELECT to_char(timestamp '2024-03-05 14:07:09', 'YYYY-MM-DD HH24:MI:SS'), to_char(date '2024-03-05', 'Mon DD, YYYY'), "
    "to_char(date '2024-03-05', 'Day'), to_char(timestamp '2024-03-05 14:07:09', 'FMDay, FMMonth FMDD'), "
    "to_char(timestamp '2024-03-05 14:07:09', 'HH12:MI AM'), to_char(date '2024-03-05', 'Q IW DY dy MONTH month')",
    "SELECT to_char(1234.5, '9999.99'), to_char(5, '000'), to_char(1234.5, 'FM9,999.00'), to_char(-12.5, '999.9'), "
    "to_char(0.5, '9.99'), to_char(0, '999'), to_char(12345, '999'), to_char(1234567.891, '9,999,999.99')",
    'SELECT to_char("InvoiceDate", \'YYYY-MM\'), to_char("Total", \'FM999.00\') FROM "Invoice" ORDER BY "InvoiceId" LIMIT 2',
    "SELECT 'f'::boolean::text, true::text, (1 > 2)::text",
    "SELECT * FROM generate_series(10, 1, -3)",
    "SELECT g::date FROM generate_series(timestamp '2024-01-01', timestamp '2024-01-03', interval '1 day') AS g",
    "SELECT timestamp '2024-01-31' + interval '1 month', timestamp '2024-03-31 10:00' - interval '1 month', "
    "timestamp '2024-02-29' + interval '1 year', timestamp '2024-01-31' + interval '2 days'",
    "SELECT g FROM generate_series(timestamp '2024-01-31', timestamp '2024-05-01', interval '1 month') AS g",
    # grouping that PostgreSQL accepts: FILTER, aggregates, subqueries, the primary key grouped
    # (PostgreSQL and askgres on SQLite; DuckDB refuses a column only its primary key determines)
    'SELECT "BillingCountry", sum("Total") FILTER (WHERE "Total" > 5) FROM "Invoice" GROUP BY 1 ORDER BY 1 LIMIT 2',
    'SELECT "ArtistId", max("Title") FROM "Album" GROUP BY "ArtistId" ORDER BY 1 LIMIT 2',
    'SELECT upper("BillingCountry"), count(*) FROM "Invoice" GROUP BY upper("BillingCountry") ORDER BY 1 LIMIT 2',
    'SELECT max("Total") - min("Total"), count(*) FROM "Invoice"',
    # a date compared with a timestamp is its midnight (SQLite compared the texts:
    # '2009-01-01 00:00:00' = '2009-01-01' was false, '2013-12-22 00:00:00' > '2013-12-22' true)
    """SELECT count(*) FROM "Invoice" WHERE "InvoiceDate" = '2009-01-01'""",
    """SELECT count(*) FROM "Invoice" WHERE "InvoiceDate" = '2009-1-1' OR '2009-01-02' = "InvoiceDate" """,
    """SELECT count(*) FROM "Invoice" WHERE "InvoiceDate" > '2013-12-22'""",
    """SELECT count(*) FROM "Invoice" WHERE "InvoiceDate" BETWEEN '2009-01-01' AND '2009-01-02'""",
    """SELECT count(*) FROM "Invoice" WHERE "InvoiceDate" IN ('2009-01-01', '2009-01-02', '2009-01-03')""",
    """SELECT count(*) FROM "Invoice" WHERE "InvoiceDate" = '2009-01-01'::date""",
    """SELECT count(*) FROM "Invoice" WHERE date_trunc('day', "InvoiceDate") = '2009-01-01'""",
    """SELECT count(*), sum("Total") FROM "Invoice" WHERE "InvoiceDate" >= '2010-01-01' AND "InvoiceDate" < '2011-01-01'""",
    """SELECT count(*) FROM "Artist" WHERE "ArtistId" + 0 = '5' OR "ArtistId" IN ('6', '7')""",
    """SELECT count(*) FROM "Track" WHERE "UnitPrice" = '0.99' AND "Milliseconds" > ' 300000 '""",
]


@pytest.fixture(params=BACKENDS)
def ep(request: pytest.FixtureRequest) -> Endpoint:
    return chinook_endpoint(request, request.param)


def outcome(conn: Any, sql: str) -> tuple[str, str] | list[tuple[Any, ...]]:
    """``sql`` sent as a simple query: ``(SQLSTATE, message)`` or the rows as text."""
    res = conn.pgconn.exec_(sql.encode())
    if res.error_message:
        field = psycopg.pq.DiagnosticField
        return (res.error_field(field.SQLSTATE) or b"").decode(), (res.error_field(field.MESSAGE_PRIMARY) or b"").decode()
    return [tuple(res.get_value(r, c) for c in range(res.nfields)) for r in range(res.ntuples)]


def test_data_errors_match_postgres(ep: Endpoint, pg_ref: Any) -> None:
    with psycopg.connect(ep.dsn, autocommit=True) as ours, \
            psycopg.connect(Endpoint.of(pg_ref).dsn, autocommit=True) as ref:
        for sql in FAILING:
            want = outcome(ref, sql)
            assert isinstance(want, tuple), sql  # PostgreSQL refuses it
            assert outcome(ours, sql) == want, sql
            assert ours.execute("SELECT 41 + 1").fetchone() == (42,)  # the connection stays usable
        for sql in SQLSTATE_ONLY:
            want, got = outcome(ref, sql), outcome(ours, sql)
            assert isinstance(want, tuple) and isinstance(got, tuple) and got[0] == want[0], (sql, got, want)
        for sql in PASSING:
            want = outcome(ref, sql)
            assert isinstance(want, list), (sql, want)
            assert outcome(ours, sql) == want, sql


def test_division_by_a_zero_parameter(ep: Endpoint, pg_ref: Any) -> None:
    """Extended protocol: the divisor arrives at Bind."""
    sql = 'SELECT "Milliseconds" / %s FROM "Track" WHERE "TrackId" = %s'
    for target in (ep, Endpoint.of(pg_ref)):
        with psycopg.connect(target.dsn, autocommit=True) as conn:
            with pytest.raises(psycopg.errors.DivisionByZero):
                conn.execute(sql, (0, 1))
            assert conn.execute(sql, (1000, 1)).fetchone() == (343,)


def test_parameters_in_arithmetic_are_typed_as_postgres_types_them(ep: Endpoint, pg_ref: Any) -> None:
    """psycopg sends a Python int as int2/int4/int8: ``"Milliseconds" / %s`` divides
    integers as integers and is an integer column; a parameter selected as it is keeps its
    type; repeated column names stay as PostgreSQL writes them."""
    sql = ('SELECT "Milliseconds" / %s, "Milliseconds" / 1000 / %s, "Milliseconds" * %s, -%s, %s, "UnitPrice" * %s, '
           '"Name", "Name" FROM "Track" WHERE "TrackId" = %s')
    args = (1000, 60, 2, 7, 40000, 3, 1)

    def run(target: Endpoint) -> tuple[Any, Any]:
        with psycopg.connect(target.dsn, autocommit=True) as conn:
            cur = conn.execute(sql, args)
            return cur.fetchall(), [(d.name, d.type_code) for d in cur.description]

    assert run(ep) == run(Endpoint.of(pg_ref))


def test_interval_parameters_move_timestamps(ep: Endpoint, pg_ref: Any) -> None:
    """A ``timedelta`` from psycopg is an interval parameter: a timestamp plus or minus it is
    a timestamp (SQLite added the texts as numbers)."""
    import datetime as dt

    sql = ('SELECT "InvoiceDate" + %s, "InvoiceDate" - %s, %s + "InvoiceDate" FROM "Invoice" WHERE "InvoiceId" = %s')
    args = (dt.timedelta(days=1, hours=2), dt.timedelta(minutes=30), dt.timedelta(days=-1), 1)
    count = 'SELECT count(*) FROM "Invoice" WHERE "InvoiceDate" > %s::timestamp - %s'

    def run(target: Endpoint) -> tuple[Any, ...]:
        with psycopg.connect(target.dsn, autocommit=True) as conn:
            cur = conn.execute(sql, args)
            rows, types = cur.fetchall(), [d.type_code for d in cur.description]
            return rows, types, conn.execute(count, (dt.datetime(2013, 12, 31), dt.timedelta(days=30))).fetchall()

    assert run(ep) == run(Endpoint.of(pg_ref))


ASSIGNMENTS = [  # a scratch table on the writable SQLite demo and on PostgreSQL
    "CREATE TABLE t_assign (id int PRIMARY KEY, qty int, price numeric(10,2), ok boolean, at timestamp, "
    "note varchar(5))",
    "INSERT INTO t_assign (id, qty) VALUES (1, 'abc')",
    "INSERT INTO t_assign (id, qty) VALUES (1, 99999999999)",
    "INSERT INTO t_assign (id, qty) VALUES (1, '99999999999')",
    "INSERT INTO t_assign (id, ok) VALUES (1, 'maybe')",
    "INSERT INTO t_assign (id, at) VALUES (1, 'not a date')",
    "INSERT INTO t_assign (id, at) VALUES (1, '2024-02-30 10:00')",
    "INSERT INTO t_assign (id, price) VALUES (1, 123456789012.5)",
    "INSERT INTO t_assign (id, note) VALUES (1, 'toolongvalue')",
    "INSERT INTO t_assign (id, qty, price, ok, note) VALUES (1, 2.7, 2.345, 'yes', 'ab   ') RETURNING qty, price, ok, note",
    "INSERT INTO t_assign VALUES (2, '-3', '1.005', 'f', '2024-01-31', 'xyz') RETURNING qty, price, ok, at, note",
    "UPDATE t_assign SET qty = 'x' WHERE id = 1",
    "UPDATE t_assign SET qty = 4.5, price = 0.125 WHERE id = 1 RETURNING qty, price",
    "SELECT id, qty, price, ok, at, note FROM t_assign ORDER BY id",
]


def test_values_written_into_columns_as_postgres_assigns_them(request: pytest.FixtureRequest, pg_ref: Any) -> None:
    """SQLite stores whatever it is given ('abc' in an integer column, twelve characters in a
    varchar(5)); PostgreSQL converts or refuses. Simple and extended protocol."""
    ours_ep = chinook_endpoint(request, "chinook")
    with psycopg.connect(ours_ep.dsn, autocommit=True) as ours, \
            psycopg.connect(Endpoint.of(pg_ref).dsn, autocommit=True) as ref:
        for conn in (ours, ref):
            conn.execute("DROP TABLE IF EXISTS t_assign")
        try:
            for sql in ASSIGNMENTS:
                assert outcome(ours, sql) == outcome(ref, sql), sql
            insert = "INSERT INTO t_assign (id, qty, price, note) VALUES (%s, %s, %s, %s) RETURNING qty, price"
            for args in ((3, 7, "2.345", "ok"), (4, 1, 1, "toolongvalue")):
                got: Any
                want: Any
                try:
                    want = ref.execute(insert, args).fetchall()
                except psycopg.Error as e:
                    want = e.sqlstate
                try:
                    got = ours.execute(insert, args).fetchall()
                except psycopg.Error as e:
                    got = e.sqlstate
                assert got == want, args
        finally:
            for conn in (ours, ref):
                conn.execute("DROP TABLE IF EXISTS t_assign")


def test_columns_a_grouped_primary_key_determines(request: pytest.FixtureRequest, pg_ref: Any) -> None:
    """PostgreSQL accepts a column that a grouped primary key determines; so does askgres on
    SQLite (DuckDB refuses it: KNOWN_GAPS)."""
    queries = [
        'SELECT g."GenreId", g."Name", count(*) FROM "Genre" g JOIN "Track" t ON t."GenreId" = g."GenreId" '
        'GROUP BY g."GenreId" ORDER BY 3 DESC, 1 LIMIT 3',
        'SELECT "AlbumId", "Title", (SELECT count(*) FROM "Track" t WHERE t."AlbumId" = a."AlbumId") FROM "Album" a '
        'GROUP BY "AlbumId" ORDER BY 1 LIMIT 2',
    ]
    with psycopg.connect(chinook_endpoint(request, "chinook").dsn, autocommit=True) as ours, \
            psycopg.connect(Endpoint.of(pg_ref).dsn, autocommit=True) as ref:
        for sql in queries:
            want = outcome(ref, sql)
            assert isinstance(want, list) and outcome(ours, sql) == want, sql


def test_text_parameters_compared_with_typed_columns(ep: Endpoint, pg_ref: Any) -> None:
    """Dates sent as text parameters compared with a timestamp column, prepared and run
    again and again (the hot reader from the second run on): the same rows each time, as
    PostgreSQL casts the text to a timestamp; text that is not a number compared with an
    integer column is 22P02 and the connection goes on."""
    sql = 'SELECT count(*) FROM "Invoice" WHERE "InvoiceDate" >= %s AND "InvoiceDate" <= %s'
    days = [("2009-01-01", "2009-01-02"), ("2009-06-01", "2010-01-01"), ("2009-01-01", "2009-01-02"),
            ("2013-12-22", "2014-01-01"), ("2009-01-01", "2009-01-02")]
    results = []
    for target in (Endpoint.of(pg_ref), ep):
        with psycopg.connect(target.dsn, autocommit=True, prepare_threshold=0) as conn:
            results.append([conn.execute(sql, pair).fetchone() for pair in days])
            with pytest.raises(psycopg.errors.InvalidTextRepresentation):
                conn.execute('SELECT count(*) FROM "Artist" WHERE "ArtistId" = %s', ("abc",))
            assert conn.execute("SELECT 41 + 1").fetchone() == (42,)
    assert results[1] == results[0] and results[0][0] == (2,)
