// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IKeelVault} from "../interfaces/IKeelVault.sol";
import {IHedgeLeg} from "../interfaces/IHedgeLeg.sol";
import {IKeelVaultActions} from "../interfaces/IKeelVaultActions.sol";
import {IKeelLeg} from "../interfaces/IKeelLeg.sol";
import {IRiskGuard} from "../interfaces/IRiskGuard.sol";
import {IInsuranceFund} from "../interfaces/IInsuranceFund.sol";
import {ISpotLeg} from "../interfaces/ISpotLeg.sol";
import {IPerpLeg} from "../interfaces/IPerpLeg.sol";
import {IOptionLeg} from "../interfaces/IOptionLeg.sol";
import {FeeMath} from "../libraries/FeeMath.sol";

/// @title KeelVault
/// @notice ERC-4626 vault over a 6-decimals stablecoin. Net asset value = idle cash + Σ leg.value().
///
/// THREAT MODEL
/// - Inflation / donation: shares carry 6 extra decimals (`_decimalsOffset() = 6`), i.e. 1e6 virtual
///   shares against 1 virtual asset. An attacker who deposits 1 unit and donates X before a victim's
///   deposit of ≥ X loses about half of X to the virtual shares, while the victim's loss is bounded by
///   one share's worth of rounding (< X / 1e6). Deposits that would mint zero shares revert.
/// - Rounding: every conversion rounds in the vault's favour (EIP-4626): shares minted and assets paid
///   round down, shares burned and assets taken round up. Fees round down. Legs mark assets down and
///   liabilities up, so the NAV the share price is built on is never overstated by rounding.
/// - Reentrancy: every external mutating function of the vault is `nonReentrant` (transient-storage
///   guard), including ERC-4626 deposit/mint/withdraw/redeem through the `_deposit`/`_withdraw` hooks.
///   State is written before external calls (checks-effects-interactions); legs are called only by
///   governance-registered addresses.
/// - Keeper trust: the keeper can only move idle cash to registered legs and back (`fundLeg`,
///   `releaseFromLeg`) and pay queued exits at the current price. It cannot move funds elsewhere,
///   change parameters, or mint shares. Funding a leg never uses cash owed to queued exits. Risk
///   bounds on what legs may do arrive with the legs themselves (RiskGuard).
/// - Governance: fee rates have hard maxima (2% management, 20% performance); a leg can only be
///   added empty and removed empty; roles are granted by a default admin whose transfer is two-step
///   with a delay. The guardian can pause deposits and shut the vault down (irreversible), never
///   block withdrawals of idle cash.
/// - Liveness: if the keeper stops, holders can still cancel queued exits and withdraw idle cash; after
///   shutdown anyone can process the queue.
///
/// FEES (see FeeMath for the formulas): a management fee accrues linearly per second on total assets,
/// and a performance fee is charged on the rise of the share price above its high-water mark. Both are
/// minted as shares to the fee recipient at every accrual (every deposit, withdrawal, queue processing,
/// fee-parameter change, or a call to `accrueFees`). Views and previews include the fee shares accrued
/// but not yet minted, so previews equal the executed amounts.
contract KeelVault is
    ERC4626,
    AccessControlDefaultAdminRules,
    ReentrancyGuardTransient,
    IKeelVault,
    IKeelVaultActions
{
    using SafeERC20 for IERC20;
    using Math for uint256;

    bytes32 public constant GOVERNANCE_ROLE = keccak256("GOVERNANCE_ROLE");
    bytes32 public constant KEEPER_ROLE = keccak256("KEEPER_ROLE");
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");

    uint8 private constant DECIMALS_OFFSET = 6;
    uint256 private constant VIRTUAL_SHARES = 10 ** DECIMALS_OFFSET;
    /// @dev sharePriceWad = (A + 1) * PRICE_SCALE / (S + VIRTUAL_SHARES): 1e18 means one whole share
    ///      (10**(assetDecimals + 6) units) is worth one whole asset (10**assetDecimals units).
    uint256 private constant PRICE_SCALE = 10 ** (18 + uint256(DECIMALS_OFFSET));

    uint256 public constant MAX_MANAGEMENT_FEE_BPS = 200;
    uint256 public constant MAX_PERFORMANCE_FEE_BPS = 2_000;
    uint256 public constant MAX_LEGS = 8;
    uint256 public constant MAX_DEPOSIT_CAP = type(uint96).max;
    uint256 private constant SPOT = 0;
    uint256 private constant PERP = 8;
    uint256 private constant OPTION = 16;

    // One slot, read on every deposit and withdrawal and written once per fee accrual.
    uint16 private _managementFeeBps;
    uint16 private _performanceFeeBps;
    uint40 private _lastFeeAccrual;
    bool private _depositsPaused;
    bool private _shutdown;
    uint128 private _highWaterMarkWad;
    // The strategy legs, as 1 + their position in `_legs` (0: not set), 8 bits each: spot, perp, option
    // (`SPOT`, `PERP`, `OPTION` are the bit offsets). Kept in this slot because every keeper action
    // reads it anyway (`_shutdown`); the legs' addresses are the `_legs` entries that `bookState` reads
    // in the same action.
    uint24 private _strategyIndices;
    // One slot: who gets fee shares, and the cap on total assets.
    address private _feeRecipient;
    uint96 private _depositCap;

    IHedgeLeg[] private _legs;
    mapping(address leg => uint256 indexPlusOne) private _legIndex;

    mapping(uint256 requestId => RedeemRequest) private _requests;
    uint256 private _queueHead;
    uint256 private _queueTail;
    // One slot, read by every `liquidAssets()`: shares waiting in the queue, assets owed to claimants.
    uint128 private _queuedShares;
    uint128 private _totalClaimable;

    // keeper actions (IKeelVaultActions). One slot, read and written once by every guarded action:
    // the guard, the action nonce and the time of the last guarded action.
    IRiskGuard private _riskGuard;
    uint48 private _actionNonce;
    uint40 private _lastActionAt;
    IInsuranceFund private _insuranceFund;
    uint256 private _navAtReport;
    int256 private _flowsSinceReport;
    uint256 private _unreportedLoss;

    struct FeeQuote {
        uint256 managementFeeAssets;
        uint256 performanceFeeAssets;
        uint256 feeShares;
        uint256 highWaterMarkWad;
    }

    /// @param asset_ The stablecoin (6 decimals expected; any decimals work).
    /// @param admin Default admin (role management); transfers are two-step with `adminDelay`.
    /// @param feeRecipient_ Receives fee shares.
    /// @param depositCap_ Cap on total assets for deposits, ≤ MAX_DEPOSIT_CAP.
    constructor(
        IERC20 asset_,
        string memory name_,
        string memory symbol_,
        address admin,
        uint48 adminDelay,
        address governance,
        address keeper,
        address guardian,
        address feeRecipient_,
        uint256 depositCap_
    ) ERC20(name_, symbol_) ERC4626(asset_) AccessControlDefaultAdminRules(adminDelay, admin) {
        if (address(asset_) == address(0)) revert ZeroAddress("asset");
        if (governance == address(0)) revert ZeroAddress("governance");
        if (keeper == address(0)) revert ZeroAddress("keeper");
        if (guardian == address(0)) revert ZeroAddress("guardian");
        if (feeRecipient_ == address(0)) revert ZeroAddress("feeRecipient");
        if (depositCap_ > MAX_DEPOSIT_CAP) revert DepositCapTooHigh(depositCap_, MAX_DEPOSIT_CAP);
        _grantRole(GOVERNANCE_ROLE, governance);
        _grantRole(KEEPER_ROLE, keeper);
        _grantRole(GUARDIAN_ROLE, guardian);
        _feeRecipient = feeRecipient_;
        _lastFeeAccrual = uint40(block.timestamp);
        _depositCap = uint96(depositCap_);
        _highWaterMarkWad = SafeCast.toUint128(_priceWad(0, 0));
        emit FeeRecipientSet(address(0), feeRecipient_);
        emit DepositCapSet(0, depositCap_);
    }

    // =================================================================== ERC-4626 overrides (internal)

    function _decimalsOffset() internal pure override returns (uint8) {
        return DECIMALS_OFFSET;
    }

    /// @inheritdoc IERC4626
    /// @dev idle (minus assets owed to processed exits) + Σ leg.value().
    function totalAssets() public view override(ERC4626, IERC4626) returns (uint256 assets) {
        assets = _idle();
        uint256 n = _legs.length;
        for (uint256 i; i < n; ++i) {
            assets += _legs[i].value();
        }
    }

    function _convertToShares(uint256 assets, Math.Rounding rounding) internal view override returns (uint256) {
        (uint256 a, uint256 s) = _navState();
        return assets.mulDiv(s + VIRTUAL_SHARES, a + 1, rounding);
    }

    function _convertToAssets(uint256 shares, Math.Rounding rounding) internal view override returns (uint256) {
        (uint256 a, uint256 s) = _navState();
        return shares.mulDiv(a + 1, s + VIRTUAL_SHARES, rounding);
    }

    /// @dev Zero while paused or shut down; otherwise what keeps total assets under the cap.
    function maxDeposit(address) public view override(ERC4626, IERC4626) returns (uint256) {
        if (_depositsPaused || _shutdown) return 0;
        uint256 cap = _depositCap;
        uint256 assets = totalAssets();
        return cap > assets ? cap - assets : 0;
    }

    function maxMint(address receiver) public view override(ERC4626, IERC4626) returns (uint256) {
        uint256 assets = maxDeposit(receiver);
        return assets == 0 ? 0 : _convertToShares(assets, Math.Rounding.Floor);
    }

    /// @dev Never more than the liquid idle cash can pay now.
    function maxWithdraw(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        uint256 owned = _convertToAssets(balanceOf(owner), Math.Rounding.Floor);
        uint256 liquid = liquidAssets();
        return owned < liquid ? owned : liquid;
    }

    /// @dev Never more shares than the liquid idle cash can pay now.
    function maxRedeem(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        uint256 owned = balanceOf(owner);
        if (owned == 0) return 0;
        uint256 payable_ = _convertToShares(liquidAssets(), Math.Rounding.Floor);
        return owned < payable_ ? owned : payable_;
    }

    function _deposit(address caller, address receiver, uint256 assets, uint256 shares)
        internal
        override
        nonReentrant
    {
        _beginFlow(receiver, assets, shares);
        _flowsSinceReport += SafeCast.toInt256(assets);
        super._deposit(caller, receiver, assets, shares);
    }

    function _withdraw(address caller, address receiver, address owner, uint256 assets, uint256 shares)
        internal
        override
        nonReentrant
    {
        _beginFlow(receiver, assets, shares);
        _flowsSinceReport -= SafeCast.toInt256(assets);
        super._withdraw(caller, receiver, owner, assets, shares);
    }

    /// @dev The checks and fee accrual before a deposit or a withdrawal.
    function _beginFlow(address receiver, uint256 assets, uint256 shares) private {
        if (receiver == address(0)) revert ZeroAddress("receiver");
        if (assets == 0 || shares == 0) revert ZeroSharesOrAssets(assets, shares);
        _accrueFees();
    }

    // =================================================================== views

    /// @inheritdoc IKeelVault
    function idleAssets() external view returns (uint256) {
        return _idle();
    }

    /// @inheritdoc IKeelVault
    function liquidAssets() public view returns (uint256) {
        uint256 idle = _idle();
        uint256 queued = _queuedShares;
        if (queued == 0) return idle;
        uint256 owed = _convertToAssets(queued, Math.Rounding.Ceil);
        return idle > owed ? idle - owed : 0;
    }

    /// @inheritdoc IKeelVault
    function sharePriceWad() external view returns (uint256) {
        (uint256 a, uint256 s) = _navState();
        return _priceWad(a, s);
    }

    /// @inheritdoc IKeelVault
    function highWaterMarkWad() external view returns (uint256) {
        return _highWaterMarkWad;
    }

    /// @inheritdoc IKeelVault
    function pendingFeeShares() external view returns (uint256) {
        return _quoteFees(totalAssets(), totalSupply()).feeShares;
    }

    function managementFeeBps() external view returns (uint256) {
        return _managementFeeBps;
    }

    function performanceFeeBps() external view returns (uint256) {
        return _performanceFeeBps;
    }

    function feeRecipient() external view returns (address) {
        return _feeRecipient;
    }

    function lastFeeAccrual() external view returns (uint256) {
        return _lastFeeAccrual;
    }

    function depositCap() external view returns (uint256) {
        return _depositCap;
    }

    function depositsPaused() external view returns (bool) {
        return _depositsPaused;
    }

    function isShutdown() external view returns (bool) {
        return _shutdown;
    }

    function legs() external view returns (IHedgeLeg[] memory) {
        return _legs;
    }

    function isLeg(address leg) public view returns (bool) {
        return _legIndex[leg] != 0;
    }

    function queuedShares() external view returns (uint256) {
        return _queuedShares;
    }

    function totalClaimable() external view returns (uint256) {
        return _totalClaimable;
    }

    function queueBounds() external view returns (uint256 head, uint256 tail) {
        return (_queueHead, _queueTail);
    }

    function redeemRequest(uint256 requestId) external view returns (RedeemRequest memory) {
        return _requests[requestId];
    }

    // =================================================================== fees

    /// @inheritdoc IKeelVault
    function accrueFees() external nonReentrant {
        _accrueFees();
    }

    // =================================================================== queued exits

    /// @inheritdoc IKeelVault
    function requestRedeem(uint256 shares, address receiver) external nonReentrant returns (uint256 requestId) {
        if (shares == 0) revert ZeroAmount("shares");
        if (receiver == address(0)) revert ZeroAddress("receiver");
        uint256 balance = balanceOf(msg.sender);
        if (shares > balance) revert InsufficientShares(msg.sender, shares, balance);
        requestId = _queueTail++;
        _requests[requestId] = RedeemRequest({owner: msg.sender, receiver: receiver, shares: shares, claimable: 0});
        _queuedShares += SafeCast.toUint128(shares);
        _transfer(msg.sender, address(this), shares);
        emit RedeemRequested(requestId, msg.sender, receiver, shares);
    }

    /// @inheritdoc IKeelVault
    function cancelRedeem(uint256 requestId) external nonReentrant returns (uint256 shares) {
        RedeemRequest storage r = _requests[requestId];
        address owner = r.owner;
        if (owner == address(0)) revert UnknownRequest(requestId);
        if (msg.sender != owner) revert NotRequestOwner(requestId, msg.sender, owner);
        shares = r.shares;
        if (shares == 0) revert UnknownRequest(requestId);
        r.shares = 0;
        _queuedShares -= SafeCast.toUint128(shares);
        _transfer(address(this), owner, shares);
        emit RedeemCancelled(requestId, owner, shares);
    }

    /// @inheritdoc IKeelVault
    function claimRedeem(uint256 requestId) external nonReentrant returns (uint256 assets) {
        RedeemRequest storage r = _requests[requestId];
        assets = r.claimable;
        if (assets == 0) revert NothingToClaim(requestId);
        address receiver = r.receiver;
        r.claimable = 0;
        _totalClaimable -= SafeCast.toUint128(assets);
        IERC20(asset()).safeTransfer(receiver, assets);
        emit RedeemClaimed(requestId, receiver, assets);
    }

    /// @inheritdoc IKeelVault
    function processRedemptions(uint256 maxCount)
        external
        nonReentrant
        returns (uint256 processed, uint256 assetsPaid)
    {
        if (!_shutdown) _checkRole(KEEPER_ROLE);
        if (maxCount == 0) revert InvalidMaxCount(maxCount);
        _accrueFees();

        // Price is fixed for the whole batch: each payment removes assets and shares in proportion
        // (rounded for the vault), so later requests are never paid at a worse price.
        uint256 a = totalAssets();
        uint256 s = totalSupply();
        uint256 free = _idle();
        uint256 id = _queueHead;
        uint256 tail = _queueTail;
        uint256 sharesBurned;
        while (processed < maxCount && id < tail) {
            RedeemRequest storage r = _requests[id];
            uint256 shares = r.shares;
            if (shares == 0) {
                ++id;
                ++processed;
                continue;
            }
            uint256 assets = shares.mulDiv(a + 1, s + VIRTUAL_SHARES, Math.Rounding.Floor);
            if (assets > free) {
                // Partial fill with what is free; the rest stays at the head of the queue.
                shares = free.mulDiv(s + VIRTUAL_SHARES, a + 1, Math.Rounding.Floor);
                if (shares == 0) break;
                assets = shares.mulDiv(a + 1, s + VIRTUAL_SHARES, Math.Rounding.Floor);
            }
            uint256 remaining = r.shares - shares;
            r.shares = remaining;
            r.claimable += assets;
            a -= assets;
            s -= shares;
            free -= assets;
            sharesBurned += shares;
            assetsPaid += assets;
            ++processed;
            emit RedeemProcessed(id, shares, assets, remaining);
            if (remaining != 0) break;
            ++id;
        }
        _queueHead = id;
        if (sharesBurned != 0) {
            _queuedShares -= SafeCast.toUint128(sharesBurned);
            _flowsSinceReport -= SafeCast.toInt256(assetsPaid);
            _totalClaimable += SafeCast.toUint128(assetsPaid);
            _burn(address(this), sharesBurned);
        }
    }

    // =================================================================== keeper: legs

    /// @inheritdoc IKeelVault
    function fundLeg(address leg, uint256 assets) external nonReentrant onlyRole(KEEPER_ROLE) {
        if (_shutdown) revert VaultShutdown();
        if (!isLeg(leg)) revert LegNotFound(leg);
        if (assets == 0) revert ZeroAmount("assets");
        _fund(leg, assets);
        IHedgeLeg(leg).fund(assets);
    }

    /// @dev Moves `assets` of liquid idle cash to `leg` (a registered leg). `fundLeg` then notifies the
    ///      leg with `fund`; inside `rebalance` and `tradeOptions` the leg action that spends the cash
    ///      follows at once and is the notice (the leg checks its own balance), so no `fund` call.
    function _fund(address leg, uint256 assets) private {
        uint256 available = liquidAssets();
        if (assets > available) revert InsufficientIdle(assets, available);
        emit LegFunded(leg, assets);
        IERC20(asset()).safeTransfer(leg, assets);
    }

    /// @inheritdoc IKeelVault
    function releaseFromLeg(address leg, uint256 assets)
        external
        nonReentrant
        onlyRole(KEEPER_ROLE)
        returns (uint256 released)
    {
        if (!isLeg(leg)) revert LegNotFound(leg);
        if (assets == 0) revert ZeroAmount("assets");
        IERC20 token = IERC20(asset());
        uint256 before = token.balanceOf(address(this));
        IHedgeLeg(leg).release(assets);
        released = token.balanceOf(address(this)) - before;
        emit LegReleased(leg, assets, released);
    }

    // =================================================================== governance

    function setDepositCap(uint256 cap) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        if (cap > MAX_DEPOSIT_CAP) revert DepositCapTooHigh(cap, MAX_DEPOSIT_CAP);
        emit DepositCapSet(_depositCap, cap);
        _depositCap = uint96(cap);
    }

    function setManagementFee(uint256 feeBps) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        if (feeBps > MAX_MANAGEMENT_FEE_BPS) revert ManagementFeeTooHigh(feeBps, MAX_MANAGEMENT_FEE_BPS);
        _accrueFees();
        _lastFeeAccrual = uint40(block.timestamp);
        emit ManagementFeeSet(_managementFeeBps, feeBps);
        _managementFeeBps = uint16(feeBps);
    }

    function setPerformanceFee(uint256 feeBps) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        if (feeBps > MAX_PERFORMANCE_FEE_BPS) revert PerformanceFeeTooHigh(feeBps, MAX_PERFORMANCE_FEE_BPS);
        _accrueFees();
        _lastFeeAccrual = uint40(block.timestamp);
        if (_performanceFeeBps == 0) {
            // Gains made while no performance fee was charged are not charged retroactively.
            uint256 price = _priceWad(totalAssets(), totalSupply());
            if (price > _highWaterMarkWad) _highWaterMarkWad = SafeCast.toUint128(price);
        }
        emit PerformanceFeeSet(_performanceFeeBps, feeBps);
        _performanceFeeBps = uint16(feeBps);
    }

    function setFeeRecipient(address recipient) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        if (recipient == address(0)) revert ZeroAddress("feeRecipient");
        _accrueFees();
        emit FeeRecipientSet(_feeRecipient, recipient);
        _feeRecipient = recipient;
    }

    function addLeg(address leg) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        if (_shutdown) revert VaultShutdown();
        if (leg == address(0)) revert ZeroAddress("leg");
        if (isLeg(leg)) revert LegAlreadyAdded(leg);
        uint256 n = _legs.length;
        if (n >= MAX_LEGS) revert TooManyLegs(n + 1, MAX_LEGS);
        address legVault = IHedgeLeg(leg).vault();
        address legAsset = IHedgeLeg(leg).asset();
        if (legVault != address(this) || legAsset != asset()) revert LegMismatch(leg, legVault, legAsset);
        uint256 value = IHedgeLeg(leg).value();
        if (value != 0) revert LegNotEmpty(leg, value);
        _legs.push(IHedgeLeg(leg));
        _legIndex[leg] = n + 1;
        emit LegAdded(leg);
    }

    function removeLeg(address leg) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        uint256 indexPlusOne = _legIndex[leg];
        if (indexPlusOne == 0) revert LegNotFound(leg);
        uint256 value = IHedgeLeg(leg).value();
        if (value != 0) revert LegNotEmpty(leg, value);
        uint256 last = _legs.length - 1;
        if (indexPlusOne - 1 != last) {
            IHedgeLeg moved = _legs[last];
            _legs[indexPlusOne - 1] = moved;
            _legIndex[address(moved)] = indexPlusOne;
        }
        _legs.pop();
        delete _legIndex[leg];
        // a removed strategy leg is unset; the moved one keeps its role at its new position
        uint256 indices = _strategyIndices;
        uint256 reindexed;
        for (uint256 role; role < 24; role += 8) {
            uint256 index = (indices >> role) & 0xff;
            if (index == indexPlusOne) index = 0;
            else if (index == last + 1) index = indexPlusOne;
            reindexed |= index << role;
        }
        _strategyIndices = uint24(reindexed);
        emit LegRemoved(leg);
    }

    function unpauseDeposits() external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        if (_shutdown) revert VaultShutdown();
        if (!_depositsPaused) revert PauseUnchanged(false);
        _depositsPaused = false;
        emit DepositsUnpaused(msg.sender);
    }

    // =================================================================== guardian

    function pauseDeposits() external nonReentrant onlyRole(GUARDIAN_ROLE) {
        if (_depositsPaused) revert PauseUnchanged(true);
        _depositsPaused = true;
        emit DepositsPaused(msg.sender);
    }

    function shutdown() external nonReentrant onlyRole(GUARDIAN_ROLE) {
        if (_shutdown) revert VaultShutdown();
        _shutdown = true;
        emit Shutdown(msg.sender);
    }

    // =================================================================== internals

    function _idle() internal view returns (uint256) {
        uint256 balance = IERC20(asset()).balanceOf(address(this));
        uint256 owed = _totalClaimable;
        return balance > owed ? balance - owed : 0;
    }

    /// @dev Price of one whole share (1e18 = 1:1) for total assets `a` and supply `s`, rounded down.
    function _priceWad(uint256 a, uint256 s) internal pure returns (uint256) {
        return FeeMath.sharePriceWadDown(a + 1, s + VIRTUAL_SHARES, PRICE_SCALE);
    }

    /// @dev Total assets and the total supply including fee shares accrued but not minted yet.
    function _navState() internal view returns (uint256 assets, uint256 supply) {
        assets = totalAssets();
        supply = totalSupply();
        supply += _quoteFees(assets, supply).feeShares;
    }

    /// @dev The fees an accrual now would charge, for total assets `a` and real supply `s`.
    function _quoteFees(uint256 a, uint256 s) internal view returns (FeeQuote memory q) {
        q.highWaterMarkWad = _highWaterMarkWad;
        uint256 mgmtBps = _managementFeeBps;
        uint256 perfBps = _performanceFeeBps;
        if ((mgmtBps | perfBps) == 0 || s == 0) return q;
        uint256 vs = s + VIRTUAL_SHARES;
        uint256 va = a + 1;
        uint256 m = FeeMath.managementFeeAssetsDown(a, mgmtBps, block.timestamp - _lastFeeAccrual);
        if (m > a) m = a;
        uint256 price = FeeMath.sharePriceWadDown(va - m, vs, PRICE_SCALE);
        uint256 f = FeeMath.performanceFeeAssetsDown(price, q.highWaterMarkWad, vs, perfBps, PRICE_SCALE);
        q.managementFeeAssets = m;
        q.performanceFeeAssets = f;
        q.feeShares = FeeMath.feeSharesDown(m + f, va, vs);
        uint256 after_ = FeeMath.sharePriceWadDown(va, vs + q.feeShares, PRICE_SCALE);
        if (after_ > q.highWaterMarkWad) q.highWaterMarkWad = after_;
    }

    // =================================================================== keeper actions

    /// @inheritdoc IKeelVaultActions
    function rebalance(RebalanceParams calldata p) external nonReentrant onlyRole(KEEPER_ROLE) {
        (uint256 nonce, IRiskGuard guard, IRiskGuard.BookState memory before, IRiskGuard.ActionInfo memory info) =
            _beginAction(p.expectedNonce, p.deadline, p.allowImprovement);

        IKeelLeg.ActionReport memory perpR;
        IKeelLeg.ActionReport memory spotR;
        IPerpLeg perp = IPerpLeg(_strategyLeg(PERP));
        if ((p.perpMarginDeltaAssets != 0 || p.perpSizeDeltaWad != 0)) _requireLeg(address(perp), "perpLeg");
        if (p.perpMarginDeltaAssets > 0) {
            uint256 m = uint256(p.perpMarginDeltaAssets);
            _fund(address(perp), m);
            perp.depositMargin(m);
        }
        if (p.perpSizeDeltaWad != 0) {
            perpR = perp.trade(p.perpSizeDeltaWad, p.perpLimitPriceWad, p.deadline);
        }
        if (p.spotAmountIn != 0) {
            ISpotLeg spot = ISpotLeg(address(_requireLeg(_strategyLeg(SPOT), "spotLeg")));
            if (p.spotBuyEth) _fund(address(spot), p.spotAmountIn);
            spotR = spot.swap(p.spotBuyEth, p.spotAmountIn, p.spotMinOut, p.deadline);
            if (!p.spotBuyEth) spot.release(type(uint256).max); // sale proceeds come home
        }
        if (p.perpMarginDeltaAssets < 0) {
            uint256 m = uint256(-p.perpMarginDeltaAssets);
            perp.withdrawMargin(m);
            perp.release(m);
        }

        IRiskGuard.BookState memory afterState = bookState();
        info.notionalAssets = perpR.notionalAssets + spotR.notionalAssets;
        _setTrade(info, 0, spotR); // each trade is checked at its own price
        _setTrade(info, 1, perpR);
        guard.checkAction(before, afterState, info);
        emit Rebalanced(nonce, info.notionalAssets, afterState.netDeltaWad, afterState.marginRatioWad);
    }

    /// @inheritdoc IKeelVaultActions
    function tradeOptions(OptionTradeParams calldata p) external nonReentrant onlyRole(KEEPER_ROLE) {
        (uint256 nonce, IRiskGuard guard, IRiskGuard.BookState memory before, IRiskGuard.ActionInfo memory info) =
            _beginAction(p.expectedNonce, p.deadline, p.allowImprovement);
        IOptionLeg leg = _requireOptionLeg();
        if (p.fundAssets != 0) _fund(address(leg), p.fundAssets);
        IKeelLeg.ActionReport memory r = leg.trade(p.seriesId, p.isBuy, p.sizeWad, p.limitAssets, p.deadline);
        leg.release(type(uint256).max);
        IRiskGuard.BookState memory afterState = bookState();
        info.notionalAssets = r.notionalAssets;
        _setTrade(info, 0, r);
        guard.checkAction(before, afterState, info);
        emit OptionsTraded(nonce, p.seriesId, p.isBuy, p.sizeWad, afterState.netDeltaWad);
    }

    /// @inheritdoc IKeelVaultActions
    function settleOptions(uint256 expectedNonce, uint256 seriesId, uint80 roundIdHint)
        external
        nonReentrant
        onlyRole(KEEPER_ROLE)
        returns (uint256 paidAssets)
    {
        uint256 nonce = _useNonce(expectedNonce);
        IOptionLeg leg = _requireOptionLeg();
        paidAssets = leg.settle(seriesId, roundIdHint);
        leg.release(type(uint256).max);
        emit OptionsSettled(nonce, seriesId, paidAssets);
    }

    /// @inheritdoc IKeelVaultActions
    function report(uint256 expectedNonce)
        external
        nonReentrant
        onlyRole(KEEPER_ROLE)
        returns (int256 pnlAssets, uint256 skimmedAssets)
    {
        uint256 nonce = _useNonce(expectedNonce);
        _accrueFees();
        uint256 nav = totalAssets();
        pnlAssets = SafeCast.toInt256(nav) - SafeCast.toInt256(_navAtReport) - _flowsSinceReport;
        IInsuranceFund fund = _insuranceFund;
        if (pnlAssets > 0 && address(fund) != address(0)) {
            skimmedAssets = fund.skimAmountAt(uint256(pnlAssets), nav);
            uint256 liquid = liquidAssets();
            if (skimmedAssets > liquid) skimmedAssets = liquid;
            if (skimmedAssets != 0) {
                IERC20(asset()).forceApprove(address(fund), skimmedAssets);
                fund.deposit(skimmedAssets);
            }
        } else if (pnlAssets < 0) {
            _unreportedLoss += uint256(-pnlAssets);
        }
        _navAtReport = nav - skimmedAssets;
        _flowsSinceReport = 0;
        emit Reported(nonce, pnlAssets, skimmedAssets, nav - skimmedAssets);
    }

    /// @inheritdoc IKeelVaultActions
    function coverLoss(uint256 expectedNonce, bytes32 reason)
        external
        nonReentrant
        onlyRole(KEEPER_ROLE)
        returns (uint256 paidAssets)
    {
        uint256 nonce = _useNonce(expectedNonce);
        IInsuranceFund fund = _insuranceFund;
        if (address(fund) == address(0)) revert ModuleNotSet("insuranceFund");
        uint256 loss = _unreportedLoss;
        if (loss == 0) revert NoLossToCover();
        _unreportedLoss = 0;
        uint256 idleBefore = _idle();
        fund.cover(loss, reason);
        paidAssets = _idle() - idleBefore; // what actually arrived
        _flowsSinceReport += SafeCast.toInt256(paidAssets); // an insurance payment is not PnL
        emit LossCovered(nonce, reason, loss, paidAssets);
        if (paidAssets < loss) emit LossSocialised(reason, loss - paidAssets);
    }

    /// @inheritdoc IKeelVaultActions
    function setRiskModules(IRiskGuard guard, IInsuranceFund fund) external nonReentrant onlyRole(GOVERNANCE_ROLE) {
        if (address(fund) != address(0) && (fund.vault() != address(this) || fund.asset() != asset())) {
            revert ModuleMismatch(address(fund));
        }
        _riskGuard = guard;
        _insuranceFund = fund;
        emit RiskModulesSet(address(guard), address(fund));
    }

    /// @inheritdoc IKeelVaultActions
    function setStrategyLegs(ISpotLeg spot, IPerpLeg perp, IOptionLeg option)
        external
        nonReentrant
        onlyRole(GOVERNANCE_ROLE)
    {
        _checkLeg(address(spot));
        _checkLeg(address(perp));
        _checkLeg(address(option));
        // MAX_LEGS < 256: the casts are exact
        _strategyIndices = uint24(
            _legIndex[address(spot)] << SPOT | _legIndex[address(perp)] << PERP | _legIndex[address(option)] << OPTION
        );
        emit StrategyLegsSet(address(spot), address(perp), address(option));
    }

    /// @inheritdoc IKeelVaultActions
    function bookState() public view returns (IRiskGuard.BookState memory state) {
        state.marginRatioWad = type(uint256).max;
        uint256 nav = _idle();
        uint256 n = _legs.length;
        for (uint256 i; i < n; ++i) {
            (uint256 v, int256 d, uint256 g, uint256 m) = _legs[i].book();
            nav += v;
            state.netDeltaWad += d;
            state.grossExposureAssets += g;
            if (m < state.marginRatioWad) state.marginRatioWad = m;
        }
        state.navAssets = nav;
    }

    /// @inheritdoc IKeelVaultActions
    function rebalanceTrigger() external view returns (bool needed, uint8 reason) {
        ISpotLeg spot = ISpotLeg(_strategyLeg(SPOT));
        if (address(spot) != address(0)) {
            (, bool fresh) = spot.oraclePriceWad();
            if (!fresh) return (false, uint8(IRiskGuard.Reason.OracleFailure));
        }
        if (address(_riskGuard) != address(0)) {
            IRiskGuard.Reason r;
            (needed, r) = _riskGuard.trigger(bookState());
            if (needed) return (true, uint8(r));
        }
        if (_queueHead < _queueTail) return (true, uint8(IRiskGuard.Reason.RedemptionsWaiting));
        return (false, uint8(IRiskGuard.Reason.None));
    }

    function actionNonce() external view returns (uint256) {
        return _actionNonce;
    }

    function lastActionAt() external view returns (uint256) {
        return _lastActionAt;
    }

    function riskGuard() external view returns (IRiskGuard) {
        return _riskGuard;
    }

    function insuranceFund() external view returns (IInsuranceFund) {
        return _insuranceFund;
    }

    function spotLeg() external view returns (ISpotLeg) {
        return ISpotLeg(_strategyLeg(SPOT));
    }

    function perpLeg() external view returns (IPerpLeg) {
        return IPerpLeg(_strategyLeg(PERP));
    }

    function optionLeg() external view returns (IOptionLeg) {
        return IOptionLeg(_strategyLeg(OPTION));
    }

    function unreportedLoss() external view returns (uint256) {
        return _unreportedLoss;
    }

    function reportBase() external view returns (uint256 navAtReport, int256 flowsSinceReport) {
        return (_navAtReport, _flowsSinceReport);
    }

    /// @dev The common start of a guarded keeper action: not shut down, before the deadline, nonce
    ///         consumed, guard set; the previous action's time, and the book before the action when
    ///         the keeper asked for RiskGuard's exemption (else the no-exemption book, see
    ///         IKeelVaultActions.rebalance).
    function _beginAction(uint256 expectedNonce, uint256 deadline, bool allowImprovement)
        private
        returns (
            uint256 nonce,
            IRiskGuard guard,
            IRiskGuard.BookState memory before,
            IRiskGuard.ActionInfo memory info
        )
    {
        if (_shutdown) revert VaultShutdown();
        if (block.timestamp > deadline) revert ActionDeadlineExpired(deadline, block.timestamp);
        nonce = _useNonce(expectedNonce);
        guard = _riskGuard;
        if (address(guard) == address(0)) revert ModuleNotSet("riskGuard");
        if (allowImprovement) before = bookState();
        else before.marginRatioWad = type(uint256).max; // zero delta and exposure: no exemption
        info.lastActionAt = _lastActionAt;
        _lastActionAt = uint40(block.timestamp);
    }

    /// @dev Checks and consumes the action nonce; returns the nonce used.
    function _useNonce(uint256 expected) private returns (uint256 nonce) {
        nonce = _actionNonce;
        if (expected != nonce) revert StaleNonce(expected, nonce);
        _actionNonce = SafeCast.toUint48(nonce + 1);
    }

    function _checkLeg(address leg) private view {
        if (leg != address(0) && !isLeg(leg)) revert NotARegisteredLeg(leg);
    }

    function _requireOptionLeg() private view returns (IOptionLeg) {
        return IOptionLeg(address(_requireLeg(_strategyLeg(OPTION), "optionLeg")));
    }

    /// @dev The strategy leg in `role` (a bit offset in `_strategyIndices`), or the zero address.
    function _strategyLeg(uint256 role) private view returns (address) {
        uint256 indexPlusOne = (_strategyIndices >> role) & 0xff;
        return indexPlusOne == 0 ? address(0) : address(_legs[indexPlusOne - 1]);
    }

    function _requireLeg(address leg, string memory name) private pure returns (IPerpLeg) {
        if (leg == address(0)) revert ModuleNotSet(name);
        return IPerpLeg(leg);
    }

    function _setTrade(IRiskGuard.ActionInfo memory info, uint256 i, IKeelLeg.ActionReport memory r)
        private
        pure
    {
        info.trades[i] = IRiskGuard.Trade({execPriceWad: r.execPriceWad, oraclePriceWad: r.oraclePriceWad, isBuy: r.isBuy});
    }

    /// @dev Mints the accrued fee shares and moves the high-water mark. With no shares outstanding
    ///      nobody can be charged: the clock restarts and the mark resets to the current price, so
    ///      the next holders pay only on gains they make.
    function _accrueFees() internal {
        if ((_managementFeeBps | _performanceFeeBps) == 0) return;
        uint256 a = totalAssets();
        uint256 s = totalSupply();
        if (s == 0) {
            _lastFeeAccrual = uint40(block.timestamp);
            uint256 price = _priceWad(a, 0);
            if (price != _highWaterMarkWad) _highWaterMarkWad = SafeCast.toUint128(price);
            emit FeesAccrued(0, 0, 0, price);
            return;
        }
        FeeQuote memory q = _quoteFees(a, s);
        _lastFeeAccrual = uint40(block.timestamp);
        _highWaterMarkWad = SafeCast.toUint128(q.highWaterMarkWad);
        if (q.feeShares != 0) _mint(_feeRecipient, q.feeShares);
        emit FeesAccrued(q.managementFeeAssets, q.performanceFeeAssets, q.feeShares, q.highWaterMarkWad);
    }
}
