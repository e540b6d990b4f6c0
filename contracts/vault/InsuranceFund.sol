// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IInsuranceFund, LossReasons} from "../interfaces/IInsuranceFund.sol";

/// @title InsuranceFund
/// @notice The Keel vault's loss reserve: skimmed profit in, capped loss cover out (to the vault
///         only), governance withdrawals through a timelock. Not part of the vault's NAV.
///
/// THREAT MODEL
/// - Where funds can go. Exactly two outflows exist: (1) `cover`/`coverMany` pay the immutable
///   `vault` and nobody else, at most `cap - drawn` per period and never more than asked; (2)
///   `executeWithdrawal` pays a governance-chosen address, only a withdrawal queued at least
///   `withdrawalDelay` (≥ 2 days) earlier, announced by `WithdrawalQueued`, not cancelled, executed
///   within GRACE_PERIOD of its eta, once, and only out of `excess()` (the reserve above target at
///   execution). Inflows: `deposit` by anyone, plus plain transfers (counted in `reserve()`).
/// - Compromised vault (or a report() fed false losses): it can pull at most the per-period cap, and
///   only into the vault, i.e. from the reserve into the depositors' NAV; it cannot send funds
///   elsewhere or touch parameters. Worst rate: MAX_DRAW_BPS (50%) of the base per MIN_PERIOD (1 day),
///   two caps back to back across a period boundary.
/// - Compromised governance: parameters move at once but only within hard bounds (skim ≤ 50% of
///   profit, target ≤ 20% of TVL, draw cap in [1%, 50%] of the base, period in [1, 30] days, delay in
///   [2, 30] days). It can set the target to 0 and queue a withdrawal of everything; that is public for
///   at least the delay in force, and the guardian can cancel it. A shorter delay itself waits out the
///   current delay, so no withdrawal ever executes sooner than the delay in force when it could have
///   been announced. Governance cannot draw as the vault.
/// - Compromised guardian: can only cancel queued withdrawals (griefing; the admin revokes roles).
///   Roles are granted by a default admin whose transfer is two-step with a delay.
/// - Liveness of report(): `cover` never reverts for lack of reserve or cap; it pays what it can
///   (possibly 0) and emits the uncovered rest, so the vault can always book a loss. It reverts only
///   for a caller other than the vault, a zero amount or an unknown reason (and if the token itself
///   refuses a transfer, e.g. a blocklist).
/// - Reentrancy: every external mutating function is `nonReentrant` (transient guard); state is
///   written before transfers out (checks-effects-interactions). The only external calls are to the
///   asset and the vault's `totalAssets()` view.
/// - Rounding: the cap and the skim round down; the target rounds up (the reserve is never
///   understated, so a withdrawal's `excess()` is never overstated).
/// - NAV manipulation: `targetAssets()` reads the vault's marked TVL; inflating it only raises the
///   skim (still ≤ skimShare of realised profit) and lowers `excess()`, never lets funds out.
contract InsuranceFund is AccessControlDefaultAdminRules, ReentrancyGuardTransient, IInsuranceFund {
    using SafeERC20 for IERC20;
    using Math for uint256;

    bytes32 public constant GOVERNANCE_ROLE = keccak256("GOVERNANCE_ROLE");
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");

    bytes32 public constant LIQUIDATION_SHORTFALL = LossReasons.LIQUIDATION_SHORTFALL;
    bytes32 public constant OPTION_PAYOUT = LossReasons.OPTION_PAYOUT;
    bytes32 public constant NEGATIVE_FUNDING = LossReasons.NEGATIVE_FUNDING;
    bytes32 public constant OTHER = LossReasons.OTHER;

    uint256 public constant BPS = 10_000;
    uint256 public constant MAX_SKIM_SHARE_BPS = 5_000;
    uint256 public constant MAX_TARGET_BPS = 2_000;
    uint256 public constant MIN_DRAW_BPS = 100;
    uint256 public constant MAX_DRAW_BPS = 5_000;
    uint256 public constant MIN_PERIOD = 1 days;
    uint256 public constant MAX_PERIOD = 30 days;
    uint256 public constant MIN_WITHDRAWAL_DELAY = 2 days;
    uint256 public constant MAX_WITHDRAWAL_DELAY = 30 days;
    uint256 public constant GRACE_PERIOD = 14 days;
    uint256 public constant MAX_LOSSES = 8;
    uint256 private constant RANKS = 4;

    IERC20 private immutable _asset;
    address private immutable _vault;

    // One slot: every parameter and the open period's start.
    uint16 private _skimShareBps;
    uint16 private _targetBps;
    uint16 private _maxDrawBps;
    uint32 private _periodSec;
    uint32 private _withdrawalDelay;
    uint32 private _pendingDelay;
    uint40 private _pendingDelayEta;
    uint40 private _periodStart; // 0 until the first period opens
    // One slot: the open period's base and what was drawn in it.
    uint128 private _periodBase;
    uint128 private _periodDrawn;

    mapping(uint256 id => Withdrawal) private _withdrawals;
    uint256 private _withdrawalCount;

    /// @param asset_ The vault's asset.
    /// @param vault_ The only drawer. If it is already deployed, its `asset()` must be `asset_`
    ///        (it may also be deployed later, at a precomputed address).
    /// @param admin Default admin (role management); transfers are two-step with `adminDelay`.
    constructor(
        IERC20 asset_,
        address vault_,
        address admin,
        uint48 adminDelay,
        address governance,
        address guardian,
        Params memory p
    ) AccessControlDefaultAdminRules(adminDelay, admin) {
        if (address(asset_) == address(0)) revert ZeroAddress("asset");
        if (vault_ == address(0)) revert ZeroAddress("vault");
        if (governance == address(0)) revert ZeroAddress("governance");
        if (guardian == address(0)) revert ZeroAddress("guardian");
        if (vault_.code.length != 0) {
            address vaultAsset = IERC4626(vault_).asset();
            if (vaultAsset != address(asset_)) revert AssetMismatch(vault_, vaultAsset, address(asset_));
        }
        _asset = asset_;
        _vault = vault_;
        _grantRole(GOVERNANCE_ROLE, governance);
        _grantRole(GUARDIAN_ROLE, guardian);
        _setSkimShare(p.skimShareBps);
        _setTarget(p.targetBps);
        _setMaxDrawPerPeriod(p.maxDrawPerPeriodBps);
        _setPeriod(p.periodSec);
        _checkDelay(p.withdrawalDelay);
        emit WithdrawalDelaySet(0, p.withdrawalDelay);
        _withdrawalDelay = uint32(p.withdrawalDelay);
    }

    // =================================================================== views

    function asset() external view returns (address) {
        return address(_asset);
    }

    function vault() external view returns (address) {
        return _vault;
    }

    function reserve() public view returns (uint256) {
        return _asset.balanceOf(address(this));
    }

    function skimShareBps() external view returns (uint256) {
        return _skimShareBps;
    }

    function targetBps() external view returns (uint256) {
        return _targetBps;
    }

    function maxDrawPerPeriodBps() external view returns (uint256) {
        return _maxDrawBps;
    }

    function periodSec() external view returns (uint256) {
        return _periodSec;
    }

    /// @inheritdoc IInsuranceFund
    function withdrawalDelay() public view returns (uint256) {
        uint256 eta = _pendingDelayEta;
        return eta != 0 && block.timestamp >= eta ? _pendingDelay : _withdrawalDelay;
    }

    /// @inheritdoc IInsuranceFund
    function pendingWithdrawalDelay() external view returns (uint256 delay, uint256 eta) {
        eta = _pendingDelayEta;
        if (eta == 0 || block.timestamp >= eta) return (0, 0);
        delay = _pendingDelay;
    }

    /// @inheritdoc IInsuranceFund
    function params() external view returns (Params memory) {
        return Params({
            skimShareBps: _skimShareBps,
            targetBps: _targetBps,
            maxDrawPerPeriodBps: _maxDrawBps,
            periodSec: _periodSec,
            withdrawalDelay: withdrawalDelay()
        });
    }

    /// @inheritdoc IInsuranceFund
    function targetAssets() public view returns (uint256) {
        return _targetAt(IERC4626(_vault).totalAssets());
    }

    /// @inheritdoc IInsuranceFund
    function shortfall() external view returns (uint256) {
        uint256 target = targetAssets();
        uint256 bal = reserve();
        return target > bal ? target - bal : 0;
    }

    /// @inheritdoc IInsuranceFund
    function excess() public view returns (uint256) {
        uint256 target = targetAssets();
        uint256 bal = reserve();
        return bal > target ? bal - target : 0;
    }

    /// @inheritdoc IInsuranceFund
    function skimAmount(uint256 realisedProfit) external view returns (uint256) {
        return skimAmountAt(realisedProfit, IERC4626(_vault).totalAssets());
    }

    /// @inheritdoc IInsuranceFund
    function skimAmountAt(uint256 realisedProfit, uint256 vaultAssets) public view returns (uint256) {
        uint256 share = realisedProfit.mulDiv(_skimShareBps, BPS, Math.Rounding.Floor);
        if (share == 0) return 0;
        uint256 target = _targetAt(vaultAssets);
        uint256 bal = reserve();
        uint256 gap = target > bal ? target - bal : 0;
        return share < gap ? share : gap;
    }

    /// @inheritdoc IInsuranceFund
    function currentPeriod() public view returns (Period memory p) {
        uint256 len = _periodSec;
        uint256 start = _periodStart;
        if (block.timestamp >= start + len) {
            uint256 bal = reserve();
            return Period({start: block.timestamp, end: block.timestamp + len, base: bal, drawn: 0, cap: _capOf(bal)});
        }
        uint256 base = _periodBase;
        p = Period({start: start, end: start + len, base: base, drawn: _periodDrawn, cap: _capOf(base)});
    }

    /// @inheritdoc IInsuranceFund
    function coverable() external view returns (uint256) {
        Period memory p = currentPeriod();
        uint256 room = p.cap > p.drawn ? p.cap - p.drawn : 0;
        uint256 bal = reserve();
        return room < bal ? room : bal;
    }

    function withdrawal(uint256 id) external view returns (Withdrawal memory) {
        return _withdrawals[id];
    }

    function withdrawalCount() external view returns (uint256) {
        return _withdrawalCount;
    }

    // =================================================================== anyone

    /// @inheritdoc IInsuranceFund
    function deposit(uint256 assets) external nonReentrant returns (uint256 received) {
        if (assets == 0) revert ZeroAmount("assets");
        _openPeriodIfDue();
        uint256 before = reserve();
        _asset.safeTransferFrom(msg.sender, address(this), assets);
        uint256 after_ = reserve();
        received = after_ - before;
        // The guard above makes the post-transfer write safe; the amount is only known after it.
        _periodBase = SafeCast.toUint128(uint256(_periodBase) + received);
        emit Deposited(msg.sender, received, after_);
    }

    // =================================================================== vault

    /// @inheritdoc IInsuranceFund
    function cover(uint256 lossAssets, bytes32 reason) external nonReentrant returns (uint256 paid) {
        _onlyVault();
        if (lossAssets == 0) revert ZeroAmount("lossAssets");
        _rank(reason);
        _openPeriodIfDue();
        uint256 cap = _capOf(_periodBase);
        uint256 drawn = _periodDrawn;
        (paid, drawn) = _draw(reason, lossAssets, reserve(), drawn, cap);
        _periodDrawn = uint128(drawn); // drawn ≤ cap ≤ base < 2**128
        if (paid != 0) _asset.safeTransfer(_vault, paid);
    }

    /// @inheritdoc IInsuranceFund
    function coverMany(Loss[] calldata losses)
        external
        nonReentrant
        returns (uint256 paid, uint256 uncovered)
    {
        _onlyVault();
        uint256 n = losses.length;
        if (n == 0) revert ZeroAmount("losses");
        if (n > MAX_LOSSES) revert TooManyLosses(n, MAX_LOSSES);
        uint256[] memory ranks = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            if (losses[i].assets == 0) revert ZeroAmount("lossAssets");
            ranks[i] = _rank(losses[i].reason);
        }
        _openPeriodIfDue();
        uint256 cap = _capOf(_periodBase);
        uint256 drawn = _periodDrawn;
        uint256 available = reserve();
        for (uint256 r; r < RANKS; ++r) {
            for (uint256 i; i < n; ++i) {
                if (ranks[i] != r) continue;
                uint256 requested = losses[i].assets;
                uint256 p;
                (p, drawn) = _draw(losses[i].reason, requested, available, drawn, cap);
                available -= p;
                paid += p;
                uncovered += requested - p;
            }
        }
        _periodDrawn = uint128(drawn);
        if (paid != 0) _asset.safeTransfer(_vault, paid);
    }

    // =================================================================== governance

    function setSkimShare(uint256 bps) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        _setSkimShare(bps);
    }

    function setTarget(uint256 bps) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        _setTarget(bps);
    }

    function setMaxDrawPerPeriod(uint256 bps) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        _setMaxDrawPerPeriod(bps);
    }

    function setPeriod(uint256 periodSec_) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        _setPeriod(periodSec_);
    }

    /// @inheritdoc IInsuranceFund
    function setWithdrawalDelay(uint256 delay) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        _checkDelay(delay);
        uint256 current = _applyDueDelay();
        if (delay >= current) {
            // Supersedes any queued decrease.
            _pendingDelay = 0;
            _pendingDelayEta = 0;
            _withdrawalDelay = uint32(delay);
            emit WithdrawalDelaySet(current, delay);
        } else {
            uint256 eta = block.timestamp + current;
            _pendingDelay = uint32(delay);
            _pendingDelayEta = uint40(eta);
            emit WithdrawalDelayDecreaseQueued(current, delay, eta);
        }
    }

    /// @inheritdoc IInsuranceFund
    function queueWithdrawal(address to, uint256 assets)
        external
        nonReentrant
        onlyRole(GOVERNANCE_ROLE)
        returns (uint256 id)
    {
        if (to == address(0)) revert ZeroAddress("to");
        if (assets == 0) revert ZeroAmount("assets");
        uint256 eta = block.timestamp + _applyDueDelay();
        id = _withdrawalCount++;
        _withdrawals[id] = Withdrawal({to: to, eta: uint40(eta), state: WithdrawalState.Queued, assets: assets});
        emit WithdrawalQueued(id, to, assets, eta);
    }

    /// @inheritdoc IInsuranceFund
    function executeWithdrawal(uint256 id) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        Withdrawal storage w = _queued(id);
        uint256 eta = w.eta;
        if (block.timestamp < eta) revert WithdrawalNotReady(id, eta, block.timestamp);
        if (block.timestamp > eta + GRACE_PERIOD) revert WithdrawalExpired(id, eta + GRACE_PERIOD, block.timestamp);
        uint256 assets = w.assets;
        uint256 free = excess();
        if (assets > free) revert WithdrawalExceedsExcess(id, assets, free);
        w.state = WithdrawalState.Executed;
        address to = w.to;
        emit WithdrawalExecuted(id, to, assets, reserve() - assets);
        _asset.safeTransfer(to, assets);
    }

    // =================================================================== governance or guardian

    function cancelWithdrawal(uint256 id) external nonReentrant {
        if (!hasRole(GOVERNANCE_ROLE, msg.sender) && !hasRole(GUARDIAN_ROLE, msg.sender)) {
            revert NotGovernanceOrGuardian(msg.sender);
        }
        Withdrawal storage w = _queued(id);
        w.state = WithdrawalState.Cancelled;
        emit WithdrawalCancelled(id, msg.sender);
    }

    // =================================================================== internals

    function _onlyVault() internal view {
        if (msg.sender != _vault) revert OnlyVault(msg.sender, _vault);
    }

    /// @dev Waterfall rank of a reason; reverts for an unknown one.
    function _rank(bytes32 reason) internal pure returns (uint256) {
        if (reason == LossReasons.LIQUIDATION_SHORTFALL) return 0;
        if (reason == LossReasons.OPTION_PAYOUT) return 1;
        if (reason == LossReasons.NEGATIVE_FUNDING) return 2;
        if (reason == LossReasons.OTHER) return 3;
        revert UnknownReason(reason);
    }

    /// @dev Pays min(requested, available, cap - drawn) and emits the cover; returns the payment and
    ///      the new drawn total. Writes nothing: the callers store `drawn` once.
    function _draw(bytes32 reason, uint256 requested, uint256 available, uint256 drawn, uint256 cap)
        internal
        returns (uint256 paid, uint256 drawnAfter)
    {
        uint256 room = cap > drawn ? cap - drawn : 0;
        paid = requested < room ? requested : room;
        if (available < paid) paid = available;
        drawnAfter = drawn + paid;
        emit LossCovered(reason, requested, paid, requested - paid, drawnAfter, cap);
    }

    function _capOf(uint256 base) internal view returns (uint256) {
        return base.mulDiv(_maxDrawBps, BPS, Math.Rounding.Floor);
    }

    function _targetAt(uint256 vaultAssets) internal view returns (uint256) {
        return vaultAssets.mulDiv(_targetBps, BPS, Math.Rounding.Ceil);
    }

    /// @dev Opens a new period when the open one has ended (or none was ever opened).
    function _openPeriodIfDue() internal {
        uint256 len = _periodSec;
        if (block.timestamp < uint256(_periodStart) + len) return;
        uint256 base = reserve();
        _periodStart = uint40(block.timestamp);
        _periodBase = SafeCast.toUint128(base);
        _periodDrawn = 0;
        emit PeriodOpened(block.timestamp, block.timestamp + len, base);
    }

    /// @dev Makes a queued delay decrease effective once due; returns the delay in force.
    function _applyDueDelay() internal returns (uint256) {
        uint256 eta = _pendingDelayEta;
        if (eta == 0 || block.timestamp < eta) return _withdrawalDelay;
        uint256 delay = _pendingDelay;
        emit WithdrawalDelaySet(_withdrawalDelay, delay);
        _withdrawalDelay = uint32(delay);
        _pendingDelay = 0;
        _pendingDelayEta = 0;
        return delay;
    }

    function _queued(uint256 id) internal view returns (Withdrawal storage w) {
        w = _withdrawals[id];
        WithdrawalState state = w.state;
        if (state == WithdrawalState.None) revert UnknownWithdrawal(id);
        if (state != WithdrawalState.Queued) revert WithdrawalNotQueued(id, state);
    }

    function _setSkimShare(uint256 bps) internal {
        if (bps > MAX_SKIM_SHARE_BPS) revert SkimShareTooHigh(bps, MAX_SKIM_SHARE_BPS);
        emit SkimShareSet(_skimShareBps, bps);
        _skimShareBps = uint16(bps);
    }

    function _setTarget(uint256 bps) internal {
        if (bps > MAX_TARGET_BPS) revert TargetTooHigh(bps, MAX_TARGET_BPS);
        emit TargetSet(_targetBps, bps);
        _targetBps = uint16(bps);
    }

    function _setMaxDrawPerPeriod(uint256 bps) internal {
        if (bps < MIN_DRAW_BPS || bps > MAX_DRAW_BPS) revert DrawCapOutOfRange(bps, MIN_DRAW_BPS, MAX_DRAW_BPS);
        emit MaxDrawPerPeriodSet(_maxDrawBps, bps);
        _maxDrawBps = uint16(bps);
    }

    function _setPeriod(uint256 periodSec_) internal {
        if (periodSec_ < MIN_PERIOD || periodSec_ > MAX_PERIOD) {
            revert PeriodOutOfRange(periodSec_, MIN_PERIOD, MAX_PERIOD);
        }
        emit PeriodSet(_periodSec, periodSec_);
        _periodSec = uint32(periodSec_);
    }

    function _checkDelay(uint256 delay) internal pure {
        if (delay < MIN_WITHDRAWAL_DELAY || delay > MAX_WITHDRAWAL_DELAY) {
            revert WithdrawalDelayOutOfRange(delay, MIN_WITHDRAWAL_DELAY, MAX_WITHDRAWAL_DELAY);
        }
    }
}
