"""keeper/journal.py: round trips, append-only triggers, the hash chain, schema versions (pure, no chain)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from keeper.journal import (
    APPLICATION_ID,
    GENESIS_HASH,
    SCHEMA_VERSION,
    ActionOutcome,
    CycleRecord,
    Journal,
    JournalError,
    action_label,
)
from keeper.policy import Decision, Report
from keeper.risk import PortfolioGreeks, RiskReport
from tests.keeper.snapshot_factory import BLOCK, T0, make_decision, make_risk, make_snapshot

# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def _cycle(block: int = BLOCK, *, sent: int | None = None, status: str = "ok", **knobs) -> CycleRecord:
    """A complete cycle at `block`: snapshot, risk, decision, and outcomes for the first `sent`
    actions (all by default), the first one confirmed and the rest reverted."""
    snap = make_snapshot(block=block, vault={"block": block}, **knobs)
    risk = make_risk(snap)
    decision = make_decision(snap, risk)
    n = len(decision.actions) if sent is None else sent
    outcomes = [
        ActionOutcome(
            action=a,
            status="confirmed" if i == 0 else "reverted",
            tx_hashes=(f"0x{block:056x}{i:08x}",),
            block_number=block + 1,
            gas_used=412_345,
            effective_gas_price=3 * 10**9,
            error=None if i == 0 else "StaleNonce(8, 7)",
        )
        for i, a in enumerate(decision.actions[:n])
    ]
    return CycleRecord(
        snapshot=snap,
        risk=risk,
        decision=decision,
        outcomes=outcomes,
        status=status if decision.actions else "no_action",
        started_at=1_750_000_000.25 + block,
        finished_at=1_750_000_003.5 + block,
    )


def _error_cycle(
    block: int | None = None, message: str = "ChainReadError: node did not answer"
) -> CycleRecord:
    return CycleRecord(block=block, status="error", error=message, started_at=10.0, finished_at=11.5)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.db"


@pytest.fixture
def journal(path: Path):
    with Journal(path) as j:
        yield j


def _raw(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


def _tamper(path: Path, sql: str, *args: object) -> None:
    """Edit the file the way an attacker with the file would: drop the guarding triggers, then write."""
    conn = _raw(path)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute(sql, args)
    conn.close()


# --------------------------------------------------------------------------------------------------
# round trips
# --------------------------------------------------------------------------------------------------


def test_record_cycle__with_full_cycle__reads_back_equal_models(journal: Journal):
    rec = _cycle()
    assert rec.decision is not None and len(rec.decision.actions) >= 1

    cycle_id = journal.record_cycle(rec)

    got = journal.last_cycle()
    assert got is not None and got.id == cycle_id == 1
    assert got.record() == rec
    assert got.snapshot == rec.snapshot
    assert got.risk == rec.risk
    assert got.decision == rec.decision
    assert got.outcomes == rec.outcomes
    assert got.snapshot_digest == rec.snapshot.digest()
    assert got.prev_hash == GENESIS_HASH
    assert journal.head() == (1, got.row_hash)


def test_record_cycle__with_failed_read__stores_nulls_and_reads_back(journal: Journal):
    rec = _error_cycle(block=BLOCK + 3)

    journal.record_cycle(rec)

    got = journal.last_cycle()
    assert got is not None
    assert got.record() == rec
    assert got.snapshot is None and got.risk is None and got.decision is None and got.outcomes == ()
    assert got.block == BLOCK + 3 and got.error == rec.error


def test_record_cycle__with_unsent_actions__keeps_whole_decision_and_sent_prefix(journal: Journal):
    rec = _cycle(sent=0, positions=(), guard={"min_action_interval_sec": 0}, last_report_at=T0 - 2 * 86_400)
    assert rec.decision is not None and len(rec.decision.actions) >= 2
    partial = CycleRecord.model_validate(
        rec.model_dump() | {"outcomes": [ActionOutcome(action=rec.decision.actions[0], status="timeout")]}
    )

    journal.record_cycle(rec)
    journal.record_cycle(partial)

    first, second = journal.cycles()
    assert first.record() == rec and first.outcomes == ()
    assert second.record() == partial and [o.status for o in second.outcomes] == ["timeout"]
    assert second.decision == rec.decision


def test_record_cycle__with_empty_decision__distinguishes_it_from_no_decision(journal: Journal):
    snap = make_snapshot(spot_age_sec=7_200)  # stale spot oracle: nothing to trade
    empty = CycleRecord(
        snapshot=snap, risk=make_risk(snap), decision=Decision(actions=(), notes=("no trading: stale",)),
        status="halted", started_at=1.0, finished_at=2.0,
    )  # fmt: skip
    none = CycleRecord(
        snapshot=snap, risk=None, decision=None, status="error", error="x", started_at=1, finished_at=2
    )

    journal.record_cycle(empty)
    journal.record_cycle(none)

    a, b = journal.cycles()
    assert a.decision == Decision(actions=(), notes=("no trading: stale",))
    assert b.decision is None and b.risk is None and b.snapshot == snap


def test_record_cycle__with_round_ids_beyond_int64__keeps_exact_integers(journal: Journal, path: Path):
    rec = _cycle()
    assert rec.snapshot is not None
    assert rec.snapshot.spot_oracle.round.round_id > 2**63  # phase << 64, as on mainnet

    journal.record_cycle(rec)

    row = _raw(path).execute("SELECT * FROM cycles").fetchone()
    s = rec.snapshot
    assert int(row["spot_round_id"]) == s.spot_oracle.round.round_id
    assert int(row["spot_answer"]) == s.spot_oracle.round.answer
    assert int(row["iv_round_id"]) == s.iv_oracle.round.round_id
    assert int(row["funding_value_wad"]) == s.funding_oracle.value_wad
    assert row["spot_verdict"] == "Ok"
    assert int(row["nav_assets"]) == s.vault.total_assets
    assert int(row["share_price_wad"]) == s.vault.share_price_wad
    assert row["block_hash"] == s.block_hash and row["block_timestamp"] == s.timestamp
    assert row["net_delta_eth"] == pytest.approx(rec.risk.greeks.net_delta_eth, abs=0)
    assert row["snapshot_digest"] == s.digest()


def test_record_cycle__with_infinite_ratio__round_trips(journal: Journal):
    rec = _cycle()
    risk = RiskReport(
        equity_usd=1.0, greeks=PortfolioGreeks(), scenario_worst_loss_usd=0.0, collateral_ratio=float("inf")
    )
    rec = CycleRecord.model_validate(rec.model_dump() | {"risk": risk})

    journal.record_cycle(rec)

    got = journal.last_cycle()
    assert got is not None and got.risk == risk and got.record() == rec
    assert journal.verify() == []


def test_record_cycle__with_two_cycles__writes_one_row_each_and_chains_them(journal: Journal, path: Path):
    a, b = _cycle(BLOCK), _cycle(BLOCK + 1)

    journal.record_cycle(a)
    journal.record_cycle(b)

    conn = _raw(path)
    assert journal.count() == 2
    assert conn.execute("SELECT count(*) FROM cycles").fetchone()[0] == 2
    n_actions = len(a.decision.actions) + len(b.decision.actions)
    assert conn.execute("SELECT count(*) FROM actions").fetchone()[0] == n_actions
    first, second = journal.cycles()
    assert second.prev_hash == first.row_hash


def test_record_cycle__with_failure_mid_transaction__writes_nothing(journal: Journal, monkeypatch):
    journal.record_cycle(_cycle(BLOCK))
    import keeper.journal as jmod

    original = jmod._action_rows

    def broken_rows(rec, cycle_id):
        rows = original(rec, cycle_id)
        rows[-1]["kind"] = None  # NOT NULL: the insert of the last action fails
        return rows

    monkeypatch.setattr(jmod, "_action_rows", broken_rows)

    with pytest.raises(sqlite3.IntegrityError):
        journal.record_cycle(_cycle(BLOCK + 1))

    monkeypatch.undo()
    assert journal.count() == 1
    assert sum(journal.actions_by_kind().values()) == len(_cycle(BLOCK).decision.actions)
    journal.record_cycle(_cycle(BLOCK + 2))  # the journal is still usable, and chained
    assert journal.verify() == []


settings_pure = settings(
    derandomize=True,
    database=None,
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@settings_pure
@given(
    spot=st.floats(800.0, 9_000.0),
    iv=st.floats(0.15, 2.5),
    funding=st.floats(-0.002, 0.002),
    perp_eth=st.floats(-300.0, 0.0),
    spot_eth=st.floats(0.0, 300.0),
    idle=st.floats(0.0, 2_000_000.0),
    age=st.integers(0, 10_000),
)
def test_record_cycle__with_random_books__round_trips_and_verifies(
    tmp_path_factory, spot, iv, funding, perp_eth, spot_eth, idle, age
):
    path = tmp_path_factory.mktemp("j") / "journal.db"
    rec = _cycle(
        spot_price=spot, iv=iv, funding_8h=funding, perp_eth=perp_eth, spot_eth=spot_eth, idle_usd=idle,
        spot_age_sec=age, spot_last_good=spot,
    )  # fmt: skip
    with Journal(path) as j:
        j.record_cycle(rec)
        (got,) = j.cycles()
        assert got.record() == rec
        assert j.verify() == []


# --------------------------------------------------------------------------------------------------
# record validation
# --------------------------------------------------------------------------------------------------


def test_cycle_record__with_outcome_for_another_action__is_rejected():
    rec = _cycle()
    stranger = Report(expected_nonce=99, reason="not decided")
    with pytest.raises(ValidationError, match=r"outcomes\[0\] is not decision\.actions\[0\]"):
        CycleRecord.model_validate(
            rec.model_dump() | {"outcomes": [ActionOutcome(action=stranger, status="confirmed")]}
        )


def test_cycle_record__with_block_other_than_snapshot__is_rejected():
    rec = _cycle()
    with pytest.raises(ValidationError, match=r"block \d+ != snapshot\.block"):
        CycleRecord.model_validate(rec.model_dump() | {"block": BLOCK + 1})


def test_cycle_record__with_error_status_and_no_message__is_rejected():
    with pytest.raises(ValidationError, match="needs an error message"):
        CycleRecord(status="error", started_at=1.0, finished_at=2.0)


def test_cycle_record__with_snapshot_and_no_block__takes_the_snapshot_block():
    snap = make_snapshot(block=123, vault={"block": 123})
    assert CycleRecord(snapshot=snap, status="halted", started_at=1, finished_at=2).block == 123


def test_action_outcome__without_label__labels_kind_and_nonce():
    o = ActionOutcome(action=Report(expected_nonce=12, reason="schedule"), status="confirmed")
    assert o.label == "report nonce=12" == action_label(o.action)


# --------------------------------------------------------------------------------------------------
# append-only
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE cycles SET status = 'ok' WHERE id = 1",
        "UPDATE cycles SET net_delta_eth = 0.0",
        "DELETE FROM cycles WHERE id = 2",
        "DELETE FROM cycles",
        "UPDATE actions SET reason = 'nothing to see'",
        "DELETE FROM actions",
        "UPDATE events SET message = 'x'",
        "DELETE FROM events",
    ],
)
def test_sql_edit__with_update_or_delete__is_aborted_by_trigger(journal: Journal, path: Path, sql: str):
    journal.record_cycle(_cycle(BLOCK))
    journal.record_cycle(_error_cycle())
    journal.record_event("start", "keeper started")
    before = _raw(path).execute("SELECT row_hash FROM cycles ORDER BY id").fetchall()

    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        _raw(path).execute(sql)

    assert _raw(path).execute("SELECT row_hash FROM cycles ORDER BY id").fetchall() == before
    assert journal.verify() == []


def test_sql_insert__with_action_for_an_older_cycle__is_aborted(journal: Journal, path: Path):
    journal.record_cycle(_cycle(BLOCK))
    journal.record_cycle(_error_cycle())
    with pytest.raises(sqlite3.IntegrityError, match="belong to the cycle being recorded"):
        _raw(path).execute(
            "INSERT INTO actions (cycle_id, idx, kind, label, reason, figures_json, action_json) "
            "VALUES (1, 9, 'report', 'report', 'forged', '{}', '{}')"
        )


def test_sql_insert__with_cycle_not_chained_to_the_newest__is_aborted(journal: Journal, path: Path):
    journal.record_cycle(_error_cycle())
    conn = _raw(path)
    row = dict(conn.execute("SELECT * FROM cycles").fetchone())
    row |= {"id": 2, "prev_hash": GENESIS_HASH, "row_hash": "f" * 64}
    cols = ", ".join(row)
    with pytest.raises(sqlite3.IntegrityError, match="prev_hash must be the newest row_hash"):
        conn.execute(f"INSERT INTO cycles ({cols}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))


def test_journal__opened_readonly__reads_and_refuses_writes(journal: Journal, path: Path):
    rec = _cycle()
    journal.record_cycle(rec)
    with Journal(path, readonly=True) as ro:
        assert ro.count() == 1
        assert ro.last_cycle().record() == rec
        assert ro.verify() == []
        with pytest.raises(JournalError, match="read-only"):
            ro.record_cycle(rec)


# --------------------------------------------------------------------------------------------------
# the hash chain: verify()
# --------------------------------------------------------------------------------------------------


def _three(journal: Journal) -> None:
    for b in (BLOCK, BLOCK + 1, BLOCK + 2):
        journal.record_cycle(_cycle(b))


def test_verify__with_intact_journal__reports_nothing(journal: Journal):
    assert journal.verify() == []
    _three(journal)
    journal.record_cycle(_error_cycle())
    assert journal.verify() == []


def test_verify__with_edited_action_reason__names_the_cycle_and_field(journal: Journal, path: Path):
    _three(journal)
    _tamper(path, "UPDATE actions SET reason = 'routine' WHERE cycle_id = 2 AND idx = 0")

    problems = journal.verify()

    assert len(problems) == 1
    assert problems[0].startswith("cycle 2: row_hash mismatch")
    assert "actions[0].reason" in problems[0]


def test_verify__with_edited_action_json__names_the_cycle_and_action_field(journal: Journal, path: Path):
    _three(journal)
    conn = _raw(path)
    blob = json.loads(
        conn.execute("SELECT action_json FROM actions WHERE cycle_id = 3 AND idx = 0").fetchone()[0]
    )
    blob["perp_size_delta_wad"] = -(10**24)  # a thousand times the size
    _tamper(path, "UPDATE actions SET action_json = ? WHERE cycle_id = 3 AND idx = 0", json.dumps(blob))

    (problem,) = journal.verify()

    assert problem.startswith("cycle 3:") and "actions[0].action_json.perp_size_delta_wad" in problem


def test_verify__with_edited_risk_figure__names_the_cycle_and_field(journal: Journal, path: Path):
    _three(journal)
    _tamper(path, "UPDATE cycles SET net_delta_eth = 0.0 WHERE id = 1")

    (problem,) = journal.verify()

    assert problem == "cycle 1: row_hash mismatch: edited net_delta_eth"


def test_verify__with_snapshot_and_field_map_rewritten__still_names_the_snapshot(
    journal: Journal, path: Path
):
    _three(journal)
    from keeper.journal import _field_hashes  # the attacker knows the format

    conn = _raw(path)
    snap = json.loads(conn.execute("SELECT snapshot_json FROM cycles WHERE id = 2").fetchone()[0])
    snap["perp"]["margin_assets"] += 1_000_000
    _tamper(path, "UPDATE cycles SET snapshot_json = ? WHERE id = 2", json.dumps(snap))
    row = dict(conn.execute("SELECT * FROM cycles WHERE id = 2").fetchone())
    acts = [dict(a) for a in conn.execute("SELECT * FROM actions WHERE cycle_id = 2 ORDER BY idx")]
    _tamper(
        path, "UPDATE cycles SET field_hashes_json = ? WHERE id = 2", json.dumps(_field_hashes(row, acts))
    )

    problems = journal.verify()

    assert [p.split(":")[0] for p in problems] == ["cycle 2", "cycle 2"]
    assert "row_hash mismatch" in problems[0] and "field map rewritten" in problems[0]
    assert "snapshot_json does not match snapshot_digest" in problems[1]


def test_verify__with_middle_row_deleted__names_the_broken_link(journal: Journal, path: Path):
    _three(journal)
    _tamper(path, "DELETE FROM actions WHERE cycle_id = 2")
    _tamper(path, "DELETE FROM cycles WHERE id = 2")

    problems = journal.verify()

    assert problems[0] == (
        "cycle 3: prev_hash does not link to cycle 1 "
        "(a row before it was removed or rewritten, or rows were reordered)"
    )
    assert any("cycles 2..2 missing" in p for p in problems)


def test_verify__with_newest_row_deleted__reports_the_missing_tail(journal: Journal, path: Path):
    _three(journal)
    _tamper(path, "DELETE FROM actions WHERE cycle_id = 3")
    _tamper(path, "DELETE FROM cycles WHERE id = 3")

    assert journal.verify() == ["cycles 3..3 missing: rows were removed from the end"]


def test_verify__with_action_row_deleted__names_the_removed_action(journal: Journal, path: Path):
    _three(journal)
    _tamper(path, "DELETE FROM actions WHERE cycle_id = 1 AND idx = 0")

    problems = journal.verify()

    assert problems[0].startswith("cycle 1: row_hash mismatch") and "actions[0] removed" in problems[0]
    assert any(p.startswith("cycle 1:") and "action rows for n_actions" in p for p in problems)


def test_verify__with_row_rehashed_after_an_edit__breaks_the_next_link(journal: Journal, path: Path):
    _three(journal)
    from keeper.journal import _row_hash

    _tamper(path, "UPDATE cycles SET status = 'no_action' WHERE id = 1")
    conn = _raw(path)
    row = dict(conn.execute("SELECT * FROM cycles WHERE id = 1").fetchone())
    acts = [dict(a) for a in conn.execute("SELECT * FROM actions WHERE cycle_id = 1 ORDER BY idx")]
    _tamper(path, "UPDATE cycles SET row_hash = ? WHERE id = 1", _row_hash(row["prev_hash"], row, acts))

    problems = journal.verify()

    assert problems[0].startswith("cycle 1: field_hashes_json edited")
    assert problems[1].startswith("cycle 2: prev_hash does not link to cycle 1")


# --------------------------------------------------------------------------------------------------
# schema version and opening
# --------------------------------------------------------------------------------------------------


def test_open__with_missing_file__creates_a_wal_journal_of_this_version(path: Path):
    assert not path.exists()
    Journal(path).close()
    conn = _raw(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"cycles", "actions", "events"} <= tables


def test_open__with_existing_journal__keeps_its_cycles(path: Path):
    with Journal(path) as j:
        j.record_cycle(_error_cycle())
    with Journal(path) as j:
        assert j.count() == 1
        j.record_cycle(_error_cycle())
        assert j.verify() == []


def test_open__with_other_schema_version__refuses_with_one_line(path: Path):
    Journal(path).close()
    _raw(path).execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(JournalError) as err:
        Journal(path)

    message = str(err.value)
    assert "\n" not in message
    assert f"schema version {SCHEMA_VERSION + 1}" in message and f"reads version {SCHEMA_VERSION}" in message


def test_open__with_foreign_sqlite_file__refuses(path: Path):
    _raw(path).execute("CREATE TABLE t (x)")
    with pytest.raises(JournalError, match="not a Keel journal"):
        Journal(path)


def test_open__with_non_database_file__refuses_with_one_line(path: Path):
    path.write_bytes(b"this is not sqlite\n" * 100)
    with pytest.raises(JournalError, match="not a Keel journal") as err:
        Journal(path)
    assert "\n" not in str(err.value)


def test_open__readonly_with_missing_file__refuses(path: Path):
    with pytest.raises(JournalError, match="no such journal"):
        Journal(path, readonly=True)
    assert not path.exists()


# --------------------------------------------------------------------------------------------------
# read API
# --------------------------------------------------------------------------------------------------


def test_cycles__with_block_range__returns_the_cycles_inside_in_order(journal: Journal):
    for b in (BLOCK, BLOCK + 5, BLOCK + 10):
        journal.record_cycle(_cycle(b))
    journal.record_cycle(_error_cycle(block=None))

    assert [c.block for c in journal.cycles(BLOCK + 1, BLOCK + 10)] == [BLOCK + 5, BLOCK + 10]
    assert [c.block for c in journal.cycles(to_block=BLOCK)] == [BLOCK]
    assert [c.block for c in journal.cycles()] == [BLOCK, BLOCK + 5, BLOCK + 10, None]
    assert [c.id for c in journal.cycles()] == [1, 2, 3, 4]


def test_last_cycle__with_empty_journal__is_none(journal: Journal):
    assert journal.last_cycle() is None and journal.count() == 0 and journal.head() is None


def test_actions_by_kind__with_sent_and_unsent_actions__counts_each_kind(journal: Journal):
    rec = _cycle(positions=(), guard={"min_action_interval_sec": 0}, last_report_at=T0 - 2 * 86_400)
    kinds = [a.kind for a in rec.decision.actions]
    assert {"rebalance", "trade_option", "report"} <= set(kinds) and kinds[0] == "rebalance"
    journal.record_cycle(rec)
    journal.record_cycle(_cycle(BLOCK + 1, sent=0))

    by_kind = journal.actions_by_kind()

    assert by_kind["rebalance"] == 2 and by_kind["trade_option"] == 1 and by_kind["report"] == 1
    assert journal.actions_by_kind("confirmed") == {"rebalance": 1}
    assert sum(journal.actions_by_kind("reverted").values()) == len(kinds) - 1
    assert journal.statuses() == {"ok": 2}


def test_tx_hashes__with_sent_actions__lists_every_hash_in_order(journal: Journal):
    a, b = _cycle(BLOCK), _cycle(BLOCK + 1)
    journal.record_cycle(a)
    journal.record_cycle(_error_cycle())
    journal.record_cycle(b)

    expected = [h for rec in (a, b) for o in rec.outcomes for h in o.tx_hashes]
    assert journal.tx_hashes() == expected and len(expected) >= 2


def test_record_event__with_service_events__reads_them_back_by_kind(journal: Journal):
    journal.record_event("start", "keeper started", data={"vault": "0xabc", "dry_run": False})
    journal.record_event("circuit_open", "3 failures in a row", block=BLOCK)
    journal.record_event("stop", "SIGTERM")

    events = journal.events()

    assert [e.kind for e in events] == ["start", "circuit_open", "stop"]
    assert events[0].data == {"vault": "0xabc", "dry_run": False}
    assert journal.events("circuit_open")[0].block == BLOCK
    assert journal.count() == 0  # events are not cycles
