"""Validation of generated SQL (read-only, one statement, names exist), identifier
repair, and the decoding mask, on schemas introspected from databases the tests create."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import duckdb
import numpy as np
import pytest
import sqlglot
from sqlglot import exp

from connectors.base import Backend, SchemaInfo
from connectors.duckdb import DuckdbBackend
from connectors.sqlite import SqliteBackend
from gateway.errors import PgError
from nl2sql.constrain import nearest, repair_identifiers, repair_values, similarity, words
from nl2sql.reshape import (
    repair_absent, repair_contradiction, repair_count, repair_counted_rows, repair_grouping, repair_having,
    repair_joins, repair_missing_value, repair_order, repair_patterns, repair_projection, repair_selection,
    repair_stray_joins, repair_superlative, table_words,
)
from nl2sql.grammar import IdentifierMask, Vocab
from nl2sql.schema_index import _read_values
from nl2sql.validate import ValidationError, is_read_only_query, validate

DDL = [
    "CREATE TABLE Artist (ArtistId INTEGER PRIMARY KEY, Name VARCHAR(120))",
    "CREATE TABLE Album (AlbumId INTEGER PRIMARY KEY, Title VARCHAR(160) NOT NULL,"
    " ArtistId INTEGER NOT NULL REFERENCES Artist (ArtistId))",
    "CREATE TABLE Genre (GenreId INTEGER PRIMARY KEY, Name VARCHAR(120))",
    "CREATE TABLE Track (TrackId INTEGER PRIMARY KEY, Name VARCHAR(200) NOT NULL,"
    " AlbumId INTEGER REFERENCES Album (AlbumId), GenreId INTEGER REFERENCES Genre (GenreId),"
    " UnitPrice NUMERIC(10,2) NOT NULL)",
    "CREATE TABLE Employee (EmployeeId INTEGER PRIMARY KEY, FirstName VARCHAR(20), ReportsTo INTEGER)",
]
ROWS = [
    "INSERT INTO Artist VALUES (1, 'AC/DC'), (2, 'Accept')",
    "INSERT INTO Album VALUES (1, 'For Those About To Rock', 1), (2, 'Balls to the Wall', 2)",
    "INSERT INTO Genre VALUES (1, 'Rock'), (2, 'Jazz')",
    "INSERT INTO Track VALUES (1, 'Go Down', 1, 1, 0.99), (2, 'Balls', 2, 2, 1.99)",
    "INSERT INTO Employee VALUES (1, 'Andrew', NULL)",
]


def make_sqlite(path: Path, more: Sequence[str] = ()) -> Path:
    conn = sqlite3.connect(path)
    for stmt in [*DDL, *ROWS, *more]:
        conn.execute(stmt)
    conn.commit()
    conn.close()
    return path


def make_duckdb(path: Path, more: Sequence[str] = ()) -> Path:
    conn = duckdb.connect(str(path))
    for stmt in [*DDL, *ROWS, *more]:
        conn.execute(stmt)
    conn.close()
    return path


def open_music(kind: str, tmp_path: Path, more: Sequence[str] = ()) -> Backend:
    if kind == "sqlite":
        return SqliteBackend("music", make_sqlite(tmp_path / "music.sqlite", more))
    return DuckdbBackend("music", make_duckdb(tmp_path / "music.duckdb", more))


@pytest.fixture(params=["sqlite", "duckdb"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b = open_music(request.param, tmp_path)
    yield b
    b.close()


@pytest.fixture
def schema(backend: Backend) -> SchemaInfo:
    return backend.introspect()


READ_ONLY_REJECTED = [
    "DELETE FROM Album",
    "UPDATE Album SET Title = 'x'",
    "INSERT INTO Artist VALUES (3, 'x')",
    "DROP TABLE Album",
    "CREATE TABLE x (a int)",
    "ALTER TABLE Album ADD COLUMN y int",
    "ATTACH 'other.db' AS other",
    "PRAGMA table_info(Album)",
    "COPY Album TO '/tmp/album.csv'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET threads = 1",
    "SELECT 1; SELECT 2",
    "SELECT 1; DELETE FROM Album",
    "SELECT * INTO Copy FROM Album",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT load_extension('evil')",
    "WITH gone AS (SELECT 1) DELETE FROM Album",
    "BEGIN",
]


@pytest.mark.parametrize("sql", READ_ONLY_REJECTED)
def test_everything_but_one_query_is_rejected(sql: str, schema: SchemaInfo) -> None:
    with pytest.raises(ValidationError) as info:
        validate(sql, schema)
    assert info.value.kind in ("not_read_only", "unknown_table", "parse")
    assert not is_read_only_query(sql, schema.dialect) or info.value.kind == "unknown_table"


ACCEPTED = [
    "SELECT count(*) FROM Album",
    "select title from album",  # case-insensitive names
    "SELECT T2.Name, count(*) AS n FROM Album AS T1 JOIN Artist AS T2 ON T1.ArtistId = T2.ArtistId"
    " GROUP BY T2.Name ORDER BY n DESC LIMIT 1",
    "WITH c AS (SELECT ArtistId, count(*) AS n FROM Album GROUP BY ArtistId) SELECT Name, n FROM c JOIN Artist USING (ArtistId)",
    "SELECT Name FROM Genre UNION SELECT Name FROM Artist",
    "SELECT Name FROM Artist WHERE ArtistId NOT IN (SELECT ArtistId FROM Album)",
    "SELECT Title AS t FROM Album ORDER BY t",
    "SELECT (SELECT max(UnitPrice) FROM Track) AS top",
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_queries_over_real_names_pass(sql: str, schema: SchemaInfo, backend: Backend) -> None:
    checked = validate(sql, schema)
    assert checked.tables
    conn = backend.connect(read_only=True)
    try:
        conn.execute(checked.sql)  # and the database agrees
    finally:
        conn.close()


@pytest.mark.parametrize("sql,kind", [
    ("SELECT * FROM Albums", "unknown_table"),
    ("SELECT Name FROM Album", "unknown_column"),
    ("SELECT a.Name FROM Album AS a", "unknown_column"),
    ("SELEC 1", "parse"),
    ("SELECT", "parse"),
    ("SELECT * FROM Album WHERE AlbumId IN (SELECT)", "parse"),
    ("", "parse"),
])
def test_unknown_names_and_syntax_errors(sql: str, kind: str, schema: SchemaInfo) -> None:
    with pytest.raises(ValidationError) as info:
        validate(sql, schema)
    assert info.value.kind == kind
    assert info.value.message


@pytest.mark.parametrize("sql,fixed,fix", [
    ("SELECT count(*) FROM Albums", "SELECT COUNT(*) FROM Album", "table Albums -> Album"),
    ("SELECT GenreName, count(*) FROM Track JOIN Genre ON Track.GenreId = Genre.GenreId GROUP BY GenreName",
     "SELECT Genre.Name, COUNT(*) FROM Track JOIN Genre ON Track.GenreId = Genre.GenreId GROUP BY Genre.Name",
     "column GenreName -> Genre.Name"),
    ("SELECT Album.Name FROM Album JOIN Artist ON Album.ArtistId = Artist.ArtistId",
     "SELECT Artist.Name FROM Album JOIN Artist ON Album.ArtistId = Artist.ArtistId", "column Album.Name -> Artist.Name"),
    ("SELECT first_name FROM employees", "SELECT FirstName FROM Employee", "column first_name -> FirstName"),
    ("SELECT Name FROM Tracks WHERE Name LIKE \"%go%\"", "SELECT Name FROM Track WHERE Name LIKE '%go%'",
     "identifier \"%go%\" -> string '%go%'"),
    ("SELECT b.Titel FROM Artist a JOIN Album b ON a.ArtistId = b.ArtistId",
     "SELECT b.Title FROM Artist AS a JOIN Album AS b ON a.ArtistId = b.ArtistId", "column b.Titel -> b.Title"),
    ("SELECT Artist.Name FROM Artist a", "SELECT a.Name FROM Artist AS a", "column Artist.Name -> a.Name"),
    ("SELECT price FROM Track", "SELECT UnitPrice FROM Track", "column price -> UnitPrice"),
    # an alias the query never defines: the one table that has all its columns (Album has no Name)
    ("SELECT T3.Name FROM Album AS T1 JOIN Artist AS T2 ON T1.ArtistId = T2.ArtistId ORDER BY T3.ArtistId",
     "SELECT T2.Name FROM Album AS T1 JOIN Artist AS T2 ON T1.ArtistId = T2.ArtistId ORDER BY T2.ArtistId",
     "column T3.Name -> T2.Name"),
    ("SELECT T2.Name FROM Genre WHERE GenreId = 1", "SELECT Genre.Name FROM Genre WHERE GenreId = 1",
     "column T2.Name -> Genre.Name"),
])
def test_identifier_repair(sql: str, fixed: str, fix: str, schema: SchemaInfo, backend: Backend) -> None:
    tree = sqlglot.parse_one(sql, read=schema.dialect)
    repaired, fixes = repair_identifiers(tree, schema, prefer=["Track"])
    assert fix in fixes
    out = repaired.sql(dialect=schema.dialect)
    assert out == fixed
    validate(out, schema)
    conn = backend.connect(read_only=True)
    try:
        conn.execute(out)
    finally:
        conn.close()


def test_repair_leaves_real_names_and_unknowable_ones_alone(schema: SchemaInfo) -> None:
    good = "SELECT T2.Name FROM Album AS T1 JOIN Artist AS T2 ON T1.ArtistId = T2.ArtistId"
    tree = sqlglot.parse_one(good, read=schema.dialect)
    same, fixes = repair_identifiers(tree, schema)
    assert fixes == [] and same.sql(dialect=schema.dialect) == tree.sql(dialect=schema.dialect)
    _, fixes = repair_identifiers(sqlglot.parse_one("SELECT REPRESENTATIVE FROM Employee", read=schema.dialect), schema)
    assert fixes == []  # nothing is close enough: left for the model to repair
    # an undefined alias whose columns two tables of the query have: left for the model
    ambiguous = "SELECT T6.Title FROM Album AS T1 JOIN Album AS T3 ON T1.AlbumId = T3.AlbumId"
    _, fixes = repair_identifiers(sqlglot.parse_one(ambiguous, read=schema.dialect), schema)
    assert fixes == []


def _holds(backend: Backend) -> Callable[[str, str, str], bool]:
    def holds(table: str, column: str, value: str) -> bool:
        conn = backend.connect(read_only=True)
        try:
            return bool(conn.execute(f'SELECT 1 FROM "{table}" WHERE "{column}" = ?', [value]).rows)
        except PgError:  # DuckDB: a name compared with an integer column
            return False
        finally:
            conn.close()
    return holds


def _rows(backend: Backend, sql: str) -> list[tuple[object, ...]]:
    conn = backend.connect(read_only=True)
    try:
        return [tuple(r) for r in conn.execute(sql).rows]
    finally:
        conn.close()


@pytest.mark.parametrize("sql,fixed,rows", [
    # the genre's name compared with the track's name: moved to the table that has 'Jazz'
    ("SELECT AVG(UnitPrice) FROM Genre AS T1 JOIN Track AS T2 ON T1.GenreId = T2.GenreId WHERE T2.Name = 'Jazz'",
     "SELECT AVG(UnitPrice) FROM Genre AS T1 JOIN Track AS T2 ON T1.GenreId = T2.GenreId WHERE T1.Name = 'Jazz'",
     [(1.99,)]),
    # an id compared with a name: the column that holds the name
    ("SELECT T1.Title FROM Album AS T1 JOIN Artist AS T2 ON T1.ArtistId = T2.ArtistId WHERE T1.ArtistId = 'Accept'",
     "SELECT T1.Title FROM Album AS T1 JOIN Artist AS T2 ON T1.ArtistId = T2.ArtistId WHERE T2.Name = 'Accept'",
     [("Balls to the Wall",)]),
    # a foreign key compared with a value of the table it refers to, which the query does not read
    ("SELECT AVG(UnitPrice) FROM Track WHERE GenreId = 'Jazz'",
     "SELECT AVG(UnitPrice) FROM Track WHERE GenreId IN (SELECT GenreId FROM Genre WHERE Name = 'Jazz')",
     [(1.99,)]),
    # the stored spelling
    ("SELECT GenreId FROM Genre WHERE Name = 'jazz'", "SELECT GenreId FROM Genre WHERE Name = 'Jazz'", [(2,)]),
    # a value of a table that refers to the query's (measured, every 11-24 curve: "the employee
    # who helps the customer Leonie" as Employee's EmployeeId = 'Leonie' or FirstName = 'Leonie')
    ("SELECT Title FROM Album WHERE Title = 'Go Down'",
     "SELECT Title FROM Album WHERE AlbumId IN (SELECT AlbumId FROM Track WHERE Name = 'Go Down')",
     [("For Those About To Rock",)]),
    ("SELECT A.Title FROM Album AS A WHERE A.AlbumId = 'Go Down'",
     "SELECT A.Title FROM Album AS A WHERE A.AlbumId IN (SELECT AlbumId FROM Track WHERE Name = 'Go Down')",
     [("For Those About To Rock",)]),
    # a value of a table the query's refers to, which the query does not read (measured on the
    # 2026-11-25 02:37 curve: "albums containing both 'Reggae' and 'Rock' genre tracks" compared
    # each genre with Track.Name)
    ("SELECT T1.Title FROM Album AS T1 JOIN Track AS T2 ON T1.AlbumId = T2.AlbumId WHERE T2.Name = 'Jazz'",
     "SELECT T1.Title FROM Album AS T1 JOIN Track AS T2 ON T1.AlbumId = T2.AlbumId "
     "WHERE T2.GenreId IN (SELECT GenreId FROM Genre WHERE Name = 'Jazz')",
     [("Balls to the Wall",)]),
])
def test_value_repair(sql: str, fixed: str, rows: list[tuple[object, ...]], schema: SchemaInfo,
                      backend: Backend) -> None:
    values = _read_values(backend, schema)
    try:  # as written, the value matches nothing (DuckDB: an error)
        assert _rows(backend, sql) in ([], [(None,)])
    except PgError:
        assert backend.dialect == "duckdb"
    repaired, fixes = repair_values(sqlglot.parse_one(sql, read=schema.dialect), schema, values,
                                    exists=_holds(backend))
    assert fixes
    out = repaired.sql(dialect=schema.dialect)
    assert out == fixed
    got = _rows(backend, out)
    assert [tuple(float(v) if hasattr(v, "as_integer_ratio") and not isinstance(v, int) else v for v in r)
            for r in got] == rows


def test_value_repair_prefers_another_column_of_the_same_table(schema: SchemaInfo, backend: Backend) -> None:
    """The model's table with the wrong column: that table's column that has the value wins
    over another table's (here, as if a track were also called 'AC/DC')."""
    values = _read_values(backend, schema)
    values["ac/dc"] = [*values["ac/dc"], ("Track", "Name", "AC/DC")]
    sql = ("SELECT T2.Title FROM Artist AS T1 JOIN Album AS T2 ON T1.ArtistId = T2.ArtistId "
           "JOIN Track AS T3 ON T3.AlbumId = T2.AlbumId WHERE T1.ArtistId = 'AC/DC'")
    repaired, fixes = repair_values(sqlglot.parse_one(sql, read=schema.dialect), schema, values,
                                    exists=_holds(backend))
    out = repaired.sql(dialect=schema.dialect)
    assert out.endswith("WHERE T1.Name = 'AC/DC'") and fixes
    assert _rows(backend, out) == [("For Those About To Rock",)]


