"""An off-chain model of the vault and its venues: it produces a `Snapshot` each step from its own state
and applies the policy's actions to that state the way the contracts do (integers in the contracts'
units: USDC 6 decimals, sizes and prices in wad).

What is modelled (and how it differs from the chain — the agreement test bounds the effect):

- Market (per step, like `keeper.demo.market.MarketDriver.step`): the hour that passed is charged
  funding at the previous step's price and published rate (PerpMarket.accrueFunding before the feeds
  move); spot and IV rounds are published (8-decimal feed answers), the funding round every 8 hours
  at the mean of the path over the period that starts (clamped like the venue); the Uniswap pool is
  arbitraged back to the oracle (exactly, not within the arbitrageur's 1 bp tolerance or its cap).
- Spot leg: a full-range Uniswap V3 position is a constant-product pool (x·y = L²); a swap pays the
  0.05 % fee on the input and the curve's impact. Tick rounding of √P is not modelled (< 1e-9).
- Perp (PerpMarket): trades at the index with the fee ⌈bps·|Δ|·P⌉, average entry, realised PnL on
  reductions, funding index and per-account settlement as PerpMath rounds it, initial-margin checks,
  withdrawals, liquidation (whole position, penalty to the venue) when equity < maintenance.
- Options (OptionMarket): the demo's listing schedule (calls at `option_moneyness` × spot, cap
  `option_cap_fraction` × strike, `option_listing_tenor_days`, once a day); sales at the bid (Black-76
  at iv − spread on the strike, iv + spread on the cap strike, float pricing instead of the on-chain
  fixed point bounds), fee on the premium, collateral ⌈cap · size⌉, settlement at the first spot round
  at or after expiry; the leg is marked at the IV feed's mid (the chain marks at its bound).
- Vault: idle, shares, ERC-4626 virtual shares/price, management and performance fees accrued at each
  report and flow, daily `report` with the insurance skim (share of profit up to the target), loss
  cover (capped per period), nonce; RiskGuard's `checkAction` (keeper.guard) on the book after each
  guarded action — a violating action reverts (state restored) and is counted.
- Not modelled: the IV feed's breaker (the option oracle's deviation check: IV readings are always
  Ok), the redemption queue (flows are instant withdrawals, capped at idle), gas, the
  arbitrageur's tolerance/cap, oracle failures other than the deviation breaker, the venues' LP pools'
  solvency (the perp pool and option pool always pay).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from keeper import pricing
from keeper.guard import NO_EXEMPTION, UINT256_MAX, ActionInfo, BookState, GuardParams, Trade, check_action
from keeper.models import VaultState
from keeper.oracle import FeedConfig, FeedState, RoundData, Verdict, apply, check
from keeper.snapshot import (
    FundingPoint,
    InsuranceView,
    OptionBookView,
    OptionSeries,
    OracleReading,
    PerpAccount,
    Snapshot,
    SpotHolding,
)

WAD = 10**18
USDC = 10**6
APW = 10**30  # wad · wad / APW = USDC units
BPS = 10_000
YEAR = 365 * 86_400
FEED_SCALE = 10**10  # 8-decimal feed answer → wad
DECIMALS_OFFSET = 6
VIRTUAL_SHARES = 10**DECIMALS_OFFSET
PRICE_SCALE = 10 ** (18 + DECIMALS_OFFSET)
PHASE = 1 << 64
ADDR = {
    n: f"0x{i:040x}"
    for i, n in enumerate(
        [
            "vault",
            "asset",
            "spot_leg",
            "perp_leg",
            "option_leg",
            "perp_market",
            "option_market",
            "option_oracle",
            "spot_feed",
            "iv_feed",
            "funding_feed",
            "pool",
            "fund",
            "fee_recipient",
        ],
        start=0xEE01,
    )
}


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def feed_answer(x: float) -> int:
    return round(x * 10**8)


@dataclass(frozen=True)
class VenueParams:
    """The venues' and vault's constants (defaults: `keeper.chain.deploy.LocalConfig`'s)."""

    pool_fee: int = 500
    pool_liquidity_usd: float = 100_000_000.0
    perp_imr_wad: int = 10**17
    perp_mmr_wad: int = 5 * 10**16
    perp_fee_bps: int = 5
    perp_penalty_bps: int = 100
    perp_max_funding_8h_wad: int = 75 * 10**14
    option_iv_spread_wad: int = 2 * 10**16
    option_min_vol_wad: int = 5 * 10**16
    option_fee_bps: int = 10
    option_settlement_window_sec: int = 3600
    option_moneyness: tuple[float, ...] = (1.05, 1.10, 1.16)
    option_listing_tenor_days: int = 7
    option_cap_fraction: float = 0.3
    management_fee_bps: int = 100
    performance_fee_bps: int = 1_000
    insurance_skim_bps: int = 1_000
    insurance_target_bps: int = 500
    insurance_max_draw_bps: int = 2_500
    insurance_period_sec: int = 7 * 86_400
    funding_update_hours: int = 8
    leg_oracle_max_age_sec: int = 2 * 86_400
    leg_oracle_max_deviation_bps: int = 2_000
    leg_oracle_cooldown_sec: int = 900


@dataclass
class Series:
    series_id: int
    strike_wad: int
    cap_wad: int
    expiry: int
    settled: bool = False
    settlement_price_wad: int = 0


@dataclass
class Counters:
    actions: dict[str, int] = field(default_factory=dict)
    reverts: dict[str, int] = field(default_factory=dict)
    liquidations: int = 0
    liquidation_penalty: int = 0
    perp_fees: int = 0
    spot_costs: int = 0  # pool fee + impact vs the oracle, USDC units
    option_fees: int = 0
    option_premium: int = 0
    funding: int = 0
    insurance_skimmed: int = 0
    insurance_paid: int = 0


def action_is_spot(a) -> bool:
    return getattr(a, "which", "") == "leg"


def round_strike(x: float) -> float:
    digits = 2 - math.floor(math.log10(x))
    return round(x, digits)


class VaultModel:
    """The vault, its legs and venues, advanced step by step along a market path."""

    def __init__(
        self,
        guard: GuardParams,
        venue: VenueParams,
        t0: int,
        spot0: float,
        iv0: float,
        funding0: float,
        insurance_seed_usd: float,
        step_sec: int,
    ) -> None:
        self.g = guard
        self.v = venue
        self.step_sec = step_sec
        self.t = t0
        self.block = 1
        self.c = Counters()
        # oracles
        self.spot_cfg = FeedConfig(
            feed=ADDR["spot_feed"],
            decimals=8,
            max_age_sec=venue.leg_oracle_max_age_sec,
            max_deviation_bps=venue.leg_oracle_max_deviation_bps,
            cooldown_sec=venue.leg_oracle_cooldown_sec,
        )
        self.spot_state = FeedState()
        self.round_no = 0
        self._publish(spot0, iv0)
        self.spot_state = FeedState(last_good_wad=self.price_wad, last_good_at=t0)
        self.funding_ans = self._clamp_funding(feed_answer(funding0))
        self.funding_hist: list[tuple[int, int]] = [(t0, self.funding_ans * FEED_SCALE)]
        # pool: constant product at the oracle price; L² = x·y in (USDC units · WETH wad)
        usd = venue.pool_liquidity_usd
        self.pool_l = math.sqrt(usd / 2 * USDC * (usd / 2 / spot0) * WAD)
        # vault
        self.idle = 0
        self.supply = 0
        self.hwm = PRICE_SCALE // VIRTUAL_SHARES  # price of an empty vault: 1e18
        self.last_fee_at = t0
        self.nonce = 0
        self.last_action_at = 0
        self.last_report_at = 0
        self.nav_at_report = 0
        self.flows = 0
        self.unreported_loss = 0
        # legs
        self.weth = 0
        self.p_size = 0
        self.p_entry = 0
        self.p_margin = 0
        self.p_snap = 0
        self.cum_funding = 0
        self.series: dict[int, Series] = {}
        self.positions: dict[int, list[int]] = {}  # id → [size, collateral]
        self.option_cash = 0  # settled claims paid out to the leg, released to idle at once
        # insurance fund
        self.ins = int(insurance_seed_usd * USDC)
        self.ins_period_start = t0
        self.ins_base = self.ins
        self.ins_drawn = 0

    # ------------------------------------------------------------------ market

    def _clamp_funding(self, ans: int) -> int:
        cap = self.v.perp_max_funding_8h_wad // FEED_SCALE
        return max(-cap, min(cap, ans))

    def _publish(self, spot: float, iv: float) -> None:
        self.round_no += 1
        self.spot_ans = feed_answer(spot)
        self.iv_ans = feed_answer(iv)
        self.price_wad = self.spot_ans * FEED_SCALE
        self.spot_round = RoundData(
            round_id=PHASE + self.round_no,
            answer=self.spot_ans,
            started_at=self.t,
            updated_at=self.t,
            answered_in_round=PHASE + self.round_no,
        )
        verdict, _ = check(self.spot_cfg, self.spot_state, self.spot_round, self.t)
        self.spot_verdict = verdict
        if verdict == Verdict.Ok:  # a successful read moves the breaker's reference (OracleLib.read)
            _, _, self.spot_state = apply(self.spot_cfg, self.spot_state, self.spot_round, self.t)

    def _funding_index_delta(self, elapsed: int) -> int:
        rate_8h = self.funding_ans * FEED_SCALE
        cap = self.v.perp_max_funding_8h_wad
        rate_8h = max(-cap, min(cap, rate_8h))
        per_sec = int(rate_8h / 28_800) if rate_8h >= 0 else -int(-rate_8h // 28_800)
        return per_sec * self.price_wad * elapsed // WAD  # PerpMath.fundingIndexDeltaWad (floor)

    def advance(self, spot: float, iv: float, funding_published: float | None) -> None:
        """One step of the market: funding accrues for the interval, rounds publish, the pool re-pegs."""
        self.cum_funding += self._funding_index_delta(self.step_sec)
        self.t += self.step_sec
        self.block += 1
        self._publish(spot, iv)
        if funding_published is not None:
            self.funding_ans = self._clamp_funding(feed_answer(funding_published))
            self.funding_hist.append((self.t, self.funding_ans * FEED_SCALE))
        self._liquidate_if_due()

    # ------------------------------------------------------------------ perp

    def pending_funding(self) -> int:
        if self.p_size == 0:
            return 0
        return (-(self.cum_funding - self.p_snap) * self.p_size) // APW  # floor

    def _settle_funding(self) -> None:
        f = self.pending_funding()
        self.p_margin += f
        self.c.funding += f
        self.p_snap = self.cum_funding

    def _pnl(self, size: int, entry: int) -> int:
        return (self.price_wad - entry) * size // APW

    def perp_equity(self) -> int:
        return self.p_margin + self._pnl(self.p_size, self.p_entry) + self.pending_funding()

    def _req(self, size: int, rate_wad: int) -> int:
        return ceil_div(ceil_div(abs(size) * self.price_wad, APW) * rate_wad, WAD) if size else 0

    def _liquidate_if_due(self) -> None:
        if self.p_size == 0:
            return
        self._settle_funding()
        pnl = self._pnl(self.p_size, self.p_entry)
        equity = self.p_margin + pnl
        if equity >= self._req(self.p_size, self.v.perp_mmr_wad):
            return
        self.c.liquidations += 1
        if equity >= 0:
            penalty = min(
                ceil_div(ceil_div(abs(self.p_size) * self.price_wad, APW) * self.v.perp_penalty_bps, BPS),
                equity,
            )
            self.c.liquidation_penalty += penalty
            self.p_margin = equity - penalty
        else:
            self.p_margin = 0
        self.p_size = 0
        self.p_entry = 0

    def _perp_trade(self, delta: int, limit: int) -> bool:
        if (delta > 0 and self.price_wad > limit) or (delta < 0 and self.price_wad < limit):
            return False
        self._settle_funding()
        old = self.p_size
        if old == 0 or (old > 0) == (delta > 0):
            if old == 0:
                self.p_entry = self.price_wad
            else:  # average entry, rounded against the trader
                num = abs(old) * self.p_entry + abs(delta) * self.price_wad
                den = abs(old + delta)
                self.p_entry = ceil_div(num, den) if old > 0 else num // den
            self.p_size = old + delta
        else:
            closed = old if abs(delta) >= abs(old) else -delta
            realised = self._pnl(closed, self.p_entry)
            self.p_margin += realised
            self.p_size = old + delta
            if self.p_size == 0:
                self.p_entry = 0
            elif abs(delta) > abs(old):
                self.p_entry = self.price_wad
        fee = ceil_div(ceil_div(abs(delta) * self.price_wad, APW) * self.v.perp_fee_bps, BPS)
        self.p_margin -= fee
        self.c.perp_fees += fee
        equity = self.p_margin + self._pnl(self.p_size, self.p_entry)
        grows = abs(self.p_size) > abs(old) or (
            self.p_size != 0 and old != 0 and (self.p_size > 0) != (old > 0)
        )
        if grows:
            return equity >= self._req(self.p_size, self.v.perp_imr_wad)
        return equity >= 0

    def withdrawable(self) -> int:
        free = self.p_margin
        if self.p_size:
            f = self.pending_funding()
            free += f
            free = min(
                free,
                free + self._pnl(self.p_size, self.p_entry) - self._req(self.p_size, self.v.perp_imr_wad),
            )
        return max(free, 0)

    # ------------------------------------------------------------------ spot

    def _pool_reserves(self) -> tuple[float, float]:
        p = self.price_wad / WAD * USDC / WAD  # USDC units per WETH wei
        return self.pool_l * math.sqrt(p), self.pool_l / math.sqrt(p)  # (usdc units, weth wei)

    def _swap(self, buy: bool, amount_in: int, min_out: int) -> tuple[bool, int]:
        x, y = self._pool_reserves()
        fee = self.v.pool_fee
        net = amount_in * (1_000_000 - fee) / 1_000_000
        if buy:
            out = int(y - x * y / (x + net))
            if out < min_out:
                return False, 0
            self.idle -= amount_in
            self.weth += out
            self.c.spot_costs += amount_in - out * self.price_wad // APW
        else:
            if amount_in > self.weth:
                return False, 0
            out = int(x - x * y / (y + net))
            if out < min_out:
                return False, 0
            self.weth -= amount_in
            self.idle += out
            self.c.spot_costs += amount_in * self.price_wad // APW - out
        # the arbitrageur pulls the pool back to the oracle before the next step (L unchanged)
        return True, out

    # ------------------------------------------------------------------ options

    def list_day(self) -> None:
        spot = self.spot_ans / 10**8
        expiry = self.t + self.v.option_listing_tenor_days * 86_400
        for k in sorted({round_strike(spot * m) for m in self.v.option_moneyness}):
            sid = len(self.series)
            self.series[sid] = Series(
                sid, round(k * WAD), round(k * self.v.option_cap_fraction * WAD), expiry
            )

    def settle_listed(self) -> None:
        """The operator settles expired series nobody holds (the keeper settles its own)."""
        for s in self.series.values():
            if not s.settled and s.expiry <= self.t and s.series_id not in self.positions:
                s.settled, s.settlement_price_wad = True, self.price_wad

    def _vols(self) -> tuple[float, float, float]:
        iv = self.iv_ans / 10**8
        spread = self.v.option_iv_spread_wad / WAD
        bid = min(iv, max(iv - spread, self.v.option_min_vol_wad / WAD))
        return iv, bid, iv + spread

    def _call_spread(self, s: Series, spot: float, v_lo: float, v_hi: float) -> float:
        tau = max(s.expiry - self.t, 0) / YEAR
        k, kc = s.strike_wad / WAD, (s.strike_wad + s.cap_wad) / WAD
        if tau <= 0:
            return min(max(spot - k, 0.0), s.cap_wad / WAD)
        lo = float(pricing.price("c", spot, k, tau, 0.0, v_lo, 0.0))
        hi = float(pricing.price("c", spot, kc, tau, 0.0, v_hi, 0.0))
        return max(lo - hi, 0.0)

    def option_mark(self) -> tuple[int, int]:
        """(leg value: collateral − mark of what is owed, in USDC units; delta in wad)."""
        value, delta = 0, 0.0
        spot = self.price_wad / WAD
        iv = self.iv_ans / 10**8
        for sid, (size, coll) in self.positions.items():
            s = self.series[sid]
            value += coll
            if s.settled:
                payout = min(max(s.settlement_price_wad - s.strike_wad, 0), s.cap_wad)
                value -= ceil_div(payout * -size, APW)
                continue
            mark = self._call_spread(s, spot, iv, iv)
            value -= ceil_div(int(mark * WAD) * -size, APW)
            tau = max(s.expiry - self.t, 0) / YEAR
            if tau > 0:
                d = float(pricing.greeks("c", spot, s.strike_wad / WAD, tau, 0.0, iv, 0.0).delta) - float(
                    pricing.greeks("c", spot, (s.strike_wad + s.cap_wad) / WAD, tau, 0.0, iv, 0.0).delta
                )
                delta += d * size / WAD
        return max(value, 0), int(delta * WAD)

    def _sell_option(self, sid: int, size: int, min_proceeds: int, fund: int) -> bool:
        s = self.series.get(sid)
        if s is None or s.settled or s.expiry <= self.t:
            return False
        spot = self.price_wad / WAD
        _, bid_v, ask_v = self._vols()
        premium = int(self._call_spread(s, spot, bid_v, ask_v) * WAD) * size // APW
        fee = ceil_div(premium * self.v.option_fee_bps, BPS)
        proceeds = premium - fee
        if proceeds < min_proceeds:
            return False
        collateral = ceil_div(s.cap_wad * size, APW)
        if fund > self.idle or collateral > fund:
            return False
        self.idle += proceeds - collateral
        pos = self.positions.setdefault(sid, [0, 0])
        pos[0] -= size
        pos[1] += collateral
        self.c.option_premium += premium
        self.c.option_fees += fee
        return True

    def _settle_option(self, sid: int) -> bool:
        pos = self.positions.get(sid)
        s = self.series.get(sid)
        if pos is None or s is None or s.expiry > self.t:
            return False
        if not s.settled:
            s.settled, s.settlement_price_wad = True, self.price_wad
        payout = min(max(s.settlement_price_wad - s.strike_wad, 0), s.cap_wad)
        size, coll = pos
        owed = ceil_div(payout * -size, APW) if size < 0 else 0
        got = payout * size // APW if size > 0 else 0
        self.idle += coll - owed + got
        del self.positions[sid]
        return True

    # ------------------------------------------------------------------ vault

    def nav(self) -> int:
        spot_v = self.weth * self.price_wad // APW
        perp_v = max(self.perp_equity(), 0) if (self.p_size or self.p_margin) else 0
        opt_v, _ = self.option_mark()
        return self.idle + spot_v + perp_v + opt_v

    def _quote_fees(self, a: int) -> tuple[int, int]:
        """(fee shares, new high-water mark) an accrual now would give (KeelVault._quoteFees)."""
        s = self.supply
        if s == 0:
            return 0, self.hwm
        vs, va = s + VIRTUAL_SHARES, a + 1
        m = a * self.v.management_fee_bps * (self.t - self.last_fee_at) // (BPS * YEAR)
        m = min(m, a)
        price = (va - m) * PRICE_SCALE // vs
        f = (
            (price - self.hwm) * vs * self.v.performance_fee_bps // (PRICE_SCALE * BPS)
            if price > self.hwm
            else 0
        )
        shares = (m + f) * vs // (va - (m + f)) if 0 < m + f < va else 0
        after = va * PRICE_SCALE // (vs + shares)
        return shares, max(self.hwm, after)

    def _accrue_fees(self, a: int | None = None) -> None:
        a = self.nav() if a is None else a
        shares, self.hwm = self._quote_fees(a)
        self.supply += shares
        self.last_fee_at = self.t

    def share_price_wad(self, a: int | None = None) -> int:
        a = self.nav() if a is None else a
        shares, _ = self._quote_fees(a)
        return (a + 1) * PRICE_SCALE // (self.supply + shares + VIRTUAL_SHARES)

    def deposit(self, assets: int) -> int:
        a = self.nav()
        self._accrue_fees(a)
        shares = assets * (self.supply + VIRTUAL_SHARES) // (a + 1)
        self.idle += assets
        self.supply += shares
        self.flows += assets
        return shares

    def redeem(self, shares: int) -> int:
        a = self.nav()
        self._accrue_fees(a)
        assets = shares * (a + 1) // (self.supply + VIRTUAL_SHARES)
        if assets > self.idle:
            return 0
        self.idle -= assets
        self.supply -= shares
        self.flows -= assets
        return assets

    def _ins_period(self) -> None:
        if self.t >= self.ins_period_start + self.v.insurance_period_sec:
            self.ins_period_start, self.ins_base, self.ins_drawn = self.t, self.ins, 0

    def coverable(self) -> int:
        if self.t >= self.ins_period_start + self.v.insurance_period_sec:
            base, drawn = self.ins, 0
        else:
            base, drawn = self.ins_base, self.ins_drawn
        cap = base * self.v.insurance_max_draw_bps // BPS
        return min(max(cap - drawn, 0), self.ins)

    def _report(self) -> None:
        self._accrue_fees()
        nav = self.nav()
        pnl = nav - self.nav_at_report - self.flows
        skim = 0
        if pnl > 0:
            share = pnl * self.v.insurance_skim_bps // BPS
            target = nav * self.v.insurance_target_bps // BPS
            skim = min(share, max(target - self.ins, 0), self.idle)
            self._ins_period()
            self.ins += skim
            self.idle -= skim
            self.c.insurance_skimmed += skim
        elif pnl < 0:
            self.unreported_loss += -pnl
        self.nav_at_report = nav - skim
        self.flows = 0
        self.last_report_at = self.t

    def _cover(self) -> bool:
        if self.unreported_loss == 0:
            return False
        self._ins_period()
        paid = min(self.unreported_loss, self.coverable())
        self.unreported_loss = 0
        self.ins -= paid
        self.ins_drawn += paid
        self.idle += paid
        self.flows += paid
        self.c.insurance_paid += paid
        return True

    # ------------------------------------------------------------------ book and snapshot

    def book(self) -> BookState:
        spot_v = self.weth * self.price_wad // APW
        _, opt_delta = self.option_mark()
        ratio = UINT256_MAX
        if self.p_size:
            eq = self.perp_equity()
            maint = self._req(self.p_size, self.v.perp_mmr_wad)
            ratio = eq * WAD // maint if eq > 0 else 0
        gross = ceil_div(self.weth * self.price_wad, APW) + ceil_div(abs(self.p_size) * self.price_wad, APW)
        gross += ceil_div(abs(opt_delta) * self.price_wad, APW) if opt_delta else 0
        del spot_v
        return BookState(
            net_delta_wad=self.weth + self.p_size + opt_delta,
            margin_ratio_wad=ratio,
            gross_exposure_assets=gross,
            nav_assets=self.nav(),
        )

    def snapshot(self) -> Snapshot:
        t = self.t
        nav = self.nav()
        opt_value, opt_delta = self.option_mark()
        book = self.book()
        spot_ok = self.spot_verdict in (Verdict.Ok, Verdict.Deviation)
        spot_value = self.price_wad if spot_ok else 0
        spot_reading = OracleReading(
            name="eth_usd",
            feed=ADDR["spot_feed"],
            round=self.spot_round,
            decimals=8,
            config=self.spot_cfg,
            state=self.spot_state,
            verdict=self.spot_verdict,
            value_wad=spot_value,
            age_sec=0,
        )
        iv_round = RoundData(
            round_id=PHASE + self.round_no,
            answer=self.iv_ans,
            started_at=t,
            updated_at=t,
            answered_in_round=PHASE + self.round_no,
        )
        iv_reading = OracleReading(
            name="eth_iv",
            feed=ADDR["iv_feed"],
            round=iv_round,
            decimals=8,
            verdict=Verdict.Ok,
            value_wad=self.iv_ans * FEED_SCALE,
            age_sec=0,
        )
        ft, frate = self.funding_hist[-1]
        f_round = RoundData(
            round_id=PHASE + len(self.funding_hist),
            answer=frate // FEED_SCALE,
            started_at=ft,
            updated_at=ft,
            answered_in_round=PHASE + len(self.funding_hist),
        )
        f_reading = OracleReading(
            name="funding",
            feed=ADDR["funding_feed"],
            round=f_round,
            decimals=8,
            verdict=Verdict.Ok,
            value_wad=frate,
            age_sec=t - ft,
        )
        since = t - 3 * 86_400
        hist = [
            FundingPoint(updated_at=a, rate_wad=b)
            for a, b in self.funding_hist
            if a > since or a == self.funding_hist[0][0]
        ][-256:]
        x, y = self._pool_reserves()
        spot = SpotHolding(
            leg=ADDR["spot_leg"],
            weth_wad=self.weth,
            cash_assets=0,
            value_assets=self.weth * self.price_wad // APW,
            pool=ADDR["pool"],
            pool_fee=self.v.pool_fee,
            pool_price_wad=self.price_wad,
            pool_asset_reserve=int(x),
            pool_eth_reserve_wad=int(y),
        )
        eq = self.perp_equity() if (self.p_size or self.p_margin) else 0
        maint = self._req(self.p_size, self.v.perp_mmr_wad)
        liq = 0
        if self.p_size:
            s, ep = self.p_size / WAD, self.p_entry / WAD
            m = (self.p_margin + self.pending_funding()) / USDC
            mmr = self.v.perp_mmr_wad / WAD
            denom = s - mmr * abs(s)
            liq = int(max((ep * s - m) / denom, 0.0) * WAD) if denom else 0
        perp = PerpAccount(
            leg=ADDR["perp_leg"],
            market=ADDR["perp_market"],
            size_wad=self.p_size,
            entry_price_wad=self.p_entry,
            margin_assets=self.p_margin,
            equity_assets=eq,
            pending_funding_assets=self.pending_funding(),
            margin_ratio_wad=book.margin_ratio_wad if self.p_size else UINT256_MAX,
            liquidation_price_wad=liq,
            withdrawable_assets=self.withdrawable(),
            leg_cash_assets=0,
            value_assets=max(eq, 0),
            imr_wad=self.v.perp_imr_wad,
            mmr_wad=self.v.perp_mmr_wad,
            fee_bps=self.v.perp_fee_bps,
            max_funding_8h_wad=self.v.perp_max_funding_8h_wad,
        )
        del maint
        positions = []
        for sid, (size, coll) in sorted(self.positions.items()):
            s = self.series[sid]
            positions.append(
                OptionSeries(
                    series_id=sid,
                    is_call=True,
                    strike_wad=s.strike_wad,
                    cap_wad=s.cap_wad,
                    expiry=s.expiry,
                    settled=s.settled,
                    settlement_price_wad=s.settlement_price_wad,
                    size_wad=size,
                    collateral_assets=coll,
                )
            )
        listed = tuple(
            OptionSeries(
                series_id=s.series_id,
                is_call=True,
                strike_wad=s.strike_wad,
                cap_wad=s.cap_wad,
                expiry=s.expiry,
                settled=False,
                settlement_price_wad=0,
            )
            for s in self.series.values()
            if not s.settled and s.expiry > t
        )
        options = OptionBookView(
            leg=ADDR["option_leg"],
            market=ADDR["option_market"],
            oracle=ADDR["option_oracle"],
            settlement_window_sec=self.v.option_settlement_window_sec,
            positions=tuple(positions),
            listed=listed,
            value_assets=opt_value,
            delta_wad=opt_delta,
            iv_spread_wad=self.v.option_iv_spread_wad,
            min_vol_wad=self.v.option_min_vol_wad,
            fee_bps=self.v.option_fee_bps,
            pool_free_assets=5_000_000 * USDC,
        )
        fee_shares, _ = self._quote_fees(nav)
        vault = VaultState(
            address=ADDR["vault"],
            block=self.block,
            asset=ADDR["asset"],
            asset_decimals=6,
            share_decimals=12,
            total_assets=nav,
            total_supply=self.supply,
            idle_assets=self.idle,
            liquid_assets=self.idle,
            share_price_wad=self.share_price_wad(nav),
            high_water_mark_wad=self.hwm,
            pending_fee_shares=fee_shares,
            management_fee_bps=self.v.management_fee_bps,
            performance_fee_bps=self.v.performance_fee_bps,
            fee_recipient=ADDR["fee_recipient"],
            deposit_cap=10**21,
            deposits_paused=False,
            shutdown=False,
            legs=(ADDR["spot_leg"], ADDR["perp_leg"], ADDR["option_leg"]),
            leg_values=(spot.value_assets, max(eq, 0), opt_value),
            queued_shares=0,
            total_claimable=0,
            queue_head=0,
            queue_tail=0,
        )
        return Snapshot(
            chain_id=0,
            block=self.block,
            block_hash="0x" + f"{self.block:064x}",
            timestamp=t,
            vault=vault,
            action_nonce=self.nonce,
            last_action_at=self.last_action_at,
            unreported_loss_assets=self.unreported_loss,
            nav_at_report_assets=self.nav_at_report,
            flows_since_report_assets=self.flows,
            last_report_at=self.last_report_at,
            book=book,
            trigger_needed=False,
            trigger_reason=0,
            guard=self.g,
            spot_oracle=spot_reading,
            iv_oracle=iv_reading,
            funding_oracle=f_reading,
            funding_history=tuple(hist),
            spot=spot,
            perp=perp,
            options=options,
            insurance=InsuranceView(
                fund=ADDR["fund"],
                reserve_assets=self.ins,
                target_assets=nav * self.v.insurance_target_bps // BPS,
                coverable_assets=self.coverable(),
            ),
            queued_assets=0,
        )

    # ------------------------------------------------------------------ actions

    def apply(self, action) -> bool:
        """Apply one policy action as the contract would; False (and state unchanged) when it reverts."""
        kind = action.kind
        nonce = getattr(action, "expected_nonce", None)
        if nonce is not None and nonce != self.nonce:
            self.c.reverts[kind] = self.c.reverts.get(kind, 0) + 1
            return False
        saved = {k: v for k, v in self.__dict__.items() if k not in ("c", "series", "positions")}
        saved_pos = {k: list(v) for k, v in self.positions.items()}
        saved_series = {k: Series(**vars(v)) for k, v in self.series.items()}
        saved_c = {k: v for k, v in vars(self.c).items() if not isinstance(v, dict)}
        ok = self._apply(action)
        if not ok:
            self.__dict__.update(saved)
            self.positions, self.series = saved_pos, saved_series
            for k, v in saved_c.items():
                setattr(self.c, k, v)
            self.c.reverts[kind] = self.c.reverts.get(kind, 0) + 1
            return False
        if nonce is not None:
            self.nonce += 1
        self.c.actions[kind] = self.c.actions.get(kind, 0) + 1
        return True

    def _guarded(self, before: BookState | None, notional: int, prices: list[tuple[int, bool]]) -> bool:
        """RiskGuard's check of the action; `before` is None when the action did not ask for the
        before-book (allowImprovement false): no exemption then."""
        if getattr(self, "_deadline", self.t) < self.t:
            return False
        after = self.book()
        info = ActionInfo(
            notional_assets=notional,
            trades=tuple(
                Trade(exec_price_wad=p, oracle_price_wad=self.price_wad, is_buy=b) for p, b in prices
            ),
        )
        ok = check_action(self.g, before or NO_EXEMPTION, after, info, self.t) is None
        if ok:
            self.last_action_at = self.t
        return ok

    def _apply(self, a) -> bool:
        kind = a.kind
        if kind == "rebalance":
            if self.spot_verdict != Verdict.Ok:
                return False
            before = self.book() if a.allow_improvement else None
            notional, prices = 0, []
            if a.perp_margin_delta_assets > 0:
                m = a.perp_margin_delta_assets
                if m > self.idle:
                    return False
                self.idle -= m
                self.p_margin += m
            if a.perp_size_delta_wad:
                if not self._perp_trade(a.perp_size_delta_wad, a.perp_limit_price_wad):
                    return False
                n = ceil_div(abs(a.perp_size_delta_wad) * self.price_wad, APW)
                notional += n
                fee_per = ceil_div(self.price_wad * self.v.perp_fee_bps, BPS)
                d = a.perp_size_delta_wad
                prices.append((self.price_wad + (fee_per if d > 0 else -fee_per), d > 0))
            if a.spot_amount_in:
                if a.spot_buy_eth and a.spot_amount_in > self.idle:
                    return False
                ok, out = self._swap(a.spot_buy_eth, a.spot_amount_in, a.spot_min_out)
                if not ok or out == 0:
                    return False
                if a.spot_buy_eth:
                    notional += a.spot_amount_in
                    prices.insert(0, (ceil_div(a.spot_amount_in * APW, out), True))
                else:
                    notional += ceil_div(a.spot_amount_in * self.price_wad, APW)
                    prices.insert(0, (out * APW // a.spot_amount_in, False))
            if a.perp_margin_delta_assets < 0:
                m = -a.perp_margin_delta_assets
                self._settle_funding()
                if m > self.p_margin:
                    return False
                self.p_margin -= m
                if self.p_size and self.p_margin + self._pnl(self.p_size, self.p_entry) < self._req(
                    self.p_size, self.v.perp_imr_wad
                ):
                    return False
                self.idle += m
            return self._guarded(before, notional, prices)
        if kind == "trade_option":
            if a.is_buy or self.spot_verdict != Verdict.Ok:
                return False  # the policy only sells
            before = self.book() if a.allow_improvement else None
            if not self._sell_option(a.series_id, a.size_wad, a.limit_assets, a.fund_assets):
                return False
            notional = ceil_div(a.size_wad * self.price_wad, APW)
            return self._guarded(before, notional, [])
        if kind == "settle_option":
            return self._settle_option(a.series_id)
        if kind == "report":
            self._report()
            return True
        if kind == "cover_loss":
            return self._cover()
        if kind == "poke_oracle" and action_is_spot(a):
            _, _, self.spot_state = apply(self.spot_cfg, self.spot_state, self.spot_round, self.t)
            self.spot_verdict, _ = check(self.spot_cfg, self.spot_state, self.spot_round, self.t)
        return True  # process_redemptions: no queue in the model
