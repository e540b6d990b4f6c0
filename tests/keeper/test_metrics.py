"""keeper/metrics.py: values after observations (parsed from the exposition text) and the HTTP endpoint."""

from __future__ import annotations

import math
import urllib.request

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from keeper.journal import ActionOutcome, CycleRecord
from keeper.metrics import Metrics, cycle_status
from keeper.policy import Decision
from tests.keeper.snapshot_factory import BLOCK, T0, make_decision, make_risk, make_snapshot

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _samples(text: bytes | str) -> Samples:
    if isinstance(text, bytes):
        text = text.decode()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


def _full_cycle(**knobs):
    snap = make_snapshot(**knobs)
    risk = make_risk(snap)
    decision = make_decision(snap, risk)
    return snap, risk, decision


def test_observe_cycle__with_full_cycle__sets_risk_vault_and_oracle_gauges(metrics: Metrics):
    snap, risk, decision = _full_cycle()

    metrics.observe_cycle(snap, risk, decision, [])

    s = _samples(metrics.render())
    g = risk.greeks
    assert _value(s, "keel_net_delta_eth") == pytest.approx(g.net_delta_eth)
    assert _value(s, "keel_gamma_eth_per_usd") == pytest.approx(g.gamma_eth_per_usd)
    assert _value(s, "keel_vega_usd_per_vol_point") == pytest.approx(g.vega_usd_per_vol_point)
    assert _value(s, "keel_theta_usd_per_day") == pytest.approx(g.theta_usd_per_day)
    assert _value(s, "keel_perp_margin_ratio") == pytest.approx(3.0)
    assert _value(s, "keel_liquidation_distance_pct") == pytest.approx(risk.distance_to_liquidation_pct)
    assert _value(s, "keel_nav_usd") == pytest.approx(snap.vault.total_assets / 1e6)
    assert _value(s, "keel_share_price") == pytest.approx(1.05)
    assert _value(s, "keel_insurance_fund_usd") == pytest.approx(50_000.0)
    assert _value(s, "keel_funding_rate_8h") == pytest.approx(0.0001)
    assert _value(s, "keel_oracle_age_seconds", feed="eth_usd") == 30
    assert _value(s, "keel_oracle_age_seconds", feed="eth_iv") == 300
    assert _value(s, "keel_oracle_age_seconds", feed="funding") == 1_800
    for feed in ("eth_usd", "eth_iv", "funding"):
        assert _value(s, "keel_oracle_ok", feed=feed, verdict="Ok") == 1
    assert _value(s, "keel_last_block") == BLOCK
    assert _value(s, "keel_action_nonce") == 7
    assert _value(s, "keel_cycles_total", status="ok") == 1
    assert _value(s, "keel_cycles_total", status="error") == 0
    assert _value(s, "keel_last_cycle_timestamp_seconds") > T0


def test_observe_cycle__with_outcomes__counts_actions_by_kind_and_status(metrics: Metrics):
    snap, risk, decision = _full_cycle(
        positions=(), guard={"min_action_interval_sec": 0}, last_report_at=T0 - 2 * 86_400
    )
    kinds = [a.kind for a in decision.actions]
    assert {"rebalance", "trade_option", "report"} <= set(kinds) and kinds[0] == "rebalance"
    outcomes = [ActionOutcome(action=decision.actions[0], status="confirmed")] + [
        ActionOutcome(action=a, status="reverted") for a in decision.actions[1:]
    ]

    metrics.observe_cycle(snap, risk, decision, outcomes)
    metrics.observe_cycle(snap, risk, decision, outcomes[:1])

    s = _samples(metrics.render())
    assert _value(s, "keel_actions_total", kind="rebalance", status="confirmed") == 2
    assert _value(s, "keel_actions_total", kind="trade_option", status="reverted") == 1
    assert _value(s, "keel_actions_total", kind="report", status="reverted") == 1
    assert _value(s, "keel_actions_decided_total", kind="rebalance") == 2
    assert _value(s, "keel_actions_decided_total", kind="trade_option") == 2
    assert _value(s, "keel_cycles_total", status="ok") == 2


def test_observe_cycle__with_verdict_change__keeps_one_oracle_series_per_feed(metrics: Metrics):
    snap, risk, decision = _full_cycle()
    stale = make_snapshot(spot_age_sec=7_200)

    metrics.observe_cycle(snap, risk, decision)
    metrics.observe_cycle(stale, make_risk(stale), make_decision(stale))

    s = _samples(metrics.render())
    spot_series = {k: v for k, v in s.items() if k[0] == "keel_oracle_ok" and ("feed", "eth_usd") in k[1]}
    assert spot_series == {("keel_oracle_ok", (("feed", "eth_usd"), ("verdict", "Stale"))): 0.0}
    assert _value(s, "keel_oracle_age_seconds", feed="eth_usd") == 7_200
    assert _value(s, "keel_cycles_total", status="halted") == 1


