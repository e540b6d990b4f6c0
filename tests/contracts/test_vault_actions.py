"""The vault's keeper entry points on the local market: rebalance through the real legs and venues,
RiskGuard after every action, nonces against replays, report/coverLoss with the insurance fund,
rebalanceTrigger, and oracle failure halting actions but never withdrawals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ape
import pytest

from keeper import guard as kg
from keeper.chain.deploy import Deployment
from tests.helpers import option_fields, rebalance_fields
from tests.leg_helpers import COOLDOWN, MAX_AGE, MAX_DEV_BPS, advance, deploy_market, usd8

USDC = 10**6
WAD = 10**18
UINT_MAX = 2**256 - 1
ZERO = "0x0000000000000000000000000000000000000000"
DEPOSIT = 1_000_000 * USDC
LOSS_REASON = b"OTHER".ljust(32, b"\0")


@dataclass
class Book:
    d: Deployment
    vault: Any
    usdc: Any
    spot: Any
    perp: Any
    guard: Any
    fund: Any
    feed: Any
    weth: Any


@pytest.fixture(scope="module")
def book(project, admin, gov, keeper, guardian, treasury, whale) -> Book:
    d = deploy_market(
        admin, gov, keeper, guardian, treasury, pool_liquidity_usd=20_000_000.0,
        leg_oracle_max_age_sec=MAX_AGE, leg_oracle_max_deviation_bps=MAX_DEV_BPS,
        leg_oracle_cooldown_sec=COOLDOWN,
    )  # fmt: skip
    vault = project.KeelVault.at(d.vault)
    usdc = project.MockUSDC.at(d.usdc)
    spot = project.SpotLeg.at(d.spot_leg)
    perp = project.PerpLeg.at(d.perp_leg)
    usdc.mint(whale, 10 * DEPOSIT, sender=admin)
    usdc.approve(vault, UINT_MAX, sender=whale)
    vault.deposit(DEPOSIT, whale, sender=whale)
    return Book(
        d=d,
        vault=vault,
        usdc=usdc,
        spot=spot,
        perp=perp,
        guard=project.RiskGuard.at(d.risk_guard),
        fund=project.InsuranceFund.at(d.insurance_fund),
        feed=project.KeelFeed.at(d.feeds.eth_usd),
        weth=project.WETH9.at(d.spot.weth),
    )


def params(book: Book, chain, **kw) -> tuple:
    """A RebalanceParams tuple for the vault's current nonce; keyword overrides."""
    p = rebalance_fields(book.vault.actionNonce(), chain.blocks.head.timestamp + 600, **kw)
    if p["spotAmountIn"] and not p["spotMinOut"]:  # 2% under the oracle price: room for impact and fee
        price = book.feed.latestRoundData().answer  # 8 decimals
        if p["spotBuyEth"]:
            p["spotMinOut"] = p["spotAmountIn"] * 10**12 * 10**8 // price * 98 // 100
        else:
            p["spotMinOut"] = p["spotAmountIn"] * price // 10**8 // 10**12 * 98 // 100
    return tuple(p.values())


def open_basis(book: Book, chain, keeper, usd: int = 30_000, eth: int = 10):
    """Buy `usd` of spot ETH and short `eth` ETH of perp with `usd // 3` of margin, in one action."""
    return book.vault.rebalance(
        params(
            book,
            chain,
            spotAmountIn=usd * USDC,
            perpSizeDeltaWad=-eth * WAD,
            perpLimitPriceWad=0,
            perpMarginDeltaAssets=usd // 3 * USDC,
        ),
        sender=keeper,
    )


def test_rebalance__opening_a_hedged_basis__trades_both_legs_and_passes_the_guard(book, chain, keeper):
    nav_before = book.vault.totalAssets()
    tx = open_basis(book, chain, keeper)
    assert book.vault.actionNonce() == 1
    spot_eth = book.spot.delta()
    assert 9.9 * WAD < spot_eth < 10 * WAD  # $30k at ~$3,000 less the pool's price impact and fee
    assert book.weth.balanceOf(book.spot) == spot_eth
    assert book.perp.delta() == -10 * WAD
    state = book.vault.bookState()
    assert state.netDeltaWad == spot_eth - 10 * WAD
    assert state.marginRatioWad > kg.HARD_MIN_MARGIN_RATIO_WAD
    assert state.navAssets == book.vault.totalAssets()
    # the only cost is the pool fee + price impact + perp fee: a few tens of dollars on $30k
    assert nav_before - 150 * USDC < book.vault.totalAssets() < nav_before
    (event,) = tx.events.filter(book.vault.Rebalanced)
    assert event.nonce == 0 and event.netDeltaWad == state.netDeltaWad


