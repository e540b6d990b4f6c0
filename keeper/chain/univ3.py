"""The local spot market: the real Uniswap V3 deployed from its npm artifacts, a USDC/WETH pool, swaps
and an arbitrageur that pulls the pool back to the oracle price. ape-based (needs a connected
provider); the arithmetic lives in `keeper.univ3_math`.

Layout chosen for the local market (`deploy_spot_market`):

- fee tier 500 (0.05%, tick spacing 10), like mainnet's deepest USDC/WETH pool
  (0x88e6A0c2dDD26FEEb64F039a2c41296FcB3f5640);
- one full-range position (ticks ±887270) holding ``liquidity_usd`` at the initial price, half in
  USDC and half in WETH. The pool then behaves like a constant-product market at every price, so
  depth is predictable and no price move can leave the liquidity.

Arbitrage (`arbitrage_to_price`) swaps through the SwapRouter's `exactInputSingle` with
``sqrtPriceLimitX96`` set to the target: the pool stops exactly at the target price and the router
charges only the input the pool used. The input and the output are predicted to the wei by replaying
the pool's swap loop over the pool's real ticks (`quote_exact_input`), so the min-out is the exact
expected output (less an optional tolerance) and the notional can be capped. No helper contract is
needed; the swap goes through the same router the SpotLeg will use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any, Literal

from ape import chain, project
from ape.contracts import ContractContainer, ContractInstance
from eth_utils import keccak, to_checksum_address
from ethpm_types import ContractType
from pydantic import BaseModel, ConfigDict

from keeper.univ3_math import (
    FEE_TICK_SPACING,
    MAX_SQRT_RATIO,
    MIN_SQRT_RATIO,
    POOL_INIT_CODE_HASH,
    PoolState,
    PriceLike,
    SwapOutcome,
    amounts_for_liquidity,
    compute_pool_address,
    full_range_ticks,
    get_sqrt_ratio_at_tick,
    liquidity_for_amounts,
    price_from_sqrt_price_x96,
    price_wad_from_sqrt_price_x96,
    simulate_exact_input,
    sort_tokens,
    sqrt_price_x96_from_price,
)

# ape's accounts and contract instances are dynamic (ABI-driven attributes).
Account = Any
Contract = Any

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
MAX_UINT256 = 2**256 - 1
USDC_DECIMALS = 6
WETH_DECIMALS = 18
DEFAULT_FEE = 500
DEFAULT_DEADLINE_S = 600
# The npm packages (node_modules/@uniswap) of this checkout.
UNISWAP_NPM_DIR = Path(__file__).resolve().parents[2] / "node_modules" / "@uniswap"

ARTIFACTS: dict[str, str] = {
    "UniswapV3Factory": "v3-core/artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json",
    "UniswapV3Pool": "v3-core/artifacts/contracts/UniswapV3Pool.sol/UniswapV3Pool.json",
    "IERC20Minimal": "v3-core/artifacts/contracts/interfaces/IERC20Minimal.sol/IERC20Minimal.json",
    "SwapRouter": "v3-periphery/artifacts/contracts/SwapRouter.sol/SwapRouter.json",
    "NonfungiblePositionManager": (
        "v3-periphery/artifacts/contracts/NonfungiblePositionManager.sol/NonfungiblePositionManager.json"
    ),
    "QuoterV2": "v3-periphery/artifacts/contracts/lens/QuoterV2.sol/QuoterV2.json",
    "IWETH9": "v3-periphery/artifacts/contracts/interfaces/external/IWETH9.sol/IWETH9.json",
}

UniswapName = Literal[
    "UniswapV3Factory",
    "UniswapV3Pool",
    "IERC20Minimal",
    "SwapRouter",
    "NonfungiblePositionManager",
    "QuoterV2",
    "IWETH9",
]


class InitCodeHashMismatchError(RuntimeError):
    """The pool bytecode does not hash to the init code hash the periphery has compiled in."""


class InsufficientFundsError(RuntimeError):
    """An account lacks the tokens a swap or a liquidity deposit needs."""


# --------------------------------------------------------------------------- artifacts


@cache
def _artifact(name: str) -> dict[str, Any]:
    path = UNISWAP_NPM_DIR / ARTIFACTS[name]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `make deps` (npm install) first")
    return json.loads(path.read_text())


@cache
def uniswap_contract_type(name: UniswapName) -> ContractType:
    """An ape ContractType built from the npm artifact (ABI, creation and runtime bytecode)."""
    art = _artifact(name)
    if art.get("linkReferences"):
        raise ValueError(f"{name} needs linked libraries; not supported")
    data: dict[str, Any] = {"contractName": name, "abi": art["abi"]}
    if art["bytecode"] not in ("", "0x"):
        data["deploymentBytecode"] = {"bytecode": art["bytecode"]}
        data["runtimeBytecode"] = {"bytecode": art["deployedBytecode"]}
    return ContractType.model_validate(data)


def uniswap_container(name: UniswapName) -> ContractContainer:
    return ContractContainer(uniswap_contract_type(name))


def uniswap_at(name: UniswapName, address: Any) -> Contract:
    """A contract instance at `address` with the artifact's ABI (no explorer or cache lookups)."""
    return ContractInstance(_address(address), uniswap_contract_type(name))


