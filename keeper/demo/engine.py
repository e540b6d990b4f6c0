"""`run_demo`: one vault's life on the connected (local, anvil) chain, with the real keeper service acting.

Setup: deploy the market and the vault (`keeper.chain.deploy.deploy_local`), give the arbitrageur its
inventory, seed the insurance fund, list the first call series, the depositors' first deposits; the
keeper key goes into an encrypted keystore and is loaded back the way `keeper run` loads it.

Then, for every step of the market path: the chain's time jumps one step; the funding index accrues;
spot / IV / funding rounds are published; the arbitrageur pulls the Uniswap pool to the oracle; once a
day the venue operator lists new series and settles expired ones; the depositors move; the keeper runs
one `Service.run_cycle()` (read → risk → decide → send → journal). The cycle's snapshot and risk report
give the step's figures.

At the end: the deployment JSON, the decision journal, the PnL attribution from events and state
(`keeper.demo.attribution`), the summary JSON and the HTML report (`keeper.demo.report`) in `out_dir`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry

from keeper.assess import option_cash_assets
from keeper.chain.deploy import Deployment, LocalConfig, deploy_local
from keeper.chain.keys import load_signer, write_keystore
from keeper.chain.reader import read_snapshot
from keeper.chain.rpc import KeepAliveHTTPProvider, RawRpc, fast_web3
from keeper.chain.sender import FeePolicy, Sender, TxIntent
from keeper.demo.attribution import (
    Attribution,
    EventDecoder,
    MarkPoint,
    attribute,
    fetch_logs,
    project_event_abis,
)
from keeper.demo.config import DemoConfig, market_path
from keeper.demo.depositors import Depositors
from keeper.demo.market import MarketDriver
from keeper.journal import CycleRecord, Journal
from keeper.metrics import Metrics
from keeper.policy import band_half_width_eth
from keeper.runner import project_error_abi
from keeper.service import Service
from keeper.sim import MarketPath

USDC = 10**6
WAD = 10**18
GWEI = 10**9
KEEPER_ALIAS = "keel-demo-keeper"
PASSPHRASE_ENV = "KEEL_DEMO_KEYSTORE_PASSPHRASE"

OUTPUT_FILES = (
    "report.html", "journal.sqlite", "policy.json", "deployment.json", "demo_summary.json", "steps.csv"
)  # fmt: skip


@dataclass
class StepRecord:
    """One step: the market point published and the keeper's view after it (before its actions)."""

    step: int
    day: float
    timestamp: int
    block: int
    spot_usd: float
    iv: float
    funding_8h: float
    status: str
    actions: list[str]
    nav_usd: float = math.nan
    share_price: float = math.nan
    net_delta_eth: float = math.nan
    band_half_width_eth: float = math.nan
    gamma_eth_per_usd: float = math.nan
    gamma_usd_per_1pct: float = math.nan
    vega_usd_per_vol_pt: float = math.nan
    theta_usd_per_day: float = math.nan
    margin_ratio: float | None = None
    insurance_usd: float = math.nan
    idle_usd: float = math.nan
    liquid_usd: float = math.nan
    spot_eth: float = math.nan
    perp_eth: float = math.nan
    option_delta_eth: float = math.nan
    pending_funding_usd: float = 0.0
    funding_cum_usd: float = 0.0
    queued_usd: float = 0.0
    oracle_ok: bool = True
    wall_sec: float = 0.0
    error: str | None = None


@dataclass
class DemoResult:
    config: DemoConfig
    path: MarketPath
    deployment: Deployment
    steps: list[StepRecord]
    summary: dict[str, Any]
    attribution: Attribution
    files: dict[str, Path]
    day_wall_sec: list[float] = field(default_factory=list)


StepCallback = Callable[[StepRecord, int], None]


def _cycle_kinds(rec: CycleRecord) -> list[str]:
    return [o.action.kind for o in rec.outcomes if o.status == "confirmed"]


