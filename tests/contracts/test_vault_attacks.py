"""Attacks on the vault with its real legs on the deployed local market:

a. a sandwich of the vault's spot swap through Uniswap V3;
b. a stolen keeper key acting at the worst the RiskGuard allows, with an accomplice on the pool;
c. reentrancy into the vault's keeper entry points from a hooked token (the venue's transfers);
d. the liquidation of the vault's perp account, the loss booked by `report`, covered by the insurance
   fund up to its per-period cap and the rest socialised.
"""

from __future__ import annotations

from fractions import Fraction

import ape
import pytest

from keeper.chain.deploy import LocalConfig
from keeper.chain.univ3 import ChainTicks, arbitrage_to_price, read_pool_state
from keeper.guard import GuardParams
from keeper.univ3_math import PoolState, get_tick_at_sqrt_ratio, simulate_exact_input
from tests.conftest import deploy_vault
from tests.helpers import rebalance_fields
from tests.leg_helpers import deploy_market
from tests.vault_book import (
    BPS,
    SCALE,
    UINT_MAX,
    USDC,
    WAD,
    Market,
    advance,
    ceil_div,
    decode_error,
    fund_trader,
    reason,
    revert_data,
    usd8,
)

ZERO = "0x0000000000000000000000000000000000000000"
DEPOSIT = 1_000_000 * USDC


@pytest.fixture(scope="module")
def attack_mkt(project, admin, gov, keeper, guardian, treasury, whale, fish, accounts) -> Market:
    """The default local market ($20M full-range pool, 50 bps slippage bound); whale holds $1M of shares,
    accounts[9] is the attacker with $5M and 1,000 WETH."""
    m = Market.load(project, deploy_market(admin, gov, keeper, guardian, treasury))
    fund_trader(m, admin, whale, usdc=10 * DEPOSIT)
    fund_trader(m, admin, fish, usdc=DEPOSIT)
    fund_trader(m, admin, accounts[9], usdc=5_000_000 * USDC, weth=1_000 * WAD)
    m.vault.deposit(DEPOSIT, whale, sender=whale)
    return m


# ============================================================================ helpers


def exec_slippage_bps(m: Market, pool_price_usd: Fraction, buy: bool, amount_in: int) -> int:
    """The adverse slippage RiskGuard would see (bps, rounded up, like RiskGuard) for the vault's swap of
    `amount_in` (USDC when buying, WETH when selling) if the pool stood at `pool_price_usd`: the pool's
    swap replayed over its ticks from that price, priced the way SpotLeg reports it."""
    spot = m.d.spot
    state = read_pool_state(spot)
    sqrt = spot.sqrt_price_x96(pool_price_usd)
    moved = PoolState(sqrt, get_tick_at_sqrt_ratio(sqrt), state.liquidity, state.fee, state.tick_spacing)
    token_in = spot.usdc if buy else spot.weth
    out = simulate_exact_input(moved, ChainTicks(spot.pool_contract()), amount_in, token_in == spot.token0)
    p = m.price_wad()
    if buy:
        exec_price = ceil_div(amount_in * SCALE, out.amount_out)
        adverse = max(exec_price - p, 0)
    else:
        exec_price = out.amount_out * SCALE // amount_in
        adverse = max(p - exec_price, 0)
    return ceil_div(adverse * BPS, p)


def push_for_slippage(m: Market, buy: bool, amount_in: int, target_bps: int) -> Fraction:
    """The pool price (USD) an accomplice must push the pool to so that the vault's swap lands at the
    largest slippage ≤ `target_bps` (bisection over the replayed swap)."""
    oracle = Fraction(m.price8(), 10**8)
    lo, hi = oracle, oracle * (Fraction(1) + Fraction(1, 20) * (1 if buy else -1))
    assert exec_slippage_bps(m, lo, buy, amount_in) <= target_bps < exec_slippage_bps(m, hi, buy, amount_in)
    for _ in range(40):
        mid = (lo + hi) / 2
        if exec_slippage_bps(m, mid, buy, amount_in) <= target_bps:
            lo = mid
        else:
            hi = mid
    return lo


def wealth(m: Market, who) -> int:
    """USDC + WETH of `who`, the WETH at the oracle price (USDC units)."""
    return m.usdc.balanceOf(who) + m.weth.balanceOf(who) * m.price_wad() // SCALE


# ============================================================================ a. sandwich


