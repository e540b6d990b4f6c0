"""The `keeper` command line."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from web3 import Web3

from keeper import __version__
from keeper.assess import assess
from keeper.chain.actions import label
from keeper.chain.reader import ChainReadError, read_snapshot, read_vault
from keeper.chain.rpc import fast_web3
from keeper.models import VaultState
from keeper.risk import RiskReport
from keeper.snapshot import Snapshot

WAD = 10**18


def _fail(message: str) -> None:
    click.echo(f"keeper: {message}", err=True)
    sys.exit(2)


def render_status(state: VaultState) -> Table:
    t = Table(title=f"KeelVault {state.address} at block {state.block}", show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value", justify="right")
    h = state.assets_human
    rows = [
        ("share price", f"{state.share_price:.6f}"),
        ("total assets", f"{h(state.total_assets):,.6f}"),
        ("idle / liquid", f"{h(state.idle_assets):,.6f} / {h(state.liquid_assets):,.6f}"),
        ("total supply (shares)", f"{state.total_supply / 10**state.share_decimals:,.6f}"),
        ("high-water mark", f"{state.high_water_mark_wad / 1e18:.6f}"),
        ("fees (mgmt / perf)", f"{state.management_fee_bps} bps / {state.performance_fee_bps} bps"),
        ("pending fee shares", f"{state.pending_fee_shares / 10**state.share_decimals:,.6f}"),
        ("deposit cap", f"{h(state.deposit_cap):,.2f}"),
        ("deposits", "paused" if state.deposits_paused else "open"),
        ("shutdown", "yes" if state.shutdown else "no"),
        ("queued shares", f"{state.queued_shares / 10**state.share_decimals:,.6f}"),
        ("queue (head, tail)", f"{state.queue_head}, {state.queue_tail}"),
        ("claimable", f"{h(state.total_claimable):,.6f}"),
    ]
    for leg, value in zip(state.legs, state.leg_values, strict=True):
        rows.append((f"leg {leg}", f"{h(value):,.6f}"))
    for k, v in rows:
        t.add_row(k, v)
    return t


@click.group()
@click.version_option(__version__, prog_name="keeper")
def main() -> None:
    """Keel keeper: reads the vault, decides and keeps it inside its risk limits."""


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, help="Keeper YAML.")
@click.option("--rpc-url", envvar="KEEL_RPC_URL", default=None, help="JSON-RPC endpoint (env KEEL_RPC_URL).")
@click.option("--vault", "vault_address", envvar="KEEL_VAULT", default=None, help="KeelVault address.")
@click.option("--block", type=click.IntRange(min=0), default=None, help="Block to read (default: latest).")
@click.option("--json", "as_json", is_flag=True, help="Print the snapshot as JSON instead of a table.")
def status(config_path: str | None, rpc_url: str | None, vault_address: str | None, block: int | None,
           as_json: bool) -> None:  # fmt: skip
    """The vault (NAV, share price, liquidity, fees, legs, exit queue) and, once its legs are wired, the
    book: positions, Greeks, margin and leverage, oracle verdicts and ages, the rebalance trigger."""
    _, w3, vault = _connect(config_path, rpc_url, vault_address)
    try:
        state = read_vault(w3, vault, block)
    except ChainReadError as exc:
        _fail(str(exc))
    try:
        snap: Snapshot | None = read_snapshot(w3, vault, state.block)
    except ChainReadError:
        snap = None  # a vault without its strategy legs: the vault table alone
    risk = assess(snap) if snap is not None else None
    if as_json:
        out = state.model_dump(mode="json")
        if snap is not None and risk is not None:
            out |= {"snapshot": snap.model_dump(mode="json"), "risk": risk.model_dump(mode="json")}
        click.echo(json.dumps(out, indent=2))
        return
    console = Console()
    console.print(render_status(state))
    if snap is not None and risk is not None:
        console.print(render_book(snap, risk))


# =====================================================================================================
# the full snapshot: status, risk, plan, run
# =====================================================================================================


def _connect(config_path: str | None, rpc_url: str | None, vault: str | None) -> tuple[Any, Web3, str]:
    """(config or None, web3, vault address) from --config and/or --rpc-url/--vault."""
    from keeper.config import ConfigError, load_config

    cfg = None
    if config_path is not None:
        overrides = {k: v for k, v in (("rpc_url", rpc_url), ("vault", vault)) if v is not None}
        try:
            cfg = load_config(Path(config_path), **overrides)
        except ConfigError as exc:
            _fail(f"config: {exc}")
        rpc_url, vault = cfg.rpc_url, cfg.vault
    if rpc_url is None:
        _fail("--rpc-url (or KEEL_RPC_URL, or --config) is required")
    if vault is None or not Web3.is_address(vault):
        _fail(f"--vault: {vault!r} is not an address")
    w3 = fast_web3(rpc_url)
    return cfg, w3, Web3.to_checksum_address(vault)


def _snapshot(w3: Web3, vault: str, block: int | None) -> Snapshot:
    try:
        return read_snapshot(w3, vault, block)
    except ChainReadError as exc:
        _fail(str(exc))
    except Exception as exc:
        _fail(f"cannot read the vault: {str(exc).splitlines()[0]}")
    raise AssertionError("unreachable")


_COMMON = [
    click.option(
        "--config", "config_path", type=click.Path(dir_okay=False), default=None, help="Keeper YAML."
    ),
    click.option(
        "--rpc-url", envvar="KEEL_RPC_URL", default=None, help="JSON-RPC endpoint (env KEEL_RPC_URL)."
    ),
    click.option("--vault", "vault_address", envvar="KEEL_VAULT", default=None, help="KeelVault address."),
    click.option(
        "--block", type=click.IntRange(min=0), default=None, help="Block to read (default: latest)."
    ),
]


def _common(f: Any) -> Any:
    for opt in reversed(_COMMON):
        f = opt(f)
    return f


def render_book(snap: Snapshot, risk: RiskReport) -> Table:
    t = Table(title=f"Keel vault {snap.vault.address} at block {snap.block}", show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value", justify="right")
    u = snap.usd
    g = risk.greeks
    rows = [
        ("NAV / share price", f"{u(snap.book.nav_assets):,.2f} / {snap.vault.share_price:.6f}"),
        ("idle / liquid", f"{u(snap.vault.idle_assets):,.2f} / {u(snap.vault.liquid_assets):,.2f}"),
        ("spot leg", f"{snap.spot.weth_wad / WAD:,.4f} ETH = {u(snap.spot.value_assets):,.2f}"),
        ("perp leg", f"{snap.perp.size_wad / WAD:,.4f} ETH, equity {u(snap.perp.equity_assets):,.2f}"),
        ("option leg", f"{len(snap.options.positions)} positions = {u(snap.options.value_assets):,.2f}"),
        ("net delta", f"{g.net_delta_eth:+.4f} ETH ({g.net_delta_usd:+,.0f} USD)"),
        (
            "gamma / vega / theta",
            f"{g.gamma_usd_per_1pct:+,.1f} $/1% · {g.vega_usd_per_vol_point:+,.1f} $/vol pt · "
            f"{g.theta_usd_per_day:+,.1f} $/day",
        ),
        ("margin ratio", "—" if risk.perp_margin_ratio is None else f"{risk.perp_margin_ratio:.3f}"),
        (
            "liquidation price",
            "—" if risk.liquidation_price_usd is None else f"{risk.liquidation_price_usd:,.2f}",
        ),
        ("leverage (gross / NAV)", f"{snap.book.gross_exposure_assets / max(snap.book.nav_assets, 1):.3f}"),
        ("scenario worst loss", f"{risk.scenario_worst_loss_usd:,.2f}"),
        (
            "insurance fund",
            f"{u(snap.insurance.reserve_assets):,.2f} (target {u(snap.insurance.target_assets):,.2f})",
        ),
    ]
    for o in (snap.spot_oracle, snap.iv_oracle, snap.funding_oracle):
        rows.append((f"oracle {o.name}", f"{o.value:,.6g} · {o.verdict.name} · age {o.age_sec}s"))
    rows.append(("trigger", f"{'needed' if snap.trigger_needed else 'none'} (reason {snap.trigger_reason})"))
    rows.append(("action nonce", str(snap.action_nonce)))
    rows.append(
        (
            "exit queue",
            f"{snap.vault.queue_tail - snap.vault.queue_head} waiting, {u(snap.queued_assets):,.2f}",
        )
    )
    for k, v in rows:
        t.add_row(k, v)  # fmt: skip
    return t


@main.command("book")
@_common
@click.option("--json", "as_json", is_flag=True, help="Print the snapshot and risk as JSON.")
def book_cmd(config_path: str | None, rpc_url: str | None, vault_address: str | None, block: int | None,
             as_json: bool) -> None:  # fmt: skip
    """The readable table: positions, Greeks, ratios, oracle ages and the trigger."""
    _, w3, vault = _connect(config_path, rpc_url, vault_address)
    snap = _snapshot(w3, vault, block)
    risk = assess(snap)
    if as_json:
        out = {"snapshot": snap.model_dump(mode="json"), "risk": risk.model_dump(mode="json")}
        click.echo(json.dumps(out, indent=2))
    else:
        Console().print(render_book(snap, risk))


@main.command("risk")
@_common
@click.option("--paths", type=click.IntRange(1_000, 1_000_000), default=20_000, help="Monte Carlo paths.")
@click.option("--seed", type=int, default=0, help="Monte Carlo seed.")
def risk_cmd(config_path: str | None, rpc_url: str | None, vault_address: str | None, block: int | None,
             paths: int, seed: int) -> None:  # fmt: skip
    """The scenario grid (spot × vol shocks) and VaR/ES (Student-t Monte Carlo at the IV feed's vol)."""
    from keeper.assess import implied_vol, portfolio
    from keeper.risk import monte_carlo_var_es, scenario_grid

    _, w3, vault = _connect(config_path, rpc_url, vault_address)
    snap = _snapshot(w3, vault, block)
    book, market = portfolio(snap)
    grid = scenario_grid(book, market)
    t = Table(title=f"Scenario P&L (USD) at block {snap.block}, spot {market.spot_usd:,.2f}")
    t.add_column("vol \\ spot")
    for m in grid.spot_moves:
        t.add_column(f"{float(m):+.0%}", justify="right")
    for i, state in enumerate(grid.vol_states):
        t.add_row(state, *(f"{float(x):+,.0f}" for x in grid.pnl_usd[i]))
    for m, pnl, w in zip(grid.tail_moves, grid.tail_pnl_usd, grid.tail_weights, strict=True):
        t.add_row(f"tail {float(m):+.0%} (×{float(w):g})", f"{float(pnl):+,.0f}")
    click.echo(f"worst loss (maintenance requirement): {grid.worst_loss_usd:,.2f} USD")
    Console().print(t)
    daily = implied_vol(snap) / 365**0.5
    v = Table(title=f"VaR / ES (daily vol {daily:.2%}, {paths:,} paths)")
    for c in ("horizon", "VaR 99%", "ES 97.5%"):
        v.add_column(c, justify="right")
    for h in (1, 7):
        r = monte_carlo_var_es(book, market, h, daily_vol=daily, n_paths=paths, seed=seed)
        v.add_row(f"{h}d", f"{r.var99_usd:,.2f}", f"{r.es975_usd:,.2f}")
    Console().print(v)


@main.command("plan")
@_common
@click.option("--json", "as_json", is_flag=True, help="Print the actions as JSON.")
def plan_cmd(config_path: str | None, rpc_url: str | None, vault_address: str | None, block: int | None,
             as_json: bool) -> None:  # fmt: skip
    """Dry run: the actions the keeper would send now, with reasons and figures. Sends nothing."""
    from keeper.policy import PolicyConfig, decide_with_notes

    cfg, w3, vault = _connect(config_path, rpc_url, vault_address)
    snap = _snapshot(w3, vault, block)
    risk = assess(snap)
    decision = decide_with_notes(snap, risk, cfg.policy if cfg is not None else PolicyConfig())
    if as_json:
        click.echo(decision.model_dump_json(indent=2))
        return
    t = Table(
        title=f"Plan at block {snap.block} (nonce {snap.action_nonce}): {len(decision.actions)} actions"
    )
    for c in ("#", "action", "reason", "figures"):
        t.add_column(c)
    for i, a in enumerate(decision.actions):
        figs = ", ".join(f"{k}={v:.6g}" for k, v in a.figures.items())
        t.add_row(str(i), label(a), a.reason, figs)
    Console().print(t)
    for n in decision.notes:
        click.echo(f"note: {n}")


@main.command("run")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), required=True, help="Keeper YAML.")
@click.option("--max-cycles", type=click.IntRange(min=1), default=None, help="Stop after N cycles.")
def run_cmd(config_path: str, max_cycles: int | None) -> None:
    """Run the keeper: every new block, snapshot → risk → decide → send → journal (SIGINT/SIGTERM stop it)."""
    from keeper.runner import build_service

    try:
        service = build_service(Path(config_path))
    except ValueError as exc:
        _fail(str(exc).splitlines()[0])
    sys.exit(service.run(max_cycles=max_cycles))


