"""PerpMarket: views equal keeper.risk's perp formulas, state changes equal the integer model to the unit,
funding, margin boundaries, liquidation and bad debt, oracle failures, parameter bounds and roles."""

from __future__ import annotations

import math

import ape
import pytest
from eth_utils import keccak
from hypothesis import example, given
from hypothesis import strategies as st

from keeper import risk
from keeper.positions import PerpPosition
from tests.helpers import MAX_UINT, USDC, chain_settings, isolated
from tests.perp_model import (
    WAD,
    ModelRevert,
    PerpModel,
    fee_usdc_up,
    funding_index_delta,
    funding_usdc_down,
    rate_per_sec_wad,
    requirement_usdc_up,
)

GOV = keccak(text="GOVERNANCE_ROLE")
ETH = 10**18
FEED_DECIMALS = 8
IMR = 10**17  # 10%
MMR = 5 * 10**16  # 5%
FEE_BPS = 5
PENALTY_BPS = 100
SHARE_BPS = 2_000
FUNDING_CAP_8H = 10**16  # 1% per 8 hours
MAX_AGE = 3600
PARAMS = (IMR, MMR, FEE_BPS, PENALTY_BPS, SHARE_BPS, FUNDING_CAP_8H, MAX_AGE)
POOL = 10_000_000 * USDC
INT256_MAX = 2**255 - 1


def usd8(usd: float) -> int:
    """A USD price as the 8-decimals feed answer."""
    return round(usd * 10**8)


def to_wad(answer8: int) -> int:
    return answer8 * 10 ** (18 - FEED_DECIMALS)


# ------------------------------------------------------------------------------------------ fixtures


def set_round(feed, answer: int, updated_at: int, sender) -> None:
    """Publish the feed's next round with an explicit `updatedAt` (stale, future or bad rounds included)."""
    feed.updateRoundData(feed.latestRound() + 1, answer, updated_at, updated_at, sender=sender)


@pytest.fixture(scope="module")
def spot_feed(project, admin):
    return admin.deploy(project.KeelFeed, FEED_DECIMALS, "ETH / USD", usd8(3000))


@pytest.fixture(scope="module")
def funding_feed(project, admin):
    return admin.deploy(project.KeelFeed, FEED_DECIMALS, "ETH-PERP funding / 8h", 0)


@pytest.fixture(scope="module")
def market(project, admin, gov, usdc, spot_feed, funding_feed, fish, whale, shark, stranger):
    m = admin.deploy(project.PerpMarket, usdc, spot_feed, funding_feed, admin, 3600, gov, PARAMS)
    for who in (gov, fish, whale, shark, stranger):
        usdc.mint(who, 10**12 * USDC, sender=admin)
        usdc.approve(m, MAX_UINT, sender=who)
    m.depositPool(POOL, sender=gov)
    return m


class Feeds:
    """Sets both feeds in one place (fresh rounds, so nothing is stale after a time jump)."""

    def __init__(self, spot, funding, admin):
        self.spot, self.funding, self.admin = spot, funding, admin

    def set(self, price_usd: float | None = None, rate8: int | None = None) -> None:
        if rate8 is not None:
            self.funding.updateAnswer(rate8, sender=self.admin)
        else:
            self.funding.updateAnswer(self.funding.latestRoundData().answer, sender=self.admin)
        answer = usd8(price_usd) if price_usd is not None else self.spot.latestRoundData().answer
        self.spot.updateAnswer(answer, sender=self.admin)


@pytest.fixture
def feeds(spot_feed, funding_feed, admin):
    return Feeds(spot_feed, funding_feed, admin)


def next_ts(chain) -> int:
    """Timestamp of the next transaction (one-second blocks: tests/contracts/conftest.py)."""
    return chain.blocks.head.timestamp + 1


def price_wad(spot_feed) -> int:
    return to_wad(spot_feed.latestRoundData().answer)


def rate_ps(funding_feed) -> int:
    return rate_per_sec_wad(funding_feed.latestRoundData().answer, FEED_DECIMALS, FUNDING_CAP_8H)


# ------------------------------------------------------------------------------------------ keeper parity


def keeper_position(view) -> PerpPosition:
    """keeper.positions.PerpPosition from an on-chain AccountView (margin < 0 folds into funding: only m + f
    enters the formulas)."""
    pos = view.position
    m, f = pos.marginUsdc, view.pendingFundingUsdc
    entry = pos.entryPriceWad if pos.sizeWad else view.indexPriceWad
    return PerpPosition(
        size_eth=pos.sizeWad / WAD,
        entry_price_usd=entry / WAD,
        margin_usd=max(m, 0) / USDC,
        funding_accrued_usd=(f + min(m, 0)) / USDC,
        imr=IMR / WAD,
        mmr=MMR / WAD,
    )


