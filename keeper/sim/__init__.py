"""Seeded, deterministic market paths for tests, benchmarks, the backtester and the demo.

    from keeper.sim import MarketConfig, Shock, simulate_market
    path = simulate_market(MarketConfig(seed=7, days=30, steps_per_day=24,
                                        shocks=[Shock(day=10, spot_move=-0.25)]))

Modules: `config` (MarketConfig, Shock), `spot` (regime-switching GBM with Merton jumps), `vol` (EWMA
realised vol, implied vol), `funding` (clamped OU funding rate), `csvload` (OHLCV CSV), `paths`
(MarketPath and the public generators). Units: years of 365 days, annualised vols, funding per 8 hours
(positive = longs pay shorts).
"""

from keeper.sim.config import MarketConfig, Shock
from keeper.sim.csvload import SkippedRowsWarning, load_ohlcv_csv
from keeper.sim.funding import FUNDING_PERIODS_PER_YEAR, funding_annualised, funding_for_period
from keeper.sim.paths import MarketPath, MarketPoint, path_from_prices, simulate_market, simulate_spot_paths
from keeper.sim.vol import ewma_realised_vol

__all__ = [
    "FUNDING_PERIODS_PER_YEAR",
    "MarketConfig",
    "MarketPath",
    "MarketPoint",
    "Shock",
    "SkippedRowsWarning",
    "ewma_realised_vol",
    "funding_annualised",
    "funding_for_period",
    "load_ohlcv_csv",
    "path_from_prices",
    "simulate_market",
    "simulate_spot_paths",
]
