"""The replay's pure comparisons (no chain): tolerances, field paths, outcome checks, keeper-run grouping."""

from __future__ import annotations

from keeper.chain.actions import encode_action
from keeper.journal import ActionOutcome
from keeper.policy import Decision, Rebalance, Report
from keeper.replay import ChainTx, MinedTx, compare_decision, compare_outcome, diff_values, keeper_runs

VAULT = "0x68B1D87F95878fE05B998F19b66F4baba5De1aed"


def _reb(**kw) -> Rebalance:
    base = {"reason": "delta", "expected_nonce": 3, "deadline": 1_000, "perp_size_delta_wad": -5 * 10**18}
    return Rebalance(**(base | kw))


def test_diff_values__floats_within_tolerance_ints_exact_and_paths_named():
    a = {"g": {"delta": 1.0, "n": 10**30}, "xs": [1, 2.0]}
    assert diff_values(a, {"g": {"delta": 1.0 + 1e-12, "n": 10**30}, "xs": [1, 2.0]}, "r", 1e-9) == []
    assert diff_values(a, {"g": {"delta": 1.001, "n": 10**30}, "xs": [1, 2.0]}, "r", 1e-9) == [
        ("r.g.delta", 1.0, 1.001)
    ]
    assert diff_values(a, {"g": {"delta": 1.0, "n": 10**30 + 1}, "xs": [1]}, "r", 1e-9) == [
        ("r.g.n", 10**30, 10**30 + 1),
        ("r.xs.length", 2, 1),
    ]
    assert diff_values({"x": float("nan"), "b": True}, {"x": float("nan"), "b": 1}, "") == [("b", True, 1)]


def test_compare_decision__names_the_action_field_and_the_count():
    j = Decision(actions=(_reb(), Report(reason="r", expected_nonce=4)), notes=("n",))
    assert compare_decision(j, j, 1e-9) == []
    r = Decision(actions=(_reb(perp_size_delta_wad=-4 * 10**18),), notes=("n",))
    paths = [p for p, _, _ in compare_decision(j, r, 1e-9)]
    assert paths == ["actions.length", "actions[0].perp_size_delta_wad"]


def test_compare_outcome__checks_status_target_calldata_block_and_nothing_mined_for_skipped():
    a = _reb()
    call = encode_action(a, VAULT)
    ok = MinedTx("0x1", True, status=1, to=VAULT, data=call.data, block=9, gas_used=100)
    o = ActionOutcome(action=a, status="confirmed", tx_hashes=("0x1",), block_number=9, gas_used=100)
    assert compare_outcome(o, [ok], VAULT, 0) == []
    other = encode_action(_reb(perp_size_delta_wad=-6 * 10**18), VAULT).data
    bad = MinedTx("0x1", True, status=0, to=VAULT, data=other, block=10, gas_used=100)
    assert [p for p, _, _ in compare_outcome(o, [bad], VAULT, 0)] == [
        "outcomes[0].status",
        "outcomes[0].calldata",
        "outcomes[0].block_number",
    ]
    skipped = ActionOutcome(action=a, status="simulation_failed", tx_hashes=("0x1",))
    assert compare_outcome(skipped, [MinedTx("0x1", False)], VAULT, 0) == []
    assert [p for p, _, _ in compare_outcome(skipped, [ok], VAULT, 0)] == ["outcomes[0].status"]


def test_keeper_runs__group_consecutive_blocks_of_the_keeper_that_sent_nonced_actions():
    k, x = "0xKeeper", "0xSomeoneElse"
    txs = [
        ChainTx(10, "a", k, VAULT, b"", "rebalance"),
        ChainTx(11, "b", k, VAULT, b"", "report"),
        ChainTx(12, "c", x, VAULT, b"", "process_redemptions"),  # not the keeper: ignored
        ChainTx(20, "d", k, VAULT, b"", "process_redemptions"),
    ]
    assert [[t.hash for t in run] for run in keeper_runs(txs)] == [["a", "b"], ["d"]]
