"""keeper.chain.sender without a chain: the fee policy's bounds, intents, fee bumps, revert decoding.

The sender itself is tested on anvil in tests/keeper_chain/test_sender.py.
"""

from __future__ import annotations

import socket

import pytest
from eth_abi import encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector
from pydantic import ValidationError

from keeper.chain.sender import (
    GWEI,
    FeePolicy,
    RpcUnavailable,
    Sender,
    SendResult,
    TxIntent,
    bump_fee,
    decode_revert,
    error_selectors,
)

ADDR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ERRORS_ABI = [
    {
        "type": "error",
        "name": "InsufficientIdle",
        "inputs": [{"name": "requested", "type": "uint256"}, {"name": "available", "type": "uint256"}],
    },
    {
        "type": "error",
        "name": "BadQuote",
        "inputs": [
            {"name": "who", "type": "address"},
            {"name": "q", "type": "tuple", "components": [{"type": "uint128"}, {"type": "bool"}]},
        ],
    },
    {"type": "function", "name": "idleAssets", "inputs": [], "outputs": [{"type": "uint256"}]},
]


def _err(sig: str, types: list[str], args: list) -> bytes:
    return function_signature_to_4byte_selector(sig) + encode(types, args)


def test_fee_policy__with_defaults__is_valid_and_frozen():
    p = FeePolicy()
    assert p.replacement_bump == 0.125 and p.max_priority_fee_wei <= p.max_fee_per_gas_wei
    with pytest.raises(ValidationError):
        p.confirmations = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("replacement_bump", 0.10),
        ("max_fee_per_gas_wei", 0),
        ("base_fee_multiplier", 0.9),
        ("confirmations", 0),
        ("gas_limit_multiplier", 0.99),
        ("poll_interval_sec", 0),
        ("replace_after_blocks", 0),
    ],
)
def test_fee_policy__with_out_of_bounds_field__names_the_field(field, value):
    with pytest.raises(ValidationError) as err:
        FeePolicy(**{field: value})
    assert err.value.errors()[0]["loc"] == (field,)


def test_fee_policy__with_tip_above_cap__says_which_bound():
    with pytest.raises(ValidationError, match=r"max_priority_fee_wei .* must not exceed max_fee_per_gas_wei"):
        FeePolicy(max_fee_per_gas_wei=GWEI, max_priority_fee_wei=2 * GWEI)


def test_fee_policy__with_no_replacement_trigger__is_refused():
    with pytest.raises(ValidationError, match="replace_after_blocks or replace_after_sec"):
        FeePolicy(replace_after_blocks=None, replace_after_sec=None)
    assert FeePolicy(replace_after_blocks=None, replace_after_sec=30).replace_after_sec == 30


def test_fee_policy__with_unknown_field__is_refused():
    with pytest.raises(ValidationError, match="max_fee"):
        FeePolicy(max_fee=1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_000_000_000, 1_125_000_000),
        (8, 9),
        (1, 2),
        (0, 1),
        (7, 8),
        (9, 11),
        (10**18 + 1, 1_125_000_000_000_000_002),
    ],
)
def test_bump_fee__with_values__rounds_up_by_at_least_one_wei(value, expected):
    assert bump_fee(value, 0.125) == expected
    assert bump_fee(value, 0.125) * 8 >= value * 9  # never below +12.5%


def test_tx_intent__with_lowercase_address_and_hex_data__normalises_both():
    intent = TxIntent(to=ADDR.lower(), data="0xdeadbeef", label="rebalance nonce=5")
    assert intent.to == ADDR and intent.data == bytes.fromhex("deadbeef") and intent.value == 0


@pytest.mark.parametrize(
    "kw",
    [{"to": "0x1234"}, {"data": "0xzz"}, {"value": -1}, {"label": ""}],
    ids=["short-address", "bad-hex", "negative-value", "empty-label"],
)
def test_tx_intent__with_bad_field__is_refused(kw):
    with pytest.raises(ValidationError):
        TxIntent(**({"to": ADDR, "label": "x"} | kw))


def test_send_result__with_status__ok_only_when_confirmed():
    assert SendResult(label="x", status="confirmed").ok
    assert not SendResult(label="x", status="reverted").ok
    with pytest.raises(ValidationError):
        SendResult(label="x", status="lost")


def test_decode_revert__with_error_string__gives_the_reason():
    assert decode_revert(_err("Error(string)", ["string"], ["too late"])) == "reverted: too late"


def test_decode_revert__with_panic__names_the_code():
    data = _err("Panic(uint256)", ["uint256"], [0x11])
    assert decode_revert(data) == "panic 0x11 (arithmetic overflow or underflow)"


def test_decode_revert__with_known_custom_error__gives_name_and_arguments():
    errors = error_selectors(ERRORS_ABI)
    assert len(errors) == 2
    data = _err("InsufficientIdle(uint256,uint256)", ["uint256", "uint256"], [5, 3])
    assert decode_revert(data, errors) == f"InsufficientIdle(5, 3) [0x{data[:4].hex()}]"
    quote = _err("BadQuote(address,(uint128,bool))", ["address", "(uint128,bool)"], [ADDR, (7, True)])
    assert decode_revert(quote, errors).startswith(f"BadQuote({ADDR}, (7, True))")


def test_decode_revert__with_unknown_or_empty_data__gives_the_selector():
    data = _err("Nope(uint256)", ["uint256"], [1])
    assert decode_revert(data).startswith(f"custom error 0x{data[:4].hex()} (data 0x")
    assert decode_revert(b"") == "reverted without data"
    truncated = _err("InsufficientIdle(uint256,uint256)", ["uint256"], [5])
    assert decode_revert(truncated, error_selectors(ERRORS_ABI)).startswith("custom error 0x")


def test_send__with_a_node_that_never_answers__raises_rpc_unavailable():
    """A listening socket that accepts and never replies: the request times out."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        sender = Sender.from_rpc_url(url, Account.create(), request_timeout_sec=0.2, exclusive=False)
        with pytest.raises(RpcUnavailable, match="Timeout"):
            sender.send(TxIntent(to=ADDR, value=1, label="noop"))
