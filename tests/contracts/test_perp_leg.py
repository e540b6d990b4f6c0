"""PerpLeg on the real local market (PerpMarket on KeelFeed ETH/USD and funding feeds): margin in and out,
short open/close with the report, value() equal to the venue's equity to the unit while the oracle is
good, the documented fallback marks when it is not (perp_leg oracle failed, venue views reverting, broken
feeds), marginRatioWad equal to the venue's (and keeper.risk's), and only the vault acting."""

from __future__ import annotations

import math

import ape
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from keeper import oracle, risk
from keeper.positions import PerpPosition
from tests.helpers import chain_settings, isolated
from tests.leg_helpers import (
    COOLDOWN,
    MAX_AGE,
    MAX_DEV_BPS,
    SCALE,
    UINT_MAX,
    USDC,
    VERDICT_ERRORS,
    WAD,
    advance,
    ceil_div,
    deploy_market,
    expected_leg_price,
    mirror_verdict,
    next_ts,
    usd8,
)

ETH = 10**18
P0 = 3000 * WAD
IMR = 10**17
MMR = 5 * 10**16
FEE_BPS = 5
CLAMP_8H = 75 * 10**14  # the local market's funding clamp, 0.75% per 8 hours
VENUE_MAX_AGE = 2 * 86_400
INT256_MAX = 2**255 - 1
ZERO = "0x0000000000000000000000000000000000000000"


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def d(admin, gov, keeper, guardian, treasury, stranger):
    return deploy_market(admin, gov, keeper, guardian, treasury)


@pytest.fixture(scope="module")
def stable(project, d):
    return project.MockUSDC.at(d.usdc)


@pytest.fixture(scope="module")
def perp(project, d):
    return project.PerpMarket.at(d.perp_market)


@pytest.fixture(scope="module")
def feed(project, d):
    return project.KeelFeed.at(d.feeds.eth_usd)


@pytest.fixture(scope="module")
def funding(project, d):
    return project.KeelFeed.at(d.feeds.eth_funding)


@pytest.fixture(scope="module")
def tv(project, keeper, admin, stable):
    """The test double of the vault (driven by the keeper), holding a billion USDC."""
    v = keeper.deploy(project.LegTestVault, stable)
    stable.mint(v, 10**9 * USDC, sender=admin)
    return v


def deploy_perp_leg(project, admin, vault, asset, market, max_dev=MAX_DEV_BPS):
    return admin.deploy(project.PerpLeg, vault, asset, market, MAX_AGE, max_dev, COOLDOWN)


@pytest.fixture(scope="module")
def perp_leg(project, admin, tv, stable, perp):
    return deploy_perp_leg(project, admin, tv, stable, perp)


class Feeds:
    """Republishes both feeds (fresh rounds), optionally with a new price or funding rate."""

    def __init__(self, spot, funding, admin):
        self.spot, self.funding, self.admin = spot, funding, admin

    def publish(self, price_usd: float | None = None, rate8: int | None = None) -> None:
        rate = self.funding.latestRoundData().answer if rate8 is None else rate8
        self.funding.updateAnswer(rate, sender=self.admin)
        answer = self.spot.latestRoundData().answer if price_usd is None else usd8(price_usd)
        self.spot.updateAnswer(answer, sender=self.admin)

    def price_wad(self) -> int:
        return self.spot.latestRoundData().answer * 10**10


@pytest.fixture
def feeds(feed, funding, admin):
    return Feeds(feed, funding, admin)


def dl(chain) -> int:
    return chain.blocks.head.timestamp + 600


def open_short(tv, perp_leg, keeper, chain, size: int, margin: int, fund: int | None = None):
    tv.fundLeg(perp_leg, margin if fund is None else fund, sender=keeper)
    tv.depositMargin(perp_leg, margin, sender=keeper)
    return tv.trade(perp_leg, -size, 0, dl(chain), sender=keeper)


def venue_answers(perp, perp_leg) -> bool:
    try:
        perp.accountEquityUsdc(perp_leg)
    except ape.exceptions.ContractLogicError:
        return False
    return True


