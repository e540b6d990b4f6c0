"""The simulated world around the vault: oracle publisher, perp funding crank, Uniswap arbitrageur and
option venue operator — all as plain transactions from the dev node's unlocked accounts (`RawRpc`).

Per step (`MarketDriver.step`): the block time jumps to the step's time; the PerpMarket's funding index
is accrued (the hour that passed is charged at the rate and price that held during it); the spot and
implied-vol feeds publish the path's point, the funding feed every `funding_update_hours`; the
arbitrageur trades the Uniswap pool back to the oracle price through the SwapRouter with the target as
the price limit (the router takes only the input the pool used), at most `arb_max_notional_usd` a step.

The venue operator (governance of the OptionMarket) lists call series once a simulated day, expiring
`option_listing_tenor_days` later at strikes `option_moneyness` × spot, and settles expired series
nobody in the vault holds (settlement is permissionless; the keeper settles its own).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from keeper.chain.deploy import Deployment, feed_answer
from keeper.chain.rpc import RawRpc, RawTxError
from keeper.chain.univ3 import SpotMarket
from keeper.demo.config import DemoConfig
from keeper.sim import MarketPath

WAD = 10**18
USDC = 10**6
MAX_UINT = 2**256 - 1
SLOT0 = ["uint160", "int24", "uint16", "uint16", "uint16", "uint8", "bool"]


def round_strike(x: float) -> float:
    """A strike with three significant digits (3,150 → 3,150; 3,163 → 3,160; 1.234 → 1.23)."""
    if x <= 0:
        raise ValueError("strike must be positive")
    digits = 2 - math.floor(math.log10(x))
    return round(x, digits)


@dataclass
class ListedSeries:
    series_id: int
    strike_usd: float
    expiry: int
    settled: bool = False
    held_by_vault: bool = False


@dataclass
class ArbStats:
    trades: int = 0
    usdc_in: int = 0
    weth_in: int = 0
    capped: int = 0


@dataclass
class MarketDriver:
    rpc: RawRpc
    d: Deployment
    cfg: DemoConfig
    path: MarketPath
    t0: int
    publisher: str  # owns the feeds (the deployer); also the arbitrageur
    operator: str  # the OptionMarket's governance
    series: list[ListedSeries] = field(default_factory=list)
    arb: ArbStats = field(default_factory=ArbStats)
    settled_by_operator: int = 0

    @property
    def step_sec(self) -> int:
        return round(86_400 / self.path.steps_per_day)

    @property
    def spot(self) -> SpotMarket:
        return self.d.spot

    def time_of(self, i: int) -> int:
        return self.t0 + i * self.step_sec

    # ------------------------------------------------------------------ setup

    def setup(self) -> None:
        """Arbitrageur inventory (plenty of both tokens) and its router approvals."""
        r, s = self.rpc, self.spot
        weth_inventory = int(self.cfg.pool_liquidity_usd / float(self.path.spot[0]) * 2) * WAD
        r.set_balance(self.publisher, weth_inventory + 10**6 * WAD)
        r.send(self.publisher, s.weth, "deposit()", value=weth_inventory)
        r.send(
            self.publisher,
            s.usdc,
            "mint(address,uint256)",
            self.publisher,
            int(self.cfg.pool_liquidity_usd * 2) * USDC,
        )
        for token in (s.weth, s.usdc):
            r.send(self.publisher, token, "approve(address,uint256)", s.router, MAX_UINT)

    # ------------------------------------------------------------------ one step

    def step(self, i: int) -> None:
        """Move the chain to point `i` of the path (time, funding accrual, feeds, pool)."""
        self.rpc.set_next_timestamp(self.time_of(i))
        self.rpc.send(self.publisher, self.d.perp_market, "accrueFunding()")
        self.publish(i)
        self.arbitrage(float(self.path.spot[i]))

    def publish(self, i: int) -> None:
        """Publish point `i`: spot and IV rounds, and the funding round when a funding period starts."""
        r, d, p = self.rpc, self.d, self.path
        r.send(self.publisher, d.feeds.eth_usd, "updateAnswer(int256)", feed_answer(float(p.spot[i])))
        r.send(self.publisher, d.feeds.eth_iv, "updateAnswer(int256)", feed_answer(float(p.iv[i])))
        every = max(1, round(self.cfg.funding_update_hours * p.steps_per_day / 24))
        if i % every == 0:
            r.send(self.publisher, d.feeds.eth_funding, "updateAnswer(int256)", feed_answer(self.funding(i)))

    def funding(self, i: int) -> float:
        """The funding rate published at step `i`: the mean of the path over the period that starts."""
        every = max(1, round(self.cfg.funding_update_hours * self.path.steps_per_day / 24))
        window = self.path.funding_8h[i : i + every]
        cap = self.d.config.perp_max_funding_8h
        return float(min(max(float(window.mean()), -cap), cap))

    def pool_price(self) -> Fraction:
        sqrt_p = self.rpc.call(self.spot.pool, "slot0()", SLOT0)[0]
        return self.spot.price(sqrt_p)

    def arbitrage(self, target_usd: float) -> None:
        """Trade the pool to `target_usd` (at most `arb_max_notional_usd`), unless within tolerance."""
        s = self.spot
        sqrt_now = self.rpc.call(s.pool, "slot0()", SLOT0)[0]
        current = s.price(sqrt_now)
        target = Fraction(target_usd)
        if abs(current / target - 1) * 10_000 <= Fraction(self.cfg.arb_tolerance_bps):
            return
        limit = s.sqrt_price_x96(target)
        zero_for_one = limit < sqrt_now
        token_in = s.token0 if zero_for_one else s.token1
        token_out = s.token1 if zero_for_one else s.token0
        cap = self.cfg.arb_max_notional_usd
        # at most `cap` USD of input (WETH valued at the pool's price)
        amount_in = int(cap * USDC) if token_in == s.usdc else int(Fraction(cap) / current * WAD)
        deadline = self.time_of(0) + 10**8
        self.rpc.send(
            self.publisher,
            s.router,
            "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))",
            (token_in, token_out, s.fee, self.publisher, deadline, amount_in, 0, limit),
        )
        self.arb.trades += 1
        after = self.rpc.call(s.pool, "slot0()", SLOT0)[0]
        if after != limit:
            self.arb.capped += 1

    # ------------------------------------------------------------------ the option venue

    def list_day(self, i: int) -> list[ListedSeries]:
        """List the day's call series (expiry `option_listing_tenor_days` after the step's time)."""
        spot = float(self.path.spot[i])
        expiry = self.time_of(i) + self.cfg.option_listing_tenor_days * 86_400
        strikes = sorted({round_strike(spot * m) for m in self.cfg.option_moneyness})
        out = []
        for k in strikes:
            k_wad = round(k * WAD)
            cap = round(k * self.cfg.option_cap_fraction * WAD)
            self.rpc.send(
                self.operator,
                self.d.option_market,
                "listSeries(bool,uint256,uint256,uint256)",
                True,
                k_wad,
                cap,
                expiry,
            )
            sid = self.rpc.call(self.d.option_market, "seriesCount()", ["uint256"]) - 1
            out.append(ListedSeries(series_id=sid, strike_usd=k, expiry=expiry))
        self.series.extend(out)
        return out

    def settle_expired(self, now: int) -> None:
        """Settle expired series the vault does not hold (the keeper settles the ones it holds)."""
        for s in self.series:
            if s.settled or s.held_by_vault or s.expiry > now:
                continue
            size, _ = self.rpc.call(
                self.d.option_market,
                "position(address,uint256)",
                ["int256", "uint256"],
                self.d.option_leg,
                s.series_id,
            )
            if size != 0:
                s.held_by_vault = True
                continue
            try:
                self.rpc.send(self.operator, self.d.option_market, "settle(uint256,uint80)", s.series_id, 0)
            except RawTxError:
                continue  # no settlement round yet: try again next step
            s.settled = True
            self.settled_by_operator += 1
