// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {IKeelLeg} from "../interfaces/IKeelLeg.sol";
import {ISpotLeg} from "../interfaces/ISpotLeg.sol";
import {IPerpLeg} from "../interfaces/IPerpLeg.sol";

/// @title LegTestVault
/// @notice Test-only stand-in for the vault (NOT KeelVault): holds the asset and calls a leg's vault-only
///         functions for its owner, so legs can be tested alone. Each trading action stores and logs the
///         leg's ActionReport (ape transactions do not return values).
interface IPublishingFeed {
    function updateAnswer(int256 answer) external;
}

contract LegTestVault {
    using SafeERC20 for IERC20;

    error OnlyOwner(address caller);

    address public immutable owner;
    IERC20 public immutable asset;

    IKeelLeg.ActionReport private _lastReport;
    uint256 public lastReleased;
    /// @notice Gas the last swap/trade call into the leg used (measured around the call).
    uint256 public lastGas;

    event Report(uint256 notionalAssets, uint256 execPriceWad, uint256 oraclePriceWad, bool isBuy);
    event ReleasedFrom(address indexed leg, uint256 requested, uint256 released);
    event ViewPrice(uint256 priceWad, bool fresh);

    constructor(IERC20 asset_) {
        owner = msg.sender;
        asset = asset_;
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert OnlyOwner(msg.sender);
        _;
    }

    function lastReport() external view returns (IKeelLeg.ActionReport memory) {
        return _lastReport;
    }

    /// @notice Like KeelVault.fundLeg: transfer, then `fund`.
    function fundLeg(address leg, uint256 assets) external onlyOwner {
        asset.safeTransfer(leg, assets);
        IKeelLeg(leg).fund(assets);
    }

    /// @notice Calls `fund` without transferring (to test the hook alone).
    function callFund(address leg, uint256 assets) external onlyOwner {
        IKeelLeg(leg).fund(assets);
    }

    /// @notice Like KeelVault.releaseFromLeg, but records what `release` returned.
    function releaseFromLeg(address leg, uint256 assets) external onlyOwner returns (uint256 released) {
        uint256 before = asset.balanceOf(address(this));
        released = IKeelLeg(leg).release(assets);
        require(asset.balanceOf(address(this)) - before == released, "release: balance delta");
        lastReleased = released;
        emit ReleasedFrom(leg, assets, released);
    }

    function swap(address leg, bool buyEth, uint256 amountIn, uint256 minAmountOut, uint256 deadline)
        external
        onlyOwner
        returns (IKeelLeg.ActionReport memory r)
    {
        uint256 g = gasleft();
        r = ISpotLeg(leg).swap(buyEth, amountIn, minAmountOut, deadline);
        lastGas = g - gasleft();
        _record(r);
    }

    function trade(address leg, int256 sizeDeltaWad, uint256 limitPriceWad, uint256 deadline)
        external
        onlyOwner
        returns (IKeelLeg.ActionReport memory r)
    {
        uint256 g = gasleft();
        r = IPerpLeg(leg).trade(sizeDeltaWad, limitPriceWad, deadline);
        lastGas = g - gasleft();
        _record(r);
    }

    /// @notice A swap, then a new round published on `feed` (this contract must own it), then the leg's
    ///         view price, all in one transaction: shows which price the leg marks with after an action.
    function swapThenPublish(
        address leg,
        bool buyEth,
        uint256 amountIn,
        uint256 minAmountOut,
        uint256 deadline,
        address feed,
        int256 answer
    ) external onlyOwner returns (uint256 priceWad, bool fresh) {
        _record(ISpotLeg(leg).swap(buyEth, amountIn, minAmountOut, deadline));
        IPublishingFeed(feed).updateAnswer(answer);
        (priceWad, fresh) = IKeelLeg(leg).oraclePriceWad();
        emit ViewPrice(priceWad, fresh);
    }

    function depositMargin(address leg, uint256 assets) external onlyOwner {
        IPerpLeg(leg).depositMargin(assets);
    }

    function withdrawMargin(address leg, uint256 assets) external onlyOwner {
        IPerpLeg(leg).withdrawMargin(assets);
    }

    /// @notice Lets a test hook (e.g. ReentrantToken) re-enter a leg as the vault. Open to anyone: only
    ///         ever deployed in tests.
    function reenterRelease(address leg, uint256 assets) external {
        IKeelLeg(leg).release(assets);
    }

    function _record(IKeelLeg.ActionReport memory r) private {
        _lastReport = r;
        emit Report(r.notionalAssets, r.execPriceWad, r.oraclePriceWad, r.isBuy);
    }
}
