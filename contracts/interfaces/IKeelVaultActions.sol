// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRiskGuard} from "./IRiskGuard.sol";
import {IInsuranceFund} from "./IInsuranceFund.sol";
import {ISpotLeg} from "./ISpotLeg.sol";
import {IPerpLeg} from "./IPerpLeg.sol";
import {IOptionLeg} from "./IOptionLeg.sol";

/// @title IKeelVaultActions
/// @notice The vault's bounded keeper entry points: `rebalance` (spot swap, perp size change, margin
///         transfer), `report` (realise PnL, charge fees, skim to the insurance fund) and `coverLoss`
///         (draw a realised loss from the insurance fund), plus `rebalanceTrigger()` for automation.
/// @dev Every entry point takes the vault's action nonce: a duplicated, replayed or reordered
///      transaction reverts with `StaleNonce`, so a keeper that re-sends after a reorg or a timeout
///      can never act twice. Trading entry points also take a deadline and min-out/limit prices, and
///      are checked by the RiskGuard after the fact (the whole action reverts on a violated bound).
///      Keeper actions read the oracle through the legs (OracleLib): a failed oracle reverts them,
///      while deposits, withdrawals of idle assets and the ERC-4626 views keep working.
interface IKeelVaultActions {
    /// @notice One rebalance. Amounts: `spotAmountIn` is USDC units when buying ETH, WETH wei when
    ///         selling (0 = no swap); `perpSizeDeltaWad` is signed ETH (short < 0; 0 = no trade);
    ///         `perpMarginDeltaAssets` moves idle USDC into the perp margin (> 0) or back (< 0).
    ///         Order: margin in, perp trade, spot swap (sale proceeds return to the vault), margin out.
    ///         `allowImprovement`: see the note on RiskGuard's exemption below.
    struct RebalanceParams {
        uint256 expectedNonce;
        uint256 deadline;
        bool spotBuyEth;
        uint256 spotAmountIn;
        uint256 spotMinOut;
        int256 perpSizeDeltaWad;
        uint256 perpLimitPriceWad;
        int256 perpMarginDeltaAssets;
        bool allowImprovement;
    }

    /// @notice One option trade through the option leg.
    /// @param expectedNonce The vault's action nonce (a replayed or duplicate tx reverts StaleNonce).
    /// @param deadline Unix seconds; later blocks revert.
    /// @param seriesId The venue's series.
    /// @param isBuy Buy (reduce a short / go long) or sell (reduce a long / write).
    /// @param sizeWad Options, in ETH (wad).
    /// @param limitAssets Max cost (premium + fee) of a buy, min proceeds (premium − fee) of a sell.
    /// @param fundAssets Idle assets moved to the leg first (the buy's cost, or the sell's collateral);
    ///        whatever the trade leaves in the leg comes back to the vault in the same call.
    /// @param allowImprovement See the note on RiskGuard's exemption above `rebalance`.
    struct OptionTradeParams {
        uint256 expectedNonce;
        uint256 deadline;
        uint256 seriesId;
        bool isBuy;
        uint256 sizeWad;
        uint256 limitAssets;
        uint256 fundAssets;
        bool allowImprovement;
    }

    // ------------------------------------------------------------------ errors
    /// @notice The action was built for another nonce (already executed, replayed or reordered).
    error StaleNonce(uint256 expected, uint256 actual);
    /// @notice The action's deadline has passed.
    error ActionDeadlineExpired(uint256 deadline, uint256 nowSec);
    /// @notice A module the action needs is not configured.
    error ModuleNotSet(string module);
    /// @notice The insurance fund belongs to another vault or asset.
    error ModuleMismatch(address module);
    /// @notice A strategy leg must be a registered leg of this vault.
    error NotARegisteredLeg(address leg);
    /// @notice `coverLoss` with no reported loss outstanding.
    error NoLossToCover();