@pytest.mark.parametrize("sql", [
    "SELECT Name FROM Track WHERE Name = 'Balls'",  # the value is in that column
    "SELECT Name FROM Track WHERE Name = 'Andrew'",  # in a table the query does not read
    "SELECT Name FROM Track WHERE Name = 'Nobody'",  # nowhere
    "SELECT T1.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId WHERE T1.UnitPrice = 0.99",
])
def test_value_repair_leaves_other_comparisons_alone(sql: str, schema: SchemaInfo, backend: Backend) -> None:
    tree = sqlglot.parse_one(sql, read=schema.dialect)
    same, fixes = repair_values(tree, schema, _read_values(backend, schema), exists=_holds(backend))
    assert fixes == [] and same.sql(dialect=schema.dialect) == tree.sql(dialect=schema.dialect)


def test_value_repair_asks_the_database_before_moving(schema: SchemaInfo, backend: Backend) -> None:
    """The index keeps at most a few thousand values per column: a value it lacks for the
    compared column may still be there, and then nothing moves."""
    sql = "SELECT T1.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId WHERE T1.Name = 'Go Down'"
    partial = {"go down": [("Genre", "Name", "Go Down")]}  # as if Track.Name were not indexed
    tree = sqlglot.parse_one(sql, read=schema.dialect)
    moved, fixes = repair_values(tree, schema, partial)
    assert "T2.Name = 'Go Down'" in moved.sql(dialect=schema.dialect) and fixes
    same, fixes = repair_values(tree, schema, partial, exists=_holds(backend))
    assert fixes == [] and same.sql(dialect=schema.dialect) == tree.sql(dialect=schema.dialect)


@pytest.mark.parametrize("question,sql,fixed,rows", [
    # a filter on a value nobody named and no column holds: dropped (alone, or one of the ANDs)
    ("What is the average unit price of all the tracks?",
     "SELECT AVG(T1.UnitPrice) FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId WHERE T2.Name = 'Track'",
     "SELECT AVG(T1.UnitPrice) FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId", [(1.49,)]),
    ("Which tracks of Rock albums cost under a dollar?",
     "SELECT T1.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId "
     "WHERE T2.Name = 'Rock' AND T1.Name = 'Not Available' AND T1.UnitPrice < 1",
     "SELECT T1.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId "
     "WHERE T2.Name = 'Rock' AND T1.UnitPrice < 1", [("Go Down",)]),
    ("How many employees are there?", "SELECT COUNT(*) FROM Employee WHERE (FirstName = 'FL')",
     "SELECT COUNT(*) FROM Employee", [(1,)]),
    # a value a referring table holds (Track's 'Go Down'), not named: dropped, not followed
    ("How many albums are there?", "SELECT COUNT(*) FROM Album WHERE Title = 'Go Down'",
     "SELECT COUNT(*) FROM Album", [(2,)]),
])
def test_value_repair_drops_a_filter_on_a_value_nobody_named(
    question: str, sql: str, fixed: str, rows: list[tuple[object, ...]], schema: SchemaInfo, backend: Backend,
) -> None:
    tree = sqlglot.parse_one(sql, read=schema.dialect)
    assert _rows(backend, sql) in ([], [(None,)], [(0,)])  # as written: nothing
    repaired, fixes = repair_values(tree, schema, _read_values(backend, schema), exists=_holds(backend),
                                    question=question)
    out = repaired.sql(dialect=schema.dialect)
    assert out == fixed and any(f.startswith("dropped") for f in fixes)
    assert [tuple(round(float(v), 2) if not isinstance(v, (int, str)) else v for v in r)
            for r in _rows(backend, out)] == rows


@pytest.mark.parametrize("question,sql", [
    # the question names the value: an empty answer says there is none
    ("How many tracks are called Not Available?", "SELECT COUNT(*) FROM Track WHERE Name = 'Not Available'"),
    ("How many tracks are called \"not available\"?", "SELECT COUNT(*) FROM Track WHERE Name = 'Not Available'"),
    # ... or a word of it: the user meant a filter, the model misspelled its value
    ("How many pop tracks are there?",
     "SELECT COUNT(*) FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId WHERE T2.Name = 'Pop Music'"),
    # the column holds it (only the index lacks it: the database is asked)
    ("How many tracks are there?", "SELECT COUNT(*) FROM Track WHERE Name = 'Go Down'"),
    # not an AND-ed condition of WHERE: left as written
    ("How many tracks are there?", "SELECT COUNT(*) FROM Track WHERE Name = 'Nobody' OR UnitPrice > 1"),
    ("How many tracks are there?",
     "SELECT COUNT(*) FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId AND T2.Name = 'Nobody'"),
])
def test_value_repair_keeps_filters_the_question_names_or_the_data_holds(
    question: str, sql: str, schema: SchemaInfo, backend: Backend,
) -> None:
    tree = sqlglot.parse_one(sql, read=schema.dialect)
    values = {k: v for k, v in _read_values(backend, schema).items() if k != "go down"}
    same, fixes = repair_values(tree, schema, values, exists=_holds(backend), question=question)
    assert fixes == [] and same.sql(dialect=schema.dialect) == tree.sql(dialect=schema.dialect)


@pytest.mark.parametrize("question,sql,fixed,rows", [
    # the genre's name selected for "the name of the track": the question names the track only
    ("What is the name of the track that costs more than a dollar?",
     "SELECT T2.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId WHERE T1.UnitPrice > 1",
     "SELECT T1.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId WHERE T1.UnitPrice > 1",
     [("Balls",)]),
    # inside an aggregate, with the tables' own names as qualifiers
    ("Which track name comes first in alphabetical order?",
     "SELECT MIN(Genre.Name) FROM Track JOIN Genre ON Track.GenreId = Genre.GenreId",
     "SELECT MIN(Track.Name) FROM Track JOIN Genre ON Track.GenreId = Genre.GenreId", [("Balls",)]),
])
def test_projection_repair(question: str, sql: str, fixed: str, rows: list[tuple[object, ...]],
                           schema: SchemaInfo, backend: Backend) -> None:
    repaired, fixes = repair_projection(sqlglot.parse_one(sql, read=schema.dialect), schema, question)
    out = repaired.sql(dialect=schema.dialect)
    assert out == fixed and fixes and all(f.startswith("selected") for f in fixes)
    assert _rows(backend, out) == rows != _rows(backend, sql)


