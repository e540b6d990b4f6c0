"""ERC-4626 behaviour: rounding direction of every conversion and preview, previews against
execution, round trips, max* functions, and the inflation (donation) attack."""

from __future__ import annotations

import ape
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import MAX_UINT, SHARE, USDC, chain_settings, isolated
from tests.vault_model import quote_fees, to_assets, to_shares

ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture
def odd_vault(chain, vault, leg, usdc, gov, keeper, admin, whale, fish):
    """A vault whose share price is not a round number, with fees on and accruing."""
    vault.setManagementFee(150, sender=gov)
    vault.setPerformanceFee(1500, sender=gov)
    vault.deposit(987_654_321_987, whale, sender=whale)
    vault.deposit(3_333_333, fish, sender=fish)
    vault.fundLeg(leg, 400_000_000_000, sender=keeper)
    usdc.mint(leg, 12_345_678_901, sender=admin)  # +1.25% gain marked in the leg
    chain.pending_timestamp += 17 * 24 * 3600 + 13
    chain.mine(timestamp=chain.pending_timestamp)
    return vault


amounts = st.integers(min_value=0, max_value=10**15 * USDC)


def _pre_state(v) -> tuple[int, int, int, int]:
    return v.totalAssets(), v.totalSupply(), v.lastFeeAccrual(), v.highWaterMarkWad()


def _supply_at(pre: tuple[int, int, int, int], timestamp: int) -> int:
    """Total supply plus the fee shares the vault accrues at `timestamp` (odd_vault's 150/1500 bps),
    from the state read before the transaction."""
    a, s, last, hwm = pre
    return s + quote_fees(a, s, timestamp - last, 150, 1500, hwm).fee_shares


share_amounts = st.integers(min_value=0, max_value=10**15 * SHARE)


@given(x=amounts, y=share_amounts)
@chain_settings.__class__(parent=chain_settings, max_examples=60)
def test_conversions__with_odd_price_and_pending_fees__round_in_vault_favour(odd_vault, x, y):
    v = odd_vault
    a = v.totalAssets()
    s = v.totalSupply() + v.pendingFeeShares()
    assert v.pendingFeeShares() > 0
    # Converting and previewing what the user receives rounds down; what the user pays rounds up.
    assert v.convertToShares(x) == v.previewDeposit(x) == to_shares(x, a, s)
    assert v.previewWithdraw(x) == to_shares(x, a, s, up=True)
    assert v.convertToAssets(y) == v.previewRedeem(y) == to_assets(y, a, s)
    assert v.previewMint(y) == to_assets(y, a, s, up=True)
    # and therefore: receive ≤ pay for the same quantity
    assert v.previewDeposit(x) <= v.previewWithdraw(x)
    assert v.previewRedeem(y) <= v.previewMint(y)


@given(assets=st.integers(min_value=1, max_value=10**12 * USDC), wait=st.integers(0, 400 * 24 * 3600))
@chain_settings
def test_deposit_then_redeem__never_profits(chain, odd_vault, shark, assets, wait):
    v = odd_vault
    with isolated(chain):
        preview = v.previewDeposit(assets)
        if preview == 0:
            with ape.reverts(v.ZeroSharesOrAssets):
                v.deposit(assets, shark, sender=shark)
            return
        pre = _pre_state(v)
        tx = v.deposit(assets, shark, sender=shark)
        shares = tx.return_value
        # What a preview in the same block as the deposit gives: the floor at that block's price.
        assert shares == to_shares(assets, pre[0], _supply_at(pre, tx.timestamp)) == v.balanceOf(shark)
        chain.pending_timestamp += wait
        chain.mine(timestamp=chain.pending_timestamp)
        if v.previewRedeem(shares) == 0:  # dust worth nothing: refused, not burned for 0
            with ape.reverts(v.ZeroSharesOrAssets, assets=0, shares=shares):
                v.redeem(shares, shark, shark, sender=shark)
            return
        out = v.redeem(shares, shark, shark, sender=shark).return_value
        assert out <= assets


@given(shares=st.integers(min_value=1, max_value=10**12 * SHARE))
@chain_settings
def test_mint_then_withdraw__never_profits(chain, odd_vault, usdc, shark, shares):
    v = odd_vault
    with isolated(chain):
        pre = _pre_state(v)
        before = usdc.balanceOf(shark)
        tx = v.mint(shares, shark, sender=shark)
        paid = tx.return_value
        assert before - usdc.balanceOf(shark) == paid
        # What a preview in the same block as the mint gives: the ceiling at that block's price.
        assert paid == to_assets(shares, pre[0], _supply_at(pre, tx.timestamp), up=True)
        # Getting the same assets back must burn at least the shares minted.
        if paid <= v.maxWithdraw(shark):
            burned_needed = v.previewWithdraw(paid)
            assert burned_needed >= shares or v.balanceOf(shark) < burned_needed
        left = v.balanceOf(shark)
        if v.previewRedeem(left) > 0:
            out = v.redeem(left, shark, shark, sender=shark).return_value
            assert out <= paid


@given(assets=st.integers(min_value=1, max_value=10**12 * USDC))
@chain_settings
def test_deposit_then_withdraw__burns_at_least_minted(chain, odd_vault, shark, assets):
    v = odd_vault
    with isolated(chain):
        if v.previewDeposit(assets) == 0:
            return
        minted = v.deposit(assets, shark, sender=shark).return_value
        available = v.maxWithdraw(shark)
        assert available <= assets
        if available == 0:
            return
        # The withdrawal lands one block (one second of fees) after maxWithdraw was read: leave a
        # millionth for that second's management fee (1.5%/year is ~5e-10 a second).
        amount = available - available // 10**6
        burned = v.withdraw(amount, shark, shark, sender=shark).return_value
        assert burned <= minted
        # Withdrawing everything you put in is not possible: rounding and fees keep it below.
        assert v.convertToAssets(v.balanceOf(shark)) + amount <= assets


