"""The keeper's decision function: `decide(snapshot, risk, config) -> list[Action]`.

Pure and deterministic: no I/O, no clock, no randomness — the same snapshot, risk report and config
give the same actions, which is what makes the auditor's replay exact and backtests honest.

Every action carries the vault nonce it expects (consecutive within a cycle, so a failed action makes
the rest of the cycle revert `StaleNonce` harmlessly), a deadline from the snapshot's block time, limits
derived from the validated oracle price, a `reason` and the `figures` that triggered it.

Rules, in the order they are applied (see DESIGN.md "Keeper rules"):

1. Oracles. A spot verdict of `Deviation` (a jump beyond a breaker's bound) → poke every consumer so the
   breaker trips and its cooldown starts (a reverting read can never trip it). No trade, report or
   option sale while a spot or IV check fails; settlement, loss cover and redemptions need no price.
2. Settle every expired option position once its settlement round exists (first spot round at or
   after expiry, or the window has passed).
3. Cover a reported loss from the insurance fund while it can pay.
4. One `rebalance` (guarded, at most one guarded action per `min_action_interval_sec`):
   - basis: unwind it when the mean funding over `funding_window_sec` is below
     `funding_unwind_below_8h`; free liquidity for queued redemptions; otherwise put idle assets above
     the buffer into spot ETH + an equal perp short, with margin at `margin_target_ratio`;
     the basis is cut when the book's leverage is above the guard's cap, and waits while the net delta
     is beyond the guard's cap (only an action that brings it nearer passes: the hedge goes first);
   - delta: a perp trade to the edge of the Whalley–Wilmott band (from risk.py) when the net delta
     (spot + perp + options, after the basis change) leaves it; a sale that would grow the short past
     what the margin (idle included) or the leverage cap carries sells spot instead;
   - margin: keep equity / maintenance within [`margin_min_ratio`, `margin_max_ratio`] (and never
     under the venue's initial margin when the position grows): top up to `margin_target_ratio` from
     idle (else with the idle there is, cutting the basis for the rest), withdraw the excess above the
     max (and what a cut for redemptions frees), never more than the venue lets go;
   - clamped to RiskGuard's caps (notional per action for both legs, the slippage limits tightened so
     the worst fill with its fee stays within maxSlippageBps); finally checked with `keeper.guard`'s
     mirror of `checkAction` on the predicted book, and held back (with a note) if it would revert.
5. Options: sell covered calls (tenor, delta target, size as a share of the spot ETH, vega budget,
   the guard's net-delta cap) when no short call is open; guarded like a rebalance.
6. `report()` every `report_interval_sec`; `processRedemptions` while requests wait.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from keeper import pricing
from keeper.guard import (
    NO_EXEMPTION,
    UINT256_MAX,
    ActionInfo,
    BookState,
    Trade,
    Violation,
    check_action,
    needs_before_book,
)
from keeper.oracle import Verdict
from keeper.risk import RiskReport, ww_half_width_eth
from keeper.snapshot import OptionSeries, Snapshot

WAD = 10**18
BPS = 10_000
YEAR_SEC = 365 * 86_400
UNISWAP_FEE_UNITS = 1_000_000

_FROZEN = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

Figures = dict[str, float]


# =====================================================================================================
# configuration
# =====================================================================================================


class PolicyConfig(BaseModel):
    """What the keeper aims for. Bounds are checked here; `check_against_guard` checks the config
    against the vault's RiskGuard (the policy must never aim outside what the contracts accept)."""

    model_config = _FROZEN

    # delta hedging (Whalley–Wilmott band)
    hedge_cost_frac: float = Field(
        0.0005, ge=0, le=0.05, description="one-way perp cost, fraction of notional"
    )
    risk_aversion: float = Field(1e-3, gt=0, description="absolute risk aversion per USD (band γ)")
    band_floor_eth: float = Field(0.25, ge=0)
    band_cap_fraction_of_guard: float = Field(0.8, gt=0, le=1, description="band cap / guard's net-delta cap")
    min_trade_eth: float = Field(0.01, ge=0)
    # margin (equity / maintenance requirement)
    margin_min_ratio: float = Field(2.0, gt=1)
    margin_target_ratio: float = Field(3.0, gt=1)
    margin_max_ratio: float = Field(5.0, gt=1)
    # basis and funding
    basis_enabled: bool = True
    idle_buffer_frac: float = Field(0.05, ge=0, le=1, description="idle assets kept, fraction of NAV")
    min_deploy_usd: float = Field(1_000.0, ge=0)
    funding_window_sec: int = Field(24 * 3600, ge=3600, le=30 * 86_400)
    funding_unwind_below_8h: float = Field(-0.0001, ge=-0.01, le=0.01)
    funding_open_above_8h: float = Field(0.0, ge=-0.01, le=0.01)
    max_leverage_fraction_of_guard: float = Field(0.9, gt=0, le=1)
    # options: covered calls
    options_enabled: bool = True
    option_tenor_days: float = Field(7.0, gt=0, le=365)
    option_min_tenor_days: float = Field(2.0, gt=0, le=365)
    option_target_delta: float = Field(0.25, gt=0, lt=1)
    option_size_frac_of_spot: float = Field(0.5, ge=0, le=1)
    option_vega_budget_usd_per_vol_pt: float = Field(5_000.0, ge=0)
    option_price_tolerance: float = Field(
        0.02, ge=0, le=0.5, description="min proceeds = model bid × (1 − tol)"
    )
    option_min_size_eth: float = Field(0.1, ge=0)
    # execution
    slippage_bps: int = Field(40, ge=1, le=1_000)
    max_price_impact_bps: int = Field(25, ge=1, le=1_000, description="pool impact budget per spot trade")
    pool_deviation_bps: int = Field(20, ge=0, le=1_000, description="skip spot trades when the pool is off")
    deadline_sec: int = Field(600, ge=30, le=86_400)
    # schedules
    report_interval_sec: int = Field(86_400, ge=60)
    redemptions_max_count: int = Field(25, ge=1, le=1_000)

    @model_validator(mode="after")
    def _ordered(self) -> PolicyConfig:
        if not self.margin_min_ratio < self.margin_target_ratio < self.margin_max_ratio:
            raise ValueError(
                "margin ratios must satisfy margin_min_ratio < margin_target_ratio < margin_max_ratio "
                f"(got {self.margin_min_ratio}, {self.margin_target_ratio}, {self.margin_max_ratio})"
            )
        if self.funding_unwind_below_8h > self.funding_open_above_8h:
            raise ValueError("funding_unwind_below_8h must be <= funding_open_above_8h")
        if self.option_min_tenor_days > self.option_tenor_days:
            raise ValueError("option_min_tenor_days must be <= option_tenor_days")
        return self


