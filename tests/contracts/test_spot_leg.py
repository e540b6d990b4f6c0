"""SpotLeg on the real local market (Uniswap V3 from its npm artifacts, KeelFeed ETH/USD): swaps move
exactly what the pool quotes, the report carries the execution and oracle prices, value()/delta() mark at
the spot_leg's price (assets down, exposure up), views never revert while a failed oracle halts swaps, and
only the vault moves funds."""

from __future__ import annotations

import ape
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from keeper import oracle
from keeper.chain.univ3 import arbitrage_to_price, quote_exact_input
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
    to_assets_down,
    to_assets_up,
    usd8,
)

ETH = 10**18
P0 = 3000 * WAD  # the market's opening price
ZERO = "0x0000000000000000000000000000000000000000"


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def d(chain, project, admin, gov, keeper, guardian, treasury, whale, stranger):
    dep = deploy_market(admin, gov, keeper, guardian, treasury)
    # the arbitrageur (whale) gets USDC and WETH to pull the pool back to the oracle
    project.MockUSDC.at(dep.usdc).mint(whale, 10**9 * USDC, sender=admin)
    chain.provider.set_balance(whale.address, 10**24)
    project.WETH9.at(dep.spot.weth).deposit(sender=whale, value=50_000 * ETH)
    return dep


@pytest.fixture(scope="module")
def stable(project, d):
    return project.MockUSDC.at(d.usdc)


@pytest.fixture(scope="module")
def weth(project, d):
    return project.WETH9.at(d.spot.weth)


@pytest.fixture(scope="module")
def feed(project, d):
    return project.KeelFeed.at(d.feeds.eth_usd)


@pytest.fixture(scope="module")
def tv(project, admin, keeper, stable):
    """The test double of the vault (driven by the keeper), holding a billion USDC."""
    v = keeper.deploy(project.LegTestVault, stable)
    stable.mint(v, 10**9 * USDC, sender=admin)
    return v


def deploy_spot_leg(project, admin, d, vault, asset, feed, **kw):
    args = dict(
        max_age=MAX_AGE, max_dev=MAX_DEV_BPS, cooldown=COOLDOWN, weth=d.spot.weth, router=d.spot.router
    )
    args.update(kw)
    return admin.deploy(
        project.SpotLeg,
        vault,
        asset,
        args["weth"],
        args["router"],
        d.spot.fee,
        feed,
        args["max_age"],
        args["max_dev"],
        args["cooldown"],
    )


@pytest.fixture(scope="module")
def spot_leg(project, admin, d, tv, stable, feed):
    return deploy_spot_leg(project, admin, d, tv, stable, feed)


@pytest.fixture(scope="module")
def arb(d, whale):
    """An arbitrageur with USDC and WETH (funded with the market), to pull the pool back to the oracle."""
    return whale


def deadline(chain, after: int = 600) -> int:
    return chain.blocks.head.timestamp + after


def assert_marks(spot_leg, stable, weth, feed, chain) -> tuple[int, bool]:
    """value/delta/grossExposure equal the spot_leg's rule at the head block, whose price the mirror picks."""
    price, fresh = expected_leg_price(spot_leg, feed, chain.blocks.head.timestamp)
    assert tuple(spot_leg.oraclePriceWad()) == (price, fresh)
    u, w = stable.balanceOf(spot_leg), weth.balanceOf(spot_leg)
    assert spot_leg.delta() == w
    assert spot_leg.value() == u + to_assets_down(w, price)
    assert spot_leg.grossExposure() == to_assets_up(w, price)
    return price, fresh


def do_swap(chain, d, tv, spot_leg, keeper_, buy: bool, amount: int, min_out: int | None = None):
    """Swap through the test vault with the exact quote as min-out; returns (quote, tx)."""
    q = quote_exact_input(d.spot, "usdc" if buy else "weth", amount)
    tx = tv.swap(
        spot_leg, buy, amount, q.amount_out if min_out is None else min_out, deadline(chain), sender=keeper_
    )
    return q, tx


