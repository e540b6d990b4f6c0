"""OracleLib on anvil through OracleHarness and KeelFeed: every rejection rule at its boundaries, the
errors' values, decimal normalisation, the circuit breaker's trip / cooldown / re-anchor sequence, and
the keeper's Python mirror (keeper/oracle.py) agreeing with the contract on the same inputs."""

from __future__ import annotations

import ape
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keeper import oracle as mirror
from keeper.oracle import FeedConfig, FeedState, RoundData, Verdict
from tests.helpers import chain_settings, isolated
from tests.oracle_cases import (
    CASES,
    E8,
    E18,
    INT256_MAX,
    INT256_MIN,
    NOW,
    SPOT,
    SPOT_REF,
    Case,
    check_inputs,
    config_tuple,
    rnd,
    round_from_chain,
    round_tuple,
    state_from_chain,
    state_tuple,
    tripped,
)

MAX_AGE = 3600
MAX_DEV_BPS = 1000
COOLDOWN = 1800
FUNDING_DEV_BPS = 50


@pytest.fixture(scope="module", autouse=True)
def _roles_first(admin, keeper, stranger):
    """Session-scoped accounts before the module's deployments (ape's snapshot isolation order)."""
    yield


@pytest.fixture(scope="module")
def eth_usd(project, admin):
    return admin.deploy(project.KeelFeed, 8, "ETH / USD", 3000 * E8)


@pytest.fixture(scope="module")
def funding_feed(project, admin):
    return admin.deploy(project.KeelFeed, 8, "ETH perp funding 8h", 10**4)


@pytest.fixture(scope="module")
def spot_oracle(project, admin, eth_usd):
    return admin.deploy(project.OracleHarness, eth_usd, MAX_AGE, MAX_DEV_BPS, COOLDOWN, False)


@pytest.fixture(scope="module")
def funding_oracle(project, admin, funding_feed):
    return admin.deploy(project.OracleHarness, funding_feed, MAX_AGE, FUNDING_DEV_BPS, COOLDOWN, True)


def config_from_chain(c) -> FeedConfig:
    return FeedConfig(
        feed=c.feed,
        decimals=c.decimals,
        max_age_sec=c.maxAgeSec,
        max_deviation_bps=c.maxDeviationBps,
        cooldown_sec=c.cooldownSec,
        signed=c.signed,
    )


def contract_check(harness, c: FeedConfig, s: FeedState, r: RoundData, now: int) -> tuple[Verdict, int]:
    verdict, value = harness.check(config_tuple(c), state_tuple(s), round_tuple(r), now)
    return Verdict(verdict), value


def poke(chain, harness, feed, who, at: int | None = None):
    """Send `update()` (at block time `at` if given) and assert verdict, value and the new state equal
    the mirror's `apply` on the same config, state, round and block time."""
    cfg = config_from_chain(harness.config())
    before = state_from_chain(harness.state())
    rd = round_from_chain(feed.latestRoundData())
    if at is not None:
        chain.pending_timestamp = at
    tx = harness.update(sender=who)
    if at is not None:
        assert tx.timestamp == at
    verdict, value, after = mirror.apply(cfg, before, rd, tx.timestamp)
    got_verdict, got_value = tx.return_value
    assert (Verdict(got_verdict), got_value) == (verdict, value)
    assert state_from_chain(harness.state()) == after
    return verdict, value, tx


def publish(chain, feed, owner, answer: int) -> int:
    """Publish `answer` as a new round; returns its updatedAt."""
    return feed.updateAnswer(answer, sender=owner).timestamp


# ============================================================== check: boundary table (same as mirror)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_check__with_boundary_case__gives_expected_verdict_and_value(spot_oracle, case: Case):
    expected = (case.verdict, case.value_wad)
    assert contract_check(spot_oracle, case.config, case.state, case.round, case.now) == expected
    assert mirror.check(case.config, case.state, case.round, case.now) == expected


# ============================================================== errors carry the values


