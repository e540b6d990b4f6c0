"""The auditor's replay (`keeper replay`): re-run every journaled keeper decision against a fork of the
chain and say, cycle by cycle, whether the journal tells the truth.

How blocks are read (the design)
--------------------------------
anvil forked at block A (``--fork-url URL --fork-block-number A --hardfork cancun``, a free local port)
only *has* state at A and before (blocks <= A are served from the origin); blocks after A on the fork
are the fork's own, not the origin's. So for each cycle recorded at block B the replay re-points the
same forked node with ``anvil_reset {forking: {jsonRpcUrl: URL, blockNumber: B}}`` (about 15 ms on a
loopback; skipped when B is the block already forked) and reads the snapshot there with the keeper's own
reader (`read_snapshot(fork, vault, B)`): every storage slot the reader touches is fetched by anvil from
the origin *at block B* (archive reads through the fork), so the snapshot is exactly the state the
keeper saw after block B, through an independent node — and that node is already positioned to
re-simulate B's next transactions if an auditor wants to (`ForkNode.w3`). Cycles are replayed in block
order. The fork's chain id and block hashes are the origin's (anvil keeps them), so the snapshot digest
compares byte for byte.

Mined transactions are checked on the origin (``--fork-url``) by hash: a fork only knows blocks up to
its fork point, while the keeper's transactions land after the block it decided at.

Per cycle (journal mode)
------------------------
- snapshot: the re-read snapshot's digest vs the journal's; when they differ, every differing field
  (``snapshot.perp.size_wad``) is named.
- risk: `assess` on the re-read snapshot vs the journal's `RiskReport`, floats within a relative
  tolerance (default 1e-9), everything else exact.
- actions: `decide_with_notes` with the policy config (``--config``; default the ``policy.json`` next
  to the journal, which the demo writes, else `PolicyConfig()`) vs the journal's decision: the number
  of actions, every action field by field (``actions[0].perp_size_delta_wad``) and the notes.
- mined: for every journaled outcome with transaction hashes, the transaction actually mined: receipt
  status (1 for ``confirmed``, 0 for ``reverted``), ``to`` and calldata equal to `encode_action`, the
  receipt's block equal to the journal's; a ``skipped`` / ``simulation_failed`` outcome must have
  nothing mined.
- `Journal.verify()` (the hash chain) is run and its findings reported; a finding names its cycle.

Cycles whose snapshot read failed at the time (no snapshot in the journal) are shown as not checkable.

Without a journal (reconstruction)
----------------------------------
The keeper's transactions in [A, B] are found on the origin: transactions to the vault (or to the
poke targets: the legs and the option oracle) whose selector is a keeper action's, sent by an address
that sent at least one nonce'd action (rebalance, trade/settle options, report, cover loss — keeper-only
entry points). Consecutive blocks holding that keeper's transactions form one cycle (the service sends a
cycle's actions one after the other), decided at the block before the first: the replay reads that
block, decides, and compares the calldata it would have sent, in order, with what was mined. With
``every=N`` it also decides at A, A+N, ... and lists what the keeper would have done there (listed, not
counted as differences: a keeper is free to run less often than every block).

`replay_journal` / `reconstruct` return a `ReplayReport` (pure data: `to_json`, `to_markdown`); the
comparison functions (`diff_values`, `compare_*`) are pure; the I/O is `ForkNode`, the reader and the
origin's receipts.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from eth_utils import to_checksum_address
from web3 import Web3

from keeper.assess import assess
from keeper.chain.actions import (
    COVER_LOSS,
    POKE_LEG,
    POKE_OPTION_ORACLE,
    PROCESS_REDEMPTIONS,
    REBALANCE,
    REPORT,
    SETTLE_OPTIONS,
    TRADE_OPTIONS,
    encode_action,
    label,
)
from keeper.chain.reader import read_snapshot
from keeper.chain.rpc import KeepAliveHTTPProvider, fast_web3
from keeper.journal import ActionOutcome, Journal, JournalCycle, JournalError
from keeper.policy import Decision, PolicyConfig, decide_with_notes
from keeper.risk import RiskReport
from keeper.snapshot import Snapshot

DEFAULT_REL_TOL = 1e-9
HARDFORK = "cancun"
CHECKS = ("snapshot", "risk", "actions", "mined")
__all__ = [
    "ForkNode",
    "JournalError",
    "ReplayReport",
    "load_policy",
    "reconstruct",
    "replay_journal",
    "write_report",
]


# =====================================================================================================
# results
# =====================================================================================================


@dataclass(frozen=True)
class Difference:
    """One difference: which cycle, which check, which field, and the two values."""

    cycle_id: int | None
    block: int | None
    check: str  # snapshot | risk | actions | mined | journal | reconstruct
    path: str
    journal: Any
    replayed: Any


@dataclass
class CycleVerdict:
    cycle_id: int | None
    block: int | None
    #: per check: True (agrees), False (differs), None (not checkable / nothing to check)
    checks: dict[str, bool | None]
    actions: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def ok(self) -> bool:
        return all(v is not False for v in self.checks.values())


@dataclass
class ReplayReport:
    mode: str  # "journal" | "reconstruct"
    fork_url: str
    vault: str
    from_block: int
    to_block: int
    cycles: list[CycleVerdict]
    differences: list[Difference]
    journal_problems: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)
    elapsed_sec: float = 0.0
    blocks_read: int = 0

    @property
    def ok(self) -> bool:
        return not self.differences and not self.journal_problems

    @property
    def differing_cycles(self) -> list[int | None]:
        return sorted({d.cycle_id for d in self.differences}, key=lambda x: (x is None, x))

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "fork_url": self.fork_url,
            "vault": self.vault,
            "from_block": self.from_block,
            "to_block": self.to_block,
            "ok": self.ok,
            "cycles_replayed": len(self.cycles),
            "blocks_read": self.blocks_read,
            "elapsed_sec": self.elapsed_sec,
            "differing_cycles": self.differing_cycles,
            "journal_problems": self.journal_problems,
            "differences": [asdict(d) for d in self.differences],
            "cycles": [asdict(c) | {"ok": c.ok} for c in self.cycles],
            "info": self.info,
        }

    def to_markdown(self) -> str:
        lines = [
            f"# Keel replay ({self.mode})",
            "",
            f"- vault: `{self.vault}`",
            f"- blocks: {self.from_block} .. {self.to_block} (fork of {self.fork_url}, hardfork {HARDFORK})",
            f"- cycles replayed: {len(self.cycles)}, blocks read: {self.blocks_read}, "
            f"{self.elapsed_sec:.1f} s",
            f"- verdict: **{'no differences' if self.ok else 'DIFFERENCES FOUND'}**",
            "",
            "## Journal.verify()",
            "",
        ]
        lines += [f"- {p}" for p in self.journal_problems] or ["- the hash chain is intact"]
        lines += ["", "## Differences", ""]
        if not self.differences:
            lines.append("none")
        else:
            lines += ["| cycle | block | check | field | journal | replayed |", "|---|---|---|---|---|---|"]
            for d in self.differences:
                lines.append(
                    f"| {d.cycle_id} | {d.block} | {d.check} | `{d.path}` | `{_short(d.journal)}` "
                    f"| `{_short(d.replayed)}` |"
                )
        if self.info:
            lines += ["", "## Notes", ""] + [f"- {i}" for i in self.info]
        return "\n".join(lines) + "\n"


def _short(v: Any, n: int = 120) -> str:
    s = json.dumps(v, default=str) if not isinstance(v, str) else v
    return (s[: n - 1] + "…" if len(s) > n else s).replace("|", "\\|")


# =====================================================================================================
# pure comparisons
# =====================================================================================================


def _same_float(a: float, b: float, rel_tol: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=rel_tol * 1e-3)


def diff_values(a: Any, b: Any, path: str, rel_tol: float = 0.0) -> list[tuple[str, Any, Any]]:
    """Every leaf where `a` and `b` differ, as (path, a, b); floats within `rel_tol` are equal, every
    other value (ints, strings, bools, None) must be equal exactly."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[tuple[str, Any, Any]] = []
        for k in sorted(a.keys() | b.keys(), key=str):
            sub = f"{path}.{k}" if path else str(k)
            if k not in a:
                out.append((sub, None, b[k]))
            elif k not in b:
                out.append((sub, a[k], None))
            else:
                out += diff_values(a[k], b[k], sub, rel_tol)
        return out
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        out = []
        if len(a) != len(b):
            out.append((f"{path}.length", len(a), len(b)))
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            out += diff_values(x, y, f"{path}[{i}]", rel_tol)
        return out
    if isinstance(a, bool) or isinstance(b, bool):
        return [] if a is b else [(path, a, b)]
    if isinstance(a, float) or isinstance(b, float):
        numbers = isinstance(a, int | float) and isinstance(b, int | float)
        if numbers and _same_float(float(a), float(b), rel_tol):
            return []
        return [(path, a, b)]
    return [] if a == b else [(path, a, b)]


