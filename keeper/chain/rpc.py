"""Low-overhead JSON-RPC: a keep-alive HTTP provider for web3 (used by the keeper, the demo and the
replay) and a raw client for the simulator's own transactions.

The keeper's reader makes ~100 `eth_call`s per snapshot. Through `requests` and web3's default
middlewares (the validation middleware asks for the chain id before every call) each costs ~2-3 ms on
this machine; over one persistent `http.client` connection with TCP_NODELAY and without the validation
middleware it costs ~1 ms. Nothing else changes: the keeper gets an ordinary `Web3`.

`RawRpc` is for the simulator (feeds, arbitrage, depositors, the venue operator): transactions from the
dev node's unlocked accounts (`eth_sendTransaction`, the node signs), calls encoded with eth-abi, and
receipts checked — a revert raises `RawTxError` with the decoded reason.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from web3 import Web3
from web3.providers import JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse


class RawTxError(RuntimeError):
    """A simulator transaction or call failed (the message names it and the node's reason)."""


class KeepAliveHTTPProvider(JSONBaseProvider):
    """A web3 provider over one persistent HTTP/1.1 connection (reconnects once when the node closed it).

    Connection failures raise `ConnectionError` subclasses, which the keeper's sender and service treat
    as "node unavailable" like `requests` errors.
    """

    def __init__(self, endpoint_uri: str, timeout_sec: float = 30.0) -> None:
        super().__init__()
        url = urlparse(endpoint_uri)
        self.endpoint_uri = endpoint_uri
        self._host = url.hostname or "127.0.0.1"
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._path = url.path or "/"
        self._timeout = timeout_sec
        self._conn: http.client.HTTPConnection | None = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            conn.connect()
            assert conn.sock is not None
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def post(self, payload: bytes) -> bytes:
        headers = {"Content-Type": "application/json"}
        with self._lock:
            for attempt in (0, 1):
                try:
                    conn = self._connection()
                    conn.request("POST", self._path, payload, headers)
                    resp = conn.getresponse()
                    body = resp.read()
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                    self.close()
                    if attempt:
                        raise
                    continue
                except OSError:
                    self.close()
                    raise
                if resp.status >= 400:
                    raise ConnectionError(f"HTTP {resp.status} from {self.endpoint_uri}: {body[:200]!r}")
                return body
        raise ConnectionError(f"no answer from {self.endpoint_uri}")  # pragma: no cover

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        payload = json.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params})
        return json.loads(self.post(payload.encode()))

    def is_connected(self, show_traceback: bool = False) -> bool:
        try:
            self.make_request(RPCEndpoint("web3_clientVersion"), [])
        except OSError:
            return False
        return True


def fast_web3(uri: str) -> Web3:
    """A `Web3` over `KeepAliveHTTPProvider`, without the per-call validation and ENS middlewares."""
    w3 = Web3(KeepAliveHTTPProvider(uri))
    for name in ("validation", "ens_name_to_address"):
        with contextlib.suppress(ValueError):  # not installed in this web3 version
            w3.middleware_onion.remove(name)
    return w3


