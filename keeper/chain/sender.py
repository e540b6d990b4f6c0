"""The keeper's transaction sender: simulate, sign, send, replace when stuck, confirm.

One `Sender` per signing key per process owns that key's nonce counter (a second `Sender` for the same
address in the same process is refused unless ``exclusive=False``). `Sender.send(intent)` runs one
`TxIntent` to a final `SendResult` and never raises for on-chain outcomes; it raises `RpcUnavailable`
when the node does not answer, so the service loop can back off.

The life of one intent:

1. **Simulate** with ``eth_call`` and ``eth_estimateGas`` at the ``pending`` block. A revert returns
   ``simulation_failed`` with the decoded reason or custom error; nothing is broadcast.
2. **Fees** (EIP-1559): ``maxFee = min(cap, ⌈baseFee × base_fee_multiplier⌉ + tip)`` from the next
   block's base fee. While the base fee alone is above the cap the sender waits (up to
   ``fee_wait_timeout_sec``) rather than send; if it never comes down: ``fee_cap_reached``.
3. **Funds**: balance ≥ gas limit × maxFee + value, else ``insufficient_funds`` (the "keeper account is
   out of gas money" fault); nothing is broadcast.
4. **Nonce**: a local counter, reconciled with the chain's ``pending`` count before every send. If the
   chain is ahead (another process used the key, or a transaction was mined elsewhere) the counter
   jumps forward; if it is behind (a transaction of ours was dropped from the pool) the freed nonce
   is reused.
5. **Wait**: every ``poll_interval_sec``. A transaction not mined after ``replace_after_blocks`` new
   blocks (or ``replace_after_sec``) is **replaced**: the same intent at the same nonce, re-simulated
   at ``latest`` first (a replacement that would revert is not signed), with both fees raised by
   ``replacement_bump`` (≥ 12.5%, the EIP-1559 replacement rule; rounded up, at least +1 wei) and
   ``maxFee`` raised to the market if that is higher, never above the cap. If the cap leaves no room
   for a valid replacement the sender keeps waiting and reports ``fee_cap_reached`` at the timeout. A
   transaction that vanished from the node's pool while its nonce is unused (evicted, e.g. when the
   base fee rose above its maxFee, or dropped) is re-signed the same way. A receipt for **any** of
   the hashes broadcast for the intent completes it; at most one of them can be mined (one nonce).
   If the nonce is consumed by a transaction that is not ours: ``dropped`` (the intent was not
   executed).
6. **Confirm**: once ``head ≥ receipt block + confirmations − 1`` the receipt's block is re-read and must
   still be canonical (same block hash). If the receipt vanished (a reorg), the sender rebroadcasts
   the same signed transaction (it may be re-included anyway) and waits again. It never signs a
   different action. Duplicates are made harmless on chain: every keeper entry point of the vault
   takes the expected action nonce, so a transaction that lands twice, or after another keeper's,
   reverts; the caller re-reads the chain and re-decides after every send.
   ``receipt_timeout_sec`` after the first broadcast without a final answer: ``timeout`` (the
   transaction may still be pending; `pending_info()` reports its age and the nonce gap).

`RpcUnavailable` can also come after the broadcast, while waiting: the transaction may then still be
mined. The caller backs off, re-reads the chain and re-decides; the next send reconciles the nonce.

Time comes from the injectable ``clock`` and ``sleep`` (tests drive both and mine blocks in ``sleep``).
Every event is one log line (logger ``keeper.chain.sender``), ``event key=value ...``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal, NamedTuple

import requests
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import abi_to_signature, function_signature_to_4byte_selector, to_checksum_address
from hexbytes import HexBytes
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from web3 import Web3
from web3.exceptions import (
    ContractLogicError,
    ProviderConnectionError,
    TimeExhausted,
    TransactionNotFound,
    Web3RPCError,
)

log = logging.getLogger(__name__)

GWEI = 10**9
ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)
PANIC_CODES = {
    0x01: "assert failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "bad storage byte array",
    0x31: "pop on empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to a zero-initialised function",
}

Status = Literal[
    "confirmed",
    "reverted",
    "simulation_failed",
    "fee_cap_reached",
    "insufficient_funds",
    "dropped",
    "timeout",
]

_CONNECTIVITY_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.RequestException,  # connection refused, read timeout, HTTP 5xx/429
    ProviderConnectionError,
    TimeExhausted,
    ConnectionError,
    TimeoutError,
)


class RpcUnavailable(RuntimeError):  # noqa: N818 (the name the service loop catches)
    """The node did not answer (connection refused, timeout, HTTP error): back off and retry later."""


class SignerInUseError(RuntimeError):
    """Another `Sender` of this process already owns the signer's nonce counter."""


