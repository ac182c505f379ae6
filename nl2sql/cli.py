"""``askgres`` subcommands of the ask pipeline: ``failures`` (and ``eval``, from
:mod:`nl2sql.eval`)."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("failures")
@click.option("--db", "database", default=None, help="Only failures of this database.")
@click.option("--limit", type=int, default=50, show_default=True, help="Newest failures shown.")
@click.option("--json", "as_json", is_flag=True, default=False, help="Print JSON (one object per failure, with attempts and context).")
@click.option("--config", "config_file", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="TOML configuration file.")
@click.pass_context
def failures_command(ctx: click.Context, database: str | None, limit: int, as_json: bool, config_file: Path | None) -> None:
    """List the failure log: questions that got no answer or were marked wrong."""
    from gateway.cli import settings_from
    from nl2sql.failures import list_failures
    from nl2sql.store import Store

    settings = settings_from(ctx, config_file)
    if not settings.state_db.exists():
        items: list[dict[str, object]] = []
    else:
        store = Store(settings.state_db)
        try:
            items = list_failures(store, database=database, limit=limit)
        finally:
            store.close()
    if as_json:
        click.echo(json.dumps(items, indent=2, default=str))
        return
    if not items:
        click.echo("No failures logged.")
        return
    for item in items:
        attempts = item.get("attempts") or []
        n = len(attempts) if isinstance(attempts, list) else 0
        click.echo(f"#{item['id']}  {item['database']}  {item['kind']}  ({n} attempt{'s' if n != 1 else ''})")
        click.echo(f"    question: {item['question']}")
        if item.get("sql"):
            click.echo(f"    last SQL: {' '.join(str(item['sql']).split())}")
        if item.get("error"):
            click.echo(f"    error:    {item['error']}")
        if item.get("correct_sql"):
            click.echo(f"    correct:  {' '.join(str(item['correct_sql']).split())}")


def register(main: click.Group) -> None:
    """Add the ask pipeline's commands to the ``askgres`` group."""
    main.add_command(failures_command)
    # `askgres eval` lives with the eval harness (nl2sql/eval.py, owned by the eval engineer).
    try:
        from nl2sql.eval import eval_command
    except ImportError:  # pragma: no cover - eval harness not installed
        return
    main.add_command(eval_command)