def selector(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


def arg_types(signature: str) -> list[str]:
    """The top-level parameter types of `signature` (tuples kept whole)."""
    inner = signature[signature.index("(") + 1 : signature.rindex(")")]
    out: list[str] = []
    depth = 0
    cur = ""
    for ch in inner:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur:
        out.append(cur)
    return out


def calldata(signature: str, *args: Any) -> bytes:
    """ABI-encoded call of `signature` (e.g. ``"transfer(address,uint256)"``) with `args`."""
    types = arg_types(signature)
    if len(types) != len(args):
        raise ValueError(f"{signature}: {len(args)} arguments for {len(types)} parameters")
    return selector(signature) + (encode(types, list(args)) if types else b"")


class RawRpc:
    """JSON-RPC calls and transactions from the dev node's unlocked accounts, with little overhead."""

    def __init__(self, provider: KeepAliveHTTPProvider, error_abi: Sequence[dict[str, Any]] = ()) -> None:
        self.provider = provider
        self._errors: dict[bytes, tuple[str, list[str]]] = {}
        for item in error_abi:
            types = [i["type"] for i in item.get("inputs", [])]
            sig = f"{item['name']}({','.join(types)})"
            self._errors[selector(sig)] = (item["name"], types)
        self.tx_count = 0
        self.gas_limit = 3_000_000

    def request(self, method: str, params: list[Any]) -> Any:
        resp = self.provider.make_request(RPCEndpoint(method), params)
        if "error" in resp:
            err = resp["error"]
            raise RawTxError(f"{method}: {self._describe(err)}")
        return resp["result"]

    def _describe(self, err: dict[str, Any]) -> str:
        msg = str(err.get("message", err))
        data = err.get("data")
        if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
            raw = bytes.fromhex(data[2:])
            name = self._errors.get(raw[:4])
            if name is not None:
                try:
                    values = decode(name[1], raw[4:])
                    msg += f" [{name[0]}({', '.join(map(str, values))})]"
                except Exception:
                    msg += f" [{name[0]}]"
        return msg

    # ---- reads

    def call(self, to: str, signature: str, out: list[str], *args: Any, block: str | int = "latest") -> Any:
        tag = hex(block) if isinstance(block, int) else block
        raw = self.request("eth_call", [{"to": to, "data": "0x" + calldata(signature, *args).hex()}, tag])
        values = decode(out, bytes.fromhex(raw[2:]))
        return values[0] if len(values) == 1 else values

    def block_number(self) -> int:
        return int(self.request("eth_blockNumber", []), 16)

    def block(self, number: int | str = "latest") -> dict[str, Any]:
        tag = hex(number) if isinstance(number, int) else number
        return self.request("eth_getBlockByNumber", [tag, False])

    def timestamp(self, number: int | str = "latest") -> int:
        return int(self.block(number)["timestamp"], 16)

    def logs(self, addresses: Sequence[str], from_block: int, to_block: int) -> list[dict[str, Any]]:
        return self.request(
            "eth_getLogs",
            [{"address": list(addresses), "fromBlock": hex(from_block), "toBlock": hex(to_block)}],
        )

    # ---- writes

    def send(self, sender: str, to: str, signature: str, *args: Any, value: int = 0) -> dict[str, Any]:
        """Send a transaction from the unlocked `sender` and return its receipt; a revert raises."""
        tx: dict[str, Any] = {
            "from": to_checksum_address(sender),
            "to": to_checksum_address(to),
            "data": "0x" + calldata(signature, *args).hex(),
            # an explicit limit: no estimation (faster, and an estimate taken at the pending block's
            # time can fall short once `evm_setNextBlockTimestamp` moved the real block's time)
            "gas": hex(self.gas_limit),
        }
        if value:
            tx["value"] = hex(value)
        try:
            tx_hash = self.request("eth_sendTransaction", [tx])
        except RawTxError as exc:
            raise RawTxError(f"{signature} from {sender} to {to}: {exc}") from None
        self.tx_count += 1
        receipt = None
        for i in range(400):
            receipt = self.request("eth_getTransactionReceipt", [tx_hash])
            if receipt is not None:
                break
            time.sleep(0.005 if i > 2 else 0)
        if receipt is None:
            raise RawTxError(f"{signature}: no receipt for {tx_hash} (is the node automining?)")
        if int(receipt["status"], 16) != 1:
            why = ""
            try:  # replay on the parent block for the reason (best effort: the block time differs)
                self.request("eth_call", [tx, hex(int(receipt["blockNumber"], 16) - 1)])
            except RawTxError as exc:
                why = f": {exc}"
            raise RawTxError(
                f"{signature} from {sender} to {to} reverted in {tx_hash} (gas used "
                f"{int(receipt['gasUsed'], 16)}){why}"
            )
        return receipt

    def set_next_timestamp(self, ts: int) -> None:
        self.request("evm_setNextBlockTimestamp", [ts])

    def set_balance(self, who: str, wei: int) -> None:
        self.request("anvil_setBalance", [to_checksum_address(who), hex(wei)])
