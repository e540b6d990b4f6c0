// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title WETH9
/// @notice Wrapped Ether for the local chain, with the interface and behaviour of the canonical WETH9
///         (mainnet 0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2) that Uniswap V3's periphery expects:
///         `deposit()` / `withdraw(wad)`, an 18-decimals ERC-20 whose `totalSupply()` is the Ether held,
///         an allowance of `type(uint256).max` that never decreases, and `transferFrom` by the owner
///         itself needing no allowance. The events are WETH9's (`Deposit`, `Withdrawal`, `Transfer`,
///         `Approval`, with WETH9's parameter names).
/// @dev Deliberate differences from the 0.4 original: failures revert with custom errors instead of an
///      empty revert; there is no catch-all payable fallback, only `receive()` (a call to a function
///      WETH9 does not have reverts instead of silently depositing — the "phantom function" pitfall);
///      `withdraw` sends the Ether with a plain call instead of `transfer`'s 2300-gas stipend (the
///      balance is debited first, so re-entering finds nothing left to take).
contract WETH9 {
    string public constant name = "Wrapped Ether";
    string public constant symbol = "WETH";
    uint8 public constant decimals = 18;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Approval(address indexed src, address indexed guy, uint256 wad);
    event Transfer(address indexed src, address indexed dst, uint256 wad);
    event Deposit(address indexed dst, uint256 wad);
    event Withdrawal(address indexed src, uint256 wad);

    /// @notice `account` holds `balance`, less than the `needed` amount.
    error InsufficientBalance(address account, uint256 balance, uint256 needed);
    /// @notice `spender` may move `allowed` of `owner`'s tokens, less than the `needed` amount.
    error InsufficientAllowance(address owner, address spender, uint256 allowed, uint256 needed);
    /// @notice Sending `amount` wei to `to` failed (the recipient rejected Ether).
    error EthTransferFailed(address to, uint256 amount);

    /// @notice Plain Ether sent to the contract is wrapped for the sender.
    receive() external payable {
        deposit();
    }

    /// @notice Wraps `msg.value` wei into as many WETH for the caller.
    function deposit() public payable {
        balanceOf[msg.sender] += msg.value;
        emit Deposit(msg.sender, msg.value);
    }

    /// @notice Unwraps `wad` WETH of the caller and sends the caller `wad` wei.
    function withdraw(uint256 wad) external {
        uint256 balance = balanceOf[msg.sender];
        if (balance < wad) revert InsufficientBalance(msg.sender, balance, wad);
        unchecked {
            balanceOf[msg.sender] = balance - wad;
        }
        emit Withdrawal(msg.sender, wad);
        (bool ok,) = msg.sender.call{value: wad}("");
        if (!ok) revert EthTransferFailed(msg.sender, wad);
    }

    /// @notice All WETH in existence: the Ether this contract holds (as in WETH9, Ether forced in by
    ///         `selfdestruct` or as a block reward counts too).
    function totalSupply() external view returns (uint256) {
        return address(this).balance;
    }

    function approve(address guy, uint256 wad) external returns (bool) {
        allowance[msg.sender][guy] = wad;
        emit Approval(msg.sender, guy, wad);
        return true;
    }

    function transfer(address dst, uint256 wad) external returns (bool) {
        return transferFrom(msg.sender, dst, wad);
    }

    /// @notice Moves `wad` from `src` to `dst`. Needs an allowance unless the caller is `src`; an
    ///         allowance of `type(uint256).max` is never decreased.
    function transferFrom(address src, address dst, uint256 wad) public returns (bool) {
        uint256 balance = balanceOf[src];
        if (balance < wad) revert InsufficientBalance(src, balance, wad);
        if (src != msg.sender) {
            uint256 allowed = allowance[src][msg.sender];
            if (allowed != type(uint256).max) {
                if (allowed < wad) revert InsufficientAllowance(src, msg.sender, allowed, wad);
                unchecked {
                    allowance[src][msg.sender] = allowed - wad;
                }
            }
        }
        unchecked {
            balanceOf[src] = balance - wad;
        }
        balanceOf[dst] += wad;
        emit Transfer(src, dst, wad);
        return true;
    }
}
