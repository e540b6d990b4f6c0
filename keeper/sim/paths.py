"""Market paths: `MarketPath`, `simulate_market`, `simulate_spot_paths` and `path_from_prices`."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import numpy as np
from numpy.random import Generator

from keeper.sim.config import MarketConfig, check_shock
from keeper.sim.funding import funding_overrides, funding_path
from keeper.sim.spot import prices_from_log_returns, shock_log_returns, simulate_log_returns, streams
from keeper.sim.vol import ewma_realised_vol, implied_vol_path, iv_shock_log_bumps

SECONDS_PER_DAY = 86_400
_Z_CLIP = 6.0


class MarketPoint(NamedTuple):
    """One point of a `MarketPath` (units as in `MarketPath`)."""

    index: int
    t_years: float
    timestamp: np.datetime64
    spot: float
    realised_vol: float
    iv: float
    funding_8h: float
    regime: int


@dataclass(frozen=True, eq=False)
class MarketPath:
    """A market path of n + 1 points (index 0 is t = 0) on a uniform grid of `steps_per_day` steps a day.

    Arrays (all shape (n + 1,), read-only):
      t_years       time since the first point, years of 365 days (k · dt_years)
      spot          ETH/USD
      realised_vol  annualised EWMA realised vol of spot, using returns up to the point
      iv            30-day ATM implied vol, annualised (0.7 = 70 %)
      funding_8h    perpetual funding rate per 8 hours (0.0001 = 0.01 %), positive = longs pay shorts
      regime        volatility regime index (simulated; inferred from realised vol for histories)
    `start` is the timestamp of point 0 (UTC, datetime64[s]); `source` says where spot came from.
    """

    t_years: np.ndarray
    spot: np.ndarray
    realised_vol: np.ndarray
    iv: np.ndarray
    funding_8h: np.ndarray
    regime: np.ndarray
    dt_years: float
    steps_per_day: int
    start: np.datetime64 = field(default_factory=lambda: np.datetime64("2024-01-01T00:00:00", "s"))
    source: str = "simulated"

    def __post_init__(self) -> None:
        n1 = np.shape(self.spot)[0] if np.ndim(self.spot) == 1 else -1
        if n1 < 1:
            raise ValueError("spot must be a non-empty 1-d array")
        for name in ("t_years", "spot", "realised_vol", "iv", "funding_8h", "regime"):
            dtype = np.int64 if name == "regime" else np.float64
            arr = np.array(getattr(self, name), dtype=dtype, copy=True)
            if arr.shape != (n1,):
                raise ValueError(f"{name} has shape {arr.shape}, expected ({n1},) like spot")
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        if not (self.dt_years > 0 and self.steps_per_day >= 1):
            raise ValueError("dt_years must be > 0 and steps_per_day >= 1")
        object.__setattr__(self, "start", np.datetime64(self.start, "s"))

    def __len__(self) -> int:
        return int(self.spot.shape[0])

    @property
    def n_steps(self) -> int:
        """Number of steps (points − 1)."""
        return len(self) - 1

    @property
    def days(self) -> float:
        """Length of the path in days."""
        return self.n_steps / self.steps_per_day

    @property
    def step_seconds(self) -> float:
        return SECONDS_PER_DAY / self.steps_per_day

    @property
    def timestamps(self) -> np.ndarray:
        """UTC timestamp of each point, datetime64[s] (rounded to the second)."""
        offsets = np.rint(np.arange(len(self)) * self.step_seconds).astype(np.int64)
        return self.start + offsets.astype("timedelta64[s]")

    def timestamp(self, i: int) -> np.datetime64:
        """UTC timestamp of point `i` (0 ≤ i < len), datetime64[s]."""
        return self.start + np.timedelta64(round(i * self.step_seconds), "s")

    @property
    def log_returns(self) -> np.ndarray:
        """Spot log returns per step, shape (n,)."""
        return np.diff(np.log(self.spot))

    def index_at_day(self, day: float) -> int:
        """Index of the point `day` days after the start (rounded to the nearest step)."""
        i = round(day * self.steps_per_day)
        if not 0 <= i < len(self):
            raise IndexError(f"day {day} is outside the path's {self.days} days")
        return i

    def point(self, i: int) -> MarketPoint:
        """The point at index `i` (negative indices count from the end)."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"point {i} outside a path of {len(self)} points")
        i %= len(self)
        return MarketPoint(
            index=i,
            t_years=float(self.t_years[i]),
            timestamp=self.timestamp(i),
            spot=float(self.spot[i]),
            realised_vol=float(self.realised_vol[i]),
            iv=float(self.iv[i]),
            funding_8h=float(self.funding_8h[i]),
            regime=int(self.regime[i]),
        )

    def __iter__(self) -> Iterator[MarketPoint]:
        for i in range(len(self)):
            yield self.point(i)

    def slice(self, start: int = 0, stop: int | None = None) -> MarketPath:
        """Points `start` ≤ k < `stop` (Python slice semantics, step 1) as a new path.

        Time is re-based: the new path's t_years starts at 0 and its `start` is the timestamp of
        point `start`. At least one point must remain.
        """
        idx = range(len(self))[start:stop]
        if len(idx) == 0:
            raise ValueError(f"slice({start}, {stop}) of a path with {len(self)} points is empty")
        sl = slice(idx.start, idx.stop)
        return MarketPath(
            t_years=self.t_years[sl] - self.t_years[idx.start],
            spot=self.spot[sl],
            realised_vol=self.realised_vol[sl],
            iv=self.iv[sl],
            funding_8h=self.funding_8h[sl],
            regime=self.regime[sl],
            dt_years=self.dt_years,
            steps_per_day=self.steps_per_day,
            start=self.timestamp(idx.start),
            source=self.source,
        )

    def to_csv(self, file: str | os.PathLike[str]) -> None:
        """Write one row per point: timestamp (ISO, UTC), t_years, spot, realised_vol, iv, funding_8h,
        regime (floats written with full precision)."""
        cols = ("t_years", "spot", "realised_vol", "iv", "funding_8h", "regime")
        with open(file, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(("timestamp", *cols))
            arrays = [getattr(self, c).tolist() for c in cols]
            for ts, *vals in zip(self.timestamps.astype(str).tolist(), *arrays, strict=True):
                w.writerow((ts, *(repr(v) for v in vals)))


def _validate_n_paths(n_paths: int) -> None:
    if not isinstance(n_paths, int | np.integer) or n_paths < 1:
        raise ValueError(f"n_paths must be a positive integer, got {n_paths!r}")


def simulate_spot_paths(cfg: MarketConfig, n_paths: int = 2000) -> np.ndarray:
    """Spot paths of the `simulate_market` model (regimes, jumps, shocks), shape (n_paths, n + 1).

    Seeded by `cfg.seed`: row 0 equals `simulate_market(cfg).spot` exactly, and rows are independent.
    Peak memory is about 50 bytes per path step (2000 paths x 720 steps ≈ 70 MB).
    """
    _validate_n_paths(n_paths)
    draws = simulate_log_returns(cfg, int(n_paths), streams(cfg.seed))
    return prices_from_log_returns(cfg.s0, draws.log_returns)


def simulate_market(cfg: MarketConfig) -> MarketPath:
    """One seeded market path: spot, realised vol, implied vol, funding and regimes (see MarketConfig)."""
    rngs = streams(cfg.seed)
    n, dt = cfg.n_steps, cfg.dt_years
    draws = simulate_log_returns(cfg, 1, rngs)
    r, z, regimes = draws.log_returns[0], draws.z[0], draws.regimes[0]
    spot = prices_from_log_returns(cfg.s0, r)
    vol0 = cfg.rv0 if cfg.rv0 is not None else cfg.regime_vols[int(regimes[0])]
    rv = ewma_realised_vol(r, dt, cfg.rv_lambda, vol0)
    iv, funding = _iv_and_funding(cfg, rv, z, rngs, n, cfg.steps_per_day)
    return MarketPath(
        t_years=np.arange(n + 1) * dt,
        spot=spot,
        realised_vol=rv,
        iv=iv,
        funding_8h=funding,
        regime=regimes,
        dt_years=dt,
        steps_per_day=cfg.steps_per_day,
        start=_to_datetime64(cfg.start),
        source="simulated",
    )


def _iv_and_funding(
    cfg: MarketConfig, rv: np.ndarray, spot_z: np.ndarray, rngs: dict[str, Generator], n: int, spd: int
) -> tuple[np.ndarray, np.ndarray]:
    """IV and funding paths (n + 1,) on a grid of `spd` steps a day (which may differ from cfg's)."""
    dt = 1.0 / (365.0 * spd)
    iv0 = cfg.iv0 if cfg.iv0 is not None else rv[0] * (1.0 + cfg.iv_premium)
    iv = implied_vol_path(
        rv,
        spot_z,
        rngs["iv"].standard_normal(n),
        dt_years=dt,
        premium=cfg.iv_premium,
        mean_reversion=cfg.iv_mean_reversion,
        vol_of_vol=cfg.iv_vol,
        spot_corr=cfg.iv_spot_corr,
        iv_min=cfg.iv_min,
        iv_max=cfg.iv_max,
        iv0=iv0,
        log_bumps=iv_shock_log_bumps(cfg.shocks, n, spd) if cfg.shocks else None,
    )
    funding = funding_path(
        spot_z,
        rngs["funding"].standard_normal(n),
        dt_years=dt,
        mean=cfg.funding_mean,
        std=cfg.funding_std,
        mean_reversion=cfg.funding_mean_reversion,
        spot_corr=cfg.funding_spot_corr,
        cap=cfg.funding_cap,
        f0=cfg.funding0 if cfg.funding0 is not None else cfg.funding_mean,
        pinned=funding_overrides(cfg.shocks, n, spd) if cfg.shocks else None,
    )
    return iv, funding


def _to_datetime64(value: Any) -> np.datetime64:
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, date) and not isinstance(value, datetime):
        return np.datetime64(value, "D").astype("datetime64[s]")
    return np.datetime64(value, "s")


