"""Python mirror of contracts/libraries/OracleLib.sol: the same rules, bounds, verdicts and integer
rounding, so the keeper never acts on a value the contracts would reject.

Pure functions, no I/O. Every value is an integer in the units OracleLib uses:
- ``*_wad``: signed fixed point with 18 decimals;
- ``*_sec``: seconds; timestamps are unix seconds;
- ``*_bps``: basis points (1 bps = 1e-4).

Rules (``check``; the first failing rule gives the verdict, exactly as in Solidity):

1. ``CoolingDown``: the breaker tripped at T and now < T + cooldown_sec (the round is not looked at).
2. ``NoTimestamp``: updated_at == 0.
3. ``FutureTimestamp``: updated_at > now.
4. ``Stale``: now − updated_at > max_age_sec (an age equal to max_age_sec is still fresh).
5. ``OutOfRange``: |answer normalised to 18 decimals| > 1e36.
6. ``NonPositive``: unsigned feed and the normalised value ≤ 0.
7. ``Deviation``: a reference exists (last_good_at != 0), the breaker is on (max_deviation_bps > 0), the
   breaker is not re-anchoring, and the move exceeds the bound —
   unsigned: |v − last| · 10_000 > max_deviation_bps · |last| (relative);
   signed: |v − last| · 10_000 > max_deviation_bps · 1e18 (absolute, bps of one whole unit).
   A move exactly at the bound passes.

Otherwise ``Ok``. ``check`` returns the normalised value with ``Ok`` and ``Deviation``, 0 otherwise.

Normalisation: answer · 10^(18 − decimals) for decimals ≤ 18; answer / 10^(decimals − 18) truncated
toward zero (Solidity's signed division, *not* Python's floor division) for decimals > 18.

Breaker (``apply``, mirroring ``OracleLib.update``): ``Ok`` makes the value the reference (after a
cooldown this is a re-anchor: accepted whatever its distance, breaker cleared); ``Deviation`` trips the
breaker at now and keeps the reference; every other verdict changes nothing. On chain ``read`` reverts
on every failure, which also undoes the trip; the trip is recorded by the consumer's non-reverting
poke (``update``), which the keeper should send when ``check`` says ``Deviation``.

Feeds on the local chain (8 decimals each): ETH/USD spot (3000e8 = $3,000), ETH 30-day ATM implied
volatility (0.7e8 = 70 %/yr), ETH perpetual funding rate per 8 hours (1e4 = 0.0001 = 0.01 %/8h; signed).
"""

from __future__ import annotations

from enum import IntEnum

from pydantic import BaseModel, ConfigDict, Field

WAD = 10**18
BPS = 10_000
MAX_ABS_WAD = 10**36
MAX_DECIMALS = 36

INT256_MIN = -(2**255)
INT256_MAX = 2**255 - 1
UINT256_MAX = 2**256 - 1


class Verdict(IntEnum):
    """Outcome of validating one round; same members and numbering as ``IOracle.Verdict``."""

    Ok = 0
    NonPositive = 1
    NoTimestamp = 2
    FutureTimestamp = 3
    Stale = 4
    Deviation = 5
    CoolingDown = 6
    OutOfRange = 7


class FeedConfig(BaseModel):
    """``IOracle.FeedConfig``: how one feed is read. Bounds are the Solidity types' ranges, so any
    on-chain configuration loads; ``validate_config`` applies the extra rules of ``OracleLib.configure``."""

    model_config = ConfigDict(frozen=True)

    feed: str = "0x0000000000000000000000000000000000000000"
    decimals: int = Field(ge=0, le=2**8 - 1)
    max_age_sec: int = Field(ge=0, le=2**32 - 1)
    max_deviation_bps: int = Field(ge=0, le=2**16 - 1)
    cooldown_sec: int = Field(ge=0, le=2**32 - 1)
    signed: bool = False


class FeedState(BaseModel):
    """``IOracle.FeedState``: the breaker's memory. ``last_good_at`` is the feed's updatedAt of the
    round that gave ``last_good_wad`` (0 = nothing accepted yet); ``tripped_at`` is the block time of
    the trip (0 = not tripped)."""

    model_config = ConfigDict(frozen=True)

    last_good_wad: int = Field(0, ge=-(2**127), le=2**127 - 1)
    last_good_at: int = Field(0, ge=0, le=2**64 - 1)
    tripped_at: int = Field(0, ge=0, le=2**64 - 1)


class RoundData(BaseModel):
    """``IOracle.RoundData``: one ``latestRoundData()`` answer."""

    model_config = ConfigDict(frozen=True)

    round_id: int = Field(0, ge=0, le=2**80 - 1)
    answer: int = Field(ge=INT256_MIN, le=INT256_MAX)
    started_at: int = Field(0, ge=0, le=UINT256_MAX)
    updated_at: int = Field(ge=0, le=UINT256_MAX)
    answered_in_round: int = Field(0, ge=0, le=2**80 - 1)


