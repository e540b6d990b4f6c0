"""Reads a KeelVault's state over JSON-RPC, every call pinned to one block."""

from __future__ import annotations

from typing import Any

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from web3 import Web3

from keeper.models import VaultState


class ChainReadError(RuntimeError):
    """A read failed: the address is not a KeelVault or the node did not answer."""


def _call(w3: Web3, to: str, signature: str, out_types: list[str], block: int, args: bytes = b"") -> Any:
    data = function_signature_to_4byte_selector(signature) + args
    try:
        raw = w3.eth.call({"to": to, "data": data}, block_identifier=block)
    except Exception as exc:
        raise ChainReadError(f"call {signature} on {to} at block {block} failed: {exc}") from exc
    if not raw:
        raise ChainReadError(f"{to} returned nothing for {signature}: is it a KeelVault?")
    values = decode(out_types, raw)
    return values[0] if len(values) == 1 else values


def read_vault(w3: Web3, address: str, block: int | None = None) -> VaultState:
    """One consistent snapshot of the vault at `block` (default: the latest block)."""
    vault = to_checksum_address(address)
    b = w3.eth.block_number if block is None else block

    def call(sig: str, out: str) -> Any:
        return _call(w3, vault, sig, [out], b)

    asset = to_checksum_address(call("asset()", "address"))
    legs = tuple(to_checksum_address(x) for x in call("legs()", "address[]"))
    head, tail = _call(w3, vault, "queueBounds()", ["uint256", "uint256"], b)
    return VaultState(
        address=vault,
        block=b,
        asset=asset,
        asset_decimals=_call(w3, asset, "decimals()", ["uint8"], b),
        share_decimals=call("decimals()", "uint8"),
        total_assets=call("totalAssets()", "uint256"),
        total_supply=call("totalSupply()", "uint256"),
        idle_assets=call("idleAssets()", "uint256"),
        liquid_assets=call("liquidAssets()", "uint256"),
        share_price_wad=call("sharePriceWad()", "uint256"),
        high_water_mark_wad=call("highWaterMarkWad()", "uint256"),
        pending_fee_shares=call("pendingFeeShares()", "uint256"),
        management_fee_bps=call("managementFeeBps()", "uint256"),
        performance_fee_bps=call("performanceFeeBps()", "uint256"),
        fee_recipient=to_checksum_address(call("feeRecipient()", "address")),
        deposit_cap=call("depositCap()", "uint256"),
        deposits_paused=call("depositsPaused()", "bool"),
        shutdown=call("isShutdown()", "bool"),
        legs=legs,
        leg_values=tuple(_call(w3, leg, "value()", ["uint256"], b) for leg in legs),
        queued_shares=call("queuedShares()", "uint256"),
        total_claimable=call("totalClaimable()", "uint256"),
        queue_head=head,
        queue_tail=tail,
    )