def test_rebalance__with_a_sandwich_past_the_slippage_bound__reverts_in_the_guard_or_the_min_out(
    attack_mkt, chain, keeper, accounts
):
    m, v, attacker = attack_mkt, attack_mkt.vault, accounts[9]
    amount = 3_000 * USDC  # one ETH: inside the delta cap without a hedge
    # the attacker front-runs: buys ETH until the pool stands 1% over the oracle
    arbitrage_to_price(m.d.spot, attacker, Fraction(m.price8(), 10**8) * Fraction(101, 100))
    assert exec_slippage_bps(m, Fraction(m.price8(), 10**8) * Fraction(101, 100), True, amount) > 100
    nav = m.reconcile()
    # a keeper min-out 2% under the oracle lets the swap through the router; RiskGuard catches it
    data = revert_data(
        v.rebalance, m.rebalance_params(chain, spotAmountIn=amount, min_out_bps=200), sender=keeper
    )
    err = decode_error(data, m.guard, "SlippageAboveMax")
    assert err["slippageBps"] > err["maxBps"] == 50 and err["oraclePriceWad"] == m.price_wad()
    # a keeper min-out at the slippage bound: the router itself refuses
    data = revert_data(
        v.rebalance, m.rebalance_params(chain, spotAmountIn=amount, min_out_bps=50), sender=keeper
    )
    assert decode_error(data, m.guard, "Error") == {"reason": "Too little received"}
    # (simulated with eth_call, see revert_data: a transaction would revert as a whole)
    # once an arbitrageur has pulled the pool back to the oracle, the same action goes through
    arbitrage_to_price(m.d.spot, attacker, Fraction(m.price8(), 10**8))
    v.rebalance(m.rebalance_params(chain, spotAmountIn=amount, min_out_bps=50), sender=keeper)
    assert v.actionNonce() == 1 and m.spot.delta() > 0
    assert nav - m.reconcile() <= amount * 50 // BPS + 1


def test_rebalance__with_a_sandwich_just_inside_the_bound__loses_at_most_maxSlippageBps_of_notional(
    attack_mkt, chain, keeper, accounts
):
    m, v, attacker = attack_mkt, attack_mkt.vault, accounts[9]
    amount = 3_000 * USDC
    max_bps = m.guard.params().maxSlippageBps
    target = push_for_slippage(m, True, amount, max_bps)
    attacker_before = wealth(m, attacker)
    arbitrage_to_price(m.d.spot, attacker, target)  # front-run
    nav_before = m.reconcile()
    tx = v.rebalance(m.rebalance_params(chain, spotAmountIn=amount, min_out_bps=200), sender=keeper)
    (swap,) = tx.events.filter(m.spot.Swapped)
    slip = ceil_div((swap.execPriceWad - swap.oraclePriceWad) * BPS, swap.oraclePriceWad)
    assert max_bps - 2 <= slip <= max_bps  # the attacker squeezed the bound
    loss = nav_before - m.reconcile()
    # what the vault paid above the oracle for the WETH it got ...
    assert loss == amount - swap.amountOut * m.price_wad() // SCALE
    # ... is at most the bound on the notional (+1 for the leg's floor)
    assert 0 < loss <= amount * max_bps // BPS + 1
    arbitrage_to_price(m.d.spot, attacker, Fraction(m.price8(), 10**8))  # back-run
    # the attacker takes at most the vault's loss (the pool's LPs keep three swaps' fees): on a trade this
    # small the sandwich does not even pay for itself
    assert wealth(m, attacker) - attacker_before < loss


# ============================================================================ b. stolen keeper key

# The guard as governance might set it loosely: 1% slippage, $50k per action, one action an hour.
LOOSE_GUARD = GuardParams(
    max_net_delta_wad=50 * WAD,
    min_margin_ratio_wad=15 * WAD // 10,
    max_leverage_wad=3 * WAD,
    max_slippage_bps=100,
    min_action_interval_sec=3_600,
    max_notional_per_action_assets=50_000 * USDC,
    delta_trigger_wad=1 * WAD,
    margin_trigger_wad=2 * WAD,
)