def venue_feeds_ok(perp) -> bool:
    """Whether the venue can read both of its feeds now (cumulativeFundingWad reads both)."""
    try:
        perp.cumulativeFundingWad()
    except ape.exceptions.ContractLogicError:
        return False
    return True


def expected_fallback_funding(perp, perp_leg, size: int, price: int, now: int) -> int:
    try:
        return perp.pendingFundingUsdc(perp_leg)
    except ape.exceptions.ContractLogicError:
        pending, at = perp_leg.fundingMark()
        notional = ceil_div(abs(size) * price, SCALE)
        return pending - ceil_div(notional * CLAMP_8H * (now - at), WAD * 28_800)


def expected_equity(perp, perp_leg, feed, now: int) -> tuple[int, int, bool]:
    """The perp_leg's documented marking rule, in Python."""
    p = perp.position(perp_leg)
    if p.sizeWad == 0:
        return p.marginUsdc, 0, True
    price, fresh = expected_leg_price(perp_leg, feed, now)
    if fresh and venue_answers(perp, perp_leg):
        return perp.accountEquityUsdc(perp_leg), price, True
    pnl = (price - p.entryPriceWad) * p.sizeWad // SCALE  # floor, like PerpMath
    return p.marginUsdc + pnl + expected_fallback_funding(perp, perp_leg, p.sizeWad, price, now), price, False


def ratio_wad(equity: int, size: int, price: int) -> int:
    if size == 0:
        return UINT_MAX
    if equity <= 0:
        return 0
    return equity * 10**66 // (abs(size) * price * MMR)


def assert_marks(perp, perp_leg, stable, feed, chain) -> tuple[int, int, bool]:
    """delta/value/grossExposure/marginRatioWad/markedEquity follow the rule at the head block."""
    now = chain.blocks.head.timestamp
    p = perp.position(perp_leg)
    equity, price, exact = expected_equity(perp, perp_leg, feed, now)
    assert tuple(perp_leg.markedEquity()) == (equity, price, exact)
    assert perp_leg.delta() == p.sizeWad
    assert perp_leg.value() == stable.balanceOf(perp_leg) + max(equity, 0)
    assert perp_leg.grossExposure() == ceil_div(abs(p.sizeWad) * price, SCALE)
    assert perp_leg.marginRatioWad() == ratio_wad(equity, p.sizeWad, price)
    if exact and p.sizeWad:  # the venue's own figures, to the unit
        venue_ratio = perp.marginRatioWad(perp_leg)
        assert perp_leg.marginRatioWad() == (max(venue_ratio, 0) if venue_ratio != INT256_MAX else UINT_MAX)
        assert perp_leg.value() == stable.balanceOf(perp_leg) + max(perp.accountEquityUsdc(perp_leg), 0)
    return equity, price, exact


def keeper_ratio(perp, perp_leg) -> float:
    v = perp.accountView(perp_leg)
    pos = v.position
    m, f = pos.marginUsdc, v.pendingFundingUsdc
    perp_pos = PerpPosition(
        size_eth=pos.sizeWad / WAD,
        entry_price_usd=(pos.entryPriceWad or v.indexPriceWad) / WAD,
        margin_usd=max(m, 0) / USDC,
        funding_accrued_usd=(f + min(m, 0)) / USDC,
        imr=IMR / WAD,
        mmr=MMR / WAD,
    )
    return risk.perp_margin_ratio(perp_pos, v.indexPriceWad / WAD)


# ------------------------------------------------------------------------------------------ construction


def test_constructor__takes_the_venues_price_feed_and_collateral(perp_leg, perp, tv, stable, feed):
    assert (perp_leg.vault(), perp_leg.asset(), perp_leg.market()) == (
        tv.address,
        stable.address,
        perp.address,
    )
    assert perp_leg.oracleConfig().feed == perp.priceFeed() == feed.address
    assert perp_leg.oracleState().lastGoodWad == P0
    assert (perp_leg.value(), perp_leg.delta(), perp_leg.grossExposure()) == (0, 0, 0)
    assert perp_leg.marginRatioWad() == UINT_MAX
    assert tuple(perp_leg.markedEquity()) == (0, 0, True)


