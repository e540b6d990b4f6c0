"""The decision journal: an append-only SQLite record of every keeper cycle, for operators and auditors.

One row in ``cycles`` per cycle (block, block hash and time, the three oracle rounds with their answers
and verdicts, the snapshot digest, NAV and share price, the risk figures, the status and error) carrying
the full ``Snapshot``, ``RiskReport`` and decision notes as JSON; one row in ``actions`` per decided
action (its kind, nonce, label, reason, figures, the full action JSON, and — when it was sent — the
sender's outcome: status, tx hashes, receipt block, gas, error). ``events`` holds service-level events
(start, stop, circuit breaker, RPC errors). The auditor's replay (``keeper replay``) reads the journal
back as the same pydantic models (``Journal.cycles``) and re-runs ``policy.decide`` on each snapshot.

Writing: ``Journal.record_cycle(CycleRecord)`` writes one cycle and its actions in one transaction
(``BEGIN IMMEDIATE``), after the cycle has finished (its outcomes known) — a cycle row is written once,
complete, and never touched again.

Append-only, enforced three ways:

1. SQLite triggers ``RAISE(ABORT)`` on every ``UPDATE`` or ``DELETE`` of ``cycles``, ``actions`` and
   ``events``; actions may only be inserted for the newest cycle (the one being recorded); a cycle's
   ``prev_hash`` must be the newest cycle's ``row_hash``. This stops the keeper, a script or a careless
   ``sqlite3`` session from rewriting history.
2. A hash chain makes edits that bypass the triggers (dropping them, editing the file) evident: each
   cycle stores ``prev_hash`` (the previous cycle's ``row_hash``; 64 zeros for the first) and
   ``row_hash = sha256(prev_hash + canonical JSON of the row and its actions)``. ``Journal.verify``
   recomputes the chain and reports each broken link by cycle id, and names the edited field from the
   row's per-field hash map (``field_hashes_json``: a short hash of every column, and of every top-level
   key of the JSON columns, e.g. ``actions[0].action_json.perp_size_delta_wad``) when the map was left
   alone. ``snapshot_digest`` is ``Snapshot.digest()``, i.e. the sha256 of ``snapshot_json`` itself, so
   an edited snapshot is named even if the map was rewritten too. A removed newest row is found through
   SQLite's AUTOINCREMENT counter. Events are append-only (triggers) but outside the chain.
3. What the chain cannot see is a consistent rewrite of every row from the edit to the end (or a file
   replaced whole): anchor ``Journal.head()`` (newest id and row hash) somewhere else — the service logs
   it with every cycle — and compare.

Exact integers that may exceed SQLite's 64-bit INTEGER (round ids, answers, wad values, NAV in an
18-decimals asset) are stored as decimal TEXT; the JSON columns carry every value exactly. Floats that
are not finite are kept (``Infinity`` in JSON, a REAL ±inf in a column); NaN in a figure column is NULL.

Schema version: ``PRAGMA user_version`` (``SCHEMA_VERSION``) and ``PRAGMA application_id``
(``APPLICATION_ID``). ``Journal(path)`` creates a missing or empty file, opens one of this version,
and refuses anything else (another version, another application's database, not a database) with a
one-line ``JournalError``. Tables are STRICT; the database runs in WAL mode so ``keeper status`` and
the replay can read while the keeper writes.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from keeper.chain.sender import Status as SendStatus
from keeper.policy import Action, Decision
from keeper.risk import RiskReport
from keeper.snapshot import OracleReading, Snapshot

SCHEMA_VERSION = 1
APPLICATION_ID = 0x4B45454C  # "KEEL"
GENESIS_HASH = "0" * 64

CycleStatus = Literal["ok", "no_action", "error", "halted"]

#: The sender's outcome statuses (others are accepted and stored as given: a new sender status must
#: never make the journal drop a cycle).
OUTCOME_STATUSES: tuple[str, ...] = (*get_args(SendStatus), "skipped")

_FROZEN = ConfigDict(frozen=True, extra="forbid")
_ACTION = TypeAdapter(Action)


class JournalError(RuntimeError):
    """The journal file cannot be used (wrong version, not a journal) or a record is inconsistent."""


def action_label(action: Action) -> str:
    """The action's short label, `kind nonce=N` (same as `keeper.chain.actions.label`)."""
    nonce = getattr(action, "expected_nonce", None)
    return action.kind + (f" nonce={nonce}" if nonce is not None else "")


