"""Perpetual funding-rate process.

Convention (as on Binance, Bybit, dYdX, …): the rate is quoted per 8-hour funding period as a fraction
of notional (0.0001 = 0.01 % per 8 h ≈ 10.95 % a year); positive means longs pay shorts, so a vault that
is short the perp *receives* funding when the rate is positive. Venues clamp the rate; the simulator
clamps it to ±`funding_cap`.
"""

from __future__ import annotations

import math

import numpy as np

from keeper.sim.config import Shock

FUNDING_PERIODS_PER_DAY = 3
FUNDING_PERIODS_PER_YEAR = FUNDING_PERIODS_PER_DAY * 365


def funding_annualised(rate_8h: float | np.ndarray) -> float | np.ndarray:
    """Simple annualised rate of an 8-hour funding rate: rate × 3 × 365 (0.0001 → 0.1095)."""
    return rate_8h * FUNDING_PERIODS_PER_YEAR


def funding_for_period(rate_8h: float | np.ndarray, dt_years: float) -> float | np.ndarray:
    """Funding accrued per unit notional over `dt_years` at the 8-hour rate (positive: longs pay)."""
    return rate_8h * FUNDING_PERIODS_PER_YEAR * dt_years


def funding_overrides(shocks: tuple[Shock, ...], n_steps: int, steps_per_day: int) -> np.ndarray:
    """Pinned funding per point (n_steps + 1,), NaN where the OU process runs freely."""
    pinned = np.full(n_steps + 1, np.nan)
    for s in shocks:
        if s.funding_8h is None:
            continue
        i0 = s.start_step(steps_per_day)
        pinned[i0 + 1 : min(n_steps, i0 + s.n_funding_steps(steps_per_day)) + 1] = s.funding_8h
    return pinned


def funding_path(
    spot_z: np.ndarray,
    own_z: np.ndarray,
    *,
    dt_years: float,
    mean: float,
    std: float,
    mean_reversion: float,
    spot_corr: float,
    cap: float,
    f0: float,
    pinned: np.ndarray | None = None,
) -> np.ndarray:
    """8-hour funding rate at each point (n + 1,).

    Exactly discretised OU: f_{k+1} = m + a (f_k − m) + std · √(1 − a²) (ρ z_spot,k + √(1 − ρ²) z_k),
    a = e^{−κ dt}, so `std` is the stationary standard deviation. The state is clamped to [−cap, cap]
    every step; where `pinned` is not NaN the rate is set to it and the process continues from there.
    """
    a = math.exp(-mean_reversion * dt_years)
    s = std * math.sqrt(1.0 - a * a)
    rho = spot_corr
    noise = s * (rho * spot_z + math.sqrt(max(0.0, 1.0 - rho * rho)) * own_z)
    f = min(cap, max(-cap, f0))
    out = [f]
    pins = [math.nan] * (len(noise) + 1) if pinned is None else pinned.tolist()
    for e, pin in zip(noise.tolist(), pins[1:], strict=True):
        f = pin if pin == pin else mean + a * (f - mean) + e  # pin == pin: not NaN
        f = cap if f > cap else (-cap if f < -cap else f)
        out.append(f)
    return np.asarray(out)
