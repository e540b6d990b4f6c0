// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IHedgeLeg} from "../interfaces/IHedgeLeg.sol";

/// @notice Test-only leg: holds real tokens, marks them at balance (plus a settable markup for
///         unrealised PnL), and lets the test owner book gains and losses.
contract MockLeg is IHedgeLeg {
    using SafeERC20 for IERC20;

    error OnlyVault(address caller);
    error OnlyOwner(address caller);

    address public immutable vault;
    address public immutable asset;
    address public immutable owner;
    int256 public markupAssets;
    int256 public delta;
    uint256 public fundedTotal;
    address public vaultOverride;
    address public assetOverride;

    event Funded(uint256 assets);
    event Released(uint256 requested, uint256 released);

    constructor(address vault_, address asset_) {
        vault = vault_;
        asset = asset_;
        owner = msg.sender;
    }

    function value() external view returns (uint256) {
        int256 v = int256(IERC20(asset).balanceOf(address(this))) + markupAssets;
        return v > 0 ? uint256(v) : 0;
    }

    function book() external view returns (uint256 valueAssets, int256 deltaWad, uint256, uint256) {
        int256 v = int256(IERC20(asset).balanceOf(address(this))) + markupAssets;
        return (v > 0 ? uint256(v) : 0, delta, 0, type(uint256).max);
    }

    function fund(uint256 assets) external {
        if (msg.sender != vault) revert OnlyVault(msg.sender);
        fundedTotal += assets;
        emit Funded(assets);
    }

    function release(uint256 assets) external returns (uint256 released) {
        if (msg.sender != vault) revert OnlyVault(msg.sender);
        uint256 bal = IERC20(asset).balanceOf(address(this));
        released = assets < bal ? assets : bal;
        IERC20(asset).safeTransfer(vault, released);
        emit Released(assets, released);
    }

    /// @notice Unrealised PnL marked on top of the held tokens.
    function setMarkup(int256 markup) external {
        if (msg.sender != owner) revert OnlyOwner(msg.sender);
        markupAssets = markup;
    }

    function setDelta(int256 d) external {
        if (msg.sender != owner) revert OnlyOwner(msg.sender);
        delta = d;
    }

    /// @notice Realised loss: tokens leave the leg.
    function loseAssets(address sink, uint256 amount) external {
        if (msg.sender != owner) revert OnlyOwner(msg.sender);
        IERC20(asset).safeTransfer(sink, amount);
    }
}