def _parse_sweep(values: tuple[str, ...]) -> dict[str, list[float]]:
    from keeper.policy import PolicyConfig

    out: dict[str, list[float]] = {}
    for text in values:
        name, sep, rest = text.partition("=")
        name = name.strip()
        if not sep or name not in PolicyConfig.model_fields:
            _fail(f"--sweep {text!r}: expected FIELD=v1,v2,... with FIELD a PolicyConfig field")
        try:
            out[name] = [float(x) for x in rest.split(",") if x.strip()]
        except ValueError:
            _fail(f"--sweep {text!r}: values must be numbers")
        if not out[name]:
            _fail(f"--sweep {text!r}: no values")
    return out


@main.command("backtest")
@click.option("--paths", "n_paths", type=click.IntRange(1, 100_000), default=20, help="Simulated paths.")
@click.option("--days", type=click.IntRange(1, 3_650), default=30, help="Days per path.")
@click.option("--seed", type=click.IntRange(0, 2**62), default=0, help="Seed of path 1 (then +1 each).")
@click.option("--steps-per-day", type=click.IntRange(1, 96), default=24, help="Steps a day (24 = hourly).")
@click.option(
    "--prices",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Daily OHLCV CSV: one path over its last --days days instead of simulated paths.",
)
@click.option("--sweep", multiple=True, help="FIELD=v1,v2 of the policy config (repeatable: the grid).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out/backtest"),
    help="Output directory.",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def backtest_cmd(n_paths: int, days: int, seed: int, steps_per_day: int, prices: Path | None,
                 sweep: tuple[str, ...], out_dir: Path, no_progress: bool) -> None:  # fmt: skip
    """The keeper's policy off chain over seeded paths (or a CSV history): returns, drawdown, hedge error
    and cost, liquidations, insurance use; results.csv, summary.csv and PNGs in --out."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from keeper.backtest import run_backtest, simulate_paths
    from keeper.backtest.report import write_plots, write_results_csv, write_summary_csv
    from keeper.policy import PolicyConfig

    sweeps = _parse_sweep(sweep)
    policy = PolicyConfig()
    if prices is not None:
        from keeper.demo import DemoConfig, market_path

        paths = [(seed, market_path(DemoConfig(days=days, seed=seed, prices_csv=prices,
                                               steps_per_day=steps_per_day)))]  # fmt: skip
    else:
        paths = simulate_paths(n_paths, days, seed, steps_per_day)
    out_dir.mkdir(parents=True, exist_ok=True)
    total = len(paths) * math.prod(len(v) for v in sweeps.values())
    with Progress(TextColumn("backtest"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  disable=no_progress) as bar:  # fmt: skip
        task = bar.add_task("paths", total=total)
        results = run_backtest(
            paths, policy, sweeps=sweeps, progress=lambda d, _t: bar.update(task, completed=d)
        )
    write_results_csv(out_dir / "results.csv", results)
    rows = write_summary_csv(out_dir / "summary.csv", results)
    pngs = write_plots(out_dir, results)
    t = Table(title=f"Backtest: {len(paths)} path(s) × {total // len(paths)} config(s), {days} days")
    for c in ("config", "APY mean", "APY p5", "max DD p95", "hedge err/step", "hedge cost", "liq."):
        t.add_column(c)
    for r in rows:
        t.add_row(str(r["config"]), f"{r['apy_mean']:.2%}", f"{r['apy_p5']:.2%}",
                  f"{r['max_drawdown_p95']:.2%}",
                  f"{r['hedge_error_usd_mean']:,.0f}", f"{r['hedge_cost_usd_mean']:,.0f}",
                  f"{r['liquidations_mean']:.2f}")  # fmt: skip
    Console().print(t)
    for f in [out_dir / "results.csv", out_dir / "summary.csv", *pngs]:
        click.echo(f"wrote {f}")


@main.command("replay")
@click.option("--fork-url", required=True, help="The chain to audit (an archive node; anvil forks it).")
@click.option(
    "--from-block",
    type=click.IntRange(min=0),
    default=None,
    help="First block (the fork point). Default: the journal's first cycle.",
)
@click.option(
    "--to-block",
    type=click.IntRange(min=0),
    default=None,
    help="Last block. Default: the journal's last cycle.",
)
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="The keeper's journal. Without it: reconstruct from chain state alone.",
)
@click.option("--vault", "vault_address", default=None, help="KeelVault address (default: the journal's).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Policy config (YAML/JSON; a keeper config's `policy:` or the policy itself). "
    "Default: policy.json next to the journal, else the defaults.",
)
@click.option(
    "--every",
    type=click.IntRange(min=1),
    default=None,
    help="Without a journal: also decide every N blocks and list what the keeper would do.",
)
@click.option("--rel-tol", type=float, default=1e-9, show_default=True, help="Relative tolerance for floats.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    default="out/replay.json",
    show_default=True,
    help="The diff report (JSON; a readable .md is written beside it).",
)
def replay_cmd(fork_url: str, from_block: int | None, to_block: int | None, journal_path: str | None,
               vault_address: str | None, config_path: str | None, every: int | None, rel_tol: float,
               report_path: str) -> None:  # fmt: skip
    """The auditor's replay: on anvil forked from --fork-url (hardfork pinned), re-read each journaled
    cycle's snapshot at its block, re-run risk and the policy, compare with the journal's figures and
    actions and with the transactions mined; print a verdict table, write a diff report. Exit 0 when
    nothing differs, 1 otherwise."""
    from keeper import replay as rp

    try:
        policy, source = rp.load_policy(config_path, journal_path)
    except Exception as exc:
        _fail(f"--config: {str(exc).splitlines()[0]}")
    if vault_address is not None and not Web3.is_address(vault_address):
        _fail(f"--vault: {vault_address!r} is not an address")
    console = Console(stderr=True)
    console.print(f"policy: {source}")
    try:
        if journal_path is not None:
            report = rp.replay_journal(fork_url, journal_path, from_block, to_block, vault=vault_address,
                                       policy=policy, rel_tol=rel_tol)  # fmt: skip
        else:
            if from_block is None or to_block is None or vault_address is None:
                _fail("without --journal, --from-block, --to-block and --vault are required")
            report = rp.reconstruct(fork_url, vault_address, from_block, to_block, policy=policy, every=every)
    except (rp.JournalError, ValueError, RuntimeError, FileNotFoundError) as exc:
        _fail(str(exc).splitlines()[0])
    Console().print(render_replay(report))
    for p in report.journal_problems:
        click.echo(f"journal: {p}")
    json_path, md_path = rp.write_report(report, report_path)
    n = len(report.differences)
    click.echo(
        f"{len(report.cycles)} cycles, {n} differences"
        + (f" in cycles {report.differing_cycles}" if n else "")
        + f"; report: {json_path}, {md_path}"
    )
    sys.exit(0 if report.ok else 1)


def render_replay(report: Any) -> Table:
    mark = {True: "[green]✓[/]", False: "[red]✗[/]", None: "—"}
    blocks = f"{report.from_block}..{report.to_block}"
    t = Table(title=f"Replay ({report.mode}) of {report.vault}, blocks {blocks}")
    for c in ("cycle", "block", "snapshot", "risk", "actions", "mined", "decided"):
        t.add_column(c, justify="right" if c in ("cycle", "block") else "left")
    for v in report.cycles:
        t.add_row(str(v.cycle_id), str(v.block), *(mark[v.checks[k]] for k in ("snapshot", "risk", "actions",
                  "mined")), ", ".join(v.actions) or v.note or "")  # fmt: skip
    return t


if __name__ == "__main__":
    main()