def compare_snapshot(journal: Snapshot, replayed: Snapshot) -> list[tuple[str, Any, Any]]:
    """Exact: the digests, and when they differ every differing field."""
    if journal.digest() == replayed.digest():
        return []
    diffs = diff_values(journal.model_dump(mode="json"), replayed.model_dump(mode="json"), "snapshot")
    return diffs or [("snapshot.digest", journal.digest(), replayed.digest())]


def compare_risk(journal: RiskReport, replayed: RiskReport, rel_tol: float) -> list[tuple[str, Any, Any]]:
    return diff_values(journal.model_dump(mode="json"), replayed.model_dump(mode="json"), "risk", rel_tol)


def compare_decision(journal: Decision, replayed: Decision, rel_tol: float) -> list[tuple[str, Any, Any]]:
    """Actions field by field (figures, which are floats, within `rel_tol`), then the notes."""
    out: list[tuple[str, Any, Any]] = []
    ja, ra = journal.actions, replayed.actions
    if len(ja) != len(ra):
        out.append(("actions.length", [label(a) for a in ja], [label(a) for a in ra]))
    for i, (x, y) in enumerate(zip(ja, ra, strict=False)):
        out += diff_values(x.model_dump(mode="json"), y.model_dump(mode="json"), f"actions[{i}]", rel_tol)
    out += diff_values(list(journal.notes), list(replayed.notes), "notes")
    return out


