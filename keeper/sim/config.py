"""Configuration of the market simulator: `MarketConfig` and scheduled stress episodes (`Shock`).

Units used throughout `keeper.sim`:

- time: years of 365 days (`t_years`, `dt_years`); "days" are 24-hour calendar days;
- volatilities: annualised, as fractions (0.70 = 70 %/yr);
- rates: `mu` is an annual log-drift; intensities are per year;
- funding: the perpetual funding rate per 8 hours as a fraction (0.0001 = 0.01 %/8h), positive when
  longs pay shorts.

Every field is validated with bounds; a bad value raises `pydantic.ValidationError` (a `ValueError`)
whose message names the field.
"""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Regime transition probabilities per day (row = from, column = to) for the default three regimes
# calm / normal / stressed. Stationary mix ≈ 38 % / 51 % / 11 %, i.e. about 71 % annualised diffusive vol;
# mean stays: calm ~33 days, normal ~25 days, stressed ~10 days.
DEFAULT_REGIME_VOLS: tuple[float, ...] = (0.45, 0.70, 1.30)
DEFAULT_REGIME_TRANSITION: tuple[tuple[float, ...], ...] = (
    (0.970, 0.029, 0.001),
    (0.020, 0.960, 0.020),
    (0.010, 0.090, 0.900),
)
MAX_REGIMES = 8
MAX_STEPS = 10_000_000  # ~80 MB per float array: bounds memory of one path
_ROW_SUM_TOLERANCE = 1e-6


