"""keeper/policy.py: `decide(snapshot, risk, config)` is pure and deterministic, applies every keeper rule
(DESIGN.md "Keeper rules") and never proposes what the vault's RiskGuard or the venues would reject.

Pure: every input comes from tests/keeper/snapshot_factory.py; no chain.
"""

from __future__ import annotations

import builtins
import copy
import math
import random
import socket
import time
from dataclasses import dataclass, replace
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keeper import pricing
from keeper.guard import UINT256_MAX, BookState, adverse_slippage_bps, leverage_wad, needs_before_book
from keeper.oracle import RoundData, Verdict, check
from keeper.policy import (
    Action,
    CoverLoss,
    PokeOracle,
    PolicyConfig,
    ProcessRedemptions,
    Rebalance,
    Report,
    SettleOption,
    TradeOption,
    _model_bid_usd,
    band_half_width_eth,
    check_against_guard,
    decide,
    decide_with_notes,
    funding_mean_8h,
)
from keeper.risk import RiskReport
from keeper.snapshot import Snapshot
from tests.keeper.snapshot_factory import T0, default_listed, make_risk, make_series, make_snapshot

WAD = 10**18
BPS = 10_000
DAY = 86_400
PRICE_SCALE = 10**30  # eth_wad · price_wad / PRICE_SCALE = assets (6-decimals asset)
FEE_UNITS = 1_000_000

SPOT_LEG = "0x000000000000000000000000000000000000Ee03"
PERP_LEG = "0x000000000000000000000000000000000000Ee04"
OPTION_LEG = "0x000000000000000000000000000000000000Ee05"
OPTION_ORACLE = "0x000000000000000000000000000000000000Ee08"

GUARDED = (Rebalance, TradeOption)

# a config that neither opens the basis nor sells options: one rule at a time
QUIET = {"min_deploy_usd": 1e12, "options_enabled": False}


def _cfg(**kw: Any) -> PolicyConfig:
    return PolicyConfig(**(QUIET | kw))


def _decide(snap: Snapshot, config: PolicyConfig | None = None, risk: RiskReport | None = None):
    return decide_with_notes(snap, make_risk(snap) if risk is None else risk, config or PolicyConfig())


def _of(actions, cls) -> list:
    return [a for a in actions if isinstance(a, cls)]


def _one(actions, cls):
    got = _of(actions, cls)
    assert len(got) == 1, f"expected one {cls.__name__}, got {[a.kind for a in actions]}"
    return got[0]


def _kinds(actions) -> list[str]:
    return [a.kind for a in actions]


def _ratio_after(snap: Snapshot, reb: Rebalance) -> float:
    """The perp's margin ratio after the rebalance at the oracle price (fee paid)."""
    p = snap.perp
    price = snap.spot_price_wad / WAD
    new = (p.size_wad + reb.perp_size_delta_wad) / WAD
    fee = abs(reb.perp_size_delta_wad) / WAD * price * p.fee_bps / BPS
    equity = (p.equity_assets + reb.perp_margin_delta_assets) / 1e6 - fee
    return equity / (abs(new) * price * p.mmr_wad / WAD)


# =====================================================================================================
# random books (hypothesis)
# =====================================================================================================

pure_settings = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=250,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@st.composite
def books(draw: st.DrawFn, selling_calls: bool = False) -> tuple[Snapshot, PolicyConfig]:
    """A random but valid book (prices, sizes, idle, options, funding, oracle ages, guard) and a config
    consistent with its guard (`check_against_guard` is empty). `selling_calls`: fresh oracles, no short
    call open, series listed, options on and no action interval, so that calls are (mostly) sold."""
    price = round(draw(st.floats(800.0, 8_000.0)), 2)
    spot_eth = draw(st.sampled_from([0.0, 1.0]) | st.floats(0.0, 400.0).map(lambda x: round(x, 4)))
    if draw(st.booleans()):
        perp_eth = -round(spot_eth * draw(st.floats(0.9, 1.1)), 4)
    else:
        perp_eth = round(draw(st.floats(-400.0, 20.0)), 4)
    entry = round(price * draw(st.floats(0.9, 1.1)), 2) if perp_eth else None
    pending = round(draw(st.floats(-500.0, 500.0)), 2) if perp_eth else 0.0
    if perp_eth:  # equity / maintenance drawn above 1 (a liquidatable book is the venue's business)
        equity = draw(st.floats(1.1, 8.0)) * abs(perp_eth) * price * 0.05
        perp_margin = max(equity - (price - entry) * perp_eth - pending, 0.0)
    else:
        perp_margin = draw(st.sampled_from([0.0, 500.0]))
    now = T0
    kinds = ["none", "expired", "settled", "put"] + (
        [] if selling_calls else ["short_call", "big_short_call"]
    )
    pos_kind = draw(st.sampled_from(kinds))
    positions = {
        "none": (),
        "short_call": (make_series(101, strike=round(price * 1.2), cap=round(price * 0.4), size_eth=-30.0),),
        "big_short_call": (
            make_series(101, strike=round(price * 1.05), cap=round(price * 0.4), days=2, size_eth=-150.0),
        ),
        "expired": (make_series(102, strike=round(price * 1.1), expiry=now - 3_600, size_eth=-20.0),),
        "settled": (
            make_series(
                103,
                strike=round(price),
                expiry=now - 2 * DAY,
                size_eth=-10.0,
                settled=True,
                settlement_price=price * 1.1,
            ),
        ),
        "put": (make_series(104, call=False, strike=round(price * 0.9), size_eth=5.0),),
    }[pos_kind]
    n_funding = draw(st.integers(1, 10))
    rates = draw(st.lists(st.floats(-0.002, 0.002), min_size=n_funding, max_size=n_funding))
    funding_age = draw(st.sampled_from([60, 1_800, 7_000]))
    history = [(now - funding_age - i * 8 * 3_600, round(r, 6)) for i, r in enumerate(reversed(rates))][::-1]
    spot_age = draw(st.sampled_from([30] if selling_calls else [30, 30, 30, 1_800, 7_200, -5]))
    last_good = None if selling_calls else draw(st.none() | st.floats(0.7, 1.3).map(lambda m: price * m))
    guard = {
        "max_net_delta_wad": int(draw(st.floats(1.0, 100.0)) * WAD),
        "max_leverage_wad": int(draw(st.floats(1.2, 5.0)) * WAD),
        "max_slippage_bps": draw(st.integers(20, 300)),
        "min_action_interval_sec": 0 if selling_calls else draw(st.sampled_from([0, 300])),
        "max_notional_per_action_assets": int(draw(st.floats(10_000.0, 5_000_000.0)) * 10**6),
    }
    snap = make_snapshot(
        spot_price=price,
        iv=round(draw(st.floats(0.2, 2.0)), 4),
        funding_8h=history[-1][1],
        funding_history=history,
        funding_age_sec=funding_age,
        spot_eth=spot_eth,
        perp_eth=perp_eth,
        perp_entry=entry,
        perp_margin_usd=round(perp_margin, 2),
        pending_funding_usd=pending,
        idle_usd=round(draw(st.sampled_from([0.0, 50.0]) | st.floats(0.0, 2_000_000.0)), 2),
        positions=positions,
        listed=default_listed(now, price) if selling_calls or draw(st.booleans()) else (),
        nonce=draw(st.integers(0, 10**6)),
        last_action_at=draw(st.sampled_from([0, now - 30, now - 3_600])),
        last_report_at=draw(st.sampled_from([now - 3_600, now - 2 * DAY])),
        spot_age_sec=spot_age,
        iv_age_sec=300 if selling_calls else draw(st.sampled_from([300, 300, 100_000])),
        spot_last_good=last_good,
        pool_price=round(price * (1 + draw(st.floats(-0.003, 0.003))), 2),
        pool_depth_usd=draw(st.floats(100_000.0, 200_000_000.0)),
        queued_usd=draw(st.sampled_from([0.0]) | st.floats(0.0, 500_000.0)),
        unreported_loss_usd=draw(st.sampled_from([0.0]) | st.floats(0.0, 100_000.0)),
        insurance_usd=draw(st.sampled_from([0.0, 50_000.0])),
        guard=guard,
    )
    margin_min = draw(st.floats(1.5, 2.5))
    target = margin_min + draw(st.floats(0.2, 2.0))
    unwind = draw(st.floats(-0.001, 0.0))
    tenor = draw(st.floats(3.0, 20.0))
    min_tenor = draw(st.floats(1.0, min(tenor, 13.0) if selling_calls else tenor))
    config = PolicyConfig(
        hedge_cost_frac=draw(st.floats(0.0, 0.002)),
        risk_aversion=10 ** draw(st.floats(-5.0, -2.0)),
        band_floor_eth=draw(st.floats(0.0, 2.0)),
        band_cap_fraction_of_guard=draw(st.floats(0.3, 1.0)),
        min_trade_eth=draw(st.floats(0.001, 0.1)),
        margin_min_ratio=margin_min,
        margin_target_ratio=target,
        margin_max_ratio=target + draw(st.floats(0.2, 3.0)),
        basis_enabled=draw(st.booleans()),
        idle_buffer_frac=draw(st.floats(0.0, 0.3)),
        min_deploy_usd=draw(st.sampled_from([0.0, 1_000.0, 50_000.0])),
        funding_unwind_below_8h=unwind,
        funding_open_above_8h=unwind + draw(st.floats(0.0, 0.0005)),
        max_leverage_fraction_of_guard=draw(st.floats(0.5, 1.0)),
        options_enabled=selling_calls or draw(st.booleans()),
        option_tenor_days=tenor,
        option_min_tenor_days=min_tenor,
        option_target_delta=draw(st.floats(0.05, 0.6)),
        option_size_frac_of_spot=draw(st.floats(0.0, 1.0)),
        option_vega_budget_usd_per_vol_pt=draw(st.sampled_from([0.0, 100.0, 5_000.0, 50_000.0])),
        option_price_tolerance=draw(st.floats(0.0, 0.1)),
        option_min_size_eth=draw(st.sampled_from([0.01, 0.1, 1.0])),
        slippage_bps=draw(st.integers(1, guard["max_slippage_bps"])),
        max_price_impact_bps=draw(st.integers(5, 100)),
        pool_deviation_bps=draw(st.integers(5, 50)),
        deadline_sec=draw(st.integers(60, 3_600)),
        report_interval_sec=draw(st.sampled_from([3_600, DAY])),
    )
    assert check_against_guard(config, snap) == []
    return snap, config


