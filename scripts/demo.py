"""Keel demo: a simulated month of an ETH market on a local chain, with the real keeper managing the vault.

    make demo                                   # 30 days, hourly, seed 7, a -25% stress day
    ape run demo --days 7 --seed 3              # (the network defaults to ethereum:local:foundry)
    ape run demo --prices my-eth-history.csv --days 60
    ape run demo --network ethereum:local:foundry -- --days 3   # options after `--` work too

It starts an embedded anvil, deploys the market and the vault (as scripts/deploy.py does), and drives
the chain one step at a time: oracle rounds (spot, implied vol, funding) from keeper.sim (or the CSV's
closes), an arbitrageur keeping Uniswap on the oracle, the option venue listing and settling series,
depositors depositing, withdrawing and queueing redemptions — and the keeper service acting on chain
(reader → risk → policy → sender with an encrypted-keystore signer → journal). At the end it prints a
summary and writes out/report.html, out/journal.sqlite, out/deployment.json, out/demo_summary.json and
out/steps.csv. The engine is `keeper.demo.run_demo` (tests and benchmarks call it directly).
"""

from __future__ import annotations

import logging
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

# The demo of this checkout: its own `keeper` package first (ape drops the project folder from sys.path
# while it loads scripts, and an installed `keeper` may belong to another checkout).
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path[:1]:
    sys.path.insert(0, str(ROOT))


def _options(f: Any) -> Any:
    options = [
        click.option(
            "--network", default="ethereum:local:foundry", show_default=True, help="ape network choice"
        ),
        click.option(
            "--days", type=click.IntRange(1, 366), default=None, help="simulated days [default: 30]"
        ),
        click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None, help="seed [default: 7]"),
        click.option(
            "--prices",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            default=None,
            help="drive spot from this daily OHLCV CSV (Date, Close columns) instead of the simulator",
        ),
        click.option(
            "--start",
            type=click.DateTime(formats=["%Y-%m-%d"]),
            default=None,
            help="first day of the CSV to use [default: the last --days days]",
        ),
        click.option(
            "--shock-day",
            type=float,
            default=None,
            help="day the stress episode starts [default: 40% into the run]",
        ),
        click.option(
            "--shock/--no-shock",
            default=None,
            help="the stress episode (-25% day, IV x1.8, negative funding) [default: on, off with --prices]",
        ),
        click.option(
            "--out",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="output folder [default: out]",
        ),
        click.option(
            "--steps-tracing",
            is_flag=True,
            default=None,
            help="start anvil with step tracing, as ape usually does (about 4x slower)",
        ),
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


@click.command(name="options", add_help_option=False)
@_options
def _parse_extra(**kw: Any) -> dict[str, Any]:
    return kw


@click.command(short_help="Run the Keel demo (simulated market, real keeper, report in out/)")
@_options
@click.argument("extra", nargs=-1, type=click.UNPROCESSED)
def cli(extra: tuple[str, ...], **kw: Any) -> None:
    """Run the Keel demo on an embedded anvil and write the report to out/."""
    if extra:  # `ape run demo -- --days 3`: the options came after `--`
        more = _parse_extra.main(args=list(extra), standalone_mode=False, prog_name="demo")
        kw |= {k: v for k, v in more.items() if v is not None}
    run(**kw)


def run(
    network: str,
    days: int | None,
    seed: int | None,
    prices: Path | None,
    start: datetime | None,
    shock_day: float | None,
    shock: bool | None,
    out: Path | None,
    steps_tracing: bool | None,
) -> None:
    from ape.logging import LogLevel, logger

    from keeper.demo import DemoConfig, run_demo
    from keeper.demo.node import connect
    from keeper.demo.report import print_summary

    console = Console(width=max(120, shutil.get_terminal_size((120, 40)).columns))
    cfg = DemoConfig(
        days=days if days is not None else 30,
        seed=seed if seed is not None else 7,
        prices_csv=prices,
        csv_start=start.date() if start is not None else None,
        shock=shock,
        shock_day=shock_day,
    )
    out_dir = out if out is not None else Path("out")
    logger.set_level(LogLevel.WARNING)  # the progress bar and the tables say what happens
    out_dir.mkdir(parents=True, exist_ok=True)
    # the keeper's own log lines (sends, simulation failures, oracle notes) go to a file, not the screen
    handler = logging.FileHandler(out_dir / "keeper.log", mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    keeper_log = logging.getLogger("keeper")
    keeper_log.addHandler(handler)
    keeper_log.setLevel(logging.INFO)
    keeper_log.propagate = False
    source = f"history {prices}" if prices else f"simulator, seed {cfg.seed}"
    console.rule("[bold]Keel demo")
    console.print(f"{cfg.days} days × {cfg.steps_per_day} steps, {source}; output in {out_dir}/")
    with connect(network, steps_tracing=bool(steps_tracing)):
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        task = None
        day_wall = [0.0]

        def on_step(s: Any, n: int) -> None:
            nonlocal task
            if task is None:
                task = progress.add_task("simulating", total=n, info="")
            info = (
                f"day {s.day:5.2f}  ETH {s.spot_usd:8,.0f}  NAV {s.nav_usd:12,.0f}  share {s.share_price:.5f}"
            )
            progress.update(task, completed=s.step, info=info)
            spd = cfg.steps_per_day
            day_wall[0] += s.wall_sec
            if s.step % spd == 0 or s.step == n:
                wall, day_wall[0] = day_wall[0], 0.0
                steps = spd if s.step % spd == 0 else s.step % spd
                progress.console.print(
                    f"[dim]day {int((s.step - 1) // spd) + 1:>3}  {wall:5.1f} s  {wall / steps:.2f} s/step │ "
                    f"ETH {s.spot_usd:6,.0f}  IV {s.iv * 100:3.0f}%  funding {s.funding_8h * 1e4:+4.1f}bp │ "
                    f"NAV {s.nav_usd:10,.0f}  share {s.share_price:.5f}  delta {s.net_delta_eth:+5.2f} ETH"
                )

        console.print("[dim]deploying the market and the vault…")
        with progress:
            result = run_demo(cfg, out_dir, on_step=on_step)
    print_summary(console, result)
    for name, path in {**result.files, "keeper log": out_dir / "keeper.log"}.items():
        console.print(f"  {name:<11} {path}")
