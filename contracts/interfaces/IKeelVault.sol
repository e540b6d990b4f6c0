// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {IHedgeLeg} from "./IHedgeLeg.sol";

/// @title IKeelVault
/// @notice The Keel vault: an ERC-4626 vault over a stablecoin whose assets are idle cash plus the
///         marked value of its hedge legs, with queued exits for when cash is deployed, bounded fees
///         paid in shares, and role-separated governance, keeper and guardian powers.
/// @dev Roles: DEFAULT_ADMIN_ROLE (grants/revokes roles; two-step transfer with a delay),
///      GOVERNANCE_ROLE (parameters, legs), KEEPER_ROLE (strategy actions, redemption processing),
///      GUARDIAN_ROLE (pause, emergency shutdown).
interface IKeelVault is IERC4626 {
    /// @notice One queued exit. `shares` are escrowed in the vault until processed or cancelled;
    ///         `claimable` is what processing has already set aside for `receiver`.
    struct RedeemRequest {
        address owner;
        address receiver;
        uint256 shares;
        uint256 claimable;
    }

    // ------------------------------------------------------------------ errors
    /// @notice An amount argument was zero where a positive value is required.
    error ZeroAmount(string field);
    /// @notice An address argument was the zero address.
    error ZeroAddress(string field);
    /// @notice A deposit or mint would give zero shares or take zero assets (dust after rounding).
    error ZeroSharesOrAssets(uint256 assets, uint256 shares);
    /// @notice Management fee above the hard maximum.
    error ManagementFeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    /// @notice Performance fee above the hard maximum.
    error PerformanceFeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    /// @notice Deposit cap above the largest representable cap.
    error DepositCapTooHigh(uint256 cap, uint256 maxCap);
    /// @notice The vault is shut down; the action would open or add exposure.
    error VaultShutdown();
    /// @notice Pausing an already paused vault, or unpausing a running one.
    error PauseUnchanged(bool paused);
    /// @notice The leg is not usable: wrong vault or asset.
    error LegMismatch(address leg, address legVault, address legAsset);
    /// @notice The leg is already registered.
    error LegAlreadyAdded(address leg);
    /// @notice The leg is not registered.
    error LegNotFound(address leg);
    /// @notice Too many legs; `totalAssets()` would cost too much gas.
    error TooManyLegs(uint256 count, uint256 maxCount);
    /// @notice A leg can only be removed once its position is fully unwound.
    error LegNotEmpty(address leg, uint256 value);
    /// @notice Not enough free idle assets for the transfer.
    error InsufficientIdle(uint256 requested, uint256 available);
    /// @notice Escrowing more shares than the caller holds.
    error InsufficientShares(address owner, uint256 shares, uint256 balance);
    /// @notice The redemption request does not exist or has nothing left for this action.
    error UnknownRequest(uint256 requestId);
    /// @notice Only the request's owner may cancel it.
    error NotRequestOwner(uint256 requestId, address caller, address owner);
    /// @notice The request has no claimable assets.
    error NothingToClaim(uint256 requestId);
    /// @notice `processRedemptions` needs a positive count.
    error InvalidMaxCount(uint256 maxCount);

    // ------------------------------------------------------------------ events
    event DepositCapSet(uint256 oldCap, uint256 newCap);
    event ManagementFeeSet(uint256 oldFeeBps, uint256 newFeeBps);
    event PerformanceFeeSet(uint256 oldFeeBps, uint256 newFeeBps);
    event FeeRecipientSet(address indexed oldRecipient, address indexed newRecipient);
    /// @notice Fees charged since the last accrual, and the shares minted for them.
    event FeesAccrued(
        uint256 managementFeeAssets, uint256 performanceFeeAssets, uint256 feeShares, uint256 highWaterMarkWad
    );
    event DepositsPaused(address indexed by);
    event DepositsUnpaused(address indexed by);
    event Shutdown(address indexed by);
    event LegAdded(address indexed leg);
    event LegRemoved(address indexed leg);
    event LegFunded(address indexed leg, uint256 assets);
    event LegReleased(address indexed leg, uint256 requested, uint256 released);
    event RedeemRequested(uint256 indexed requestId, address indexed owner, address indexed receiver, uint256 shares);
    /// @notice Part or all of a request was paid at the current price; `remainingShares` stay queued.
    event RedeemProcessed(uint256 indexed requestId, uint256 shares, uint256 assets, uint256 remainingShares);
    event RedeemClaimed(uint256 indexed requestId, address indexed receiver, uint256 assets);
    event RedeemCancelled(uint256 indexed requestId, address indexed owner, uint256 shares);