# =====================================================================================================
# records
# =====================================================================================================


class ActionOutcome(BaseModel):
    """What the sender did with one decided action."""

    model_config = _FROZEN

    action: Action
    label: str = ""
    status: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="one of OUTCOME_STATUSES, normally")
    tx_hashes: tuple[str, ...] = Field((), description="every hash sent (replacements included), in order")
    block_number: int | None = Field(None, ge=0)
    gas_used: int | None = Field(None, ge=0)
    effective_gas_price: int | None = Field(None, ge=0)
    error: str | None = None

    @model_validator(mode="after")
    def _default_label(self) -> ActionOutcome:
        if not self.label:
            object.__setattr__(self, "label", action_label(self.action))
        return self


class CycleRecord(BaseModel):
    """One keeper cycle, as the journal records it.

    - ``snapshot`` is None when the read failed, ``risk`` when it was not computed, ``decision`` when the
      policy did not run (then ``error`` says why).
    - ``outcomes[i]`` is the sender's result for ``decision.actions[i]``: outcomes are a prefix of the
      decision, in order (actions never sent have no outcome, or a ``"skipped"`` one).
    - ``status``: ``ok`` (actions sent), ``no_action`` (nothing to do), ``halted`` (the keeper would not
      act: oracle failure, circuit breaker, shutdown), ``error`` (the cycle failed; ``error`` set).
    - ``started_at`` / ``finished_at``: wall clock, unix seconds.
    """

    model_config = _FROZEN

    block: int | None = Field(None, ge=0)
    snapshot: Snapshot | None = None
    risk: RiskReport | None = None
    decision: Decision | None = None
    outcomes: tuple[ActionOutcome, ...] = ()
    status: CycleStatus
    error: str | None = None
    started_at: float = Field(allow_inf_nan=False)
    finished_at: float = Field(allow_inf_nan=False)

    @field_validator("outcomes", mode="before")
    @classmethod
    def _tuple(cls, v: Any) -> Any:
        return tuple(v) if isinstance(v, list) else v

    @model_validator(mode="after")
    def _consistent(self) -> CycleRecord:
        problems = []
        if self.snapshot is not None:
            if self.block is None:
                object.__setattr__(self, "block", self.snapshot.block)
            elif self.block != self.snapshot.block:
                problems.append(f"block {self.block} != snapshot.block {self.snapshot.block}")
        if self.finished_at < self.started_at:
            problems.append(f"finished_at {self.finished_at} < started_at {self.started_at}")
        if self.status == "error" and not self.error:
            problems.append("status 'error' needs an error message")
        if self.outcomes:
            actions = self.decision.actions if self.decision is not None else ()
            if len(self.outcomes) > len(actions):
                problems.append(f"{len(self.outcomes)} outcomes for {len(actions)} decided actions")
            else:
                for i, o in enumerate(self.outcomes):
                    if o.action != actions[i]:
                        problems.append(f"outcomes[{i}] is not decision.actions[{i}] ({o.label})")
                        break
        if problems:
            raise ValueError("inconsistent cycle record: " + "; ".join(problems))
        return self


class JournalCycle(CycleRecord):
    """A cycle read back from the journal: the record, its row id and its links in the hash chain."""

    id: int
    snapshot_digest: str | None = None
    prev_hash: str
    row_hash: str

    def record(self) -> CycleRecord:
        """The `CycleRecord` as it was written (equal to the one given to `record_cycle`)."""
        return CycleRecord.model_validate({name: getattr(self, name) for name in CycleRecord.model_fields})