def test_constructor__with_a_foreign_collateral_or_no_market__reverts(project, admin, tv, perp, stable, d):
    with ape.reverts(project.PerpLeg.CollateralMismatch, market=perp.address, collateral=stable.address):
        deploy_perp_leg(project, admin, tv, d.spot.weth, perp)
    with ape.reverts(project.PerpLeg.ZeroAddress, field="market"):
        deploy_perp_leg(project, admin, tv, stable, ZERO)


@pytest.mark.parametrize("call", ["fund", "release", "depositMargin", "withdrawMargin", "trade"])
def test_vault_only__anyone_else__reverts_with_the_caller(perp_leg, tv, stranger, keeper, call):
    args = {"trade": (-ETH, 0, UINT_MAX)}.get(call, (1,))
    for who in (stranger, keeper):
        with ape.reverts(perp_leg.OnlyVault, caller=who, vault=tv):
            getattr(perp_leg, call)(*args, sender=who)


# ------------------------------------------------------------------------------------------ margin


def test_margin__in_and_out_while_flat__value_counts_cash_and_margin(
    perp_leg, tv, stable, perp, keeper, chain
):
    tv.fundLeg(perp_leg, 10_000 * USDC, sender=keeper)
    tx = tv.depositMargin(perp_leg, 6_000 * USDC, sender=keeper)
    ev = tx.events.filter(perp_leg.MarginDeposited)[0]
    assert ev.assets == 6_000 * USDC
    assert perp.position(perp_leg).marginUsdc == 6_000 * USDC and stable.balanceOf(perp_leg) == 4_000 * USDC
    assert perp_leg.value() == 10_000 * USDC and perp_leg.marginRatioWad() == UINT_MAX
    assert stable.allowance(perp_leg, perp) == 0
    tx = tv.withdrawMargin(perp_leg, 2_000 * USDC, sender=keeper)
    ev = tx.events.filter(perp_leg.MarginWithdrawn)[0]
    assert ev.assets == 2_000 * USDC and perp.position(perp_leg).marginUsdc == 4_000 * USDC
    assert perp_leg.value() == 10_000 * USDC
    tv.releaseFromLeg(perp_leg, UINT_MAX, sender=keeper)  # only the cash at the perp_leg is free
    assert tv.lastReleased() == 6_000 * USDC and perp_leg.value() == 4_000 * USDC


def test_margin__zero_or_more_than_held__reverts(perp_leg, tv, stable, perp, keeper):
    tv.fundLeg(perp_leg, 100 * USDC, sender=keeper)
    with ape.reverts(perp_leg.ZeroAmount, field="assets"):
        tv.depositMargin(perp_leg, 0, sender=keeper)
    with ape.reverts(
        perp_leg.InsufficientLegBalance, token=stable.address, requested=101 * USDC, available=100 * USDC
    ):
        tv.depositMargin(perp_leg, 101 * USDC, sender=keeper)
    with ape.reverts(perp_leg.ZeroAmount, field="assets"):
        tv.withdrawMargin(perp_leg, 0, sender=keeper)
    with ape.reverts(perp.InsufficientMargin, account=perp_leg, requestedUsdc=1, marginUsdc=0):
        tv.withdrawMargin(perp_leg, 1, sender=keeper)


# ------------------------------------------------------------------------------------------ trading


