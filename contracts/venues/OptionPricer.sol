// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IOptionPricer} from "../interfaces/IOptionPricer.sol";
import {BlackScholes} from "../libraries/BlackScholes.sol";

/// @title OptionPricer
/// @notice BlackScholes (fixed-point Black-76) applied to the OptionMarket's puts and capped calls. A
///         separate stateless contract so that the market stays under the 24 KB code-size limit; legs
///         and keepers may call it too. Formulas and rounding: IOptionPricer.
contract OptionPricer is IOptionPricer {
    uint256 private constant WAD = 1e18;

    /// @inheritdoc IOptionPricer
    function askWad(
        bool isCall,
        uint256 spotWad,
        uint256 strikeWad,
        uint256 capWad,
        uint256 tauSec,
        uint256 volAskWad,
        uint256 volBidWad
    ) public pure returns (uint256) {
        if (!isCall) return BlackScholes.black76Up(false, spotWad, strikeWad, tauSec, volAskWad, WAD);
        uint256 a = BlackScholes.black76Up(true, spotWad, strikeWad, tauSec, volAskWad, WAD);
        uint256 b = BlackScholes.black76Down(true, spotWad, strikeWad + capWad, tauSec, volBidWad, WAD);
        uint256 p = a > b ? a - b : 0;
        return p > capWad ? capWad : p;
    }

    /// @inheritdoc IOptionPricer
    function bidWad(
        bool isCall,
        uint256 spotWad,
        uint256 strikeWad,
        uint256 capWad,
        uint256 tauSec,
        uint256 volAskWad,
        uint256 volBidWad
    ) public pure returns (uint256) {
        if (!isCall) return BlackScholes.black76Down(false, spotWad, strikeWad, tauSec, volBidWad, WAD);
        uint256 a = BlackScholes.black76Down(true, spotWad, strikeWad, tauSec, volBidWad, WAD);
        uint256 b = BlackScholes.black76Up(true, spotWad, strikeWad + capWad, tauSec, volAskWad, WAD);
        return a > b ? a - b : 0;
    }

    /// @inheritdoc IOptionPricer
    function boundsWad(bool isCall, uint256 spotWad, uint256 strikeWad, uint256 capWad, uint256 tauSec, uint256 sigmaWad)
        external
        pure
        returns (uint256 lowWad, uint256 highWad)
    {
        (lowWad, highWad,) = _mark(isCall, spotWad, strikeWad, capWad, tauSec, sigmaWad);
    }

    /// @inheritdoc IOptionPricer
    function markWad(bool isCall, uint256 spotWad, uint256 strikeWad, uint256 capWad, uint256 tauSec, uint256 sigmaWad)
        external
        pure
        returns (uint256 lowWad, uint256 highWad, int256 deltaWad)
    {
        return _mark(isCall, spotWad, strikeWad, capWad, tauSec, sigmaWad);
    }

    /// @dev bidWad and askWad with both volatilities at sigma, and the delta of greeks, from one
    ///      evaluation per strike.
    function _mark(bool isCall, uint256 spotWad, uint256 strikeWad, uint256 capWad, uint256 tauSec, uint256 sigmaWad)
        private
        pure
        returns (uint256 lowWad, uint256 highWad, int256 deltaWad)
    {
        (lowWad, highWad, deltaWad) = BlackScholes.black76Bounds(isCall, spotWad, strikeWad, tauSec, sigmaWad, WAD);
        if (!isCall) return (lowWad, highWad, deltaWad);
        // call(K) − call(K + C): bid = Down(K) − Up(K + C), ask = Up(K) − Down(K + C), as bidWad/askWad.
        (uint256 low2, uint256 high2, int256 delta2) =
            BlackScholes.black76Bounds(true, spotWad, strikeWad + capWad, tauSec, sigmaWad, WAD);
        lowWad = lowWad > high2 ? lowWad - high2 : 0;
        highWad = highWad > low2 ? highWad - low2 : 0;
        if (highWad > capWad) highWad = capWad;
        deltaWad -= delta2;
    }

    /// @inheritdoc IOptionPricer
    function greeks(bool isCall, uint256 spotWad, uint256 strikeWad, uint256 capWad, uint256 tauSec, uint256 sigmaWad)
        external
        pure
        returns (uint256 priceWad, int256 deltaWad, int256 vegaWad)
    {
        uint256 vega;
        (priceWad, deltaWad, vega) = BlackScholes.black76Greeks(isCall, spotWad, strikeWad, tauSec, sigmaWad, WAD);
        vegaWad = int256(vega);
        if (isCall) {
            (uint256 p2, int256 d2, uint256 v2) =
                BlackScholes.black76Greeks(true, spotWad, strikeWad + capWad, tauSec, sigmaWad, WAD);
            priceWad = priceWad > p2 ? priceWad - p2 : 0;
            if (priceWad > capWad) priceWad = capWad;
            deltaWad -= d2;
            vegaWad -= int256(v2);
        }
    }
}
