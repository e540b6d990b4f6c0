"""Management and performance fees: accrual matches the integer reference model to the unit, the
high-water mark prevents double charging, and the hard maxima hold."""

from __future__ import annotations

import ape
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import USDC, chain_settings, fund_leg_with_gain, isolated
from tests.vault_model import BPS, YEAR, quote_fees, share_price_wad, to_shares


def _accrue_and_compare(chain, vault, treasury, stranger, mgmt_bps, perf_bps):
    """Accrue now and assert minted shares, high-water mark and event equal the model."""
    a, s = vault.totalAssets(), vault.totalSupply()
    last, hwm = vault.lastFeeAccrual(), vault.highWaterMarkWad()
    before = vault.balanceOf(treasury)
    pending_view = vault.pendingFeeShares()
    tx = vault.accrueFees(sender=stranger)
    q = quote_fees(a, s, tx.timestamp - last, mgmt_bps, perf_bps, hwm)
    minted = vault.balanceOf(treasury) - before
    assert minted == q.fee_shares
    assert vault.highWaterMarkWad() == q.high_water_mark_wad
    events = tx.events.filter(vault.FeesAccrued)
    if mgmt_bps == 0 and perf_bps == 0:
        assert minted == 0 and not events  # fees off: nothing accrues, nothing is written
        return q
    assert vault.lastFeeAccrual() == tx.timestamp
    ev = events[0]
    assert ev.managementFeeAssets == q.management_fee_assets
    assert ev.performanceFeeAssets == q.performance_fee_assets
    assert ev.feeShares == q.fee_shares
    # The view one block earlier can only be lower (less time elapsed), never higher.
    assert pending_view <= minted
    return q


