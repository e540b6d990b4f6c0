// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "./AggregatorV3Interface.sol";

/// @title IOracle
/// @notice Types, errors and events of OracleLib, the validated Chainlink read used by every Keel
///         contract that prices something. Contracts that use OracleLib emit these events and revert
///         with these errors; keep them in their ABI by inheriting this interface (or rely on solc
///         listing the errors and events a contract can raise).
/// @dev Units: `*Wad` values are fixed-point with 18 decimals, signed (`int256`); `*Sec` values are
///      seconds; `*Bps` values are basis points (1 bps = 1e-4). Timestamps are unix seconds.
///      Python mirror of every rule: keeper/oracle.py (same bounds, same verdicts, same rounding).
interface IOracle {
    /// @notice How one feed is read. Fits one storage slot (20 + 1 + 4 + 2 + 4 + 1 bytes).
    /// @param feed The Chainlink aggregator (or proxy).
    /// @param decimals The feed's `decimals()`, read once when configured (see `OracleLib.configure`).
    /// @param maxAgeSec A round whose `updatedAt` is more than `maxAgeSec` before now is stale.
    /// @param maxDeviationBps Circuit-breaker bound on the move from the last good value; 0 turns the
    ///        breaker off. For an unsigned feed (`signed == false`) the bound is relative:
    ///        |new − last| · 10_000 ≤ maxDeviationBps · |last|. For a signed feed it is absolute, in
    ///        basis points of one whole unit (1e18 wad): |new − last| · 10_000 ≤ maxDeviationBps · 1e18
    ///        (e.g. 50 = a jump of at most 0.005 = 0.5 % in an 8-hour funding rate).
    /// @param cooldownSec How long the breaker stays tripped before a fresh value may re-anchor it.
    /// @param signed True for feeds whose answer may be zero or negative (the funding rate); false
    ///        for feeds that must be strictly positive (prices, implied volatility).
    struct FeedConfig {
        AggregatorV3Interface feed;
        uint8 decimals;
        uint32 maxAgeSec;
        uint16 maxDeviationBps;
        uint32 cooldownSec;
        bool signed;
    }

    /// @notice What the consumer remembers about one feed, in its own storage. Fits one slot.
    /// @param lastGoodWad The last accepted value, normalised to 18 decimals (the breaker's reference).
    /// @param lastGoodAt The feed's `updatedAt` of the round that gave `lastGoodWad`; 0 = no value
    ///        accepted yet (the first valid round is accepted without a deviation check).
    /// @param trippedAt Block time at which the breaker tripped; 0 = not tripped.
    struct FeedState {
        int128 lastGoodWad;
        uint64 lastGoodAt;
        uint64 trippedAt;
    }

    /// @notice One round as returned by `latestRoundData()`.
    struct RoundData {
        uint80 roundId;
        int256 answer;
        uint256 startedAt;
        uint256 updatedAt;
        uint80 answeredInRound;
    }

    /// @notice Outcome of validating one round. The numbering is part of the ABI (keeper/oracle.py
    ///         mirrors it). When several rules fail, the verdict is the first of, in this order:
    ///         CoolingDown, NoTimestamp, FutureTimestamp, Stale, OutOfRange, NonPositive, Deviation.
    enum Verdict {
        // The value may be used.
        Ok,
        // Unsigned feed and the value (after normalisation) is ≤ 0.
        NonPositive,
        // `updatedAt == 0`: the round is incomplete.
        NoTimestamp,
        // `updatedAt` is after now.
        FutureTimestamp,
        // now − updatedAt > maxAgeSec.
        Stale,
        // The move from the last good value exceeds `maxDeviationBps`: trips the breaker.
        Deviation,
        // The breaker tripped less than `cooldownSec` ago.
        CoolingDown,
        // |value| > 1e36 wad after normalisation (a broken feed; also keeps the arithmetic exact).
        OutOfRange
    }

    // ------------------------------------------------------------------ errors
    /// @notice `configure` got an unusable configuration: zero feed address, `maxAgeSec == 0`,
    ///         feed decimals above 36, or a breaker (`maxDeviationBps > 0`) without a cooldown.
    error OracleBadConfig(
        address feed, uint8 decimals, uint32 maxAgeSec, uint16 maxDeviationBps, uint32 cooldownSec
    );
    /// @notice The value of an unsigned feed is ≤ 0 after normalisation (`answer` is the raw answer).
    error OracleNonPositive(address feed, int256 answer);
    /// @notice The round has no `updatedAt` (incomplete round).
    error OracleNoTimestamp(address feed, uint80 roundId);
    /// @notice The round's `updatedAt` is after the current block time.
    error OracleFutureTimestamp(address feed, uint256 updatedAt, uint256 nowSec);
    /// @notice The round is older than the feed's maximum age.
    error OracleStale(address feed, uint256 updatedAt, uint256 nowSec, uint256 maxAgeSec);
    /// @notice The normalised value is beyond ±1e36 wad (`answer` raw, with the feed's `decimals`).
    error OracleOutOfRange(address feed, int256 answer, uint8 decimals);
    /// @notice The value moved from the last good value by more than the bound. `deviationBps` is
    ///         rounded up (so it is > `maxBps` whenever this is raised); relative for unsigned feeds,
    ///         absolute (bps of 1e18) for signed feeds; type(uint256).max if the reference is 0.
    error OracleDeviation(address feed, int256 lastWad, int256 newWad, uint256 deviationBps, uint256 maxBps);
    /// @notice The circuit breaker tripped at `trippedAt`; reads resume at `resumesAt`.
    error OracleCoolingDown(address feed, uint256 trippedAt, uint256 resumesAt);

    // ------------------------------------------------------------------ events
    /// @notice A new value became the last good value (and the breaker's reference).
    event OracleAccepted(address indexed feed, uint80 roundId, int256 valueWad, uint256 updatedAt);
    /// @notice The breaker tripped: the value jumped from `lastWad` to `newWad`; every read fails
    ///         until `resumesAt`, after which the next valid round re-anchors the reference.
    event OracleTripped(
        address indexed feed, int256 lastWad, int256 newWad, uint256 deviationBps, uint256 resumesAt
    );
    /// @notice After a cooldown, the reference moved from `oldWad` to `newWad` without a deviation
    ///         check (followed by `OracleAccepted` for the same value).
    event OracleReanchored(address indexed feed, int256 oldWad, int256 newWad, uint256 trippedAt);
}