def test_observe_cycle__without_snapshot__counts_an_error_and_keeps_the_last_figures(metrics: Metrics):
    snap, risk, decision = _full_cycle()
    metrics.observe_cycle(snap, risk, decision)

    metrics.observe_cycle(None, None, None)

    s = _samples(metrics.render())
    assert _value(s, "keel_cycles_total", status="error") == 1
    assert _value(s, "keel_net_delta_eth") == pytest.approx(risk.greeks.net_delta_eth)
    assert _value(s, "keel_last_block") == BLOCK


def test_observe_cycle__without_perp_position__reports_infinite_margin_and_distance(metrics: Metrics):
    snap, risk, decision = _full_cycle(perp_eth=0.0, perp_margin_usd=0.0)
    assert risk.perp_margin_ratio is None

    metrics.observe_cycle(snap, risk, decision)

    s = _samples(metrics.render())
    assert math.isinf(_value(s, "keel_perp_margin_ratio"))
    assert math.isinf(_value(s, "keel_liquidation_distance_pct"))


def test_observe_cycle__with_stale_funding_feed__falls_back_to_the_latest_history_point(metrics: Metrics):
    snap = make_snapshot(funding_8h=-0.0003, funding_age_sec=-60)  # a round from the future: not ok
    assert not snap.funding_oracle.ok

    metrics.observe_cycle(snap, None, None)

    assert _value(_samples(metrics.render()), "keel_funding_rate_8h") == pytest.approx(-0.0003)


def test_observe_record__with_journal_record__uses_the_record_status(metrics: Metrics):
    rec = CycleRecord(block=5, status="error", error="rpc down", started_at=1.0, finished_at=2.0)

    metrics.observe_record(rec)

    s = _samples(metrics.render())
    assert _value(s, "keel_cycles_total", status="error") == 1
    assert _value(s, "keel_cycles_total", status="ok") == 0


@pytest.mark.parametrize(
    ("knobs", "has_decision", "expected"),
    [
        ({}, True, "ok"),
        ({"spot_age_sec": 7_200}, True, "halted"),
        ({}, False, "error"),
    ],
)
def test_cycle_status__with_cycle_outcome__names_the_status(knobs, has_decision, expected):
    snap = make_snapshot(**knobs)
    risk = make_risk(snap)
    decision = make_decision(snap, risk) if has_decision else None
    assert cycle_status(snap, risk, decision) == expected


def test_cycle_status__with_empty_decision_and_good_oracles__is_no_action():
    snap = make_snapshot()
    assert cycle_status(snap, make_risk(snap), Decision(actions=())) == "no_action"


def test_observe_sender_error_and_breaker__with_values__set_gauges_and_counters(metrics: Metrics):
    metrics.observe_sender(42.5, 2)
    metrics.observe_error("rpc")
    metrics.observe_error("rpc")
    metrics.observe_error("journal")
    metrics.set_circuit_breaker(True)

    s = _samples(metrics.render())
    assert _value(s, "keel_pending_tx_age_seconds") == 42.5
    assert _value(s, "keel_nonce_gap") == 2
    assert _value(s, "keel_errors_total", kind="rpc") == 2
    assert _value(s, "keel_errors_total", kind="journal") == 1
    assert _value(s, "keel_circuit_breaker_open") == 1

    metrics.observe_sender(None, 0)
    metrics.set_circuit_breaker(False)
    s = _samples(metrics.render())
    assert _value(s, "keel_pending_tx_age_seconds") == 0
    assert _value(s, "keel_circuit_breaker_open") == 0


def test_metrics__with_default_registries__two_instances_do_not_clash():
    a, b = Metrics(), Metrics()
    a.observe_error("rpc")
    sa, sb = _samples(a.render()), _samples(b.render())
    assert _value(sa, "keel_errors_total", kind="rpc") == 1
    assert ("keel_errors_total", (("kind", "rpc"),)) not in sb
    assert any(name.startswith("process_") for name, _ in sa)  # process collector included


def test_serve__with_port_0__serves_the_metrics_on_the_bound_port(metrics: Metrics):
    snap, risk, decision = _full_cycle()
    metrics.observe_cycle(snap, risk, decision)
    port = metrics.serve(0)
    try:
        assert port > 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            assert resp.status == 200
            body = resp.read()
        assert _value(_samples(body), "keel_last_block") == BLOCK
        with pytest.raises(RuntimeError, match="already served"):
            metrics.serve(0)
    finally:
        metrics.close()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