class JournalEvent(BaseModel):
    """A service-level event (start, stop, circuit breaker, RPC error...)."""

    model_config = _FROZEN

    id: int
    at: float
    kind: str
    message: str
    block: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)


# =====================================================================================================
# schema
# =====================================================================================================

_DDL = [
    """
    CREATE TABLE cycles (
        id                        INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at                REAL NOT NULL,
        finished_at               REAL NOT NULL,
        status                    TEXT NOT NULL CHECK (status IN ('ok', 'no_action', 'error', 'halted')),
        error                     TEXT,
        chain_id                  INTEGER,
        block                     INTEGER,
        block_hash                TEXT,
        block_timestamp           INTEGER,
        snapshot_digest           TEXT,
        action_nonce              TEXT,
        spot_round_id             TEXT,
        spot_answer               TEXT,
        spot_value_wad            TEXT,
        spot_verdict              TEXT,
        spot_age_sec              INTEGER,
        iv_round_id               TEXT,
        iv_answer                 TEXT,
        iv_value_wad              TEXT,
        iv_verdict                TEXT,
        iv_age_sec                INTEGER,
        funding_round_id          TEXT,
        funding_answer            TEXT,
        funding_value_wad         TEXT,
        funding_verdict           TEXT,
        funding_age_sec           INTEGER,
        nav_assets                TEXT,
        share_price_wad           TEXT,
        equity_usd                REAL,
        net_delta_eth             REAL,
        gamma_eth_per_usd         REAL,
        vega_usd_per_vol_point    REAL,
        theta_usd_per_day         REAL,
        margin_ratio              REAL,
        liquidation_price_usd     REAL,
        liquidation_distance_pct  REAL,
        scenario_worst_loss_usd   REAL,
        collateral_ratio          REAL,
        n_actions                 INTEGER NOT NULL,
        snapshot_json             TEXT,
        risk_json                 TEXT,
        notes_json                TEXT,
        field_hashes_json         TEXT NOT NULL,
        prev_hash                 TEXT NOT NULL,
        row_hash                  TEXT NOT NULL UNIQUE
    ) STRICT
    """,
    "CREATE INDEX cycles_block ON cycles (block)",
    """
    CREATE TABLE actions (
        cycle_id             INTEGER NOT NULL REFERENCES cycles (id),
        idx                  INTEGER NOT NULL,
        kind                 TEXT NOT NULL,
        nonce                INTEGER,
        label                TEXT NOT NULL,
        reason               TEXT NOT NULL,
        figures_json         TEXT NOT NULL,
        action_json          TEXT NOT NULL,
        status               TEXT,
        tx_hashes_json       TEXT,
        block_number         INTEGER,
        gas_used             INTEGER,
        effective_gas_price  TEXT,
        error                TEXT,
        PRIMARY KEY (cycle_id, idx)
    ) STRICT
    """,
    "CREATE INDEX actions_kind ON actions (kind, status)",
    """
    CREATE TABLE events (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        at         REAL NOT NULL,
        kind       TEXT NOT NULL,
        message    TEXT NOT NULL,
        block      INTEGER,
        data_json  TEXT NOT NULL
    ) STRICT
    """,
    *(
        f"""
        CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table}
        BEGIN SELECT RAISE(ABORT, 'the journal is append-only: {op} on {table} is refused'); END
        """
        for table in ("cycles", "actions", "events")
        for op in ("UPDATE", "DELETE")
    ),
    f"""
    CREATE TRIGGER cycles_chain BEFORE INSERT ON cycles
    WHEN NEW.prev_hash IS NOT
         COALESCE((SELECT row_hash FROM cycles ORDER BY id DESC LIMIT 1), '{GENESIS_HASH}')
    BEGIN SELECT RAISE(ABORT, 'the journal is append-only: prev_hash must be the newest row_hash'); END
    """,
    """
    CREATE TRIGGER actions_newest_cycle BEFORE INSERT ON actions
    WHEN NEW.cycle_id IS NOT (SELECT max(id) FROM cycles)
    BEGIN SELECT RAISE(ABORT, 'the journal is append-only: actions belong to the cycle being recorded'); END
    """,
]

