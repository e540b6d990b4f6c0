// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice Reference for the gas benchmark: OpenZeppelin's ERC4626 with nothing added.
contract PlainVault is ERC4626 {
    constructor(IERC20 asset_) ERC20("Plain vault", "PLAIN") ERC4626(asset_) {}
}
