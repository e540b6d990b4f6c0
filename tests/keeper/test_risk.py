"""keeper.risk: portfolio Greeks, perp margin, scenario grid, VaR/ES and Whalley-Wilmott hedge bands.

Pure tests: no chain. Property tests (hypothesis) check the algebra; worked numbers are computed by hand
in the comments next to them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from scipy.stats import t as student_t

from keeper import pricing
from keeper.risk import (
    HedgeBand,
    MarketState,
    OptionBook,
    OptionPosition,
    PerpPosition,
    Portfolio,
    PortfolioGreeks,
    ScenarioConfig,
    SpotPosition,
    collateral_ratio,
    delta_normal_var,
    distance_to_liquidation_pct,
    ewma_variance,
    filtered_historical_var_es,
    hedge_band,
    hedge_trade_to_band,
    historical_var_es,
    horizon_log_returns,
    liquidation_price,
    monte_carlo_var_es,
    options_value_usd,
    perp_equity_usd,
    perp_margin_ratio,
    portfolio_greeks,
    portfolio_value_usd,
    position_greeks,
    risk_report,
    scenario_grid,
    shocked_vols,
    vol_shock_factor,
    ww_half_width_eth,
)

FAST = settings(max_examples=60, deadline=None, derandomize=True, database=None)  # reproducible in CI
S0 = 3000.0
MARKET = MarketState(spot_usd=S0)
DAY = 1.0 / 365.0


def option(
    kind: str, strike: float, days: float, size: float, iv: float = 0.7, **kw: float
) -> OptionPosition:
    return OptionPosition(kind=kind, strike_usd=strike, expiry_years=days * DAY, size_eth=size, iv=iv, **kw)


def mixed_portfolio() -> Portfolio:
    """Long spot, short perp, short strangle, long wing, an option on the perp (Black-76), one with a rate."""
    return Portfolio(
        spot=SpotPosition(size_eth=50.0),
        perp=PerpPosition(
            size_eth=-48.0, entry_price_usd=2900.0, margin_usd=20_000.0, funding_accrued_usd=150.0
        ),
        options=[
            option("call", 3300.0, 30, -20.0, 0.72),
            option("put", 2700.0, 30, -20.0, 0.78),
            option("put", 2400.0, 60, 10.0, 0.85),
            option("call", 3000.0, 7, -5.0, 0.65, carry=0.0),
            option("call", 3100.0, 90, 3.0, 0.60, rate=0.05),
        ],
        idle_usd=250_000.0,
    )


def short_straddle(delta_neutral: bool = True, size: float = 10.0) -> Portfolio:
    """Short ``size`` ATM 30-day straddles, delta hedged with spot so the net delta is 0."""
    opts = [option("call", S0, 30, -size), option("put", S0, 30, -size)]
    opt_delta = portfolio_greeks(Portfolio(options=opts), MARKET).option_delta_eth
    spot = -opt_delta if delta_neutral else 0.0
    return Portfolio(spot=SpotPosition(size_eth=spot), options=opts, idle_usd=100_000.0)


def scaled(p: Portfolio, k: float) -> Portfolio:
    """Every size (and the perp's margin and funding, and idle cash) times ``k``."""
    perp = None
    if p.perp is not None:
        perp = p.perp.model_copy(
            update={
                "size_eth": k * p.perp.size_eth,
                "margin_usd": k * p.perp.margin_usd,
                "funding_accrued_usd": k * p.perp.funding_accrued_usd,
            }
        )
    return Portfolio(
        spot=SpotPosition(size_eth=k * p.spot.size_eth),
        perp=perp,
        options=[o.model_copy(update={"size_eth": k * o.size_eth}) for o in p.options],
        idle_usd=k * p.idle_usd,
    )


def random_walk_returns(seed: int, n: int = 1000, daily_vol: float = 0.035) -> np.ndarray:
    """Daily log returns: i.i.d. Student-t(4) scaled to ``daily_vol``."""
    rng = np.random.default_rng(seed)
    return rng.standard_t(4, n) * daily_vol / math.sqrt(2.0)


# --- models: validation names the field ------------------------------------------------------------


OPT = {"kind": "call", "strike_usd": 100.0, "expiry_years": 0.1, "size_eth": 1.0, "iv": 0.5}
PERP = {"size_eth": -1.0, "entry_price_usd": 10.0}


@pytest.mark.parametrize(
    ("model", "fields", "bad_field"),
    [
        (OptionPosition, OPT | {"strike_usd": -1.0}, "strike_usd"),
        (OptionPosition, OPT | {"expiry_years": -0.1}, "expiry_years"),
        (OptionPosition, OPT | {"iv": 0.0}, "iv"),
        (OptionPosition, OPT | {"kind": "straddle"}, "kind"),
        (OptionPosition, OPT | {"size_eth": math.nan}, "size_eth"),
        (OptionPosition, OPT | {"premium_usd": -2.0}, "premium_usd"),
        (OptionPosition, OPT | {"colour": "red"}, "colour"),
        (PerpPosition, PERP | {"entry_price_usd": 0.0}, "entry_price_usd"),
        (PerpPosition, PERP | {"margin_usd": -1.0}, "margin_usd"),
        (PerpPosition, PERP | {"imr": 0.05, "mmr": 0.10}, "mmr"),
        (PerpPosition, PERP | {"imr": 1.5}, "imr"),
        (PerpPosition, PERP | {"imr": 1.0, "mmr": 1.0}, "mmr"),
        (SpotPosition, {"size_eth": math.inf}, "size_eth"),
        (MarketState, {"spot_usd": 0.0}, "spot_usd"),
        (MarketState, {"spot_usd": 1.0, "perp_mark_usd": -1.0}, "perp_mark_usd"),
        (Portfolio, {"idle_usd": math.nan}, "idle_usd"),
        (ScenarioConfig, {"spot_moves": (-1.5, 0.0)}, "spot_moves"),
        (ScenarioConfig, {"tail_moves": (-0.5, 0.0)}, "tail_moves"),
        (ScenarioConfig, {"dte_pivot_days": 0.0}, "dte_pivot_days"),
        (HedgeBand, {"half_width_eth": -1.0}, "half_width_eth"),
    ],
)
def test_models__bad_field__validation_error_names_it(model: type, fields: dict, bad_field: str) -> None:
    with pytest.raises(ValidationError) as info:
        model(**fields)
    assert {err["loc"][0] for err in info.value.errors()} == {bad_field}


def test_models__are_frozen() -> None:
    perp = PerpPosition(size_eth=1.0, entry_price_usd=100.0)
    with pytest.raises(ValidationError):
        perp.size_eth = 2.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"strike_usd": [100.0, -1.0]}, "strike_usd"),
        ({"expiry_years": [-0.1, 0.1]}, "expiry_years"),
        ({"iv": [0.5, 0.0]}, "iv"),
        ({"size_eth": [1.0, math.nan]}, "size_eth"),
        ({"is_call": [1, 0]}, "is_call"),
        ({"strike_usd": [100.0, 100.0, 100.0]}, "common length"),
    ],
)
def test_option_book_from_arrays__bad_input__value_error_names_it(kwargs: dict, name: str) -> None:
    args = {
        "is_call": [True, False],
        "strike_usd": [100.0, 90.0],
        "expiry_years": 0.1,
        "size_eth": [1.0, -1.0],
        "iv": 0.5,
    } | kwargs
    with pytest.raises(ValueError, match=name):
        OptionBook.from_arrays(**args)


