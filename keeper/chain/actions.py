"""Policy actions as transactions: the target address and ABI-encoded calldata of each `Action`."""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import to_checksum_address

from keeper.chain.rpc import calldata
from keeper.policy import (
    Action,
    CoverLoss,
    PokeOracle,
    ProcessRedemptions,
    Rebalance,
    Report,
    SettleOption,
    TradeOption,
)

REBALANCE = "rebalance((uint256,uint256,bool,uint256,uint256,int256,uint256,int256,bool))"
TRADE_OPTIONS = "tradeOptions((uint256,uint256,uint256,bool,uint256,uint256,uint256,bool))"
SETTLE_OPTIONS = "settleOptions(uint256,uint256,uint80)"
REPORT = "report(uint256)"
COVER_LOSS = "coverLoss(uint256,bytes32)"
PROCESS_REDEMPTIONS = "processRedemptions(uint256)"
POKE_LEG = "pokeOracle()"
POKE_OPTION_ORACLE = "poke()"


@dataclass(frozen=True)
class EncodedCall:
    to: str
    data: bytes
    label: str


def label(action: Action) -> str:
    """A short human label that also names the nonce (the journal's and the logs' key)."""
    nonce = getattr(action, "expected_nonce", None)
    return f"{action.kind}" + (f" nonce={nonce}" if nonce is not None else "")


def encode_action(action: Action, vault: str) -> EncodedCall:
    """(to, calldata) of `action` on `vault` (or on the leg / oracle a poke targets)."""
    v = to_checksum_address(vault)
    match action:
        case Rebalance():
            data = calldata(REBALANCE, action.as_tuple())
        case TradeOption():
            data = calldata(TRADE_OPTIONS, action.as_tuple())
        case SettleOption():
            data = calldata(SETTLE_OPTIONS, action.expected_nonce, action.series_id, action.round_id_hint)
        case Report():
            data = calldata(REPORT, action.expected_nonce)
        case CoverLoss():
            data = calldata(COVER_LOSS, action.expected_nonce, action.loss_reason.encode().ljust(32, b"\0"))
        case ProcessRedemptions():
            data = calldata(PROCESS_REDEMPTIONS, action.max_count)
        case PokeOracle():
            sig = POKE_LEG if action.which == "leg" else POKE_OPTION_ORACLE
            return EncodedCall(to=to_checksum_address(action.target), data=calldata(sig), label=label(action))
        case _:  # pragma: no cover - the union is closed
            raise TypeError(f"unknown action {action!r}")
    return EncodedCall(to=v, data=data, label=label(action))
