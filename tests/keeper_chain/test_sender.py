"""keeper.chain.sender on anvil, with faults injected over anvil's RPC.

Time is a fake clock advanced by the sender's own `sleep`; each test's sleep hook mines blocks and
injects the fault (base-fee spike, congestion, dropped tx, reorg, a competing user of the key), so
nothing depends on the wall clock. Automine and the block gas limit are always restored.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest
from eth_abi import encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector
from web3 import Web3
from web3.exceptions import TransactionNotFound

from keeper.chain.sender import (
    GWEI,
    FeePolicy,
    RpcUnavailable,
    Sender,
    SignerInUseError,
    TxIntent,
    bump_fee,
)

USDC = 10**6
ETH = 10**18
CAP = 100 * GWEI
TIP = 1 * GWEI


def _calldata(signature: str, types: list[str], args: list) -> bytes:
    return function_signature_to_4byte_selector(signature) + encode(types, args)


def transfer(token, to: str, amount: int, label: str = "transfer") -> TxIntent:
    data = _calldata("transfer(address,uint256)", ["address", "uint256"], [to, amount])
    return TxIntent(to=str(token.address), data=data, label=label)


def burn_data(who: str, amount: int) -> bytes:
    return _calldata("burn(address,uint256)", ["address", "uint256"], [who, amount])


def policy(**kw) -> FeePolicy:
    base = {
        "max_fee_per_gas_wei": CAP,
        "max_priority_fee_wei": TIP,
        "confirmations": 1,
        "replace_after_blocks": 2,
        "receipt_timeout_sec": 60,
        "fee_wait_timeout_sec": 10,
        "poll_interval_sec": 1,
    }
    return FeePolicy(**(base | kw))


class FakeTime:
    """The sender's clock and sleep. Each sleep advances the clock and calls `hook(n)` (n = 1, 2, ...)."""

    def __init__(self, hook: Callable[[int], None] | None = None) -> None:
        self.now = 1_000.0
        self.sleeps = 0
        self.hook = hook

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sleeps += 1
        if self.hook is not None:
            self.hook(self.sleeps)


@pytest.fixture
def sender_w3(networks) -> Web3:
    return Web3(Web3.HTTPProvider(networks.provider.uri, exception_retry_configuration=None))


@pytest.fixture
def sender_rpc(sender_w3):
    """Raw anvil RPC. The next base fee starts at 1 gwei; automine, the block gas limit and the base fee
    are restored afterwards whatever the test did (anvil's evm_revert, ape's isolation, keeps the
    base fee a test left behind)."""
    gas_limit = sender_w3.eth.get_block("latest")["gasLimit"]
    base_fee = sender_w3.eth.get_block("pending")["baseFeePerGas"]

    def rpc(method: str, params: list | None = None):
        response = sender_w3.provider.make_request(method, params or [])
        assert "error" not in response, response
        return response.get("result")

    rpc("anvil_setNextBlockBaseFeePerGas", [hex(GWEI)])
    yield rpc
    sender_w3.provider.make_request("evm_setAutomine", [True])
    sender_w3.provider.make_request("evm_setBlockGasLimit", [hex(gas_limit)])
    sender_w3.provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(base_fee)])


@pytest.fixture
def sender_signer(sender_rpc):
    """A fresh key with 10 ETH of gas money."""
    acct = Account.create()
    sender_rpc("anvil_setBalance", [acct.address, hex(10 * ETH)])
    return acct


@pytest.fixture
def sender_helper(sender_rpc):
    """Another funded key (a competing transactor) that signs raw transactions."""
    acct = Account.create()
    sender_rpc("anvil_setBalance", [acct.address, hex(10 * ETH)])
    return acct


@pytest.fixture
def sender_token(usdc, admin, sender_signer):
    """MockUSDC with 1,000 USDC at the signer."""
    usdc.mint(sender_signer.address, 1_000 * USDC, sender=admin)
    return usdc


@pytest.fixture
def sender_errors(project):
    abi = project.MockUSDC.contract_type.abi
    return [e.model_dump(mode="json", by_alias=True) for e in abi if e.type == "error"]