def check_against_guard(config: PolicyConfig, snap: Snapshot) -> list[str]:
    """Where the config aims outside the vault's RiskGuard (one line each; empty = consistent)."""
    g = snap.guard
    problems = []
    if config.slippage_bps > g.max_slippage_bps:
        problems.append(f"slippage_bps {config.slippage_bps} > guard maxSlippageBps {g.max_slippage_bps}")
    if config.margin_min_ratio * WAD < g.min_margin_ratio_wad:
        problems.append(
            f"margin_min_ratio {config.margin_min_ratio} < guard minMarginRatio "
            f"{g.min_margin_ratio_wad / WAD}"
        )
    return problems


# =====================================================================================================
# actions
# =====================================================================================================


class _Action(BaseModel):
    model_config = _FROZEN

    reason: str
    figures: Figures = Field(default_factory=dict)

    @property
    def nonce(self) -> int | None:
        return getattr(self, "expected_nonce", None)


class Rebalance(_Action):
    kind: Literal["rebalance"] = "rebalance"
    expected_nonce: int
    deadline: int
    spot_buy_eth: bool = True
    spot_amount_in: int = 0
    spot_min_out: int = 0
    perp_size_delta_wad: int = 0
    perp_limit_price_wad: int = 0
    perp_margin_delta_assets: int = 0
    allow_improvement: bool = False

    def as_tuple(self) -> tuple[int | bool, ...]:
        return (
            self.expected_nonce,
            self.deadline,
            self.spot_buy_eth,
            self.spot_amount_in,
            self.spot_min_out,
            self.perp_size_delta_wad,
            self.perp_limit_price_wad,
            self.perp_margin_delta_assets,
            self.allow_improvement,
        )


class TradeOption(_Action):
    kind: Literal["trade_option"] = "trade_option"
    expected_nonce: int
    deadline: int
    series_id: int
    is_buy: bool
    size_wad: int = Field(gt=0)
    limit_assets: int = Field(ge=0)
    fund_assets: int = Field(ge=0)
    allow_improvement: bool = False

    def as_tuple(self) -> tuple[int | bool, ...]:
        return (
            self.expected_nonce,
            self.deadline,
            self.series_id,
            self.is_buy,
            self.size_wad,
            self.limit_assets,
            self.fund_assets,
            self.allow_improvement,
        )


class SettleOption(_Action):
    kind: Literal["settle_option"] = "settle_option"
    expected_nonce: int
    series_id: int
    round_id_hint: int = 0


class Report(_Action):
    kind: Literal["report"] = "report"
    expected_nonce: int


LossReason = Literal["LIQUIDATION_SHORTFALL", "OPTION_PAYOUT", "NEGATIVE_FUNDING", "OTHER"]


class CoverLoss(_Action):
    kind: Literal["cover_loss"] = "cover_loss"
    expected_nonce: int
    loss_reason: LossReason = "OTHER"


class ProcessRedemptions(_Action):
    kind: Literal["process_redemptions"] = "process_redemptions"
    max_count: int = Field(ge=1)


class PokeOracle(_Action):
    kind: Literal["poke_oracle"] = "poke_oracle"
    target: str
    which: Literal["leg", "option_oracle"] = "leg"


Action = Annotated[
    Rebalance | TradeOption | SettleOption | Report | CoverLoss | ProcessRedemptions | PokeOracle,
    Field(discriminator="kind"),
]


class Decision(BaseModel):
    """What one cycle decided (the journal's record of the policy's output)."""

    model_config = _FROZEN

    actions: tuple[Action, ...]
    notes: tuple[str, ...] = ()


# =====================================================================================================
# helpers (exact integer conversions in the contracts' units)
# =====================================================================================================


def _assets_per_wad(snap: Snapshot) -> int:
    """eth_wad · price_wad / this = assets (1e30 for a 6-decimals asset)."""
    return 10 ** (36 - snap.vault.asset_decimals)


def _to_assets(snap: Snapshot, eth_wad: int, price_wad: int) -> int:
    return abs(eth_wad) * price_wad // _assets_per_wad(snap)


def _to_eth_wad(snap: Snapshot, assets: int, price_wad: int) -> int:
    return assets * _assets_per_wad(snap) // price_wad if price_wad else 0


def funding_mean_8h(snap: Snapshot, window_sec: int) -> float | None:
    """Time-weighted mean of the funding feed's 8-hour rate over the last `window_sec` (None when the
    history does not cover the window)."""
    pts = [p for p in snap.funding_history if p.updated_at <= snap.timestamp]
    if not pts:
        return None
    start = snap.timestamp - window_sec
    if pts[0].updated_at > start:
        return None
    total = 0.0
    for i, p in enumerate(pts):
        t0 = max(p.updated_at, start)
        t1 = pts[i + 1].updated_at if i + 1 < len(pts) else snap.timestamp
        if t1 > t0:
            total += (p.rate_wad / WAD) * (t1 - t0)
    return total / window_sec


