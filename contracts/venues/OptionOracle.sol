// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";
import {IOptionOracle} from "../interfaces/IOptionOracle.sol";
import {OracleLib} from "../libraries/OracleLib.sol";

/// @title OptionOracle
/// @notice The OptionMarket's oracle adapter: spot and implied-volatility feeds validated by OracleLib,
///         and the settlement price of an expiry from the spot feed's rounds. Rules: IOptionOracle.
///
/// THREAT MODEL
/// - Bad live values: every value handed out passed OracleLib's checks (age, sign, range, deviation
///   breaker with cooldown); `read` reverts with the check's error, so the market halts trading.
/// - Settlement manipulation: a round hint is verified on chain (its predecessor is before expiry,
///   or for the fallback its successor is beyond the window), so a settler cannot choose among rounds;
///   a first round that fails OracleLib's checks (including a jump beyond the breaker bound from the
///   round before it) is never skipped in favour of a later one — the market's governance fallback
///   takes over. The feed's rounds are read with view calls only; a feed that reverts makes settlement
///   wait (and the fallback route or governance then applies).
/// - Permissionless writes: `read` and `poke` can only record a value OracleLib accepts or trip the
///   breaker on a genuine deviation (which halts trading for the cooldown, as designed by OracleLib).
/// - Governance (GOVERNANCE_ROLE) sets bounded validation parameters only; the feed addresses are
///   immutable, so the settlement source of listed series cannot be swapped.
contract OptionOracle is AccessControlDefaultAdminRules, ReentrancyGuardTransient, IOptionOracle {
    bytes32 public constant GOVERNANCE_ROLE = keccak256("GOVERNANCE_ROLE");

    uint256 public constant MIN_MAX_AGE = 1 minutes;
    uint256 public constant MAX_MAX_AGE = 2 days;
    uint256 public constant MAX_COOLDOWN = 1 days;
    uint256 public constant MAX_ROUND_SCAN = 32;
    uint256 private constant BPS = 10_000;

    AggregatorV3Interface private immutable _spotFeed;
    AggregatorV3Interface private immutable _ivFeed;

    mapping(Feed => FeedConfig) private _cfg;
    mapping(Feed => FeedState) private _state;

    /// @param admin Default admin (role management); transfers are two-step with `adminDelay`.
    /// @param spotFeed ETH/USD, the trading and settlement price.
    /// @param ivFeed ETH ATM implied volatility as a fraction (8 decimals: 0.7e8 = 70 %).
    constructor(
        address admin,
        uint48 adminDelay,
        address governance,
        AggregatorV3Interface spotFeed,
        AggregatorV3Interface ivFeed,
        OracleParams memory spotParams,
        OracleParams memory ivParams
    ) AccessControlDefaultAdminRules(adminDelay, admin) {
        if (governance == address(0)) revert ZeroAddress("governance");
        _grantRole(GOVERNANCE_ROLE, governance);
        _spotFeed = spotFeed;
        _ivFeed = ivFeed;
        _configure(Feed.Spot, spotParams.maxAgeSec, spotParams.maxDeviationBps, spotParams.cooldownSec);
        _configure(Feed.Iv, ivParams.maxAgeSec, ivParams.maxDeviationBps, ivParams.cooldownSec);
    }

    // =================================================================== live values

    /// @inheritdoc IOptionOracle
    function read() external nonReentrant returns (uint256 spotWad, uint256 ivWad) {
        spotWad = uint256(OracleLib.read(_cfg[Feed.Spot], _state[Feed.Spot]));
        ivWad = uint256(OracleLib.read(_cfg[Feed.Iv], _state[Feed.Iv]));
    }

    /// @inheritdoc IOptionOracle
    function poke() external nonReentrant returns (Verdict spotVerdict, Verdict ivVerdict) {
        (spotVerdict,) = OracleLib.update(_cfg[Feed.Spot], _state[Feed.Spot]);
        (ivVerdict,) = OracleLib.update(_cfg[Feed.Iv], _state[Feed.Iv]);
    }

    /// @inheritdoc IOptionOracle
    function peek() external view returns (uint256 spotWad, uint256 ivWad) {
        spotWad = _peekOrRevert(Feed.Spot);
        ivWad = _peekOrRevert(Feed.Iv);
    }

    /// @inheritdoc IOptionOracle
    function values() external view returns (uint256 spotWad, uint256 ivWad, bool live) {
        (Verdict vs, int256 s) = OracleLib.peek(_cfg[Feed.Spot], _state[Feed.Spot]);
        (Verdict vi, int256 v) = OracleLib.peek(_cfg[Feed.Iv], _state[Feed.Iv]);
        live = vs == Verdict.Ok && vi == Verdict.Ok;
        // Unsigned feeds: accepted values are > 0.
        spotWad = uint256(vs == Verdict.Ok ? s : int256(_state[Feed.Spot].lastGoodWad));
        ivWad = uint256(vi == Verdict.Ok ? v : int256(_state[Feed.Iv].lastGoodWad));
    }

    // =================================================================== settlement

    /// @inheritdoc IOptionOracle
    function settlementPrice(uint256 expiry, uint256 windowSec, uint80 roundIdHint)
        external
        view
        returns (uint256 priceWad, SettlementSource source, uint80 roundId)
    {
        uint256 windowEnd = expiry + windowSec;
        FeedConfig memory cfg = _cfg[Feed.Spot];
        roundId = roundIdHint != 0 ? roundIdHint : _locateRound(expiry);
        RoundData memory r = _round(roundId);
        if (r.updatedAt >= expiry) {
            (bool hasPrev, RoundData memory prev) = roundId == 0 ? (false, r) : _tryRound(roundId - 1);
            if (hasPrev && prev.updatedAt >= expiry) {
                revert NotFirstRoundAfterExpiry(roundId, prev.updatedAt, expiry);
            }
            if (r.updatedAt <= windowEnd) {
                return (_checkFirstRound(cfg, r, hasPrev, prev), SettlementSource.FirstRoundInWindow, roundId);
            }
            // Nothing was published in the window: the price in force at expiry.
            if (!hasPrev) revert NoSettlementRound(roundId);
            r = prev;
            roundId = prev.roundId;
        } else {
            (bool hasNext, RoundData memory next) =
                roundId == type(uint80).max ? (false, r) : _tryRound(roundId + 1);
            if (hasNext && next.updatedAt <= windowEnd) {
                revert NotLastRoundBeforeExpiry(roundId, roundId + 1, next.updatedAt, windowEnd);
            }
        }
        if (block.timestamp <= windowEnd) revert SettlementWindowOpen(windowEnd, block.timestamp);
        return (_checkAtExpiry(cfg, r, expiry), SettlementSource.LastRoundBeforeExpiry, roundId);
    }

    // =================================================================== governance

    /// @inheritdoc IOptionOracle
    function setParams(Feed which, uint32 maxAgeSec, uint16 maxDeviationBps, uint32 cooldownSec)
        external
        nonReentrant
        onlyRole(GOVERNANCE_ROLE)
    {
        _configure(which, maxAgeSec, maxDeviationBps, cooldownSec);
    }

    // =================================================================== views

    function feed(Feed which) public view returns (AggregatorV3Interface) {
        return which == Feed.Spot ? _spotFeed : _ivFeed;
    }

    function config(Feed which) external view returns (FeedConfig memory) {
        return _cfg[which];
    }

    function state(Feed which) external view returns (FeedState memory) {
        return _state[which];
    }

    // =================================================================== internals

    function _peekOrRevert(Feed which) private view returns (uint256) {
        FeedConfig memory cfg = _cfg[which];
        FeedState memory st = _state[which];
        RoundData memory r = OracleLib.observe(cfg, st, block.timestamp);
        (Verdict v, int256 value) = OracleLib.check(cfg, st, r, block.timestamp);
        OracleLib.revertFor(cfg, st, r, v, value, block.timestamp);
        return uint256(value);
    }

    /// @dev The first round at/after expiry, walking back from the latest round; the latest round
    ///      itself if it is before expiry.
    function _locateRound(uint256 expiry) private view returns (uint80 id) {
        uint256 updatedAt;
        (id,,, updatedAt,) = _spotFeed.latestRoundData();
        if (updatedAt < expiry) return id;
        uint80 latest = id;
        for (uint256 i; i < MAX_ROUND_SCAN; ++i) {
            if (id == 0) return id;
            (bool ok, RoundData memory prev) = _tryRound(id - 1);
            if (!ok || prev.updatedAt < expiry) return id;
            id -= 1;
        }
        revert RoundScanTooLong(latest, MAX_ROUND_SCAN);
    }

    function _round(uint80 roundId) private view returns (RoundData memory r) {
        (r.roundId, r.answer, r.startedAt, r.updatedAt, r.answeredInRound) = _spotFeed.getRoundData(roundId);
    }

    /// @dev A round that exists (the call succeeds and updatedAt != 0), or ok = false.
    function _tryRound(uint80 roundId) private view returns (bool ok, RoundData memory r) {
        try _spotFeed.getRoundData(roundId) returns (
            uint80 id, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound
        ) {
            r = RoundData(id, answer, startedAt, updatedAt, answeredInRound);
            ok = updatedAt != 0;
        } catch {
            ok = false;
        }
    }

    /// @dev OracleLib's checks on a historical round without an age limit, with the deviation breaker
    ///      measured from the previous round when that one is itself valid. Reverts with the error.
    function _checkFirstRound(FeedConfig memory cfg, RoundData memory r, bool hasPrev, RoundData memory prev)
        private
        view
        returns (uint256)
    {
        cfg.maxAgeSec = type(uint32).max;
        FeedState memory ref;
        if (hasPrev) {
            (Verdict pv, int256 prevWad) = OracleLib.check(cfg, ref, prev, block.timestamp);
            // |prevWad| ≤ 1e36 < 2^127 and updatedAt ≤ now: exact casts.
            if (pv == Verdict.Ok) ref = FeedState(int128(prevWad), uint64(prev.updatedAt), 0);
        }
        (Verdict v, int256 value) = OracleLib.check(cfg, ref, r, block.timestamp);
        OracleLib.revertFor(cfg, ref, r, v, value, block.timestamp);
        return uint256(value);
    }

    /// @dev OracleLib's checks on the last round before expiry as of expiry (so it must have been fresh
    ///      then), without a breaker reference. Reverts with the error.
    function _checkAtExpiry(FeedConfig memory cfg, RoundData memory r, uint256 expiry)
        private
        pure
        returns (uint256)
    {
        FeedState memory none;
        (Verdict v, int256 value) = OracleLib.check(cfg, none, r, expiry);
        OracleLib.revertFor(cfg, none, r, v, value, expiry);
        return uint256(value);
    }

    function _configure(Feed which, uint32 maxAgeSec, uint16 maxDeviationBps, uint32 cooldownSec) private {
        if (
            maxAgeSec < MIN_MAX_AGE || maxAgeSec > MAX_MAX_AGE || maxDeviationBps > BPS
                || cooldownSec > MAX_COOLDOWN
        ) revert OracleParamsOutOfRange(which, maxAgeSec, maxDeviationBps, cooldownSec);
        FeedConfig memory cfg = OracleLib.configure(feed(which), maxAgeSec, maxDeviationBps, cooldownSec, false);
        // A new decimals value invalidates the breaker's reference (OracleLib.configure's rule).
        if (cfg.decimals != _cfg[which].decimals) delete _state[which];
        _cfg[which] = cfg;
        emit OracleParamsSet(which, maxAgeSec, maxDeviationBps, cooldownSec);
    }
}
