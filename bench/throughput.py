"""SELECT throughput and latency: askgres (SQLite and DuckDB backends) against the same
Chinook data in a real PostgreSQL 15, with pgbench, a point-select script, simple protocol.

    python -m bench.throughput            # -T 5 s per run, 1 and 8 clients
    python -m bench.throughput -T 30 --clients 1,8,16

Prints a Markdown table (machine, date) and writes JSON to ``bench/out/``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import (
    POINT_SELECT,
    PgbenchResult,
    Target,
    askgres_server,
    check_tools,
    fmt,
    machine,
    result_dict,
    run_pgbench,
    table,
    write_json,
    write_script,
)
from bench.pg_reference import free_port, pg_reference
from bench.wire_floor import floor_server

BACKEND_DB = {"sqlite": "chinook", "duckdb": "chinook_duckdb"}


def build_data(data_dir: Path) -> Path:
    """Build the demo where ``askgres serve`` will find it; return its SQLite file."""
    from connectors.chinook import build_demo

    dbs = build_demo(data_dir / "demo")
    return next(Path(db.path) for db in dbs if db.kind == "sqlite")


def bench_all(
    *,
    modes: list[str],
    clients: list[int],
    backends: list[str],
    duration_s: int,
    warmup_s: int,
    postgres: bool = True,
    script: str = POINT_SELECT,
    workers: Sequence[int] = (1,),
    floor: Sequence[int] = (),
) -> list[PgbenchResult]:
    """Every (target, mode, clients) combination, PostgreSQL first; askgres once per
    ``workers`` count (targets ``askgres-sqlite``, ``askgres-sqlite-w2``...)."""
    results: list[PgbenchResult] = []
    with tempfile.TemporaryDirectory(prefix="askgres-bench-") as tmp:
        work = Path(tmp)
        script_path = write_script(work, script)
        sqlite_path = build_data(work / "data")

        def run_target(target: Target) -> None:
            for mode in modes:
                if warmup_s:
                    run_pgbench(target, script_path, clients=min(clients), mode=mode, duration_s=warmup_s)
                for c in clients:
                    r = run_pgbench(target, script_path, clients=c, mode=mode, duration_s=duration_s)
                    results.append(r)
                    sys.stderr.write(f"  {r.target:<22} {mode:<9} c={c:<3} tps={fmt(r.tps, '.0f')} {r.error or ''}\n")

        if postgres:
            with pg_reference(sqlite_path) as pg:
                run_target(Target.from_pg("postgresql-15", pg))
        for n in floor:
            port = free_port()
            with floor_server(sqlite_path, port, n) as pid:
                run_target(Target("python-floor" + ("" if n == 1 else f"-p{n}"), "127.0.0.1", port, "floor", "chinook",
                                  pid=pid))
        for n in workers:
            suffix = "" if n == 1 else f"-w{n}"
            with askgres_server(data_dir=work / "data", env={"ASKGRES_WORKERS": str(n)}) as (host, port, proc):
                for backend in backends:
                    run_target(Target(f"askgres-{backend}{suffix}", host, port, "askgres", BACKEND_DB[backend],
                                      pid=proc.pid))
    return results


def ratio_rows(results: list[PgbenchResult], *, target_ratio: float | None = None) -> list[list[str]]:
    """Table rows; askgres rows carry tps relative to PostgreSQL in the same mode and clients."""
    ref = {(r.mode, r.clients): r for r in results if r.target.startswith("postgresql")}
    rows: list[list[str]] = []
    for r in results:
        base = ref.get((r.mode, r.clients))
        ratio = r.tps / base.tps if (r.tps and base and base.tps and base is not r) else None
        row = [r.target, r.mode, str(r.clients), fmt(r.tps, ",.0f"), fmt(r.latency_ms, ".3f"),
               fmt(r.server_cpu_us, ".0f"), "" if base is r else fmt(ratio, ".2f") + "x"]
        if target_ratio is not None:
            row.append("" if base is r or ratio is None else ("yes" if ratio >= target_ratio else "NO"))
        if r.error:
            row[3] = "error"
        rows.append(row)
    return rows


def report(name: str, results: list[PgbenchResult], args: dict[str, Any], *, target_ratio: float | None = None) -> str:
    info = machine()
    headers = ["server", "mode", "clients", "tps", "avg latency (ms)", "server CPU µs/tx", "vs PostgreSQL"]
    if target_ratio is not None:
        headers.append(f">= {target_ratio}x")
    text = (
        f"{info['date']} · {info['cpu']} · {info['cores']} cores · {info['memory']} · {info['pgbench']} · "
        f"-T {args['duration_s']} s, point select by primary key on Track\n\n"
        + table(headers, ratio_rows(results, target_ratio=target_ratio))
    )
    errors = [f"{r.target} {r.mode} c={r.clients}: {r.error}" for r in results if r.error]
    if errors:
        text += "\n\nerrors:\n" + "\n".join(errors)
    path = write_json(name, {"machine": info, "args": args, "results": [result_dict(r) for r in results]})
    return text + f"\n\n(JSON: {path})"


def _csv(kind: type, text: str) -> list[Any]:
    return [kind(x) for x in text.split(",") if x]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-T", "--duration", type=int, default=5, help="seconds per pgbench run (default 5)")
    p.add_argument("--clients", default="1,8", help="comma-separated client counts (default 1,8)")
    p.add_argument("--backends", default="sqlite,duckdb", help="askgres backends (default sqlite,duckdb)")
    p.add_argument("--warmup", type=int, default=1, help="seconds of unrecorded warm-up per target and mode")
    p.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL reference")
    p.add_argument("--workers", default="1", help="askgres worker processes, comma-separated (default 1)")
    a = p.parse_args(argv)
    check_tools()
    args = {"duration_s": a.duration, "clients": _csv(int, a.clients), "backends": _csv(str, a.backends),
            "modes": ["simple"], "warmup_s": a.warmup, "workers": _csv(int, a.workers)}
    results = bench_all(modes=args["modes"], clients=args["clients"], backends=args["backends"],
                        duration_s=a.duration, warmup_s=a.warmup, postgres=not a.no_postgres,
                        workers=args["workers"])
    sys.stdout.write(report("throughput", results, args) + "\n")


if __name__ == "__main__":
    main()
