"""tests/keeper/snapshot_factory.py: the fixtures other tests build on are valid and consistent."""

from __future__ import annotations

import pytest

from keeper.assess import assess
from keeper.oracle import Verdict
from keeper.policy import PolicyConfig, decide_with_notes
from tests.keeper.snapshot_factory import T0, make_decision, make_series, make_snapshot

WAD = 10**18


def test_make_snapshot__with_defaults__is_internally_consistent():
    s = make_snapshot()

    assert (s.spot_oracle.verdict, s.iv_oracle.verdict, s.funding_oracle.verdict) == (Verdict.Ok,) * 3
    assert s.spot_price_wad == 3_000 * WAD and s.oracles_ok
    assert s.spot_oracle.round.round_id > 2**63  # mainnet-style phase ids
    assert s.vault.total_assets == s.vault.idle_assets + sum(s.vault.leg_values)
    assert s.vault.leg_values == (s.spot.value_assets, s.perp.value_assets, s.options.value_assets)
    assert s.book.nav_assets == s.vault.total_assets
    assert s.perp.margin_ratio_wad == 3 * WAD
    assert s.vault.share_price_wad == 105 * WAD // 100
    assert s.digest() == make_snapshot().digest()  # deterministic
    risk = assess(s)
    assert risk.perp_margin_ratio == pytest.approx(3.0)
    assert risk.liquidation_price_usd == pytest.approx(s.perp.liquidation_price_wad / WAD, rel=1e-9)
    assert risk.greeks.option_delta_eth == pytest.approx(s.options.delta_wad / WAD, abs=1e-5)


@pytest.mark.parametrize(
    ("knobs", "verdict"),
    [
        ({"spot_age_sec": 7_200}, Verdict.Stale),
        ({"spot_last_good": 2_000.0}, Verdict.Deviation),
        ({"spot_last_good": 2_000.0, "spot_tripped_at": T0 - 60}, Verdict.CoolingDown),
        ({"spot_age_sec": -5}, Verdict.FutureTimestamp),
    ],
)
def test_make_snapshot__with_oracle_knobs__gets_the_mirror_verdict(knobs, verdict):
    assert make_snapshot(**knobs).spot_oracle.verdict == verdict


def test_make_snapshot__with_nested_overrides__merges_into_the_submodels():
    s = make_snapshot(guard={"min_action_interval_sec": 0}, vault={"shutdown": True}, action_nonce=41)
    assert s.guard.min_action_interval_sec == 0 and s.guard.max_slippage_bps == 100
    assert s.vault.shutdown and s.vault.asset_decimals == 6
    assert s.action_nonce == 41


def test_make_snapshot__with_unknown_override__names_the_field():
    with pytest.raises(KeyError, match="perpp"):
        make_snapshot(perpp={"size_wad": 0})


def test_make_snapshot__with_book_knobs__recomputes_the_derived_figures():
    s = make_snapshot(spot_price=2_500.0, perp_eth=-80.0, perp_entry=3_000.0, perp_margin_usd=40_000.0)
    equity = 40_000 + (2_500 - 3_000) * -80  # margin + pnl
    assert s.perp.equity_assets == equity * 10**6
    assert s.perp.margin_ratio_wad == equity * WAD // (80 * 2_500 * 5 // 100)
    assert s.spot.pool_price_wad == 2_500 * WAD


def test_make_decision__with_policy_scenarios__produces_the_expected_action_kinds():
    assert "rebalance" in [a.kind for a in make_decision().actions]  # idle above the buffer, delta off
    busy = make_snapshot(
        positions=(), guard={"min_action_interval_sec": 0}, last_report_at=T0 - 2 * 86_400, queued_usd=1_000.0
    )
    kinds = {a.kind for a in make_decision(busy).actions}
    assert {"rebalance", "trade_option", "report", "process_redemptions"} <= kinds
    jumped = make_decision(make_snapshot(spot_last_good=2_000.0))
    assert [a.kind for a in jumped.actions] == ["poke_oracle"] * 3
    expired = make_snapshot(positions=(make_series(7, expiry=T0 - 3_600, size_eth=-10.0),))
    d = decide_with_notes(expired, assess(expired), PolicyConfig())
    assert d.actions[0].kind == "settle_option"
