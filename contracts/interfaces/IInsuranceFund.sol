// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title LossReasons
/// @notice Why the vault asks the insurance fund to cover a loss. Each value is its own name as a
///         left-aligned ASCII `bytes32` (e.g. `bytes32("OPTION_PAYOUT")`), so logs decode to text.
/// @dev Waterfall rank (see `IInsuranceFund.coverMany`): LIQUIDATION_SHORTFALL, OPTION_PAYOUT,
///      NEGATIVE_FUNDING, OTHER.
library LossReasons {
    /// @notice A venue liquidated a position and the margin did not cover its debt.
    bytes32 internal constant LIQUIDATION_SHORTFALL = "LIQUIDATION_SHORTFALL";
    /// @notice Cash settlement paid to option buyers above the premium collected.
    bytes32 internal constant OPTION_PAYOUT = "OPTION_PAYOUT";
    /// @notice Funding paid on the perpetual (the short pays when funding is negative).
    bytes32 internal constant NEGATIVE_FUNDING = "NEGATIVE_FUNDING";
    /// @notice Any other realised loss.
    bytes32 internal constant OTHER = "OTHER";
}

/// @title IInsuranceFund
/// @notice A reserve of the vault's asset, kept outside the vault's NAV. It grows by a
///         governance-set share of the vault's realised profit (skimmed at each `report()`, up to a
///         target size that is a share of the vault's TVL) and pays the vault's realised losses,
///         capped per period. Losses it does not pay are socialised: they reach the share price, and
///         `LossCovered.uncovered` says how much.
/// @dev Units: assets are in the asset's smallest units; `*Bps` are basis points (10_000 = 100%);
///      times are unix seconds, durations seconds.
///
///      Roles (same hashes as KeelVault): DEFAULT_ADMIN_ROLE grants/revokes roles (two-step transfer
///      with a delay); GOVERNANCE_ROLE = keccak256("GOVERNANCE_ROLE") sets parameters and queues,
///      executes and cancels withdrawals; GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE") cancels queued
///      withdrawals. Only `vault()` (immutable) can draw, and draws are paid to it alone.
///
///      Periods (lazily opened fixed windows): a period opens at the first `deposit`/`cover`/
///      `coverMany` at or after the previous period's end and lasts `periodSec`. Its base is the
///      fund's reserve when it opens plus what `deposit` adds during it; its cap is
///      `base * maxDrawPerPeriodBps / 10_000` (rounded down). Within one period the vault draws at
///      most the cap; across a boundary it can draw up to two caps in a short time (the end of one
///      period and the start of the next). Covers and withdrawals do not lower the base; the
///      reserve alone bounds each payment. Parameter changes apply to the open period at once.
interface IInsuranceFund {
    /// @notice One loss to cover; `reason` is one of `LossReasons`.
    struct Loss {
        bytes32 reason;
        uint256 assets;
    }

    /// @notice Governance parameters (constructor input and `params()` view).
    /// @param skimShareBps Share of realised profit skimmed into the fund, ≤ MAX_SKIM_SHARE_BPS.
    /// @param targetBps Target fund size as a share of the vault's TVL, ≤ MAX_TARGET_BPS.
    /// @param maxDrawPerPeriodBps Cap on draws per period, as a share of the period's base,
    ///        in [MIN_DRAW_BPS, MAX_DRAW_BPS].
    /// @param periodSec Period length, in [MIN_PERIOD, MAX_PERIOD].
    /// @param withdrawalDelay Timelock on governance withdrawals, in [MIN_WITHDRAWAL_DELAY,
    ///        MAX_WITHDRAWAL_DELAY].
    struct Params {
        uint256 skimShareBps;
        uint256 targetBps;
        uint256 maxDrawPerPeriodBps;
        uint256 periodSec;
        uint256 withdrawalDelay;
    }

    enum WithdrawalState {
        None,
        Queued,
        Executed,
        Cancelled
    }

    /// @notice A governance withdrawal; executable in [eta, eta + GRACE_PERIOD].
    struct Withdrawal {
        address to;
        uint40 eta;
        WithdrawalState state;
        uint256 assets;
    }

    /// @notice The period that applies now (as the next `cover` would see it).
    /// @param start When it opened (or now, if the next touch opens a new one).
    /// @param end First second of the next period (start + periodSec).
    /// @param base Balance at opening plus deposits since.
    /// @param drawn Paid to the vault in this period.
    /// @param cap base * maxDrawPerPeriodBps / 10_000.
    struct Period {
        uint256 start;
        uint256 end;
        uint256 base;
        uint256 drawn;
        uint256 cap;
    }

