"""The local spot market (keeper.chain.univ3): real Uniswap V3 from the npm artifacts, the USDC/WETH pool
at the oracle price, swaps through the SwapRouter, and the arbitrage back to the oracle.

Every pool-level test runs twice, once with USDC as token0 and once with WETH as token0 (the two
orders invert the price), on a pool holding $20M of full-range liquidity at $3,000.
"""

from __future__ import annotations

from fractions import Fraction
from math import floor, log

import ape
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keeper.chain.univ3 import (
    InsufficientFundsError,
    SpotMarket,
    arbitrage_to_price,
    deploy_spot_market,
    deploy_uniswap_v3,
    pool_init_code_hash,
    pool_price,
    pool_price_usd,
    pool_price_wad,
    pool_sqrt_price_x96,
    quote_exact_input,
    read_pool_state,
    swap_exact_input,
    uniswap_at,
)
from keeper.univ3_math import (
    POOL_INIT_CODE_HASH,
    amounts_for_liquidity,
    compute_pool_address,
    full_range_ticks,
    get_tick_at_sqrt_ratio,
    price_wad_from_sqrt_price_x96,
    raw_price_from_usd,
)
from tests.helpers import USDC, chain_settings, isolated

ETH = 10**18
PRICE = 3000
LIQUIDITY_USD = 20_000_000


def _usdc_with_order(project, admin, weth, usdc_is_token0: bool):
    """A fresh MockUSDC on the wanted side of WETH's address (addresses are pseudo-random)."""
    for _ in range(64):
        usdc = admin.deploy(project.MockUSDC)
        if (int(usdc.address, 16) < int(weth.address, 16)) == usdc_is_token0:
            return usdc
    raise AssertionError("no MockUSDC address on the wanted side of WETH in 64 tries")


def _fund(chain, market: SpotMarket, usdc, who, usdc_amount: int, weth_amount: int) -> None:
    usdc.mint(who, usdc_amount, sender=who)
    chain.provider.set_balance(who.address, weth_amount + 1_000 * ETH)
    market.weth_contract().deposit(sender=who, value=weth_amount)


@pytest.fixture(scope="module")
def weth(project, admin):
    """A WETH9 whose address is in the middle half of the address space, so that MockUSDC addresses on
    either side of it are easy to find (which side a deployment lands on depends on the deployer's
    nonce, which depends on what ran before)."""
    for _ in range(64):
        weth = admin.deploy(project.WETH9)
        if 1 << 158 <= int(weth.address, 16) < 3 << 158:
            return weth
    raise AssertionError("no WETH9 address in the middle half of the address space in 64 tries")


@pytest.fixture(scope="module")
def stack(admin, weth):
    return deploy_uniswap_v3(admin, weth)


@pytest.fixture(scope="module", params=[True, False], ids=["usdc-token0", "weth-token0"])
def spot(request, project, chain, admin, weth, stack, whale, shark, stranger):
    """(market, usdc): the pool at $3,000 with $20M full-range liquidity; whale trades, shark arbitrages.

    Requests every session fixture the tests use, so that none is created after a test's snapshot
    (ape's isolation would have to rebase).
    """
    del stranger
    usdc = _usdc_with_order(project, admin, weth, request.param)
    market = deploy_spot_market(admin, usdc, PRICE, LIQUIDITY_USD, stack=stack)
    assert market.usdc_is_token0 is request.param
    for who in (whale, shark):
        _fund(chain, market, usdc, who, 50_000_000 * USDC, 10_000 * ETH)
    return market, usdc


@pytest.fixture(scope="module")
def market(spot) -> SpotMarket:
    return spot[0]


def _balances(market: SpotMarket, who) -> tuple[int, int]:
    return market.usdc_contract().balanceOf(who), market.weth_contract().balanceOf(who)


# --------------------------------------------------------------------------- deployment


def test_pool_init_code_hash__with_npm_artifacts__is_the_hash_compiled_into_the_periphery(
    chain, stack, market
):
    assert pool_init_code_hash() == POOL_INIT_CODE_HASH
    for periphery in (stack.router, stack.position_manager, stack.quoter):
        assert POOL_INIT_CODE_HASH in bytes(chain.provider.get_code(periphery))


def test_deploy_uniswap_v3__with_weth__periphery_wired_to_factory_and_weth(admin, weth, stack):
    factory = uniswap_at("UniswapV3Factory", stack.factory)
    assert factory.owner() == admin
    assert [factory.feeAmountTickSpacing(f) for f in (100, 500, 3000, 10_000)] == [1, 10, 60, 200]
    for name, address in (
        ("SwapRouter", stack.router),
        ("NonfungiblePositionManager", stack.position_manager),
        ("QuoterV2", stack.quoter),
    ):
        contract = uniswap_at(name, address)
        assert contract.factory() == stack.factory
        assert contract.WETH9() == weth.address


