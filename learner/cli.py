"""``askgres pairs ...`` (the review queue), plus the ``learn`` and ``model`` groups from
:mod:`learner.orchestrate_cli` when it is present.

Other learner command groups register here: :func:`register` adds ``pairs`` and then
calls the ``register(main)`` of each module in :data:`EXTRA_GROUPS` that imports.
"""

from __future__ import annotations

import getpass
import importlib
import json
from datetime import datetime

import click

from gateway.config import Settings
from gateway.errors import PgError
from nl2sql.store import Store

EXTRA_GROUPS = ("learner.orchestrate_cli",)
"""Modules with a ``register(main)`` that adds more learner groups."""


def register(main: click.Group) -> None:
    main.add_command(pairs)
    for name in EXTRA_GROUPS:
        try:
            mod = importlib.import_module(name)
        except ImportError:  # pragma: no cover - a group still being written
            continue
        mod.register(main)


def _settings(ctx: click.Context) -> Settings:
    from gateway.cli import settings_from

    return settings_from(ctx, None)


def _store(ctx: click.Context) -> Store:
    return Store(_settings(ctx).state_db)


def _reviewer(by: str | None) -> str:
    return by or f"cli:{getpass.getuser()}"


def _check_sql(ctx: click.Context, database: str, question: str, sql: str) -> str:
    """The SQL to keep: in canonical style (single-quoted strings, the schema's spelling of
    names) when that returns the same rows. Refuses SQL that does not parse, is not
    read-only or fails on the database."""
    from connectors.registry import configured_databases, open_backend
    from learner.validate_pairs import PairValidator, canonical_sql
    from nl2sql.scoring import results_match, run_rows

    settings = _settings(ctx)
    db = next((d for d in configured_databases(settings) if d.name == database), None)
    if db is None:
        raise click.ClickException(f'database "{database}" is not configured')
    backend = open_backend(db)
    try:
        schema = backend.introspect(samples=0)
        with PairValidator(backend, schema, timeout=settings.ask.timeout_s, max_rows=settings.ask.row_limit) as v:
            canon = canonical_sql(sql, schema)
            verdict = v.check(question, canon, allow_empty=True)
            if verdict.ok and canon != sql.strip().rstrip(";").strip():
                try:
                    same = results_match(run_rows(v.conn, sql.strip().rstrip(";")), run_rows(v.conn, canon), ordered=True)
                except PgError:
                    same = True
                if not same:
                    canon = sql
                    verdict = v.check(question, sql, allow_empty=True)
    finally:
        backend.close()
    if not verdict.ok:
        raise click.ClickException(f"SQL refused ({verdict.reason}): {verdict.detail} (use --force to keep it anyway)")
    if canon != sql.strip().rstrip(";").strip():
        click.echo(f"SQL kept as: {canon}")
    return canon


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


@click.group()
def pairs() -> None:
    """The review queue of question/SQL pairs (admins approve what trains the model)."""


