"""`keeper backtest`: the live keeper's `policy.decide` run off chain over many market paths against a
model of the vault and its venues (`keeper.backtest.model`), with per-path figures, sweeps, CSV and PNG.

    from keeper.backtest import BacktestSettings, run_backtest
    results = run_backtest(paths, PolicyConfig(), BacktestSettings())
"""

from keeper.backtest.engine import BacktestSettings, PathResult, run_backtest, run_path, simulate_paths
from keeper.backtest.model import VaultModel, VenueParams

__all__ = [
    "BacktestSettings",
    "PathResult",
    "VaultModel",
    "VenueParams",
    "run_backtest",
    "run_path",
    "simulate_paths",
]
