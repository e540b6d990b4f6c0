"""Demo wall time per simulated day (issue 6): the on-chain demo (`keeper.demo.run_demo`) on a fresh
embedded anvil — simulator, arbitrage, depositors and the real keeper service — for a few days.

    .venv/bin/python bench/demo.py [--days 3] [--seed 7]

Prints the wall time per simulated day (median and max over the days) and per hourly step, and the
ratio to the keeper's own share of a step (`Service.run_cycle`: read, risk, decide, send, journal) —
the rest is the simulated market driving the chain.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from keeper.demo.config import DemoConfig
from keeper.demo.engine import run_demo
from keeper.demo.node import connect


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--network", default="ethereum:local:foundry")
    args = ap.parse_args()

    from keeper import service as service_module

    cycle_sec: list[float] = []
    original = service_module.Service.run_cycle

    def timed(self, *a, **kw):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return original(self, *a, **kw)
        finally:
            cycle_sec.append(time.perf_counter() - t0)

    service_module.Service.run_cycle = timed  # type: ignore[method-assign]
    from ape.logging import LogLevel, logger

    logger.set_level(LogLevel.ERROR)
    cfg = DemoConfig(days=args.days, seed=args.seed)
    with connect(args.network), tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        result = run_demo(cfg, Path(out))
        total = time.perf_counter() - t0
    days = result.day_wall_sec
    steps = len(result.steps)
    t = Table(title=f"Demo wall time ({args.days} simulated days, hourly, seed {args.seed})")
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_row("total wall time", f"{total:.1f} s (deploy included)")
    t.add_row("per simulated day (median / max)", f"{statistics.median(days):.2f} s / {max(days):.2f} s")
    t.add_row("per hourly step", f"{sum(days) / steps * 1000:.0f} ms")
    keeper_ms = statistics.mean(cycle_sec) * 1000 if cycle_sec else float("nan")
    t.add_row("of which the keeper cycle (mean)", f"{keeper_ms:.0f} ms")
    t.add_row("keeper share of a step", f"{keeper_ms / (sum(days) / steps * 1000):.0%}")
    t.add_row("30-day demo, projected", f"{statistics.median(days) * 30 / 60:.1f} min")
    Console().print(t)


if __name__ == "__main__":
    main()