def pool_init_code_hash() -> bytes:
    """keccak256 of the npm artifact's UniswapV3Pool creation code."""
    return keccak(hexstr=_artifact("UniswapV3Pool")["bytecode"])


def _address(x: Any) -> str:
    return to_checksum_address(getattr(x, "address", x))


# --------------------------------------------------------------------------- deployment


class UniswapV3Stack(BaseModel):
    """Addresses of a deployed Uniswap V3: the core factory and the periphery that trades on it."""

    model_config = ConfigDict(frozen=True)

    weth: str
    factory: str
    router: str
    position_manager: str
    quoter: str


def deploy_uniswap_v3(deployer: Account, weth: Any) -> UniswapV3Stack:
    """Deploys UniswapV3Factory, SwapRouter, NonfungiblePositionManager (no token descriptor: tokenURI
    is unavailable, nothing else is affected) and QuoterV2 from the npm artifacts.

    The factory also gets the 0.01% tier (fee 100, spacing 1) that mainnet enabled after launch.
    Raises InitCodeHashMismatchError if the artifact's pool bytecode would put pools at addresses the
    periphery cannot find.
    """
    if (found := pool_init_code_hash()) != POOL_INIT_CODE_HASH:
        raise InitCodeHashMismatchError(
            f"UniswapV3Pool bytecode hashes to 0x{found.hex()}, the periphery expects "
            f"0x{POOL_INIT_CODE_HASH.hex()}: the router and position manager would not find the pools"
        )
    weth_address = _address(weth)
    factory = deployer.deploy(uniswap_container("UniswapV3Factory"))
    factory.enableFeeAmount(100, 1, sender=deployer)
    router = deployer.deploy(uniswap_container("SwapRouter"), factory, weth_address)
    npm = deployer.deploy(
        uniswap_container("NonfungiblePositionManager"), factory, weth_address, ZERO_ADDRESS
    )
    quoter = deployer.deploy(uniswap_container("QuoterV2"), factory, weth_address)
    return UniswapV3Stack(
        weth=weth_address,
        factory=factory.address,
        router=router.address,
        position_manager=npm.address,
        quoter=quoter.address,
    )