_READINGS = (("spot", "spot_oracle"), ("iv", "iv_oracle"), ("funding", "funding_oracle"))
_JSON_COLUMNS = ("snapshot_json", "risk_json", "notes_json", "figures_json", "action_json", "tx_hashes_json")
_NOT_HASHED = ("field_hashes_json", "prev_hash", "row_hash")


# =====================================================================================================
# canonical JSON and hashing
# =====================================================================================================


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, non-finite floats as `Infinity`/`NaN` (what Python's json reads back);
    the form `Snapshot.digest()` hashes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True)


def _model_json(model: BaseModel | None) -> str | None:
    return None if model is None else canonical_json(model.model_dump(mode="json"))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _row_hash(prev_hash: str, cycle: Mapping[str, Any], actions: list[Mapping[str, Any]]) -> str:
    body = {
        "cycle": {k: v for k, v in cycle.items() if k not in _NOT_HASHED},
        "actions": [dict(a) for a in actions],
    }
    return _sha(prev_hash + canonical_json(body))


def _field_hashes(cycle: Mapping[str, Any], actions: list[Mapping[str, Any]]) -> dict[str, str]:
    """A short hash per column (and per top-level key of a JSON column), to name what was edited."""
    out: dict[str, str] = {}

    def add(prefix: str, row: Mapping[str, Any]) -> None:
        for key, value in row.items():
            if key in _NOT_HASHED:
                continue
            name = f"{prefix}{key}"
            out[name] = _sha(canonical_json(value))[:16]
            if key in _JSON_COLUMNS and isinstance(value, str):
                try:
                    parsed = json.loads(value)
                except ValueError:
                    continue
                if isinstance(parsed, dict):
                    for k, v in parsed.items():
                        out[f"{name}.{k}"] = _sha(canonical_json(v))[:16]

    add("", cycle)
    for i, a in enumerate(actions):
        add(f"actions[{i}].", a)
    out["n_action_rows"] = _sha(str(len(actions)))[:16]
    return out