def band_half_width_eth(snap: Snapshot, risk: RiskReport, config: PolicyConfig) -> float:
    """The Whalley–Wilmott half-width at the book's gamma, floored and capped under the guard's cap."""
    cap = config.band_cap_fraction_of_guard * snap.guard.max_net_delta_wad / WAD
    tau = _nearest_expiry_years(snap)
    floor = min(config.band_floor_eth, cap)
    width = ww_half_width_eth(
        risk.greeks.gamma_eth_per_usd,
        max(snap.spot_price_wad / WAD, 1e-9),
        config.hedge_cost_frac,
        config.risk_aversion,
        0.0,
        tau,
        floor,
        cap,
    )
    return float(width)


def _nearest_expiry_years(snap: Snapshot) -> float:
    taus = [
        (s.expiry - snap.timestamp) / YEAR_SEC
        for s in snap.options.positions
        if s.size_wad != 0 and not s.settled and s.expiry > snap.timestamp
    ]
    return min(taus) if taus else 0.0


def _margin_ratio(equity: float, size_eth: float, price: float, mmr: float) -> float:
    req = abs(size_eth) * price * mmr
    return math.inf if req == 0 else equity / req


# =====================================================================================================
# decide
# =====================================================================================================


class _Nonces:
    def __init__(self, start: int) -> None:
        self.next = start

    def take(self) -> int:
        n = self.next
        self.next += 1
        return n


def decide(snap: Snapshot, risk: RiskReport, config: PolicyConfig) -> list[Action]:
    """The actions to send now, in order (see the module docstring for the rules)."""
    return list(decide_with_notes(snap, risk, config).actions)


def decide_with_notes(snap: Snapshot, risk: RiskReport, config: PolicyConfig) -> Decision:
    """`decide`, plus one note per rule that chose not to act and why (for logs and the journal)."""
    actions: list[Action] = []
    notes: list[str] = []
    nonces = _Nonces(snap.action_nonce)
    now = snap.timestamp
    spot_ok = snap.spot_oracle.ok
    iv_ok = snap.iv_oracle.ok

    # ---- 1. oracles
    if snap.spot_oracle.verdict == Verdict.Deviation:
        figures = {"value_wad": float(snap.spot_oracle.value_wad), "age_sec": float(snap.spot_oracle.age_sec)}
        for leg in (snap.spot.leg, snap.perp.leg, snap.options.leg):
            actions.append(
                PokeOracle(
                    target=leg, reason="spot price jumped beyond the breaker: trip it", figures=figures
                )
            )
    if snap.iv_oracle.verdict == Verdict.Deviation:
        actions.append(
            PokeOracle(
                target=snap.options.oracle,
                which="option_oracle",
                reason="implied vol jumped beyond the breaker: trip it",
                figures={"value_wad": float(snap.iv_oracle.value_wad)},
            )
        )
    if not spot_ok:
        notes.append(
            f"no trading: spot oracle {snap.spot_oracle.verdict.name} (age {snap.spot_oracle.age_sec}s)"
        )
    elif not iv_ok:
        notes.append(f"no option trading: IV oracle {snap.iv_oracle.verdict.name}")

    # ---- 2. settle expired options
    latest_spot_at = snap.spot_oracle.round.updated_at
    for s in snap.options.positions:
        if s.size_wad == 0 or s.expiry > now:
            continue
        if (
            not s.settled
            and latest_spot_at < s.expiry
            and now <= s.expiry + snap.options.settlement_window_sec
        ):
            notes.append(f"series {s.series_id} expired; waiting for its settlement round")
            continue
        actions.append(
            SettleOption(
                expected_nonce=nonces.take(),
                series_id=s.series_id,
                reason="option expired: settle and claim",
                figures={
                    "size_eth": s.size_wad / WAD,
                    "strike_usd": s.strike_wad / WAD,
                    "expiry": float(s.expiry),
                },
            )
        )

    # ---- 3. cover a reported loss
    if snap.unreported_loss_assets > 0:
        if snap.insurance.coverable_assets > 0:
            actions.append(
                CoverLoss(
                    expected_nonce=nonces.take(),
                    loss_reason=_loss_reason(snap, config),
                    reason="realised loss reported: draw on the insurance fund",
                    figures={
                        "loss_usd": snap.usd(snap.unreported_loss_assets),
                        "coverable_usd": snap.usd(snap.insurance.coverable_assets),
                    },
                )
            )
        else:
            notes.append("reported loss waits: the insurance fund cannot pay this period")

    # ---- 4./5. guarded trading
    interval_ok = (
        snap.guard.min_action_interval_sec == 0
        or snap.last_action_at == 0
        or now + 1 - snap.last_action_at >= snap.guard.min_action_interval_sec
    )
    if spot_ok and not snap.vault.shutdown:
        if not interval_ok:
            notes.append("no guarded action: minimum interval since the last one not elapsed")
        else:
            reb = _rebalance(snap, risk, config, nonces, notes)
            if reb is not None:
                actions.append(reb)
            if iv_ok and (reb is None or snap.guard.min_action_interval_sec == 0):
                opt = _sell_options(snap, risk, config, nonces, notes, reb)
                if opt is not None:
                    actions.append(opt)

    # ---- 6. report and redemptions
    if spot_ok and now - snap.last_report_at >= config.report_interval_sec:
        actions.append(
            Report(
                expected_nonce=nonces.take(),
                reason="report schedule",
                figures={
                    "since_last_sec": float(now - snap.last_report_at),
                    "nav_usd": snap.usd(snap.book.nav_assets),
                },
            )
        )
    if snap.vault.queue_head < snap.vault.queue_tail:
        actions.append(
            ProcessRedemptions(
                max_count=config.redemptions_max_count,
                reason="queued redemptions waiting",
                figures={
                    "queued_usd": snap.usd(snap.queued_assets),
                    "liquid_usd": snap.usd(snap.vault.liquid_assets),
                    "requests": float(snap.vault.queue_tail - snap.vault.queue_head),
                },
            )
        )
    return Decision(actions=tuple(actions), notes=tuple(notes))


