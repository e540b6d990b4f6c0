"""Random sequences on the deployed local market with the vault's real legs: deposits, withdrawals and
queued exits by three depositors; time passing at random funding rates and spot moves (the feed, then an
arbitrageur pulls the Uniswap pool to it); hedged rebalances within the guard's bounds, option writes
and buy-backs, settlements, reports and loss cover. Every sequence starts from a live book (a basis and
a short strangle opened in the fixture).

Invariants after every step:
- NAV = idle + Σ leg values, to the unit;
- the insurance fund's balance changes only by report skims (up) and covered losses (down);
- nobody can redeem more than a pro-rata share (`Market.claims`).
"""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from tests.helpers import chain_settings
from tests.leg_helpers import deploy_market
from tests.vault_book import SCALE, USDC, WAD, Market, advance, fund_trader, reason

HOUR = 3_600
MAX_SHORT_OPTIONS = 4 * WAD  # |option delta| stays under the 5 ETH cap whatever the price
MAX_SPOT_SALE_USDC = 40_000 * USDC  # a $40k swap on the $20M pool: ~45 bps, inside the 50 bps bound
FUND_SEED = 5_000 * USDC


@pytest.fixture(scope="module")
def stateful_mkt(project, admin, gov, keeper, guardian, treasury, fish, whale, shark, accounts, chain):
    m = Market.load(project, deploy_market(admin, gov, keeper, guardian, treasury))
    for who in (fish, whale, shark):
        fund_trader(m, admin, who, usdc=10_000_000 * USDC)
    fund_trader(m, admin, accounts[9], usdc=20_000_000 * USDC, weth=5_000 * WAD)
    for who, usd in ((whale, 1_000_000), (fish, 200_000), (shark, 100_000)):
        m.vault.deposit(usd * USDC, who, sender=who)
    m.fund.deposit(FUND_SEED, sender=fish)  # a donor seeds the insurance fund
    now = chain.blocks.head.timestamp
    series = [
        m.list_series(gov, now + 10 * HOUR, 3_100.0, is_call=True),
        m.list_series(gov, now + 10 * HOUR, 2_900.0, is_call=False),
        m.list_series(gov, now + 40 * HOUR, 3_000.0, is_call=True),
    ]
    # every sequence starts from a live book: a $30k basis and a one-ETH short strangle
    m.open_basis(chain, keeper, 30_000 * USDC, 15_000 * USDC)
    for sid in series[:2]:
        m.sell_options(chain, keeper, sid, WAD)
    return m, series