def test_trade__open_and_close_a_short__reports_all_in_prices_and_value_tracks_the_venue(
    perp_leg, tv, stable, perp, feed, feeds, keeper, chain
):
    tx = open_short(tv, perp_leg, keeper, chain, 10 * ETH, 50_000 * USDC, fund=100_000 * USDC)
    fee = 15 * USDC  # 5 bps of $30,000
    r = tv.lastReport()
    assert (r.notionalAssets, r.execPriceWad, r.oraclePriceWad, r.isBuy) == (
        30_000 * USDC,
        P0 - fee * SCALE // (10 * ETH),  # $1.5 of fee per ETH, taken off a sell
        P0,
        False,
    )
    ev = tx.events.filter(perp_leg.PerpTraded)[0]
    assert (ev.sizeDeltaWad, ev.priceWad, ev.execPriceWad, ev.feeAssets) == (
        -10 * ETH,
        P0,
        r.execPriceWad,
        fee,
    )
    assert tx.events.filter(perp.Traded)[0].newSizeWad == -10 * ETH  # the size after: the venue's event
    assert tuple(perp_leg.fundingMark()) == (0, tx.timestamp)
    assert perp_leg.delta() == -10 * ETH
    assert perp_leg.value() == 100_000 * USDC - fee
    assert perp_leg.grossExposure() == 30_000 * USDC
    assert_marks(perp, perp_leg, stable, feed, chain)
    assert perp_leg.marginRatioWad() / WAD == pytest.approx(keeper_ratio(perp, perp_leg), rel=1e-12)

    # 8 hours of funding (shorts receive at +0.01%/8h) and a 3% rise: still the venue's figures exactly
    advance(chain, 8 * 3600 - 1)
    feeds.publish(3090.0)
    equity, _, exact = assert_marks(perp, perp_leg, stable, feed, chain)
    assert exact and perp.pendingFundingUsdc(perp_leg) > 0
    assert perp_leg.value() == 50_000 * USDC + perp.accountEquityUsdc(perp_leg)
    assert equity == perp.accountEquityUsdc(perp_leg)
    assert perp_leg.marginRatioWad() / WAD == pytest.approx(keeper_ratio(perp, perp_leg), rel=1e-9)

    # close: a buy, rounded up, fee included; then margin back to the vault
    tx = tv.trade(perp_leg, 10 * ETH, 3100 * WAD, dl(chain), sender=keeper)
    r = tv.lastReport()
    fee = ceil_div(10 * ETH * 3090 * WAD * FEE_BPS, 10_000 * SCALE)
    assert (r.notionalAssets, r.execPriceWad, r.oraclePriceWad, r.isBuy) == (
        30_900 * USDC,
        3090 * WAD + ceil_div(fee * SCALE, 10 * ETH),
        3090 * WAD,
        True,
    )
    assert perp_leg.delta() == 0 and perp_leg.marginRatioWad() == UINT_MAX and perp_leg.grossExposure() == 0
    margin = perp.position(perp_leg).marginUsdc
    assert perp_leg.value() == 50_000 * USDC + margin
    tv.withdrawMargin(perp_leg, margin, sender=keeper)
    tv.releaseFromLeg(perp_leg, UINT_MAX, sender=keeper)
    assert perp_leg.value() == 0 and tv.lastReleased() == 50_000 * USDC + margin


def test_trade__limit_deadline_and_zero_size__revert_with_values(perp_leg, tv, perp, keeper, chain):
    tv.fundLeg(perp_leg, 10_000 * USDC, sender=keeper)
    tv.depositMargin(perp_leg, 10_000 * USDC, sender=keeper)
    with ape.reverts(perp.LimitPriceExceeded, sizeDeltaWad=-ETH, priceWad=P0, limitPriceWad=P0 + 1):
        tv.trade(perp_leg, -ETH, P0 + 1, dl(chain), sender=keeper)
    t = next_ts(chain)
    with ape.reverts(perp_leg.DeadlineExpired, deadline=t - 1, nowSec=t):
        tv.trade(perp_leg, -ETH, 0, t - 1, sender=keeper)
    with ape.reverts(perp_leg.ZeroAmount, field="sizeDelta"):
        tv.trade(perp_leg, 0, 0, dl(chain), sender=keeper)
    tv.trade(perp_leg, -ETH, P0, next_ts(chain), sender=keeper)  # at the limit and the deadline: passes


def test_withdrawMargin__of_an_open_account__is_held_to_initial_margin_by_the_venue(
    perp_leg, tv, perp, feeds, keeper, chain
):
    feeds.publish(rate8=0)  # no funding: the margin stays put between blocks
    open_short(tv, perp_leg, keeper, chain, 10 * ETH, 4_000 * USDC)
    margin = perp.position(perp_leg).marginUsdc  # 4,000 − 15 fee; initial margin 3,000
    with ape.reverts(perp.InitialMarginBreached):
        tv.withdrawMargin(perp_leg, margin - 3_000 * USDC + 1, sender=keeper)
    tx = tv.withdrawMargin(perp_leg, margin - 3_000 * USDC, sender=keeper)
    assert tuple(perp_leg.fundingMark()) == (0, tx.timestamp)


