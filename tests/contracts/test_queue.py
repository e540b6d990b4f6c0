"""Queued exits: escrow, FIFO processing at the price of the moment, partial fills, claims,
cancellation, and the liquidity reserved for the queue."""

from __future__ import annotations

import ape

from tests.helpers import USDC
from tests.vault_model import to_assets


def _deploy_most(vault, leg, keeper, keep_idle):
    vault.fundLeg(leg, vault.idleAssets() - keep_idle, sender=keeper)


def test_requestRedeem__when_idle_cannot_pay__escrows_and_pays_fifo_at_processing_price(
    chain, vault, leg, usdc, admin, keeper, fish, whale, stranger
):
    vault.deposit(100_000 * USDC, whale, sender=whale)
    vault.deposit(10_000 * USDC, fish, sender=fish)
    _deploy_most(vault, leg, keeper, 1_000 * USDC)
    whale_shares = vault.balanceOf(whale)
    assert vault.maxRedeem(whale) < whale_shares  # idle cannot pay: must queue

    tx = vault.requestRedeem(whale_shares, stranger, sender=whale)
    assert tx.return_value == 0
    ev = tx.events.filter(vault.RedeemRequested)[0]
    assert (ev.owner, ev.receiver, ev.shares) == (whale, stranger, whale_shares)
    assert vault.balanceOf(whale) == 0 and vault.balanceOf(vault) == whale_shares
    fish_id = vault.requestRedeem(vault.balanceOf(fish), fish, sender=fish).return_value
    assert fish_id == 1
    # The queue owns the idle cash: direct withdrawals cannot jump it.
    assert vault.liquidAssets() == 0

    usdc.mint(leg, 11_000 * USDC, sender=admin)  # +10% while waiting: paid at the new price
    vault.releaseFromLeg(leg, 120_000 * USDC, sender=keeper)
    a, s = vault.totalAssets(), vault.totalSupply()
    tx = vault.processRedemptions(1, sender=keeper)
    expected = to_assets(whale_shares, a, s)
    ev = tx.events.filter(vault.RedeemProcessed)[0]
    assert (ev.requestId, ev.shares, ev.assets, ev.remainingShares) == (0, whale_shares, expected, 0)
    assert expected > 109_000 * USDC
    assert vault.totalClaimable() == expected
    assert vault.queueBounds() == (1, 2)  # FIFO: only the first was processed

    vault.processRedemptions(10, sender=keeper)
    assert vault.queuedShares() == 0 and vault.queueBounds() == (2, 2)
    before = usdc.balanceOf(stranger)
    tx = vault.claimRedeem(0, sender=fish)  # anyone may trigger; funds go to the receiver
    assert usdc.balanceOf(stranger) - before == expected
    assert tx.events.filter(vault.RedeemClaimed)[0].receiver == stranger
    with ape.reverts(vault.NothingToClaim, requestId=0):
        vault.claimRedeem(0, sender=stranger)
    vault.claimRedeem(fish_id, sender=fish)
    assert vault.totalClaimable() == 0
    assert vault.totalSupply() == 0


def test_processRedemptions__with_partial_liquidity__fills_part_and_keeps_rest_at_head(
    vault, leg, keeper, whale, fish
):
    vault.deposit(100_000 * USDC, whale, sender=whale)
    _deploy_most(vault, leg, keeper, 0)
    shares = vault.balanceOf(whale)
    vault.requestRedeem(shares, whale, sender=whale)
    vault.releaseFromLeg(leg, 30_000 * USDC, sender=keeper)
    tx = vault.processRedemptions(10, sender=keeper)
    ev = tx.events.filter(vault.RedeemProcessed)[0]
    assert ev.assets <= 30_000 * USDC and ev.assets >= 30_000 * USDC - 1
    assert ev.remainingShares == shares - ev.shares > 0
    assert vault.queueBounds()[0] == 0  # still at the head
    assert vault.redeemRequest(0).claimable == ev.assets
    vault.releaseFromLeg(leg, 70_000 * USDC, sender=keeper)
    vault.processRedemptions(10, sender=keeper)
    assert vault.redeemRequest(0).shares == 0
    assert vault.claimRedeem(0, sender=whale).return_value >= 100_000 * USDC - 2


def test_processRedemptions__with_no_idle__pays_nothing_and_keeps_queue(vault, leg, keeper, whale):
    vault.deposit(1_000 * USDC, whale, sender=whale)
    _deploy_most(vault, leg, keeper, 0)
    vault.requestRedeem(vault.balanceOf(whale), whale, sender=whale)
    processed, paid = vault.processRedemptions(5, sender=keeper).return_value
    assert (processed, paid) == (0, 0)
    assert vault.queueBounds() == (0, 1)


def test_cancelRedeem__returns_remaining_shares_and_is_skipped(vault, leg, keeper, whale, fish, stranger):
    vault.deposit(1_000 * USDC, whale, sender=whale)
    vault.deposit(1_000 * USDC, fish, sender=fish)
    _deploy_most(vault, leg, keeper, 0)
    w = vault.balanceOf(whale)
    vault.requestRedeem(w, whale, sender=whale)
    vault.requestRedeem(vault.balanceOf(fish), fish, sender=fish)
    with ape.reverts(vault.NotRequestOwner, requestId=0, caller=stranger, owner=whale):
        vault.cancelRedeem(0, sender=stranger)
    tx = vault.cancelRedeem(0, sender=whale)
    assert tx.events.filter(vault.RedeemCancelled)[0].shares == w
    assert vault.balanceOf(whale) == w
    with ape.reverts(vault.UnknownRequest, requestId=0):
        vault.cancelRedeem(0, sender=whale)
    with ape.reverts(vault.UnknownRequest, requestId=7):
        vault.cancelRedeem(7, sender=whale)
    vault.releaseFromLeg(leg, 2_000 * USDC, sender=keeper)
    tx = vault.processRedemptions(10, sender=keeper)
    evs = tx.events.filter(vault.RedeemProcessed)
    assert [e.requestId for e in evs] == [1]  # the cancelled request is skipped
    assert vault.queueBounds() == (2, 2)


def test_requestRedeem__with_bad_inputs__reverts_named(vault, fish, stranger, keeper):
    vault.deposit(10 * USDC, fish, sender=fish)
    bal = vault.balanceOf(fish)
    with ape.reverts(vault.ZeroAmount, field="shares"):
        vault.requestRedeem(0, fish, sender=fish)
    with ape.reverts(vault.ZeroAddress, field="receiver"):
        vault.requestRedeem(1, "0x0000000000000000000000000000000000000000", sender=fish)
    with ape.reverts(vault.InsufficientShares, owner=fish, shares=bal + 1, balance=bal):
        vault.requestRedeem(bal + 1, fish, sender=fish)
    with ape.reverts(vault.InvalidMaxCount, maxCount=0):
        vault.processRedemptions(0, sender=keeper)


def test_liquidAssets__with_queue_and_fresh_deposit__serves_queue_first(vault, leg, keeper, whale, fish):
    vault.deposit(1_000 * USDC, whale, sender=whale)
    _deploy_most(vault, leg, keeper, 0)
    vault.requestRedeem(vault.balanceOf(whale), whale, sender=whale)
    vault.deposit(1_500 * USDC, fish, sender=fish)
    owed = vault.convertToAssets(vault.queuedShares())
    assert abs(vault.liquidAssets() - (1_500 * USDC - owed)) <= 1
    with ape.reverts(vault.InsufficientIdle):
        vault.fundLeg(leg, 1_000 * USDC, sender=keeper)  # keeper cannot deploy the queue's cash