def test_vault_with_legs__with_random_market_and_user_sequences__keeps_nav_fund_and_claims_invariants(
    stateful_mkt, chain, admin, keeper, fish, whale, shark, stranger, treasury, accounts
):
    m, series = stateful_mkt
    v, arb = m.vault, accounts[9]
    actors = [fish, whale, shark]
    expiries = sorted({m.option_market.series(sid).expiry for sid in series})

    class LegsMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snap = chain.snapshot()
            self.reserve = m.fund.reserve()
            self.requests: list[int] = []
            self.rounded: set[int] = set()  # expiries that have their settlement round

        def teardown(self) -> None:
            chain.restore(self.snap)

        # ------------------------------------------------------------ helpers
        def _now(self) -> int:
            return chain.blocks.head.timestamp

        def _short_options(self) -> int:
            return sum(-min(m.option_market.position(m.option, sid)[0], 0) for sid in series)

        # ------------------------------------------------------------ depositors
        @rule(i=st.integers(0, 2), usd=st.integers(1_000, 300_000))
        def deposit(self, i, usd):
            v.deposit(usd * USDC, actors[i], sender=actors[i])

        @rule(i=st.integers(0, 2), pct=st.integers(1, 100))
        def withdraw(self, i, pct):
            # what is withdrawable moves every second (fees, funding, theta): the next block, where the
            # withdrawal runs, may allow a hair less than this block's view
            assets = v.maxWithdraw(actors[i]) * pct // 100 * 999_999 // 1_000_000
            if assets == 0:
                return
            v.withdraw(assets, actors[i], actors[i], sender=actors[i])

        @rule(i=st.integers(0, 2), pct=st.integers(1, 100))
        def queue_exit(self, i, pct):
            """Queue a redemption, let the keeper pay what the idle cash allows, claim what was paid."""
            shares = v.balanceOf(actors[i]) * pct // 100
            if shares == 0:
                return
            tx = v.requestRedeem(shares, actors[i], sender=actors[i])
            self.requests.append(tx.events.filter(v.RedeemRequested)[0].requestId)
            v.processRedemptions(5, sender=keeper)
            for rid in self.requests:
                if v.redeemRequest(rid).claimable:
                    v.claimRedeem(rid, sender=stranger)

        # ------------------------------------------------------------ market
        @rule(hours=st.integers(0, 24), rate8=st.integers(-5_000, 10_000), bps=st.integers(-150, 150))
        def market(self, hours, rate8, bps):
            """`hours` pass at a new funding rate (0.01% per 8 h = 10_000): each expiry gets its settlement
            round and the feeds are republished. Then ETH moves `bps` and an arbitrageur pulls the Uniswap
            pool to the new price. (No pokes: moves of ≤ 1.5% a step never reach the legs' 20% breaker.)"""
            if hours:
                target = self._now() + hours * HOUR
                for e in expiries:
                    if e < target and e not in self.rounded:
                        if self._now() < e:
                            advance(chain, e - self._now() + 1)
                        m.feed.updateAnswer(m.price8(), sender=admin)  # the first round after expiry
                        self.rounded.add(e)
                advance(chain, max(target - self._now(), 1))
                m.publish(admin, rate8=rate8)
            if bps:
                m.feed.updateAnswer(m.price8() * (10_000 + bps) // 10_000, sender=admin)
                m.arbitrage(arb)

        # ------------------------------------------------------------ keeper
        @rule(usd=st.integers(3_000, 40_000))
        def open_basis(self, usd):
            """Buy `usd` of spot and short the WETH it buys, with half of it as margin."""
            if v.liquidAssets() < usd * USDC * 2:
                return
            m.arbitrage(arb)  # the vault's own swaps moved the pool: an arbitrageur restores it first
            m.open_basis(chain, keeper, usd * USDC, usd * USDC // 2)

        @rule(pct=st.integers(1, 100))
        def unwind_basis(self, pct):
            """Sell part of the spot and buy back as much of the short; half the margin share comes home."""
            weth = min(m.spot.delta() * pct // 100, MAX_SPOT_SALE_USDC * SCALE // m.price_wad())
            short = -m.perp.delta()
            weth = min(weth, short)
            if weth < 10**15:
                return
            margin = m.perp_market.position(m.perp).marginUsdc * weth // short // 2
            m.arbitrage(arb)
            params = m.rebalance_params(
                chain,
                spotBuyEth=False,
                spotAmountIn=weth,
                perpSizeDeltaWad=weth,
                perpMarginDeltaAssets=-margin,
            )
            v.rebalance(params, sender=keeper)

        @rule(k=st.integers(0, 2), tenths=st.integers(5, 20))
        def write_options(self, k, tenths):
            sid, size = series[k], tenths * WAD // 10
            if m.option_market.series(sid).expiry < self._now() + 2 * HOUR:
                return
            if self._short_options() + size > MAX_SHORT_OPTIONS:
                return
            if v.liquidAssets() < m.option_market.collateralRequiredUsdc(sid, size) * 2:
                return
            m.sell_options(chain, keeper, sid, size)

        @rule(k=st.integers(0, 2), pct=st.integers(1, 100))
        def buy_back_options(self, k, pct):
            sid = series[k]
            held = m.option_market.position(m.option, sid)[0]
            size = -held * pct // 100
            if size < 10**15 or m.option_market.series(sid).expiry < self._now() + 2 * HOUR:
                return
            if v.liquidAssets() < 2 * sum(m.option_market.quote(sid, True, size)):
                return
            m.buy_options(chain, keeper, sid, size)

        @rule()
        def settle_expired(self):
            for sid in series:
                expiry = m.option_market.series(sid).expiry
                if expiry in self.rounded and m.option_market.position(m.option, sid)[0]:
                    v.settleOptions(v.actionNonce(), sid, 0, sender=keeper)

        @rule()
        def report_and_cover(self):
            """The keeper's routine: report, then draw any loss reported from the insurance fund."""
            tx = v.report(v.actionNonce(), sender=keeper)
            self.reserve += tx.events.filter(v.Reported)[0].skimmedAssets
            if v.unreportedLoss() > 0:
                tx = v.coverLoss(v.actionNonce(), reason("OTHER"), sender=keeper)
                self.reserve -= tx.events.filter(v.LossCovered)[0].paidAssets

        # ------------------------------------------------------------ invariants
        @invariant()
        def nav_is_idle_plus_legs(self):
            m.reconcile()

        @invariant()
        def the_fund_moves_only_by_skims_and_covers(self):
            assert m.fund.reserve() == self.reserve

        @invariant()
        def nobody_redeems_more_than_their_share(self):
            m.claims(actors)

    run_state_machine_as_test(
        LegsMachine,
        settings=settings(parent=chain_settings, max_examples=15, stateful_step_count=10),
    )