@dataclass(frozen=True)
class MinedTx:
    """What the origin says about one transaction hash (None fields: not mined)."""

    hash: str
    mined: bool
    status: int | None = None
    to: str | None = None
    data: bytes = b""
    block: int | None = None
    gas_used: int | None = None


def calldata_difference(journal: bytes, mined: bytes, limit: int = 3) -> tuple[str, str]:
    """The ABI words that differ (``word 6: 0x...``; word 0 is the first after the selector), readable
    where two whole calldatas, equal for hundreds of bytes, would not be."""
    if journal[:4] != mined[:4] or len(journal) != len(mined):
        return "0x" + journal.hex(), "0x" + mined.hex()
    words = [
        k
        for k in range((len(journal) - 4 + 31) // 32)
        if journal[4 + 32 * k : 36 + 32 * k] != mined[4 + 32 * k : 36 + 32 * k]
    ][:limit]

    def show(data: bytes) -> str:
        return ", ".join(f"word {k}: 0x{data[4 + 32 * k : 36 + 32 * k].hex()}" for k in words)

    return show(journal), show(mined)


def compare_outcome(
    outcome: ActionOutcome, txs: list[MinedTx], vault: str, idx: int
) -> list[tuple[str, Any, Any]]:
    """The journal's outcome for action `idx` vs the transactions its hashes name on chain."""
    where = f"outcomes[{idx}]"
    mined = [t for t in txs if t.mined]
    if outcome.status in ("confirmed", "reverted"):
        if len(mined) != 1:
            landed = [t.hash for t in mined] or "nothing mined"
            return [(f"{where}.tx_hashes", list(outcome.tx_hashes), landed)]
        t = mined[0]
        call = encode_action(outcome.action, vault)
        out: list[tuple[str, Any, Any]] = []
        want = 1 if outcome.status == "confirmed" else 0
        if t.status != want:
            out.append((f"{where}.status", outcome.status, f"receipt status {t.status}"))
        if t.to is None or to_checksum_address(t.to) != to_checksum_address(call.to):
            out.append((f"{where}.to", call.to, t.to))
        if t.data != call.data:
            out.append((f"{where}.calldata", *calldata_difference(call.data, t.data)))
        if outcome.block_number is not None and t.block != outcome.block_number:
            out.append((f"{where}.block_number", outcome.block_number, t.block))
        if outcome.gas_used is not None and t.gas_used != outcome.gas_used:
            out.append((f"{where}.gas_used", outcome.gas_used, t.gas_used))
        return out
    if mined:  # skipped, simulation_failed, dropped...: the journal says nothing landed
        return [(f"{where}.status", outcome.status, f"mined in block {mined[0].block} ({mined[0].hash})")]
    return []


# =====================================================================================================
# I/O: the forked node, the origin
# =====================================================================================================


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def anvil_binary() -> str:
    found = shutil.which("anvil")
    if found:
        return found
    local = Path(__file__).resolve().parents[1] / "node_modules" / ".bin" / "anvil"
    if local.exists():
        return str(local)
    raise FileNotFoundError("anvil not found (npm install, or put it on PATH)")


class ForkNode:
    """anvil forked from `fork_url` at `block` on a free port, hardfork pinned; `at(b)` re-forks at b."""

    def __init__(self, fork_url: str, block: int, *, hardfork: str = HARDFORK, startup_sec: float = 30.0):
        self.fork_url = fork_url
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [
            anvil_binary(),
            "--port",
            str(self.port),
            "--silent",
            "--fork-url",
            fork_url,
            "--fork-block-number",
            str(block),
            "--hardfork",
            hardfork,
            "--no-mining",
        ]
        # its own process group: npm's `anvil` is a node wrapper around the binary, and both must go
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self.w3 = fast_web3(self.url)  # keep-alive, no per-call middlewares: ~120 eth_calls per snapshot
        self.block = block
        self.resets = 0
        deadline = time.monotonic() + startup_sec
        while True:
            try:
                if self.w3.eth.block_number == block:
                    break
            except Exception:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"anvil forked from {fork_url} at block {block} did not start")
            time.sleep(0.05)

    def at(self, block: int) -> Web3:
        """The node forked at `block` (state after `block`, read from the origin)."""
        if block != self.block:
            res = self.w3.provider.make_request(
                "anvil_reset", [{"forking": {"jsonRpcUrl": self.fork_url, "blockNumber": block}}]
            )
            if "error" in res:
                raise RuntimeError(f"anvil_reset to block {block}: {res['error']}")
            self.block = block
            self.resets += 1
        return self.w3

    def close(self) -> None:
        if isinstance(self.w3.provider, KeepAliveHTTPProvider):
            self.w3.provider.close()
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait()
        else:
            self._signal(signal.SIGKILL)  # the wrapper is gone: make sure the binary is too

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)  # the group this node was started in (see __init__)

    def __enter__(self) -> ForkNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def mined_tx(origin: Web3, tx_hash: str) -> MinedTx:
    try:
        receipt = origin.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    except Exception:  # web3 raises TransactionNotFound
        return MinedTx(hash=tx_hash, mined=False)
    tx = origin.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
    return MinedTx(
        hash=tx_hash,
        mined=True,
        status=int(receipt["status"]),
        to=tx.get("to"),
        data=bytes(tx["input"]),
        block=int(receipt["blockNumber"]),
        gas_used=int(receipt["gasUsed"]),
    )