def test_checkOrRevert__with_stale_round__reverts_OracleStale_with_values(spot_oracle):
    r = rnd(3000 * E8, NOW - 3601)
    with ape.reverts(spot_oracle.OracleStale, updatedAt=NOW - 3601, nowSec=NOW, maxAgeSec=3600):
        spot_oracle.checkOrRevert(config_tuple(SPOT), state_tuple(SPOT_REF), round_tuple(r), NOW)


def test_checkOrRevert__with_future_round__reverts_OracleFutureTimestamp(spot_oracle):
    r = rnd(3000 * E8, NOW + 1)
    with ape.reverts(spot_oracle.OracleFutureTimestamp, updatedAt=NOW + 1, nowSec=NOW):
        spot_oracle.checkOrRevert(config_tuple(SPOT), state_tuple(SPOT_REF), round_tuple(r), NOW)


def test_checkOrRevert__with_zero_timestamp__reverts_OracleNoTimestamp(spot_oracle):
    r = rnd(3000 * E8, 0, round_id=42)
    with ape.reverts(spot_oracle.OracleNoTimestamp, roundId=42):
        spot_oracle.checkOrRevert(config_tuple(SPOT), state_tuple(SPOT_REF), round_tuple(r), NOW)


@pytest.mark.parametrize("answer", [0, -1, INT256_MIN + 10**30])
def test_checkOrRevert__with_non_positive_answer__reverts_OracleNonPositive(spot_oracle, answer):
    r = rnd(answer)
    with ape.reverts(spot_oracle.OracleNonPositive, answer=answer):
        spot_oracle.checkOrRevert(config_tuple(SPOT), state_tuple(SPOT_REF), round_tuple(r), NOW)


def test_checkOrRevert__with_huge_answer__reverts_OracleOutOfRange(spot_oracle):
    r = rnd(INT256_MAX)
    with ape.reverts(spot_oracle.OracleOutOfRange, answer=INT256_MAX, decimals=8):
        spot_oracle.checkOrRevert(config_tuple(SPOT), state_tuple(SPOT_REF), round_tuple(r), NOW)


def test_checkOrRevert__with_jump_one_unit_over__reverts_OracleDeviation_rounded_up(spot_oracle):
    r = rnd(3300 * E8 + 1)
    new = 3300 * E18 + 10**10
    # 1000.0000333 bps, reported rounded up so it is above the bound.
    with ape.reverts(
        spot_oracle.OracleDeviation, lastWad=3000 * E18, newWad=new, deviationBps=1001, maxBps=1000
    ):
        spot_oracle.checkOrRevert(config_tuple(SPOT), state_tuple(SPOT_REF), round_tuple(r), NOW)


def test_checkOrRevert__while_cooling_down__reverts_OracleCoolingDown_with_resume_time(spot_oracle):
    s = tripped(NOW - 100)
    with ape.reverts(spot_oracle.OracleCoolingDown, trippedAt=NOW - 100, resumesAt=NOW - 100 + 1800):
        spot_oracle.checkOrRevert(config_tuple(SPOT), state_tuple(s), round_tuple(rnd(3000 * E8)), NOW)


def test_checkOrRevert__with_ok_round__returns_value(spot_oracle):
    assert (
        spot_oracle.checkOrRevert(config_tuple(SPOT), state_tuple(SPOT_REF), round_tuple(rnd(3100 * E8)), NOW)
        == 3100 * E18
    )


# ============================================================== normalisation and deviation size


@pytest.mark.parametrize(
    ("answer", "decimals", "expected"),
    [
        (3000, 0, 3000 * E18),
        (3000 * 10**6, 6, 3000 * E18),
        (3000 * E8 + 1, 8, 3000 * E18 + 10**10),
        (3000 * E18 + 1, 18, 3000 * E18 + 1),
        (3000 * 10**20 + 99, 20, 3000 * E18),  # truncated (down for positive values)
        (-(3000 * 10**20) - 99, 20, -3000 * E18),  # toward zero for negative values
        (99, 20, 0),
    ],
)
def test_toWad__with_decimals_0_6_8_18_20__normalises_to_wad(spot_oracle, answer, decimals, expected):
    assert tuple(spot_oracle.toWad(answer, decimals)) == (True, expected)
    assert mirror.to_wad(answer, decimals) == (True, expected)