def test_keeper_actions__with_a_stolen_key_at_the_guards_limits__lose_at_most_the_documented_bound(
    attack_mkt, project, chain, admin, gov, keeper, accounts
):
    """The bound a stolen keeper key can cost, and that it is reached but never passed.

    Every trading action reports an all-in execution price (pool fee or venue fee included) and its
    notional to RiskGuard, which rejects the action when the price is more than `maxSlippageBps` on the
    adverse side of the oracle, the notional is above `maxNotionalPerActionAssets`, or the previous action
    was less than `minActionIntervalSec` ago. Fees are inside the checked price, so

        NAV loss per action  ≤  notional cap × (maxSlippageBps + venue fees) / 10⁴
                             =  notional cap × maxSlippageBps / 10⁴           (fees already inside)
        NAV loss per day     ≤  ⌈86 400 / minActionIntervalSec⌉ × that

    plus one asset unit of rounding per action (legs mark assets down). With the parameters below:
    $50k × 1% = $500 per action, 24 actions a day: $12,000 a day, 1.2% of a $1M vault. The thief
    cannot move a unit anywhere but the whitelisted venues and back; what the vault loses is what the
    thief's accomplice and the venues' fee takers earn.

    Here the thief churns spot (an accomplice pushes the pool so each swap lands at the slippage bound
    with the full notional), the perp (venue fee only) and options (a 90-day call bought at the ask
    plus fee), an hour apart: every action's NAV loss is measured and checked against the bound.
    """
    m, v, accomplice = attack_mkt, attack_mkt.vault, accounts[9]
    m.guard.setParams(LOOSE_GUARD.as_tuple(), sender=gov)
    g = m.guard.params()
    cap, max_bps, interval = g.maxNotionalPerActionAssets, g.maxSlippageBps, g.minActionIntervalSec
    bound = cap * max_bps // BPS + 1

    losses: list[int] = []
    started = chain.blocks.head.timestamp

    def act(send, push: Fraction | None = None) -> int:
        if push is not None:
            arbitrage_to_price(m.d.spot, accomplice, push)  # front-run
        nav_before = m.reconcile()
        tx = send()
        loss = nav_before - m.reconcile()
        losses.append(loss)
        assert loss <= bound, (loss, bound)
        if push is not None:
            arbitrage_to_price(m.d.spot, accomplice, Fraction(m.price8(), 10**8))  # back-run
        # the next action is only possible an interval later
        data = revert_data(v.rebalance, m.rebalance_params(chain, perpMarginDeltaAssets=1), sender=keeper)
        assert decode_error(data, m.guard, "ActionTooSoon")["minIntervalSec"] == interval
        advance(chain, interval)
        return tx

    # 1. buy the whole notional cap of spot at the slippage bound
    target = push_for_slippage(m, True, cap, max_bps)
    act(lambda: v.rebalance(m.rebalance_params(chain, spotAmountIn=cap, spotMinOut=1), sender=keeper), target)
    assert losses[-1] > cap * (max_bps - 5) // BPS  # the bound is reached, not just respected

    # 2. sell it all back at the bound (a sale's notional is the WETH at the oracle price, ≤ the cap)
    weth = m.spot.delta()
    assert ceil_div(weth * m.price_wad(), SCALE) <= cap
    target = push_for_slippage(m, False, weth, max_bps)
    act(
        lambda: v.rebalance(
            m.rebalance_params(chain, spotBuyEth=False, spotAmountIn=weth, spotMinOut=1), sender=keeper
        ),
        target,
    )
    assert losses[-1] > ceil_div(weth * m.price_wad(), SCALE) * (max_bps - 5) // BPS

    # 3-4. a perp round trip at the cap: each leg of it costs the venue fee
    size = cap * SCALE // m.price_wad()
    act(
        lambda: v.rebalance(
            m.rebalance_params(chain, perpSizeDeltaWad=-size, perpMarginDeltaAssets=30_000 * USDC),
            sender=keeper,
        )
    )
    act(lambda: v.rebalance(m.rebalance_params(chain, perpSizeDeltaWad=size), sender=keeper))
    fee = ceil_div(size * m.price_wad() * m.d.config.perp_fee_bps, BPS * SCALE)
    assert losses[-2] <= fee + 1 and losses[-1] <= fee + 1

    # 5. options: a 90-day at-the-money call bought at the ask plus fee, notional at the cap (a year-dated
    #    one costs ~140 bps over the mark: the guard refuses it)
    sid = m.list_series(gov, chain.blocks.head.timestamp + 90 * 86_400, 3_000.0, is_call=True)
    act(lambda: m.buy_options(chain, keeper, sid, size))
    assert losses[-1] > 0

    # beyond the cap or the slippage bound the guard refuses
    data = revert_data(
        v.rebalance, m.rebalance_params(chain, spotAmountIn=cap + 1, spotMinOut=1), sender=keeper
    )
    assert decode_error(data, m.guard, "NotionalAboveCap") == {"notionalAssets": cap + 1, "capAssets": cap}
    target = push_for_slippage(m, True, cap, max_bps + 10)
    arbitrage_to_price(m.d.spot, accomplice, target)
    data = revert_data(v.rebalance, m.rebalance_params(chain, spotAmountIn=cap, spotMinOut=1), sender=keeper)
    assert decode_error(data, m.guard, "SlippageAboveMax")["slippageBps"] == max_bps + 10

    # over the whole run: at most `bound` per interval
    elapsed = chain.blocks.head.timestamp - started
    actions = len(losses)
    assert actions <= elapsed // interval + 1
    assert sum(losses) <= actions * bound
    assert v.actionNonce() == actions