class SpotMarket(BaseModel):
    """A USDC/WETH Uniswap V3 pool and the contracts around it (addresses; JSON-serialisable)."""

    model_config = ConfigDict(frozen=True)

    weth: str
    usdc: str
    factory: str
    router: str
    position_manager: str
    quoter: str
    pool: str
    fee: int
    tick_spacing: int
    usdc_is_token0: bool
    position_token_id: int | None = None  # the deployer's full-range position, if any

    @property
    def token0(self) -> str:
        return self.usdc if self.usdc_is_token0 else self.weth

    @property
    def token1(self) -> str:
        return self.weth if self.usdc_is_token0 else self.usdc

    def pool_contract(self) -> Contract:
        return uniswap_at("UniswapV3Pool", self.pool)

    def router_contract(self) -> Contract:
        return uniswap_at("SwapRouter", self.router)

    def position_manager_contract(self) -> Contract:
        return uniswap_at("NonfungiblePositionManager", self.position_manager)

    def quoter_contract(self) -> Contract:
        return uniswap_at("QuoterV2", self.quoter)

    def factory_contract(self) -> Contract:
        return uniswap_at("UniswapV3Factory", self.factory)

    def weth_contract(self) -> Contract:
        return uniswap_at("IWETH9", self.weth)

    def usdc_contract(self) -> Contract:
        """USDC as a plain ERC-20 (the faucet `mint` of MockUSDC is not in this ABI)."""
        return uniswap_at("IERC20Minimal", self.usdc)

    def sqrt_price_x96(self, price_usd: PriceLike, round_up: bool = False) -> int:
        """This pool's sqrtPriceX96 for an ETH price in USD (see `sqrt_price_x96_from_price`)."""
        return sqrt_price_x96_from_price(
            price_usd,
            usd_is_token0=self.usdc_is_token0,
            usd_decimals=USDC_DECIMALS,
            eth_decimals=WETH_DECIMALS,
            round_up=round_up,
        )

    def price(self, sqrt_price_x96: int) -> Fraction:
        """The exact ETH price in USD for a sqrtPriceX96 of this pool."""
        return price_from_sqrt_price_x96(
            sqrt_price_x96,
            usd_is_token0=self.usdc_is_token0,
            usd_decimals=USDC_DECIMALS,
            eth_decimals=WETH_DECIMALS,
        )

    def token(self, which: str | Any) -> str:
        """Address of "usdc" / "weth" or of a token (contract or address) of this pool."""
        if isinstance(which, str) and which.lower() in ("usdc", "weth"):
            return self.usdc if which.lower() == "usdc" else self.weth
        address = _address(which)
        if address not in (self.usdc, self.weth):
            raise ValueError(f"{address} is not a token of this pool")
        return address


def _wrap_eth(account: Account, weth: Contract, amount: int, top_up_eth: bool) -> None:
    gas_reserve = 10**18
    shortfall = amount + gas_reserve - account.balance
    if shortfall > 0:
        if not top_up_eth:
            raise InsufficientFundsError(f"{account.address} needs {amount} wei more Ether to wrap")
        chain.provider.set_balance(account.address, account.balance + shortfall)
    weth.deposit(sender=account, value=amount)


def _ensure_allowance(token: Contract, owner: Account, spender: str, amount: int) -> None:
    if token.allowance(owner.address, spender) < amount:
        token.approve(spender, MAX_UINT256, sender=owner)


def _deadline(deadline_s: int) -> int:
    return chain.pending_timestamp + deadline_s


@dataclass(frozen=True)
class LiquidityResult:
    token_id: int
    liquidity: int
    amount_usdc: int
    amount_weth: int
    receipt: Any = field(repr=False)


def add_full_range_liquidity(
    market: SpotMarket,
    provider: Account,
    usdc_amount: int,
    weth_amount: int,
    *,
    deadline_s: int = DEFAULT_DEADLINE_S,
) -> LiquidityResult:
    """Mints a full-range position through the NonfungiblePositionManager from tokens `provider` holds.

    The manager takes the most liquidity both amounts pay for; one of the two is used up, the other
    is left over (nothing is left over at the balanced 50/50 split). The min amounts are what the
    periphery's own LiquidityAmounts arithmetic says the pool will take, so a price moved in between
    reverts the mint ("Price slippage check").
    """
    usdc, weth = market.usdc_contract(), market.weth_contract()
    for token, amount, label in ((usdc, usdc_amount, "USDC"), (weth, weth_amount, "WETH")):
        if token.balanceOf(provider.address) < amount:
            raise InsufficientFundsError(f"{provider.address} holds less than {amount} {label} base units")
        _ensure_allowance(token, provider, market.position_manager, amount)

    lower, upper = full_range_ticks(market.tick_spacing)
    amount0, amount1 = (usdc_amount, weth_amount) if market.usdc_is_token0 else (weth_amount, usdc_amount)
    sqrt_p = market.pool_contract().slot0().sqrtPriceX96
    liquidity = liquidity_for_amounts(
        sqrt_p, get_sqrt_ratio_at_tick(lower), get_sqrt_ratio_at_tick(upper), amount0, amount1
    )
    min0, min1 = amounts_for_liquidity(sqrt_p, lower, upper, liquidity)
    npm = market.position_manager_contract()
    params = (
        market.token0,
        market.token1,
        market.fee,
        lower,
        upper,
        amount0,
        amount1,
        min0,
        min1,
        provider.address,
        _deadline(deadline_s),
    )
    receipt = npm.mint(params, sender=provider)
    event = npm.IncreaseLiquidity.from_receipt(receipt)[-1]
    used_usdc, used_weth = (
        (event.amount0, event.amount1) if market.usdc_is_token0 else (event.amount1, event.amount0)
    )
    return LiquidityResult(event.tokenId, event.liquidity, used_usdc, used_weth, receipt)


