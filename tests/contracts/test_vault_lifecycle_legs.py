"""One life of the vault on the deployed local market, with its real legs and venues: deposits by three
depositors, a basis opened with `rebalance` (spot bought through Uniswap V3, the perp shorted, margin
moved), funding received over simulated days, a short strangle written with `tradeOptions`, expiry and
`settleOptions`, `report` (fees as shares, the insurance skim), then withdrawals and queued redemptions
paid while the keeper unwinds the basis.

After every step: NAV = idle + Σ leg values to the unit (`Market.reconcile`) and every holder's claim
is at most its pro-rata share (`Market.claims`)."""

from __future__ import annotations

import pytest

from keeper import guard as kg
from tests.leg_helpers import deploy_market
from tests.vault_book import (
    SCALE,
    USDC,
    WAD,
    YEAR,
    Market,
    advance,
    ceil_div,
    fund_trader,
    usd8,
)

DAY = 86_400
FUNDING_8H = 0.0005  # 0.05% per 8 hours: the short receives
DEPOSITS = {"fish": 300_000 * USDC, "whale": 600_000 * USDC, "shark": 100_000 * USDC}
SPOT_USDC = 300_000 * USDC
MARGIN = 100_000 * USDC
OPTIONS = 10 * WAD


@pytest.fixture(scope="module")
def lifecycle_mkt(project, admin, gov, keeper, guardian, treasury, fish, whale, shark, accounts) -> Market:
    # a deep pool ($100M a side): the $300k basis trade costs ~35 bps, inside the 50 bps guard bound
    d = deploy_market(
        admin, gov, keeper, guardian, treasury, pool_liquidity_usd=200_000_000.0, funding_rate_8h=FUNDING_8H
    )
    m = Market.load(project, d)
    for who in (fish, whale, shark):
        fund_trader(m, admin, who, usdc=1_000_000 * USDC)
    fund_trader(m, admin, accounts[9], usdc=5_000_000 * USDC, weth=500 * WAD)  # the arbitrageur
    return m


def funding_since(m: Market, size_wad: int, seconds: int) -> int:
    """What the venue books for `size_wad` over `seconds` at the current rate and price (PerpMath)."""
    rate_8h_wad = m.funding_feed.latestRoundData().answer * 10**10
    per_sec = int(rate_8h_wad / 28_800)  # truncated toward zero
    index_delta = per_sec * m.price_wad() * seconds // WAD
    return -index_delta * size_wad // SCALE  # ⌊−ΔF·s / 1e30⌋