# ============================================================================ c. reentrancy


@pytest.fixture(scope="module")
def hook_stack(project, admin, gov, keeper, guardian, treasury, whale, fish):
    """A vault on a token with a transfer hook (ReentrantToken), with a PerpLeg at a PerpMarket and an
    OptionLeg at an OptionMarket on that token, a RiskGuard and an InsuranceFund: every transfer a venue
    or the fund makes can call back into the vault, as a hooked token or a malicious venue would."""
    cfg = LocalConfig()
    token = admin.deploy(project.ReentrantToken)
    eth = admin.deploy(project.KeelFeed, 8, "ETH / USD", usd8(3_000))
    funding = admin.deploy(project.KeelFeed, 8, "ETH funding / 8h", 10_000)
    iv = admin.deploy(project.KeelFeed, 8, "ETH IV", 70_000_000)
    vault = deploy_vault(project, admin, gov, keeper, guardian, treasury, token)
    guard = admin.deploy(project.RiskGuard, admin, gov, 50_000_000 * USDC, cfg.guard.as_tuple())
    fund = admin.deploy(
        project.InsuranceFund,
        token,
        vault,
        admin,
        3600,
        gov,
        guardian,
        (1000, 500, 2500, 7 * 86_400, 2 * 86_400),
    )
    perp = admin.deploy(
        project.PerpMarket,
        token,
        eth,
        funding,
        admin,
        3600,
        gov,
        (10**17, 5 * 10**16, 5, 100, 2_000, 75 * 10**14, 2 * 86_400),
    )
    option_oracle = admin.deploy(
        project.OptionOracle, admin, 3600, gov, eth, iv, (2 * 86_400, 5_000, 900), (2 * 86_400, 5_000, 900)
    )
    options = admin.deploy(
        project.OptionMarket,
        token,
        admin.deploy(project.OptionPricer),
        option_oracle,
        admin,
        3600,
        gov,
        (2 * 10**16, 5 * 10**16, 10, 3_600),
    )
    token.mint(gov, 10_000_000 * USDC, sender=admin)
    token.approve(perp, UINT_MAX, sender=gov)
    token.approve(options, UINT_MAX, sender=gov)
    perp.depositPool(5_000_000 * USDC, sender=gov)
    options.depositLiquidity(5_000_000 * USDC, 0, sender=gov)
    perp_leg = admin.deploy(project.PerpLeg, vault, token, perp, 2 * 86_400, 2_000, 900)
    option_leg = admin.deploy(project.OptionLeg, vault, token, options, 2 * 86_400, 2_000, 900)
    vault.addLeg(perp_leg, sender=gov)
    vault.addLeg(option_leg, sender=gov)
    vault.setStrategyLegs(ZERO, perp_leg, option_leg, sender=gov)
    vault.setRiskModules(guard, fund, sender=gov)
    for who in (whale, fish):
        token.mint(who, 10 * DEPOSIT, sender=admin)
        token.approve(vault, UINT_MAX, sender=who)
        token.approve(fund, UINT_MAX, sender=who)
    vault.deposit(DEPOSIT, whale, sender=whale)
    return {
        "token": token,
        "vault": vault,
        "eth": eth,
        "perp": perp,
        "perp_leg": perp_leg,
        "options": options,
        "option_leg": option_leg,
        "fund": fund,
    }


def _rebalance(vault, chain, **kw) -> tuple:
    return tuple(rebalance_fields(vault.actionNonce(), chain.blocks.head.timestamp + 600, **kw).values())