def deploy_spot_market(
    deployer: Account,
    usdc: Contract,
    eth_price_usd: PriceLike,
    liquidity_usd: PriceLike,
    fee: int = DEFAULT_FEE,
    *,
    weth: Contract | None = None,
    stack: UniswapV3Stack | None = None,
    top_up_eth: bool = True,
) -> SpotMarket:
    """Deploys (or reuses) Uniswap V3 and a USDC/WETH pool at `eth_price_usd`, with `liquidity_usd` of
    full-range liquidity owned by `deployer` (0 for none).

    `usdc` is a 6-decimals token with an open `mint(to, amount)` (MockUSDC): the deployer mints the
    USDC half. The WETH half is wrapped from the deployer's Ether; with `top_up_eth` (default) a
    deployer short of Ether gets the difference from the dev node (`anvil_setBalance`), so this is
    for local chains. `weth` defaults to a new WETH9 (the project's `contracts/mocks/WETH9.sol`);
    `stack` reuses an existing Uniswap V3 deployment (its WETH then wins).
    """
    if fee not in FEE_TICK_SPACING:
        raise ValueError(f"fee must be one of {sorted(FEE_TICK_SPACING)}, got {fee}")
    if stack is None:
        if weth is None:
            weth = deployer.deploy(project.WETH9)
        stack = deploy_uniswap_v3(deployer, weth)
    usdc_address = _address(usdc)
    token0, token1 = sort_tokens(usdc_address, stack.weth)
    usdc_is_token0 = token0 == usdc_address
    sqrt_p = sqrt_price_x96_from_price(eth_price_usd, usd_is_token0=usdc_is_token0)

    factory = uniswap_at("UniswapV3Factory", stack.factory)
    npm = uniswap_at("NonfungiblePositionManager", stack.position_manager)
    npm.createAndInitializePoolIfNecessary(token0, token1, fee, sqrt_p, sender=deployer)
    pool = to_checksum_address(factory.getPool(token0, token1, fee))
    expected = compute_pool_address(stack.factory, token0, token1, fee)
    if pool != expected:
        raise InitCodeHashMismatchError(f"factory put the pool at {pool}, the periphery computes {expected}")
    # Let ape decode the pool's events and calls in receipts and traces (it created no instance itself).
    chain.contracts.cache_contract_type(pool, uniswap_contract_type("UniswapV3Pool"))

    market = SpotMarket(
        weth=stack.weth,
        usdc=usdc_address,
        factory=stack.factory,
        router=stack.router,
        position_manager=stack.position_manager,
        quoter=stack.quoter,
        pool=pool,
        fee=fee,
        tick_spacing=FEE_TICK_SPACING[fee],
        usdc_is_token0=usdc_is_token0,
    )
    if Fraction(liquidity_usd) <= 0:
        return market

    # Half the value in each token at the pool's (rounded) price, both rounded down to base units.
    price = market.price(sqrt_p)
    half_usd = Fraction(liquidity_usd) / 2
    usdc_amount = int(half_usd * 10**USDC_DECIMALS)
    weth_amount = int(half_usd / price * 10**WETH_DECIMALS)
    usdc.mint(deployer.address, usdc_amount, sender=deployer)
    _wrap_eth(deployer, market.weth_contract(), weth_amount, top_up_eth)
    position = add_full_range_liquidity(market, deployer, usdc_amount, weth_amount)
    return market.model_copy(update={"position_token_id": position.token_id})


# --------------------------------------------------------------------------- reading the pool


def read_pool_state(market: SpotMarket) -> PoolState:
    """sqrtPriceX96, tick and in-range liquidity of the pool (latest block)."""
    pool = market.pool_contract()
    slot0 = pool.slot0()
    return PoolState(
        sqrt_price_x96=slot0.sqrtPriceX96,
        tick=slot0.tick,
        liquidity=pool.liquidity(),
        fee=market.fee,
        tick_spacing=market.tick_spacing,
    )


