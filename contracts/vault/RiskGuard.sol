// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IRiskGuard} from "../interfaces/IRiskGuard.sol";

/// @title RiskGuard
/// @notice Holds the governed limits of keeper actions and checks an action's before/after book
///         against them. The vault calls `checkAction` after every keeper action and reverts the
///         whole action when it fails, so a keeper (or a thief holding its key) can never leave the
///         book outside these limits.
/// @dev Threat model. Governance can change the limits, but never past the hard limits below, and
///      every change emits `ParamsSet`. The guard holds no funds and calls nothing, so it cannot be
///      reentered or used to move assets. It trusts the figures the vault passes in: the vault
///      computes them from its legs' `value()`/`delta()` and validated oracle prices.
///      Rounding: every derived figure (leverage, slippage) is rounded against the keeper, i.e. up.
contract RiskGuard is IRiskGuard, AccessControlDefaultAdminRules {
    bytes32 public constant GOVERNANCE_ROLE = keccak256("GOVERNANCE_ROLE");

    uint256 internal constant WAD = 1e18;
    uint256 internal constant BPS = 10_000;

    /// @notice |net delta| can never be allowed above 100,000 ETH.
    uint256 public constant HARD_MAX_NET_DELTA_WAD = 100_000e18;
    /// @notice The margin-ratio floor can never be set below 1.1 (liquidation is at 1.0).
    uint256 public constant HARD_MIN_MARGIN_RATIO_WAD = 1.1e18;
    /// @notice Leverage can never be allowed above 5x.
    uint256 public constant HARD_MAX_LEVERAGE_WAD = 5e18;
    /// @notice Slippage can never be allowed above 3%.
    uint256 public constant HARD_MAX_SLIPPAGE_BPS = 300;
    /// @notice The interval between actions can never exceed one day (the keeper must be able to act).
    uint256 public constant HARD_MAX_INTERVAL_SEC = 1 days;
    /// @notice The per-action notional cap can never exceed this (set once, in asset units).
    uint256 public immutable hardMaxNotionalAssets;

    Params internal _params;

    constructor(address admin, address governance, uint256 hardMaxNotionalAssets_, Params memory initial)
        AccessControlDefaultAdminRules(1 days, admin)
    {
        if (hardMaxNotionalAssets_ == 0) revert ParamOutOfBounds("hardMaxNotionalAssets", 0, 1);
        hardMaxNotionalAssets = hardMaxNotionalAssets_;
        _grantRole(GOVERNANCE_ROLE, governance);
        _setParams(initial);
    }

    // ------------------------------------------------------------------ governance

    /// @inheritdoc IRiskGuard
    function params() external view returns (Params memory) {
        return _params;
    }

    /// @inheritdoc IRiskGuard
    function setParams(Params calldata p) external onlyRole(GOVERNANCE_ROLE) {
        _setParams(p);
    }

    function _setParams(Params memory p) internal {
        if (p.maxNetDeltaWad > HARD_MAX_NET_DELTA_WAD) {
            revert ParamOutOfBounds("maxNetDeltaWad", p.maxNetDeltaWad, HARD_MAX_NET_DELTA_WAD);
        }
        if (p.minMarginRatioWad < HARD_MIN_MARGIN_RATIO_WAD) {
            revert ParamOutOfBounds("minMarginRatioWad", p.minMarginRatioWad, HARD_MIN_MARGIN_RATIO_WAD);
        }
        if (p.maxLeverageWad > HARD_MAX_LEVERAGE_WAD || p.maxLeverageWad == 0) {
            revert ParamOutOfBounds("maxLeverageWad", p.maxLeverageWad, HARD_MAX_LEVERAGE_WAD);
        }
        if (p.maxSlippageBps > HARD_MAX_SLIPPAGE_BPS) {
            revert ParamOutOfBounds("maxSlippageBps", p.maxSlippageBps, HARD_MAX_SLIPPAGE_BPS);
        }
        if (p.minActionIntervalSec > HARD_MAX_INTERVAL_SEC) {
            revert ParamOutOfBounds("minActionIntervalSec", p.minActionIntervalSec, HARD_MAX_INTERVAL_SEC);
        }
        if (p.maxNotionalPerActionAssets > hardMaxNotionalAssets || p.maxNotionalPerActionAssets == 0) {
            revert ParamOutOfBounds("maxNotionalPerActionAssets", p.maxNotionalPerActionAssets, hardMaxNotionalAssets);
        }
        if (p.deltaTriggerWad > p.maxNetDeltaWad) {
            revert ParamOutOfBounds("deltaTriggerWad", p.deltaTriggerWad, p.maxNetDeltaWad);
        }
        if (p.marginTriggerWad < p.minMarginRatioWad) {
            revert ParamOutOfBounds("marginTriggerWad", p.marginTriggerWad, p.minMarginRatioWad);
        }
        emit ParamsSet(_params, p);
        _params = p;
    }

    // ------------------------------------------------------------------ checks

    /// @inheritdoc IRiskGuard
    function checkAction(BookState calldata before, BookState calldata afterState, ActionInfo calldata action)
        external
        view
    {
        Params storage p = _params; // read field by field: the trigger slot is not loaded

        if (action.lastActionAt != 0) {
            uint256 elapsed = block.timestamp > action.lastActionAt ? block.timestamp - action.lastActionAt : 0;
            if (elapsed < p.minActionIntervalSec) revert ActionTooSoon(elapsed, p.minActionIntervalSec);
        }
        if (action.notionalAssets > p.maxNotionalPerActionAssets) {
            revert NotionalAboveCap(action.notionalAssets, p.maxNotionalPerActionAssets);
        }
        for (uint256 i; i < 2; ++i) {
            Trade calldata t = action.trades[i];
            if (t.execPriceWad == 0) continue;
            if (t.oraclePriceWad == 0) revert MissingOraclePrice();
            uint256 slip = adverseSlippageBps(t.execPriceWad, t.oraclePriceWad, t.isBuy);
            if (slip > p.maxSlippageBps) {
                revert SlippageAboveMax(t.execPriceWad, t.oraclePriceWad, slip, p.maxSlippageBps);
            }
        }

        uint256 absAfter = _abs(afterState.netDeltaWad);
        if (absAfter > p.maxNetDeltaWad && absAfter >= _abs(before.netDeltaWad)) {
            revert NetDeltaAboveCap(afterState.netDeltaWad, p.maxNetDeltaWad);
        }
        if (afterState.marginRatioWad < p.minMarginRatioWad && afterState.marginRatioWad <= before.marginRatioWad) {
            revert MarginRatioBelowMin(afterState.marginRatioWad, p.minMarginRatioWad);
        }
        uint256 levAfter = leverageWad(afterState);
        if (levAfter > p.maxLeverageWad && levAfter >= leverageWad(before)) {
            revert LeverageAboveMax(levAfter, p.maxLeverageWad);
        }
    }

    /// @inheritdoc IRiskGuard
    function trigger(BookState calldata state) external view returns (bool needed, Reason reason) {
        Params memory p = _params;
        if (state.marginRatioWad < p.marginTriggerWad) return (true, Reason.MarginLow);
        if (_abs(state.netDeltaWad) > p.deltaTriggerWad) return (true, Reason.DeltaOutOfBand);
        if (leverageWad(state) > p.maxLeverageWad) return (true, Reason.LeverageHigh);
        return (false, Reason.None);
    }

    /// @inheritdoc IRiskGuard
    function leverageWad(BookState memory state) public pure returns (uint256) {
        if (state.grossExposureAssets == 0) return 0;
        if (state.navAssets == 0) return type(uint256).max;
        return Math.mulDiv(state.grossExposureAssets, WAD, state.navAssets, Math.Rounding.Ceil);
    }

    /// @notice How far `execPriceWad` is on the adverse side of `oraclePriceWad`, in bps rounded up
    ///         (0 when the execution was at or better than the oracle).
    function adverseSlippageBps(uint256 execPriceWad, uint256 oraclePriceWad, bool isBuy)
        public
        pure
        returns (uint256)
    {
        if (oraclePriceWad == 0) revert MissingOraclePrice();
        uint256 adverse;
        if (isBuy) adverse = execPriceWad > oraclePriceWad ? execPriceWad - oraclePriceWad : 0;
        else adverse = execPriceWad < oraclePriceWad ? oraclePriceWad - execPriceWad : 0;
        return Math.mulDiv(adverse, BPS, oraclePriceWad, Math.Rounding.Ceil);
    }

    function _abs(int256 x) private pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }
}