def test_rebalance_report_coverLoss__with_a_venue_or_fund_transfer_reentering__revert_in_the_guard(
    hook_stack, chain, admin, keeper, whale, fish
):
    s = hook_stack
    token, vault, fund = s["token"], s["vault"], s["fund"]
    reenter_deposit = vault.deposit.encode_input(1_000 * USDC, whale)  # shares at a mid-action NAV

    # rebalance: the margin transfer to the perp leg calls back into the vault
    token.arm(vault, reenter_deposit, sender=admin)
    margin = _rebalance(vault, chain, perpSizeDeltaWad=-4 * WAD, perpMarginDeltaAssets=30_000 * USDC)
    with ape.reverts(vault.ReentrancyGuardReentrantCall):
        vault.rebalance(margin, sender=keeper)
    token.arm(ZERO, b"", sender=admin)
    vault.rebalance(margin, sender=keeper)  # unarmed it goes through
    assert s["perp"].position(s["perp_leg"]).sizeWad == -4 * WAD

    # coverLoss: the fund's payment calls back into the vault
    vault.report(vault.actionNonce(), sender=keeper)
    s["eth"].updateAnswer(usd8(3_100), sender=admin)  # the short loses ~$400
    tx = vault.report(vault.actionNonce(), sender=keeper)
    assert tx.events.filter(vault.Reported)[0].pnlAssets < 0
    fund.deposit(10_000 * USDC, sender=fish)
    token.arm(vault, vault.processRedemptions.encode_input(1), sender=admin)
    with ape.reverts(vault.ReentrancyGuardReentrantCall):
        vault.coverLoss(vault.actionNonce(), reason("LIQUIDATION_SHORTFALL"), sender=keeper)
    token.arm(ZERO, b"", sender=admin)
    tx = vault.coverLoss(vault.actionNonce(), reason("LIQUIDATION_SHORTFALL"), sender=keeper)
    assert tx.events.filter(vault.LossCovered)[0].paidAssets > 0

    # report: the skim's transfer to the fund calls back into the vault
    token.mint(vault, 20_000 * USDC, sender=admin)  # a profit to skim
    token.arm(vault, reenter_deposit, sender=admin)
    with ape.reverts(vault.ReentrancyGuardReentrantCall):
        vault.report(vault.actionNonce(), sender=keeper)
    token.arm(ZERO, b"", sender=admin)
    tx = vault.report(vault.actionNonce(), sender=keeper)
    assert tx.events.filter(vault.Reported)[0].skimmedAssets > 0


def test_tradeOptions_settleOptions__with_the_venues_transfers_reentering__revert_in_the_guard(
    hook_stack, chain, admin, gov, keeper, whale
):
    s = hook_stack
    token, vault, options, leg = s["token"], s["vault"], s["options"], s["option_leg"]
    expiry = chain.blocks.head.timestamp + 86_400
    options.listSeries(False, 3_000 * WAD, 0, expiry, sender=gov)
    sid = options.seriesCount() - 1
    collateral = options.collateralRequiredUsdc(sid, 2 * WAD)
    token.mint(leg, collateral, sender=admin)  # collateral already in the leg: the venue pulls it first
    sell = (vault.actionNonce(), chain.blocks.head.timestamp + 600, sid, False, 2 * WAD, 1, 0, False)
    token.arm(vault, vault.deposit.encode_input(1_000 * USDC, whale), sender=admin)
    with ape.reverts(vault.ReentrancyGuardReentrantCall):
        vault.tradeOptions(sell, sender=keeper)
    token.arm(ZERO, b"", sender=admin)
    vault.tradeOptions(sell, sender=keeper)
    assert options.position(leg, sid)[0] == -2 * WAD

    advance(chain, 86_400 + 1)
    s["eth"].updateAnswer(usd8(2_900), sender=admin)  # the settlement round: the short put pays $100
    token.arm(vault, vault.accrueFees.encode_input(), sender=admin)  # the claim's transfer calls back
    with ape.reverts(vault.ReentrancyGuardReentrantCall):
        vault.settleOptions(vault.actionNonce(), sid, 0, sender=keeper)
    token.arm(ZERO, b"", sender=admin)
    tx = vault.settleOptions(vault.actionNonce(), sid, 0, sender=keeper)
    assert tx.events.filter(vault.OptionsSettled)[0].paidAssets == collateral - 200 * USDC


# ============================================================================ d. liquidation