def pool_sqrt_price_x96(market: SpotMarket) -> int:
    return market.pool_contract().slot0().sqrtPriceX96


def pool_price(market: SpotMarket) -> Fraction:
    """The pool's ETH price in USD, exactly."""
    return market.price(pool_sqrt_price_x96(market))


def pool_price_usd(market: SpotMarket) -> float:
    """The pool's ETH price in USD (float)."""
    return float(pool_price(market))


def pool_price_wad(market: SpotMarket) -> int:
    """The pool's ETH price in USD with 18 decimals, rounded down."""
    return price_wad_from_sqrt_price_x96(pool_sqrt_price_x96(market), usd_is_token0=market.usdc_is_token0)


class ChainTicks:
    """The pool's initialised ticks read from its tick bitmap (words cached: one snapshot of the pool)."""

    def __init__(self, pool: Contract) -> None:
        self._pool = pool
        self._words: dict[int, int] = {}

    def _word(self, word_pos: int) -> int:
        if word_pos not in self._words:
            self._words[word_pos] = self._pool.tickBitmap(word_pos)
        return self._words[word_pos]

    def next_initialized_tick_within_one_word(
        self, tick: int, tick_spacing: int, lte: bool
    ) -> tuple[int, bool]:
        compressed = tick // tick_spacing
        if lte:
            word_pos, bit_pos = compressed >> 8, compressed % 256
            masked = self._word(word_pos) & ((1 << (bit_pos + 1)) - 1)
            if masked:
                return (compressed - (bit_pos - (masked.bit_length() - 1))) * tick_spacing, True
            return (compressed - bit_pos) * tick_spacing, False
        word_pos, bit_pos = (compressed + 1) >> 8, (compressed + 1) % 256
        masked = self._word(word_pos) & ~((1 << bit_pos) - 1)
        if masked:
            lsb = (masked & -masked).bit_length() - 1
            return (compressed + 1 + (lsb - bit_pos)) * tick_spacing, True
        return (compressed + 1 + (255 - bit_pos)) * tick_spacing, False

    def liquidity_net(self, tick: int) -> int:
        return self._pool.ticks(tick).liquidityNet


def quote_exact_input(
    market: SpotMarket, token_in: str | Any, amount_in: int, sqrt_price_limit_x96: int | None = None
) -> SwapOutcome:
    """What `swap_exact_input` would do now, to the wei: the pool's swap replayed over its real ticks."""
    zero_for_one = market.token(token_in) == market.token0
    state = read_pool_state(market)
    return simulate_exact_input(
        state, ChainTicks(market.pool_contract()), amount_in, zero_for_one, sqrt_price_limit_x96
    )


# --------------------------------------------------------------------------- trading


@dataclass(frozen=True)
class SwapResult:
    """One executed swap, from the pool's Swap event. Amounts in base units of the two tokens."""

    receipt: Any = field(repr=False)
    token_in: str
    token_out: str
    amount_in: int
    amount_out: int
    sqrt_price_x96_before: int
    sqrt_price_x96_after: int
    tick_after: int
    price_before_usd: float
    price_after_usd: float


