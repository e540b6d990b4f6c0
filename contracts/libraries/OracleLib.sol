// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";
import {IOracle} from "../interfaces/IOracle.sol";

/// @title OracleLib
/// @notice Validated Chainlink reads with decimal normalisation and a circuit breaker. Every Keel
///         contract that prices something reads its feeds through `read` (reverting) or `peek` (view).
///         keeper/oracle.py mirrors `check` and `update` rule for rule, so the keeper never acts on a
///         value the contracts would reject.
///
/// RULES (`check`; the first failing rule gives the verdict):
///   1. CoolingDown      the breaker tripped at T and now < T + cooldownSec (the round is not looked at).
///   2. NoTimestamp      updatedAt == 0.
///   3. FutureTimestamp  updatedAt > now.
///   4. Stale            now − updatedAt > maxAgeSec  (age == maxAgeSec is still fresh).
///   5. OutOfRange       |answer normalised to 18 decimals| > 1e36.
///   6. NonPositive      unsigned feed and the normalised value ≤ 0 (a tiny positive answer of a feed
///                       with more than 18 decimals that truncates to 0 counts as 0).
///   7. Deviation        a reference exists (lastGoodAt != 0), the breaker is on (maxDeviationBps > 0),
///                       it is not a re-anchor (see below) and the move exceeds the bound:
///                         unsigned: |v − last| · 10_000 > maxDeviationBps · |last|   (relative)
///                         signed:   |v − last| · 10_000 > maxDeviationBps · 1e18     (absolute)
///                       A move exactly at the bound passes. The comparison is exact (no division).
///   otherwise Ok. `check` returns the normalised value with Ok and Deviation, 0 with every other verdict.
///
/// NORMALISATION: valueWad = answer · 10^(18 − decimals) for decimals ≤ 18 (exact), and
///   answer / 10^(decimals − 18) truncated toward zero for decimals > 18 (down for positive values,
///   up for negative ones; a feed with more than 94 decimals gives 0).
///
/// CIRCUIT BREAKER (`update`; state kept by the consumer in a `FeedState`):
///   - Ok: the value becomes the reference (lastGoodWad, lastGoodAt = round's updatedAt); storage is
///     written only when the reference changes. If the breaker was tripped (so the cooldown is over)
///     this is a re-anchor: the new value is accepted whatever its distance from the old reference,
///     the breaker is cleared and `OracleReanchored` is logged.
///   - Deviation: the breaker trips (trippedAt = now); the reference is kept.
///   - Any other verdict: nothing changes.
///   A revert undoes the trip, so `read` (which reverts on every failure) never leaves the breaker
///   tripped. Consumers must expose `update` through a non-reverting, permissionless entry point (a
///   "poke"); the keeper calls it when its mirror reports Deviation, which starts the cooldown. A
///   genuine large move therefore halts keeper actions for `cooldownSec`, then becomes the new
///   reference; a glitch that persists past the cooldown is re-anchored too (the guardian's pause is
///   the backstop for a feed that is wrong for longer than the cooldown).
///
/// Not checked (on purpose): `answeredInRound` (deprecated by Chainlink, equal to roundId), `startedAt`,
/// and rounds going backwards in time. A feed whose call reverts makes `read`, `update` and `peek`
/// revert with the feed's error. A failed oracle halts keeper actions only: consumers must never read
/// an oracle on the path of a withdrawal of idle assets.
library OracleLib {
    /// @notice Largest accepted |value|, in wad (a price of 1e18 whole units).
    int256 internal constant MAX_ABS_WAD = 1e36;
    /// @notice Largest feed decimals `configure` accepts.
    uint8 internal constant MAX_DECIMALS = 36;
    uint256 internal constant WAD = 1e18;
    uint256 internal constant BPS = 10_000;

    // =================================================================== configuration

    /// @notice Builds and validates a feed configuration, reading the feed's decimals once.
    /// @dev Reverts `OracleBadConfig` if `feed` is the zero address, `maxAgeSec == 0`, the feed has more
    ///      than 36 decimals, or the breaker is on (`maxDeviationBps > 0`) with `cooldownSec == 0`.
    ///      Reset the consumer's `FeedState` whenever the feed or its decimals change.
    function configure(
        AggregatorV3Interface feed,
        uint32 maxAgeSec,
        uint16 maxDeviationBps,
        uint32 cooldownSec,
        bool signed
    ) internal view returns (IOracle.FeedConfig memory cfg) {
        uint8 decimals = address(feed) == address(0) ? 0 : feed.decimals();
        if (
            address(feed) == address(0) || maxAgeSec == 0 || decimals > MAX_DECIMALS
                || (maxDeviationBps != 0 && cooldownSec == 0)
        ) revert IOracle.OracleBadConfig(address(feed), decimals, maxAgeSec, maxDeviationBps, cooldownSec);
        cfg = IOracle.FeedConfig({
            feed: feed,
            decimals: decimals,
            maxAgeSec: maxAgeSec,
            maxDeviationBps: maxDeviationBps,
            cooldownSec: cooldownSec,
            signed: signed
        });
    }

    // =================================================================== pure core

    /// @notice Normalises a raw answer with `decimals` decimals to 18 decimals (see NORMALISATION).
    /// @return inRange False if |valueWad| would exceed `MAX_ABS_WAD` (valueWad is then 0).
    /// @return valueWad The answer in wad.
    function toWad(int256 answer, uint8 decimals) internal pure returns (bool inRange, int256 valueWad) {
        if (decimals <= 18) {
            int256 scale = int256(10 ** (18 - uint256(decimals)));
            int256 maxAnswer = MAX_ABS_WAD / scale;
            if (answer > maxAnswer || answer < -maxAnswer) return (false, 0);
            return (true, answer * scale);
        }
        uint256 down = uint256(decimals) - 18;
        // |answer| < 2^255 < 10^77: any division by 10^77 or more truncates to 0.
        if (down > 76) return (true, 0);
        valueWad = answer / int256(10 ** down);
        if (valueWad > MAX_ABS_WAD || valueWad < -MAX_ABS_WAD) return (false, 0);
        return (true, valueWad);
    }

    /// @notice Validates round `r` of the feed configured by `cfg`, given the consumer's state `st`, at
    ///         time `nowSec` (see RULES). Pure and total: it never reverts, whatever the inputs.
    /// @return verdict The first rule that fails, or Ok.
    /// @return valueWad The normalised value with Ok and Deviation; 0 otherwise.
    function check(
        IOracle.FeedConfig memory cfg,
        IOracle.FeedState memory st,
        IOracle.RoundData memory r,
        uint256 nowSec
    ) internal pure returns (IOracle.Verdict verdict, int256 valueWad) {
        bool reanchor = st.trippedAt != 0;
        if (reanchor && nowSec < uint256(st.trippedAt) + cfg.cooldownSec) return (IOracle.Verdict.CoolingDown, 0);
        uint256 updatedAt = r.updatedAt;
        if (updatedAt == 0) return (IOracle.Verdict.NoTimestamp, 0);
        if (updatedAt > nowSec) return (IOracle.Verdict.FutureTimestamp, 0);
        if (nowSec - updatedAt > cfg.maxAgeSec) return (IOracle.Verdict.Stale, 0);
        bool inRange;
        (inRange, valueWad) = toWad(r.answer, cfg.decimals);
        if (!inRange) return (IOracle.Verdict.OutOfRange, 0);
        if (!cfg.signed && valueWad <= 0) return (IOracle.Verdict.NonPositive, 0);
        if (
            !reanchor && st.lastGoodAt != 0 && cfg.maxDeviationBps != 0
                && _exceeds(cfg.signed, st.lastGoodWad, valueWad, cfg.maxDeviationBps)
        ) return (IOracle.Verdict.Deviation, valueWad);
        return (IOracle.Verdict.Ok, valueWad);
    }

    /// @notice Size of the move from `lastWad` to `newWad` in basis points, rounded up: relative to
    ///         |lastWad| for unsigned feeds (type(uint256).max if lastWad is 0), of 1e18 for signed ones.
    /// @dev For errors and events only; `check` compares without dividing. Needs |lastWad|, |newWad| < 2^250
    ///      (always true for values that passed `toWad` and for a stored `lastGoodWad`).
    function deviationBps(bool signed, int256 lastWad, int256 newWad) internal pure returns (uint256) {
        uint256 diff = _absDiff(lastWad, newWad);
        uint256 ref = signed ? WAD : _abs(lastWad);
        if (ref == 0) return diff == 0 ? 0 : type(uint256).max;
        uint256 num = diff * BPS;
        return num / ref + (num % ref == 0 ? 0 : 1);
    }

    // =================================================================== reads

    /// @notice The feed's latest round, or an empty round if the breaker is still cooling down (the
    ///         feed is then not called: `check` does not look at the round).
    function observe(IOracle.FeedConfig memory cfg, IOracle.FeedState memory st, uint256 nowSec)
        internal
        view
        returns (IOracle.RoundData memory r)
    {
        if (st.trippedAt != 0 && nowSec < uint256(st.trippedAt) + cfg.cooldownSec) return r;
        (r.roundId, r.answer, r.startedAt, r.updatedAt, r.answeredInRound) = cfg.feed.latestRoundData();
    }

    /// @notice Validates the feed's latest round now, without changing anything (for views such as
    ///         `rebalanceTrigger()`). Pass the consumer's stored state (it is copied to memory).
    function peek(IOracle.FeedConfig memory cfg, IOracle.FeedState memory st)
        internal
        view
        returns (IOracle.Verdict verdict, int256 valueWad)
    {
        return check(cfg, st, observe(cfg, st, block.timestamp), block.timestamp);
    }

    /// @notice `peek` made total for views: the feed is called with at most `gasCap` gas and only the
    ///         first five words of its answer are read, so a feed that reverts, burns gas, answers short
    ///         or answers with dirty `uint80` words (which a typed call would revert on), or answers
    ///         with a huge payload, costs the caller a bounded amount of gas and never makes it revert.
    /// @return answered False if the feed could not be read (no verdict then: verdict and value are 0).
    /// @return verdict As `check`, when answered.
    /// @return valueWad As `check`, when answered.
    function peekTotal(IOracle.FeedConfig memory cfg, IOracle.FeedState memory st, uint256 gasCap)
        internal
        view
        returns (bool answered, IOracle.Verdict verdict, int256 valueWad)
    {
        IOracle.RoundData memory r;
        if (st.trippedAt == 0 || block.timestamp >= uint256(st.trippedAt) + cfg.cooldownSec) {
            (answered, r) = _observeBounded(cfg.feed, gasCap);
            if (!answered) return (false, IOracle.Verdict.Ok, 0);
        }
        (verdict, valueWad) = check(cfg, st, r, block.timestamp);
        return (true, verdict, valueWad);
    }

    /// @notice Validates the feed's latest round and updates the breaker state (see CIRCUIT BREAKER).
    ///         Never reverts because of the feed's data: consumers expose it as a permissionless poke.
    /// @return verdict As `check`.
    /// @return valueWad As `check`.
    function update(IOracle.FeedConfig memory cfg, IOracle.FeedState storage st)
        internal
        returns (IOracle.Verdict verdict, int256 valueWad)
    {
        (verdict, valueWad,,) = _update(cfg, st);
    }

    /// @notice The feed's validated value in wad, updating the state like `update`; reverts with the
    ///         verdict's error (`OracleStale`, `OracleDeviation`, ...) unless the verdict is Ok.
    function read(IOracle.FeedConfig memory cfg, IOracle.FeedState storage st) internal returns (int256 valueWad) {
        IOracle.Verdict verdict;
        IOracle.RoundData memory r;
        IOracle.FeedState memory before;
        (verdict, valueWad, r, before) = _update(cfg, st);
        if (verdict != IOracle.Verdict.Ok) revertFor(cfg, before, r, verdict, valueWad, block.timestamp);
    }

    /// @notice Reverts with the error of a failed verdict (no-op for Ok), carrying the values.
    function revertFor(
        IOracle.FeedConfig memory cfg,
        IOracle.FeedState memory st,
        IOracle.RoundData memory r,
        IOracle.Verdict verdict,
        int256 valueWad,
        uint256 nowSec
    ) internal pure {
        address feed = address(cfg.feed);
        if (verdict == IOracle.Verdict.Ok) return;
        if (verdict == IOracle.Verdict.CoolingDown) {
            revert IOracle.OracleCoolingDown(feed, st.trippedAt, uint256(st.trippedAt) + cfg.cooldownSec);
        }
        if (verdict == IOracle.Verdict.NoTimestamp) revert IOracle.OracleNoTimestamp(feed, r.roundId);
        if (verdict == IOracle.Verdict.FutureTimestamp) {
            revert IOracle.OracleFutureTimestamp(feed, r.updatedAt, nowSec);
        }
        if (verdict == IOracle.Verdict.Stale) revert IOracle.OracleStale(feed, r.updatedAt, nowSec, cfg.maxAgeSec);
        if (verdict == IOracle.Verdict.OutOfRange) revert IOracle.OracleOutOfRange(feed, r.answer, cfg.decimals);
        if (verdict == IOracle.Verdict.NonPositive) revert IOracle.OracleNonPositive(feed, r.answer);
        revert IOracle.OracleDeviation(
            feed,
            st.lastGoodWad,
            valueWad,
            deviationBps(cfg.signed, st.lastGoodWad, valueWad),
            cfg.maxDeviationBps
        );
    }

    // =================================================================== internals

    /// @dev Observe, check, apply. The only external call is a staticcall to the feed's view
    ///      `latestRoundData`, made before any write; then one storage write at most.
    function _update(IOracle.FeedConfig memory cfg, IOracle.FeedState storage st)
        private
        returns (
            IOracle.Verdict verdict,
            int256 valueWad,
            IOracle.RoundData memory r,
            IOracle.FeedState memory before
        )
    {
        before = st;
        r = observe(cfg, before, block.timestamp);
        (verdict, valueWad) = check(cfg, before, r, block.timestamp);
        address feed = address(cfg.feed);
        if (verdict == IOracle.Verdict.Ok) {
            if (before.trippedAt != 0) {
                emit IOracle.OracleReanchored(feed, before.lastGoodWad, valueWad, before.trippedAt);
            } else if (before.lastGoodAt == r.updatedAt && before.lastGoodWad == valueWad) {
                return (verdict, valueWad, r, before); // same round, nothing to write
            }
            // |valueWad| ≤ 1e36 < 2^127 and updatedAt ≤ now < 2^64: both casts are exact.
            st.lastGoodWad = int128(valueWad);
            st.lastGoodAt = uint64(r.updatedAt);
            st.trippedAt = 0;
            emit IOracle.OracleAccepted(feed, r.roundId, valueWad, r.updatedAt);
        } else if (verdict == IOracle.Verdict.Deviation) {
            st.trippedAt = uint64(block.timestamp);
            emit IOracle.OracleTripped(
                feed,
                before.lastGoodWad,
                valueWad,
                deviationBps(cfg.signed, before.lastGoodWad, valueWad),
                block.timestamp + cfg.cooldownSec
            );
        }
    }

    /// @dev `latestRoundData()` with at most `gasCap` gas, the answer read from a 160-byte buffer (the
    ///      rest of a longer answer is never copied). False if the call fails, the answer is shorter
    ///      than five words, or a `uint80` word has bits above 80.
    function _observeBounded(AggregatorV3Interface feed, uint256 gasCap)
        private
        view
        returns (bool ok, IOracle.RoundData memory r)
    {
        bytes4 selector = AggregatorV3Interface.latestRoundData.selector;
        uint256 roundId;
        int256 answer;
        uint256 startedAt;
        uint256 updatedAt;
        uint256 answeredInRound;
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mstore(buf, selector)
            ok := staticcall(gasCap, feed, buf, 4, buf, 160)
            if lt(returndatasize(), 160) { ok := 0 }
            roundId := mload(buf)
            answer := mload(add(buf, 32))
            startedAt := mload(add(buf, 64))
            updatedAt := mload(add(buf, 96))
            answeredInRound := mload(add(buf, 128))
        }
        if (!ok || roundId > type(uint80).max || answeredInRound > type(uint80).max) return (false, r);
        r.roundId = uint80(roundId);
        r.answer = answer;
        r.startedAt = startedAt;
        r.updatedAt = updatedAt;
        r.answeredInRound = uint80(answeredInRound);
        return (true, r);
    }

    /// @dev Exact breaker comparison (see RULES 7). |values| ≤ 2^128, so nothing overflows.
    function _exceeds(bool signed, int256 lastWad, int256 newWad, uint256 maxBps) private pure returns (bool) {
        uint256 ref = signed ? WAD : _abs(lastWad);
        return _absDiff(lastWad, newWad) * BPS > maxBps * ref;
    }

    function _abs(int256 x) private pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }

    function _absDiff(int256 a, int256 b) private pure returns (uint256) {
        return a >= b ? uint256(a - b) : uint256(b - a);
    }
}