@pytest.fixture
def sender_factory(networks, sender_signer, sender_rpc, sender_errors):
    """make(policy, hook=..., account=...) -> (Sender, FakeTime); by default every sleep mines a block."""
    made: list[Sender] = []

    def make(pol: FeePolicy | None = None, hook=None, account=None, **kw):
        t = FakeTime(hook if hook is not None else (lambda n: sender_rpc("evm_mine")))
        sender = Sender.from_rpc_url(
            networks.provider.uri,
            account or sender_signer,
            pol or policy(),
            clock=t.clock,
            sleep=t.sleep,
            error_abi=sender_errors,
            **kw,
        )
        made.append(sender)
        return sender, t

    yield make
    for s in made:
        s.close()


def raw_tx(w3: Web3, acct, nonce: int, to: str, *, data=b"", value=0, tip: int, gas=100_000):
    """Sign and send a raw tx (another process or another account), maxFee 3 × base + tip."""
    base = w3.eth.get_block("pending")["baseFeePerGas"]
    tx = {
        "type": 2,
        "chainId": w3.eth.chain_id,
        "nonce": nonce,
        "to": to,
        "data": data,
        "value": value,
        "gas": gas,
        "maxFeePerGas": 3 * base + tip,
        "maxPriorityFeePerGas": tip,
    }
    return w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)


def no_receipt(w3: Web3, tx_hash: str) -> bool:
    try:
        w3.eth.get_transaction_receipt(tx_hash)
    except TransactionNotFound:
        return True
    return False


def pool_hash(rpc, address: str, nonce: int) -> str:
    pending = rpc("txpool_content")["pending"]
    by_sender = {k.lower(): v for k, v in pending.items()}[address.lower()]
    return by_sender[str(nonce)]["hash"]


# --- happy path


def test_send__with_a_transfer_and_two_confirmations__confirms_it_once(
    sender_factory, sender_token, sender_w3, sender_signer, stranger
):
    sender, _ = sender_factory(policy(confirmations=2))
    before = sender_token.balanceOf(stranger)
    result = sender.send(transfer(sender_token, stranger.address, 10 * USDC, "rebalance nonce=0"))
    assert result.status == "confirmed" and result.ok and result.error is None
    assert result.label == "rebalance nonce=0"
    assert result.tx_hashes == (result.tx_hash,) and result.nonce == 0 and result.replacements == 0
    assert sender_w3.eth.block_number >= result.block_number + 1  # two confirmations
    assert sender_w3.eth.get_block(result.block_number)["hash"].hex() == result.block_hash.removeprefix("0x")
    assert result.gas_used > 0 and result.effective_gas_price <= CAP
    assert result.fees[0][0] <= CAP and result.fees[0][1] == TIP
    assert sender_token.balanceOf(stranger) == before + 10 * USDC
    assert sender_w3.eth.get_transaction_count(sender_signer.address) == 1 == sender.next_nonce
    assert sender.pending_info() == (0.0, 0)


# --- never send what would revert


@pytest.mark.parametrize("with_abi", [True, False], ids=["decoded", "selector"])
def test_send__with_a_call_that_reverts__fails_simulation_and_broadcasts_nothing(
    sender_factory, sender_token, sender_w3, sender_signer, stranger, with_abi, networks
):
    if with_abi:
        sender, _ = sender_factory()
    else:
        sender = Sender.from_rpc_url(networks.provider.uri, sender_signer, policy(), exclusive=False)
    result = sender.send(transfer(sender_token, stranger.address, 5_000 * USDC))
    assert result.status == "simulation_failed" and result.tx_hashes == ()
    if with_abi:
        assert result.error.startswith(f"ERC20InsufficientBalance({sender_signer.address}, {1_000 * USDC}, ")
    else:
        assert result.error.startswith("custom error 0xe450d38c")
    assert sender_w3.eth.get_transaction_count(sender_signer.address, "pending") == 0


