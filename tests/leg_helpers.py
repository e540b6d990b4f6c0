"""Shared helpers of the leg tests (tests/contracts/test_spot_leg.py, test_perp_leg.py)."""

from __future__ import annotations

from keeper import oracle
from keeper.chain.deploy import LocalConfig, deploy_local

WAD = 10**18
USDC = 10**6
SCALE = 10**30  # ETH wad × price wad / SCALE = USDC units
FEED_DECIMALS = 8
# The legs' OracleLib bounds in these tests: 1 hour max age, 5% breaker, 15 minutes cooldown.
MAX_AGE = 3600
MAX_DEV_BPS = 500
COOLDOWN = 900
INT128_MAX = 2**127 - 1
UINT_MAX = 2**256 - 1

VERDICT_ERRORS = {
    oracle.Verdict.NonPositive: "OracleNonPositive",
    oracle.Verdict.NoTimestamp: "OracleNoTimestamp",
    oracle.Verdict.FutureTimestamp: "OracleFutureTimestamp",
    oracle.Verdict.Stale: "OracleStale",
    oracle.Verdict.Deviation: "OracleDeviation",
    oracle.Verdict.CoolingDown: "OracleCoolingDown",
    oracle.Verdict.OutOfRange: "OracleOutOfRange",
}


def deploy_market(admin, gov, keeper, guardian, treasury, **overrides):
    roles = {"admin": admin, "governance": gov, "keeper": keeper, "guardian": guardian, "treasury": treasury}
    return deploy_local(roles, LocalConfig(**overrides))


def usd8(usd: float) -> int:
    """A USD price as the 8-decimals feed answer."""
    return round(usd * 10**FEED_DECIMALS)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def to_assets_down(weth: int, price_wad: int) -> int:
    return weth * price_wad // SCALE


def to_assets_up(weth: int, price_wad: int) -> int:
    return ceil_div(weth * price_wad, SCALE)


def advance(chain, seconds: int) -> None:
    """Mine a block `seconds` after the pending timestamp, so views see the new time."""
    chain.pending_timestamp += seconds
    chain.mine(timestamp=chain.pending_timestamp)


def next_ts(chain) -> int:
    """Timestamp of the next transaction (one-second blocks: tests/contracts/conftest.py)."""
    return chain.blocks.head.timestamp + 1


def mirror_verdict(leg, feed, now: int) -> tuple[oracle.Verdict, int]:
    """What keeper/oracle.py says about the leg's feed at `now` (OracleLib.peek's mirror)."""
    cfg = leg.oracleConfig()
    st = leg.oracleState()
    config = oracle.FeedConfig(
        feed=str(cfg.feed),
        decimals=cfg.decimals,
        max_age_sec=cfg.maxAgeSec,
        max_deviation_bps=cfg.maxDeviationBps,
        cooldown_sec=cfg.cooldownSec,
        signed=cfg.signed,
    )
    state = oracle.FeedState(
        last_good_wad=st.lastGoodWad, last_good_at=st.lastGoodAt, tripped_at=st.trippedAt
    )
    r = feed.latestRoundData()
    rnd = oracle.RoundData(
        round_id=r.roundId,
        answer=r.answer,
        started_at=r.startedAt,
        updated_at=r.updatedAt,
        answered_in_round=r.answeredInRound,
    )
    return oracle.check(config, state, rnd, now)


def expected_leg_price(leg, feed, now: int) -> tuple[int, bool]:
    """The leg's view price by its rule: the validated value when Ok, else the last good value."""
    verdict, value = mirror_verdict(leg, feed, now)
    if verdict == oracle.Verdict.Ok:
        return value, True
    return leg.oracleState().lastGoodWad, False
