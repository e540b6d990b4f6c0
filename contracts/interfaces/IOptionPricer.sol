// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IOptionPricer
/// @notice Stateless Black-76 quotes for the OptionMarket's products, with r = 0 (discount factor 1):
///         a put on strike K, and a call on strike K capped at C per ETH, which is exactly the call
///         spread call(K) − call(K + C). Units: wads (prices in USD per ETH, volatilities as a fraction
///         per year), tau in seconds on a 365-day year. Inputs outside BlackScholes' domain revert with
///         its errors (BlackScholesInvalidInput, BlackScholesSigmaTooHigh, ...).
/// @dev Rounding (BlackScholes.black76Up/Down bracket the exact price within priceErrorBoundWad):
///        put  ask = Up(put, K, volAsk)                        bid = Down(put, K, volBid)
///        call ask = min(C, Up(call, K, volAsk) − Down(call, K + C, volBid))
///        call bid = max(0, Down(call, K, volBid) − Up(call, K + C, volAsk))
///      Each leg of the spread sits on its own side of the market, so with volBid ≤ σ ≤ volAsk:
///      bid ≤ exact Black-76 price at σ ≤ ask, also where the spread's vega is negative.
interface IOptionPricer {
    /// @notice The buyer's price per ETH (an upper bound of the exact price at volAsk/volBid).
    /// @param capWad The call's cap C (> 0); ignored for puts.
    function askWad(
        bool isCall,
        uint256 spotWad,
        uint256 strikeWad,
        uint256 capWad,
        uint256 tauSec,
        uint256 volAskWad,
        uint256 volBidWad
    ) external pure returns (uint256);

    /// @notice The seller's price per ETH (a lower bound of the exact price).
    function bidWad(
        bool isCall,
        uint256 spotWad,
        uint256 strikeWad,
        uint256 capWad,
        uint256 tauSec,
        uint256 volAskWad,
        uint256 volBidWad
    ) external pure returns (uint256);

    /// @notice Bid and ask at one volatility: lowWad ≤ exact price at sigma ≤ highWad.
    function boundsWad(bool isCall, uint256 spotWad, uint256 strikeWad, uint256 capWad, uint256 tauSec, uint256 sigmaWad)
        external
        pure
        returns (uint256 lowWad, uint256 highWad);

    /// @notice A position's mark in one evaluation per strike: boundsWad at sigma and the delta of
    ///         greeks at sigma (the same values as those two calls, for about a third of the gas).
    /// @return lowWad As boundsWad: a lower bound of the exact price at sigma.
    /// @return highWad As boundsWad: an upper bound of the exact price at sigma.
    /// @return deltaWad As greeks: ∂V/∂F at sigma (a step at tauSec = 0).
    function markWad(bool isCall, uint256 spotWad, uint256 strikeWad, uint256 capWad, uint256 tauSec, uint256 sigmaWad)
        external
        pure
        returns (uint256 lowWad, uint256 highWad, int256 deltaWad);

    /// @notice Nearest price (clamped to [0, C] for calls), delta ∂V/∂F and vega ∂V/∂σ (per 1.00 of
    ///         volatility) at sigma; for calls those of call(K) − call(K + C).
    function greeks(bool isCall, uint256 spotWad, uint256 strikeWad, uint256 capWad, uint256 tauSec, uint256 sigmaWad)
        external
        pure
        returns (uint256 priceWad, int256 deltaWad, int256 vegaWad);
}