@pytest.mark.parametrize(
    ("signed", "last", "new", "expected"),
    [
        (False, 3000 * E18, 3300 * E18, 1000),
        (False, 3000 * E18, 3300 * E18 + 1, 1001),
        (False, 3000 * E18, 2700 * E18, 1000),
        (False, 0, 1, 2**256 - 1),
        (False, 0, 0, 0),
        (False, -3 * E18, 0, 10_000),
        (True, 10**14, -49 * 10**14, 50),
        (True, 0, 1, 1),
        (True, 0, -(10**36), 10**22),
    ],
)
def test_deviationBps__with_moves__rounds_up_like_mirror(spot_oracle, signed, last, new, expected):
    assert spot_oracle.deviationBps(signed, last, new) == expected
    assert mirror.deviation_bps(signed, last, new) == expected


# ============================================================== configure


def test_configure__with_valid_feed__reads_decimals_once(spot_oracle, eth_usd):
    c = spot_oracle.config()
    assert (c.feed, c.decimals, c.maxAgeSec, c.maxDeviationBps, c.cooldownSec, c.signed) == (
        eth_usd.address,
        8,
        MAX_AGE,
        MAX_DEV_BPS,
        COOLDOWN,
        False,
    )
    assert tuple(spot_oracle.state()) == (0, 0, 0)


def test_configure__with_bad_values__reverts_OracleBadConfig(project, admin, spot_oracle, eth_usd):
    zero = "0x0000000000000000000000000000000000000000"
    with ape.reverts(spot_oracle.OracleBadConfig, feed=zero, maxAgeSec=60):
        spot_oracle.configure(zero, 60, 0, 0, False)
    with ape.reverts(spot_oracle.OracleBadConfig, feed=eth_usd.address, maxAgeSec=0):
        spot_oracle.configure(eth_usd, 0, 0, 0, False)
    with ape.reverts(spot_oracle.OracleBadConfig, maxDeviationBps=1, cooldownSec=0):
        spot_oracle.configure(eth_usd, 60, 1, 0, False)
    wide = admin.deploy(project.KeelFeed, 37, "too many decimals", 1)
    with ape.reverts(spot_oracle.OracleBadConfig, feed=wide.address, decimals=37):
        spot_oracle.configure(wide, 60, 0, 0, False)
    # The boundaries themselves are fine, and the mirror agrees on every case.
    assert spot_oracle.configure(admin.deploy(project.KeelFeed, 36, "36", 1), 1, 0, 0, False).decimals == 36
    for bad in (
        FeedConfig(feed=zero, decimals=8, max_age_sec=60, max_deviation_bps=0, cooldown_sec=0),
        FeedConfig(feed=eth_usd.address, decimals=8, max_age_sec=0, max_deviation_bps=0, cooldown_sec=0),
        FeedConfig(feed=eth_usd.address, decimals=8, max_age_sec=60, max_deviation_bps=1, cooldown_sec=0),
        FeedConfig(feed=eth_usd.address, decimals=37, max_age_sec=60, max_deviation_bps=0, cooldown_sec=0),
    ):
        with pytest.raises(ValueError, match="bad oracle config"):
            mirror.validate_config(bad)
    mirror.validate_config(config_from_chain(spot_oracle.config()))


def test_setConfig__with_new_bounds__resets_state_and_emits(keeper, admin, spot_oracle, eth_usd):
    spot_oracle.read(sender=keeper)
    assert spot_oracle.state().lastGoodAt != 0
    tx = spot_oracle.setConfig(eth_usd, 60, 0, 0, False, sender=admin)
    assert tuple(spot_oracle.state()) == (0, 0, 0)
    assert tx.events.filter(spot_oracle.Configured)[0].maxAgeSec == 60


# ============================================================== read / update / peek with a live feed


