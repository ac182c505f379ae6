"""pgbench in every query mode: ``-M simple``, ``extended`` and ``prepared``, 1, 8 and 32
clients, askgres against PostgreSQL 15 on the same Chinook data, point select by primary
key. The target (issue 5): askgres at least 0.5x PostgreSQL's tps with 8 clients, in every
mode.

    python -m bench.pgbench_modes                 # -T 5 s per run, askgres on SQLite, 1 and 2 workers
    python -m bench.pgbench_modes -T 20 --backends sqlite,duckdb
    python -m bench.pgbench_modes --modes prepared --clients 8 --floor 1,2   # with the Python floor

Prints a Markdown table (tps, average latency, the server's CPU time per transaction,
ratio, target met) and writes JSON to
``bench/out/``. Exits 1 when the 8-client target is missed (``--check``).
"""

from __future__ import annotations

import argparse
import sys

from bench.common import check_tools
from bench.throughput import _csv, bench_all, report

TARGET_RATIO = 0.5
TARGET_CLIENTS = 8


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-T", "--duration", type=int, default=5, help="seconds per pgbench run (default 5)")
    p.add_argument("--modes", default="simple,extended,prepared", help="pgbench -M modes")
    p.add_argument("--clients", default="1,8,32", help="comma-separated client counts (default 1,8,32)")
    p.add_argument("--backends", default="sqlite", help="askgres backends (default sqlite; sqlite,duckdb for both)")
    p.add_argument("--warmup", type=int, default=1, help="seconds of unrecorded warm-up per target and mode")
    p.add_argument("--workers", default="1,2",
                   help="askgres worker processes (setting `workers`), comma-separated (default 1,2)")
    p.add_argument("--floor", default="",
                   help="also run bench/wire_floor.py (the least a Python server does per transaction) "
                        "with these process counts, e.g. 1,2")
    p.add_argument("--check", action="store_true", help=f"exit 1 unless every {TARGET_CLIENTS}-client run reaches {TARGET_RATIO}x")
    a = p.parse_args(argv)
    check_tools()
    args = {"duration_s": a.duration, "clients": _csv(int, a.clients), "backends": _csv(str, a.backends),
            "modes": _csv(str, a.modes), "warmup_s": a.warmup, "target_ratio": TARGET_RATIO,
            "workers": _csv(int, a.workers), "floor": _csv(int, a.floor)}
    results = bench_all(modes=args["modes"], clients=args["clients"], backends=args["backends"],
                        duration_s=a.duration, warmup_s=a.warmup, workers=args["workers"], floor=args["floor"])
    sys.stdout.write(report("pgbench_modes", results, args, target_ratio=TARGET_RATIO) + "\n")
    if a.check:
        ref = {(r.mode, r.clients): r.tps for r in results if r.target.startswith("postgresql")}
        missed = [
            r for r in results
            if r.target.startswith("askgres") and r.clients == TARGET_CLIENTS
            and not (r.tps and ref.get((r.mode, r.clients)) and r.tps >= TARGET_RATIO * ref[(r.mode, r.clients)])
        ]
        if missed:
            sys.stdout.write(f"target missed: {', '.join(f'{r.target}/{r.mode}' for r in missed)}\n")
            raise SystemExit(1)


if __name__ == "__main__":
    main()
