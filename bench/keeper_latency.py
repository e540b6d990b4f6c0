"""Keeper decision latency: a snapshot in memory → its actions, for 1, 100 and 10,000 option positions.

Run with `make bench` (or `python bench/keeper_latency.py`). Pure: no chain, no I/O. Prints figures;
asserts nothing about time.

For each book size the snapshot comes from the pure-test factory (`tests/keeper/snapshot_factory.py`,
the same realistic, internally consistent snapshot the policy tests use): the default basis book
(100 ETH spot against a 100 ETH perp short, $200k idle) plus N open option positions — short capped
calls and short puts with a few longs, strikes ±30% around spot, expiries from 1 to 60 days, every
position its own series. What is timed, each run on the same snapshot:

- `assess(snapshot)`: snapshot → book → risk report (Greeks, perp margin, scenario grid, collateral);
- `decide(snapshot, risk, config)`: the policy (default `PolicyConfig`);
- the decision = both, one after the other (what the service does between reading and sending).

Median and p99 over the runs, the cost per position (median / N) and the marginal cost per position
over the 1-position book. The reference, in the same run on the same positions: the risk engine's
vectorized `portfolio_greeks` on an `OptionBook` already built (pure numpy over the option arrays,
no per-position Python), and its `scenario_grid` (full revaluation, the largest part of `assess`).
The ratio says how much the decision costs on top of the bare numerics. Also timed, interleaved with
each run: the risk report through `OptionPosition` models (`risk_report(*portfolio(snapshot))`, what
`assess` did before it built the `OptionBook` from arrays); it gives the same report float for float
(checked here, and in tests/keeper/test_assess.py).
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the test factory lives in tests/ (a package at the repo root)
    sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from keeper import assess as assess_mod  # noqa: E402
from keeper.assess import assess  # noqa: E402
from keeper.policy import PolicyConfig, decide  # noqa: E402
from keeper.positions import OptionBook  # noqa: E402
from keeper.risk import portfolio_greeks, risk_report, scenario_grid  # noqa: E402
from keeper.snapshot import Snapshot  # noqa: E402
from tests.keeper.snapshot_factory import make_series, make_snapshot  # noqa: E402

SIZES = (1, 100, 10_000)
SPOT = 3_000.0
# runs per size: enough for a p99 (≥ 100 runs), bounded so the whole bench stays within seconds
RUNS = {1: 2_000, 100: 1_000, 10_000: 100}
WARMUP = 3


def positions(n: int) -> list:
    """N open option positions, each its own series: mostly short capped calls and short puts
    (covered-call and cash-secured-put sellers), one in five long; strikes ±30% around spot in $25
    steps, expiries 1-60 days."""
    out = []
    for i in range(n):
        call = i % 2 == 0
        moneyness = 0.70 + 0.60 * ((i * 7919) % 1_000) / 1_000  # 0.70 .. 1.30, scattered
        strike = round(SPOT * moneyness / 25) * 25
        days = 1 + (i * 31) % 60
        size = 0.5 if i % 5 == 4 else -1.0 - (i % 3) * 0.5
        out.append(
            make_series(10_000 + i, call=call, strike=strike, cap=0.4 * SPOT, days=days, size_eth=size)
        )
    return out


def snapshot(n: int) -> Snapshot:
    return make_snapshot(spot_price=SPOT, positions=positions(n))


@dataclass(frozen=True)
class Timing:
    median_us: float
    p99_us: float

    @classmethod
    def of(cls, samples_ns: list[int]) -> Timing:
        s = sorted(samples_ns)
        p99 = s[min(len(s) - 1, int(0.99 * len(s)))]
        return cls(statistics.median(s) / 1e3, p99 / 1e3)


@dataclass(frozen=True)
class Result:
    n: int
    risk_options: int  # risk-model options (a capped call counts twice: long K, short K + cap)
    actions: str
    runs: int
    decision: Timing
    assess: Timing
    decide: Timing
    greeks: Timing
    grid: Timing
    models: Timing  # the risk report through OptionPosition models (the path assess used to take)


def _time(fn: Callable[[], object], runs: int) -> list[int]:
    for _ in range(WARMUP):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        fn()
        out.append(time.perf_counter_ns() - t0)
    return out


def measure(n: int, config: PolicyConfig) -> Result:
    snap = snapshot(n)
    runs = RUNS[n]
    first = decide(snap, assess(snap), config)
    gc.collect()

    if risk_report(*assess_mod.portfolio(snap)) != assess(snap):
        raise RuntimeError(f"{n} positions: assess differs from the models path")
    t_assess: list[int] = []
    t_decide: list[int] = []
    t_total: list[int] = []
    t_models: list[int] = []
    for i in range(runs + WARMUP):
        t0 = time.perf_counter_ns()
        risk = assess(snap)
        t1 = time.perf_counter_ns()
        actions = decide(snap, risk, config)
        t2 = time.perf_counter_ns()
        risk_report(*assess_mod.portfolio(snap))  # the models path, interleaved: same conditions
        t3 = time.perf_counter_ns()
        if i >= WARMUP:
            t_assess.append(t1 - t0)
            t_decide.append(t2 - t1)
            t_total.append(t2 - t0)
            t_models.append(t3 - t2)
    if actions != first:  # pure and deterministic: the same snapshot gives the same actions
        raise RuntimeError(f"{n} positions: the decision changed between runs")

    book, market = assess_mod.portfolio(snap)
    options = OptionBook.from_positions(book.options)  # built once, outside the timing
    t_greeks = _time(lambda: portfolio_greeks(options, market), runs)
    t_grid = _time(lambda: scenario_grid(options, market), runs)
    kinds = ", ".join(a.kind for a in first) or "none"
    return Result(
        n=n,
        risk_options=len(options),
        actions=kinds,
        runs=runs,
        decision=Timing.of(t_total),
        assess=Timing.of(t_assess),
        decide=Timing.of(t_decide),
        greeks=Timing.of(t_greeks),
        grid=Timing.of(t_grid),
        models=Timing.of(t_models),
    )


def _us(x: float) -> str:
    return f"{x / 1e3:,.2f} ms" if x >= 1_000 else f"{x:,.1f} µs"


def render(results: list[Result], console: Console) -> None:
    t = Table(title="Keeper decision latency: snapshot in memory → actions (assess + decide)")
    for col in ("positions", "risk options", "runs", "decision median", "decision p99", "per position",
                "marginal / position", "assess median", "decide median", "actions"):  # fmt: skip
        t.add_column(col, justify="left" if col == "actions" else "right")
    base = results[0]
    for r in results:
        marginal = (
            "-" if r.n == base.n else _us((r.decision.median_us - base.decision.median_us) / (r.n - base.n))
        )
        t.add_row(
            f"{r.n:,}",
            f"{r.risk_options:,}",
            f"{r.runs:,}",
            _us(r.decision.median_us),
            _us(r.decision.p99_us),
            _us(r.decision.median_us / r.n),
            marginal,
            _us(r.assess.median_us),
            _us(r.decide.median_us),
            r.actions,
        )
    console.print(t)

    p = Table(title="The pieces (median / p99) and the reference (same positions, same run)")
    for col in ("positions", "assess", "decide", "ref: portfolio_greeks", "ref: scenario_grid",
                "decision / greeks", "decision / grid", "assess via models", "models / assess"):  # fmt: skip
        p.add_column(col, justify="right")
    for r in results:
        p.add_row(
            f"{r.n:,}",
            f"{_us(r.assess.median_us)} / {_us(r.assess.p99_us)}",
            f"{_us(r.decide.median_us)} / {_us(r.decide.p99_us)}",
            f"{_us(r.greeks.median_us)} / {_us(r.greeks.p99_us)}",
            f"{_us(r.grid.median_us)} / {_us(r.grid.p99_us)}",
            f"{r.decision.median_us / r.greeks.median_us:,.1f}x",
            f"{r.decision.median_us / r.grid.median_us:,.2f}x",
            f"{_us(r.models.median_us)} / {_us(r.models.p99_us)}",
            f"{r.models.median_us / r.assess.median_us:,.2f}x",
        )
    console.print(p)


def main() -> int:
    console = Console(width=max(Console().width, 150))
    config = PolicyConfig()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    console.print(f"[dim]{os.cpu_count()} cores, load average {load} (wall-clock figures move with it)[/dim]")
    results = []
    for n in SIZES:
        t0 = time.perf_counter()
        results.append(measure(n, config))
        console.print(f"[dim]{n:,} positions measured in {time.perf_counter() - t0:.1f} s[/dim]")
    render(results, console)
    console.print(
        "decision = assess + decide on one in-memory snapshot (default PolicyConfig); "
        "per position = median / N; marginal = extra median per position over the 1-position book. "
        "References: keeper.risk.portfolio_greeks and scenario_grid on a prebuilt OptionBook; "
        "'assess via models' = risk_report(*portfolio(snapshot)), same report through OptionPosition models."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