class FeePolicy(BaseModel):
    """How the sender prices, replaces and confirms transactions. Errors name the field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_fee_per_gas_wei: int = Field(200 * GWEI, gt=0, description="hard cap on maxFeePerGas")
    max_priority_fee_wei: int = Field(2 * GWEI, ge=0, description="tip (maxPriorityFeePerGas)")
    base_fee_multiplier: float = Field(2.0, ge=1.0, le=10.0, description="maxFee = base × this + tip")
    replacement_bump: float = Field(0.125, ge=0.125, le=2.0, description="fee raise per replacement")
    replace_after_blocks: int | None = Field(3, ge=1, description="replace if not mined after N blocks")
    replace_after_sec: float | None = Field(None, gt=0, description="replace if not mined after N seconds")
    max_replacements: int = Field(8, ge=0, le=100)
    confirmations: int = Field(2, ge=1, le=128)
    receipt_timeout_sec: float = Field(600.0, gt=0)
    fee_wait_timeout_sec: float = Field(120.0, ge=0)
    poll_interval_sec: float = Field(1.0, gt=0, le=60)
    gas_limit_multiplier: float = Field(1.2, ge=1.0, le=5.0)
    dropped_after_polls: int = Field(2, ge=1, le=100, description="polls a tx must be unknown to the node")

    @model_validator(mode="after")
    def _consistent(self) -> FeePolicy:
        if self.max_priority_fee_wei > self.max_fee_per_gas_wei:
            raise ValueError(
                f"max_priority_fee_wei ({self.max_priority_fee_wei}) must not exceed "
                f"max_fee_per_gas_wei ({self.max_fee_per_gas_wei})"
            )
        if self.replace_after_blocks is None and self.replace_after_sec is None:
            raise ValueError(
                "set replace_after_blocks or replace_after_sec (or both): a stuck tx must be replaced"
            )
        return self


class TxIntent(BaseModel):
    """One transaction the keeper wants on chain. `label` names it in logs and the journal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    to: str
    data: bytes = b""
    value: int = Field(0, ge=0)
    label: str = Field(min_length=1, max_length=200)

    @field_validator("to", mode="before")
    @classmethod
    def _checksum(cls, v: Any) -> str:
        try:
            return to_checksum_address(str(v))
        except ValueError:
            raise ValueError(f"not an address: {v!r}") from None

    @field_validator("data", mode="before")
    @classmethod
    def _bytes(cls, v: Any) -> bytes:
        if isinstance(v, str):
            try:
                return bytes(HexBytes(v))
            except ValueError:
                raise ValueError("data: not hex") from None
        return bytes(v)


