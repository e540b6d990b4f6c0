"""Python mirror of contracts/vault/RiskGuard.sol: the same limits, integer arithmetic and verdicts.

The keeper's policy uses it to never propose an action the vault would revert. Pure functions, no I/O.
Units as on chain: ETH and prices in wad (1e18), money in the vault asset's units, ratios in wad, bps 1e-4.
A bound already breached does not block an action that strictly improves it (see ``IRiskGuard``), when
the vault measured the book before the action: it does so only when the keeper sets ``allowImprovement``
(``needs_before_book`` says when); otherwise the before-book is ``NO_EXEMPTION`` and every bound must hold.
"""

from __future__ import annotations

from enum import IntEnum

from pydantic import BaseModel, ConfigDict, Field

WAD = 10**18
BPS = 10_000
UINT256_MAX = 2**256 - 1

HARD_MAX_NET_DELTA_WAD = 100_000 * WAD
HARD_MIN_MARGIN_RATIO_WAD = 11 * WAD // 10
HARD_MAX_LEVERAGE_WAD = 5 * WAD
HARD_MAX_SLIPPAGE_BPS = 300
HARD_MAX_INTERVAL_SEC = 86_400

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class GuardParams(BaseModel):
    """``IRiskGuard.Params`` (field for field)."""

    model_config = _FROZEN

    max_net_delta_wad: int = Field(ge=0, lt=2**128)
    min_margin_ratio_wad: int = Field(ge=0, lt=2**64)
    max_leverage_wad: int = Field(ge=0, lt=2**64)
    max_slippage_bps: int = Field(ge=0, lt=2**16)
    min_action_interval_sec: int = Field(ge=0, lt=2**32)
    max_notional_per_action_assets: int = Field(ge=0, lt=2**128)
    delta_trigger_wad: int = Field(ge=0, lt=2**128)
    margin_trigger_wad: int = Field(ge=0, lt=2**64)

    def as_tuple(self) -> tuple[int, ...]:
        """The Solidity struct, in field order (for contract calls)."""
        return tuple(getattr(self, name) for name in type(self).model_fields)


class BookState(BaseModel):
    """``IRiskGuard.BookState``: the book's risk figures before or after an action."""

    model_config = _FROZEN

    net_delta_wad: int
    margin_ratio_wad: int = Field(default=UINT256_MAX, ge=0, le=UINT256_MAX)
    gross_exposure_assets: int = Field(default=0, ge=0)
    nav_assets: int = Field(default=0, ge=0)

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.net_delta_wad, self.margin_ratio_wad, self.gross_exposure_assets, self.nav_assets)


NO_EXEMPTION = BookState(net_delta_wad=0, margin_ratio_wad=UINT256_MAX, gross_exposure_assets=0, nav_assets=0)
"""The before-book the vault passes when the keeper did not ask for the exemption (``allowImprovement``
false): zero delta and exposure and an infinite margin ratio, so no breached bound counts as improved."""


class Trade(BaseModel):
    """``IRiskGuard.Trade``: one priced trade of an action (an exec price of 0: no trade)."""

    model_config = _FROZEN

    exec_price_wad: int = Field(default=0, ge=0)
    oracle_price_wad: int = Field(default=0, ge=0)
    is_buy: bool = False

    def as_tuple(self) -> tuple[int, int, bool]:
        return (self.exec_price_wad, self.oracle_price_wad, self.is_buy)


class ActionInfo(BaseModel):
    """``IRiskGuard.ActionInfo``: what one keeper action traded (up to two trades, each checked at its own
    price: a rebalance's spot swap, then its perp trade)."""

    model_config = _FROZEN

    notional_assets: int = Field(default=0, ge=0)
    trades: tuple[Trade, ...] = Field(default=(), max_length=2)
    last_action_at: int = Field(default=0, ge=0)

    def as_tuple(self) -> tuple[int, tuple[tuple[int, int, bool], ...], int]:
        padded = (*self.trades, *(Trade(),) * (2 - len(self.trades)))
        return (self.notional_assets, tuple(t.as_tuple() for t in padded), self.last_action_at)


class Reason(IntEnum):
    """``IRiskGuard.Reason``."""

    NONE = 0
    DELTA_OUT_OF_BAND = 1
    MARGIN_LOW = 2
    LEVERAGE_HIGH = 3
    ORACLE_FAILURE = 4
    REDEMPTIONS_WAITING = 5


class Violation(BaseModel):
    """The custom error the contract would revert with, and its arguments."""

    model_config = _FROZEN

    error: str
    args: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.error}({', '.join(str(a) for a in self.args)})"


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def leverage_wad(state: BookState) -> int:
    """Gross exposure / NAV in wad, rounded up; 0 without exposure; UINT256_MAX with exposure and no NAV."""
    if state.gross_exposure_assets == 0:
        return 0
    if state.nav_assets == 0:
        return UINT256_MAX
    return _ceil_div(state.gross_exposure_assets * WAD, state.nav_assets)


def adverse_slippage_bps(exec_price_wad: int, oracle_price_wad: int, is_buy: bool) -> int:
    """Bps by which the execution is worse than the oracle (rounded up; 0 when at or better)."""
    if oracle_price_wad == 0:
        raise ValueError("oracle_price_wad must be > 0")
    if is_buy:
        adverse = max(exec_price_wad - oracle_price_wad, 0)
    else:
        adverse = max(oracle_price_wad - exec_price_wad, 0)
    return _ceil_div(adverse * BPS, oracle_price_wad)


