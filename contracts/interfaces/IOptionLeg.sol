// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IKeelLeg} from "./IKeelLeg.sol";

/// @title IOptionLeg
/// @notice The vault's account at an OptionMarket: buys and sells listed European ETH options (normally
///         sells premium), settles and claims them at expiry. Only the vault can act.
/// @dev Units as in IOptionMarket: sizes and prices in wad (ETH, USD per ETH), money in the vault's asset.
///
///      value()  = the leg's asset balance + max(0, assets − liabilities) of its account at the venue
///                 (`IOptionMarket.accountValue`: long value, locked collateral and settled claims, minus
///                 the short liability, each rounded in the venue's favour, i.e. against the vault)
///      delta()  = Σ position deltas (∂V/∂F, ETH wad, long call > 0), 0 for settled series
///      grossExposure() = ⌈|delta| · P⌉ (the delta-equivalent ETH notional in assets)
///
///      A trade's ActionReport maps the premium's distance from the mid (Black-76 at the feed's iv, no
///      spread) onto the underlying so that RiskGuard's slippage bound applies to options too:
///        oraclePriceWad = P (the leg's spot read), notionalAssets = ⌈size · P / 1e30⌉
///        execPriceWad   = P + max(0, allIn − mark)   for a buy  (allIn = ⌈(premium + fee)·1e30/size⌉)
///                       = P − max(0, mark − allIn)   for a sell (allIn = ⌊(premium − fee)·1e30/size⌋)
///      i.e. the adverse slippage RiskGuard sees is (premium paid above mid, or received below it, plus the
///      fee) in bps of the underlying notional.
interface IOptionLeg is IKeelLeg {
    error AssetMismatch(address market, address marketAsset, address asset);

    event OptionTraded(
        uint256 indexed seriesId,
        bool isBuy,
        uint256 sizeWad,
        uint256 premiumAssets,
        uint256 feeAssets,
        uint256 markWad,
        uint256 execPriceWad,
        uint256 oraclePriceWad,
        int256 newSizeWad
    );
    event OptionSettled(uint256 indexed seriesId, uint256 settlementPriceWad, int256 sizeWad, uint256 paidAssets);

    /// @notice The OptionMarket.
    function market() external view returns (address);

    /// @notice The series in which the leg holds a position (open, or settled and not yet claimed).
    function openSeries() external view returns (uint256[] memory);

    /// @notice Buys (`isBuy`) or sells `sizeWad` of a series. The leg must hold the asset for the cost
    ///         (buy: premium + fee ≤ `limitAssets`) or for the collateral (sell: the venue pulls the
    ///         collateral net of the proceeds, which must be ≥ `limitAssets`). Reads the spot oracle
    ///         first (a failed check halts trading). Vault only.
    function trade(uint256 seriesId, bool isBuy, uint256 sizeWad, uint256 limitAssets, uint256 deadline)
        external
        returns (ActionReport memory report);

    /// @notice Settles the series at the venue if nobody has yet (`roundIdHint` as in
    ///         IOptionMarket.settle; 0 walks back), then claims the leg's position. Needs no live price.
    ///         Vault only.
    /// @return paidAssets What the claim paid to the leg.
    function settle(uint256 seriesId, uint80 roundIdHint) external returns (uint256 paidAssets);
}