@pytest.mark.parametrize("question,sql", [
    # the question names the selected table
    ("Which genre has tracks over a dollar?",
     "SELECT T2.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId WHERE T1.UnitPrice > 1"),
    # ... or both tables: the model chose
    ("What is the name of the genre of the track Balls?",
     "SELECT T2.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId WHERE T1.Name = 'Balls'"),
    # the named table's column is what the question gave: not what it asks for
    ("What is the name of the track Go Down?",
     "SELECT T2.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId WHERE T1.Name = 'Go Down'"),
    # not every selected column of the unnamed table is in the named one: all or none
    ("Which albums are there, by id?",
     "SELECT T2.Name, T2.ArtistId FROM Album AS T1 JOIN Artist AS T2 ON T1.ArtistId = T2.ArtistId"),
    # one table: nothing to choose from
    ("What are the names of the songs?", "SELECT Name FROM Genre"),
])
def test_projection_repair_leaves_what_the_question_allows(question: str, sql: str, schema: SchemaInfo) -> None:
    tree = sqlglot.parse_one(sql, read=schema.dialect)
    same, fixes = repair_projection(tree, schema, question)
    assert fixes == [] and same.sql(dialect=schema.dialect) == tree.sql(dialect=schema.dialect)


def test_projection_repair_knows_a_table_by_the_keys_that_point_at_it(tmp_path: Path) -> None:
    """A question says "support rep" for the Employee that ``Customer.SupportRepId`` points at."""
    path = tmp_path / "crm.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE Employee (EmployeeId INTEGER PRIMARY KEY, FirstName TEXT, LastName TEXT);
        CREATE TABLE Customer (CustomerId INTEGER PRIMARY KEY, FirstName TEXT, LastName TEXT, Email TEXT,
                               SupportRepId INTEGER REFERENCES Employee (EmployeeId));
        INSERT INTO Employee VALUES (3, 'Jane', 'Peacock');
        INSERT INTO Customer VALUES (1, 'Luis', 'Goncalves', 'luisg@embraer.com.br', 3);
    """)
    conn.close()
    backend = SqliteBackend("crm", path)
    try:
        schema = backend.introspect()
        employee = schema.table("Employee")
        assert employee is not None and {"employee", "support", "rep"} <= table_words(schema, employee)
        sql = ("SELECT T2.FirstName, T2.LastName FROM Customer AS T1 JOIN Employee AS T2 "
               "ON T1.SupportRepId = T2.EmployeeId WHERE T1.Email = 'luisg@embraer.com.br'")
        fixed, fixes = repair_projection(sqlglot.parse_one(sql), schema,
                                         'Find the full name of the customer with the email "luisg@embraer.com.br".')
        assert len(fixes) == 2 and _rows(backend, fixed.sql()) == [("Luis", "Goncalves")]
        kept, none = repair_projection(sqlglot.parse_one(sql), schema,
                                       "Who is the support rep of the customer luisg@embraer.com.br?")
        assert none == [] and _rows(backend, kept.sql()) == [("Jane", "Peacock")]
    finally:
        backend.close()


@pytest.mark.parametrize("question,sql,fixed,rows", [
    ('Find the names of all artists that have "e" in their names.',
     "SELECT Name FROM Artist WHERE Name LIKE 'e%'", "SELECT Name FROM Artist WHERE Name LIKE '%e%'", [("Accept",)]),
    ("Which album titles do not contain Those?",
     "SELECT Title FROM Album WHERE NOT Title LIKE 'Those%' ORDER BY Title",
     "SELECT Title FROM Album WHERE NOT Title LIKE '%Those%' ORDER BY Title", [("Balls to the Wall",)]),
])
def test_pattern_repair(question: str, sql: str, fixed: str, rows: list[tuple[object, ...]],
                        schema: SchemaInfo, backend: Backend) -> None:
    repaired, fixes = repair_patterns(sqlglot.parse_one(sql, read=schema.dialect), question)
    out = repaired.sql(dialect=schema.dialect)
    assert out == fixed and len(fixes) == 1
    assert _rows(backend, out) == rows != _rows(backend, sql)


@pytest.mark.parametrize("question,sql", [
    ("Which artists have names that start with A?", "SELECT Name FROM Artist WHERE Name LIKE 'A%'"),
    ("Which tracks end in Down?", "SELECT Name FROM Track WHERE Name LIKE '%Down'"),
    ("Which artists have a name whose first letter is A?", "SELECT Name FROM Artist WHERE Name LIKE 'A%'"),
    ("Which albums came out in the 1990s?", "SELECT Title FROM Album WHERE Title LIKE '199%'"),  # not letters
    ("Which artists have 'ac' in their names?", "SELECT Name FROM Artist WHERE Name LIKE '%ac%'"),
    ("Which artist is called Accept?", "SELECT Name FROM Artist WHERE Name LIKE 'Accept'"),
])
def test_pattern_repair_keeps_what_the_question_anchors(question: str, sql: str) -> None:
    tree = sqlglot.parse_one(sql)
    same, fixes = repair_patterns(tree, question)
    assert fixes == [] and same.sql() == tree.sql()


MISALIGNED = [  # keys that differ between tables, so that a wrong join condition shows in the rows
    "INSERT INTO Artist VALUES (3, 'Aerosmith')",
    "INSERT INTO Album VALUES (3, 'Let There Be Rock', 1)",
    "INSERT INTO Track VALUES (3, 'Bad Boy Boogie', 1, 2, 1.49)",
]


@pytest.fixture(params=["sqlite", "duckdb"])
def misaligned(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b = open_music(request.param, tmp_path, MISALIGNED)
    yield b
    b.close()


@pytest.mark.parametrize("sql,fixed,rows", [
    # a correlated subquery compares the album's own key with the artist's (measured: v4 of the
    # 2026-11-24 06:50 curve, "artists that do not have any albums")
    ("SELECT T1.Name FROM Artist AS T1 WHERE NOT EXISTS (SELECT 1 FROM Album AS T2 WHERE T2.AlbumId = T1.ArtistId)",
     "SELECT T1.Name FROM Artist AS T1 WHERE NOT EXISTS(SELECT 1 FROM Album AS T2 WHERE T2.ArtistId = T1.ArtistId)",
     [("Aerosmith",)]),
    ("SELECT T1.Title FROM Album AS T1 JOIN Track AS T2 ON T1.AlbumId = T2.TrackId WHERE T2.Name = 'Bad Boy Boogie'",
     "SELECT T1.Title FROM Album AS T1 JOIN Track AS T2 ON T1.AlbumId = T2.AlbumId WHERE T2.Name = 'Bad Boy Boogie'",
     [("For Those About To Rock",)]),
    ("SELECT g.Name FROM Track AS t JOIN Genre AS g ON g.GenreId = t.TrackId AND t.UnitPrice > 1",
     "SELECT g.Name FROM Track AS t JOIN Genre AS g ON g.GenreId = t.GenreId AND t.UnitPrice > 1",
     [("Jazz",), ("Jazz",)]),
])
def test_join_repair(sql: str, fixed: str, rows: list[tuple[object, ...]], misaligned: Backend) -> None:
    schema = misaligned.introspect()
    repaired, fixes = repair_joins(sqlglot.parse_one(sql, read=schema.dialect), schema)
    out = repaired.sql(dialect=schema.dialect)
    assert out == fixed and len(fixes) == 1 and "foreign key" in fixes[0]
    assert _rows(misaligned, out) == rows != _rows(misaligned, sql)


@pytest.mark.parametrize("sql", [
    "SELECT T1.Title FROM Album AS T1 JOIN Artist AS T2 ON T1.ArtistId = T2.ArtistId",  # the key
    "SELECT T1.Title FROM Album AS T1 JOIN Artist AS T2 ON T2.ArtistId = T1.ArtistId",  # the key, turned round
    "SELECT a.Name FROM Artist AS a JOIN Genre AS g ON a.Name = g.Name",  # no key between them
    "SELECT e.FirstName FROM Employee AS e JOIN Employee AS m ON e.ReportsTo = m.EmployeeId",  # a table and itself
    "SELECT t.Name FROM Track AS t JOIN Album AS a ON t.AlbumId = a.AlbumId WHERE t.Name = a.Title OR a.AlbumId = 1"
    " AND t.TrackId = 2",  # the WHERE of a join is not a join condition
    "SELECT Name FROM Artist WHERE ArtistId IN (SELECT AlbumId FROM Album)",  # not correlated
])
def test_join_repair_leaves_keys_and_what_no_single_key_explains(sql: str, schema: SchemaInfo) -> None:
    tree = sqlglot.parse_one(sql)
    same, fixes = repair_joins(tree, schema)
    assert fixes == [] and same.sql() == tree.sql()


@pytest.mark.parametrize("sql,fixed", [
    # measured: v4 of the 2026-11-24 05:32 curve, "What are the names of different music genres?"
    # (Genre with Playlist there, Artist with Genre here: no foreign key between them, each
    # compared by its own key)
    ("SELECT T1.Name FROM Artist AS T1 JOIN Genre AS T2 ON T1.ArtistId = T2.GenreId",
     "SELECT T1.Name FROM Artist AS T1"),
    # the stray table comes first
    ("SELECT T2.Name FROM Genre AS T1 JOIN Artist AS T2 ON T1.GenreId = T2.ArtistId ORDER BY T2.Name",
     "SELECT T2.Name FROM Artist AS T2 ORDER BY T2.Name"),
    # one join of several; unqualified columns that only the kept tables have
    ("SELECT Title, T3.Name FROM Album AS T1 JOIN Artist AS T3 ON T1.ArtistId = T3.ArtistId "
     "JOIN Employee AS T4 ON T3.ArtistId = T4.EmployeeId WHERE Title LIKE 'B%'",
     "SELECT Title, T3.Name FROM Album AS T1 JOIN Artist AS T3 ON T1.ArtistId = T3.ArtistId WHERE Title LIKE 'B%'"),
    # an unqualified column that only the kept table has
    ("SELECT Name FROM Artist AS T1 JOIN Employee AS T2 ON T1.ArtistId = T2.EmployeeId",
     "SELECT Name FROM Artist AS T1"),
])
def test_stray_join_dropped(sql: str, fixed: str, misaligned: Backend) -> None:
    backend = misaligned  # an artist with no genre of its number
    schema = backend.introspect()
    repaired, fixes = repair_stray_joins(sqlglot.parse_one(sql, read=schema.dialect), schema)
    out = repaired.sql(dialect=schema.dialect)
    assert out == fixed and len(fixes) == 1 and "dropped" in fixes[0]
    assert sorted(_rows(backend, out)) == sorted(_rows(backend, fixed))
    assert len(_rows(backend, out)) > len(_rows(backend, sql))  # the accidental key match lost rows


def test_stray_join_dropped_with_the_grouping_by_its_key(misaligned: Backend) -> None:
    """Measured on the 11-24/11-25 curves: "What are the names of different music genres?" as
    ``Genre AS T1 JOIN Playlist AS T2 ON T1.GenreId = T2.PlaylistId GROUP BY T2.PlaylistId``."""
    schema = misaligned.introspect()
    sql = "SELECT T1.Name FROM Artist AS T1 JOIN Genre AS T2 ON T1.ArtistId = T2.GenreId GROUP BY T2.GenreId"
    repaired, fixes = repair_stray_joins(sqlglot.parse_one(sql, read=schema.dialect), schema)
    out = repaired.sql(dialect=schema.dialect)
    assert out == "SELECT T1.Name FROM Artist AS T1" and len(fixes) == 2 and "GROUP BY T2.GenreId" in fixes[0]
    assert len(_rows(misaligned, out)) == 3
    if schema.dialect == "sqlite":  # DuckDB refuses the grouping (Name is neither grouped nor aggregated)
        assert len(_rows(misaligned, sql)) < 3


@pytest.mark.parametrize("sql", [
    "SELECT T1.Title FROM Album AS T1 JOIN Artist AS T2 ON T1.ArtistId = T2.ArtistId",  # a foreign key
    "SELECT T1.Name, T2.Name FROM Genre AS T1 JOIN Artist AS T2 ON T1.GenreId = T2.ArtistId",  # both read
    "SELECT T1.Name FROM Genre AS T1 JOIN Artist AS T2 ON T1.GenreId = T2.ArtistId WHERE T2.Name <> ''",  # filtered
    "SELECT * FROM Genre AS T1 JOIN Artist AS T2 ON T1.GenreId = T2.ArtistId",  # * reads both
    "SELECT T1.Name FROM Genre AS T1 LEFT JOIN Artist AS T2 ON T1.GenreId = T2.ArtistId",  # outer join
    "SELECT T1.Name FROM Genre AS T1 JOIN Track AS T2 ON T1.GenreId = T2.TrackId",  # a key between them (repair_joins)
    "SELECT T1.Name FROM Genre AS T1 JOIN Artist AS T2 ON T1.Name = T2.Name",  # not keys
    "SELECT T1.Name FROM Genre AS T1 JOIN Artist AS T2 ON T1.GenreId = T2.ArtistId AND T2.Name = 'x'",  # more
    # grouped by its key with a count: the groups mean something
    "SELECT T1.Name, COUNT(*) FROM Genre AS T1 JOIN Artist AS T2 ON T1.GenreId = T2.ArtistId GROUP BY T2.ArtistId",
    # grouped by another column of it
    "SELECT T1.Name FROM Genre AS T1 JOIN Artist AS T2 ON T1.GenreId = T2.ArtistId GROUP BY T2.Name",
])
def test_stray_join_kept(sql: str, schema: SchemaInfo) -> None:
    tree = sqlglot.parse_one(sql)
    same, fixes = repair_stray_joins(tree, schema)
    assert fixes == [] and same.sql() == tree.sql()


@pytest.mark.parametrize("sql,fixed", [
    # measured on the 2026-11-25 02:37 curve: "Count the number of tracks that are part of the
    # rock genre" with Track joined a second time through Genre, each track counted per track of its genre
    ("SELECT COUNT(*) FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId "
     "JOIN Track AS T3 ON T2.GenreId = T3.GenreId WHERE T2.Name = 'Jazz'",
     "SELECT COUNT(*) FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId WHERE T2.Name = 'Jazz'"),
    # the condition turned round, the twin first
    ("SELECT T2.Name, T1.Name FROM Track AS T1 JOIN Genre AS T2 ON T2.GenreId = T1.GenreId "
     "JOIN Track AS T3 ON T3.GenreId = T2.GenreId",
     "SELECT T2.Name, T1.Name FROM Track AS T1 JOIN Genre AS T2 ON T2.GenreId = T1.GenreId"),
])
def test_repeated_join_dropped(sql: str, fixed: str, misaligned: Backend) -> None:
    schema = misaligned.introspect()
    repaired, fixes = repair_stray_joins(sqlglot.parse_one(sql, read=schema.dialect), schema)
    out = repaired.sql(dialect=schema.dialect)
    assert out == fixed and len(fixes) == 1 and "joined twice" in fixes[0]
    assert len(_rows(misaligned, "SELECT TrackId FROM Track WHERE GenreId = 2")) == 2  # so the twin doubles Jazz
    assert sorted(_rows(misaligned, out)) != sorted(_rows(misaligned, sql))


@pytest.mark.parametrize("sql", [
    # the twin is read: the pairs of tracks of one genre are the answer
    "SELECT T1.Name, T3.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId "
    "JOIN Track AS T3 ON T2.GenreId = T3.GenreId",
    # the twin is filtered on: tracks of a genre that has a track over a dollar
    "SELECT COUNT(*) FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId "
    "JOIN Track AS T3 ON T2.GenreId = T3.GenreId WHERE T3.UnitPrice > 1",
    # the twin joined along another column than the first copy
    "SELECT COUNT(*) FROM Track AS T1 JOIN Album AS T2 ON T1.AlbumId = T2.AlbumId "
    "JOIN Track AS T3 ON T2.AlbumId = T3.TrackId",
    # an outer join
    "SELECT COUNT(*) FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId "
    "LEFT JOIN Track AS T3 ON T2.GenreId = T3.GenreId",
    # a table and itself along another column
    "SELECT e.FirstName FROM Employee AS e JOIN Employee AS m ON e.ReportsTo = m.EmployeeId",
])
def test_repeated_join_kept(sql: str, schema: SchemaInfo) -> None:
    tree = sqlglot.parse_one(sql)
    same, fixes = repair_stray_joins(tree, schema)
    assert fixes == [] and same.sql() == tree.sql()


@pytest.mark.parametrize("question,sql,fixed,rows", [
    # measured on the 2026-11-25 02:37 curve: "the least common media type in all tracks"
    ("What is the least common genre across all tracks?",
     "SELECT T2.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId",
     "SELECT T2.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId GROUP BY T2.GenreId, "
     "T2.Name ORDER BY COUNT(*) ASC LIMIT 1", [("Rock",)]),
    ("Which genre is the less common among tracks?",  # the word itself asks
     "SELECT T2.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId",
     "SELECT T2.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId GROUP BY T2.GenreId, "
     "T2.Name ORDER BY COUNT(*) ASC LIMIT 1", [("Rock",)]),
    ("Which artist has the most albums?",
     "SELECT a.Name FROM Artist AS a JOIN Album AS b ON b.ArtistId = a.ArtistId",
     "SELECT a.Name FROM Artist AS a JOIN Album AS b ON b.ArtistId = a.ArtistId GROUP BY a.ArtistId, "
     "a.Name ORDER BY COUNT(*) DESC LIMIT 1", [("AC/DC",)]),
])
def test_superlative_repair(question: str, sql: str, fixed: str, rows: list[tuple[object, ...]],
                            misaligned: Backend) -> None:
    schema = misaligned.introspect()
    repaired, fixes = repair_superlative(sqlglot.parse_one(sql, read=schema.dialect), schema, question, schema.dialect)
    out = repaired.sql(dialect=schema.dialect)
    assert out == fixed and len(fixes) == 1 and "the question asks for it" in fixes[0]
    assert _rows(misaligned, out) == rows != _rows(misaligned, sql)


@pytest.mark.parametrize("question,sql", [
    ("What are the 2 most common genres of tracks?",  # a number of rows
     "SELECT T2.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId"),
    ("What is the most common genre of each album?",  # one per group
     "SELECT T2.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId"),
    ("Which are the most and least common genres?",  # both directions
     "SELECT T2.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId"),
    ("What is the most expensive track's genre?",  # not a count
     "SELECT T2.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId"),
    ("What is the most common genre?",  # the referring table's column is selected
     "SELECT T1.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId"),
    ("What is the most common genre?",  # already counted
     "SELECT T2.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId GROUP BY T2.GenreId "
     "ORDER BY COUNT(*) DESC LIMIT 1"),
    ("What is the most common genre?",  # no key between the tables
     "SELECT T2.Name FROM Artist AS T1 JOIN Genre AS T2 ON T1.ArtistId = T2.GenreId"),
    ("What is the most common genre?", "SELECT Name FROM Genre"),  # no join
    ("Which genres do the tracks with the most common price have?",  # a filter decides
     "SELECT T2.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId "
     "WHERE T1.UnitPrice = (SELECT MAX(UnitPrice) FROM Track)"),
])
def test_superlative_repair_leaves_what_the_question_does_not_decide(question: str, sql: str,
                                                                     schema: SchemaInfo) -> None:
    tree = sqlglot.parse_one(sql)
    same, fixes = repair_superlative(tree, schema, question)
    assert fixes == [] and same.sql() == tree.sql()



@pytest.mark.parametrize("question,sql,fixed", [
    # measured on v3 of the 2026-11-25 06:45 curve
    ("Find the names of artists that do not have any albums.",
     "SELECT T1.Name FROM Artist AS T1 JOIN Album AS T2 ON T1.ArtistId = T2.ArtistId",
     "SELECT T1.Name FROM Artist AS T1 WHERE NOT EXISTS(SELECT 1 FROM Album AS T2 WHERE T1.ArtistId = T2.ArtistId)"),
    ("What are the names of artists who have not released any albums?",  # a value the question never names
     "SELECT T1.Name FROM Artist AS T1 JOIN Album AS T2 ON T1.ArtistId = T2.ArtistId WHERE T2.AlbumId = '1'",
     "SELECT T1.Name FROM Artist AS T1 WHERE NOT EXISTS(SELECT 1 FROM Album AS T2 WHERE T1.ArtistId = T2.ArtistId)"),
    ("Which artists without albums are named Aerosmith?",  # the referenced table's filter stays outside
     "SELECT a.Name FROM Album AS b JOIN Artist AS a ON b.ArtistId = a.ArtistId WHERE a.Name = 'Aerosmith'",
     "SELECT a.Name FROM Artist AS a WHERE a.Name = 'Aerosmith' AND NOT EXISTS(SELECT 1 FROM Album AS b "
     "WHERE b.ArtistId = a.ArtistId)"),
])
def test_absent_repair(question: str, sql: str, fixed: str, misaligned: Backend) -> None:
    schema = misaligned.introspect()
    repaired, fixes = repair_absent(sqlglot.parse_one(sql, read=schema.dialect), schema, question)
    out = repaired.sql(dialect=schema.dialect)
    assert out == fixed and len(fixes) == 1 and "those without" in fixes[0]
    assert _rows(misaligned, out) == [("Aerosmith",)] != _rows(misaligned, sql)


def test_absent_repair_drops_a_negation_never_true_over_the_join(misaligned: Backend) -> None:
    """Measured on the 11-24/11-25 curves: ``Artist JOIN Album ... WHERE NOT T2.ArtistId IN
    (SELECT ArtistId FROM Album)`` (an album's artist is always among the albums' artists)."""
    schema = misaligned.introspect()
    sql = ("SELECT T1.Name FROM Artist AS T1 JOIN Album AS T2 ON T1.ArtistId = T2.ArtistId "
           "WHERE NOT T2.ArtistId IN (SELECT ArtistId FROM Album)")
    out, fixes = repair_absent(sqlglot.parse_one(sql), schema, "Which artists do not have any albums?")
    assert out.sql() == ("SELECT T1.Name FROM Artist AS T1 WHERE NOT EXISTS(SELECT 1 FROM Album AS T2 "
                         "WHERE T1.ArtistId = T2.ArtistId)") and len(fixes) == 1 and "never true" in fixes[0]
    assert _rows(misaligned, out.sql()) == [("Aerosmith",)] and _rows(misaligned, sql) == []


def test_absent_repair_keeps_a_value_the_question_names(misaligned: Backend) -> None:
    schema = misaligned.introspect()
    sql = "SELECT T1.Name FROM Artist AS T1 JOIN Album AS T2 ON T1.ArtistId = T2.ArtistId WHERE T2.Title LIKE '%Rock%'"
    repaired, fixes = repair_absent(sqlglot.parse_one(sql, read=schema.dialect), schema,
                                    "Which artists have no albums with Rock in the title?")
    assert repaired.sql(dialect=schema.dialect) == (
        "SELECT T1.Name FROM Artist AS T1 WHERE NOT EXISTS(SELECT 1 FROM Album AS T2 "
        "WHERE T1.ArtistId = T2.ArtistId AND T2.Title LIKE '%Rock%')") and len(fixes) == 1


@pytest.mark.parametrize("question,sql", [
    ("Which artists have albums?",  # no negation
     "SELECT T1.Name FROM Artist AS T1 JOIN Album AS T2 ON T1.ArtistId = T2.ArtistId"),
    ("Which albums are not by AC/DC?",  # the negation is of a value, not of the referring rows
     "SELECT T2.Title FROM Artist AS T1 JOIN Album AS T2 ON T1.ArtistId = T2.ArtistId"),
    ("Which album titles have no artists?",  # the referring table's column is selected
     "SELECT T2.Title FROM Artist AS T1 JOIN Album AS T2 ON T1.ArtistId = T2.ArtistId"),
    ("Which artists do not have any albums?",  # the query negates already
     "SELECT T1.Name FROM Artist AS T1 LEFT JOIN Album AS T2 ON T1.ArtistId = T2.ArtistId WHERE T2.AlbumId IS NULL"),
    ("Which artists do not have any albums?",
     "SELECT T1.Name FROM Artist AS T1 JOIN Album AS T2 ON T1.ArtistId = T2.ArtistId WHERE T2.Title <> 'x'"),
    ("Which artists do not have any albums?",  # grouped
     "SELECT T1.Name FROM Artist AS T1 JOIN Album AS T2 ON T1.ArtistId = T2.ArtistId GROUP BY T1.ArtistId "
     "HAVING COUNT(*) = 0"),
    ("Which artists do not have any albums?",  # no key between the tables
     "SELECT T1.Name FROM Artist AS T1 JOIN Album AS T2 ON T1.ArtistId = T2.AlbumId"),
    ("Which artists do not have any albums?", "SELECT Name FROM Artist"),  # no join
])
def test_absent_repair_leaves_what_the_question_does_not_ask(question: str, sql: str, schema: SchemaInfo) -> None:
    tree = sqlglot.parse_one(sql)
    same, fixes = repair_absent(tree, schema, question)
    assert fixes == [] and same.sql() == tree.sql()

def _named(backend: Backend, schema: SchemaInfo, question: str) -> dict[tuple[str, str], list[str]]:
    from nl2sql.schema_index import values_named
    return values_named(_read_values(backend, schema), question)


@pytest.mark.parametrize("question,sql,fixed", [
    # measured on every model of the 2026-11-24 curves: "the longest and shortest pop tracks"
    ("What are the cheapest and dearest jazz tracks?", "SELECT MIN(UnitPrice), MAX(UnitPrice) FROM Track",
     "SELECT MIN(UnitPrice), MAX(UnitPrice) FROM Track WHERE Track.GenreId IN (SELECT GenreId FROM Genre "
     "WHERE Name = 'Jazz')"),
    ("How many rock tracks cost more than a dollar?", "SELECT COUNT(*) FROM Track AS t WHERE t.UnitPrice > 1",
     "SELECT COUNT(*) FROM Track AS t WHERE t.UnitPrice > 1 AND t.GenreId IN (SELECT GenreId FROM Genre "
     "WHERE Name = 'Rock')"),
])
def test_missing_value_added(question: str, sql: str, fixed: str, backend: Backend) -> None:
    schema = backend.introspect()
    repaired, fixes = repair_missing_value(sqlglot.parse_one(sql, read=schema.dialect), schema,
                                           _named(backend, schema, question), question)
    out = repaired.sql(dialect=schema.dialect)
    assert out == fixed and len(fixes) == 1 and "names Genre.Name" in fixes[0]
    assert _rows(backend, out) != _rows(backend, sql)


@pytest.mark.parametrize("question,sql", [
    ("What are the jazz tracks?", "SELECT T.Name FROM Track AS T JOIN Genre AS G ON T.GenreId = G.GenreId"),  # joined
    ("The jazz tracks", "SELECT Name FROM Track WHERE GenreId IN (SELECT GenreId FROM Genre WHERE Name = 'jazz')"),
    ("Jazz tracks on Balls to the Wall", "SELECT Name FROM Track"),  # two tables' values qualify: which?
    ("How many jazz albums?", "SELECT COUNT(*) FROM Album"),  # Album has no key to Genre
    ("The rock and jazz tracks", "SELECT Name FROM Track"),  # two values of one column
    ("Tracks named Go Down", "SELECT Name FROM Track"),  # the value is the query's own table's
])
def test_missing_value_kept(question: str, sql: str, backend: Backend) -> None:
    schema = backend.introspect()
    tree = sqlglot.parse_one(sql)
    same, fixes = repair_missing_value(tree, schema, _named(backend, schema, question), question)
    assert fixes == [] and same.sql() == tree.sql()


def test_missing_value_of_two_tables_is_the_short_lists(tmp_path: Path) -> None:
    """A value two tables hold is the category's when one is a short list and the other longer
    ('Pop': a genre among 25 and an album title among 347 in Chinook)."""
    more = ["INSERT INTO Album VALUES (3, 'Jazz', 1)"] + [f"INSERT INTO Album VALUES ({i}, 'Album {i}', 1)"
                                                         for i in range(4, 12)]
    b = open_music("sqlite", tmp_path, more)
    try:
        schema = b.introspect()
        named = _named(b, schema, "the cheapest jazz track")
        assert set(named) == {("Album", "Title"), ("Genre", "Name")}
        out, fixes = repair_missing_value(sqlglot.parse_one("SELECT MIN(UnitPrice) FROM Track"), schema, named)
        assert "Genre.Name 'Jazz'" in fixes[0] and _rows(b, out.sql()) == [(1.99,)]
    finally:
        b.close()


def test_missing_value_of_two_tables_is_the_one_the_question_calls_by_name(tmp_path: Path) -> None:
    """A value two tables hold, neither a short list, is the one of the table the question
    names: "albums by the artist Metallica" is Artist's 'Metallica' (Chinook: also the composer
    of 8 tracks, and 275 artists); measured in every model of the 2026-11-24 23:08 curve as
    ``SELECT COUNT(*) FROM Album``."""
    more = [f"INSERT INTO Artist VALUES ({i}, 'Artist {i}')" for i in range(3, 120)]
    more += ["INSERT INTO Track VALUES (3, 'Accept', 1, 1, 0.99)"]  # a track named 'Accept'
    b = open_music("sqlite", tmp_path, more)
    try:
        schema = b.introspect()
        sql = "SELECT COUNT(*) FROM Album"
        for question, fixed in (("How many albums does the artist Accept have?", [(1,)]),
                                ("How many albums by Accept?", None)):  # which table's 'Accept'?
            named = _named(b, schema, question)
            assert set(named) == {("Artist", "Name"), ("Track", "Name")}
            out, fixes = repair_missing_value(sqlglot.parse_one(sql), schema, named, question)
            if fixed is None:
                assert fixes == []
            else:
                assert "Artist.Name 'Accept'" in fixes[0] and _rows(b, out.sql()) == fixed != _rows(b, sql)
    finally:
        b.close()



@pytest.mark.parametrize("sql,fixed", [
    ("SELECT Title FROM Album",
     "SELECT Title FROM Album WHERE Album.AlbumId IN (SELECT AlbumId FROM Track WHERE Name = 'Bad Boy Boogie')"),
    # the key the model invented goes (measured on every curve of 11-24/11-25: "the employees who
    # help the customer Leonie" as ``WHERE EmployeeId = 1``)
    ("SELECT Title FROM Album WHERE AlbumId = 3",
     "SELECT Title FROM Album WHERE Album.AlbumId IN (SELECT AlbumId FROM Track WHERE Name = 'Bad Boy Boogie')"),
])
def test_missing_value_of_a_referring_table(sql: str, fixed: str, misaligned: Backend) -> None:
    """The value the question names is held by a table that refers to the query's."""
    schema = misaligned.introspect()
    question = "Which album has the track Bad Boy Boogie?"
    out, fixes = repair_missing_value(sqlglot.parse_one(sql), schema, _named(misaligned, schema, question), question)
    assert out.sql() == fixed and len(fixes) == 1 and "Track.Name 'Bad Boy Boogie'" in fixes[0]
    assert ("AlbumId = 3" in fixes[0]) == ("AlbumId = 3" in sql)
    assert _rows(misaligned, out.sql()) == [("For Those About To Rock",)] != _rows(misaligned, sql)


