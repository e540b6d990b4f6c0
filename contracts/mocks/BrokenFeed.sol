// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title BrokenFeed
/// @notice Test-only Chainlink-style feed (8 decimals) that can break the ways a real aggregator call can:
///         revert, return malformed (short) data, consume all the gas it is given (INVALID), answer with a
///         `uint80` word that has bits above 80 (a typed call reverts decoding it), or answer with 100 KB (a
///         caller that copies the whole answer pays for it). Proves that views which must never revert
///         survive every one of them.
contract BrokenFeed {
    enum Mode {
        Normal,
        Revert,
        ShortData,
        BurnGas,
        DirtyWords,
        HugeReturn
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
        if (m == Mode.DirtyWords) {
            uint256 dirtyRoundId = (uint256(1) << 80) | 1;
            int256 a = answer;
            uint256 t = updatedAt;
            assembly {
                mstore(0, dirtyRoundId)
                mstore(32, a)
                mstore(64, t)
                mstore(96, t)
                mstore(128, 1)
                return(0, 160)
            }
        }
        if (m == Mode.HugeReturn) {
            int256 a = answer;
            uint256 t = updatedAt;
            assembly {
                let p := mload(0x40)
                mstore(p, 1)
                mstore(add(p, 32), a)
                mstore(add(p, 64), t)
                mstore(add(p, 96), t)
                mstore(add(p, 128), 1)
                return(p, 102400) // a valid round followed by 100 KB of zeros
            }
        }
        return (1, answer, updatedAt, updatedAt, 1);
    }
}
