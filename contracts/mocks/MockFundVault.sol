// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IInsuranceFund} from "../interfaces/IInsuranceFund.sol";

/// @notice Test-only stand-in for the vault side of the insurance fund: a settable `totalAssets()`,
///         and the calls the vault's `report()` will make — skim a share of realised profit into the
///         fund, draw on it for a realised loss and socialise what it does not pay. Anyone may call
///         it (tests act as "the vault" through it).
contract MockFundVault {
    using SafeERC20 for IERC20;

    address public immutable asset;
    uint256 public totalAssets;
    IInsuranceFund public fund;

    /// @notice What the real vault will emit when the fund leaves part of a loss unpaid.
    event LossSocialised(bytes32 indexed reason, uint256 assets);
    event Reported(uint256 profit, uint256 skimmed);

    constructor(address asset_) {
        asset = asset_;
    }

    function setTotalAssets(uint256 assets) external {
        totalAssets = assets;
    }

    function setFund(IInsuranceFund fund_) external {
        fund = fund_;
        IERC20(asset).forceApprove(address(fund_), type(uint256).max);
    }

    /// @notice Skims `fund.skimAmount(profit)` of the tokens this contract holds into the fund, as
    ///         report() will on a realised profit.
    function reportProfit(uint256 profit) external returns (uint256 skimmed) {
        skimmed = fund.skimAmount(profit);
        if (skimmed != 0) fund.deposit(skimmed);
        emit Reported(profit, skimmed);
    }

    /// @notice Draws on the fund for a realised loss, as report() will; socialises the rest.
    function reportLoss(uint256 loss, bytes32 reason) external returns (uint256 paid) {
        paid = fund.cover(loss, reason);
        if (paid < loss) emit LossSocialised(reason, loss - paid);
    }

    function deposit(uint256 assets) external returns (uint256) {
        return fund.deposit(assets);
    }

    function cover(uint256 loss, bytes32 reason) external returns (uint256) {
        return fund.cover(loss, reason);
    }

    function coverMany(IInsuranceFund.Loss[] calldata losses) external returns (uint256, uint256) {
        return fund.coverMany(losses);
    }
}
