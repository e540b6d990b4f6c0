// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "./AggregatorV3Interface.sol";
import {IOracle} from "./IOracle.sol";

/// @title IOptionOracleTypes
/// @notice Types, errors and events shared by the OptionMarket and its oracle adapter (so both ABIs
///         decode them), on top of OracleLib's (IOracle).
interface IOptionOracleTypes is IOracle {
    /// @notice Which feed.
    enum Feed {
        Spot,
        Iv
    }

    /// @notice How a series' settlement price was fixed (see IOptionOracle.settlementPrice).
    enum SettlementSource {
        None,
        FirstRoundInWindow,
        LastRoundBeforeExpiry,
        Governance
    }

    /// @notice Validation bounds of one feed (see IOracle.FeedConfig).
    struct OracleParams {
        uint32 maxAgeSec;
        uint16 maxDeviationBps;
        uint32 cooldownSec;
    }

    error ZeroAddress(string field);
    /// @notice The round given is at/after expiry but its predecessor is too: it is not the first.
    error NotFirstRoundAfterExpiry(uint80 roundId, uint256 previousUpdatedAt, uint256 expiry);
    /// @notice The round given is before expiry but a later round exists before the window's end.
    error NotLastRoundBeforeExpiry(uint80 roundId, uint80 nextRoundId, uint256 nextUpdatedAt, uint256 windowEnd);
    /// @notice The fallback route waits for the end of the settlement window.
    error SettlementWindowOpen(uint256 windowEnd, uint256 nowSec);
    /// @notice No usable round: the first round after expiry is beyond the window and none precedes it.
    error NoSettlementRound(uint80 roundId);
    /// @notice Walking back from the latest round (roundIdHint = 0) took more than MAX_ROUND_SCAN steps.
    error RoundScanTooLong(uint80 fromRoundId, uint256 maxSteps);
    /// @notice Oracle bounds outside maxAgeSec ∈ [1 min, 2 days], maxDeviationBps ≤ 10 000,
    ///         cooldownSec ≤ 1 day (OracleLib also needs a cooldown when the breaker is on).
    error OracleParamsOutOfRange(Feed feed, uint256 maxAgeSec, uint256 maxDeviationBps, uint256 cooldownSec);

    event OracleParamsSet(Feed indexed feed, uint256 maxAgeSec, uint256 maxDeviationBps, uint256 cooldownSec);
}

/// @title IOptionOracle
/// @notice The OptionMarket's oracle adapter: the ETH/USD spot feed and the ETH implied-volatility feed
///         (both Chainlink AggregatorV3Interface, unsigned), validated by OracleLib with one breaker
///         state per feed, and the settlement price of an expiry from the spot feed's history.
/// @dev `read` and `poke` are permissionless: `read` only ever records an accepted value (a failed
///      check reverts, undoing everything), `poke` is OracleLib's non-reverting update (a deviation
///      trips the breaker and starts its cooldown). Views never change state.
interface IOptionOracle is IOptionOracleTypes {
    /// @notice Both feeds' validated values in wad (spot in USD per ETH; IV as a fraction per year,
    ///         0.7e18 = 70 %), recording them as the breakers' references; reverts with OracleLib's
    ///         error of the first failed check (spot first).
    function read() external returns (uint256 spotWad, uint256 ivWad);

    /// @notice OracleLib.update on both feeds (never reverts for the feeds' data).
    function poke() external returns (Verdict spotVerdict, Verdict ivVerdict);

    /// @notice `read` without state changes: the values now or a revert with the oracle error.
    function peek() external view returns (uint256 spotWad, uint256 ivWad);

    /// @notice Non-reverting values for valuations: live if both checks pass (`live` = true), else each
    ///         feed's last accepted value (0 if none).
    function values() external view returns (uint256 spotWad, uint256 ivWad, bool live);

    /// @notice The settlement price of an expiry from the spot feed, in wad. In order:
    ///         1. FirstRoundInWindow: the first round with updatedAt ≥ expiry (its predecessor has
    ///            updatedAt < expiry or does not exist), if updatedAt ≤ expiry + windowSec; it must pass
    ///            OracleLib's checks without an age limit, the deviation breaker measured from its
    ///            predecessor (when that one is valid). A failing first round reverts with the oracle
    ///            error (it is never skipped for a later one).
    ///         2. LastRoundBeforeExpiry: when no round was published in the window (the first round
    ///            after expiry is beyond its end, or there is none yet) and now > expiry + windowSec, the
    ///            last round with updatedAt < expiry, checked by OracleLib as of expiry (so it was fresh
    ///            then: expiry − updatedAt ≤ maxAgeSec). Chainlink publishes on a move or a heartbeat,
    ///            so this is the price in force at expiry.
    /// @param roundIdHint The first round with updatedAt ≥ expiry, or for route 2 the last round before
    ///        expiry (or that first round, beyond the window); 0 walks back from the latest round
    ///        (at most MAX_ROUND_SCAN steps). A hint is verified, never trusted.
    function settlementPrice(uint256 expiry, uint256 windowSec, uint80 roundIdHint)
        external
        view
        returns (uint256 priceWad, SettlementSource source, uint80 roundId);

    /// @notice Governance: a feed's validation bounds (the feed address is fixed at deployment).
    function setParams(Feed feed, uint32 maxAgeSec, uint16 maxDeviationBps, uint32 cooldownSec) external;

    function feed(Feed which) external view returns (AggregatorV3Interface);
    function config(Feed which) external view returns (FeedConfig memory);
    function state(Feed which) external view returns (FeedState memory);
}
