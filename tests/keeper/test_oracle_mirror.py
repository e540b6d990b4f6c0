"""keeper.oracle, the Python mirror of OracleLib: the shared boundary table, the breaker's state
machine, rounding, the models' bounds, and that the enum is numbered like IOracle.Verdict. The mirror
equals the contract on the same inputs in tests/contracts/test_oracle.py (table and random inputs)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from keeper import oracle
from keeper.oracle import FeedConfig, FeedState, RoundData, Verdict
from tests.oracle_cases import (
    CASES,
    E8,
    E18,
    NOW,
    SPOT,
    SPOT_REF,
    Case,
    check_inputs,
    rnd,
)

IORACLE = Path(__file__).resolve().parents[2] / "contracts" / "interfaces" / "IOracle.sol"

pure_settings = settings(
    max_examples=2000,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_check__with_boundary_case__gives_expected_verdict_and_value(case: Case):
    assert oracle.check(case.config, case.state, case.round, case.now) == (case.verdict, case.value_wad)


def test_verdict__members_and_order__match_IOracle_enum():
    body = re.search(r"enum Verdict \{(.*?)\}", IORACLE.read_text(), re.S).group(1)
    members = [line.strip().rstrip(",") for line in body.splitlines() if line.strip() and "//" not in line]
    assert members == [v.name for v in Verdict]
    assert [v.value for v in Verdict] == list(range(len(members)))


def test_apply__with_trip_cooldown_and_reanchor__follows_the_breaker_rules():
    cfg = SPOT  # 10 % bound, 1800 s cooldown, 3600 s max age
    v, value, s = oracle.apply(cfg, FeedState(), rnd(3000 * E8, NOW), NOW)
    assert (v, value, s) == (Verdict.Ok, 3000 * E18, FeedState(last_good_wad=3000 * E18, last_good_at=NOW))

    t = NOW + 60
    v, value, s = oracle.apply(cfg, s, rnd(2000 * E8, t), t)  # -33 %
    assert (v, value) == (Verdict.Deviation, 2000 * E18)
    assert s == FeedState(last_good_wad=3000 * E18, last_good_at=NOW, tripped_at=t)
    assert oracle.resumes_at(cfg, s) == t + 1800

    # Back inside the old bound, but still cooling down: rejected, nothing changes.
    v, _, s2 = oracle.apply(cfg, s, rnd(3000 * E8, t + 1799), t + 1799)
    assert (v, s2) == (Verdict.CoolingDown, s)
    # After the cooldown a stale round cannot re-anchor; the breaker stays tripped.
    v, _, s2 = oracle.apply(cfg, s, rnd(2000 * E8, t), t + 1800 + 3600)
    assert (v, s2) == (Verdict.Stale, s)
    # The first valid round at or after trippedAt + cooldown re-anchors, whatever the distance.
    v, value, s = oracle.apply(cfg, s, rnd(1500 * E8, t + 1800), t + 1800)
    assert (v, value) == (Verdict.Ok, 1500 * E18)
    assert s == FeedState(last_good_wad=1500 * E18, last_good_at=t + 1800, tripped_at=0)
    assert oracle.resumes_at(cfg, s) is None
    # And the breaker is armed again around the new reference.
    assert oracle.check(cfg, s, rnd(1651 * E8, t + 1801), t + 1801)[0] == Verdict.Deviation
    assert oracle.check(cfg, s, rnd(1650 * E8, t + 1801), t + 1801)[0] == Verdict.Ok


@pytest.mark.parametrize("round_", [rnd(0), rnd(3000 * E8, 0), rnd(3000 * E8, NOW + 1), rnd(3000 * E8, 1)])
def test_apply__with_failed_round__keeps_state(round_):
    verdict, value, s = oracle.apply(SPOT, SPOT_REF, round_, NOW)
    assert verdict not in (Verdict.Ok, Verdict.Deviation)
    assert (value, s) == (0, SPOT_REF)


@pytest.mark.parametrize(
    ("answer", "decimals", "expected"),
    [
        (-199, 20, -1),  # Python's -199 // 100 would be -2: the mirror must truncate like Solidity
        (-100, 20, -1),
        (-99, 20, 0),
        (199, 20, 1),
        (-(10**26), 8, -(10**36)),
        (3 * 10**36 + 10**18 - 1, 36, 3 * E18),
    ],
)
def test_to_wad__with_more_than_18_decimals__truncates_toward_zero(answer, decimals, expected):
    assert oracle.to_wad(answer, decimals) == (True, expected)


@pure_settings
@given(inputs=check_inputs())
def test_check__with_random_inputs__is_total_and_returns_value_only_when_ok_or_deviation(inputs):
    config, state, r, now = inputs
    verdict, value = oracle.check(config, state, r, now)
    if verdict in (Verdict.Ok, Verdict.Deviation):
        assert abs(value) <= oracle.MAX_ABS_WAD
        assert config.signed or value > 0
        assert value == oracle.to_wad(r.answer, config.decimals)[1]
    else:
        assert value == 0
    new_verdict, new_value, after = oracle.apply(config, state, r, now)
    assert (new_verdict, new_value) == (verdict, value)
    if verdict == Verdict.Ok:
        assert after == FeedState(last_good_wad=value, last_good_at=r.updated_at)
    elif verdict == Verdict.Deviation:
        assert after.tripped_at == now and after.last_good_wad == state.last_good_wad
    else:
        assert after == state


@pure_settings
@given(
    signed=st.booleans(),
    last=st.integers(-(2**127), 2**127 - 1),
    new=st.integers(-(10**36), 10**36),
    max_bps=st.integers(0, 2**16 - 1),
)
def test_deviation_bps__rounded_up__exceeds_the_bound_exactly_when_check_trips(signed, last, new, max_bps):
    """The reported size (rounded up) is above the bound iff the exact comparison trips the breaker."""
    bps = oracle.deviation_bps(signed, last, new)
    ref = oracle.WAD if signed else abs(last)
    assert (bps > max_bps) == (abs(new - last) * oracle.BPS > max_bps * ref)


def test_check_inputs__with_the_contract_test_settings__draws_every_verdict():
    """The random inputs of the mirror-vs-contract property test reach every verdict."""
    seen: Counter[Verdict] = Counter()

    @settings(pure_settings, max_examples=150)
    @given(inputs=check_inputs())
    def sample(inputs):
        seen[oracle.check(*inputs)[0]] += 1

    sample()
    assert set(seen) == set(Verdict), seen


def test_models__with_values_outside_the_solidity_types__are_rejected():
    with pytest.raises(ValidationError):
        FeedConfig(decimals=256, max_age_sec=1, max_deviation_bps=0, cooldown_sec=0)
    with pytest.raises(ValidationError):
        FeedConfig(decimals=8, max_age_sec=2**32, max_deviation_bps=0, cooldown_sec=0)
    with pytest.raises(ValidationError):
        FeedConfig(decimals=8, max_age_sec=1, max_deviation_bps=2**16, cooldown_sec=0)
    with pytest.raises(ValidationError):
        FeedState(last_good_wad=2**127)
    with pytest.raises(ValidationError):
        RoundData(answer=2**255, updated_at=0)
    with pytest.raises(ValidationError):
        RoundData(answer=0, updated_at=-1)
    with pytest.raises(ValidationError):
        SPOT.max_age_sec = 1  # frozen


def test_validate_config__with_each_bad_value__names_the_problem():
    ok = FeedConfig(
        feed="0x00000000000000000000000000000000000000aa",
        decimals=8,
        max_age_sec=3600,
        max_deviation_bps=1000,
        cooldown_sec=1800,
    )
    oracle.validate_config(ok)
    for update, words in [
        ({"feed": "0x" + "0" * 40}, "zero address"),
        ({"max_age_sec": 0}, "max_age_sec"),
        ({"decimals": 37}, "decimals 37"),
        ({"cooldown_sec": 0}, "cooldown_sec"),
    ]:
        with pytest.raises(ValueError, match=words):
            oracle.validate_config(ok.model_copy(update=update))
    oracle.validate_config(ok.model_copy(update={"cooldown_sec": 0, "max_deviation_bps": 0}))


def test_to_float__with_wad__converts():
    assert oracle.to_float(3000 * E18) == 3000.0
    assert oracle.to_float(-(10**14)) == pytest.approx(-0.0001)