# ------------------------------------------------------------------------------------------ oracle failures


def test_oracle_stale_at_the_leg__marks_at_the_last_good_price_and_halts_trades_and_withdrawals(
    perp_leg, tv, stable, perp, feed, keeper, chain
):
    open_short(tv, perp_leg, keeper, chain, 5 * ETH, 10_000 * USDC, fund=11_000 * USDC)
    advance(chain, MAX_AGE + 1)  # stale for the perp_leg (1 h), fresh for the venue (2 days)
    assert tuple(perp_leg.oraclePriceWad()) == (P0, False)
    equity, price, exact = assert_marks(perp, perp_leg, stable, feed, chain)
    assert (price, exact) == (P0, False)
    assert equity == perp.accountEquityUsdc(perp_leg)  # same price, the venue's own pending funding
    updated = feed.latestRoundData().updatedAt
    t = next_ts(chain)
    with ape.reverts(perp_leg.OracleStale, feed=feed, updatedAt=updated, nowSec=t, maxAgeSec=MAX_AGE):
        tv.trade(perp_leg, ETH, UINT_MAX, dl(chain), sender=keeper)
    with ape.reverts(perp_leg.OracleStale):
        tv.withdrawMargin(perp_leg, USDC, sender=keeper)
    tv.depositMargin(perp_leg, 1_000 * USDC, sender=keeper)  # a top-up never needs the oracle
    assert_marks(perp, perp_leg, stable, feed, chain)


def test_oracle_deviation__the_leg_marks_at_the_last_good_price_while_the_venue_moves(
    perp_leg, tv, stable, perp, feed, feeds, keeper, stranger, chain
):
    open_short(tv, perp_leg, keeper, chain, 10 * ETH, 10_000 * USDC)
    feeds.publish(3300.0)  # +10%: the venue marks it, the perp_leg's breaker does not accept it
    equity, price, exact = assert_marks(perp, perp_leg, stable, feed, chain)
    assert (price, exact) == (P0, False)
    assert (
        perp.accountEquityUsdc(perp_leg) < equity
    )  # the short's loss at 3,300 is not in the perp_leg's mark
    with ape.reverts(perp_leg.OracleDeviation, lastWad=P0, newWad=3300 * WAD):
        tv.trade(perp_leg, ETH, UINT_MAX, dl(chain), sender=keeper)
    tx = perp_leg.pokeOracle(sender=stranger)  # trips the breaker and refreshes the funding mark
    assert perp_leg.oracleState().trippedAt == tx.timestamp
    assert tuple(perp_leg.fundingMark()) == (perp.pendingFundingUsdc(perp_leg), tx.timestamp)
    with ape.reverts(perp_leg.OracleCoolingDown):
        tv.trade(perp_leg, ETH, UINT_MAX, dl(chain), sender=keeper)
    advance(chain, COOLDOWN)
    feeds.publish()
    _, price, exact = assert_marks(perp, perp_leg, stable, feed, chain)
    assert (price, exact) == (3300 * WAD, True)
    tv.trade(perp_leg, ETH, UINT_MAX, dl(chain), sender=keeper)  # re-anchors
    assert tv.lastReport().oraclePriceWad == 3300 * WAD


