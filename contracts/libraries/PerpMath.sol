// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";

/// @title PerpMath
/// @notice Pure arithmetic of the linear, USDC-margined ETH perpetual (PerpMarket). The formulas are
///         those of `keeper/risk.py` (perp_equity_usd, perp_maintenance_usd, perp_margin_ratio,
///         liquidation_price) written in integers; each name says which way it rounds.
/// @dev Units (all integers):
///        s   size, ETH wad (1e18 = 1 ETH), signed: long > 0, short < 0
///        P   price, EP entry price: USD per ETH, wad (1e18 = 1 USD)
///        m, f, money: USDC units (1e6 = 1 USD)
///        r   rates (imr, mmr, funding): wad (1e18 = 100%)
///        F   cumulative funding index: USD per 1 ETH of long size, wad
///      A size times a price is USD · 1e36, so USD · 1e36 / 1e30 = USDC units: `SCALE = 1e30`.
///      Rounding rule: money owed TO the venue rounds up, money owed BY the venue (or credited to a
///      trader) rounds down. Signed results "Down" round toward −∞ (floor), never toward zero.
///
///        unrealised PnL       pnl = ⌊(P − EP) · s / 1e30⌋
///        funding (settled)      f = ⌊−(F_now − F_snapshot) · s / 1e30⌋    (+ = received)
///        requirement          req = ⌈r · |s| · P / 1e48⌉                   (imr: initial, mmr: maintenance)
///        trading fee          fee = ⌈feeBps · |Δ| · P / (1e4 · 1e30)⌉
///        funding index step    ΔF = rate_per_sec · P · dt / 1e18          (truncated toward zero)
///        average entry         EP' = (EP·|s| + P·|Δ|) / (|s| + |Δ|)        (⌈⌉ for longs, ⌊⌋ for shorts)
///        margin ratio            = equity · 1e66 / (mmr · |s| · P)          (wad, ⌊⌋ toward −∞)
///        liquidation price       = (EP·s − (m+f)·1e30) · 1e18 / (s · (1e18 − sign(s)·mmr))
///                                  (⌈⌉ for longs, ⌊⌋ for shorts: never further from the mark than exact)
library PerpMath {
    using Math for uint256;

    uint256 internal constant WAD = 1e18;
    uint256 internal constant BPS = 10_000;
    /// @dev size (wad) × price (wad) / SCALE = USDC units.
    uint256 internal constant SCALE = 1e30;
    int256 internal constant SCALE_I = 1e30;
    /// @dev rate (wad) × size (wad) × price (wad) / REQ_SCALE = USDC units.
    uint256 internal constant REQ_SCALE = 1e48;
    /// @dev USDC equity × RATIO_SCALE / (mmr · |s| · P) = margin ratio, wad.
    uint256 internal constant RATIO_SCALE = 1e66;

    /// @notice ⌊a / b⌋ toward −∞, for b > 0.
    function floorDiv(int256 a, int256 b) internal pure returns (int256 q) {
        q = a / b;
        if (a % b != 0 && a < 0) q -= 1;
    }

    /// @notice Unrealised PnL in USDC of `sizeWad` entered at `entryPriceWad`, marked at `priceWad`:
    ///         ⌊(P − EP) · s / 1e30⌋ (a loss is rounded up in size, a gain down).
    function pnlUsdcDown(int256 sizeWad, uint256 entryPriceWad, uint256 priceWad) internal pure returns (int256) {
        if (sizeWad == 0) return 0;
        return floorDiv((int256(priceWad) - int256(entryPriceWad)) * sizeWad, SCALE_I);
    }

    /// @notice Funding in USDC received (+) or paid (−) by `sizeWad` while the cumulative index moved by
    ///         `indexDeltaWad`: ⌊−ΔF · s / 1e30⌋. Longs pay when the index rises.
    function fundingUsdcDown(int256 sizeWad, int256 indexDeltaWad) internal pure returns (int256) {
        if (sizeWad == 0 || indexDeltaWad == 0) return 0;
        return floorDiv(-indexDeltaWad * sizeWad, SCALE_I);
    }

    /// @notice Margin requirement in USDC at rate `rateWad` (imr or mmr): ⌈r · |s| · P / 1e48⌉.
    function requirementUsdcUp(int256 sizeWad, uint256 priceWad, uint256 rateWad) internal pure returns (uint256) {
        if (sizeWad == 0) return 0;
        return SignedMath.abs(sizeWad).mulDiv(priceWad * rateWad, REQ_SCALE, Math.Rounding.Ceil);
    }

    /// @notice Fee in USDC on a trade of `absSizeWad` at `priceWad`: ⌈bps · |Δ| · P / (1e4 · 1e30)⌉.
    function feeUsdcUp(uint256 absSizeWad, uint256 priceWad, uint256 bps) internal pure returns (uint256) {
        if (bps == 0) return 0;
        return absSizeWad.mulDiv(priceWad * bps, BPS * SCALE, Math.Rounding.Ceil);
    }

    /// @notice Step of the cumulative funding index (USD per ETH, wad) over `elapsed` seconds at
    ///         `ratePerSecWad` and index price `priceWad`: rate · P · dt / 1e18, truncated toward zero.
    function fundingIndexDeltaWad(int256 ratePerSecWad, uint256 priceWad, uint256 elapsed)
        internal
        pure
        returns (int256)
    {
        return ratePerSecWad * int256(priceWad) * int256(elapsed) / int256(WAD);
    }

    /// @notice Average entry price after adding `addWad` (same sign as `sizeWad`, or `sizeWad` = 0) at
    ///         `priceWad`, rounded against the trader: up for a long, down for a short.
    function entryPriceAgainstTraderWad(int256 sizeWad, uint256 entryPriceWad, int256 addWad, uint256 priceWad)
        internal
        pure
        returns (uint256)
    {
        if (sizeWad == 0) return priceWad;
        uint256 held = SignedMath.abs(sizeWad);
        uint256 added = SignedMath.abs(addWad);
        uint256 num = entryPriceWad * held + priceWad * added;
        return addWad > 0 ? num.ceilDiv(held + added) : num / (held + added);
    }

    /// @notice Margin ratio equity / maintenance, wad (1e18 = at maintenance), rounded toward −∞.
    ///         type(int256).max when flat; saturates at ±5e76 for absurd inputs instead of overflowing.
    function marginRatioWadDown(int256 equityUsdc, int256 sizeWad, uint256 priceWad, uint256 mmrWad)
        internal
        pure
        returns (int256)
    {
        if (sizeWad == 0) return type(int256).max;
        uint256 d = SignedMath.abs(sizeWad) * priceWad * mmrWad; // USD · 1e54
        uint256 mag = SignedMath.abs(equityUsdc);
        if (mag / d > 5e10) return equityUsdc > 0 ? int256(5e76) : -int256(5e76);
        if (equityUsdc >= 0) return int256(mag.mulDiv(RATIO_SCALE, d, Math.Rounding.Floor));
        return -int256(mag.mulDiv(RATIO_SCALE, d, Math.Rounding.Ceil));
    }

    /// @notice Mark at which equity = maintenance: (EP·s − m − f) / (s − mmr·|s|), wad. `marginPlusFundingUsdc`
    ///         is m + f. Returns 0 when there is none: flat, or a long whose margin covers its whole
    ///         entry notional. A short whose formula is ≤ 0 (liquidatable at every price) also returns 0:
    ///         "long: liquidated when P ≤ result; short: when P ≥ result" reads right in both cases.
    ///         Rounded toward the mark's side: up for a long, down for a short.
    function liquidationPriceWad(int256 sizeWad, uint256 entryPriceWad, int256 marginPlusFundingUsdc, uint256 mmrWad)
        internal
        pure
        returns (uint256)
    {
        if (sizeWad == 0) return 0;
        uint256 held = SignedMath.abs(sizeWad);
        int256 entryNotional = int256(entryPriceWad * held); // USD · 1e36
        int256 cash = marginPlusFundingUsdc * SCALE_I; // USD · 1e36
        if (sizeWad > 0) {
            int256 num = entryNotional - cash;
            if (num <= 0) return 0;
            return uint256(num).mulDiv(WAD, held * (WAD - mmrWad), Math.Rounding.Ceil);
        }
        int256 numShort = entryNotional + cash;
        if (numShort <= 0) return 0;
        return uint256(numShort).mulDiv(WAD, held * (WAD + mmrWad), Math.Rounding.Floor);
    }
}
