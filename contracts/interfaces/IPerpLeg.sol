// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IKeelLeg} from "./IKeelLeg.sol";

/// @title IPerpLeg
/// @notice The vault's account at a PerpMarket (the venue): margin moves and short/long trades, vault only.
///         `delta()` = the position size (stored, never reverts); `value()` = max(0, account equity) +
///         the leg's USDC balance.
/// @dev Units: sizes in ETH wad (short < 0), prices USD per ETH wad, money in the asset's units (the
///      venue's collateral, USDC). Marking (`value`, `marginRatioWad`, `grossExposure`, `markedEquity`):
///      - flat: equity = the stored margin (no oracle);
///      - leg price fresh and the venue's views work: equity = `venue.accountEquityUsdc(leg)` exactly;
///      - otherwise (oracle failure, or a venue view reverting): equity computed from the stored position
///        at the leg's price (the last good price when not fresh):
///            m + ⌊(P − EP)·s / 1e30⌋ + F
///        with F = `venue.pendingFundingUsdc(leg)` when that view works, else the funding mark (the
///        pending funding the leg last saw, with its time) minus the worst funding the venue's clamp
///        allows since then: ⌈clamp8h · |s| · P · (now − markedAt) / (8 h · 1e48)⌉ (a liability,
///        rounded up; it grows until the feeds return).
interface IPerpLeg is IKeelLeg {
    /// @notice The venue's collateral is not the vault's asset (constructor).
    error CollateralMismatch(address market, address collateral, address asset);

    /// @notice `assets` of the leg's USDC went to its margin at the venue (the margin after it is the
    ///         venue's `position(leg).marginUsdc`).
    event MarginDeposited(uint256 assets);
    /// @notice `assets` of margin came back to the leg.
    event MarginWithdrawn(uint256 assets);
    /// @notice A trade at the venue. `priceWad` = the venue's execution price, `execPriceWad` = the
    ///         all-in price reported to RiskGuard (fee included), `feeAssets` / `realisedPnlAssets` as the
    ///         venue booked them (the venue's `Traded` event in the same transaction has the size after).
    event PerpTraded(
        int256 sizeDeltaWad,
        uint256 priceWad,
        uint256 execPriceWad,
        uint256 oraclePriceWad,
        uint256 feeAssets,
        int256 realisedPnlAssets
    );
    /// @notice The funding mark (used by the fallback mark only) was set: `pendingFundingAssets` is what a
    ///         settlement at `markedAt` would have booked (0 right after the venue settled).
    event FundingMarked(int256 pendingFundingAssets, uint256 markedAt);

    /// @notice The venue (PerpMarket).
    function market() external view returns (address);

    /// @notice equity / maintenance requirement at the leg's price, wad (1e18 = at maintenance), rounded
    ///         down: type(uint256).max when flat, 0 when equity ≤ 0. Never reverts. Equals
    ///         `venue.marginRatioWad(leg)` whenever the leg's price is fresh and the venue's views work.
    function marginRatioWad() external view returns (uint256);

    /// @notice The equity `value()` is built on (signed, assets), the price it was marked at (0 when flat:
    ///         the equity is then the stored margin, no price needed), and whether that is the venue's own
    ///         equity (`exact`: flat, or a fresh price and the venue's view answered). Never reverts.
    function markedEquity() external view returns (int256 equityAssets, uint256 priceWad, bool exact);

    /// @notice The funding mark: pending funding (assets, + = received) as of `markedAt`.
    function fundingMark() external view returns (int256 pendingFundingAssets, uint256 markedAt);

    /// @notice Moves `assets` of the leg's USDC into its margin at the venue. No oracle read (a top-up
    ///         always works). Vault only.
    function depositMargin(uint256 assets) external;

    /// @notice Moves `assets` of margin back to the leg (then `release` sends it to the vault). With a
    ///         position open the leg reads the oracle first (`OracleLib.read`: reverts when it fails) and
    ///         the venue requires equity ≥ initial margin after it; a flat account needs no oracle.
    ///         Vault only.
    function withdrawMargin(uint256 assets) external;

    /// @notice Trades `sizeDeltaWad` (short/sell < 0, long/buy > 0) at the venue's index price, which must
    ///         be no worse than `limitPriceWad` (buys ≤ limit, sells ≥ limit; the venue reverts
    ///         `LimitPriceExceeded`). Reads the oracle first (`OracleLib.read`: reverts when it fails).
    ///         Reverts `DeadlineExpired` after `deadline`. Vault only.
    /// @dev Report: notional = ⌈|Δ|·P / 1e30⌉; exec price = P ± fee/|Δ| (fee included, buys rounded up,
    ///      sells rounded down).
    function trade(int256 sizeDeltaWad, uint256 limitPriceWad, uint256 deadline)
        external
        returns (ActionReport memory report);
}