def test_missing_value_keeps_a_key_the_question_names(misaligned: Backend) -> None:
    schema = misaligned.introspect()
    question = "Is album 3 the one with the track Bad Boy Boogie?"
    out, fixes = repair_missing_value(sqlglot.parse_one("SELECT Title FROM Album WHERE AlbumId = 3"), schema,
                                      _named(misaligned, schema, question), question)
    assert out.sql() == ("SELECT Title FROM Album WHERE AlbumId = 3 AND Album.AlbumId IN "
                         "(SELECT AlbumId FROM Track WHERE Name = 'Bad Boy Boogie')") and len(fixes) == 1


def test_value_repair_reads_a_subquery_column_in_its_own_scope(misaligned: Backend) -> None:
    """``Name`` inside ``(SELECT GenreId FROM Track WHERE Name = ...)`` is Track's, not the
    enclosing query's Genre.Name (which would move it to Track through the key again, nesting
    the subquery once more at every pass)."""
    schema = misaligned.introspect()
    sql = "SELECT Name FROM Genre WHERE GenreId IN (SELECT GenreId FROM Track WHERE Name = 'Bad Boy Boogie')"
    same, fixes = repair_values(sqlglot.parse_one(sql), schema, _read_values(misaligned, schema),
                                question="Which genre is Bad Boy Boogie?",
                                exists=lambda t, c, v: bool(_rows(misaligned, f"SELECT 1 FROM {t} WHERE {c} = '{v}'")))
    assert fixes == [] and same.sql() == sql


