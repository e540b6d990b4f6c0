"""Uniswap V3 arithmetic in exact integers, bit-for-bit with the pool's Solidity (v3-core 1.0.1).

Pure functions, no I/O: the keeper's chain reader, the on-chain market helpers
(`keeper.chain.univ3`) and the simulator all use these.

Conventions. A pool's price is token1 per token0 in base units, held as ``sqrtPriceX96 =
sqrt(price) * 2**96`` (a Q64.96 number). Keel quotes ETH in USD: ``price_usd`` is dollars per whole
ETH. Which token is token0 (the lower address) decides how one maps to the other:

- USD stablecoin is token0: ``raw = 10**(eth_decimals - usd_decimals) / price_usd``
- WETH is token0:          ``raw = price_usd * 10**(usd_decimals - eth_decimals)``

Rounding. `sqrt_price_x96_from_price` returns ``floor(sqrt(raw) * 2**96)`` by default (``round_up``
gives the ceiling), computed exactly from the price taken as an exact rational (a float converts
without loss), so the pool's raw price is at most the requested one. In USD terms that is *at least*
the requested price when USD is token0 and *at most* it otherwise. The relative error is below
``2 / sqrtPriceX96`` (under 1e-20 for any ETH price between $1e-6 and $1e12), against 1e-4 for one
tick. `price_from_sqrt_price_x96` is exact (a `Fraction`); converting its result back gives the same
``sqrtPriceX96``.

Swaps. `simulate_exact_input` replays the pool's `swap` loop (tick-bitmap words, `computeSwapStep`,
tick crossings, no protocol fee) on any `TickSource`, so it predicts amounts and the final price
exactly, to the wei, across liquidity ranges: `StaticTicks` holds a known set of ticks, and
`keeper.chain.univ3` reads them from a live pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from math import isqrt
from typing import Protocol

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

Q96 = 1 << 96
Q128 = 1 << 128
Q192 = 1 << 192
UINT256_MAX = (1 << 256) - 1
INT256_MAX = (1 << 255) - 1

MIN_TICK = -887272
MAX_TICK = 887272
MIN_SQRT_RATIO = 4295128739
MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342

FEE_DENOMINATOR = 1_000_000  # fees are in hundredths of a basis point ("pips")
# The factory's fee tiers and their tick spacings (500 and 3000 and 10000 at deployment; 100 was
# enabled later on mainnet and is enabled here by `keeper.chain.univ3` too).
FEE_TICK_SPACING: dict[int, int] = {100: 1, 500: 10, 3000: 60, 10_000: 200}

# keccak256 of UniswapV3Pool's creation code: the periphery's PoolAddress library hard-codes it to
# find pools by CREATE2 address. The npm v3-core 1.0.1 artifact hashes to exactly this value.
POOL_INIT_CODE_HASH = bytes.fromhex("e34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54")

PriceLike = float | int | Fraction | Decimal | str


# --------------------------------------------------------------------------- FullMath / UnsafeMath


def mul_div(a: int, b: int, denominator: int) -> int:
    """FullMath.mulDiv: floor(a * b / denominator), result must fit 256 bits."""
    result = a * b // denominator
    if result > UINT256_MAX:
        raise OverflowError("mulDiv overflow")
    return result


def mul_div_rounding_up(a: int, b: int, denominator: int) -> int:
    """FullMath.mulDivRoundingUp: ceil(a * b / denominator)."""
    result = -(-(a * b) // denominator)
    if result > UINT256_MAX:
        raise OverflowError("mulDivRoundingUp overflow")
    return result


def div_rounding_up(x: int, y: int) -> int:
    """UnsafeMath.divRoundingUp: ceil(x / y)."""
    return -(-x // y)


# --------------------------------------------------------------------------- TickMath

_TICK_MAGIC = (
    0xFFF97272373D413259A46990580E213A,
    0xFFF2E50F5F656932EF12357CF3C7FDCC,
    0xFFE5CACA7E10E4E61C3624EAA0941CD0,
    0xFFCB9843D60F6159C9DB58835C926644,
    0xFF973B41FA98C081472E6896DFB254C0,
    0xFF2EA16466C96A3843EC78B326B52861,
    0xFE5DEE046A99A2A811C461F1969C3053,
    0xFCBE86C7900A88AEDCFFC83B479AA3A4,
    0xF987A7253AC413176F2B074CF7815E54,
    0xF3392B0822B70005940C7A398E4B70F3,
    0xE7159475A2C29B7443B29C7FA6E889D9,
    0xD097F3BDFD2022B8845AD8F792AA5825,
    0xA9F746462D870FDF8A65DC1F90E061E5,
    0x70D869A156D2A1B890BB3DF62BAF32F7,
    0x31BE135F97D08FD981231505542FCFA6,
    0x9AA508B5B7A84E1C677DE54F3E99BC9,
    0x5D6AF8DEDB81196699C329225EE604,
    0x2216E584F5FA1EA926041BEDFE98,
    0x48A170391F7DC42444E8FA2,
)


def get_sqrt_ratio_at_tick(tick: int) -> int:
    """TickMath.getSqrtRatioAtTick: sqrt(1.0001**tick) * 2**96, exactly as the pool computes it."""
    abs_tick = abs(tick)
    if abs_tick > MAX_TICK:
        raise ValueError(f"tick {tick} outside [{MIN_TICK}, {MAX_TICK}]")
    ratio = 0xFFFCB933BD6FAD37AA2D162D1A594001 if abs_tick & 1 else 1 << 128
    for bit, magic in enumerate(_TICK_MAGIC, start=1):
        if abs_tick & (1 << bit):
            ratio = (ratio * magic) >> 128
    if tick > 0:
        ratio = UINT256_MAX // ratio
    return (ratio >> 32) + (1 if ratio % (1 << 32) else 0)


def get_tick_at_sqrt_ratio(sqrt_price_x96: int) -> int:
    """TickMath.getTickAtSqrtRatio: the greatest tick whose sqrt ratio is <= the input."""
    if not MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO:
        raise ValueError(f"sqrtPriceX96 {sqrt_price_x96} outside [MIN_SQRT_RATIO, MAX_SQRT_RATIO)")
    lo, hi = MIN_TICK, MAX_TICK - 1  # invariant: ratio(lo) <= x, and the answer is <= hi
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if get_sqrt_ratio_at_tick(mid) <= sqrt_price_x96:
            lo = mid
        else:
            hi = mid - 1
    return lo


def full_range_ticks(tick_spacing: int) -> tuple[int, int]:
    """The widest (lower, upper) ticks a position can use at this spacing."""
    upper = MAX_TICK // tick_spacing * tick_spacing
    return -upper, upper


# --------------------------------------------------------------------------- prices


def _exact(price: PriceLike) -> Fraction:
    try:
        p = Fraction(price)
    except (ValueError, OverflowError, TypeError) as exc:  # nan, inf, junk
        raise ValueError(f"price must be a finite number, got {price!r}") from exc
    if p <= 0:
        raise ValueError(f"price must be positive, got {price!r}")
    return p


def raw_price_from_usd(
    price_usd: PriceLike, *, usd_is_token0: bool, usd_decimals: int = 6, eth_decimals: int = 18
) -> Fraction:
    """The pool's price (token1 base units per token0 base unit) for an ETH price in USD, exactly."""
    p = _exact(price_usd)
    if usd_is_token0:
        return Fraction(10) ** (eth_decimals - usd_decimals) / p
    return p * Fraction(10) ** (usd_decimals - eth_decimals)


