"""Portfolio risk of the Keel vault: Greeks, margin and collateral, scenario grid, VaR/ES, hedge bands.

Pure numpy/scipy on top of :mod:`keeper.pricing`; no chain I/O. Inputs are the typed models of
:mod:`keeper.positions` (re-exported here) or, for large option books, the vectorized
:class:`~keeper.positions.OptionBook`.

Units are in every name: ``_eth`` ETH, ``_usd`` USD (USDC; on a price, USD per ETH), ``_years`` years of
365 days, ``_pct`` percent (5.0 = 5%), ``_frac`` a plain fraction (0.05 = 5%). Vols and rates are
annualised decimals. Sizes are signed (short < 0). Losses (VaR, ES, worst loss) are positive numbers.

Valuation (``portfolio_value_usd``), the vault's equity in USD::

    idle_usd + spot.size_eth · S + perp_equity_usd(perp, mark) + Σ option.size_eth · price(option at S, iv)

Option premium already received or paid is cash inside ``idle_usd``; each option is carried at its mark
(a short option is a liability). Options are priced with :func:`keeper.pricing.price` at their own ``iv``,
``rate`` and ``carry`` (``None`` = ``rate``, i.e. Black-Scholes on spot; see ``OptionPosition``).

Perp (linear, USDC-margined, isolated margin), with ``s`` = signed size, ``EP`` = entry price, ``m`` =
margin, ``f`` = accrued funding (+ = received), ``P`` = mark::

    equity(P)            = m + (P − EP)·s + f
    maintenance(P)       = mmr·|s|·P
    margin ratio         = equity / maintenance          (>= 1 safe; liquidated at 1; +inf when s = 0)
    liquidation price    = (EP·s − m − f) / (s − mmr·|s|)

With ``m = imr·|s|·EP`` and ``f = 0`` the liquidation price is the textbook ``EP(1−imr)/(1−mmr)`` for a long
and ``EP(1+imr)/(1+mmr)`` for a short. These few lines are what ``PerpMarket``'s views mirror in Solidity.

Scenario grid (portfolio-margin style, full revaluation, time held fixed): spot × (1 + move) for each
move in ``ScenarioConfig.spot_moves`` × vol state {up, flat, down}, each option's vol shocked by a
factor depending on its own days to expiry ``DTE``::

    x          = (dte_pivot / max(DTE, min_dte)) ** p,   p = p_short if DTE <= dte_pivot else p_long
    sigma_up   = sigma · (1 + vol_up_scale · x)
    sigma_down = sigma · max(0, 1 − vol_down_scale · x)        (floored at 1e-8: pricing needs sigma > 0)

plus tail moves with vol up, each loss counted at ``min(1, tail_weight_numerator / |move|)``. The worst
(weighted) loss is the maintenance requirement; ``collateral_ratio = equity / worst loss``.

VaR/ES (``historical_var_es``, ``filtered_historical_var_es``, ``monte_carlo_var_es``): the P&L of the whole
book is fully revalued at ``S·exp(R)`` for each scenario log return ``R`` over the horizon; spot and perp
mark move together (basis held), implied vols are held fixed (sticky strike), and by default time is
held fixed too (``age_options=False``: conservative for a short-option book, whose theta is income; pass
``True`` to age the options by the horizon). Losses are ``−P&L``; ``VaR_α`` is their empirical
``α``-quantile (numpy's linear interpolation), ``ES_α`` the mean of the losses at or beyond ``VaR_α``.
Reported: VaR99 and ES97.5 (and VaR97.5, the quantile ES97.5 averages beyond).

Hedge band (Whalley-Wilmott 1997, asymptotic for small costs): the net delta may drift inside
``center ± H`` with ``H = (3/2 · e^{−rτ} · κ · S · Γ² / γ)^{1/3}`` — ``Γ`` the book's gamma (ETH² per USD:
ETH of delta per USD of spot), ``κ`` the one-way proportional cost, ``γ`` the absolute risk aversion
(per USD). Then ``κ·S·Γ²/γ`` is in ETH³ and ``H`` in ETH (the WW band is in units of the underlying).
Outside the band, trade to the nearer edge, not to the center.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator
from scipy.signal import lfilter
from scipy.stats import norm

from keeper import pricing
from keeper.positions import (
    DAYS_PER_YEAR,
    MarketState,
    OptionBook,
    OptionPosition,
    PerpPosition,
    Portfolio,
    SpotPosition,
)

__all__ = [
    "DAYS_PER_YEAR",
    "HedgeBand",
    "MarketState",
    "OptionBook",
    "OptionPosition",
    "PerpPosition",
    "Portfolio",
    "PortfolioGreeks",
    "RiskReport",
    "ScenarioConfig",
    "ScenarioResult",
    "SpotPosition",
    "VarResult",
    "collateral_ratio",
    "delta_normal_var",
    "distance_to_liquidation_pct",
    "ewma_variance",
    "filtered_historical_var_es",
    "hedge_band",
    "hedge_trade_to_band",
    "historical_var_es",
    "horizon_log_returns",
    "liquidation_price",
    "monte_carlo_var_es",
    "options_value_usd",
    "perp_equity_usd",
    "perp_maintenance_usd",
    "perp_margin_ratio",
    "portfolio_greeks",
    "portfolio_value_usd",
    "position_greeks",
    "risk_report",
    "scenario_grid",
    "shocked_vols",
    "vol_shock_factor",
    "ww_half_width_eth",
]

FloatArray = NDArray[np.float64]

MIN_VOL = 1e-8  # vol floor for shocked-down scenarios (pricing needs sigma > 0; this is the σ → 0 limit)
_MAX_CELLS = 1 << 22  # scenario × option elements priced per pass (bounds memory for big MC runs)

Book = Portfolio | OptionBook


# --------------------------------------------------------------------------------------------
# valuation
# --------------------------------------------------------------------------------------------


def perp_equity_usd(perp: PerpPosition, mark_usd: float) -> float:
    """Equity of the isolated perp at ``mark_usd``: ``margin + (mark − entry)·size + funding``, USD."""
    return perp.margin_usd + (mark_usd - perp.entry_price_usd) * perp.size_eth + perp.funding_accrued_usd


def perp_maintenance_usd(perp: PerpPosition, mark_usd: float) -> float:
    """Maintenance margin requirement at ``mark_usd``: ``mmr · |size| · mark``, USD."""
    return perp.mmr * abs(perp.size_eth) * mark_usd


def _option_values_usd(
    book: OptionBook, spot_usd: ArrayLike, iv: ArrayLike | None = None, expiry_years: ArrayLike | None = None
) -> FloatArray:
    """Σ size·price per scenario row.

    ``spot_usd`` has shape ``(n,)`` (one spot per scenario) or is a scalar; ``iv`` and ``expiry_years``
    are ``None`` (the book's), one value per option ``(n_opt,)``, or per scenario and option ``(n, n_opt)``.
    Returns shape ``(n,)`` (or ``()`` for a scalar spot). Chunked over scenarios to bound memory.
    """
    spots = np.asarray(spot_usd, dtype=np.float64)
    scalar = spots.ndim == 0
    spots = spots.reshape(-1)
    n = spots.shape[0]
    if len(book) == 0:
        out = np.zeros(n)
        return out.reshape(()) if scalar else out
    vols = book.iv if iv is None else np.asarray(iv, dtype=np.float64)
    times = book.expiry_years if expiry_years is None else np.asarray(expiry_years, dtype=np.float64)
    rows = max(1, _MAX_CELLS // len(book))
    rate, carry = _uniform(book.rate), _uniform(book.carry)  # scalars when shared: less broadcasting
    out = np.empty(n)
    for lo in range(0, n, rows):
        hi = min(n, lo + rows)
        v = vols[lo:hi] if vols.ndim == 2 else vols
        t = times[lo:hi] if times.ndim == 2 else times
        prices = pricing.price(book.is_call, spots[lo:hi, None], book.strike_usd, t, rate, v, b=carry)
        out[lo:hi] = prices @ book.size_eth
    return out.reshape(()) if scalar else out


def _uniform(values: FloatArray) -> FloatArray | float:
    """``values`` as one float when all elements are equal, else unchanged."""
    return float(values[0]) if values.size and np.all(values == values[0]) else values


def options_value_usd(book: OptionBook | Sequence[OptionPosition], spot_usd: float) -> float:
    """Mark-to-market of the options, ``Σ size_eth · price`` at ``spot_usd`` and each option's iv, USD."""
    if not isinstance(book, OptionBook):
        book = OptionBook.from_positions(book)
    return float(_option_values_usd(book, spot_usd))


def portfolio_value_usd(portfolio: Portfolio, market: MarketState) -> float:
    """Equity (NAV) of the book, USD: idle + spot·S + perp equity at the mark + options at their mark."""
    value = portfolio.idle_usd + portfolio.spot.size_eth * market.spot_usd
    if portfolio.perp is not None:
        value += perp_equity_usd(portfolio.perp, market.perp_mark)
    return value + float(_option_values_usd(portfolio.option_book, market.spot_usd))


def _parts(book: Book, market: MarketState) -> tuple[OptionBook, float]:
    """The option book and the linear legs' USD exposure (P&L per unit relative move of spot and mark)."""
    if isinstance(book, OptionBook):
        return book, 0.0
    linear = book.spot.size_eth * market.spot_usd
    if book.perp is not None:
        linear += book.perp.size_eth * market.perp_mark
    return book.option_book, linear


# --------------------------------------------------------------------------------------------
# Greeks
# --------------------------------------------------------------------------------------------


class PortfolioGreeks(BaseModel):
    """Net sensitivities of a book (sums over positions; add two with ``+``).

    - ``spot_delta_eth``, ``perp_delta_eth``, ``option_delta_eth``: delta per leg, ETH (= ∂V/∂S, V in USD).
    - ``net_delta_eth``: their sum; ``net_delta_usd`` = ``net_delta_eth · S``.
    - ``gamma_eth_per_usd``: ∂²V/∂S² — ETH of delta gained per 1 USD rise of spot.
    - ``gamma_usd_per_1pct``: ``Γ · S² / 100`` — USD value of the delta change for a +1% spot move.
    - ``vega_usd_per_vol_point``: ∂V/∂σ for all ivs up one vol point (0.01), USD.
    - ``theta_usd_per_year`` / ``theta_usd_per_day``: ∂V/∂t (calendar time, 365-day year), USD; positive
      for a short-option book. Perp funding is carry, not theta, and is not included.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    spot_delta_eth: float = 0.0
    perp_delta_eth: float = 0.0
    option_delta_eth: float = 0.0
    net_delta_eth: float = 0.0
    net_delta_usd: float = 0.0
    gamma_eth_per_usd: float = 0.0
    gamma_usd_per_1pct: float = 0.0
    vega_usd_per_vol_point: float = 0.0
    theta_usd_per_day: float = 0.0
    theta_usd_per_year: float = 0.0

    def __add__(self, other: PortfolioGreeks) -> PortfolioGreeks:
        if not isinstance(other, PortfolioGreeks):
            return NotImplemented
        return PortfolioGreeks(**{k: getattr(self, k) + getattr(other, k) for k in type(self).model_fields})


def _greeks(
    spot_usd: float,
    spot_delta: float,
    perp_delta: float,
    option_delta: float,
    gamma: float,
    vega: float,
    theta: float,
) -> PortfolioGreeks:
    net = spot_delta + perp_delta + option_delta
    return PortfolioGreeks(
        spot_delta_eth=spot_delta,
        perp_delta_eth=perp_delta,
        option_delta_eth=option_delta,
        net_delta_eth=net,
        net_delta_usd=net * spot_usd,
        gamma_eth_per_usd=gamma,
        gamma_usd_per_1pct=gamma * spot_usd * spot_usd / 100.0,
        vega_usd_per_vol_point=vega / 100.0,
        theta_usd_per_day=theta / DAYS_PER_YEAR,
        theta_usd_per_year=theta,
    )


def _book_greeks(book: OptionBook, spot_usd: float) -> tuple[float, float, float, float]:
    """(delta ETH, gamma ETH/USD, vega USD per 1.00 vol, theta USD per year) of an option book."""
    if len(book) == 0:
        return 0.0, 0.0, 0.0, 0.0
    g = pricing.greeks(
        book.is_call, spot_usd, book.strike_usd, book.expiry_years, book.rate, book.iv, b=book.carry
    )
    w = book.size_eth
    return float(g.delta @ w), float(g.gamma @ w), float(g.vega @ w), float(g.theta @ w)


def portfolio_greeks(portfolio: Book, market: MarketState) -> PortfolioGreeks:
    """Net delta (ETH and USD), gamma, vega and theta of the book at ``market`` (:class:`PortfolioGreeks`).

    Spot delta = spot size; perp delta = perp size (a linear perp); options: ``pricing.greeks × size``.
    """
    book, _ = _parts(portfolio, market)
    spot_d = perp_d = 0.0
    if isinstance(portfolio, Portfolio):
        spot_d = portfolio.spot.size_eth
        perp_d = portfolio.perp.size_eth if portfolio.perp is not None else 0.0
    delta, gamma, vega, theta = _book_greeks(book, market.spot_usd)
    return _greeks(market.spot_usd, spot_d, perp_d, delta, gamma, vega, theta)


def position_greeks(
    position: SpotPosition | PerpPosition | OptionPosition, market: MarketState
) -> PortfolioGreeks:
    """Greeks of one position (summing these over a portfolio gives :func:`portfolio_greeks`)."""
    if isinstance(position, SpotPosition):
        return _greeks(market.spot_usd, position.size_eth, 0.0, 0.0, 0.0, 0.0, 0.0)
    if isinstance(position, PerpPosition):
        return _greeks(market.spot_usd, 0.0, position.size_eth, 0.0, 0.0, 0.0, 0.0)
    delta, gamma, vega, theta = _book_greeks(OptionBook.from_positions([position]), market.spot_usd)
    return _greeks(market.spot_usd, 0.0, 0.0, delta, gamma, vega, theta)


# --------------------------------------------------------------------------------------------
# margin and collateral
# --------------------------------------------------------------------------------------------


def perp_margin_ratio(perp: PerpPosition, mark_usd: float) -> float:
    """``equity / maintenance`` at ``mark_usd`` (dimensionless): >= 1 safe, liquidated at 1, +inf if flat.

    Negative when the equity itself is negative (bankrupt position).
    """
    requirement = perp_maintenance_usd(perp, mark_usd)
    if requirement == 0.0:
        return math.inf
    return perp_equity_usd(perp, mark_usd) / requirement


def liquidation_price(perp: PerpPosition) -> float | None:
    """Mark (USD per ETH) at which equity = maintenance, i.e. margin ratio = 1.

    ``(EP·s − m − f) / (s − mmr·|s|)``: for a long ``(EP·s − m − f) / (s·(1 − mmr))``, for a short
    ``(EP·|s| + m + f) / (|s|·(1 + mmr))``. Returns ``None`` when there is none: a flat position, or a
    long whose margin + funding covers its whole entry notional (it cannot be liquidated by a fall).
    A short whose result is <= 0 is liquidatable at every price (returned as is).
    """
    s = perp.size_eth
    if s == 0.0:
        return None
    price = (perp.entry_price_usd * s - perp.margin_usd - perp.funding_accrued_usd) / (s - perp.mmr * abs(s))
    if s > 0 and price <= 0.0:
        return None
    return price


def distance_to_liquidation_pct(perp: PerpPosition, mark_usd: float) -> float:
    """Adverse move from ``mark_usd`` to the liquidation price, in percent of the mark.

    Long: ``100·(mark − P_liq)/mark``; short: ``100·(P_liq − mark)/mark``. Negative = already beyond the
    liquidation price; +inf when there is no liquidation price.
    """
    p_liq = liquidation_price(perp)
    if p_liq is None:
        return math.inf
    sign = 1.0 if perp.size_eth > 0 else -1.0
    return 100.0 * sign * (mark_usd - p_liq) / mark_usd


def collateral_ratio(
    portfolio: Portfolio,
    market: MarketState,
    requirement_usd: float | None = None,
    config: ScenarioConfig | None = None,
) -> float:
    """Vault collateral ratio ``equity / requirement`` (dimensionless; >= 1 covered).

    ``equity`` is :func:`portfolio_value_usd`; ``requirement_usd`` defaults to the scenario grid's worst
    loss (the portfolio-margin maintenance requirement, :func:`scenario_grid` with ``config``).
    +inf when the requirement is 0 (no scenario loses money).
    """
    if requirement_usd is None:
        requirement_usd = scenario_grid(portfolio, market, config).worst_loss_usd
    if requirement_usd < 0:
        raise ValueError(f"requirement_usd must be >= 0 (got {requirement_usd})")
    equity = portfolio_value_usd(portfolio, market)
    return math.inf if requirement_usd == 0.0 else equity / requirement_usd


# --------------------------------------------------------------------------------------------
# scenario grid
# --------------------------------------------------------------------------------------------

_Move = Annotated[float, Field(gt=-1, allow_inf_nan=False)]
VOL_STATES: tuple[str, str, str] = ("up", "flat", "down")


class ScenarioConfig(BaseModel):
    """Portfolio-margin scenario parameters (defaults from the issue; moves are fractions, 0.05 = +5%).

    See the module docstring for the vol-shock formula.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    spot_moves: tuple[_Move, ...] = Field(
        default=(-0.20, -0.15, -0.10, -0.05, 0.0, 0.05, 0.10, 0.15, 0.20), min_length=1
    )
    vol_up_scale: float = Field(default=0.60, ge=0)
    vol_down_scale: float = Field(default=0.30, ge=0)
    p_short: float = Field(default=0.30, ge=0)
    p_long: float = Field(default=0.13, ge=0)
    dte_pivot_days: float = Field(default=30.0, gt=0)
    min_dte_days: float = Field(default=1.0, gt=0)
    tail_moves: tuple[_Move, ...] = (-0.66, -0.33, 0.5, 1.0, 2.0)
    tail_weight_numerator: float = Field(default=0.16, gt=0)

    @field_validator("tail_moves")
    @classmethod
    def _tail_moves_nonzero(cls, moves: tuple[float, ...]) -> tuple[float, ...]:
        if any(m == 0.0 for m in moves):
            raise ValueError("tail moves must be non-zero (a move's weight is numerator/|move|)")
        return moves

    @property
    def tail_weights(self) -> FloatArray:
        """Weight of each tail move's P&L: ``min(1, numerator/|move|)`` (never amplifies a small move)."""
        moves = np.abs(np.asarray(self.tail_moves, dtype=np.float64))
        return np.minimum(1.0, self.tail_weight_numerator / moves) if moves.size else np.zeros(0)


def vol_shock_factor(dte_days: ArrayLike, config: ScenarioConfig | None = None) -> FloatArray:
    """``(dte_pivot / max(DTE, min_dte)) ** p`` with ``p = p_short`` for DTE <= pivot else ``p_long``."""
    cfg = config or ScenarioConfig()
    dte = np.asarray(dte_days, dtype=np.float64)
    p = np.where(dte <= cfg.dte_pivot_days, cfg.p_short, cfg.p_long)
    return np.asarray((cfg.dte_pivot_days / np.maximum(dte, cfg.min_dte_days)) ** p, dtype=np.float64)


def shocked_vols(
    iv: ArrayLike, dte_days: ArrayLike, config: ScenarioConfig | None = None
) -> tuple[FloatArray, FloatArray]:
    """``(sigma_up, sigma_down)`` for vols ``iv`` at ``dte_days`` (sigma_down floored at :data:`MIN_VOL`)."""
    cfg = config or ScenarioConfig()
    sigma = np.asarray(iv, dtype=np.float64)
    x = vol_shock_factor(dte_days, cfg)
    up = sigma * (1.0 + cfg.vol_up_scale * x)
    down = np.maximum(sigma * np.maximum(0.0, 1.0 - cfg.vol_down_scale * x), MIN_VOL)
    return up, down


@dataclass(frozen=True, slots=True, eq=False)
class ScenarioResult:
    """Scenario-grid P&L (USD, full revaluation minus current value; positive = gain).

    - ``pnl_usd[i, j]``: vol state ``vol_states[i]`` ("up", "flat", "down") × spot move ``spot_moves[j]``.
    - ``tail_pnl_usd``: raw P&L of each ``tail_moves`` scenario (vol up); ``tail_weights`` and
      ``tail_weighted_pnl_usd = tail_weights · tail_pnl_usd`` (the amount that counts).
    - ``worst_loss_usd``: ``max(0, −min(all grid P&L, all weighted tail P&L))`` — the maintenance
      requirement; ``worst_*`` locate it (``worst_spot_move`` is None when nothing loses).
    """

    spot_moves: FloatArray
    vol_states: tuple[str, ...]
    pnl_usd: FloatArray
    tail_moves: FloatArray
    tail_pnl_usd: FloatArray
    tail_weights: FloatArray
    tail_weighted_pnl_usd: FloatArray
    worst_loss_usd: float
    worst_spot_move: float | None
    worst_vol_state: str | None
    worst_is_tail: bool

    @property
    def maintenance_requirement_usd(self) -> float:
        return self.worst_loss_usd


def scenario_grid(book: Book, market: MarketState, config: ScenarioConfig | None = None) -> ScenarioResult:
    """Full-revaluation P&L over spot moves × {vol up, flat, down} plus weighted tail moves.

    ``book`` is a :class:`Portfolio` (spot and perp revalue linearly: ``size · price · move``, funding
    unchanged) or a bare :class:`OptionBook`. All options × all scenarios are priced in one broadcast of
    shape ``(n_scenarios, n_options)``; time to expiry is held fixed.
    """
    cfg = config or ScenarioConfig()
    options, linear_usd = _parts(book, market)
    moves = np.asarray(cfg.spot_moves, dtype=np.float64)
    tails = np.asarray(cfg.tail_moves, dtype=np.float64)
    n_m, n_t = moves.size, tails.size
    # scenario rows: vol up × moves, vol flat × moves, vol down × moves, then the tails (vol up)
    scen_moves = np.concatenate([np.tile(moves, 3), tails])
    pnl = linear_usd * scen_moves
    if len(options):
        up, down = shocked_vols(options.iv, options.dte, cfg)
        blocks = ((up, n_m), (options.iv, n_m), (down, n_m), (up, n_t))
        vols = np.concatenate([np.broadcast_to(v, (k, len(options))) for v, k in blocks])
        base = float(_option_values_usd(options, market.spot_usd))
        pnl = pnl + (_option_values_usd(options, market.spot_usd * (1.0 + scen_moves), vols) - base)
    grid = pnl[: 3 * n_m].reshape(3, n_m)
    tail_raw = pnl[3 * n_m :]
    weights = cfg.tail_weights
    tail_w = weights * tail_raw
    candidates = np.concatenate([grid.ravel(), tail_w])
    k = int(np.argmin(candidates))
    worst = max(0.0, -float(candidates[k]))
    if worst == 0.0:
        where: tuple[float | None, str | None, bool] = (None, None, False)
    elif k < 3 * n_m:
        where = (float(moves[k % n_m]), VOL_STATES[k // n_m], False)
    else:
        where = (float(tails[k - 3 * n_m]), "up", True)
    return ScenarioResult(
        spot_moves=moves,
        vol_states=VOL_STATES,
        pnl_usd=grid,
        tail_moves=tails,
        tail_pnl_usd=tail_raw,
        tail_weights=weights,
        tail_weighted_pnl_usd=tail_w,
        worst_loss_usd=worst,
        worst_spot_move=where[0],
        worst_vol_state=where[1],
        worst_is_tail=where[2],
    )


# --------------------------------------------------------------------------------------------
# VaR and ES
# --------------------------------------------------------------------------------------------

VarMethod = Literal["historical", "filtered-historical", "monte-carlo", "delta-normal"]


class VarResult(BaseModel):
    """Value at risk and expected shortfall of the book over ``horizon_days``, USD (positive = loss).

    ``var99_usd`` is the 99% loss quantile, ``es975_usd`` the mean loss at or beyond the 97.5% quantile
    ``var975_usd``. A negative VaR means the book gains even at that confidence. ``n_scenarios`` is the
    number of revalued scenarios (0 for the analytic delta-normal method).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: VarMethod
    horizon_days: int = Field(ge=1)
    n_scenarios: int = Field(ge=0)
    var99_usd: float
    var975_usd: float
    es975_usd: float


def _check_horizon(horizon_days: int) -> int:
    if isinstance(horizon_days, bool) or int(horizon_days) != horizon_days or horizon_days < 1:
        raise ValueError(f"horizon_days must be an integer >= 1 (got {horizon_days!r})")
    return int(horizon_days)


def _daily_returns(returns: ArrayLike) -> FloatArray:
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1 or r.size < 2:
        raise ValueError("returns must be a 1-D series of at least 2 daily log returns")
    if not np.all(np.isfinite(r)):
        raise ValueError("returns must be finite (got NaN or infinity)")
    return r


def horizon_log_returns(daily_log_returns: ArrayLike, horizon_days: int) -> FloatArray:
    """Overlapping ``horizon_days``-day sums of daily log returns (``n − h + 1`` of them).

    Overlapping windows keep every observation (n − h + 1 scenarios rather than n / h) at the price of
    serially correlated scenarios; the quantile estimate stays unbiased.
    """
    h = _check_horizon(horizon_days)
    r = _daily_returns(daily_log_returns)
    if r.size < h:
        raise ValueError(f"need at least horizon_days={h} returns (got {r.size})")
    c = np.concatenate([[0.0], np.cumsum(r)])
    return c[h:] - c[:-h]


def ewma_variance(daily_log_returns: ArrayLike, lam: float = 0.94) -> FloatArray:
    """RiskMetrics EWMA variance forecasts ``v[0..n]``: ``v[t+1] = λ·v[t] + (1−λ)·r[t]²``.

    ``v[t]`` is the forecast for return ``t`` from returns before it; ``v[n]`` the forecast for tomorrow.
    Seeded with ``v[0]`` = the mean squared return of the whole series (its weight decays as ``λ^t``).
    """
    if not 0.0 < lam < 1.0:
        raise ValueError(f"lam must be in (0, 1) (got {lam})")
    r = _daily_returns(daily_log_returns)
    sq = r * r
    v0 = float(sq.mean())
    if v0 == 0.0:
        raise ValueError("returns are all zero: no volatility to filter")
    tail, _ = lfilter([1.0 - lam], [1.0, -lam], sq, zi=[lam * v0])
    return np.concatenate([[v0], tail])


def _pnl_at_log_returns(
    book: Book, market: MarketState, log_returns: FloatArray, age_years: float
) -> FloatArray:
    """Full-revaluation P&L (USD) of the book for each scenario log return of spot (and the perp mark)."""
    options, linear_usd = _parts(book, market)
    pnl = linear_usd * np.expm1(log_returns)
    if len(options):
        base = float(_option_values_usd(options, market.spot_usd))
        t = np.maximum(options.expiry_years - age_years, 0.0) if age_years > 0 else None
        pnl = pnl + (_option_values_usd(options, market.spot_usd * np.exp(log_returns), None, t) - base)
    return pnl


def _var_es(pnl: FloatArray, method: VarMethod, horizon_days: int) -> VarResult:
    losses = -pnl
    var99, var975 = (float(q) for q in np.quantile(losses, [0.99, 0.975]))
    es975 = float(losses[losses >= var975].mean())
    return VarResult(
        method=method,
        horizon_days=horizon_days,
        n_scenarios=int(losses.size),
        var99_usd=var99,
        var975_usd=var975,
        es975_usd=max(es975, var975),  # equal up to rounding; keeps ES >= VaR exact
    )


def _age(horizon_days: int, age_options: bool) -> float:
    return horizon_days / DAYS_PER_YEAR if age_options else 0.0


def historical_var_es(
    portfolio: Book,
    market: MarketState,
    returns: ArrayLike,
    horizon_days: int = 1,
    *,
    age_options: bool = False,
) -> VarResult:
    """Historical simulation with full revaluation.

    ``returns`` are daily log returns of ETH; the ``h``-day scenarios are their overlapping ``h``-day sums
    (:func:`horizon_log_returns`), applied to today's spot (and perp mark).
    """
    h = _check_horizon(horizon_days)
    scen = horizon_log_returns(returns, h)
    return _var_es(_pnl_at_log_returns(portfolio, market, scen, _age(h, age_options)), "historical", h)


def filtered_historical_var_es(
    portfolio: Book,
    market: MarketState,
    returns: ArrayLike,
    horizon_days: int = 1,
    *,
    lam: float = 0.94,
    age_options: bool = False,
) -> VarResult:
    """Filtered historical simulation (Barone-Adesi / Hull-White) with an EWMA(``lam``) vol filter.

    Each daily log return is standardised by its own EWMA vol forecast (``ewma_variance``) and rescaled by
    today's forecast; the ``h``-day scenarios are overlapping ``h``-day sums of the rescaled returns
    (today's vol assumed to persist over the horizon). Full revaluation as in :func:`historical_var_es`.
    """
    h = _check_horizon(horizon_days)
    r = _daily_returns(returns)
    v = ewma_variance(r, lam)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(v[:-1] > 0, r / np.sqrt(v[:-1]), 0.0)
    scen = horizon_log_returns(z * math.sqrt(v[-1]), h)
    pnl = _pnl_at_log_returns(portfolio, market, scen, _age(h, age_options))
    return _var_es(pnl, "filtered-historical", h)


def monte_carlo_var_es(
    portfolio: Book,
    market: MarketState,
    horizon_days: int = 1,
    *,
    daily_vol: float | None = None,
    returns: ArrayLike | None = None,
    lam: float = 0.94,
    dof: float = 4.0,
    n_paths: int = 50_000,
    seed: int = 0,
    age_options: bool = False,
) -> VarResult:
    """Monte Carlo VaR/ES with Student-t daily log returns and full revaluation.

    Daily log returns are ``daily_vol · t_dof · sqrt((dof − 2)/dof)`` (unit variance, zero mean); the
    ``h``-day return is the sum of ``h`` simulated days (fat tails of a sum are thinner than one t draw,
    which a sqrt-time rule would miss). ``daily_vol`` is given, or estimated as today's EWMA(``lam``) vol of
    ``returns``. Deterministic for a given ``seed`` (numpy ``default_rng``).
    """
    h = _check_horizon(horizon_days)
    if dof <= 2:
        raise ValueError(f"dof must be > 2 for a finite variance (got {dof})")
    if n_paths < 2:
        raise ValueError(f"n_paths must be >= 2 (got {n_paths})")
    if daily_vol is None:
        if returns is None:
            raise ValueError("give daily_vol or returns to estimate it from")
        daily_vol = math.sqrt(float(ewma_variance(returns, lam)[-1]))
    if not (math.isfinite(daily_vol) and daily_vol > 0):
        raise ValueError(f"daily_vol must be > 0 and finite (got {daily_vol})")
    rng = np.random.default_rng(seed)
    draws = rng.standard_t(dof, size=(int(n_paths), h)) * (daily_vol * math.sqrt((dof - 2.0) / dof))
    scen = draws.sum(axis=1)
    return _var_es(_pnl_at_log_returns(portfolio, market, scen, _age(h, age_options)), "monte-carlo", h)


def delta_normal_var(
    portfolio: Book, market: MarketState, daily_vol: float, horizon_days: int = 1
) -> VarResult:
    """Delta-normal (parametric, linear) VaR/ES: ``z_α · |net delta USD| · daily_vol · sqrt(h)``.

    Blind to gamma and vega: a delta-neutral short-option book gets VaR 0 here — the reason the
    revaluation methods above exist.
    """
    h = _check_horizon(horizon_days)
    if not (math.isfinite(daily_vol) and daily_vol >= 0):
        raise ValueError(f"daily_vol must be >= 0 and finite (got {daily_vol})")
    sd = abs(portfolio_greeks(portfolio, market).net_delta_usd) * daily_vol * math.sqrt(h)
    z975 = float(norm.ppf(0.975))
    return VarResult(
        method="delta-normal",
        horizon_days=h,
        n_scenarios=0,
        var99_usd=float(norm.ppf(0.99)) * sd,
        var975_usd=z975 * sd,
        es975_usd=float(norm.pdf(z975)) / 0.025 * sd,
    )


# --------------------------------------------------------------------------------------------
# hedge bands
# --------------------------------------------------------------------------------------------


def ww_half_width_eth(
    gamma_eth_per_usd: ArrayLike,
    spot_usd: ArrayLike,
    cost_frac: ArrayLike,
    risk_aversion: ArrayLike,
    rate: ArrayLike = 0.0,
    tau_years: ArrayLike = 0.0,
    floor_eth: ArrayLike = 0.0,
    cap_eth: ArrayLike = math.inf,
) -> float | FloatArray:
    """Whalley-Wilmott half-width of the no-trade band around the delta target, in ETH.

    ``clip((3/2 · e^{−rate·tau} · cost_frac · spot · Γ² / risk_aversion)^{1/3}, floor_eth, cap_eth)`` with
    ``Γ = |gamma_eth_per_usd|`` (the net book gamma, ETH of delta per USD; short-gamma books count the same),
    ``cost_frac`` the one-way cost as a fraction of notional (0.0005 = 5 bp), ``risk_aversion`` the absolute
    risk aversion per USD, ``tau_years`` the time to the options' expiry. Scales as ``κ^{1/3}``, ``Γ^{2/3}``,
    ``γ^{−1/3}``. Arguments broadcast; a float for scalar inputs, else an array.
    """
    g = np.abs(np.asarray(gamma_eth_per_usd, dtype=np.float64))
    s = np.asarray(spot_usd, dtype=np.float64)
    k = np.asarray(cost_frac, dtype=np.float64)
    ra = np.asarray(risk_aversion, dtype=np.float64)
    r = np.asarray(rate, dtype=np.float64)
    tau = np.asarray(tau_years, dtype=np.float64)
    lo = np.asarray(floor_eth, dtype=np.float64)
    hi = np.asarray(cap_eth, dtype=np.float64)
    for name, arr in (("gamma_eth_per_usd", g), ("spot_usd", s), ("cost_frac", k), ("risk_aversion", ra)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite (got NaN or infinity)")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(tau))):
        raise ValueError("rate and tau_years must be finite")
    if not np.all(s > 0):
        raise ValueError("spot_usd must be > 0")
    if not np.all(k >= 0):
        raise ValueError("cost_frac must be >= 0")
    if not np.all(ra > 0):
        raise ValueError("risk_aversion must be > 0")
    if not np.all(tau >= 0):
        raise ValueError("tau_years must be >= 0")
    if np.any(np.isnan(lo)) or not np.all(lo >= 0):
        raise ValueError("floor_eth must be >= 0")
    if np.any(np.isnan(hi)) or not np.all(hi >= lo):
        raise ValueError("cap_eth must be >= floor_eth")
    width = np.cbrt(1.5 * np.exp(-r * tau) * k * s * g * g / ra)
    out = np.minimum(np.maximum(width, lo), hi)
    return float(out) if out.ndim == 0 else out


class HedgeBand(BaseModel):
    """No-trade band for the net delta (ETH): ``center_eth ± half_width_eth``, edges included."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    center_eth: float = 0.0
    half_width_eth: float = Field(ge=0)

    @property
    def lower_eth(self) -> float:
        return self.center_eth - self.half_width_eth

    @property
    def upper_eth(self) -> float:
        return self.center_eth + self.half_width_eth

    def contains(self, net_delta_eth: float) -> bool:
        return self.lower_eth <= net_delta_eth <= self.upper_eth


def hedge_trade_to_band(net_delta_eth: float, band: HedgeBand) -> float:
    """Signed perp size change (ETH; + = buy) that brings the net delta to the nearer band edge.

    0.0 inside the band (edges included); ``upper − delta`` (a sale) above it, ``lower − delta`` (a
    purchase) below it. A linear perp has delta 1 per ETH, so the new net delta is ``delta + trade``.
    """
    if not math.isfinite(net_delta_eth):
        raise ValueError(f"net_delta_eth must be finite (got {net_delta_eth})")
    if net_delta_eth > band.upper_eth:
        return band.upper_eth - net_delta_eth
    if net_delta_eth < band.lower_eth:
        return band.lower_eth - net_delta_eth
    return 0.0


def hedge_band(
    portfolio: Book,
    market: MarketState,
    cost_frac: float,
    risk_aversion: float,
    tau_years: float,
    *,
    center_eth: float = 0.0,
    floor_eth: float = 0.0,
    cap_eth: float = math.inf,
) -> HedgeBand:
    """The Whalley-Wilmott band of the book's net gamma at ``market`` (discounted at ``market.rate``)."""
    gamma = portfolio_greeks(portfolio, market).gamma_eth_per_usd
    width = ww_half_width_eth(
        gamma, market.spot_usd, cost_frac, risk_aversion, market.rate, tau_years, floor_eth, cap_eth
    )
    return HedgeBand(center_eth=center_eth, half_width_eth=float(width))


# --------------------------------------------------------------------------------------------
# summary
# --------------------------------------------------------------------------------------------


class RiskReport(BaseModel):
    """One snapshot's risk numbers (what the policy reads; units in each name)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    equity_usd: float
    greeks: PortfolioGreeks
    perp_margin_ratio: float | None = None
    liquidation_price_usd: float | None = None
    distance_to_liquidation_pct: float | None = None
    scenario_worst_loss_usd: float
    collateral_ratio: float
    var: tuple[VarResult, ...] = ()


def risk_report(
    portfolio: Portfolio,
    market: MarketState,
    config: ScenarioConfig | None = None,
    var: Sequence[VarResult] = (),
) -> RiskReport:
    """Greeks, perp margin, scenario requirement and collateral ratio of ``portfolio`` (VaR results are
    passed in: they need a return history or a simulation budget, chosen by the caller)."""
    grid = scenario_grid(portfolio, market, config)
    perp = portfolio.perp
    margin: tuple[float | None, float | None, float | None] = (None, None, None)
    if perp is not None and perp.size_eth != 0.0:
        mark = market.perp_mark
        margin = (
            perp_margin_ratio(perp, mark),
            liquidation_price(perp),
            distance_to_liquidation_pct(perp, mark),
        )
    return RiskReport(
        equity_usd=portfolio_value_usd(portfolio, market),
        greeks=portfolio_greeks(portfolio, market),
        perp_margin_ratio=margin[0],
        liquidation_price_usd=margin[1],
        distance_to_liquidation_pct=margin[2],
        scenario_worst_loss_usd=grid.worst_loss_usd,
        collateral_ratio=collateral_ratio(portfolio, market, grid.worst_loss_usd),
        var=tuple(var),
    )