class SendResult(BaseModel):
    """The final outcome of one intent. `tx_hashes` lists every hash broadcast for it, in order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str
    status: Status
    tx_hashes: tuple[str, ...] = ()
    fees: tuple[tuple[int, int], ...] = ()  # (maxFeePerGas, maxPriorityFeePerGas) of each hash
    tx_hash: str | None = None  # the one that was mined (confirmed or reverted)
    nonce: int | None = None
    block_number: int | None = None
    block_hash: str | None = None
    gas_used: int | None = None
    effective_gas_price: int | None = None
    replacements: int = 0
    reorgs: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "confirmed"


class PendingInfo(NamedTuple):
    """For metrics: how long the oldest unfinished tx has waited, and local next nonce − chain nonce."""

    age_sec: float
    nonce_gap: int


def mul_ceil(value: int, factor: float) -> int:
    """⌈value × factor⌉ in exact integer arithmetic (the factor read as the decimal it prints as)."""
    f = Fraction(str(factor))
    return -((-value * f.numerator) // f.denominator)


def bump_fee(value: int, bump: float) -> int:
    """`value` raised by `bump` (e.g. 0.125), rounded up, and by at least 1 wei."""
    return max(mul_ceil(value, 1 + bump), value + 1)


def error_selectors(abi: Iterable[Mapping[str, Any]]) -> dict[bytes, tuple[str, list[str]]]:
    """4-byte selector -> (signature, input types) for every ``type: error`` entry of a contract ABI."""
    out: dict[bytes, tuple[str, list[str]]] = {}
    for item in abi:
        if item.get("type") != "error":
            continue
        sig = abi_to_signature(dict(item))  # type: ignore[arg-type]
        types = [_abi_type(i) for i in item.get("inputs", [])]
        out[function_signature_to_4byte_selector(sig)] = (sig, types)
    return out


def _abi_type(item: Mapping[str, Any]) -> str:
    t = str(item["type"])
    if t.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in item.get("components", [])) + ")" + t[len("tuple") :]
    return t


def decode_revert(data: bytes, errors: Mapping[bytes, tuple[str, list[str]]] | None = None) -> str:
    """One line for revert data: Error(string), Panic(code), a known custom error, or its selector."""
    if not data:
        return "reverted without data"
    selector, payload = bytes(data[:4]), bytes(data[4:])
    try:
        if selector == ERROR_STRING_SELECTOR:
            return f"reverted: {abi_decode(['string'], payload)[0]}"
        if selector == PANIC_SELECTOR:
            code = abi_decode(["uint256"], payload)[0]
            return f"panic 0x{code:02x} ({PANIC_CODES.get(code, 'unknown')})"
        if errors and selector in errors:
            sig, types = errors[selector]
            args = abi_decode(types, payload, strict=True)
            if abi_encode(types, list(args)) != payload:  # short or padded data: not this error
                raise ValueError("non-canonical error data")
            name = sig.split("(", 1)[0]
            return f"{name}({', '.join(_fmt_arg(a) for a in args)}) [0x{selector.hex()}]"
    except Exception:  # malformed payload: fall through to the raw selector
        pass
    return f"custom error 0x{selector.hex()} (data 0x{bytes(data).hex()})"


def _fmt_arg(a: Any) -> str:
    if isinstance(a, bytes):
        return "0x" + a.hex()
    if isinstance(a, str) and a.startswith("0x") and len(a) == 42:
        return to_checksum_address(a)
    return str(a)


def _revert_data(exc: BaseException) -> bytes | None:
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes(HexBytes(data))
        except ValueError:
            return None
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    return None


def _rpc_message(exc: BaseException) -> str:
    msg = getattr(exc, "message", None) or (exc.args[0] if exc.args else str(exc))
    if isinstance(msg, dict):
        msg = msg.get("message", str(msg))
    return str(msg)


def _hex(h: bytes | str) -> str:
    return h if isinstance(h, str) else "0x" + bytes(h).hex()


@dataclass
class _Attempt:
    tx_hash: str
    raw: bytes
    max_fee: int
    tip: int


@dataclass
class _Flight:
    """One intent between its first broadcast and its final result."""

    intent: TxIntent
    nonce: int
    gas: int
    started: float
    attempts: list[_Attempt] = field(default_factory=list)
    last_broadcast_at: float = 0.0
    last_broadcast_block: int = 0
    replacements: int = 0
    reorgs: int = 0
    cap_blocked: bool = False
    missing_polls: int = 0
    used_polls: int = 0
    seen: tuple[str, int, str] | None = None  # (hash, block number, block hash) of the last receipt

    @property
    def hashes(self) -> tuple[str, ...]:
        return tuple(a.tx_hash for a in self.attempts)


_CLAIMED: set[str] = set()
_CLAIMS_LOCK = threading.Lock()


class Sender:
    """Sends `TxIntent`s from one `LocalAccount` over a web3 HTTP provider. See the module docstring."""

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        policy: FeePolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        error_abi: Iterable[Mapping[str, Any]] | None = None,
        exclusive: bool = True,
    ) -> None:
        self.w3 = w3
        self.account = account
        self.policy = policy or FeePolicy()
        self._clock = clock
        self._sleep = sleep
        self._errors = error_selectors(error_abi or [])
        self._lock = threading.Lock()
        self._chain_id: int | None = None
        self._next_nonce: int | None = None
        self._inflight: _Flight | None = None
        self._exclusive = exclusive
        self._closed = False
        if exclusive:
            with _CLAIMS_LOCK:
                if account.address in _CLAIMED:
                    raise SignerInUseError(
                        f"signer {account.address} already has a Sender in this process: "
                        "one sender per key owns its nonces"
                    )
                _CLAIMED.add(account.address)

    @classmethod
    def from_rpc_url(
        cls,
        rpc_url: str,
        account: LocalAccount,
        policy: FeePolicy | None = None,
        *,
        request_timeout_sec: float = 10.0,
        **kwargs: Any,
    ) -> Sender:
        """A sender over a plain HTTP provider (no retries inside web3: `RpcUnavailable` comes at once)."""
        provider = Web3.HTTPProvider(
            rpc_url, request_kwargs={"timeout": request_timeout_sec}, exception_retry_configuration=None
        )
        return cls(Web3(provider), account, policy, **kwargs)

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Release the signer (another Sender may own it afterwards)."""
        if self._exclusive and not self._closed:
            with _CLAIMS_LOCK:
                _CLAIMED.discard(self.account.address)
        self._closed = True

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def address(self) -> str:
        return self.account.address

    @property
    def next_nonce(self) -> int | None:
        """The local nonce counter (None before the first send)."""
        return self._next_nonce

    # ------------------------------------------------------------------ RPC

    def _rpc(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except _CONNECTIVITY_ERRORS as exc:
            endpoint = getattr(self.w3.provider, "endpoint_uri", None) or type(self.w3.provider).__name__
            log.warning("rpc.unavailable call=%s endpoint=%s error=%s", what, endpoint, type(exc).__name__)
            raise RpcUnavailable(
                f"{what}: node at {endpoint} unavailable: {type(exc).__name__}: {exc}"
            ) from exc

    def _head(self) -> int:
        return int(self._rpc("eth_blockNumber", lambda: self.w3.eth.block_number))

    def _nonce_count(self, tag: str) -> int:
        return int(self._rpc("eth_getTransactionCount", self.w3.eth.get_transaction_count, self.address, tag))

    def _base_fee(self) -> int:
        """The next block's base fee: the pending block's, else the latest's + 12.5% (EIP-1559 maximum)."""
        try:
            block = self._rpc("eth_getBlockByNumber", self.w3.eth.get_block, "pending")
            if block and block.get("baseFeePerGas") is not None:
                return int(block["baseFeePerGas"])
        except (Web3RPCError, ValueError):
            pass
        latest = self._rpc("eth_getBlockByNumber", self.w3.eth.get_block, "latest")
        base = latest.get("baseFeePerGas")
        if base is None:
            raise RuntimeError("the chain has no EIP-1559 base fee; legacy-fee chains are not supported")
        return mul_ceil(int(base), 1.125)

    def _receipt(self, tx_hash: str) -> Any | None:
        try:
            return self._rpc("eth_getTransactionReceipt", self.w3.eth.get_transaction_receipt, tx_hash)
        except TransactionNotFound:
            return None

    def _known(self, tx_hash: str) -> bool:
        try:
            return self._rpc("eth_getTransactionByHash", self.w3.eth.get_transaction, tx_hash) is not None
        except TransactionNotFound:
            return False

    def _find_receipt(self, flight: _Flight) -> tuple[str, Any] | None:
        for attempt in reversed(flight.attempts):
            receipt = self._receipt(attempt.tx_hash)
            if receipt is not None and receipt.get("blockHash") is not None:
                return attempt.tx_hash, receipt
        return None

    # ------------------------------------------------------------------ simulation

    def _call_fields(self, intent: TxIntent) -> dict[str, Any]:
        return {"from": self.address, "to": intent.to, "data": intent.data, "value": intent.value}

    def simulate(self, intent: TxIntent, block: str | int = "pending") -> tuple[int | None, str | None]:
        """(gas estimate, None) if `intent` would succeed at `block`, else (None, decoded reason)."""
        tx = self._call_fields(intent)
        try:
            self._rpc("eth_call", self.w3.eth.call, tx, block)
            gas = self._rpc("eth_estimateGas", self.w3.eth.estimate_gas, tx, block)
        except RpcUnavailable:
            raise
        except ContractLogicError as exc:
            data = _revert_data(exc)
            return None, decode_revert(data, self._errors) if data else _rpc_message(exc)
        except (Web3RPCError, ValueError) as exc:
            data = _revert_data(exc)
            return None, decode_revert(data, self._errors) if data else _rpc_message(exc)
        return int(gas), None

    # ------------------------------------------------------------------ nonce and fees

    def _reconcile_nonce(self) -> int:
        latest = self._nonce_count("latest")
        pending = max(self._nonce_count("pending"), latest)
        local = self._next_nonce
        if local is None:
            log.info("nonce.init address=%s nonce=%d latest=%d", self.address, pending, latest)
        elif pending > local:
            log.warning(
                "nonce.ahead address=%s local=%d chain_pending=%d: key used elsewhere; jumping forward",
                self.address,
                local,
                pending,
            )
        elif pending < local:
            log.warning(
                "nonce.freed address=%s local=%d chain_pending=%d: txs were dropped; reusing the nonce",
                self.address,
                local,
                pending,
            )
        self._next_nonce = pending
        return pending

    def _market_fees(self, base: int, tip: int) -> tuple[int, int]:
        cap = self.policy.max_fee_per_gas_wei
        max_fee = min(cap, mul_ceil(base, self.policy.base_fee_multiplier) + tip)
        return max_fee, min(tip, max_fee)

    def _fees_or_wait(self, label: str) -> tuple[int, int] | int:
        """(maxFee, tip), or the last base fee (int) if it stayed above the cap for fee_wait_timeout_sec."""
        cap = self.policy.max_fee_per_gas_wei
        deadline = self._clock() + self.policy.fee_wait_timeout_sec
        waited = False
        while True:
            base = self._base_fee()
            if base <= cap:
                if waited:
                    log.info("fees.below_cap label=%r base_fee=%d cap=%d", label, base, cap)
                return self._market_fees(base, self.policy.max_priority_fee_wei)
            if self._clock() >= deadline:
                return base
            if not waited:
                log.warning("fees.above_cap label=%r base_fee=%d cap=%d: waiting", label, base, cap)
                waited = True
            self._sleep(self.policy.poll_interval_sec)

    # ------------------------------------------------------------------ sending

    def _sign(self, flight: _Flight, max_fee: int, tip: int) -> _Attempt:
        assert self._chain_id is not None
        tx = {
            "type": 2,
            "chainId": self._chain_id,
            "nonce": flight.nonce,
            "to": flight.intent.to,
            "data": flight.intent.data,
            "value": flight.intent.value,
            "gas": flight.gas,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": tip,
        }
        signed = self.account.sign_transaction(tx)
        return _Attempt(_hex(signed.hash), bytes(signed.raw_transaction), max_fee, tip)

    def _broadcast(self, raw: bytes) -> str | None:
        """None if the node accepted it (or knew it already), else the node's error message."""
        try:
            self._rpc("eth_sendRawTransaction", self.w3.eth.send_raw_transaction, raw)
        except RpcUnavailable:
            raise
        except (Web3RPCError, ValueError) as exc:
            msg = _rpc_message(exc)
            if "already known" in msg.lower() or "already imported" in msg.lower():
                return None
            return msg
        return None

    def send(self, intent: TxIntent) -> SendResult:
        """Simulate, price, sign and send `intent`, then wait for it to be final. See the module docstring."""
        with self._lock:
            if self._closed:
                raise RuntimeError("this Sender is closed")
            return self._send(intent)

    def _result(
        self, intent: TxIntent, status: Status, flight: _Flight | None = None, **kw: Any
    ) -> SendResult:
        if flight is not None:
            kw.setdefault("tx_hashes", flight.hashes)
            kw.setdefault("fees", tuple((a.max_fee, a.tip) for a in flight.attempts))
            kw.setdefault("nonce", flight.nonce)
            kw.setdefault("replacements", flight.replacements)
            kw.setdefault("reorgs", flight.reorgs)
        result = SendResult(label=intent.label, status=status, **kw)
        level = logging.INFO if status == "confirmed" else logging.WARNING
        log.log(
            level,
            "send.%s label=%r nonce=%s tx=%s block=%s replacements=%d reorgs=%d error=%s",
            status,
            intent.label,
            result.nonce,
            result.tx_hash,
            result.block_number,
            result.replacements,
            result.reorgs,
            result.error,
        )
        return result

    def _send(self, intent: TxIntent) -> SendResult:
        if self._chain_id is None:
            self._chain_id = int(self._rpc("eth_chainId", lambda: self.w3.eth.chain_id))
        self._settle_leftover()

        gas_estimate, sim_error = self.simulate(intent, "pending")
        if sim_error is not None:
            return self._result(intent, "simulation_failed", error=sim_error)
        assert gas_estimate is not None
        gas = mul_ceil(gas_estimate, self.policy.gas_limit_multiplier)
        log.info("send.simulated label=%r gas_estimate=%d gas_limit=%d", intent.label, gas_estimate, gas)

        fees = self._fees_or_wait(intent.label)
        if isinstance(fees, int):
            return self._result(
                intent,
                "fee_cap_reached",
                error=f"base fee {fees} wei stayed above the cap {self.policy.max_fee_per_gas_wei} wei "
                f"for {self.policy.fee_wait_timeout_sec:g}s; nothing sent",
            )
        max_fee, tip = fees

        balance = int(self._rpc("eth_getBalance", self.w3.eth.get_balance, self.address, "pending"))
        need = gas * max_fee + intent.value
        if balance < need:
            return self._result(
                intent,
                "insufficient_funds",
                error=f"balance {balance} wei < gas {gas} × maxFee {max_fee} + value {intent.value} "
                f"= {need} wei; nothing sent",
            )

        flight: _Flight | None = None
        for _ in range(3):  # a nonce race with another user of the key: reconcile and try again
            nonce = self._reconcile_nonce()
            flight = _Flight(intent=intent, nonce=nonce, gas=gas, started=self._clock())
            attempt = self._sign(flight, max_fee, tip)
            error = self._broadcast(attempt.raw)
            if error is None:
                flight.attempts.append(attempt)
                break
            low = error.lower()
            if "insufficient funds" in low:
                return self._result(
                    intent, "insufficient_funds", error=f"node refused the transaction: {error}"
                )
            if "nonce" in low or "underpriced" in low:
                log.warning("send.nonce_race label=%r nonce=%d error=%s", intent.label, nonce, error)
                continue
            return self._result(intent, "dropped", error=f"node refused the transaction: {error}")
        else:
            return self._result(intent, "dropped", error="nonce kept racing with another user of the key")

        assert flight is not None
        self._next_nonce = flight.nonce + 1
        flight.last_broadcast_at = flight.started
        flight.last_broadcast_block = self._head()
        self._inflight = flight
        log.info(
            "send.broadcast label=%r nonce=%d tx=%s max_fee=%d tip=%d gas=%d",
            intent.label,
            flight.nonce,
            attempt.tx_hash,
            max_fee,
            tip,
            gas,
        )
        result = self._wait(flight)
        if result.status not in ("timeout", "fee_cap_reached"):
            self._inflight = None
        return result

    def _settle_leftover(self) -> None:
        """Forget a timed-out transaction of an earlier send once its nonce is used."""
        if self._inflight is not None and self._nonce_count("latest") > self._inflight.nonce:
            self._inflight = None

    # ------------------------------------------------------------------ waiting

    def _wait(self, flight: _Flight) -> SendResult:
        p = self.policy
        deadline = flight.started + p.receipt_timeout_sec
        while True:
            head = self._head()
            found = self._find_receipt(flight)
            if found is not None:
                done = self._on_receipt(flight, head, *found)
                if done is not None:
                    return done
            elif flight.seen is not None:
                self._on_vanished(flight, head)
            else:
                done = self._on_pending(flight, head)
                if done is not None:
                    return done
            if self._clock() >= deadline:
                return self._timed_out(flight)
            self._sleep(p.poll_interval_sec)

    def _on_receipt(self, flight: _Flight, head: int, tx_hash: str, receipt: Any) -> SendResult | None:
        number, block_hash = int(receipt["blockNumber"]), _hex(receipt["blockHash"])
        if flight.seen is None or flight.seen != (tx_hash, number, block_hash):
            if flight.seen is not None:  # a reorg moved it to another block
                flight.reorgs += 1
                log.warning(
                    "send.reincluded label=%r tx=%s block=%d (was %d)",
                    flight.intent.label,
                    tx_hash,
                    number,
                    flight.seen[1],
                )
            log.info(
                "send.mined label=%r tx=%s block=%d status=%s",
                flight.intent.label,
                tx_hash,
                number,
                receipt["status"],
            )
            flight.seen = (tx_hash, number, block_hash)
        if head < number + self.policy.confirmations - 1:
            return None
        block = self._rpc("eth_getBlockByNumber", self.w3.eth.get_block, number)
        if block is None or _hex(block["hash"]) != block_hash:
            log.warning(
                "send.reorg label=%r tx=%s block=%d: no longer canonical",
                flight.intent.label,
                tx_hash,
                number,
            )
            return None  # the next poll sees where (or whether) it landed
        common = {
            "tx_hash": tx_hash,
            "block_number": number,
            "block_hash": block_hash,
            "gas_used": int(receipt["gasUsed"]),
            "effective_gas_price": int(receipt.get("effectiveGasPrice", 0)),
        }
        if int(receipt["status"]) == 1:
            return self._result(flight.intent, "confirmed", flight, **common)
        return self._result(
            flight.intent, "reverted", flight, error=self._mined_revert_reason(flight, number), **common
        )

    def _mined_revert_reason(self, flight: _Flight, number: int) -> str:
        """Replay the call on the state after its block (where it failed) to read the revert reason."""
        tx = self._call_fields(flight.intent) | {"gas": flight.gas}
        try:
            self._rpc("eth_call", self.w3.eth.call, tx, number)
        except RpcUnavailable:
            raise
        except (ContractLogicError, Web3RPCError, ValueError) as exc:
            data = _revert_data(exc)
            return "reverted on chain: " + (decode_revert(data, self._errors) if data else _rpc_message(exc))
        return "reverted on chain (the replay did not revert; reason unavailable)"

    def _on_vanished(self, flight: _Flight, head: int) -> None:
        """The mined receipt is gone: a reorg. Rebroadcast the very same signed transaction."""
        assert flight.seen is not None
        tx_hash = flight.seen[0]
        flight.reorgs += 1
        flight.seen = None
        raw = next(a.raw for a in flight.attempts if a.tx_hash == tx_hash)
        error = self._broadcast(raw)
        log.warning(
            "send.reorg label=%r tx=%s: receipt vanished; rebroadcast the same signed tx (%s)",
            flight.intent.label,
            tx_hash,
            error or "accepted",
        )
        flight.last_broadcast_at, flight.last_broadcast_block, flight.missing_polls = self._clock(), head, 0

    def _on_pending(self, flight: _Flight, head: int) -> SendResult | None:
        p = self.policy
        if self._nonce_count("latest") > flight.nonce:
            if self._find_receipt(flight) is not None:
                return None  # mined between the two reads: the next poll confirms it
            # a node may count the nonce a moment before it serves the receipt (anvil under load):
            # the nonce must stay used by something else for `dropped_after_polls` polls
            flight.used_polls += 1
            if flight.used_polls < p.dropped_after_polls:
                return None
            return self._result(
                flight.intent,
                "dropped",
                flight,
                error=f"nonce {flight.nonce} was used by another transaction; this intent was not executed",
            )
        if self._known(flight.attempts[-1].tx_hash):
            flight.missing_polls = 0
        else:
            flight.missing_polls += 1
        evicted = flight.missing_polls >= p.dropped_after_polls
        stuck = (
            p.replace_after_blocks is not None
            and head - flight.last_broadcast_block >= p.replace_after_blocks
        ) or (
            p.replace_after_sec is not None
            and self._clock() - flight.last_broadcast_at >= p.replace_after_sec
        )
        if evicted or stuck:
            return self._replace(flight, head, evicted=evicted)
        return None

    def _replace(self, flight: _Flight, head: int, *, evicted: bool) -> SendResult | None:
        p = self.policy
        label = flight.intent.label
        reason = "evicted" if evicted else "stuck"

        def restart_timer() -> None:
            flight.last_broadcast_at, flight.last_broadcast_block = self._clock(), head

        if not evicted and flight.replacements >= p.max_replacements:
            return None
        _, sim_error = self.simulate(flight.intent, "latest")
        if sim_error is not None:
            if evicted:
                return self._result(
                    flight.intent,
                    "dropped",
                    flight,
                    error=f"the tx left the node's pool and the intent would now revert ({sim_error}); "
                    "not re-signed",
                )
            log.warning("send.replace_skipped label=%r reason=would_revert error=%s", label, sim_error)
            restart_timer()
            return None
        last = flight.attempts[-1]
        base = self._base_fee()
        want_tip, want_max = (
            bump_fee(last.tip, p.replacement_bump),
            bump_fee(last.max_fee, p.replacement_bump),
        )
        max_fee = min(p.max_fee_per_gas_wei, max(want_max, mul_ceil(base, p.base_fee_multiplier) + want_tip))
        tip = min(want_tip, max_fee)
        if not evicted and (max_fee < want_max or tip < want_tip):
            if not flight.cap_blocked:
                log.warning(
                    "send.replace_blocked label=%r nonce=%d: +%g%% fees (maxFee %d) exceed the cap %d",
                    label,
                    flight.nonce,
                    p.replacement_bump * 100,
                    want_max,
                    p.max_fee_per_gas_wei,
                )
            flight.cap_blocked = True
            restart_timer()
            return None
        if evicted and base > max_fee:
            flight.cap_blocked = True  # it would be evicted again: wait for the base fee to come down
            return None
        attempt = self._sign(flight, max_fee, tip)
        if attempt.tx_hash == last.tx_hash:  # evicted at the cap already: offer the same tx again
            error = self._broadcast(attempt.raw)
            log.warning(
                "send.rebroadcast label=%r nonce=%d tx=%s (%s)",
                label,
                flight.nonce,
                attempt.tx_hash,
                error or "accepted",
            )
            flight.missing_polls = 0
            restart_timer()
            return None
        error = self._broadcast(attempt.raw)
        if error is not None:
            low = error.lower()
            log.warning(
                "send.replace_refused label=%r nonce=%d tx=%s error=%s",
                label,
                flight.nonce,
                attempt.tx_hash,
                error,
            )
            if evicted and "insufficient funds" in low:
                return self._result(
                    flight.intent, "insufficient_funds", flight, error=f"re-sign refused: {error}"
                )
            restart_timer()
            return None  # nonce too low: the next poll finds the receipt or the nonce used
        flight.attempts.append(attempt)
        flight.replacements += 1
        flight.missing_polls = 0
        flight.cap_blocked = False
        restart_timer()
        log.warning(
            "send.replaced label=%r nonce=%d reason=%s tx=%s max_fee=%d tip=%d (was %d/%d)",
            label,
            flight.nonce,
            reason,
            attempt.tx_hash,
            max_fee,
            tip,
            last.max_fee,
            last.tip,
        )
        return None

    def _timed_out(self, flight: _Flight) -> SendResult:
        if flight.cap_blocked:
            return self._result(
                flight.intent,
                "fee_cap_reached",
                flight,
                error=f"not mined in {self.policy.receipt_timeout_sec:g}s and the fee cap "
                f"{self.policy.max_fee_per_gas_wei} wei left no room to reprice it; "
                + ("it may still be mined" if flight.missing_polls == 0 else "it is not in the node's pool"),
            )
        where = f"mined in block {flight.seen[1]}, not yet confirmed" if flight.seen else "not mined"
        return self._result(
            flight.intent,
            "timeout",
            flight,
            error=f"{where} after {self.policy.receipt_timeout_sec:g}s; it may still be mined",
        )

    # ------------------------------------------------------------------ metrics

    def pending_info(self) -> PendingInfo:
        """(age in seconds of the unfinished tx, or 0; local next nonce − the chain's latest nonce)."""
        latest = self._nonce_count("latest")
        flight = self._inflight
        if flight is not None and flight.seen is None and latest > flight.nonce and not self._lock.locked():
            self._inflight = flight = None
        age = max(0.0, self._clock() - flight.started) if flight is not None else 0.0
        local = self._next_nonce if self._next_nonce is not None else latest
        return PendingInfo(age_sec=age, nonce_gap=local - latest)
