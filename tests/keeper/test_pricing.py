"""keeper.pricing: textbook values, parity, finite differences, edge cases, implied vol, oracles.

Oracles are test-only: vollib (Jäckel's "Let's Be Rational" for implied vol, Black-76 prices) and
QuantLib's analytic European engine (Black-Scholes-Merton prices and Greeks).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keeper import pricing

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"

math_settings = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _reference_rows(name: str) -> list[dict[str, str]]:
    path = REFERENCE / name
    if not path.exists():
        pytest.skip(f"{path} not present (../shared/reference sits beside the repo)")
    with path.open() as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


def _f(row: dict[str, str], key: str) -> float:
    return float(row[key])


# ------------------------------------------------------------------ textbook values


@pytest.mark.parametrize("field", ["price", "delta", "gamma", "vega", "theta", "rho"])
def test_greeks__with_textbook_cases__match_published_values_to_5e_5(field: str) -> None:
    rows = _reference_rows("option_values.csv")
    assert len(rows) >= 10
    for row in rows:
        g = pricing.greeks(
            row["cp"],
            _f(row, "S"),
            _f(row, "K"),
            _f(row, "T"),
            _f(row, "r"),
            _f(row, "sigma"),
            b=_f(row, "b"),
        )
        got = float(getattr(g, field))
        assert got == pytest.approx(_f(row, field), abs=5e-5), f"{row['case']}: {field} {got} vs {row[field]}"


def test_implied_vol__with_textbook_cases__matches_to_1e_6() -> None:
    rows = _reference_rows("implied_vol.csv")
    for row in rows:
        iv = pricing.implied_vol(
            _f(row, "price"),
            row["cp"],
            _f(row, "S"),
            _f(row, "K"),
            _f(row, "T"),
            _f(row, "r"),
            b=_f(row, "b"),
        )
        assert float(iv) == pytest.approx(_f(row, "sigma"), abs=1e-6), row["case"]


def test_implied_vol__with_textbook_option_values__recovers_their_sigma() -> None:
    for row in _reference_rows("option_values.csv"):
        args = (row["cp"], _f(row, "S"), _f(row, "K"), _f(row, "T"), _f(row, "r"))
        p = pricing.price(*args, _f(row, "sigma"), b=_f(row, "b"))
        assert float(pricing.implied_vol(p, *args, b=_f(row, "b"))) == pytest.approx(
            _f(row, "sigma"), abs=1e-12
        )


# ------------------------------------------------------------------ strategies

spots = st.floats(1.0, 10_000.0)
log_moneyness = st.floats(-1.5, 1.5)
expiries = st.floats(1e-3, 3.0)
rates = st.floats(-0.02, 0.15)
vols = st.floats(0.05, 2.0)
carry_kinds = st.sampled_from(["bs", "b76", "yield"])


def _carry(kind: str, r: float) -> float | None:
    """b for each model: None (b = r, Black-Scholes), 0 (Black-76), r − 3% (a 3% yield)."""
    return {"bs": None, "b76": 0.0, "yield": r - 0.03}[kind]


@math_settings
@given(S=spots, m=log_moneyness, T=expiries, r=rates, sigma=vols, kind=carry_kinds)
def test_price__with_call_and_put__satisfies_put_call_parity_to_1e_12(
    S: float, m: float, T: float, r: float, sigma: float, kind: str
) -> None:
    K = S * math.exp(m)
    b = _carry(kind, r)
    c = float(pricing.price("c", S, K, T, r, sigma, b))
    p = float(pricing.price("p", S, K, T, r, sigma, b))
    forward_value = S * math.exp(((r if b is None else b) - r) * T) - K * math.exp(-r * T)
    # 1e-12 relative to the notional: the prices themselves carry ~1e-16·S of rounding
    assert abs((c - p) - forward_value) <= 1e-12 * max(S, K)


@math_settings
@given(
    S=spots,
    m=st.floats(-0.8, 0.8),
    T=st.floats(0.02, 2.0),
    r=rates,
    sigma=st.floats(0.1, 1.5),
    kind=carry_kinds,
    call=st.booleans(),
)
def test_greeks__with_random_inputs__agree_with_central_finite_differences(
    S: float, m: float, T: float, r: float, sigma: float, kind: str, call: bool
) -> None:
    K = S * math.exp(m)
    b = _carry(kind, r)
    cp = "c" if call else "p"
    g = pricing.greeks(cp, S, K, T, r, sigma, b)

    def v(s: float = S, t: float = T, rr: float = r, vol: float = sigma, bb: float | None = b) -> float:
        return float(pricing.price(cp, s, K, t, rr, vol, bb))

    def noise(h: float, order: int) -> float:
        """Rounding noise of a finite difference: a few ulps of the value over h^order."""
        return 16 * np.finfo(float).eps * (abs(v()) + S) / h**order

    scale = S * sigma * math.sqrt(T)  # steps on the scale of the option's own curvature
    hd = scale * 1e-4
    fd_delta = (v(s=S + hd) - v(s=S - hd)) / (2 * hd)
    assert float(g.delta) == pytest.approx(fd_delta, rel=1e-6, abs=noise(hd, 1))
    hs = scale * 1e-3
    fd_gamma = (v(s=S + hs) - 2 * v() + v(s=S - hs)) / hs**2
    assert float(g.gamma) == pytest.approx(fd_gamma, rel=1e-3, abs=noise(hs, 2))
    hv = 1e-5
    fd_vega = (v(vol=sigma + hv) - v(vol=sigma - hv)) / (2 * hv)
    assert float(g.vega) == pytest.approx(fd_vega, rel=1e-6, abs=noise(hv, 1))
    ht = min(1e-6, T * 1e-4)
    fd_theta = -(v(t=T + ht) - v(t=T - ht)) / (2 * ht)
    assert float(g.theta) == pytest.approx(fd_theta, rel=1e-5, abs=noise(ht, 1))
    hr = 1e-6
    # Haug: the carry moves with the rate (b=None follows r by itself) unless the underlying is a forward
    up = v(rr=r + hr, bb=b + hr if kind == "yield" else b)
    down = v(rr=r - hr, bb=b - hr if kind == "yield" else b)
    assert float(g.rho) == pytest.approx((up - down) / (2 * hr), rel=1e-5, abs=noise(hr, 1))


def test_greeks__unit_helpers__convert_to_vol_points_days_and_bp() -> None:
    g = pricing.greeks("c", 3000.0, 3200.0, 30 / 365, 0.05, 0.7)
    assert float(g.vega_per_vol_point) == pytest.approx(float(g.vega) / 100)
    assert float(g.theta_per_day) == pytest.approx(float(g.theta) / 365)
    assert float(g.rho_per_bp) == pytest.approx(float(g.rho) / 10_000)
    # one vol point up moves the price by about vega_per_vol_point
    bumped = float(pricing.price("c", 3000.0, 3200.0, 30 / 365, 0.05, 0.71)) - float(g.price)
    assert bumped == pytest.approx(float(g.vega_per_vol_point), rel=1e-2)


# ------------------------------------------------------------------ vectorization and input handling


def test_price__with_broadcast_arrays__matches_elementwise_scalars() -> None:
    strikes = np.array([2500.0, 3000.0, 3500.0])
    expiries = np.array([[7 / 365], [30 / 365], [1.0]])
    cps = np.array([["c", "p", "c"]])
    got = pricing.price(cps, 3000.0, strikes, expiries, 0.03, 0.8)
    assert got.shape == (3, 3)
    for i in range(3):
        for j in range(3):
            assert got[i, j] == float(pricing.price(cps[0, j], 3000.0, strikes[j], expiries[i, 0], 0.03, 0.8))


def test_greeks__with_more_than_one_chunk__equals_the_same_inputs_in_small_batches() -> None:
    rng = np.random.default_rng(3)
    n = 40_000  # several internal chunks
    S, K = rng.uniform(1000, 5000, n), rng.uniform(1000, 5000, n)
    T, sigma, is_call = rng.uniform(0, 1, n), rng.uniform(0.2, 1.5, n), rng.random(n) < 0.5
    big = pricing.greeks(is_call, S, K, T, 0.04, sigma, b=0.0)
    for lo in (0, 16_000, 39_990):
        small = pricing.greeks(
            is_call[lo : lo + 10],
            S[lo : lo + 10],
            K[lo : lo + 10],
            T[lo : lo + 10],
            0.04,
            sigma[lo : lo + 10],
            b=0.0,
        )
        for field in ("price", "delta", "gamma", "vega", "theta", "rho"):
            np.testing.assert_array_equal(getattr(big, field)[lo : lo + 10], getattr(small, field))


def test_parse_cp__with_strings_and_booleans__maps_calls_to_true() -> None:
    assert pricing.parse_cp("c") and not pricing.parse_cp("p")
    assert pricing.parse_cp("CALL") and not pricing.parse_cp("Put")
    np.testing.assert_array_equal(pricing.parse_cp(np.array(["c", "p", "P"])), [True, False, False])
    np.testing.assert_array_equal(pricing.parse_cp(np.array([True, False])), [True, False])
    assert float(pricing.price(True, 100, 100, 1, 0, 0.2)) == float(pricing.price("c", 100, 100, 1, 0, 0.2))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"S": 0.0}, "S"),
        ({"S": -5.0}, "S"),
        ({"K": 0.0}, "K"),
        ({"sigma": 0.0}, "sigma"),
        ({"sigma": -0.2}, "sigma"),
        ({"T": -0.01}, "T"),
        ({"S": float("nan")}, "S"),
        ({"K": np.array([100.0, float("nan")])}, "K"),
        ({"T": float("inf")}, "T"),
        ({"r": float("nan")}, "r"),
        ({"b": float("nan")}, "b"),
        ({"sigma": float("nan")}, "sigma"),
        ({"cp": "x"}, "cp"),
        ({"cp": 3}, "cp"),
    ],
)
def test_price__with_invalid_input__raises_value_error_naming_the_argument(kwargs: dict, name: str) -> None:
    args = {"cp": "c", "S": 100.0, "K": 100.0, "T": 0.5, "r": 0.05, "sigma": 0.2, "b": None} | kwargs
    with pytest.raises(ValueError, match=rf"^{name} "):
        pricing.price(**args)
    with pytest.raises(ValueError, match=rf"^{name} "):
        pricing.greeks(**args)


def test_implied_vol__with_nan_price__raises_value_error_naming_price() -> None:
    with pytest.raises(ValueError, match=r"^price "):
        pricing.implied_vol(float("nan"), "c", 100, 100, 1, 0.0)


# ------------------------------------------------------------------ edge cases


@pytest.mark.parametrize("kind", ["bs", "b76", "yield"])
def test_greeks__at_expiry__give_intrinsic_value_and_step_delta(kind: str) -> None:
    r = 0.05
    b = _carry(kind, r)
    S = np.array([90.0, 100.0, 110.0])
    c = pricing.greeks("c", S, 100.0, 0.0, r, 0.5, b)
    p = pricing.greeks("p", S, 100.0, 0.0, r, 0.5, b)
    np.testing.assert_array_equal(c.price, [0.0, 0.0, 10.0])
    np.testing.assert_array_equal(p.price, [10.0, 0.0, 0.0])
    np.testing.assert_array_equal(c.delta, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(p.delta, [-1.0, -0.5, 0.0])
    for g in (c, p):
        np.testing.assert_array_equal(g.gamma, 0.0)
        np.testing.assert_array_equal(g.vega, 0.0)
        assert np.all(np.isfinite(g.theta)) and np.all(np.isfinite(g.rho))


def test_price__with_vanishing_sigma__gives_discounted_forward_intrinsic() -> None:
    S, K, T, r, b = 100.0, np.array([80.0, 100.0 * math.exp(0.03 * 2.0), 120.0]), 2.0, 0.05, 0.03
    fwd = S * math.exp(b * T)
    for sigma in (1e-12, 1e-200, 5e-324):
        c = pricing.greeks("c", S, K, T, r, sigma, b)
        p = pricing.greeks("p", S, K, T, r, sigma, b)
        # at the money the value is ≈ 0.4·F·σ√T, which is what is left of the time value
        atol = 1e-13 + 0.4 * fwd * sigma * math.sqrt(T)
        np.testing.assert_allclose(c.price, np.exp(-r * T) * np.maximum(fwd - K, 0), rtol=1e-14, atol=atol)
        np.testing.assert_allclose(p.price, np.exp(-r * T) * np.maximum(K - fwd, 0), rtol=1e-14, atol=atol)
        assert np.all(np.isfinite(c.delta)) and np.all(np.isfinite(p.theta))
        assert c.delta[0] == pytest.approx(math.exp((b - r) * T)) and c.delta[2] == 0.0


def test_greeks__deep_in_and_out_of_the_money__stay_finite_and_bounded() -> None:
    K = np.array([1e-3, 1.0, 1e6, 1e12])
    for cp in ("c", "p"):
        g = pricing.greeks(cp, 3000.0, K, 0.5, 0.05, 0.8)
        for field in ("price", "delta", "gamma", "vega", "theta", "rho"):
            assert np.all(np.isfinite(getattr(g, field))), (cp, field)
        assert np.all(g.price >= 0)
    deep_otm_put = float(pricing.price("p", 3000.0, 1.0, 0.5, 0.05, 0.8))
    assert 0.0 <= deep_otm_put < 1e-30


# ------------------------------------------------------------------ implied vol


def _normalised_sample(n: int, seed: int) -> tuple[np.ndarray, ...]:
    """Random (x = ln F/K, s = σ√T) over the accuracy domain |x| ≤ 3, s ∈ [0.01, 3]."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3.0, 3.0, n)
    s = np.exp(rng.uniform(math.log(0.01), math.log(3.0), n))
    T = np.exp(rng.uniform(math.log(1 / 365), math.log(5.0), n))
    F = np.exp(rng.uniform(math.log(10.0), math.log(10_000.0), n))
    return x, s, T, F, F * np.exp(-x), s / np.sqrt(T)