def test_read__with_first_round__accepts_and_emits_OracleAccepted(keeper, spot_oracle, eth_usd):
    tx = spot_oracle.read(sender=keeper)
    assert tx.return_value == 3000 * E18
    ev = tx.events.filter(spot_oracle.OracleAccepted)[0]
    rid, _, _, updated_at, _ = eth_usd.latestRoundData()
    assert (ev.feed, ev.roundId, ev.valueWad, ev.updatedAt) == (eth_usd.address, rid, 3000 * E18, updated_at)
    assert tuple(spot_oracle.state()) == (3000 * E18, updated_at, 0)


def test_read__with_same_round_twice__writes_and_emits_nothing_the_second_time(keeper, spot_oracle):
    spot_oracle.read(sender=keeper)
    state = tuple(spot_oracle.state())
    first = spot_oracle.read(sender=keeper)
    assert not first.events.filter(spot_oracle.OracleAccepted)
    assert tuple(spot_oracle.state()) == state
    assert first.return_value == 3000 * E18


def test_read__with_new_round_in_bound__moves_reference(chain, admin, keeper, spot_oracle, eth_usd):
    spot_oracle.read(sender=keeper)
    updated = publish(chain, eth_usd, admin, 3300 * E8)  # exactly +10 %
    tx = spot_oracle.read(sender=keeper)
    assert tx.return_value == 3300 * E18
    assert tuple(spot_oracle.state()) == (3300 * E18, updated, 0)


def test_read__with_round_at_max_age__accepts_and_one_second_later__reverts_OracleStale(
    chain, admin, keeper, spot_oracle, eth_usd
):
    updated = publish(chain, eth_usd, admin, 3000 * E8)
    chain.pending_timestamp = updated + MAX_AGE
    assert spot_oracle.read(sender=keeper).return_value == 3000 * E18
    chain.pending_timestamp = updated + MAX_AGE + 1
    with ape.reverts(
        spot_oracle.OracleStale, updatedAt=updated, nowSec=updated + MAX_AGE + 1, maxAgeSec=MAX_AGE
    ):
        spot_oracle.read(sender=keeper)


def test_read__with_bad_rounds__reverts_and_keeps_state(chain, admin, keeper, spot_oracle, eth_usd):
    spot_oracle.read(sender=keeper)
    state = tuple(spot_oracle.state())
    now = chain.pending_timestamp
    eth_usd.updateRoundData(9, 0, now, now, sender=admin)
    with ape.reverts(spot_oracle.OracleNonPositive, answer=0):
        spot_oracle.read(sender=keeper)
    eth_usd.updateRoundData(10, 3000 * E8, 0, 0, sender=admin)
    with ape.reverts(spot_oracle.OracleNoTimestamp, roundId=10):
        spot_oracle.read(sender=keeper)
    eth_usd.updateRoundData(11, 3000 * E8, 2**40, 0, sender=admin)
    with ape.reverts(spot_oracle.OracleFutureTimestamp, updatedAt=2**40):
        spot_oracle.read(sender=keeper)
    assert tuple(spot_oracle.state()) == state


def test_read__with_deviation__reverts_and_leaves_breaker_untripped(
    chain, admin, keeper, spot_oracle, eth_usd
):
    spot_oracle.read(sender=keeper)
    publish(chain, eth_usd, admin, 3300 * E8 + 1)
    with ape.reverts(spot_oracle.OracleDeviation, lastWad=3000 * E18, deviationBps=1001, maxBps=1000):
        spot_oracle.read(sender=keeper)
    assert spot_oracle.state().trippedAt == 0  # the revert undid the trip: arming needs update()


