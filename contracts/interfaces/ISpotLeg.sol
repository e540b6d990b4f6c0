// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IKeelLeg} from "./IKeelLeg.sol";

/// @title ISpotLeg
/// @notice The vault's spot ETH: USDC and WETH held by the leg, swapped through a Uniswap V3 router on
///         one fee tier. `delta()` = the WETH balance; `value()` = USDC + WETH at the leg's price.
/// @dev Units: WETH amounts are wei (18 decimals), USDC amounts are the asset's units, prices are USD per
///      ETH in wad. `release` sends USDC only: the keeper sells WETH first (`swap(false, ...)`).
interface ISpotLeg is IKeelLeg {
    /// @notice The swap paid out less than the caller's minimum (balance-checked after the router's own
    ///         "Too little received" check, so this only fires if the router misreports).
    error InsufficientOutput(uint256 amountOut, uint256 minAmountOut);

    /// @notice A swap: `amountIn` of USDC (buyEth) or WETH (sell) went in, `amountOut` of the other came
    ///         out (both measured on the leg's balances); prices as in the returned ActionReport.
    event Swapped(
        bool indexed buyEth, uint256 amountIn, uint256 amountOut, uint256 execPriceWad, uint256 oraclePriceWad
    );

    /// @notice WETH (18 decimals).
    function weth() external view returns (address);

    /// @notice The Uniswap V3 SwapRouter.
    function router() external view returns (address);

    /// @notice The pool's fee tier (e.g. 500 = 0.05%).
    function poolFee() external view returns (uint24);

    /// @notice Swaps exactly `amountIn` (USDC when `buyEth`, else WETH) through `router().exactInputSingle`
    ///         for at least `minAmountOut` of the other token. Vault only.
    /// @dev Reads the oracle with `OracleLib.read` first: reverts with the OracleLib error when it fails.
    ///      Reverts `DeadlineExpired` after `deadline`, `ZeroAmount` for a zero `amountIn` or
    ///      `minAmountOut` (every swap must be protected), `InsufficientLegBalance` when the leg holds less
    ///      than `amountIn`; the router reverts "Too little received" below `minAmountOut`.
    ///      Report: exec price = USDC per WETH of the swap (buys rounded up, sells down); notional =
    ///      the larger of the USDC side and the WETH side at the oracle price (rounded up).
    /// @return report For RiskGuard.
    function swap(bool buyEth, uint256 amountIn, uint256 minAmountOut, uint256 deadline)
        external
        returns (ActionReport memory report);
}
