"""Errors that travel to clients. Each class declares its SQLSTATE; every ErrorResponse
carries severity, code and message (and optionally detail and hint)."""

from __future__ import annotations

from typing import Any


class PgError(Exception):
    """Base of every error sent to a client as an ErrorResponse."""

    sqlstate = "XX000"
    severity = "ERROR"

    def __init__(
        self,
        message: str,
        *,
        detail: str | None = None,
        hint: str | None = None,
        sqlstate: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.hint = hint
        if sqlstate:
            self.sqlstate = sqlstate
        self.context = context or {}


class ProtocolViolation(PgError):
    sqlstate = "08P01"
    severity = "FATAL"


class InvalidAuthorization(PgError):
    sqlstate = "28000"
    severity = "FATAL"


class InvalidPassword(PgError):
    sqlstate = "28P01"
    severity = "FATAL"


class InvalidCatalogName(PgError):
    """Unknown database."""

    sqlstate = "3D000"
    severity = "FATAL"


class SyntaxErrorOrAccessRule(PgError):
    sqlstate = "42000"


class SyntaxError_(PgError):
    sqlstate = "42601"


class UndefinedTable(PgError):
    sqlstate = "42P01"


class UndefinedColumn(PgError):
    sqlstate = "42703"


class UndefinedFunction(PgError):
    sqlstate = "42883"


class UndefinedObject(PgError):
    sqlstate = "42704"


class DuplicateObject(PgError):
    sqlstate = "42710"


class DuplicatePreparedStatement(PgError):
    sqlstate = "42P05"


class InvalidSqlStatementName(PgError):
    sqlstate = "26000"


class InvalidCursorName(PgError):
    sqlstate = "34000"


class InsufficientPrivilege(PgError):
    sqlstate = "42501"


class FeatureNotSupported(PgError):
    sqlstate = "0A000"


class InFailedTransaction(PgError):
    sqlstate = "25P02"


class ReadOnlyTransaction(PgError):
    sqlstate = "25006"


class UniqueViolation(PgError):
    sqlstate = "23505"


class IntegrityConstraintViolation(PgError):
    sqlstate = "23000"


class DataException(PgError):
    sqlstate = "22000"


class InvalidTextRepresentation(PgError):
    sqlstate = "22P02"


class DivisionByZero(PgError):
    sqlstate = "22012"


class QueryCanceled(PgError):
    sqlstate = "57014"


class AdminShutdown(PgError):
    sqlstate = "57P01"
    severity = "FATAL"


class TooManyConnections(PgError):
    sqlstate = "53300"
    severity = "FATAL"


class ProgramLimitExceeded(PgError):
    sqlstate = "54000"


class InternalError(PgError):
    sqlstate = "XX000"


class AskError(PgError):
    """A question that could not be answered (no valid SQL, execution failed...).
    ``context`` holds what the failure log records."""

    sqlstate = "42000"