# ------------------------------------------------------------------------------------------ construction


def test_constructor__records_wiring_and_takes_the_first_oracle_read(spot_leg, tv, stable, d, feed, chain):
    assert spot_leg.vault() == tv.address and spot_leg.asset() == stable.address
    assert (
        spot_leg.weth() == d.spot.weth
        and spot_leg.router() == d.spot.router
        and spot_leg.poolFee() == d.spot.fee
    )
    cfg = spot_leg.oracleConfig()
    assert (cfg.feed, cfg.decimals, cfg.maxAgeSec, cfg.maxDeviationBps, cfg.cooldownSec, cfg.signed) == (
        feed.address,
        8,
        MAX_AGE,
        MAX_DEV_BPS,
        COOLDOWN,
        False,
    )
    st_ = spot_leg.oracleState()
    assert (st_.lastGoodWad, st_.lastGoodAt, st_.trippedAt) == (P0, feed.latestRoundData().updatedAt, 0)
    assert tuple(spot_leg.oraclePriceWad()) == (P0, True)
    assert (spot_leg.value(), spot_leg.delta(), spot_leg.grossExposure()) == (0, 0, 0)


def test_constructor__with_bad_arguments__reverts(project, admin, d, tv, stable, feed, chain):
    with ape.reverts(project.SpotLeg.ZeroAddress, field="vault"):
        deploy_spot_leg(project, admin, d, ZERO, stable, feed)
    with ape.reverts(project.SpotLeg.ZeroAddress, field="router"):
        deploy_spot_leg(project, admin, d, tv, stable, feed, router=ZERO)
    with ape.reverts(project.SpotLeg.UnsupportedDecimals, token=stable, decimals=6):
        deploy_spot_leg(project, admin, d, tv, stable, feed, weth=stable.address)
    with ape.reverts(project.SpotLeg.OracleBadConfig):
        deploy_spot_leg(project, admin, d, tv, stable, feed, max_age=0)
    advance(chain, MAX_AGE + 1)  # the first read must pass: a stale feed cannot deploy a spot_leg
    with ape.reverts(project.SpotLeg.OracleStale):
        deploy_spot_leg(project, admin, d, tv, stable, feed)


# ------------------------------------------------------------------------------ fund / release / roles


def test_fund_and_release__only_the_free_asset_goes_back_to_the_vault(spot_leg, tv, stable, keeper, chain):
    tx = tv.fundLeg(spot_leg, 1_000 * USDC, sender=keeper)
    assert tx.events.filter(spot_leg.Funded)[0].balance == 1_000 * USDC
    assert spot_leg.value() == 1_000 * USDC
    before = stable.balanceOf(tv)
    tx = tv.releaseFromLeg(spot_leg, 400 * USDC, sender=keeper)
    ev = tx.events.filter(spot_leg.Released)[0]
    assert (ev.requested, ev.released) == (400 * USDC, 400 * USDC)
    tx = tv.releaseFromLeg(spot_leg, 10_000 * USDC, sender=keeper)  # more than held: what is there
    ev = tx.events.filter(spot_leg.Released)[0]
    assert (ev.requested, ev.released) == (10_000 * USDC, 600 * USDC)
    assert stable.balanceOf(tv) == before + 1_000 * USDC and spot_leg.value() == 0
    tx = tv.releaseFromLeg(spot_leg, 1, sender=keeper)  # nothing left: releases 0, no transfer
    assert tv.lastReleased() == 0


