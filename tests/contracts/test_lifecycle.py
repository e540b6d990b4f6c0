"""Pause, shutdown, the legs registry and the NAV sum, bad inputs, and the reentrancy guard."""

from __future__ import annotations

import ape
import pytest

from tests.conftest import deploy_vault
from tests.helpers import USDC

ZERO = "0x0000000000000000000000000000000000000000"


# --------------------------------------------------------------------------- pause / shutdown


def test_pauseDeposits__with_holders__blocks_deposits_keeps_withdrawals(vault, guardian, gov, fish):
    vault.deposit(100 * USDC, fish, sender=fish)
    tx = vault.pauseDeposits(sender=guardian)
    assert tx.events.filter(vault.DepositsPaused)[0].by == guardian
    assert vault.maxDeposit(fish) == 0 and vault.maxMint(fish) == 0
    with ape.reverts(vault.ERC4626ExceededMaxDeposit, receiver=fish, assets=1, max=0):
        vault.deposit(1, fish, sender=fish)
    with ape.reverts(vault.ERC4626ExceededMaxMint, receiver=fish, shares=1, max=0):
        vault.mint(1, fish, sender=fish)
    vault.withdraw(10 * USDC, fish, fish, sender=fish)
    vault.redeem(vault.maxRedeem(fish) // 2, fish, fish, sender=fish)
    with ape.reverts(vault.PauseUnchanged, paused=True):
        vault.pauseDeposits(sender=guardian)
    vault.unpauseDeposits(sender=gov)
    vault.deposit(1 * USDC, fish, sender=fish)
    with ape.reverts(vault.PauseUnchanged, paused=False):
        vault.unpauseDeposits(sender=gov)


def test_shutdown__with_positions__closes_deposits_and_new_positions_keeps_exits(
    project, admin, vault, leg, usdc, guardian, gov, keeper, fish, whale, stranger
):
    vault.deposit(1_000 * USDC, fish, sender=fish)
    vault.deposit(1_000 * USDC, whale, sender=whale)
    vault.fundLeg(leg, 1_500 * USDC, sender=keeper)
    vault.requestRedeem(vault.balanceOf(whale), whale, sender=whale)
    tx = vault.shutdown(sender=guardian)
    assert tx.events.filter(vault.Shutdown)[0].by == guardian
    assert vault.isShutdown()
    with ape.reverts(vault.ERC4626ExceededMaxDeposit):
        vault.deposit(1, fish, sender=fish)
    with ape.reverts(vault.VaultShutdown):
        vault.fundLeg(leg, 1, sender=keeper)
    with ape.reverts(vault.VaultShutdown):
        vault.addLeg(admin.deploy(project.MockLeg, vault, usdc), sender=gov)
    with ape.reverts(vault.VaultShutdown):
        vault.unpauseDeposits(sender=gov)
    with ape.reverts(vault.VaultShutdown):
        vault.shutdown(sender=guardian)
    # unwinding and exits go on
    vault.releaseFromLeg(leg, 1_500 * USDC, sender=keeper)
    vault.processRedemptions(10, sender=stranger)
    vault.claimRedeem(0, sender=stranger)
    assert usdc.balanceOf(whale) > 0
    vault.redeem(vault.maxRedeem(fish), fish, fish, sender=fish)
    assert vault.balanceOf(fish) == 0


# --------------------------------------------------------------------------- legs registry


def test_totalAssets__with_several_legs__is_idle_plus_sum_of_leg_values(
    project, admin, vault, leg, usdc, gov, keeper, whale
):
    leg2 = admin.deploy(project.MockLeg, vault, usdc)
    vault.addLeg(leg2, sender=gov)
    vault.deposit(10_000 * USDC, whale, sender=whale)
    vault.fundLeg(leg, 3_000 * USDC, sender=keeper)
    vault.fundLeg(leg2, 2_000 * USDC, sender=keeper)
    leg.setMarkup(123_456, sender=admin)
    leg2.setMarkup(-654_321, sender=admin)
    idle = usdc.balanceOf(vault)
    assert vault.totalAssets() == idle + leg.value() + leg2.value()
    assert vault.totalAssets() == 10_000 * USDC + 123_456 - 654_321
    assert list(vault.legs()) == [leg.address, leg2.address]


def test_addLeg__with_bad_legs__reverts_with_reason(project, admin, vault, leg, usdc, gov, keeper, whale):
    other_vault = deploy_vault(project, admin, gov, keeper, gov, gov, usdc)
    wrong_vault = admin.deploy(project.MockLeg, other_vault, usdc)
    with ape.reverts(vault.LegMismatch, leg=wrong_vault, legVault=other_vault, legAsset=usdc):
        vault.addLeg(wrong_vault, sender=gov)
    other_token = admin.deploy(project.MockUSDC)
    wrong_asset = admin.deploy(project.MockLeg, vault, other_token)
    with ape.reverts(vault.LegMismatch, leg=wrong_asset, legVault=vault, legAsset=other_token):
        vault.addLeg(wrong_asset, sender=gov)
    with ape.reverts(vault.LegAlreadyAdded, leg=leg):
        vault.addLeg(leg, sender=gov)
    with ape.reverts(vault.ZeroAddress, field="leg"):
        vault.addLeg(ZERO, sender=gov)
    full = admin.deploy(project.MockLeg, vault, usdc)
    usdc.mint(full, 5, sender=admin)
    with ape.reverts(vault.LegNotEmpty, leg=full, value=5):
        vault.addLeg(full, sender=gov)
    for _ in range(vault.MAX_LEGS() - 1):
        vault.addLeg(admin.deploy(project.MockLeg, vault, usdc), sender=gov)
    ninth = admin.deploy(project.MockLeg, vault, usdc)
    with ape.reverts(vault.TooManyLegs, count=9, maxCount=8):
        vault.addLeg(ninth, sender=gov)


def test_removeLeg__only_when_unwound(project, admin, vault, leg, usdc, gov, keeper, whale, stranger):
    leg2 = admin.deploy(project.MockLeg, vault, usdc)
    vault.addLeg(leg2, sender=gov)
    vault.deposit(1_000 * USDC, whale, sender=whale)
    vault.fundLeg(leg, 100 * USDC, sender=keeper)
    with ape.reverts(vault.LegNotEmpty, leg=leg, value=100 * USDC):
        vault.removeLeg(leg, sender=gov)
    with ape.reverts(vault.LegNotFound, leg=stranger):
        vault.removeLeg(stranger, sender=gov)
    released = vault.releaseFromLeg(leg, 500 * USDC, sender=keeper).return_value
    assert released == 100 * USDC  # only what the leg holds comes back
    tx = vault.removeLeg(leg, sender=gov)
    assert tx.events.filter(vault.LegRemoved)[0].leg == leg
    assert list(vault.legs()) == [leg2.address] and not vault.isLeg(leg)
    with ape.reverts(vault.LegNotFound, leg=leg):
        vault.fundLeg(leg, 1, sender=keeper)


def test_fundLeg__beyond_liquid_assets__reverts(vault, leg, keeper, whale):
    vault.deposit(1_000 * USDC, whale, sender=whale)
    with ape.reverts(vault.InsufficientIdle, requested=1_001 * USDC, available=1_000 * USDC):
        vault.fundLeg(leg, 1_001 * USDC, sender=keeper)
    with ape.reverts(vault.ZeroAmount, field="assets"):
        vault.fundLeg(leg, 0, sender=keeper)
    with ape.reverts(vault.ZeroAmount, field="assets"):
        vault.releaseFromLeg(leg, 0, sender=keeper)


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("op", ["deposit", "mint", "withdraw", "redeem"])
def test_entry_points__with_zero_amount__revert_named(vault, fish, op):
    vault.deposit(100 * USDC, fish, sender=fish)
    args = (0, fish) if op in ("deposit", "mint") else (0, fish, fish)
    with ape.reverts(vault.ZeroSharesOrAssets, assets=0, shares=0):
        getattr(vault, op)(*args, sender=fish)


@pytest.mark.parametrize("op", ["deposit", "mint", "withdraw", "redeem"])
def test_entry_points__with_zero_receiver__revert_named(vault, fish, op):
    vault.deposit(100 * USDC, fish, sender=fish)
    args = (10**6, ZERO) if op in ("deposit", "mint") else (10**6, ZERO, fish)
    with ape.reverts(vault.ZeroAddress, field="receiver"):
        getattr(vault, op)(*args, sender=fish)


def test_entry_points__above_max__revert_with_values(vault, gov, fish):
    vault.setDepositCap(1_000 * USDC, sender=gov)
    with ape.reverts(vault.ERC4626ExceededMaxDeposit, receiver=fish, assets=1_001 * USDC, max=1_000 * USDC):
        vault.deposit(1_001 * USDC, fish, sender=fish)
    vault.deposit(400 * USDC, fish, sender=fish)
    mw = vault.maxWithdraw(fish)
    with ape.reverts(vault.ERC4626ExceededMaxWithdraw, owner=fish, assets=mw + 1, max=mw):
        vault.withdraw(mw + 1, fish, fish, sender=fish)
    with ape.reverts(vault.DepositCapTooHigh, cap=2**96, maxCap=2**96 - 1):
        vault.setDepositCap(2**96, sender=gov)


def test_constructor__with_zero_roles__reverts_named(project, admin, gov, keeper, guardian, treasury, usdc):
    with ape.reverts(project.KeelVault.ZeroAddress, field="keeper"):
        deploy_vault(project, admin, gov, ZERO, guardian, treasury, usdc)
    with ape.reverts(project.KeelVault.ZeroAddress, field="feeRecipient"):
        deploy_vault(project, admin, gov, keeper, guardian, ZERO, usdc)
    with ape.reverts(project.KeelVault.DepositCapTooHigh):
        deploy_vault(project, admin, gov, keeper, guardian, treasury, usdc, cap=2**96)


# --------------------------------------------------------------------------- reentrancy


def test_deposit__reentered_from_token_hook__reverts_with_guard(
    project, admin, gov, keeper, guardian, treasury, fish
):
    token = admin.deploy(project.ReentrantToken)
    v = deploy_vault(project, admin, gov, keeper, guardian, treasury, token)
    token.mint(fish, 1_000 * USDC, sender=admin)
    token.approve(v, 2**256 - 1, sender=fish)
    v.deposit(100 * USDC, fish, sender=fish)
    # During the next transferFrom the token calls back into the vault (as an ERC-777 hook could).
    reenter = v.redeem.encode_input(10**12, fish, fish)
    token.arm(v, reenter, sender=admin)
    with ape.reverts(v.ReentrancyGuardReentrantCall):
        v.deposit(100 * USDC, fish, sender=fish)
    reenter = v.processRedemptions.encode_input(1)
    token.arm(v, reenter, sender=admin)
    with ape.reverts(v.ReentrancyGuardReentrantCall):
        v.withdraw(10 * USDC, fish, fish, sender=fish)
