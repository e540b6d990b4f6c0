// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";

import {IHedgeLeg} from "../../interfaces/IHedgeLeg.sol";
import {IKeelLeg} from "../../interfaces/IKeelLeg.sol";
import {IOptionLeg} from "../../interfaces/IOptionLeg.sol";
import {IOptionMarket} from "../../interfaces/IOptionMarket.sol";
import {IOptionOracle, IOptionOracleTypes} from "../../interfaces/IOptionOracle.sol";
import {KeelLegBase} from "./KeelLegBase.sol";

/// @title OptionLeg
/// @notice The vault's account at an OptionMarket (see IOptionLeg for value, delta and the trade report).
///
/// THREAT MODEL
/// - Who can move funds: only the vault (`onlyVault`). The venue is allowed exactly what a trade may take
///   (the leg's balance for a sell, `limitAssets` for a buy) and the allowance is reset to 0 after the
///   call; claims pay to this leg; `release` sends the leg's balance back to the vault. The venue is
///   immutable and must use the vault's asset.
/// - Compromised keeper (through the vault): trades are bounded by the limit (max cost / min proceeds),
///   the deadline, the spot oracle read (a failed or deviating feed halts trading), then by RiskGuard
///   (premium distance from mid as slippage, notional, net delta, leverage, interval). Worst case per
///   action: buying or selling at the venue's quoted spread plus fee on the notional cap.
/// - Oracle: the venue prices from its own oracle adapter; the leg adds OracleLib's rules on the spot feed
///   before every trade. Settlement and claims need no live price, so expiring options can always be
///   collected. Views never revert for an oracle failure (the venue's accountValue is total; the spot
///   price falls back to the last good read).
/// - Rounding: the venue values assets down and liabilities up; exposure and buy prices up, sell prices
///   down.
/// - Reentrancy: every external mutating function is `nonReentrant`; USDC has no transfer hooks.
contract OptionLeg is IOptionLeg, KeelLegBase {
    using SafeERC20 for IERC20;

    /// @dev size (wad) × price (wad) / 1e30 = USDC units.
    uint256 private constant SCALE = 1e30;

    IOptionMarket private immutable _market;

    /// @param vault_ The vault.
    /// @param asset_ The vault's asset (the venue's collateral).
    /// @param market_ The OptionMarket. The leg's feed is the venue oracle's spot feed.
    /// @param maxAgeSec, maxDeviationBps, cooldownSec OracleLib bounds for that feed.
    constructor(
        address vault_,
        address asset_,
        IOptionMarket market_,
        uint32 maxAgeSec,
        uint16 maxDeviationBps,
        uint32 cooldownSec
    )
        KeelLegBase(
            vault_,
            asset_,
            IOptionOracle(_nonZero(address(market_)).oracle()).feed(IOptionOracleTypes.Feed.Spot),
            maxAgeSec,
            maxDeviationBps,
            cooldownSec
        )
    {
        address marketAsset = market_.asset();
        if (marketAsset != asset_) revert AssetMismatch(address(market_), marketAsset, asset_);
        _market = market_;
    }

    // =================================================================== views

    /// @inheritdoc IOptionLeg
    function market() external view returns (address) {
        return address(_market);
    }

    /// @inheritdoc IOptionLeg
    function openSeries() external view returns (uint256[] memory) {
        return _market.accountSeries(address(this));
    }

    /// @inheritdoc IHedgeLeg
    function value() external view returns (uint256 assets) {
        assets = IERC20(asset).balanceOf(address(this));
        IOptionMarket.AccountValue memory v = _market.accountValue(address(this));
        if (v.assetsUsdc > v.liabilitiesUsdc) assets += v.assetsUsdc - v.liabilitiesUsdc;
    }

    /// @inheritdoc IHedgeLeg
    function delta() external view returns (int256 deltaWad) {
        return _market.accountValue(address(this)).deltaWad;
    }

    /// @inheritdoc IKeelLeg
    function grossExposure() external view returns (uint256 assets) {
        int256 d = _market.accountValue(address(this)).deltaWad;
        if (d == 0) return 0;
        (uint256 priceWad,) = _oraclePrice();
        return Math.mulDiv(SignedMath.abs(d), priceWad, SCALE, Math.Rounding.Ceil);
    }

    /// @inheritdoc IHedgeLeg
    function book() external view returns (uint256 valueAssets, int256 deltaWad, uint256 grossAssets, uint256) {
        valueAssets = IERC20(asset).balanceOf(address(this));
        // With no series the venue returns zeros without reading its feeds.
        IOptionMarket.AccountValue memory v = _market.accountValue(address(this));
        if (v.assetsUsdc > v.liabilitiesUsdc) valueAssets += v.assetsUsdc - v.liabilitiesUsdc;
        deltaWad = v.deltaWad;
        if (deltaWad != 0) {
            (uint256 priceWad,) = _oraclePrice();
            grossAssets = Math.mulDiv(SignedMath.abs(deltaWad), priceWad, SCALE, Math.Rounding.Ceil);
        }
        return (valueAssets, deltaWad, grossAssets, type(uint256).max);
    }

    // =================================================================== vault actions

    /// @inheritdoc IOptionLeg
    function trade(uint256 seriesId, bool isBuy, uint256 sizeWad, uint256 limitAssets, uint256 deadline)
        external
        nonReentrant
        onlyVault
        returns (ActionReport memory report)
    {
        _requireDeadline(deadline);
        if (sizeWad == 0) revert ZeroAmount("size");
        uint256 spot = _readOracle();
        uint256 markWad = _market.markPriceWad(seriesId);
        IERC20 token = IERC20(asset);
        uint256 premium;
        uint256 fee;
        if (isBuy) {
            token.forceApprove(address(_market), limitAssets);
            (premium, fee) = _market.buy(seriesId, sizeWad, limitAssets, deadline);
            uint256 allIn = Math.mulDiv(premium + fee, SCALE, sizeWad, Math.Rounding.Ceil);
            report.execPriceWad = spot + (allIn > markWad ? allIn - markWad : 0);
        } else {
            token.forceApprove(address(_market), token.balanceOf(address(this)));
            (premium, fee) = _market.sell(seriesId, sizeWad, limitAssets, deadline);
            uint256 net = premium > fee ? premium - fee : 0;
            uint256 allIn = Math.mulDiv(net, SCALE, sizeWad);
            uint256 gap = markWad > allIn ? markWad - allIn : 0;
            report.execPriceWad = spot > gap ? spot - gap : 0;
        }
        token.forceApprove(address(_market), 0);
        report.notionalAssets = Math.mulDiv(sizeWad, spot, SCALE, Math.Rounding.Ceil);
        report.oraclePriceWad = spot;
        report.isBuy = isBuy;
        (int256 newSize,) = _market.position(address(this), seriesId);
        emit OptionTraded(seriesId, isBuy, sizeWad, premium, fee, markWad, report.execPriceWad, spot, newSize);
    }

    /// @inheritdoc IOptionLeg
    function settle(uint256 seriesId, uint80 roundIdHint) external nonReentrant onlyVault returns (uint256 paidAssets) {
        IOptionMarket.SeriesInfo memory s = _market.series(seriesId);
        uint256 priceWad = s.settlementPriceWad;
        if (s.settlementSource == IOptionOracleTypes.SettlementSource.None) {
            priceWad = _market.settle(seriesId, roundIdHint);
        }
        (int256 size,) = _market.position(address(this), seriesId);
        paidAssets = _market.claim(seriesId);
        emit OptionSettled(seriesId, priceWad, size, paidAssets);
    }

    // =================================================================== internals

    function _nonZero(address market_) private pure returns (IOptionMarket) {
        if (market_ == address(0)) revert ZeroAddress("market");
        return IOptionMarket(market_);
    }
}