    // ------------------------------------------------------------------ errors
    /// @notice An amount argument was zero where a positive value is required.
    error ZeroAmount(string field);
    /// @notice An address argument was the zero address.
    error ZeroAddress(string field);
    /// @notice The vault's asset is not the fund's asset.
    error AssetMismatch(address vault, address vaultAsset, address asset);
    /// @notice Only the vault can draw on the fund.
    error OnlyVault(address caller, address vault);
    /// @notice Only governance or the guardian can cancel a withdrawal.
    error NotGovernanceOrGuardian(address caller);
    /// @notice The loss reason is not one of `LossReasons`.
    error UnknownReason(bytes32 reason);
    /// @notice `coverMany` takes 1..MAX_LOSSES losses.
    error TooManyLosses(uint256 count, uint256 maxCount);
    error SkimShareTooHigh(uint256 bps, uint256 maxBps);
    error TargetTooHigh(uint256 bps, uint256 maxBps);
    error DrawCapOutOfRange(uint256 bps, uint256 minBps, uint256 maxBps);
    error PeriodOutOfRange(uint256 periodSec, uint256 minPeriod, uint256 maxPeriod);
    error WithdrawalDelayOutOfRange(uint256 delay, uint256 minDelay, uint256 maxDelay);
    /// @notice No withdrawal has this id.
    error UnknownWithdrawal(uint256 id);
    /// @notice The withdrawal was already executed or cancelled.
    error WithdrawalNotQueued(uint256 id, WithdrawalState state);
    /// @notice Executing before the eta.
    error WithdrawalNotReady(uint256 id, uint256 eta, uint256 timestamp);
    /// @notice Executing after eta + GRACE_PERIOD; queue it again.
    error WithdrawalExpired(uint256 id, uint256 expiry, uint256 timestamp);
    /// @notice A withdrawal may only take the excess over the target (`excess()`).
    error WithdrawalExceedsExcess(uint256 id, uint256 assets, uint256 excess);

    // ------------------------------------------------------------------ events
    /// @notice `from` added `assets` (as received) through `deposit`.
    event Deposited(address indexed from, uint256 assets, uint256 reserveAfter);
    /// @notice A loss the vault asked to cover: `paid` went to the vault, `uncovered` =
    ///         `requested - paid` falls on the share price. `periodDrawn` includes `paid`.
    event LossCovered(
        bytes32 indexed reason,
        uint256 requested,
        uint256 paid,
        uint256 uncovered,
        uint256 periodDrawn,
        uint256 periodCap
    );
    /// @notice A new draw period opened; `base` is the reserve at opening.
    event PeriodOpened(uint256 start, uint256 end, uint256 base);
    event SkimShareSet(uint256 oldBps, uint256 newBps);
    event TargetSet(uint256 oldBps, uint256 newBps);
    event MaxDrawPerPeriodSet(uint256 oldBps, uint256 newBps);
    event PeriodSet(uint256 oldPeriodSec, uint256 newPeriodSec);
    /// @notice The withdrawal delay changed (at once for an increase; at the queued eta for a
    ///         decrease, emitted by the first call that sees it due).
    event WithdrawalDelaySet(uint256 oldDelay, uint256 newDelay);
    /// @notice A shorter delay takes effect at `eta` (= now + the current delay).
    event WithdrawalDelayDecreaseQueued(uint256 currentDelay, uint256 newDelay, uint256 eta);
    event WithdrawalQueued(uint256 indexed id, address indexed to, uint256 assets, uint256 eta);
    event WithdrawalExecuted(uint256 indexed id, address indexed to, uint256 assets, uint256 reserveAfter);
    event WithdrawalCancelled(uint256 indexed id, address indexed by);

    // ------------------------------------------------------------------ views
    /// @notice The asset held and paid.
    function asset() external view returns (address);

    /// @notice The only address that can draw (`cover`, `coverMany`); immutable.
    function vault() external view returns (address);

    /// @notice The fund's holding: `asset().balanceOf(fund)` (queued withdrawals are not set aside).
    /// @dev Not named `balance()`: ape's contract objects already have a `.balance` (ether) attribute.
    function reserve() external view returns (uint256);

    function skimShareBps() external view returns (uint256);
    function targetBps() external view returns (uint256);
    function maxDrawPerPeriodBps() external view returns (uint256);
    function periodSec() external view returns (uint256);