def test_deploy_spot_market__with_either_token_order__pool_at_create2_address_with_its_tokens(market, stack):
    factory = uniswap_at("UniswapV3Factory", stack.factory)
    pool = market.pool_contract()
    assert factory.getPool(market.usdc, market.weth, 500) == market.pool
    assert compute_pool_address(stack.factory, market.usdc, market.weth, 500) == market.pool
    assert (pool.token0(), pool.token1()) == (market.token0, market.token1)
    assert int(market.token0, 16) < int(market.token1, 16)
    assert (pool.fee(), pool.tickSpacing()) == (market.fee, market.tick_spacing) == (500, 10)
    assert SpotMarket.model_validate_json(market.model_dump_json()) == market


@pytest.mark.parametrize("price", [1500, 3000, 4500])
@pytest.mark.parametrize("usdc_is_token0", [True, False], ids=["usdc-token0", "weth-token0"])
def test_deploy_spot_market__with_price__pool_initialised_within_one_tick(
    project, admin, weth, stack, price, usdc_is_token0
):
    usdc = _usdc_with_order(project, admin, weth, usdc_is_token0)
    market = deploy_spot_market(admin, usdc, price, 1_000_000, stack=stack)
    state = read_pool_state(market)
    raw = raw_price_from_usd(price, usd_is_token0=usdc_is_token0)
    assert abs(state.tick - floor(log(raw) / log(1.0001))) <= 1
    assert state.tick == get_tick_at_sqrt_ratio(market.sqrt_price_x96(price))
    assert abs(pool_price_usd(market) / price - 1) < 1e-12
    assert pool_price_wad(market) in (price * 10**18 - 1, price * 10**18)
    assert state.liquidity > 0


@given(price=st.floats(min_value=10, max_value=500_000, allow_nan=False))
@chain_settings
def test_deploy_spot_market__with_any_price__pool_price_is_the_price(chain, admin, weth, stack, spot, price):
    _, usdc = spot
    with isolated(chain):
        # a second pool for the same tokens needs another fee tier; 3000 is free
        market = deploy_spot_market(admin, usdc, price, 0, fee=3000, stack=stack)
        sqrt_p = pool_sqrt_price_x96(market)
        assert sqrt_p == market.sqrt_price_x96(price)
        assert abs(pool_price_usd(market) / price - 1) < 1e-12
        assert read_pool_state(market).tick == get_tick_at_sqrt_ratio(sqrt_p)
        assert read_pool_state(market).liquidity == 0