def test_rebalance__replayed_with_the_same_nonce__reverts_stale_nonce(book, chain, keeper):
    p = params(book, chain, spotAmountIn=3_000 * USDC)
    book.vault.rebalance(p, sender=keeper)
    with ape.reverts(book.vault.StaleNonce, expected=0, actual=1):
        book.vault.rebalance(p, sender=keeper)


def test_rebalance__past_its_deadline__reverts(book, chain, keeper):
    late = chain.blocks.head.timestamp - 1
    with ape.reverts(book.vault.ActionDeadlineExpired):
        book.vault.rebalance(params(book, chain, spotAmountIn=3_000 * USDC, deadline=late), sender=keeper)


def test_rebalance__leaving_delta_above_the_cap__reverts_with_the_guard_error(book, chain, keeper):
    # $30k of spot with no perp hedge: ~10 ETH of delta against a 5 ETH cap
    with ape.reverts(book.guard.NetDeltaAboveCap):
        book.vault.rebalance(params(book, chain, spotAmountIn=30_000 * USDC), sender=keeper)
    assert book.vault.actionNonce() == 0  # the whole action reverted


def test_rebalance__reducing_a_breached_delta__passes_only_when_it_asks_for_the_before_book(
    book, chain, keeper, gov
):
    book.vault.rebalance(params(book, chain, spotAmountIn=12_000 * USDC), sender=keeper)  # ~4 ETH long
    tight = list(book.guard.params())
    tight[0] = tight[6] = WAD  # maxNetDeltaWad and deltaTriggerWad: 1 ETH, so the book is now breached
    book.guard.setParams(tuple(tight), sender=gov)
    before = book.vault.bookState().netDeltaWad
    hedge = {"perpSizeDeltaWad": -WAD, "perpMarginDeltaAssets": 3_000 * USDC}
    # without the before-book every bound must hold after the action: 3 ETH is still above 1 ETH
    with ape.reverts(book.guard.NetDeltaAboveCap):
        book.vault.rebalance(params(book, chain, **hedge), sender=keeper)
    tx = book.vault.rebalance(params(book, chain, allowImprovement=True, **hedge), sender=keeper)
    after = book.vault.bookState().netDeltaWad
    assert WAD < after < before and tx.events.filter(book.vault.Rebalanced)[0].netDeltaWad == after
    # the exemption only ever allows a smaller breach, never a larger one
    with ape.reverts(book.guard.NetDeltaAboveCap):
        book.vault.rebalance(
            params(book, chain, allowImprovement=True, perpSizeDeltaWad=WAD // 2, perpLimitPriceWad=UINT_MAX),
            sender=keeper,
        )


def test_rebalance__by_anyone_but_the_keeper__reverts(book, chain, stranger):
    with ape.reverts(book.vault.AccessControlUnauthorizedAccount):
        book.vault.rebalance(params(book, chain, spotAmountIn=3_000 * USDC), sender=stranger)


def test_rebalance__closing_the_basis__brings_the_cash_home(book, chain, keeper):
    open_basis(book, chain, keeper)
    weth = book.spot.delta()
    idle_before = book.vault.idleAssets()
    book.vault.rebalance(
        params(
            book,
            chain,
            spotBuyEth=False,
            spotAmountIn=weth,
            perpSizeDeltaWad=10 * WAD,
            perpLimitPriceWad=UINT_MAX,
            perpMarginDeltaAssets=-9_900 * USDC,
        ),
        sender=keeper,
    )
    assert book.spot.delta() == 0 and book.perp.delta() == 0
    assert book.vault.idleAssets() > idle_before + 29_000 * USDC + 9_900 * USDC
    assert book.usdc.balanceOf(book.spot) == 0


def test_stale_oracle__halts_rebalance_but_never_withdrawals(book, chain, keeper, whale):
    open_basis(book, chain, keeper)
    advance(chain, MAX_AGE + 60)  # the feed publishes nothing for over an hour
    with ape.reverts(book.spot.OracleStale):
        book.vault.rebalance(params(book, chain, spotAmountIn=3_000 * USDC), sender=keeper)
    assert book.vault.rebalanceTrigger() == (False, kg.Reason.ORACLE_FAILURE)
    assets = book.vault.totalAssets()  # views still price the book (last good price)
    assert assets > 0
    before = book.usdc.balanceOf(whale)
    book.vault.withdraw(10_000 * USDC, whale, whale, sender=whale)
    assert book.usdc.balanceOf(whale) == before + 10_000 * USDC


def test_rebalanceTrigger__with_each_condition__reports_its_reason(book, chain, keeper, whale):
    assert book.vault.rebalanceTrigger() == (False, kg.Reason.NONE)
    # 3 ETH of unhedged spot: inside the 5 ETH cap, beyond the 1 ETH trigger
    book.vault.rebalance(params(book, chain, spotAmountIn=9_000 * USDC), sender=keeper)
    assert book.vault.rebalanceTrigger() == (True, kg.Reason.DELTA_OUT_OF_BAND)
    book.vault.rebalance(params(book, chain, spotBuyEth=False, spotAmountIn=book.spot.delta()), sender=keeper)
    assert book.vault.rebalanceTrigger() == (False, kg.Reason.NONE)
    book.vault.requestRedeem(book.vault.balanceOf(whale) // 10, whale, sender=whale)
    assert book.vault.rebalanceTrigger() == (True, kg.Reason.REDEMPTIONS_WAITING)


def test_report__after_a_profit__skims_the_funds_share_up_to_its_target(book, admin, keeper, whale):
    profit = 20_000 * USDC
    book.usdc.mint(book.vault, profit, sender=admin)  # e.g. funding received, realised into idle
    tx = book.vault.report(0, sender=keeper)
    (event,) = tx.events.filter(book.vault.Reported)
    assert event.pnlAssets == profit
    skim = book.fund.skimAmountAt(profit, book.vault.totalAssets() + event.skimmedAssets)
    assert event.skimmedAssets == skim == profit * book.d.config.insurance_skim_bps // 10_000
    assert book.fund.reserve() == skim
    nav, flows = book.vault.reportBase()
    assert (nav, flows) == (book.vault.totalAssets(), 0)
    # deposits after the report are flows, not profit
    book.vault.deposit(50_000 * USDC, whale, sender=whale)
    book.vault.withdraw(20_000 * USDC, whale, whale, sender=whale)
    tx = book.vault.report(1, sender=keeper)
    assert tx.events.filter(book.vault.Reported)[0].pnlAssets == 0


def test_report_then_coverLoss__after_a_loss__the_fund_pays_within_its_cap(book, chain, admin, keeper, whale):
    book.usdc.approve(book.fund, UINT_MAX, sender=whale)
    book.fund.deposit(100_000 * USDC, sender=whale)
    book.vault.report(0, sender=keeper)  # the base: nothing happened yet
    # 3 ETH of spot, then the price falls 4% (inside the 5% breaker): a loss on the spot leg
    book.vault.rebalance(params(book, chain, spotAmountIn=9_000 * USDC), sender=keeper)
    book.feed.updateAnswer(usd8(2880), sender=admin)
    tx = book.vault.report(2, sender=keeper)
    pnl = tx.events.filter(book.vault.Reported)[0].pnlAssets
    assert pnl < -300 * USDC
    assert book.vault.unreportedLoss() == -pnl
    nav_before = book.vault.totalAssets()
    tx = book.vault.coverLoss(3, LOSS_REASON, sender=keeper)
    (covered,) = tx.events.filter(book.vault.LossCovered)
    assert covered.lossAssets == -pnl and covered.paidAssets == -pnl  # well inside the period cap
    assert book.vault.totalAssets() == nav_before + covered.paidAssets
    assert book.vault.unreportedLoss() == 0
    with ape.reverts(book.vault.NoLossToCover):
        book.vault.coverLoss(4, LOSS_REASON, sender=keeper)
    # the insurance payment is not profit at the next report
    tx = book.vault.report(4, sender=keeper)
    assert tx.events.filter(book.vault.Reported)[0].pnlAssets == 0


def test_removeLeg__of_a_strategy_leg__unsets_its_role_and_the_moved_leg_keeps_its_own(book, gov):
    v = book.vault
    spot, perp, option = v.spotLeg(), v.perpLeg(), v.optionLeg()
    assert list(v.legs()) == [spot, perp, option]
    v.removeLeg(perp, sender=gov)  # empty: the option leg moves into its place
    assert list(v.legs()) == [spot, option]
    assert (v.spotLeg(), v.perpLeg(), v.optionLeg()) == (spot, ZERO, option)
    v.removeLeg(spot, sender=gov)
    assert list(v.legs()) == [option]
    assert (v.spotLeg(), v.perpLeg(), v.optionLeg()) == (ZERO, ZERO, option)
    v.addLeg(spot, sender=gov)
    v.setStrategyLegs(spot, ZERO, option, sender=gov)
    assert (v.spotLeg(), v.perpLeg(), v.optionLeg()) == (spot, ZERO, option)


def test_setRiskModules__with_another_vaults_fund__reverts(book, project, admin, gov, guardian):
    other = admin.deploy(
        project.InsuranceFund,
        book.usdc,
        admin,
        admin,
        3600,
        gov,
        guardian,
        (1000, 500, 2500, 7 * 86400, 2 * 86400),
    )
    with ape.reverts(book.vault.ModuleMismatch, module=other):
        book.vault.setRiskModules(book.guard, other, sender=gov)


def test_setStrategyLegs__with_an_unregistered_leg__reverts(book, project, admin, gov):
    stray = admin.deploy(
        project.PerpLeg, book.vault, book.usdc, book.d.perp_market, MAX_AGE, MAX_DEV_BPS, COOLDOWN
    )
    with ape.reverts(book.vault.NotARegisteredLeg, leg=stray):
        book.vault.setStrategyLegs(book.spot, stray, book.d.option_leg, sender=gov)


def option_series(book: Book, project, chain, gov, days: int = 7, is_call: bool = True) -> tuple[Any, int]:
    """List an ATM-ish series `days` out at the venue; return (market, series id)."""
    from keeper.chain.deploy import list_series

    market = project.OptionMarket.at(book.d.option_market)
    expiry = chain.blocks.head.timestamp + days * 86_400
    (sid,) = list_series(market, gov, expiry, [3_000.0], calls=is_call, puts=not is_call)
    return market, sid


def option_params(book: Book, chain, sid: int, **kw) -> tuple:
    fields = option_fields(book.vault.actionNonce(), chain.blocks.head.timestamp + 600, sid, sizeWad=5 * WAD)
    return tuple((fields | kw).values())


def test_tradeOptions__selling_calls__posts_collateral_keeps_premium_and_reconciles_nav(
    book, project, chain, gov, keeper
):
    market, sid = option_series(book, project, chain, gov)
    leg = project.OptionLeg.at(book.d.option_leg)
    premium, fee = market.quote(sid, False, 5 * WAD)
    collateral = market.collateralRequiredUsdc(sid, 5 * WAD)
    idle_before = book.vault.idleAssets()
    tx = book.vault.tradeOptions(
        option_params(book, chain, sid, limitAssets=(premium - fee) * 99 // 100, fundAssets=collateral),
        sender=keeper,
    )
    assert market.position(leg, sid) == (-5 * WAD, collateral)
    # the collateral less the net premium left the vault; nothing stays in the leg
    assert book.usdc.balanceOf(leg) == 0
    (traded,) = tx.events.filter(leg.OptionTraded)
    assert traded.premiumAssets - traded.feeAssets >= (premium - fee) * 99 // 100
    assert book.vault.idleAssets() == idle_before - collateral + traded.premiumAssets - traded.feeAssets
    # a short call has negative delta, counted in the vault's book
    assert leg.delta() < 0
    assert book.vault.bookState().netDeltaWad == leg.delta() + book.spot.delta() + book.perp.delta()
    # NAV = idle + Σ legs to the unit
    legs = sum(project.IHedgeLeg.at(x).value() for x in book.vault.legs())
    assert book.vault.totalAssets() == book.vault.idleAssets() + legs
    (ev,) = tx.events.filter(book.vault.OptionsTraded)
    assert ev.seriesId == sid and not ev.isBuy and ev.sizeWad == 5 * WAD
    # the same nonce again: StaleNonce
    with ape.reverts(book.vault.StaleNonce):
        book.vault.tradeOptions(
            option_params(book, chain, sid, expectedNonce=book.vault.actionNonce() - 1), sender=keeper
        )


def test_settleOptions__after_expiry__claims_the_payout_back_to_idle(
    book, project, chain, admin, gov, keeper
):
    market, sid = option_series(book, project, chain, gov, days=1, is_call=False)
    leg = project.OptionLeg.at(book.d.option_leg)
    premium, fee = market.quote(sid, True, 2 * WAD)
    book.vault.tradeOptions(
        option_params(book, chain, sid, isBuy=True, sizeWad=2 * WAD, limitAssets=premium + fee,
                      fundAssets=premium + fee),
        sender=keeper,
    )  # fmt: skip
    assert market.position(leg, sid)[0] == 2 * WAD
    # ETH falls to 2,800 and the put expires 200 in the money
    advance(chain, 86_400 + 1)
    book.feed.updateAnswer(usd8(2_800), sender=admin)
    idle_before = book.vault.idleAssets()
    tx = book.vault.settleOptions(book.vault.actionNonce(), sid, 0, sender=keeper)
    assert market.series(sid).settlementPriceWad == 2_800 * WAD
    paid = 2 * 200 * USDC
    assert book.vault.idleAssets() == idle_before + paid
    assert market.position(leg, sid) == (0, 0) and leg.value() == 0
    (ev,) = tx.events.filter(book.vault.OptionsSettled)
    assert ev.seriesId == sid and ev.paidAssets == paid