def load_policy(path: str | Path | None, journal: str | Path | None = None) -> tuple[PolicyConfig, str]:
    """(policy, where it came from): `path` (YAML or JSON: a keeper config with a `policy:` mapping, or
    the policy mapping itself), else `policy.json` next to the journal, else the defaults."""
    if path is None and journal is not None:
        beside = Path(journal).with_name("policy.json")
        if beside.exists():
            path = beside
    if path is None:
        return PolicyConfig(), "PolicyConfig() defaults"
    raw = yaml.safe_load(Path(path).read_text()) or {}  # YAML is a superset of JSON
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: the top level must be a mapping")
    data = raw.get("policy", raw) if isinstance(raw.get("policy"), dict) else raw
    return PolicyConfig.model_validate(data), str(path)


@contextmanager
def _node(fork_url: str, block: int, node: ForkNode | None) -> Iterator[ForkNode]:
    if node is not None:
        node.at(block)
        yield node
        return
    with ForkNode(fork_url, block) as n:
        yield n


# =====================================================================================================
# journal mode
# =====================================================================================================


def replay_cycle(
    cyc: JournalCycle,
    read: Callable[[int], Snapshot],
    fetch_tx: Callable[[str], MinedTx],
    vault: str,
    policy: PolicyConfig,
    rel_tol: float = DEFAULT_REL_TOL,
) -> tuple[CycleVerdict, list[Difference]]:
    """One journaled cycle against the chain (`read(block)` re-reads the snapshot, `fetch_tx(hash)` looks
    a transaction up)."""
    checks: dict[str, bool | None] = dict.fromkeys(CHECKS)
    diffs: list[Difference] = []
    acts = [label(a) for a in cyc.decision.actions] if cyc.decision is not None else []
    verdict = CycleVerdict(cycle_id=cyc.id, block=cyc.block, checks=checks, actions=acts)

    def add(check: str, found: list[tuple[str, Any, Any]]) -> None:
        checks[check] = not found
        diffs.extend(Difference(cyc.id, cyc.block, check, p, j, r) for p, j, r in found)

    if cyc.snapshot is None or cyc.block is None:
        verdict.note = f"no snapshot in the journal ({cyc.status}: {cyc.error or ''})".strip()
    else:
        try:
            snap = read(cyc.block)
        except Exception as exc:  # the chain does not have what the journal says it read
            add("snapshot", [("snapshot", cyc.snapshot.digest(), f"read failed: {str(exc).splitlines()[0]}")])
            return verdict, diffs
        add("snapshot", compare_snapshot(cyc.snapshot, snap))
        risk = assess(snap)
        if cyc.risk is not None:
            add("risk", compare_risk(cyc.risk, risk, rel_tol))
        if cyc.decision is not None:
            add("actions", compare_decision(cyc.decision, decide_with_notes(snap, risk, policy), rel_tol))
    found: list[tuple[str, Any, Any]] = []
    checked = False
    for i, o in enumerate(cyc.outcomes):
        if o.tx_hashes:
            checked = True
            found += compare_outcome(o, [fetch_tx(h) for h in o.tx_hashes], vault, i)
        elif o.status in ("confirmed", "reverted"):
            checked = True
            found.append((f"outcomes[{i}].tx_hashes", [], f"a {o.status} outcome without a transaction"))
    if checked:
        add("mined", found)
    return verdict, diffs


