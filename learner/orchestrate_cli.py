"""``askgres learn ...`` and ``askgres model ...``."""

from __future__ import annotations

import json
import time

import click

from gateway.config import Settings
from nl2sql.store import Store


def _settings(ctx: click.Context) -> Settings:
    from gateway.cli import settings_from

    return settings_from(ctx, None)


def register(main: click.Group) -> None:
    main.add_command(learn)
    main.add_command(model)


@click.group()
def learn() -> None:
    """Training runs: start one, watch them."""


@learn.command("run")
@click.option("--db", "database", required=True, help="Database whose model to train.")
@click.option("--background", is_flag=True, help="Start the run in a separate process and return.")
@click.pass_context
def learn_run(ctx: click.Context, database: str, background: bool) -> None:
    """Force a training run now (whatever the failure count)."""
    settings = _settings(ctx)
    if background:
        from learner.runner import spawn

        proc = spawn(settings, database)
        click.echo(f"started training run process {proc.pid}")
        return
    from learner.runner import run_iteration

    run_id = run_iteration(settings, database)
    _print_runs(Store(settings.state_db), [run_id], as_json=False)


@learn.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--watch", is_flag=True, help="Refresh every 2 s until no run is active.")
@click.pass_context
def learn_status(ctx: click.Context, as_json: bool, watch: bool) -> None:
    """Training runs, newest first: stage, progress, accuracies."""
    from learner.runs import active_run, recover_stale

    store = Store(_settings(ctx).state_db)
    recover_stale(store)
    while True:
        ids = [int(r["id"]) for r in store.query("SELECT id FROM training_runs ORDER BY id DESC LIMIT 20")]
        _print_runs(store, ids, as_json=as_json)
        if not watch or active_run(store) is None:
            return
        time.sleep(2)


def _print_runs(store: Store, ids: list[int], *, as_json: bool) -> None:
    rows = [dict(r) for r in store.query(
        f"SELECT * FROM training_runs WHERE id IN ({','.join('?' for _ in ids)}) ORDER BY id DESC", tuple(ids))] if ids else []
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        click.echo("no training runs yet")
        return
    click.echo(f"{'id':>4}  {'database':<16} {'status':<12} {'stage':<8} {'prog':>5}  {'current':>7} {'cand.':>7}  model")
    for r in rows:
        cur = "" if r["current_accuracy"] is None else f"{r['current_accuracy']:.3f}"
        cand = "" if r["candidate_accuracy"] is None else f"{r['candidate_accuracy']:.3f}"
        click.echo(f"{r['id']:>4}  {r['database']:<16} {r['status']:<12} {r['stage']:<8} {r['progress']:>5.0%}  "
                   f"{cur:>7} {cand:>7}  {r['candidate_model'] or ''}")
        if r["error"]:
            click.echo(f"      error: {r['error']}")


@click.group()
def model() -> None:
    """The model registry: versions, promotion, rollback."""


@model.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def model_list(ctx: click.Context, as_json: bool) -> None:
    """Every model version, with its status and gate accuracy."""
    from learner.registry import active_version, list_models

    store = Store(_settings(ctx).state_db)
    models = list_models(store)
    if as_json:
        click.echo(json.dumps([{**m.__dict__, "path": str(m.path)} for m in models], indent=2))
        return
    active = active_version(store)
    if not models:
        click.echo("base (bundled Gemma 3 270M) [active]")
    for m in models:
        acc = "" if m.accuracy is None else f"{m.accuracy:.3f}"
        mark = " [active]" if m.version == active else ""
        click.echo(f"{m.version:<6} {m.status:<9} acc={acc:<6} parent={m.parent or '-':<6} {m.path}{mark}")


@model.command("rollback")
@click.option("--to", "to", default=None, help="Version to activate (default: the active model's parent).")
@click.pass_context
def model_rollback(ctx: click.Context, to: str | None) -> None:
    """Go back to an earlier model; the running gateway switches within seconds."""
    from learner.registry import rollback

    now = rollback(Store(_settings(ctx).state_db), to)
    click.echo(f"active model: {now}")


@model.command("promote")
@click.argument("version")
@click.pass_context
def model_promote(ctx: click.Context, version: str) -> None:
    """Activate a version by hand (e.g. a refused candidate you trust)."""
    from learner.registry import promote

    promote(Store(_settings(ctx).state_db), version)
    click.echo(f"active model: {version}")