    /// @notice The delay in force now (a queued decrease counts once its eta has passed).
    function withdrawalDelay() external view returns (uint256);

    /// @notice A queued delay decrease and when it takes effect; (0, 0) if none.
    function pendingWithdrawalDelay() external view returns (uint256 delay, uint256 eta);

    /// @notice All parameters in force now.
    function params() external view returns (Params memory);

    /// @notice Target size: `IERC4626(vault).totalAssets() * targetBps / 10_000`, rounded down.
    function targetAssets() external view returns (uint256);

    /// @notice How far the reserve is below target (0 at or above).
    function shortfall() external view returns (uint256);

    /// @notice How far the reserve is above target (0 at or below); the most a withdrawal may take.
    function excess() external view returns (uint256);

    /// @notice What the vault should skim from `realisedProfit` at a report:
    ///         `min(realisedProfit * skimShareBps / 10_000, shortfall())` — a share of the profit,
    ///         rounded down, and never more than brings the fund to its target (0 at/above target).
    function skimAmount(uint256 realisedProfit) external view returns (uint256);

    /// @notice `skimAmount` for a given vault TVL (`vaultAssets`) instead of reading the vault, so
    ///         the vault can quote it mid-report without calling back into itself.
    function skimAmountAt(uint256 realisedProfit, uint256 vaultAssets) external view returns (uint256);

    /// @notice The draw period that applies now.
    function currentPeriod() external view returns (Period memory);

    /// @notice The most a cover now would pay: `min(reserve(), cap - drawn)`.
    function coverable() external view returns (uint256);

    function withdrawal(uint256 id) external view returns (Withdrawal memory);

    /// @notice Number of withdrawals ever queued; the next id.
    function withdrawalCount() external view returns (uint256);

    // ------------------------------------------------------------------ anyone
    /// @notice Adds `assets` to the fund (pulled with `transferFrom`; the caller approves first).
    ///         The vault calls it to skim profit at `report()`. Raises the open period's base.
    /// @return received What arrived (equal to `assets` for plain tokens).
    function deposit(uint256 assets) external returns (uint256 received);

    // ------------------------------------------------------------------ vault
    /// @notice Pays `min(lossAssets, reserve(), cap - drawn)` of a realised loss to the vault. Only the
    ///         vault. Never reverts for lack of funds or cap: it pays what it can (possibly 0) and
    ///         emits `LossCovered` with the uncovered remainder.
    /// @param reason One of `LossReasons`.
    /// @return paid Assets transferred to the vault.
    function cover(uint256 lossAssets, bytes32 reason) external returns (uint256 paid);

    /// @notice Covers several losses in waterfall order, whatever their order in `losses`:
    ///         LIQUIDATION_SHORTFALL first (a debt to a venue: the tail the fund exists for), then
    ///         OPTION_PAYOUT (contractual settlements of the short-vol book), then NEGATIVE_FUNDING
    ///         (a foreseeable carry cost the keeper should already limit), then OTHER; equal reasons
    ///         keep their order. When the cap or the reserve runs out, the later ranks are the ones
    ///         socialised. One `LossCovered` per loss, one transfer in total. Only the vault.
    /// @return paid Total paid to the vault; uncovered Total left to the share price.
    function coverMany(Loss[] calldata losses) external returns (uint256 paid, uint256 uncovered);

    // ------------------------------------------------------------------ governance
    function setSkimShare(uint256 bps) external;
    function setTarget(uint256 bps) external;
    function setMaxDrawPerPeriod(uint256 bps) external;
    function setPeriod(uint256 periodSec) external;

    /// @notice An increase applies at once; a decrease takes effect after the current delay (so a
    ///         withdrawal can never be executed sooner than the delay announced when it would have
    ///         been queued). Withdrawals keep the eta they were queued with.
    function setWithdrawalDelay(uint256 delay) external;

    /// @notice Queues a withdrawal of `assets` to `to`, executable from now + `withdrawalDelay()`
    ///         for GRACE_PERIOD. The guardian can cancel it meanwhile.
    function queueWithdrawal(address to, uint256 assets) external returns (uint256 id);

    /// @notice Executes a queued withdrawal once due. Re-checks at execution: `assets ≤ excess()`,
    ///         so a withdrawal never takes the fund below its target. Executes at most once.
    function executeWithdrawal(uint256 id) external;

    // ------------------------------------------------------------------ governance or guardian
    function cancelWithdrawal(uint256 id) external;
}