def test_option_book__from_arrays_and_from_positions__agree_and_are_read_only() -> None:
    opts = [option("call", 3300.0, 30, -2.0, 0.7), option("put", 2700.0, 60, 1.5, 0.8, rate=0.03, carry=0.0)]
    a = OptionBook.from_positions(opts)
    b = OptionBook.from_arrays(
        is_call=["c", "p"],
        strike_usd=[3300.0, 2700.0],
        expiry_years=[30 * DAY, 60 * DAY],
        size_eth=[-2.0, 1.5],
        iv=[0.7, 0.8],
        rate=[0.0, 0.03],
        carry=[0.0, 0.0],
    )
    for name in ("is_call", "strike_usd", "expiry_years", "size_eth", "iv", "rate", "carry"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert len(a) == 2 and a.dte.tolist() == pytest.approx([30.0, 60.0])
    with pytest.raises(ValueError):
        a.strike_usd[0] = 1.0


# --- valuation and Greeks --------------------------------------------------------------------------


def test_portfolio_value__is_idle_plus_legs__premium_not_double_counted() -> None:
    p = mixed_portfolio()
    perp = p.perp
    assert perp is not None
    opts = sum(
        o.size_eth
        * float(pricing.price(o.kind[0], S0, o.strike_usd, o.expiry_years, o.rate, o.iv, b=o.carry))
        for o in p.options
    )
    perp_eq = 20_000.0 + (S0 - 2900.0) * -48.0 + 150.0
    assert perp_equity_usd(perp, S0) == pytest.approx(perp_eq)
    assert portfolio_value_usd(p, MARKET) == pytest.approx(250_000.0 + 50.0 * S0 + perp_eq + opts, rel=1e-13)
    # the recorded premium never enters the valuation: it is already in idle_usd
    repriced = p.model_copy(
        update={"options": [o.model_copy(update={"premium_usd": 999.0}) for o in p.options]}
    )
    assert portfolio_value_usd(repriced, MARKET) == portfolio_value_usd(p, MARKET)
    assert options_value_usd(p.options, S0) == pytest.approx(opts, rel=1e-13)


def test_portfolio_option_book__cached_but_never_stale_after_model_copy() -> None:
    p = mixed_portfolio()
    book = p.option_book
    assert p.option_book is book and len(book) == 5
    fewer = p.model_copy(update={"options": p.options[:2]})
    assert len(fewer.option_book) == 2
    assert p == Portfolio.model_validate(p.model_dump())  # the cache is not a field


def test_portfolio_value__perp_marked_at_its_own_mark() -> None:
    p = Portfolio(perp=PerpPosition(size_eth=-2.0, entry_price_usd=3000.0, margin_usd=600.0))
    with_basis = MarketState(spot_usd=3000.0, perp_mark_usd=3010.0)
    assert portfolio_value_usd(p, with_basis) == pytest.approx(600.0 - 20.0)


position_st = st.one_of(
    st.builds(SpotPosition, size_eth=st.floats(-100, 100)),
    st.builds(
        PerpPosition,
        size_eth=st.floats(-100, 100),
        entry_price_usd=st.floats(1000, 5000),
        margin_usd=st.floats(0, 1e5),
    ),
    st.builds(
        OptionPosition,
        kind=st.sampled_from(["call", "put"]),
        strike_usd=st.floats(1500, 6000),
        expiry_years=st.floats(0, 1),
        size_eth=st.floats(-50, 50),
        iv=st.floats(0.2, 2.0),
        rate=st.floats(0, 0.1),
        carry=st.one_of(st.none(), st.just(0.0)),
    ),
)


@FAST
@given(a=position_st, b=position_st, opts=st.lists(position_st, max_size=4), spot=st.floats(1500, 6000))
def test_portfolio_greeks__equal_sum_of_position_greeks(a, b, opts, spot: float) -> None:
    positions = [a, b, *opts]
    spot_pos = [p for p in positions if isinstance(p, SpotPosition)][:1]
    perp_pos = [p for p in positions if isinstance(p, PerpPosition)][:1]
    options = [p for p in positions if isinstance(p, OptionPosition)]
    portfolio = Portfolio(
        spot=spot_pos[0] if spot_pos else SpotPosition(),
        perp=perp_pos[0] if perp_pos else None,
        options=options,
    )
    market = MarketState(spot_usd=spot)
    total = sum((position_greeks(p, market) for p in [*spot_pos, *perp_pos, *options]), PortfolioGreeks())
    got = portfolio_greeks(portfolio, market)
    for name in PortfolioGreeks.model_fields:
        assert getattr(got, name) == pytest.approx(getattr(total, name), rel=1e-9, abs=1e-9), name
    assert got.net_delta_eth == pytest.approx(got.spot_delta_eth + got.perp_delta_eth + got.option_delta_eth)
    assert got.net_delta_usd == pytest.approx(got.net_delta_eth * spot)
    assert got.gamma_usd_per_1pct == pytest.approx(got.gamma_eth_per_usd * spot * spot / 100.0)
    assert got.theta_usd_per_day == pytest.approx(got.theta_usd_per_year / 365.0)


def test_portfolio_greeks__match_central_differences_of_full_revaluation() -> None:
    p = mixed_portfolio()
    g = portfolio_greeks(p, MARKET)

    def value(spot: float = S0, d_iv: float = 0.0, d_t: float = 0.0) -> float:
        opts = [
            o.model_copy(update={"iv": o.iv + d_iv, "expiry_years": o.expiry_years + d_t}) for o in p.options
        ]
        return portfolio_value_usd(p.model_copy(update={"options": opts}), MarketState(spot_usd=spot))

    h = S0 * 1e-4
    assert g.net_delta_eth == pytest.approx((value(S0 + h) - value(S0 - h)) / (2 * h), rel=1e-7)
    h = S0 * 3e-4
    assert g.gamma_eth_per_usd == pytest.approx(
        (value(S0 + h) - 2 * value() + value(S0 - h)) / h**2, rel=1e-5
    )
    dv = 1e-5
    vega_fd = (value(d_iv=dv) - value(d_iv=-dv)) / (2 * dv) / 100.0
    assert g.vega_usd_per_vol_point == pytest.approx(vega_fd, rel=1e-7)
    dt = 1e-6  # theta = dV/dt = −dV/dT
    assert g.theta_usd_per_year == pytest.approx(-(value(d_t=dt) - value(d_t=-dt)) / (2 * dt), rel=1e-6)
    assert g.theta_usd_per_year > 0  # net short premium
    assert g.spot_delta_eth == 50.0 and g.perp_delta_eth == -48.0


# --- perp margin and liquidation -------------------------------------------------------------------

size_st = st.floats(0.01, 1e4)
entry_st = st.floats(10.0, 1e5)
# (imr, mmr) with mmr <= imr
rates_st = st.tuples(st.floats(0.005, 0.9), st.floats(0.01, 1.0)).map(lambda t: (t[0], t[0] * t[1]))


@FAST
@given(size=size_st, entry=entry_st, rates=rates_st)
def test_liquidation_price__with_initial_margin__matches_textbook_form(size, entry, rates) -> None:
    imr, mmr = rates
    long = PerpPosition(size_eth=size, entry_price_usd=entry, margin_usd=imr * size * entry, imr=imr, mmr=mmr)
    short = long.model_copy(update={"size_eth": -size})
    assert liquidation_price(long) == pytest.approx(entry * (1 - imr) / (1 - mmr), rel=1e-12)
    assert liquidation_price(short) == pytest.approx(entry * (1 + imr) / (1 + mmr), rel=1e-12)


@FAST
@given(
    size=st.floats(-1e4, 1e4).filter(lambda s: abs(s) > 1e-3),
    entry=entry_st,
    leverage_margin=st.floats(0.0, 2.0),
    funding=st.floats(-0.05, 0.05),
    mmr=st.floats(0.001, 0.5),
)
@example(size=1.0, entry=10.0, leverage_margin=1.0, funding=-6.940715758741244e-71, mmr=0.5)  # found in CI
def test_liquidation_price__equity_equals_maintenance_there(
    size, entry, leverage_margin, funding, mmr
) -> None:
    notional = abs(size) * entry
    perp = PerpPosition(
        size_eth=size,
        entry_price_usd=entry,
        margin_usd=leverage_margin * notional,
        funding_accrued_usd=funding * notional,
        imr=max(mmr, 0.5),
        mmr=mmr,
    )
    p_liq = liquidation_price(perp)
    # a fully funded long (margin + funding covers the entry notional, in the formula's own float
    # arithmetic) cannot be liquidated by a fall
    if size > 0 and entry * size - perp.margin_usd - perp.funding_accrued_usd <= 0:
        assert p_liq is None
        return
    assert p_liq is not None
    assume(p_liq > 0)
    equity = perp_equity_usd(perp, p_liq)
    scale = notional + perp.margin_usd + abs(perp.funding_accrued_usd)
    assert equity == pytest.approx(mmr * abs(size) * p_liq, abs=1e-9 * scale)
    assert perp_margin_ratio(perp, p_liq) == pytest.approx(1.0, abs=1e-7 * scale / (mmr * abs(size) * p_liq))
    assert distance_to_liquidation_pct(perp, p_liq) == pytest.approx(0.0, abs=1e-9)


@FAST
@given(
    size=size_st,
    entry=entry_st,
    margin_frac=st.floats(0.0, 0.95),
    marks=st.tuples(st.floats(0.2, 3.0), st.floats(0.2, 3.0)).map(sorted),
    rates=rates_st,
)
def test_perp_margin_ratio__monotone_in_mark__up_for_long_down_for_short(
    size, entry, margin_frac, marks, rates
):
    imr, mmr = rates
    long = PerpPosition(
        size_eth=size, entry_price_usd=entry, margin_usd=margin_frac * size * entry, imr=imr, mmr=mmr
    )
    short = long.model_copy(update={"size_eth": -size})
    lo, hi = marks[0] * entry, marks[1] * entry
    tol = 1e-9 / mmr
    assert perp_margin_ratio(long, lo) <= perp_margin_ratio(long, hi) + tol
    assert perp_margin_ratio(short, lo) >= perp_margin_ratio(short, hi) - tol


def test_perp_margin__worked_example() -> None:
    # short 10 ETH at 3000, 3000 USD margin (10x), mmr 5%: P_liq = (3000·10 + 3000)/(10·1.05) = 3142.857
    perp = PerpPosition(size_eth=-10.0, entry_price_usd=3000.0, margin_usd=3000.0, imr=0.10, mmr=0.05)
    assert liquidation_price(perp) == pytest.approx(33_000.0 / 10.5)
    assert liquidation_price(perp) == pytest.approx(3000.0 * 1.10 / 1.05)  # the textbook form
    # at 3000: equity 3000, requirement 0.05·10·3000 = 1500 → ratio 2; distance (3142.857 − 3000)/3000
    assert perp_margin_ratio(perp, 3000.0) == pytest.approx(2.0)
    assert distance_to_liquidation_pct(perp, 3000.0) == pytest.approx(100 * (33_000 / 10.5 - 3000) / 3000)
    assert distance_to_liquidation_pct(perp, 3200.0) < 0  # already beyond
    flat = perp.model_copy(update={"size_eth": 0.0})
    assert liquidation_price(flat) is None
    assert perp_margin_ratio(flat, 3000.0) == math.inf
    assert distance_to_liquidation_pct(flat, 3000.0) == math.inf


def test_collateral_ratio__is_equity_over_scenario_worst_loss() -> None:
    p = short_straddle()
    grid = scenario_grid(p, MARKET)
    assert grid.worst_loss_usd > 0
    assert collateral_ratio(p, MARKET) == pytest.approx(portfolio_value_usd(p, MARKET) / grid.worst_loss_usd)
    assert collateral_ratio(p, MARKET, requirement_usd=1000.0) == pytest.approx(
        portfolio_value_usd(p, MARKET) / 1000
    )
    assert collateral_ratio(Portfolio(idle_usd=5.0), MARKET) == math.inf
    with pytest.raises(ValueError, match="requirement_usd"):
        collateral_ratio(p, MARKET, requirement_usd=-1.0)


# --- scenario grid ---------------------------------------------------------------------------------


@FAST
@given(size=st.floats(-1e4, 1e4), spot=st.floats(1.0, 1e5))
def test_scenario_grid__long_spot__pnl_row_is_size_times_spot_times_move_exactly(
    size: float, spot: float
) -> None:
    res = scenario_grid(Portfolio(spot=SpotPosition(size_eth=size)), MarketState(spot_usd=spot))
    assert res.pnl_usd.shape == (3, 9)
    assert res.vol_states == ("up", "flat", "down")
    expected = [size * spot * m for m in (-0.20, -0.15, -0.10, -0.05, 0.0, 0.05, 0.10, 0.15, 0.20)]
    for row in res.pnl_usd:
        assert row.tolist() == expected
    assert res.tail_pnl_usd.tolist() == [size * spot * m for m in (-0.66, -0.33, 0.5, 1.0, 2.0)]


def test_scenario_grid__spot_hedged_by_perp__is_flat() -> None:
    p = Portfolio(spot=SpotPosition(size_eth=7.0), perp=PerpPosition(size_eth=-7.0, entry_price_usd=2500.0))
    res = scenario_grid(p, MARKET)
    assert not res.pnl_usd.any() and not res.tail_pnl_usd.any()
    assert res.worst_loss_usd == 0.0 and res.worst_spot_move is None and res.worst_vol_state is None


def test_vol_shock__dte_7_30_90__hand_computed() -> None:
    # DTE 7 (<= 30, p = 0.30): x = (30/7)^0.3 = exp(0.3·ln 4.285714) = exp(0.436586) = 1.5474156
    # DTE 30: x = 1 exactly; DTE 90 (> 30, p = 0.13): x = (1/3)^0.13 = exp(−0.142820) = 0.8669104
    x = vol_shock_factor([7.0, 30.0, 90.0])
    assert x.tolist() == pytest.approx([1.5474155772, 1.0, 0.8669104476], rel=1e-10)
    up, down = shocked_vols([0.80, 0.80, 0.80], [7.0, 30.0, 90.0])
    # up = σ(1 + 0.6x): 0.8·1.9284493 / 0.8·1.6 / 0.8·1.5201463
    # down = σ(1 − 0.3x): 0.8·0.5357753 / 0.8·0.7 / 0.8·0.7399269
    assert up.tolist() == pytest.approx([0.8 * 1.9284493463, 1.28, 0.8 * 1.5201462685], rel=1e-10)
    assert down.tolist() == pytest.approx([0.8 * 0.5357753268, 0.56, 0.8 * 0.7399268657], rel=1e-10)
    # DTE below one day counts as one day: x = 30^0.3
    assert vol_shock_factor(0.25) == pytest.approx(30**0.3)
    # a config that would shock vol below 0 is floored at the tiny positive vol pricing accepts
    _, floored = shocked_vols(0.8, 1.0, ScenarioConfig(vol_down_scale=0.9))
    assert 0 < floored < 1e-6


def test_scenario_grid__option_cells__are_full_revaluation_at_shocked_spot_and_vol() -> None:
    o = option("call", 3200.0, 7, -4.0, 0.9)
    res = scenario_grid(Portfolio(options=[o]), MARKET)
    up, down = shocked_vols(o.iv, o.dte)
    base = -4.0 * float(pricing.price("c", S0, 3200.0, o.expiry_years, 0.0, 0.9))
    for i, vol in enumerate((float(up), 0.9, float(down))):
        for j, m in enumerate(res.spot_moves):
            shocked = -4.0 * float(pricing.price("c", S0 * (1 + m), 3200.0, o.expiry_years, 0.0, vol))
            assert res.pnl_usd[i, j] == pytest.approx(shocked - base, rel=1e-12, abs=1e-9)
    assert res.pnl_usd[1, 4] == 0.0  # flat vol, no move


def test_scenario_grid__tail_moves__weighted_by_numerator_over_move() -> None:
    # a far-OTM short call barely moves inside ±20% but loses a lot on a +100% / +200% move
    o = option("call", 6000.0, 30, -10.0, 0.8)
    res = scenario_grid(Portfolio(options=[o]), MARKET)
    assert res.tail_weights.tolist() == pytest.approx([0.16 / 0.66, 0.16 / 0.33, 0.32, 0.16, 0.08])
    assert np.array_equal(res.tail_weighted_pnl_usd, res.tail_weights * res.tail_pnl_usd)
    up = float(shocked_vols(o.iv, o.dte)[0])
    base = -10.0 * float(pricing.price("c", S0, 6000.0, o.expiry_years, 0.0, 0.8))
    for move, raw in zip(res.tail_moves, res.tail_pnl_usd, strict=True):
        shocked = -10.0 * float(pricing.price("c", S0 * (1 + move), 6000.0, o.expiry_years, 0.0, up))
        assert raw == pytest.approx(shocked - base, rel=1e-12)
    # +200%: raw loss ≈ 10·(9000 − 6000) = 30,000, counted at 8% ≈ 2,400 — more than any ±20% cell
    worst_weighted = -float(res.tail_weighted_pnl_usd.min())
    assert worst_weighted > -float(res.pnl_usd.min())
    assert res.worst_is_tail and res.worst_vol_state == "up"
    assert res.worst_loss_usd == pytest.approx(worst_weighted)
    assert res.worst_spot_move == res.tail_moves[int(np.argmin(res.tail_weighted_pnl_usd))]
    # a tail move smaller than the numerator is counted in full, never amplified
    assert ScenarioConfig(tail_moves=(-0.10, 0.5)).tail_weights.tolist() == [1.0, 0.32]


def test_scenario_grid__worst_loss_is_the_most_negative_cell() -> None:
    p = short_straddle()
    res = scenario_grid(p, MARKET)
    assert res.worst_loss_usd == pytest.approx(-min(res.pnl_usd.min(), res.tail_weighted_pnl_usd.min()))
    assert res.maintenance_requirement_usd == res.worst_loss_usd
    assert not res.worst_is_tail and res.worst_vol_state == "up" and abs(res.worst_spot_move or 0) == 0.20


def test_scenario_grid__vectorized_book__is_additive_and_matches_portfolio() -> None:
    rng = np.random.default_rng(11)
    n = 2000
    args = dict(
        is_call=rng.random(n) < 0.5,
        strike_usd=S0 * np.exp(rng.normal(0, 0.25, n)),
        expiry_years=rng.uniform(0, 0.5, n),
        size_eth=rng.normal(0, 3, n),
        iv=rng.uniform(0.3, 1.5, n),
        rate=rng.uniform(0, 0.05, n),
    )
    whole = scenario_grid(OptionBook.from_arrays(**args), MARKET)
    halves = [
        scenario_grid(OptionBook.from_arrays(**{k: v[part] for k, v in args.items()}), MARKET)
        for part in (slice(0, n // 2), slice(n // 2, n))
    ]
    assert whole.pnl_usd == pytest.approx(halves[0].pnl_usd + halves[1].pnl_usd, rel=1e-9, abs=1e-6)
    assert whole.tail_pnl_usd == pytest.approx(halves[0].tail_pnl_usd + halves[1].tail_pnl_usd, rel=1e-9)
    # the same options as pydantic positions inside a Portfolio give the same grid
    opts = [
        OptionPosition(kind="call" if c else "put", strike_usd=k, expiry_years=t, size_eth=s, iv=v, rate=r)
        for c, k, t, s, v, r in zip(*args.values(), strict=True)
    ][:200]
    book = OptionBook.from_arrays(**{k: v[:200] for k, v in args.items()})
    assert scenario_grid(Portfolio(options=opts), MARKET).pnl_usd == pytest.approx(
        scenario_grid(book, MARKET).pnl_usd, rel=1e-12, abs=1e-9
    )


# --- VaR and ES ------------------------------------------------------------------------------------


def test_horizon_log_returns__are_overlapping_sums() -> None:
    r = np.arange(1.0, 11.0)
    assert horizon_log_returns(r, 1).tolist() == r.tolist()
    assert horizon_log_returns(r, 7).tolist() == [sum(r[i : i + 7]) for i in range(4)]
    with pytest.raises(ValueError, match="horizon_days"):
        horizon_log_returns(r, 0)
    with pytest.raises(ValueError, match="horizon_days"):
        horizon_log_returns(r, 11)


def test_ewma_variance__matches_the_recursion() -> None:
    r = random_walk_returns(3, 200)
    v = ewma_variance(r, 0.94)
    expected = [float(np.mean(r**2))]
    for x in r:
        expected.append(0.94 * expected[-1] + 0.06 * x * x)
    assert v.tolist() == pytest.approx(expected, rel=1e-12)


def test_historical_var__linear_book__is_the_empirical_quantile_of_revalued_losses() -> None:
    r = random_walk_returns(5)
    p = Portfolio(spot=SpotPosition(size_eth=2.0), idle_usd=1e5)
    res = historical_var_es(p, MARKET, r, 1)
    losses = -2.0 * S0 * np.expm1(r)
    assert res.var99_usd == pytest.approx(float(np.quantile(losses, 0.99)), rel=1e-12)
    assert res.es975_usd == pytest.approx(
        float(losses[losses >= np.quantile(losses, 0.975)].mean()), rel=1e-12
    )
    assert (res.method, res.horizon_days, res.n_scenarios) == ("historical", 1, r.size)
    assert historical_var_es(p, MARKET, r, 7).n_scenarios == r.size - 6


def all_methods(p: Portfolio, r: np.ndarray, horizon: int, seed: int = 1):
    return [
        historical_var_es(p, MARKET, r, horizon),
        filtered_historical_var_es(p, MARKET, r, horizon),
        monte_carlo_var_es(p, MARKET, horizon, returns=r, n_paths=20_000, seed=seed),
    ]


def test_var__delta_neutral_short_straddle__delta_normal_says_zero_revaluation_does_not() -> None:
    p = short_straddle()
    g = portfolio_greeks(p, MARKET)
    assert g.net_delta_eth == pytest.approx(0.0, abs=1e-12)
    assert g.gamma_eth_per_usd < 0
    r = random_walk_returns(7)
    daily_vol = float(np.std(r))
    dn = delta_normal_var(p, MARKET, daily_vol)
    assert dn.var99_usd == pytest.approx(0.0, abs=1e-6) and dn.es975_usd == pytest.approx(0.0, abs=1e-6)
    # a 1-day 2-3σ move on 10 short ATM straddles (gamma ≈ −0.0046 ETH/USD) loses ≈ ½·Γ·(0.1·S)² ≈ 2,000 USD
    for res in all_methods(p, r, 1):
        assert res.var99_usd > 500.0, res
        assert res.es975_usd >= res.var975_usd > 0, res


@pytest.mark.parametrize("horizon", [1, 7])
def test_var__es_at_least_var_and_scaled_book_scales_linearly(horizon: int) -> None:
    p = mixed_portfolio()
    r = random_walk_returns(2)
    for base, big in zip(all_methods(p, r, horizon), all_methods(scaled(p, 3.5), r, horizon), strict=True):
        assert base.es975_usd >= base.var975_usd
        assert big.var99_usd == pytest.approx(3.5 * base.var99_usd, rel=1e-9)
        assert big.es975_usd == pytest.approx(3.5 * base.es975_usd, rel=1e-9)
        assert big.n_scenarios == base.n_scenarios and big.horizon_days == horizon
    vol = float(np.std(r))
    linear = Portfolio(spot=SpotPosition(size_eth=10.0))
    dn1, dn7 = delta_normal_var(linear, MARKET, vol), delta_normal_var(scaled(linear, 2.0), MARKET, vol, 7)
    assert dn7.var99_usd == pytest.approx(2 * math.sqrt(7) * dn1.var99_usd)
    assert dn1.var99_usd == pytest.approx(2.3263478740 * 10 * S0 * vol)
    assert dn1.es975_usd >= dn1.var975_usd


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_historical_var__7_day_at_least_1_day_on_a_random_walk(seed: int) -> None:
    r = random_walk_returns(seed)
    for p in (Portfolio(spot=SpotPosition(size_eth=1.0)), short_straddle(), mixed_portfolio()):
        one, seven = historical_var_es(p, MARKET, r, 1), historical_var_es(p, MARKET, r, 7)
        assert seven.var99_usd >= one.var99_usd
        assert seven.es975_usd >= one.es975_usd


def test_monte_carlo_var__deterministic_with_a_seed() -> None:
    p = short_straddle()
    a = monte_carlo_var_es(p, MARKET, 7, daily_vol=0.03, n_paths=5000, seed=42)
    b = monte_carlo_var_es(p, MARKET, 7, daily_vol=0.03, n_paths=5000, seed=42)
    c = monte_carlo_var_es(p, MARKET, 7, daily_vol=0.03, n_paths=5000, seed=43)
    assert a == b
    assert a != c
    assert (a.method, a.horizon_days, a.n_scenarios) == ("monte-carlo", 7, 5000)


def test_monte_carlo_var__linear_book__matches_student_t_quantile() -> None:
    # one day, 1 ETH long: loss = −S·(e^R − 1), R = 0.03·t₄·sqrt(1/2) → VaR99 = −S·expm1(0.03·t₄⁻¹(0.01)/√2)
    res = monte_carlo_var_es(
        Portfolio(spot=SpotPosition(size_eth=1.0)), MARKET, daily_vol=0.03, n_paths=200_000
    )
    expected = -S0 * math.expm1(0.03 * float(student_t.ppf(0.01, 4)) / math.sqrt(2.0))
    assert res.var99_usd == pytest.approx(expected, rel=0.03)


def test_filtered_historical_var__rescales_to_current_vol() -> None:
    rng = np.random.default_rng(9)
    calm, wild = rng.standard_normal(700) * 0.01, rng.standard_normal(300) * 0.05
    p = Portfolio(spot=SpotPosition(size_eth=1.0))
    calm_now = np.concatenate([wild, calm])  # turbulent past, calm today: FHS < HS
    wild_now = np.concatenate([calm, wild])  # calm past, turbulent today: FHS > HS
    assert (
        filtered_historical_var_es(p, MARKET, calm_now).var99_usd
        < historical_var_es(p, MARKET, calm_now).var99_usd
    )
    assert (
        filtered_historical_var_es(p, MARKET, wild_now).var99_usd
        > historical_var_es(p, MARKET, wild_now).var99_usd
    )


def test_var__aging_options_adds_theta_to_a_short_option_book() -> None:
    p, r = short_straddle(), random_walk_returns(4)
    fixed = historical_var_es(p, MARKET, r, 7)
    aged = historical_var_es(p, MARKET, r, 7, age_options=True)
    assert aged.var99_usd < fixed.var99_usd  # a week of time decay is income for the seller


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: monte_carlo_var_es(Portfolio(), MARKET, dof=2.0, daily_vol=0.03), "dof"),
        (lambda: monte_carlo_var_es(Portfolio(), MARKET), "daily_vol"),
        (lambda: monte_carlo_var_es(Portfolio(), MARKET, daily_vol=-0.1), "daily_vol"),
        (lambda: historical_var_es(Portfolio(), MARKET, [0.01, math.nan]), "finite"),
        (lambda: historical_var_es(Portfolio(), MARKET, [0.01, 0.02], horizon_days=1.5), "horizon_days"),
        (lambda: filtered_historical_var_es(Portfolio(), MARKET, [0.01, 0.02], lam=1.0), "lam"),
    ],
)
def test_var__bad_arguments__raise_naming_them(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


# --- hedge bands -----------------------------------------------------------------------------------


def test_ww_half_width__worked_example() -> None:
    # Γ = −0.1 ETH/USD, S = 3000, κ = 5 bp, γ = 1e-3 /USD, r = 5%, τ = 0.25:
    # 1.5 · e^{−0.0125} · 0.0005 · 3000 · 0.01 / 0.001 = 22.5 · 0.98758 = 22.2205 → cube root 2.8113 ETH
    width = ww_half_width_eth(-0.1, 3000.0, 0.0005, 1e-3, 0.05, 0.25)
    assert isinstance(width, float)
    assert width == pytest.approx((22.5 * math.exp(-0.0125)) ** (1 / 3), rel=1e-12)
    assert width == pytest.approx(2.8113, abs=1e-4)
    assert ww_half_width_eth(0.1, 3000.0, 0.0005, 1e-3, 0.05, 0.25) == width  # |Γ|


@FAST
@given(
    gamma=st.floats(1e-6, 10.0),
    spot=st.floats(10.0, 1e5),
    cost=st.floats(1e-6, 0.01),
    ra=st.floats(1e-8, 1.0),
    k=st.floats(0.1, 10.0),
)
def test_ww_half_width__scales_as_cube_root_of_cost_and_gamma_squared_over_risk_aversion(
    gamma, spot, cost, ra, k
):
    w = ww_half_width_eth(gamma, spot, cost, ra)
    assert ww_half_width_eth(gamma, spot, k * cost, ra) == pytest.approx(w * k ** (1 / 3), rel=1e-12)
    assert ww_half_width_eth(k * gamma, spot, cost, ra) == pytest.approx(w * k ** (2 / 3), rel=1e-12)
    assert ww_half_width_eth(gamma, spot, cost, k * ra) == pytest.approx(w * k ** (-1 / 3), rel=1e-12)


@FAST
@given(gamma=st.floats(-10.0, 10.0), floor=st.floats(0.0, 5.0), extra=st.floats(0.0, 50.0))
def test_ww_half_width__floor_and_cap_respected(gamma: float, floor: float, extra: float) -> None:
    cap = floor + extra
    w = ww_half_width_eth(gamma, 3000.0, 0.0005, 1e-4, 0.0, 0.1, floor, cap)
    raw = ww_half_width_eth(gamma, 3000.0, 0.0005, 1e-4, 0.0, 0.1)
    assert floor <= w <= cap
    assert w == min(max(raw, floor), cap)


def test_ww_half_width__vectorized_and_validated() -> None:
    gammas = np.array([0.0, -0.01, 0.02, 10.0])
    w = ww_half_width_eth(gammas, 3000.0, 0.0005, 1e-3, floor_eth=0.5, cap_eth=20.0)
    assert isinstance(w, np.ndarray) and w.shape == (4,)
    assert w.tolist() == [
        ww_half_width_eth(float(g), 3000.0, 0.0005, 1e-3, 0.0, 0.0, 0.5, 20.0) for g in gammas
    ]
    assert w[0] == 0.5 and w[-1] == 20.0
    for kwargs, name in [
        ({"spot_usd": 0.0}, "spot_usd"),
        ({"cost_frac": -1e-4}, "cost_frac"),
        ({"risk_aversion": 0.0}, "risk_aversion"),
        ({"tau_years": -1.0}, "tau_years"),
        ({"floor_eth": 2.0, "cap_eth": 1.0}, "cap_eth"),
        ({"gamma_eth_per_usd": math.nan}, "gamma_eth_per_usd"),
    ]:
        args = {
            "gamma_eth_per_usd": 0.1,
            "spot_usd": 3000.0,
            "cost_frac": 5e-4,
            "risk_aversion": 1e-3,
        } | kwargs
        with pytest.raises(ValueError, match=name):
            ww_half_width_eth(**args)


@FAST
@given(center=st.floats(-100, 100), half=st.floats(0, 50), delta=st.floats(-500, 500))
def test_hedge_trade_to_band__lands_on_nearer_edge_or_is_zero_inside(
    center: float, half: float, delta: float
):
    band = HedgeBand(center_eth=center, half_width_eth=half)
    trade = hedge_trade_to_band(delta, band)
    if band.lower_eth <= delta <= band.upper_eth:
        assert trade == 0.0
        assert band.contains(delta)
    elif delta > band.upper_eth:
        assert trade < 0 and delta + trade == pytest.approx(band.upper_eth, abs=1e-12 * (1 + abs(delta)))
    else:
        assert trade > 0 and delta + trade == pytest.approx(band.lower_eth, abs=1e-12 * (1 + abs(delta)))
    assert abs(trade) <= abs(delta - center)  # never past the center: to the edge, not to zero


def test_hedge_trade_to_band__worked_example_and_band_of_a_book() -> None:
    band = HedgeBand(half_width_eth=2.0)
    assert hedge_trade_to_band(5.0, band) == -3.0  # sell 3 ETH of perp: delta 5 → 2, not → 0
    assert hedge_trade_to_band(-2.5, band) == 0.5
    assert hedge_trade_to_band(1.9, band) == 0.0 and hedge_trade_to_band(2.0, band) == 0.0
    p = short_straddle()
    g = portfolio_greeks(p, MARKET).gamma_eth_per_usd
    hb = hedge_band(p, MARKET, 0.0005, 1e-3, 30 * DAY, floor_eth=0.1, cap_eth=50.0)
    assert hb.center_eth == 0.0
    assert hb.half_width_eth == pytest.approx(
        ww_half_width_eth(g, S0, 0.0005, 1e-3, 0.0, 30 * DAY, 0.1, 50.0)
    )


# --- summary ---------------------------------------------------------------------------------------


def test_risk_report__collects_the_numbers() -> None:
    p = mixed_portfolio()
    r = random_walk_returns(1)
    rep = risk_report(p, MARKET, var=[historical_var_es(p, MARKET, r)])
    perp = p.perp
    assert perp is not None
    assert rep.equity_usd == portfolio_value_usd(p, MARKET)
    assert rep.greeks == portfolio_greeks(p, MARKET)
    assert rep.perp_margin_ratio == perp_margin_ratio(perp, S0)
    assert rep.liquidation_price_usd == liquidation_price(perp)
    assert rep.distance_to_liquidation_pct == distance_to_liquidation_pct(perp, S0)
    assert rep.scenario_worst_loss_usd == scenario_grid(p, MARKET).worst_loss_usd
    assert rep.collateral_ratio == pytest.approx(rep.equity_usd / rep.scenario_worst_loss_usd)
    assert rep.var[0].method == "historical"
    assert risk_report(Portfolio(idle_usd=1.0), MARKET).perp_margin_ratio is None
