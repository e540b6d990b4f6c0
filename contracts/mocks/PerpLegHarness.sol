// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IPerpMarket} from "../interfaces/IPerpMarket.sol";
import {PerpLeg} from "../vault/legs/PerpLeg.sol";

/// @notice Test-only: a PerpLeg that exposes its pure margin-ratio helper (its overflow branch needs
///         positions no real margin could carry).
contract PerpLegHarness is PerpLeg {
    constructor(address vault_, address asset_, IPerpMarket market_)
        PerpLeg(vault_, asset_, market_, 3600, 0, 0)
    {}

    function marginRatioWadOf(uint256 equity, uint256 absSize, uint256 priceWad, uint256 mmrWad)
        external
        pure
        returns (uint256)
    {
        return _marginRatioWad(equity, absSize, priceWad, mmrWad);
    }
}