class Shock(BaseModel):
    """A scheduled stress episode applied on top of the random path.

    Starting `day` days after the start of the path, spot moves by `spot_move` (−0.25 = −25 %) spread
    evenly in log space over `hours`; over the same window implied vol is multiplied by `iv_multiplier`
    (then mean-reverts); the funding rate is pinned to `funding_8h` (per 8 hours) for `funding_hours`
    and mean-reverts afterwards (`funding_8h=None` leaves funding alone). The regime chain is not
    altered, so the shocked path and the unshocked path with the same seed differ only by the shock.

    Windows are rounded to whole steps: the shock starts at step `round(day * steps_per_day)` and lasts
    `max(1, round(hours * steps_per_day / 24))` steps (funding: `round(funding_hours * steps_per_day / 24)`,
    cut at the end of the path).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    day: float = Field(ge=0.0, le=36_500.0, description="start, in days after the path's start")
    spot_move: float = Field(gt=-1.0, le=10.0, description="total spot return over the window, -0.25 = -25%")
    hours: float = Field(24.0, gt=0.0, le=24.0 * 365, description="length of the spot/IV window, hours")
    iv_multiplier: float = Field(1.8, gt=0.0, le=20.0, description="factor applied to IV over the window")
    funding_8h: float | None = Field(-0.0005, ge=-0.1, le=0.1, description="pinned 8h funding rate")
    funding_hours: float = Field(72.0, ge=0.0, le=24.0 * 365, description="how long funding is pinned, hours")

    def start_step(self, steps_per_day: int) -> int:
        """Index of the path point where the shock starts."""
        return round(self.day * steps_per_day)

    def n_steps(self, steps_per_day: int) -> int:
        """Number of steps over which the spot move and the IV spike are spread (at least one)."""
        return max(1, round(self.hours * steps_per_day / 24.0))

    def n_funding_steps(self, steps_per_day: int) -> int:
        """Number of path points (after the start) at which funding is pinned."""
        return round(self.funding_hours * steps_per_day / 24.0)


class MarketConfig(BaseModel):
    """All parameters of a simulated ETH market path; defaults are ETH-like.

    Spot: GBM log-returns with annual drift `mu`, per-regime diffusive volatility `regime_vols` selected by
    a Markov chain with per-day transition matrix `regime_transition`, plus Merton jumps (Poisson,
    `jump_intensity` per year, log jump size ~ N(`jump_mean`, `jump_std`²)) compensated so that
    E[S_t] = s0·exp(mu·t) whatever the jump parameters.

    Realised vol: EWMA of squared log returns with decay `rv_lambda` per day (RiskMetrics 0.94), rescaled
    to the step size, annualised.

    Implied vol (30-day ATM): log IV is an Ornstein–Uhlenbeck process pulled at rate `iv_mean_reversion`
    (per year) toward log(realised_vol · (1 + `iv_premium`)), with its own noise (`iv_vol`, annualised vol
    of log IV) correlated `iv_spot_corr` with spot shocks, clamped to [`iv_min`, `iv_max`].

    Funding: the 8-hour rate is an OU process around `funding_mean` with stationary standard deviation
    `funding_std` and mean-reversion rate `funding_mean_reversion` (per year), its noise correlated
    `funding_spot_corr` with spot shocks (positive: sell-offs push funding down), clamped to
    ±`funding_cap` like real perpetual venues.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = Field(0, ge=0, le=2**63 - 1, description="seed of every random stream")
    days: int = Field(30, ge=1, le=36_500, description="length of the path in days")
    steps_per_day: int = Field(24, ge=1, le=1440, description="steps per day (24 = hourly)")
    start: datetime = Field(datetime(2024, 1, 1), description="timestamp of the first point (naive = UTC)")
    s0: float = Field(3000.0, gt=0.0, le=1e9, description="initial spot, USD")

    mu: float = Field(0.0, ge=-5.0, le=5.0, description="annual drift (E[S_t] = s0 exp(mu t))")
    regime_vols: tuple[float, ...] = Field(
        DEFAULT_REGIME_VOLS, min_length=1, max_length=MAX_REGIMES, description="diffusive vol per regime"
    )
    regime_transition: tuple[tuple[float, ...], ...] = Field(
        DEFAULT_REGIME_TRANSITION, description="per-day regime transition matrix, rows sum to 1"
    )
    initial_regime: int | None = Field(None, ge=0, description="None: drawn from the stationary mix")

    jump_intensity: float = Field(4.0, ge=0.0, le=1000.0, description="expected jumps per year")
    jump_mean: float = Field(-0.02, ge=-1.0, le=1.0, description="mean log jump size")
    jump_std: float = Field(0.06, ge=0.0, le=1.0, description="std of the log jump size")

    rv_lambda: float = Field(0.94, gt=0.0, lt=1.0, description="EWMA decay per day of the realised vol")
    rv0: float | None = Field(None, gt=0.0, le=10.0, description="initial realised vol; None: regime vol")

    iv_premium: float = Field(0.10, gt=-0.9, le=5.0, description="variance risk premium: IV/RV - 1 target")
    iv_mean_reversion: float = Field(25.0, gt=0.0, le=10_000.0, description="pull of log IV, per year")
    iv_vol: float = Field(0.9, ge=0.0, le=20.0, description="annualised vol of log IV")
    iv_spot_corr: float = Field(-0.5, ge=-1.0, le=1.0, description="corr(IV noise, spot shocks)")
    iv_min: float = Field(0.15, gt=0.0, le=20.0, description="IV floor")
    iv_max: float = Field(3.0, gt=0.0, le=20.0, description="IV cap")
    iv0: float | None = Field(None, gt=0.0, le=20.0, description="initial IV; None: rv0 * (1 + premium)")

    funding_mean: float = Field(0.0001, ge=-0.1, le=0.1, description="long-run mean 8h funding rate")
    funding_std: float = Field(0.00015, ge=0.0, le=0.1, description="stationary std of the 8h rate")
    funding_mean_reversion: float = Field(
        84.0, gt=0.0, le=100_000.0, description="pull toward the mean, per year (84 ≈ 3-day half-life)"
    )
    funding_spot_corr: float = Field(0.3, ge=-1.0, le=1.0, description="corr(funding noise, spot shocks)")
    funding_cap: float = Field(0.0075, gt=0.0, le=0.1, description="venue clamp on |8h rate|")
    funding0: float | None = Field(None, ge=-0.1, le=0.1, description="initial 8h rate; None: the mean")

    shocks: tuple[Shock, ...] = Field((), description="scheduled stress episodes")

    @field_validator("regime_vols")
    @classmethod
    def _vols_positive(cls, vols: tuple[float, ...]) -> tuple[float, ...]:
        for i, v in enumerate(vols):
            if not (math.isfinite(v) and 0.0 < v <= 10.0):
                raise ValueError(f"regime_vols[{i}] = {v} must be in (0, 10]")
        return vols

    @field_validator("regime_transition")
    @classmethod
    def _transition_stochastic(cls, rows: tuple[tuple[float, ...], ...]) -> tuple[tuple[float, ...], ...]:
        k = len(rows)
        if not 1 <= k <= MAX_REGIMES:
            raise ValueError(f"regime_transition must have 1..{MAX_REGIMES} rows, got {k}")
        for i, row in enumerate(rows):
            if len(row) != k:
                raise ValueError(f"regime_transition must be square: row {i} has {len(row)} entries, not {k}")
            for j, p in enumerate(row):
                if not (math.isfinite(p) and 0.0 <= p <= 1.0):
                    raise ValueError(f"regime_transition[{i}][{j}] = {p} is not a probability in [0, 1]")
            if abs(sum(row) - 1.0) > _ROW_SUM_TOLERANCE:
                raise ValueError(f"regime_transition row {i} sums to {sum(row)}, not 1")
        return rows

    @model_validator(mode="after")
    def _consistent(self) -> MarketConfig:
        if self.n_steps > MAX_STEPS:
            raise ValueError(
                f"days * steps_per_day = {self.n_steps} steps exceeds {MAX_STEPS:,}; use fewer days or steps"
            )
        k = len(self.regime_vols)
        if len(self.regime_transition) != k:
            raise ValueError(
                f"regime_transition is {len(self.regime_transition)}x{len(self.regime_transition)} "
                f"but regime_vols has {k} regimes"
            )
        if self.initial_regime is not None and self.initial_regime >= k:
            raise ValueError(f"initial_regime = {self.initial_regime} but there are only {k} regimes")
        if self.iv_min >= self.iv_max:
            raise ValueError(f"iv_min = {self.iv_min} must be below iv_max = {self.iv_max}")
        if self.iv0 is not None and not self.iv_min <= self.iv0 <= self.iv_max:
            raise ValueError(f"iv0 = {self.iv0} is outside [iv_min, iv_max] = [{self.iv_min}, {self.iv_max}]")
        cap = self.funding_cap
        if abs(self.funding_mean) > cap:
            raise ValueError(f"funding_mean = {self.funding_mean} is outside ±funding_cap = {cap}")
        if self.funding0 is not None and abs(self.funding0) > cap:
            raise ValueError(f"funding0 = {self.funding0} is outside ±funding_cap = {cap}")
        n = self.n_steps
        for i, s in enumerate(self.shocks):
            check_shock(s, i, n, self.steps_per_day, cap, where=f"days = {self.days}")
        return self

    @property
    def n_steps(self) -> int:
        """Number of steps; a path has `n_steps + 1` points including t = 0."""
        return self.days * self.steps_per_day

    @property
    def dt_years(self) -> float:
        """Step length in years (365-day year)."""
        return 1.0 / (365.0 * self.steps_per_day)


def check_shock(
    shock: Shock, index: int, n_steps: int, steps_per_day: int, funding_cap: float, where: str
) -> None:
    """Raise ValueError (naming `shocks[index]`) if the shock's window does not fit a path of `n_steps`."""
    i0 = shock.start_step(steps_per_day)
    end = i0 + shock.n_steps(steps_per_day)
    if end > n_steps:
        raise ValueError(
            f"shocks[{index}]: window ends at step {end} (day {shock.day} + {shock.hours} h) "
            f"beyond the path's {n_steps} steps ({where})"
        )
    if shock.funding_8h is not None and abs(shock.funding_8h) > funding_cap:
        raise ValueError(
            f"shocks[{index}].funding_8h = {shock.funding_8h} is outside ±funding_cap = {funding_cap}"
        )