def test_update__with_deviation_then_cooldown__trips_holds_and_reanchors_like_mirror(
    chain, admin, keeper, stranger, spot_oracle, eth_usd
):
    assert poke(chain, spot_oracle, eth_usd, keeper)[0] == Verdict.Ok
    publish(chain, eth_usd, admin, 2000 * E8)  # -33 %: trips
    verdict, value, tx = poke(chain, spot_oracle, eth_usd, stranger)  # anyone may poke
    trip_at = tx.timestamp
    assert (verdict, value) == (Verdict.Deviation, 2000 * E18)
    ev = tx.events.filter(spot_oracle.OracleTripped)[0]
    assert (ev.lastWad, ev.newWad, ev.deviationBps, ev.resumesAt) == (
        3000 * E18,
        2000 * E18,
        3334,
        trip_at + COOLDOWN,
    )
    assert spot_oracle.state().trippedAt == trip_at
    # While cooling down every read fails, even with a round back inside the old bound.
    publish(chain, eth_usd, admin, 3000 * E8)
    assert poke(chain, spot_oracle, eth_usd, keeper)[0] == Verdict.CoolingDown
    assert spot_oracle.peek()[0] == Verdict.CoolingDown
    with ape.reverts(spot_oracle.OracleCoolingDown, trippedAt=trip_at, resumesAt=trip_at + COOLDOWN):
        spot_oracle.read(sender=keeper)
    publish(chain, eth_usd, admin, 2000 * E8)
    assert poke(chain, spot_oracle, eth_usd, keeper, at=trip_at + COOLDOWN - 1)[0] == Verdict.CoolingDown
    # At trippedAt + cooldown the next valid round re-anchors the reference, whatever the distance.
    verdict, value, tx = poke(chain, spot_oracle, eth_usd, keeper, at=trip_at + COOLDOWN)
    assert (verdict, value) == (Verdict.Ok, 2000 * E18)
    re = tx.events.filter(spot_oracle.OracleReanchored)[0]
    assert (re.oldWad, re.newWad, re.trippedAt) == (3000 * E18, 2000 * E18, trip_at)
    assert tx.events.filter(spot_oracle.OracleAccepted)[0].valueWad == 2000 * E18
    assert spot_oracle.state().trippedAt == 0
    assert spot_oracle.read(sender=keeper).return_value == 2000 * E18  # reads work again


def test_update__after_cooldown_with_stale_round__stays_tripped(chain, admin, keeper, spot_oracle, eth_usd):
    poke(chain, spot_oracle, eth_usd, keeper)
    publish(chain, eth_usd, admin, 5000 * E8)
    _, _, tx = poke(chain, spot_oracle, eth_usd, keeper)
    updated = eth_usd.latestRoundData()[3]
    assert poke(chain, spot_oracle, eth_usd, keeper, at=updated + MAX_AGE + 1)[0] == Verdict.Stale
    assert spot_oracle.state().trippedAt == tx.timestamp  # still tripped: no valid round to re-anchor on
    publish(chain, eth_usd, admin, 5000 * E8)
    assert poke(chain, spot_oracle, eth_usd, keeper)[0] == Verdict.Ok
    assert tuple(spot_oracle.state())[0::2] == (5000 * E18, 0)


def test_peek__with_any_round__matches_update_without_changing_state(
    chain, admin, keeper, spot_oracle, eth_usd
):
    spot_oracle.read(sender=keeper)
    publish(chain, eth_usd, admin, 3500 * E8)
    state = tuple(spot_oracle.state())
    assert tuple(spot_oracle.peek()) == (Verdict.Deviation, 3500 * E18)
    assert tuple(spot_oracle.state()) == state
    publish(chain, eth_usd, admin, 3200 * E8)
    assert tuple(spot_oracle.peek()) == (Verdict.Ok, 3200 * E18)
    assert tuple(spot_oracle.state()) == state


def test_read__with_negative_funding__accepts_for_signed_feed(
    chain, admin, keeper, funding_oracle, funding_feed
):
    assert funding_oracle.read(sender=keeper).return_value == 10**14  # 0.01 % per 8 h
    publish(chain, funding_feed, admin, -5 * 10**4)  # -0.05 % per 8 h
    assert funding_oracle.read(sender=keeper).return_value == -5 * 10**14
    publish(chain, funding_feed, admin, 0)
    assert funding_oracle.read(sender=keeper).return_value == 0
    # Absolute bound: 50 bps of 1.0 = 0.005 = 5e5 feed units from the reference 0.
    publish(chain, funding_feed, admin, 500_001)
    with ape.reverts(funding_oracle.OracleDeviation, lastWad=0, newWad=500_001 * 10**10, deviationBps=51):
        funding_oracle.read(sender=keeper)
    publish(chain, funding_feed, admin, -500_000)
    assert funding_oracle.read(sender=keeper).return_value == -5 * 10**15


