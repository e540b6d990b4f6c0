// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {AggregatorV3Interface} from "../../interfaces/AggregatorV3Interface.sol";
import {IHedgeLeg} from "../../interfaces/IHedgeLeg.sol";
import {IKeelLeg} from "../../interfaces/IKeelLeg.sol";
import {ISpotLeg} from "../../interfaces/ISpotLeg.sol";
import {ISwapRouterMinimal} from "../../interfaces/ISwapRouterMinimal.sol";
import {KeelLegBase} from "./KeelLegBase.sol";

/// @title SpotLeg
/// @notice The vault's spot ETH: holds the asset (USDC, funded by the vault) and WETH, and swaps between
///         them through a Uniswap V3 SwapRouter on one fee tier.
///
///         value()  = USDC balance + ⌊WETH balance · P⌋        (P = the leg's price, see KeelLegBase)
///         delta()  = WETH balance (wad)
///         grossExposure() = ⌈WETH balance · P⌉
///
/// THREAT MODEL
/// - Who can move funds: only the vault (`onlyVault`): `release` sends the leg's USDC to the vault and
///   nowhere else; `swap` sends USDC or WETH to the immutable router and receives the other token back
///   to the leg itself (recipient = this). The router is allowed exactly `amountIn` for the duration of
///   the call and any allowance left afterwards is reset to zero. WETH never leaves except into a swap.
/// - Compromised keeper (through the vault): it can only swap, each swap bounded by its deadline, its
///   min-out (which must be non-zero), the oracle read (a failed or deviating feed halts swaps) and
///   what the vault checks afterwards with RiskGuard (slippage vs the oracle, notional per action, net
///   delta, leverage, action interval). The worst it can do is churn the book within those bounds:
///   pay pool fees and up to the allowed slippage per action, once per action interval.
/// - Sandwiching: the min-out is the keeper's protection; the leg reports the all-in execution price
///   (USDC per WETH actually moved) so RiskGuard's slippage bound catches a sandwiched swap whose
///   min-out was loose.
/// - Oracle: swaps use `OracleLib.read` (reverts on failure). Views never revert and mark with the last
///   good price when the feed fails (see KeelLegBase for why not the pool price). No view reads the
///   pool, so no NAV term can be moved by trading the pool.
/// - Rounding: value rounds down, exposure and buy prices round up, sell prices round down.
/// - Reentrancy: every external mutating function is `nonReentrant`. Tokens are plain ERC-20s (USDC,
///   WETH9) without transfer hooks; balances are measured around the router call, so the report is
///   what actually moved.
/// - Donations: tokens sent to the leg count in `value()` (and WETH in `delta()`): they can only raise
///   the NAV.
contract SpotLeg is ISpotLeg, KeelLegBase {
    using SafeERC20 for IERC20;

    /// @inheritdoc ISpotLeg
    address public immutable weth;
    /// @inheritdoc ISpotLeg
    address public immutable router;
    /// @inheritdoc ISpotLeg
    uint24 public immutable poolFee;

    /// @dev WETH wei × price wad / _PRICE_SCALE = asset units: 10^(18 + 18 − asset decimals).
    uint256 private immutable _priceScale;

    /// @param vault_ The vault.
    /// @param asset_ The vault's asset (USDC), one token of the pool; at most 36 decimals.
    /// @param weth_ WETH (18 decimals), the pool's other token.
    /// @param router_ Uniswap V3 SwapRouter.
    /// @param poolFee_ Fee tier of the USDC/WETH pool to trade (e.g. 500).
    /// @param feed ETH/USD feed; `maxAgeSec`, `maxDeviationBps`, `cooldownSec`: OracleLib bounds.
    constructor(
        address vault_,
        address asset_,
        address weth_,
        address router_,
        uint24 poolFee_,
        AggregatorV3Interface feed,
        uint32 maxAgeSec,
        uint16 maxDeviationBps,
        uint32 cooldownSec
    ) KeelLegBase(vault_, asset_, feed, maxAgeSec, maxDeviationBps, cooldownSec) {
        if (weth_ == address(0)) revert ZeroAddress("weth");
        if (router_ == address(0)) revert ZeroAddress("router");
        uint8 wethDecimals = IERC20Metadata(weth_).decimals();
        if (wethDecimals != 18) revert UnsupportedDecimals(weth_, wethDecimals);
        uint8 assetDecimals = IERC20Metadata(asset_).decimals();
        if (assetDecimals > 36) revert UnsupportedDecimals(asset_, assetDecimals);
        weth = weth_;
        router = router_;
        poolFee = poolFee_;
        _priceScale = 10 ** (36 - uint256(assetDecimals));
    }

    // =================================================================== views

    /// @inheritdoc IHedgeLeg
    function value() external view returns (uint256 assets) {
        (uint256 priceWad,) = _oraclePrice();
        return IERC20(asset).balanceOf(address(this))
            + Math.mulDiv(IERC20(weth).balanceOf(address(this)), priceWad, _priceScale);
    }

    /// @inheritdoc IHedgeLeg
    function delta() external view returns (int256 deltaWad) {
        return int256(IERC20(weth).balanceOf(address(this)));
    }

    /// @inheritdoc IKeelLeg
    function grossExposure() external view returns (uint256 assets) {
        (uint256 priceWad,) = _oraclePrice();
        return Math.mulDiv(IERC20(weth).balanceOf(address(this)), priceWad, _priceScale, Math.Rounding.Ceil);
    }

    /// @inheritdoc IHedgeLeg
    function book() external view returns (uint256 valueAssets, int256 deltaWad, uint256 grossAssets, uint256) {
        (uint256 priceWad,) = _oraclePrice();
        uint256 wethBal = IERC20(weth).balanceOf(address(this));
        valueAssets = IERC20(asset).balanceOf(address(this)) + Math.mulDiv(wethBal, priceWad, _priceScale);
        deltaWad = int256(wethBal);
        grossAssets = Math.mulDiv(wethBal, priceWad, _priceScale, Math.Rounding.Ceil);
        return (valueAssets, deltaWad, grossAssets, type(uint256).max);
    }

    // =================================================================== vault actions

    /// @inheritdoc ISpotLeg
    function swap(bool buyEth, uint256 amountIn, uint256 minAmountOut, uint256 deadline)
        external
        nonReentrant
        onlyVault
        returns (ActionReport memory report)
    {
        _requireDeadline(deadline);
        if (amountIn == 0) revert ZeroAmount("amountIn");
        if (minAmountOut == 0) revert ZeroAmount("minAmountOut");
        uint256 oraclePrice = _readOracle();

        (IERC20 tokenIn, IERC20 tokenOut) = buyEth ? (IERC20(asset), IERC20(weth)) : (IERC20(weth), IERC20(asset));
        uint256 inBefore = tokenIn.balanceOf(address(this));
        if (inBefore < amountIn) revert InsufficientLegBalance(address(tokenIn), amountIn, inBefore);
        uint256 outBefore = tokenOut.balanceOf(address(this));

        tokenIn.forceApprove(router, amountIn);
        ISwapRouterMinimal(router).exactInputSingle(
            ISwapRouterMinimal.ExactInputSingleParams({
                tokenIn: address(tokenIn),
                tokenOut: address(tokenOut),
                fee: poolFee,
                recipient: address(this),
                deadline: deadline,
                amountIn: amountIn,
                amountOutMinimum: minAmountOut,
                sqrtPriceLimitX96: 0
            })
        );
        // An exact-input swap spends the whole allowance; one that ran out of liquidity at the price
        // limit may not: reset what is left.
        if (tokenIn.allowance(address(this), router) != 0) tokenIn.forceApprove(router, 0);

        uint256 paid = inBefore - tokenIn.balanceOf(address(this));
        uint256 received = tokenOut.balanceOf(address(this)) - outBefore;
        if (received < minAmountOut) revert InsufficientOutput(received, minAmountOut);

        (uint256 usdcMoved, uint256 wethMoved) = buyEth ? (paid, received) : (received, paid);
        // USDC per WETH in wad: usdc · 10^(36 − assetDecimals) / wethWei. A sell that paid no WETH cannot
        // happen (the pool takes input for any output, and received > 0); guard the division anyway.
        report.execPriceWad = buyEth
            ? Math.mulDiv(usdcMoved, _priceScale, wethMoved, Math.Rounding.Ceil)
            : (wethMoved == 0 ? 0 : Math.mulDiv(usdcMoved, _priceScale, wethMoved, Math.Rounding.Floor));
        uint256 wethNotional = Math.mulDiv(wethMoved, oraclePrice, _priceScale, Math.Rounding.Ceil);
        report.notionalAssets = usdcMoved > wethNotional ? usdcMoved : wethNotional;
        report.oraclePriceWad = oraclePrice;
        report.isBuy = buyEth;
        emit Swapped(buyEth, paid, received, report.execPriceWad, oraclePrice);
    }
}
