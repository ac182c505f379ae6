"""The ``askgres`` command. Subcommands of other packages are imported lazily so that
``askgres --help`` stays fast."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gateway.config import Settings, load_settings
from gateway.logs import configure_logging

CONFIG_OPTION = click.option(
    "--config", "config_file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None, help="TOML configuration file (ASKGRES_* env vars override it).",
)


def settings_from(ctx: click.Context, config_file: Path | None, **overrides: Any) -> Settings:
    """Load settings once per invocation, honouring the group-level --config."""
    root = ctx.find_root()
    cfg = config_file or root.params.get("config_file")
    settings = load_settings(cfg, **{k: v for k, v in overrides.items() if v is not None})
    configure_logging(json=settings.log_json, level=settings.log_level)
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@CONFIG_OPTION
@click.version_option(package_name="askgres")
def main(config_file: Path | None) -> None:
    """askgres: a PostgreSQL-wire gateway that answers questions in plain English."""


@main.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 5433; 0 picks a free one).")
@click.option("--log-json", is_flag=True, default=None, help="Log JSON lines.")
@CONFIG_OPTION
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, log_json: bool | None, config_file: Path | None) -> None:
    """Run the gateway (builds the Chinook demo first when no databases are configured)."""
    from gateway.server import run_server

    settings = settings_from(ctx, config_file, host=host, port=port, log_json=log_json)
    run_server(settings)


@main.command()
@CONFIG_OPTION
@click.pass_context
def demo(ctx: click.Context, config_file: Path | None) -> None:
    """Build the Chinook demo databases (SQLite and DuckDB) in the data directory."""
    from connectors.chinook import build_demo

    settings = settings_from(ctx, config_file)
    for db in build_demo(settings.data_dir / "demo"):
        click.echo(f"{db.name}\t{db.kind}\t{db.path}")


def _register_optional() -> None:
    """Commands owned by nl2sql and learner."""
    try:
        from nl2sql.cli import register as register_nl2sql
    except ImportError:  # pragma: no cover - during development only
        pass
    else:
        register_nl2sql(main)
    try:
        from learner.cli import register as register_learner
    except ImportError:  # pragma: no cover
        pass
    else:
        register_learner(main)


_register_optional()