def assert_views_match_keeper(market, account) -> None:
    v = market.accountView(account)
    perp = keeper_position(v)
    mark = v.indexPriceWad / WAD
    notional = abs(perp.size_eth) * mark
    tol = 1e-9 * (1.0 + notional + abs(perp.margin_usd) + abs(perp.funding_accrued_usd))

    # equity: the contract floors (P − EP)·s once (funding is the same number on both sides)
    eq_py = risk.perp_equity_usd(perp, mark)
    eq_sol = v.equityUsdc / USDC
    assert -tol <= eq_py - eq_sol < 1e-6 + tol
    assert market.accountEquityUsdc(account) == v.equityUsdc
    assert tuple(market.accountBook(account)) == (v.position.sizeWad, v.equityUsdc, market.params().mmrWad)

    # maintenance: the contract rounds up by less than one unit
    maint_py = risk.perp_maintenance_usd(perp, mark)
    assert -tol <= v.maintenanceMarginUsdc / USDC - maint_py < 1e-6 + tol
    assert market.maintenanceMarginUsdc(account) == v.maintenanceMarginUsdc

    ratio_py = risk.perp_margin_ratio(perp, mark)
    ratio_sol = market.marginRatioWad(account)
    assert ratio_sol == v.marginRatioWad
    if perp.size_eth == 0:
        assert math.isinf(ratio_py) and ratio_sol == INT256_MAX
    else:
        # floor of a quotient whose numerator is floored by < 1 unit
        slack = 1e-6 / maint_py + 1e-18 + 1e-9 * abs(ratio_py)
        assert -slack <= ratio_py - ratio_sol / WAD <= slack

    liq_py = risk.liquidation_price(perp)
    liq_sol = market.liquidationPriceWad(account)
    assert liq_sol == v.liquidationPriceWad
    if liq_py is None or liq_py <= 0:
        assert liq_sol == 0
    else:
        assert abs(liq_sol / WAD - liq_py) <= 1e-18 + 1e-9 * liq_py
        # rounded toward the mark: a long's is never below the exact price, a short's never above
        if perp.size_eth > 0:
            assert liq_sol / WAD >= liq_py * (1 - 1e-12)
        else:
            assert liq_sol / WAD <= liq_py * (1 + 1e-12)


def assert_model_state(market, model, names) -> None:
    for who, addr in names.items():
        a = model.acct(who)
        p = market.position(addr)
        assert (p.sizeWad, p.entryPriceWad, p.marginUsdc) == (a.size, a.entry, a.margin), who
        if a.size:
            assert p.fundingIndexSnapshotWad == a.snap
    assert market.poolUsdc() == model.pool
    assert market.insuranceFundUsdc() == model.insurance
    assert market.badDebtUsdc() == model.bad_debt


def assert_cash_identity(market, usdc, accounts) -> None:
    """balance = Σ margin + pool + insurance (no donations in these tests)."""
    margins = sum(market.position(a).marginUsdc for a in accounts)
    assert usdc.balanceOf(market) == margins + market.poolUsdc() + market.insuranceFundUsdc()


# ------------------------------------------------------------------------------------------ property test

STEP = st.tuples(
    st.sampled_from(["fish", "shark"]),
    st.sampled_from(["increase", "reduce", "flip"]),
    st.floats(min_value=0.05, max_value=1.1, allow_nan=False),  # fraction of buying power / of the size
    st.integers(min_value=-2000, max_value=2000),  # price move, bps
    st.integers(min_value=0, max_value=2 * 86_400),  # seconds elapsed
    st.integers(
        min_value=-1_500_000, max_value=1_500_000
    ),  # 8h funding rate, feed units (±1.5%: clamped at 1%)
)
K = 10_000 * USDC


def trade_size(model, who, action, frac, equity, price) -> int:
    """A signed trade for `who`: add to the position, cut it (frac > 1 flips a little), or flip it."""
    held = model.acct(who).size
    side = (1 if held > 0 else -1) if held else (1 if who == "fish" else -1)
    buying_power = max(equity, 0) * 10**48 // (IMR * price)  # size the equity carries at the initial rate
    if action == "increase" or held == 0:
        size = side * int(frac * buying_power)
    elif action == "reduce":
        size = -side * int(frac * abs(held))
    else:
        size = -side * (abs(held) + int(frac * buying_power))
    size = size - size % 10**6 + (7 if size >= 0 else -7)  # odd wei sizes exercise the rounding
    return size


