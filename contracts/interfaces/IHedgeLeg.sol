// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IHedgeLeg
/// @notice One position of the Keel vault at one venue (spot, perpetual, options). The vault sums
///         `value()` over its legs into `totalAssets()`, so a leg's mark is part of the share price.
/// @dev Rules every leg follows:
///      - `value()` is in the vault's asset (its smallest unit), marked with validated oracle prices,
///        assets rounded down and liabilities rounded up, floored at zero. It must never revert while
///        the leg is registered: the vault's ERC-4626 views call it and they must not revert.
///      - `delta()` is the leg's exposure to ETH in ETH with 18 decimals (1e18 = 1 ETH long).
///      - Only the vault moves assets in (`fund`) or out (`release`); release sends assets to the vault
///        and nowhere else.
interface IHedgeLeg {
    /// @notice The vault this leg belongs to; the only caller allowed to fund or release.
    function vault() external view returns (address);

    /// @notice The vault's asset (the stablecoin in which `value()` is expressed).
    function asset() external view returns (address);

    /// @notice Net value of the leg in `asset()` units: assets rounded down, liabilities rounded up,
    ///         floored at zero.
    function value() external view returns (uint256 assets);

    /// @notice Signed ETH exposure of the leg, 1e18 = 1 ETH long.
    function delta() external view returns (int256 deltaWad);

    /// @notice The leg's figures for the vault's book in one call (one oracle read): `value()`,
    ///         `delta()`, the gross exposure in assets (rounded up; 0 for a leg without market exposure)
    ///         and the margin ratio (wad, rounded down; type(uint256).max for a leg without margin).
    ///         Equal to the separate views at the same block. Never reverts for an oracle failure.
    function book()
        external
        view
        returns (uint256 valueAssets, int256 deltaWad, uint256 grossExposureAssets, uint256 marginRatioWad);

    /// @notice Called by the vault's `fundLeg` right after it transferred `assets` to this leg. When the
    ///         transfer is part of a leg action (`rebalance`, `tradeOptions`), the action itself follows
    ///         instead: a leg must not rely on `fund` to account for its balance.
    function fund(uint256 assets) external;

    /// @notice Sends up to `assets` of free (unencumbered) asset back to the vault.
    /// @return released The amount actually transferred to the vault (≤ `assets`).
    function release(uint256 assets) external returns (uint256 released);
}