def test_release__never_reads_the_oracle_and_leaves_weth_in_the_leg(
    spot_leg, tv, stable, weth, keeper, chain, d
):
    tv.fundLeg(spot_leg, 10_000 * USDC, sender=keeper)
    do_swap(chain, d, tv, spot_leg, keeper, True, 4_000 * USDC)
    held = weth.balanceOf(spot_leg)
    advance(chain, MAX_AGE + 1)  # the feed is stale now
    assert spot_leg.oraclePriceWad()[1] is False
    tv.releaseFromLeg(spot_leg, UINT_MAX, sender=keeper)
    assert tv.lastReleased() == 6_000 * USDC
    assert stable.balanceOf(spot_leg) == 0 and weth.balanceOf(spot_leg) == held
    tv.fundLeg(spot_leg, USDC, sender=keeper)  # fund does not read it either


@pytest.mark.parametrize(
    "call",
    ["fund", "release", "swap"],
)
def test_vault_only__anyone_else__reverts_with_the_caller(spot_leg, tv, stranger, keeper, call):
    args = {"fund": (1,), "release": (1,), "swap": (True, 1, 1, UINT_MAX)}[call]
    with ape.reverts(spot_leg.OnlyVault, caller=stranger, vault=tv):
        getattr(spot_leg, call)(*args, sender=stranger)
    with ape.reverts(spot_leg.OnlyVault, caller=keeper, vault=tv):  # the keeper goes through the vault
        getattr(spot_leg, call)(*args, sender=keeper)


def test_pokeOracle__is_permissionless(spot_leg, stranger, feed, admin, chain):
    feed.updateAnswer(usd8(3010), sender=admin)
    tx = spot_leg.pokeOracle(sender=stranger)
    assert spot_leg.oracleState().lastGoodWad == 3010 * WAD
    assert tx.events.filter(spot_leg.OracleAccepted)[0].valueWad == 3010 * WAD


# ------------------------------------------------------------------------------------------ swaps


def test_swap__buy_eth__moves_exactly_the_quote_and_reports_exec_and_oracle_prices(
    spot_leg, tv, stable, weth, keeper, chain, d, feed
):
    tv.fundLeg(spot_leg, 500_000 * USDC, sender=keeper)
    amount = 300_000 * USDC
    q, tx = do_swap(chain, d, tv, spot_leg, keeper, True, amount)
    out = q.amount_out
    assert weth.balanceOf(spot_leg) == out and stable.balanceOf(spot_leg) == 200_000 * USDC
    r = tv.lastReport()
    exec_price = ceil_div(amount * SCALE, out)  # rounded up for a buy
    assert (r.execPriceWad, r.oraclePriceWad, r.isBuy) == (exec_price, P0, True)
    assert r.notionalAssets == max(amount, to_assets_up(out, P0))
    # 0.05% fee + ~3% average impact of $300k against $10M of USDC in a full-range pool
    assert P0 * 10_250 // 10_000 < exec_price < P0 * 10_350 // 10_000
    ev = tx.events.filter(spot_leg.Swapped)[0]
    assert (ev.buyEth, ev.amountIn, ev.amountOut, ev.execPriceWad, ev.oraclePriceWad) == (
        True,
        amount,
        out,
        exec_price,
        P0,
    )
    assert stable.allowance(spot_leg, d.spot.router) == 0
    assert_marks(spot_leg, stable, weth, feed, chain)


