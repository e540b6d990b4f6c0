// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {AggregatorV3Interface} from "../../interfaces/AggregatorV3Interface.sol";
import {IOracle} from "../../interfaces/IOracle.sol";
import {IHedgeLeg} from "../../interfaces/IHedgeLeg.sol";
import {IKeelLeg} from "../../interfaces/IKeelLeg.sol";
import {OracleLib} from "../../libraries/OracleLib.sol";

/// @title KeelLegBase
/// @notice What SpotLeg and PerpLeg share: the immutable vault and asset, the vault-only gate, `fund` /
///         `release`, and the leg's validated ETH/USD feed (OracleLib) with its never-reverting view.
/// @dev ORACLE RULES (see IKeelLeg):
///      - `_readOracle()` = `OracleLib.read`: the price for keeper actions; reverts on every failure.
///      - `oraclePriceWad()` = the validated value when `peek` says Ok now, else the last good value (the
///        breaker's reference, set at construction by a successful read, so it is always > 0). The
///        `peek` runs in a self-staticcall under try/catch with at most `ORACLE_VIEW_GAS`, so a feed that
///        reverts, runs out of gas or returns garbage cannot make a view revert (and costs it a bounded
///        amount of gas).
///      Why the last good price and not a "conservative" min(last good, pool price): (1) the pool price
///      can be moved inside one transaction, so any NAV term built on it can be pushed by whoever trades
///      the pool (e.g. down, to mint shares cheaply); (2) the vault's legs are hedged against each
///      other: the NAV is (almost) price-neutral only if every leg marks at the same price, and a
///      per-leg "conservative" price (lower for the long spot, higher for the short perp) would instead
///      take a haircut of size × |gap| on both sides at once; (3) it is deterministic and replayable.
///      The price is used by views only: withdrawals of idle assets keep working at that NAV; deposits
///      should be refused by the vault while any leg reports `fresh == false` (the NAV may be off by
///      the move since the last good round, in either direction).
///      The feed configuration is immutable: to change it, deploy a new leg (the vault adds legs only
///      empty and removes them only empty).
abstract contract KeelLegBase is IKeelLeg, IOracle, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @inheritdoc IHedgeLeg
    address public immutable vault;
    /// @inheritdoc IHedgeLeg
    address public immutable asset;

    AggregatorV3Interface private immutable _feed;
    uint8 private immutable _feedDecimals;
    uint32 private immutable _maxAgeSec;
    uint16 private immutable _maxDeviationBps;
    uint32 private immutable _cooldownSec;

    /// @notice Most gas a view gives the feed check (`peekOracle` in a self-call): a Chainlink proxy's
    ///         `latestRoundData` costs ~15-30k, so this is ample, and a feed that burns gas costs a view at
    ///         most this much instead of 63/64 of what the caller has.
    uint256 public constant ORACLE_VIEW_GAS = 200_000;

    IOracle.FeedState private _oracleState;

    /// @dev Transient slot: the price `_readOracle` validated in the current transaction (0: none yet).
    ///      keccak256("keel.KeelLegBase.txOraclePrice") − 1.
    bytes32 private constant _TX_PRICE_SLOT = 0xbb0f931510d2e77a11ea5cf5d219f7dae7cf423fe35e271336c182ecb6daf40d;

    /// @param vault_ The vault (the only caller of fund, release and actions).
    /// @param asset_ The vault's asset.
    /// @param feed ETH/USD Chainlink feed (unsigned); must pass every OracleLib rule now (the first read
    ///        sets the reference).
    /// @param maxAgeSec, maxDeviationBps, cooldownSec OracleLib bounds (see IOracle.FeedConfig).
    constructor(
        address vault_,
        address asset_,
        AggregatorV3Interface feed,
        uint32 maxAgeSec,
        uint16 maxDeviationBps,
        uint32 cooldownSec
    ) {
        if (vault_ == address(0)) revert ZeroAddress("vault");
        if (asset_ == address(0)) revert ZeroAddress("asset");
        IOracle.FeedConfig memory cfg = OracleLib.configure(feed, maxAgeSec, maxDeviationBps, cooldownSec, false);
        vault = vault_;
        asset = asset_;
        _feed = feed;
        _feedDecimals = cfg.decimals;
        _maxAgeSec = maxAgeSec;
        _maxDeviationBps = maxDeviationBps;
        _cooldownSec = cooldownSec;
        OracleLib.read(cfg, _oracleState);
    }

    modifier onlyVault() {
        if (msg.sender != vault) revert OnlyVault(msg.sender, vault);
        _;
    }

    // =================================================================== IHedgeLeg: fund / release

    /// @inheritdoc IHedgeLeg
    /// @dev The vault transferred the assets before calling; nothing to pull.
    function fund(uint256 assets) external nonReentrant onlyVault {
        emit Funded(assets, IERC20(asset).balanceOf(address(this)));
    }

    /// @inheritdoc IHedgeLeg
    /// @dev Free asset = the leg's whole asset balance (WETH and venue margin are not free: the keeper
    ///      sells / withdraws them first). No oracle read: releasing never depends on the feed.
    function release(uint256 assets) external nonReentrant onlyVault returns (uint256 released) {
        uint256 balance = IERC20(asset).balanceOf(address(this));
        released = assets < balance ? assets : balance;
        emit Released(assets, released);
        if (released != 0) IERC20(asset).safeTransfer(vault, released);
    }

    // =================================================================== oracle

    /// @inheritdoc IKeelLeg
    function pokeOracle() external virtual nonReentrant returns (IOracle.Verdict verdict, int256 valueWad) {
        return _pokeOracle();
    }

    /// @inheritdoc IKeelLeg
    function peekOracle() external view returns (IOracle.Verdict verdict, int256 valueWad) {
        return OracleLib.peek(_oracleConfig(), _oracleState);
    }

    /// @inheritdoc IKeelLeg
    function oraclePriceWad() external view returns (uint256 priceWad, bool fresh) {
        return _oraclePrice();
    }

    /// @inheritdoc IKeelLeg
    function oracleConfig() external view returns (IOracle.FeedConfig memory) {
        return _oracleConfig();
    }

    /// @inheritdoc IKeelLeg
    function oracleState() external view returns (IOracle.FeedState memory) {
        return _oracleState;
    }

    // =================================================================== internals

    function _oracleConfig() internal view returns (IOracle.FeedConfig memory) {
        return IOracle.FeedConfig({
            feed: _feed,
            decimals: _feedDecimals,
            maxAgeSec: _maxAgeSec,
            maxDeviationBps: _maxDeviationBps,
            cooldownSec: _cooldownSec,
            signed: false
        });
    }

    /// @dev `OracleLib.update` of the leg's feed (the poke).
    function _pokeOracle() internal returns (IOracle.Verdict verdict, int256 valueWad) {
        return OracleLib.update(_oracleConfig(), _oracleState);
    }

    /// @dev The validated price for a keeper action; reverts with the OracleLib error when it fails.
    ///      An unsigned feed's accepted value is > 0, so the cast is exact.
    ///      The price is also kept for the rest of the transaction (transient storage), so the book the
    ///      vault reads after the action is marked at the price the action was checked against.
    function _readOracle() internal returns (uint256 priceWad) {
        priceWad = uint256(OracleLib.read(_oracleConfig(), _oracleState));
        bytes32 slot = _TX_PRICE_SLOT;
        assembly ("memory-safe") {
            tstore(slot, priceWad)
        }
    }

    /// @dev The leg's price for views (see ORACLE RULES). Never reverts. After a keeper action in the
    ///      same transaction it is the price that action validated (the feed cannot change in between:
    ///      only the feed's owner writes it, and a vault action calls nothing that does; a contract that
    ///      holds the keeper role and bundles a feed update after an action would see the action's price).
    function _oraclePrice() internal view returns (uint256 priceWad, bool fresh) {
        bytes32 slot = _TX_PRICE_SLOT;
        assembly ("memory-safe") {
            priceWad := tload(slot)
        }
        if (priceWad != 0) return (priceWad, true);
        IOracle.FeedState memory st = _oracleState;
        (bool answered, IOracle.Verdict verdict, int256 valueWad) =
            OracleLib.peekTotal(_oracleConfig(), st, ORACLE_VIEW_GAS);
        if (answered && verdict == IOracle.Verdict.Ok) return (uint256(valueWad), true);
        return (uint256(int256(st.lastGoodWad)), false);
    }

    function _requireDeadline(uint256 deadline) internal view {
        if (block.timestamp > deadline) revert DeadlineExpired(deadline, block.timestamp);
    }
}