def swap_exact_input(
    market: SpotMarket,
    trader: Account,
    token_in: str | Any,
    amount_in: int,
    min_amount_out: int = 0,
    *,
    sqrt_price_limit_x96: int = 0,
    recipient: str | Any | None = None,
    deadline_s: int = DEFAULT_DEADLINE_S,
) -> SwapResult:
    """SwapRouter.exactInputSingle from `trader` ("usdc", "weth" or a token address for `token_in`).

    Approves the router for the input token (unlimited) if the allowance is short. With a
    `sqrt_price_limit_x96` the pool may stop early; the router then charges only the input used, and
    `amount_in` of the result is what was actually paid. Reverts "Too little received" below
    `min_amount_out`.
    """
    token_in = market.token(token_in)
    token_out = market.weth if token_in == market.usdc else market.usdc
    erc20 = uniswap_at("IERC20Minimal", token_in)
    if (held := erc20.balanceOf(trader.address)) < amount_in:
        raise InsufficientFundsError(f"{trader.address} holds {held} of {token_in}, needs {amount_in}")
    _ensure_allowance(erc20, trader, market.router, amount_in)
    pool = market.pool_contract()
    before = pool.slot0().sqrtPriceX96
    params = (
        token_in,
        token_out,
        market.fee,
        _address(recipient if recipient is not None else trader),
        _deadline(deadline_s),
        amount_in,
        min_amount_out,
        sqrt_price_limit_x96,
    )
    receipt = market.router_contract().exactInputSingle(params, sender=trader)
    event = pool.Swap.from_receipt(receipt)[-1]
    paid, received = (
        (event.amount0, -event.amount1) if token_in == market.token0 else (event.amount1, -event.amount0)
    )
    return SwapResult(
        receipt=receipt,
        token_in=token_in,
        token_out=token_out,
        amount_in=paid,
        amount_out=received,
        sqrt_price_x96_before=before,
        sqrt_price_x96_after=event.sqrtPriceX96,
        tick_after=event.tick,
        price_before_usd=float(market.price(before)),
        price_after_usd=float(market.price(event.sqrtPriceX96)),
    )


def _input_cap(market: SpotMarket, token_in: str, max_notional_usd: PriceLike, price_usd: Fraction) -> int:
    notional = Fraction(max_notional_usd)
    if notional <= 0:
        raise ValueError("max_notional_usd must be positive")
    if token_in == market.usdc:
        return int(notional * 10**USDC_DECIMALS)
    return int(notional / price_usd * 10**WETH_DECIMALS)


def arbitrage_to_price(
    market: SpotMarket,
    arbitrageur: Account,
    target_price_usd: PriceLike,
    max_notional_usd: PriceLike | None = None,
    *,
    tolerance_bps: float = 0.0,
    slippage_bps: float = 0.0,
    deadline_s: int = DEFAULT_DEADLINE_S,
) -> SwapResult | None:
    """Trades the pool to `target_price_usd` (the oracle) from `arbitrageur`'s USDC or WETH.

    Pool above target: sells WETH; below: sells USDC. The swap goes through the SwapRouter with
    ``sqrtPriceLimitX96`` = the target's sqrtPriceX96, so the pool stops exactly there. The input is
    the exact amount that reaches the target (the pool's swap loop replayed over its ticks, so also
    exact across liquidity ranges), capped at `max_notional_usd` (USDC, or WETH valued at the pool's
    current price): when capped the pool moves only part of the way. The min-out is the predicted
    output less `slippage_bps` (default 0: the exact prediction; the pool cannot move in between
    on an automining dev chain).

    Returns None, sending nothing, when the pool is within `tolerance_bps` of the target (or exactly
    at it). Raises InsufficientFundsError if the arbitrageur lacks the input token.
    """
    state = read_pool_state(market)
    target = market.sqrt_price_x96(target_price_usd)
    target = min(max(target, MIN_SQRT_RATIO + 1), MAX_SQRT_RATIO - 1)
    current_price = market.price(state.sqrt_price_x96)
    gap_bps = abs(current_price / Fraction(target_price_usd) - 1) * 10_000
    if target == state.sqrt_price_x96 or gap_bps <= Fraction(tolerance_bps):
        return None

    zero_for_one = target < state.sqrt_price_x96
    token_in = market.token0 if zero_for_one else market.token1
    ticks = ChainTicks(market.pool_contract())
    full = simulate_exact_input(state, ticks, (1 << 255) - 1, zero_for_one, target)
    amount_in, expected = full.amount_in, full
    if max_notional_usd is not None:
        cap = _input_cap(market, token_in, max_notional_usd, current_price)
        if cap == 0:
            return None
        if cap < amount_in:
            amount_in = cap
            expected = simulate_exact_input(state, ticks, amount_in, zero_for_one, target)
    if amount_in == 0:  # no liquidity between here and the target: nothing to trade against
        return None
    min_out = int(Fraction(expected.amount_out) * (1 - Fraction(slippage_bps) / 10_000))
    return swap_exact_input(
        market,
        arbitrageur,
        token_in,
        amount_in,
        min_out,
        sqrt_price_limit_x96=target,
        deadline_s=deadline_s,
    )
