"""OptionMarket (with OptionPricer and OptionOracle) on anvil: quotes against keeper.pricing, trade
flows and collateral, the LP pool, settlement routes and payouts, claims, conservation of funds,
oracle halts, the valuation views an OptionLeg will use, governance bounds and roles, reentrancy."""

from __future__ import annotations

import math

import ape
import pytest
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from keeper import pricing
from tests.helpers import MAX_UINT, USDC, chain_settings, isolated

WAD = 10**18
E8 = 10**8
SCALE = 10**30  # wad price x wad size -> USDC units
YEAR = 365 * 86_400
DAY = 86_400
HOUR = 3_600
ZERO = "0x0000000000000000000000000000000000000000"
GOV = keccak(text="GOVERNANCE_ROLE")

SPREAD = 2 * 10**16  # 2 vol points
MIN_VOL = 5 * 10**16
FEE_BPS = 30
WINDOW = HOUR
MARKET_PARAMS = (SPREAD, MIN_VOL, FEE_BPS, WINDOW)
SPOT_PARAMS = (HOUR, 1_000, 1_800)  # max age, max deviation 10 %, cooldown
IV_PARAMS = (HOUR, 5_000, 1_800)
LP_SEED = 1_000_000 * USDC

K = 3_000 * WAD
CAP = 1_500 * WAD

# Verdicts (IOracle.Verdict numbering).
OK, DEVIATION, COOLING_DOWN = 0, 5, 6
# SettlementSource numbering.
NONE, FIRST_ROUND, LAST_BEFORE, GOVERNANCE = 0, 1, 2, 3


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def bound_wad(f: int, k: int) -> int:
    """BlackScholes.priceErrorBoundWad: (F + K)·1e-15 rounded up, plus 4 wei."""
    return ceil_div((f + k) * 1_000, WAD) + 4


def vols(iv: int, spread: int = SPREAD, min_vol: int = MIN_VOL) -> tuple[int, int]:
    """(askVol, bidVol) as the market forms them."""
    bid = max(iv - spread, 0)
    bid = min(iv, max(bid, min_vol))
    return iv + spread, bid


def black76(is_call: bool, f: int, k: int, tau: int, sigma: int) -> float:
    return float(
        pricing.price("c" if is_call else "p", f / WAD, k / WAD, tau / YEAR, 0.0, sigma / WAD, b=0.0)
    )


def ref_price(is_call: bool, f: int, k: int, cap: int, tau: int, vol_long: int, vol_short: int) -> float:
    """Float Black-76 price of the product: put, or call(K) at vol_long − call(K + C) at vol_short."""
    if not is_call:
        return black76(False, f, k, tau, vol_long)
    return black76(True, f, k, tau, vol_long) - black76(True, f, k + cap, tau, vol_short)


def float_tol_wad(f: int, k: int, cap: int) -> int:
    """Rounding of the float reference itself (about 2e-16 of F + K per price), generously."""
    return int(2e-15 * (2 * f + 2 * k + cap)) + 10


def payout(is_call: bool, k: int, cap: int, s: int) -> int:
    if is_call:
        return min(max(s - k, 0), cap)
    return max(k - s, 0)


def warp(chain, t: int) -> None:
    chain.pending_timestamp = t
    chain.mine(timestamp=t)


def publish(chain, feed, owner, answer: int, at: int | None = None) -> int:
    """Publish a round (at block time `at` if given); returns its updatedAt."""
    if at is not None:
        chain.pending_timestamp = at
    return feed.updateAnswer(answer, sender=owner).timestamp


def fresh_feeds(chain, spot_feed, iv_feed, owner, spot=3_000 * E8, iv=70 * 10**6, at=None) -> int:
    t = publish(chain, spot_feed, owner, spot, at)
    publish(chain, iv_feed, owner, iv)
    return t


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def spot_feed(project, admin):
    return admin.deploy(project.KeelFeed, 8, "ETH / USD", 3_000 * E8)


@pytest.fixture(scope="module")
def iv_feed(project, admin):
    return admin.deploy(project.KeelFeed, 8, "ETH 30d ATM IV", 70 * 10**6)


@pytest.fixture(scope="module")
def pricer(project, admin):
    return admin.deploy(project.OptionPricer)


@pytest.fixture(scope="module")
def oracle(project, admin, gov, spot_feed, iv_feed):
    return admin.deploy(project.OptionOracle, admin, 3600, gov, spot_feed, iv_feed, SPOT_PARAMS, IV_PARAMS)


def deploy_market(project, admin, gov, asset, pricer, oracle, params=MARKET_PARAMS):
    return admin.deploy(project.OptionMarket, asset, pricer, oracle, admin, 3600, gov, params)


@pytest.fixture(scope="module")
def market(project, admin, gov, usdc, pricer, oracle, fish, whale, shark, stranger, treasury):
    m = deploy_market(project, admin, gov, usdc, pricer, oracle)
    for who in (fish, whale, shark, stranger, treasury):
        usdc.mint(who, 10**12 * USDC, sender=admin)
        usdc.approve(m, MAX_UINT, sender=who)
    return m


@pytest.fixture(scope="module")
def expiry(chain, market):
    return chain.pending_timestamp + 30 * DAY


@pytest.fixture(scope="module")
def call_id(market, gov, expiry):
    return market.listSeries(True, K, CAP, expiry, sender=gov).return_value


@pytest.fixture(scope="module")
def put_id(market, gov, expiry, call_id):
    return market.listSeries(False, K, 0, expiry, sender=gov).return_value


@pytest.fixture(scope="module")
def pool_seeded(market, whale, call_id, put_id):
    market.depositLiquidity(LP_SEED, 0, sender=whale)
    return market


@pytest.fixture(scope="module", autouse=True)
def _option_market_fixtures(pool_seeded, admin, gov, keeper, guardian, treasury, fish, shark, stranger):
    """Deploy and seed once, before ape's per-test snapshots. (Fixture names are unique across the
    suite: ape's isolation tracks fixtures by name, and a same-named fixture of another scope in
    another module would stop its per-test snapshots.)"""


def deadline(chain) -> int:
    return chain.pending_timestamp + 600


PV_FIELDS = ("sizeWad", "collateralUsdc", "longValueUsdc", "shortLiabilityUsdc", "claimableUsdc", "deltaWad")


def position_value(market, account, sid) -> tuple[dict, bool]:
    pv, priced = market.positionValue(account, sid)
    return dict(zip(PV_FIELDS, pv, strict=True)), priced


def accounted(market) -> int:
    return market.poolFreeUsdc() + market.poolLockedUsdc() + market.heldForAccountsUsdc()


def expected_ask(pricer, market, sid: int, spot: int, iv: int, tau: int) -> int:
    s = market.series(sid)
    a, b = vols(iv)
    return pricer.askWad(s.isCall, spot, s.strikeWad, s.capWad, tau, a, b)


def expected_bid(pricer, market, sid: int, spot: int, iv: int, tau: int) -> int:
    s = market.series(sid)
    a, b = vols(iv)
    return pricer.bidWad(s.isCall, spot, s.strikeWad, s.capWad, tau, a, b)


def next_quote(chain, market, pricer, sid: int, is_buy: bool, size: int, spot=3_000 * WAD, iv=70 * 10**16):
    """(premium, fee) of a trade in the next block (eth_call views run at the head block's time)."""
    tau = market.series(sid).expiry - chain.pending_timestamp
    if is_buy:
        premium = ceil_div(expected_ask(pricer, market, sid, spot, iv, tau) * size, SCALE)
    else:
        premium = expected_bid(pricer, market, sid, spot, iv, tau) * size // SCALE
    return premium, ceil_div(premium * FEE_BPS, 10_000)


# ================================================================== quotes vs keeper.pricing


