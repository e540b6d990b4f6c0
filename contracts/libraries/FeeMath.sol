// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title FeeMath
/// @notice Pure fee arithmetic of the Keel vault. Every result is rounded DOWN: fees never take a
///         unit more than the formula says, so rounding favours the depositors (the vault), not the
///         fee recipient.
/// @dev Notation (all integers, in the smallest units):
///        A  = totalAssets() before the fee,
///        S* = totalSupply() + 10**decimalsOffset (the virtual shares of OpenZeppelin's ERC4626),
///        A* = A + 1 (the virtual asset).
///      Management fee, linear over the elapsed time Δt since the last accrual:
///        m = ⌊A · feeBps · Δt / (10_000 · 365 days)⌋
///      Share price of one whole share in whole assets, 1e18 = 1:1 (scale = 10**(18 + offset)):
///        p = ⌊(A* − m) · scale / S*⌋
///      Performance fee on the part of the gain above the high-water mark h:
///        f = ⌊(p − h) · S* · feeBps / (scale · 10_000)⌋   if p > h, else 0
///      Both are paid by minting shares that dilute holders by exactly F = m + f:
///        shares = ⌊F · S* / (A* − F)⌋   so that  A* / (S* + shares) ≥ (A* − F) / S*.
library FeeMath {
    using Math for uint256;

    uint256 internal constant BPS = 10_000;
    uint256 internal constant YEAR = 365 days;

    /// @notice Management fee in assets for `elapsed` seconds at `feeBps` a year on `totalAssets`.
    function managementFeeAssetsDown(uint256 totalAssets, uint256 feeBps, uint256 elapsed)
        internal
        pure
        returns (uint256)
    {
        if (feeBps == 0 || elapsed == 0) return 0;
        return totalAssets.mulDiv(feeBps * elapsed, BPS * YEAR, Math.Rounding.Floor);
    }

    /// @notice Price of one whole share in whole assets (1e18 = 1:1) for `virtualAssets` (A + 1)
    ///         and `virtualSupply` (S + 10**offset), rounded down.
    function sharePriceWadDown(uint256 virtualAssets, uint256 virtualSupply, uint256 scale)
        internal
        pure
        returns (uint256)
    {
        return virtualAssets.mulDiv(scale, virtualSupply, Math.Rounding.Floor);
    }

    /// @notice Performance fee in assets on the gain of `priceWad` over `highWaterMarkWad`.
    function performanceFeeAssetsDown(
        uint256 priceWad,
        uint256 highWaterMarkWad,
        uint256 virtualSupply,
        uint256 feeBps,
        uint256 scale
    ) internal pure returns (uint256) {
        if (feeBps == 0 || priceWad <= highWaterMarkWad) return 0;
        return (priceWad - highWaterMarkWad).mulDiv(virtualSupply * feeBps, scale * BPS, Math.Rounding.Floor);
    }

    /// @notice Shares to mint so that `feeAssets` of value moves from holders to the fee recipient.
    /// @dev Returns 0 when the fee would take everything (cannot happen with capped fee rates).
    function feeSharesDown(uint256 feeAssets, uint256 virtualAssets, uint256 virtualSupply)
        internal
        pure
        returns (uint256)
    {
        if (feeAssets == 0 || feeAssets >= virtualAssets) return 0;
        return feeAssets.mulDiv(virtualSupply, virtualAssets - feeAssets, Math.Rounding.Floor);
    }
}