def _loss_reason(snap: Snapshot, config: PolicyConfig) -> LossReason:
    mean = funding_mean_8h(snap, config.funding_window_sec)
    if mean is not None and mean < 0 and snap.perp.size_wad < 0:
        return "NEGATIVE_FUNDING"
    if any(s.settled and s.size_wad < 0 for s in snap.options.positions):
        return "OPTION_PAYOUT"
    return "OTHER"


def _rebalance(
    snap: Snapshot, risk: RiskReport, config: PolicyConfig, nonces: _Nonces, notes: list[str]
) -> Rebalance | None:
    """Basis, delta and margin in one guarded rebalance (None when nothing needs doing)."""
    price_wad = snap.spot_price_wad
    price = price_wad / WAD
    scale = snap.asset_scale
    perp = snap.perp
    mmr = perp.mmr_wad / WAD
    # the margin aimed at: ours, and never under the venue's initial margin (a bigger position needs it)
    initial = 1.02 * perp.imr_wad / perp.mmr_wad if perp.mmr_wad else 0.0
    target = max(config.margin_target_ratio, initial)
    grow_min = max(config.margin_min_ratio, initial)  # the least a bigger position may be left with
    spot_eth = snap.spot.weth_wad / WAD
    perp_eth = perp.size_wad / WAD
    equity = perp.equity_assets / scale
    nav = snap.book.nav_assets / scale
    liquid = snap.vault.liquid_assets / scale
    figures: Figures = {"price_usd": price, "nav_usd": nav, "spot_eth": spot_eth, "perp_eth": perp_eth}
    reasons: list[str] = []

    pool_dev_bps = abs(snap.spot.pool_price_wad - price_wad) * BPS / price_wad if price_wad else math.inf
    spot_tradeable = pool_dev_bps <= config.pool_deviation_bps
    if not spot_tradeable:
        notes.append(
            f"no spot trade: pool {pool_dev_bps:.1f} bps off the oracle (> {config.pool_deviation_bps})"
        )

    # -------- basis target (spot ETH, matched by an equal perp short)
    d_spot = 0.0  # ETH to buy (+) or sell (−)
    margin_extra = 0.0  # USD of margin needed for the basis change
    mean_funding = funding_mean_8h(snap, config.funding_window_sec)
    if mean_funding is not None:
        figures["funding_mean_8h"] = mean_funding
    shortfall = snap.queued_assets / scale - liquid
    freeing = False  # selling the basis for queued redemptions: its margin comes home too
    gross_usd = snap.book.gross_exposure_assets / scale
    max_lev = snap.guard.max_leverage_wad / WAD
    if spot_tradeable and config.basis_enabled is False and spot_eth > 0:
        d_spot = -spot_eth
        reasons.append("basis disabled: unwind")
    elif (
        spot_tradeable
        and mean_funding is not None
        and mean_funding < config.funding_unwind_below_8h
        and spot_eth > 0
    ):
        d_spot = -spot_eth
        reasons.append("funding against the basis over the window: unwind")
    elif spot_tradeable and gross_usd > max_lev * nav and spot_eth > 0:
        d_spot = -min(
            spot_eth, (gross_usd - config.max_leverage_fraction_of_guard * max_lev * nav) / (2 * price)
        )
        reasons.append("leverage above the guard's cap: reduce the basis")
    elif spot_tradeable and shortfall > 0 and spot_eth > 0:
        per_eth = price + max(equity, 0.0) / max(abs(perp_eth), 1e-18) if perp_eth != 0 else price
        d_spot = -min(spot_eth, shortfall * 1.01 / per_eth)
        freeing = True
        figures["redemption_shortfall_usd"] = shortfall
        reasons.append("free liquidity for queued redemptions")
    elif (
        spot_tradeable
        and config.basis_enabled
        and (mean_funding is None or mean_funding >= config.funding_open_above_8h)
    ):
        deployable = liquid - config.idle_buffer_frac * nav - max(snap.queued_assets / scale, 0.0)
        # each USD of spot needs margin_target · mmr USD of perp margin
        per_usd = 1.0 + target * mmr
        spot_usd = deployable / per_usd
        # leverage: gross exposure (spot + |perp|) must stay under the guard's max
        lev_room = config.max_leverage_fraction_of_guard * max_lev * nav - gross_usd
        spot_usd = min(spot_usd, lev_room / 2.0)
        if spot_usd >= config.min_deploy_usd:
            d_spot = spot_usd / price
            margin_extra = spot_usd * target * mmr
            figures["deploy_usd"] = spot_usd
            reasons.append("open basis with idle assets above the buffer")

    if d_spot != 0 and abs(risk.greeks.net_delta_eth) * WAD > snap.guard.max_net_delta_wad:
        # beyond the guard's net-delta cap only an action that brings the book nearer passes: hedge first
        notes.append(f"{reasons.pop()} waits: net delta beyond the guard's cap, hedging first")
        d_spot = margin_extra = 0.0
        freeing = False
    # notional cap: spot + perp legs of the basis change each count (scale the change down to fit)
    cap_usd = snap.guard.max_notional_per_action_assets / scale * 0.98
    if abs(d_spot) * price * 2 > cap_usd and d_spot != 0:
        f = cap_usd / (abs(d_spot) * price * 2)
        d_spot *= f
        margin_extra *= f
        figures["scaled_to_notional_cap"] = f
    if abs(d_spot) < config.min_trade_eth:
        d_spot = 0.0
        margin_extra = 0.0
        if reasons and reasons[-1] != "free liquidity for queued redemptions":
            reasons.pop()
    # the pool's depth: the average price moves by ≈ amount / virtual reserve (constant product)
    impact = config.max_price_impact_bps / BPS
    if d_spot > 0 and snap.spot.pool_asset_reserve > 0:
        max_buy = impact * snap.spot.pool_asset_reserve / scale / price
        if d_spot > max_buy:
            margin_extra *= max_buy / d_spot
            d_spot = max_buy
            figures["capped_by_pool_depth"] = 1.0
    elif d_spot < 0 and snap.spot.pool_eth_reserve_wad > 0:
        d_spot = max(d_spot, -impact * snap.spot.pool_eth_reserve_wad / WAD)
    # the basis is delta neutral: short what the swap delivers (the pool fee and half the impact less)
    if d_spot > 0:
        got = d_spot * (1 - _spot_cost(snap))
        if snap.spot.pool_asset_reserve > 0:
            got *= 1 - d_spot * price * scale / snap.spot.pool_asset_reserve
        d_perp = -got
    else:  # selling: buy back as much of the short as there is
        d_perp = min(-d_spot, max(-perp_eth, 0.0))

    # -------- delta hedge to the band edge
    # the basis change is delta neutral, but for a sale of spot with no short left to buy back
    net_after_basis = risk.greeks.net_delta_eth + (d_spot + d_perp if d_spot < 0 else 0.0)
    half = band_half_width_eth(snap, risk, config)
    figures |= {"net_delta_eth": risk.greeks.net_delta_eth, "band_half_width_eth": half}
    hedge = 0.0
    if net_after_basis > half:
        hedge = half - net_after_basis
    elif net_after_basis < -half:
        hedge = -half - net_after_basis
    # the guard's notional cap counts both legs: the hedge gets what the basis change leaves of it
    cap_eth = cap_usd / price
    excess = abs(d_spot) + abs(d_perp + hedge) - cap_eth
    if hedge != 0 and excess > 0:
        hedge -= math.copysign(min(excess, abs(hedge)), hedge)
        figures["hedge_capped_by_notional"] = 1.0
    spot_hedge = 0.0  # the part of a sale hedged with spot instead of perp
    pos = perp_eth + d_perp
    if abs(hedge) >= config.min_trade_eth and abs(pos + hedge) > abs(pos):
        # a bigger perp position needs margin from idle and room under the guard's leverage cap; without
        # them keep the part of the hedge that shrinks the position and sell spot for the rest of a sale
        # (it needs neither), within the spot held, the pool's depth and the notional cap
        new_abs = abs(pos + hedge)
        carried = (equity + margin_extra) / (new_abs * price * mmr) >= grow_min
        margin_needed = target * new_abs * price * mmr - (equity + margin_extra)
        cash_left = liquid - max(d_spot, 0.0) * price - margin_extra
        gross_after = gross_usd + (new_abs - abs(perp_eth) + d_spot) * price
        if (not carried and margin_needed > cash_left) or gross_after > max_lev * nav:
            keep = math.copysign(min(abs(hedge), abs(pos)), hedge) if pos * hedge < 0 else 0.0
            rest = hedge - keep
            if rest < 0 and spot_tradeable:
                floor = -spot_eth
                if snap.spot.pool_eth_reserve_wad > 0:
                    floor = max(floor, -impact * snap.spot.pool_eth_reserve_wad / WAD)
                new_d_spot = max(d_spot + rest, floor, -(cap_eth - abs(pos + keep)))
                spot_hedge = min(new_d_spot - d_spot, 0.0)
                d_spot += spot_hedge
            hedge = keep
            figures["hedge_limited_by_margin_or_leverage"] = 1.0
    if abs(hedge) >= config.min_trade_eth or spot_hedge <= -config.min_trade_eth:
        d_perp += hedge
        reasons.append(
            "net delta outside the hedge band: trade to its edge"
            + (" (selling spot: no margin or leverage room for a bigger short)" if spot_hedge < 0 else "")
        )
        figures["hedge_eth"] = hedge + spot_hedge

    # -------- margin
    new_perp = perp_eth + d_perp
    if abs(d_perp) < config.min_trade_eth:
        d_perp = 0.0
        new_perp = perp_eth
    fee = perp.fee_bps / BPS * abs(d_perp) * price
    equity_after = equity + margin_extra - fee
    ratio = _margin_ratio(equity_after, new_perp, price, mmr)
    margin_delta = margin_extra
    if new_perp != 0 and ratio < (grow_min if abs(new_perp) > abs(perp_eth) else config.margin_min_ratio):
        need = target * abs(new_perp) * price * mmr - equity_after
        margin_delta += need
        reasons.append("margin ratio below the minimum: top up to target")
    elif new_perp != 0 and (
        (ratio > config.margin_max_ratio and d_spot >= 0) or (freeing and ratio > target)
    ):
        margin_delta -= max(equity_after - target * abs(new_perp) * price * mmr, 0.0)
        reasons.append(
            "bring the margin the cut frees home"
            if freeing
            else "margin ratio above the maximum: withdraw to target"
        )
    elif new_perp == 0 and perp_eth != 0 and equity > 0:
        margin_delta = -(equity - fee)  # closing: bring home the whole margin the fee leaves
    elif new_perp == 0 and perp_eth == 0 and perp.margin_assets > 0 and d_spot <= 0:
        margin_delta = -perp.margin_assets / scale
    figures["margin_ratio_after"] = ratio if math.isfinite(ratio) else -1.0

    # the idle cash must cover a buy and a margin top-up; otherwise cut the buy
    spot_in_usd = max(d_spot, 0.0) * price
    top_up = max(margin_delta, 0.0)
    if spot_in_usd + top_up > liquid:
        if top_up > liquid:
            # not even the margin fits: put the idle there is into the margin and reduce the basis for
            # the rest (sell spot, buy back perp: only the basis there is, spot against a perp short,
            # within the pool's depth and the notional cap); a hedge that buys perp or sells spot stays
            perp_hedge = hedge if hedge >= config.min_trade_eth else 0.0
            pool_room = (
                impact * snap.spot.pool_eth_reserve_wad / WAD if snap.spot.pool_eth_reserve_wad else math.inf
            )
            cut = min(
                spot_eth + spot_hedge,
                max(-(perp_eth + perp_hedge), 0.0),
                (cap_eth + spot_hedge - perp_hedge) / 2,
                pool_room + spot_hedge,
                (top_up - liquid) / (price * target * mmr + 1e-18),
            )
            if spot_tradeable and cut > config.min_trade_eth:
                d_spot, d_perp = spot_hedge - cut, perp_hedge + cut
                new_perp = perp_eth + d_perp
                reasons.append("no idle for margin: cut the basis")
            margin_delta = liquid
        else:
            room = liquid - top_up
            d_spot = min(d_spot, room / price)
            d_perp = -d_spot + (hedge if abs(hedge) >= config.min_trade_eth else 0.0)
            new_perp = perp_eth + d_perp

    # -------- to integers in the contracts' units
    spot_amount_in = 0
    spot_min_out = 0
    buy = d_spot > 0
    pool_fee = snap.spot.pool_fee
    slip = _slippage_bps(config, snap, pool_fee / UNISWAP_FEE_UNITS)
    if abs(d_spot) >= config.min_trade_eth:
        if buy:
            spot_amount_in = int(d_spot * price * scale)
            expected = (
                _to_eth_wad(snap, spot_amount_in, price_wad)
                * (UNISWAP_FEE_UNITS - pool_fee)
                // UNISWAP_FEE_UNITS
            )
            spot_min_out = expected * (BPS - slip) // BPS
        else:
            spot_amount_in = min(int(-d_spot * WAD), snap.spot.weth_wad)
            expected = (
                _to_assets(snap, spot_amount_in, price_wad)
                * (UNISWAP_FEE_UNITS - pool_fee)
                // UNISWAP_FEE_UNITS
            )
            spot_min_out = expected * (BPS - slip) // BPS
        if spot_min_out == 0:
            spot_amount_in = 0
    perp_size_delta = round(d_perp * 1e6) * 10**12 if abs(d_perp) >= config.min_trade_eth else 0
    if perp_size_delta != 0 and new_perp == 0:
        perp_size_delta = -perp.size_wad  # close exactly
    limit = 0
    slip = _slippage_bps(config, snap, perp.fee_bps / BPS)
    if perp_size_delta > 0:
        limit = price_wad * (BPS + slip) // BPS
    elif perp_size_delta < 0:
        limit = price_wad * (BPS - slip) // BPS
    margin_assets = int(margin_delta * scale)
    if margin_assets < 0:
        # never ask for more than the venue lets go (initial margin on the remaining size)
        max_out = (
            perp.withdrawable_assets if perp_size_delta == 0 else _withdrawable_after(snap, perp_size_delta)
        )
        # funding keeps accruing until the transaction executes (at most the deadline later)
        max_out = max(0, max_out - _funding_allowance(snap, config.deadline_sec))
        margin_assets = -min(-margin_assets, max_out)
    if abs(margin_assets) < scale:  # under one unit of the asset: not worth a transaction
        margin_assets = 0
    if spot_amount_in == 0 and perp_size_delta == 0 and margin_assets == 0:
        return None
    got_eth = spot_min_out / WAD if buy else -spot_amount_in / WAD
    figures |= {
        "spot_amount_in": float(spot_amount_in),
        "perp_size_delta_eth": perp_size_delta / WAD,
        "margin_delta_usd": margin_assets / scale,
        "net_delta_after_eth": risk.greeks.net_delta_eth + got_eth + perp_size_delta / WAD,
    }
    reb = Rebalance(
        expected_nonce=nonces.next,
        deadline=snap.timestamp + config.deadline_sec,
        spot_buy_eth=buy or spot_amount_in == 0,
        spot_amount_in=spot_amount_in,
        spot_min_out=spot_min_out,
        perp_size_delta_wad=perp_size_delta,
        perp_limit_price_wad=limit,
        perp_margin_delta_assets=margin_assets,
        allow_improvement=needs_before_book(snap.guard, snap.book),
        reason="; ".join(reasons) if reasons else "margin housekeeping",
        figures=figures,
    )
    violation = _guard_violation(snap, reb)
    if violation is not None:
        notes.append(f"rebalance held back ({reb.reason}): RiskGuard would revert {violation}")
        return None
    nonces.take()
    return reb