def test_oracle_venue_views_revert__value_uses_the_funding_mark_minus_the_worst_funding(
    perp_leg, tv, stable, perp, feed, feeds, keeper, stranger, chain
):
    open_short(tv, perp_leg, keeper, chain, 10 * ETH, 10_000 * USDC)
    advance(chain, 3_600)
    feeds.publish()
    perp_leg.pokeOracle(sender=stranger)  # the funding mark: an hour of (positive) funding
    pending, marked_at = perp_leg.fundingMark()
    assert pending > 0
    advance(chain, VENUE_MAX_AGE + 1)  # both feeds stale for the venue too
    with ape.reverts(perp.StaleOracle):
        perp.accountEquityUsdc(perp_leg)
    now = chain.blocks.head.timestamp
    p = perp.position(perp_leg)
    worst = ceil_div(30_000 * USDC * CLAMP_8H * (now - marked_at), WAD * 28_800)
    expected = p.marginUsdc + pending - worst  # PnL is 0 at the unchanged price
    equity, price, exact = assert_marks(perp, perp_leg, stable, feed, chain)
    assert (equity, price, exact) == (expected, P0, False)
    assert worst == pytest.approx(30_000 * USDC * 0.0075 * (now - marked_at) / 28_800, abs=2)
    # the trade halts at the perp_leg's own oracle check, before the venue
    with ape.reverts(perp_leg.OracleStale):
        tv.trade(perp_leg, ETH, UINT_MAX, dl(chain), sender=keeper)
    # a poke while the venue cannot answer keeps the old mark (and does not revert)
    perp_leg.pokeOracle(sender=stranger)
    assert tuple(perp_leg.fundingMark()) == (pending, marked_at)


def test_oracle_stale_everywhere__a_flat_account_still_withdraws_and_releases(
    perp_leg, tv, stable, perp, feed, feeds, keeper, chain
):
    open_short(tv, perp_leg, keeper, chain, ETH, 1_000 * USDC)
    tv.trade(perp_leg, ETH, UINT_MAX, dl(chain), sender=keeper)  # flat again
    margin = perp.position(perp_leg).marginUsdc
    advance(chain, VENUE_MAX_AGE + 1)
    assert perp_leg.oraclePriceWad()[1] is False
    assert perp_leg.value() == margin
    tv.withdrawMargin(perp_leg, margin, sender=keeper)
    tv.releaseFromLeg(perp_leg, UINT_MAX, sender=keeper)
    assert tv.lastReleased() == margin and perp_leg.value() == 0


def test_margin_ratio__equity_at_or_below_zero__is_zero_and_value_counts_only_cash(
    perp_leg, tv, stable, perp, feed, feeds, keeper, stranger, chain
):
    open_short(
        tv, perp_leg, keeper, chain, 10 * ETH, 3_016 * USDC, fund=3_116 * USDC
    )  # margin 3,001 after fee
    for price in (3140.0, 3290.0, 3400.0):  # < 5% steps, each accepted by a poke
        feeds.publish(price)
        perp_leg.pokeOracle(sender=stranger)
    equity, _, exact = assert_marks(perp, perp_leg, stable, feed, chain)
    assert exact and equity < 0 and perp.marginRatioWad(perp_leg) < 0
    assert perp_leg.marginRatioWad() == 0 and perp_leg.value() == 100 * USDC


@pytest.mark.parametrize(
    ("equity", "size", "price"),
    [
        (3_001 * USDC, 10 * ETH + 7, 3_123_456_789 * 10**12),  # the venue's formula, bit for bit
        (1, 10**9, 10**18),
        (10**30, 1, 1),  # saturates at 5e76 like PerpMath
        (10**30, 2**100, 10**36),  # |s|·P·mmr overflows uint256: requirement by mulDiv instead
        (1, 2**200, 10**36),
    ],
)
def test_margin_ratio_helper__is_perp_math_and_total_when_the_product_overflows(
    project, admin, tv, stable, perp, equity, size, price
):
    h = admin.deploy(project.PerpLegHarness, tv, stable, perp)
    d = size * price * MMR
    if d < 2**256:
        want = 5 * 10**76 if equity // d > 5 * 10**10 else equity * 10**66 // d
    else:
        want = equity * WAD // ceil_div(size * price * MMR, 10**48)
    assert h.marginRatioWadOf(equity, size, price, MMR) == want