@st.composite
def quote_inputs(draw):
    is_call = draw(st.booleans())
    spot = int(10 ** draw(st.floats(2.5, 4.5)) * WAD)
    k = int(spot * math.exp(draw(st.floats(-0.7, 0.7))) // 10**12 * 10**12)
    cap = int(k * draw(st.floats(0.05, 2.0)) // 10**12 * 10**12) if is_call else 0
    tenor = draw(st.integers(2 * HOUR, 300 * DAY))
    iv = draw(st.integers(5, 250)) * 10**16  # 5 % .. 250 %
    size = draw(st.integers(10**12, 50 * WAD))
    return is_call, spot, k, cap, tenor, iv, size


@settings(chain_settings, max_examples=40)
@given(inputs=quote_inputs(), at_expiry=st.booleans())
def test_markWad__with_random_series__is_boundsWad_and_the_delta_of_greeks_to_the_wei(
    pricer, inputs, at_expiry
):
    is_call, spot, k, cap, tenor, iv, _ = inputs
    tau = 0 if at_expiry else tenor
    low, high = pricer.boundsWad(is_call, spot, k, cap, tau, iv)
    _, delta, _ = pricer.greeks(is_call, spot, k, cap, tau, iv)
    assert tuple(pricer.markWad(is_call, spot, k, cap, tau, iv)) == (low, high, delta)
    # boundsWad and markWad share one evaluation per strike: both are the bid and ask with both vols at iv
    assert low == pricer.bidWad(is_call, spot, k, cap, tau, iv, iv)
    assert high == pricer.askWad(is_call, spot, k, cap, tau, iv, iv)


@settings(chain_settings, max_examples=30)
@given(inputs=quote_inputs())
def test_quote__with_random_series_and_market__brackets_keeper_black76(
    chain, admin, gov, market, pricer, spot_feed, iv_feed, inputs
):
    is_call, spot, k, cap, tenor, iv, size = inputs
    with isolated(chain):
        spot_feed.updateAnswer(spot // 10**10, sender=admin)
        iv_feed.updateAnswer(iv // 10**10, sender=admin)
        spot, iv = spot // 10**10 * 10**10, iv // 10**10 * 10**10
        expiry_ = chain.pending_timestamp + tenor
        sid = market.listSeries(is_call, k, cap, expiry_, sender=gov).return_value
        tau = expiry_ - chain.blocks.head.timestamp
        buy_premium, buy_fee = market.quote(sid, True, size)
        sell_premium, sell_fee = market.quote(sid, False, size)
        a_vol, b_vol = vols(iv)
        ask = pricer.askWad(is_call, spot, k, cap, tau, a_vol, b_vol)
        bid = pricer.bidWad(is_call, spot, k, cap, tau, a_vol, b_vol)
        # The views price exactly this: premium rounded up for buyers, down for sellers; fee rounded up.
        assert buy_premium == ceil_div(ask * size, SCALE)
        assert sell_premium == bid * size // SCALE
        assert buy_fee == ceil_div(buy_premium * FEE_BPS, 10_000)
        assert sell_fee == ceil_div(sell_premium * FEE_BPS, 10_000)
        # Against keeper.pricing (Black-76, b = 0, r = 0), each leg at its own side's vol: the ask is
        # above the float price by at most BlackScholes' two bounds (Up adds one, Down takes one off).
        tol = float_tol_wad(spot, k, cap)
        err = 2 * bound_wad(spot, k) + (2 * bound_wad(spot, k + cap) if is_call else 0)
        ref_ask = ref_price(is_call, spot, k, cap, tau, a_vol, b_vol) * WAD
        ref_bid = ref_price(is_call, spot, k, cap, tau, b_vol, a_vol) * WAD
        ref_mid = ref_price(is_call, spot, k, cap, tau, iv, iv) * WAD
        assert ref_ask - tol <= ask <= min(ref_ask + err + tol, cap if is_call else k)
        assert max(ref_bid - err - tol, 0) <= bid <= ref_bid + tol
        # Buy premium >= float price at iv >= sell premium, in USDC.
        assert buy_premium * SCALE >= (ref_mid - tol) * size
        assert sell_premium * SCALE <= (ref_mid + tol) * size
        low, high = market.markBoundsWad(sid)
        assert bid <= low <= ref_mid + tol and ref_mid - tol <= high <= ask
        mark = market.markPriceWad(sid)
        assert abs(mark - ref_mid) <= tol + 4 and low <= mark <= high


def test_quote__with_call_far_above_cap__is_a_call_spread_under_the_cap(
    chain, admin, market, pricer, spot_feed, call_id, expiry
):
    # Spot far above K + C: the spread is worth almost C and its vega is negative; quotes stay ordered.
    spot_feed.updateAnswer(9_000 * E8, sender=admin)
    tau = expiry - chain.blocks.head.timestamp
    low, high = market.markBoundsWad(call_id)
    mark, delta, vega = market.markGreeks(call_id)
    a_vol, b_vol = vols(70 * 10**16)
    ask = pricer.askWad(True, 9_000 * WAD, K, CAP, tau, a_vol, b_vol)
    bid = pricer.bidWad(True, 9_000 * WAD, K, CAP, tau, a_vol, b_vol)
    assert bid <= low <= mark <= high <= ask <= CAP
    assert vega < 0 and 0 <= delta < WAD // 100
    g1 = pricing.greeks("c", 9_000.0, 3_000.0, tau / YEAR, 0.0, 0.7, b=0.0)
    g2 = pricing.greeks("c", 9_000.0, 4_500.0, tau / YEAR, 0.0, 0.7, b=0.0)
    assert abs(mark - (float(g1.price) - float(g2.price)) * WAD) < 1e-12 * 12_000 * WAD
    assert abs(delta - (float(g1.delta) - float(g2.delta)) * WAD) < 1e6
    assert abs(vega - (float(g1.vega) - float(g2.vega)) * WAD) < 1e-12 * WAD * 12_000


# ================================================================== trade flows


def test_buy__with_put__moves_usdc_exactly_and_locks_strike_times_size(
    chain, market, pricer, usdc, fish, put_id, expiry
):
    size = 2 * WAD + 12_345
    free0, locked0 = market.poolFreeUsdc(), market.poolLockedUsdc()
    bal0 = usdc.balanceOf(fish)
    tx = market.buy(put_id, size, MAX_UINT, deadline(chain), sender=fish)
    ask = expected_ask(pricer, market, put_id, 3_000 * WAD, 70 * 10**16, expiry - tx.timestamp)
    premium = ceil_div(ask * size, SCALE)
    fee = ceil_div(premium * FEE_BPS, 10_000)
    assert tx.return_value == (premium, fee)
    assert bal0 - usdc.balanceOf(fish) == premium + fee
    lock = ceil_div(K * size, SCALE)
    assert market.collateralRequiredUsdc(put_id, size) == lock
    assert market.poolLockedUsdc() - locked0 == lock
    assert market.poolFreeUsdc() == free0 + premium + fee - lock
    assert tuple(market.position(fish, put_id)) == (size, 0)
    assert market.accountSeries(fish) == [put_id]
    s = market.series(put_id)
    assert (s.longOpenWad, s.shortOpenWad, s.poolLockedUsdc) == (size, 0, lock)
    ev = tx.events.filter(market.Traded)[0]
    assert (ev.account, ev.seriesId, ev.isBuy, ev.sizeWad, ev.premiumUsdc, ev.feeUsdc) == (
        fish.address,
        put_id,
        True,
        size,
        premium,
        fee,
    )
    assert (ev.collateralDeltaUsdc, ev.newSizeWad, ev.spotWad, ev.sigmaWad) == (
        0,
        size,
        3_000 * WAD,
        72 * 10**16,
    )
    assert usdc.balanceOf(market) == accounted(market)


def test_sell__with_call__posts_cap_times_size_and_receives_premium_less_fee(
    chain, market, pricer, usdc, shark, call_id, expiry
):
    size = 3 * WAD
    free0 = market.poolFreeUsdc()
    bal0 = usdc.balanceOf(shark)
    tx = market.sell(call_id, size, 0, deadline(chain), sender=shark)
    bid = expected_bid(pricer, market, call_id, 3_000 * WAD, 70 * 10**16, expiry - tx.timestamp)
    premium = bid * size // SCALE
    fee = ceil_div(premium * FEE_BPS, 10_000)
    coll = ceil_div(CAP * size, SCALE)
    assert tx.return_value == (premium, fee) and premium > 0
    assert usdc.balanceOf(shark) - bal0 == premium - fee - coll
    assert tuple(market.position(shark, call_id)) == (-size, coll)
    assert market.heldForAccountsUsdc() == coll
    assert market.poolFreeUsdc() == free0 - (premium - fee)
    assert market.poolLockedUsdc() == 0  # the pool is long: nothing to lock
    ev = tx.events.filter(market.Traded)[0]
    assert (ev.collateralDeltaUsdc, ev.newSizeWad, ev.sigmaWad) == (coll, -size, 68 * 10**16)
    assert usdc.balanceOf(market) == accounted(market)


def test_buy__reducing_then_flipping_a_short__releases_collateral_and_nets_transfers(
    chain, market, usdc, shark, call_id
):
    market.sell(call_id, 3 * WAD, 0, deadline(chain), sender=shark)
    # Reduce: 1 of the 3 bought back; collateral falls to what 2 need, paid out net of the cost.
    bal0 = usdc.balanceOf(shark)
    tx = market.buy(call_id, WAD, MAX_UINT, deadline(chain), sender=shark)
    premium, fee = tx.return_value
    released = ceil_div(CAP * 3 * WAD, SCALE) - ceil_div(CAP * 2 * WAD, SCALE)
    assert usdc.balanceOf(shark) - bal0 == released - premium - fee
    assert tuple(market.position(shark, call_id)) == (-2 * WAD, ceil_div(CAP * 2 * WAD, SCALE))
    assert tx.events.filter(market.Traded)[0].collateralDeltaUsdc == -released
    # Flip: buy 5 closes the short of 2 (all collateral back) and opens a long of 3 (the pool locks).
    locked0 = market.poolLockedUsdc()
    bal0 = usdc.balanceOf(shark)
    tx = market.buy(call_id, 5 * WAD, MAX_UINT, deadline(chain), sender=shark)
    premium, fee = tx.return_value
    assert usdc.balanceOf(shark) - bal0 == ceil_div(CAP * 2 * WAD, SCALE) - premium - fee
    assert tuple(market.position(shark, call_id)) == (3 * WAD, 0)
    assert market.poolLockedUsdc() - locked0 == ceil_div(CAP * 3 * WAD, SCALE)
    s = market.series(call_id)
    assert (s.longOpenWad, s.shortOpenWad, s.heldUsdc) == (3 * WAD, 0, 0)
    assert usdc.balanceOf(market) == accounted(market)


def test_sell__closing_a_long__unlocks_pool_collateral_and_removes_the_position(
    chain, market, usdc, fish, put_id
):
    market.buy(put_id, 4 * WAD, MAX_UINT, deadline(chain), sender=fish)
    free0, locked0 = market.poolFreeUsdc(), market.poolLockedUsdc()
    bal0 = usdc.balanceOf(fish)
    tx = market.sell(put_id, 4 * WAD, 0, deadline(chain), sender=fish)
    premium, fee = tx.return_value
    assert usdc.balanceOf(fish) - bal0 == premium - fee
    assert locked0 - market.poolLockedUsdc() == ceil_div(K * 4 * WAD, SCALE)
    assert market.poolFreeUsdc() == free0 + ceil_div(K * 4 * WAD, SCALE) - (premium - fee)
    assert tuple(market.position(fish, put_id)) == (0, 0)
    assert market.accountSeries(fish) == []


def test_buy__with_pool_too_small__reverts_PoolCannotWrite_with_values(
    chain, project, admin, gov, usdc, pricer, oracle, fish, whale, expiry
):
    m = deploy_market(project, admin, gov, usdc, pricer, oracle)
    usdc.approve(m, MAX_UINT, sender=fish)
    usdc.approve(m, MAX_UINT, sender=whale)
    sid = m.listSeries(False, K, 0, expiry, sender=gov).return_value
    m.depositLiquidity(5_000 * USDC, 0, sender=whale)
    size = 2 * WAD
    premium, fee = next_quote(chain, m, pricer, sid, True, size)
    with ape.reverts(
        m.PoolCannotWrite, seriesId=sid, requiredUsdc=6_000 * USDC, availableUsdc=5_000 * USDC + premium + fee
    ):
        m.buy(sid, size, MAX_UINT, deadline(chain), sender=fish)
    # The premium counts towards the lock: 1 ETH needs 3000 and fits.
    m.buy(sid, WAD, MAX_UINT, deadline(chain), sender=fish)
    assert m.poolLockedUsdc() == 3_000 * USDC


def test_sell__with_empty_pool__reverts_PoolInsufficientLiquidity_with_values(
    chain, project, admin, gov, usdc, pricer, oracle, shark, expiry
):
    m = deploy_market(project, admin, gov, usdc, pricer, oracle)
    usdc.approve(m, MAX_UINT, sender=shark)
    sid = m.listSeries(False, K, 0, expiry, sender=gov).return_value
    premium, fee = next_quote(chain, m, pricer, sid, False, WAD)
    with ape.reverts(m.PoolInsufficientLiquidity, requiredUsdc=premium - fee, availableUsdc=0):
        m.sell(sid, WAD, 0, deadline(chain), sender=shark)


def test_buy_and_sell__with_limits_and_deadline__revert_with_values(
    chain, market, pricer, fish, put_id, call_id
):
    premium, fee = next_quote(chain, market, pricer, put_id, True, WAD)
    with ape.reverts(market.PremiumAboveMax, costUsdc=premium + fee, maxCostUsdc=premium + fee - 1):
        market.buy(put_id, WAD, premium + fee - 1, deadline(chain), sender=fish)
    sp, sf = next_quote(chain, market, pricer, call_id, False, WAD)
    with ape.reverts(market.PremiumBelowMin, proceedsUsdc=sp - sf, minProceedsUsdc=sp - sf + 1):
        market.sell(call_id, WAD, sp - sf + 1, deadline(chain), sender=fish)
    past = chain.pending_timestamp - 1
    with ape.reverts(market.DeadlinePassed, deadline=past):
        market.buy(put_id, WAD, MAX_UINT, past, sender=fish)
    with ape.reverts(market.ZeroAmount, field="size"):
        market.sell(put_id, 0, 0, deadline(chain), sender=fish)
    with ape.reverts(market.TradeTooLarge, sizeWad=10**24 + 1, maxSizeWad=10**24):
        market.buy(put_id, 10**24 + 1, MAX_UINT, deadline(chain), sender=fish)
    with ape.reverts(market.UnknownSeries, seriesId=9, seriesCount=2):
        market.buy(9, WAD, MAX_UINT, deadline(chain), sender=fish)
    # Exactly at the limits it goes through.
    premium, fee = next_quote(chain, market, pricer, put_id, True, WAD)
    tx = market.buy(put_id, WAD, premium + fee, deadline(chain), sender=fish)
    assert tx.return_value == (premium, fee)
    sp, sf = next_quote(chain, market, pricer, call_id, False, WAD)
    assert market.sell(call_id, WAD, sp - sf, deadline(chain), sender=fish).return_value == (sp, sf)


def test_buy__at_or_after_expiry__reverts_SeriesExpired(
    chain, admin, market, spot_feed, iv_feed, fish, put_id, expiry
):
    fresh_feeds(chain, spot_feed, iv_feed, admin, at=expiry - 5)
    market.buy(put_id, WAD, MAX_UINT, expiry, sender=fish)  # still before expiry
    chain.pending_timestamp = expiry
    with ape.reverts(market.SeriesExpired, seriesId=put_id, expiry=expiry, nowSec=expiry):
        market.buy(put_id, WAD, MAX_UINT, expiry + 10, sender=fish)


# ================================================================== settlement


def settle_setup(chain, admin, market, spot_feed, iv_feed, fish, shark, sid, expiry, long_size, short_size):
    """fish long `long_size`, shark short `short_size` in series `sid`, feeds fresh near expiry."""
    fresh_feeds(chain, spot_feed, iv_feed, admin, at=expiry - 600)
    if long_size:
        market.buy(sid, long_size, MAX_UINT, expiry, sender=fish)
    if short_size:
        market.sell(sid, short_size, 0, expiry, sender=shark)


def test_settle__before_expiry__reverts_NotExpired(chain, market, stranger, call_id, expiry):
    now = chain.pending_timestamp
    with ape.reverts(market.NotExpired, seriesId=call_id, expiry=expiry, nowSec=now):
        market.settle(call_id, 0, sender=stranger)
    with ape.reverts(market.NotSettled, seriesId=call_id):
        market.claim(call_id, sender=stranger)


def test_settle__with_rounds_around_expiry__uses_the_first_round_in_the_window(
    chain, admin, market, oracle, spot_feed, stranger, call_id, expiry
):
    publish(chain, spot_feed, admin, 3_100 * E8, at=expiry - 30)
    t_first = publish(chain, spot_feed, admin, 3_200 * E8, at=expiry + 60)
    first_id = spot_feed.latestRound()
    publish(chain, spot_feed, admin, 3_300 * E8, at=expiry + 120)
    later_id = spot_feed.latestRound()
    # A later round is not accepted as a hint; nor is the round before expiry while the window has one.
    with ape.reverts(
        market.NotFirstRoundAfterExpiry, roundId=later_id, previousUpdatedAt=t_first, expiry=expiry
    ):
        market.settle(call_id, later_id, sender=stranger)
    with ape.reverts(market.NotLastRoundBeforeExpiry, roundId=first_id - 1, nextUpdatedAt=t_first):
        market.settle(call_id, first_id - 1, sender=stranger)
    assert tuple(oracle.settlementPrice(expiry, WINDOW, 0)) == (3_200 * WAD, FIRST_ROUND, first_id)
    tx = market.settle(call_id, 0, sender=stranger)  # walks back from the latest round
    assert tx.return_value == 3_200 * WAD
    ev = tx.events.filter(market.Settled)[0]
    assert (ev.seriesId, ev.source, ev.roundId, ev.settlementPriceWad, ev.payoutWad) == (
        call_id,
        FIRST_ROUND,
        first_id,
        3_200 * WAD,
        200 * WAD,
    )
    s = market.series(call_id)
    assert (s.settlementSource, s.settlementRoundId, s.settlementPriceWad, s.payoutWad) == (
        FIRST_ROUND,
        first_id,
        3_200 * WAD,
        200 * WAD,
    )
    assert call_id not in market.activeSeries()
    with ape.reverts(market.AlreadySettled, seriesId=call_id, settlementPriceWad=3_200 * WAD):
        market.settle(call_id, first_id, sender=stranger)
    assert market.markPriceWad(call_id) == 200 * WAD  # the payout, without a live price


def test_settle__with_no_round_in_the_window__uses_the_last_round_before_expiry(
    chain, admin, market, spot_feed, stranger, put_id, expiry
):
    t_before = publish(chain, spot_feed, admin, 2_900 * E8, at=expiry - 100)
    before_id = spot_feed.latestRound()
    warp(chain, expiry + WINDOW - 2)  # the next block is the window's last second
    with ape.reverts(market.SettlementWindowOpen, windowEnd=expiry + WINDOW):
        market.settle(put_id, 0, sender=stranger)
    # After the window: a round beyond its end is the first after expiry; the one before it is used.
    publish(chain, spot_feed, admin, 2_000 * E8, at=expiry + WINDOW + 10)
    tx = market.settle(put_id, 0, sender=stranger)
    ev = tx.events.filter(market.Settled)[0]
    assert (ev.source, ev.roundId, ev.settlementPriceWad, ev.payoutWad) == (
        LAST_BEFORE,
        before_id,
        2_900 * WAD,
        100 * WAD,
    )
    assert t_before < expiry


def test_settle__with_dead_feed_after_the_window__uses_the_latest_round_if_fresh_at_expiry(
    chain, admin, market, oracle, spot_feed, stranger, call_id, expiry
):
    publish(chain, spot_feed, admin, 3_500 * E8, at=expiry - HOUR)  # exactly max age at expiry
    warp(chain, expiry + WINDOW + 1)
    assert tuple(oracle.settlementPrice(expiry, WINDOW, 0))[:2] == (3_500 * WAD, LAST_BEFORE)
    market.settle(call_id, spot_feed.latestRound(), sender=stranger)
    assert market.series(call_id).payoutWad == 500 * WAD


def test_settle__with_stale_feed__reverts_OracleStale_then_governance_settles_after_delay(
    chain, admin, gov, market, spot_feed, stranger, call_id, expiry
):
    t = publish(chain, spot_feed, admin, 3_500 * E8, at=expiry - HOUR - 1)
    warp(chain, expiry + WINDOW + 1)
    with ape.reverts(market.OracleStale, updatedAt=t, nowSec=expiry, maxAgeSec=HOUR):
        market.settle(call_id, 0, sender=stranger)
    opens = expiry + WINDOW + DAY
    with ape.reverts(market.GovernanceSettlementTooEarly, opensAt=opens):
        market.settleByGovernance(call_id, 3_400 * WAD, sender=gov)
    chain.pending_timestamp = opens
    with ape.reverts(market.AccessControlUnauthorizedAccount, account=stranger, neededRole=GOV):
        market.settleByGovernance(call_id, 3_400 * WAD, sender=stranger)
    with ape.reverts(market.SettlementPriceOutOfRange, priceWad=0):
        market.settleByGovernance(call_id, 0, sender=gov)
    tx = market.settleByGovernance(call_id, 3_400 * WAD, sender=gov)
    ev = tx.events.filter(market.Settled)[0]
    assert (ev.source, ev.roundId, ev.payoutWad) == (GOVERNANCE, 0, 400 * WAD)


def test_settle__with_first_round_jumping_past_the_breaker__reverts_OracleDeviation(
    chain, admin, market, spot_feed, stranger, call_id, expiry
):
    publish(chain, spot_feed, admin, 3_000 * E8, at=expiry - 10)
    publish(chain, spot_feed, admin, 3_301 * E8, at=expiry + 5)  # +10.03 % from the round before
    with ape.reverts(market.OracleDeviation, lastWad=3_000 * WAD, newWad=3_301 * WAD, maxBps=1_000):
        market.settle(call_id, 0, sender=stranger)
    # A later, valid round does not replace a bad first one: no feed route settles this expiry.
    publish(chain, spot_feed, admin, 3_250 * E8, at=expiry + 20)
    with ape.reverts(market.NotFirstRoundAfterExpiry):
        market.settle(call_id, spot_feed.latestRound(), sender=stranger)


CLAIM_CASES = [
    # (isCall, settlement price, payout per ETH)
    (True, 2_500, 0),  # OTM
    (True, 3_600, 600),  # ITM
    (True, 4_500, 1_500),  # at the cap
    (True, 6_000, 1_500),  # above the cap: capped
    (False, 2_500, 500),  # ITM put
    (False, 3_500, 0),  # OTM put
]


@pytest.mark.parametrize(("is_call", "price", "per_eth"), CLAIM_CASES)
def test_claim__with_settlement_price__pays_longs_payout_and_shorts_the_rest_exactly_once(
    chain,
    admin,
    market,
    usdc,
    spot_feed,
    iv_feed,
    fish,
    shark,
    stranger,
    call_id,
    put_id,
    expiry,
    is_call,
    price,
    per_eth,
):
    sid = call_id if is_call else put_id
    long_size, short_size = 3 * WAD + 7, 2 * WAD + 3
    settle_setup(chain, admin, market, spot_feed, iv_feed, fish, shark, sid, expiry, long_size, short_size)
    free0, locked0, held0 = market.poolFreeUsdc(), market.poolLockedUsdc(), market.heldForAccountsUsdc()
    max_payout = CAP if is_call else K
    p = payout(is_call, K, CAP, price * WAD)
    assert p == per_eth * WAD
    publish(chain, spot_feed, admin, int(price * 0.95) * E8, at=expiry - 1)  # stay within the breaker
    publish(chain, spot_feed, admin, price * E8, at=expiry + 1)
    tx = market.settle(sid, 0, sender=stranger)
    credit = (
        ceil_div(max_payout * long_size, SCALE) + p * short_size // SCALE - ceil_div(p * long_size, SCALE)
    )
    assert tx.events.filter(market.Settled)[0].poolPnlUsdc == credit - ceil_div(max_payout * long_size, SCALE)
    assert market.poolFreeUsdc() == free0 + credit
    assert market.poolLockedUsdc() == locked0 - ceil_div(max_payout * long_size, SCALE)
    # Views before claiming.
    long_pv, _ = position_value(market, fish, sid)
    short_pv, _ = position_value(market, shark, sid)
    long_pay = p * long_size // SCALE
    short_pay = ceil_div(max_payout * short_size, SCALE) - ceil_div(p * short_size, SCALE)
    assert (long_pv["claimableUsdc"], short_pv["claimableUsdc"]) == (long_pay, short_pay)
    assert (long_pv["collateralUsdc"], short_pv["collateralUsdc"], short_pv["shortLiabilityUsdc"]) == (
        0,
        0,
        0,
    )
    b_fish, b_shark = usdc.balanceOf(fish), usdc.balanceOf(shark)
    assert market.claim(sid, sender=fish).return_value == long_pay
    assert market.claim(sid, sender=shark).return_value == short_pay
    assert usdc.balanceOf(fish) - b_fish == long_pay and usdc.balanceOf(shark) - b_shark == short_pay
    # Exactly once.
    with ape.reverts(market.NothingToClaim, account=fish.address, seriesId=sid):
        market.claim(sid, sender=fish)
    assert market.accountSeries(fish) == [] and market.accountSeries(shark) == []
    dust = market.series(sid).heldUsdc
    assert 0 <= dust <= 2
    assert market.heldForAccountsUsdc() == held0 + dust - ceil_div(max_payout * short_size, SCALE)
    assert usdc.balanceOf(market) == accounted(market)


def test_claim__after_settlement__works_while_the_oracles_are_stale_or_tripped(
    chain, admin, market, usdc, spot_feed, iv_feed, oracle, fish, stranger, call_id, put_id, expiry
):
    settle_setup(chain, admin, market, spot_feed, iv_feed, fish, stranger, put_id, expiry, WAD, 0)
    publish(chain, spot_feed, admin, 2_800 * E8, at=expiry + 1)
    market.settle(put_id, 0, sender=stranger)
    # Much later the feeds are stale and trading halts, but the settled series pays out.
    warp(chain, expiry + 10 * DAY)
    with ape.reverts(market.OracleStale):
        market.quote(call_id, True, WAD)
    bal = usdc.balanceOf(fish)
    assert market.claim(put_id, sender=fish).return_value == 200 * USDC
    assert usdc.balanceOf(fish) - bal == 200 * USDC


# ================================================================== oracle halts


def test_buy__with_stale_spot__reverts_OracleStale_with_values(
    chain, admin, market, spot_feed, iv_feed, fish, put_id
):
    t = publish(chain, spot_feed, admin, 3_000 * E8)
    publish(chain, iv_feed, admin, 70 * 10**6, at=t + HOUR)
    chain.pending_timestamp = t + HOUR + 1
    with ape.reverts(
        market.OracleStale, feed=spot_feed.address, updatedAt=t, nowSec=t + HOUR + 1, maxAgeSec=HOUR
    ):
        market.buy(put_id, WAD, MAX_UINT, MAX_UINT, sender=fish)


def test_sell__with_stale_iv__reverts_OracleStale_for_the_iv_feed(
    chain, admin, market, spot_feed, iv_feed, shark, put_id
):
    t = publish(chain, iv_feed, admin, 70 * 10**6)
    publish(chain, spot_feed, admin, 3_000 * E8, at=t + HOUR + 1)
    with ape.reverts(market.OracleStale, feed=iv_feed.address, updatedAt=t):
        market.sell(put_id, WAD, 0, MAX_UINT, sender=shark)


def test_buy__with_spot_jump__reverts_OracleDeviation_and_after_a_poke_OracleCoolingDown(
    chain, admin, market, oracle, spot_feed, fish, stranger, put_id
):
    market.buy(put_id, WAD, MAX_UINT, MAX_UINT, sender=fish)  # the reference is now 3000
    publish(chain, spot_feed, admin, 3_400 * E8)
    with ape.reverts(market.OracleDeviation, lastWad=3_000 * WAD, newWad=3_400 * WAD, deviationBps=1_334):
        market.buy(put_id, WAD, MAX_UINT, MAX_UINT, sender=fish)
    tx = oracle.poke(sender=stranger)
    assert tuple(tx.return_value) == (DEVIATION, OK)
    with ape.reverts(market.OracleCoolingDown, trippedAt=tx.timestamp, resumesAt=tx.timestamp + 1_800):
        market.sell(put_id, WAD, 0, MAX_UINT, sender=fish)
    with ape.reverts(market.OracleCoolingDown):
        market.quote(put_id, True, WAD)
    # Views for holders keep working on the last good values, flagged.
    v = market.accountValue(fish)
    assert not v.priced and v.assetsUsdc > 0


# ================================================================== LP pool


def test_depositLiquidity__without_open_positions__mints_at_free_balance(market, whale, treasury):
    shares = market.poolSharesOf(whale)
    assert shares == LP_SEED * 10**6  # first deposit: 1e6 virtual shares per unit
    tx = market.depositLiquidity(250_000 * USDC, 0, sender=treasury)
    assert tx.return_value == 250_000 * USDC * (shares + 10**6) // (LP_SEED + 1)
    ev = tx.events.filter(market.LiquidityDeposited)[0]
    assert (ev.account, ev.assetsUsdc, ev.shares) == (treasury.address, 250_000 * USDC, tx.return_value)
    with ape.reverts(market.SharesBelowMin):
        market.depositLiquidity(USDC, 10**30, sender=treasury)
    with ape.reverts(market.ZeroAmount, field="assets"):
        market.depositLiquidity(0, 0, sender=treasury)


def test_poolNav__with_open_positions__brackets_the_float_mark_and_prices_lp_flows(
    chain, market, usdc, fish, shark, whale, treasury, call_id, put_id, expiry
):
    market.buy(put_id, 10 * WAD, MAX_UINT, MAX_UINT, sender=fish)
    market.sell(call_id, 7 * WAD, 0, MAX_UINT, sender=shark)
    low, high, priced = market.poolNav()
    assert priced
    tau = expiry - chain.blocks.head.timestamp
    mark_put = black76(False, 3_000 * WAD, K, tau, 70 * 10**16)
    mark_call = ref_price(True, 3_000 * WAD, K, CAP, tau, 70 * 10**16, 70 * 10**16)
    base = market.poolFreeUsdc() + market.poolLockedUsdc()
    exact = base + 7 * mark_call * USDC - 10 * mark_put * USDC
    assert low <= exact + 1 and exact - 1 <= high and high - low <= 4
    # Donations are not counted.
    free = market.poolFreeUsdc()
    usdc.transfer(market, 1_000 * USDC, sender=treasury)
    assert market.poolFreeUsdc() == free
    # Deposits price at navHigh, withdrawals at navLow (both in the pool's favour). Views run at the
    # head block's time, so the NAV the transaction saw is the NAV after it, less what it moved.
    total = market.totalPoolShares()
    tx = market.depositLiquidity(100_000 * USDC, 0, sender=treasury)
    _, high_after, _ = market.poolNav()
    assert tx.return_value == 100_000 * USDC * (total + 10**6) // (high_after - 100_000 * USDC + 1)
    shares = market.poolSharesOf(whale) // 3
    tx = market.withdrawLiquidity(shares, 0, sender=whale)
    paid = tx.return_value
    low_after, _, _ = market.poolNav()
    assert paid == shares * (low_after + paid + 1) // (market.totalPoolShares() + shares + 10**6)
    ev = tx.events.filter(market.LiquidityWithdrawn)[0]
    assert (ev.shares, ev.assetsUsdc, ev.priced) == (shares, paid, True)


def test_withdrawLiquidity__with_failed_oracle__pays_the_worst_case_and_deposits_revert(
    chain, admin, market, spot_feed, iv_feed, fish, whale, treasury, put_id
):
    market.buy(put_id, 10 * WAD, MAX_UINT, MAX_UINT, sender=fish)
    warp(chain, chain.blocks.head.timestamp + HOUR + 100)
    low, high, priced = market.poolNav()
    free = market.poolFreeUsdc()
    assert not priced and low == free and high == free + market.poolLockedUsdc()
    with ape.reverts(market.OracleStale, feed=spot_feed.address):
        market.depositLiquidity(USDC, 0, sender=treasury)
    shares = market.poolSharesOf(whale) // 2
    total = market.totalPoolShares()
    tx = market.withdrawLiquidity(shares, 0, sender=whale)
    assert tx.return_value == shares * (free + 1) // (total + 10**6)
    assert not tx.events.filter(market.LiquidityWithdrawn)[0].priced


def test_withdrawLiquidity__beyond_free_or_balance__reverts_with_values(
    chain, market, fish, whale, stranger, put_id
):
    with ape.reverts(market.InsufficientShares, account=stranger.address, shares=1, balance=0):
        market.withdrawLiquidity(1, 0, sender=stranger)
    # Lock most of the pool: a full withdrawal exceeds the free balance.
    market.buy(put_id, 300 * WAD, MAX_UINT, MAX_UINT, sender=fish)
    free = market.poolFreeUsdc()
    shares = market.poolSharesOf(whale)
    with ape.reverts(market.PoolInsufficientLiquidity, availableUsdc=free):
        market.withdrawLiquidity(shares, 0, sender=whale)
    with ape.reverts(market.AssetsBelowMin):
        market.withdrawLiquidity(shares // 100, MAX_UINT, sender=whale)


# ================================================================== conservation


OP = st.tuples(
    st.integers(0, 2),  # actor
    st.booleans(),  # call (True) or put
    st.booleans(),  # buy (True) or sell
    st.integers(10**15, 5 * WAD),  # size
)


@settings(chain_settings, max_examples=10)
@given(
    ops=st.lists(OP, min_size=3, max_size=8),
    price=st.integers(1_500, 6_000),
    extra_lp=st.integers(0, 50_000),
)
def test_lifecycle__with_random_trades_and_settlement__conserves_every_unit(
    chain,
    admin,
    market,
    usdc,
    spot_feed,
    fish,
    shark,
    stranger,
    whale,
    treasury,
    call_id,
    put_id,
    expiry,
    ops,
    price,
    extra_lp,
):
    actors = [fish, shark, stranger]
    everyone = [*actors, whale, treasury]
    with isolated(chain):
        start = {a.address: usdc.balanceOf(a) for a in everyone}
        assert usdc.balanceOf(market) == LP_SEED == accounted(market)
        if extra_lp:
            market.depositLiquidity(extra_lp * USDC, 0, sender=treasury)
        for who, is_call, is_buy, size in ops:
            sid = call_id if is_call else put_id
            if is_buy:
                market.buy(sid, size, MAX_UINT, MAX_UINT, sender=actors[who])
            else:
                market.sell(sid, size, 0, MAX_UINT, sender=actors[who])
            assert usdc.balanceOf(market) == accounted(market)
        # Both series share the expiry, hence the settlement round.
        publish(chain, spot_feed, admin, price * E8, at=expiry - 50)
        publish(chain, spot_feed, admin, price * E8, at=expiry + 1)
        market.settle(call_id, 0, sender=stranger)
        market.settle(put_id, 0, sender=stranger)
        assert usdc.balanceOf(market) == accounted(market)
        n_positions = 0
        for a in actors:
            for sid in list(market.accountSeries(a)):
                size, _ = market.position(a, sid)
                s = market.series(sid)
                if size > 0:
                    want = s.payoutWad * size // SCALE
                else:
                    want = ceil_div(s.maxPayoutWad * -size, SCALE) - ceil_div(s.payoutWad * -size, SCALE)
                assert market.claim(sid, sender=a).return_value == want
                n_positions += 1
        for lp in (whale, treasury):
            shares = market.poolSharesOf(lp)
            if shares:
                market.withdrawLiquidity(shares, 0, sender=lp)
        # Σ deposited (the seed, then every account's net inflow) = Σ paid out + pool balance + dust.
        net_in = sum(start[a.address] - usdc.balanceOf(a) for a in everyone)
        pool_left = market.poolFreeUsdc() + market.poolLockedUsdc()
        dust = market.heldForAccountsUsdc()
        assert LP_SEED + net_in == pool_left + dust == usdc.balanceOf(market)
        assert market.poolLockedUsdc() == 0 and market.activeSeries() == [] and market.totalPoolShares() == 0
        assert pool_left <= 2  # what the virtual shares keep
        assert 0 <= dust <= n_positions + 4


# ================================================================== valuation views for the OptionLeg


def trunc_div(a: int, b: int) -> int:
    """Solidity's signed division (toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def test_accountValue__with_long_put_and_short_call__sums_marks_collateral_and_delta(
    chain, market, pricer, fish, put_id, call_id, expiry
):
    market.buy(put_id, 2 * WAD, MAX_UINT, MAX_UINT, sender=fish)
    market.sell(call_id, 3 * WAD, 0, MAX_UINT, sender=fish)
    tau = expiry - chain.blocks.head.timestamp
    spot, iv = 3_000 * WAD, 70 * 10**16
    put_low, _ = pricer.boundsWad(False, spot, K, 0, tau, iv)
    _, call_high = pricer.boundsWad(True, spot, K, CAP, tau, iv)
    _, put_delta, _ = pricer.greeks(False, spot, K, 0, tau, iv)
    _, call_delta, _ = pricer.greeks(True, spot, K, CAP, tau, iv)
    put_pv, priced = position_value(market, fish, put_id)
    call_pv, _ = position_value(market, fish, call_id)
    assert priced
    assert put_pv == {
        "sizeWad": 2 * WAD,
        "collateralUsdc": 0,
        "longValueUsdc": put_low * 2 * WAD // SCALE,
        "shortLiabilityUsdc": 0,
        "claimableUsdc": 0,
        "deltaWad": trunc_div(2 * WAD * put_delta, WAD),
    }
    assert call_pv == {
        "sizeWad": -3 * WAD,
        "collateralUsdc": ceil_div(CAP * 3 * WAD, SCALE),
        "longValueUsdc": 0,
        "shortLiabilityUsdc": ceil_div(call_high * 3 * WAD, SCALE),
        "claimableUsdc": 0,
        "deltaWad": trunc_div(-3 * WAD * call_delta, WAD),
    }
    v = market.accountValue(fish)
    assert v.assetsUsdc == put_pv["longValueUsdc"] + call_pv["collateralUsdc"]
    assert v.liabilitiesUsdc == call_pv["shortLiabilityUsdc"] <= call_pv["collateralUsdc"]
    assert v.deltaWad == put_pv["deltaWad"] + call_pv["deltaWad"] and v.priced
    # Against keeper.pricing: Σ size·delta (Black-76 deltas, the call as a spread).
    t = tau / YEAR
    d_put = float(pricing.greeks("p", 3_000.0, 3_000.0, t, 0.0, 0.7, b=0.0).delta)
    d_call = float(pricing.greeks("c", 3_000.0, 3_000.0, t, 0.0, 0.7, b=0.0).delta) - float(
        pricing.greeks("c", 3_000.0, 4_500.0, t, 0.0, 0.7, b=0.0).delta
    )
    assert abs(v.deltaWad / WAD - (2 * d_put - 3 * d_call)) < 1e-12


def test_accountValue__with_stale_feeds__marks_at_last_good_values_and_flags_unpriced(
    chain, market, pricer, fish, put_id, expiry
):
    market.buy(put_id, 2 * WAD, MAX_UINT, MAX_UINT, sender=fish)
    warp(chain, chain.blocks.head.timestamp + 2 * HOUR)
    tau = expiry - chain.blocks.head.timestamp
    low, _ = pricer.boundsWad(False, 3_000 * WAD, K, 0, tau, 70 * 10**16)
    v = market.accountValue(fish)
    assert not v.priced and v.assetsUsdc == low * 2 * WAD // SCALE and v.deltaWad < 0
    with ape.reverts(market.OracleStale):
        market.markPriceWad(put_id)


def test_positionValue__after_expiry_before_settlement__marks_intrinsic_without_delta(
    chain, admin, market, spot_feed, iv_feed, fish, put_id, expiry
):
    fresh_feeds(chain, spot_feed, iv_feed, admin, at=expiry - 100)
    market.buy(put_id, 2 * WAD, MAX_UINT, MAX_UINT, sender=fish)
    publish(chain, spot_feed, admin, 2_900 * E8, at=expiry + 10)
    pv, priced = position_value(market, fish, put_id)
    assert priced and pv["longValueUsdc"] == 200 * USDC and pv["deltaWad"] == 0
    assert tuple(market.markBoundsWad(put_id)) == (100 * WAD, 100 * WAD)
    assert tuple(market.markGreeks(put_id)) == (100 * WAD, 0, 0)


# ================================================================== volatility floor and settlement edges


@pytest.mark.parametrize(("iv", "bid_vol"), [(6, 5), (4, 4), (70, 68)])  # percent; spread 2, floor 5
def test_sell__with_low_iv__floors_the_bid_vol_at_min_vol_but_never_above_iv(
    chain, admin, market, iv_feed, shark, put_id, iv, bid_vol
):
    iv_feed.updateAnswer(iv * 10**6, sender=admin)
    tx = market.sell(put_id, WAD, 0, MAX_UINT, sender=shark)
    assert tx.events.filter(market.Traded)[0].sigmaWad == bid_vol * 10**16


def test_settle__with_a_first_round_beyond_the_window_and_no_predecessor__reverts_NoSettlementRound(
    chain, admin, market, spot_feed, stranger, call_id, expiry
):
    t = expiry + WINDOW + 5
    warp(chain, t)
    spot_feed.updateRoundData(1_000, 3_000 * E8, t, t, sender=admin)
    with ape.reverts(market.NoSettlementRound, roundId=1_000):
        market.settle(call_id, 1_000, sender=stranger)


def test_settle__with_many_rounds_since_expiry__needs_a_hint_beyond_the_scan(
    chain, admin, market, spot_feed, stranger, call_id, expiry
):
    publish(chain, spot_feed, admin, 3_000 * E8, at=expiry - 5)
    first = spot_feed.latestRound() + 1
    chain.pending_timestamp = expiry
    for _ in range(33):
        spot_feed.updateAnswer(3_010 * E8, sender=admin)
    latest = spot_feed.latestRound()
    with ape.reverts(market.RoundScanTooLong, fromRoundId=latest, maxSteps=32):
        market.settle(call_id, 0, sender=stranger)
    assert market.settle(call_id, first, sender=stranger).return_value == 3_010 * WAD


def test_buy__with_ask_vol_above_ten__reverts_BlackScholesSigmaTooHigh_from_the_pricer(
    admin, market, iv_feed, fish, put_id
):
    iv_feed.updateAnswer(999 * 10**6, sender=admin)  # 999 %: the ask vol 10.01 leaves the model's domain
    with ape.reverts(market.BlackScholesSigmaTooHigh, sigmaWad=1001 * 10**16, maxSigmaWad=10 * WAD):
        market.buy(put_id, WAD, MAX_UINT, MAX_UINT, sender=fish)


# ================================================================== governance


def test_constructor__with_valid_params__sets_roles_params_and_addresses(
    market, usdc, pricer, oracle, admin, gov
):
    assert (market.asset(), market.pricer(), market.oracle()) == (
        usdc.address,
        pricer.address,
        oracle.address,
    )
    assert (
        market.ivSpreadWad(),
        market.minVolWad(),
        market.tradingFeeBps(),
        market.settlementWindowSec(),
    ) == (MARKET_PARAMS)
    assert market.hasRole(GOV, gov) and market.GOVERNANCE_ROLE() == GOV
    assert market.defaultAdmin() == admin and market.defaultAdminDelay() == 3600
    assert oracle.hasRole(GOV, gov) and oracle.defaultAdmin() == admin
    receipt = market.creation_metadata.receipt
    assert receipt.events.filter(market.IvSpreadSet)[0].newWad == SPREAD


def test_constructor__with_zero_address_or_bad_param__reverts_with_values(
    project, admin, gov, usdc, pricer, oracle, spot_feed, iv_feed
):
    with ape.reverts(project.OptionMarket.ZeroAddress, field="pricer"):
        deploy_market(project, admin, gov, usdc, ZERO, oracle)
    with ape.reverts(project.OptionMarket.ZeroAddress, field="governance"):
        deploy_market(project, admin, ZERO, usdc, pricer, oracle)
    with ape.reverts(project.OptionMarket.IvSpreadTooHigh, spreadWad=2 * 10**17 + 1):
        deploy_market(project, admin, gov, usdc, pricer, oracle, (2 * 10**17 + 1, MIN_VOL, 0, WINDOW))
    with ape.reverts(project.OptionOracle.OracleParamsOutOfRange, maxAgeSec=59):
        admin.deploy(project.OptionOracle, admin, 3600, gov, spot_feed, iv_feed, (59, 0, 0), IV_PARAMS)
    with ape.reverts(project.OptionOracle.OracleBadConfig, maxDeviationBps=10, cooldownSec=0):
        admin.deploy(project.OptionOracle, admin, 3600, gov, spot_feed, iv_feed, SPOT_PARAMS, (HOUR, 10, 0))


SETTERS = [
    # (function, value at the bound, value beyond it, error, error kwargs, event, event field)
    ("setIvSpread", 2 * 10**17, 2 * 10**17 + 1, "IvSpreadTooHigh", {"maxWad": 2 * 10**17}, "IvSpreadSet"),
    ("setMinVol", 10**18, 10**18 + 1, "MinVolOutOfRange", {"upperWad": 10**18}, "MinVolSet"),
    ("setMinVol", 10**16, 10**16 - 1, "MinVolOutOfRange", {"lowerWad": 10**16}, "MinVolSet"),
    ("setTradingFee", 500, 501, "TradingFeeTooHigh", {"maxBps": 500}, "TradingFeeSet"),
    (
        "setSettlementWindow",
        DAY,
        DAY + 1,
        "SettlementWindowOutOfRange",
        {"maxSec": DAY},
        "SettlementWindowSet",
    ),
    ("setSettlementWindow", 300, 299, "SettlementWindowOutOfRange", {"minSec": 300}, "SettlementWindowSet"),
]


@pytest.mark.parametrize(
    ("fn", "ok", "bad", "error", "kwargs", "event"), SETTERS, ids=[f"{s[0]}-{s[2]}" for s in SETTERS]
)
def test_setters__at_and_beyond_their_bounds__set_and_emit_or_revert_with_values(
    market, gov, fn, ok, bad, error, kwargs, event
):
    with ape.reverts(getattr(market, error), **kwargs):
        getattr(market, fn)(bad, sender=gov)
    tx = getattr(market, fn)(ok, sender=gov)
    ev = tx.events.filter(getattr(market, event))[0]
    assert list(ev.event_arguments.values())[1] == ok
    getter = {"setIvSpread": "ivSpreadWad", "setMinVol": "minVolWad", "setTradingFee": "tradingFeeBps"}.get(
        fn, "settlementWindowSec"
    )
    assert getattr(market, getter)() == ok


PRIVILEGED = [
    ("listSeries", lambda e: (False, 2_000 * WAD, 0, e)),
    ("setIvSpread", lambda e: (0,)),
    ("setMinVol", lambda e: (10**17,)),
    ("setTradingFee", lambda e: (0,)),
    ("setSettlementWindow", lambda e: (600,)),
    ("settleByGovernance", lambda e: (0, 3_000 * WAD)),
]


@pytest.mark.parametrize(("fn", "args"), PRIVILEGED, ids=[p[0] for p in PRIVILEGED])
def test_privileged__called_without_governance_role__reverts_unauthorized(
    market, admin, keeper, fish, stranger, expiry, fn, args
):
    for caller in (admin, keeper, fish, stranger):
        with ape.reverts(market.AccessControlUnauthorizedAccount, account=caller, neededRole=GOV):
            getattr(market, fn)(*args(expiry), sender=caller)


def test_oracle_setParams__with_bounds_and_roles__sets_emits_or_reverts(oracle, gov, stranger, spot_feed):
    with ape.reverts(oracle.AccessControlUnauthorizedAccount, account=stranger, neededRole=GOV):
        oracle.setParams(0, HOUR, 500, 600, sender=stranger)
    with ape.reverts(oracle.OracleParamsOutOfRange, feed=0, maxAgeSec=2 * DAY + 1):
        oracle.setParams(0, 2 * DAY + 1, 500, 600, sender=gov)
    with ape.reverts(oracle.OracleParamsOutOfRange, feed=1, maxDeviationBps=10_001):
        oracle.setParams(1, HOUR, 10_001, 600, sender=gov)
    with ape.reverts(oracle.OracleParamsOutOfRange, cooldownSec=DAY + 1):
        oracle.setParams(1, HOUR, 100, DAY + 1, sender=gov)
    tx = oracle.setParams(0, 2 * DAY, 500, DAY, sender=gov)
    ev = tx.events.filter(oracle.OracleParamsSet)[0]
    assert (ev.feed, ev.maxAgeSec, ev.maxDeviationBps, ev.cooldownSec) == (0, 2 * DAY, 500, DAY)
    c = oracle.config(0)
    assert (c.feed, c.decimals, c.maxAgeSec, c.maxDeviationBps, c.cooldownSec, c.signed) == (
        spot_feed.address,
        8,
        2 * DAY,
        500,
        DAY,
        False,
    )
    assert oracle.feed(0) == spot_feed.address


def test_listSeries__with_valid_inputs__stores_and_emits(chain, market, gov, expiry):
    e2 = expiry + 7 * DAY
    tx = market.listSeries(True, 2_500 * WAD, 2_500 * WAD, e2, sender=gov)
    sid = tx.return_value
    ev = tx.events.filter(market.SeriesListed)[0]
    assert (ev.seriesId, ev.isCall, ev.strikeWad, ev.capWad, ev.expiry) == (
        sid,
        True,
        2_500 * WAD,
        2_500 * WAD,
        e2,
    )
    s = market.series(sid)
    assert (s.isCall, s.strikeWad, s.capWad, s.maxPayoutWad, s.expiry, s.settlementSource) == (
        True,
        2_500 * WAD,
        2_500 * WAD,
        2_500 * WAD,
        e2,
        NONE,
    )
    assert market.seriesCount() == 3 and list(market.activeSeries()) == [0, 1, sid]


def test_listSeries__with_bad_inputs__reverts_with_values(chain, market, gov, expiry, call_id):
    with ape.reverts(market.InvalidCap, isCall=True, capWad=0):
        market.listSeries(True, K, 0, expiry, sender=gov)
    with ape.reverts(market.InvalidCap, isCall=False, capWad=1):
        market.listSeries(False, K, 1, expiry, sender=gov)
    with ape.reverts(market.StrikeOutOfRange, strikeWad=10**12 - 1):
        market.listSeries(False, 10**12 - 1, 0, expiry, sender=gov)
    with ape.reverts(market.StrikeOutOfRange, strikeWad=10**30, capWad=1, maxWad=10**30):
        market.listSeries(True, 10**30, 1, expiry, sender=gov)
    with ape.reverts(market.StrikeOutOfRange, strikeWad=K, capWad=MAX_UINT):
        market.listSeries(True, K, MAX_UINT, expiry, sender=gov)
    now = chain.pending_timestamp
    with ape.reverts(market.ExpiryOutOfRange, expiry=now + HOUR - 1, earliest=now + HOUR, latest=now + YEAR):
        market.listSeries(False, K, 0, now + HOUR - 1, sender=gov)
    now = chain.pending_timestamp
    with ape.reverts(market.ExpiryOutOfRange, expiry=now + YEAR + 1):
        market.listSeries(False, K, 0, now + YEAR + 1, sender=gov)
    with ape.reverts(market.SeriesAlreadyListed, seriesId=call_id):
        market.listSeries(True, K, CAP, expiry, sender=gov)


def test_positions_and_series__at_their_caps__revert_TooManyActiveSeries_and_TooManyPositions(
    chain, admin, market, gov, spot_feed, iv_feed, fish, stranger, put_id, expiry
):
    e2 = expiry + 7 * DAY
    ids = [
        market.listSeries(False, (1_000 + 10 * i) * WAD, 0, e2, sender=gov).return_value for i in range(30)
    ]
    with ape.reverts(market.TooManyActiveSeries, count=32, maxCount=32):
        market.listSeries(False, 999 * WAD, 0, e2, sender=gov)
    for sid in [0, 1, *ids]:
        market.buy(sid, 10**15, MAX_UINT, MAX_UINT, sender=fish)
    assert len(market.accountSeries(fish)) == 32
    fresh_feeds(chain, spot_feed, iv_feed, admin, at=expiry + 1)
    market.settle(put_id, 0, sender=stranger)  # fish's position stays until claimed
    new = market.listSeries(False, 999 * WAD, 0, e2, sender=gov).return_value
    with ape.reverts(market.TooManyPositions, account=fish.address, count=32, maxCount=32):
        market.buy(new, 10**15, MAX_UINT, MAX_UINT, sender=fish)
    market.claim(put_id, sender=fish)
    market.buy(new, 10**15, MAX_UINT, MAX_UINT, sender=fish)
    assert len(market.accountSeries(fish)) == 32


# ================================================================== reentrancy and gas


def test_buy_and_claim__reentered_from_token_hook__revert_with_guard(
    chain, project, admin, gov, pricer, oracle, fish, whale, expiry
):
    token = admin.deploy(project.ReentrantToken)
    m = deploy_market(project, admin, gov, token, pricer, oracle)
    sid = m.listSeries(False, K, 0, expiry, sender=gov).return_value
    for who in (fish, whale):
        token.mint(who, 10**9 * USDC, sender=admin)
        token.approve(m, MAX_UINT, sender=who)
    m.depositLiquidity(100_000 * USDC, 0, sender=whale)
    token.arm(m, m.buy.encode_input(sid, WAD, MAX_UINT, MAX_UINT), sender=admin)
    with ape.reverts(m.ReentrancyGuardReentrantCall):
        m.buy(sid, WAD, MAX_UINT, MAX_UINT, sender=fish)
    token.arm(m, m.withdrawLiquidity.encode_input(1, 0), sender=admin)
    with ape.reverts(m.ReentrancyGuardReentrantCall):
        m.sell(sid, WAD, 0, MAX_UINT, sender=fish)
    token.arm(ZERO, b"", sender=admin)
    m.buy(sid, WAD, MAX_UINT, MAX_UINT, sender=fish)
    assert m.position(fish, sid)[0] == WAD


def test_gas__buy_sell_settle_claim__printed(
    chain, admin, market, spot_feed, iv_feed, fish, shark, stranger, call_id, put_id, expiry
):
    """Printed, not asserted tightly (bench-style figures)."""
    fresh_feeds(chain, spot_feed, iv_feed, admin, at=expiry - 600)
    g = {
        "buy put (open)": market.buy(put_id, WAD, MAX_UINT, MAX_UINT, sender=fish).gas_used,
        "buy put (increase)": market.buy(put_id, WAD, MAX_UINT, MAX_UINT, sender=fish).gas_used,
        "buy call (open)": market.buy(call_id, WAD, MAX_UINT, MAX_UINT, sender=fish).gas_used,
        "sell call (open short)": market.sell(call_id, WAD, 0, MAX_UINT, sender=shark).gas_used,
        "sell put (close long)": market.sell(put_id, WAD, 0, MAX_UINT, sender=fish).gas_used,
    }
    publish(chain, spot_feed, admin, 3_100 * E8, at=expiry + 1)
    g["settle (hint 0)"] = market.settle(call_id, 0, sender=stranger).gas_used
    g["settle (hint)"] = market.settle(put_id, spot_feed.latestRound(), sender=stranger).gas_used
    g["claim long"] = market.claim(call_id, sender=fish).gas_used
    g["claim short"] = market.claim(call_id, sender=shark).gas_used
    print("\nOptionMarket gas: " + ", ".join(f"{k} {v}" for k, v in g.items()))
    assert max(g.values()) < 350_000
