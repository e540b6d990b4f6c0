// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";
import {IOracle} from "../interfaces/IOracle.sol";
import {OracleLib} from "../libraries/OracleLib.sol";

/// @title OracleHarness
/// @notice Test-only: exposes OracleLib for one feed, holding the `FeedConfig` and `FeedState` the
///         way a consumer (vault, leg, venue) would.
contract OracleHarness is IOracle {
    FeedConfig private _config;
    FeedState private _state;

    /// @notice The state was overwritten by a test.
    event StateSet(int128 lastGoodWad, uint64 lastGoodAt, uint64 trippedAt);
    /// @notice The feed was (re)configured and the state reset.
    event Configured(
        address indexed feed, uint8 decimals, uint32 maxAgeSec, uint16 maxDeviationBps, uint32 cooldownSec, bool signed
    );

    constructor(
        AggregatorV3Interface feed,
        uint32 maxAgeSec,
        uint16 maxDeviationBps,
        uint32 cooldownSec,
        bool signed
    ) {
        setConfig(feed, maxAgeSec, maxDeviationBps, cooldownSec, signed);
    }

    /// @notice Reconfigures through `OracleLib.configure` and resets the state.
    function setConfig(
        AggregatorV3Interface feed,
        uint32 maxAgeSec,
        uint16 maxDeviationBps,
        uint32 cooldownSec,
        bool signed
    ) public {
        FeedConfig memory cfg = OracleLib.configure(feed, maxAgeSec, maxDeviationBps, cooldownSec, signed);
        _config = cfg;
        delete _state;
        emit Configured(address(feed), cfg.decimals, maxAgeSec, maxDeviationBps, cooldownSec, signed);
    }

    /// @notice Overwrites the state (test setup).
    function setState(FeedState calldata st) external {
        _state = st;
        emit StateSet(st.lastGoodWad, st.lastGoodAt, st.trippedAt);
    }

    /// @notice The stored configuration.
    function config() external view returns (FeedConfig memory) {
        return _config;
    }

    /// @notice The stored breaker state.
    function state() external view returns (FeedState memory) {
        return _state;
    }

    /// @notice `OracleLib.configure` without storing anything.
    function configure(
        AggregatorV3Interface feed,
        uint32 maxAgeSec,
        uint16 maxDeviationBps,
        uint32 cooldownSec,
        bool signed
    ) external view returns (FeedConfig memory) {
        return OracleLib.configure(feed, maxAgeSec, maxDeviationBps, cooldownSec, signed);
    }

    /// @notice `OracleLib.check` on arbitrary inputs.
    function check(FeedConfig calldata cfg, FeedState calldata st, RoundData calldata r, uint256 nowSec)
        external
        pure
        returns (Verdict, int256)
    {
        return OracleLib.check(cfg, st, r, nowSec);
    }

    /// @notice `check` followed by `revertFor` (to test every error without a feed).
    function checkOrRevert(FeedConfig calldata cfg, FeedState calldata st, RoundData calldata r, uint256 nowSec)
        external
        pure
        returns (int256)
    {
        (Verdict verdict, int256 valueWad) = OracleLib.check(cfg, st, r, nowSec);
        OracleLib.revertFor(cfg, st, r, verdict, valueWad, nowSec);
        return valueWad;
    }

    /// @notice `OracleLib.toWad`.
    function toWad(int256 answer, uint8 decimals) external pure returns (bool, int256) {
        return OracleLib.toWad(answer, decimals);
    }

    /// @notice `OracleLib.deviationBps`.
    function deviationBps(bool signed, int256 lastWad, int256 newWad) external pure returns (uint256) {
        return OracleLib.deviationBps(signed, lastWad, newWad);
    }

    /// @notice `OracleLib.peek` on the stored config and state.
    function peek() external view returns (Verdict, int256) {
        return OracleLib.peek(_config, _state);
    }

    /// @notice `OracleLib.update`: the non-reverting, permissionless poke a consumer would expose.
    function update() external returns (Verdict, int256) {
        return OracleLib.update(_config, _state);
    }

    /// @notice `OracleLib.read`: the validated value, or a revert with the verdict's error.
    function read() external returns (int256) {
        return OracleLib.read(_config, _state);
    }
}
