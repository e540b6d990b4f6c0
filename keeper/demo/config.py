"""What a demo run simulates: `DemoConfig` and the market path it drives the chain with."""

from __future__ import annotations

import warnings
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from keeper.guard import GuardParams
from keeper.policy import PolicyConfig
from keeper.sim import MarketConfig, MarketPath, Shock, load_ohlcv_csv, path_from_prices, simulate_market

DEFAULT_DEPOSITS_USD: tuple[float, ...] = (300_000.0, 250_000.0, 200_000.0, 150_000.0, 100_000.0)
WAD = 10**18
USDC = 10**6
DEPOSITOR_NAMES: tuple[str, ...] = ("alice", "bob", "carol", "dave", "erin")


class DemoConfig(BaseModel):
    """One demo run. Every field is validated; errors name the field.

    Market: `days` × `steps_per_day` steps of the seeded simulator (`keeper.sim`), or of a user's daily
    OHLCV history (`prices_csv`, bridged to hourly steps; the last `days` days unless `csv_start`). The
    stress episode (`shock`: a `shock_spot_move` over `shock_hours` with IV × `shock_iv_multiplier` and
    funding pinned at `shock_funding_8h` for `shock_funding_hours`) starts on `shock_day` (default: 40%
    into the run); it is on by default for the simulator and off for a CSV unless `shock=True`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: int = Field(30, ge=1, le=366)
    steps_per_day: int = Field(24, ge=1, le=96)
    seed: int = Field(7, ge=0, le=2**63 - 1)
    s0: float = Field(3000.0, gt=0, description="initial ETH price of the simulator, USD")
    initial_regime: int | None = Field(
        1, ge=0, description="simulator's starting volatility regime (1: normal, 70%); None: drawn"
    )
    prices_csv: Path | None = None
    csv_start: date | None = None

    shock: bool | None = Field(None, description="None: on for the simulator, off for a CSV")
    shock_day: float | None = Field(None, ge=0)
    shock_spot_move: float = Field(-0.25, gt=-0.9, le=2.0)
    shock_hours: float = Field(24.0, gt=0, le=24.0 * 30)
    shock_iv_multiplier: float = Field(1.8, gt=0, le=10)
    shock_funding_8h: float = Field(-0.0005, ge=-0.0075, le=0.0075)
    shock_funding_hours: float = Field(72.0, ge=0, le=24.0 * 60)

    depositors_usd: tuple[float, ...] = Field(DEFAULT_DEPOSITS_USD, min_length=1, max_length=5)
    deposit_rate_per_day: float = Field(
        0.15, ge=0, le=24, description="top-up deposits per depositor per day"
    )
    exit_rate_per_day: float = Field(0.1, ge=0, le=24, description="exits per depositor per day")
    queued_exit_fraction: float = Field(0.4, ge=0, le=1, description="share of bob's shares he queues")
    insurance_seed_usd: float = Field(20_000.0, ge=0)

    pool_liquidity_usd: float = Field(100_000_000.0, gt=0)
    arb_max_notional_usd: float = Field(5_000_000.0, gt=0, description="arbitrage cap per step")
    arb_tolerance_bps: float = Field(1.0, ge=0, le=100)
    funding_update_hours: int = Field(8, ge=1, le=24, description="funding feed published every N hours")

    option_moneyness: tuple[float, ...] = Field((1.05, 1.10, 1.16), min_length=1, max_length=6)
    option_listing_tenor_days: int = Field(7, ge=1, le=60)
    option_cap_fraction: float = Field(0.3, gt=0, le=2, description="call payout cap / strike")

    policy: PolicyConfig = PolicyConfig()
    guard: GuardParams = Field(
        GuardParams(
            max_net_delta_wad=30 * WAD,
            min_margin_ratio_wad=15 * WAD // 10,
            max_leverage_wad=3 * WAD,
            max_slippage_bps=50,
            min_action_interval_sec=0,
            max_notional_per_action_assets=5_000_000 * USDC,
            delta_trigger_wad=2 * WAD,
            margin_trigger_wad=2 * WAD,
        ),
        description="RiskGuard bounds; the net-delta cap must hold a covered-call sale before its hedge",
    )

    @model_validator(mode="after")
    def _fits(self) -> DemoConfig:
        if self.shock_day is not None and self.shock_day + self.shock_hours / 24.0 > self.days:
            raise ValueError(
                f"shock_day {self.shock_day} + {self.shock_hours:g} h ends after the run's {self.days} days"
            )
        if self.option_listing_tenor_days < self.policy.option_min_tenor_days:
            raise ValueError(
                f"option_listing_tenor_days {self.option_listing_tenor_days} is shorter than the policy's "
                f"option_min_tenor_days {self.policy.option_min_tenor_days}: the keeper could never sell"
            )
        return self

    @property
    def shock_enabled(self) -> bool:
        return self.shock if self.shock is not None else self.prices_csv is None

    def shock_start_day(self, days: float) -> float:
        if self.shock_day is not None:
            return self.shock_day
        latest = max(days - self.shock_hours / 24.0, 0.0)
        return float(min(max(round(days * 0.4), 0), np.floor(latest)))

    def shocks(self, days: float) -> tuple[Shock, ...]:
        if not self.shock_enabled:
            return ()
        return (
            Shock(
                day=self.shock_start_day(days),
                spot_move=self.shock_spot_move,
                hours=self.shock_hours,
                iv_multiplier=self.shock_iv_multiplier,
                funding_8h=self.shock_funding_8h,
                funding_hours=self.shock_funding_hours,
            ),
        )


def market_path(cfg: DemoConfig) -> MarketPath:
    """The run's market: simulated (seeded) or the CSV's closes bridged to `steps_per_day` (seeded)."""
    if cfg.prices_csv is None:
        return simulate_market(
            MarketConfig(
                seed=cfg.seed,
                days=cfg.days,
                steps_per_day=cfg.steps_per_day,
                s0=cfg.s0,
                initial_regime=cfg.initial_regime,
                shocks=cfg.shocks(cfg.days),
            )
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rows with a null Close are skipped; the bridge fills the gap
        dates, closes = load_ohlcv_csv(cfg.prices_csv)
    last = dates[-1].astype(date)
    start = cfg.csv_start if cfg.csv_start is not None else last - timedelta(days=cfg.days)
    end = start + timedelta(days=cfg.days)
    d64 = np.datetime64(start, "D"), np.datetime64(end, "D")
    sel = (dates >= d64[0]) & (dates <= d64[1])
    if int(sel.sum()) < 2:
        raise ValueError(
            f"{cfg.prices_csv}: fewer than 2 closes between {start} and {end} "
            f"(the file covers {dates[0]}..{dates[-1]})"
        )
    days = float((dates[sel][-1] - dates[sel][0]).astype(int))
    return path_from_prices(
        dates[sel],
        closes[sel],
        steps_per_day=cfg.steps_per_day,
        cfg=MarketConfig(
            seed=cfg.seed,
            days=max(int(days), 1),
            steps_per_day=cfg.steps_per_day,
            shocks=cfg.shocks(days),
        ),
    )
