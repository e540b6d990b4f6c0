// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ISwapRouterMinimal
/// @notice The one function of Uniswap V3's SwapRouter (v3-periphery `ISwapRouter`) the SpotLeg uses,
///         declared here with the same ABI so the project needs no second dependency entry.
interface ISwapRouterMinimal {
    /// @notice Same layout as `ISwapRouter.ExactInputSingleParams`.
    struct ExactInputSingleParams {
        address tokenIn;
        address tokenOut;
        uint24 fee;
        address recipient;
        uint256 deadline;
        uint256 amountIn;
        uint256 amountOutMinimum;
        uint160 sqrtPriceLimitX96;
    }

    /// @notice Swaps `amountIn` of `tokenIn` for as much `tokenOut` as possible in the pool of fee tier
    ///         `fee`, sent to `recipient`. Reverts "Transaction too old" after `deadline` and "Too little
    ///         received" below `amountOutMinimum`. With a price limit the pool may stop early and the
    ///         router then pulls only the input used.
    /// @return amountOut The amount of `tokenOut` received.
    function exactInputSingle(ExactInputSingleParams calldata params) external payable returns (uint256 amountOut);
}
