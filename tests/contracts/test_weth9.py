"""WETH9 (contracts/mocks/WETH9.sol): wrapping, unwrapping and the ERC-20 rules of the canonical WETH9.

The Uniswap periphery's use of it (router wraps msg.value, unwrapWETH9) is covered in
test_univ3_market.py.
"""

from __future__ import annotations

import ape
import pytest

from tests.helpers import MAX_UINT

ETH = 10**18


@pytest.fixture(scope="module")
def weth(project, admin, fish, whale, shark, stranger):
    del fish, whale, shark, stranger  # created before any test snapshot (ape isolation)
    return admin.deploy(project.WETH9)


def test_metadata__with_fresh_deployment__is_wrapped_ether_18_decimals(weth):
    assert (weth.name(), weth.symbol(), weth.decimals(), weth.totalSupply()) == (
        "Wrapped Ether",
        "WETH",
        18,
        0,
    )


def test_deposit__with_value__credits_sender_and_emits_deposit(weth, fish):
    tx = weth.deposit(sender=fish, value=3 * ETH)
    assert weth.balanceOf(fish) == 3 * ETH
    assert weth.totalSupply() == 3 * ETH == weth.balance
    event = tx.events.filter(weth.Deposit)[0]
    assert (event.dst, event.wad) == (fish, 3 * ETH)


def test_receive__with_plain_ether_transfer__wraps_for_sender(weth, fish):
    tx = fish.transfer(weth, 2 * ETH)
    assert weth.balanceOf(fish) == 2 * ETH
    assert tx.events.filter(weth.Deposit)[0].dst == fish


def test_fallback__with_unknown_function__reverts_instead_of_depositing(weth, fish):
    with ape.reverts():
        fish.transfer(weth, ETH, data="0xd505accf")  # permit(...): WETH9 has none
    assert weth.balanceOf(fish) == 0


def test_withdraw__with_balance__burns_and_sends_ether(weth, fish):
    weth.deposit(sender=fish, value=5 * ETH)
    eth_before = fish.balance
    tx = weth.withdraw(2 * ETH, sender=fish)
    assert weth.balanceOf(fish) == 3 * ETH == weth.totalSupply()
    assert fish.balance == eth_before + 2 * ETH - tx.total_fees_paid
    event = tx.events.filter(weth.Withdrawal)[0]
    assert (event.src, event.wad) == (fish, 2 * ETH)


def test_withdraw__with_more_than_balance__reverts_insufficient_balance(weth, fish):
    weth.deposit(sender=fish, value=ETH)
    with ape.reverts(weth.InsufficientBalance, account=fish, balance=ETH, needed=ETH + 1):
        weth.withdraw(ETH + 1, sender=fish)


def test_withdraw__with_recipient_rejecting_ether__reverts_eth_transfer_failed(project, admin, weth, fish):
    # ReentrantToken has no receive(): armed, it calls weth.withdraw from itself on its next transfer
    hook = admin.deploy(project.ReentrantToken)
    weth.deposit(sender=fish, value=ETH)
    weth.transfer(hook, ETH, sender=fish)
    hook.arm(weth, weth.withdraw.encode_input(ETH), sender=admin)
    with ape.reverts(weth.EthTransferFailed, to=hook, amount=ETH):
        hook.mint(admin, 1, sender=admin)
    assert weth.balanceOf(hook) == ETH


def test_transfer__with_balance__moves_tokens_and_emits_transfer(weth, fish, whale):
    weth.deposit(sender=fish, value=ETH)
    tx = weth.transfer(whale, ETH // 4, sender=fish)
    assert (weth.balanceOf(fish), weth.balanceOf(whale)) == (ETH * 3 // 4, ETH // 4)
    event = tx.events.filter(weth.Transfer)[0]
    assert (event.src, event.dst, event.wad) == (fish, whale, ETH // 4)


def test_transfer__to_self__leaves_balance_unchanged(weth, fish):
    weth.deposit(sender=fish, value=ETH)
    weth.transfer(fish, ETH, sender=fish)
    assert weth.balanceOf(fish) == ETH


def test_transfer__with_more_than_balance__reverts_insufficient_balance(weth, fish, whale):
    with ape.reverts(weth.InsufficientBalance, account=fish, balance=0, needed=1):
        weth.transfer(whale, 1, sender=fish)


def test_transfer_from__with_allowance__spends_allowance(weth, fish, whale, shark):
    weth.deposit(sender=fish, value=ETH)
    tx = weth.approve(shark, ETH // 2, sender=fish)
    assert tx.events.filter(weth.Approval)[0].wad == ETH // 2
    weth.transferFrom(fish, whale, ETH // 5, sender=shark)
    assert weth.allowance(fish, shark) == ETH // 2 - ETH // 5
    assert weth.balanceOf(whale) == ETH // 5


def test_transfer_from__with_max_allowance__never_decreases_it(weth, fish, whale, shark):
    weth.deposit(sender=fish, value=ETH)
    weth.approve(shark, MAX_UINT, sender=fish)
    weth.transferFrom(fish, whale, ETH, sender=shark)
    assert weth.allowance(fish, shark) == MAX_UINT


def test_transfer_from__by_owner_itself__needs_no_allowance(weth, fish, whale):
    weth.deposit(sender=fish, value=ETH)
    weth.transferFrom(fish, whale, ETH, sender=fish)
    assert weth.balanceOf(whale) == ETH


def test_transfer_from__beyond_allowance__reverts_insufficient_allowance(weth, fish, whale, shark):
    weth.deposit(sender=fish, value=ETH)
    weth.approve(shark, 10, sender=fish)
    with ape.reverts(weth.InsufficientAllowance, owner=fish, spender=shark, allowed=10, needed=11):
        weth.transferFrom(fish, whale, 11, sender=shark)
