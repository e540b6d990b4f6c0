"""The auditor's replay (`keeper replay`) in a loopback: a short demo runs on the suite's anvil (the real
keeper service acting and journaling), then the journal is replayed against a second anvil forked from
the first. A clean journal replays with no differences; a copy of the journal with one action field or
one risk figure changed is caught, and exactly the tampered cycle and field are named."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from click.testing import CliRunner

from keeper.cli import main
from keeper.demo import DemoConfig, run_demo
from keeper.journal import Journal
from keeper.policy import PolicyConfig
from keeper.replay import ForkNode, load_policy, reconstruct, replay_journal


@pytest.fixture(scope="module")
def replay_demo(deterministic_clock, tmp_path_factory):
    out = tmp_path_factory.mktemp("replay-demo")
    cfg = DemoConfig(days=1, steps_per_day=12, seed=7, shock_day=0.25, shock_hours=12.0)
    return run_demo(cfg, out, block_interval=False)


@pytest.fixture(scope="module")
def replay_origin(networks, replay_demo):
    return networks.provider.uri


@pytest.fixture(scope="module")
def replay_fork(replay_origin, replay_demo):
    """The second anvil, forked from the suite's at the demo's first journaled block."""
    with Journal(replay_demo.files["journal"], readonly=True) as j:
        first = next(j.cycles()).block
    with ForkNode(replay_origin, first) as node:
        yield node


def _tampered_copy(src, dst, sql: str, args: tuple) -> None:
    """A copy of the journal with one row changed (the copy's append-only triggers dropped first)."""
    shutil.copy(src, dst)
    con = sqlite3.connect(dst)
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        con.execute(f"DROP TRIGGER {name}")
    assert con.execute(sql, args).rowcount == 1
    con.commit()
    con.close()


def _policy(replay_demo) -> PolicyConfig:
    policy, source = load_policy(None, replay_demo.files["journal"])
    assert source.endswith("policy.json")  # the demo writes the policy it ran with beside the journal
    assert policy == replay_demo.config.policy
    return policy


def test_replay__clean_demo_journal__reports_no_differences(replay_demo, replay_origin, replay_fork):
    journal = replay_demo.files["journal"]
    report = replay_journal(replay_origin, journal, policy=_policy(replay_demo), node=replay_fork)
    assert report.differences == [], report.to_markdown()
    assert report.journal_problems == []
    assert report.ok
    assert len(report.cycles) == 12
    checks = [v.checks for v in report.cycles]
    assert all(c["snapshot"] and c["risk"] and c["actions"] for c in checks)
    assert sum(c["mined"] is True for c in checks) >= 3  # the keeper sent transactions, all verified
    assert report.vault == replay_demo.deployment.vault


def test_replay__tampered_action__names_exactly_that_cycle_and_field(
    replay_demo, replay_origin, replay_fork, tmp_path
):
    src = replay_demo.files["journal"]
    con = sqlite3.connect(src)
    cycle_id, idx, action_json = con.execute(
        "SELECT cycle_id, idx, action_json FROM actions WHERE kind = 'rebalance' AND status = 'confirmed' "
        "ORDER BY cycle_id LIMIT 1"
    ).fetchone()
    block = con.execute("SELECT block FROM cycles WHERE id = ?", (cycle_id,)).fetchone()[0]
    con.close()
    action = json.loads(action_json)
    action["spot_min_out"] += 1
    copy = tmp_path / "tampered-action.sqlite"
    _tampered_copy(
        src,
        copy,
        "UPDATE actions SET action_json = ? WHERE cycle_id = ? AND idx = ?",
        (json.dumps(action, sort_keys=True, separators=(",", ":")), cycle_id, idx),
    )
    report = replay_journal(
        replay_origin, copy, block - 30, block + 30, policy=_policy(replay_demo), node=replay_fork
    )
    assert report.differing_cycles == [cycle_id], report.to_markdown()
    paths = {(d.check, d.path) for d in report.differences}
    assert ("actions", f"actions[{idx}].spot_min_out") in paths
    assert ("mined", f"outcomes[{idx}].calldata") in paths  # the journal's action is not what was mined
    assert {d.check for d in report.differences} == {"actions", "mined"}
    assert len(report.cycles) > 1 and not report.ok
    # the hash chain names the same cycle and field
    assert len(report.journal_problems) == 1
    assert report.journal_problems[0].startswith(f"cycle {cycle_id}: row_hash mismatch")
    assert f"actions[{idx}].action_json.spot_min_out" in report.journal_problems[0]


def test_replay_cli__tampered_risk_figure__exit_1_and_the_report_names_it(
    replay_demo, replay_origin, tmp_path
):
    src = replay_demo.files["journal"]
    con = sqlite3.connect(src)
    cycle_id, block, risk_json = con.execute(
        "SELECT id, block, risk_json FROM cycles WHERE risk_json IS NOT NULL ORDER BY id LIMIT 1 OFFSET 5"
    ).fetchone()
    con.close()
    risk = json.loads(risk_json)
    risk["greeks"]["net_delta_eth"] = risk["greeks"]["net_delta_eth"] + 0.5
    copy = tmp_path / "tampered-risk.sqlite"
    _tampered_copy(
        src,
        copy,
        "UPDATE cycles SET risk_json = ? WHERE id = ?",
        (json.dumps(risk, sort_keys=True, separators=(",", ":")), cycle_id),
    )
    shutil.copy(replay_demo.files["policy"], tmp_path / "policy.json")  # beside the copied journal
    out = tmp_path / "report" / "replay.json"
    args = ["replay", "--fork-url", replay_origin, "--journal", str(copy), "--from-block", str(block - 20),
            "--to-block", str(block + 20), "--report", str(out)]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1, res.output
    assert "snapshot" in res.output and "risk" in res.output  # the verdict table
    report = json.loads(out.read_text())
    assert report["differing_cycles"] == [cycle_id]
    diffs = report["differences"]
    assert [(d["check"], d["path"]) for d in diffs] == [("risk", "risk.greeks.net_delta_eth")]
    assert diffs[0]["journal"] == pytest.approx(diffs[0]["replayed"] + 0.5)
    md = out.with_suffix(".md").read_text()
    assert "risk.greeks.net_delta_eth" in md and f"| {cycle_id} | {block} | risk |" in md


def test_replay__without_a_journal__reconstructs_the_keeper_s_transactions(
    replay_demo, replay_origin, replay_fork
):
    with Journal(replay_demo.files["journal"], readonly=True) as j:
        cycles = list(j.cycles())
    sent = [c for c in cycles if any(o.status == "confirmed" for o in c.outcomes)]
    assert sent
    a, b = cycles[0].block, cycles[-1].block + 5
    report = reconstruct(replay_origin, replay_demo.deployment.vault, a, b, policy=_policy(replay_demo),
                         node=replay_fork)  # fmt: skip
    assert report.differences == [], report.to_markdown()
    # one reconstructed cycle per journaled cycle that mined something, decided at the same block
    assert [v.block for v in report.cycles] == [c.block for c in sent]


def test_replay_cli__without_a_journal__prints_the_verdict_table_and_exits_0(
    replay_demo, replay_origin, tmp_path
):
    with Journal(replay_demo.files["journal"], readonly=True) as j:
        cycles = list(j.cycles())
    a, b = cycles[0].block, cycles[-1].block
    out = tmp_path / "reconstruct.json"
    args = ["replay", "--fork-url", replay_origin, "--from-block", str(a), "--to-block", str(b), "--vault",
            replay_demo.deployment.vault, "--every", "25", "--config", str(replay_demo.files["policy"]),
            "--report", str(out)]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "Replay (reconstruct)" in res.output and "0 differences" in res.output
    report = json.loads(out.read_text())
    assert report["mode"] == "reconstruct" and report["ok"] and report["cycles_replayed"] >= 3
    assert out.with_suffix(".md").exists()
    # without a journal the vault and the range are required
    res = CliRunner().invoke(main, ["replay", "--fork-url", replay_origin, "--from-block", str(a)])
    assert res.exit_code == 2 and "required" in res.output
