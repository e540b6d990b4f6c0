"""The backtest's model against the chain: the on-chain demo (`keeper.demo.run_demo`: real contracts,
Uniswap V3, the keeper service) and `keeper.backtest.run_path` on the same market path, with the
depositors' random flows off (the demo's scheduled 2 % withdrawal at step 2 is mirrored; bob's queued
exit is off: `queued_exit_fraction=0`), the same policy, guard and venue constants.

Stated tolerance (what is asserted):
- final share price within `SHARE_PRICE_TOL_BP` basis points of the demo's;
- final NAV within `NAV_TOL_FRAC` of the demo's;
- rebalance count within ±`COUNT_TOL_FRAC` (and at least ±2) of the demo's confirmed rebalances;
- the same number of option sales, settlements, reports and insurance draws (cover_loss), and no
  liquidation in the model.

Measured (seed 7, 2 days, shock on day 1, this commit): share price 0.996095 (model) vs 0.996185
(chain), 0.9 bp; NAV 994,157.50 vs 994,246.89 USD (−89 USD, 0.9e-4); rebalances 26 vs 27; option
sales 1 vs 1; reports 2 vs 2; cover_loss 2 vs 2. The chain also sent 4 `poke_oracle` (oracle
breakers tripping around the shock); the model has the spot breaker only (no IV breaker), and sent none.

Residual differences (why the figures are not equal): the model prices option sales and marks the
option leg with float Black-76 at the IV feed's mid, while the chain uses the fixed-point pricer's
rounding bounds (the leg's NAV is marked at the bound that favours the vault); the model's pool is an
exact constant product re-pegged to the oracle every step, the chain's arbitrageur stops within 1 bp
and works on ticks; on chain every transaction is its own block one second later, so funding and fees
accrue a few extra seconds per cycle; the chain's management fee also accrues on every deposit,
withdrawal and action touch, the model's at reports and flows only.
"""

from __future__ import annotations

import json

import pytest

from keeper.backtest import BacktestSettings, run_path
from keeper.demo import DemoConfig, market_path, run_demo

AGREE_DAYS = 2
SHARE_PRICE_TOL_BP = 5.0
NAV_TOL_FRAC = 0.0005
COUNT_TOL_FRAC = 0.2


@pytest.fixture(scope="module")
def agreement_runs(deterministic_clock, tmp_path_factory):
    out = tmp_path_factory.mktemp("bt-vs-demo")
    cfg = DemoConfig(
        days=AGREE_DAYS,
        seed=7,
        shock_day=1.0,
        deposit_rate_per_day=0.0,
        exit_rate_per_day=0.0,
        queued_exit_fraction=0.0,
    )
    demo = run_demo(cfg, out, block_interval=False)
    summary = json.loads(demo.files["summary"].read_text())
    settings = BacktestSettings(
        guard=cfg.guard, deposits_usd=cfg.depositors_usd, insurance_seed_usd=cfg.insurance_seed_usd
    )
    bt = run_path(market_path(cfg), cfg.policy, settings)
    (out / "agreement.json").write_text(
        json.dumps(
            {"demo": summary["vault"] | summary["keeper"], "backtest": bt.row()}, indent=2, default=str
        )
    )
    print(
        "AGREEMENT",
        json.dumps(
            {
                "demo_share_price": summary["vault"]["share_price"],
                "bt_share_price": bt.share_price_end,
                "demo_nav": summary["vault"]["nav_usd"],
                "bt_nav": bt.nav_end_usd,
                "demo_actions": summary["keeper"]["actions_confirmed"],
                "bt": {
                    "rebalance": bt.rebalances,
                    "trade_option": bt.option_trades,
                    "settle": bt.settlements,
                    "report": bt.reports,
                    "reverts": bt.reverts,
                    "liquidations": bt.liquidations,
                },
                "demo_errors": summary["keeper"]["cycle_error_kinds"],
            }
        ),
    )
    return summary, bt


def test_backtest_vs_demo__share_price_and_nav_agree(agreement_runs):
    summary, bt = agreement_runs
    demo_price = summary["vault"]["share_price"]
    diff_bp = abs(bt.share_price_end / demo_price - 1) * 1e4
    assert diff_bp <= SHARE_PRICE_TOL_BP, (
        f"share price {bt.share_price_end} vs demo {demo_price}: {diff_bp:.2f} bp"
    )
    demo_nav = summary["vault"]["nav_usd"]
    assert abs(bt.nav_end_usd / demo_nav - 1) <= NAV_TOL_FRAC, (bt.nav_end_usd, demo_nav)


def test_backtest_vs_demo__action_counts_agree(agreement_runs):
    summary, bt = agreement_runs
    confirmed = summary["keeper"]["actions_confirmed"]
    demo_reb = confirmed.get("rebalance", 0)
    assert abs(bt.rebalances - demo_reb) <= max(2, COUNT_TOL_FRAC * demo_reb), (bt.rebalances, demo_reb)
    assert bt.option_trades == confirmed.get("trade_option", 0)
    assert bt.settlements == confirmed.get("settle_option", 0)
    assert bt.reports == confirmed.get("report", 0)
    assert bt.cover_losses == confirmed.get("cover_loss", 0)
    assert bt.liquidations == 0