def test_implied_vol__over_the_accuracy_domain__recovers_sigma_to_1e_10() -> None:
    x, _, T, F, K, sigma = _normalised_sample(60_000, 11)
    r = 0.04
    for cp in ("c", "p"):
        prices = pricing.price(cp, F, K, T, r, sigma, b=0.0)
        iv = pricing.implied_vol(prices, cp, F, K, T, r, b=0.0)
        otm = x <= 0 if cp == "c" else x >= 0
        representable = prices > 1e-280  # below this the OTM price itself has underflowed
        checked = otm & representable
        assert checked.sum() > 20_000
        err = np.abs(iv - sigma)[checked]
        assert np.max(err) <= 1e-10, f"{cp}: worst {np.max(err):.2e}"
        # in the money: the time value must survive the intrinsic value's rounding to carry sigma
        vega = pricing.greeks(cp, F, K, T, r, sigma, b=0.0).vega
        with np.errstate(divide="ignore", over="ignore"):
            itm_ok = ~otm & (np.spacing(prices) / vega < 1e-12)
        assert itm_ok.sum() > 5_000
        assert np.max(np.abs(iv - sigma)[itm_ok]) <= 1e-10


@math_settings
@given(
    x=st.floats(-3.0, 3.0),
    s=st.floats(0.01, 3.0),
    T=st.floats(1 / 365, 5.0),
    F=st.floats(1.0, 1e5),
    r=st.floats(-0.01, 0.1),
    call=st.booleans(),
)
def test_implied_vol__of_an_out_of_the_money_price__inverts_price(
    x: float, s: float, T: float, F: float, r: float, call: bool
) -> None:
    K = F * math.exp(abs(x) if call else -abs(x))  # out of the money (or at the money) by construction
    sigma = s / math.sqrt(T)
    p = float(pricing.price(call, F, K, T, r, sigma, b=0.0))
    if p < 1e-280:
        return  # the price underflowed: nothing to invert
    assert float(pricing.implied_vol(p, call, F, K, T, r, b=0.0)) == pytest.approx(sigma, abs=1e-10)


