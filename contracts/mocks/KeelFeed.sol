// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @title KeelFeed
/// @notice Local Chainlink-style feed for the demo and the tests: the owner publishes rounds.
/// @dev Feeds on the local chain (all 8 decimals, like Chainlink's USD feeds):
///      - "ETH / USD": spot price in USD, 3000e8 = $3,000.
///      - "ETH 30d ATM IV": 30-day at-the-money implied volatility, annualised, as a fraction:
///        0.7e8 = 70 %/yr.
///      - "ETH perp funding 8h": perpetual funding rate per 8 hours as a fraction, positive when longs
///        pay shorts: 0.0001e8 = 1e4 = 0.01 %/8h. May be zero or negative.
///      Units match keeper/sim (annualised vols, funding per 8 hours). Nothing is validated here on
///      purpose: the feed must be able to publish every kind of bad round OracleLib rejects.
contract KeelFeed is AggregatorV3Interface {
    struct Round {
        int256 answer;
        uint256 startedAt;
        uint256 updatedAt;
    }

    /// @notice The caller is not the owner.
    error NotOwner(address caller, address owner);
    /// @notice `getRoundData` for a round that was never published.
    error NoDataPresent(uint80 roundId);

    /// @notice Same as Chainlink's AggregatorInterface event: a round was published.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    /// @notice Ownership moved.
    event OwnerSet(address indexed oldOwner, address indexed newOwner);

    /// @inheritdoc AggregatorV3Interface
    uint8 public immutable decimals;
    /// @inheritdoc AggregatorV3Interface
    uint256 public constant version = 4;
    /// @inheritdoc AggregatorV3Interface
    string public description;
    /// @notice Who may publish rounds.
    address public owner;
    /// @notice Id of the latest published round (0 = none).
    uint80 public latestRound;

    mapping(uint80 roundId => Round) private _rounds;

    /// @param decimals_ Decimals of the answers.
    /// @param description_ e.g. "ETH / USD".
    /// @param initialAnswer Published as round 1 at the deploy block's time.
    constructor(uint8 decimals_, string memory description_, int256 initialAnswer) {
        decimals = decimals_;
        description = description_;
        owner = msg.sender;
        emit OwnerSet(address(0), msg.sender);
        _publish(1, initialAnswer, block.timestamp, block.timestamp);
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender, owner);
        _;
    }

    /// @notice Hands the feed to `newOwner` (e.g. the demo's market driver).
    function setOwner(address newOwner) external onlyOwner {
        emit OwnerSet(owner, newOwner);
        owner = newOwner;
    }

    /// @notice Publishes `answer` as the next round, updated now.
    function updateAnswer(int256 answer) external onlyOwner {
        _publish(latestRound + 1, answer, block.timestamp, block.timestamp);
    }

    /// @notice Publishes an arbitrary round (any id, answer and timestamps, including bad ones) and
    ///         makes it the latest.
    function updateRoundData(uint80 roundId, int256 answer, uint256 updatedAt, uint256 startedAt)
        external
        onlyOwner
    {
        _publish(roundId, answer, updatedAt, startedAt);
    }

    /// @inheritdoc AggregatorV3Interface
    function getRoundData(uint80 roundId_)
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        Round storage r = _rounds[roundId_];
        if (r.startedAt == 0 && r.updatedAt == 0 && r.answer == 0) revert NoDataPresent(roundId_);
        return (roundId_, r.answer, r.startedAt, r.updatedAt, roundId_);
    }

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        uint80 id = latestRound;
        Round storage r = _rounds[id];
        return (id, r.answer, r.startedAt, r.updatedAt, id);
    }

    function _publish(uint80 roundId, int256 answer, uint256 updatedAt, uint256 startedAt) private {
        latestRound = roundId;
        _rounds[roundId] = Round({answer: answer, startedAt: startedAt, updatedAt: updatedAt});
        emit AnswerUpdated(answer, roundId, updatedAt);
    }
}