def test_perp_liquidation__with_a_price_jump__is_covered_to_the_fund_cap_and_the_rest_socialised(
    attack_mkt, chain, admin, keeper, fish, stranger, accounts
):
    m, v = attack_mkt, attack_mkt.vault
    # the insurance fund holds $1,000: its draw cap for the period is 25% of that
    m.fund.deposit(1_000 * USDC, sender=fish)
    period = m.fund.currentPeriod()
    assert period.base == 1_000 * USDC and period.cap == 250 * USDC

    # a hedged basis with the thinnest margin the venue takes: its initial margin (10%), ratio ≈ 2
    w = m.weth_for(30_000 * USDC)
    fee = ceil_div(w * m.price_wad() * m.d.config.perp_fee_bps, BPS * SCALE)
    initial = ceil_div(w * m.price_wad() * 10, 100 * SCALE)
    m.vault.rebalance(
        m.rebalance_params(
            chain,
            spotAmountIn=30_000 * USDC,
            perpSizeDeltaWad=-w,
            perpMarginDeltaAssets=initial + fee + 1 * USDC,
        ),
        sender=keeper,
    )
    assert 2 * WAD <= m.perp.marginRatioWad() < 21 * WAD // 10
    base = v.report(v.actionNonce(), sender=keeper).events.filter(v.Reported)[0]
    costs = v.unreportedLoss()
    assert costs == DEPOSIT - base.navAssets > 0  # pool fee and impact, the venue's fee

    # ETH jumps 6.7%: the hedged NAV barely moves, but the short's margin is below maintenance
    m.publish(admin, price8=usd8(3_200))
    m.arbitrage(accounts[9])
    nav_before = m.reconcile()
    assert abs(nav_before - base.navAssets) < 10 * USDC
    assert m.perp_market.isLiquidatable(m.perp)
    assert m.perp.marginRatioWad() < WAD

    tx = m.perp_market.liquidate(m.perp, sender=stranger)
    (liq,) = tx.events.filter(m.perp_market.Liquidated)
    assert liq.sizeClosedWad == -w and liq.priceWad == 3_200 * WAD
    assert liq.penaltyUsdc == ceil_div(w * 3_200 * WAD * m.d.config.perp_liquidation_penalty_bps, BPS * SCALE)
    assert liq.liquidatorRewardUsdc == liq.penaltyUsdc * m.d.config.perp_liquidator_share_bps // BPS
    assert m.perp.delta() == 0 and m.perp.value() == liq.equityUsdc - liq.penaltyUsdc
    nav = m.reconcile()
    assert abs(nav_before - nav - liq.penaltyUsdc) <= 1 * USDC  # the penalty, give or take a second's funding
    assert v.rebalanceTrigger()[0]  # the spot is now unhedged

    # report books it: the loss since the base report
    tx = v.report(v.actionNonce(), sender=keeper)
    (rep,) = tx.events.filter(v.Reported)
    assert rep.pnlAssets == rep.navAssets - base.navAssets < 0 and rep.skimmedAssets == 0
    loss = costs - rep.pnlAssets
    assert v.unreportedLoss() == loss > 250 * USDC

    # coverLoss draws the fund's cap; the rest reaches the share price
    nav, supply = m.reconcile(), v.totalSupply()
    reserve = m.fund.reserve()
    tx = v.coverLoss(v.actionNonce(), reason("LIQUIDATION_SHORTFALL"), sender=keeper)
    (covered,) = tx.events.filter(v.LossCovered)
    (socialised,) = tx.events.filter(v.LossSocialised)
    assert covered.lossAssets == loss and covered.paidAssets == 250 * USDC
    assert socialised.uncoveredAssets == loss - 250 * USDC
    assert m.fund.reserve() == reserve - 250 * USDC
    assert m.fund.coverable() == 0  # the period's cap is spent
    assert v.unreportedLoss() == 0
    nav_after = m.reconcile()
    assert nav_after == nav + 250 * USDC  # the perp is flat: nothing else moves the NAV
    # the share price carries the uncovered part: below par by about that much of the $1M
    price = v.sharePriceWad()
    assert price == (nav_after + 1) * 10**24 // (supply + v.pendingFeeShares() + 10**6)
    assert price < WAD - socialised.uncoveredAssets * WAD // DEPOSIT * 9 // 10
    with ape.reverts(v.NoLossToCover):
        v.coverLoss(v.actionNonce(), reason("LIQUIDATION_SHORTFALL"), sender=keeper)