@chain_settings
@given(
    elapsed=st.integers(min_value=1, max_value=3 * YEAR),
    mgmt_bps=st.integers(min_value=0, max_value=200),
    perf_bps=st.integers(min_value=0, max_value=2000),
    deposit=st.integers(min_value=1, max_value=10**9 * USDC),
    gain_bps=st.integers(min_value=-5000, max_value=20000),
)
def test_accrueFees__with_random_time_and_pnl__matches_reference_to_the_unit(
    chain,
    vault,
    leg,
    usdc,
    gov,
    keeper,
    admin,
    whale,
    treasury,
    stranger,
    elapsed,
    mgmt_bps,
    perf_bps,
    deposit,
    gain_bps,
):
    with isolated(chain):
        vault.setManagementFee(mgmt_bps, sender=gov)
        vault.setPerformanceFee(perf_bps, sender=gov)
        vault.deposit(deposit, whale, sender=whale)
        deployed = deposit // 2
        fund_leg_with_gain(vault, leg, usdc, keeper, admin, deployed, deployed * gain_bps // BPS, stranger)
        chain.pending_timestamp += elapsed
        q = _accrue_and_compare(chain, vault, treasury, stranger, mgmt_bps, perf_bps)
        if mgmt_bps == 0 and perf_bps == 0:
            assert q.fee_shares == 0


def test_accrueFees__with_management_fee_only__charges_linear_rate(
    chain, vault, gov, whale, treasury, stranger
):
    vault.setManagementFee(200, sender=gov)
    vault.deposit(1_000_000 * USDC, whale, sender=whale)
    chain.pending_timestamp += YEAR
    q = _accrue_and_compare(chain, vault, treasury, stranger, 200, 0)
    # 2% of 1,000,000 USDC over one year (plus the seconds the deposit tx itself took).
    assert 20_000 * USDC <= q.management_fee_assets <= 20_000 * USDC + 10 * USDC
    # The recipient's shares are worth the fee, give or take rounding.
    worth = vault.convertToAssets(vault.balanceOf(treasury))
    assert abs(worth - q.management_fee_assets) <= 2


def test_accrueFees__with_gain_loss_and_recovery__high_water_mark_prevents_double_charge(
    chain, vault, leg, usdc, gov, keeper, admin, whale, treasury, stranger
):
    vault.setPerformanceFee(2000, sender=gov)
    vault.deposit(1_000_000 * USDC, whale, sender=whale)
    vault.fundLeg(leg, 500_000 * USDC, sender=keeper)

    usdc.mint(leg, 100_000 * USDC, sender=admin)  # +10%
    q1 = _accrue_and_compare(chain, vault, treasury, stranger, 0, 2000)
    assert 19_999 * USDC <= q1.performance_fee_assets <= 20_000 * USDC
    hwm1 = vault.highWaterMarkWad()
    charged_shares = vault.balanceOf(treasury)

    leg.loseAssets(stranger, 100_000 * USDC, sender=admin)  # back down
    q2 = _accrue_and_compare(chain, vault, treasury, stranger, 0, 2000)
    assert q2.fee_shares == 0
    assert vault.highWaterMarkWad() == hwm1  # the mark never falls

    usdc.mint(leg, 100_000 * USDC, sender=admin)  # recovery to the old level is not profit
    q3 = _accrue_and_compare(chain, vault, treasury, stranger, 0, 2000)
    assert vault.sharePriceWad() <= hwm1 + 1
    assert q3.performance_fee_assets <= 1
    assert vault.balanceOf(treasury) - charged_shares <= 10**6  # at most dust shares

    usdc.mint(leg, 50_000 * USDC, sender=admin)  # a new high: only the excess is charged
    q4 = _accrue_and_compare(chain, vault, treasury, stranger, 0, 2000)
    assert 9_900 * USDC <= q4.performance_fee_assets <= 10_000 * USDC


def test_setPerformanceFee__after_uncharged_gains__is_not_retroactive(
    chain, vault, leg, usdc, gov, keeper, admin, whale, treasury, stranger
):
    vault.deposit(1_000_000 * USDC, whale, sender=whale)
    vault.fundLeg(leg, 500_000 * USDC, sender=keeper)
    usdc.mint(leg, 100_000 * USDC, sender=admin)
    vault.setPerformanceFee(2000, sender=gov)
    assert vault.highWaterMarkWad() == share_price_wad(vault.totalAssets(), vault.totalSupply())
    vault.accrueFees(sender=stranger)
    assert vault.balanceOf(treasury) == 0


def test_previewDeposit__with_pending_fees__equals_shares_minted(
    chain, vault, leg, usdc, gov, keeper, admin, whale, fish, treasury
):
    vault.setManagementFee(200, sender=gov)
    vault.setPerformanceFee(2000, sender=gov)
    vault.deposit(1_000_000 * USDC, whale, sender=whale)
    vault.fundLeg(leg, 400_000 * USDC, sender=keeper)
    usdc.mint(leg, 70_000 * USDC, sender=admin)
    chain.pending_timestamp += 90 * 24 * 3600
    chain.mine(timestamp=chain.pending_timestamp)  # so the preview sees the elapsed time
    # The preview includes the fees accrued so far; the deposit mints exactly what a preview at
    # its own block gives (the fee shares it mints first are already in the price).
    preview = vault.previewDeposit(12_345 * USDC)
    a, s = vault.totalAssets(), vault.totalSupply()
    last, hwm = vault.lastFeeAccrual(), vault.highWaterMarkWad()
    tx = vault.deposit(12_345 * USDC, fish, sender=fish)
    q = quote_fees(a, s, tx.timestamp - last, 200, 2000, hwm)
    assert tx.events.filter(vault.FeesAccrued)[0].feeShares == q.fee_shares > 0
    minted = vault.balanceOf(fish)
    assert minted == to_shares(12_345 * USDC, a, s + q.fee_shares)
    # A later block only adds management fee, which lowers the price: never fewer shares.
    assert minted >= preview


def test_setFeeRecipient__with_accrued_fees__pays_old_recipient_first(
    chain, vault, gov, whale, treasury, stranger
):
    vault.setManagementFee(200, sender=gov)
    vault.deposit(1_000_000 * USDC, whale, sender=whale)
    chain.pending_timestamp += YEAR // 2
    vault.setFeeRecipient(stranger, sender=gov)
    assert vault.balanceOf(treasury) > 0
    assert vault.balanceOf(stranger) == 0
    assert vault.feeRecipient() == stranger


@pytest.mark.parametrize(
    "setter,value,error,maximum",
    [
        ("setManagementFee", 201, "ManagementFeeTooHigh", 200),
        ("setManagementFee", 10_000, "ManagementFeeTooHigh", 200),
        ("setPerformanceFee", 2001, "PerformanceFeeTooHigh", 2000),
        ("setPerformanceFee", 2**255, "PerformanceFeeTooHigh", 2000),
    ],
)
def test_fee_setters__above_hard_maximum__revert_with_values(vault, gov, setter, value, error, maximum):
    with ape.reverts(getattr(vault, error), feeBps=value, maxFeeBps=maximum):
        getattr(vault, setter)(value, sender=gov)


def test_fee_setters__at_hard_maximum__succeed_and_emit(vault, gov):
    tx = vault.setManagementFee(200, sender=gov)
    assert tx.events.filter(vault.ManagementFeeSet)[0].newFeeBps == 200
    tx = vault.setPerformanceFee(2000, sender=gov)
    assert tx.events.filter(vault.PerformanceFeeSet)[0].newFeeBps == 2000
    assert (vault.managementFeeBps(), vault.performanceFeeBps()) == (200, 2000)


def test_setFeeRecipient__with_zero_address__reverts(vault, gov):
    with ape.reverts(vault.ZeroAddress, field="feeRecipient"):
        vault.setFeeRecipient("0x0000000000000000000000000000000000000000", sender=gov)
