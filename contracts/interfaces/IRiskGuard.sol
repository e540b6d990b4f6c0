// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IRiskGuard
/// @notice The bounds a keeper action must respect, checked by the vault after every keeper action.
///         The keeper is trusted only inside these bounds: a stolen keeper key can move the book at
///         most one bounded action per interval, each within the slippage, notional, delta, margin
///         and leverage limits below. Every limit is a governance parameter that can never be set
///         looser than a hard limit fixed in the code.
/// @dev Units: ETH amounts and prices are wad (1e18); "assets" are the vault asset's own units
///      (USDC: 6 decimals); ratios are wad (1e18 = 1.0); bps are 1e-4.
///      A bound that is already breached (the market moved) does not freeze the keeper: an action
///      passes if it leaves the quantity inside the bound OR strictly improves it (|delta| smaller,
///      margin ratio larger, leverage smaller). It may never make a breached quantity worse.
interface IRiskGuard {
    /// @notice The governed limits.
    struct Params {
        /// @notice |net delta| cap after an action, ETH (wad).
        uint128 maxNetDeltaWad;
        /// @notice Perp margin ratio floor after an action (equity / maintenance requirement, wad).
        uint64 minMarginRatioWad;
        /// @notice Leverage cap after an action: gross exposure / NAV (wad).
        uint64 maxLeverageWad;
        /// @notice Execution price may be at most this far on the adverse side of the oracle price.
        uint16 maxSlippageBps;
        /// @notice Minimum seconds between two keeper actions.
        uint32 minActionIntervalSec;
        /// @notice Traded notional cap per action, in assets.
        uint128 maxNotionalPerActionAssets;
        /// @notice `trigger()` reports a delta rebalance beyond this |net delta| (wad; <= maxNetDeltaWad).
        uint128 deltaTriggerWad;
        /// @notice `trigger()` reports a margin top-up below this ratio (wad; >= minMarginRatioWad).
        uint64 marginTriggerWad;
    }

    /// @notice The book's risk figures, as the vault computes them from its legs.
    struct BookState {
        /// @notice Net delta of all legs, ETH (wad), signed.
        int256 netDeltaWad;
        /// @notice Perp margin ratio (wad); type(uint256).max when there is no perp position.
        uint256 marginRatioWad;
        /// @notice Gross exposure: |spot value| + |perp notional| + |option notional|, in assets.
        uint256 grossExposureAssets;
        /// @notice Net asset value (totalAssets), in assets.
        uint256 navAssets;
    }

    /// @notice One priced trade of a keeper action.
    struct Trade {
        /// @notice Average execution price, wad USD per ETH; 0 when there is no trade in this place.
        uint256 execPriceWad;
        /// @notice Validated oracle price at the trade, wad USD per ETH.
        uint256 oraclePriceWad;
        /// @notice True when the trade bought ETH exposure (the adverse side is above the oracle).
        bool isBuy;
    }

    /// @notice What one keeper action did.
    struct ActionInfo {
        /// @notice Traded notional of the action, in assets (0 for pure transfers).
        uint256 notionalAssets;
        /// @notice Up to two trades, each checked at its own price (a rebalance's spot swap, then its
        ///         perp trade; an option trade uses the first place). An unused place has price 0.
        Trade[2] trades;
        /// @notice Timestamp of the previous keeper action (0: none yet).
        uint256 lastActionAt;
    }

    /// @notice Why a rebalance is needed (`trigger`). Oracle and queue reasons are the vault's.
    enum Reason {
        None,
        DeltaOutOfBand,
        MarginLow,
        LeverageHigh,
        OracleFailure,
        RedemptionsWaiting
    }

    // ------------------------------------------------------------------ errors (bound, value)
    /// @notice |net delta| after the action is above the cap and not reduced.
    error NetDeltaAboveCap(int256 netDeltaWad, uint256 capWad);
    /// @notice The margin ratio after the action is below the floor and not raised.
    error MarginRatioBelowMin(uint256 marginRatioWad, uint256 minWad);
    /// @notice Leverage after the action is above the cap and not reduced.
    error LeverageAboveMax(uint256 leverageWad, uint256 maxWad);
    /// @notice The execution price is further than the bound on the adverse side of the oracle.
    error SlippageAboveMax(uint256 execPriceWad, uint256 oraclePriceWad, uint256 slippageBps, uint256 maxBps);
    /// @notice The action traded more than the per-action cap.
    error NotionalAboveCap(uint256 notionalAssets, uint256 capAssets);
    /// @notice The previous keeper action was too recent.
    error ActionTooSoon(uint256 elapsedSec, uint256 minIntervalSec);
    /// @notice A price-taking action reported no oracle price.
    error MissingOraclePrice();
    /// @notice A parameter set looser than its hard limit (or inconsistent with another parameter).
    error ParamOutOfBounds(string param, uint256 value, uint256 limit);

    // ------------------------------------------------------------------ events
    /// @notice The governed limits changed.
    event ParamsSet(Params oldParams, Params newParams);

    // ------------------------------------------------------------------ functions
    /// @notice The current limits.
    function params() external view returns (Params memory);

    /// @notice Replace the limits (governance). Each must be inside its hard limit.
    function setParams(Params calldata p) external;

    /// @notice Revert with the first violated bound's error, else return.
    /// @param before The book before the action: a book bound breached after the action passes if it is
    ///        no worse than here. A before-book of zero delta, zero exposure and an infinite margin
    ///        ratio grants no exemption (the vault passes it unless the keeper asked for the exemption).
    /// @param afterState The book after the action.
    /// @param action What the action traded, at which price, and when the previous action was.
    function checkAction(BookState calldata before, BookState calldata afterState, ActionInfo calldata action)
        external
        view;

    /// @notice Whether the book needs a keeper action now, and why (delta, margin or leverage only).
    function trigger(BookState calldata state) external view returns (bool needed, Reason reason);

    /// @notice Leverage = gross exposure / NAV (wad, rounded up); type(uint256).max with exposure and no NAV.
    function leverageWad(BookState calldata state) external pure returns (uint256);
}
