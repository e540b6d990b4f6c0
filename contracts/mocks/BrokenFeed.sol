// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title BrokenFeed
/// @notice Test-only Chainlink-style feed (8 decimals) that can break the ways a real aggregator call can:
///         revert, return malformed (short) data, or consume all the gas it is given (INVALID). Proves that views which
///         must never revert survive every one of them.
contract BrokenFeed {
    enum Mode {
        Normal,
        Revert,
        ShortData,
        BurnGas
    }

    error FeedDown();

    uint8 public constant decimals = 8;
    int256 public answer;
    uint256 public updatedAt;
    Mode public mode;

    constructor(int256 answer_) {
        setAnswer(answer_);
    }

    function setAnswer(int256 answer_) public {
        answer = answer_;
        updatedAt = block.timestamp;
    }

    function setMode(Mode mode_) external {
        mode = mode_;
    }

    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        Mode m = mode;
        if (m == Mode.Revert) revert FeedDown();
        if (m == Mode.ShortData) {
            assembly {
                mstore(0, 1)
                return(0, 32)
            }
        }
        if (m == Mode.BurnGas) {
            assembly {
                invalid() // consumes all the gas the call was given, at once
            }
        }
        return (1, answer, updatedAt, updatedAt, 1);
    }
}
