"""Spot model: regime-switching GBM with compensated Merton jumps, vectorised over paths.

All draws come from named child streams of `SeedSequence(seed)` (see `streams`), each generated in
one row-major block of shape (n_paths, n_steps). Consequences: the same seed gives bit-identical paths;
path 0 of `simulate_spot_paths(cfg, n)` equals `simulate_market(cfg).spot` for every n; and changing
the parameters of one process (IV, funding) never changes the draws of another.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.random import PCG64, Generator, SeedSequence
from scipy.linalg import fractional_matrix_power

from keeper.sim.config import MarketConfig, Shock

# Order matters: a stream's seed depends on its position. Append new streams at the end only.
STREAM_NAMES: tuple[str, ...] = ("spot", "jump_times", "jump_sizes", "regimes", "iv", "funding", "bridge")


def streams(seed: int) -> dict[str, Generator]:
    """Independent PCG64 generators, one per named process, spawned from `SeedSequence(seed)`."""
    children = SeedSequence(seed).spawn(len(STREAM_NAMES))
    return {name: Generator(PCG64(child)) for name, child in zip(STREAM_NAMES, children, strict=True)}


@lru_cache(maxsize=64)
def step_transition(daily: tuple[tuple[float, ...], ...], steps_per_day: int) -> np.ndarray:
    """Per-step transition matrix whose `steps_per_day`-th power is the per-day matrix `daily`.

    Uses the principal matrix root. When that root is not a stochastic matrix (the daily matrix is not
    embeddable, e.g. periodic chains), falls back to the first-order split I + (P − I)/steps_per_day,
    which matches the daily matrix to first order in the switching probabilities.
    """
    p = np.asarray(daily, dtype=float)
    if steps_per_day == 1:
        return p
    root = np.asarray(fractional_matrix_power(p, 1.0 / steps_per_day))
    ok = np.all(np.isfinite(root)) and np.max(np.abs(np.imag(root))) < 1e-10
    root = np.real(root)
    if ok and root.min() > -1e-12:
        root = np.clip(root, 0.0, None)
        root /= root.sum(axis=1, keepdims=True)
        if np.allclose(np.linalg.matrix_power(root, steps_per_day), p, atol=1e-9):
            return root
    k = p.shape[0]
    return np.eye(k) + (p - np.eye(k)) / steps_per_day


def stationary_distribution(p: np.ndarray) -> np.ndarray:
    """A stationary distribution π (π P = π, Σπ = 1) of the transition matrix `p` (least squares)."""
    k = p.shape[0]
    a = np.vstack([p.T - np.eye(k), np.ones((1, k))])
    b = np.zeros(k + 1)
    b[-1] = 1.0
    pi = np.linalg.lstsq(a, b, rcond=None)[0]
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()


def simulate_regimes(cfg: MarketConfig, n_paths: int, rng: Generator) -> np.ndarray:
    """Regime index at each point, shape (n_paths, n_steps + 1), int64.

    Point 0 is `cfg.initial_regime` or a draw from the stationary mix; the regime at point k governs the
    step k → k + 1.
    """
    n = cfg.n_steps
    p = step_transition(cfg.regime_transition, cfg.steps_per_day)
    k = p.shape[0]
    u = rng.random((n_paths, n + 1))
    regimes = np.zeros((n_paths, n + 1), dtype=np.int64)
    if k == 1:
        return regimes
    if cfg.initial_regime is None:
        cdf0 = np.cumsum(stationary_distribution(p))[:-1]
        regimes[:, 0] = np.searchsorted(cdf0, u[:, 0], side="left")
    else:
        regimes[:, 0] = cfg.initial_regime
    cum = np.cumsum(p, axis=1)[:, :-1]  # regime j+1 starts where row cumsum up to j ends
    if n_paths == 1:  # scalar loop: ~50x faster than numpy per step for a single path
        rows = [list(r) for r in cum]
        state = int(regimes[0, 0])
        out = [state]
        for x in u[0, 1:].tolist():
            state = bisect_left(rows[state], x)
            out.append(state)
        regimes[0] = out
        return regimes
    cols = [np.ascontiguousarray(cum[:, j]) for j in range(k - 1)]
    state_v = regimes[:, 0].copy()
    ut = np.ascontiguousarray(u.T)
    out_t = np.empty((n + 1, n_paths), dtype=np.int64)
    out_t[0] = state_v
    for step in range(1, n + 1):
        x = ut[step]
        nxt = (x > cols[0].take(state_v)).astype(np.int64)
        for col in cols[1:]:
            nxt += x > col.take(state_v)
        state_v = nxt
        out_t[step] = state_v
    return np.ascontiguousarray(out_t.T)


def shock_log_returns(shocks: tuple[Shock, ...], n_steps: int, steps_per_day: int) -> np.ndarray:
    """Extra log return per step (shape (n_steps,)) implementing the shocks' spot moves."""
    extra = np.zeros(n_steps)
    for s in shocks:
        i0, m = s.start_step(steps_per_day), s.n_steps(steps_per_day)
        extra[i0 : i0 + m] += math.log1p(s.spot_move) / m
    return extra


@dataclass(frozen=True)
class SpotDraws:
    """Spot log returns (n_paths, n_steps), their diffusive standard normals and the regimes."""

    log_returns: np.ndarray
    z: np.ndarray
    regimes: np.ndarray


def simulate_log_returns(cfg: MarketConfig, n_paths: int, rngs: dict[str, Generator]) -> SpotDraws:
    """Log returns per step including jumps and the scheduled shocks."""
    n, dt = cfg.n_steps, cfg.dt_years
    regimes = simulate_regimes(cfg, n_paths, rngs["regimes"])
    vols = np.asarray(cfg.regime_vols)
    sigma = vols[regimes[:, :-1]]
    z = rngs["spot"].standard_normal((n_paths, n))
    lam, mj, sj = cfg.jump_intensity, cfg.jump_mean, cfg.jump_std
    kappa = math.expm1(mj + 0.5 * sj * sj)  # E[e^Y - 1]: the compensator keeps E[S_t] = s0 e^{mu t}
    r = (cfg.mu - lam * kappa - 0.5 * sigma * sigma) * dt + sigma * math.sqrt(dt) * z
    if lam > 0.0:
        counts = rngs["jump_times"].poisson(lam * dt, size=(n_paths, n))
        hit = np.nonzero(counts)
        if hit[0].size:
            c = counts[hit].astype(float)
            sizes = rngs["jump_sizes"].standard_normal(c.size)
            r[hit] += c * mj + np.sqrt(c) * sj * sizes
    if cfg.shocks:
        r += shock_log_returns(cfg.shocks, n, cfg.steps_per_day)
    return SpotDraws(log_returns=r, z=z, regimes=regimes)


def prices_from_log_returns(s0: float, log_returns: np.ndarray) -> np.ndarray:
    """Price points (…, n + 1) starting at `s0` from log returns (…, n)."""
    cum = np.cumsum(log_returns, axis=-1)
    out = np.empty((*log_returns.shape[:-1], log_returns.shape[-1] + 1))
    out[..., 0] = s0
    out[..., 1:] = s0 * np.exp(cum)
    return out
