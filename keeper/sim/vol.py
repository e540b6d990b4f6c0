"""Realised vol (EWMA) and the implied-vol path that follows it with a premium."""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter

from keeper.sim.config import Shock


def ewma_realised_vol(
    log_returns: np.ndarray, dt_years: float, lam_daily: float = 0.94, vol0: float | np.ndarray | None = None
) -> np.ndarray:
    """Annualised EWMA realised vol at each point, shape (…, n + 1) for log returns (…, n).

    RiskMetrics recursion on squared log returns scaled to annual variance:
    v_k = λ_s v_{k−1} + (1 − λ_s) r_k² / dt, with the per-step decay λ_s = `lam_daily` ** (steps per day),
    so the memory in calendar time is the same whatever the step size (0.94 daily ≈ 16-day mean age).
    Point k uses returns up to and including the step into k (no look-ahead). `vol0` is the vol at
    point 0 (default: the root mean square of the first up to 30 days of returns).
    """
    r = np.asarray(log_returns, dtype=float)
    steps_per_day = 1.0 / (365.0 * dt_years)
    lam = lam_daily ** (1.0 / steps_per_day)
    x = r * r / dt_years
    if vol0 is None:
        head = x[..., : max(1, round(30 * steps_per_day))]
        v0 = np.mean(head, axis=-1) if head.shape[-1] else np.zeros(x.shape[:-1])
    else:
        v0 = np.asarray(vol0, dtype=float) ** 2
    v0 = np.broadcast_to(v0, x.shape[:-1])
    zi = (lam * v0)[..., None]
    v, _ = lfilter([1.0 - lam], [1.0, -lam], x, axis=-1, zi=zi)
    out = np.empty((*x.shape[:-1], x.shape[-1] + 1))
    out[..., 0] = v0
    out[..., 1:] = v
    return np.sqrt(np.maximum(out, 0.0))


def iv_shock_log_bumps(shocks: tuple[Shock, ...], n_steps: int, steps_per_day: int) -> np.ndarray:
    """Extra change of log IV per step (n_steps,) implementing the shocks' IV multipliers."""
    extra = np.zeros(n_steps)
    for s in shocks:
        i0, m = s.start_step(steps_per_day), s.n_steps(steps_per_day)
        extra[i0 : i0 + m] += math.log(s.iv_multiplier) / m
    return extra


def implied_vol_path(
    realised_vol: np.ndarray,
    spot_z: np.ndarray,
    own_z: np.ndarray,
    *,
    dt_years: float,
    premium: float,
    mean_reversion: float,
    vol_of_vol: float,
    spot_corr: float,
    iv_min: float,
    iv_max: float,
    iv0: float,
    log_bumps: np.ndarray | None = None,
) -> np.ndarray:
    """30-day ATM implied vol at each point (n + 1,), annualised.

    x = log IV follows an exactly discretised OU toward log(realised_vol_k · (1 + premium)):
    x_{k+1} = x_k + (1 − a)(target_k − x_k) + s (ρ z_spot,k + √(1 − ρ²) z_k) + bump_k, a = e^{−κ dt},
    s = vol_of_vol · √((1 − a²) / 2κ); the state is clamped to [log iv_min, log iv_max] every step.
    """
    n = spot_z.shape[0]
    a = math.exp(-mean_reversion * dt_years)
    s = vol_of_vol * math.sqrt((1.0 - a * a) / (2.0 * mean_reversion))
    rho = spot_corr
    noise = s * (rho * spot_z + math.sqrt(max(0.0, 1.0 - rho * rho)) * own_z)
    if log_bumps is not None:
        noise = noise + log_bumps
    target = np.log(np.maximum(realised_vol[:n], 1e-6) * (1.0 + premium))
    lo, hi = math.log(iv_min), math.log(iv_max)
    x = min(hi, max(lo, math.log(iv0)))
    out = [x]
    pull = 1.0 - a
    for tgt, e in zip(target.tolist(), noise.tolist(), strict=True):
        x = x + pull * (tgt - x) + e
        x = hi if x > hi else (lo if x < lo else x)
        out.append(x)
    return np.clip(np.exp(np.asarray(out)), iv_min, iv_max)  # exp(log(x)) may miss x by an ulp
