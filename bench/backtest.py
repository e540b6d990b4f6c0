"""Backtest throughput: paths per second of `keeper.backtest.run_path` (per step: the model's snapshot,
`keeper.assess.assess` (risk), `keeper.policy.decide`, applying the actions with the guard's checks)
on 30-day hourly simulated paths (720 steps each), one process.

Run: `python bench/backtest.py [--paths 4] [--days 30] [--seed 7]`. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import time

from keeper.backtest import run_path, simulate_paths
from keeper.policy import PolicyConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=4)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    paths = simulate_paths(args.paths, args.days, args.seed)
    policy = PolicyConfig()
    run_path(simulate_paths(1, 1, args.seed)[0][1], policy)  # warm-up (imports, caches)
    t = time.perf_counter()
    steps = 0
    for _, p in paths:
        steps += run_path(p, policy).steps
    sec = time.perf_counter() - t
    print(f"backtest: {args.paths} paths × {args.days} days hourly ({steps} steps) in {sec:.2f} s")
    print(
        f"backtest paths per second (policy + risk per step, {args.days}-day hourly): {args.paths / sec:.3f}"
    )
    print(f"backtest steps per second: {steps / sec:,.0f}  ({sec / steps * 1e3:.2f} ms per step)")


if __name__ == "__main__":
    main()
