// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";

import {AggregatorV3Interface} from "../../interfaces/AggregatorV3Interface.sol";
import {IHedgeLeg} from "../../interfaces/IHedgeLeg.sol";
import {IKeelLeg} from "../../interfaces/IKeelLeg.sol";
import {IOracle} from "../../interfaces/IOracle.sol";
import {IPerpLeg} from "../../interfaces/IPerpLeg.sol";
import {IPerpMarket} from "../../interfaces/IPerpMarket.sol";
import {PerpMath} from "../../libraries/PerpMath.sol";
import {KeelLegBase} from "./KeelLegBase.sol";

/// @title PerpLeg
/// @notice The vault's account at a PerpMarket: the leg holds USDC funded by the vault, moves it into and
///         out of its margin at the venue and trades the ETH perpetual (normally short, to hedge the
///         spot leg).
///
///         value()  = max(0, equity) + the leg's USDC balance
///         delta()  = position size (wad, short < 0; stored at the venue, never reverts)
///         grossExposure() = ⌈|size| · P⌉,  marginRatioWad() = equity / maintenance (wad)
///
///         Equity (see IPerpLeg for the formulas): the venue's `accountEquityUsdc` when the leg's price
///         is fresh and the venue answers; otherwise computed here from the stored position at the leg's
///         price (the last good price when the feed fails), with the venue's pending funding when that
///         view answers, else the last funding mark minus the worst funding the venue's clamp allows
///         since (a liability: rounded up, it grows while the feeds are down, so the fallback can only
///         understate what the account is worth by the funding clamp, never overstate it by more than
///         the price gap since the last good round). Every branch is total: `value()` never reverts.
///         The venue's closing fee is not deducted (equity is what the venue says the account is worth).
///
/// THREAT MODEL
/// - Who can move funds: only the vault (`onlyVault`). USDC goes leg → venue margin (`depositMargin`,
///   the venue is allowed exactly that amount, pulled at once), venue → leg (`withdrawMargin`, recipient
///   always this leg) and leg → vault (`release`). The venue is immutable.
/// - Compromised keeper (through the vault): it can trade and move margin only, each trade bounded by
///   its limit price, deadline, the oracle read (a failed or deviating feed halts trades and withdrawals
///   of an open account) and the venue's initial-margin check, then by the vault's RiskGuard check (net
///   delta, margin ratio, leverage, slippage, notional, interval). Worst case: fees and funding churn
///   within those bounds, or a position the guard allows that then loses to the market.
/// - Oracle: the venue validates its feed only minimally (fresh, > 0); the leg adds OracleLib's rules
///   (deviation breaker, cooldown) on the same feed before every trade and every withdrawal of an open
///   account. A margin top-up never needs the oracle, so margin can always be added to avoid
///   liquidation. Views never revert (try/catch around every venue view that reads a feed).
/// - Liquidation: anyone may liquidate the account below maintenance (venue rules); the leg's value then
///   drops by the penalty. The keeper watches `marginRatioWad()` against RiskGuard's floor.
/// - Venue insolvency: `withdrawMargin` can revert `PoolInsolvent` if the venue's pool is in deficit;
///   the marked equity then includes profit the venue cannot pay yet (reported as is).
/// - Rounding: equity as the venue rounds it (down); the fallback rounds PnL down, worst-case funding
///   up; exposure and buy prices up; sell prices down; margin ratio down.
/// - Reentrancy: every external mutating function is `nonReentrant`; USDC has no transfer hooks.
contract PerpLeg is IPerpLeg, KeelLegBase {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /// @dev size (wad) × price (wad) / 1e30 = USDC units.
    uint256 private constant SCALE = 1e30;
    /// @dev The venue's funding period (its feed gives the rate per 8 hours).
    uint256 private constant FUNDING_PERIOD = 8 hours;
    uint256 private constant WAD = 1e18;

    IPerpMarket private immutable _market;

    /// @dev One slot: pending funding (assets) the leg last saw, and when.
    struct FundingMark {
        int128 pendingAssets;
        uint64 at;
    }

    FundingMark private _fundingMark;

    /// @param vault_ The vault.
    /// @param market_ The PerpMarket; its collateral must be the vault's asset. The leg's feed is the
    ///        venue's price feed (so both mark with the same rounds).
    /// @param maxAgeSec, maxDeviationBps, cooldownSec OracleLib bounds for that feed.
    constructor(
        address vault_,
        address asset_,
        IPerpMarket market_,
        uint32 maxAgeSec,
        uint16 maxDeviationBps,
        uint32 cooldownSec
    )
        KeelLegBase(
            vault_,
            asset_,
            AggregatorV3Interface(_nonZero(address(market_)).priceFeed()),
            maxAgeSec,
            maxDeviationBps,
            cooldownSec
        )
    {
        address collateral = market_.collateral();
        if (collateral != asset_) revert CollateralMismatch(address(market_), collateral, asset_);
        _market = market_;
    }

    // =================================================================== views

    /// @inheritdoc IPerpLeg
    function market() external view returns (address) {
        return address(_market);
    }

    /// @inheritdoc IHedgeLeg
    function value() external view returns (uint256 assets) {
        assets = IERC20(asset).balanceOf(address(this));
        (int256 equity,,) = _markedEquity(_market.position(address(this)));
        if (equity > 0) assets += uint256(equity);
    }

    /// @inheritdoc IHedgeLeg
    function delta() external view returns (int256 deltaWad) {
        return _market.position(address(this)).sizeWad;
    }

    /// @inheritdoc IKeelLeg
    function grossExposure() external view returns (uint256 assets) {
        int256 size = _market.position(address(this)).sizeWad;
        if (size == 0) return 0;
        (uint256 priceWad,) = _oraclePrice();
        return Math.mulDiv(SignedMath.abs(size), priceWad, SCALE, Math.Rounding.Ceil);
    }

    /// @inheritdoc IPerpLeg
    function marginRatioWad() external view returns (uint256) {
        IPerpMarket.Position memory p = _market.position(address(this));
        if (p.sizeWad == 0) return type(uint256).max;
        (int256 equity, uint256 priceWad,) = _markedEquity(p);
        if (equity <= 0) return 0;
        return _marginRatioWad(uint256(equity), SignedMath.abs(p.sizeWad), priceWad, _market.params().mmrWad);
    }

    /// @inheritdoc IHedgeLeg
    function book()
        external
        view
        returns (uint256 valueAssets, int256 deltaWad, uint256 grossAssets, uint256 marginRatio)
    {
        valueAssets = IERC20(asset).balanceOf(address(this));
        (uint256 priceWad, bool fresh) = _oraclePrice();
        int256 equity;
        uint256 mmrWad;
        bool marked;
        if (fresh) {
            // the venue's equity at a fresh price, with the size and the rate, in one call
            try _market.accountBook(address(this)) returns (int256 s, int256 e, uint256 m) {
                (deltaWad, equity, mmrWad, marked) = (s, e, m, true);
            } catch {}
        }
        if (!marked) {
            IPerpMarket.Position memory p = _market.position(address(this));
            deltaWad = p.sizeWad;
            (equity, priceWad,) = _markedEquity(p);
            if (deltaWad != 0 && equity > 0) mmrWad = _market.params().mmrWad;
        }
        if (equity > 0) valueAssets += uint256(equity);
        if (deltaWad == 0) return (valueAssets, 0, 0, type(uint256).max);
        uint256 absSize = SignedMath.abs(deltaWad);
        grossAssets = Math.mulDiv(absSize, priceWad, SCALE, Math.Rounding.Ceil);
        if (equity > 0) marginRatio = _marginRatioWad(uint256(equity), absSize, priceWad, mmrWad);
    }

    /// @inheritdoc IPerpLeg
    function markedEquity() external view returns (int256 equityAssets, uint256 priceWad, bool exact) {
        return _markedEquity(_market.position(address(this)));
    }

    /// @inheritdoc IPerpLeg
    function fundingMark() external view returns (int256 pendingFundingAssets, uint256 markedAt) {
        FundingMark memory m = _fundingMark;
        return (m.pendingAssets, m.at);
    }

    // =================================================================== vault actions

    /// @inheritdoc IPerpLeg
    function depositMargin(uint256 assets) external nonReentrant onlyVault {
        if (assets == 0) revert ZeroAmount("assets");
        IERC20 token = IERC20(asset);
        uint256 balance = token.balanceOf(address(this));
        if (balance < assets) revert InsufficientLegBalance(address(token), assets, balance);
        token.forceApprove(address(_market), assets);
        _market.depositMargin(address(this), assets);
        emit MarginDeposited(assets);
    }

    /// @inheritdoc IPerpLeg
    function withdrawMargin(uint256 assets) external nonReentrant onlyVault {
        if (assets == 0) revert ZeroAmount("assets");
        bool open = _market.position(address(this)).sizeWad != 0;
        if (open) _readOracle(); // halts on a failed feed; a flat account needs no price
        _market.withdrawMargin(assets, address(this));
        if (open) _setFundingMark(0); // the venue settled funding
        emit MarginWithdrawn(assets);
    }

    /// @inheritdoc IPerpLeg
    function trade(int256 sizeDeltaWad, uint256 limitPriceWad, uint256 deadline)
        external
        nonReentrant
        onlyVault
        returns (ActionReport memory report)
    {
        _requireDeadline(deadline);
        if (sizeDeltaWad == 0) revert ZeroAmount("sizeDelta");
        uint256 oraclePrice = _readOracle();
        (uint256 priceWad, uint256 fee, int256 realisedPnl) = _market.trade(sizeDeltaWad, limitPriceWad);
        _setFundingMark(0); // the venue settled funding

        uint256 absSize = SignedMath.abs(sizeDeltaWad);
        bool isBuy = sizeDeltaWad > 0;
        // All-in price: P ± fee per ETH (fee · 1e30 / |Δ| in wad), against the keeper.
        uint256 feePerEthWad = Math.mulDiv(fee, SCALE, absSize, isBuy ? Math.Rounding.Ceil : Math.Rounding.Floor);
        if (isBuy) {
            report.execPriceWad = priceWad + feePerEthWad;
        } else {
            report.execPriceWad = priceWad > feePerEthWad ? priceWad - feePerEthWad : 0;
        }
        report.notionalAssets = Math.mulDiv(absSize, priceWad, SCALE, Math.Rounding.Ceil);
        report.oraclePriceWad = oraclePrice;
        report.isBuy = isBuy;
        emit PerpTraded(
            sizeDeltaWad,
            priceWad,
            report.execPriceWad,
            oraclePrice,
            fee,
            realisedPnl
        );
    }

    // =================================================================== anyone

    /// @inheritdoc IKeelLeg
    /// @dev Also refreshes the funding mark when the venue can say what funding is pending.
    function pokeOracle()
        external
        override(IKeelLeg, KeelLegBase)
        nonReentrant
        returns (IOracle.Verdict verdict, int256 valueWad)
    {
        (verdict, valueWad) = _pokeOracle();
        try _market.pendingFundingUsdc(address(this)) returns (int256 pending) {
            _setFundingMark(pending);
        } catch {}
    }

    // =================================================================== internals

    function _setFundingMark(int256 pendingAssets) internal {
        _fundingMark = FundingMark({pendingAssets: SafeCast.toInt128(pendingAssets), at: uint64(block.timestamp)});
        emit FundingMarked(pendingAssets, block.timestamp);
    }

    /// @dev See IPerpLeg (marking). Total: every venue view that reads a feed is behind try/catch.
    function _markedEquity(IPerpMarket.Position memory p)
        internal
        view
        returns (int256 equity, uint256 priceWad, bool exact)
    {
        if (p.sizeWad == 0) return (p.marginUsdc, 0, true);
        bool fresh;
        (priceWad, fresh) = _oraclePrice();
        if (fresh) {
            try _market.accountEquityUsdc(address(this)) returns (int256 e) {
                return (e, priceWad, true);
            } catch {}
        }
        int256 funding;
        try _market.pendingFundingUsdc(address(this)) returns (int256 f) {
            funding = f;
        } catch {
            funding = _worstCaseFunding(p.sizeWad, priceWad);
        }
        equity = p.marginUsdc + PerpMath.pnlUsdcDown(p.sizeWad, p.entryPriceWad, priceWad) + funding;
    }

    /// @dev The funding mark minus the most the venue's clamp lets the position pay since it was taken:
    ///      ⌈clamp8h · |s| · P / 1e48 · elapsed / 8 h⌉ (two roundings up: never smaller than exact).
    function _worstCaseFunding(int256 sizeWad, uint256 priceWad) internal view returns (int256) {
        FundingMark memory m = _fundingMark;
        uint256 elapsed = block.timestamp > m.at ? block.timestamp - m.at : 0;
        if (elapsed == 0) return m.pendingAssets;
        uint256 notional = Math.mulDiv(SignedMath.abs(sizeWad), priceWad, SCALE, Math.Rounding.Ceil);
        uint256 worst = Math.mulDiv(
            notional, _market.params().maxFundingRate8hWad * elapsed, WAD * FUNDING_PERIOD, Math.Rounding.Ceil
        );
        return int256(m.pendingAssets) - worst.toInt256();
    }

    /// @dev PerpMath.marginRatioWadDown for equity > 0 (the venue's formula, bit for bit), made total:
    ///      when |s|·P·mmr overflows (absurd prices only) the requirement is computed with mulDiv instead,
    ///      and the ratio is ⌊equity · 1e18 / ⌈requirement⌉⌋ (≈ 0 at such requirements).
    function _marginRatioWad(uint256 equity, uint256 absSize, uint256 priceWad, uint256 mmrWad)
        internal
        pure
        returns (uint256)
    {
        (bool ok1, uint256 sp) = Math.tryMul(absSize, priceWad);
        (bool ok2, uint256 d) = Math.tryMul(sp, mmrWad);
        if (ok1 && ok2 && d != 0) {
            if (equity / d > 5e10) return 5e76; // PerpMath's saturation
            return Math.mulDiv(equity, 1e66, d);
        }
        uint256 requirement = Math.mulDiv(absSize, priceWad * mmrWad, 1e48, Math.Rounding.Ceil);
        return requirement == 0 ? type(uint256).max : Math.mulDiv(equity, WAD, requirement);
    }

    function _nonZero(address market_) private pure returns (IPerpMarket) {
        if (market_ == address(0)) revert ZeroAddress("market");
        return IPerpMarket(market_);
    }
}
