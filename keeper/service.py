"""The keeper loop: on each new block (or interval) snapshot → risk → decide → send → journal.

- Reads go through `keeper.chain.reader.read_snapshot` (every call pinned to one block); the risk
  report and the decision are pure (`keeper.assess`, `keeper.policy`).
- Each action is simulated and sent by the `Sender` (simulate first, local nonce, EIP-1559 fees under a
  cap, stuck-tx replacement, confirmations). Actions carrying a vault nonce are sent in order; once one
  fails, the rest of the cycle's nonce'd actions are skipped (they would revert `StaleNonce` anyway) and
  the next cycle re-reads and re-decides — after a reorg or a competing keeper too, so nothing is done
  twice (the vault's `expectedNonce` makes a duplicate revert) and nothing is lost (the next snapshot
  shows what is still needed).
- Failures (RPC errors, reverted or unconfirmed sends) are counted; RPC errors back off exponentially.
  After `max_consecutive_failures` the circuit breaker opens: the loop keeps reading, journaling and
  exporting metrics but sends nothing (status "halted"); it closes again after a clean cycle only when
  `auto_reset` is set, else it stays open until restart and `run` returns exit code 1.
- SIGINT/SIGTERM stop the loop after the current cycle (graceful); the exit code is 0, or 1 when the
  breaker was open.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from web3 import Web3

from keeper.assess import assess
from keeper.chain.actions import encode_action
from keeper.chain.reader import ChainReadError, read_snapshot
from keeper.journal import ActionOutcome, CycleRecord
from keeper.policy import Decision, PolicyConfig, decide_with_notes
from keeper.risk import RiskReport
from keeper.snapshot import Snapshot

log = logging.getLogger("keeper.service")


class SendResultLike(Protocol):
    status: str
    tx_hashes: list[str]
    block_number: int | None
    gas_used: int | None
    effective_gas_price: int | None
    error: str | None


class SenderLike(Protocol):
    def send(self, intent: Any) -> SendResultLike: ...

    def pending_info(self) -> tuple[float, int]: ...


class RpcError(RuntimeError):
    """The node could not be reached or answered with an error."""


def is_rpc_failure(exc: BaseException) -> bool:
    name = type(exc).__name__
    return isinstance(exc, ChainReadError | ConnectionError | TimeoutError | OSError) or name in {
        "RpcUnavailable",
        "ProviderConnectionError",
    }


class Service:
    """The loop. `sender`, `journal` and `metrics` are injected (None = don't send / record / export)."""

    def __init__(
        self,
        w3: Web3,
        vault: str,
        policy: PolicyConfig,
        *,
        sender: SenderLike | None,
        make_intent: Callable[[str, bytes, str], Any] | None = None,
        journal: Any | None = None,
        metrics: Any | None = None,
        max_consecutive_failures: int = 5,
        backoff_initial_sec: float = 1.0,
        backoff_max_sec: float = 60.0,
        poll_interval_sec: float = 1.0,
        every_n_blocks: int = 1,
        auto_reset: bool = False,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.w3 = w3
        self.vault = vault
        self.policy = policy
        self.sender = sender
        self.make_intent = make_intent
        self.journal = journal
        self.metrics = metrics
        self.max_failures = max_consecutive_failures
        self.backoff_initial = backoff_initial_sec
        self.backoff_max = backoff_max_sec
        self.poll_interval = poll_interval_sec
        self.every_n_blocks = every_n_blocks
        self.auto_reset = auto_reset
        self.clock = clock
        self.sleep = sleep
        self.failures = 0
        self.breaker_open = False
        self.stop_event = threading.Event()
        self.last_block: int | None = None
        self.cycles = 0

    # ------------------------------------------------------------------ one cycle

    def run_cycle(self, block: int | None = None) -> CycleRecord:
        """Read at `block` (default latest), decide, send (unless halted), journal and export."""
        started = self.clock()
        snap: Snapshot | None = None
        risk: RiskReport | None = None
        decision: Decision | None = None
        outcomes: list[ActionOutcome] = []
        try:
            snap = read_snapshot(self.w3, self.vault, block)
            risk = assess(snap)
            decision = decide_with_notes(snap, risk, self.policy)
        except Exception as exc:
            kind = "rpc" if is_rpc_failure(exc) else "read"
            self._failed(kind, exc)
            result = CycleRecord(
                started_at=started,
                finished_at=self.clock(),
                block=block,
                snapshot=snap,
                risk=risk,
                decision=decision,
                outcomes=(),
                status="error",
                error=f"{kind}: {exc}".splitlines()[0][:500],
            )
            self._record(result)
            return result

        for note in decision.notes:
            log.info("block %d: %s", snap.block, note)
        halted = self.breaker_open or self.sender is None
        failed_nonce = False
        cycle_failed = False
        for action in decision.actions:
            call = encode_action(action, self.vault)
            nonce = getattr(action, "expected_nonce", None)
            if halted or (failed_nonce and nonce is not None):
                why = (
                    "circuit breaker open"
                    if self.breaker_open
                    else ("dry run" if halted else "earlier action failed")
                )
                outcomes.append(ActionOutcome(action=action, label=call.label, status="skipped", error=why))
                continue
            try:
                assert self.sender is not None and self.make_intent is not None
                res = self.sender.send(self.make_intent(call.to, call.data, call.label))
            except Exception as exc:
                kind = "rpc" if is_rpc_failure(exc) else "send"
                self._count_error(kind)
                outcomes.append(
                    ActionOutcome(action=action, label=call.label, status="error", error=str(exc)[:500])
                )
                cycle_failed = True
                failed_nonce = failed_nonce or nonce is not None
                if kind == "rpc":
                    break
                continue
            outcomes.append(
                ActionOutcome(
                    action=action,
                    label=call.label,
                    status=res.status,
                    tx_hashes=tuple(res.tx_hashes),
                    block_number=res.block_number,
                    gas_used=res.gas_used,
                    effective_gas_price=res.effective_gas_price,
                    error=res.error,
                )
            )
            log.info("%s: %s (%s) %s", call.label, res.status, action.reason, res.error or "")
            if res.status != "confirmed":
                cycle_failed = True
                self._count_error(f"send_{res.status}")
                if nonce is not None:
                    failed_nonce = True
        if cycle_failed:
            self._failed("cycle", None)
        elif not halted or self.auto_reset:
            self.failures = 0
            if self.breaker_open and self.auto_reset:
                self._set_breaker(False)
        status = "halted" if halted and decision.actions else ("ok" if decision.actions else "no_action")
        error = None
        if cycle_failed:
            status = "error"
            bad = next(o for o in outcomes if o.status not in ("confirmed", "skipped"))
            error = f"{bad.label}: {bad.status}: {bad.error or ''}".strip()[:500]
        result = CycleRecord(
            started_at=started,
            finished_at=self.clock(),
            block=snap.block,
            snapshot=snap,
            risk=risk,
            decision=decision,
            outcomes=tuple(outcomes),
            status=status,
            error=error,
        )
        self._record(result)
        return result

    # ------------------------------------------------------------------ the loop

    def run(self, *, max_cycles: int | None = None, install_signals: bool = True) -> int:
        """Run until stopped (signal, `stop()`, or `max_cycles`); return the exit code."""
        if install_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: self.stop())
        backoff = self.backoff_initial
        while not self.stop_event.is_set():
            if max_cycles is not None and self.cycles >= max_cycles:
                break
            try:
                head = self.w3.eth.block_number
            except Exception as exc:
                self._failed("rpc", exc)
                self._wait(backoff)
                backoff = min(backoff * 2, self.backoff_max)
                continue
            backoff = self.backoff_initial
            if self.last_block is not None and head < self.last_block + self.every_n_blocks:
                if head < self.last_block:  # a reorg or a restarted chain: read again from the new head
                    log.warning("head went back from %d to %d: re-reading", self.last_block, head)
                    self.last_block = head - self.every_n_blocks
                self._wait(self.poll_interval)
                continue
            result = self.run_cycle(head)
            self.cycles += 1
            self.last_block = head
            if result.status == "error" and result.snapshot is None:
                self._wait(backoff)
                backoff = min(backoff * 2, self.backoff_max)
        code = 1 if self.breaker_open else 0
        log.info("keeper stopped after %d cycles (exit %d)", self.cycles, code)
        if self.journal is not None:
            self.journal.record_event("stop", f"exit {code}", block=self.last_block)
        return code

    def stop(self) -> None:
        self.stop_event.set()

    # ------------------------------------------------------------------ internals

    def _wait(self, seconds: float) -> None:
        if self.sleep is time.sleep:
            self.stop_event.wait(seconds)
        else:
            self.sleep(seconds)

    def _count_error(self, kind: str) -> None:
        if self.metrics is not None:
            self.metrics.observe_error(kind)

    def _failed(self, kind: str, exc: BaseException | None) -> None:
        if exc is not None:
            log.warning("%s failure: %s", kind, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            self._count_error(kind)
        self.failures += 1
        if self.failures >= self.max_failures and not self.breaker_open:
            self._set_breaker(True)

    def _set_breaker(self, open_: bool) -> None:
        self.breaker_open = open_
        msg = (
            f"circuit breaker open after {self.failures} consecutive failures: sending stops"
            if open_
            else "circuit breaker closed"
        )
        log.error(msg) if open_ else log.info(msg)
        if self.metrics is not None:
            self.metrics.set_circuit_breaker(open_)
        if self.journal is not None:
            self.journal.record_event("circuit_breaker", msg, block=self.last_block)

    def _record(self, result: CycleRecord) -> None:
        if self.journal is not None:
            self.journal.record_cycle(result)
        if self.metrics is not None:
            self.metrics.observe_record(result)
            if self.sender is not None:
                try:
                    age, gap = self.sender.pending_info()
                except Exception as exc:
                    log.debug("pending_info unavailable: %s", exc)
                else:
                    self.metrics.observe_sender(age, gap)