def _fresh_outputs(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in (*OUTPUT_FILES, "journal.sqlite-wal", "journal.sqlite-shm"):
        (out_dir / name).unlink(missing_ok=True)


def run_demo(
    cfg: DemoConfig, out_dir: Path, *, on_step: StepCallback | None = None, block_interval: bool = True
) -> DemoResult:
    """Run the demo on ape's connected local chain; write its files to `out_dir`; return the figures.

    `on_step(record, n_steps)` is called after each step (progress bars, per-day timing). With
    `block_interval` (default) the node mines each block one second after the last for the run (so the
    chain's times are the same from run to run) and goes back to wall-clock times at the end; pass False
    when the caller already set that up (the test suite's `deterministic_clock`).
    """
    from ape import accounts, chain

    out_dir = Path(out_dir)
    _fresh_outputs(out_dir)
    path = market_path(cfg)
    n_steps = path.n_steps
    spd = path.steps_per_day
    t = accounts.test_accounts
    if len(t) < 10:
        raise RuntimeError(f"the demo needs 10 dev accounts, the node has {len(t)}")
    roles = {"admin": t[0], "governance": t[1], "keeper": t[2], "guardian": t[3], "treasury": t[4]}
    local = LocalConfig(
        eth_price_usd=float(path.spot[0]),
        implied_vol=float(min(max(path.iv[0], 0.05), 5.0)),
        funding_rate_8h=float(np.clip(path.funding_8h[0], -0.0075, 0.0075)),
        pool_liquidity_usd=cfg.pool_liquidity_usd,
        guard=cfg.guard,
    )
    started = time.perf_counter()
    d = deploy_local(roles, local)
    deploy_sec = time.perf_counter() - started

    uri = chain.provider.uri
    w3 = fast_web3(uri)
    errors = project_error_abi()
    rpc = RawRpc(KeepAliveHTTPProvider(uri), errors)
    admin, gov, keeper = (str(a.address) for a in (t[0], t[1], t[2]))
    depositor_addresses = [str(a.address) for a in t[5:10]]

    if block_interval:
        rpc.request("anvil_setBlockTimestampInterval", [1])  # one second per block: deterministic times
    keystore = tempfile.TemporaryDirectory(prefix="keel-demo-keys-")
    sender: Sender | None = None
    journal: Journal | None = None
    try:
        # ---- the keeper: encrypted keystore → signer → sender → journal → metrics → service
        passphrase = os.urandom(16).hex()
        os.environ[PASSPHRASE_ENV] = passphrase
        write_keystore(
            KEEPER_ALIAS, t[2].private_key, passphrase, Path(keystore.name), kdf="pbkdf2", iterations=2
        )
        signer = load_signer(KEEPER_ALIAS, keystore_dir=Path(keystore.name), passphrase_env=PASSPHRASE_ENV)
        assert signer.address == keeper
        fees = FeePolicy(confirmations=1, poll_interval_sec=0.05, max_fee_per_gas_wei=100 * GWEI)
        sender = Sender(w3, signer, fees, error_abi=errors)
        journal = Journal(out_dir / "journal.sqlite")
        # the policy the keeper runs with, beside its journal: `keeper replay` re-decides with it
        (out_dir / "policy.json").write_text(cfg.policy.model_dump_json(indent=2) + "\n")
        metrics = Metrics(CollectorRegistry())
        service = Service(
            w3,
            d.vault,
            cfg.policy,
            sender=sender,
            make_intent=lambda to, data, label: TxIntent(to=to, data=data, label=label),
            journal=journal,
            metrics=metrics,
            # the breaker still opens after 5 failed cycles in a row, and closes after a clean one:
            # a bad patch does not stop a month-long run (breaker events are in the journal)
            auto_reset=True,
        )

        # ---- setup (point 0)
        t0 = rpc.timestamp() + 1
        driver = MarketDriver(rpc, d, cfg, path, t0, publisher=admin, operator=gov)
        driver.setup()
        driver.publish(0)
        if cfg.insurance_seed_usd > 0:
            seed = int(cfg.insurance_seed_usd * USDC)
            rpc.send(admin, d.usdc, "mint(address,uint256)", admin, seed)
            rpc.send(admin, d.usdc, "approve(address,uint256)", d.insurance_fund, seed)
            rpc.send(admin, d.insurance_fund, "deposit(uint256)", seed)
        driver.list_day(0)
        people = Depositors(rpc, d, cfg, depositor_addresses, n_steps)
        people.setup()
        start_block = d.block + 1
        share_price_start = rpc.call(d.vault, "sharePriceWad()", ["uint256"]) / WAD
        marks = [
            MarkPoint(rpc.block_number(), 0, 0, _leg_price(rpc, d, "latest"), _index_price(rpc, d, "latest"))
        ]

        # ---- the steps
        steps: list[StepRecord] = []
        day_wall: list[float] = []
        day_started = time.perf_counter()
        for k in range(1, n_steps + 1):
            t_step = time.perf_counter()
            driver.step(k)
            if k % spd == 0:
                driver.settle_expired(driver.time_of(k))
                if k < n_steps:
                    driver.list_day(k)
            people.step(k, spd)
            rec = service.run_cycle()
            s = _record(k, spd, path, rec, cfg, rpc, d, marks)
            s.wall_sec = time.perf_counter() - t_step
            steps.append(s)
            if k % spd == 0 or k == n_steps:
                day_wall.append(time.perf_counter() - day_started)
                day_started = time.perf_counter()
            if on_step is not None:
                on_step(s, n_steps)
        run_sec = time.perf_counter() - started - deploy_sec

        # ---- the end: state, events, attribution, files
        end_block = rpc.block_number()
        final = read_snapshot(w3, d.vault, end_block)
        nav_end = rpc.call(d.vault, "totalAssets()", ["uint256"], block=end_block)
        legs_end = {
            "spot": rpc.call(d.spot_leg, "value()", ["uint256"], block=end_block),
            "perp": rpc.call(d.perp_leg, "value()", ["uint256"], block=end_block),
            "option": rpc.call(d.option_leg, "value()", ["uint256"], block=end_block),
        }
        decoder = EventDecoder(project_event_abis(d))
        addresses = [
            d.vault,
            d.spot_leg,
            d.perp_leg,
            d.option_leg,
            d.perp_market,
            d.option_market,
            d.usdc,
            d.insurance_fund,
        ]
        logs = fetch_logs(rpc, decoder, addresses, start_block, end_block)
        attribution = attribute(
            rpc,
            d,
            logs,
            marks,
            leg_values_start={"spot": 0, "perp": 0, "option": 0},
            leg_values_end=legs_end,
            nav_start=0,
            nav_end=nav_end,
            end_block=end_block,
            option_cash_end=option_cash_assets(final),
        )
        _funding_series(steps, logs, d)

        deployment_path = d.write(out_dir / "deployment.json")
        summary = _summary(
            cfg,
            path,
            d,
            steps,
            attribution,
            journal,
            people,
            driver,
            rpc,
            end_block,
            final,
            share_price_start,
            deploy_sec,
            run_sec,
            day_wall,
        )
        files = {
            "deployment": deployment_path,
            "journal": out_dir / "journal.sqlite",
            "policy": out_dir / "policy.json",
            "summary": out_dir / "demo_summary.json",
            "steps": out_dir / "steps.csv",
            "report": out_dir / "report.html",
        }
        files["summary"].write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
        _write_steps_csv(files["steps"], steps)
        result = DemoResult(cfg, path, d, steps, summary, attribution, files, day_wall)
        from keeper.demo.report import write_report

        write_report(result, files["report"])
        return result
    finally:
        if sender is not None:
            sender.close()
        if journal is not None:
            journal.close()
        if block_interval:
            with contextlib.suppress(Exception):  # the node may be gone: nothing to restore then
                rpc.request("anvil_removeBlockTimestampInterval", [])
        rpc.provider.close()
        provider = w3.provider
        if isinstance(provider, KeepAliveHTTPProvider):
            provider.close()
        keystore.cleanup()
        os.environ.pop(PASSPHRASE_ENV, None)


# =====================================================================================================
# per step
# =====================================================================================================


def _leg_price(rpc: RawRpc, d: Deployment, block: int | str) -> int:
    return rpc.call(d.spot_leg, "oraclePriceWad()", ["uint256", "bool"], block=block)[0]


def _index_price(rpc: RawRpc, d: Deployment, block: int | str) -> int:
    answer = rpc.call(
        d.feeds.eth_usd,
        "latestRoundData()",
        ["uint80", "int256", "uint256", "uint256", "uint80"],
        block=block,
    )[1]
    return int(answer) * 10 ** (18 - d.feeds.decimals)


def _record(
    k: int,
    spd: int,
    path: MarketPath,
    rec: CycleRecord,
    cfg: DemoConfig,
    rpc: RawRpc,
    d: Deployment,
    marks: list[MarkPoint],
) -> StepRecord:
    s = StepRecord(
        step=k,
        day=k / spd,
        timestamp=rec.snapshot.timestamp if rec.snapshot is not None else 0,
        block=rec.block or 0,
        spot_usd=float(path.spot[k]),
        iv=float(path.iv[k]),
        funding_8h=float(path.funding_8h[k]),
        status=rec.status,
        actions=_cycle_kinds(rec),
        error=rec.error,
    )
    snap, risk = rec.snapshot, rec.risk
    if snap is None or risk is None:
        prev = marks[-1]
        marks.append(
            MarkPoint(
                rec.block or prev.block,
                prev.weth_wad,
                prev.perp_size_wad,
                prev.spot_leg_price_wad,
                prev.index_price_wad,
            )
        )
        return s
    scale = snap.asset_scale
    g = risk.greeks
    s.nav_usd = snap.book.nav_assets / scale
    s.share_price = snap.vault.share_price_wad / WAD
    s.net_delta_eth = g.net_delta_eth
    s.band_half_width_eth = band_half_width_eth(snap, risk, cfg.policy)
    s.gamma_eth_per_usd = g.gamma_eth_per_usd
    s.gamma_usd_per_1pct = g.gamma_usd_per_1pct
    s.vega_usd_per_vol_pt = g.vega_usd_per_vol_point
    s.theta_usd_per_day = g.theta_usd_per_day
    # the perp leg's own ratio (marked at its oracle: what RiskGuard checks), None when flat
    ratio = snap.perp.margin_ratio_wad
    s.margin_ratio = ratio / WAD if snap.perp.size_wad != 0 and ratio < 2**255 else None
    s.oracle_ok = snap.oracles_ok
    s.insurance_usd = snap.insurance.reserve_assets / scale
    s.idle_usd = snap.vault.idle_assets / scale
    s.liquid_usd = snap.vault.liquid_assets / scale
    s.spot_eth = snap.spot.weth_wad / WAD
    s.perp_eth = snap.perp.size_wad / WAD
    s.option_delta_eth = g.option_delta_eth
    s.pending_funding_usd = snap.perp.pending_funding_assets / scale
    s.queued_usd = snap.queued_assets / scale
    marks.append(
        MarkPoint(
            block=snap.block,
            weth_wad=snap.spot.weth_wad,
            perp_size_wad=snap.perp.size_wad,
            spot_leg_price_wad=_leg_price(rpc, d, snap.block),
            index_price_wad=int(snap.spot_oracle.round.answer) * 10 ** (18 - snap.spot_oracle.decimals),
        )
    )
    return s


def _funding_series(steps: list[StepRecord], logs: list[Any], d: Deployment) -> None:
    """Cumulative funding earned at each step: settled up to the step's block + pending then."""
    settled = sorted(
        (lg.block, int(lg.args["amountUsdc"]))
        for lg in logs
        if lg.name == "FundingSettled" and str(lg.args["account"]).lower() == d.perp_leg.lower()
    )
    i, total = 0, 0
    for s in steps:
        while i < len(settled) and settled[i][0] <= s.block:
            total += settled[i][1]
            i += 1
        s.funding_cum_usd = total / USDC + s.pending_funding_usd


# =====================================================================================================
# summary
# =====================================================================================================


def error_kinds(errors: list[str]) -> dict[str, int]:
    """Cycle errors grouped by what failed: `label: status: ErrorName` (nonces and arguments dropped)."""
    out: dict[str, int] = {}
    for e in errors:
        key = re.sub(r" nonce=\d+", "", e)
        key = re.sub(r"\(.*", "", key).strip()
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def max_drawdown(values: list[float]) -> float:
    """Largest peak-to-trough fall, as a fraction of the peak (0 when it never falls)."""
    peak, worst = -math.inf, 0.0
    for v in values:
        if not math.isfinite(v):
            continue
        peak = max(peak, v)
        if peak > 0:
            worst = max(worst, (peak - v) / peak)
    return worst


def _summary(
    cfg: DemoConfig,
    path: MarketPath,
    d: Deployment,
    steps: list[StepRecord],
    a: Attribution,
    journal: Journal,
    people: Depositors,
    driver: MarketDriver,
    rpc: RawRpc,
    end_block: int,
    final: Any,
    share_price_start: float,
    deploy_sec: float,
    run_sec: float,
    day_wall: list[float],
) -> dict[str, Any]:
    scale = USDC
    nav = rpc.call(d.vault, "totalAssets()", ["uint256"], block=end_block)
    supply = rpc.call(d.vault, "totalSupply()", ["uint256"], block=end_block)
    price_wad = rpc.call(d.vault, "sharePriceWad()", ["uint256"], block=end_block)
    reserve = rpc.call(d.insurance_fund, "reserve()", ["uint256"], block=end_block)
    days = path.n_steps / path.steps_per_day
    share_price = price_wad / WAD
    ret = share_price / share_price_start - 1 if share_price_start > 0 else 0.0
    apy = (1 + ret) ** (365.0 / days) - 1 if ret > -1 else -1.0
    prices = [share_price_start] + [s.share_price for s in steps] + [share_price]
    deltas = [abs(s.net_delta_eth) for s in steps if math.isfinite(s.net_delta_eth)]
    slack = cfg.policy.min_trade_eth  # within this of the edge no hedge is worth a trade
    over_band = [
        s
        for s in steps
        if math.isfinite(s.net_delta_eth) and abs(s.net_delta_eth) > s.band_half_width_eth + slack
    ]
    ratios = [s.margin_ratio for s in steps if s.margin_ratio is not None and math.isfinite(s.margin_ratio)]
    confirmed = journal.actions_by_kind(status="confirmed")
    decided = journal.actions_by_kind()
    shock = cfg.shocks(days)
    n = len(steps)
    return {
        "config": json.loads(cfg.model_dump_json()),
        "market": {
            "source": path.source if cfg.prices_csv is None else f"csv:{cfg.prices_csv}",
            "days": days,
            "steps": path.n_steps,
            "steps_per_day": path.steps_per_day,
            "spot_start_usd": float(path.spot[0]),
            "spot_end_usd": float(path.spot[-1]),
            "spot_min_usd": float(np.min(path.spot)),
            "spot_max_usd": float(np.max(path.spot)),
            "iv_max": float(np.max(path.iv)),
            "funding_min_8h": float(np.min(path.funding_8h)),
            "shock": shock[0].model_dump() if shock else None,
        },
        "chain": {
            "chain_id": d.chain_id,
            "deploy_block": d.block,
            "final_block": end_block,
            "final_timestamp": final.timestamp,
        },
        "vault": {
            "nav_usd": nav / scale,
            "nav_assets": nav,
            "total_supply": supply,
            "share_price": share_price,
            "share_price_wad": price_wad,
            "share_price_start": share_price_start,
            "period_return": ret,
            "apy": apy,
            "max_drawdown": max_drawdown(prices),
            "insurance_fund_usd": reserve / scale,
            "insurance_fund_assets": reserve,
            "idle_usd": final.vault.idle_assets / scale,
            "queued_usd": final.queued_assets / scale,
        },
        "risk": {
            "max_abs_net_delta_eth": max(deltas) if deltas else 0.0,
            "steps_outside_band": len(over_band),
            "guard_max_net_delta_eth": final.guard.max_net_delta_wad / WAD,
            "min_margin_ratio": min(ratios) if ratios else None,
            "policy_margin_min_ratio": cfg.policy.margin_min_ratio,
            "guard_min_margin_ratio": final.guard.min_margin_ratio_wad / WAD,
        },
        "keeper": {
            "cycles": journal.count(),
            "cycle_statuses": journal.statuses(),
            "actions_confirmed": confirmed,
            "actions_decided": decided,
            "actions_total_confirmed": sum(confirmed.values()),
            "journal_verified": journal.verify() == [],
            "cycle_errors": [{"step": x.step, "error": x.error} for x in steps if x.status == "error"],
            "cycle_error_kinds": error_kinds([x.error for x in steps if x.status == "error" and x.error]),
            "circuit_breaker_events": len(journal.events("circuit_breaker")),
            "steps_with_oracle_halt": sum(1 for x in steps if not x.oracle_ok),
        },
        "attribution": a.as_dict(),
        "depositors": people.summary(),
        "depositor_events": [asdict(e) for e in people.events],
        "simulator": {
            "arbitrage_trades": driver.arb.trades,
            "arbitrage_capped": driver.arb.capped,
            "series_listed": len(driver.series),
            "series_settled_by_operator": driver.settled_by_operator,
            "raw_transactions": rpc.tx_count,
        },
        "timing": {
            "deploy_sec": deploy_sec,
            "run_sec": run_sec,
            "sec_per_step": run_sec / n if n else 0.0,
            "sec_per_simulated_day": [round(x, 3) for x in day_wall],
            "mean_sec_per_simulated_day": float(np.mean(day_wall)) if day_wall else 0.0,
        },
    }


def _json_default(x: Any) -> Any:
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, bytes):
        return "0x" + x.hex()
    return str(x)


def _write_steps_csv(file: Path, steps: list[StepRecord]) -> None:
    import csv

    if not steps:
        file.write_text("")
        return
    cols = [k for k in asdict(steps[0]) if k != "actions"] + ["actions"]
    with open(file, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for s in steps:
            row = asdict(s)
            w.writerow([row[c] if c != "actions" else " ".join(row["actions"]) for c in cols])