def test_vault__with_deposits_basis_funding_options_report_and_exits__reconciles_nav_at_every_step(
    lifecycle_mkt, chain, admin, gov, keeper, treasury, fish, whale, shark, stranger, accounts
):
    m, v = lifecycle_mkt, lifecycle_mkt.vault
    arb = accounts[9]
    holders = [fish, whale, shark]
    by_name = {"fish": fish, "whale": whale, "shark": shark}

    # ---------------------------------------------------------------- 1. deposits
    t0 = chain.blocks.head.timestamp
    for name, amount in DEPOSITS.items():
        who = by_name[name]
        shares = v.previewDeposit(amount)
        tx = v.deposit(amount, who, sender=who)
        (dep,) = tx.events.filter(v.Deposit)
        assert v.balanceOf(who) == dep.shares
        # a second of management fee later the share is a hair cheaper: never fewer shares than quoted
        assert shares <= dep.shares <= shares + shares // 10**9
    nav = m.reconcile()
    assert nav == v.idleAssets() == sum(DEPOSITS.values())
    claims = m.claims(holders)
    elapsed = chain.blocks.head.timestamp - t0
    for name, amount in DEPOSITS.items():
        # each gets back what it put in, less the management fee accrued since (1%/year) and rounding
        fee = amount * 100 * elapsed // (10_000 * YEAR) + 2
        assert amount - fee <= claims[by_name[name].address] <= amount

    # ---------------------------------------------------------------- 2. the basis
    nav_before = nav
    tx, w = m.open_basis(chain, keeper, SPOT_USDC, MARGIN)
    (swap,) = tx.events.filter(m.spot.Swapped)
    (perp_trade,) = tx.events.filter(m.perp.PerpTraded)
    assert swap.amountIn == SPOT_USDC and swap.amountOut == w
    assert m.spot.delta() == w and m.perp.delta() == -w
    assert v.bookState().netDeltaWad == 0  # the short matches the WETH bought to the wei
    assert m.usdc.balanceOf(m.spot) == 0 and m.usdc.balanceOf(m.perp) == 0
    nav = m.reconcile()
    # the cost of opening: the pool's fee and impact on the spot side, the venue's fee on the perp side
    spot_cost = SPOT_USDC - w * m.price_wad() // SCALE
    assert nav_before - nav == spot_cost + perp_trade.feeAssets
    assert spot_cost < SPOT_USDC * 40 // 10_000  # 30 bps impact + 5 bps pool fee
    assert perp_trade.feeAssets == ceil_div(w * m.price_wad() * 5, 10_000 * SCALE)
    assert v.idleAssets() == sum(DEPOSITS.values()) - SPOT_USDC - MARGIN
    m.claims(holders)
    assert v.rebalanceTrigger() == (False, kg.Reason.NONE)

    # ---------------------------------------------------------------- 3. funding over three days
    opened_at = chain.blocks.head.timestamp
    pending = m.perp_market.pendingFundingUsdc(m.perp)
    for _ in range(3):
        nav_before = m.reconcile()
        advance(chain, DAY)
        m.publish(admin)
        m.poke(stranger)
        nav = m.reconcile()
        now = chain.blocks.head.timestamp
        expected = funding_since(m, -w, now - opened_at)
        assert m.perp_market.pendingFundingUsdc(m.perp) == expected
        # the only change in NAV is the funding received (same price: spot and PnL unchanged)
        assert nav - nav_before == expected - pending > 400 * USDC  # ~$450 a day on $300k
        pending = expected
        m.claims(holders)

    # ---------------------------------------------------------------- 4. a short strangle
    expiry = chain.blocks.head.timestamp + 3 * DAY
    call = m.list_series(gov, expiry, 3_100.0, is_call=True)
    put = m.list_series(gov, expiry, 2_900.0, is_call=False)
    collateral = {}
    for sid in (call, put):
        nav_before, idle_before = m.reconcile(), v.idleAssets()
        collateral[sid] = m.option_market.collateralRequiredUsdc(sid, OPTIONS)
        tx = m.sell_options(chain, keeper, sid, OPTIONS)
        (traded,) = tx.events.filter(m.option.OptionTraded)
        net_premium = traded.premiumAssets - traded.feeAssets
        assert v.idleAssets() == idle_before - collateral[sid] + net_premium
        assert m.option_market.position(m.option, sid) == (-OPTIONS, collateral[sid])
        nav = m.reconcile()
        # writing at the bid costs the distance to the mark: inside the guard's slippage bound
        notional = ceil_div(OPTIONS * m.price_wad(), SCALE)
        assert 0 <= nav_before - nav <= notional * m.guard.params().maxSlippageBps // 10_000
        m.claims(holders)
    # the strangle is nearly delta-neutral: the book stays inside the trigger band
    assert abs(v.bookState().netDeltaWad) < m.guard.params().deltaTriggerWad

    # ---------------------------------------------------------------- 5. to expiry: ETH ends at 3,150
    for _ in range(2):
        advance(chain, DAY)
        m.publish(admin)
        m.poke(stranger)
        m.reconcile()
        m.claims(holders)
    advance(chain, expiry - chain.blocks.head.timestamp + 1)
    m.publish(admin, price8=usd8(3_150))  # the first round after expiry: the settlement price
    m.arbitrage(arb)
    m.poke(stranger)
    m.reconcile()
    for sid, payout_per_eth in ((call, 50), (put, 0)):
        idle_before, leg_before = v.idleAssets(), m.option.value()
        m.reconcile()
        tx = v.settleOptions(v.actionNonce(), sid, 0, sender=keeper)
        (settled,) = tx.events.filter(v.OptionsSettled)
        # the short gets its collateral back less the payout, ⌈p · size⌉
        assert settled.paidAssets == collateral[sid] - payout_per_eth * OPTIONS * USDC // WAD
        assert v.idleAssets() == idle_before + settled.paidAssets
        # the expired short was already marked at its intrinsic value: cash in, the same value out
        assert m.option.value() == leg_before - settled.paidAssets
        m.reconcile()
        assert m.option_market.position(m.option, sid) == (0, 0)
    assert m.option.value() == 0 and m.option.delta() == 0
    m.claims(holders)

    # ---------------------------------------------------------------- 6. report: fees and the skim
    m.reconcile()
    assert v.reportBase() == (0, sum(DEPOSITS.values()))
    treasury_before = v.balanceOf(treasury)
    tx = v.report(v.actionNonce(), sender=keeper)
    (rep,) = tx.events.filter(v.Reported)
    (fees,) = tx.events.filter(v.FeesAccrued)
    nav = rep.navAssets + rep.skimmedAssets  # the NAV in the report's block (funding accrues per second)
    # funding (~$2.7k over six days) and premiums beat the trading costs and the call's payout
    assert rep.pnlAssets == nav - sum(DEPOSITS.values()) > 0
    skim = rep.pnlAssets * m.d.config.insurance_skim_bps // 10_000  # far below the fund's 5% target
    assert rep.skimmedAssets == skim == m.fund.reserve()
    assert rep.navAssets == nav - skim == m.reconcile()
    assert v.reportBase() == (nav - skim, 0)
    assert fees.performanceFeeAssets > 0 and fees.feeShares > 0
    assert v.balanceOf(treasury) == treasury_before + fees.feeShares
    assert v.pendingFeeShares() == 0
    m.claims(holders)

    # ---------------------------------------------------------------- 7. exits
    # fish withdraws 100k directly out of the liquid cash
    usdc_before = m.usdc.balanceOf(fish)
    balance_before = v.balanceOf(fish)
    tx = v.withdraw(100_000 * USDC, fish, fish, sender=fish)
    (out,) = tx.events.filter(v.Withdraw)
    assert m.usdc.balanceOf(fish) == usdc_before + 100_000 * USDC
    assert balance_before - v.balanceOf(fish) == out.shares
    assert out.shares >= v.convertToShares(100_000 * USDC)  # rounded against the one who leaves
    m.reconcile()
    m.claims(holders)

    # whale's exit is larger than the liquid cash: whale and shark queue everything
    assert v.maxWithdraw(whale) < v.previewRedeem(v.balanceOf(whale))
    ids = []
    for who in (whale, shark):
        tx = v.requestRedeem(v.balanceOf(who), who, sender=who)
        ids.append(tx.events.filter(v.RedeemRequested)[0].requestId)
    assert v.rebalanceTrigger() == (True, kg.Reason.REDEMPTIONS_WAITING)
    m.reconcile()
    m.claims(holders)

    # the first run pays what the idle cash allows: whale in part
    idle = v.idleAssets()
    tx = v.processRedemptions(10, sender=keeper)
    (first,) = tx.events.filter(v.RedeemProcessed)
    assert first.requestId == ids[0] and first.remainingShares > 0
    assert 0 <= idle - first.assets <= 2  # the idle cash was used up (to a share's rounding)
    assert v.totalClaimable() == first.assets
    assert v.liquidAssets() == 0
    m.reconcile()  # what is owed to whale left idle, not NAV's sum
    m.claims(holders)
    got = m.usdc.balanceOf(whale)
    v.claimRedeem(ids[0], sender=stranger)  # anyone may push the payment
    assert m.usdc.balanceOf(whale) == got + first.assets
    m.reconcile()

    # the keeper unwinds the basis: sell the WETH, buy the short back, then take the margin home
    v.rebalance(
        m.rebalance_params(chain, spotBuyEth=False, spotAmountIn=m.spot.delta(), perpSizeDeltaWad=w),
        sender=keeper,
    )
    assert m.spot.delta() == 0 and m.perp.delta() == 0
    m.reconcile()
    margin = m.perp_market.position(m.perp).marginUsdc
    assert m.perp.value() == margin  # flat: the margin holds the realised PnL, funding and fees
    v.rebalance(m.rebalance_params(chain, perpMarginDeltaAssets=-margin), sender=keeper)
    assert m.perp.value() == 0 and m.spot.value() == 0 and m.legs_value() == 0
    nav = m.reconcile()
    assert nav == v.idleAssets()
    m.claims(holders)

    # the second run pays the rest of the queue at the price of the moment
    a, s = v.totalAssets(), v.totalSupply()
    remaining = first.remainingShares
    shark_shares = v.redeemRequest(ids[1]).shares
    tx = v.processRedemptions(10, sender=keeper)
    s += tx.events.filter(v.FeesAccrued)[0].feeShares  # the fee shares minted first in the same call
    paid = {e.requestId: e for e in tx.events.filter(v.RedeemProcessed)}
    assert paid[ids[0]].shares == remaining and paid[ids[0]].remainingShares == 0
    assert paid[ids[1]].shares == shark_shares and paid[ids[1]].remainingShares == 0
    # one price for the batch: each payment takes assets and shares in proportion, rounded down
    assert paid[ids[0]].assets == remaining * (a + 1) // (s + 10**6)
    a, s = a - paid[ids[0]].assets, s - remaining
    assert paid[ids[1]].assets == shark_shares * (a + 1) // (s + 10**6)
    assert v.queuedShares() == 0 and v.balanceOf(v) == 0
    m.reconcile()
    for rid, who in zip(ids, (whale, shark), strict=True):
        got = m.usdc.balanceOf(who)
        v.claimRedeem(rid, sender=who)
        assert m.usdc.balanceOf(who) == got + paid[rid].assets
    assert v.totalClaimable() == 0
    m.reconcile()

    # fish leaves by redeem: only the fee recipient's shares remain, backed by what is left
    v.redeem(v.maxRedeem(fish), fish, fish, sender=fish)
    assert v.balanceOf(fish) == 0
    nav = m.reconcile()
    assert v.totalSupply() == v.balanceOf(treasury)
    assert v.previewRedeem(v.balanceOf(treasury)) <= nav
    m.claims(holders)