def usd_price_from_raw(
    raw: Fraction, *, usd_is_token0: bool, usd_decimals: int = 6, eth_decimals: int = 18
) -> Fraction:
    """Inverse of `raw_price_from_usd`: dollars per whole ETH, exactly."""
    if raw <= 0:
        raise ValueError("raw price must be positive")
    if usd_is_token0:
        return Fraction(10) ** (eth_decimals - usd_decimals) / raw
    return raw * Fraction(10) ** (eth_decimals - usd_decimals)


def sqrt_price_x96_from_price(
    price_usd: PriceLike,
    *,
    usd_is_token0: bool,
    usd_decimals: int = 6,
    eth_decimals: int = 18,
    round_up: bool = False,
) -> int:
    """``floor`` (or ``ceil`` with `round_up`) of ``sqrt(raw price) * 2**96`` for an ETH price in USD.

    Exact: floor(sqrt(x)) == isqrt(floor(x)) for any real x >= 0. Raises ValueError when the result is
    outside the range a pool accepts, [MIN_SQRT_RATIO, MAX_SQRT_RATIO).
    """
    raw = raw_price_from_usd(
        price_usd, usd_is_token0=usd_is_token0, usd_decimals=usd_decimals, eth_decimals=eth_decimals
    )
    scaled = raw * Q192
    root = isqrt(scaled.numerator // scaled.denominator)
    if round_up and root * root * scaled.denominator != scaled.numerator:
        root += 1
    if not MIN_SQRT_RATIO <= root < MAX_SQRT_RATIO:
        raise ValueError(f"price {price_usd!r} is outside the range a Uniswap V3 pool can hold")
    return root


def price_from_sqrt_price_x96(
    sqrt_price_x96: int, *, usd_is_token0: bool, usd_decimals: int = 6, eth_decimals: int = 18
) -> Fraction:
    """The ETH price in USD that a pool's sqrtPriceX96 stands for, as an exact fraction."""
    if sqrt_price_x96 <= 0:
        raise ValueError("sqrtPriceX96 must be positive")
    raw = Fraction(sqrt_price_x96 * sqrt_price_x96, Q192)
    return usd_price_from_raw(
        raw, usd_is_token0=usd_is_token0, usd_decimals=usd_decimals, eth_decimals=eth_decimals
    )


def price_wad_from_sqrt_price_x96(
    sqrt_price_x96: int, *, usd_is_token0: bool, usd_decimals: int = 6, eth_decimals: int = 18
) -> int:
    """The ETH price in USD with 18 decimals, rounded down (the keeper's integer form)."""
    p = price_from_sqrt_price_x96(
        sqrt_price_x96, usd_is_token0=usd_is_token0, usd_decimals=usd_decimals, eth_decimals=eth_decimals
    )
    return p.numerator * 10**18 // p.denominator


# --------------------------------------------------------------------------- SqrtPriceMath


def get_amount0_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    """SqrtPriceMath.getAmount0Delta: token0 between two prices for `liquidity`."""
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if sqrt_a <= 0:
        raise ValueError("sqrt price must be positive")
    numerator1 = liquidity << 96
    numerator2 = sqrt_b - sqrt_a
    if round_up:
        return div_rounding_up(mul_div_rounding_up(numerator1, numerator2, sqrt_b), sqrt_a)
    return mul_div(numerator1, numerator2, sqrt_b) // sqrt_a


def get_amount1_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    """SqrtPriceMath.getAmount1Delta: token1 between two prices for `liquidity`."""
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if round_up:
        return mul_div_rounding_up(liquidity, sqrt_b - sqrt_a, Q96)
    return mul_div(liquidity, sqrt_b - sqrt_a, Q96)


def _next_sqrt_price_from_amount0_rounding_up(sqrt_p: int, liquidity: int, amount: int, add: bool) -> int:
    if amount == 0:
        return sqrt_p
    numerator1 = liquidity << 96
    product = amount * sqrt_p
    if add:
        # the Solidity takes the precise branch only when neither the product nor the sum overflows
        if product <= UINT256_MAX and numerator1 + product <= UINT256_MAX:
            return mul_div_rounding_up(numerator1, sqrt_p, numerator1 + product)
        return div_rounding_up(numerator1, numerator1 // sqrt_p + amount)
    if product > UINT256_MAX or numerator1 <= product:
        raise ArithmeticError("price would move past zero")
    result = mul_div_rounding_up(numerator1, sqrt_p, numerator1 - product)
    if result >= 1 << 160:
        raise OverflowError("sqrt price overflows uint160")
    return result


def _next_sqrt_price_from_amount1_rounding_down(sqrt_p: int, liquidity: int, amount: int, add: bool) -> int:
    if add:
        result = sqrt_p + (amount << 96) // liquidity
        if result >= 1 << 160:
            raise OverflowError("sqrt price overflows uint160")
        return result
    quotient = div_rounding_up(amount << 96, liquidity)
    if sqrt_p <= quotient:
        raise ArithmeticError("price would move past zero")
    return sqrt_p - quotient


def get_next_sqrt_price_from_input(sqrt_p: int, liquidity: int, amount_in: int, zero_for_one: bool) -> int:
    """SqrtPriceMath.getNextSqrtPriceFromInput."""
    if sqrt_p <= 0 or liquidity <= 0:
        raise ValueError("sqrt price and liquidity must be positive")
    if zero_for_one:
        return _next_sqrt_price_from_amount0_rounding_up(sqrt_p, liquidity, amount_in, True)
    return _next_sqrt_price_from_amount1_rounding_down(sqrt_p, liquidity, amount_in, True)


def get_next_sqrt_price_from_output(sqrt_p: int, liquidity: int, amount_out: int, zero_for_one: bool) -> int:
    """SqrtPriceMath.getNextSqrtPriceFromOutput."""
    if sqrt_p <= 0 or liquidity <= 0:
        raise ValueError("sqrt price and liquidity must be positive")
    if zero_for_one:
        return _next_sqrt_price_from_amount1_rounding_down(sqrt_p, liquidity, amount_out, False)
    return _next_sqrt_price_from_amount0_rounding_up(sqrt_p, liquidity, amount_out, False)


# --------------------------------------------------------------------------- SwapMath


@dataclass(frozen=True)
class SwapStep:
    sqrt_price_next_x96: int
    amount_in: int  # excluding the fee
    amount_out: int
    fee_amount: int


def compute_swap_step(
    sqrt_current: int, sqrt_target: int, liquidity: int, amount_remaining: int, fee_pips: int
) -> SwapStep:
    """SwapMath.computeSwapStep. `amount_remaining` > 0 is exact input, < 0 exact output."""
    zero_for_one = sqrt_current >= sqrt_target
    exact_in = amount_remaining >= 0
    amount_in = amount_out = 0
    if exact_in:
        remaining_less_fee = mul_div(amount_remaining, FEE_DENOMINATOR - fee_pips, FEE_DENOMINATOR)
        amount_in = (
            get_amount0_delta(sqrt_target, sqrt_current, liquidity, True)
            if zero_for_one
            else get_amount1_delta(sqrt_current, sqrt_target, liquidity, True)
        )
        if remaining_less_fee >= amount_in:
            sqrt_next = sqrt_target
        else:
            sqrt_next = get_next_sqrt_price_from_input(
                sqrt_current, liquidity, remaining_less_fee, zero_for_one
            )
    else:
        amount_out = (
            get_amount1_delta(sqrt_target, sqrt_current, liquidity, False)
            if zero_for_one
            else get_amount0_delta(sqrt_current, sqrt_target, liquidity, False)
        )
        if -amount_remaining >= amount_out:
            sqrt_next = sqrt_target
        else:
            sqrt_next = get_next_sqrt_price_from_output(
                sqrt_current, liquidity, -amount_remaining, zero_for_one
            )

    reached = sqrt_target == sqrt_next
    if zero_for_one:
        if not (reached and exact_in):
            amount_in = get_amount0_delta(sqrt_next, sqrt_current, liquidity, True)
        if not (reached and not exact_in):
            amount_out = get_amount1_delta(sqrt_next, sqrt_current, liquidity, False)
    else:
        if not (reached and exact_in):
            amount_in = get_amount1_delta(sqrt_current, sqrt_next, liquidity, True)
        if not (reached and not exact_in):
            amount_out = get_amount0_delta(sqrt_current, sqrt_next, liquidity, False)

    if not exact_in and amount_out > -amount_remaining:
        amount_out = -amount_remaining
    if exact_in and sqrt_next != sqrt_target:
        fee_amount = amount_remaining - amount_in  # target not reached: the rest of the input is fee
    else:
        fee_amount = mul_div_rounding_up(amount_in, fee_pips, FEE_DENOMINATOR - fee_pips)
    return SwapStep(sqrt_next, amount_in, amount_out, fee_amount)


# --------------------------------------------------------------------------- LiquidityAmounts


def liquidity_for_amounts(sqrt_p: int, sqrt_a: int, sqrt_b: int, amount0: int, amount1: int) -> int:
    """LiquidityAmounts.getLiquidityForAmounts (periphery): the most liquidity the amounts buy."""
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a

    def for0(lo: int, hi: int) -> int:
        return mul_div(amount0, mul_div(lo, hi, Q96), hi - lo)

    def for1(lo: int, hi: int) -> int:
        return mul_div(amount1, Q96, hi - lo)

    if sqrt_p <= sqrt_a:
        liquidity = for0(sqrt_a, sqrt_b)
    elif sqrt_p < sqrt_b:
        liquidity = min(for0(sqrt_p, sqrt_b), for1(sqrt_a, sqrt_p))
    else:
        liquidity = for1(sqrt_a, sqrt_b)
    if liquidity >= 1 << 128:
        raise OverflowError("liquidity overflows uint128")
    return liquidity


def amounts_for_liquidity(sqrt_p: int, tick_lower: int, tick_upper: int, liquidity: int) -> tuple[int, int]:
    """What the pool's `mint` charges (rounded up) for `liquidity` in [tick_lower, tick_upper)."""
    sqrt_a, sqrt_b = get_sqrt_ratio_at_tick(tick_lower), get_sqrt_ratio_at_tick(tick_upper)
    if sqrt_p <= sqrt_a:
        return get_amount0_delta(sqrt_a, sqrt_b, liquidity, True), 0
    if sqrt_p < sqrt_b:
        return (
            get_amount0_delta(sqrt_p, sqrt_b, liquidity, True),
            get_amount1_delta(sqrt_a, sqrt_p, liquidity, True),
        )
    return 0, get_amount1_delta(sqrt_a, sqrt_b, liquidity, True)


# --------------------------------------------------------------------------- the swap loop


class TickSource(Protocol):
    """The pool's initialised ticks, as the swap loop sees them."""

    def next_initialized_tick_within_one_word(
        self, tick: int, tick_spacing: int, lte: bool
    ) -> tuple[int, bool]:
        """TickBitmap.nextInitializedTickWithinOneWord."""
        ...

    def liquidity_net(self, tick: int) -> int:
        """The liquidity added (removed, if negative) when the price crosses `tick` upwards."""
        ...


def next_initialized_in_word(
    initialized: set[int] | frozenset[int], tick: int, tick_spacing: int, lte: bool
) -> tuple[int, bool]:
    """TickBitmap.nextInitializedTickWithinOneWord over a set of initialised (spacing-aligned) ticks."""
    compressed = tick // tick_spacing  # rounds towards negative infinity, as the Solidity does
    if lte:
        word_start = (compressed >> 8) << 8
        found = [t // tick_spacing for t in initialized if word_start <= t // tick_spacing <= compressed]
        if found:
            return max(found) * tick_spacing, True
        return word_start * tick_spacing, False
    c1 = compressed + 1
    word_end = ((c1 >> 8) << 8) + 255
    found = [t // tick_spacing for t in initialized if c1 <= t // tick_spacing <= word_end]
    if found:
        return min(found) * tick_spacing, True
    return word_end * tick_spacing, False


@dataclass(frozen=True)
class StaticTicks:
    """A known tick layout: tick -> liquidityNet (e.g. one full-range position: {lo: +L, hi: -L})."""

    net: dict[int, int]

    def next_initialized_tick_within_one_word(
        self, tick: int, tick_spacing: int, lte: bool
    ) -> tuple[int, bool]:
        return next_initialized_in_word(frozenset(self.net), tick, tick_spacing, lte)

    def liquidity_net(self, tick: int) -> int:
        return self.net.get(tick, 0)


@dataclass(frozen=True)
class PoolState:
    sqrt_price_x96: int
    tick: int
    liquidity: int
    fee: int
    tick_spacing: int


@dataclass(frozen=True)
class SwapOutcome:
    amount_in: int  # gross, fee included: what the payer sends
    amount_out: int
    fee_paid: int
    sqrt_price_x96: int
    tick: int
    liquidity: int
    ticks_crossed: int


def simulate_exact_input(
    state: PoolState,
    ticks: TickSource,
    amount_in: int,
    zero_for_one: bool,
    sqrt_price_limit_x96: int | None = None,
) -> SwapOutcome:
    """Replays UniswapV3Pool.swap for an exact input (no protocol fee), to the wei.

    `amount_in` is the most the payer sends (the pool stops earlier at the limit and charges only what
    it used); `sqrt_price_limit_x96` None means no limit, as the SwapRouter's 0 does.
    """
    if amount_in <= 0 or amount_in > INT256_MAX:
        raise ValueError("amount_in must be in (0, 2**255)")
    if sqrt_price_limit_x96 is None:
        limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
    else:
        limit = sqrt_price_limit_x96
    if zero_for_one and not (MIN_SQRT_RATIO < limit < state.sqrt_price_x96):
        raise ValueError("SPL: a zeroForOne limit must be below the current price")
    if not zero_for_one and not (state.sqrt_price_x96 < limit < MAX_SQRT_RATIO):
        raise ValueError("SPL: a oneForZero limit must be above the current price")

    remaining, out, fees, crossed = amount_in, 0, 0, 0
    sqrt_p, tick, liquidity = state.sqrt_price_x96, state.tick, state.liquidity
    while remaining != 0 and sqrt_p != limit:
        start = sqrt_p
        tick_next, initialized = ticks.next_initialized_tick_within_one_word(
            tick, state.tick_spacing, zero_for_one
        )
        tick_next = min(max(tick_next, MIN_TICK), MAX_TICK)
        sqrt_next = get_sqrt_ratio_at_tick(tick_next)
        beyond = sqrt_next < limit if zero_for_one else sqrt_next > limit
        step = compute_swap_step(sqrt_p, limit if beyond else sqrt_next, liquidity, remaining, state.fee)
        sqrt_p = step.sqrt_price_next_x96
        remaining -= step.amount_in + step.fee_amount
        out += step.amount_out
        fees += step.fee_amount
        if sqrt_p == sqrt_next:
            if initialized:
                net = ticks.liquidity_net(tick_next)
                liquidity += -net if zero_for_one else net
                crossed += 1
            tick = tick_next - 1 if zero_for_one else tick_next
        elif sqrt_p != start:
            tick = get_tick_at_sqrt_ratio(sqrt_p)
    return SwapOutcome(amount_in - remaining, out, fees, sqrt_p, tick, liquidity, crossed)


# --------------------------------------------------------------------------- addresses


def sort_tokens(token_a: str, token_b: str) -> tuple[str, str]:
    """(token0, token1): the pool orders its tokens by address."""
    a, b = to_checksum_address(token_a), to_checksum_address(token_b)
    if int(a, 16) == int(b, 16):
        raise ValueError("identical tokens")
    return (a, b) if int(a, 16) < int(b, 16) else (b, a)


def compute_pool_address(
    factory: str, token_a: str, token_b: str, fee: int, init_code_hash: bytes = POOL_INIT_CODE_HASH
) -> str:
    """PoolAddress.computeAddress: the CREATE2 address the factory deploys the pool at."""
    token0, token1 = sort_tokens(token_a, token_b)
    salt = keccak(encode(["address", "address", "uint24"], [token0, token1, fee]))
    digest = keccak(b"\xff" + bytes.fromhex(to_checksum_address(factory)[2:]) + salt + init_code_hash)
    return to_checksum_address(digest[12:])
