// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title BlackScholes
/// @notice Fixed-point Black-76 prices and Greeks of European options on a forward, for on-chain
///         quoting. All amounts are wads (1e18 = 1.0); time is in seconds with a 365-day year (the
///         convention of keeper/pricing.py).
/// @dev Model (Black 1976), with F the forward, K the strike, T = tau / 365 days, s = σ·√T,
///      D = e^{−rT} the discount factor supplied by the caller:
///        d1 = (ln(F/K) + s²/2) / s,   d2 = d1 − s
///        call = D·(F·N(d1) − K·N(d2)),   put = D·(K·N(−d2) − F·N(−d1))
///      Evaluation: the out-of-the-money option is computed from the two small tail probabilities
///      and the in-the-money one follows from put-call parity (call − put = D·(F − K)), so there is no
///      cancellation of two numbers close to F. d2 is formed as d1 − s exactly, which makes any error
///      in d1 act like a relative error in F of the same size times s (harmless); the remaining errors
///      are those of N (Cody's approximation: below 2.6e-19 absolute) and of the final wad roundings.
///      Internally the helpers work in 1e27 or 1e36 fixed point; only results are rounded to wads.
///
///      Input domain (anything else reverts with a custom error carrying the values):
///        forward, strike in [1e-6, 1e12] (1e12 .. 1e30 as wad);  tau ≤ 5 years;
///        sigma ≤ 10 (1000 %);  0 < discount ≤ 1 (r ≥ 0).
///      Inside it no intermediate value can overflow (the bounds are noted next to each step), so the
///      arithmetic kernels run unchecked.
///
///      Accuracy (against an 80-digit decimal reference, tests/contracts/test_black_scholes.py): the
///      price error is below 4e-19·(F + K) + 1 wei over the whole domain (tested bound: 1e-18·(F + K)
///      + 2 wei). `priceErrorBoundWad(F, K)` = (F + K)·1e-15 + 4 wei, more than 1000 times that, is
///      what black76Up adds and black76Down subtracts, so priceDown ≤ exact price ≤ priceUp.
///      sigma = 0 or tau = 0 is not an error: the option is worth its discounted intrinsic value.
///      Gas (library code only, bench/black_scholes_gas.py): about 6 600 for black76Up at the money,
///      30 days, 70 %; 5 000 to 8 400 across typical quotes; about 1 000 more for black76Greeks.
library BlackScholes {
    // ------------------------------------------------------------------------------------------
    // errors
    // ------------------------------------------------------------------------------------------

    /// @notice The forward or the strike lies outside [MIN_PRICE_WAD, MAX_PRICE_WAD] (zero included).
    error BlackScholesInvalidInput(uint256 forwardWad, uint256 strikeWad);
    /// @notice Time to expiry above MAX_TAU_SEC.
    error BlackScholesTauTooLong(uint256 tauSec, uint256 maxTauSec);
    /// @notice Volatility above MAX_SIGMA_WAD.
    error BlackScholesSigmaTooHigh(uint256 sigmaWad, uint256 maxSigmaWad);
    /// @notice Discount factor not in (0, 1e18] (a zero factor or a negative rate).
    error BlackScholesInvalidDiscount(uint256 discountWad);
    /// @notice ln(0) is undefined.
    error BlackScholesLnOfZero();
    /// @notice e^x does not fit in a uint256 wad for x > MAX_EXP_WAD.
    error BlackScholesExpOverflow(int256 xWad);

    // ------------------------------------------------------------------------------------------
    // domain and units
    // ------------------------------------------------------------------------------------------

    /// @notice One in wad (1e18) fixed point.
    uint256 internal constant WAD = 1e18;
    /// @notice Seconds in a year (365 days), as in keeper/pricing.py.
    uint256 internal constant YEAR = 365 days;
    /// @notice Smallest accepted forward or strike: 1e-6.
    uint256 internal constant MIN_PRICE_WAD = 1e12;
    /// @notice Largest accepted forward or strike: 1e12.
    uint256 internal constant MAX_PRICE_WAD = 1e30;
    /// @notice Longest accepted time to expiry: five years.
    uint256 internal constant MAX_TAU_SEC = 5 * YEAR;
    /// @notice Highest accepted volatility: 10.0 (1000 % a year).
    uint256 internal constant MAX_SIGMA_WAD = 10e18;
    /// @notice Largest argument of expWad: e^135 · 1e18 ≈ 4.3e76 still fits in a uint256.
    int256 internal constant MAX_EXP_WAD = 135e18;
    /// @notice Below this argument expWad is 0 (e^-42 < 1e-18, less than one wei).
    int256 internal constant MIN_EXP_WAD = -42e18;
    /// @notice Relative part of the price error bound: 1e-15 of (forward + strike), as wad (1e3 wei per 1e18).
    uint256 internal constant ERROR_BOUND_PER_WAD = 1e3;
    /// @notice Absolute part of the price error bound, in wei.
    uint256 internal constant ERROR_BOUND_WEI = 4;

    // ------------------------------------------------------------------------------------------
    // internal fixed-point constants
    // ------------------------------------------------------------------------------------------

    int256 private constant ONE_27 = 1e27;
    int256 private constant ONE_36 = 1e36;
    /// @dev ln 2 · 1e36.
    int256 private constant LN2_36 = 693147180559945309417232121458176568;
    /// @dev ln(1e18) · 1e36 (converts ln of a wad integer into ln of its value).
    int256 private constant LN_1E18_36 = 41446531673892822312323846184318555737;
    /// @dev √2 · 1e36.
    uint256 private constant SQRT2_36 = 1414213562373095048801688724209698079;
    /// @dev 1/√2 · 1e36.
    uint256 private constant INV_SQRT2_36 = 707106781186547524400844362104849039;
    /// @dev 1/√(2π) · 1e36.
    uint256 private constant INV_SQRT_2PI_36 = 398942280401432677939946059934381868;
    /// @dev Bits the forward is shifted left before dividing by the strike (F·2^150 < 2^250).
    uint256 private constant RATIO_SHIFT = 150;
    /// @dev |d| at or beyond which N(d) is 0 or 1 to 1e-36 (N(−14) ≈ 7.8e-45).
    uint256 private constant CDF_CUTOFF_WAD = 14e18;

    // Padé [7/7] of e^r on |r| ≤ ln2/2: e^r ≈ (E + r·O)/(E − r·O), E(r²) and O(r²) below, 1e36
    // scale; relative error ≤ 2.8e-23.
    int256 private constant PADE_E2 = 115384615384615384615384615384615385; // 3/26
    int256 private constant PADE_E4 = 1456876456876456876456876456876457; // 5/3432
    int256 private constant PADE_E6 = 3237503237503237503237503237503; // 1/308880
    int256 private constant PADE_O0 = 500000000000000000000000000000000000; // 1/2
    int256 private constant PADE_O2 = 16025641025641025641025641025641026; // 5/312
    int256 private constant PADE_O4 = 87412587412587412587412587412587; // 1/11440
    int256 private constant PADE_O6 = 57812557812557812557812557813; // 1/17297280

    // W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23 (1969)
    // 631-638, in the form of his CALERF routine (netlib specfun). The published coefficients carry
    // 18 significant digits; the approximations are good to about 18 digits.
    // erf(y) = y·A(y²)/B(y²) for y ≤ 0.46875. Scale 1e27.
    int256 private constant CODY_A0 = 3161123743870565600000000000;
    int256 private constant CODY_A1 = 113864154151050156000000000000;
    int256 private constant CODY_A2 = 377485237685302021000000000000;
    int256 private constant CODY_A3 = 3209377589138469470000000000000;
    int256 private constant CODY_A4 = 185777706184603153000000000;
    int256 private constant CODY_B0 = 23601290952344120900000000000;
    int256 private constant CODY_B1 = 244024637934444173000000000000;
    int256 private constant CODY_B2 = 1282616526077372280000000000000;
    int256 private constant CODY_B3 = 2844236833439170620000000000000;
    // erfc(y) = e^{−y²}·C(y)/D(y) for 0.46875 < y ≤ 4. Scale 1e27.
    int256 private constant CODY_C0 = 564188496988670089000000000;
    int256 private constant CODY_C1 = 8883149794388375940000000000;
    int256 private constant CODY_C2 = 66119190637141629500000000000;
    int256 private constant CODY_C3 = 298635138197400131000000000000;
    int256 private constant CODY_C4 = 881952221241769090000000000000;
    int256 private constant CODY_C5 = 1712047612634070580000000000000;
    int256 private constant CODY_C6 = 2051078377826071470000000000000;
    int256 private constant CODY_C7 = 1230339354797997250000000000000;
    int256 private constant CODY_C8 = 21531153547440384600; // 2.15311535474403846e-8
    int256 private constant CODY_D0 = 15744926110709834700000000000;
    int256 private constant CODY_D1 = 117693950891312499000000000000;
    int256 private constant CODY_D2 = 537181101862009858000000000000;
    int256 private constant CODY_D3 = 1621389574566690190000000000000;
    int256 private constant CODY_D4 = 3290799235733459630000000000000;
    int256 private constant CODY_D5 = 4362619090143247160000000000000;
    int256 private constant CODY_D6 = 3439367674143721640000000000000;
    int256 private constant CODY_D7 = 1230339354803749420000000000000;
    // erfc(y) = e^{−y²}/y·(1/√π − z·P(z)/Q(z)), z = 1/y², for y > 4. Scale 1e36.
    int256 private constant CODY_P0 = 305326634961232344000000000000000000;
    int256 private constant CODY_P1 = 360344899949804439000000000000000000;
    int256 private constant CODY_P2 = 125781726111229246000000000000000000;
    int256 private constant CODY_P3 = 16083785148742276600000000000000000;
    int256 private constant CODY_P4 = 658749161529837803000000000000000;
    int256 private constant CODY_P5 = 16315387137302097800000000000000000;
    int256 private constant CODY_Q0 = 2568520192289822420000000000000000000;
    int256 private constant CODY_Q1 = 1872952849923460470000000000000000000;
    int256 private constant CODY_Q2 = 527905102951428412000000000000000000;
    int256 private constant CODY_Q3 = 60518341312441319100000000000000000;
    int256 private constant CODY_Q4 = 2335204976268691850000000000000000;
    /// @dev 1/√π · 1e36, as in CALERF (SQRPI = 0.56418958354775628695).
    int256 private constant CODY_SQRPI_36 = 564189583547756286950000000000000000;
    /// @dev Range limits in y = |d|/√2 (1e27 scale): 0.46875 and 4.
    uint256 private constant CODY_Y_SMALL_27 = 468750000000000000000000000;
    uint256 private constant CODY_Y_MID_27 = 4e27;

    // ------------------------------------------------------------------------------------------
    // Black-76
    // ------------------------------------------------------------------------------------------

    /// @notice Black-76 price, rounded to the nearest wei of the computed value (no bias either way).
    /// @param isCall True for a call, false for a put.
    /// @param forwardWad Forward (or futures) price F, wad, in [1e12, 1e30].
    /// @param strikeWad Strike K, wad, in [1e12, 1e30].
    /// @param tauSec Time to expiry in seconds, ≤ 5 years (0 = at expiry: intrinsic value).
    /// @param sigmaWad Annualised volatility σ, wad (0.7e18 = 70 %), ≤ 10e18 (0: intrinsic value).
    /// @param discountWad Discount factor e^{−rT}, wad, in (0, 1e18] (1e18 when r = 0).
    /// @return priceWad D·(F·N(d1) − K·N(d2)) for a call, D·(K·N(−d2) − F·N(−d1)) for a put; within
    ///         priceErrorBoundWad(F, K) of the exact value.
    function black76(
        bool isCall,
        uint256 forwardWad,
        uint256 strikeWad,
        uint256 tauSec,
        uint256 sigmaWad,
        uint256 discountWad
    ) internal pure returns (uint256 priceWad) {
        (int256 value,,,) = _undiscounted(isCall, forwardWad, strikeWad, tauSec, sigmaWad, discountWad);
        priceWad = _clampToBounds(_mulNearest(value, discountWad), isCall, forwardWad, strikeWad, discountWad);
    }

    /// @notice Black-76 price rounded UP: never below the exact price (what a buyer pays).
    /// @dev The computed price plus priceErrorBoundWad(F, K), capped at the no-arbitrage maximum
    ///      D·F (call) or D·K (put) rounded up. Exact (the discounted intrinsic value rounded up) when
    ///      tau = 0 or sigma = 0. Parameters as in black76.
    /// @return priceWad An upper bound of the exact Black-76 price.
    function black76Up(
        bool isCall,
        uint256 forwardWad,
        uint256 strikeWad,
        uint256 tauSec,
        uint256 sigmaWad,
        uint256 discountWad
    ) internal pure returns (uint256 priceWad) {
        (int256 value,,, bool exact) = _undiscounted(isCall, forwardWad, strikeWad, tauSec, sigmaWad, discountWad);
        priceWad = _roundUp(value, exact, isCall, forwardWad, strikeWad, discountWad);
    }

    /// @notice Black-76 price rounded DOWN: never above the exact price (what a seller receives).
    /// @dev The computed price minus priceErrorBoundWad(F, K), but never below the discounted
    ///      intrinsic value D·max(±(F − K), 0) rounded down (a true lower bound). Exact (that
    ///      intrinsic value) when tau = 0 or sigma = 0. Parameters as in black76.
    /// @return priceWad A lower bound of the exact Black-76 price.
    function black76Down(
        bool isCall,
        uint256 forwardWad,
        uint256 strikeWad,
        uint256 tauSec,
        uint256 sigmaWad,
        uint256 discountWad
    ) internal pure returns (uint256 priceWad) {
        (int256 value,,, bool exact) = _undiscounted(isCall, forwardWad, strikeWad, tauSec, sigmaWad, discountWad);
        priceWad = _roundDown(value, exact, isCall, forwardWad, strikeWad, discountWad);
    }

    /// @notice black76Down, black76Up and the delta of black76WithDelta, from one evaluation of the
    ///         model: the same three values as the separate functions on the same inputs, for about a
    ///         third of the gas (a mark with its delta, as a venue values a position).
    /// @dev Parameters as in black76.
    /// @return lowWad black76Down: a lower bound of the exact price.
    /// @return highWad black76Up: an upper bound of the exact price.
    /// @return deltaWad The delta, as black76WithDelta.
    function black76Bounds(
        bool isCall,
        uint256 forwardWad,
        uint256 strikeWad,
        uint256 tauSec,
        uint256 sigmaWad,
        uint256 discountWad
    ) internal pure returns (uint256 lowWad, uint256 highWad, int256 deltaWad) {
        (int256 value, int256 n1,, bool exact) =
            _undiscounted(isCall, forwardWad, strikeWad, tauSec, sigmaWad, discountWad);
        lowWad = _roundDown(value, exact, isCall, forwardWad, strikeWad, discountWad);
        highWad = _roundUp(value, exact, isCall, forwardWad, strikeWad, discountWad);
        deltaWad = _delta(isCall, n1, discountWad);
    }

    /// @notice Black-76 price (nearest, as black76) and delta ∂V/∂F.
    /// @dev Delta is D·N(d1) for a call and −D·N(−d1) for a put, rounded to nearest. Its error is at
    ///      most 2 wei (measured: 0.8) whenever σ√T ≥ 1e-9 (e.g. any sigma ≥ 0.001 % with tau ≥ 1 s);
    ///      in general 2 + 2.4e-10/(σ√T) wei, because s = σ√T is held to 1e-27 absolute, which matters
    ///      for d1 only when s is that small (the price is unaffected). At tau = 0 or sigma = 0 it is
    ///      the step D (in the money), 0 (out of the money) or ±D/2 (at the money), as
    ///      keeper.pricing.greeks. Parameters as in black76.
    /// @return priceWad The price, as black76.
    /// @return deltaWad The delta with respect to the forward, signed wad in [−1e18, 1e18].
    function black76WithDelta(
        bool isCall,
        uint256 forwardWad,
        uint256 strikeWad,
        uint256 tauSec,
        uint256 sigmaWad,
        uint256 discountWad
    ) internal pure returns (uint256 priceWad, int256 deltaWad) {
        int256 value;
        int256 n1;
        (value, n1,,) = _undiscounted(isCall, forwardWad, strikeWad, tauSec, sigmaWad, discountWad);
        priceWad = _clampToBounds(_mulNearest(value, discountWad), isCall, forwardWad, strikeWad, discountWad);
        deltaWad = _delta(isCall, n1, discountWad);
    }

    /// @notice Black-76 price, delta ∂V/∂F and vega ∂V/∂σ (per 1.00 of volatility).
    /// @dev Vega = D·F·n(d1)·√T, rounded down; error below 1e-17·F·√T + 3 wei when σ√T ≥ 1e-9 (in
    ///      general F·√T·(1e-17 + 3e-28/(σ√T)) + 3 wei, for the reason given at black76WithDelta). Zero
    ///      at tau = 0, sigma = 0 or |d1| ≥ 14 (where the exact vega is below 1e-43·F·√T). Parameters as
    ///      in black76.
    /// @return priceWad The price, as black76.
    /// @return deltaWad The delta, as black76WithDelta.
    /// @return vegaWad The vega per 1.00 of volatility (divide by 100 for a vol point), wad.
    function black76Greeks(
        bool isCall,
        uint256 forwardWad,
        uint256 strikeWad,
        uint256 tauSec,
        uint256 sigmaWad,
        uint256 discountWad
    ) internal pure returns (uint256 priceWad, int256 deltaWad, uint256 vegaWad) {
        (int256 value, int256 n1, int256 d1,) =
            _undiscounted(isCall, forwardWad, strikeWad, tauSec, sigmaWad, discountWad);
        priceWad = _clampToBounds(_mulNearest(value, discountWad), isCall, forwardWad, strikeWad, discountWad);
        deltaWad = _delta(isCall, n1, discountWad);
        vegaWad = _vega(forwardWad, tauSec, discountWad, d1);
    }

    /// @notice The error bound used by black76Up and black76Down: (F + K)·1e-15 + 4 wei, rounded up.
    /// @dev The error of the computed price is below 4e-19·(F + K) + 1 wei over the whole domain
    ///      (measured; dominated by the 2.6e-19 error of Cody's approximation of N times F and K), so
    ///      the bound has a margin of more than 1000x. It also covers the rounding error of a
    ///      double-precision pricer (about 2e-16·(F + K)), so black76Up/Down bracket keeper.pricing too.
    /// @param forwardWad Forward price, wad.
    /// @param strikeWad Strike, wad.
    /// @return boundWad The bound in wad.
    function priceErrorBoundWad(uint256 forwardWad, uint256 strikeWad) internal pure returns (uint256 boundWad) {
        boundWad = _mulDivUp(forwardWad + strikeWad, ERROR_BOUND_PER_WAD, WAD) + ERROR_BOUND_WEI;
    }

    // ------------------------------------------------------------------------------------------
    // math helpers (exposed for tests and other libraries)
    // ------------------------------------------------------------------------------------------

    /// @notice Natural logarithm of a wad: ln(x / 1e18) · 1e18, rounded to nearest.
    /// @dev Any x > 0 (the whole uint256 range). Error at most 1 wei (the final rounding plus about
    ///      1e-21 from the series). Reverts with BlackScholesLnOfZero for x = 0.
    /// @param x The argument, wad.
    /// @return The logarithm, signed wad.
    function lnWad(uint256 x) internal pure returns (int256) {
        if (x == 0) revert BlackScholesLnOfZero();
        return _divNearest(_ln36(x) - LN_1E18_36, 1e18);
    }

    /// @notice Exponential of a wad: e^{x / 1e18} · 1e18, rounded down.
    /// @dev Relative error below 1e-22 plus the final rounding (under 1 wei). 0 for x < −42e18;
    ///      reverts with BlackScholesExpOverflow for x > 135e18.
    /// @param x The exponent, signed wad.
    /// @return The exponential, wad.
    function expWad(int256 x) internal pure returns (uint256) {
        if (x > MAX_EXP_WAD) revert BlackScholesExpOverflow(x);
        if (x < MIN_EXP_WAD) return 0;
        unchecked {
            // |x·1e18| ≤ 1.35e56; k in [−61, 195]; e^r·1e36 < 1.5e36 < 2^121.
            (int256 k, uint256 er) = _expReduced(x * 1e18);
            if (k < 0) return er / (WAD << uint256(-k));
            if (k <= 135) return (er << uint256(k)) / WAD;
            return ((er << 135) / WAD) << uint256(k - 135);
        }
    }

    /// @notice Square root of a wad: √(x / 1e18) · 1e18, rounded down.
    /// @dev Exact floor for x < 1.15e59 (√(x·1e18) computed in integers); above that
    ///      ⌊√x⌋·1e9, which is low by less than 1e9 wei (relative error < 1e-20).
    /// @param x The argument, wad.
    /// @return The square root, wad.
    function sqrtWad(uint256 x) internal pure returns (uint256) {
        if (x <= type(uint256).max / WAD) return _sqrt(x * WAD);
        return _sqrt(x) * 1e9;
    }

    /// @notice Standard normal cumulative distribution N(x), wad, rounded to nearest.
    /// @dev Cody's rational Chebyshev approximations of erf/erfc (18 digits) evaluated in 1e27/1e36
    ///      fixed point: absolute error below 3e-19 before the final rounding (2.6e-19 is Cody's own),
    ///      so the wad result is within 1 wei of the exact value; N(x) + N(−x) = 1e18 to the wei.
    ///      0 for x ≤ −14e18 and 1e18 for x ≥ 14e18.
    /// @param x The argument, signed wad (any int256).
    /// @return N(x), wad in [0, 1e18].
    function normCdfWad(int256 x) internal pure returns (uint256) {
        return (_normCdf36(x) + 5e17) / 1e18;
    }

    /// @notice Standard normal density n(x) = e^{−x²/2}/√(2π), wad, rounded down.
    /// @dev Relative error below 1e-22 plus the final rounding; 0 for |x| ≥ 14e18.
    /// @param x The argument, signed wad (any int256).
    /// @return n(x), wad.
    function normPdfWad(int256 x) internal pure returns (uint256) {
        uint256 a = _abs(x);
        if (a >= CDF_CUTOFF_WAD) return 0;
        unchecked {
            return _exp36(-int256(a * a / 2)) * INV_SQRT_2PI_36 / 1e54;
        }
    }

    // ------------------------------------------------------------------------------------------
    // Black-76 internals
    // ------------------------------------------------------------------------------------------

    /// @dev Validates the inputs and returns the undiscounted option value (wad, signed: may be a few
    ///      wei below zero for a far out-of-the-money option), N(d1) in 1e36 (for the delta), d1 in wad
    ///      and whether the value is exact. It is exact when tau = 0 or sigma = 0 — the only inputs for
    ///      which s = σ√T rounds to 0 in 1e27 (the smallest nonzero σ²·tau gives s ≈ 1.8e-22): the
    ///      intrinsic value, N(d1) = 1e36, 0 or 0.5e36 by moneyness, and d1 reported as
    ///      CDF_CUTOFF_WAD (no vega).
    function _undiscounted(
        bool isCall,
        uint256 forwardWad,
        uint256 strikeWad,
        uint256 tauSec,
        uint256 sigmaWad,
        uint256 discountWad
    ) private pure returns (int256 value, int256 n1, int256 d1, bool exact) {
        _validate(forwardWad, strikeWad, tauSec, sigmaWad, discountWad);
        uint256 s27 = _stdDev27(tauSec, sigmaWad);
        if (s27 == 0) {
            value = int256(_intrinsic(isCall, forwardWad, strikeWad));
            n1 = forwardWad > strikeWad ? ONE_36 : (forwardWad < strikeWad ? int256(0) : ONE_36 / 2);
            return (value, n1, int256(CDF_CUTOFF_WAD), true);
        }
        d1 = _d1Wad(forwardWad, strikeWad, s27);
        (value, n1) = _value(isCall, forwardWad, strikeWad, d1, d1 - int256((s27 + 5e8) / 1e9));
    }

    /// @dev Undiscounted value from d1 and d2 = d1 − s (wad): the out-of-the-money option from the two
    ///      tail probabilities, the other by parity. Also returns N(d1) in 1e36.
    function _value(bool isCall, uint256 forwardWad, uint256 strikeWad, int256 d1, int256 d2)
        private
        pure
        returns (int256 value, int256 n1)
    {
        int256 f = int256(forwardWad);
        int256 k = int256(strikeWad);
        unchecked {
            // F, K ≤ 1e30 and N ≤ 1e36: each product ≤ 1e66.
            if (forwardWad <= strikeWad) {
                // the call is out of the money (or at it): C = F·N(d1) − K·N(d2); P = C + K − F
                n1 = int256(_normCdf36(d1));
                int256 call = _divNearest(f * n1 - k * int256(_normCdf36(d2)), ONE_36);
                value = isCall ? call : call + (k - f);
            } else {
                // the put is out of the money: P = K·N(−d2) − F·N(−d1); C = P + F − K
                int256 m1 = int256(_normCdf36(-d1));
                n1 = ONE_36 - m1;
                int256 put = _divNearest(k * int256(_normCdf36(-d2)) - f * m1, ONE_36);
                value = isCall ? put + (f - k) : put;
            }
        }
    }

    /// @dev Reverts unless the inputs lie in the documented domain.
    function _validate(uint256 forwardWad, uint256 strikeWad, uint256 tauSec, uint256 sigmaWad, uint256 discountWad)
        private
        pure
    {
        if (
            forwardWad < MIN_PRICE_WAD || forwardWad > MAX_PRICE_WAD || strikeWad < MIN_PRICE_WAD
                || strikeWad > MAX_PRICE_WAD
        ) revert BlackScholesInvalidInput(forwardWad, strikeWad);
        if (tauSec > MAX_TAU_SEC) revert BlackScholesTauTooLong(tauSec, MAX_TAU_SEC);
        if (sigmaWad > MAX_SIGMA_WAD) revert BlackScholesSigmaTooHigh(sigmaWad, MAX_SIGMA_WAD);
        if (discountWad == 0 || discountWad > WAD) revert BlackScholesInvalidDiscount(discountWad);
    }

    /// @dev s = σ·√(tau / YEAR) in 1e27, rounded down (error < 1e-27): ⌊√⌊σ²·tau·1e18/YEAR⌋⌋.
    ///      σ² ≤ 1e38, tau ≤ 1.6e8: the product stays below 2e64.
    function _stdDev27(uint256 tauSec, uint256 sigmaWad) private pure returns (uint256) {
        unchecked {
            return _sqrt(sigmaWad * sigmaWad * tauSec * 1e18 / YEAR);
        }
    }

    /// @dev d1 = (ln(F/K) + s²/2) / s in wad, rounded to nearest, for s > 0 given in 1e27:
    ///      (2·ln(F/K)·1e54 + s27²) / (2·s27·1e9). |ln(F/K)| ≤ 41.5 and s ≤ 22.4 in the domain, so the
    ///      numerator stays below 6e56. ln(F/K) comes from one logarithm of ⌊F·2^150 / K⌋ (relative
    ///      rounding below 1e-27 since F·2^150/K ≥ 1.4e27).
    function _d1Wad(uint256 forwardWad, uint256 strikeWad, uint256 s27) private pure returns (int256) {
        unchecked {
            int256 x36 = _ln36((forwardWad << RATIO_SHIFT) / strikeWad) - int256(RATIO_SHIFT) * LN2_36;
            int256 si = int256(s27);
            return _divNearest(2 * x36 * 1e18 + si * si, 2 * si * 1e9);
        }
    }

    /// @dev Delta from N(d1) (1e36): D·N(d1) for a call, D·(N(d1) − 1) for a put, wad, nearest.
    function _delta(bool isCall, int256 n1, uint256 discountWad) private pure returns (int256) {
        unchecked {
            int256 n = isCall ? n1 : n1 - ONE_36;
            return _divNearest(n * int256(discountWad), ONE_36);
        }
    }

    /// @dev Vega D·F·n(d1)·√T, wad, rounded down; 0 when |d1| ≥ 14 (also the degenerate case).
    function _vega(uint256 forwardWad, uint256 tauSec, uint256 discountWad, int256 d1) private pure returns (uint256) {
        uint256 a = _abs(d1);
        if (a >= CDF_CUTOFF_WAD) return 0;
        unchecked {
            // a < 14e18: a² < 2e38; n(d1) ≤ 0.4e36; √T ≤ 2.3e27 (1e27 scale). The product is carried
            // with 9 extra digits (F·n/1e27 ≤ 4e38, ·√T ≤ 1e66, ·D ≤ 1e57) and rounded down once.
            uint256 pdf36 = _exp36(-int256(a * a / 2)) * INV_SQRT_2PI_36 / uint256(ONE_36);
            uint256 sqrtT27 = _sqrt(tauSec * 1e54 / YEAR);
            return forwardWad * pdf36 / 1e27 * sqrtT27 / 1e27 * discountWad / 1e27;
        }
    }

    /// @dev black76Up from the undiscounted value: D·value rounded up plus the error bound (none when
    ///      exact), clamped into [D·intrinsic, D·F or D·K], both rounded up (the exact price lies inside).
    function _roundUp(int256 value, bool exact, bool isCall, uint256 forwardWad, uint256 strikeWad, uint256 discountWad)
        private
        pure
        returns (uint256)
    {
        uint256 up = value <= 0 ? 0 : _mulDivUp(uint256(value), discountWad, WAD);
        if (!exact) up += priceErrorBoundWad(forwardWad, strikeWad);
        uint256 hi = _mulDivUp(isCall ? forwardWad : strikeWad, discountWad, WAD);
        uint256 lo = _mulDivUp(_intrinsic(isCall, forwardWad, strikeWad), discountWad, WAD);
        return up > hi ? hi : (up < lo ? lo : up);
    }

    /// @dev black76Down from the undiscounted value: D·value rounded down minus the error bound (none
    ///      when exact), never below the discounted intrinsic value rounded down (a true lower bound).
    function _roundDown(
        int256 value,
        bool exact,
        bool isCall,
        uint256 forwardWad,
        uint256 strikeWad,
        uint256 discountWad
    ) private pure returns (uint256) {
        uint256 down = value <= 0 ? 0 : _mulDivDown(uint256(value), discountWad, WAD);
        if (!exact) {
            uint256 bound = priceErrorBoundWad(forwardWad, strikeWad);
            down = down > bound ? down - bound : 0;
        }
        uint256 lo = _mulDivDown(_intrinsic(isCall, forwardWad, strikeWad), discountWad, WAD);
        return down < lo ? lo : down;
    }

    /// @dev max(F − K, 0) for a call, max(K − F, 0) for a put.
    function _intrinsic(bool isCall, uint256 forwardWad, uint256 strikeWad) private pure returns (uint256) {
        if (isCall) return forwardWad > strikeWad ? forwardWad - strikeWad : 0;
        return strikeWad > forwardWad ? strikeWad - forwardWad : 0;
    }

    /// @dev Clamps a computed (discounted) price into the no-arbitrage range
    ///      [D·intrinsic, D·F] (call) or [D·intrinsic, D·K] (put).
    function _clampToBounds(int256 price, bool isCall, uint256 forwardWad, uint256 strikeWad, uint256 discountWad)
        private
        pure
        returns (uint256)
    {
        uint256 lo = _mulDivDown(_intrinsic(isCall, forwardWad, strikeWad), discountWad, WAD);
        uint256 hi = _mulDivDown(isCall ? forwardWad : strikeWad, discountWad, WAD);
        if (price <= int256(lo)) return lo;
        return uint256(price) > hi ? hi : uint256(price);
    }

    // ------------------------------------------------------------------------------------------
    // normal distribution internals
    // ------------------------------------------------------------------------------------------

    /// @dev N(d) in 1e36 for d in wad. With y = |d|/√2, N(−|d|) = erfc(y)/2, and erfc from Cody's three
    ///      ranges: y ≤ 0.46875 through erf, y ≤ 4 through e^{−y²}·C(y)/D(y), beyond through the
    ///      asymptotic form. e^{−y²} = e^{−d²/2} is evaluated from d² exactly (no error in the exponent).
    ///      Absolute error below 3e-19 (Cody's approximation: 2.6e-19; fixed point: about 1e-26).
    function _normCdf36(int256 d) private pure returns (uint256) {
        if (d <= -int256(CDF_CUTOFF_WAD)) return 0;
        if (d >= int256(CDF_CUTOFF_WAD)) return uint256(ONE_36);
        unchecked {
            uint256 a = _abs(d); // < 14e18
            uint256 y27 = (a * INV_SQRT2_36 + 5e26) / 1e27; // |d|/√2, 1e27, < 1e28
            if (y27 <= CODY_Y_SMALL_27) {
                // N(d) = 1/2 + erf(d/√2)/2, erf(y) = y·A(y²)/B(y²)
                int256 ysq = int256(a * a / 2e9); // y² in 1e27 (a² < 0.45e36)
                int256 num = CODY_A4 * ysq / ONE_27;
                int256 den = ysq;
                num = (num + CODY_A0) * ysq / ONE_27;
                den = (den + CODY_B0) * ysq / ONE_27;
                num = (num + CODY_A1) * ysq / ONE_27;
                den = (den + CODY_B1) * ysq / ONE_27;
                num = (num + CODY_A2) * ysq / ONE_27;
                den = (den + CODY_B2) * ysq / ONE_27;
                uint256 ratio36 = uint256((num + CODY_A3) * ONE_36 / (den + CODY_B3)); // ≤ 1.13e36
                uint256 halfErf = (a * INV_SQRT2_36 / 1e18) * ratio36 / 2e36; // y·ratio/2 (y ≤ 0.47e36)
                return d >= 0 ? 5e35 + halfErf : 5e35 - halfErf;
            }
            uint256 erfcx36; // e^{y²}·erfc(y), 1e36
            if (y27 <= CODY_Y_MID_27) {
                int256 y = int256(y27);
                int256 num = CODY_C8 * y / ONE_27;
                int256 den = y;
                num = (num + CODY_C0) * y / ONE_27;
                den = (den + CODY_D0) * y / ONE_27;
                num = (num + CODY_C1) * y / ONE_27;
                den = (den + CODY_D1) * y / ONE_27;
                num = (num + CODY_C2) * y / ONE_27;
                den = (den + CODY_D2) * y / ONE_27;
                num = (num + CODY_C3) * y / ONE_27;
                den = (den + CODY_D3) * y / ONE_27;
                num = (num + CODY_C4) * y / ONE_27;
                den = (den + CODY_D4) * y / ONE_27;
                num = (num + CODY_C5) * y / ONE_27;
                den = (den + CODY_D5) * y / ONE_27;
                num = (num + CODY_C6) * y / ONE_27;
                den = (den + CODY_D6) * y / ONE_27; // both < 1e34 (y ≤ 4)
                erfcx36 = uint256((num + CODY_C7) * ONE_36 / (den + CODY_D7));
            } else {
                int256 z = int256(2e72 / (a * a)); // 1/y² = 2/d², 1e36, ≤ 0.0625e36
                int256 num = CODY_P5 * z / ONE_36;
                int256 den = z;
                num = (num + CODY_P0) * z / ONE_36;
                den = (den + CODY_Q0) * z / ONE_36;
                num = (num + CODY_P1) * z / ONE_36;
                den = (den + CODY_Q1) * z / ONE_36;
                num = (num + CODY_P2) * z / ONE_36;
                den = (den + CODY_Q2) * z / ONE_36;
                num = (num + CODY_P3) * z / ONE_36;
                den = (den + CODY_Q3) * z / ONE_36;
                int256 r = z * (num + CODY_P4) / (den + CODY_Q4);
                erfcx36 = uint256((CODY_SQRPI_36 - r) * ONE_36) / (a * INV_SQRT2_36 / 1e18);
            }
            // erfc(y)/2 = e^{−d²/2}·erfcx(y)/2
            uint256 tail = _exp36(-int256(a * a / 2)) * erfcx36 / 2e36;
            return d >= 0 ? uint256(ONE_36) - tail : tail;
        }
    }

    // ------------------------------------------------------------------------------------------
    // exp / ln / sqrt internals
    // ------------------------------------------------------------------------------------------

    /// @dev e^x in 1e36 for x ≤ 0 in 1e36 (x ≥ −1e39 in practice), rounded down. 0 below −84 (e^−84 <
    ///      1e-36). Relative error ≤ 2.8e-23 (Padé) plus 1e-36 absolute.
    function _exp36(int256 x36) private pure returns (uint256) {
        if (x36 < -84e36) return 0;
        unchecked {
            (int256 k, uint256 er) = _expReduced(x36); // k in [−122, 0]
            return er >> uint256(-k);
        }
    }

    /// @dev Splits e^x = 2^k · e^r with k = round(x / ln2) and |r| ≤ ln2/2, and returns k and e^r·1e36
    ///      from the Padé [7/7] approximant (relative error ≤ 2.8e-23). Requires |x| ≤ 1e58 (1e36 scale).
    function _expReduced(int256 x36) private pure returns (int256 k, uint256 er) {
        unchecked {
            k = (x36 >= 0 ? x36 + LN2_36 / 2 : x36 - LN2_36 / 2) / LN2_36;
            int256 r = x36 - k * LN2_36;
            int256 r2 = r * r / ONE_36; // ≤ 0.121e36
            int256 e = ONE_36 + r2 * (PADE_E2 + r2 * (PADE_E4 + r2 * PADE_E6 / ONE_36) / ONE_36) / ONE_36;
            int256 o = r * (PADE_O0 + r2 * (PADE_O2 + r2 * (PADE_O4 + r2 * PADE_O6 / ONE_36) / ONE_36) / ONE_36)
                / ONE_36;
            er = uint256((e + o) * ONE_36 / (e - o));
        }
    }

    /// @dev ln(x) of an integer x ≥ 1, in 1e36. x = 2^t·m with m in (1/√2, √2]; ln m = 2·atanh(z),
    ///      z = (m − 1)/(m + 1), |z| ≤ 0.1716, from 13 terms of the odd series (truncation < 2e-22).
    ///      Error below 1e-21 absolute.
    function _ln36(uint256 x) private pure returns (int256) {
        unchecked {
            uint256 t = Math.log2(x);
            // m = x / 2^t in [1, 2), 1e36 scale (x·1e36 < 2^241 when t ≤ 120)
            uint256 m = t <= 120 ? (x * 1e36) >> t : ((x >> (t - 120)) * 1e36) >> 120;
            int256 e = int256(t);
            if (m > SQRT2_36) {
                m >>= 1;
                e += 1;
            }
            int256 z = (int256(m) - ONE_36) * ONE_36 / (int256(m) + ONE_36);
            int256 z2 = z * z / ONE_36;
            // Σ z2^j/(2j+1), j = 0..12, by Horner
            int256 s = ONE_36 / 25;
            s = ONE_36 / 23 + s * z2 / ONE_36;
            s = ONE_36 / 21 + s * z2 / ONE_36;
            s = ONE_36 / 19 + s * z2 / ONE_36;
            s = ONE_36 / 17 + s * z2 / ONE_36;
            s = ONE_36 / 15 + s * z2 / ONE_36;
            s = ONE_36 / 13 + s * z2 / ONE_36;
            s = ONE_36 / 11 + s * z2 / ONE_36;
            s = ONE_36 / 9 + s * z2 / ONE_36;
            s = ONE_36 / 7 + s * z2 / ONE_36;
            s = ONE_36 / 5 + s * z2 / ONE_36;
            s = ONE_36 / 3 + s * z2 / ONE_36;
            s = ONE_36 + s * z2 / ONE_36;
            return e * LN2_36 + 2 * z * s / ONE_36;
        }
    }

    /// @dev ⌊√x⌋ of an integer (Newton's iteration from a power of two above the root).
    function _sqrt(uint256 x) private pure returns (uint256 z) {
        if (x == 0) return 0;
        unchecked {
            z = uint256(1) << ((Math.log2(x) >> 1) + 1); // > √x, ≤ 2^128
            uint256 y = (z + x / z) >> 1;
            while (y < z) {
                z = y;
                y = (z + x / z) >> 1;
            }
        }
    }


    // ------------------------------------------------------------------------------------------
    // rounding helpers
    // ------------------------------------------------------------------------------------------

    /// @dev a / b rounded to nearest (ties away from zero), b > 0.
    function _divNearest(int256 a, int256 b) private pure returns (int256) {
        unchecked {
            return a >= 0 ? (a + b / 2) / b : (a - b / 2) / b;
        }
    }

    /// @dev value·discount / 1e18 rounded to nearest (value signed wad, discount ≤ 1e18).
    function _mulNearest(int256 value, uint256 discountWad) private pure returns (int256) {
        return _divNearest(value * int256(discountWad), int256(WAD));
    }

    /// @dev ⌊a·b / c⌋ (a·b must fit in 256 bits: true for every use here).
    function _mulDivDown(uint256 a, uint256 b, uint256 c) private pure returns (uint256) {
        return a * b / c;
    }

    /// @dev ⌈a·b / c⌉ (a·b must fit in 256 bits: true for every use here).
    function _mulDivUp(uint256 a, uint256 b, uint256 c) private pure returns (uint256) {
        uint256 p = a * b;
        return p == 0 ? 0 : (p - 1) / c + 1;
    }

    /// @dev |x| as uint256 (x > type(int256).min).
    function _abs(int256 x) private pure returns (uint256) {
        unchecked {
            return x >= 0 ? uint256(x) : uint256(-x);
        }
    }
}