    // ------------------------------------------------------------------ views
    /// @notice Assets held by the vault itself, minus assets already set aside for processed requests.
    function idleAssets() external view returns (uint256);

    /// @notice Idle assets that direct withdrawals may take now: idle minus what the queued requests
    ///         would need at the current price (queued exits are paid first, FIFO).
    function liquidAssets() external view returns (uint256);

    /// @notice Price of one whole share in whole assets, 1e18 = 1:1, including fees accrued but not
    ///         yet minted.
    function sharePriceWad() external view returns (uint256);

    /// @notice The high-water mark of `sharePriceWad()` over which the performance fee is charged.
    function highWaterMarkWad() external view returns (uint256);

    /// @notice Fee shares that an accrual now would mint.
    function pendingFeeShares() external view returns (uint256);

    function managementFeeBps() external view returns (uint256);
    function performanceFeeBps() external view returns (uint256);
    function feeRecipient() external view returns (address);
    function lastFeeAccrual() external view returns (uint256);
    function depositCap() external view returns (uint256);
    function depositsPaused() external view returns (bool);
    function isShutdown() external view returns (bool);

    /// @notice The registered legs, in registration order (removal swaps the last into the hole).
    function legs() external view returns (IHedgeLeg[] memory);
    function isLeg(address leg) external view returns (bool);

    /// @notice Total shares escrowed in pending requests.
    function queuedShares() external view returns (uint256);
    /// @notice Assets set aside for processed requests and not yet claimed.
    function totalClaimable() external view returns (uint256);
    /// @notice Next request id to be processed and the id the next request will get.
    function queueBounds() external view returns (uint256 head, uint256 tail);
    function redeemRequest(uint256 requestId) external view returns (RedeemRequest memory);

    // ------------------------------------------------------------------ anyone
    /// @notice Mints the fee shares accrued so far to the fee recipient.
    function accrueFees() external;

    // ------------------------------------------------------------------ depositors
    /// @notice Escrows `shares` of the caller in the exit queue; they are paid to `receiver` at the
    ///         price of the moment they are processed.
    /// @return requestId The request's id (FIFO order).
    function requestRedeem(uint256 shares, address receiver) external returns (uint256 requestId);

    /// @notice Returns the still-queued shares of a request to its owner. Assets already processed
    ///         stay claimable.
    function cancelRedeem(uint256 requestId) external returns (uint256 shares);

    /// @notice Pays a request's claimable assets to its receiver. Anyone may call it; funds go only
    ///         to the receiver named in the request.
    function claimRedeem(uint256 requestId) external returns (uint256 assets);

    // ------------------------------------------------------------------ keeper
    /// @notice Pays queued requests FIFO out of idle assets, at the current price, up to `maxCount`
    ///         requests; the last one may be paid in part. Keeper only, or anyone after shutdown.
    /// @return processed Requests touched; assetsPaid Assets set aside for claims.
    function processRedemptions(uint256 maxCount) external returns (uint256 processed, uint256 assetsPaid);

    /// @notice Moves idle assets to a registered leg. Keeper only; not after shutdown.
    function fundLeg(address leg, uint256 assets) external;

    /// @notice Asks a leg to send back up to `assets`. Keeper only (also after shutdown).
    function releaseFromLeg(address leg, uint256 assets) external returns (uint256 released);

    // ------------------------------------------------------------------ governance
    function setDepositCap(uint256 cap) external;
    function setManagementFee(uint256 feeBps) external;
    function setPerformanceFee(uint256 feeBps) external;
    function setFeeRecipient(address recipient) external;
    function addLeg(address leg) external;
    function removeLeg(address leg) external;
    function unpauseDeposits() external;

    // ------------------------------------------------------------------ guardian
    function pauseDeposits() external;
    /// @notice Irreversible: deposits close, no new positions; withdrawals and queued exits go on.
    function shutdown() external;
}
