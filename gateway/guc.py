"""Session settings (PostgreSQL's GUCs): defaults, SET/RESET/SHOW semantics, and the
rows of ``pg_settings``/``SHOW ALL``.

Names are case-insensitive; each setting keeps PostgreSQL's spelling for display
(``DateStyle``, ``TimeZone``). ``SET LOCAL`` values last until the transaction ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.errors import PgError, UndefinedObject

VERSION = "0.1.0"
PG_VERSION = "15.8"
PG_VERSION_NUM = "150008"


class InvalidParameterValue(PgError):
    sqlstate = "22023"


class CantChangeRuntimeParam(PgError):
    sqlstate = "55P02"


@dataclass(frozen=True)
class Guc:
    name: str  # PostgreSQL's spelling
    default: str
    vartype: str = "string"  # bool, integer, real, string, enum
    unit: str | None = None
    category: str = "Client Connection Defaults"
    short_desc: str = ""
    context: str = "user"  # internal settings cannot be SET
    report: bool = False  # sent as ParameterStatus when it changes


_GUCS: tuple[Guc, ...] = (
    Guc("server_version", f"{PG_VERSION} (askgres {VERSION})", context="internal", report=True,
        category="Preset Options", short_desc="Shows the server version."),
    Guc("server_version_num", PG_VERSION_NUM, "integer", context="internal", category="Preset Options",
        short_desc="Shows the server version as an integer."),
    Guc("server_encoding", "UTF8", context="internal", report=True, category="Preset Options",
        short_desc="Shows the server (database) character set encoding."),
    Guc("client_encoding", "UTF8", report=True, short_desc="Sets the client's character set encoding."),
    Guc("DateStyle", "ISO, MDY", report=True, short_desc="Sets the display format for date and time values."),
    Guc("IntervalStyle", "postgres", "enum", report=True, short_desc="Sets the display format for interval values."),
    Guc("TimeZone", "UTC", report=True, short_desc="Sets the time zone for displaying and interpreting time stamps."),
    Guc("integer_datetimes", "on", "bool", context="internal", report=True, category="Preset Options",
        short_desc="Shows whether datetimes are integer based."),
    Guc("standard_conforming_strings", "on", "bool", report=True,
        short_desc="Causes '...' strings to treat backslashes literally."),
    Guc("application_name", "", report=True, category="Reporting and Logging",
        short_desc="Sets the application name to be reported in statistics and logs."),
    Guc("is_superuser", "off", "bool", context="internal", report=True, category="Preset Options",
        short_desc="Shows whether the current user is a superuser."),
    Guc("session_authorization", "", context="internal", report=True,
        short_desc="Sets the session user name."),
    Guc("default_transaction_read_only", "off", "bool", report=True,
        short_desc="Sets the default read-only status of new transactions."),
    Guc("in_hot_standby", "off", "bool", context="internal", report=True, category="Preset Options",
        short_desc="Shows whether hot standby is currently active."),
    Guc("search_path", '"$user", public', short_desc="Sets the schema search order for names that are not schema-qualified."),
    Guc("transaction_isolation", "read committed", "enum", short_desc="Sets the current transaction's isolation level."),
    Guc("default_transaction_isolation", "read committed", "enum",
        short_desc="Sets the transaction isolation level of each new transaction."),
    Guc("transaction_read_only", "off", "bool", short_desc="Sets the current transaction's read-only status."),
    Guc("transaction_deferrable", "off", "bool", short_desc="Whether to defer a read-only serializable transaction."),
    Guc("default_transaction_deferrable", "off", "bool", short_desc="Sets the default deferrable status of new transactions."),
    Guc("statement_timeout", "0", "integer", "ms", short_desc="Sets the maximum allowed duration of any statement."),
    Guc("lock_timeout", "0", "integer", "ms", short_desc="Sets the maximum allowed duration of any wait for a lock."),
    Guc("idle_in_transaction_session_timeout", "0", "integer", "ms",
        short_desc="Sets the maximum allowed idle time between queries, when in a transaction."),
    Guc("idle_session_timeout", "0", "integer", "ms", short_desc="Sets the maximum allowed idle time between queries."),
    Guc("extra_float_digits", "1", "integer", short_desc="Sets the number of digits displayed for floating-point values."),
    Guc("client_min_messages", "notice", "enum", short_desc="Sets the message levels that are sent to the client."),
    Guc("bytea_output", "hex", "enum", short_desc="Sets the output format for bytea."),
    Guc("row_security", "on", "bool", short_desc="Enable row security."),
    Guc("check_function_bodies", "on", "bool", short_desc="Check routine bodies during CREATE FUNCTION and CREATE PROCEDURE."),
    Guc("default_tablespace", "", short_desc="Sets the default tablespace to create tables and indexes in."),
    Guc("default_table_access_method", "heap", category="Client Connection Defaults / Statement Behavior",
        short_desc="Sets the default table access method for new tables."),
    Guc("temp_tablespaces", "", short_desc="Sets the tablespace(s) to use for temporary tables and sort files."),
    Guc("default_text_search_config", "pg_catalog.english", short_desc="Sets default text search configuration."),
    Guc("xmloption", "content", "enum", short_desc="Sets whether XML data in implicit parsing and serialization operations is to be considered as documents or content fragments."),
    Guc("lc_messages", "C.UTF-8", short_desc="Sets the language in which messages are displayed."),
    Guc("lc_monetary", "C.UTF-8", short_desc="Sets the locale for formatting monetary amounts."),
    Guc("lc_numeric", "C.UTF-8", short_desc="Sets the locale for formatting numbers."),
    Guc("lc_time", "C.UTF-8", short_desc="Sets the locale for formatting date and time values."),
    Guc("lc_collate", "C.UTF-8", context="internal", category="Preset Options", short_desc="Shows the collation order locale."),
    Guc("lc_ctype", "C.UTF-8", context="internal", category="Preset Options",
        short_desc="Shows the character classification and case conversion locale."),
    Guc("max_identifier_length", "63", "integer", context="internal", category="Preset Options",
        short_desc="Shows the maximum identifier length."),
    Guc("max_index_keys", "32", "integer", context="internal", category="Preset Options",
        short_desc="Shows the maximum number of index keys."),
    Guc("block_size", "8192", "integer", context="internal", category="Preset Options",
        short_desc="Shows the size of a disk block."),
    Guc("max_connections", "200", "integer", context="postmaster", category="Connections and Authentication",
        short_desc="Sets the maximum number of concurrent connections."),
    Guc("port", "5433", "integer", context="postmaster", category="Connections and Authentication",
        short_desc="Sets the TCP port the server listens on."),
    Guc("listen_addresses", "127.0.0.1", context="postmaster", category="Connections and Authentication",
        short_desc="Sets the host name or IP address(es) to listen to."),
    Guc("ssl", "off", "bool", context="sighup", category="Connections and Authentication",
        short_desc="Enables SSL connections."),
    Guc("password_encryption", "scram-sha-256", "enum", category="Connections and Authentication",
        short_desc="Chooses the algorithm for encrypting passwords."),
    Guc("work_mem", "4096", "integer", "kB", category="Resource Usage / Memory",
        short_desc="Sets the maximum memory to be used for query workspaces."),
    Guc("maintenance_work_mem", "65536", "integer", "kB", category="Resource Usage / Memory",
        short_desc="Sets the maximum memory to be used for maintenance operations."),
    Guc("shared_buffers", "16384", "integer", "8kB", context="postmaster", category="Resource Usage / Memory",
        short_desc="Sets the number of shared memory buffers used by the server."),
    Guc("effective_cache_size", "524288", "integer", "8kB", category="Query Tuning / Planner Cost Constants",
        short_desc="Sets the planner's assumption about the total size of the data caches."),
    Guc("random_page_cost", "4", "real", category="Query Tuning / Planner Cost Constants",
        short_desc="Sets the planner's estimate of the cost of a nonsequentially fetched disk page."),
    Guc("jit", "off", "bool", category="Query Tuning / Other Planner Options",
        short_desc="Allow JIT compilation."),
    Guc("enable_seqscan", "on", "bool", category="Query Tuning / Planner Method Configuration",
        short_desc="Enables the planner's use of sequential-scan plans."),
    Guc("synchronous_commit", "on", "enum", category="Write-Ahead Log / Settings",
        short_desc="Sets the current transaction's synchronization level."),
    Guc("wal_level", "replica", "enum", context="postmaster", category="Write-Ahead Log / Settings",
        short_desc="Sets the level of information written to the WAL."),
    Guc("log_statement", "none", "enum", context="superuser", category="Reporting and Logging / What to Log",
        short_desc="Sets the type of statements logged."),
    Guc("log_min_duration_statement", "-1", "integer", "ms", context="superuser",
        category="Reporting and Logging / When to Log",
        short_desc="Sets the minimum execution time above which all statements will be logged."),
    Guc("track_activities", "on", "bool", context="superuser", category="Statistics / Cumulative Query and Index Statistics",
        short_desc="Collects information about executing commands."),
    Guc("array_nulls", "on", "bool", category="Version and Platform Compatibility",
        short_desc="Enable input of NULL elements in arrays."),
    Guc("escape_string_warning", "on", "bool", category="Version and Platform Compatibility",
        short_desc="Warn about backslash escapes in ordinary string literals."),
    Guc("quote_all_identifiers", "off", "bool", category="Version and Platform Compatibility",
        short_desc="When generating SQL fragments, quote all identifiers."),
    Guc("geqo", "on", "bool", category="Query Tuning / Genetic Query Optimizer",
        short_desc="Enables genetic query optimization."),
    Guc("data_directory_mode", "0700", "integer", context="internal", category="Preset Options",
        short_desc="Shows the mode of the data directory."),
)

GUCS: dict[str, Guc] = {g.name.lower(): g for g in _GUCS}
_REPORTED = [(k, g.name) for k, g in GUCS.items() if g.report]

_TIME_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "min": 60_000.0, "h": 3_600_000.0, "d": 86_400_000.0}


def canonical(name: str) -> str:
    return name.strip().strip('"').lower()


class SessionSettings:
    """One session's settings. ``SET LOCAL`` changes are undone at transaction end;
    plain ``SET`` changes made inside a transaction that rolls back are undone too."""

    def __init__(self, *, user: str, is_admin: bool, overrides: dict[str, str] | None = None) -> None:
        self._boot: dict[str, str] = {k: g.default for k, g in GUCS.items()}
        self._boot["session_authorization"] = user
        self._boot["is_superuser"] = "on" if is_admin else "off"
        for k, v in (overrides or {}).items():
            self._boot[canonical(k)] = v
        self._values: dict[str, str] = dict(self._boot)
        self._custom_names: dict[str, str] = {}
        self._tx_saved: dict[str, str] | None = None  # values at BEGIN (rollback restores them)
        self._local_saved: dict[str, str] = {}  # values before SET LOCAL (restored at tx end)
        self.version = 0  # bumped on every change (pg_settings snapshots key off it)
        self._reportable: dict[str, str] = {}
        self._reportable_version = -1
        self._reportable_values: dict[str, str] | None = None

    # -- reading ----------------------------------------------------------------------
    def get(self, name: str) -> str:
        key = canonical(name)
        if key in self._values:
            return self._values[key]
        raise UndefinedObject(f'unrecognized configuration parameter "{name}"')

    def get_or_none(self, name: str) -> str | None:
        return self._values.get(canonical(name))

    def display_name(self, key: str) -> str:
        g = GUCS.get(key)
        return g.name if g else self._custom_names.get(key, key)

    def reportable(self) -> dict[str, str]:
        """The settings reported to the client (ParameterStatus): the same dict until a
        setting changes, so that the wire layer can tell "nothing changed" by identity."""
        if self._reportable_version != self.version or self._reportable_values is not self._values:
            self._reportable = {name: self._values[k] for k, name in _REPORTED}
            self._reportable_version, self._reportable_values = self.version, self._values
        return self._reportable

    def statement_timeout_s(self) -> float:
        try:
            return float(self._values["statement_timeout"]) / 1000.0
        except ValueError:
            return 0.0

    def all_rows(self) -> list[tuple[str, str, str]]:
        """``SHOW ALL``: name, setting, description."""
        rows = []
        for key in sorted(self._values):
            g = GUCS.get(key)
            rows.append((self.display_name(key), self._show_value(key), g.short_desc if g else ""))
        return rows

    def pg_settings_rows(self) -> list[tuple[object, ...]]:
        rows: list[tuple[object, ...]] = []
        for key in sorted(self._values):
            g = GUCS.get(key)
            if g is None:
                continue
            source = "default" if self._values[key] == g.default else "session"
            rows.append((g.name, self._values[key], g.unit, g.category, g.short_desc, None, g.context, g.vartype,
                         source, None, None, None, g.default, self._boot[key], None, None, False))
        return rows

    def _show_value(self, key: str) -> str:
        value = self._values[key]
        g = GUCS.get(key)
        if g is not None and g.unit == "ms" and value not in ("0", "-1"):
            ms = float(value)
            for unit, factor in (("d", 86_400_000.0), ("h", 3_600_000.0), ("min", 60_000.0), ("s", 1000.0)):
                if ms >= factor and ms % factor == 0:
                    return f"{int(ms // factor)}{unit}"
            return f"{int(ms)}ms"
        return value

    def show(self, name: str) -> tuple[str, str]:
        """``SHOW name``: the column name and the value."""
        key = canonical(name)
        if key not in self._values:
            raise UndefinedObject(f'unrecognized configuration parameter "{name}"')
        return self.display_name(key), self._show_value(key)

    # -- writing ----------------------------------------------------------------------
    def set(self, name: str, value: str | None, *, local: bool = False, in_tx: bool = False) -> None:
        """``SET name = value`` (``None``: DEFAULT). Raises 42704/55P02/22023."""
        key = canonical(name)
        g = GUCS.get(key)
        if g is None and "." not in key:
            raise UndefinedObject(f'unrecognized configuration parameter "{name}"')
        if g is not None and g.context in ("internal", "postmaster", "sighup") and key != "session_authorization":
            raise CantChangeRuntimeParam(f'parameter "{g.name}" cannot be changed now')
        if value is None:
            new = self._boot.get(key, "")
        else:
            new = self._validate(key, g, value)
        if g is None:
            self._custom_names[key] = name.strip().strip('"')
        if in_tx and self._tx_saved is None:
            self._tx_saved = dict(self._values)
        if local:
            if not in_tx:
                return  # PostgreSQL warns and ignores SET LOCAL outside a transaction block
            self._local_saved.setdefault(key, self._values.get(key, ""))
        elif key in self._local_saved:
            del self._local_saved[key]
        self._values[key] = new
        self.version += 1

    def reset_all(self) -> None:
        for key, g in GUCS.items():
            if g.context not in ("internal", "postmaster", "sighup"):
                self._values[key] = self._boot[key]
        for key in list(self._custom_names):
            self._values.pop(key, None)
            del self._custom_names[key]
        self._local_saved.clear()
        self.version += 1

    def begin(self) -> None:
        self._tx_saved = None
        self._local_saved.clear()

    def end_transaction(self, *, committed: bool) -> None:
        """COMMIT keeps SET changes (not SET LOCAL ones); ROLLBACK undoes both."""
        if not committed and self._tx_saved is not None:
            self._values = self._tx_saved
            self.version += 1
        elif self._local_saved:
            self._values.update(self._local_saved)
            self.version += 1
        for key in ("transaction_isolation", "transaction_read_only", "transaction_deferrable"):
            default = self._values.get(f"default_{key}", self._boot[key])
            self._values[key] = default
        self._tx_saved = None
        self._local_saved.clear()

    def _validate(self, key: str, g: Guc | None, value: str) -> str:
        v = value.strip()
        if g is None:
            return v
        if g.vartype == "bool":
            low = v.lower()
            if low in ("on", "true", "yes", "1", "t", "y"):
                return "on"
            if low in ("off", "false", "no", "0", "f", "n"):
                return "off"
            raise InvalidParameterValue(f'parameter "{g.name}" requires a Boolean value')
        if key == "client_encoding":
            if v.upper().replace("-", "").replace("_", "") not in ("UTF8", "UNICODE"):
                raise InvalidParameterValue(f'invalid value for parameter "client_encoding": "{v}"',
                                            detail="askgres speaks UTF8 only.")
            return "UTF8"
        if g.unit == "ms":
            return str(parse_duration_ms(v, g.name))
        if g.vartype == "integer":
            try:
                return str(int(float(v)))
            except ValueError as e:
                raise InvalidParameterValue(f'invalid value for parameter "{g.name}": "{v}"') from e
        if key in ("transaction_isolation", "default_transaction_isolation"):
            low = " ".join(v.lower().replace("-", " ").split())
            if low not in ("read uncommitted", "read committed", "repeatable read", "serializable"):
                raise InvalidParameterValue(f'invalid value for parameter "{g.name}": "{v}"')
            return low
        return v


def parse_duration_ms(value: str, name: str = "statement_timeout") -> int:
    m = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*([a-z]*)\s*", value.lower())
    if not m or (m.group(2) and m.group(2) not in _TIME_UNITS):
        raise InvalidParameterValue(f'invalid value for parameter "{name}": "{value}"',
                                    hint='Valid units for this parameter are "us", "ms", "s", "min", "h", and "d".')
    return int(float(m.group(1)) * _TIME_UNITS[m.group(2) or "ms"])
