"""keeper.univ3_math: Uniswap V3 integer arithmetic (tick math, price <-> sqrtPriceX96, swap steps).

Pure tests: no chain. The chain tests (tests/contracts/test_univ3_market.py) check the same functions
against the deployed pool to the wei.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from fractions import Fraction
from math import floor, isqrt, log

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keeper.chain.univ3 import ChainTicks
from keeper.univ3_math import (
    FEE_TICK_SPACING,
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    Q96,
    Q192,
    PoolState,
    StaticTicks,
    amounts_for_liquidity,
    compute_pool_address,
    compute_swap_step,
    full_range_ticks,
    get_amount0_delta,
    get_amount1_delta,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
    liquidity_for_amounts,
    next_initialized_in_word,
    price_from_sqrt_price_x96,
    price_wad_from_sqrt_price_x96,
    raw_price_from_usd,
    simulate_exact_input,
    sqrt_price_x96_from_price,
)

FAST = settings(max_examples=200, deadline=None, derandomize=True, database=None)

ticks = st.integers(min_value=MIN_TICK, max_value=MAX_TICK)
sqrt_prices = st.integers(min_value=MIN_SQRT_RATIO, max_value=MAX_SQRT_RATIO - 1)
# ETH prices a USDC/WETH pool can hold in either token order, and then some.
usd_prices = st.floats(min_value=1e-6, max_value=1e12, allow_nan=False, allow_infinity=False)
orders = st.booleans()


def test_get_sqrt_ratio_at_tick__with_bounds_and_zero__matches_solidity_constants():
    assert get_sqrt_ratio_at_tick(MIN_TICK) == MIN_SQRT_RATIO
    assert get_sqrt_ratio_at_tick(MAX_TICK) == MAX_SQRT_RATIO
    assert get_sqrt_ratio_at_tick(0) == Q96
    with pytest.raises(ValueError):
        get_sqrt_ratio_at_tick(MAX_TICK + 1)


@given(tick=ticks)
@FAST
def test_get_sqrt_ratio_at_tick__with_any_tick__is_sqrt_of_1_0001_pow_tick(tick):
    with localcontext() as ctx:
        ctx.prec = 60
        exact = (Decimal("1.0001") ** tick).sqrt() * Q96
        # within one unit (the result is an integer, rounded up) plus a relative 1e-15
        assert abs(Decimal(get_sqrt_ratio_at_tick(tick)) - exact) <= 1 + exact * Decimal("1e-15")


@given(s=sqrt_prices)
@FAST
def test_get_tick_at_sqrt_ratio__with_any_sqrt_price__is_greatest_tick_at_or_below(s):
    t = get_tick_at_sqrt_ratio(s)
    assert get_sqrt_ratio_at_tick(t) <= s < get_sqrt_ratio_at_tick(t + 1)


def test_full_range_ticks__with_each_fee_tier__are_widest_aligned_ticks():
    for spacing in FEE_TICK_SPACING.values():
        lo, hi = full_range_ticks(spacing)
        assert lo == -hi and hi % spacing == 0 and MAX_TICK - spacing < hi <= MAX_TICK
    assert full_range_ticks(10) == (-887270, 887270)


@given(p=usd_prices, usd_is_token0=orders)
@FAST
def test_sqrt_price_x96_from_price__with_any_price__is_floor_or_ceiling_of_exact_root(p, usd_is_token0):
    raw = raw_price_from_usd(p, usd_is_token0=usd_is_token0)
    x = raw * Q192  # the exact square of the ideal sqrtPriceX96
    down = sqrt_price_x96_from_price(p, usd_is_token0=usd_is_token0)
    up = sqrt_price_x96_from_price(p, usd_is_token0=usd_is_token0, round_up=True)
    assert down * down <= x < (down + 1) ** 2
    assert (up - 1) ** 2 < x <= up * up
    assert up - down in (0, 1)


@given(s=sqrt_prices, usd_is_token0=orders)
@FAST
def test_price_from_sqrt_price_x96__with_any_sqrt_price__round_trips_exactly(s, usd_is_token0):
    p = price_from_sqrt_price_x96(s, usd_is_token0=usd_is_token0)
    assert sqrt_price_x96_from_price(p, usd_is_token0=usd_is_token0) == s
    assert sqrt_price_x96_from_price(p, usd_is_token0=usd_is_token0, round_up=True) == s


@given(p=usd_prices, usd_is_token0=orders)
@FAST
def test_price_round_trip__with_float_price__within_documented_relative_error(p, usd_is_token0):
    s = sqrt_price_x96_from_price(p, usd_is_token0=usd_is_token0)
    back = price_from_sqrt_price_x96(s, usd_is_token0=usd_is_token0)
    # raw' = s²/2^192 <= raw < (s+1)²/2^192, so the relative error is below (1 + 1/s)² - 1 < 3/s.
    assert abs(back / Fraction(p) - 1) < Fraction(3, s)
    assert abs(float(back) / p - 1) < 1e-12  # and far below one tick (1e-4) in float terms
    # rounding direction in USD: the raw price rounds down, so USD rounds up when USD is token0
    assert (back >= Fraction(p)) if usd_is_token0 else (back <= Fraction(p))


@given(s=sqrt_prices, usd_is_token0=orders)
@FAST
def test_price_wad_from_sqrt_price_x96__with_any_sqrt_price__is_floor_of_exact_price(s, usd_is_token0):
    exact = price_from_sqrt_price_x96(s, usd_is_token0=usd_is_token0) * 10**18
    assert price_wad_from_sqrt_price_x96(s, usd_is_token0=usd_is_token0) == floor(exact)


@pytest.mark.parametrize(
    ("price", "usd_is_token0"), [(3000, True), (3000, False), (1500, True), (4500, False)]
)
def test_sqrt_price_x96_from_price__with_round_prices__matches_closed_form_and_tick(price, usd_is_token0):
    raw = Fraction(10**12, price) if usd_is_token0 else Fraction(price, 10**12)
    s = sqrt_price_x96_from_price(price, usd_is_token0=usd_is_token0)
    assert s == isqrt(raw.numerator * Q192 // raw.denominator)
    assert get_tick_at_sqrt_ratio(s) == floor(log(raw) / log(1.0001))


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "x", 1e-40, 1e60])
def test_sqrt_price_x96_from_price__with_invalid_or_unrepresentable_price__raises(bad):
    with pytest.raises(ValueError):
        sqrt_price_x96_from_price(bad, usd_is_token0=True)


def test_compute_pool_address__with_mainnet_usdc_weth_500__is_the_known_pool():
    pool = compute_pool_address(
        "0x1F98431c8aD98523631AE4a59f267346ea31F984",
        "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",  # WETH (order must not matter)
        "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",  # USDC
        500,
    )
    assert pool == "0x88e6A0c2dDD26FEEb64F039a2c41296FcB3f5640"


@given(
    s=st.integers(min_value=2**80, max_value=2**130),
    liquidity=st.integers(min_value=10**12, max_value=2**100),  # deep enough that 2**100 cannot empty it
    amount=st.integers(min_value=1, max_value=2**100),
    fee=st.sampled_from(sorted(FEE_TICK_SPACING)),
    zero_for_one=orders,
)
@FAST
def test_compute_swap_step__with_exact_input__uses_all_input_and_rounds_output_down(
    s, liquidity, amount, fee, zero_for_one
):
    target = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
    step = compute_swap_step(s, target, liquidity, amount, fee)
    assert step.amount_in + step.fee_amount == amount  # far target: the whole input is used
    moved = step.sqrt_price_next_x96
    assert (moved <= s) if zero_for_one else (moved >= s)
    # the output is the curve's amount between the two prices, rounded down
    exact_out = (
        get_amount1_delta(moved, s, liquidity, False)
        if zero_for_one
        else get_amount0_delta(s, moved, liquidity, False)
    )
    assert step.amount_out == exact_out


@given(
    s=st.integers(min_value=2**80, max_value=2**130),
    liquidity=st.integers(min_value=10**6, max_value=2**100),
    gap_bps=st.integers(min_value=1, max_value=5_000),
    fee=st.sampled_from(sorted(FEE_TICK_SPACING)),
    zero_for_one=orders,
)
@FAST
def test_compute_swap_step__with_exactly_the_input_to_reach_target__lands_on_target(
    s, liquidity, gap_bps, fee, zero_for_one
):
    target = s * (10_000 - gap_bps) // 10_000 if zero_for_one else s * (10_000 + gap_bps) // 10_000
    probe = compute_swap_step(s, target, liquidity, 2**200, fee)
    assert probe.sqrt_price_next_x96 == target
    exact = compute_swap_step(s, target, liquidity, probe.amount_in + probe.fee_amount, fee)
    assert exact == probe
    short = compute_swap_step(s, target, liquidity, probe.amount_in + probe.fee_amount - 1, fee)
    assert short.sqrt_price_next_x96 != target  # so that input is the least that reaches the target


@given(
    amount0=st.integers(min_value=10**3, max_value=10**30),
    amount1=st.integers(min_value=10**3, max_value=10**30),
    s=st.integers(min_value=2**70, max_value=2**120),
)
@FAST
def test_liquidity_for_amounts__with_full_range__costs_at_most_the_amounts(amount0, amount1, s):
    lo, hi = full_range_ticks(10)
    liquidity = liquidity_for_amounts(
        s, get_sqrt_ratio_at_tick(lo), get_sqrt_ratio_at_tick(hi), amount0, amount1
    )
    need0, need1 = amounts_for_liquidity(s, lo, hi, liquidity)
    assert need0 <= amount0 and need1 <= amount1
    more0, more1 = amounts_for_liquidity(s, lo, hi, liquidity + liquidity // 10**6 + 2)
    assert more0 > amount0 or more1 > amount1  # one more unit (beyond rounding) is not affordable


class _BitmapPool:
    """Stands in for a pool contract: the tick bitmap of a set of initialised ticks."""

    def __init__(self, initialized: set[int], spacing: int) -> None:
        self.words: dict[int, int] = {}
        for t in initialized:
            c = t // spacing
            self.words[c >> 8] = self.words.get(c >> 8, 0) | (1 << (c % 256))

    def tickBitmap(self, word: int) -> int:
        return self.words.get(word, 0)


@given(
    spacing=st.sampled_from(sorted(FEE_TICK_SPACING.values())),
    compressed=st.sets(st.integers(min_value=-3000, max_value=3000), max_size=12),
    tick=st.integers(min_value=-700_000, max_value=700_000),
    lte=st.booleans(),
)
@FAST
def test_next_initialized_in_word__with_any_ticks__agrees_with_bitmap_reader(spacing, compressed, tick, lte):
    # cluster the initialised ticks near `tick` so that most examples find one inside the word
    base = tick // spacing
    initialized = {(base + c // 10) * spacing for c in compressed}
    from_set = next_initialized_in_word(initialized, tick, spacing, lte)
    from_bitmap = ChainTicks(_BitmapPool(initialized, spacing)).next_initialized_tick_within_one_word(
        tick, spacing, lte
    )
    assert from_set == from_bitmap
    nxt, found = from_set
    assert (nxt <= tick) if lte else (nxt > tick)
    assert found == (nxt in initialized)


def test_simulate_exact_input__with_full_range_over_many_words__equals_constant_product():
    lo, hi = full_range_ticks(10)
    liquidity = 10**18
    s = get_sqrt_ratio_at_tick(0) + 12345
    state = PoolState(s, get_tick_at_sqrt_ratio(s), liquidity, 500, 10)
    layout = StaticTicks({lo: liquidity, hi: -liquidity})
    amount_in = 3 * 10**18  # sells token0 down to ~1/16 of the price: many bitmap words
    out = simulate_exact_input(state, layout, amount_in, True)
    assert out.amount_in == amount_in and out.ticks_crossed == 0 and out.liquidity == liquidity
    # x·y = L²: the input net of fee moves x from L/√P to L/√P + in, y follows (within rounding)
    net_in = Fraction(amount_in * (10**6 - 500), 10**6)
    x0 = Fraction(liquidity * Q96, s)
    y_out_ideal = Fraction(liquidity * s, Q96) - Fraction(liquidity**2) / (x0 + net_in)
    assert out.amount_out <= y_out_ideal  # every rounding favours the pool
    assert abs(out.amount_out / y_out_ideal - 1) < Fraction(1, 10**12)
    assert out.tick == get_tick_at_sqrt_ratio(out.sqrt_price_x96)


def test_simulate_exact_input__with_limit_inside_a_position__stops_exactly_at_limit_and_crosses_ticks():
    liquidity, extra = 10**18, 5 * 10**18
    lo, hi = full_range_ticks(10)
    layout = StaticTicks({lo: liquidity, hi: -liquidity, 100: extra, 5000: -extra})
    state = PoolState(Q96, 0, liquidity, 500, 10)
    limit = get_sqrt_ratio_at_tick(6000) + 1
    out = simulate_exact_input(state, layout, 2**255 - 1, False, limit)
    assert out.sqrt_price_x96 == limit
    assert out.ticks_crossed == 2 and out.liquidity == liquidity
    # replaying with exactly the input used reproduces the same swap
    again = simulate_exact_input(state, layout, out.amount_in, False, limit)
    assert again == out
