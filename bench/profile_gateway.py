"""Where the gateway spends its time under pgbench: py-spy samples every thread of a running
``askgres serve`` while pgbench runs the point-select script, then the hot spots are listed
(self time and inclusive time per function, and the heaviest call paths).

    python -m bench.profile_gateway                       # -M simple, 8 clients, 10 s, SQLite
    python -m bench.profile_gateway -M prepared --db chinook_duckdb -T 20

Needs ``py-spy`` (pip) and ptrace permission (root or CAP_SYS_PTRACE). Writes the collapsed
stacks (flamegraph input) and the summary to ``bench/out/``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

from bench.common import OUT_DIR, Target, askgres_server, check_tools, fmt, run_pgbench, table, write_script
from bench.throughput import build_data


def summarise(collapsed: str, *, top: int = 25) -> tuple[list[list[str]], list[list[str]], int]:
    """Self and inclusive sample counts per function from py-spy's raw (collapsed) output."""
    self_t: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    paths: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f for f in stack.split(";") if f]
        # drop the thread/process root frames py-spy adds
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        self_t[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
        paths[";".join(short(f) for f in frames[-4:])] += n

    def pct(n: int) -> str:
        return f"{100.0 * n / total:.1f}%" if total else "-"

    hot = [[pct(n), short(f)] for f, n in self_t.most_common(top)]
    inclusive = [[pct(n), short(f)] for f, n in incl.most_common(top)]
    return hot, inclusive, total


def short(frame: str) -> str:
    """``func (path/to/file.py:12)`` -> ``func (file.py:12)``."""
    if "(" in frame and frame.endswith(")"):
        name, _, where = frame.partition(" (")
        where = where[:-1]
        parts = where.split("/")
        keep = "/".join(parts[-2:]) if "site-packages" not in where else "/".join(parts[-2:])
        return f"{name} ({keep})"
    return frame


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-T", "--duration", type=int, default=10)
    p.add_argument("-M", "--mode", default="simple", choices=["simple", "extended", "prepared"])
    p.add_argument("-c", "--clients", type=int, default=8)
    p.add_argument("--db", default="chinook", help="chinook (SQLite) or chinook_duckdb")
    p.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    p.add_argument("--top", type=int, default=25)
    a = p.parse_args(argv)
    check_tools()
    pyspy = shutil.which("py-spy")
    if pyspy is None:
        raise SystemExit("py-spy not found: pip install py-spy")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    raw = OUT_DIR / f"profile-{a.db}-{a.mode}-c{a.clients}.collapsed"
    with tempfile.TemporaryDirectory(prefix="askgres-prof-") as tmp:
        work = Path(tmp)
        script = write_script(work)
        build_data(work / "data")
        with askgres_server(data_dir=work / "data") as (host, port, proc):
            target = Target(f"askgres-{a.db}", host, port, "askgres", a.db)
            run_pgbench(target, script, clients=a.clients, mode=a.mode, duration_s=2)  # warm-up
            spy = subprocess.Popen(
                [pyspy, "record", "--pid", str(proc.pid), "--duration", str(a.duration), "--rate", str(a.rate),
                 "--format", "raw", "--output", str(raw), "--nonblocking", "--threads"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
            result: dict[str, object] = {}
            bench = threading.Thread(
                target=lambda: result.update(r=run_pgbench(target, script, clients=a.clients, mode=a.mode, duration_s=a.duration))
            )
            bench.start()
            spy_out, _ = spy.communicate(timeout=a.duration + 120)
            bench.join()
    if spy.returncode != 0 or not raw.exists():
        raise SystemExit(f"py-spy failed ({spy.returncode}): {spy_out[-2000:]}")
    r = result["r"]
    hot, inclusive, total = summarise(raw.read_text(), top=a.top)
    text = (
        f"askgres {a.db}, pgbench -M {a.mode} -c {a.clients} -T {a.duration}: "
        f"tps {fmt(getattr(r, 'tps', None), ',.0f')}, latency {fmt(getattr(r, 'latency_ms', None), '.3f')} ms, "
        f"{total} samples\n\nself time (where the CPU is):\n\n" + table(["share", "function"], hot)
        + "\n\ninclusive time:\n\n" + table(["share", "function"], inclusive)
        + f"\n\n(collapsed stacks for a flamegraph: {raw})"
    )
    (raw.with_suffix(".txt")).write_text(text + "\n")
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
