"""askgres: a PostgreSQL-wire gateway over SQLite and DuckDB that answers questions."""

__version__ = "0.1.0"
