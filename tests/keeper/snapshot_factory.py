"""Realistic, internally consistent `Snapshot`s (and their risk report and decision) for pure tests.

    snap = make_snapshot()                                   # a basis book at $3,000, a short call open
    snap = make_snapshot(spot_price=2_500.0, perp_eth=-80.0) # the knobs recompute every derived figure
    snap = make_snapshot(spot_age_sec=7_200)                 # spot oracle Stale (verdict from oracle.check)
    snap = make_snapshot(spot_last_good=2_000.0)             # spot jumped beyond the breaker: Deviation
    snap = make_snapshot(positions=(), guard={"min_action_interval_sec": 0}, vault={"shutdown": True})
    risk = make_risk(snap); decision = make_decision(snap)

Keyword knobs are in human units (USD, ETH, fractions, seconds) and feed every figure derived from them
(leg values, perp equity / margin ratio / liquidation price, option marks and delta, NAV, share price,
book state, oracle verdicts), so the snapshot looks like one `read_snapshot` would return. Everything
else is reachable through `**overrides`: keys are `Snapshot` fields, a dict value is merged into that
sub-model's fields (recursively), any other value replaces the field. Overrides are applied last and
recompute nothing (`make_snapshot(perp={"size_wad": 0})` leaves the perp's equity as it was).

Option series come from `make_series` (`positions` = the leg's holdings, `listed` = the venue's active
series; defaults: one 7-day short capped call held, calls and puts listed at 7 and 14 days).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from typing import Any

from keeper import pricing
from keeper.assess import assess
from keeper.guard import UINT256_MAX
from keeper.oracle import FeedConfig, FeedState, RoundData, check, to_wad
from keeper.policy import Decision, PolicyConfig, decide_with_notes
from keeper.risk import RiskReport
from keeper.snapshot import OptionSeries, Snapshot

WAD = 10**18
DAY = 86_400
YEAR_SEC = 365 * DAY
T0 = 1_750_000_000  # block time of the default snapshot (2025-06-15)
BLOCK = 21_000_000
CHAIN_ID = 31_337
USDC_DECIMALS = 6
FEED_DECIMALS = 8
PHASE = 1 << 64  # Chainlink round ids are (phase << 64) | round: beyond int64, as on mainnet

# distinct, readable addresses
VAULT = "0x000000000000000000000000000000000000Ee01"
ASSET = "0x000000000000000000000000000000000000Ee02"
SPOT_LEG = "0x000000000000000000000000000000000000Ee03"
PERP_LEG = "0x000000000000000000000000000000000000Ee04"
OPTION_LEG = "0x000000000000000000000000000000000000Ee05"
PERP_MARKET = "0x000000000000000000000000000000000000Ee06"
OPTION_MARKET = "0x000000000000000000000000000000000000Ee07"
OPTION_ORACLE = "0x000000000000000000000000000000000000Ee08"
SPOT_FEED = "0x000000000000000000000000000000000000Ee09"
IV_FEED = "0x000000000000000000000000000000000000Ee0A"
FUNDING_FEED = "0x000000000000000000000000000000000000Ee0B"
POOL = "0x000000000000000000000000000000000000Ee0C"
FUND = "0x000000000000000000000000000000000000Ee0D"
FEE_RECIPIENT = "0x000000000000000000000000000000000000Ee0E"

__all__ = [
    "BLOCK",
    "CHAIN_ID",
    "T0",
    "default_listed",
    "make_decision",
    "make_risk",
    "make_series",
    "make_snapshot",
]


def _wad(x: float, decimals: int = 12) -> int:
    """A human float as wad, rounded to `decimals` decimal places (no float noise in the low digits)."""
    return round(x * 10**decimals) * 10 ** (18 - decimals)


def _assets(usd: float) -> int:
    return round(usd * 10**USDC_DECIMALS)


def make_series(
    series_id: int,
    *,
    call: bool = True,
    strike: float = 3_600.0,
    cap: float = 1_200.0,
    expiry: int | None = None,
    days: float = 7.0,
    size_eth: float = 0.0,
    settled: bool = False,
    settlement_price: float = 0.0,
    collateral_usd: float | None = None,
    now: int = T0,
) -> OptionSeries:
    """One option series (a held position when `size_eth` ≠ 0; short < 0). `expiry` defaults to
    `now + days`; a short's collateral defaults to its max payout (cap for calls, strike for puts)."""
    size_wad = _wad(size_eth, 6)
    cap_wad = _wad(cap, 8) if call else 0
    strike_wad = _wad(strike, 8)
    if collateral_usd is None:
        per_eth = cap_wad if call else strike_wad
        collateral = -(-per_eth * max(-size_wad, 0) // 10**30)
    else:
        collateral = _assets(collateral_usd)
    return OptionSeries(
        series_id=series_id,
        is_call=call,
        strike_wad=strike_wad,
        cap_wad=cap_wad,
        expiry=now + round(days * DAY) if expiry is None else expiry,
        settled=settled,
        settlement_price_wad=_wad(settlement_price, 8),
        size_wad=size_wad,
        collateral_assets=collateral,
    )


def default_listed(now: int = T0, spot: float = 3_000.0) -> tuple[OptionSeries, ...]:
    """The venue's active series: capped calls at 5/10/20/30 % OTM and puts at 10/20 % OTM, 7 and 14 days."""
    out: list[OptionSeries] = []
    sid = 1
    for days in (7.0, 14.0):
        for m in (1.05, 1.10, 1.20, 1.30):
            out.append(
                make_series(sid, strike=round(spot * m, -1), cap=round(spot * 0.4, -1), days=days, now=now)
            )
            sid += 1
        for m in (0.90, 0.80):
            out.append(make_series(sid, call=False, strike=round(spot * m, -1), days=days, now=now))
            sid += 1
    return tuple(out)


def _reading(
    name: str,
    feed: str,
    value: float,
    *,
    now: int,
    age_sec: int,
    round_no: int,
    config: FeedConfig | None,
    state: FeedState | None,
) -> dict[str, Any]:
    answer = round(value * 10**FEED_DECIMALS)
    updated = now - age_sec
    rnd = RoundData(
        round_id=PHASE + round_no,
        answer=answer,
        started_at=updated,
        updated_at=updated,
        answered_in_round=PHASE + round_no,
    )
    if config is not None and state is not None:
        verdict, value_wad = check(config, state, rnd, now)
    else:  # a plain read (the funding feed): fresh and in range
        ok, value_wad = to_wad(answer, FEED_DECIMALS)
        verdict = 0 if ok and 0 < updated <= now else 4
        value_wad = value_wad if ok else 0
    return {
        "name": name,
        "feed": feed,
        "round": rnd.model_dump(),
        "decimals": FEED_DECIMALS,
        "config": None if config is None else config.model_dump(),
        "state": None if state is None else state.model_dump(),
        "verdict": int(verdict),
        "value_wad": value_wad,
        "age_sec": max(0, now - updated),
    }


def _option_marks(positions: Iterable[OptionSeries], spot: float, iv: float, now: int) -> tuple[float, float]:
    """(mark value in USD, delta in ETH) of the held series (a capped call = long K, short K + cap)."""
    value = 0.0
    delta = 0.0
    for s in positions:
        if s.size_wad == 0:
            continue
        size = s.size_wad / WAD
        if s.settled:
            st = s.settlement_price_wad / WAD
            k = s.strike_wad / WAD
            payoff = min(max(st - k, 0.0), s.cap_wad / WAD) if s.is_call else max(k - st, 0.0)
            value += size * payoff
            continue
        tau = max(s.expiry - now, 0) / YEAR_SEC
        legs = [("c" if s.is_call else "p", s.strike_wad / WAD, 1.0)]
        if s.is_call:
            legs.append(("c", (s.strike_wad + s.cap_wad) / WAD, -1.0))
        for cp, k, sign in legs:
            if tau > 0:
                g = pricing.greeks(cp, spot, k, tau, 0.0, iv, 0.0)
                value += sign * size * float(g.price)
                delta += sign * size * float(g.delta)
            else:
                intrinsic = max(spot - k, 0.0) if cp == "c" else max(k - spot, 0.0)
                value += sign * size * intrinsic
                itm = spot > k if cp == "c" else spot < k
                delta += sign * size * ((1.0 if cp == "c" else -1.0) if itm else 0.0)
    return value, delta


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overrides.items():
        if key not in out:
            raise KeyError(f"make_snapshot: unknown field {key!r} (have {sorted(out)})")
        if isinstance(value, Mapping) and isinstance(out[key], dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def make_snapshot(
    *,
    spot_price: float = 3_000.0,
    iv: float = 0.70,
    funding_8h: float = 0.0001,
    spot_eth: float = 100.0,
    perp_eth: float = -100.0,
    perp_entry: float | None = None,
    perp_margin_usd: float | None = None,
    pending_funding_usd: float = 0.0,
    idle_usd: float = 200_000.0,
    share_price: float = 1.05,
    positions: Iterable[OptionSeries] | None = None,
    listed: Iterable[OptionSeries] | None = None,
    nonce: int = 7,
    block: int = BLOCK,
    timestamp: int = T0,
    last_action_at: int | None = None,
    last_report_at: int | None = None,
    spot_age_sec: int = 30,
    iv_age_sec: int = 300,
    funding_age_sec: int = 1_800,
    spot_last_good: float | None = None,
    spot_tripped_at: int = 0,
    iv_last_good: float | None = None,
    funding_history: Iterable[tuple[int, float]] | None = None,
    pool_price: float | None = None,
    pool_depth_usd: float = 50_000_000.0,
    queued_usd: float = 0.0,
    unreported_loss_usd: float = 0.0,
    insurance_usd: float = 50_000.0,
    mmr: float = 0.05,
    imr: float = 0.10,
    **overrides: Any,
) -> Snapshot:
    """A valid `Snapshot` of a live vault (see the module docstring for the knobs and `overrides`).

    Defaults: $3,000 ETH, 70 % IV, +0.01 %/8h funding; 100 ETH spot against a 100 ETH perp short at
    margin ratio 3 (equity / maintenance, mmr 5 %); $200k idle; a 30 ETH 7-day short capped call
    (3,600 / +1,200); action nonce 7; last action an hour ago, last report an hour ago; fresh oracles.
    """
    now = timestamp
    price_wad = _wad(spot_price, 8)
    price = price_wad / WAD
    mmr_wad, imr_wad = _wad(mmr, 6), _wad(imr, 6)
    if positions is None:
        positions = (make_series(101, strike=3_600.0, cap=1_200.0, days=7.0, size_eth=-30.0, now=now),)
    positions = tuple(positions)
    listed = default_listed(now, spot_price) if listed is None else tuple(listed)

    # ---- oracles (verdicts from the Python mirror of OracleLib)
    spot_cfg = FeedConfig(feed=SPOT_FEED, decimals=FEED_DECIMALS, max_age_sec=3_600,
                          max_deviation_bps=1_500, cooldown_sec=900)  # fmt: skip
    last_good = spot_price if spot_last_good is None else spot_last_good
    spot_state = FeedState(last_good_wad=_wad(last_good, 8), last_good_at=now - spot_age_sec - 3_600,
                           tripped_at=spot_tripped_at)  # fmt: skip
    iv_cfg = FeedConfig(feed=IV_FEED, decimals=FEED_DECIMALS, max_age_sec=86_400,
                        max_deviation_bps=5_000, cooldown_sec=900)  # fmt: skip
    iv_state = FeedState(last_good_wad=_wad(iv if iv_last_good is None else iv_last_good, 8),
                         last_good_at=now - iv_age_sec - 3_600)  # fmt: skip
    spot_reading = _reading("eth_usd", SPOT_FEED, spot_price, now=now, age_sec=spot_age_sec, round_no=18_422,
                            config=spot_cfg, state=spot_state)  # fmt: skip
    iv_reading = _reading("eth_iv", IV_FEED, iv, now=now, age_sec=iv_age_sec, round_no=903,
                          config=iv_cfg, state=iv_state)  # fmt: skip
    funding_reading = _reading("funding", FUNDING_FEED, funding_8h, now=now, age_sec=funding_age_sec,
                               round_no=4_410, config=None, state=None)  # fmt: skip
    if funding_history is None:  # every 8 hours over the last 3 days, at the current rate
        latest = now - funding_age_sec
        funding_history = [(latest - i * 8 * 3_600, funding_8h) for i in range(9, -1, -1)]
    history = [{"updated_at": t, "rate_wad": _wad(r, 8)} for t, r in funding_history]

    # ---- spot leg and pool
    weth_wad = _wad(spot_eth, 6)
    spot_value = weth_wad * price_wad // 10**30
    pool_price_wad = price_wad if pool_price is None else _wad(pool_price, 8)
    spot = {
        "leg": SPOT_LEG,
        "weth_wad": weth_wad,
        "cash_assets": 0,
        "value_assets": spot_value,
        "pool": POOL,
        "pool_fee": 500,
        "pool_price_wad": pool_price_wad,
        "pool_asset_reserve": _assets(pool_depth_usd / 2),
        "pool_eth_reserve_wad": _wad(pool_depth_usd / 2 / spot_price, 6),
    }

    # ---- perp leg (equity, maintenance, margin ratio and liquidation price as risk.py defines them)
    size_wad = _wad(perp_eth, 6)
    entry_wad = price_wad if perp_entry is None else _wad(perp_entry, 8)
    notional = abs(size_wad) * price_wad // 10**30
    maintenance = notional * mmr_wad // WAD
    margin = 3 * maintenance if perp_margin_usd is None else _assets(perp_margin_usd)
    pending = _assets(pending_funding_usd)
    equity = margin + (price_wad - entry_wad) * size_wad // 10**30 + pending
    ratio_wad = equity * WAD // maintenance if maintenance > 0 else UINT256_MAX
    liq_wad = 0
    if size_wad != 0:
        s, ep = size_wad / WAD, entry_wad / WAD
        liq = (ep * s - margin / 1e6 - pending / 1e6) / (s - mmr * abs(s))
        liq_wad = _wad(max(liq, 0.0), 8)
    perp = {
        "leg": PERP_LEG,
        "market": PERP_MARKET,
        "size_wad": size_wad,
        "entry_price_wad": entry_wad if size_wad else 0,
        "margin_assets": margin,
        "equity_assets": equity,
        "pending_funding_assets": pending,
        "margin_ratio_wad": max(ratio_wad, 0),
        "liquidation_price_wad": liq_wad,
        "withdrawable_assets": max(0, equity - notional * imr_wad // WAD),
        "leg_cash_assets": 0,
        "value_assets": max(equity, 0),
        "imr_wad": imr_wad,
        "mmr_wad": mmr_wad,
        "fee_bps": 5,
        "max_funding_8h_wad": _wad(0.003, 8),
    }

    # ---- option leg: collateral minus the mark of what is owed
    mark, option_delta = _option_marks(positions, price, iv, now)
    collateral = sum(s.collateral_assets for s in positions)
    option_value = max(0, collateral + _assets(mark))
    options = {
        "leg": OPTION_LEG,
        "market": OPTION_MARKET,
        "oracle": OPTION_ORACLE,
        "settlement_window_sec": DAY,
        "positions": [s.model_dump() for s in positions],
        "listed": [s.model_dump() for s in listed],
        "value_assets": option_value,
        "delta_wad": _wad(option_delta, 6),
        "iv_spread_wad": _wad(0.02, 6),
        "min_vol_wad": _wad(0.05, 6),
        "fee_bps": 30,
        "pool_free_assets": _assets(5_000_000.0),
    }

    # ---- vault
    idle = _assets(idle_usd)
    leg_values = (spot_value, max(equity, 0), option_value)
    total_assets = idle + sum(leg_values)
    share_price_wad = _wad(share_price, 8)
    total_supply = total_assets * WAD // share_price_wad if share_price_wad else 0
    queued = _assets(queued_usd)
    queued_shares = queued * WAD // share_price_wad if share_price_wad else 0
    vault = {
        "address": VAULT,
        "block": block,
        "asset": ASSET,
        "asset_decimals": USDC_DECIMALS,
        "share_decimals": USDC_DECIMALS,
        "total_assets": total_assets,
        "total_supply": total_supply,
        "idle_assets": idle,
        "liquid_assets": idle,
        "share_price_wad": share_price_wad,
        "high_water_mark_wad": share_price_wad,
        "pending_fee_shares": 0,
        "management_fee_bps": 200,
        "performance_fee_bps": 1_000,
        "fee_recipient": FEE_RECIPIENT,
        "deposit_cap": _assets(100_000_000.0),
        "deposits_paused": False,
        "shutdown": False,
        "legs": [SPOT_LEG, PERP_LEG, OPTION_LEG],
        "leg_values": list(leg_values),
        "queued_shares": queued_shares,
        "total_claimable": 0,
        "queue_head": 3,
        "queue_tail": 3 + (1 if queued > 0 else 0),
    }
    gross = spot_value + notional
    base: dict[str, Any] = {
        "chain_id": CHAIN_ID,
        "block": block,
        "block_hash": "0x" + hashlib.sha256(f"block {block}".encode()).hexdigest(),
        "timestamp": now,
        "vault": vault,
        "action_nonce": nonce,
        "last_action_at": now - 3_600 if last_action_at is None else last_action_at,
        "unreported_loss_assets": _assets(unreported_loss_usd),
        "nav_at_report_assets": total_assets,
        "flows_since_report_assets": 0,
        "last_report_at": now - 3_600 if last_report_at is None else last_report_at,
        "book": {
            "net_delta_wad": weth_wad + size_wad + _wad(option_delta, 6),
            "margin_ratio_wad": max(ratio_wad, 0),
            "gross_exposure_assets": gross,
            "nav_assets": total_assets,
        },
        "trigger_needed": False,
        "trigger_reason": 0,
        "guard": {
            "max_net_delta_wad": 50 * WAD,
            "min_margin_ratio_wad": 3 * WAD // 2,
            "max_leverage_wad": 3 * WAD,
            "max_slippage_bps": 100,
            "min_action_interval_sec": 300,
            "max_notional_per_action_assets": _assets(2_000_000.0),
            "delta_trigger_wad": 10 * WAD,
            "margin_trigger_wad": 2 * WAD,
        },
        "spot_oracle": spot_reading,
        "iv_oracle": iv_reading,
        "funding_oracle": funding_reading,
        "funding_history": history,
        "spot": spot,
        "perp": perp,
        "options": options,
        "insurance": {
            "fund": FUND,
            "reserve_assets": _assets(insurance_usd),
            "target_assets": _assets(100_000.0),
            "coverable_assets": _assets(insurance_usd) // 10,
        },
        "queued_assets": queued,
    }
    if not math.isfinite(spot_price) or spot_price <= 0:
        raise ValueError(f"spot_price must be a positive finite number (got {spot_price})")
    return Snapshot.model_validate(_merge(base, overrides))


def make_risk(snap: Snapshot | None = None, **snapshot_knobs: Any) -> RiskReport:
    """The snapshot's risk report, computed the live way (`keeper.assess.assess`)."""
    return assess(snap if snap is not None else make_snapshot(**snapshot_knobs))


def make_decision(
    snap: Snapshot | None = None, risk: RiskReport | None = None, config: PolicyConfig | None = None
) -> Decision:
    """The policy's decision on the snapshot (default config), as the live keeper would take it."""
    snap = make_snapshot() if snap is None else snap
    return decide_with_notes(snap, assess(snap) if risk is None else risk, config or PolicyConfig())