def validate_config(config: FeedConfig) -> None:
    """Raise ``ValueError`` where ``OracleLib.configure`` reverts ``OracleBadConfig``."""
    problems = []
    if int(config.feed, 16) == 0:
        problems.append("feed is the zero address")
    if config.max_age_sec == 0:
        problems.append("max_age_sec must be > 0")
    if config.decimals > MAX_DECIMALS:
        problems.append(f"decimals {config.decimals} > {MAX_DECIMALS}")
    if config.max_deviation_bps != 0 and config.cooldown_sec == 0:
        problems.append("a breaker (max_deviation_bps > 0) needs cooldown_sec > 0")
    if problems:
        raise ValueError("bad oracle config: " + "; ".join(problems))


def _trunc_div(a: int, b: int) -> int:
    """Solidity's signed division (b > 0): the quotient truncated toward zero."""
    q = abs(a) // b
    return q if a >= 0 else -q


def to_wad(answer: int, decimals: int) -> tuple[bool, int]:
    """``OracleLib.toWad``: (in_range, value_wad); value_wad is 0 when out of range."""
    if decimals <= 18:
        scale = 10 ** (18 - decimals)
        max_answer = MAX_ABS_WAD // scale
        if answer > max_answer or answer < -max_answer:
            return False, 0
        return True, answer * scale
    down = decimals - 18
    if down > 76:  # |answer| < 2^255 < 10^77
        return True, 0
    value = _trunc_div(answer, 10**down)
    if abs(value) > MAX_ABS_WAD:
        return False, 0
    return True, value


def deviation_bps(signed: bool, last_wad: int, new_wad: int) -> int:
    """``OracleLib.deviationBps``: the move in bps, rounded up (relative to |last| for unsigned feeds,
    uint256 max if last is 0; of 1e18 for signed feeds)."""
    diff = abs(new_wad - last_wad)
    ref = WAD if signed else abs(last_wad)
    if ref == 0:
        return 0 if diff == 0 else UINT256_MAX
    return -(-(diff * BPS) // ref)


def _exceeds(signed: bool, last_wad: int, new_wad: int, max_bps: int) -> bool:
    ref = WAD if signed else abs(last_wad)
    return abs(new_wad - last_wad) * BPS > max_bps * ref


def cooling_down(config: FeedConfig, state: FeedState, now_sec: int) -> bool:
    """True while the breaker is tripped and its cooldown has not elapsed (rule 1)."""
    return state.tripped_at != 0 and now_sec < state.tripped_at + config.cooldown_sec


def check(config: FeedConfig, state: FeedState, rnd: RoundData, now_sec: int) -> tuple[Verdict, int]:
    """``OracleLib.check``: the verdict on round ``rnd`` at ``now_sec`` and the normalised value."""
    reanchor = state.tripped_at != 0
    if cooling_down(config, state, now_sec):
        return Verdict.CoolingDown, 0
    if rnd.updated_at == 0:
        return Verdict.NoTimestamp, 0
    if rnd.updated_at > now_sec:
        return Verdict.FutureTimestamp, 0
    if now_sec - rnd.updated_at > config.max_age_sec:
        return Verdict.Stale, 0
    in_range, value = to_wad(rnd.answer, config.decimals)
    if not in_range:
        return Verdict.OutOfRange, 0
    if not config.signed and value <= 0:
        return Verdict.NonPositive, 0
    if (
        not reanchor
        and state.last_good_at != 0
        and config.max_deviation_bps != 0
        and _exceeds(config.signed, state.last_good_wad, value, config.max_deviation_bps)
    ):
        return Verdict.Deviation, value
    return Verdict.Ok, value


def apply(
    config: FeedConfig, state: FeedState, rnd: RoundData, now_sec: int
) -> tuple[Verdict, int, FeedState]:
    """``OracleLib.update``: (verdict, value_wad, state after). ``rnd`` is ignored while cooling down
    (the contract does not even call the feed then)."""
    verdict, value = check(config, state, rnd, now_sec)
    if verdict == Verdict.Ok:
        new = FeedState(last_good_wad=value, last_good_at=rnd.updated_at, tripped_at=0)
        return verdict, value, new
    if verdict == Verdict.Deviation:
        return verdict, value, state.model_copy(update={"tripped_at": now_sec})
    return verdict, value, state


def resumes_at(config: FeedConfig, state: FeedState) -> int | None:
    """When a tripped breaker lets the next valid round re-anchor (None if not tripped)."""
    return state.tripped_at + config.cooldown_sec if state.tripped_at else None


def to_float(value_wad: int) -> float:
    """A wad value as a float (for pricing and display; never for checks)."""
    return value_wad / WAD