@pairs.command("list")
@click.option("--db", "database", default=None, help="Only this database.")
@click.option("--status", type=click.Choice(["pending", "approved", "rejected"]), default=None, help="Only this status.")
@click.option("--source", default=None, help="Only this source (teacher, failure, admin, feedback, synth).")
@click.option("--limit", type=int, default=None, help="At most this many (newest first).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.pass_context
def pairs_list(ctx: click.Context, database: str | None, status: str | None, source: str | None,
               limit: int | None, as_json: bool) -> None:
    """List pairs, newest first."""
    from learner.pairs import list_pairs

    rows = list_pairs(_store(ctx), database=database, status=status, source=source, limit=limit)
    if as_json:
        for r in rows:
            click.echo(json.dumps(r.as_dict()))
        return
    if not rows:
        click.echo("no pairs")
        return
    for r in rows:
        fail = f" failure={r.failure_id}" if r.failure_id is not None else ""
        click.echo(f"#{r.id} [{r.status}] {r.database} ({r.source}{fail}, {_when(r.updated_at)})")
        click.echo(f"    Q: {r.question}")
        click.echo(f"    SQL: {r.sql}")


@pairs.command("show")
@click.argument("pair_id", type=int)
@click.pass_context
def pairs_show(ctx: click.Context, pair_id: int) -> None:
    """Show one pair as JSON."""
    from learner.pairs import get_pair

    try:
        click.echo(json.dumps(get_pair(_store(ctx), pair_id).as_dict(), indent=2))
    except PgError as e:
        raise click.ClickException(e.message) from None


@pairs.command("approve")
@click.argument("pair_id", type=int)
@click.option("--sql", default=None, help="Correct the SQL before approving.")
@click.option("--question", default=None, help="Correct the question before approving.")
@click.option("--by", default=None, help="Reviewer name (default: cli:<user>).")
@click.option("--force", is_flag=True, help="Approve even SQL that fails the checks.")
@click.pass_context
def pairs_approve(ctx: click.Context, pair_id: int, sql: str | None, question: str | None, by: str | None, force: bool) -> None:
    """Approve a pair: it enters the example index at once and trains the next model."""
    from learner.pairs import approve, get_pair

    store = _store(ctx)
    try:
        current = get_pair(store, pair_id)
        if not force:
            checked = _check_sql(ctx, current.database, question or current.question, sql or current.sql)
            sql = checked if checked != current.sql else sql
        row = approve(store, pair_id, reviewer=_reviewer(by), question=question, sql=sql)
    except PgError as e:
        raise click.ClickException(e.message) from None
    click.echo(f"approved #{row.id}: {row.question} -> {row.sql}")


@pairs.command("reject")
@click.argument("pair_id", type=int)
@click.option("--note", default=None, help="Why.")
@click.option("--by", default=None, help="Reviewer name (default: cli:<user>).")
@click.pass_context
def pairs_reject(ctx: click.Context, pair_id: int, note: str | None, by: str | None) -> None:
    """Reject a pair."""
    from learner.pairs import reject

    try:
        row = reject(_store(ctx), pair_id, reviewer=_reviewer(by), note=note)
    except PgError as e:
        raise click.ClickException(e.message) from None
    click.echo(f"rejected #{row.id}")


@pairs.command("edit")
@click.argument("pair_id", type=int)
@click.option("--sql", default=None, help="New SQL.")
@click.option("--question", default=None, help="New question.")
@click.option("--force", is_flag=True, help="Keep SQL that fails the checks.")
@click.pass_context
def pairs_edit(ctx: click.Context, pair_id: int, sql: str | None, question: str | None, force: bool) -> None:
    """Change a pair's question or SQL without changing its status."""
    from learner.pairs import edit_pair, get_pair

    if sql is None and question is None:
        raise click.UsageError("give --sql and/or --question")
    store = _store(ctx)
    try:
        current = get_pair(store, pair_id)
        if sql is not None and not force:
            sql = _check_sql(ctx, current.database, question or current.question, sql)
        row = edit_pair(store, pair_id, question=question, sql=sql)
    except PgError as e:
        raise click.ClickException(e.message) from None
    click.echo(f"edited #{row.id} [{row.status}]: {row.question} -> {row.sql}")


@pairs.command("add")
@click.option("--db", "database", required=True, help="Database the pair is for.")
@click.option("--question", required=True, help="The question, in plain English.")
@click.option("--sql", required=True, help="SQL that answers it, in the database's dialect.")
@click.option("--pending", is_flag=True, help="Queue it for review instead of approving it now.")
@click.option("--by", default=None, help="Reviewer name (default: cli:<user>).")
@click.option("--force", is_flag=True, help="Keep SQL that fails the checks.")
@click.pass_context
def pairs_add(ctx: click.Context, database: str, question: str, sql: str, pending: bool, by: str | None, force: bool) -> None:
    """Add a pair written by an admin (approved unless --pending)."""
    from learner.pairs import add_pair

    if not force:
        sql = _check_sql(ctx, database, question, sql)
    try:
        row = add_pair(_store(ctx), database=database, question=question, sql=sql, source="admin",
                       status="pending" if pending else "approved", reviewed_by=None if pending else _reviewer(by))
    except PgError as e:
        raise click.ClickException(e.message) from None
    click.echo(f"added #{row.id} [{row.status}]")