def _guard_violation(snap: Snapshot, reb: Rebalance) -> Violation | None:
    """What RiskGuard.checkAction (keeper.guard's mirror) would say of the rebalance, on the book it
    predicts at the oracle price: each trade at the worst fill its limit allows, the swap delivering its
    minimum or the oracle's amount less the pool fee (None when every case passes)."""
    g, p, book = snap.guard, snap.perp, snap.book
    price_wad = snap.spot_price_wad
    aps = _assets_per_wad(snap)
    d = reb.perp_size_delta_wad
    new_perp = p.size_wad + d
    perp_notional = -(-abs(d) * price_wad // aps)
    fee = -(-perp_notional * p.fee_bps // BPS)
    equity = p.equity_assets + reb.perp_margin_delta_assets - fee
    maintenance = -(-_to_assets(snap, new_perp, price_wad) * p.mmr_wad // WAD)
    ratio = (
        UINT256_MAX if new_perp == 0 else (equity * WAD // maintenance if equity > 0 and maintenance else 0)
    )
    trades: list[tuple[int, bool]] = []  # (worst fill, is_buy): the spot swap first, as the vault
    if d != 0:
        fee_per_eth = -(-reb.perp_limit_price_wad * p.fee_bps // BPS)
        trades.append((reb.perp_limit_price_wad + (fee_per_eth if d > 0 else -fee_per_eth), d > 0))
    outcomes = [(0, 0)]  # (WETH into the spot leg, assets lost to the swap)
    spot_notional = 0
    if reb.spot_amount_in and reb.spot_buy_eth:
        best = _to_eth_wad(snap, reb.spot_amount_in, price_wad) * (UNISWAP_FEE_UNITS - snap.spot.pool_fee)
        best //= UNISWAP_FEE_UNITS
        outcomes = [(got, reb.spot_amount_in - got * price_wad // aps) for got in (reb.spot_min_out, best)]
        spot_notional = reb.spot_amount_in
        trades.insert(0, (-(-reb.spot_amount_in * aps // reb.spot_min_out), True))
    elif reb.spot_amount_in:
        spot_notional = -(-reb.spot_amount_in * price_wad // aps)
        outcomes = [(-reb.spot_amount_in, spot_notional - reb.spot_min_out)]
        trades.insert(0, (reb.spot_min_out * aps // reb.spot_amount_in, False))
    old_perp_gross = -(-abs(p.size_wad) * price_wad // aps)
    new_perp_gross = -(-abs(new_perp) * price_wad // aps)
    for got, lost in outcomes:
        spot_gross = -(-(snap.spot.weth_wad + got) * price_wad // aps) - (
            -(-snap.spot.weth_wad * price_wad // aps)
        )
        after = BookState(
            net_delta_wad=book.net_delta_wad + got + d,
            margin_ratio_wad=ratio,
            gross_exposure_assets=max(
                book.gross_exposure_assets + spot_gross + new_perp_gross - old_perp_gross, 0
            ),
            nav_assets=max(book.nav_assets - fee - max(lost, 0), 0),
        )
        info = ActionInfo(
            notional_assets=spot_notional + perp_notional,
            trades=tuple(
                Trade(exec_price_wad=max(exec_price, 0), oracle_price_wad=price_wad, is_buy=is_buy)
                for exec_price, is_buy in trades
            ),
        )
        before = book if reb.allow_improvement else NO_EXEMPTION
        violation = check_action(g, before, after, info, snap.timestamp + 1)
        if violation is not None:
            return violation
    return None


def _slippage_bps(config: PolicyConfig, snap: Snapshot, fee_frac: float) -> int:
    """The slippage limit of a trade paying `fee_frac`: ours, tightened so that the worst fill it allows
    stays within the guard's maxSlippageBps (which measures the fill with the fee, on either side)."""
    room = 1 - 1 / ((1 + snap.guard.max_slippage_bps / BPS) * (1 - fee_frac))
    return max(0, min(config.slippage_bps, math.floor(room * BPS) - 1))


def _funding_allowance(snap: Snapshot, horizon_sec: int) -> int:
    """The most funding the open perp can pay over `horizon_sec` at the venue's funding clamp (assets,
    rounded up, plus one unit): a margin withdrawal asks for that much less than the snapshot shows."""
    p = snap.perp
    if p.size_wad == 0:
        return 0
    notional = -(-abs(p.size_wad) * snap.spot_price_wad // _assets_per_wad(snap))
    return -(-notional * p.max_funding_8h_wad * horizon_sec // (WAD * 8 * 3600)) + 1


def _withdrawable_after(snap: Snapshot, perp_size_delta_wad: int) -> int:
    """The margin the venue lets go right after the rebalance's perp trade: what is left of the margin
    once funding is settled, the closed part's PnL realised and the fee paid (rounded up), keeping the
    initial margin on what stays open."""
    p = snap.perp
    price_wad = snap.spot_price_wad
    fee = -(-_to_assets(snap, perp_size_delta_wad, price_wad) * p.fee_bps // BPS) + 1
    old, new = p.size_wad, p.size_wad + perp_size_delta_wad
    realised = 0
    if old != 0 and (old > 0) != (perp_size_delta_wad > 0):
        closed = old if abs(perp_size_delta_wad) >= abs(old) else -perp_size_delta_wad
        realised = closed * (price_wad - p.entry_price_wad) // _assets_per_wad(snap) - 1
    margin = p.margin_assets + p.pending_funding_assets + realised - fee
    initial = -(-_to_assets(snap, new, price_wad) * p.imr_wad // WAD)
    return max(0, min(margin, p.equity_assets - fee - initial - 1))


def _spot_cost(snap: Snapshot) -> float:
    return snap.spot.pool_fee / UNISWAP_FEE_UNITS


def _model_bid_usd(snap: Snapshot, s: OptionSeries, iv: float) -> tuple[float, float, float]:
    """(bid per ETH at the venue's bid vols, delta per ETH, vega per vol point per ETH) of a series."""
    spread = snap.options.iv_spread_wad / WAD
    floor = snap.options.min_vol_wad / WAD
    bid_vol = min(iv, max(iv - spread, floor))
    ask_vol = iv + spread
    spot = snap.spot_price_wad / WAD
    tau = max(s.expiry - snap.timestamp, 1) / YEAR_SEC
    k = s.strike_wad / WAD
    if s.is_call:
        g_lo = pricing.greeks("c", spot, k, tau, 0.0, bid_vol, 0.0)
        hi_k = (s.strike_wad + s.cap_wad) / WAD
        p_hi = float(pricing.price("c", spot, hi_k, tau, 0.0, ask_vol, 0.0))
        g_mid = pricing.greeks("c", spot, k, tau, 0.0, iv, 0.0)
        g_mid_hi = pricing.greeks("c", spot, hi_k, tau, 0.0, iv, 0.0)
        bid = max(0.0, float(g_lo.price) - p_hi)
        delta = float(g_mid.delta) - float(g_mid_hi.delta)
        vega = (float(g_mid.vega) - float(g_mid_hi.vega)) / 100.0
    else:
        g = pricing.greeks("p", spot, k, tau, 0.0, bid_vol, 0.0)
        gm = pricing.greeks("p", spot, k, tau, 0.0, iv, 0.0)
        bid, delta, vega = float(g.price), float(gm.delta), float(gm.vega) / 100.0
    return bid, delta, vega


def _sell_options(
    snap: Snapshot,
    risk: RiskReport,
    config: PolicyConfig,
    nonces: _Nonces,
    notes: list[str],
    reb: Rebalance | None,
) -> TradeOption | None:
    """Sell covered calls when none is open (rolled after each expiry)."""
    if not config.options_enabled:
        return None
    now = snap.timestamp
    open_short_calls = [
        s for s in snap.options.positions if s.is_call and s.size_wad < 0 and not s.settled and s.expiry > now
    ]
    if open_short_calls:
        return None
    spot_eth = snap.spot.weth_wad / WAD
    if reb is not None and reb.spot_buy_eth and reb.spot_amount_in > 0:
        spot_eth += reb.spot_min_out / WAD  # what the rebalance before this action buys (at least)
    size = config.option_size_frac_of_spot * spot_eth
    if size < config.option_min_size_eth:
        return None
    iv = snap.iv_oracle.value_wad / WAD
    lo = now + config.option_min_tenor_days * 86_400
    candidates = [s for s in snap.options.listed if s.is_call and not s.settled and s.expiry >= lo]
    if not candidates:
        notes.append("no listed call series with enough tenor to sell")
        return None
    target_expiry = now + config.option_tenor_days * 86_400
    best_expiry = min({s.expiry for s in candidates}, key=lambda e: (abs(e - target_expiry), e))
    same = sorted((s for s in candidates if s.expiry == best_expiry), key=lambda s: s.series_id)
    scored = []
    for s in same:
        bid, delta, vega = _model_bid_usd(snap, s, iv)
        scored.append((abs(delta - config.option_target_delta), s.series_id, s, bid, delta, vega))
    _, _, series, bid, delta, vega = min(scored, key=lambda t: (t[0], t[1]))
    if vega > 0 and config.option_vega_budget_usd_per_vol_pt > 0:
        size = min(size, config.option_vega_budget_usd_per_vol_pt / vega)
    # the guard's net-delta cap: the sale's delta (−size · delta) must leave the book within it (or nearer)
    net = (
        reb.figures.get("net_delta_after_eth", risk.greeks.net_delta_eth)
        if reb
        else risk.greeks.net_delta_eth
    )
    if delta > 0:
        size = min(size, max(0.98 * snap.guard.max_net_delta_wad / WAD + net, 0.0) / delta)
    # the venue's collateral for the size must be affordable from idle (after the rebalance's needs)
    scale = snap.asset_scale
    liquid = snap.vault.liquid_assets
    if reb is not None:
        liquid -= (reb.spot_amount_in if reb.spot_buy_eth else 0) + max(reb.perp_margin_delta_assets, 0)
    per_eth_collateral = series.max_payout_wad / WAD
    size = min(size, max(liquid, 0) / scale / max(per_eth_collateral, 1e-9) * 0.99)
    # the guard's notional cap (the underlying notional of the trade)
    size = min(size, snap.guard.max_notional_per_action_assets / scale / (snap.spot_price_wad / WAD) * 0.98)
    size_wad = math.floor(size * 100) * 10**16  # 0.01 ETH steps
    if size_wad < int(config.option_min_size_eth * WAD):
        notes.append("option sale too small for the idle cash or budgets")
        return None
    # leverage: the sale adds the option leg's delta exposure; RiskGuard reverts LeverageAboveMax when
    # the book ends above the cap (and, when the sale asks for the before-book, no lower than it started)
    allow_improvement = needs_before_book(snap.guard, snap.book) or (
        reb is not None and reb.allow_improvement
    )
    if reb is None:
        price_wad = snap.spot_price_wad
        aps = _assets_per_wad(snap)
        d_opt = -round(delta * size_wad)
        old_g = -(-abs(snap.options.delta_wad) * price_wad // aps)
        new_g = -(-abs(snap.options.delta_wad + d_opt) * price_wad // aps)
        gross_after = snap.book.gross_exposure_assets + new_g - old_g
        nav = max(snap.book.nav_assets, 1)
        lev_before = -(-snap.book.gross_exposure_assets * WAD // nav)
        lev_after = -(-gross_after * WAD // nav) + 1  # the sale's spread and fee lower NAV a little
        if lev_after > snap.guard.max_leverage_wad and (not allow_improvement or lev_after >= lev_before):
            notes.append(
                f"no option sale: leverage {lev_after / WAD:.3f} would be above the guard's "
                f"{snap.guard.max_leverage_wad / WAD:.3f}"
            )
            return None
    elif snap.book.gross_exposure_assets * WAD > snap.guard.max_leverage_wad * max(snap.book.nav_assets, 1):
        notes.append("no option sale in a cycle that starts above the guard's leverage cap")
        return None
    premium = bid * size_wad / WAD
    net = premium * (1 - snap.options.fee_bps / BPS)
    limit = int(np.floor(net * (1 - config.option_price_tolerance) * scale))
    # RiskGuard counts the premium received below the mid (fee included) as slippage on the underlying:
    # at the worst fill the limit allows it must stay within maxSlippageBps
    spot_usd = snap.spot_price_wad / WAD
    tau = max(series.expiry - now, 1) / YEAR_SEC
    k = series.strike_wad / WAD
    mid = float(pricing.price("c", spot_usd, k, tau, 0.0, iv, 0.0)) - float(
        pricing.price("c", spot_usd, (series.strike_wad + series.cap_wad) / WAD, tau, 0.0, iv, 0.0)
    )
    worst_gap = mid - limit / scale / (size_wad / WAD)
    if worst_gap / spot_usd * BPS >= snap.guard.max_slippage_bps:
        notes.append(
            f"no option sale: the bid sits {worst_gap / spot_usd * BPS:.1f} bps of spot under the mid "
            f"(guard maxSlippageBps {snap.guard.max_slippage_bps})"
        )
        return None
    collateral = -(-series.max_payout_wad * size_wad // _assets_per_wad(snap))
    return TradeOption(
        expected_nonce=nonces.take(),
        deadline=now + config.deadline_sec,
        series_id=series.series_id,
        is_buy=False,
        size_wad=size_wad,
        limit_assets=max(limit, 0),
        fund_assets=collateral,
        allow_improvement=allow_improvement,
        reason="no covered call open: sell one",
        figures={
            "strike_usd": series.strike_wad / WAD,
            "expiry": float(series.expiry),
            "delta": delta,
            "vega_per_vol_pt_usd": vega * size_wad / WAD,
            "model_bid_usd": bid,
            "size_eth": size_wad / WAD,
            "collateral_usd": collateral / scale,
            "net_delta_eth": risk.greeks.net_delta_eth,
        },
    )
