"""`keeper.backtest`: determinism (same seed, same results), sweeps, outputs, and the model's venues."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from keeper.backtest import VaultModel, VenueParams, run_backtest, run_path, simulate_paths
from keeper.backtest.engine import default_guard
from keeper.backtest.model import USDC, WAD, Series
from keeper.backtest.report import write_results_csv
from keeper.cli import main
from keeper.policy import PolicyConfig, Rebalance
from keeper.sim import path_from_prices


@pytest.fixture(scope="module")
def bt_two_paths():
    return simulate_paths(2, 2, seed=11)


def test_backtest__same_seed__identical_csv(bt_two_paths, tmp_path):
    a = run_backtest(bt_two_paths, PolicyConfig())
    b = run_backtest(simulate_paths(2, 2, seed=11), PolicyConfig())
    write_results_csv(tmp_path / "a.csv", a)
    write_results_csv(tmp_path / "b.csv", b)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    c = run_backtest(simulate_paths(2, 2, seed=12), PolicyConfig())
    assert [r.share_price_end for r in c] != [r.share_price_end for r in a]


def test_backtest__sweep__one_result_per_path_and_combination(bt_two_paths):
    res = run_backtest(
        bt_two_paths,
        PolicyConfig(),
        sweeps={"risk_aversion": [1e-4, 1e-2], "option_target_delta": [0.15, 0.25]},
    )
    assert len(res) == 8
    assert {tuple(sorted(r.params.items())) for r in res} == {
        (("option_target_delta", d), ("risk_aversion", g)) for d in (0.15, 0.25) for g in (1e-4, 1e-2)
    }
    # a wider band (lower risk aversion) never trades more often on the same path
    by = {(r.path_id, r.params["risk_aversion"], r.params["option_target_delta"]): r for r in res}
    assert by[(0, 1e-4, 0.25)].rebalances <= by[(0, 1e-2, 0.25)].rebalances


def test_backtest__sweep__invalid_value_is_rejected(bt_two_paths):
    with pytest.raises(ValueError, match="option_target_delta"):
        run_backtest(bt_two_paths[:1], PolicyConfig(), sweeps={"option_target_delta": [1.5]})


def test_backtest__path__figures_are_consistent(bt_two_paths):
    r = run_path(bt_two_paths[0][1], PolicyConfig())
    assert r.steps == 48 and r.reports == 2
    assert r.rebalances > 0 and r.option_trades == 1 and r.reverts == 0
    assert r.hedge_cost_usd == pytest.approx(r.perp_fees_usd + r.spot_costs_usd)
    assert 0 <= r.max_drawdown < 0.05
    assert abs(r.max_abs_net_delta_eth) <= default_guard().max_net_delta_wad / WAD
    assert r.share_price_end == pytest.approx(r.share_price_start * (1 + r.period_return))


def test_backtest__csv_history__runs_on_prices():
    days = np.arange("2024-01-01", "2024-01-04", dtype="datetime64[D]")
    path = path_from_prices(days, [2_300.0, 2_350.0, 2_280.0], steps_per_day=24)
    r = run_path(path, PolicyConfig())
    assert r.steps == 48 and r.nav_end_usd > 900_000


def _model() -> VaultModel:
    return VaultModel(default_guard(), VenueParams(), 1_704_067_200, 3_000.0, 0.7, 0.0001, 20_000.0, 3_600)


def test_backtest_model__perp_liquidated_below_maintenance__penalty_taken():
    m = _model()
    m.deposit(1_000_000 * USDC)
    m.apply(
        Rebalance(
            expected_nonce=0,
            deadline=m.t + 600,
            perp_size_delta_wad=-10 * WAD,
            perp_limit_price_wad=2_990 * WAD,
            perp_margin_delta_assets=4_000 * USDC,
            reason="test",
        )
    )
    assert m.p_size == -10 * WAD
    m.advance(3_340.0, 0.7, None)  # +11 %: equity ≈ 4,000 − 3,400 < 5 % of 33,400
    assert m.c.liquidations == 1 and m.p_size == 0
    assert 0 <= m.p_margin < 4_000 * USDC


def test_backtest_model__guard_violation__action_reverts_and_state_is_restored():
    m = _model()
    m.deposit(1_000_000 * USDC)
    idle, nonce = m.idle, m.nonce
    too_big = Rebalance(
        expected_nonce=0,
        deadline=m.t + 600,
        perp_size_delta_wad=-40 * WAD,
        perp_limit_price_wad=2_990 * WAD,
        perp_margin_delta_assets=30_000 * USDC,
        reason="test",
    )
    assert not m.apply(too_big)  # net delta −40 ETH > the guard's 30 ETH cap
    assert (m.idle, m.nonce, m.p_size, m.p_margin) == (idle, nonce, 0, 0)
    assert m.c.reverts == {"rebalance": 1}


def test_backtest_model__option_settles_at_the_capped_payout():
    m = _model()
    m.deposit(1_000_000 * USDC)
    m.series = {0: Series(0, 3_150 * WAD, 945 * WAD, m.t + 3_600)}
    assert m._sell_option(0, 2 * WAD, 0, 2_000 * USDC)
    idle = m.idle
    m.advance(5_000.0, 0.7, None)  # far beyond strike + cap
    assert m._settle_option(0)
    assert m.idle == idle + 2 * 945 * USDC - 2 * 945 * USDC  # collateral back minus the capped payout


def test_cli_backtest__writes_csv_and_pngs(tmp_path):
    out = tmp_path / "bt"
    res = CliRunner().invoke(
        main,
        [
            "backtest",
            "--paths",
            "1",
            "--days",
            "1",
            "--seed",
            "2",
            "--no-progress",
            "--sweep",
            "risk_aversion=1e-4,1e-2",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    for name in ("results.csv", "summary.csv", "returns.png", "drawdown.png", "sweep.png"):
        assert (out / name).stat().st_size > 0
    assert len((out / "results.csv").read_text().splitlines()) == 3


def test_cli_backtest__bad_sweep__clear_error(tmp_path):
    res = CliRunner().invoke(main, ["backtest", "--sweep", "nonsense=1,2", "--out", str(tmp_path)])
    assert res.exit_code != 0 and "PolicyConfig field" in res.output