    // ------------------------------------------------------------------ events
    event RiskModulesSet(address indexed riskGuard, address indexed insuranceFund);
    event StrategyLegsSet(address indexed spotLeg, address indexed perpLeg, address indexed optionLeg);
    event OptionsTraded(uint256 indexed nonce, uint256 indexed seriesId, bool isBuy, uint256 sizeWad, int256 netDeltaWad);
    event OptionsSettled(uint256 indexed nonce, uint256 indexed seriesId, uint256 paidAssets);
    /// @notice A rebalance went through; the book after it.
    event Rebalanced(uint256 indexed nonce, uint256 notionalAssets, int256 netDeltaWad, uint256 marginRatioWad);
    /// @notice PnL since the last report (net of deposits, withdrawals and insurance payments), the
    ///         part skimmed to the insurance fund, and the NAV the next report starts from.
    event Reported(uint256 indexed nonce, int256 pnlAssets, uint256 skimmedAssets, uint256 navAssets);
    /// @notice A reported loss and what the insurance fund paid of it.
    event LossCovered(uint256 indexed nonce, bytes32 indexed reason, uint256 lossAssets, uint256 paidAssets);
    /// @notice The part of a loss the fund did not cover: it is borne by the share price.
    event LossSocialised(bytes32 indexed reason, uint256 uncoveredAssets);

    // ------------------------------------------------------------------ views
    /// @notice The nonce the next keeper action must carry.
    function actionNonce() external view returns (uint256);
    function lastActionAt() external view returns (uint256);
    function riskGuard() external view returns (IRiskGuard);
    function insuranceFund() external view returns (IInsuranceFund);
    function spotLeg() external view returns (ISpotLeg);
    function perpLeg() external view returns (IPerpLeg);
    function optionLeg() external view returns (IOptionLeg);
    /// @notice Realised loss reported and not yet covered.
    function unreportedLoss() external view returns (uint256);
    /// @notice NAV at the last report, and deposits minus withdrawals (plus insurance payments) since.
    function reportBase() external view returns (uint256 navAtReport, int256 flowsSinceReport);

    /// @notice The book's risk figures as RiskGuard sees them (Σ leg deltas, perp margin ratio, gross
    ///         exposure of the strategy legs, NAV). Never reverts (the legs' views never do).
    function bookState() external view returns (IRiskGuard.BookState memory);

    /// @notice Whether a keeper action is needed now and why (an `IRiskGuard.Reason`), usable by
    ///         Chainlink Automation or Gelato. A failing oracle reports (false, OracleFailure): no
    ///         action can go through until it recovers.
    function rebalanceTrigger() external view returns (bool needed, uint8 reason);

    // ------------------------------------------------------------------ keeper
    /// @notice Spot swap, perp size change and margin transfer in one bounded action.
    /// @dev RiskGuard's exemption (`rebalance` and `tradeOptions`): a book bound (net delta, margin ratio,
    ///      leverage) that is breached after the action passes if the action did not make it worse
    ///      than before. Measuring "before" costs a read of every leg, so the vault does it only when the
    ///      keeper asks (`allowImprovement = true`, for a corrective action on a book that is already
    ///      outside, or close to, a bound). Otherwise RiskGuard gets a before-book of zero delta, zero
    ///      exposure and an infinite margin ratio, which grants no exemption: every bound must then
    ///      hold after the action. The flag can only relax the check back to the exemption, never past
    ///      the bounds of a book that was inside them.
    function rebalance(RebalanceParams calldata p) external;

    /// @notice Realise the PnL since the last report: accrue fees, skim the insurance fund's share of a
    ///         profit (up to its target), or record a loss for `coverLoss`.
    /// @notice Buy or sell options through the option leg, then RiskGuard's check (the premium's distance
    ///         from mid counts as slippage; see IOptionLeg). Keeper only.
    function tradeOptions(OptionTradeParams calldata p) external;

    /// @notice Settle (if nobody has) and claim the option leg's position in an expired series; the
    ///         payment comes back to the vault's idle assets. Not guard-checked: it only closes risk and
    ///         must never be blocked. Keeper only.
    function settleOptions(uint256 expectedNonce, uint256 seriesId, uint80 roundIdHint)
        external
        returns (uint256 paidAssets);

    function report(uint256 expectedNonce) external returns (int256 pnlAssets, uint256 skimmedAssets);

    /// @notice Draw the reported loss from the insurance fund (capped by the fund); the rest is borne
    ///         by the share price, said in `LossSocialised`.
    function coverLoss(uint256 expectedNonce, bytes32 reason) external returns (uint256 paidAssets);

    // ------------------------------------------------------------------ governance
    function setRiskModules(IRiskGuard guard, IInsuranceFund fund) external;
    function setStrategyLegs(ISpotLeg spot, IPerpLeg perp, IOptionLeg option) external;
}
