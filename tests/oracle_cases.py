"""Boundary cases of OracleLib.check, shared by the contract tests (tests/contracts/test_oracle.py) and
the mirror tests (tests/keeper/test_oracle_mirror.py): both must give the expected verdict and value on
exactly these inputs. Also converters from the mirror's models to the harness's ABI tuples."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from keeper.oracle import FeedConfig, FeedState, RoundData, Verdict

NOW = 1_700_000_000
E8 = 10**8
E18 = 10**18
INT256_MIN = -(2**255)
INT256_MAX = 2**255 - 1

# ETH/USD: 8 decimals, 1 h max age, 10 % breaker, 30 min cooldown; reference $3,000 set 10 min ago.
SPOT = FeedConfig(decimals=8, max_age_sec=3600, max_deviation_bps=1000, cooldown_sec=1800)
SPOT_REF = FeedState(last_good_wad=3000 * E18, last_good_at=NOW - 600)
NO_REF = FeedState()
# Funding per 8 h: 8 decimals, signed, absolute breaker of 50 bps (0.005 = 5e15 wad); reference 0.01 %.
FUNDING = FeedConfig(decimals=8, max_age_sec=3600, max_deviation_bps=50, cooldown_sec=1800, signed=True)
FUNDING_REF = FeedState(last_good_wad=10**14, last_good_at=NOW - 600)


def rnd(answer: int, updated_at: int = NOW, round_id: int = 7) -> RoundData:
    return RoundData(
        round_id=round_id,
        answer=answer,
        started_at=updated_at,
        updated_at=updated_at,
        answered_in_round=round_id,
    )


def cfg(base: FeedConfig = SPOT, **kw) -> FeedConfig:
    return base.model_copy(update=kw)


def tripped(at: int, base: FeedState = SPOT_REF) -> FeedState:
    return base.model_copy(update={"tripped_at": at})


@dataclass(frozen=True)
class Case:
    name: str
    config: FeedConfig
    state: FeedState
    round: RoundData
    now: int
    verdict: Verdict
    value_wad: int


V = Verdict
CASES: list[Case] = [
    # --- timestamps and age
    Case("fresh_round", SPOT, SPOT_REF, rnd(3000 * E8), NOW, V.Ok, 3000 * E18),
    Case("age_equal_to_max", SPOT, SPOT_REF, rnd(3000 * E8, NOW - 3600), NOW, V.Ok, 3000 * E18),
    Case("age_one_over_max", SPOT, SPOT_REF, rnd(3000 * E8, NOW - 3601), NOW, V.Stale, 0),
    Case("updated_at_zero", SPOT, SPOT_REF, rnd(3000 * E8, 0), NOW, V.NoTimestamp, 0),
    Case("updated_at_one_in_future", SPOT, SPOT_REF, rnd(3000 * E8, NOW + 1), NOW, V.FutureTimestamp, 0),
    Case("updated_at_far_future", SPOT, SPOT_REF, rnd(3000 * E8, 2**256 - 1), NOW, V.FutureTimestamp, 0),
    Case("updated_at_one_max_age_one", cfg(max_age_sec=1), NO_REF, rnd(E8, NOW - 1), NOW, V.Ok, E18),
    # --- sign
    Case("answer_zero", SPOT, SPOT_REF, rnd(0), NOW, V.NonPositive, 0),
    Case("answer_minus_one", SPOT, SPOT_REF, rnd(-1), NOW, V.NonPositive, 0),
    Case("answer_one_unit_no_reference", SPOT, NO_REF, rnd(1), NOW, V.Ok, 10**10),
    Case("signed_negative", FUNDING, FUNDING_REF, rnd(-2 * 10**4), NOW, V.Ok, -2 * 10**14),
    Case("signed_zero", FUNDING, FUNDING_REF, rnd(0), NOW, V.Ok, 0),
    Case("signed_stale", FUNDING, FUNDING_REF, rnd(-1, NOW - 3601), NOW, V.Stale, 0),
    Case("signed_no_timestamp", FUNDING, FUNDING_REF, rnd(-1, 0), NOW, V.NoTimestamp, 0),
    # --- precedence among failures
    Case("no_timestamp_before_non_positive", SPOT, SPOT_REF, rnd(0, 0), NOW, V.NoTimestamp, 0),
    Case("stale_before_non_positive", SPOT, SPOT_REF, rnd(-5, NOW - 9999), NOW, V.Stale, 0),
    Case("out_of_range_before_non_positive", SPOT, SPOT_REF, rnd(INT256_MIN), NOW, V.OutOfRange, 0),
    # --- relative breaker (unsigned): 10 % of $3,000 = $300
    Case("up_exactly_at_bound", SPOT, SPOT_REF, rnd(3300 * E8), NOW, V.Ok, 3300 * E18),
    Case("up_one_unit_over_bound", SPOT, SPOT_REF, rnd(3300 * E8 + 1), NOW, V.Deviation, 3300 * E18 + 10**10),
    Case("down_exactly_at_bound", SPOT, SPOT_REF, rnd(2700 * E8), NOW, V.Ok, 2700 * E18),
    Case(
        "down_one_unit_over_bound", SPOT, SPOT_REF, rnd(2700 * E8 - 1), NOW, V.Deviation, 2700 * E18 - 10**10
    ),
    Case("no_reference_accepts_any_jump", SPOT, NO_REF, rnd(10**6 * E8), NOW, V.Ok, 10**6 * E18),
    Case("breaker_off_accepts_any_jump", cfg(max_deviation_bps=0), SPOT_REF, rnd(E8), NOW, V.Ok, E18),
    Case(
        "zero_reference_any_move_deviates",
        SPOT,
        FeedState(last_good_at=NOW - 1),
        rnd(1),
        NOW,
        V.Deviation,
        10**10,
    ),
    Case(
        "negative_reference_relative_to_abs",
        SPOT,
        FeedState(last_good_wad=-100 * E18, last_good_at=1),
        rnd(1),
        NOW,
        V.Deviation,
        10**10,
    ),
    Case(
        "max_bps_allows_doubling",
        cfg(max_deviation_bps=10_000),
        SPOT_REF,
        rnd(6000 * E8),
        NOW,
        V.Ok,
        6000 * E18,
    ),
    Case(
        "max_bps_one_over_doubling",
        cfg(max_deviation_bps=10_000),
        SPOT_REF,
        rnd(6000 * E8 + 1),
        NOW,
        V.Deviation,
        6000 * E18 + 10**10,
    ),
    # --- absolute breaker (signed): 50 bps of 1e18 = 5e15 around 1e14
    Case("signed_up_exactly_at_bound", FUNDING, FUNDING_REF, rnd(510_000), NOW, V.Ok, 51 * 10**14),
    Case("signed_up_one_over", FUNDING, FUNDING_REF, rnd(510_001), NOW, V.Deviation, 51 * 10**14 + 10**10),
    Case("signed_down_exactly_at_bound", FUNDING, FUNDING_REF, rnd(-490_000), NOW, V.Ok, -49 * 10**14),
    Case(
        "signed_down_one_over", FUNDING, FUNDING_REF, rnd(-490_001), NOW, V.Deviation, -49 * 10**14 - 10**10
    ),
    # --- breaker cooldown (tripped at T, cooldown 1800 s)
    Case("cooldown_one_second_left", SPOT, tripped(NOW - 1799), rnd(3000 * E8), NOW, V.CoolingDown, 0),
    Case("cooldown_just_over_reanchors", SPOT, tripped(NOW - 1800), rnd(9000 * E8), NOW, V.Ok, 9000 * E18),
    Case("cooldown_hides_bad_round", SPOT, tripped(NOW - 1), rnd(0, 0), NOW, V.CoolingDown, 0),
    Case(
        "after_cooldown_stale_still_rejected",
        SPOT,
        tripped(NOW - 1800),
        rnd(9000 * E8, NOW - 3601),
        NOW,
        V.Stale,
        0,
    ),
    Case(
        "after_cooldown_non_positive_still_rejected", SPOT, tripped(NOW - 5000), rnd(0), NOW, V.NonPositive, 0
    ),
    Case("cooldown_from_the_future_trip", SPOT, tripped(NOW + 10), rnd(3000 * E8), NOW, V.CoolingDown, 0),
    # --- normalisation (no reference, so the value alone decides)
    Case("decimals_0", cfg(decimals=0), NO_REF, rnd(3000), NOW, V.Ok, 3000 * E18),
    Case("decimals_6", cfg(decimals=6), NO_REF, rnd(3000 * 10**6 + 1), NOW, V.Ok, 3000 * E18 + 10**12),
    Case("decimals_8", cfg(decimals=8), NO_REF, rnd(123_456_789), NOW, V.Ok, 123_456_789 * 10**10),
    Case("decimals_18", cfg(decimals=18), NO_REF, rnd(3000 * E18 + 1), NOW, V.Ok, 3000 * E18 + 1),
    Case("decimals_20_truncates", cfg(decimals=20), NO_REF, rnd(3000 * 10**20 + 99), NOW, V.Ok, 3000 * E18),
    Case("decimals_20_rounds_to_zero", cfg(decimals=20), NO_REF, rnd(99), NOW, V.NonPositive, 0),
    Case("decimals_20_negative_toward_zero", cfg(FUNDING, decimals=20), NO_REF, rnd(-199), NOW, V.Ok, -1),
    Case("decimals_36", cfg(decimals=36), NO_REF, rnd(7 * 10**36), NOW, V.Ok, 7 * E18),
    Case("decimals_94", cfg(FUNDING, decimals=94), NO_REF, rnd(INT256_MAX), NOW, V.Ok, 5),
    Case("decimals_95", cfg(FUNDING, decimals=95), NO_REF, rnd(INT256_MAX), NOW, V.Ok, 0),
    Case("decimals_255", cfg(FUNDING, decimals=255), NO_REF, rnd(INT256_MIN), NOW, V.Ok, 0),
    # --- range: |value| ≤ 1e36 wad
    Case("range_max_8_decimals", SPOT, NO_REF, rnd(10**26), NOW, V.Ok, 10**36),
    Case("range_over_8_decimals", SPOT, NO_REF, rnd(10**26 + 1), NOW, V.OutOfRange, 0),
    Case("range_min_signed", FUNDING, NO_REF, rnd(-(10**26)), NOW, V.Ok, -(10**36)),
    Case("range_under_signed", FUNDING, NO_REF, rnd(-(10**26) - 1), NOW, V.OutOfRange, 0),
    Case("range_int256_max", SPOT, NO_REF, rnd(INT256_MAX), NOW, V.OutOfRange, 0),
    Case("range_max_20_decimals", cfg(decimals=20), NO_REF, rnd(10**38 + 99), NOW, V.Ok, 10**36),
    Case("range_over_20_decimals", cfg(decimals=20), NO_REF, rnd(10**38 + 100), NOW, V.OutOfRange, 0),
    Case("range_max_0_decimals", cfg(decimals=0), NO_REF, rnd(10**18), NOW, V.Ok, 10**36),
    Case("range_over_0_decimals", cfg(decimals=0), NO_REF, rnd(10**18 + 1), NOW, V.OutOfRange, 0),
]


# ---------------------------------------------------------------- random inputs


def _pick(draw, *options):
    """Draw from one of `options` (strategies), chosen with equal odds by an explicit index (so the
    common cases are not drowned by hypothesis's preference for edge values)."""
    return draw(options[draw(st.integers(0, len(options) - 1))])


@st.composite
def check_inputs(draw):
    """Random (config, state, round, now) spread so that every verdict comes up, with values drawn
    near the deviation and age boundaries as well as anywhere in the types' ranges."""
    decimals = _pick(draw, st.sampled_from([0, 6, 8, 18, 20, 36]), st.integers(0, 40), st.integers(0, 255))
    signed = draw(st.booleans())
    max_age = _pick(draw, st.integers(1, 7200), st.sampled_from([1, 2**32 - 1]))
    max_dev = _pick(draw, st.sampled_from([0, 1, 50, 1000, 10_000, 65_535]), st.integers(0, 65_535))
    cooldown = draw(st.integers(0, 7200))
    now = draw(st.integers(10**9, 2**40))
    config = FeedConfig(
        decimals=decimals,
        max_age_sec=max_age,
        max_deviation_bps=max_dev,
        cooldown_sec=cooldown,
        signed=signed,
    )

    fresh = st.integers(now - min(now, max_age), now)
    updated_at = _pick(
        draw,
        fresh,
        fresh,
        fresh,
        st.sampled_from([now, max(0, now - max_age), max(0, now - max_age - 1), now + 1]),
        st.just(0),
        st.integers(1, max(1, now - max_age - 1)),
        st.integers(0, 2**256 - 1),
    )

    # Reference: none, or a value in range (positive for unsigned feeds), occasionally anything.
    has_ref = draw(st.integers(0, 3)) > 0
    last = _pick(
        draw, st.integers(1, 10**30), st.integers(-(10**30), 10**30), st.integers(-(2**127), 2**127 - 1)
    )
    if not signed and draw(st.integers(0, 7)) > 0:
        last = min(abs(last), 2**127 - 1) or 1
    tripped_at = _pick(
        draw,
        st.just(0),
        st.just(0),
        st.just(0),
        st.integers(max(1, now - 2 * cooldown - 1), now + 1),
        st.sampled_from([max(1, now - cooldown), max(1, now - cooldown + 1)]),
        st.integers(0, 2**64 - 1),
    )
    state = FeedState(
        last_good_wad=last if has_ref else 0,
        last_good_at=draw(st.integers(1, 2**64 - 1)) if has_ref else 0,
        tripped_at=tripped_at if has_ref else 0,
    )

    # Answer: near the reference moved by about the bound (in feed units), or anywhere.
    scale_up = 10 ** max(0, 18 - decimals)
    scale_down = 10 ** max(0, decimals - 18)
    ref = 10**18 if signed else abs(last)
    target = last + draw(st.sampled_from([-1, 1])) * ref * max_dev // 10_000
    near = target // scale_up * scale_down + draw(st.integers(-2, 2)) * max(1, scale_down)
    sign = draw(st.sampled_from([-1, 1]))
    answer = _pick(
        draw,
        st.just(max(INT256_MIN, min(INT256_MAX, near))),
        st.just(max(INT256_MIN, min(INT256_MAX, near))),
        st.integers(-(10**40), 10**40),
        st.sampled_from([0, -1, 1, INT256_MIN, INT256_MAX]),
        st.integers(10**26, INT256_MAX).map(lambda a: sign * a),
        st.integers(INT256_MIN, INT256_MAX),
    )
    r = RoundData(round_id=draw(st.integers(0, 2**80 - 1)), answer=answer, updated_at=updated_at)
    return config, state, r, now


# ---------------------------------------------------------------- ABI tuples for OracleHarness


def config_tuple(c: FeedConfig) -> tuple:
    return (c.feed, c.decimals, c.max_age_sec, c.max_deviation_bps, c.cooldown_sec, c.signed)


def state_tuple(s: FeedState) -> tuple:
    return (s.last_good_wad, s.last_good_at, s.tripped_at)


def round_tuple(r: RoundData) -> tuple:
    return (r.round_id, r.answer, r.started_at, r.updated_at, r.answered_in_round)


def state_from_chain(s) -> FeedState:
    return FeedState(last_good_wad=s.lastGoodWad, last_good_at=s.lastGoodAt, tripped_at=s.trippedAt)


def round_from_chain(r) -> RoundData:
    round_id, answer, started_at, updated_at, answered_in_round = r
    return RoundData(
        round_id=round_id,
        answer=answer,
        started_at=started_at,
        updated_at=updated_at,
        answered_in_round=answered_in_round,
    )
