"""BlackScholes (contracts/libraries/BlackScholes.sol) through BlackScholesHarness, on anvil.

Two references:

- keeper.pricing (double precision, the keeper's own pricer): the on-chain price must agree to
  1e-15·(F + K) — the float reference itself carries about 2e-16·(F + K) of rounding, so agreement
  cannot be tested tighter than that; the documented requirement is 1e-9·F.
- tests/bs_reference.py (80-digit decimal, the same formulas on the exact wad inputs): the on-chain
  price must be within 1e-18·(F + K) + 2 wei of it (measured: about 3.2e-19·(F + K) + 1 wei, the
  error of Cody's normal CDF approximation), and black76Down <= exact <= black76Up.

Property tests draw the quoting range (F in 100..100 000, K/F in e^±1, T from one hour to two
years, sigma 0.05..3, r 0..20 %); batch tests cover the whole documented domain in a few eth_calls.
"""

from __future__ import annotations

import csv
import itertools
import math
import random
from decimal import Decimal
from pathlib import Path

import ape
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from scipy.special import ndtr

from keeper import pricing
from tests import bs_reference as ref

WAD = 10**18
YEAR = 365 * 86_400
HOUR = 3_600
DAY = 86_400
MIN_PRICE = 10**12
MAX_PRICE = 10**30
MAX_TAU = 5 * YEAR
MAX_SIGMA = 10 * WAD
REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "option_values.csv"

# Documented bounds (contracts/libraries/BlackScholes.sol).
EXACT_REL = Decimal("1e-18")  # price vs the exact value: 1e-18·(F + K) + 2 wei
EXACT_WEI = 2
FLOAT_REL = 1e-15  # price vs keeper.pricing: 1e-15·(F + K) (the float's own error is ~2e-16)
BOUND_REL = Decimal("1e-15")  # priceErrorBoundWad = (F + K)·1e-15 + 4 wei
BOUND_WEI = 4