@chain_settings
@example(  # a long at full leverage, then a 15% drop: liquidated with bad debt (insurance is empty)
    margins=(K, K), steps=[("fish", "increase", 1.0, 0, 60, 10_000), ("shark", "increase", 0.5, -1500, 60, 0)]
)
@example(  # a short pays funding beyond its margin while the price falls: negative settled margin
    margins=(K, K),
    steps=[
        ("shark", "increase", 0.95, 0, 60, -1_500_000),
        ("fish", "increase", 0.2, -2000, 2 * 86_400, -1_500_000),
        ("fish", "increase", 0.05, -1000, 2 * 86_400, -1_500_000),
        ("shark", "increase", 0.05, -500, 2 * 86_400, -1_500_000),
    ],
)
@example(  # liquidation with a penalty, then the liquidated account trades again
    margins=(K, 5 * K),
    steps=[("fish", "increase", 1.0, 0, 60, 0), ("fish", "increase", 0.5, -600, 60, 0)],
)
@given(
    margins=st.tuples(
        st.integers(min_value=100 * USDC, max_value=2_000_000 * USDC),
        st.integers(min_value=100 * USDC, max_value=2_000_000 * USDC),
    ),
    steps=st.lists(STEP, min_size=1, max_size=4),
)
def test_views__with_random_trades_prices_and_funding__match_keeper_risk_and_model(
    chain, market, usdc, feeds, spot_feed, funding_feed, fish, shark, stranger, margins, steps
):
    names = {"fish": fish, "shark": shark}
    with isolated(chain):
        feeds.set(3000.0, 10_000)
        market.accrueFunding(sender=stranger)  # stored index = the index now
        model = PerpModel(
            IMR,
            MMR,
            FEE_BPS,
            PENALTY_BPS,
            SHARE_BPS,
            FUNDING_CAP_8H,
            last_update=market.lastFundingUpdate(),
            cum=market.cumulativeFundingWad(),
            pool=market.poolUsdc(),
        )
        for who, amount in zip(("fish", "shark"), margins, strict=True):
            market.depositMargin(names[who], amount, sender=names[who])
            model.deposit(who, amount)
        for who, action, frac, move_bps, dt, rate8 in steps:
            chain.pending_timestamp += dt
            feeds.set(price_wad(spot_feed) * (10_000 + move_bps) // 10_000 / WAD, rate8)
            price, rps = price_wad(spot_feed), rate_ps(funding_feed)

            # liquidate whoever the model says is below maintenance at the next block
            for name, addr in names.items():
                t = next_ts(chain)
                if model.liquidatable(name, t, price, rps):
                    out = model.liquidate(name, price, t, rps)
                    tx = market.liquidate(addr, sender=stranger)
                    assert tx.timestamp == t
                    ev = tx.events.filter(market.Liquidated)[0]
                    got = (ev.sizeClosedWad, ev.equityUsdc, ev.penaltyUsdc, ev.liquidatorRewardUsdc)
                    assert got == (out["closed"], out["equity"], out["penalty"], out["reward"])

            # the trade
            t = next_ts(chain)
            size = trade_size(model, who, action, frac, model.view(who, t, price, rps)["equity"], price)
            limit = 0 if size < 0 else MAX_UINT
            try:
                expected = model.trade(who, size, price, t, rps)
            except ModelRevert as rev:
                with ape.reverts(getattr(market, rev.name), **rev.args_):
                    market.trade(size, limit, sender=names[who])
            else:
                tx = market.trade(size, limit, sender=names[who])
                assert tx.timestamp == t
                ev = tx.events.filter(market.Traded)[0]
                assert (ev.feeUsdc, ev.realisedPnlUsdc) == (expected["fee"], expected["pnl"])

            assert_model_state(market, model, names)
            assert_cash_identity(market, usdc, names.values())
            for addr in names.values():
                assert_views_match_keeper(market, addr)

            # another move without a touch: unrealised PnL and pending funding live in the views
            chain.pending_timestamp += dt // 2 + 1
            feeds.set(price * (10_000 - move_bps // 2) // 10_000 / WAD)
            t_view = chain.blocks.head.timestamp
            price, rps = price_wad(spot_feed), rate_ps(funding_feed)
            for name, addr in names.items():
                want = model.view(name, t_view, price, rps)
                got = market.accountView(addr)
                assert got.pendingFundingUsdc == want["pending"]
                assert got.equityUsdc == want["equity"]
                assert got.marginRatioWad == want["ratio"]
                assert got.liquidationPriceWad == want["liq"]
                assert got.maintenanceMarginUsdc == want["maintenance"]
                assert got.initialMarginUsdc == want["initial"]
                assert_views_match_keeper(market, addr)


# ------------------------------------------------------------------------------------------ helpers


def open_position(market, who, size, margin):
    market.depositMargin(who, margin, sender=who)
    return market.trade(size, 0 if size < 0 else MAX_UINT, sender=who)


# ------------------------------------------------------------------------------------------ funding


@pytest.mark.parametrize("rate8", [10_000, -25_000], ids=["positive", "negative"])
def test_funding__with_long_and_short_of_equal_size__flows_between_them_and_is_zero_sum(
    chain, market, feeds, spot_feed, funding_feed, fish, shark, stranger, rate8
):
    feeds.set(3000.0, 0)  # at a zero rate the index stands still: both open at the same snapshot
    open_position(market, fish, 2 * ETH, 10_000 * USDC)
    open_position(market, shark, -2 * ETH, 10_000 * USDC)
    snap = market.position(fish).fundingIndexSnapshotWad
    assert market.position(shark).fundingIndexSnapshotWad == snap
    last = market.lastFundingUpdate()
    chain.pending_timestamp += 8 * 3600
    feeds.set(rate8=rate8)
    tx = market.accrueFunding(sender=stranger)
    ev = tx.events.filter(market.FundingIndexUpdated)[0]
    rps, price = rate_ps(funding_feed), price_wad(spot_feed)
    assert rps == rate_per_sec_wad(rate8, FEED_DECIMALS, FUNDING_CAP_8H)
    assert (ev.ratePerSecWad, ev.indexPriceWad, ev.elapsed) == (rps, price, tx.timestamp - last)
    assert ev.cumulativeFundingWad == snap + funding_index_delta(rps, price, tx.timestamp - last)
    delta = ev.cumulativeFundingWad - snap
    f_long, f_short = market.pendingFundingUsdc(fish), market.pendingFundingUsdc(shark)
    assert (f_long, f_short) == (funding_usdc_down(2 * ETH, delta), funding_usdc_down(-2 * ETH, delta))
    # rate × size × price over 8 hours (plus the few seconds of the setup blocks)
    assert f_short == pytest.approx(rate8 / 10**8 * 2 * 3000 * USDC, rel=1e-3)
    assert (f_long < 0 < f_short) if rate8 > 0 else (f_short < 0 < f_long)
    assert -1 <= f_long + f_short <= 0  # zero-sum up to one unit, kept by the venue

    # settling moves exactly the booked amounts between margin and pool
    pool, m_long = market.poolUsdc(), market.position(fish).marginUsdc
    tx = market.trade(ETH // 10, MAX_UINT, sender=fish)
    settled = tx.events.filter(market.FundingSettled)[0]
    assert settled.amountUsdc == funding_usdc_down(2 * ETH, settled.cumulativeFundingWad - snap)
    fee = tx.events.filter(market.Traded)[0].feeUsdc
    assert market.position(fish).marginUsdc == m_long + settled.amountUsdc - fee
    assert market.poolUsdc() == pool - settled.amountUsdc + fee


def test_fundingRate__above_the_clamp__is_capped(market, feeds, funding_feed):
    feeds.set(3000.0, 5 * 10**6)  # 5% per 8 hours against a 1% cap
    assert market.fundingRatePerSecWad() == FUNDING_CAP_8H // (8 * 3600)
    feeds.set(3000.0, -5 * 10**6)
    assert market.fundingRatePerSecWad() == -(FUNDING_CAP_8H // (8 * 3600))


def test_depositMargin__on_open_account__does_not_settle_funding(chain, market, feeds, fish, whale):
    feeds.set(3000.0, 10_000)
    open_position(market, fish, ETH, 1_000 * USDC)
    chain.pending_timestamp += 3600
    feeds.set()
    before = market.pendingFundingUsdc(fish)
    tx = market.depositMargin(fish, 5 * USDC, sender=whale)
    assert not tx.events.filter(market.FundingSettled)
    assert market.pendingFundingUsdc(fish) <= before < 0  # still pending (and one second more of it)


# ------------------------------------------------------------------------------------------ trade


def test_trade__at_exactly_the_initial_margin__succeeds_and_one_unit_less__reverts(
    chain, market, feeds, spot_feed, fish, shark
):
    feeds.set(3123.45678901, 0)
    price = price_wad(spot_feed)
    size = 1_234_567_890_123_456_789
    required = requirement_usdc_up(size, price, IMR)
    fee = fee_usdc_up(size, price, FEE_BPS)
    # one unit short: equity after the fee is required − 1
    market.depositMargin(shark, required + fee - 1, sender=shark)
    with ape.reverts(
        market.InitialMarginBreached, account=shark, equityUsdc=required - 1, initialMarginUsdc=required
    ):
        market.trade(-size, 0, sender=shark)
    # exactly enough
    market.depositMargin(fish, required + fee, sender=fish)
    tx = market.trade(-size, 0, sender=fish)
    ev = tx.events.filter(market.Traded)[0]
    assert (ev.feeUsdc, ev.newSizeWad, ev.newEntryPriceWad) == (fee, -size, price)
    assert market.accountEquityUsdc(fish) == required == market.initialMarginUsdc(fish)
    assert market.withdrawableMarginUsdc(fish) == 0


def test_trade__fee__goes_from_margin_to_the_pool(market, feeds, spot_feed, fish):
    feeds.set(3000.0, 0)
    market.depositMargin(fish, 1_000 * USDC, sender=fish)
    pool = market.poolUsdc()
    tx = market.trade(ETH, MAX_UINT, sender=fish)
    fee = fee_usdc_up(ETH, price_wad(spot_feed), FEE_BPS)
    assert fee == 1_500_000  # 5 bps of 3000 USD
    assert tx.events.filter(market.Traded)[0].feeUsdc == fee
    assert market.position(fish).marginUsdc == 1_000 * USDC - fee
    assert market.poolUsdc() == pool + fee


def test_trade__increase__averages_entry_against_the_trader(market, feeds, fish, shark):
    feeds.set(3000.0, 0)
    open_position(market, fish, ETH, 10_000 * USDC)
    open_position(market, shark, -ETH, 10_000 * USDC)
    feeds.set(3100.0)
    market.trade(2 * ETH, MAX_UINT, sender=fish)
    market.trade(-2 * ETH, 0, sender=shark)
    exact_num, den = (3000 + 2 * 3100) * WAD * ETH, 3 * ETH
    assert market.position(fish).entryPriceWad == -(-exact_num // den)  # rounded up for the long
    assert market.position(shark).entryPriceWad == exact_num // den  # rounded down for the short


def test_trade__reduce_then_flip__realises_pnl_into_margin(market, feeds, spot_feed, fish):
    feeds.set(3000.0, 0)
    open_position(market, fish, 2 * ETH, 1_000 * USDC)
    margin, pool = market.position(fish).marginUsdc, market.poolUsdc()
    feeds.set(3300.0)
    tx = market.trade(-ETH // 2, 0, sender=fish)
    ev = tx.events.filter(market.Traded)[0]
    assert ev.realisedPnlUsdc == 150 * USDC  # 300 USD × 0.5 ETH
    fee = fee_usdc_up(ETH // 2, price_wad(spot_feed), FEE_BPS)
    p = market.position(fish)
    assert (p.sizeWad, p.entryPriceWad, p.marginUsdc) == (3 * ETH // 2, 3000 * WAD, margin + 150 * USDC - fee)
    assert market.poolUsdc() == pool - 150 * USDC + fee

    # flip: sell 3 ETH from +1.5 at 2900: realise −100 × 1.5 on the old side, open −1.5 at 2900
    feeds.set(2900.0)
    margin = p.marginUsdc
    tx = market.trade(-3 * ETH, 0, sender=fish)
    ev = tx.events.filter(market.Traded)[0]
    assert ev.realisedPnlUsdc == -150 * USDC
    fee = fee_usdc_up(3 * ETH, price_wad(spot_feed), FEE_BPS)
    p = market.position(fish)
    assert (p.sizeWad, p.entryPriceWad, p.marginUsdc) == (
        -3 * ETH // 2,
        2900 * WAD,
        margin - 150 * USDC - fee,
    )

    # close: flat, entry reset, margin = equity
    equity = market.accountEquityUsdc(fish)
    fee = fee_usdc_up(3 * ETH // 2, price_wad(spot_feed), FEE_BPS)
    market.trade(3 * ETH // 2, MAX_UINT, sender=fish)
    p = market.position(fish)
    assert (p.sizeWad, p.entryPriceWad, p.marginUsdc) == (0, 0, equity - fee)
    assert market.marginRatioWad(fish) == INT256_MAX and market.liquidationPriceWad(fish) == 0


def test_trade__reduce_with_negative_equity__reverts(market, feeds, fish):
    feeds.set(3000.0, 0)
    open_position(market, fish, 10 * ETH, 3_100 * USDC)
    feeds.set(2650.0)  # loss 3500 > margin
    equity = market.accountEquityUsdc(fish)
    assert equity < 0
    fee = fee_usdc_up(ETH, 2650 * WAD, FEE_BPS)
    with ape.reverts(market.NegativeEquity, account=fish, equityUsdc=equity - fee):
        market.trade(-ETH, 0, sender=fish)


@pytest.mark.parametrize("size,limit_usd", [(ETH, 2999.99), (-ETH, 3000.01)], ids=["buy", "sell"])
def test_trade__with_price_worse_than_limit__reverts(market, feeds, fish, size, limit_usd):
    feeds.set(3000.0, 0)
    market.depositMargin(fish, 1_000 * USDC, sender=fish)
    limit = round(limit_usd * 100) * 10**16
    with ape.reverts(market.LimitPriceExceeded, sizeDeltaWad=size, priceWad=3000 * WAD, limitPriceWad=limit):
        market.trade(size, limit, sender=fish)
    market.trade(size, 3000 * WAD, sender=fish)  # a limit equal to the price is fine


def test_trade__zero_size__reverts(market, fish):
    with ape.reverts(market.ZeroAmount, field="sizeDelta"):
        market.trade(0, 0, sender=fish)


# ------------------------------------------------------------------------------------------ withdraw


def test_withdrawMargin__down_to_exactly_the_initial_margin__succeeds_and_one_unit_more__reverts(
    market, feeds, usdc, fish, stranger
):
    feeds.set(3123.45678901, 0)
    open_position(market, fish, -1_234_567_890_123_456_789, 2_000 * USDC)
    equity, required = market.accountEquityUsdc(fish), market.initialMarginUsdc(fish)
    free = market.withdrawableMarginUsdc(fish)
    assert free == equity - required > 0
    with ape.reverts(
        market.InitialMarginBreached, account=fish, equityUsdc=required - 1, initialMarginUsdc=required
    ):
        market.withdrawMargin(free + 1, stranger, sender=fish)
    before = usdc.balanceOf(stranger)
    tx = market.withdrawMargin(free, stranger, sender=fish)
    assert tx.events.filter(market.MarginWithdrawn)[0].amountUsdc == free
    assert usdc.balanceOf(stranger) == before + free
    assert market.accountEquityUsdc(fish) == required


def test_withdrawMargin__unrealised_profit__is_not_withdrawable(market, feeds, fish):
    feeds.set(3000.0, 0)
    open_position(market, fish, ETH, 1_000 * USDC)
    feeds.set(4000.0)
    margin = market.position(fish).marginUsdc
    assert market.withdrawableMarginUsdc(fish) == margin
    with ape.reverts(market.InsufficientMargin, account=fish, requestedUsdc=margin + 1, marginUsdc=margin):
        market.withdrawMargin(margin + 1, fish, sender=fish)
    market.withdrawMargin(margin, fish, sender=fish)  # profit carries the initial margin


def test_withdrawMargin__when_pool_cannot_pay_realised_profit__reverts_with_amounts(
    market, feeds, usdc, gov, fish, shark
):
    feeds.set(3000.0, 0)
    market.withdrawPool(market.poolUsdc() - 1_000 * USDC, gov, sender=gov)  # a small house
    open_position(market, fish, 10 * ETH, 5_000 * USDC)
    open_position(market, shark, ETH, 1_000 * USDC)
    feeds.set(3600.0)
    market.trade(-10 * ETH, 0, sender=fish)  # realises +6000 against a pool of ~1000
    pool = market.poolUsdc()
    assert pool < 0
    margin = market.position(fish).marginUsdc
    available = usdc.balanceOf(market) - market.insuranceFundUsdc()
    assert available < margin
    with ape.reverts(market.PoolInsolvent, requestedUsdc=margin, availableUsdc=available, poolUsdc=pool):
        market.withdrawMargin(margin, fish, sender=fish)
    assert market.withdrawableMarginUsdc(fish) == available
    market.withdrawMargin(available, fish, sender=fish)  # first come, first served
    with ape.reverts(market.InsufficientPool, requestedUsdc=1, poolUsdc=pool):
        market.withdrawPool(1, gov, sender=gov)
    market.depositPool(-pool, sender=gov)  # LPs refill the pool: the rest becomes payable
    market.withdrawMargin(margin - available, fish, sender=fish)


def test_withdrawMargin__bad_inputs__revert(market, fish):
    market.depositMargin(fish, 10 * USDC, sender=fish)
    with ape.reverts(market.ZeroAmount, field="amount"):
        market.withdrawMargin(0, fish, sender=fish)
    with ape.reverts(market.ZeroAddress, field="to"):
        market.withdrawMargin(1, "0x0000000000000000000000000000000000000000", sender=fish)
    with ape.reverts(market.InsufficientMargin, account=fish, requestedUsdc=11 * USDC, marginUsdc=10 * USDC):
        market.withdrawMargin(11 * USDC, fish, sender=fish)


# ------------------------------------------------------------------------------------------ liquidation


def test_liquidate__above_maintenance__reverts(market, feeds, fish, stranger):
    feeds.set(3000.0, 0)
    open_position(market, fish, 10 * ETH, 3_100 * USDC)
    feeds.set(2900.0)
    equity, maint = market.accountEquityUsdc(fish), market.maintenanceMarginUsdc(fish)
    assert equity >= maint and not market.isLiquidatable(fish)
    with ape.reverts(market.NotLiquidatable, account=fish, equityUsdc=equity, maintenanceMarginUsdc=maint):
        market.liquidate(fish, sender=stranger)
    with ape.reverts(market.NoPosition, account=stranger):
        market.liquidate(stranger, sender=stranger)


def test_liquidate__below_maintenance__closes_takes_penalty_to_insurance_and_rewards_caller(
    market, feeds, usdc, fish, stranger
):
    feeds.set(3000.0, 0)
    open_position(market, fish, 10 * ETH, 3_100 * USDC)
    feeds.set(2750.0)
    margin, pool, insurance = market.position(fish).marginUsdc, market.poolUsdc(), market.insuranceFundUsdc()
    equity = market.accountEquityUsdc(fish)
    assert equity == margin - 2_500 * USDC and market.isLiquidatable(fish)
    assert market.marginRatioWad(fish) < WAD
    before = usdc.balanceOf(stranger)
    tx = market.liquidate(fish, sender=stranger)
    penalty = fee_usdc_up(10 * ETH, 2750 * WAD, PENALTY_BPS)
    assert penalty == 275 * USDC
    reward = penalty * SHARE_BPS // 10_000
    ev = tx.events.filter(market.Liquidated)[0]
    assert (ev.account, ev.liquidator, ev.sizeClosedWad, ev.priceWad) == (
        fish,
        stranger,
        10 * ETH,
        2750 * WAD,
    )
    assert (ev.equityUsdc, ev.penaltyUsdc, ev.liquidatorRewardUsdc) == (equity, penalty, reward)
    assert not tx.events.filter(market.BadDebt)
    assert usdc.balanceOf(stranger) == before + reward
    assert market.insuranceFundUsdc() == insurance + penalty - reward
    assert market.poolUsdc() == pool + 2_500 * USDC
    p = market.position(fish)
    assert (p.sizeWad, p.entryPriceWad, p.marginUsdc) == (0, 0, equity - penalty)
    feeds.set(0.0)  # what is left is the owner's, and a flat account withdraws without an oracle
    market.withdrawMargin(equity - penalty, fish, sender=fish)


def test_liquidate__with_equity_below_the_penalty__takes_only_the_equity(market, feeds, fish, stranger):
    feeds.set(3000.0, 0)
    open_position(market, fish, 10 * ETH, 3_100 * USDC)
    feeds.set(2700.0)
    equity = market.accountEquityUsdc(fish)
    assert 0 < equity < fee_usdc_up(10 * ETH, 2700 * WAD, PENALTY_BPS)
    tx = market.liquidate(fish, sender=stranger)
    assert tx.events.filter(market.Liquidated)[0].penaltyUsdc == equity
    assert market.position(fish).marginUsdc == 0


@pytest.mark.parametrize("insurance_usd", [5_000, 300, 0], ids=["covered", "partly", "uninsured"])
def test_liquidate__price_gaps_through_bankruptcy__insurance_covers_then_bad_debt_is_socialised(
    market, feeds, gov, fish, stranger, insurance_usd
):
    feeds.set(3000.0, 0)
    if insurance_usd:
        market.depositInsurance(insurance_usd * USDC, sender=gov)
    open_position(market, fish, 10 * ETH, 3_100 * USDC)
    feeds.set(2600.0)  # loss 4000 against ~3085 of margin
    margin, pool = market.position(fish).marginUsdc, market.poolUsdc()
    equity = market.accountEquityUsdc(fish)
    shortfall = -equity
    assert shortfall > 0 and market.marginRatioWad(fish) < 0
    tx = market.liquidate(fish, sender=stranger)
    covered = min(shortfall, insurance_usd * USDC)
    socialised = shortfall - covered
    bad = tx.events.filter(market.BadDebt)[0]
    assert (bad.account, bad.shortfallUsdc, bad.coveredByInsuranceUsdc, bad.socialisedUsdc) == (
        fish,
        shortfall,
        covered,
        socialised,
    )
    liq = tx.events.filter(market.Liquidated)[0]
    assert (liq.equityUsdc, liq.penaltyUsdc, liq.liquidatorRewardUsdc) == (equity, 0, 0)
    assert market.insuranceFundUsdc() == insurance_usd * USDC - covered
    assert market.badDebtUsdc() == socialised
    # the pool booked the whole 4000 loss as its gain but only margin + insurance existed to pay it
    assert market.poolUsdc() == pool + 4_000 * USDC - socialised == pool + margin + covered
    assert market.position(fish).marginUsdc == 0 and market.position(fish).sizeWad == 0


def test_liquidate__healthy_account__can_avoid_it_by_topping_up(market, feeds, fish, whale, stranger):
    feeds.set(3000.0, 0)
    open_position(market, fish, 10 * ETH, 3_100 * USDC)
    feeds.set(2750.0)
    assert market.isLiquidatable(fish)
    feeds.set(0.0)  # even with the oracle down, anyone can add margin
    market.depositMargin(fish, 1_000 * USDC, sender=whale)
    feeds.set(2750.0)
    assert not market.isLiquidatable(fish)
    with ape.reverts(market.NotLiquidatable):
        market.liquidate(fish, sender=stranger)


# ------------------------------------------------------------------------------------------ oracle


def test_oracle__stale_zero_negative_or_future__reverts_trades_but_not_top_ups(
    chain, market, spot_feed, funding_feed, feeds, admin, fish, whale
):
    feeds.set(3000.0, 0)
    open_position(market, fish, ETH, 1_000 * USDC)
    margin = market.position(fish).marginUsdc
    now = chain.blocks.head.timestamp
    cases = [
        (spot_feed, usd8(3000), now - MAX_AGE - 5, "StaleOracle"),
        (spot_feed, usd8(3000), 0, "StaleOracle"),
        (spot_feed, usd8(3000), now + 3600, "StaleOracle"),
        (spot_feed, 0, now, "InvalidOraclePrice"),
        (spot_feed, -1, now, "InvalidOraclePrice"),
        (funding_feed, 0, now - MAX_AGE - 5, "StaleOracle"),
    ]
    for i, (feed, answer, updated_at, error) in enumerate(cases):
        feeds.set(3000.0, 0)
        set_round(feed, answer, updated_at, admin)
        with ape.reverts(getattr(market, error)):
            market.trade(ETH, MAX_UINT, sender=fish)
        if i == 0:  # an open account needs the price to withdraw and to be marked
            with ape.reverts(market.StaleOracle):
                market.withdrawMargin(1, fish, sender=fish)
            with ape.reverts(market.StaleOracle):
                market.accountEquityUsdc(fish)
        market.depositMargin(fish, USDC, sender=whale)  # top-ups never read an oracle
    assert market.position(fish).marginUsdc == margin + len(cases) * USDC


def test_oracle__stale_price__reverts_with_values(chain, market, spot_feed, feeds, admin, fish):
    feeds.set(3000.0, 0)
    market.depositMargin(fish, 1_000 * USDC, sender=fish)
    stale = chain.blocks.head.timestamp - MAX_AGE - 1
    set_round(spot_feed, usd8(3000), stale, admin)
    t = next_ts(chain)
    with ape.reverts(market.StaleOracle, feed=spot_feed, updatedAt=stale, blockTimestamp=t, maxAge=MAX_AGE):
        market.trade(ETH, MAX_UINT, sender=fish)
    set_round(spot_feed, 0, chain.blocks.head.timestamp, admin)
    with ape.reverts(market.InvalidOraclePrice, feed=spot_feed, answer=0):
        market.indexPriceWad()


# ------------------------------------------------------------------------------------------ governance

SETTERS = [
    ("setMarginRates", (2 * 10**17, 10**17)),
    ("setTradingFee", (10,)),
    ("setLiquidationPenalty", (200, 1_000)),
    ("setMaxFundingRate", (2 * 10**16,)),
    ("setOracleMaxAge", (7200,)),
    ("withdrawPool", (USDC, "gov")),
]


def test_governance__called_by_others__reverts_and_by_governance__emits(market, feeds, admin, gov, stranger):
    feeds.set(3000.0, 0)
    for fn, args in SETTERS:
        args = tuple(gov if a == "gov" else a for a in args)
        caller = admin if fn == "setMarginRates" else stranger  # the role admin is not governance either
        with ape.reverts(market.AccessControlUnauthorizedAccount, account=caller, neededRole=GOV):
            getattr(market, fn)(*args, sender=caller)
        tx = getattr(market, fn)(*args, sender=gov)
        assert len(tx.events) > 0, fn


def test_governance__setters__update_params_and_emit_old_and_new(market, feeds, gov):
    feeds.set(3000.0, 0)
    tx = market.setMarginRates(2 * 10**17, 10**17, sender=gov)
    assert tx.events.filter(market.MarginRatesSet)[0] == market.MarginRatesSet(IMR, MMR, 2 * 10**17, 10**17)
    market.setTradingFee(10, sender=gov)
    market.setLiquidationPenalty(200, 1_000, sender=gov)
    market.setMaxFundingRate(2 * 10**16, sender=gov)
    market.setOracleMaxAge(7200, sender=gov)
    assert tuple(market.params()) == (2 * 10**17, 10**17, 10, 200, 1_000, 2 * 10**16, 7200)


BOUNDS = [
    ("setMarginRates", (10**18 + 1, 5 * 10**16), "MarginRatesOutOfBounds", (10**18 + 1, 5 * 10**16, 10**18)),
    ("setMarginRates", (10**17, 10**17 + 1), "MarginRatesOutOfBounds", (10**17, 10**17 + 1, 10**18)),
    ("setMarginRates", (10**17, 0), "MarginRatesOutOfBounds", (10**17, 0, 10**18)),
    ("setMarginRates", (10**18, 10**18), "MarginRatesOutOfBounds", (10**18, 10**18, 10**18)),
    ("setTradingFee", (101,), "TradingFeeTooHigh", (101, 100)),
    ("setLiquidationPenalty", (501, 0), "LiquidationPenaltyTooHigh", (501, 500)),
    ("setLiquidationPenalty", (100, 5_001), "LiquidatorShareTooHigh", (5_001, 5_000)),
    ("setMaxFundingRate", (5 * 10**16 + 1,), "MaxFundingRateTooHigh", (5 * 10**16 + 1, 5 * 10**16)),
    ("setOracleMaxAge", (59,), "OracleMaxAgeOutOfBounds", (59, 60, 2 * 86_400)),
    ("setOracleMaxAge", (2 * 86_400 + 1,), "OracleMaxAgeOutOfBounds", (2 * 86_400 + 1, 60, 2 * 86_400)),
]


@pytest.mark.parametrize(
    "fn,args,error,values", BOUNDS, ids=[f"{b[0]}-{b[2]}-{i}" for i, b in enumerate(BOUNDS)]
)
def test_governance__above_hard_maxima__reverts_with_values(market, feeds, gov, fn, args, error, values):
    feeds.set(3000.0, 0)
    err = getattr(market, error)
    with ape.reverts(err, **dict(zip([i.name for i in err.abi.inputs], values, strict=True))):
        getattr(market, fn)(*args, sender=gov)


def test_governance__hard_maxima_themselves__are_accepted(market, feeds, gov):
    feeds.set(3000.0, 0)
    market.setMarginRates(10**18, 10**18 - 1, sender=gov)
    market.setTradingFee(100, sender=gov)
    market.setLiquidationPenalty(500, 5_000, sender=gov)
    market.setMaxFundingRate(5 * 10**16, sender=gov)
    market.setOracleMaxAge(2 * 86_400, sender=gov)
    market.setOracleMaxAge(60, sender=gov)


def test_constructor__bad_params__revert(project, admin, gov, usdc, spot_feed, funding_feed):
    bad = (IMR, 0, FEE_BPS, PENALTY_BPS, SHARE_BPS, FUNDING_CAP_8H, MAX_AGE)
    with ape.reverts(project.PerpMarket.MarginRatesOutOfBounds):
        admin.deploy(project.PerpMarket, usdc, spot_feed, funding_feed, admin, 3600, gov, bad)
    with ape.reverts(project.PerpMarket.ZeroAddress):
        admin.deploy(project.PerpMarket, usdc, spot_feed, ZERO, admin, 3600, gov, PARAMS)


ZERO = "0x0000000000000000000000000000000000000000"


def test_constructor__feed_decimals__are_normalised_to_wad_and_above_18_rejected(
    project, admin, gov, usdc, funding_feed
):
    spot18 = admin.deploy(project.KeelFeed, 18, "ETH / USD (18)", 3000 * WAD + 123)
    fund18 = admin.deploy(project.KeelFeed, 18, "funding (18)", 10**14)  # 0.01% per 8 h
    m = admin.deploy(project.PerpMarket, usdc, spot18, fund18, admin, 3600, gov, PARAMS)
    assert m.indexPriceWad() == 3000 * WAD + 123
    assert m.fundingRatePerSecWad() == 10**14 // (8 * 3600) == rate_per_sec_wad(10_000, 8, FUNDING_CAP_8H)
    spot19 = admin.deploy(project.KeelFeed, 19, "ETH / USD (19)", 3000 * 10**19)
    with ape.reverts(project.PerpMarket.OracleDecimalsUnsupported):
        admin.deploy(project.PerpMarket, usdc, spot19, funding_feed, admin, 3600, gov, PARAMS)


# ------------------------------------------------------------------------------------------ reentrancy


def test_depositMargin__reentered_through_the_token__reverts(
    project, admin, gov, spot_feed, funding_feed, fish
):
    token = admin.deploy(project.ReentrantToken)
    m = admin.deploy(project.PerpMarket, token, spot_feed, funding_feed, admin, 3600, gov, PARAMS)
    token.mint(fish, 10**6 * USDC, sender=admin)
    token.approve(m, MAX_UINT, sender=fish)
    token.arm(m, m.trade.encode_input(ETH, MAX_UINT), sender=admin)
    with ape.reverts(m.ReentrancyGuardReentrantCall):
        m.depositMargin(fish, 1_000 * USDC, sender=fish)


# ------------------------------------------------------------------------------------------ gas


def test_gas__trade_and_liquidate__printed(chain, market, feeds, fish, shark, stranger):
    feeds.set(3000.0, 10_000)
    market.depositMargin(fish, 10_000 * USDC, sender=fish)
    market.depositMargin(shark, 3_100 * USDC, sender=shark)
    rows = {"trade: open (first position)": market.trade(ETH, MAX_UINT, sender=fish)}
    market.trade(-10 * ETH, 0, sender=shark)
    chain.pending_timestamp += 3600
    feeds.set()
    rows["trade: increase (funding accrued)"] = market.trade(ETH, MAX_UINT, sender=fish)
    rows["trade: reduce (realise PnL)"] = market.trade(-ETH, 0, sender=fish)
    rows["trade: close"] = market.trade(-ETH, 0, sender=fish)
    rows["withdrawMargin (flat)"] = market.withdrawMargin(USDC, fish, sender=fish)
    feeds.set(3270.0)
    rows["liquidate (penalty + reward)"] = market.liquidate(shark, sender=stranger)
    market.depositMargin(shark, 3_400 * USDC, sender=shark)
    market.trade(-10 * ETH, 0, sender=shark)
    feeds.set(3800.0)
    rows["liquidate (bad debt)"] = market.liquidate(shark, sender=stranger)
    print()
    for name, tx in rows.items():
        print(f"gas  {name:<36} {tx.gas_used:>8,}")
        assert tx.gas_used < 200_000