def check_action(
    params: GuardParams, before: BookState, after: BookState, action: ActionInfo, now_sec: int
) -> Violation | None:
    """The first bound the action violates (in the contract's order), or None when it passes."""
    if action.last_action_at != 0:
        elapsed = now_sec - action.last_action_at if now_sec > action.last_action_at else 0
        if elapsed < params.min_action_interval_sec:
            return Violation(error="ActionTooSoon", args=(elapsed, params.min_action_interval_sec))
    if action.notional_assets > params.max_notional_per_action_assets:
        return Violation(
            error="NotionalAboveCap", args=(action.notional_assets, params.max_notional_per_action_assets)
        )
    for t in action.trades:
        if t.exec_price_wad == 0:
            continue
        if t.oracle_price_wad == 0:
            return Violation(error="MissingOraclePrice", args=())
        slip = adverse_slippage_bps(t.exec_price_wad, t.oracle_price_wad, t.is_buy)
        if slip > params.max_slippage_bps:
            return Violation(
                error="SlippageAboveMax",
                args=(t.exec_price_wad, t.oracle_price_wad, slip, params.max_slippage_bps),
            )
    abs_after = abs(after.net_delta_wad)
    if abs_after > params.max_net_delta_wad and abs_after >= abs(before.net_delta_wad):
        return Violation(error="NetDeltaAboveCap", args=(after.net_delta_wad, params.max_net_delta_wad))
    if (
        after.margin_ratio_wad < params.min_margin_ratio_wad
        and after.margin_ratio_wad <= before.margin_ratio_wad
    ):
        return Violation(
            error="MarginRatioBelowMin", args=(after.margin_ratio_wad, params.min_margin_ratio_wad)
        )
    lev_after = leverage_wad(after)
    if lev_after > params.max_leverage_wad and lev_after >= leverage_wad(before):
        return Violation(error="LeverageAboveMax", args=(lev_after, params.max_leverage_wad))
    return None


NEAR_BOUND_FRACTION = 0.1
"""How close to a book bound the book may be before the keeper asks for the before-book: prices move
between the snapshot and the block that executes the action."""


def needs_before_book(params: GuardParams, book: BookState, near: float = NEAR_BOUND_FRACTION) -> bool:
    """Whether an action on `book` should carry ``allowImprovement``: the book is outside a book bound (net
    delta, margin ratio, leverage) or within `near` of one. Only then can the exemption matter (an action
    that passes only thanks to it starts from a breached bound), and only then is the extra read worth
    paying for."""
    if abs(book.net_delta_wad) * BPS > params.max_net_delta_wad * round((1 - near) * BPS):
        return True
    if book.margin_ratio_wad * BPS < params.min_margin_ratio_wad * round((1 + near) * BPS):
        return True
    return leverage_wad(book) * BPS > params.max_leverage_wad * round((1 - near) * BPS)


def trigger(params: GuardParams, state: BookState) -> Reason:
    """``RiskGuard.trigger``: the first reason an action is needed (margin, then delta, then leverage)."""
    if state.margin_ratio_wad < params.margin_trigger_wad:
        return Reason.MARGIN_LOW
    if abs(state.net_delta_wad) > params.delta_trigger_wad:
        return Reason.DELTA_OUT_OF_BAND
    if leverage_wad(state) > params.max_leverage_wad:
        return Reason.LEVERAGE_HIGH
    return Reason.NONE


def params_violation(params: GuardParams, hard_max_notional_assets: int) -> Violation | None:
    """``ParamOutOfBounds`` as ``setParams`` would raise it (the first offending field), or None."""
    checks: list[tuple[str, int, int, bool]] = [
        ("maxNetDeltaWad", params.max_net_delta_wad, HARD_MAX_NET_DELTA_WAD,
         params.max_net_delta_wad > HARD_MAX_NET_DELTA_WAD),
        ("minMarginRatioWad", params.min_margin_ratio_wad, HARD_MIN_MARGIN_RATIO_WAD,
         params.min_margin_ratio_wad < HARD_MIN_MARGIN_RATIO_WAD),
        ("maxLeverageWad", params.max_leverage_wad, HARD_MAX_LEVERAGE_WAD,
         params.max_leverage_wad > HARD_MAX_LEVERAGE_WAD or params.max_leverage_wad == 0),
        ("maxSlippageBps", params.max_slippage_bps, HARD_MAX_SLIPPAGE_BPS,
         params.max_slippage_bps > HARD_MAX_SLIPPAGE_BPS),
        ("minActionIntervalSec", params.min_action_interval_sec, HARD_MAX_INTERVAL_SEC,
         params.min_action_interval_sec > HARD_MAX_INTERVAL_SEC),
        ("maxNotionalPerActionAssets", params.max_notional_per_action_assets, hard_max_notional_assets,
         params.max_notional_per_action_assets > hard_max_notional_assets
         or params.max_notional_per_action_assets == 0),
        ("deltaTriggerWad", params.delta_trigger_wad, params.max_net_delta_wad,
         params.delta_trigger_wad > params.max_net_delta_wad),
        ("marginTriggerWad", params.margin_trigger_wad, params.min_margin_ratio_wad,
         params.margin_trigger_wad < params.min_margin_ratio_wad),
    ]  # fmt: skip
    for name, value, limit, bad in checks:
        if bad:
            return Violation(error=f"ParamOutOfBounds:{name}", args=(value, limit))
    return None