def _max_all(v, who):
    return (v.maxDeposit(who), v.maxMint(who), v.maxWithdraw(who), v.maxRedeem(who))


def test_max_functions__in_every_state__never_revert_and_are_honoured(
    chain, vault, leg, usdc, gov, keeper, guardian, admin, whale, fish, stranger
):
    v = vault
    holders = [whale, fish, stranger, ZERO]
    for who in holders:  # empty vault
        assert _max_all(v, who)[2:] == (0, 0)

    v.deposit(500_000 * USDC, whale, sender=whale)
    v.deposit(1_000 * USDC, fish, sender=fish)
    v.fundLeg(leg, 450_000 * USDC, sender=keeper)
    for who in holders:
        md, mm, mw, mr = _max_all(v, who)
        assert mw <= v.liquidAssets() and v.previewRedeem(mr) <= v.liquidAssets()
    # the whale can take only what is liquid: max* is honoured exactly
    mr = v.maxRedeem(whale)
    assert 0 < mr < v.balanceOf(whale)
    with ape.reverts(v.ERC4626ExceededMaxRedeem, owner=whale, shares=mr + 1, max=mr):
        v.redeem(mr + 1, whale, whale, sender=whale)
    v.redeem(mr, whale, whale, sender=whale)
    assert v.maxWithdraw(whale) <= 1

    # cap reached: maxDeposit is 0 and honoured
    v.setDepositCap(v.totalAssets(), sender=gov)
    assert _max_all(v, fish)[:2] == (0, 0)
    with ape.reverts(v.ERC4626ExceededMaxDeposit, receiver=fish, assets=1, max=0):
        v.deposit(1, fish, sender=fish)
    v.setDepositCap(v.MAX_DEPOSIT_CAP(), sender=gov)
    assert v.maxMint(fish) == v.convertToShares(v.maxDeposit(fish))

    # total loss in the leg: assets ≈ 0 with shares outstanding
    leg.loseAssets(stranger, usdc.balanceOf(leg), sender=admin)
    v.setManagementFee(200, sender=gov)
    v.setPerformanceFee(2000, sender=gov)
    chain.pending_timestamp += 10 * 365 * 24 * 3600
    chain.mine(timestamp=chain.pending_timestamp)
    for who in holders:
        _max_all(v, who)

    # paused, then shut down
    v.pauseDeposits(sender=guardian)
    assert _max_all(v, fish)[:2] == (0, 0)
    v.shutdown(sender=guardian)
    for who in holders:
        md, mm, mw, mr = _max_all(v, who)
        assert (md, mm) == (0, 0)
    usdc.transfer(v, 100_000 * USDC, sender=stranger)  # fresh idle cash after the loss
    assert v.maxRedeem(fish) > 0  # exits stay open after shutdown
    v.redeem(v.maxRedeem(fish), fish, fish, sender=fish)


def test_maxMint__with_unlimited_cap__does_not_overflow(vault, gov, whale):
    vault.setDepositCap(vault.MAX_DEPOSIT_CAP(), sender=gov)
    vault.deposit(1, whale, sender=whale)
    assert vault.maxMint(whale) > 0
    assert vault.maxDeposit(whale) < MAX_UINT


# --------------------------------------------------------------------------- inflation attack


@given(
    donation=st.integers(min_value=1, max_value=10**12 * USDC),
    factor_bps=st.integers(min_value=10_000, max_value=1_000_000),
)
@chain_settings.__class__(parent=chain_settings, max_examples=15)
def test_deposit__after_one_unit_and_donation_attack__victim_loses_under_0_1_percent(
    chain, vault, usdc, shark, fish, donation, factor_bps
):
    victim_assets = donation * factor_bps // 10_000  # the victim deposits ≥ the donation
    with isolated(chain):
        usdc.mint(fish, victim_assets, sender=fish)
        usdc.mint(shark, donation, sender=shark)
        shark_start = usdc.balanceOf(shark)
        vault.deposit(1, shark, sender=shark)
        usdc.transfer(vault, donation, sender=shark)
        shares = vault.deposit(victim_assets, fish, sender=fish).return_value
        assert shares > 0
        victim_out = vault.previewRedeem(shares)
        loss = victim_assets - victim_out
        # Rounding costs the victim at most one unit plus one share's worth (≈ X / 2e6) ...
        assert loss <= 1 + victim_assets // 10**6, f"victim lost {loss} of {victim_assets}"
        # ... which is under 0.1% for any deposit that is not itself dust (≥ 0.001 USDC).
        if victim_assets >= 1000:
            assert loss * 1000 < victim_assets, f"victim lost {loss} of {victim_assets}"
        # and the attacker does not profit
        vault.redeem(vault.maxRedeem(shark), shark, shark, sender=shark)
        assert usdc.balanceOf(shark) <= shark_start


def test_deposit__with_dust_after_donation__reverts_instead_of_minting_zero(vault, usdc, shark, fish):
    vault.deposit(1, shark, sender=shark)
    usdc.transfer(vault, 10**9 * USDC, sender=shark)
    assert vault.previewDeposit(1) == 0
    with ape.reverts(vault.ZeroSharesOrAssets, assets=1, shares=0):
        vault.deposit(1, fish, sender=fish)