def replay_journal(
    fork_url: str,
    journal_path: str | Path,
    from_block: int | None = None,
    to_block: int | None = None,
    *,
    vault: str | None = None,
    policy: PolicyConfig | None = None,
    rel_tol: float = DEFAULT_REL_TOL,
    node: ForkNode | None = None,
    on_cycle: Callable[[CycleVerdict], None] | None = None,
) -> ReplayReport:
    """Replay the journal's cycles in [from_block, to_block] (default: all of them) on a fork."""
    started = time.perf_counter()
    origin = fast_web3(fork_url)
    with Journal(journal_path, readonly=True) as journal:
        problems = journal.verify()
        cycles = list(journal.cycles(from_block, to_block))
    blocks = [c.block for c in cycles if c.block is not None]
    if from_block is None:
        from_block = min(blocks) if blocks else origin.eth.block_number
    if to_block is None:
        to_block = max(blocks) if blocks else from_block
    if vault is None:
        vault = next((c.snapshot.vault.address for c in cycles if c.snapshot is not None), None)
        if vault is None:
            raise ValueError("no vault address: pass --vault (the journal has no snapshot in this range)")
    vault = to_checksum_address(vault)
    policy = policy or PolicyConfig()
    report = ReplayReport("journal", fork_url, vault, from_block, to_block, [], [], journal_problems=problems)
    with _node(fork_url, from_block, node) as fork:

        def read(block: int) -> Snapshot:
            return read_snapshot(fork.at(block), vault, block)

        for cyc in sorted(cycles, key=lambda c: (c.block if c.block is not None else -1, c.id)):
            verdict, diffs = replay_cycle(cyc, read, lambda h: mined_tx(origin, h), vault, policy, rel_tol)
            report.cycles.append(verdict)
            report.differences.extend(diffs)
            if on_cycle is not None:
                on_cycle(verdict)
    report.cycles.sort(key=lambda v: v.cycle_id or 0)
    report.blocks_read = len({v.block for v in report.cycles if v.checks["snapshot"] is not None})
    report.elapsed_sec = time.perf_counter() - started
    return report


# =====================================================================================================
# reconstruction (no journal)
# =====================================================================================================

_SIGNATURES = {
    REBALANCE: "rebalance",
    TRADE_OPTIONS: "trade_option",
    SETTLE_OPTIONS: "settle_option",
    REPORT: "report",
    COVER_LOSS: "cover_loss",
    PROCESS_REDEMPTIONS: "process_redemptions",
    POKE_LEG: "poke_oracle",
    POKE_OPTION_ORACLE: "poke_oracle",
}
KEEPER_ONLY = ("rebalance", "trade_option", "settle_option", "report", "cover_loss")


def _selector_kinds() -> dict[bytes, str]:
    from eth_utils import function_signature_to_4byte_selector

    return {function_signature_to_4byte_selector(s): k for s, k in _SIGNATURES.items()}


@dataclass(frozen=True)
class ChainTx:
    block: int
    hash: str
    sender: str
    to: str
    data: bytes
    kind: str


