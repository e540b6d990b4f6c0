"""keeper.sim: seeded market paths (spot, realised/implied vol, funding), shocks and the OHLCV CSV loader.

Pure tests: no chain. Statistical tests compare estimators with theory within 5 standard errors, computed
from independent paths, so they fail when the model is wrong but not by bad luck (the seeds are fixed).
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from keeper.sim import (
    FUNDING_PERIODS_PER_YEAR,
    MarketConfig,
    MarketPath,
    Shock,
    SkippedRowsWarning,
    ewma_realised_vol,
    funding_annualised,
    load_ohlcv_csv,
    path_from_prices,
    simulate_market,
    simulate_spot_paths,
)
from keeper.sim.spot import simulate_regimes, stationary_distribution, step_transition, streams

ETH_CSV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ETH-USD.csv"
YAHOO_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"
ARRAYS = ("t_years", "spot", "realised_vol", "iv", "funding_8h", "regime")
FAST = settings(max_examples=30, deadline=None, derandomize=True, database=None)  # reproducible in CI


def assert_paths_equal(a: MarketPath, b: MarketPath) -> None:
    for name in ARRAYS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def write_csv(tmp_path: Path, text: str, name: str = "prices.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


# --- determinism ------------------------------------------------------------------------------------


@FAST
@given(seed=st.integers(0, 2**32), steps_per_day=st.sampled_from([1, 3, 24]))
def test_simulate_market__with_same_seed__is_identical(seed: int, steps_per_day: int) -> None:
    cfg = MarketConfig(seed=seed, days=5, steps_per_day=steps_per_day, shocks=[Shock(day=2, spot_move=-0.1)])
    assert_paths_equal(simulate_market(cfg), simulate_market(cfg))


def test_simulate_market__with_different_seeds__differs() -> None:
    a, b = simulate_market(MarketConfig(seed=1)), simulate_market(MarketConfig(seed=2))
    for name in ("spot", "iv", "funding_8h"):
        assert not np.array_equal(getattr(a, name)[1:], getattr(b, name)[1:]), name


def test_simulate_market__changing_funding_params__leaves_spot_and_iv_identical() -> None:
    base = simulate_market(MarketConfig(seed=11))
    other = simulate_market(
        MarketConfig(
            seed=11, funding_mean=0.0003, funding_std=0.0004, funding_mean_reversion=10.0, funding_cap=0.01
        )
    )
    for name in ("spot", "realised_vol", "iv", "regime"):
        assert np.array_equal(getattr(base, name), getattr(other, name)), name
    assert not np.array_equal(base.funding_8h, other.funding_8h)


def test_simulate_market__changing_iv_params__leaves_spot_and_funding_identical() -> None:
    base = simulate_market(MarketConfig(seed=11))
    other = simulate_market(MarketConfig(seed=11, iv_premium=0.3, iv_vol=2.0, iv_mean_reversion=5.0))
    for name in ("spot", "realised_vol", "funding_8h", "regime"):
        assert np.array_equal(getattr(base, name), getattr(other, name)), name
    assert not np.array_equal(base.iv, other.iv)


@pytest.mark.parametrize("n_paths", [1, 7, 300])
def test_simulate_spot_paths__first_row__equals_simulate_market_spot(n_paths: int) -> None:
    cfg = MarketConfig(seed=5, days=10, jump_intensity=50.0, shocks=[Shock(day=3, spot_move=0.2)])
    spots = simulate_spot_paths(cfg, n_paths=n_paths)
    assert spots.shape == (n_paths, cfg.n_steps + 1)
    assert np.array_equal(spots[0], simulate_market(cfg).spot)


def test_simulate_spot_paths__with_same_seed__is_identical_and_rows_differ() -> None:
    cfg = MarketConfig(seed=9, days=3)
    a, b = simulate_spot_paths(cfg, 50), simulate_spot_paths(cfg, 50)
    assert np.array_equal(a, b)
    assert np.all(a[:, 0] == cfg.s0)
    assert len({row.tobytes() for row in a}) == 50
    assert not np.array_equal(a, simulate_spot_paths(MarketConfig(seed=10, days=3), 50))


def test_simulate_spot_paths__with_bad_n_paths__raises() -> None:
    with pytest.raises(ValueError, match="n_paths"):
        simulate_spot_paths(MarketConfig(days=1), 0)


# --- statistics -------------------------------------------------------------------------------------


def test_simulate_spot_paths__annualised_vol__matches_stationary_regime_mix_plus_jumps() -> None:
    cfg = MarketConfig(seed=1, days=30, steps_per_day=24)
    spots = simulate_spot_paths(cfg, 2000)
    r = np.diff(np.log(spots), axis=1)
    per_path_var = (r**2).mean(axis=1) / cfg.dt_years  # independent across paths
    pi = stationary_distribution(np.asarray(cfg.regime_transition))
    expected = float(pi @ np.square(cfg.regime_vols)) + cfg.jump_intensity * (
        cfg.jump_mean**2 + cfg.jump_std**2
    )
    se = per_path_var.std(ddof=1) / math.sqrt(per_path_var.size)
    assert abs(per_path_var.mean() - expected) < 5 * se
    assert 5 * se < 0.1 * expected  # the test can tell a wrong vol from a right one


def test_simulate_spot_paths__single_regime_no_jumps__log_returns_match_gbm() -> None:
    sigma, mu = 0.8, 0.5
    cfg = MarketConfig(
        seed=2,
        days=10,
        steps_per_day=24,
        mu=mu,
        regime_vols=(sigma,),
        regime_transition=((1.0,),),
        jump_intensity=0,
    )
    r = np.diff(np.log(simulate_spot_paths(cfg, 2000)), axis=1).ravel()  # iid N((mu - σ²/2)dt, σ²dt)
    dt, n = cfg.dt_years, r.size
    mean, var = (mu - 0.5 * sigma**2) * dt, sigma**2 * dt
    assert abs(r.mean() - mean) < 5 * math.sqrt(var / n)
    assert abs(r.var(ddof=1) - var) < 5 * var * math.sqrt(2.0 / (n - 1))
    excess_kurtosis = np.mean((r - r.mean()) ** 4) / r.var() ** 2 - 3.0
    assert abs(excess_kurtosis) < 5 * math.sqrt(24.0 / n)


def test_simulate_spot_paths__with_strong_jumps__mean_price_grows_at_mu() -> None:
    """The jump compensator keeps E[S_T] = s0 exp(mu T); without it the mean would be ~6 % lower here."""
    mu = 0.2
    cfg = MarketConfig(
        seed=3, days=30, steps_per_day=4, mu=mu, jump_intensity=30.0, jump_mean=-0.05, jump_std=0.05
    )
    s_t = simulate_spot_paths(cfg, 8000)[:, -1]
    t = cfg.days / 365.0
    expected = cfg.s0 * math.exp(mu * t)
    se = s_t.std(ddof=1) / math.sqrt(s_t.size)
    assert abs(s_t.mean() - expected) < 5 * se
    uncompensated = expected * math.exp(
        cfg.jump_intensity * math.expm1(cfg.jump_mean + 0.5 * cfg.jump_std**2) * t
    )
    assert abs(uncompensated - expected) > 10 * se


def test_step_transition__hourly_power__recovers_daily_matrix() -> None:
    p = np.asarray(MarketConfig().regime_transition)
    step = step_transition(MarketConfig().regime_transition, 24)
    assert np.all(step >= 0) and np.allclose(step.sum(axis=1), 1.0)
    assert np.allclose(np.linalg.matrix_power(step, 24), p, atol=1e-9)


def test_simulate_regimes__daily_transitions_and_occupancy__match_config() -> None:
    cfg = MarketConfig(seed=4, days=60, steps_per_day=24)
    regimes = simulate_regimes(cfg, 3000, streams(cfg.seed)["regimes"])
    p = np.asarray(cfg.regime_transition)
    pi = stationary_distribution(p)
    start = regimes[:, 0]
    counts = np.bincount(start, minlength=3)
    assert np.all(np.abs(counts / start.size - pi) < 5 * np.sqrt(pi * (1 - pi) / start.size))
    daily = regimes[:, ::24]
    frm, to = daily[:, :-1].ravel(), daily[:, 1:].ravel()
    for i in range(3):
        n_i = np.count_nonzero(frm == i)
        freq = np.bincount(to[frm == i], minlength=3) / n_i
        # transitions from one path are correlated over days only through the state, so n_i ~ independent
        assert np.all(np.abs(freq - p[i]) < 5 * np.sqrt(p[i] * (1 - p[i]) / n_i) + 1e-3), (i, freq)


@pytest.mark.parametrize("steps_per_day", [1, 24])
def test_ewma_realised_vol__with_constant_size_returns__converges_to_their_vol(steps_per_day: int) -> None:
    dt = 1.0 / (365 * steps_per_day)
    r = 0.6 * math.sqrt(dt) * np.where(np.arange(200 * steps_per_day) % 2 == 0, 1.0, -1.0)
    rv = ewma_realised_vol(r, dt, 0.94, vol0=1.5)
    assert rv[0] == 1.5 and rv.shape == (r.size + 1,)
    assert rv[-1] == pytest.approx(0.6, rel=1e-3)
    # decay per day is 0.94 whatever the step: after one day the excess variance has shrunk by 0.94
    day = ewma_realised_vol(r[:steps_per_day], dt, 0.94, vol0=1.5)[-1]
    assert day**2 - 0.36 == pytest.approx(0.94 * (1.5**2 - 0.36), rel=1e-9)


def test_simulate_market__implied_vol__follows_realised_vol_with_premium() -> None:
    cfg = MarketConfig(seed=3, days=2000, steps_per_day=1, iv_premium=0.10)
    path = simulate_market(cfg)
    log_ratio = np.log(path.iv / path.realised_vol)[100:]
    assert abs(log_ratio.mean() - math.log(1.10)) < 0.03
    assert np.corrcoef(np.log(path.iv), np.log(path.realised_vol))[0, 1] > 0.5


def test_simulate_market__funding__reverts_to_configured_mean() -> None:
    cfg = MarketConfig(seed=8, days=730, steps_per_day=3, funding_mean=0.0003, funding0=-0.003)
    f = simulate_market(cfg).funding_8h
    assert f[0] == -0.003
    half_life_steps = math.log(2) / cfg.funding_mean_reversion / cfg.dt_years
    tail = f[int(20 * half_life_steps) :]
    # OU time average: variance ≈ 2 std² / (κ T)
    se = cfg.funding_std * math.sqrt(2.0 / (cfg.funding_mean_reversion * tail.size * cfg.dt_years))
    assert abs(tail.mean() - cfg.funding_mean) < 5 * se
    assert tail.std() == pytest.approx(cfg.funding_std, rel=0.2)


def test_simulate_market__with_tight_caps__clamps_funding_and_iv() -> None:
    cfg = MarketConfig(
        seed=4, days=60, funding_std=0.003, funding_cap=0.001, iv_vol=5.0, iv_min=0.5, iv_max=0.9
    )
    path = simulate_market(cfg)
    assert np.all(np.abs(path.funding_8h) <= cfg.funding_cap)
    assert np.any(path.funding_8h == cfg.funding_cap) and np.any(path.funding_8h == -cfg.funding_cap)
    assert np.all((path.iv >= cfg.iv_min) & (path.iv <= cfg.iv_max))
    assert np.any(path.iv == cfg.iv_max) and np.any(path.iv == cfg.iv_min)


shock_strategy = st.builds(
    Shock,
    day=st.floats(0, 5),
    spot_move=st.floats(-0.9, 2.0),
    hours=st.floats(0.5, 48),
    iv_multiplier=st.floats(0.5, 3.0),
    funding_8h=st.none() | st.floats(-0.0075, 0.0075),
    funding_hours=st.floats(0, 200),
)


@FAST
@given(
    seed=st.integers(0, 2**32),
    days=st.integers(8, 20),
    steps_per_day=st.sampled_from([1, 2, 24, 96]),
    vols=st.lists(st.floats(0.05, 3.0), min_size=1, max_size=3),
    jump_intensity=st.floats(0, 100),
    jump_std=st.floats(0, 0.3),
    shocks=st.lists(shock_strategy, max_size=2),
)
def test_simulate_market__any_valid_config__is_finite_positive_and_clamped(
    seed: int,
    days: int,
    steps_per_day: int,
    vols: list[float],
    jump_intensity: float,
    jump_std: float,
    shocks: list[Shock],
) -> None:
    k = len(vols)
    transition = (
        tuple(tuple(0.9 if i == j else 0.1 / (k - 1) for j in range(k)) for i in range(k))
        if k > 1
        else ((1.0,),)
    )
    cfg = MarketConfig(
        seed=seed,
        days=days,
        steps_per_day=steps_per_day,
        regime_vols=tuple(vols),
        regime_transition=transition,
        jump_intensity=jump_intensity,
        jump_std=jump_std,
        shocks=shocks,
    )
    path = simulate_market(cfg)
    n1 = days * steps_per_day + 1
    assert len(path) == n1 and all(getattr(path, a).shape == (n1,) for a in ARRAYS)
    assert np.all(np.isfinite(path.spot)) and np.all(path.spot > 0) and path.spot[0] == cfg.s0
    assert np.all(np.isfinite(path.realised_vol)) and np.all(path.realised_vol >= 0)
    assert np.all((path.iv >= cfg.iv_min) & (path.iv <= cfg.iv_max))
    assert np.all(np.abs(path.funding_8h) <= cfg.funding_cap)
    assert np.all((path.regime >= 0) & (path.regime < k))
    assert np.allclose(np.diff(path.t_years), cfg.dt_years)


# --- shocks -----------------------------------------------------------------------------------------


def test_shock__minus_25_percent_day__moves_spot_raises_iv_and_pins_negative_funding() -> None:
    shock = Shock(day=10, spot_move=-0.25, hours=24, iv_multiplier=1.8, funding_8h=-0.0005, funding_hours=72)
    base_cfg = MarketConfig(seed=7, days=30, steps_per_day=24)
    base, hit = simulate_market(base_cfg), simulate_market(base_cfg.model_copy(update={"shocks": (shock,)}))
    i0, i1 = 240, 264
    assert np.array_equal(base.spot[: i0 + 1], hit.spot[: i0 + 1])
    ratio = hit.spot / base.spot
    assert ratio[i1] == pytest.approx(0.75, rel=1e-12)
    assert np.all(np.diff(ratio[i0 : i1 + 1]) < 0)  # spread over the window
    assert np.allclose(ratio[i1:], 0.75, rtol=1e-12)  # the level shift persists, the randomness is unchanged
    assert np.array_equal(base.iv[: i0 + 1], hit.iv[: i0 + 1])
    assert np.all(hit.iv[i0 + 1 : i1 + 1] > base.iv[i0 + 1 : i1 + 1])
    assert hit.iv[i1] >= min(base_cfg.iv_max, 1.5 * base.iv[i1])
    assert np.all(hit.realised_vol[i1:] > base.realised_vol[i1:])
    assert np.all(hit.funding_8h[i0 + 1 : i0 + 73] == -0.0005)
    assert hit.funding_8h[i0] == base.funding_8h[i0]
    # then it mean-reverts: a week later funding is back near its mean (a few stationary std)
    assert abs(hit.funding_8h[i0 + 72 + 168] - base_cfg.funding_mean) < 5 * base_cfg.funding_std


@FAST
@given(seed=st.integers(0, 2**32), shock=shock_strategy, steps_per_day=st.sampled_from([1, 24]))
def test_shock__any_shock__scales_spot_by_one_plus_move_over_its_window(
    seed: int, shock: Shock, steps_per_day: int
) -> None:
    cfg = MarketConfig(seed=seed, days=8, steps_per_day=steps_per_day)
    base, hit = simulate_market(cfg), simulate_market(cfg.model_copy(update={"shocks": (shock,)}))
    i0, m = shock.start_step(steps_per_day), shock.n_steps(steps_per_day)
    ratio = hit.spot / base.spot
    assert np.allclose(ratio[: i0 + 1], 1.0, rtol=1e-12)
    assert ratio[i0 + m] == pytest.approx(1.0 + shock.spot_move, rel=1e-9)
    if shock.funding_8h is not None and shock.n_funding_steps(steps_per_day) > 0:
        assert hit.funding_8h[i0 + 1] == shock.funding_8h


def test_shock__window_beyond_path_end__is_rejected_naming_the_shock() -> None:
    with pytest.raises(ValidationError, match=r"shocks\[1\]"):
        MarketConfig(days=10, shocks=[Shock(day=1, spot_move=-0.1), Shock(day=9.5, spot_move=-0.1, hours=24)])


def test_shock__funding_beyond_cap__is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"shocks\[0\]\.funding_8h"):
        MarketConfig(funding_cap=0.001, shocks=[Shock(day=1, spot_move=-0.1, funding_8h=-0.002)])


# --- validation -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("days", -1),
        ("days", 0),
        ("steps_per_day", 0),
        ("steps_per_day", 1441),
        ("s0", 0.0),
        ("regime_vols", (0.5, 0.0, 1.0)),
        ("regime_vols", (0.5, -0.2, 1.0)),
        ("regime_transition", ((0.9, 0.1, 0.0), (0.1, 1.2, -0.3), (0.0, 0.1, 0.9))),
        ("regime_transition", ((0.9, 0.2, 0.0), (0.1, 0.8, 0.1), (0.0, 0.1, 0.9))),
        ("regime_transition", ((0.9, 0.1), (0.1, 0.9))),
        ("initial_regime", 3),
        ("jump_intensity", -1.0),
        ("jump_std", -0.1),
        ("rv_lambda", 1.0),
        ("iv_min", 5.0),
        ("iv_vol", -0.1),
        ("iv_spot_corr", 1.5),
        ("funding_cap", 0.0),
        ("funding_mean", 0.01),
        ("funding_spot_corr", -2.0),
        ("funding0", 0.05),
        ("no_such_field", 1),
    ],
)
def test_market_config__with_bad_value__raises_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        MarketConfig(**{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [("day", -1.0), ("spot_move", -1.0), ("hours", 0.0), ("iv_multiplier", 0.0), ("funding_hours", -1.0)],
)
def test_shock__with_bad_value__raises_naming_the_field(field: str, value: float) -> None:
    kwargs: dict[str, float] = {"day": 1.0, "spot_move": -0.1, field: value}
    with pytest.raises(ValidationError, match=field):
        Shock(**kwargs)


def test_market_config__too_many_steps__raises_naming_both_fields() -> None:
    with pytest.raises(ValidationError, match=r"days \* steps_per_day"):
        MarketConfig(days=36_500, steps_per_day=1440)


def test_market_config__is_frozen() -> None:
    cfg = MarketConfig()
    with pytest.raises(ValidationError):
        cfg.days = 3  # type: ignore[misc]


# --- MarketPath conveniences ------------------------------------------------------------------------


def test_market_path__conveniences__slice_point_timestamps_and_csv(tmp_path: Path) -> None:
    path = simulate_market(MarketConfig(seed=1, days=2, steps_per_day=24))
    assert len(path) == 49 and path.n_steps == 48 and path.days == 2
    ts = path.timestamps
    assert ts[0] == np.datetime64("2024-01-01T00:00:00") and ts[-1] == np.datetime64("2024-01-03T00:00:00")
    assert path.index_at_day(1.0) == 24
    p = path.point(-1)
    assert p.index == 48 and p.spot == path.spot[-1] and p.timestamp == ts[-1]
    assert [q.spot for q in path][:3] == path.spot[:3].tolist()
    part = path.slice(24, 37)
    assert len(part) == 13 and part.t_years[0] == 0.0 and part.start == ts[24]
    assert np.array_equal(part.spot, path.spot[24:37]) and np.array_equal(part.timestamps, ts[24:37])
    assert np.allclose(path.log_returns, np.diff(np.log(path.spot)))
    with pytest.raises(ValueError, match="read-only"):
        path.spot[0] = 1.0
    out = tmp_path / "path.csv"
    path.to_csv(out)
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 49 and rows[5]["timestamp"] == "2024-01-01T05:00:00"
    assert [float(r["spot"]) for r in rows] == path.spot.tolist()
    assert [int(r["regime"]) for r in rows] == path.regime.tolist()


def test_funding_annualised__one_basis_point_per_8h__is_about_11_percent() -> None:
    assert funding_annualised(0.0001) == pytest.approx(0.1095)
    assert FUNDING_PERIODS_PER_YEAR == 1095
    assert np.allclose(funding_annualised(np.array([0.0, -0.0002])), [0.0, -0.219])


# --- CSV loader -------------------------------------------------------------------------------------


def test_load_ohlcv_csv__yahoo_format__returns_dates_and_closes(tmp_path: Path) -> None:
    text = (
        f"{YAHOO_HEADER}\n"
        "2024-01-01,2280.0,2300.0,2270.0,2352.04,2352.04,100\n"
        "2024-01-02,2352.0,2430.0,2340.0,2355.34,2355.34,200\n"
        "2024-01-03,2355.0,2360.0,2100.0,2209.72,2209.72,300\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dates, close = load_ohlcv_csv(write_csv(tmp_path, text))
    assert dates.dtype == np.dtype("datetime64[D]") and close.dtype == np.float64
    assert dates.tolist() == list(np.array(["2024-01-01", "2024-01-02", "2024-01-03"], dtype="datetime64[D]"))
    assert close.tolist() == [2352.04, 2355.34, 2209.72]


def test_load_ohlcv_csv__lowercase_headers_and_only_date_close__loads(tmp_path: Path) -> None:
    dates, close = load_ohlcv_csv(write_csv(tmp_path, " date , close \n2024-03-01,10\n2024-03-02,11.5\n"))
    assert close.tolist() == [10.0, 11.5] and str(dates[1]) == "2024-03-02"


def test_load_ohlcv_csv__text_stream__loads() -> None:
    dates, close = load_ohlcv_csv(io.StringIO("Date,Close\n2024-03-01 00:00:00,10\n2024-03-02,11\n"))
    assert close.tolist() == [10.0, 11.0] and str(dates[0]) == "2024-03-01"


def test_load_ohlcv_csv__null_empty_and_non_positive_closes__are_skipped_with_a_warning(
    tmp_path: Path,
) -> None:
    text = (
        f"{YAHOO_HEADER}\n"
        "2024-01-01,1,1,1,100,100,1\n"
        "2024-01-02,null,null,null,null,null,null\n"
        "2024-01-03,1,1,1,,,1\n"
        "2024-01-04,1,1,1,0,0,1\n"
        "\n"
        "2024-01-05,1,1,1,-3,-3,1\n"
        "2024-01-06,1,1,1,104,104,1\n"
    )
    with pytest.warns(SkippedRowsWarning, match=r"skipped 4 row\(s\).*rows 3, 4, 5, 7"):
        dates, close = load_ohlcv_csv(write_csv(tmp_path, text))
    assert close.tolist() == [100.0, 104.0]
    assert [str(d) for d in dates] == ["2024-01-01", "2024-01-06"]


def test_load_ohlcv_csv__unsorted_dates__are_sorted(tmp_path: Path) -> None:
    text = "Date,Close\n2024-01-03,3\n2024-01-01,1\n2024-01-04,4\n2024-01-02,2\n"
    dates, close = load_ohlcv_csv(write_csv(tmp_path, text))
    assert close.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert np.all(np.diff(dates).astype(int) == 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Date,Open,Adj Close\n2024-01-01,1,1\n2024-01-02,2,2\n", "no 'Close' column"),
        ("Day,Close\n2024-01-01,1\n2024-01-02,2\n", "no 'Date' column"),
        (
            "Date,Close\n2024-01-01,1\n2024-01-02,2\n2024-01-01,3\n",
            r"duplicate Date 2024-01-01 \(rows 2 and 4\)",
        ),
        ("Date,Close\n2024-01-01,1\n2024-01-02,null\n", r"1 usable row\(s\)"),
        ("Date,Close\n", r"0 usable row\(s\)"),
        ("", "empty file"),
        ("Date,Close\n2024-01-01,1\n2024-01-02,abc\n", r"row 3: Close 'abc' is not a number"),
        ("Date,Close\n2024-01-01,1\n01/02/2024,2\n", r"row 3: Date '01/02/2024'"),
        ("Date,Open,Close\n2024-01-01,1,1\n2024-01-02,2\n", "row 3 has 2 fields"),
    ],
)
def test_load_ohlcv_csv__bad_file__raises_naming_column_or_row(
    tmp_path: Path, text: str, message: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedRowsWarning)
        with pytest.raises(ValueError, match=message):
            load_ohlcv_csv(write_csv(tmp_path, text))


@FAST
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 3000), st.one_of(st.floats(0.01, 1e5), st.sampled_from(["null", "", "0"]))),
        min_size=2,
        max_size=40,
        unique_by=lambda r: r[0],
    )
)
def test_load_ohlcv_csv__any_rows__returns_sorted_positive_usable_rows(
    rows: list[tuple[int, float | str]],
) -> None:
    base = np.datetime64("2016-01-01")
    text = "Date,Close\n" + "".join(
        f"{base + d},{c!r}\n" if isinstance(c, float) else f"{base + d},{c}\n" for d, c in rows
    )
    usable = sorted((d, c) for d, c in rows if isinstance(c, float))
    n_skipped = len(rows) - len(usable)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if len(usable) < 2:
            with pytest.raises(ValueError, match="usable"):
                load_ohlcv_csv(io.StringIO(text))
            return
        dates, close = load_ohlcv_csv(io.StringIO(text))
    assert close.tolist() == [c for _, c in usable]
    assert (dates - base).astype(int).tolist() == [d for d, _ in usable]
    skipped = [w for w in caught if issubclass(w.category, SkippedRowsWarning)]
    assert len(skipped) == (1 if n_skipped else 0)
    if n_skipped:
        assert f"skipped {n_skipped} row(s)" in str(skipped[0].message)


def test_load_ohlcv_csv__shared_eth_history__loads_sorted_positive() -> None:
    if not ETH_CSV.is_file():
        pytest.skip(f"{ETH_CSV} not present")
    with pytest.warns(SkippedRowsWarning):
        dates, close = load_ohlcv_csv(ETH_CSV)
    assert dates.size > 1000 and np.all(np.diff(dates).astype(int) > 0) and np.all(close > 0)
    path = path_from_prices(dates, close, steps_per_day=24, cfg=MarketConfig(seed=1))
    knots = (dates - dates[0]).astype(int) * 24
    assert np.array_equal(path.spot[knots], close)
    assert len(path) == knots[-1] + 1 and path.source == "history"
    assert np.all(np.isfinite(path.realised_vol)) and np.all((path.iv >= 0.15) & (path.iv <= 3.0))


# --- path_from_prices -------------------------------------------------------------------------------


def test_path_from_prices__daily_steps__spot_equals_closes() -> None:
    dates = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-03-01"))
    closes = 2000.0 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.04, dates.size)))
    path = path_from_prices(dates, closes, steps_per_day=1, cfg=MarketConfig(seed=3))
    assert np.array_equal(path.spot, closes)
    assert path.start == np.datetime64("2024-01-01T00:00:00")
    assert path.timestamps[-1] == np.datetime64("2024-02-29T00:00:00")
    assert np.all(np.abs(path.funding_8h) <= 0.0075) and np.all((path.iv >= 0.15) & (path.iv <= 3.0))
    assert np.all(path.regime < 3)


@FAST
@given(
    seed=st.integers(0, 2**32),
    steps_per_day=st.sampled_from([1, 2, 24]),
    gaps=st.lists(st.integers(1, 4), min_size=1, max_size=20),
    log_moves=st.lists(st.floats(-0.3, 0.3), min_size=20, max_size=20),
)
def test_path_from_prices__brownian_bridge__hits_every_close_exactly(
    seed: int, steps_per_day: int, gaps: list[int], log_moves: list[float]
) -> None:
    days = np.concatenate(([0], np.cumsum(gaps)))
    dates = np.datetime64("2023-06-01") + days
    closes = 1500.0 * np.exp(np.cumsum([0.0, *log_moves[: len(gaps)]]))
    cfg = MarketConfig(seed=seed)
    path = path_from_prices(dates, closes, steps_per_day=steps_per_day, cfg=cfg)
    assert len(path) == days[-1] * steps_per_day + 1
    assert np.array_equal(path.spot[days * steps_per_day], closes)
    assert np.all(np.isfinite(path.spot)) and np.all(path.spot > 0)
    assert_paths_equal(path, path_from_prices(dates, closes, steps_per_day=steps_per_day, cfg=cfg))


def test_path_from_prices__hourly_bridge__depends_on_seed_only_between_closes() -> None:
    dates = [f"2024-01-{d:02d}" for d in range(1, 11)]
    closes = [3000, 3100, 2900, 2950, 3300, 3250, 3200, 3400, 3350, 3500]
    a = path_from_prices(dates, closes, steps_per_day=24, cfg=MarketConfig(seed=1))
    b = path_from_prices(dates, closes, steps_per_day=24, cfg=MarketConfig(seed=2))
    assert np.array_equal(a.spot[::24], b.spot[::24]) and a.spot[::24].tolist() == closes
    assert not np.array_equal(a.spot, b.spot)
    # hourly log returns have roughly the size the closes imply (vol of daily moves ≈ 75 %)
    daily_vol = np.std(np.diff(np.log(closes))) * math.sqrt(365)
    hourly_vol = np.std(a.log_returns) * math.sqrt(365 * 24)
    assert 0.5 * daily_vol < hourly_vol < 2.0 * daily_vol


def test_path_from_prices__hourly_timestamps_on_hourly_grid__load() -> None:
    times = np.datetime64("2024-01-01T00:00") + np.arange(0, 48, 1).astype("timedelta64[h]")
    closes = np.linspace(3000, 3100, times.size)
    path = path_from_prices(times, closes, steps_per_day=24)
    assert np.array_equal(path.spot, closes) and path.steps_per_day == 24


def test_path_from_prices__with_shock__scales_spot_after_it() -> None:
    dates = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-01-21"))
    closes = np.full(dates.size, 3000.0)
    cfg = MarketConfig(shocks=[Shock(day=5, spot_move=-0.25)])
    path = path_from_prices(dates, closes, steps_per_day=1, cfg=cfg)
    assert path.spot[5] == 3000.0 and path.spot[6] == pytest.approx(2250.0)
    assert np.all(path.funding_8h[6:9] == -0.0005)


@pytest.mark.parametrize(
    ("times", "closes", "steps_per_day", "message"),
    [
        (["2024-01-02", "2024-01-01"], [1.0, 2.0], 1, "strictly increasing"),
        (["2024-01-01", "2024-01-01"], [1.0, 2.0], 1, "strictly increasing"),
        (["2024-01-01T00:00", "2024-01-01T05:30"], [1.0, 2.0], 24, "not on the grid"),
        (["2024-01-01", "2024-01-02"], [1.0, 0.0], 1, r"closes\[1\]"),
        (["2024-01-01"], [1.0], 1, "at least 2"),
        (["2024-01-01", "2024-01-02"], [1.0], 1, "same length"),
        (["2024-01-01", "2024-01-02"], [1.0, 2.0], 0, "steps_per_day"),
    ],
)
def test_path_from_prices__bad_input__raises(
    times: list[str], closes: list[float], steps_per_day: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        path_from_prices(times, closes, steps_per_day=steps_per_day)


def test_path_from_prices__shock_beyond_history__raises_naming_the_shock() -> None:
    cfg = MarketConfig(shocks=[Shock(day=20, spot_move=-0.25)])
    with pytest.raises(ValueError, match=r"shocks\[0\]"):
        path_from_prices(["2024-01-01", "2024-01-05"], [1.0, 2.0], cfg=cfg)
