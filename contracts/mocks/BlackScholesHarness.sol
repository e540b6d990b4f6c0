// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {BlackScholes} from "../libraries/BlackScholes.sol";

/// @title BlackScholesHarness
/// @notice Test-only: exposes the internal functions of the BlackScholes library as external ones,
///         one at a time and in batches (one eth_call for many points), plus gas probes that measure
///         the library alone (gasleft() around the internal call, without call and calldata costs).
contract BlackScholesHarness {
    /// @notice One pricing input (the arguments of BlackScholes.black76).
    struct Query {
        bool isCall;
        uint256 forwardWad;
        uint256 strikeWad;
        uint256 tauSec;
        uint256 sigmaWad;
        uint256 discountWad;
    }

    /// @notice One pricing output: all variants for one Query.
    struct Quote {
        uint256 priceWad;
        uint256 priceUpWad;
        uint256 priceDownWad;
        int256 deltaWad;
        uint256 vegaWad;
    }

    /// @notice BlackScholes.black76.
    function black76(bool isCall, uint256 f, uint256 k, uint256 tau, uint256 sigma, uint256 discount)
        external
        pure
        returns (uint256)
    {
        return BlackScholes.black76(isCall, f, k, tau, sigma, discount);
    }

    /// @notice BlackScholes.black76Up.
    function black76Up(bool isCall, uint256 f, uint256 k, uint256 tau, uint256 sigma, uint256 discount)
        external
        pure
        returns (uint256)
    {
        return BlackScholes.black76Up(isCall, f, k, tau, sigma, discount);
    }

    /// @notice BlackScholes.black76Down.
    function black76Down(bool isCall, uint256 f, uint256 k, uint256 tau, uint256 sigma, uint256 discount)
        external
        pure
        returns (uint256)
    {
        return BlackScholes.black76Down(isCall, f, k, tau, sigma, discount);
    }

    /// @notice BlackScholes.black76WithDelta.
    function black76WithDelta(bool isCall, uint256 f, uint256 k, uint256 tau, uint256 sigma, uint256 discount)
        external
        pure
        returns (uint256 priceWad, int256 deltaWad)
    {
        return BlackScholes.black76WithDelta(isCall, f, k, tau, sigma, discount);
    }

    /// @notice BlackScholes.black76Bounds.
    function black76Bounds(bool isCall, uint256 f, uint256 k, uint256 tau, uint256 sigma, uint256 discount)
        external
        pure
        returns (uint256 lowWad, uint256 highWad, int256 deltaWad)
    {
        return BlackScholes.black76Bounds(isCall, f, k, tau, sigma, discount);
    }

    /// @notice BlackScholes.black76Greeks.
    function black76Greeks(bool isCall, uint256 f, uint256 k, uint256 tau, uint256 sigma, uint256 discount)
        external
        pure
        returns (uint256 priceWad, int256 deltaWad, uint256 vegaWad)
    {
        return BlackScholes.black76Greeks(isCall, f, k, tau, sigma, discount);
    }

    /// @notice BlackScholes.priceErrorBoundWad.
    function priceErrorBoundWad(uint256 f, uint256 k) external pure returns (uint256) {
        return BlackScholes.priceErrorBoundWad(f, k);
    }

    /// @notice Every variant for each query, in one call.
    function quoteBatch(Query[] calldata qs) external pure returns (Quote[] memory out) {
        out = new Quote[](qs.length);
        for (uint256 i; i < qs.length; ++i) {
            Query calldata q = qs[i];
            Quote memory o = out[i];
            (o.priceWad, o.deltaWad, o.vegaWad) =
                BlackScholes.black76Greeks(q.isCall, q.forwardWad, q.strikeWad, q.tauSec, q.sigmaWad, q.discountWad);
            o.priceUpWad =
                BlackScholes.black76Up(q.isCall, q.forwardWad, q.strikeWad, q.tauSec, q.sigmaWad, q.discountWad);
            o.priceDownWad =
                BlackScholes.black76Down(q.isCall, q.forwardWad, q.strikeWad, q.tauSec, q.sigmaWad, q.discountWad);
        }
    }

    /// @notice BlackScholes.lnWad.
    function lnWad(uint256 x) external pure returns (int256) {
        return BlackScholes.lnWad(x);
    }

    /// @notice BlackScholes.expWad.
    function expWad(int256 x) external pure returns (uint256) {
        return BlackScholes.expWad(x);
    }

    /// @notice BlackScholes.sqrtWad.
    function sqrtWad(uint256 x) external pure returns (uint256) {
        return BlackScholes.sqrtWad(x);
    }

    /// @notice BlackScholes.normCdfWad.
    function normCdfWad(int256 x) external pure returns (uint256) {
        return BlackScholes.normCdfWad(x);
    }

    /// @notice BlackScholes.normPdfWad.
    function normPdfWad(int256 x) external pure returns (uint256) {
        return BlackScholes.normPdfWad(x);
    }

    /// @notice BlackScholes.lnWad over an array.
    function lnWadBatch(uint256[] calldata xs) external pure returns (int256[] memory out) {
        out = new int256[](xs.length);
        for (uint256 i; i < xs.length; ++i) {
            out[i] = BlackScholes.lnWad(xs[i]);
        }
    }

    /// @notice BlackScholes.expWad over an array.
    function expWadBatch(int256[] calldata xs) external pure returns (uint256[] memory out) {
        out = new uint256[](xs.length);
        for (uint256 i; i < xs.length; ++i) {
            out[i] = BlackScholes.expWad(xs[i]);
        }
    }

    /// @notice BlackScholes.sqrtWad over an array.
    function sqrtWadBatch(uint256[] calldata xs) external pure returns (uint256[] memory out) {
        out = new uint256[](xs.length);
        for (uint256 i; i < xs.length; ++i) {
            out[i] = BlackScholes.sqrtWad(xs[i]);
        }
    }

    /// @notice BlackScholes.normCdfWad and normPdfWad over an array.
    function normBatch(int256[] calldata xs) external pure returns (uint256[] memory cdf, uint256[] memory pdf) {
        cdf = new uint256[](xs.length);
        pdf = new uint256[](xs.length);
        for (uint256 i; i < xs.length; ++i) {
            cdf[i] = BlackScholes.normCdfWad(xs[i]);
            pdf[i] = BlackScholes.normPdfWad(xs[i]);
        }
    }

    /// @notice Gas of one BlackScholes.black76Up call (library code only), with its result.
    function black76UpGas(bool isCall, uint256 f, uint256 k, uint256 tau, uint256 sigma, uint256 discount)
        external
        view
        returns (uint256 priceWad, uint256 gasUsed)
    {
        uint256 before = gasleft();
        priceWad = BlackScholes.black76Up(isCall, f, k, tau, sigma, discount);
        gasUsed = before - gasleft();
    }

    /// @notice Gas of one BlackScholes.black76Greeks call (library code only), with its price.
    function black76GreeksGas(bool isCall, uint256 f, uint256 k, uint256 tau, uint256 sigma, uint256 discount)
        external
        view
        returns (uint256 priceWad, uint256 gasUsed)
    {
        uint256 before = gasleft();
        (priceWad,,) = BlackScholes.black76Greeks(isCall, f, k, tau, sigma, discount);
        gasUsed = before - gasleft();
    }

    /// @notice Gas of one BlackScholes.normCdfWad call (library code only), with its result.
    function normCdfWadGas(int256 x) external view returns (uint256 value, uint256 gasUsed) {
        uint256 before = gasleft();
        value = BlackScholes.normCdfWad(x);
        gasUsed = before - gasleft();
    }
}