def test_send__with_no_gas_money__reports_insufficient_funds_and_broadcasts_nothing(
    sender_factory, sender_token, sender_w3, sender_signer, sender_rpc, stranger
):
    sender_rpc("anvil_setBalance", [sender_signer.address, hex(10_000)])
    sender, _ = sender_factory()
    result = sender.send(transfer(sender_token, stranger.address, USDC))
    assert result.status == "insufficient_funds" and result.tx_hashes == ()
    assert "balance 10000 wei < gas" in result.error
    assert sender_w3.eth.get_transaction_count(sender_signer.address, "pending") == 0


def test_send__with_a_tx_that_reverts_after_simulation__reports_reverted_with_the_reason(
    sender_factory, sender_token, sender_w3, sender_signer, sender_helper, sender_rpc, stranger
):
    """Simulation passed, then another account's tx (higher tip, same block) burnt the tokens first."""
    sender_rpc("evm_setAutomine", [False])

    def hook(n: int) -> None:
        if n == 1:
            data = burn_data(sender_signer.address, 1_000 * USDC)
            raw_tx(sender_w3, sender_helper, 0, str(sender_token.address), data=data, tip=50 * GWEI)
        sender_rpc("evm_mine")

    sender, _ = sender_factory(hook=hook)
    result = sender.send(transfer(sender_token, stranger.address, 1_000 * USDC))
    sender_rpc("evm_setAutomine", [True])
    assert result.status == "reverted" and result.tx_hash == result.tx_hashes[0]
    assert "ERC20InsufficientBalance" in result.error
    assert sender_token.balanceOf(sender_signer.address) == 0


# --- fees and stuck txs


def test_send__with_base_fee_spike_while_pending__resigns_same_nonce_with_bumped_fees_once(
    sender_factory, sender_token, sender_w3, sender_signer, sender_rpc, stranger
):
    """anvil evicts a pending tx whose maxFee is below the new base fee; the sender re-signs it."""
    sender_rpc("evm_setAutomine", [False])

    def hook(n: int) -> None:
        if n == 1:
            sender_rpc("anvil_setNextBlockBaseFeePerGas", [hex(30 * GWEI)])
        sender_rpc("evm_mine")

    sender, _ = sender_factory(hook=hook)
    before = sender_token.balanceOf(stranger)
    result = sender.send(transfer(sender_token, stranger.address, 7 * USDC))
    sender_rpc("evm_setAutomine", [True])

    assert result.status == "confirmed" and result.replacements == 1
    first, second = result.tx_hashes
    assert result.tx_hash == second and no_receipt(sender_w3, first)
    (max0, tip0), (max1, tip1) = result.fees
    assert tip1 == bump_fee(tip0, 0.125) and bump_fee(max0, 0.125) <= max1 <= CAP
    mined = sender_w3.eth.get_transaction(second)
    assert (mined["maxFeePerGas"], mined["maxPriorityFeePerGas"], mined["nonce"]) == (max1, tip1, 0)
    assert sender_token.balanceOf(stranger) == before + 7 * USDC
    assert sender_w3.eth.get_transaction_count(sender_signer.address) == 1