# =====================================================================================================
# determinism and purity
# =====================================================================================================


def _no_io(*_a: Any, **_k: Any) -> Any:
    raise AssertionError("decide did I/O, read the clock or drew a random number")


@pure_settings
@given(case=books())
def test_decide__with_random_books__is_deterministic_and_does_no_io(case):
    snap, config = case
    risk = make_risk(snap)
    with (
        mock.patch.object(socket, "socket", _no_io),
        mock.patch.object(socket, "create_connection", _no_io),
        mock.patch.object(builtins, "open", _no_io),
        mock.patch.object(time, "time", _no_io),
        mock.patch.object(time, "time_ns", _no_io),
        mock.patch.object(random, "random", _no_io),
    ):
        first = decide_with_notes(snap, risk, config)
        second = decide_with_notes(snap, risk, config)
        from_copy = decide_with_notes(copy.deepcopy(snap), copy.deepcopy(risk), copy.deepcopy(config))
        plain = decide(snap, risk, config)
    round_trip = Snapshot.model_validate_json(snap.model_dump_json())  # the auditor's replay: JSON → risk
    assert round_trip.digest() == snap.digest()
    from_json = decide_with_notes(round_trip, make_risk(round_trip), config)

    assert first == second == from_copy == from_json
    assert plain == list(first.actions)
    assert [a.model_dump() for a in first.actions] == [a.model_dump() for a in from_json.actions]
    assert first.model_dump_json() == from_json.model_dump_json()  # byte-for-byte (the journal's replay)


@pure_settings
@given(case=books())
def test_decide__with_random_books__numbers_nonces_and_explains_every_action(case):
    snap, config = case
    d = _decide(snap, config)

    nonces = [a.nonce for a in d.actions if a.nonce is not None]
    assert nonces == list(range(snap.action_nonce, snap.action_nonce + len(nonces)))
    for a in d.actions:
        assert a.reason.strip(), a
        assert a.figures, a
        assert all(math.isfinite(v) for v in a.figures.values()), a
        if isinstance(a, GUARDED):
            assert a.deadline == snap.timestamp + config.deadline_sec
        assert not isinstance(a, ProcessRedemptions | PokeOracle) or a.nonce is None
    if not snap.spot_oracle.ok:
        assert not _of(d.actions, Rebalance | TradeOption | Report)
    if not snap.iv_oracle.ok:
        assert not _of(d.actions, TradeOption)
    assert len(_of(d.actions, Rebalance)) <= 1 and len(_of(d.actions, TradeOption)) <= 1
    if snap.guard.min_action_interval_sec > 0:
        assert len(_of(d.actions, GUARDED)) <= 1


# =====================================================================================================
# never what the contracts would reject: a model of RiskGuard.checkAction and the venues' checks
# =====================================================================================================


@dataclass(frozen=True)
class _Book:
    """What the guard and the venues see, at the snapshot's oracle price (assets in 1e-6 USD)."""

    net_delta_wad: int
    option_delta_wad: int
    spot_wad: int
    perp_wad: int
    perp_equity: float
    perp_margin: float
    margin_ratio_wad: int
    gross: int
    nav: int
    liquid: int
    last_action_at: int

    @classmethod
    def of(cls, snap: Snapshot) -> _Book:
        return cls(
            net_delta_wad=snap.book.net_delta_wad,
            option_delta_wad=snap.options.delta_wad,
            spot_wad=snap.spot.weth_wad,
            perp_wad=snap.perp.size_wad,
            perp_equity=float(snap.perp.equity_assets),
            perp_margin=float(snap.perp.margin_assets + snap.perp.pending_funding_assets),
            margin_ratio_wad=snap.book.margin_ratio_wad,
            gross=snap.book.gross_exposure_assets,
            nav=snap.book.nav_assets,
            liquid=snap.vault.liquid_assets,
            last_action_at=snap.last_action_at,
        )


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _guard_problems(
    g: Any,
    before: _Book,
    after: _Book,
    notional: int,
    trades: list[tuple[int, bool]],
    price: int,
    now: int,
    measured: bool,
) -> list[str]:
    """RiskGuard.checkAction's verdicts (keeper/guard.py) for one action with its worst-case trades.
    `measured`: the action asked for the before-book (allowImprovement); without it the vault passes a
    book of zero delta and exposure and an infinite margin ratio, so no breach counts as improved."""
    out = []
    if not measured:
        before = replace(before, net_delta_wad=0, margin_ratio_wad=UINT256_MAX, gross=0, nav=0)
    if before.last_action_at and now - before.last_action_at < g.min_action_interval_sec:
        out.append(f"ActionTooSoon {now - before.last_action_at}")
    if notional > g.max_notional_per_action_assets:
        out.append(f"NotionalAboveCap {notional} > {g.max_notional_per_action_assets}")
    for exec_price, is_buy in trades:
        slip = adverse_slippage_bps(exec_price, price, is_buy)
        if slip > g.max_slippage_bps:
            out.append(f"SlippageAboveMax {slip} bps > {g.max_slippage_bps} (buy={is_buy})")
    if abs(after.net_delta_wad) > g.max_net_delta_wad and abs(after.net_delta_wad) >= abs(
        before.net_delta_wad
    ):
        out.append(f"NetDeltaAboveCap {after.net_delta_wad / WAD} (before {before.net_delta_wad / WAD})")
    if after.margin_ratio_wad < g.min_margin_ratio_wad and after.margin_ratio_wad <= before.margin_ratio_wad:
        out.append(
            f"MarginRatioBelowMin {after.margin_ratio_wad / WAD} (before {before.margin_ratio_wad / WAD})"
        )
    lev_b = leverage_wad(
        BookState(net_delta_wad=0, gross_exposure_assets=before.gross, nav_assets=before.nav)
    )
    lev_a = leverage_wad(BookState(net_delta_wad=0, gross_exposure_assets=after.gross, nav_assets=after.nav))
    if lev_a > g.max_leverage_wad and lev_a >= lev_b:
        out.append(f"LeverageAboveMax {lev_a / WAD} (before {lev_b / WAD})")
    return out