def _as_times(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[s]")
    return np.array([_to_datetime64(v) for v in arr.tolist()], dtype="datetime64[s]")


def path_from_prices(
    dates_or_times: Sequence[Any] | np.ndarray,
    closes: Sequence[float] | np.ndarray,
    steps_per_day: int = 1,
    cfg: MarketConfig | None = None,
) -> MarketPath:
    """Wrap a price history (e.g. from `load_ohlcv_csv`) as a MarketPath on a uniform grid.

    `dates_or_times`: strictly increasing datetime64 / date / datetime / ISO strings (naive = UTC); each
    close is placed at its time (a date means 00:00 UTC). Every time must fall on the grid of
    `steps_per_day` steps a day counted from the first time (daily dates fit any grid).

    Spot hits every close exactly. Grid points between closes (steps_per_day > 1, or missing days in
    the history) are filled with a seeded Brownian bridge in log space whose per-interval vol is the
    EWMA vol of the closes' returns known at the interval's start (ex ante; the first interval uses
    the vol of the whole history). `cfg.shocks` are applied on top (then spot after a shock no longer
    matches the closes). Realised vol, IV, funding come from the same models as `simulate_market` with
    `cfg`'s parameters and seed; the regime is the `cfg.regime_vols` entry nearest (in log) to the
    realised vol. `cfg.days`, `cfg.steps_per_day`, `cfg.s0`, `cfg.start` and the spot-model parameters
    are not used.
    """
    cfg = cfg if cfg is not None else MarketConfig()
    if not isinstance(steps_per_day, int | np.integer) or not 1 <= steps_per_day <= 1440:
        raise ValueError(f"steps_per_day must be an integer in [1, 1440], got {steps_per_day!r}")
    spd = int(steps_per_day)
    times = _as_times(dates_or_times)
    c = np.asarray(closes, dtype=float)
    if times.ndim != 1 or c.ndim != 1 or times.shape != c.shape:
        raise ValueError(f"dates_or_times {times.shape} and closes {c.shape} must be 1-d of the same length")
    if c.size < 2:
        raise ValueError(f"need at least 2 closes, got {c.size}")
    bad = np.flatnonzero(~(np.isfinite(c) & (c > 0)))
    if bad.size:
        raise ValueError(f"closes[{bad[0]}] = {c[bad[0]]} is not a positive finite price")
    gaps = np.diff(times).astype(np.int64)
    if np.any(gaps <= 0):
        j = int(np.flatnonzero(gaps <= 0)[0])
        raise ValueError(f"dates_or_times must be strictly increasing: [{j}] {times[j]} then {times[j + 1]}")
    step_s = SECONDS_PER_DAY / spd
    pos = (times - times[0]).astype(np.int64) / step_s
    knots = np.rint(pos).astype(np.int64)
    off = np.flatnonzero(np.abs(pos - knots) > 1e-6)
    if off.size:
        raise ValueError(
            f"dates_or_times[{off[0]}] = {times[off[0]]} is not on the grid of "
            f"{spd} steps a day from {times[0]}"
        )
    n = int(knots[-1])
    dt = 1.0 / (365.0 * spd)
    for i, s in enumerate(cfg.shocks):
        check_shock(s, i, n, spd, cfg.funding_cap, where=f"history of {n / spd:g} days")
    rngs = streams(cfg.seed)

    logc = np.log(c)
    interval_r = np.diff(logc)
    interval_t = np.diff(knots) * dt
    sample_vol = math.sqrt(float(np.mean(interval_r**2 / interval_t)))
    interval_vol = _ex_ante_interval_vol(interval_r, interval_t, cfg.rv_lambda, max(sample_vol, 1e-4))
    step_vol = np.repeat(interval_vol, np.diff(knots))
    w = np.concatenate(([0.0], np.cumsum(step_vol * math.sqrt(dt) * rngs["bridge"].standard_normal(n))))
    grid = np.arange(n + 1)
    log_spot = np.interp(grid, knots, logc) + w - np.interp(grid, knots, w[knots])
    spot = np.exp(log_spot)
    spot[knots] = c
    if cfg.shocks:
        spot = spot * np.exp(np.concatenate(([0.0], np.cumsum(shock_log_returns(cfg.shocks, n, spd)))))

    r = np.diff(np.log(spot))
    vol0 = cfg.rv0 if cfg.rv0 is not None else float(interval_vol[0])
    rv = ewma_realised_vol(r, dt, cfg.rv_lambda, vol0)
    z = np.clip(r / (np.maximum(rv[:-1], 1e-6) * math.sqrt(dt)), -_Z_CLIP, _Z_CLIP)
    iv, funding = _iv_and_funding(cfg, rv, z, rngs, n, spd)
    log_vols = np.log(np.asarray(cfg.regime_vols))
    regime = np.argmin(np.abs(np.log(np.maximum(rv, 1e-6))[:, None] - log_vols[None, :]), axis=1)
    return MarketPath(
        t_years=grid * dt,
        spot=spot,
        realised_vol=rv,
        iv=iv,
        funding_8h=funding,
        regime=regime,
        dt_years=dt,
        steps_per_day=spd,
        start=times[0],
        source="history",
    )


def _ex_ante_interval_vol(r: np.ndarray, t: np.ndarray, lam_daily: float, vol0: float) -> np.ndarray:
    """Annualised EWMA vol known at the start of each interval between closes (first = `vol0`)."""
    out = np.empty(r.size)
    v = vol0 * vol0
    for j, (rj, tj) in enumerate(zip(r.tolist(), t.tolist(), strict=True)):
        out[j] = math.sqrt(v)
        lam = lam_daily ** (tj * 365.0)
        v = lam * v + (1.0 - lam) * rj * rj / tj
    return out