def test_read__gas__is_lean(chain, admin, keeper, spot_oracle, eth_usd):
    """Printed, not asserted tightly: the cost of a read on every keeper action (harness overhead incl.)."""
    first = spot_oracle.read(sender=keeper)
    same = spot_oracle.read(sender=keeper)
    publish(chain, eth_usd, admin, 3010 * E8)
    moved = spot_oracle.read(sender=keeper)
    g = [first.gas_used, same.gas_used, moved.gas_used]
    print(f"\nOracleHarness.read gas: first {g[0]}, same round {g[1]}, new round {g[2]}")
    assert same.gas_used < moved.gas_used < 60_000


# ============================================================== KeelFeed


def test_updateAnswer__with_stranger__reverts_NotOwner(stranger, admin, eth_usd):
    with ape.reverts(eth_usd.NotOwner, caller=stranger, owner=admin):
        eth_usd.updateAnswer(1, sender=stranger)


def test_setOwner__with_owner__hands_over_publishing(admin, keeper, eth_usd):
    tx = eth_usd.setOwner(keeper, sender=admin)
    assert tx.events.filter(eth_usd.OwnerSet)[0].newOwner == keeper.address
    tx = eth_usd.updateAnswer(3100 * E8, sender=keeper)
    ev = tx.events.filter(eth_usd.AnswerUpdated)[0]
    assert (ev.current, ev.roundId) == (3100 * E8, 2)
    with ape.reverts(eth_usd.NotOwner):
        eth_usd.updateAnswer(1, sender=admin)


def test_getRoundData__with_published_and_unknown_rounds__returns_or_reverts(admin, eth_usd):
    eth_usd.updateRoundData(77, -5, 123, 100, sender=admin)
    assert tuple(eth_usd.getRoundData(77)) == (77, -5, 100, 123, 77)
    assert tuple(eth_usd.latestRoundData()) == (77, -5, 100, 123, 77)
    assert eth_usd.getRoundData(1)[1] == 3000 * E8
    with ape.reverts(eth_usd.NoDataPresent, roundId=5):
        eth_usd.getRoundData(5)
    assert (eth_usd.decimals(), eth_usd.description(), eth_usd.version()) == (8, "ETH / USD", 4)


# ============================================================== mirror == contract on random inputs


@settings(chain_settings, max_examples=150)
@given(inputs=check_inputs())
def test_check__with_random_inputs__mirror_equals_contract(spot_oracle, inputs):
    config, state, r, now = inputs
    assert contract_check(spot_oracle, config, state, r, now) == mirror.check(config, state, r, now)


STEP = st.tuples(
    st.sampled_from([0, 1, 600, 1799, 1800, 2400]),  # seconds until the next round
    st.sampled_from([0, 100, 999, 1000, 1001, 1500, 4000, -100, -999, -1000, -1001, -3000]),  # move, bps
    st.sampled_from([0, 1, 1800, 3600, 3601]),  # age of the round when it is read
    st.booleans(),  # publish a new round before this poke
)


@settings(chain_settings, max_examples=10)
@given(steps=st.lists(STEP, min_size=4, max_size=10))
def test_update__with_random_round_sequences__state_follows_mirror_apply(
    chain, admin, keeper, spot_oracle, eth_usd, steps
):
    with isolated(chain):
        poke(chain, spot_oracle, eth_usd, keeper)
        answer = 3000 * E8
        for wait, move_bps, age, new_round in steps:
            t = chain.pending_timestamp + wait
            if new_round:
                answer = max(1, answer + answer * move_bps // 10_000)
                eth_usd.updateRoundData(eth_usd.latestRound() + 1, answer, t, t, sender=admin)
            poke(chain, spot_oracle, eth_usd, keeper, at=max(chain.pending_timestamp, t + age))