def _margin_ratio_wad(equity: float, size_wad: int, price: int, mmr_wad: int) -> int:
    if size_wad == 0:
        return UINT256_MAX
    if equity <= 0:
        return 0
    maintenance = _ceil_div(_ceil_div(abs(size_wad) * price, PRICE_SCALE) * mmr_wad, WAD)
    return int(equity * WAD // maintenance)


def _check_rebalance(snap: Snapshot, book: _Book, a: Rebalance, now: int) -> tuple[list[str], _Book]:
    """Every way the vault, its RiskGuard, the perp venue or the pool could reject `a` (worst case over
    the allowed executions), and the book after it."""
    g, p, price = snap.guard, snap.perp, snap.spot_price_wad
    problems: list[str] = []
    fee_frac = snap.spot.pool_fee / FEE_UNITS
    deposit = max(a.perp_margin_delta_assets, 0)
    withdraw = max(-a.perp_margin_delta_assets, 0)
    spend = deposit + (a.spot_amount_in if a.spot_buy_eth else 0)
    if spend > book.liquid:
        problems.append(f"spends {spend} > liquid {book.liquid}")
    notional = 0
    trades: list[tuple[int, bool]] = []
    spot_outcomes = [0]  # ETH the spot leg gains, extremes
    spot_cost = 0.0  # value lost in the swap (fee, slippage), worst case
    if a.spot_amount_in:
        if a.spot_min_out <= 0:
            problems.append("spot min out is 0 (SpotLeg reverts ZeroAmount)")
        if a.spot_buy_eth:
            at_oracle = a.spot_amount_in * PRICE_SCALE // price
            best = int(at_oracle * (1 - fee_frac))
            spot_outcomes = [a.spot_min_out, best]
            worst_exec = _ceil_div(a.spot_amount_in * PRICE_SCALE, max(a.spot_min_out, 1))
            notional += max(a.spot_amount_in, _ceil_div(best * price, PRICE_SCALE))
            spot_cost = a.spot_amount_in - a.spot_min_out * price / PRICE_SCALE
        else:
            if a.spot_amount_in > book.spot_wad:
                problems.append(f"sells {a.spot_amount_in} WETH > held {book.spot_wad}")
            spot_outcomes = [-a.spot_amount_in]
            worst_exec = a.spot_min_out * PRICE_SCALE // a.spot_amount_in
            notional += _ceil_div(a.spot_amount_in * price, PRICE_SCALE)
            spot_cost = a.spot_amount_in * price / PRICE_SCALE - a.spot_min_out
        trades.append((worst_exec, a.spot_buy_eth))
    d = a.perp_size_delta_wad
    new_perp = book.perp_wad + d
    fee = 0
    margin_after_trade = book.perp_margin + deposit
    if d:
        is_buy = d > 0
        if (a.perp_limit_price_wad < price) if is_buy else (a.perp_limit_price_wad > price):
            problems.append("perp limit on the wrong side of the oracle (LimitPriceExceeded)")
        limit_notional = _ceil_div(abs(d) * a.perp_limit_price_wad, PRICE_SCALE)
        fee_at_limit = _ceil_div(limit_notional * p.fee_bps, BPS)
        fee_per_eth = _ceil_div(fee_at_limit * PRICE_SCALE, abs(d))
        worst_exec = a.perp_limit_price_wad + fee_per_eth if is_buy else a.perp_limit_price_wad - fee_per_eth
        trades.append((worst_exec, is_buy))
        notional += _ceil_div(abs(d) * price, PRICE_SCALE)
        fee = _ceil_div(_ceil_div(abs(d) * price, PRICE_SCALE) * p.fee_bps, BPS)
        reduces = book.perp_wad != 0 and (book.perp_wad > 0) != is_buy
        if reduces:
            closed = book.perp_wad if abs(d) >= abs(book.perp_wad) else -d
            margin_after_trade += closed * (price - p.entry_price_wad) // PRICE_SCALE
        margin_after_trade -= fee
        equity_after_trade = book.perp_equity + deposit - fee
        if abs(new_perp) > abs(book.perp_wad) or (new_perp != 0 and (new_perp > 0) != (book.perp_wad > 0)):
            initial = _ceil_div(_ceil_div(abs(new_perp) * price, PRICE_SCALE) * p.imr_wad, WAD)
            if equity_after_trade < initial:
                problems.append(f"InitialMarginBreached on the trade: {equity_after_trade} < {initial}")
        elif equity_after_trade < 0:
            problems.append("NegativeEquity")
    equity_after = book.perp_equity + deposit - fee - withdraw
    if withdraw:
        if d == 0 and withdraw > p.withdrawable_assets:
            problems.append(f"withdraws {withdraw} > the venue's withdrawable {p.withdrawable_assets}")
        if withdraw > margin_after_trade:
            problems.append(f"InsufficientMargin: withdraws {withdraw} > margin {margin_after_trade}")
        if new_perp != 0 and d != 0:  # (without a trade the venue's withdrawable already says it)
            initial = _ceil_div(_ceil_div(abs(new_perp) * price, PRICE_SCALE) * p.imr_wad, WAD)
            if equity_after < initial:
                problems.append(f"InitialMarginBreached on the withdrawal: {equity_after} < {initial}")
    after = book
    for got in spot_outcomes:
        new_spot = book.spot_wad + got
        after = replace(
            book,
            net_delta_wad=book.net_delta_wad + got + d,
            spot_wad=new_spot,
            perp_wad=new_perp,
            perp_equity=equity_after,
            perp_margin=margin_after_trade - withdraw,
            margin_ratio_wad=_margin_ratio_wad(equity_after, new_perp, price, p.mmr_wad),
            gross=book.gross
            + (_ceil_div(new_spot * price, PRICE_SCALE) - _ceil_div(book.spot_wad * price, PRICE_SCALE))
            + (
                _ceil_div(abs(new_perp) * price, PRICE_SCALE)
                - _ceil_div(abs(book.perp_wad) * price, PRICE_SCALE)
            ),
            nav=max(int(book.nav - fee - max(spot_cost, 0)), 0),
            liquid=book.liquid - spend,
            last_action_at=now,
        )
        problems += _guard_problems(g, book, after, notional, trades, price, now, a.allow_improvement)
    return problems, after


def _mark_and_delta(snap: Snapshot, series_id: int) -> tuple[float, float]:
    """(mark per ETH, delta per ETH) of a listed series at the IV feed's mid vol (the venue's mark)."""
    s = next(x for x in snap.options.listed if x.series_id == series_id)
    spot, iv = snap.spot_price_wad / WAD, snap.iv_oracle.value_wad / WAD
    tau = max(s.expiry - snap.timestamp, 1) / (365 * DAY)
    k = s.strike_wad / WAD
    if not s.is_call:
        g = pricing.greeks("p", spot, k, tau, 0.0, iv, 0.0)
        return float(g.price), float(g.delta)
    lo = pricing.greeks("c", spot, k, tau, 0.0, iv, 0.0)
    hi = pricing.greeks("c", spot, k + s.cap_wad / WAD, tau, 0.0, iv, 0.0)
    return float(lo.price) - float(hi.price), float(lo.delta) - float(hi.delta)


def _check_trade_option(snap: Snapshot, book: _Book, a: TradeOption, now: int) -> tuple[list[str], _Book]:
    g, price = snap.guard, snap.spot_price_wad
    problems: list[str] = []
    series = next(x for x in snap.options.listed if x.series_id == a.series_id)
    required = _ceil_div(series.max_payout_wad * a.size_wad, PRICE_SCALE)
    if a.fund_assets < required:
        problems.append(f"funds {a.fund_assets} < the venue's collateral {required}")
    if a.fund_assets > book.liquid:
        problems.append(f"funds {a.fund_assets} > liquid {book.liquid} (after the rebalance)")
    mark, delta = _mark_and_delta(snap, a.series_id)
    all_in = a.limit_assets * PRICE_SCALE // a.size_wad / WAD  # worst net proceeds per ETH
    gap = max(mark - all_in, 0.0)
    worst_exec = max(price - int(gap * WAD), 0)
    d_delta = -round(a.size_wad * delta)
    opt_delta = book.option_delta_wad + d_delta
    after = replace(
        book,
        net_delta_wad=book.net_delta_wad + d_delta,
        option_delta_wad=opt_delta,
        gross=book.gross
        + _ceil_div(abs(opt_delta) * price, PRICE_SCALE)
        - _ceil_div(abs(book.option_delta_wad) * price, PRICE_SCALE),
        liquid=book.liquid - a.fund_assets,
        last_action_at=now,
    )
    notional = _ceil_div(a.size_wad * price, PRICE_SCALE)
    problems += _guard_problems(
        g, book, after, notional, [(worst_exec, a.is_buy)], price, now, a.allow_improvement
    )
    return problems, after


def _contract_problems(snap: Snapshot, actions: list[Action]) -> list[str]:
    """What the chain would reject among the guarded actions, in order (each mined a block later)."""
    book = _Book.of(snap)
    out: list[str] = []
    for i, a in enumerate(actions):
        now = snap.timestamp + 1 + i
        if isinstance(a, Rebalance):
            problems, book = _check_rebalance(snap, book, a, now)
        elif isinstance(a, TradeOption):
            problems, book = _check_trade_option(snap, book, a, now)
        else:
            continue
        out += [f"{a.kind}: {p}" for p in problems]
    return out


@pure_settings
@given(case=books())
def test_decide__with_random_books__never_proposes_what_the_contracts_would_reject(case):
    snap, config = case
    d = _decide(snap, config)

    assert _contract_problems(snap, list(d.actions)) == [], (d.actions, d.notes)


@settings(pure_settings, max_examples=150)
@given(case=books(selling_calls=True))
def test_decide__with_random_call_sales__never_proposes_what_the_contracts_would_reject(case):
    snap, config = case
    d = _decide(snap, config)

    assert _contract_problems(snap, list(d.actions)) == [], (d.actions, d.notes)
    for opt in _of(d.actions, TradeOption):
        assert opt.size_wad >= config.option_min_size_eth * WAD and opt.size_wad % 10**16 == 0
        assert opt.limit_assets > 0 and opt.fund_assets > 0


def test_contract_model__with_actions_beyond_the_guard__reports_each_rejection():
    """The test's guard model is not vacuous: it flags what the contract would reject."""
    snap = make_snapshot(positions=(), idle_usd=1_000.0, guard={"max_notional_per_action_assets": 10**9})
    price = snap.spot_price_wad
    reb = Rebalance(
        expected_nonce=7, deadline=T0 + 600, reason="test", figures={"x": 1.0},
        spot_buy_eth=True, spot_amount_in=30_000 * 10**6, spot_min_out=9 * WAD,
        perp_size_delta_wad=-200 * WAD, perp_limit_price_wad=price * 95 // 100,
        perp_margin_delta_assets=-(10**12),
    )  # fmt: skip

    problems = " | ".join(_contract_problems(snap, [reb]))

    for name in ("spends", "NotionalAboveCap", "SlippageAboveMax", "NetDeltaAboveCap", "withdraws"):
        assert name in problems, problems


# =====================================================================================================
# delta: the Whalley–Wilmott band
# =====================================================================================================


@pytest.mark.parametrize(("perp_eth", "net"), [(-95.0, 5.0), (-105.0, -5.0)])
def test_decide__with_net_delta_outside_the_band__trades_the_perp_to_the_band_edge(perp_eth, net):
    snap = make_snapshot(positions=(), spot_eth=100.0, perp_eth=perp_eth, idle_usd=0.0)
    config = _cfg()
    risk = make_risk(snap)
    half = band_half_width_eth(snap, risk, config)
    assert risk.greeks.net_delta_eth == pytest.approx(net)
    assert half == pytest.approx(config.band_floor_eth)  # no options: no gamma, the floor

    reb = _one(_decide(snap, config).actions, Rebalance)

    edge = math.copysign(half, net)
    assert reb.perp_size_delta_wad / WAD == pytest.approx(edge - net, abs=config.min_trade_eth)
    after = net + reb.perp_size_delta_wad / WAD
    assert abs(after - edge) <= config.min_trade_eth  # to the edge ...
    assert abs(after) >= half - config.min_trade_eth  # ... not to zero
    assert reb.spot_amount_in == 0 and reb.perp_margin_delta_assets == 0
    assert "hedge band" in reb.reason
    assert reb.figures["net_delta_eth"] == pytest.approx(net)
    assert reb.figures["band_half_width_eth"] == pytest.approx(half)
    assert reb.figures["hedge_eth"] == pytest.approx(edge - net)
    buy = reb.perp_size_delta_wad > 0
    slip = snap.spot_price_wad * config.slippage_bps // BPS
    assert reb.perp_limit_price_wad == snap.spot_price_wad + (slip if buy else -slip)


@pytest.mark.parametrize("perp_eth", [-99.8, -100.0, -100.2, -100.25, -99.75])
def test_decide__with_net_delta_inside_the_band__does_not_hedge(perp_eth):
    snap = make_snapshot(positions=(), spot_eth=100.0, perp_eth=perp_eth, idle_usd=0.0)

    d = _decide(snap, _cfg())

    assert d.actions == ()


def test_decide__with_a_move_smaller_than_min_trade__does_not_hedge():
    snap = make_snapshot(positions=(), spot_eth=100.0, perp_eth=-99.7, idle_usd=0.0)  # 0.05 beyond the edge

    assert _decide(snap, _cfg(min_trade_eth=0.1)).actions == ()
    assert _one(
        _decide(snap, _cfg(min_trade_eth=0.01)).actions, Rebalance
    ).perp_size_delta_wad == pytest.approx(-0.05 * WAD, abs=10**12)


def test_band_half_width_eth__with_short_gamma__widens_as_whalley_wilmott():
    config = _cfg(band_floor_eth=0.0)

    def width(size: float) -> float:
        positions = () if size == 0 else (make_series(101, strike=3_300.0, size_eth=size),)
        snap = make_snapshot(positions=positions)
        return band_half_width_eth(snap, make_risk(snap), config)

    flat, short, shorter = width(0.0), width(-30.0), width(-60.0)
    assert flat == 0.0
    assert 0.0 < short < shorter
    assert shorter / short == pytest.approx(2 ** (2 / 3), rel=1e-6)  # ∝ Γ^{2/3}
    snap = make_snapshot(positions=(make_series(101, strike=3_300.0, size_eth=-30.0),))
    risk = make_risk(snap)
    g, s = abs(risk.greeks.gamma_eth_per_usd), snap.spot_price_wad / WAD
    ww = (1.5 * config.hedge_cost_frac * s * g * g / config.risk_aversion) ** (1 / 3)
    assert short == pytest.approx(ww, rel=1e-9)


def test_band_half_width_eth__with_a_huge_band__is_capped_under_the_guard():
    snap = make_snapshot(guard={"max_net_delta_wad": 2 * WAD, "delta_trigger_wad": WAD})  # short call: -1.0
    risk = make_risk(snap)
    wide = _cfg(risk_aversion=1e-8, band_cap_fraction_of_guard=0.4)

    half = band_half_width_eth(snap, risk, wide)

    assert half == pytest.approx(0.4 * 2.0)
    reb = _one(_decide(snap, wide).actions, Rebalance)
    after = risk.greeks.net_delta_eth + reb.perp_size_delta_wad / WAD
    assert after == pytest.approx(-half, abs=wide.min_trade_eth)
    # a floor above the cap gives way to the cap
    assert band_half_width_eth(snap, risk, _cfg(band_floor_eth=5.0)) == pytest.approx(0.8 * 2.0)


def test_decide__with_short_gamma__hedges_to_the_wider_band():
    snap = make_snapshot(idle_usd=0.0)  # default: 30 ETH short call, net delta ≈ -1.0
    config = _cfg()
    risk = make_risk(snap)
    half = band_half_width_eth(snap, risk, config)
    assert half > config.band_floor_eth

    reb = _one(_decide(snap, config).actions, Rebalance)

    after = risk.greeks.net_delta_eth + reb.perp_size_delta_wad / WAD
    assert after == pytest.approx(-half, abs=config.min_trade_eth)


def test_decide__with_a_hedge_beyond_the_notional_cap__hedges_as_much_as_it_allows():
    cap = 6_000 * 10**6  # 2 ETH at $3,000 (the policy keeps 2 % under)
    snap = make_snapshot(
        positions=(), perp_eth=-95.0, idle_usd=0.0, guard={"max_notional_per_action_assets": cap}
    )

    reb = _one(_decide(snap, _cfg()).actions, Rebalance)

    assert reb.perp_size_delta_wad == -196 * WAD // 100
    assert reb.figures["hedge_capped_by_notional"] == 1.0
    assert _contract_problems(snap, [reb]) == []


def test_decide__with_no_margin_for_a_bigger_short__hedges_by_selling_spot():
    snap = make_snapshot(positions=(), perp_eth=-95.0, perp_margin_usd=29_500.0, idle_usd=0.0)  # ratio 2.07
    config = _cfg()

    reb = _one(_decide(snap, config).actions, Rebalance)

    assert reb.perp_size_delta_wad == 0 and reb.perp_margin_delta_assets == 0
    assert not reb.spot_buy_eth and reb.spot_amount_in == 475 * WAD // 100  # to the band edge
    assert "selling spot" in reb.reason and reb.figures["hedge_eth"] == pytest.approx(-4.75)
    assert _contract_problems(snap, [reb]) == []


def test_decide__with_a_slippage_limit_at_the_guards_max__leaves_room_for_the_fee():
    snap = make_snapshot(positions=(), perp_eth=-95.0, idle_usd=0.0, guard={"max_slippage_bps": 30})
    config = _cfg(slippage_bps=30)
    assert check_against_guard(config, snap) == []

    reb = _one(_decide(snap, config).actions, Rebalance)

    fee_per_eth = reb.perp_limit_price_wad * snap.perp.fee_bps // BPS
    worst = reb.perp_limit_price_wad - fee_per_eth  # a sale at the limit, the fee paid
    assert adverse_slippage_bps(worst, snap.spot_price_wad, is_buy=False) <= 30
    assert reb.perp_limit_price_wad < snap.spot_price_wad  # still a limit a fill can meet


def test_decide__with_leverage_above_the_guards_cap__cuts_the_basis():
    snap = make_snapshot(
        positions=(), idle_usd=0.0, pool_depth_usd=1e9, guard={"max_leverage_wad": 3 * WAD // 2}
    )
    book = snap.book
    assert book.gross_exposure_assets > 1.5 * book.nav_assets

    reb = _one(_decide(snap, _cfg()).actions, Rebalance)

    assert not reb.spot_buy_eth and reb.perp_size_delta_wad == pytest.approx(reb.spot_amount_in, rel=1e-6)
    cut_usd = reb.spot_amount_in / WAD * 3_000 * 10**6
    assert book.gross_exposure_assets - 2 * cut_usd == pytest.approx(0.9 * 1.5 * book.nav_assets, rel=1e-3)
    assert "leverage" in reb.reason
    assert _contract_problems(snap, [reb]) == []


def test_decide__with_net_delta_beyond_the_guards_cap__hedges_before_any_basis_change():
    snap = make_snapshot(positions=(), perp_eth=-80.0, idle_usd=0.0, funding_8h=-0.001,
                         guard={"max_net_delta_wad": 10 * WAD})  # fmt: skip
    d = _decide(snap, _cfg())

    reb = _one(d.actions, Rebalance)
    assert reb.spot_amount_in == 0 and reb.perp_size_delta_wad == pytest.approx(-19.75 * WAD, abs=10**12)
    assert reb.allow_improvement  # it starts past the cap: the vault must measure the book before it
    assert any("unwind waits" in n and "hedging first" in n for n in d.notes)
    assert _contract_problems(snap, [reb]) == []


def test_decide__with_a_book_well_inside_the_guard__does_not_pay_for_the_before_book():
    # 8 ETH of net delta: outside the hedging band, well inside the guard's 20 ETH cap
    snap = make_snapshot(
        positions=(), perp_eth=-92.0, idle_usd=50_000.0, guard={"max_net_delta_wad": 20 * WAD}
    )
    reb = _one(_decide(snap, _cfg()).actions, Rebalance)
    assert not needs_before_book(snap.guard, snap.book) and not reb.allow_improvement
    assert _contract_problems(snap, [reb]) == []


def test_needs_before_book__at_each_bound__switches_within_ten_percent():
    g = make_snapshot().guard.model_copy(
        update={"max_net_delta_wad": 10 * WAD, "min_margin_ratio_wad": 2 * WAD, "max_leverage_wad": 3 * WAD}
    )
    calm = BookState(net_delta_wad=0, margin_ratio_wad=UINT256_MAX, gross_exposure_assets=0, nav_assets=1)
    assert not needs_before_book(g, calm)
    assert not needs_before_book(g, calm.model_copy(update={"net_delta_wad": -9 * WAD}))  # 90% of the cap
    assert needs_before_book(g, calm.model_copy(update={"net_delta_wad": -9 * WAD - 1}))
    assert not needs_before_book(g, calm.model_copy(update={"margin_ratio_wad": 22 * WAD // 10}))  # 110%
    assert needs_before_book(g, calm.model_copy(update={"margin_ratio_wad": 22 * WAD // 10 - 1}))
    at = calm.model_copy(update={"gross_exposure_assets": 27, "nav_assets": 10})  # leverage 2.7: 90%
    assert not needs_before_book(g, at)
    assert needs_before_book(g, at.model_copy(update={"gross_exposure_assets": 28}))


def test_decide__with_a_rebalance_the_guard_would_revert__holds_it_back_with_a_note():
    # above the leverage cap, the pool off the oracle (no cut possible): a margin withdrawal alone would
    # leave the leverage as it is, which the guard rejects
    snap = make_snapshot(positions=(), idle_usd=0.0, pool_price=3_100.0, perp_margin_usd=100_000.0,
                         guard={"max_leverage_wad": WAD})  # fmt: skip

    d = _decide(snap, _cfg())

    assert d.actions == ()
    assert any("held back" in n and "LeverageAboveMax" in n for n in d.notes), d.notes


# =====================================================================================================
# margin
# =====================================================================================================


def test_decide__with_margin_below_min__tops_up_to_target_from_idle():
    snap = make_snapshot(positions=(), perp_margin_usd=20_000.0, idle_usd=100_000.0)  # ratio 1.33
    config = _cfg()

    reb = _one(_decide(snap, config).actions, Rebalance)

    assert reb.perp_margin_delta_assets == 25_000 * 10**6  # 3 × 15,000 − 20,000
    assert reb.spot_amount_in == 0 and reb.perp_size_delta_wad == 0
    assert _ratio_after(snap, reb) == pytest.approx(config.margin_target_ratio, rel=1e-6)
    assert "below the minimum" in reb.reason
    assert reb.figures["margin_delta_usd"] == 25_000.0


def test_decide__with_margin_below_min_and_no_idle__cuts_the_basis():
    snap = make_snapshot(positions=(), perp_margin_usd=20_000.0, idle_usd=0.0, pool_depth_usd=1e9)
    config = _cfg()

    reb = _one(_decide(snap, config).actions, Rebalance)

    assert not reb.spot_buy_eth and reb.spot_amount_in > 0  # sell spot ...
    assert reb.perp_size_delta_wad == pytest.approx(reb.spot_amount_in, rel=1e-6)  # ... buy back as much perp
    assert reb.perp_margin_delta_assets == 0
    assert _ratio_after(snap, reb) == pytest.approx(config.margin_target_ratio, rel=1e-2)  # (less the fee)
    assert "cut the basis" in reb.reason


def test_decide__with_margin_below_min_no_idle_and_a_shallow_pool__cuts_what_the_pool_takes():
    snap = make_snapshot(positions=(), perp_margin_usd=20_000.0, idle_usd=0.0)  # 25M ETH-side reserve
    config = _cfg()

    reb = _one(_decide(snap, config).actions, Rebalance)

    pool_room = config.max_price_impact_bps / BPS * snap.spot.pool_eth_reserve_wad
    assert reb.spot_amount_in == pytest.approx(pool_room, rel=1e-9)
    assert snap.perp.margin_ratio_wad / WAD < _ratio_after(snap, reb) < config.margin_target_ratio  # nearer
    assert _contract_problems(snap, [reb]) == []


def test_decide__with_margin_below_min_and_some_idle__tops_up_with_it_and_cuts_the_rest():
    snap = make_snapshot(positions=(), perp_margin_usd=20_000.0, idle_usd=15_000.0, pool_depth_usd=1e9)
    config = _cfg()  # needs 25,000: 15,000 from idle, the rest by cutting 10,000 / 450 ≈ 22.2 ETH

    reb = _one(_decide(snap, config).actions, Rebalance)

    assert reb.perp_margin_delta_assets == 15_000 * 10**6
    assert not reb.spot_buy_eth and reb.perp_size_delta_wad == pytest.approx(22.222 * WAD, rel=1e-4)
    assert _ratio_after(snap, reb) == pytest.approx(config.margin_target_ratio, rel=1e-2)


def test_decide__with_margin_above_max__withdraws_to_target():
    snap = make_snapshot(positions=(), perp_margin_usd=100_000.0, idle_usd=0.0)  # ratio 6.67
    config = _cfg()

    reb = _one(_decide(snap, config).actions, Rebalance)

    assert reb.perp_margin_delta_assets == -55_000 * 10**6
    assert -reb.perp_margin_delta_assets <= snap.perp.withdrawable_assets
    assert _ratio_after(snap, reb) == pytest.approx(config.margin_target_ratio)
    assert "above the maximum" in reb.reason


def test_decide__with_margin_above_max__withdraws_no_more_than_the_venue_lets_go():
    snap = make_snapshot(
        positions=(), perp_margin_usd=100_000.0, idle_usd=0.0, perp={"withdrawable_assets": 5_000 * 10**6}
    )

    cfg = _cfg()
    reb = _one(_decide(snap, cfg).actions, Rebalance)

    # what the venue lets go at the snapshot, less the most funding that can accrue before the deadline
    notional = 100 * 3_000 * 10**6
    allowance = -(-notional * snap.perp.max_funding_8h_wad * cfg.deadline_sec // (WAD * 8 * 3_600)) + 1
    assert reb.perp_margin_delta_assets == -(5_000 * 10**6 - allowance)


@pytest.mark.parametrize("margin_usd", [30_000.0, 45_000.0, 75_000.0])  # ratios 2, 3, 5: inside
def test_decide__with_margin_inside_the_range__leaves_it(margin_usd):
    snap = make_snapshot(positions=(), perp_margin_usd=margin_usd, idle_usd=100_000.0)

    assert _decide(snap, _cfg()).actions == ()


def test_decide__closing_the_perp__withdraws_no_more_than_the_margin_left_after_the_fee():
    snap = make_snapshot(positions=(), spot_eth=10.0, perp_eth=-10.0, idle_usd=0.0)

    reb = _one(_decide(snap, _cfg(basis_enabled=False)).actions, Rebalance)

    assert reb.perp_size_delta_wad == 10 * WAD and reb.spot_amount_in == 10 * WAD  # the whole basis
    fee = 10 * 3_000 * 5 // BPS * 10**6
    assert 0 < -reb.perp_margin_delta_assets <= snap.perp.margin_assets - fee
    assert _contract_problems(snap, [reb]) == []


# =====================================================================================================
# basis and funding
# =====================================================================================================


def _open_basis_snapshot(**kw: Any) -> Snapshot:
    knobs = {"positions": (), "spot_eth": 0.0, "perp_eth": 0.0, "idle_usd": 500_000.0, "pool_depth_usd": 1e9}
    return make_snapshot(**(knobs | kw))


def test_decide__with_idle_above_the_buffer__opens_a_delta_neutral_basis():
    snap = _open_basis_snapshot()
    config = PolicyConfig(options_enabled=False)
    price, mmr, fee = 3_000.0, 0.05, 500 / FEE_UNITS

    reb = _one(_decide(snap, config).actions, Rebalance)

    deployable = 500_000 * (1 - config.idle_buffer_frac)
    spot_usd = deployable / (1 + config.margin_target_ratio * mmr)
    assert reb.spot_buy_eth and reb.spot_amount_in == pytest.approx(spot_usd * 1e6, abs=1)
    at_oracle = reb.spot_amount_in * PRICE_SCALE // snap.spot_price_wad
    assert reb.spot_min_out == at_oracle * 9_995 // 10_000 * (BPS - config.slippage_bps) // BPS
    # the short matches what the swap delivers: the pool fee and the price impact less
    got = spot_usd / price * (1 - fee) * (1 - spot_usd / snap.spot.pool_asset_reserve * 1e6)
    assert reb.perp_size_delta_wad / WAD == pytest.approx(-got, abs=1e-6)
    assert reb.perp_limit_price_wad == snap.spot_price_wad * (BPS - config.slippage_bps) // BPS
    assert reb.perp_margin_delta_assets == pytest.approx(spot_usd * 3 * mmr * 1e6, abs=1)
    assert _ratio_after(snap, reb) == pytest.approx(config.margin_target_ratio, rel=1e-2)  # (less the fee)
    assert reb.spot_amount_in + reb.perp_margin_delta_assets <= snap.vault.liquid_assets
    assert "open basis" in reb.reason and reb.figures["deploy_usd"] == pytest.approx(spot_usd)


def test_decide__with_a_shallow_pool__caps_the_buy_by_the_price_impact_budget():
    snap = _open_basis_snapshot(pool_depth_usd=20_000_000.0)  # 10M a side
    config = PolicyConfig(options_enabled=False)

    reb = _one(_decide(snap, config).actions, Rebalance)

    assert reb.spot_amount_in == pytest.approx(config.max_price_impact_bps / BPS * 10_000_000 * 1e6, abs=1)
    assert reb.figures["capped_by_pool_depth"] == 1.0


def test_decide__with_a_small_notional_cap__keeps_both_legs_under_it():
    snap = _open_basis_snapshot(guard={"max_notional_per_action_assets": 100_000 * 10**6})

    reb = _one(_decide(snap, PolicyConfig(options_enabled=False)).actions, Rebalance)

    perp_notional = abs(reb.perp_size_delta_wad) * snap.spot_price_wad // PRICE_SCALE
    assert reb.spot_amount_in + perp_notional <= 100_000 * 10**6
    assert reb.spot_amount_in > 45_000 * 10**6  # nearly all of it used
    assert reb.figures["scaled_to_notional_cap"] < 1


def test_decide__with_a_low_leverage_cap__keeps_leverage_under_it():
    snap = _open_basis_snapshot(guard={"max_leverage_wad": 12 * WAD // 10})
    config = PolicyConfig(options_enabled=False)

    reb = _one(_decide(snap, config).actions, Rebalance)

    gross = reb.spot_amount_in + abs(reb.perp_size_delta_wad) * snap.spot_price_wad // PRICE_SCALE
    assert gross <= config.max_leverage_fraction_of_guard * 1.2 * snap.book.nav_assets * 1.0001
    assert _contract_problems(snap, [reb]) == []


def test_decide__with_the_pool_off_the_oracle__does_not_trade_spot():
    snap = _open_basis_snapshot(pool_price=3_030.0)  # 100 bps off

    d = _decide(snap, PolicyConfig(options_enabled=False))

    assert not _of(d.actions, Rebalance)
    assert any("pool" in n and "off the oracle" in n for n in d.notes)


def test_decide__with_funding_against_the_basis_over_the_window__unwinds():
    snap = make_snapshot(positions=(), funding_8h=-0.0005, idle_usd=0.0, pool_depth_usd=1e9)
    config = _cfg()
    assert funding_mean_8h(snap, config.funding_window_sec) == pytest.approx(-0.0005)

    reb = _one(_decide(snap, config).actions, Rebalance)

    assert not reb.spot_buy_eth and reb.spot_amount_in == snap.spot.weth_wad  # all the spot ...
    assert reb.perp_size_delta_wad == -snap.perp.size_wad  # ... and the whole short
    assert reb.perp_margin_delta_assets < 0  # the margin comes home
    assert "funding against the basis" in reb.reason
    assert reb.figures["funding_mean_8h"] == pytest.approx(-0.0005)


def test_decide__with_funding_negative_only_lately__keeps_the_basis():
    history = [(T0 - 1_800 - i * 8 * 3_600, 0.0003) for i in range(9, 0, -1)] + [(T0 - 1_800, -0.001)]
    snap = make_snapshot(positions=(), funding_history=history, funding_8h=-0.001, idle_usd=0.0)
    config = _cfg()
    assert funding_mean_8h(snap, config.funding_window_sec) > config.funding_unwind_below_8h

    assert _decide(snap, config).actions == ()


def test_decide__with_funding_history_shorter_than_the_window__does_not_unwind():
    snap = make_snapshot(positions=(), funding_history=[(T0 - 3_600, -0.002)], idle_usd=0.0)
    config = _cfg()
    assert funding_mean_8h(snap, config.funding_window_sec) is None

    assert _decide(snap, config).actions == ()


def test_decide__with_funding_between_the_thresholds__neither_opens_nor_unwinds():
    snap = _open_basis_snapshot(funding_8h=-0.00005)
    config = PolicyConfig(options_enabled=False, funding_unwind_below_8h=-0.0001, funding_open_above_8h=0.0)

    assert _decide(snap, config).actions == ()


def test_decide__with_queued_redemptions_and_too_little_liquidity__frees_liquidity():
    snap = make_snapshot(positions=(), queued_usd=150_000.0, idle_usd=10_000.0, pool_depth_usd=1e9)
    config = _cfg()

    d = _decide(snap, config)

    reb = _one(d.actions, Rebalance)
    assert not reb.spot_buy_eth and reb.spot_amount_in > 0
    assert reb.perp_size_delta_wad == pytest.approx(reb.spot_amount_in, rel=1e-6)
    assert reb.perp_margin_delta_assets < 0  # the margin the cut frees comes home too
    freed = reb.spot_min_out - reb.perp_margin_delta_assets
    assert 140_000 * 10**6 <= freed <= 140_000 * 10**6 * 1.02  # the shortfall (a 1 % cushion), not more
    assert reb.spot_amount_in < snap.spot.weth_wad
    assert "queued redemptions" in reb.reason and reb.figures["redemption_shortfall_usd"] == 140_000.0
    assert _ratio_after(snap, reb) == pytest.approx(_cfg().margin_target_ratio, rel=1e-2)
    assert _kinds(d.actions)[-1] == "process_redemptions"


def test_decide__with_queued_redemptions_and_enough_liquidity__keeps_it_for_them():
    snap = _open_basis_snapshot(queued_usd=100_000.0)
    config = PolicyConfig(options_enabled=False)

    reb = _one(_decide(snap, config).actions, Rebalance)

    kept = snap.vault.liquid_assets - reb.spot_amount_in - reb.perp_margin_delta_assets
    assert kept >= (100_000 + config.idle_buffer_frac * 500_000) * 10**6 * 0.999


# =====================================================================================================
# options
# =====================================================================================================


def _calls_snapshot(**kw: Any) -> Snapshot:
    return make_snapshot(**({"positions": (), "idle_usd": 200_000.0} | kw))


OPTIONS = {"min_deploy_usd": 1e12}


def test_decide__with_no_short_call__sells_the_series_closest_to_tenor_and_delta():
    snap = _calls_snapshot()
    config = PolicyConfig(**OPTIONS)

    opt = _one(_decide(snap, config).actions, TradeOption)

    assert not opt.is_buy
    chosen = next(s for s in snap.options.listed if s.series_id == opt.series_id)
    assert chosen.is_call and chosen.expiry == T0 + 7 * DAY
    iv = snap.iv_oracle.value_wad / WAD
    deltas = {
        s.series_id: _model_bid_usd(snap, s, iv)[1]
        for s in snap.options.listed
        if s.is_call and s.expiry == chosen.expiry
    }
    assert opt.series_id == min(deltas, key=lambda i: abs(deltas[i] - config.option_target_delta))
    bid, delta, vega = _model_bid_usd(snap, chosen, iv)
    size = min(config.option_size_frac_of_spot * 100.0, config.option_vega_budget_usd_per_vol_pt / vega)
    assert opt.size_wad == math.floor(size * 100) * 10**16
    assert opt.fund_assets == _ceil_div(chosen.max_payout_wad * opt.size_wad, PRICE_SCALE)
    assert opt.fund_assets <= snap.vault.liquid_assets
    net = bid * opt.size_wad / WAD * (1 - snap.options.fee_bps / BPS)
    assert opt.limit_assets == math.floor(net * (1 - config.option_price_tolerance) * 1e6)
    assert opt.figures["delta"] == pytest.approx(delta) and opt.figures["model_bid_usd"] == pytest.approx(bid)
    assert "covered call" in opt.reason


@pytest.mark.parametrize(("tenor", "min_tenor", "days"), [(7.0, 2.0, 7), (12.0, 2.0, 14), (10.5, 2.0, 7),
                                                          (10.0, 8.0, 14), (30.0, 2.0, 14)])  # fmt: skip
def test_decide__with_option_tenor__sells_the_closest_listed_expiry(tenor, min_tenor, days):
    snap = _calls_snapshot()
    config = PolicyConfig(**OPTIONS, option_tenor_days=tenor, option_min_tenor_days=min_tenor)

    opt = _one(_decide(snap, config).actions, TradeOption)

    assert next(s for s in snap.options.listed if s.series_id == opt.series_id).expiry == T0 + days * DAY


def test_decide__with_no_series_long_enough__sells_nothing_and_says_so():
    snap = _calls_snapshot()

    d = _decide(snap, PolicyConfig(**OPTIONS, option_tenor_days=30.0, option_min_tenor_days=20.0))

    assert not _of(d.actions, TradeOption)
    assert any("no listed call series" in n for n in d.notes)


def test_decide__with_a_small_vega_budget__sizes_the_sale_to_it():
    snap = _calls_snapshot()
    config = PolicyConfig(**OPTIONS, option_vega_budget_usd_per_vol_pt=50.0)

    opt = _one(_decide(snap, config).actions, TradeOption)

    vega, size = opt.figures["vega_per_vol_pt_usd"], opt.figures["size_eth"]
    assert size < config.option_size_frac_of_spot * 100.0  # the budget binds
    assert 50.0 - vega / size * 0.01 < vega <= 50.0  # within one 0.01 ETH step of it


def test_decide__with_little_idle__sells_only_the_collateral_it_can_afford():
    snap = _calls_snapshot(idle_usd=5_000.0)

    opt = _one(_decide(snap, PolicyConfig(**OPTIONS)).actions, TradeOption)

    assert opt.fund_assets <= snap.vault.liquid_assets
    assert opt.size_wad == 4_12 * 10**16  # 5,000 / 1,200 per ETH × 0.99, in 0.01 steps


def test_decide__with_too_little_idle_for_the_minimum_size__sells_nothing_and_says_so():
    d = _decide(_calls_snapshot(idle_usd=50.0), PolicyConfig(**OPTIONS))

    assert not _of(d.actions, TradeOption)
    assert any("too small" in n for n in d.notes)


def test_decide__with_a_tight_net_delta_cap__sells_no_more_delta_than_it_allows():
    snap = _calls_snapshot(guard={"max_net_delta_wad": 5 * WAD})

    opt = _one(_decide(snap, PolicyConfig(**OPTIONS)).actions, TradeOption)

    assert opt.size_wad / WAD * opt.figures["delta"] <= 0.98 * 5.0
    assert opt.size_wad / WAD * opt.figures["delta"] > 0.98 * 5.0 - 0.01
    assert _contract_problems(snap, [opt]) == []


def test_decide__with_a_short_call_open__sells_no_other():
    d = _decide(make_snapshot(idle_usd=0.0), PolicyConfig(**OPTIONS))

    assert not _of(d.actions, TradeOption)


def test_decide__with_the_iv_oracle_failing__sells_no_option_and_names_the_verdict():
    snap = _calls_snapshot(iv_age_sec=100_000)  # beyond the IV feed's 1-day max age
    assert snap.iv_oracle.verdict == Verdict.Stale

    d = _decide(snap, PolicyConfig(**OPTIONS))

    assert not _of(d.actions, TradeOption)
    assert any("IV oracle Stale" in n for n in d.notes)


def test_decide__with_the_iv_oracle_failing__still_rebalances():
    snap = _calls_snapshot(iv_age_sec=100_000, perp_eth=-95.0, idle_usd=0.0)

    d = _decide(snap, PolicyConfig(**OPTIONS))

    assert _kinds(d.actions) == ["rebalance"]


def test_decide__with_the_iv_jumping__pokes_the_option_oracle_and_sells_nothing():
    snap = _calls_snapshot(iv_last_good=0.3)  # 70 % against 30 %: beyond the 50 % breaker
    assert snap.iv_oracle.verdict == Verdict.Deviation

    d = _decide(snap, PolicyConfig(**OPTIONS))

    poke = _one(d.actions, PokeOracle)
    assert (poke.target, poke.which) == (OPTION_ORACLE, "option_oracle")
    assert not _of(d.actions, TradeOption)


def test_decide__with_an_expired_position__settles_once_the_settlement_round_exists():
    expiry = T0 - 3_600
    snap = make_snapshot(positions=(make_series(7, expiry=expiry, size_eth=-10.0),), idle_usd=0.0)
    assert snap.spot_oracle.round.updated_at >= expiry

    settle = _one(_decide(snap, _cfg()).actions, SettleOption)

    assert settle.series_id == 7 and settle.expected_nonce == snap.action_nonce
    assert settle.figures["size_eth"] == -10.0 and settle.figures["expiry"] == expiry
    assert "expired" in settle.reason


def test_decide__with_an_expired_position_before_its_settlement_round__waits():
    expiry = T0 - 10
    snap = make_snapshot(positions=(make_series(7, expiry=expiry, size_eth=-10.0),), spot_age_sec=30)
    assert snap.spot_oracle.round.updated_at < expiry

    d = _decide(snap, _cfg())

    assert not _of(d.actions, SettleOption)
    assert any("series 7" in n and "waiting" in n for n in d.notes)


def test_decide__with_the_settlement_window_passed__settles_without_a_new_round():
    expiry = T0 - DAY - 100
    snap = make_snapshot(positions=(make_series(7, expiry=expiry, size_eth=-10.0),), spot_age_sec=DAY + 200)
    assert snap.spot_oracle.verdict == Verdict.Stale

    assert _one(_decide(snap, _cfg()).actions, SettleOption).series_id == 7


def test_decide__with_an_open_position__does_not_settle_it():
    assert not _of(_decide(make_snapshot(), _cfg()).actions, SettleOption)


# =====================================================================================================
# oracles
# =====================================================================================================


def _busy_knobs() -> dict[str, Any]:
    """Every rule acts: an expired short to settle, a loss to cover, idle to deploy, no short call open,
    a report due and a queued redemption."""
    return {
        "positions": (make_series(7, expiry=T0 - DAY - 100, size_eth=-10.0),),
        "unreported_loss_usd": 1_000.0,
        "last_report_at": T0 - 2 * DAY,
        "queued_usd": 1_000.0,
        "guard": {"min_action_interval_sec": 0},
    }


def _busy(**kw: Any) -> Snapshot:
    return make_snapshot(**(_busy_knobs() | kw))


def _non_positive_spot() -> Snapshot:
    snap = _busy()
    r = snap.spot_oracle.round.model_dump() | {"answer": 0}  # the feed answers 0
    verdict, value = check(snap.spot_oracle.config, snap.spot_oracle.state, RoundData(**r), T0)
    return make_snapshot(
        **(_busy_knobs() | {"spot_oracle": {"round": r, "verdict": int(verdict), "value_wad": value}})
    )


def test_busy_snapshot__with_good_oracles__triggers_every_rule():
    kinds = _kinds(_decide(_busy()).actions)

    assert kinds == [
        "settle_option",
        "cover_loss",
        "rebalance",
        "trade_option",
        "report",
        "process_redemptions",
    ]


@pytest.mark.parametrize(
    ("snap_fn", "verdict"),
    [
        (lambda: _busy(spot_age_sec=7_200), "Stale"),
        (lambda: _busy(spot_age_sec=-5), "FutureTimestamp"),
        (_non_positive_spot, "NonPositive"),
        (lambda: _busy(spot_last_good=2_000.0, spot_tripped_at=T0 - 60), "CoolingDown"),
    ],
)
def test_decide__with_a_failed_spot_oracle__no_rebalance_trade_or_report_and_a_note(snap_fn, verdict):
    snap = snap_fn()
    assert snap.spot_oracle.verdict.name == verdict

    d = _decide(snap)

    assert not _of(d.actions, Rebalance | TradeOption | Report)
    assert any(f"spot oracle {verdict}" in n for n in d.notes), d.notes
    # what needs no price still goes out
    assert _kinds(d.actions) == ["settle_option", "cover_loss", "process_redemptions"]


def test_decide__with_a_spot_jump__pokes_each_leg_and_still_settles_covers_and_redeems():
    snap = _busy(spot_last_good=2_000.0)
    assert snap.spot_oracle.verdict == Verdict.Deviation

    d = _decide(snap)

    pokes = _of(d.actions, PokeOracle)
    assert [(p.target, p.which) for p in pokes] == [(SPOT_LEG, "leg"), (PERP_LEG, "leg"), (OPTION_LEG, "leg")]
    assert all(p.figures["value_wad"] == snap.spot_oracle.value_wad for p in pokes)
    assert _kinds(d.actions) == ["poke_oracle"] * 3 + ["settle_option", "cover_loss", "process_redemptions"]
    assert any("spot oracle Deviation" in n for n in d.notes)


# =====================================================================================================
# insurance and report
# =====================================================================================================


_PAID_OUT = make_series(9, expiry=T0 - 2 * DAY, size_eth=-5.0, settled=True, settlement_price=4_000.0)


@pytest.mark.parametrize(
    ("knobs", "code"),
    [
        ({"funding_8h": -0.0002}, "NEGATIVE_FUNDING"),
        ({"positions": (_PAID_OUT,)}, "OPTION_PAYOUT"),
        ({}, "OTHER"),
    ],
)
def test_decide__with_an_unreported_loss_the_fund_can_pay__covers_it_with_the_reason(knobs, code):
    snap = make_snapshot(**({"unreported_loss_usd": 2_500.0, "idle_usd": 0.0} | knobs))

    cover = _one(_decide(snap, _cfg()).actions, CoverLoss)

    assert cover.loss_reason == code
    assert cover.figures == {"loss_usd": 2_500.0, "coverable_usd": 5_000.0}
    assert "insurance" in cover.reason


def test_decide__with_a_loss_the_fund_cannot_pay__notes_it():
    d = _decide(make_snapshot(unreported_loss_usd=2_500.0, insurance_usd=0.0), _cfg())

    assert not _of(d.actions, CoverLoss)
    assert any("insurance fund cannot pay" in n for n in d.notes)


def test_decide__with_no_loss__covers_nothing():
    assert not _of(_decide(make_snapshot(), _cfg()).actions, CoverLoss)


@pytest.mark.parametrize(("since", "due"), [(DAY, True), (DAY - 1, False), (3 * DAY, True), (60, False)])
def test_decide__with_report_schedule__reports_only_when_due(since, due):
    snap = make_snapshot(last_report_at=T0 - since, idle_usd=0.0)

    reports = _of(_decide(snap, _cfg()).actions, Report)

    assert len(reports) == int(due)
    if due:
        assert reports[0].figures["since_last_sec"] == since and reports[0].reason == "report schedule"


# =====================================================================================================
# nonces, deadlines, the action interval
# =====================================================================================================


def test_decide__with_many_actions__numbers_nonces_consecutively_and_sets_deadlines():
    snap = _busy(nonce=41)
    config = PolicyConfig(deadline_sec=900)

    d = _decide(snap, config)

    with_nonce = [a for a in d.actions if a.nonce is not None]
    assert [a.nonce for a in with_nonce] == [41, 42, 43, 44, 45]
    assert all(a.deadline == T0 + 900 for a in _of(d.actions, GUARDED))
    assert _one(d.actions, ProcessRedemptions).max_count == config.redemptions_max_count


@pytest.mark.parametrize(("ago", "allowed"), [(100, False), (298, False), (299, True), (3_600, True)])
def test_decide__with_the_last_action_recent__waits_the_guards_interval(ago, allowed):
    snap = _busy(last_action_at=T0 - ago, guard={"min_action_interval_sec": 300})

    d = _decide(snap)

    assert bool(_of(d.actions, GUARDED)) == allowed
    assert allowed or any("minimum interval" in n for n in d.notes)
    assert {"settle_option", "cover_loss", "report", "process_redemptions"} <= set(_kinds(d.actions))


def test_decide__with_an_action_interval__sends_one_guarded_action_per_cycle():
    interval = _decide(_busy(guard={"min_action_interval_sec": 300}))
    no_interval = _decide(_busy(guard={"min_action_interval_sec": 0}))

    assert _kinds(_of(interval.actions, GUARDED)) == ["rebalance"]
    assert _kinds(_of(no_interval.actions, GUARDED)) == ["rebalance", "trade_option"]


def test_decide__with_the_vault_shut_down__sends_no_guarded_action():
    d = _decide(_busy(vault={"shutdown": True}))

    assert not _of(d.actions, GUARDED)


def test_decide__with_every_rule_acting__explains_every_action():
    d = _decide(_busy(spot_last_good=2_000.0))
    d2 = _decide(_busy(iv_last_good=0.3))

    for a in d.actions + d2.actions + _decide(_busy()).actions:
        assert a.reason.strip() and a.figures, a