CALLED = [  # 'Accept' is an artist and two tracks of album 1; album 2 (Accept's) has two tracks
    "INSERT INTO Track VALUES (3, 'Accept', 1, 1, 0.99)",
    "INSERT INTO Track VALUES (5, 'Accept', 1, 2, 0.99)",
    "INSERT INTO Track VALUES (4, 'Fast as a Shark', 2, 1, 0.99)",
]


@pytest.fixture(params=["sqlite", "duckdb"])
def called(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b = open_music(request.param, tmp_path, CALLED)
    yield b
    b.close()


def _repair_values(b: Backend, schema: SchemaInfo, sql: str, question: str) -> tuple[str, list[str]]:
    out, fixes = repair_values(sqlglot.parse_one(sql), schema, _read_values(b, schema), question=question,
                               exists=lambda t, c, v: bool(_rows(b, f"SELECT 1 FROM {t} WHERE {c} = '{v}'")))
    return out.sql(), fixes


def test_value_goes_to_the_table_the_question_calls_it_by(called: Backend) -> None:
    """Measured on the 11-24/11-25 curves: "how many albums does the artist Metallica have?"
    compared on Track.Composer (Metallica composed tracks too)."""
    schema = called.introspect()
    question = "How many albums does the artist Accept have?"
    sql = "SELECT COUNT(*) FROM Album AS T1 JOIN Track AS T2 ON T1.AlbumId = T2.AlbumId WHERE T2.Name = 'Accept'"
    moved, fixes = _repair_values(called, schema, sql, question)
    assert moved == ("SELECT COUNT(*) FROM Album AS T1 JOIN Track AS T2 ON T1.AlbumId = T2.AlbumId "
                     "WHERE T1.ArtistId IN (SELECT ArtistId FROM Artist WHERE Name = 'Accept')")
    assert len(fixes) == 1 and "calls the value Artist's" in fixes[0]
    counted, more = repair_counted_rows(sqlglot.parse_one(moved), schema, question)
    assert counted.sql() == ("SELECT COUNT(*) FROM Album AS T1 "
                             "WHERE T1.ArtistId IN (SELECT ArtistId FROM Artist WHERE Name = 'Accept')")
    assert len(more) == 1 and "counts Album rows" in more[0]
    assert _rows(called, moved) == [(2,)] and _rows(called, counted.sql()) == [(1,)] != _rows(called, sql)


@pytest.mark.parametrize("question,sql", [
    ("How many albums have the track Accept?",  # the question calls the compared column's table
     "SELECT COUNT(*) FROM Album AS T1 JOIN Track AS T2 ON T1.AlbumId = T2.AlbumId WHERE T2.Name = 'Accept'"),
    ("How many albums does Accept have?",  # calls no holder
     "SELECT COUNT(*) FROM Album AS T1 JOIN Track AS T2 ON T1.AlbumId = T2.AlbumId WHERE T2.Name = 'Accept'"),
    ("How many albums does the artist Accept have?",  # already the artist's
     "SELECT COUNT(*) FROM Album AS T1 JOIN Artist AS T2 ON T1.ArtistId = T2.ArtistId WHERE T2.Name = 'Accept'"),
])
def test_value_stays_where_the_question_does_not_call_another_table(question: str, sql: str,
                                                                    called: Backend) -> None:
    schema = called.introspect()
    assert _repair_values(called, schema, sql, question) == (sql, [])


def test_counted_rows_not_the_keys_they_refer_to(misaligned: Backend) -> None:
    """Measured on the 11-24/11-25 curves: "Count the number of tracks that are part of the rock
    genre" as ``COUNT(DISTINCT T1.MediaTypeId)``."""
    schema = misaligned.introspect()
    sql = "SELECT COUNT(DISTINCT T1.GenreId) FROM Track AS T1 JOIN Album AS T2 ON T1.AlbumId = T2.AlbumId"
    out, fixes = repair_counted_rows(sqlglot.parse_one(sql), schema, "Count the number of tracks on albums.")
    assert out.sql() == "SELECT COUNT(*) FROM Track AS T1 JOIN Album AS T2 ON T1.AlbumId = T2.AlbumId"
    assert len(fixes) == 1 and "not the Genre they refer to" in fixes[0]
    assert _rows(misaligned, out.sql()) == [(3,)] != _rows(misaligned, sql)


@pytest.mark.parametrize("question,sql", [
    ("How many genres do the tracks have?",  # calls the referenced table
     "SELECT COUNT(DISTINCT GenreId) FROM Track"),
    ("How many tracks are there?", "SELECT COUNT(DISTINCT Name) FROM Track"),  # not a key
    ("How many albums are there?", "SELECT COUNT(DISTINCT GenreId) FROM Track"),  # counts other rows
])
def test_counted_references_left_alone(question: str, sql: str, schema: SchemaInfo) -> None:
    tree = sqlglot.parse_one(sql)
    same, fixes = repair_counted_rows(tree, schema, question)
    assert fixes == [] and same.sql() == tree.sql()


@pytest.mark.parametrize("question,sql", [
    ("How many tracks do the albums of Accept have?",  # counts the referring rows
     "SELECT COUNT(*) FROM Album AS T1 JOIN Track AS T2 ON T1.AlbumId = T2.AlbumId WHERE T1.ArtistId = 2"),
    ("How many albums have a track?",  # calls the referring table
     "SELECT COUNT(*) FROM Album AS T1 JOIN Track AS T2 ON T1.AlbumId = T2.AlbumId"),
    ("How many albums are there?",  # reads the referring table
     "SELECT COUNT(*) FROM Album AS T1 JOIN Track AS T2 ON T1.AlbumId = T2.AlbumId WHERE T2.UnitPrice > 1"),
    ("How many albums are there?",  # counts something else
     "SELECT COUNT(DISTINCT T1.Title) FROM Album AS T1 JOIN Track AS T2 ON T1.AlbumId = T2.AlbumId"),
    ("How many albums are there for each artist?",  # grouped
     "SELECT COUNT(*) FROM Album AS T1 JOIN Track AS T2 ON T1.AlbumId = T2.AlbumId GROUP BY T1.ArtistId"),
    ("How many albums are there?",  # the other way round: Album refers to Artist
     "SELECT COUNT(*) FROM Album AS T1 JOIN Artist AS T2 ON T1.ArtistId = T2.ArtistId"),
])
def test_counted_rows_left_alone(question: str, sql: str, schema: SchemaInfo) -> None:
    tree = sqlglot.parse_one(sql)
    same, fixes = repair_counted_rows(tree, schema, question)
    assert fixes == [] and same.sql() == tree.sql()


@pytest.mark.parametrize("sql", [
    # measured on the 11-24/11-25 curves: "What is the average unit price of all the tracks?"
    "SELECT AVG(UnitPrice) FROM Track GROUP BY UnitPrice ORDER BY AVG(UnitPrice)",
    "SELECT AVG(UnitPrice) FROM Track GROUP BY UnitPrice ORDER BY COUNT(*) ASC LIMIT 1",
])
def test_grouping_by_the_aggregated_column_dropped(sql: str, backend: Backend) -> None:
    question = "What is the average unit price of all the tracks?"
    out, fixes = repair_grouping(sqlglot.parse_one(sql), question)
    assert out.sql().startswith("SELECT AVG(UnitPrice) FROM Track") and "GROUP" not in out.sql()
    assert len(fixes) == 1 and "one figure" in fixes[0]
    assert _rows(backend, out.sql()) == [(1.49,)] != _rows(backend, sql)


@pytest.mark.parametrize("question,sql", [
    ("What is the average unit price of each genre's tracks?",  # asks per group
     "SELECT AVG(UnitPrice) FROM Track GROUP BY GenreId"),
    ("What is the average unit price of the tracks?",  # groups by what it does not aggregate
     "SELECT AVG(UnitPrice) FROM Track GROUP BY GenreId"),
    ("What is the average unit price of the tracks?",  # shows the group
     "SELECT UnitPrice, AVG(UnitPrice) FROM Track GROUP BY UnitPrice"),
    ("Which prices do at least two tracks have?",  # HAVING decides
     "SELECT COUNT(UnitPrice) FROM Track GROUP BY UnitPrice HAVING COUNT(*) >= 2"),
])
def test_grouping_left_alone(question: str, sql: str) -> None:
    tree = sqlglot.parse_one(sql)
    same, fixes = repair_grouping(tree, question)
    assert fixes == [] and same.sql() == tree.sql()


def test_having_with_a_number_the_question_never_names_dropped(backend: Backend) -> None:
    """Measured on the 11-24/11-25 curves: "What are the names and ids of the different
    albums, and how many tracks are on each?" answered with ``HAVING COUNT(*) >= 2``."""
    question = "What are the titles of the albums, and how many tracks are on each?"
    sql = ("SELECT T2.Title, COUNT(*) FROM Track AS T1 JOIN Album AS T2 ON T1.AlbumId = T2.AlbumId "
           "GROUP BY T2.AlbumId, T2.Title HAVING COUNT(*) >= 2")
    out, fixes = repair_having(sqlglot.parse_one(sql), question)
    assert out.sql() == sql.removesuffix(" HAVING COUNT(*) >= 2") and len(fixes) == 1
    assert sorted(_rows(backend, out.sql())) == [("Balls to the Wall", 1), ("For Those About To Rock", 1)]
    assert _rows(backend, sql) == []


@pytest.mark.parametrize("question,sql", [
    ("Which albums have 2 or more tracks?", "SELECT AlbumId FROM Track GROUP BY AlbumId HAVING COUNT(*) >= 2"),
    ("Which albums have two or more tracks?", "SELECT AlbumId FROM Track GROUP BY AlbumId HAVING COUNT(*) >= 2"),
    ("Which albums have at least 3 tracks?", "SELECT AlbumId FROM Track GROUP BY AlbumId HAVING COUNT(*) > 2"),
    ("Which albums have tracks?",  # not a comparison with a number
     "SELECT AlbumId FROM Track GROUP BY AlbumId HAVING COUNT(*) > MIN(TrackId)"),
    ("Which albums have 2 or more tracks?",  # one condition named: the clause stays whole
     "SELECT AlbumId FROM Track GROUP BY AlbumId HAVING COUNT(*) >= 2 AND SUM(UnitPrice) > 7"),
])
def test_having_left_alone(question: str, sql: str) -> None:
    tree = sqlglot.parse_one(sql)
    same, fixes = repair_having(tree, question)
    assert fixes == [] and same.sql() == tree.sql()

@pytest.mark.parametrize("question,sql,fixed", [
    # measured: v4 of the 2026-11-24 05:32 curve on the Spider Chinook questions
    ("Show the album names, ids and the number of tracks for each album.",
     "SELECT T2.Title, COUNT(*) FROM Track AS T1 JOIN Album AS T2 ON T1.AlbumId = T2.AlbumId GROUP BY T2.AlbumId",
     "SELECT T2.Title, T2.AlbumId, COUNT(*) FROM Track AS T1 JOIN Album AS T2 ON T1.AlbumId = T2.AlbumId "
     "GROUP BY T2.AlbumId"),
    ("Please show the employee first names and ids of employees who serve at least 10 customers.",
     "SELECT T1.FirstName, T1.ReportsTo FROM Employee AS T1",  # no key selected: ReportsTo is not one
     "SELECT T1.FirstName, T1.EmployeeId, T1.ReportsTo FROM Employee AS T1"),
    ("Names and ids of the artists", "SELECT Name FROM Artist", "SELECT Name, ArtistId FROM Artist"),
])
def test_selection_adds_asked_ids(question: str, sql: str, fixed: str, backend: Backend) -> None:
    schema = backend.introspect()
    repaired, fixes = repair_selection(sqlglot.parse_one(sql, read=schema.dialect), schema, question)
    out = repaired.sql(dialect=schema.dialect)
    assert out == fixed and fixes and "ids" in fixes[-1]
    if "GROUP BY" not in sql or schema.dialect == "sqlite":  # DuckDB wants Title grouped: the model's SQL too
        assert _rows(backend, out)


@pytest.mark.parametrize("question,sql", [
    ("How many ids are there?", "SELECT COUNT(*) FROM Artist"),  # an aggregate without groups
    ("Album ids and titles by title", "SELECT Title, COUNT(*) FROM Album GROUP BY Title"),  # grouped otherwise
    ("Which ids have albums?", "SELECT ArtistId FROM Album"),  # a key is there
    ("The first and last names", "SELECT FirstName, LastName FROM Employee"),  # both said
    ("The names of employees", "SELECT FirstName, LastName FROM Employee"),  # neither said
    # measured: "Find the full names of employees who help customers with the first name Leonie."
    ("The full names of employees with the first name Andrew", "SELECT FirstName, LastName FROM Employee"),
])
def test_selection_kept(question: str, sql: str, schema: SchemaInfo) -> None:
    tree = sqlglot.parse_one(sql)
    same, fixes = repair_selection(tree, schema, question)
    assert fixes == [] and same.sql() == tree.sql()


def test_selection_drops_the_unsaid_sibling(tmp_path: Path) -> None:
    b = open_music("sqlite", tmp_path, ["CREATE TABLE Person (PersonId INTEGER PRIMARY KEY, FirstName TEXT, "
                                        "LastName TEXT)", "INSERT INTO Person VALUES (1, 'Ada', 'Lovelace')"])
    try:
        schema = b.introspect()
        question = "What are the first names of people?"
        out, fixes = repair_selection(sqlglot.parse_one("SELECT FirstName, LastName FROM Person"), schema, question)
        assert out.sql() == "SELECT FirstName FROM Person" and "no last name" in fixes[0]
        assert _rows(b, out.sql()) == [("Ada",)]
    finally:
        b.close()


@pytest.mark.parametrize("question,sql,count", [
    ("How many albums did AC/DC release?",
     "SELECT T1.Title FROM Album AS T1 JOIN Artist AS T2 ON T1.ArtistId = T2.ArtistId WHERE T2.Name = 'AC/DC'", 1),
    ("What is the number of distinct genres of tracks?", "SELECT DISTINCT Name FROM Genre", 2),
    ("how many tracks cost more than a dollar", "SELECT Name AS track FROM Track WHERE UnitPrice > 1", 1),
])
def test_count_of_a_listing(question: str, sql: str, count: int, backend: Backend) -> None:
    schema = backend.introspect()
    counted, fixes = repair_count(sqlglot.parse_one(sql, read=schema.dialect), schema, question)
    out = counted.sql(dialect=schema.dialect)
    assert out.startswith("SELECT COUNT(*) FROM (") and "how many" in fixes[0]
    assert _rows(backend, out) == [(count,)] != _rows(backend, sql)


@pytest.mark.parametrize("question,sql", [
    ("How many tracks does each genre have?", "SELECT Name FROM Genre"),  # one count per group
    ("How many albums are there, and list their titles", "SELECT Title FROM Album"),  # rows asked too
    ("Name the artists with how many albums", "SELECT Name FROM Artist"),  # not asked first
    ("How many dollars is the dearest track?", "SELECT UnitPrice FROM Track ORDER BY UnitPrice DESC LIMIT 1"),
    ("How many artists are there?", "SELECT ArtistId FROM Artist"),  # a key listed: maybe the answer
    ("How many albums did AC/DC release?", "SELECT COUNT(*) FROM Album"),  # counts already
    ("How many genres are there?", "SELECT * FROM Genre"),
    ("How many genres are there?", "SELECT Name FROM Genre LIMIT 1"),
])
def test_count_kept(question: str, sql: str, schema: SchemaInfo) -> None:
    tree = sqlglot.parse_one(sql)
    same, fixes = repair_count(tree, schema, question)
    assert fixes == [] and same.sql() == tree.sql()


GENRE_ALBUMS = ("SELECT T1.Title FROM Album AS T1 JOIN Track AS T2 ON T1.AlbumId = T2.AlbumId "
                "JOIN Genre AS T3 ON T2.GenreId = T3.GenreId WHERE T3.Name = '{}'")


@pytest.mark.parametrize("kind", ["sqlite", "duckdb"])
@pytest.mark.parametrize("question,sql,gold", [
    # measured (learning curve, 2026-11-24 23:08): "albums containing both 'Reggae' and 'Rock'
    # genre tracks" as ``T3.Name = 'Reggae' AND T3.Name = 'Rock'``, never true
    ("What are the titles of albums containing both Rock and Jazz tracks?",
     GENRE_ALBUMS.format("Rock") + " AND T3.Name = 'Jazz'",
     GENRE_ALBUMS.format("Rock") + " INTERSECT " + GENRE_ALBUMS.format("Jazz")),
    ("List the titles of the albums of AC/DC and Accept",
     "SELECT T2.Title FROM Artist AS T1 JOIN Album AS T2 ON T1.ArtistId = T2.ArtistId "
     "WHERE T1.Name = 'AC/DC' AND T1.Name = 'Accept'",
     "SELECT T2.Title FROM Artist AS T1 JOIN Album AS T2 ON T1.ArtistId = T2.ArtistId "
     "WHERE T1.Name = 'AC/DC' OR T1.Name = 'Accept'"),
    ("Which tracks costing over 50 cents are on album 1 or album 2?",
     "SELECT Name FROM Track WHERE UnitPrice > 0.5 AND AlbumId = 1 AND 2 = AlbumId",
     "SELECT Name FROM Track WHERE UnitPrice > 0.5 AND AlbumId IN (1, 2)"),
])
def test_contradiction_repair(question: str, sql: str, gold: str, kind: str, tmp_path: Path) -> None:
    backend = open_music(kind, tmp_path, ["INSERT INTO Track VALUES (3, 'Jazz Rock', 1, 2, 0.99)"])
    try:
        schema = backend.introspect()
        out, fixes = repair_contradiction(sqlglot.parse_one(sql, read=schema.dialect), question)
        got = _rows(backend, out.sql(dialect=schema.dialect))
        assert fixes and "cannot equal 2 values" in fixes[0]
        assert _rows(backend, sql) == [] and got and sorted(got) == sorted(_rows(backend, gold))
    finally:
        backend.close()


@pytest.mark.parametrize("sql", [
    "SELECT Name FROM Artist WHERE Name = 'Accept' AND Name = 'Accept'",  # the same value
    "SELECT Name FROM Artist WHERE Name = 'Accept' OR Name = 'AC/DC'",  # not a conjunction
    "SELECT COUNT(*) FROM Artist WHERE Name = 'Accept' AND Name = 'AC/DC'",  # an aggregate: left alone
    "SELECT Name FROM Artist WHERE Name = 'Accept' AND Name = 'AC/DC' ORDER BY Name",
    "SELECT Name FROM Track WHERE AlbumId = 1 AND AlbumId = 4 AND TrackId = 1 AND TrackId = 2",  # two columns
])
def test_contradiction_kept(sql: str) -> None:
    tree = sqlglot.parse_one(sql)
    same, fixes = repair_contradiction(tree, "which of both")
    assert fixes == [] and same.sql() == tree.sql()


@pytest.mark.parametrize("question,sql,fixed,rows", [
    ("What is the least common genre of tracks?",  # measured: "the least common media type", DESC
     "SELECT T2.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId GROUP BY T2.Name "
     "ORDER BY COUNT(*) DESC LIMIT 1",
     "SELECT T2.Name FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId GROUP BY T2.Name "
     "ORDER BY COUNT(*) ASC LIMIT 1", [("Rock",)]),
    ("Which artist has the most tracks?",
     "SELECT T1.Name FROM Artist AS T1 JOIN Album AS T2 ON T1.ArtistId = T2.ArtistId JOIN Track AS T3 "
     "ON T2.AlbumId = T3.AlbumId GROUP BY T1.Name ORDER BY COUNT(*) LIMIT 1",
     "SELECT T1.Name FROM Artist AS T1 JOIN Album AS T2 ON T1.ArtistId = T2.ArtistId JOIN Track AS T3 "
     "ON T2.AlbumId = T3.AlbumId GROUP BY T1.Name ORDER BY COUNT(*) DESC LIMIT 1", [("AC/DC",)]),
])
def test_order_repair(question: str, sql: str, fixed: str, rows: list[tuple[object, ...]], misaligned: Backend) -> None:
    schema = misaligned.introspect()
    repaired, fixes = repair_order(sqlglot.parse_one(sql, read=schema.dialect), question, schema.dialect)
    out = repaired.sql(dialect=schema.dialect)
    assert out == fixed and len(fixes) == 1 and "the question asks for the" in fixes[0]
    assert _rows(misaligned, out) == rows != _rows(misaligned, sql)


@pytest.mark.parametrize("question,sql", [
    ("Which genre has the fewest tracks?", "SELECT GenreId FROM Track GROUP BY GenreId ORDER BY COUNT(*) ASC LIMIT 1"),
    ("Which genres have at least 2 tracks, most first?",  # "at least" bounds, "most" asks
     "SELECT GenreId FROM Track GROUP BY GenreId HAVING COUNT(*) >= 2 ORDER BY COUNT(*) DESC LIMIT 3"),
    ("Which genre has the most and which the fewest tracks?",  # both directions: left alone
     "SELECT GenreId FROM Track GROUP BY GenreId ORDER BY COUNT(*) DESC LIMIT 1"),
    ("Which genre has at least one track?",  # no superlative at all
     "SELECT GenreId FROM Track GROUP BY GenreId ORDER BY COUNT(*) DESC LIMIT 1"),
    ("What is the cheapest track?", "SELECT Name FROM Track ORDER BY UnitPrice DESC LIMIT 1"),  # not an aggregate
    ("Which genres have the fewest tracks?", "SELECT GenreId FROM Track GROUP BY GenreId ORDER BY COUNT(*) DESC"),
])
def test_order_repair_leaves_what_the_question_does_not_decide(question: str, sql: str) -> None:
    tree = sqlglot.parse_one(sql)
    same, fixes = repair_order(tree, question)
    assert fixes == [] and same.sql() == tree.sql()


def test_similarity_helpers() -> None:
    assert words("InvoiceLineId") == ["invoice", "line", "id"]
    assert words("first_name") == ["first", "name"]
    assert similarity("Albums", "Album") > similarity("Albums", "Artist")
    assert nearest("customer", ["Customer", "Employee"]) == "Customer"
    assert nearest("xyz", ["Customer", "Employee"]) is None


def _vocab() -> tuple[Vocab, list[str]]:
    texts = ["<eos>", " A", "Al", "bum", " Album", " Art", "ist", " Alb", "Title", "Name", "Ti", "tle", " AS",
             " T", "1", ".", ",", " FROM", " Albums", "Titl", "e", "*", " JOIN", "(", " ", "Na", "me", "\n", " Genre"]
    return Vocab(texts, eos=[0]), texts


def test_mask_allows_only_real_table_names_after_from(schema: SchemaInfo) -> None:
    vocab, texts = _vocab()
    mask = IdentifierMask(vocab, schema, schema)
    allowed = {texts[i] for i in mask("SELECT count(*) FROM")}
    assert {" Album", " Alb", " A", " Art", " Genre"} <= allowed
    assert " Albums" not in allowed and " AS" not in allowed and "Title" not in allowed
    partial = {texts[i] for i in mask("SELECT count(*) FROM Al")}
    assert "bum" in partial and "ist" not in partial
    done = mask("SELECT count(*) FROM Album")
    assert done is not None
    assert {" AS", ",", " JOIN", "<eos>"} <= {texts[i] for i in done}  # the name may end here


def test_mask_allows_only_the_table_columns_after_a_dot(schema: SchemaInfo) -> None:
    vocab, texts = _vocab()
    mask = IdentifierMask(vocab, schema, schema)
    allowed = mask("SELECT a.T FROM Album AS a WHERE a.")
    assert allowed is not None
    names = {texts[i] for i in allowed}
    assert {"Title", "Ti", "Titl", "*"} <= names and "Name" not in names  # Album has no Name
    assert mask("SELECT x FROM Album WHERE Title = 'a.") is None  # inside a string: free
    assert mask("SELECT count(*) ") is None  # not an identifier position: free
    assert isinstance(mask("SELECT Artist."), np.ndarray)


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_question_repairs_keep_correct_queries() -> None:
    """The repairs that read the question (and the join repairs) change no gold query of
    Spider dev or of the Spider Chinook set into one with other results: their precision, on
    1,118 queries that people wrote right."""
    from nl2sql.eval import load_jsonl, load_spider
    from nl2sql.scoring import gold_is_ordered, results_match

    spider, chinook = SHARED_DATA / "spider_dev", SHARED_DATA / "chinook"
    if not (spider / "dev.json").exists() or not (chinook / "spider_chinook_1.jsonl").exists():
        pytest.skip("../shared/data (Spider dev, Chinook) is absent")
    cases, files = load_spider(spider)
    files = {**files, "chinook": chinook / "Chinook_Sqlite.sqlite"}
    cases += load_jsonl(chinook / "spider_chinook_1.jsonl", database="chinook")
    from nl2sql.schema_index import values_named
    values: dict[str, dict[str, list[tuple[str, str, str]]]] = {}
    repairs: list[Callable[[exp.Expression, SchemaInfo, str, str], tuple[exp.Expression, list[str]]]] = [
        lambda t, s, q, db: repair_joins(t, s), lambda t, s, q, db: repair_stray_joins(t, s),
        lambda t, s, q, db: repair_missing_value(t, s, values_named(values[db], q), q),
        lambda t, s, q, db: repair_projection(t, s, q), lambda t, s, q, db: repair_selection(t, s, q),
        lambda t, s, q, db: repair_count(t, s, q), lambda t, s, q, db: repair_superlative(t, s, q),
        lambda t, s, q, db: repair_absent(t, s, q), lambda t, s, q, db: repair_counted_rows(t, s, q),
        lambda t, s, q, db: repair_grouping(t, q), lambda t, s, q, db: repair_having(t, q),
        lambda t, s, q, db: repair_patterns(t, q), lambda t, s, q, db: repair_order(t, q),
        lambda t, s, q, db: repair_contradiction(t, q),
    ]
    backends: dict[str, Backend] = {}
    schemas: dict[str, SchemaInfo] = {}
    changed, differ = 0, []
    try:
        for case in cases:
            if case.database not in backends:
                backends[case.database] = SqliteBackend(case.database, files[case.database])
                schemas[case.database] = backends[case.database].introspect(samples=0)
                values[case.database] = _read_values(backends[case.database], schemas[case.database])
            b, schema = backends[case.database], schemas[case.database]
            try:
                tree = sqlglot.parse_one(case.sql, read="sqlite")
            except sqlglot.errors.ParseError:
                continue
            for repair in repairs:
                out, fixes = repair(tree, schema, case.question, case.database)
                if not fixes:
                    continue
                changed += 1
                gold, got = _rows(b, case.sql), _rows(b, out.sql(dialect="sqlite"))
                if not results_match(gold, got, ordered=gold_is_ordered(case.sql)):
                    differ.append((case.question, case.sql, fixes))
    finally:
        for b in backends.values():
            b.close()
    assert len(cases) > 1000
    assert differ == [], f"{len(differ)} of {changed} changed gold queries answer otherwise: {differ[:5]}"


def test_check_repeats_the_rules_while_one_exposes_another(misaligned: Backend) -> None:
    """The pipeline's validation stage runs the repair rules again after a pass that fixed
    something: here the value repair moves ``T3.Name = 'Jazz'`` to the genre, and only then is
    ``T3`` a second copy of Track read nowhere else (measured on the 2026-11-25 06:45 curve: a
    single pass left the doubled join, and the count was wrong)."""
    from types import SimpleNamespace
    from typing import Any

    from gateway.config import AskConfig
    from nl2sql.repair import check
    from nl2sql.state import AskState

    schema = misaligned.introspect()
    env: Any = SimpleNamespace(config=AskConfig(), backend=misaligned, schema=schema,
                               db=SimpleNamespace(values=_read_values(misaligned, schema)))
    state = AskState(question="How many jazz tracks are there?", database="music")
    sql = ("SELECT COUNT(*) FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId "
           "JOIN Track AS T3 ON T2.GenreId = T3.GenreId WHERE T3.Name = 'Jazz'")
    out = check(state, env, sql)
    assert out == ("SELECT COUNT(*) FROM Track AS T1 JOIN Genre AS T2 ON T1.GenreId = T2.GenreId "
                   "WHERE T2.Name = 'Jazz'")
    assert len(state.fixes) == 2 and "joined twice" in state.fixes[1]
    assert _rows(misaligned, out) == [(2,)]


@pytest.mark.parametrize("sql,fixed", [
    # measured on the 2026-11-25 06:45 curve's v1: "the media type that is least common across
    # all tracks" with a genre cross-joined on a value of its own
    ("SELECT T2.Title FROM Track AS T1 JOIN Album AS T2 ON T1.AlbumId = T2.AlbumId "
     "JOIN Genre AS T3 ON T3.Name = 'Jazz'",
     "SELECT T2.Title FROM Track AS T1 JOIN Album AS T2 ON T1.AlbumId = T2.AlbumId"),
])
def test_unlinked_join_dropped(sql: str, fixed: str, misaligned: Backend) -> None:
    schema = misaligned.introspect()
    repaired, fixes = repair_stray_joins(sqlglot.parse_one(sql, read=schema.dialect), schema)
    out = repaired.sql(dialect=schema.dialect)
    assert out == fixed and len(fixes) == 1 and "links T3 to no other table" in fixes[0]
    assert sorted(_rows(misaligned, out)) == sorted(_rows(misaligned, fixed))


@pytest.mark.parametrize("sql", [
    # read elsewhere: every track with the genre Jazz's name beside it
    "SELECT T1.Name, T3.Name FROM Track AS T1 JOIN Genre AS T3 ON T3.Name = 'Jazz'",
    # the condition links it to another table
    "SELECT T1.Name FROM Track AS T1 JOIN Genre AS T3 ON T3.Name = 'Jazz' AND T3.GenreId = T1.GenreId",
    # an outer join
    "SELECT T1.Name FROM Track AS T1 LEFT JOIN Genre AS T3 ON T3.Name = 'Jazz'",
])
def test_unlinked_join_kept(sql: str, schema: SchemaInfo) -> None:
    tree = sqlglot.parse_one(sql)
    same, fixes = repair_stray_joins(tree, schema)
    assert fixes == [] and same.sql() == tree.sql()