def test_deploy_spot_market__with_liquidity__full_range_position_holds_half_in_each_token(market, admin):
    npm = market.position_manager_contract()
    position = npm.positions(market.position_token_id)
    lower, upper = full_range_ticks(10)
    assert (position.tickLower, position.tickUpper) == (lower, upper)
    assert npm.ownerOf(market.position_token_id) == admin
    pool = market.pool_contract()
    assert position.liquidity == pool.liquidity() > 0
    held_usdc, held_weth = _balances(market, market.pool)
    # the pool holds what minting that liquidity costs (rounded up), about $10M of each token
    owed0, owed1 = amounts_for_liquidity(pool.slot0().sqrtPriceX96, lower, upper, position.liquidity)
    assert (held_usdc, held_weth) == ((owed0, owed1) if market.usdc_is_token0 else (owed1, owed0))
    assert abs(Fraction(held_usdc, USDC) / (LIQUIDITY_USD // 2) - 1) < Fraction(1, 10**6)
    assert abs(Fraction(held_weth, ETH) * PRICE / (LIQUIDITY_USD // 2) - 1) < Fraction(1, 10**6)


def test_pool_price_wad__with_market__is_floor_of_exact_pool_price(market, whale):
    swap_exact_input(market, whale, "usdc", 123_456 * USDC)
    exact = pool_price(market)
    assert pool_price_wad(market) == floor(exact * 10**18)
    assert pool_price_wad(market) == price_wad_from_sqrt_price_x96(
        pool_sqrt_price_x96(market), usd_is_token0=market.usdc_is_token0
    )
    assert pool_price_usd(market) == float(exact) > PRICE


# --------------------------------------------------------------------------- swaps


@pytest.mark.parametrize(("token_in", "amount_in"), [("usdc", 250_000 * USDC), ("weth", 80 * ETH)])
def test_swap_exact_input__with_either_token_in__pays_exactly_as_quoted_and_moves_price(
    market, whale, token_in, amount_in
):
    quoted = quote_exact_input(market, token_in, amount_in)
    token_out = "weth" if token_in == "usdc" else "usdc"
    quoter_out = (
        market.quoter_contract()
        .quoteExactInputSingle.call(
            (market.token(token_in), market.token(token_out), amount_in, market.fee, 0)
        )
        .amountOut
    )
    before = _balances(market, whale)
    result = swap_exact_input(market, whale, token_in, amount_in, quoted.amount_out)
    after = _balances(market, whale)
    assert result.amount_in == amount_in
    assert result.amount_out == quoted.amount_out == quoter_out
    assert result.sqrt_price_x96_after == quoted.sqrt_price_x96 == pool_sqrt_price_x96(market)
    if token_in == "usdc":
        assert after == (before[0] - amount_in, before[1] + result.amount_out)
        assert result.price_after_usd > result.price_before_usd  # buying ETH lifts its price
    else:
        assert after == (before[0] + result.amount_out, before[1] - amount_in)
        assert result.price_after_usd < result.price_before_usd
    # roughly the oracle price less the 0.05% fee and the impact of $250k on $20M
    paid_usd = amount_in / USDC if token_in == "usdc" else amount_in / ETH * PRICE
    got_usd = result.amount_out / ETH * PRICE if token_in == "usdc" else result.amount_out / USDC
    assert 0.97 < got_usd / paid_usd < 0.9995


def test_swap_exact_input__with_min_out_one_above_quote__reverts_too_little_received(market, whale):
    # USDC in is zeroForOne in one token order and oneForZero in the other: both pool directions
    quoted = quote_exact_input(market, "usdc", 10_000 * USDC)
    with ape.reverts("Too little received"):
        swap_exact_input(market, whale, "usdc", 10_000 * USDC, quoted.amount_out + 1)


def test_swap_exact_input__with_past_deadline__reverts_transaction_too_old(market, whale):
    with ape.reverts("Transaction too old"):
        swap_exact_input(market, whale, "usdc", 1_000 * USDC, deadline_s=-1)


def test_swap_exact_input__with_price_limit__stops_at_limit_and_charges_only_input_used(market, whale):
    limit = market.sqrt_price_x96(3010)  # $250k would push the price past $3,010
    quoted = quote_exact_input(market, "usdc", 250_000 * USDC, limit)
    before = _balances(market, whale)
    result = swap_exact_input(market, whale, "usdc", 250_000 * USDC, sqrt_price_limit_x96=limit)
    assert result.sqrt_price_x96_after == limit
    assert result.amount_in == quoted.amount_in < 250_000 * USDC
    assert _balances(market, whale)[0] == before[0] - result.amount_in


def test_swap__with_native_eth_through_router__wraps_and_unwraps_via_weth9(chain, market, whale, stranger):
    """The periphery's Ether paths run through WETH9.deposit / withdraw (router pays, then unwraps)."""
    router = market.router_contract()
    deadline = chain.pending_timestamp + 600
    # ETH in: the router wraps msg.value with WETH9.deposit and pays the pool in WETH
    usdc_before = market.usdc_contract().balanceOf(stranger)
    params = (market.weth, market.usdc, market.fee, stranger.address, deadline, ETH, 0, 0)
    router.exactInputSingle(params, sender=whale, value=ETH)
    got_usdc = market.usdc_contract().balanceOf(stranger) - usdc_before
    assert 2_900 * USDC < got_usdc < 3_000 * USDC
    # ETH out: swap to the router itself, then unwrapWETH9 sends the Ether on (WETH9.withdraw)
    eth_before = stranger.balance
    swap = router.exactInputSingle.encode_input(
        (market.usdc, market.weth, market.fee, router.address, deadline, 3_000 * USDC, 0, 0)
    )
    unwrap = router.unwrapWETH9.encode_input(0, stranger.address)
    market.usdc_contract().approve(router, 3_000 * USDC, sender=whale)
    receipt = router.multicall([swap, unwrap], sender=whale)
    got_eth = stranger.balance - eth_before
    assert 0.99 * ETH < got_eth < ETH
    assert market.weth_contract().balanceOf(router) == 0
    withdrawals = [log for log in receipt.events if log.event_name == "Withdrawal"]
    assert len(withdrawals) == 1 and withdrawals[0].wad == got_eth


# --------------------------------------------------------------------------- arbitrage


@pytest.mark.parametrize("target", [2_950, 3_060.5, 1_000, 9_000])
def test_arbitrage_to_price__with_pool_off_target_either_side__lands_exactly_on_target(market, shark, target):
    quoted_state = read_pool_state(market)
    result = arbitrage_to_price(market, shark, target)
    assert result is not None
    assert result.sqrt_price_x96_after == market.sqrt_price_x96(target) == pool_sqrt_price_x96(market)
    assert abs(pool_price_usd(market) / target - 1) < 1e-4  # within 1 bp (in fact exact)
    # buys ETH with USDC when the oracle is above the pool, sells ETH when below
    assert result.token_in == (market.usdc if target > PRICE else market.weth)
    assert quoted_state.sqrt_price_x96 == result.sqrt_price_x96_before


@pytest.mark.parametrize(("token_in", "amount_in"), [("usdc", 6_000_000 * USDC), ("weth", 2_500 * ETH)])
def test_arbitrage_to_price__after_big_swap__restores_the_oracle_price(
    market, whale, shark, token_in, amount_in
):
    shocked = swap_exact_input(market, whale, token_in, amount_in)
    assert abs(shocked.price_after_usd / PRICE - 1) > 0.4  # a move of more than 40%, over many tick words
    predicted = quote_exact_input(
        market, "weth" if token_in == "usdc" else "usdc", 10**40, market.sqrt_price_x96(PRICE)
    )
    result = arbitrage_to_price(market, shark, PRICE)
    assert result.sqrt_price_x96_after == market.sqrt_price_x96(PRICE)
    assert (result.amount_in, result.amount_out) == (predicted.amount_in, predicted.amount_out)
    assert abs(pool_price_usd(market) / PRICE - 1) < 1e-12
    # the round trip cost the shocker two fees and some rounding: the arbitrageur earned it
    assert result.amount_out > shocked.amount_in * 0.998


@pytest.mark.parametrize(("target", "cap_usd"), [(3_300, 10_000), (2_700, 10_000)])
def test_arbitrage_to_price__with_max_notional__spends_the_cap_and_moves_part_way(
    market, shark, target, cap_usd
):
    result = arbitrage_to_price(market, shark, target, max_notional_usd=cap_usd)
    if target > PRICE:
        assert result.token_in == market.usdc and result.amount_in == cap_usd * USDC
        assert PRICE < result.price_after_usd < target
    else:
        assert result.token_in == market.weth and result.amount_in == cap_usd * ETH // PRICE
        assert target < result.price_after_usd < PRICE
    # $10k into the $10M side of a constant-product pool moves the price by (1 + 10k/10M)² - 1 ≈ 0.2%
    assert abs(result.price_after_usd / PRICE - 1) == pytest.approx(0.002, rel=0.01)


def test_arbitrage_to_price__with_pool_at_target_or_within_tolerance__sends_nothing(market, whale, shark):
    nonce = shark.nonce
    assert arbitrage_to_price(market, shark, PRICE) is None  # initialised exactly at the oracle price
    swap_exact_input(market, whale, "usdc", 5_000 * USDC)  # about +0.05%
    assert arbitrage_to_price(market, shark, PRICE, tolerance_bps=10) is None
    assert shark.nonce == nonce
    assert arbitrage_to_price(market, shark, PRICE, tolerance_bps=1) is not None


def _mint_range(chain, market: SpotMarket, usdc, lp, price_a: float, price_b: float, liquidity: int) -> None:
    """A concentrated position between two USD prices (ticks aligned to the spacing)."""
    ticks = sorted(get_tick_at_sqrt_ratio(market.sqrt_price_x96(p)) // 10 * 10 for p in (price_a, price_b))
    need0, need1 = amounts_for_liquidity(pool_sqrt_price_x96(market), ticks[0], ticks[1], liquidity)
    need_usdc, need_weth = (need0, need1) if market.usdc_is_token0 else (need1, need0)
    _fund(chain, market, usdc, lp, need_usdc + 1, need_weth + 1)
    npm = market.position_manager_contract()
    market.usdc_contract().approve(npm, need_usdc + 1, sender=lp)
    market.weth_contract().approve(npm, need_weth + 1, sender=lp)
    desired = (need0 + 1, need1 + 1)
    params = (market.token0, market.token1, market.fee, *ticks, *desired, 0, 0, lp.address, 2**40)
    npm.mint(params, sender=lp)


def test_arbitrage_to_price__with_concentrated_liquidity_on_the_way__still_lands_exactly(
    chain, spot, shark, stranger
):
    market, usdc = spot
    base = read_pool_state(market).liquidity
    _mint_range(chain, market, usdc, stranger, 3_100, 3_400, 4 * base)  # 5x the depth between $3.1k and $3.4k
    target = market.sqrt_price_x96(3_600)
    predicted = quote_exact_input(market, "usdc", 10**40, target)
    assert predicted.ticks_crossed == 2 and predicted.liquidity == base
    result = arbitrage_to_price(market, shark, 3_600)
    assert result.sqrt_price_x96_after == target
    assert (result.amount_in, result.amount_out) == (predicted.amount_in, predicted.amount_out)
    # and back down through the range again
    back = arbitrage_to_price(market, shark, 2_900)
    assert back.sqrt_price_x96_after == market.sqrt_price_x96(2_900)


def test_arbitrage_to_price__with_arbitrageur_short_of_input__raises_before_sending(market, stranger):
    nonce = stranger.nonce
    with pytest.raises(InsufficientFundsError):
        arbitrage_to_price(market, stranger, 3_500)
    assert stranger.nonce == nonce
