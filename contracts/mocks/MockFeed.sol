// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @notice Test-only Chainlink-style feed whose owner sets the answer and its timestamp. Every update
///         starts a new round (round ids count from 1); `getRoundData` serves past rounds.
contract MockFeed is AggregatorV3Interface, Ownable {
    struct Round {
        int256 answer;
        uint256 updatedAt;
    }

    uint8 public immutable decimals;
    string public description;
    uint80 public latestRound;
    mapping(uint80 roundId => Round) private _rounds;

    /// @notice Same signature as Chainlink's aggregator event.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    error NoSuchRound(uint80 roundId);

    constructor(uint8 decimals_, string memory description_, int256 answer) Ownable(msg.sender) {
        decimals = decimals_;
        description = description_;
        _push(answer, block.timestamp);
    }

    function version() external pure returns (uint256) {
        return 4;
    }

    /// @notice New round with `answer`, updated now.
    function setAnswer(int256 answer) external onlyOwner {
        _push(answer, block.timestamp);
    }

    /// @notice New round with `answer` and an explicit `updatedAt` (0, past or future: for staleness tests).
    function setRound(int256 answer, uint256 updatedAt) external onlyOwner {
        _push(answer, updatedAt);
    }

    function getRoundData(uint80 roundId_)
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        if (roundId_ == 0 || roundId_ > latestRound) revert NoSuchRound(roundId_);
        Round memory r = _rounds[roundId_];
        return (roundId_, r.answer, r.updatedAt, r.updatedAt, roundId_);
    }

    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        uint80 id = latestRound;
        Round memory r = _rounds[id];
        return (id, r.answer, r.updatedAt, r.updatedAt, id);
    }

    function _push(int256 answer, uint256 updatedAt) private {
        uint80 id = ++latestRound;
        _rounds[id] = Round(answer, updatedAt);
        emit AnswerUpdated(answer, id, updatedAt);
    }
}