def _real(x: float | None) -> float | None:
    """A figure for a REAL column: float, NaN as NULL (SQLite stores NaN as NULL anyway)."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def _text(x: int | None) -> str | None:
    return None if x is None else str(int(x))


# =====================================================================================================
# rows
# =====================================================================================================


def _reading_columns(prefix: str, r: OracleReading | None) -> dict[str, Any]:
    if r is None:
        return {f"{prefix}_{k}": None for k in ("round_id", "answer", "value_wad", "verdict", "age_sec")}
    return {
        f"{prefix}_round_id": _text(r.round.round_id),
        f"{prefix}_answer": _text(r.round.answer),
        f"{prefix}_value_wad": _text(r.value_wad),
        f"{prefix}_verdict": r.verdict.name,
        f"{prefix}_age_sec": r.age_sec,
    }


def _cycle_row(rec: CycleRecord, row_id: int) -> dict[str, Any]:
    s, r, d = rec.snapshot, rec.risk, rec.decision
    g = r.greeks if r is not None else None
    row: dict[str, Any] = {
        "id": row_id,
        "started_at": float(rec.started_at),
        "finished_at": float(rec.finished_at),
        "status": rec.status,
        "error": rec.error,
        "chain_id": s.chain_id if s else None,
        "block": rec.block,
        "block_hash": s.block_hash if s else None,
        "block_timestamp": s.timestamp if s else None,
        "snapshot_digest": s.digest() if s else None,
        "action_nonce": _text(s.action_nonce) if s else None,
    }
    for prefix, attr in _READINGS:
        row |= _reading_columns(prefix, getattr(s, attr) if s else None)
    row |= {
        "nav_assets": _text(s.vault.total_assets) if s else None,
        "share_price_wad": _text(s.vault.share_price_wad) if s else None,
        "equity_usd": _real(r.equity_usd) if r else None,
        "net_delta_eth": _real(g.net_delta_eth) if g else None,
        "gamma_eth_per_usd": _real(g.gamma_eth_per_usd) if g else None,
        "vega_usd_per_vol_point": _real(g.vega_usd_per_vol_point) if g else None,
        "theta_usd_per_day": _real(g.theta_usd_per_day) if g else None,
        "margin_ratio": _real(r.perp_margin_ratio) if r else None,
        "liquidation_price_usd": _real(r.liquidation_price_usd) if r else None,
        "liquidation_distance_pct": _real(r.distance_to_liquidation_pct) if r else None,
        "scenario_worst_loss_usd": _real(r.scenario_worst_loss_usd) if r else None,
        "collateral_ratio": _real(r.collateral_ratio) if r else None,
        "n_actions": len(d.actions) if d else 0,
        "snapshot_json": _model_json(s),
        "risk_json": _model_json(r),
        "notes_json": canonical_json(list(d.notes)) if d else None,
    }
    return row


def _action_rows(rec: CycleRecord, cycle_id: int) -> list[dict[str, Any]]:
    if rec.decision is None:
        return []
    rows = []
    for i, a in enumerate(rec.decision.actions):
        o = rec.outcomes[i] if i < len(rec.outcomes) else None
        rows.append(
            {
                "cycle_id": cycle_id,
                "idx": i,
                "kind": a.kind,
                "nonce": a.nonce,
                "label": o.label if o else action_label(a),
                "reason": a.reason,
                "figures_json": canonical_json(a.figures),
                "action_json": canonical_json(a.model_dump(mode="json")),
                "status": o.status if o else None,
                "tx_hashes_json": canonical_json(list(o.tx_hashes)) if o else None,
                "block_number": o.block_number if o else None,
                "gas_used": o.gas_used if o else None,
                "effective_gas_price": _text(o.effective_gas_price) if o else None,
                "error": o.error if o else None,
            }
        )
    return rows


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _int(text: str | None) -> int | None:
    return None if text is None else int(text)


def _parse_cycle(row: Mapping[str, Any], actions: list[Mapping[str, Any]]) -> JournalCycle:
    snapshot = None if row["snapshot_json"] is None else Snapshot.model_validate(_loads(row["snapshot_json"]))
    risk = None if row["risk_json"] is None else RiskReport.model_validate(_loads(row["risk_json"]))
    decision = None
    outcomes = []
    if row["notes_json"] is not None:
        parsed = [_ACTION.validate_python(_loads(a["action_json"])) for a in actions]
        decision = Decision(actions=tuple(parsed), notes=tuple(_loads(row["notes_json"])))
        for action, a in zip(parsed, actions, strict=True):
            if a["status"] is None:
                break
            outcomes.append(
                ActionOutcome(
                    action=action,
                    label=a["label"],
                    status=a["status"],
                    tx_hashes=tuple(_loads(a["tx_hashes_json"]) or ()),
                    block_number=a["block_number"],
                    gas_used=a["gas_used"],
                    effective_gas_price=_int(a["effective_gas_price"]),
                    error=a["error"],
                )
            )
    return JournalCycle(
        id=row["id"],
        block=row["block"],
        snapshot=snapshot,
        risk=risk,
        decision=decision,
        outcomes=tuple(outcomes),
        status=row["status"],
        error=row["error"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        snapshot_digest=row["snapshot_digest"],
        prev_hash=row["prev_hash"],
        row_hash=row["row_hash"],
    )


# =====================================================================================================
# the journal
# =====================================================================================================


class Journal:
    """An append-only SQLite decision journal (see the module docstring).

    ``Journal(path)`` opens or creates the file; ``Journal(path, readonly=True)`` opens an existing one
    read-only (the auditor's replay). Usable as a context manager; one instance may be shared between
    threads (calls are serialised).
    """

    def __init__(self, path: str | Path, *, readonly: bool = False, timeout_sec: float = 10.0) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._lock = threading.RLock()
        if readonly and not self.path.exists():
            raise JournalError(f"{self.path}: no such journal")
        try:
            if readonly:
                conn = sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?mode=ro",
                    uri=True,
                    timeout=timeout_sec,
                    isolation_level=None,
                    check_same_thread=False,
                )
            else:
                conn = sqlite3.connect(
                    self.path, timeout=timeout_sec, isolation_level=None, check_same_thread=False
                )
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot open the journal: {exc}") from exc
        conn.row_factory = sqlite3.Row
        self._conn = conn
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            conn.close()
            what = "not a Keel journal" if "not a database" in str(exc) else "cannot open the journal"
            raise JournalError(f"{self.path}: {what} ({exc})") from exc
        except JournalError:
            conn.close()
            raise

    # ---- opening and schema

    def _versions(self) -> tuple[int, int, int]:
        c = self._conn
        version = c.execute("PRAGMA user_version").fetchone()[0]
        app = c.execute("PRAGMA application_id").fetchone()[0]
        tables = c.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        return version, app, tables

    def _open(self) -> None:
        version, app, tables = self._versions()
        if version == 0 and app == 0 and tables == 0 and not self.readonly:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._create()
            version, app, tables = self._versions()
        if version != SCHEMA_VERSION or app != APPLICATION_ID:
            if app != APPLICATION_ID:
                raise JournalError(
                    f"{self.path}: not a Keel journal (application_id {app:#x}, user_version {version})"
                )
            raise JournalError(
                f"{self.path}: journal schema version {version}, this keeper reads version {SCHEMA_VERSION}"
                " (start a new journal file or use a matching keeper)"
            )
        if not self.readonly:
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA foreign_keys=ON")

    def _create(self) -> None:
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            if c.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:  # nobody beat us to it
                for stmt in _DDL:
                    c.execute(stmt)
                c.execute(f"PRAGMA application_id={APPLICATION_ID}")
                c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writing

    def record_cycle(self, record: CycleRecord) -> int:
        """Append one finished cycle and its actions in one transaction; returns the cycle id."""
        if self.readonly:
            raise JournalError(f"{self.path}: opened read-only")
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                seq = c.execute("SELECT seq FROM sqlite_sequence WHERE name = 'cycles'").fetchone()
                row_id = (seq[0] if seq else 0) + 1
                last = c.execute("SELECT row_hash FROM cycles ORDER BY id DESC LIMIT 1").fetchone()
                prev = last[0] if last else GENESIS_HASH
                row = _cycle_row(record, row_id)
                actions = _action_rows(record, row_id)
                row["field_hashes_json"] = canonical_json(_field_hashes(row, actions))
                row["prev_hash"] = prev
                row["row_hash"] = _row_hash(prev, row, actions)
                c.execute(_insert("cycles", row), row)
                for a in actions:
                    c.execute(_insert("actions", a), a)
                # what SQLite stored must hash to the same row hash (types, NaN, big ints)
                stored, stored_actions = self._raw(row_id)
                if _row_hash(prev, stored, stored_actions) != row["row_hash"]:
                    raise JournalError(f"cycle {row_id}: the stored row does not hash as written")
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
            return row_id

    def record_event(
        self, kind: str, message: str = "", *, block: int | None = None, data: Mapping[str, Any] | None = None
    ) -> int:
        """Append a service-level event (`start`, `stop`, `circuit_open`, `circuit_closed`, `rpc_error`,
        ...); `data` is any JSON-able mapping."""
        if self.readonly:
            raise JournalError(f"{self.path}: opened read-only")
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO events (at, kind, message, block, data_json) VALUES (?, ?, ?, ?, ?)",
                (time.time(), kind, message, block, canonical_json(dict(data or {}))),
            )
            return int(cur.lastrowid or 0)

    # ---- reading

    def _raw(self, cycle_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        row = self._conn.execute("SELECT * FROM cycles WHERE id = ?", (cycle_id,)).fetchone()
        acts = self._conn.execute(
            "SELECT * FROM actions WHERE cycle_id = ? ORDER BY idx", (cycle_id,)
        ).fetchall()
        return dict(row), [dict(a) for a in acts]

    def _iter_rows(self, where: str = "", args: tuple[Any, ...] = ()) -> Iterator[JournalCycle]:
        """Cycles matching `where`, one row at a time (a long journal is never loaded whole)."""
        with self._lock:
            ids = [r[0] for r in self._conn.execute(f"SELECT id FROM cycles {where} ORDER BY id", args)]
        for cycle_id in ids:
            with self._lock:
                row, acts = self._raw(cycle_id)
            yield _parse_cycle(row, acts)

    def cycles(self, from_block: int | None = None, to_block: int | None = None) -> Iterator[JournalCycle]:
        """Cycles in journal order, re-parsed into the models; with a block range (inclusive), only the
        cycles that know their block and fall inside it."""
        conds, args = [], []
        if from_block is not None:
            conds.append("block >= ?")
            args.append(from_block)
        if to_block is not None:
            conds.append("block <= ?")
            args.append(to_block)
        where = ("WHERE " + " AND ".join(conds)) if conds else ""
        return self._iter_rows(where, tuple(args))

    def cycle(self, cycle_id: int) -> JournalCycle | None:
        return next(self._iter_rows("WHERE id = ?", (cycle_id,)), None)

    def last_cycle(self) -> JournalCycle | None:
        with self._lock:
            row = self._conn.execute("SELECT max(id) FROM cycles").fetchone()
        return None if row[0] is None else self.cycle(row[0])

    def count(self) -> int:
        """Number of cycles recorded."""
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM cycles").fetchone()[0])

    def head(self) -> tuple[int, str] | None:
        """(newest cycle id, its row hash): the value to anchor outside the file. None when empty."""
        with self._lock:
            row = self._conn.execute("SELECT id, row_hash FROM cycles ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def actions_by_kind(self, status: str | None = None) -> dict[str, int]:
        """Decided actions per kind (only those whose outcome has `status`, when given)."""
        sql = "SELECT kind, count(*) FROM actions"
        args: tuple[Any, ...] = ()
        if status is not None:
            sql += " WHERE status = ?"
            args = (status,)
        with self._lock:
            rows = self._conn.execute(sql + " GROUP BY kind ORDER BY kind", args).fetchall()
        return {str(k): int(n) for k, n in rows}

    def statuses(self) -> dict[str, int]:
        """Cycles per status."""
        with self._lock:
            rows = self._conn.execute("SELECT status, count(*) FROM cycles GROUP BY status").fetchall()
        return {str(k): int(n) for k, n in rows}

    def tx_hashes(self) -> list[str]:
        """Every transaction hash the keeper sent (replacements included), in journal order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT tx_hashes_json FROM actions WHERE tx_hashes_json IS NOT NULL ORDER BY cycle_id, idx"
            ).fetchall()
        return [h for (blob,) in rows for h in json.loads(blob)]

    def events(self, kind: str | None = None) -> list[JournalEvent]:
        sql = "SELECT * FROM events" + (" WHERE kind = ?" if kind else "") + " ORDER BY id"
        with self._lock:
            rows = self._conn.execute(sql, (kind,) if kind else ()).fetchall()
        return [
            JournalEvent(
                id=r["id"],
                at=r["at"],
                kind=r["kind"],
                message=r["message"],
                block=r["block"],
                data=json.loads(r["data_json"]),
            )
            for r in rows
        ]

    # ---- integrity

    def verify(self) -> list[str]:
        """Check the hash chain and each row's self-consistency; one line per problem, in journal order
        (the first line is the first broken link). An empty list: the journal is intact."""
        problems: list[str] = []
        prev = GENESIS_HASH
        prev_id: int | None = None
        with self._lock:
            c = self._conn
            ids = [r[0] for r in c.execute("SELECT id FROM cycles ORDER BY id").fetchall()]
            seq_row = c.execute("SELECT seq FROM sqlite_sequence WHERE name = 'cycles'").fetchone()
            orphans = c.execute(
                "SELECT DISTINCT cycle_id FROM actions WHERE cycle_id NOT IN (SELECT id FROM cycles)"
            ).fetchall()
        for cycle_id in ids:
            with self._lock:
                row, acts = self._raw(cycle_id)
            where = f"cycle {cycle_id}"
            if row["prev_hash"] != prev:
                after = f"cycle {prev_id}" if prev_id is not None else "the start of the journal"
                problems.append(
                    f"{where}: prev_hash does not link to {after} "
                    "(a row before it was removed or rewritten, or rows were reordered)"
                )
            if _row_hash(row["prev_hash"], row, acts) != row["row_hash"]:
                problems.append(f"{where}: row_hash mismatch: {_edited_fields(row, acts)}")
            elif canonical_json(_field_hashes(row, acts)) != row["field_hashes_json"]:
                problems.append(f"{where}: field_hashes_json edited (the row itself hashes correctly)")
            if row["snapshot_json"] is not None and _sha(row["snapshot_json"]) != row["snapshot_digest"]:
                problems.append(f"{where}: snapshot_json does not match snapshot_digest (snapshot edited)")
            if row["snapshot_json"] is None and row["snapshot_digest"] is not None:
                problems.append(f"{where}: snapshot_digest without snapshot_json (snapshot removed)")
            if len(acts) != row["n_actions"]:
                problems.append(f"{where}: {len(acts)} action rows for n_actions {row['n_actions']}")
            if prev_id is not None and cycle_id != prev_id + 1:
                problems.append(
                    f"{where}: ids jump from {prev_id}: cycles {prev_id + 1}..{cycle_id - 1} missing"
                )
            prev, prev_id = row["row_hash"], cycle_id
        last = ids[-1] if ids else 0
        if seq_row is not None and seq_row[0] > last:
            problems.append(f"cycles {last + 1}..{seq_row[0]} missing: rows were removed from the end")
        if ids and ids[0] != 1:
            problems.insert(0, f"cycles 1..{ids[0] - 1} missing: rows were removed from the start")
        for (cid,) in orphans:
            problems.append(f"actions of cycle {cid}, which is not in the journal")
        return problems


def _edited_fields(row: Mapping[str, Any], acts: list[Mapping[str, Any]]) -> str:
    """Name the edited fields from the row's field map (when it was not rewritten too)."""
    try:
        recorded = json.loads(row["field_hashes_json"])
    except (TypeError, ValueError):
        return "the row was edited (its field map is unreadable)"
    now = _field_hashes(row, acts)
    names: list[str] = []
    for label, keys in (
        ("removed", recorded.keys() - now.keys()),
        ("added", now.keys() - recorded.keys()),
    ):
        whole = sorted({k.split(".")[0] for k in keys if k.startswith("actions[")})
        names += [f"{w} {label}" for w in whole]
        names += [f"{k} {label}" for k in sorted(keys) if not k.startswith("actions[")]
    changed = sorted(k for k in now.keys() & recorded.keys() if now[k] != recorded[k])
    # the most specific names: a column is dropped when one of its keys is listed
    names += [k for k in changed if not any(o.startswith(k + ".") for o in changed) and k != "n_action_rows"]
    if not names:
        return "the row was edited (and its field map rewritten to match)"
    return "edited " + ", ".join(names)


def _insert(table: str, row: Mapping[str, Any]) -> str:
    cols = list(row)
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"