def keeper_runs(txs: Iterable[ChainTx]) -> list[list[ChainTx]]:
    """Group the keeper's transactions into cycles: runs over consecutive blocks (pure)."""
    txs = list(txs)
    senders = {t.sender for t in txs if t.kind in KEEPER_ONLY}
    runs: list[list[ChainTx]] = []
    for t in sorted((t for t in txs if t.sender in senders), key=lambda t: t.block):
        if runs and t.block - runs[-1][-1].block <= 1:
            runs[-1].append(t)
        else:
            runs.append([t])
    return runs


def scan_keeper_txs(origin: Web3, targets: set[str], from_block: int, to_block: int) -> list[ChainTx]:
    kinds = _selector_kinds()
    out = []
    for b in range(from_block, to_block + 1):
        block = origin.eth.get_block(b, full_transactions=True)
        for tx in block["transactions"]:
            to = tx.get("to")
            data = bytes(tx["input"])
            if to is None or to_checksum_address(to) not in targets or data[:4] not in kinds:
                continue
            out.append(
                ChainTx(
                    b,
                    "0x" + bytes(tx["hash"]).hex(),
                    to_checksum_address(tx["from"]),
                    to_checksum_address(to),
                    data,
                    kinds[data[:4]],
                )
            )
    return out


def reconstruct(
    fork_url: str,
    vault: str,
    from_block: int,
    to_block: int,
    *,
    policy: PolicyConfig | None = None,
    every: int | None = None,
    node: ForkNode | None = None,
) -> ReplayReport:
    """What the keeper should have done, from chain state alone, vs what it did (module docstring)."""
    started = time.perf_counter()
    origin = fast_web3(fork_url)
    vault = to_checksum_address(vault)
    policy = policy or PolicyConfig()
    head = origin.eth.block_number
    if to_block > head:
        to_block = head
    if from_block > to_block:
        raise ValueError(f"--from-block {from_block} is after --to-block {to_block} (origin head {head})")
    report = ReplayReport("reconstruct", fork_url, vault, from_block, to_block, [], [])
    with _node(fork_url, from_block, node) as fork:
        first = read_snapshot(fork.at(from_block), vault, from_block)
        targets = {vault, first.spot.leg, first.perp.leg, first.options.leg, first.options.oracle}
        runs = keeper_runs(scan_keeper_txs(origin, targets, from_block + 1, to_block))
        decided_at: set[int] = set()
        for n, run in enumerate(runs, 1):
            d = run[0].block - 1
            decided_at.add(d)
            snap = read_snapshot(fork.at(d), vault, d)
            decision = decide_with_notes(snap, assess(snap), policy)
            want = [encode_action(a, vault) for a in decision.actions]
            found: list[tuple[str, Any, Any]] = []
            if len(want) != len(run):
                found.append(("actions.length", [c.label for c in want], [t.kind for t in run]))
            for i, (c, t) in enumerate(zip(want, run, strict=False)):
                if c.to != t.to or c.data != t.data:
                    found.append(
                        (
                            f"actions[{i}].calldata",
                            f"{c.label} 0x{c.data.hex()}",
                            f"{t.kind} {t.hash} 0x{t.data.hex()}",
                        )
                    )
            report.cycles.append(
                CycleVerdict(
                    n,
                    d,
                    {"snapshot": None, "risk": None, "actions": not found, "mined": not found},
                    actions=[c.label for c in want],
                    note=f"mined: {[t.kind for t in run]}",
                )
            )
            # in reconstruction the "journal" column is what the policy says, "replayed" what was mined
            report.differences += [Difference(n, d, "reconstruct", p, j, r) for p, j, r in found]
        if every:
            for b in range(from_block, to_block + 1, every):
                if b in decided_at:
                    continue
                snap = read_snapshot(fork.at(b), vault, b)
                acts = decide_with_notes(snap, assess(snap), policy).actions
                if acts:
                    report.info.append(f"block {b}: the policy would do {[label(a) for a in acts]}")
                decided_at.add(b)
    report.blocks_read = len(decided_at) + 1
    report.elapsed_sec = time.perf_counter() - started
    return report


def write_report(report: ReplayReport, path: str | Path) -> tuple[Path, Path]:
    """`path` (JSON) and the same name with `.md` (readable); returns both paths."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(report.to_json(), indent=2, default=str) + "\n")
    md = p.with_suffix(".md")
    md.write_text(report.to_markdown())
    return p, md