def test_swap__sell_eth__moves_exactly_the_quote_and_rounds_the_price_down(
    spot_leg, tv, stable, weth, keeper, chain, d, feed, arb
):
    tv.fundLeg(spot_leg, 100_000 * USDC, sender=keeper)
    do_swap(chain, d, tv, spot_leg, keeper, True, 100_000 * USDC)
    arbitrage_to_price(d.spot, arb, 3000)  # the buy lifted the pool ~2%: back to the oracle
    held = weth.balanceOf(spot_leg)
    sell = held // 3 + 7
    q, _ = do_swap(chain, d, tv, spot_leg, keeper, False, sell)
    assert stable.balanceOf(spot_leg) == q.amount_out and weth.balanceOf(spot_leg) == held - sell
    r = tv.lastReport()
    assert (r.execPriceWad, r.oraclePriceWad, r.isBuy) == (q.amount_out * SCALE // sell, P0, False)
    assert r.notionalAssets == max(q.amount_out, to_assets_up(sell, P0))
    assert r.execPriceWad < P0
    assert weth.allowance(spot_leg, d.spot.router) == 0
    assert_marks(spot_leg, stable, weth, feed, chain)


def test_swap__min_out_one_above_the_quote__reverts_in_the_router(spot_leg, tv, keeper, chain, d):
    tv.fundLeg(spot_leg, 10_000 * USDC, sender=keeper)
    q = quote_exact_input(d.spot, "usdc", 10_000 * USDC)
    with ape.reverts("Too little received"):
        tv.swap(spot_leg, True, 10_000 * USDC, q.amount_out + 1, deadline(chain), sender=keeper)
    tv.swap(spot_leg, True, 10_000 * USDC, q.amount_out, deadline(chain), sender=keeper)  # exactly: passes


def test_swap__after_the_deadline__reverts_with_values_and_at_the_deadline__passes(
    spot_leg, tv, keeper, chain, d
):
    tv.fundLeg(spot_leg, 10_000 * USDC, sender=keeper)
    t = next_ts(chain)
    with ape.reverts(spot_leg.DeadlineExpired, deadline=t - 1, nowSec=t):
        tv.swap(spot_leg, True, 1_000 * USDC, 1, t - 1, sender=keeper)
    t = next_ts(chain)
    tv.swap(spot_leg, True, 1_000 * USDC, 1, t, sender=keeper)


def test_swap__zero_amounts_or_more_than_held__reverts(spot_leg, tv, stable, weth, keeper, chain):
    tv.fundLeg(spot_leg, 1_000 * USDC, sender=keeper)
    dl = deadline(chain)
    with ape.reverts(spot_leg.ZeroAmount, field="amountIn"):
        tv.swap(spot_leg, True, 0, 1, dl, sender=keeper)
    with ape.reverts(spot_leg.ZeroAmount, field="minAmountOut"):  # every swap is protected
        tv.swap(spot_leg, True, 1_000 * USDC, 0, dl, sender=keeper)
    with ape.reverts(
        spot_leg.InsufficientLegBalance,
        token=stable.address,
        requested=1_000 * USDC + 1,
        available=1_000 * USDC,
    ):
        tv.swap(spot_leg, True, 1_000 * USDC + 1, 1, dl, sender=keeper)
    with ape.reverts(spot_leg.InsufficientLegBalance, token=weth.address, requested=1, available=0):
        tv.swap(spot_leg, False, 1, 1, dl, sender=keeper)


# ------------------------------------------------------------------------------ marks and oracle failures


def test_value__after_a_price_move__marks_weth_at_the_new_round_rounded_down(
    spot_leg, tv, stable, weth, keeper, chain, d, feed, admin
):
    tv.fundLeg(spot_leg, 50_000 * USDC, sender=keeper)
    do_swap(chain, d, tv, spot_leg, keeper, True, 20_000 * USDC + 1)
    w = weth.balanceOf(spot_leg)
    feed.updateAnswer(usd8(3123.45678901), sender=admin)  # within the 5% bound: fresh
    price = 312345678901 * 10**10
    assert tuple(spot_leg.oraclePriceWad()) == (price, True)
    assert spot_leg.value() == 30_000 * USDC - 1 + w * price // SCALE
    assert spot_leg.grossExposure() == ceil_div(w * price, SCALE)
    assert (w * price) % SCALE != 0  # the rounding is exercised
    assert spot_leg.grossExposure() == spot_leg.value() - stable.balanceOf(spot_leg) + 1


def test_oracle_stale__value_marks_at_the_last_good_price_and_swaps_revert(
    spot_leg, tv, stable, weth, keeper, chain, d, feed, admin
):
    tv.fundLeg(spot_leg, 50_000 * USDC, sender=keeper)
    do_swap(chain, d, tv, spot_leg, keeper, True, 20_000 * USDC)
    value_before = spot_leg.value()
    advance(chain, MAX_AGE + 1)
    updated = feed.latestRoundData().updatedAt
    assert tuple(spot_leg.oraclePriceWad()) == (P0, False)
    assert spot_leg.value() == value_before  # marked at the last good price, no revert
    assert_marks(spot_leg, stable, weth, feed, chain)
    t = next_ts(chain)
    with ape.reverts(spot_leg.OracleStale, feed=feed, updatedAt=updated, nowSec=t, maxAgeSec=MAX_AGE):
        tv.swap(spot_leg, False, 10**15, 1, deadline(chain), sender=keeper)
    verdict, _ = spot_leg.peekOracle()
    assert verdict == oracle.Verdict.Stale
    feed.updateAnswer(usd8(3000), sender=admin)  # a fresh round: swaps resume
    do_swap(chain, d, tv, spot_leg, keeper, False, 10**15)


def test_oracle_deviation__marks_at_the_last_good_price_until_the_breaker_reanchors(
    spot_leg, tv, stable, weth, keeper, stranger, chain, d, feed, admin, arb
):
    tv.fundLeg(spot_leg, 50_000 * USDC, sender=keeper)
    do_swap(chain, d, tv, spot_leg, keeper, True, 30_000 * USDC)
    feed.updateAnswer(usd8(3300), sender=admin)  # +10%: beyond the 5% bound
    arbitrage_to_price(d.spot, arb, 3300)
    assert tuple(spot_leg.oraclePriceWad()) == (P0, False)
    assert_marks(spot_leg, stable, weth, feed, chain)
    with ape.reverts(
        spot_leg.OracleDeviation, lastWad=P0, newWad=3300 * WAD, deviationBps=1_000, maxBps=MAX_DEV_BPS
    ):
        tv.swap(spot_leg, True, 1_000 * USDC, 1, deadline(chain), sender=keeper)
    assert spot_leg.oracleState().trippedAt == 0  # the revert undid the trip
    # the keeper's mirror says Deviation: it pokes, which trips the breaker and starts the cooldown
    assert mirror_verdict(spot_leg, feed, next_ts(chain))[0] == oracle.Verdict.Deviation
    tx = spot_leg.pokeOracle(sender=stranger)
    tripped = tx.timestamp
    assert spot_leg.oracleState().trippedAt == tripped
    assert tuple(spot_leg.oraclePriceWad()) == (P0, False)
    with ape.reverts(spot_leg.OracleCoolingDown, trippedAt=tripped, resumesAt=tripped + COOLDOWN):
        tv.swap(spot_leg, True, 1_000 * USDC, 1, deadline(chain), sender=keeper)
    advance(chain, COOLDOWN)
    feed.updateAnswer(usd8(3300), sender=admin)
    assert tuple(spot_leg.oraclePriceWad()) == (3300 * WAD, True)  # the re-anchor is a fresh read
    assert_marks(spot_leg, stable, weth, feed, chain)
    _, tx = do_swap(chain, d, tv, spot_leg, keeper, True, 1_000 * USDC)
    assert tx.events.filter(spot_leg.OracleReanchored)[0].newWad == 3300 * WAD
    assert tv.lastReport().oraclePriceWad == 3300 * WAD
    assert spot_leg.oracleState().lastGoodWad == 3300 * WAD


@pytest.mark.parametrize("mode", [1, 2, 3, 4], ids=["reverts", "short-data", "burns-gas", "dirty-uint80"])
def test_oracle_broken_feed__views_never_revert_and_swaps_do(
    project, admin, d, tv, stable, keeper, chain, mode
):
    broken = admin.deploy(project.BrokenFeed, usd8(3000))
    spot_leg = deploy_spot_leg(project, admin, d, tv, stable, broken)
    tv.fundLeg(spot_leg, 20_000 * USDC, sender=keeper)
    do_swap(chain, d, tv, spot_leg, keeper, True, 10_000 * USDC)
    value, gross = spot_leg.value(), spot_leg.grossExposure()
    broken.setMode(mode, sender=admin)
    assert tuple(spot_leg.oraclePriceWad()) == (P0, False)
    assert (spot_leg.value(), spot_leg.grossExposure()) == (value, gross)
    # the feed check gets at most ORACLE_VIEW_GAS: even a feed that burns all its gas costs a bounded amount
    assert spot_leg.value.estimate_gas_cost() < spot_leg.ORACLE_VIEW_GAS() + 60_000
    with ape.reverts():
        tv.swap(spot_leg, True, 1_000 * USDC, 1, deadline(chain), sender=keeper, gas_limit=3_000_000)
    tv.releaseFromLeg(spot_leg, UINT_MAX, sender=keeper)  # release never touches the feed
    assert tv.lastReleased() == 10_000 * USDC


def test_oracle_price_after_an_action__is_the_actions_price_for_the_rest_of_the_transaction(
    project, admin, d, tv, stable, keeper, chain
):
    """The vault's book after an action is marked at the price the action was checked against, even if
    the feed published again later in the same transaction; the next transaction sees the new round."""
    feed = admin.deploy(project.KeelFeed, 8, "ETH / USD", usd8(3000))
    spot_leg = deploy_spot_leg(project, admin, d, tv, stable, feed)
    feed.setOwner(tv, sender=admin)
    tv.fundLeg(spot_leg, 2_000 * USDC, sender=keeper)
    tx = tv.swapThenPublish(spot_leg, True, 1_000 * USDC, 1, deadline(chain), feed, usd8(3010), sender=keeper)
    (seen,) = tx.events.filter(tv.ViewPrice)
    assert (seen.priceWad, seen.fresh) == (P0, True)
    assert tuple(spot_leg.oraclePriceWad()) == (3010 * WAD, True)


def test_oracle_feed_answering_100kb__views_read_the_round_without_copying_the_rest(
    project, admin, d, tv, stable, keeper, chain
):
    broken = admin.deploy(project.BrokenFeed, usd8(3000))
    spot_leg = deploy_spot_leg(project, admin, d, tv, stable, broken)
    broken.setMode(5, sender=admin)  # a valid round, then 100 KB of zeros
    assert tuple(spot_leg.oraclePriceWad()) == (P0, True)
    # the view reads five words from a fixed buffer: the 100 KB never enter its memory
    assert spot_leg.value.estimate_gas_cost() < spot_leg.ORACLE_VIEW_GAS() + 60_000


# ------------------------------------------------------------------------------------------ reentrancy


def test_reentrancy__release_and_poke_reentered_from_a_token_hook__revert(project, admin, d, feed, keeper):
    token = admin.deploy(project.ReentrantToken)
    tv2 = keeper.deploy(project.LegTestVault, token)
    spot_leg = deploy_spot_leg(project, admin, d, tv2, token, feed)
    token.mint(tv2, 1_000 * USDC, sender=admin)
    tv2.fundLeg(spot_leg, 1_000 * USDC, sender=keeper)
    token.arm(tv2, tv2.reenterRelease.encode_input(spot_leg, 1), sender=admin)
    with ape.reverts(spot_leg.ReentrancyGuardReentrantCall):
        tv2.releaseFromLeg(spot_leg, 10, sender=keeper)
    token.arm(spot_leg, spot_leg.pokeOracle.encode_input(), sender=admin)
    with ape.reverts(spot_leg.ReentrancyGuardReentrantCall):
        tv2.releaseFromLeg(spot_leg, 10, sender=keeper)


# ------------------------------------------------------------------------------------------ property test

STEP = st.tuples(
    st.sampled_from(["buy", "buy", "sell", "sell", "move", "move", "wait", "poke", "release"]),
    st.floats(min_value=0.01, max_value=1.0, allow_nan=False),
    st.integers(min_value=-900, max_value=900),  # price move, bps
)


@settings(parent=chain_settings, max_examples=20)
@example(  # drift past the bound in two moves, poke (trip), wait out the cooldown, trade (re-anchor)
    steps=[
        ("buy", 0.5, 0),
        ("move", 0.5, 400),
        ("move", 0.5, 400),
        ("sell", 0.3, 0),
        ("poke", 0.5, 0),
        ("wait", 0.3, 0),
        ("buy", 0.2, 0),
    ]
)
@example(steps=[("buy", 0.9, 0), ("wait", 1.0, 0), ("sell", 0.5, 0), ("move", 0.1, -300), ("sell", 1.0, 0)])
@given(steps=st.lists(STEP, min_size=1, max_size=6))
def test_marks__after_random_swaps_moves_and_failures__follow_the_rule_and_the_quotes(
    chain, d, spot_leg, tv, stable, weth, feed, admin, keeper, stranger, arb, steps
):
    with isolated(chain):
        tv.fundLeg(spot_leg, 1_000_000 * USDC, sender=keeper)
        for action, frac, bps in steps:
            if action == "move":
                price = feed.latestRoundData().answer * (10_000 + bps) // 10_000
                feed.updateAnswer(price, sender=admin)
                arbitrage_to_price(d.spot, arb, price / 10**8)
            elif action == "wait":
                advance(chain, int(frac * 2 * MAX_AGE))
            elif action == "poke":
                spot_leg.pokeOracle(sender=stranger)
            elif action == "release":
                tv.releaseFromLeg(spot_leg, int(frac * stable.balanceOf(spot_leg)), sender=keeper)
            else:
                buy = action == "buy"
                amount = int(frac * (stable.balanceOf(spot_leg) if buy else weth.balanceOf(spot_leg)))
                if amount < (10 if buy else 10**9):
                    continue
                verdict, value = mirror_verdict(spot_leg, feed, next_ts(chain))
                q = quote_exact_input(d.spot, "usdc" if buy else "weth", amount)
                if verdict != oracle.Verdict.Ok:
                    with ape.reverts(getattr(spot_leg, VERDICT_ERRORS[verdict])):
                        tv.swap(spot_leg, buy, amount, q.amount_out, deadline(chain), sender=keeper)
                else:
                    u, w = stable.balanceOf(spot_leg), weth.balanceOf(spot_leg)
                    tv.swap(spot_leg, buy, amount, q.amount_out, deadline(chain), sender=keeper)
                    r = tv.lastReport()
                    assert r.oraclePriceWad == value and r.isBuy == buy
                    if buy:
                        assert (stable.balanceOf(spot_leg), weth.balanceOf(spot_leg)) == (
                            u - amount,
                            w + q.amount_out,
                        )
                        assert r.execPriceWad == ceil_div(amount * SCALE, q.amount_out)
                    else:
                        assert (stable.balanceOf(spot_leg), weth.balanceOf(spot_leg)) == (
                            u + q.amount_out,
                            w - amount,
                        )
                        assert r.execPriceWad == q.amount_out * SCALE // amount
            assert_marks(spot_leg, stable, weth, feed, chain)


# ------------------------------------------------------------------------------------------ gas


def test_gas__swap__printed(spot_leg, tv, weth, keeper, chain, d, feed, admin):
    tv.fundLeg(spot_leg, 100_000 * USDC, sender=keeper)
    do_swap(chain, d, tv, spot_leg, keeper, True, 50_000 * USDC)
    rows = {"swap buy (first WETH)": tv.lastGas()}
    do_swap(chain, d, tv, spot_leg, keeper, True, 10_000 * USDC)
    rows["swap buy"] = tv.lastGas()
    feed.updateAnswer(usd8(3001), sender=admin)
    do_swap(chain, d, tv, spot_leg, keeper, False, weth.balanceOf(spot_leg) // 2)
    rows["swap sell (new oracle round)"] = tv.lastGas()
    for name, gas in rows.items():
        print(f"gas  SpotLeg.{name:<36} {gas:>8,}")
        assert gas < 200_000