# Each example is one eth_call (~5 ms) plus an 80-digit reference: more examples than the
# transaction-heavy vault tests, still derandomized and without a database so runs are reproducible.
bs_settings = settings(
    max_examples=150,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def bs(project, accounts):
    return accounts[0].deploy(project.BlackScholesHarness)


# ------------------------------------------------------------------ inputs


@st.composite
def quotes(draw: st.DrawFn) -> tuple[bool, int, int, int, int, int]:
    """(isCall, F, K, tau, sigma, discount) in the quoting range, as the contract's integers."""
    is_call = draw(st.booleans())
    f = 10 ** draw(st.floats(2.0, 5.0))
    k = f * math.exp(draw(st.floats(-1.0, 1.0)))
    tau = int(10 ** draw(st.floats(math.log10(HOUR), math.log10(2 * YEAR))))
    sigma = draw(st.floats(0.05, 3.0))
    r = draw(st.sampled_from([0.0, 0.0, 0.05, 0.2]))
    discount = int(Decimal(-r * tau / YEAR).exp() * WAD)
    return is_call, int(f * WAD), int(k * WAD), tau, int(sigma * WAD), discount


def _float_greeks(q: tuple[bool, int, int, int, int, int]) -> pricing.Greeks:
    is_call, f, k, tau, sigma, discount = q
    t = tau / YEAR
    r = -math.log(discount / WAD) / t
    return pricing.greeks("c" if is_call else "p", f / WAD, k / WAD, t, r, sigma / WAD, b=0.0)


def _domain_queries(n: int, seed: int) -> list[tuple[bool, int, int, int, int, int]]:
    """n queries spread over the whole documented domain (log-uniform prices, any tau/sigma/discount)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 2:  # anywhere in the domain
            f = int(10 ** rng.uniform(12, 30))
            k = int(10 ** rng.uniform(12, 30))
            tau = rng.choice([rng.randint(1, MAX_TAU), rng.randint(1, DAY)])
            sigma = rng.choice([rng.randint(1, MAX_SIGMA), rng.randint(1, WAD // 10)])
        else:  # the quoting range, widened: K/F in e^±3, minutes to five years
            f = int(10 ** rng.uniform(20, 23))
            k = int(f * math.exp(rng.uniform(-3, 3)))
            tau = int(10 ** rng.uniform(2, math.log10(MAX_TAU)))
            sigma = int(10 ** rng.uniform(16, 19))
        discount = rng.choice([WAD, rng.randint(1, WAD), rng.randint(WAD // 2, WAD)])
        out.append((rng.random() < 0.5, f, k, tau, sigma, discount))
    return out


def _exact_bound(f: int, k: int) -> Decimal:
    return EXACT_REL * (f + k) + EXACT_WEI


def _delta_bound(tau: int, sigma: int) -> Decimal:
    """2 wei, plus 2.4e-10/(σ√T) wei when σ√T is below ~1e-9 (s is held to 1e-27 absolute)."""
    s = Decimal(sigma) / WAD * (Decimal(tau) / YEAR).sqrt()
    return 2 + (Decimal("2.4e-10") / s if s else 0)


def _vega_bound(f: int, tau: int, sigma: int) -> Decimal:
    """1e-17·F·√T + 3 wei, plus F·√T·3e-28/(σ√T) for vanishing σ√T."""
    s = Decimal(sigma) / WAD * (Decimal(tau) / YEAR).sqrt()
    scale = Decimal(f) * (Decimal(tau) / YEAR).sqrt()
    return scale * (Decimal("1e-17") + (Decimal("3e-28") / s if s else 0)) + 3


def _near_money_tiny_vol_queries(n: int, seed: int) -> list[tuple[bool, int, int, int, int, int]]:
    """Vanishing σ√T with the strike within a few ulps of the forward: the hardest case for d1."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        f = int(10 ** rng.uniform(12, 30))
        if rng.random() < 0.5:
            k = f + rng.randint(-(10**6), 10**6)
        else:
            k = int(f * math.exp(rng.uniform(-0.01, 0.01)))
        k = min(max(k, MIN_PRICE), MAX_PRICE)
        tau = rng.choice([1, 60, MAX_TAU, rng.randint(1, MAX_TAU)])
        sigma = rng.choice([1, 10**9, MAX_SIGMA, rng.randint(1, MAX_SIGMA)])
        out.append((rng.random() < 0.5, f, k, tau, sigma, rng.choice([WAD, rng.randint(1, WAD)])))
    return out


# ------------------------------------------------------------------ prices


@bs_settings
@given(q=quotes())
def test_black76__with_random_quoting_inputs__matches_keeper_pricing_and_exact_value(bs, q):
    _, f, k, *_ = q
    got = bs.black76(*q)
    exact, _, _ = ref.black76(*q)
    assert abs(got - exact) <= _exact_bound(f, k), f"error {float(abs(got - exact))} wei"
    floating = float(_float_greeks(q).price) * WAD
    assert abs(got - floating) <= FLOAT_REL * (f + k)
    assert abs(got - floating) <= 1e-9 * f  # the requirement (issue 4)


@bs_settings
@given(q=quotes())
def test_black76UpDown__with_random_quoting_inputs__bracket_exact_and_float_prices(bs, q):
    is_call, f, k, _, _, discount = q
    up, down, mid = bs.black76Up(*q), bs.black76Down(*q), bs.black76(*q)
    exact, _, _ = ref.black76(*q)
    floating = Decimal(float(_float_greeks(q).price)) * WAD
    assert down <= exact <= up
    # black76Down never goes below the discounted intrinsic value (a true lower bound); deep in the
    # money with little time value the float price can fall a few ulps under it, so it is clamped there
    intrinsic_floor = max((f - k) if is_call else (k - f), 0) * discount // WAD
    assert down <= max(floating, intrinsic_floor)
    assert floating <= up
    assert down <= mid <= up
    bound = bs.priceErrorBoundWad(f, k)
    assert bound <= BOUND_REL * (f + k) + BOUND_WEI + 1
    assert up - down <= 2 * bound + 2  # no wider than documented


@bs_settings
@given(q=quotes())
def test_black76Bounds__with_random_quoting_inputs__is_down_up_and_delta_to_the_wei(bs, q):
    assert tuple(bs.black76Bounds(*q)) == (bs.black76Down(*q), bs.black76Up(*q), bs.black76WithDelta(*q)[1])


@pytest.mark.parametrize("is_call", [True, False])
@pytest.mark.parametrize("strike", [90 * WAD, 100 * WAD, 110 * WAD])
@pytest.mark.parametrize(
    ("tau", "sigma"), [(0, 7 * WAD // 10), (30 * DAY, 0), (DAY, 1), (MAX_TAU, MAX_SIGMA)]
)
def test_black76Bounds__with_degenerate_and_extreme_inputs__is_down_up_and_delta(
    bs, is_call, strike, tau, sigma
):
    q = (is_call, 100 * WAD, strike, tau, sigma, 95 * WAD // 100)
    assert tuple(bs.black76Bounds(*q)) == (bs.black76Down(*q), bs.black76Up(*q), bs.black76WithDelta(*q)[1])


@bs_settings
@given(q=quotes())
def test_black76Greeks__with_random_quoting_inputs__delta_and_vega_match_keeper_pricing(bs, q):
    is_call, f, _, tau, _, _ = q
    price, delta, vega = bs.black76Greeks(*q)
    assert price == bs.black76(*q)
    assert (price, delta) == tuple(bs.black76WithDelta(*q))
    g = _float_greeks(q)
    _, exact_delta, exact_vega = ref.black76(*q)
    assert abs(delta - exact_delta) <= 2  # wei
    assert abs(delta / WAD - float(g.delta)) <= 1e-14  # the float delta is off by up to ~3e-15
    assert (delta >= 0) == is_call or delta == 0
    scale = Decimal(f) * (Decimal(tau) / YEAR).sqrt()  # F·√T: vega ≤ 0.4 of it
    assert abs(vega - exact_vega) <= Decimal("1e-17") * scale + 3
    assert abs(vega / WAD - float(g.vega)) <= 1e-14 * float(scale) / WAD


def test_quoteBatch__with_points_across_the_whole_domain__meet_the_documented_bounds(bs, capsys):
    """1 000 points over the full domain (prices 1e-6..1e12, tau up to 5 years, sigma up to 10) and 200
    with vanishing sigma and the strike within a few ulps of the forward."""
    worst_rel = Decimal(0)
    worst_delta = Decimal(0)
    queries = _domain_queries(1000, seed=4) + _near_money_tiny_vol_queries(200, seed=6)
    for lo in range(0, len(queries), 200):
        chunk = queries[lo : lo + 200]
        for q, out in zip(chunk, bs.quoteBatch(chunk), strict=True):
            is_call, f, k, tau, _, discount = q
            exact, exact_delta, exact_vega = ref.black76(*q)
            err = abs(out.priceWad - exact)
            assert err <= _exact_bound(f, k), (q, float(err))
            assert out.priceDownWad <= exact <= out.priceUpWad, q
            intrinsic = max((f - k) if is_call else (k - f), 0) * discount // WAD
            assert intrinsic <= out.priceDownWad <= out.priceWad <= out.priceUpWad
            assert out.priceUpWad <= -(-(f if is_call else k) * discount // WAD)  # ≤ D·F or D·K (ceil)
            assert abs(out.deltaWad - exact_delta) <= _delta_bound(tau, q[4]), q
            assert abs(out.vegaWad - exact_vega) <= _vega_bound(f, tau, q[4]), q
            worst_rel = max(worst_rel, max(err - 1, Decimal(0)) / (f + k))
            if Decimal(q[4]) / WAD * (Decimal(tau) / YEAR).sqrt() >= Decimal("1e-9"):  # practical inputs
                worst_delta = max(worst_delta, abs(out.deltaWad - exact_delta))
    with capsys.disabled():
        print(
            f"\nBlackScholes over {len(queries)} domain points: price error <= "
            f"{float(worst_rel):.2e}·(F+K) + 1 wei, delta error <= {float(worst_delta):.2f} wei (σ√T >= 1e-9)"
        )


@bs_settings
@given(q=quotes())
def test_black76__with_call_and_put__satisfies_put_call_parity_to_the_wei(bs, q):
    _, f, k, tau, sigma, discount = q
    call = bs.black76(True, f, k, tau, sigma, discount)
    put = bs.black76(False, f, k, tau, sigma, discount)
    assert abs(Decimal(call - put) - Decimal(f - k) * discount / WAD) <= 2
    # the rounded variants bracket parity as well
    call_up = bs.black76Up(True, f, k, tau, sigma, discount)
    put_down = bs.black76Down(False, f, k, tau, sigma, discount)
    assert call_up - put_down >= Decimal(f - k) * discount / WAD


def test_black76__with_textbook_black76_rows__match_published_values_to_5e_5(bs):
    if not REFERENCE.exists():
        pytest.skip(f"{REFERENCE} not present (../shared/reference sits beside the repo)")
    with REFERENCE.open() as fh:
        rows = [r for r in csv.DictReader(line for line in fh if not line.startswith("#"))]
    rows = [r for r in rows if float(r["b"]) == 0.0]
    assert {r["case"] for r in rows} >= {
        "haug_black76_call",
        "haug_black76_put",
        "haug_delta_futures_call",
        "haug_delta_futures_put",
    }
    for row in rows:
        tau = round(Decimal(row["T"]) * YEAR)
        discount = int((-Decimal(row["r"]) * Decimal(row["T"])).exp() * WAD)
        q = (row["cp"] == "c", int(Decimal(row["S"]) * WAD), int(Decimal(row["K"]) * WAD), tau)
        price, delta, vega = bs.black76Greeks(*q, int(Decimal(row["sigma"]) * WAD), discount)
        for name, got in (("price", price), ("delta", delta), ("vega", vega)):
            assert got / WAD == pytest.approx(float(row[name]), abs=5e-5), f"{row['case']} {name}"


# ------------------------------------------------------------------ edge cases


@pytest.mark.parametrize("is_call", [True, False])
@pytest.mark.parametrize("strike", [90 * WAD, 100 * WAD, 110 * WAD])
@pytest.mark.parametrize(("tau", "sigma"), [(0, 7 * WAD // 10), (30 * DAY, 0), (0, 0)])
def test_black76__with_zero_tau_or_sigma__is_the_discounted_intrinsic_value_exactly(
    bs, is_call, strike, tau, sigma
):
    f, discount = 100 * WAD, 99 * WAD // 100
    intrinsic = max((f - strike) if is_call else (strike - f), 0)
    assert bs.black76(is_call, f, strike, tau, sigma, discount) == intrinsic * discount // WAD
    assert bs.black76Down(is_call, f, strike, tau, sigma, discount) == intrinsic * discount // WAD
    assert bs.black76Up(is_call, f, strike, tau, sigma, discount) == -(-intrinsic * discount // WAD)
    _, delta, vega = bs.black76Greeks(is_call, f, strike, tau, sigma, discount)
    sign = 1 if is_call else -1
    step = 0 if sign * (f - strike) < 0 else (discount if f != strike else discount // 2)
    assert delta == sign * step
    assert vega == 0


@pytest.mark.parametrize("is_call", [True, False])
def test_black76__with_one_wei_of_sigma_and_one_second__is_intrinsic_within_the_bound(bs, is_call):
    f, k = 3_000 * WAD, 2_900 * WAD
    q = (is_call, f, k, 1, 1, WAD)
    intrinsic = (f - k) if is_call else 0
    assert bs.black76(*q) == intrinsic
    assert bs.black76Down(*q) == intrinsic
    assert intrinsic < bs.black76Up(*q) <= intrinsic + bs.priceErrorBoundWad(f, k)


@pytest.mark.parametrize("is_call", [True, False])
@pytest.mark.parametrize(
    ("f", "k"),
    [(MIN_PRICE, MAX_PRICE), (MAX_PRICE, MIN_PRICE), (MAX_PRICE, MAX_PRICE), (MIN_PRICE, MIN_PRICE)],
)
@pytest.mark.parametrize(("tau", "sigma"), [(MAX_TAU, MAX_SIGMA), (1, 1), (HOUR, WAD // 20), (MAX_TAU, 1)])
def test_black76__with_domain_extremes__is_finite_and_within_no_arbitrage_bounds(
    bs, is_call, f, k, tau, sigma
):
    q = (is_call, f, k, tau, sigma, WAD)
    price, delta, _ = bs.black76Greeks(*q)
    up, down = bs.black76Up(*q), bs.black76Down(*q)
    exact, _, _ = ref.black76(*q)
    intrinsic = max((f - k) if is_call else (k - f), 0)
    assert intrinsic <= down <= exact <= up <= (f if is_call else k)
    assert abs(price - exact) <= _exact_bound(f, k)
    assert -WAD <= delta <= WAD


def test_black76__with_max_sigma_and_tau__approaches_the_forward(bs):
    f = 3_000 * WAD
    # s = 10·√5 ≈ 22.4: N(d1) ≈ 1, N(d2) ≈ 1e-29: the call is worth F to 1e-27
    assert bs.black76(True, f, f, MAX_TAU, MAX_SIGMA, WAD) == f
    assert bs.black76(False, f, f, MAX_TAU, MAX_SIGMA, WAD) == f


@pytest.mark.parametrize("ratio", [Decimal("1e-6"), Decimal("1e6")])
def test_black76__with_extreme_moneyness__gives_zero_or_discounted_intrinsic(bs, ratio):
    f = 2_000 * WAD
    k = int(f * ratio)
    discount = 95 * WAD // 100
    for is_call in (True, False):
        price = bs.black76(is_call, f, k, HOUR, WAD // 20, discount)
        intrinsic = max((f - k) if is_call else (k - f), 0)
        assert abs(price - intrinsic * discount // WAD) <= 1


# ------------------------------------------------------------------ invalid inputs

PRICE_FNS = ["black76", "black76Up", "black76Down", "black76WithDelta", "black76Greeks", "black76Bounds"]
OK = (True, 3_000 * WAD, 3_000 * WAD, 30 * DAY, 7 * WAD // 10, WAD)


@pytest.mark.parametrize("fn", PRICE_FNS)
@pytest.mark.parametrize(
    ("f", "k"),
    [(0, 3_000 * WAD), (3_000 * WAD, 0), (MIN_PRICE - 1, WAD), (WAD, MAX_PRICE + 1), (MAX_PRICE + 1, WAD)],
)
def test_black76__with_forward_or_strike_out_of_domain__reverts_with_both_values(bs, fn, f, k):
    with ape.reverts(bs.BlackScholesInvalidInput, forwardWad=f, strikeWad=k):
        getattr(bs, fn)(True, f, k, 30 * DAY, 7 * WAD // 10, WAD)


@pytest.mark.parametrize("fn", PRICE_FNS)
def test_black76__with_tau_above_five_years__reverts_with_tau_and_max(bs, fn):
    with ape.reverts(bs.BlackScholesTauTooLong, tauSec=MAX_TAU + 1, maxTauSec=MAX_TAU):
        getattr(bs, fn)(True, WAD, WAD, MAX_TAU + 1, WAD, WAD)


@pytest.mark.parametrize("fn", PRICE_FNS)
def test_black76__with_sigma_above_1000_percent__reverts_with_sigma_and_max(bs, fn):
    with ape.reverts(bs.BlackScholesSigmaTooHigh, sigmaWad=MAX_SIGMA + 1, maxSigmaWad=MAX_SIGMA):
        getattr(bs, fn)(False, WAD, WAD, DAY, MAX_SIGMA + 1, WAD)


@pytest.mark.parametrize("fn", PRICE_FNS)
@pytest.mark.parametrize("discount", [0, WAD + 1])
def test_black76__with_discount_outside_zero_to_one__reverts_with_the_discount(bs, fn, discount):
    with ape.reverts(bs.BlackScholesInvalidDiscount, discountWad=discount):
        getattr(bs, fn)(True, WAD, WAD, DAY, WAD, discount)


def test_priceErrorBoundWad__with_typical_inputs__is_1e_15_of_forward_plus_strike_plus_4_wei(bs):
    assert bs.priceErrorBoundWad(3_000 * WAD, 3_000 * WAD) == 6_000 * 1_000 + BOUND_WEI
    assert bs.priceErrorBoundWad(MIN_PRICE, MIN_PRICE) == 1 + BOUND_WEI  # rounded up


# ------------------------------------------------------------------ math helpers


def _log_uniform_ints(rng: random.Random, lo_exp: float, hi_exp: float, n: int) -> list[int]:
    return [int(Decimal(10) ** Decimal(rng.uniform(lo_exp, hi_exp))) for _ in range(n)]


def test_lnWad__with_the_whole_uint256_range__is_within_one_wei_of_exact(bs):
    rng = random.Random(1)
    xs = [*_log_uniform_ints(rng, 0, 77, 400), 1, 2, 3, WAD - 1, WAD, WAD + 1, 2 * WAD, 2**255, 2**256 - 1]
    xs += [rng.randint(WAD // 2, 2 * WAD) for _ in range(100)]
    got = bs.lnWadBatch(xs)
    for x, y in zip(xs, got, strict=True):
        assert abs(y - ref.ln_wad(x)) <= 1, x
        assert abs(y / WAD - math.log(x / WAD)) <= 1e-15 * max(1.0, abs(math.log(x / WAD)))
    assert bs.lnWad(WAD) == 0


def test_lnWad__with_zero__reverts(bs):
    with ape.reverts(bs.BlackScholesLnOfZero):
        bs.lnWad(0)


def test_expWad__with_arguments_from_minus_42_to_135__is_within_one_wei_plus_1e_20_relative(bs):
    rng = random.Random(2)
    xs = [rng.randint(-42 * WAD, 135 * WAD) for _ in range(300)]
    xs += [rng.randint(-WAD, WAD) for _ in range(100)]
    xs += [0, 1, -1, WAD, -WAD, 135 * WAD, -42 * WAD, -41 * WAD, 100 * WAD]
    got = bs.expWadBatch(xs)
    for x, y in zip(xs, got, strict=True):
        exact = ref.exp_wad(x)
        assert y <= exact + Decimal("1e-20") * exact, x  # rounded down
        assert exact - y <= 1 + Decimal("1e-20") * exact, x
        if x <= 70 * WAD:  # the float argument x/1e18 alone carries a relative error of 1e-16·|x|
            tol = 1e-15 * max(1.0, abs(x) / WAD)
            assert y / WAD == pytest.approx(math.exp(x / WAD), rel=tol, abs=1e-18)
    assert bs.expWad(0) == WAD


def test_expWad__with_argument_above_135__reverts_with_the_argument(bs):
    with ape.reverts(bs.BlackScholesExpOverflow, xWad=135 * WAD + 1):
        bs.expWad(135 * WAD + 1)


def test_expWad__with_argument_below_minus_42__returns_zero(bs):
    assert bs.expWad(-42 * WAD - 1) == 0
    assert bs.expWad(-(2**255)) == 0


def test_sqrtWad__with_the_whole_uint256_range__is_the_exact_floor(bs):
    rng = random.Random(3)
    xs = [*_log_uniform_ints(rng, 0, 77, 400), 0, 1, 2, 3, 4, WAD, 4 * WAD, 2**256 - 1, (2**256 - 1) // WAD]
    got = bs.sqrtWadBatch(xs)
    for x, y in zip(xs, got, strict=True):
        if x <= (2**256 - 1) // WAD:
            assert y == math.isqrt(x * WAD), x
        else:  # ⌊√x⌋·1e9: low by less than 1e9 wei
            assert 0 <= math.isqrt(x * WAD) - y < 10**9, x
        assert y / WAD == pytest.approx(math.sqrt(x / WAD), rel=1e-15)


def test_normCdfWad__with_arguments_from_minus_40_to_40__is_within_one_wei_of_exact(bs):
    rng = random.Random(5)
    xs = [rng.randint(-40 * WAD, 40 * WAD) for _ in range(300)]
    xs += [rng.randint(-9 * WAD, 9 * WAD) for _ in range(500)]
    # the edges of Cody's three ranges (|x|/√2 = 0.46875 and 4) and of the cut-off (|x| = 14)
    edges = [0.662912607362388, 5.656854249492381, 14.0, 40.0]
    xs += [int(sign * (e + off) * WAD) for e in edges for sign in (1, -1) for off in (-1e-9, 0.0, 1e-9)]
    xs += [0, 1, -1, 2**255 - 1, -(2**255) + 1]
    cdf, pdf = bs.normBatch(xs)
    for x, c, p in zip(xs, cdf, pdf, strict=True):
        xd = Decimal(x) / WAD
        assert abs(c - ref.ncdf(xd) * WAD) <= 1, x
        assert abs(c / WAD - float(ndtr(x / WAD))) <= 2e-16, x
        exact_pdf = ref.npdf(xd) * WAD
        assert -1 <= exact_pdf - p <= 1 + Decimal("1e-20") * exact_pdf, x  # rounded down
    assert bs.normCdfWad(40 * WAD) == WAD
    assert bs.normCdfWad(-40 * WAD) == 0
    assert bs.normCdfWad(0) == WAD // 2


def test_normCdfWad__with_a_fine_grid__is_monotonic_and_symmetric(bs):
    grid = [i * WAD // 100 for i in range(-1000, 1001)]  # exact ±pairs
    cdf, _ = bs.normBatch(grid)
    assert all(a <= b for a, b in itertools.pairwise(cdf))
    for c, c_neg in zip(cdf, reversed(cdf), strict=True):
        # N(x) and N(−x) are rounded from complementary 1e36 values: the sum is 1 to the wei
        assert 0 <= c + c_neg - WAD <= 1
    # no step where Cody's ranges meet (|x| = 0.46875·√2 and 4·√2)
    for edge in (662_912_607_362_388_000, 5_656_854_249_492_380_000):
        for sign in (1, -1):
            xs = sorted(sign * edge + j * 10**6 for j in range(-100, 101))
            cdf, _ = bs.normBatch(xs)
            assert all(a <= b for a, b in itertools.pairwise(cdf)), (sign, edge)


# ------------------------------------------------------------------ gas


def test_black76Up__with_atm_30_day_70_percent_vol__costs_well_under_30k_gas(bs, capsys):
    q = (True, 3_000 * WAD, 3_000 * WAD, 30 * DAY, 7 * WAD // 10, WAD)
    _, up_gas = bs.black76UpGas(*q)
    _, greeks_gas = bs.black76GreeksGas(*q)
    with capsys.disabled():
        print(
            f"\nBlackScholes gas (library only, ATM 30-day 70%): black76Up {up_gas}, "
            f"black76Greeks {greeks_gas}"
        )
    assert up_gas < 15_000
    assert greeks_gas < 20_000