def test_implied_vol__against_vollib_lets_be_rational__agrees_to_1e_10() -> None:
    from vollib.black import black
    from vollib.black.implied_volatility import implied_volatility

    rng = np.random.default_rng(5)
    n = 400
    F = rng.uniform(1500, 4500, n)
    K = F * np.exp(rng.uniform(-0.5, 0.5, n))
    T = rng.uniform(1 / 365, 1.0, n)
    sigma = rng.uniform(0.3, 1.2, n)
    r = 0.03
    flags = np.where(K > F, "c", "p")  # out of the money: the quotes a market shows
    ours = pricing.implied_vol(pricing.price(flags, F, K, T, r, sigma, b=0.0), flags, F, K, T, r, b=0.0)
    for i in range(n):
        their_price = black(flags[i], F[i], K[i], T[i], r, sigma[i])
        assert float(pricing.price(flags[i], F[i], K[i], T[i], r, sigma[i], b=0.0)) == pytest.approx(
            their_price, rel=1e-12, abs=1e-12
        )
        theirs = implied_volatility(their_price, F[i], K[i], r, T[i], flags[i])
        assert ours[i] == pytest.approx(theirs, abs=1e-10)


def test_greeks__against_quantlib_analytic_engine__agree() -> None:
    ql = pytest.importorskip("QuantLib")
    rng = np.random.default_rng(9)
    today = ql.Date(21, 11, 2026)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    for _ in range(40):
        S = float(rng.uniform(1500, 4500))
        K = float(S * np.exp(rng.uniform(-0.4, 0.4)))
        days = int(rng.integers(2, 400))
        T = days / 365.0
        r, q, sigma = float(rng.uniform(0, 0.08)), float(rng.uniform(0, 0.05)), float(rng.uniform(0.3, 1.2))
        call = bool(rng.random() < 0.5)
        process = ql.BlackScholesMertonProcess(
            ql.QuoteHandle(ql.SimpleQuote(S)),
            ql.YieldTermStructureHandle(ql.FlatForward(today, q, dc)),
            ql.YieldTermStructureHandle(ql.FlatForward(today, r, dc)),
            ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), sigma, dc)),
        )
        option = ql.EuropeanOption(
            ql.PlainVanillaPayoff(ql.Option.Call if call else ql.Option.Put, K),
            ql.EuropeanExercise(today + days),
        )
        option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
        g = pricing.greeks(call, S, K, T, r, sigma, b=r - q)
        assert float(g.price) == pytest.approx(option.NPV(), rel=1e-9, abs=1e-9)
        assert float(g.delta) == pytest.approx(option.delta(), rel=1e-9, abs=1e-12)
        assert float(g.gamma) == pytest.approx(option.gamma(), rel=1e-9, abs=1e-15)
        assert float(g.vega) == pytest.approx(option.vega(), rel=1e-9, abs=1e-9)
        assert float(g.theta) == pytest.approx(option.theta(), rel=1e-9, abs=1e-9)
        assert float(g.rho) == pytest.approx(option.rho(), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("cp", ["c", "p"])
def test_implied_vol__outside_no_arbitrage_bounds__returns_nan_per_element(cp: str) -> None:
    S, K, T, r = 100.0, 100.0 * (0.9 if cp == "c" else 1.1), 0.5, 0.05
    lower = max(S - K * math.exp(-r * T), 0.0) if cp == "c" else max(K * math.exp(-r * T) - S, 0.0)
    upper = S if cp == "c" else K * math.exp(-r * T)
    good = float(pricing.price(cp, S, K, T, r, 0.3))
    iv = pricing.implied_vol(np.array([lower - 0.01, -1.0, upper, upper + 1, good]), cp, S, K, T, r)
    assert np.all(np.isnan(iv[:4]))
    assert iv[4] == pytest.approx(0.3, abs=1e-12)


def test_implied_vol__at_the_lower_bound_and_at_expiry__is_zero_and_nan() -> None:
    S, K, T, r = 100.0, 90.0, 0.5, 0.05
    lower = S - K * math.exp(-r * T)
    assert float(pricing.implied_vol(lower, "c", S, K, T, r)) == 0.0
    assert float(pricing.implied_vol(0.0, "c", S, 200.0, T, r)) == 0.0
    assert math.isnan(float(pricing.implied_vol(10.0, "c", S, K, 0.0, r)))


def test_implied_vol__at_the_forward__uses_the_closed_form() -> None:
    F, T, r = 2500.0, 0.25, 0.02
    sigma = np.array([0.05, 0.5, 2.0, 5.0])
    p = pricing.price("c", F, F, T, r, sigma, b=0.0)
    np.testing.assert_allclose(pricing.implied_vol(p, "c", F, F, T, r, b=0.0), sigma, atol=1e-12)


def test_normalised_black__equals_undiscounted_price_over_sqrt_fk() -> None:
    F, K, T, sigma = 3000.0, np.array([2000.0, 3000.0, 4000.0]), 0.5, 0.8
    want = pricing.price("c", F, K, T, 0.0, sigma, b=0.0) / np.sqrt(F * K)
    np.testing.assert_allclose(
        pricing.normalised_black(np.log(F / K), sigma * math.sqrt(T)), want, rtol=1e-13
    )


# ------------------------------------------------------------------ inverse options


def test_inverse_price__is_usd_price_over_forward() -> None:
    F, K, T, sigma = 3000.0, np.array([2500.0, 3000.0, 3500.0]), 30 / 365, 0.7
    usd = pricing.price("c", F, K, T, 0.0, sigma, b=0.0)
    np.testing.assert_allclose(pricing.inverse_price("c", F, K, T, 0.0, sigma), usd / F, rtol=1e-15)


@pytest.mark.parametrize("cp", ["c", "p"])
def test_inverse_delta__is_the_coin_value_sensitivity_times_forward(cp: str) -> None:
    # V_coin(F) = V_usd(F)/F, so F·dV_coin/dF = delta − V_coin: the coin exposure of holding the option
    F, K, T, r, sigma = 3000.0, np.array([2400.0, 3000.0, 3900.0]), 60 / 365, 0.0, 0.75
    h = 1e-3
    up = pricing.inverse_price(cp, F + h, K, T, r, sigma)
    down = pricing.inverse_price(cp, F - h, K, T, r, sigma)
    np.testing.assert_allclose(
        pricing.inverse_delta(cp, F, K, T, r, sigma), F * (up - down) / (2 * h), atol=1e-8
    )
    usd_delta = pricing.greeks(cp, F, K, T, r, sigma, b=0.0).delta
    assert np.all(pricing.inverse_delta(cp, F, K, T, r, sigma) < usd_delta)