@pytest.mark.parametrize(
    "mode", [1, 2, 3, 4], ids=["reverts", "short-data", "invalid-opcode", "dirty-uint80"]
)
def test_oracle_broken_feed__views_never_revert_and_trades_do(
    project, admin, gov, tv, stable, funding, keeper, chain, mode
):
    broken = admin.deploy(project.BrokenFeed, usd8(3000))
    params = (IMR, MMR, FEE_BPS, 100, 2_000, CLAMP_8H, VENUE_MAX_AGE)
    market = admin.deploy(project.PerpMarket, stable, broken, funding, admin, 3600, gov, params)
    stable.mint(gov, 1_000_000 * USDC, sender=admin)
    stable.approve(market, 1_000_000 * USDC, sender=gov)
    market.depositPool(1_000_000 * USDC, sender=gov)
    perp_leg = deploy_perp_leg(project, admin, tv, stable, market)
    open_short(tv, perp_leg, keeper, chain, 10 * ETH, 10_000 * USDC, fund=12_000 * USDC)
    broken.setMode(mode, sender=admin)
    p = market.position(perp_leg)
    expected = p.marginUsdc  # PnL 0 at the last good price; funding mark 0 and 0 s elapsed at most 1 s
    equity, price, exact = perp_leg.markedEquity()
    assert (price, exact) == (P0, False)
    now = chain.blocks.head.timestamp
    worst = ceil_div(30_000 * USDC * CLAMP_8H * (now - perp_leg.fundingMark()[1]), WAD * 28_800)
    assert equity == expected - worst
    assert perp_leg.value() == 2_000 * USDC + equity
    assert perp_leg.delta() == -10 * ETH and perp_leg.grossExposure() == 30_000 * USDC
    assert perp_leg.marginRatioWad() == ratio_wad(equity, -10 * ETH, P0)
    with ape.reverts():
        tv.trade(perp_leg, ETH, UINT_MAX, dl(chain), sender=keeper, gas_limit=3_000_000)
    tv.releaseFromLeg(perp_leg, UINT_MAX, sender=keeper)
    assert tv.lastReleased() == 2_000 * USDC


# ------------------------------------------------------------------------------------------ property test

STEP = st.tuples(
    st.sampled_from(
        ["short", "short", "cover", "move", "move", "wait", "poke", "deposit", "withdraw", "venue-stale"]
    ),
    st.floats(min_value=0.05, max_value=1.0, allow_nan=False),
    st.integers(min_value=-700, max_value=700),  # price move, bps
    st.integers(min_value=60, max_value=3 * MAX_AGE),  # seconds
    st.integers(min_value=-1_000_000, max_value=1_000_000),  # funding rate per 8h, feed units (±1%)
)