def test_send__with_congested_blocks__replaces_the_stuck_tx_in_the_pool_with_bumped_fees(
    sender_factory, sender_token, sender_w3, sender_signer, sender_helper, sender_rpc, stranger
):
    """Fuller, higher-tip txs take every block; after 2 blocks the sender replaces its tx (+12.5%)."""
    intent = transfer(sender_token, stranger.address, 3 * USDC)
    call = {"from": sender_signer.address, "to": intent.to, "data": intent.data}
    estimate = sender_w3.eth.estimate_gas(call)
    gas_limit = -(-estimate * 12 // 10)
    sender_rpc("evm_setBlockGasLimit", [hex(gas_limit + 10_000)])  # fits ours alone, not with a filler
    sender_rpc("evm_setAutomine", [False])

    def hook(n: int) -> None:
        if n <= 2:
            raw_tx(sender_w3, sender_helper, n - 1, sender_helper.address, value=1, tip=50 * GWEI, gas=21_000)
        sender_rpc("evm_mine")

    sender, _ = sender_factory(hook=hook)
    before = sender_token.balanceOf(stranger)
    result = sender.send(intent)
    sender_rpc("evm_setAutomine", [True])

    assert result.status == "confirmed" and result.replacements == 1
    first, second = result.tx_hashes
    assert result.tx_hash == second and no_receipt(sender_w3, first)
    (max0, tip0), (max1, tip1) = result.fees
    assert tip1 == bump_fee(tip0, 0.125) and bump_fee(max0, 0.125) <= max1 <= CAP
    assert sender_token.balanceOf(stranger) == before + 3 * USDC
    assert sender_w3.eth.get_transaction_count(sender_signer.address) == 1


def test_send__with_base_fee_above_the_cap__waits_and_sends_nothing_then_sends_under_the_cap(
    sender_factory, sender_token, sender_w3, sender_signer, sender_rpc, stranger
):
    sender_rpc("anvil_setNextBlockBaseFeePerGas", [hex(2 * CAP)])
    sender_rpc("evm_mine")
    waiting, t = sender_factory(policy(fee_wait_timeout_sec=5), hook=lambda n: None)
    result = waiting.send(transfer(sender_token, stranger.address, USDC))
    assert result.status == "fee_cap_reached" and result.tx_hashes == () and t.sleeps >= 5
    assert "stayed above the cap" in result.error
    assert sender_w3.eth.get_transaction_count(sender_signer.address, "pending") == 0
    waiting.close()

    # each empty block lowers the base fee by 12.5%: after a few it is under the cap and the tx goes
    patient, t = sender_factory(policy(fee_wait_timeout_sec=30))
    result = patient.send(transfer(sender_token, stranger.address, USDC))
    assert result.status == "confirmed" and t.sleeps >= 2
    assert result.fees[0][0] <= CAP and result.effective_gas_price <= CAP


def test_send__with_no_room_under_the_cap_to_replace__never_exceeds_it_and_reports_fee_cap_reached(
    sender_factory, sender_token, sender_w3, sender_signer, sender_rpc, stranger
):
    """maxFee starts at the cap, so a +12.5% replacement is impossible; the tx stays as it is."""
    base = sender_w3.eth.get_block("pending")["baseFeePerGas"]
    pol = policy(
        max_fee_per_gas_wei=base + GWEI // 10,
        max_priority_fee_wei=GWEI // 10,
        replace_after_blocks=None,
        replace_after_sec=2,
        receipt_timeout_sec=6,
    )
    sender_rpc("evm_setAutomine", [False])
    sender, _ = sender_factory(pol, hook=lambda n: None)  # no blocks: the tx waits in the pool
    result = sender.send(transfer(sender_token, stranger.address, USDC))
    assert result.status == "fee_cap_reached" and result.replacements == 0
    assert result.fees == ((base + GWEI // 10, GWEI // 10),)
    assert sender.pending_info() == (6.0, 1)  # pending 6 s (fake clock), one nonce ahead of the chain
    sender_rpc("evm_mine")
    sender_rpc("evm_setAutomine", [True])
    assert sender_w3.eth.get_transaction_receipt(result.tx_hashes[0])["status"] == 1
    assert sender.pending_info() == (0.0, 0)


# --- nonces


def test_send__with_pending_tx_dropped_from_the_pool__reuses_the_nonce_and_acts_once(
    sender_factory, sender_token, sender_w3, sender_signer, sender_rpc, stranger
):
    sender_rpc("evm_setAutomine", [False])

    def hook(n: int) -> None:
        if n == 1:
            sender_rpc("anvil_dropTransaction", [pool_hash(sender_rpc, sender_signer.address, 0)])
        else:
            sender_rpc("evm_mine")

    sender, _ = sender_factory(hook=hook)
    before = sender_token.balanceOf(stranger)
    result = sender.send(transfer(sender_token, stranger.address, 2 * USDC))
    sender_rpc("evm_setAutomine", [True])

    assert result.status == "confirmed" and result.nonce == 0 and len(result.tx_hashes) == 2
    assert no_receipt(sender_w3, result.tx_hashes[0])
    assert sender_token.balanceOf(stranger) == before + 2 * USDC
    assert sender_w3.eth.get_transaction_count(sender_signer.address) == 1


def test_send__with_dropped_tx_whose_intent_now_reverts__reports_dropped_and_frees_the_nonce(
    sender_factory, sender_token, sender_w3, sender_signer, sender_helper, sender_rpc, stranger
):
    sender_rpc("evm_setAutomine", [False])

    def hook(n: int) -> None:
        if n == 1:
            sender_rpc("anvil_dropTransaction", [pool_hash(sender_rpc, sender_signer.address, 0)])
            data = burn_data(sender_signer.address, 1_000 * USDC)
            raw_tx(sender_w3, sender_helper, 0, str(sender_token.address), data=data, tip=TIP)
        sender_rpc("evm_mine")

    sender, _ = sender_factory(hook=hook)
    result = sender.send(transfer(sender_token, stranger.address, 1_000 * USDC))
    sender_rpc("evm_setAutomine", [True])
    assert result.status == "dropped" and len(result.tx_hashes) == 1
    assert "would now revert (ERC20InsufficientBalance(" in result.error
    assert sender_w3.eth.get_transaction_count(sender_signer.address) == 0  # the nonce is free again

    again = sender.send(
        TxIntent(to=str(sender_token.address), data=_mint_data(sender_signer.address, 5 * USDC), label="mint")
    )
    assert again.status == "confirmed" and again.nonce == 0  # the freed nonce is reused


def _mint_data(to: str, amount: int) -> bytes:
    return _calldata("mint(address,uint256)", ["address", "uint256"], [to, amount])


def test_send__with_the_key_used_by_another_process__jumps_the_nonce_forward(
    sender_factory, sender_token, sender_w3, sender_signer, stranger
):
    sender, _ = sender_factory()
    assert sender.send(transfer(sender_token, stranger.address, USDC)).nonce == 0
    raw_tx(sender_w3, sender_signer, 1, stranger.address, value=1, tip=TIP, gas=21_000)  # another process
    before = sender_token.balanceOf(stranger)
    result = sender.send(transfer(sender_token, stranger.address, USDC))
    assert result.status == "confirmed" and result.nonce == 2 and sender.next_nonce == 3
    assert sender_token.balanceOf(stranger) == before + USDC
    assert sender_w3.eth.get_transaction_count(sender_signer.address) == 3


def test_send__with_a_competing_tx_taking_the_pending_nonce__reports_dropped_without_duplicate(
    sender_factory, sender_token, sender_w3, sender_signer, sender_rpc, stranger, fish
):
    """Another process with the same key replaces our pending tx at nonce 0 (higher fees) and it is mined."""
    sender_rpc("evm_setAutomine", [False])
    competitor = transfer(sender_token, fish.address, 4 * USDC)

    def hook(n: int) -> None:
        if n == 1:
            raw_tx(sender_w3, sender_signer, 0, competitor.to, data=competitor.data, tip=20 * GWEI)
        sender_rpc("evm_mine")

    sender, _ = sender_factory(hook=hook)
    stranger_before, fish_before = sender_token.balanceOf(stranger), sender_token.balanceOf(fish)
    result = sender.send(transfer(sender_token, stranger.address, 6 * USDC))
    sender_rpc("evm_setAutomine", [True])
    assert result.status == "dropped" and "nonce 0 was used by another transaction" in result.error
    assert sender_token.balanceOf(stranger) == stranger_before  # ours never executed
    assert sender_token.balanceOf(fish) == fish_before + 4 * USDC  # theirs executed once
    nxt = sender.send(transfer(sender_token, stranger.address, 6 * USDC))
    assert nxt.status == "confirmed" and nxt.nonce == 1
    assert sender_token.balanceOf(stranger) == stranger_before + 6 * USDC


# --- reorgs


def _wait_for_served_receipt(w3, limit_sec: float = 5.0) -> None:
    """Until the receipt of the latest block's transaction is served (real time, bounded)."""
    stop = time.monotonic() + limit_sec
    while time.monotonic() < stop:
        txs = w3.eth.get_block("latest")["transactions"]
        if txs:
            try:
                w3.eth.get_transaction_receipt(txs[0])
                return
            except Exception:
                pass
        time.sleep(0.01)
    raise AssertionError("the automined transaction's receipt was never served")


def test_send__with_reorg_before_enough_confirmations__rebroadcasts_the_same_tx_and_confirms_once(
    sender_factory, sender_token, sender_w3, sender_signer, sender_rpc, stranger
):
    mined_at: list[int] = []

    def hook(n: int) -> None:
        if n == 1:
            # anvil may serve the automined block's receipt a moment after the send returns: wait for it,
            # so the sender has certainly seen the tx mined (at its next poll) before the reorg
            _wait_for_served_receipt(sender_w3)
        elif n == 2:
            mined_at.append(sender_w3.eth.block_number)
            sender_rpc("anvil_reorg", [1, []])  # the tx's block is replaced by an empty one
        else:
            sender_rpc("evm_mine")

    sender, _ = sender_factory(policy(confirmations=3), hook=hook)
    before = sender_token.balanceOf(stranger)
    result = sender.send(transfer(sender_token, stranger.address, 9 * USDC))
    assert result.status == "confirmed" and result.reorgs == 1
    assert len(result.tx_hashes) == 1 and result.replacements == 0  # the same signed tx, re-included
    assert result.block_number > mined_at[0]
    assert sender_w3.eth.block_number >= result.block_number + 2
    assert sender_token.balanceOf(stranger) == before + 9 * USDC
    assert sender_w3.eth.get_transaction_count(sender_signer.address) == 1


def test_send__with_reorg_that_reincludes_the_tx__waits_for_confirmations_on_the_new_block(
    sender_factory, sender_token, sender_w3, sender_signer, sender_rpc, stranger
):
    replaced: list[str] = []

    def hook(n: int) -> None:
        if n == 1:
            # as above: the sender must have seen the tx in its first block before that block is replaced
            _wait_for_served_receipt(sender_w3)
        elif n == 2:
            head = sender_w3.eth.get_block("latest")
            (tx_hash,) = head["transactions"]
            raw = sender_w3.eth.get_raw_transaction(tx_hash)
            replaced.append(head["hash"].to_0x_hex())
            sender_rpc("anvil_reorg", [1, [[raw.to_0x_hex(), 0]]])  # same height, another block
        else:
            sender_rpc("evm_mine")

    sender, _ = sender_factory(policy(confirmations=2), hook=hook)
    before = sender_token.balanceOf(stranger)
    result = sender.send(transfer(sender_token, stranger.address, 4 * USDC))
    assert result.status == "confirmed" and result.reorgs == 1 and len(result.tx_hashes) == 1
    assert result.block_hash != replaced[0]
    assert sender_w3.eth.get_block(result.block_number)["hash"].to_0x_hex() == result.block_hash
    assert sender_token.balanceOf(stranger) == before + 4 * USDC


# --- infrastructure


def test_send__with_rpc_unreachable__raises_rpc_unavailable(sender_signer):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the socket is: nothing listens there
    sender = Sender.from_rpc_url(f"http://127.0.0.1:{port}", sender_signer, policy(), exclusive=False)
    intent = TxIntent(to=sender_signer.address, value=1, label="noop")
    with pytest.raises(RpcUnavailable, match=f"127.0.0.1:{port}"):
        sender.send(intent)
    with pytest.raises(RpcUnavailable):
        sender.pending_info()


def test_sender__with_a_second_sender_for_the_same_key__is_refused_until_the_first_closes(
    networks, sender_signer
):
    first = Sender.from_rpc_url(networks.provider.uri, sender_signer)
    with pytest.raises(SignerInUseError, match=sender_signer.address):
        Sender.from_rpc_url(networks.provider.uri, sender_signer)
    first.close()
    with Sender.from_rpc_url(networks.provider.uri, sender_signer) as second:
        assert second.address == sender_signer.address
