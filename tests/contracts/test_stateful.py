"""Random sequences of deposits, mints, withdrawals, redemptions, queued exits, donations, gains,
losses, leg moves and time by several accounts, with the accounting invariants checked after
every step."""

from __future__ import annotations

import ape
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from tests.helpers import USDC, chain_settings
from tests.vault_model import BPS, PRICE_SCALE, VIRTUAL_SHARES, YEAR

MGMT_BPS = 200
PERF_BPS = 2000

fractions = st.integers(min_value=1, max_value=100)  # percent
amounts = st.integers(min_value=1, max_value=10**8 * USDC)


def test_vault__random_sequences__keep_accounting_invariants(
    chain, vault, leg, usdc, gov, keeper, admin, fish, whale, shark, treasury, stranger
):
    actors = [fish, whale, shark]
    v = vault
    v.setManagementFee(MGMT_BPS, sender=gov)
    v.setPerformanceFee(PERF_BPS, sender=gov)

    class VaultMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snap = chain.snapshot()
            self.requests: list[int] = []

        def teardown(self) -> None:
            chain.restore(self.snap)

        # -- helpers -------------------------------------------------------------------
        def _state(self):
            supply = v.totalSupply()
            effective = supply + v.pendingFeeShares()
            # The node's latest block, not ape's cached head: the bound below needs the real dt.
            now = chain.provider.web3.eth.get_block("latest")["timestamp"]
            return now, v.sharePriceWad(), supply, v.totalAssets(), effective

        def _neutral(self, action) -> None:
            """An action that must not move the share price except by fees and rounding."""
            t0, p0, _, a0, e0 = self._state()
            action()
            t1, p1, s1, _, _ = self._state()
            # The management fee over the elapsed seconds - charged on gross assets, spread over the
            # supply including pending fee shares - plus rounding: each quote floors the fee assets
            # and the fee shares separately (each in the holders' favour), so the difference of two
            # quotes can exceed the exact fee by a few asset units or one share's worth.
            mgmt = a0 * MGMT_BPS * (t1 - t0) * PRICE_SCALE // (BPS * YEAR * (e0 + VIRTUAL_SHARES))
            fee_drop = mgmt + (3 * PRICE_SCALE + 2 * p0) // (min(e0, s1) + VIRTUAL_SHARES) + 2
            # Rounding for the vault gains it at most a few asset units or one share's worth.
            dust = (3 * PRICE_SCALE + 2 * p0) // (s1 + VIRTUAL_SHARES) + 1
            assert p1 >= p0 - fee_drop, (
                f"price fell {p0}->{p1} beyond fees: t0={t0} t1={t1} a0={a0} e0={e0} s1={s1} "
                f"mgmt={mgmt} last={v.lastFeeAccrual()} hwm={v.highWaterMarkWad()}"
            )
            assert p1 <= p0 + dust, f"price rose {p0}->{p1} beyond rounding"

        # -- depositors ----------------------------------------------------------------
        @rule(i=st.integers(0, 2), assets=amounts)
        def deposit(self, i, assets):
            a = actors[i]
            if assets > v.maxDeposit(a) or v.previewDeposit(assets) == 0 or assets > usdc.balanceOf(a):
                return
            self._neutral(lambda: v.deposit(assets, a, sender=a))

        @rule(i=st.integers(0, 2), shares=st.integers(min_value=1, max_value=10**20))
        def mint(self, i, shares):
            a = actors[i]
            cost = v.previewMint(shares)
            if shares > v.maxMint(a) or cost == 0 or cost > usdc.balanceOf(a):
                return
            self._neutral(lambda: v.mint(shares, a, sender=a))

        @rule(i=st.integers(0, 2), pct=fractions)
        def withdraw(self, i, pct):
            a = actors[i]
            assets = v.maxWithdraw(a) * pct // 100
            if assets == 0:
                return
            self._neutral(lambda: v.withdraw(assets, a, a, sender=a))

        @rule(i=st.integers(0, 2), pct=fractions)
        def redeem(self, i, pct):
            a = actors[i]
            shares = v.maxRedeem(a) * pct // 100
            if shares == 0 or v.previewRedeem(shares) == 0:
                return
            self._neutral(lambda: v.redeem(shares, a, a, sender=a))

        @rule(i=st.integers(0, 2), pct=fractions)
        def request(self, i, pct):
            a = actors[i]
            shares = v.balanceOf(a) * pct // 100
            if shares == 0:
                return

            def go():
                self.requests.append(v.requestRedeem(shares, a, sender=a).return_value)

            self._neutral(go)

        @rule(k=st.integers(0, 50))
        def cancel(self, k):
            if not self.requests:
                return
            rid = self.requests[k % len(self.requests)]
            r = v.redeemRequest(rid)
            if r.shares == 0:
                with ape.reverts(v.UnknownRequest):
                    v.cancelRedeem(rid, sender=r.owner)
                return
            self._neutral(lambda: v.cancelRedeem(rid, sender=r.owner))

        @rule(k=st.integers(0, 50))
        def claim(self, k):
            if not self.requests:
                return
            rid = self.requests[k % len(self.requests)]
            r = v.redeemRequest(rid)
            if r.claimable == 0:
                return
            before = usdc.balanceOf(r.receiver)
            self._neutral(lambda: v.claimRedeem(rid, sender=stranger))
            assert usdc.balanceOf(r.receiver) - before == r.claimable

        # -- keeper --------------------------------------------------------------------
        @rule(n=st.integers(1, 5))
        def process(self, n):
            self._neutral(lambda: v.processRedemptions(n, sender=keeper))

        @rule(pct=fractions)
        def fund(self, pct):
            assets = v.liquidAssets() * pct // 100
            if assets:
                self._neutral(lambda: v.fundLeg(leg, assets, sender=keeper))

        @rule(pct=fractions)
        def release(self, pct):
            assets = usdc.balanceOf(leg) * pct // 100
            if assets:
                self._neutral(lambda: v.releaseFromLeg(leg, assets, sender=keeper))

        # -- market --------------------------------------------------------------------
        @rule(assets=amounts)
        def donate(self, assets):
            usdc.mint(stranger, assets, sender=admin)
            p0 = v.sharePriceWad()
            usdc.transfer(v, assets, sender=stranger)
            assert v.sharePriceWad() >= p0 - p0 * MGMT_BPS * 5 // (BPS * YEAR) - 2

        @rule(assets=amounts)
        def gain(self, assets):
            usdc.mint(leg, assets, sender=admin)

        @rule(pct=fractions)
        def loss(self, pct):
            assets = usdc.balanceOf(leg) * pct // 100
            if assets:
                p0 = v.sharePriceWad()
                leg.loseAssets(stranger, assets, sender=admin)
                assert v.sharePriceWad() <= p0

        @rule(seconds=st.integers(1, 60 * 24 * 3600))
        def wait(self, seconds):
            p0 = v.sharePriceWad()
            chain.pending_timestamp += seconds
            chain.mine(timestamp=chain.pending_timestamp)
            assert v.sharePriceWad() <= p0  # time alone only costs the management fee

        # -- invariants ----------------------------------------------------------------
        @invariant()
        def balances_sum_to_supply(self):
            holders = [*actors, treasury, v]
            assert sum(v.balanceOf(h) for h in holders) == v.totalSupply()
            assert v.balanceOf(v) == v.queuedShares()

        @invariant()
        def nobody_redeems_more_than_their_share(self):
            a = v.totalAssets()
            s = v.totalSupply() + v.pendingFeeShares()
            holders = [*actors, treasury, v]
            values = [v.previewRedeem(v.balanceOf(h)) for h in holders]
            assert sum(values) <= a
            for h, val in zip(holders, values, strict=True):
                b = v.balanceOf(h)
                assert val <= -(-a * b // s) if s else val == 0

        @invariant()
        def claims_are_covered(self):
            assert usdc.balanceOf(v) >= v.totalClaimable()
            assert v.liquidAssets() <= v.idleAssets()

    run_state_machine_as_test(
        VaultMachine,
        settings=settings(parent=chain_settings, max_examples=10, stateful_step_count=25),
    )