def short_size(perp, perp_leg, frac: float, price: int) -> int:
    """A short the venue accepts: a fraction of what the equity above initial margin carries."""
    v = perp.accountView(perp_leg)
    free = v.equityUsdc - v.initialMarginUsdc
    if free <= 0:
        return 0
    size = int(frac * 0.9 * free * 10**48 // (IMR * price))
    return size - size % 10**9 + 7  # odd wei sizes exercise the rounding


@settings(parent=chain_settings, max_examples=20)
@example(  # the venue goes stale with a position open, then the feeds come back after a move
    first=0.5,
    steps=[
        ("short", 0.8, 0, 60, 100_000),
        ("venue-stale", 0.5, 0, 60, 0),
        ("move", 0.5, 300, 60, -200_000),
        ("cover", 0.5, 0, 60, 0),
    ],
)
@example(  # drift past the breaker, poke, wait out the cooldown, trade
    first=0.3,
    steps=[
        ("short", 0.5, 0, 600, 0),
        ("move", 0.5, 400, 600, 0),
        ("move", 0.5, 400, 600, 0),
        ("poke", 0.5, 0, 60, 0),
        ("wait", 0.5, 0, COOLDOWN, 0),
        ("short", 0.3, 0, 60, 0),
    ],
)
@given(first=st.floats(min_value=0.05, max_value=1.0), steps=st.lists(STEP, min_size=1, max_size=6))
def test_marks__after_random_trades_moves_funding_and_failures__follow_the_rule(
    chain, perp_leg, tv, stable, perp, feed, feeds, keeper, stranger, first, steps
):
    with isolated(chain):
        tv.fundLeg(perp_leg, 100_000 * USDC, sender=keeper)
        tv.depositMargin(perp_leg, 50_000 * USDC, sender=keeper)
        tv.trade(perp_leg, -short_size(perp, perp_leg, first, P0), 0, dl(chain), sender=keeper)
        for action, frac, bps, dt, rate8 in steps:
            if action == "move":
                advance(chain, dt)
                feeds.publish(feeds.price_wad() * (10_000 + bps) // 10_000 / WAD, rate8)
            elif action == "wait":
                advance(chain, dt)
            elif action == "venue-stale":
                advance(chain, VENUE_MAX_AGE + dt)
            elif action == "poke":
                perp_leg.pokeOracle(sender=stranger)
            elif action == "deposit":
                amount = int(frac * stable.balanceOf(perp_leg))
                if amount:
                    tv.depositMargin(perp_leg, amount, sender=keeper)
            elif action == "withdraw":
                open_ = perp.position(perp_leg).sizeWad != 0
                verdict, _ = mirror_verdict(perp_leg, feed, next_ts(chain))
                if open_ and verdict != oracle.Verdict.Ok:  # the perp_leg halts before the venue is asked
                    with ape.reverts(getattr(perp_leg, VERDICT_ERRORS[verdict])):
                        tv.withdrawMargin(perp_leg, 1, sender=keeper)
                elif not open_ or venue_feeds_ok(perp):
                    amount = int(frac * perp.withdrawableMarginUsdc(perp_leg))
                    if amount:
                        tv.withdrawMargin(perp_leg, amount, sender=keeper)
            else:  # short / cover
                if not venue_feeds_ok(perp):
                    feeds.publish()  # the venue needs fresh feeds to trade at all
                verdict, value = mirror_verdict(perp_leg, feed, next_ts(chain))
                held = perp.position(perp_leg).sizeWad
                size = (
                    -short_size(perp, perp_leg, frac, feeds.price_wad())
                    if action == "short"
                    else int(frac * -held) - (int(frac * -held) % 10**6)
                )
                if size == 0 or (action == "cover" and perp.accountEquityUsdc(perp_leg) < 0):
                    continue
                limit = 0 if size < 0 else UINT_MAX
                if verdict != oracle.Verdict.Ok:
                    with ape.reverts(getattr(perp_leg, VERDICT_ERRORS[verdict])):
                        tv.trade(perp_leg, size, limit, dl(chain), sender=keeper)
                else:
                    tx = tv.trade(perp_leg, size, limit, dl(chain), sender=keeper)
                    ev = tx.events.filter(perp_leg.PerpTraded)[0]
                    r = tv.lastReport()
                    assert r.oraclePriceWad == value == ev.priceWad and r.isBuy == (size > 0)
                    assert r.notionalAssets == ceil_div(abs(size) * value, SCALE)
                    fee_per_eth = ev.feeAssets * SCALE
                    if size > 0:
                        assert r.execPriceWad == value + ceil_div(fee_per_eth, size)
                    else:
                        assert r.execPriceWad == value - fee_per_eth // -size
                    assert perp.position(perp_leg).sizeWad == held + size
            _, _, exact = assert_marks(perp, perp_leg, stable, feed, chain)
            if exact and perp.position(perp_leg).sizeWad:
                ratio = keeper_ratio(perp, perp_leg)
                assert math.isclose(
                    perp_leg.marginRatioWad() / WAD, max(ratio, 0.0), rel_tol=1e-9, abs_tol=1e-12
                )


# ------------------------------------------------------------------------------------------ gas


def test_gas__trade__printed(perp_leg, tv, keeper, chain, feeds):
    tv.fundLeg(perp_leg, 100_000 * USDC, sender=keeper)
    tv.depositMargin(perp_leg, 100_000 * USDC, sender=keeper)
    tv.trade(perp_leg, -10 * ETH, 0, dl(chain), sender=keeper)
    rows = {"open short (first position)": tv.lastGas()}
    advance(chain, 3_600)
    feeds.publish(3010.0)
    tv.trade(perp_leg, -ETH, 0, dl(chain), sender=keeper)
    rows["increase short (new round, funding)"] = tv.lastGas()
    tv.trade(perp_leg, 11 * ETH, UINT_MAX, dl(chain), sender=keeper)
    rows["close"] = tv.lastGas()
    for name, gas in rows.items():
        print(f"gas  PerpLeg.trade: {name:<36} {gas:>8,}")
        assert gas < 200_000
