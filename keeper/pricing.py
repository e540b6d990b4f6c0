"""European option prices, Greeks and implied volatility: generalized Black-Scholes, vectorized.

One model with a cost of carry ``b`` covers the variants the keeper needs:

===================  ======================  =========================================
``b``                model                   ``S`` is
===================  ======================  =========================================
``r`` (``None``)     Black-Scholes           spot (no yield)
``r - q``            Merton                  spot with a continuous yield ``q``
``0``                Black-76                the forward or futures price ``F``
``r - rf``           Garman-Kohlhagen        spot FX
===================  ======================  =========================================

With ``F = S·e^{bT}``, ``d1 = (ln(F/K) + σ²T/2) / (σ√T)``, ``d2 = d1 − σ√T`` and ``θ = +1`` for a call,
``−1`` for a put::

    V = θ · (S·e^{(b−r)T}·N(θ·d1) − K·e^{−rT}·N(θ·d2))

Every function takes scalars or numpy arrays that broadcast together and returns numpy arrays
(0-d for scalar inputs).

Units (the same as ``../shared/reference/option_values.csv``):

- ``T`` in years, ``r``, ``b`` and ``sigma`` annualised (continuous compounding).
- ``delta = ∂V/∂S``; ``gamma = ∂²V/∂S²``.
- ``vega = ∂V/∂σ`` per 1.00 of volatility — divide by 100 for a vol point (:attr:`Greeks.vega_per_vol_point`).
- ``theta = ∂V/∂t`` per year of calendar time, i.e. ``−∂V/∂T`` (negative when the option decays) —
  divide by 365 for a calendar day (:attr:`Greeks.theta_per_day`).
- ``rho = ∂V/∂r`` per 1.00 of rate. Following Haug: with ``b=None`` or ``b ≠ 0`` the carry moves
  with the rate (``b − r`` held fixed, the yield is unchanged), so ``rho = θ·K·T·e^{−rT}·N(θ·d2)``
  (also when ``b=None`` and ``r`` happens to be 0); for Black-76 — an explicit ``b = 0`` — the
  underlying is a forward whose price does not move with ``r``, so ``rho = −T·V``.

Edge cases are defined, never NaN by accident:

- ``T = 0`` (expiry): the intrinsic value ``max(θ(S − K), 0)``; delta is a step (``θ`` in the money,
  0 out of the money, ``θ/2`` exactly at the strike); gamma and vega are 0; theta is the drift of
  the discounted intrinsic value.
- ``σ√T`` too small to matter (σ → 0): the discounted forward intrinsic ``e^{−rT}·max(θ(F − K), 0)``
  with the same step delta.
- Deep in or out of the money the values stay finite (``N`` is evaluated on the tail that keeps its
  relative precision: ``N(θ·d)`` rather than ``1 − N(d)``).
- Invalid inputs raise ``ValueError`` naming the argument: ``S``, ``K`` or ``sigma`` not > 0, ``T`` < 0,
  any NaN or infinity, or an unknown option type.

Implied volatility (:func:`implied_vol`) follows the structure of Peter Jäckel's "Let's Be Rational"
(2015): reduce to an out-of-the-money normalised call, take a rational-cubic initial guess on one of
four branches with a branch-specific transformed objective, then two third-order Householder steps.
It attains full double precision wherever the price carries that information.

Inverse (coin-margined, Deribit-style) options are quoted in the coin: :func:`inverse_price` is the
USD Black-76 price divided by the forward, and :func:`inverse_delta` is the net transaction delta
(the Black-76 delta minus the coin price, because the premium itself is held in the coin).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import erfcx, erfinv, ndtr, ndtri

__all__ = [
    "Greeks",
    "greeks",
    "implied_vol",
    "inverse_delta",
    "inverse_price",
    "normalised_black",
    "parse_cp",
    "price",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

_CHUNK = 16384  # elements per pass: keeps a kernel's temporaries in L2 cache
_INV_SQRT_2PI = 0.3989422804014326779399460599343818684758586311649
_SQRT_2PI = 2.506628274631000502415765284811045253006986740610
_INV_SQRT2 = 0.7071067811865475244008443621048490392848359376887
_DAYS_PER_YEAR = 365.0
_TINY = float(np.finfo(np.float64).tiny)


# --------------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------------


def parse_cp(cp: ArrayLike) -> BoolArray:
    """Option type as a boolean array (True = call).

    Accepts ``"c"``/``"p"`` (also ``"call"``/``"put"``, any case), an array of those, or a boolean
    array. Anything else raises ``ValueError`` naming ``cp``.
    """
    arr = np.asarray(cp)
    if arr.dtype == np.bool_:
        return arr
    if arr.dtype.kind in "US":
        low = np.char.lower(arr.astype(str)) if arr.ndim else np.asarray(str(arr).lower())
        is_call = (low == "c") | (low == "call")
        is_put = (low == "p") | (low == "put")
        if not np.all(is_call | is_put):
            bad = arr[~(is_call | is_put)] if arr.ndim else arr
            raise ValueError(f"cp must be 'c' or 'p' (or booleans, True = call); got {bad.ravel()[0]!r}")
        return np.asarray(is_call)
    raise ValueError(f"cp must be 'c'/'p' strings or booleans (True = call); got dtype {arr.dtype}")


def _floats(name: str, value: ArrayLike, *, positive: bool = False, non_negative: bool = False) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (got NaN or infinity)")
    if positive and not np.all(arr > 0):
        raise ValueError(
            f"{name} must be > 0 (got {arr[~(arr > 0)].ravel()[0]!r})"
            if arr.ndim
            else f"{name} must be > 0 (got {float(arr)!r})"
        )
    if non_negative and not np.all(arr >= 0):
        raise ValueError(
            f"{name} must be >= 0 (got {arr[~(arr >= 0)].ravel()[0]!r})"
            if arr.ndim
            else f"{name} must be >= 0 (got {float(arr)!r})"
        )
    return arr


def _flat(arr: np.ndarray, shape: tuple[int, ...], size: int) -> np.ndarray:
    """1-D view of ``arr`` broadcast to ``shape``; size-1 inputs stay scalars (no copy)."""
    if arr.size == 1:
        return arr.reshape(())
    return np.ascontiguousarray(np.broadcast_to(arr, shape)).reshape(size)


def _prepare(
    cp: ArrayLike,
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    sigma: ArrayLike,
    b: ArrayLike | None,
) -> tuple[tuple[int, ...], int, list[np.ndarray]]:
    is_call = parse_cp(cp)
    s_ = _floats("S", S, positive=True)
    k_ = _floats("K", K, positive=True)
    t_ = _floats("T", T, non_negative=True)
    r_ = _floats("r", r)
    v_ = _floats("sigma", sigma, positive=True)
    b_ = r_ if b is None else _floats("b", b)
    shape = np.broadcast_shapes(is_call.shape, s_.shape, k_.shape, t_.shape, r_.shape, v_.shape, b_.shape)
    size = int(np.prod(shape, dtype=np.int64))
    return shape, size, [_flat(a, shape, size) for a in (is_call, s_, k_, t_, r_, v_, b_)]


def _chunk(a: np.ndarray, lo: int, hi: int) -> Any:
    return a if a.ndim == 0 else a[lo:hi]


# --------------------------------------------------------------------------------------------
# prices and Greeks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Greeks:
    """Price and sensitivities of one option per element (units in the module docstring)."""

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray  # per 1.00 of volatility
    theta: FloatArray  # per year of calendar time (dV/dt)
    rho: FloatArray  # per 1.00 of rate

    @property
    def vega_per_vol_point(self) -> FloatArray:
        """Vega per one volatility point (0.01)."""
        return self.vega / 100.0

    @property
    def theta_per_day(self) -> FloatArray:
        """Theta per calendar day (a 365-day year)."""
        return self.theta / _DAYS_PER_YEAR

    @property
    def rho_per_bp(self) -> FloatArray:
        """Rho per basis point (0.0001) of rate."""
        return self.rho / 10_000.0


def _kernel(
    is_call: Any,
    S: Any,
    K: Any,
    T: Any,
    r: Any,
    sigma: Any,
    b: Any,
    out: dict[str, FloatArray] | None,
    forward: Any = False,
) -> FloatArray:
    """Price (and, with ``out``, every Greek) for one chunk. Two ``ndtr`` calls and three ``exp``."""
    theta_sign = np.where(is_call, 1.0, -1.0)
    sqrt_t = np.sqrt(T)
    v = sigma * sqrt_t
    carry = np.exp((b - r) * T)  # e^{(b−r)T}
    disc = np.exp(-r * T)  # e^{−rT}
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # σ√T → 0: d1 → ±∞, handled below
        ln_fk = np.log(S / K) + b * T
        d1 = ln_fk / v + 0.5 * v
    degenerate = v == 0.0
    if np.any(degenerate):  # expiry or σ√T underflow: the limit d1 = d2 = ±∞ (0 at the money)
        d1 = np.where(degenerate, np.where(ln_fk > 0, np.inf, np.where(ln_fk < 0, -np.inf, 0.0)), d1)
    d2 = d1 - v
    n1 = ndtr(theta_sign * d1)  # N(θ·d1)
    n2 = ndtr(theta_sign * d2)  # N(θ·d2)
    s_carry = S * carry
    k_disc = K * disc
    value = theta_sign * (s_carry * n1 - k_disc * n2)
    value = np.maximum(value, 0.0, out=value if isinstance(value, np.ndarray) else None)
    if out is None:
        return value
    with np.errstate(over="ignore"):  # d1² overflows only where φ(d1) is 0 anyway
        pdf1 = np.exp(-0.5 * d1 * d1) * _INV_SQRT_2PI  # φ(d1); φ(±∞) = 0
    s_carry_pdf = s_carry * pdf1
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma = s_carry_pdf / (S * S * v)
        decay = s_carry_pdf * sigma / (2.0 * sqrt_t)
    if np.any(degenerate):
        gamma = np.where(degenerate, 0.0, gamma)
        decay = np.where(degenerate, 0.0, decay)
    out["price"] = value
    out["delta"] = theta_sign * carry * n1
    out["gamma"] = gamma
    out["vega"] = s_carry_pdf * sqrt_t
    out["theta"] = -decay - theta_sign * ((b - r) * s_carry * n1 + r * k_disc * n2)
    out["rho"] = np.where(forward, -T * value, theta_sign * T * k_disc * n2)
    return value


def price(
    cp: ArrayLike,
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    sigma: ArrayLike,
    b: ArrayLike | None = None,
) -> FloatArray:
    """Option value under generalized Black-Scholes; ``b=None`` means ``b = r``.

    >>> round(float(price("c", 60, 65, 0.25, 0.08, 0.30)), 4)  # Haug 1.1.1
    2.1334
    """
    shape, size, (c_, s_, k_, t_, r_, v_, b_) = _prepare(cp, S, K, T, r, sigma, b)
    if size <= _CHUNK:
        return np.asarray(_kernel(c_, s_, k_, t_, r_, v_, b_, None), dtype=np.float64).reshape(shape)
    result = np.empty(size)
    for lo in range(0, size, _CHUNK):
        hi = min(lo + _CHUNK, size)
        args = (_chunk(a, lo, hi) for a in (c_, s_, k_, t_, r_, v_, b_))
        result[lo:hi] = _kernel(*args, None)
    return result.reshape(shape)


def greeks(
    cp: ArrayLike,
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    sigma: ArrayLike,
    b: ArrayLike | None = None,
) -> Greeks:
    """Price, delta, gamma, vega, theta and rho in one pass (units in the module docstring).

    >>> g = greeks("p", 100, 95, 0.5, 0.10, 0.20, b=0.05)  # Haug 1.1.2 (Merton, yield 5%)
    >>> round(float(g.delta), 4), round(float(g.vega), 4)
    (-0.2642, 22.8396)
    """
    shape, size, (c_, s_, k_, t_, r_, v_, b_) = _prepare(cp, S, K, T, r, sigma, b)
    forward = np.asarray(False) if b is None else np.asarray(b_ == 0.0)  # Black-76 rho (see module doc)
    names = ("price", "delta", "gamma", "vega", "theta", "rho")
    if size <= _CHUNK:
        part: dict[str, FloatArray] = {}
        _kernel(c_, s_, k_, t_, r_, v_, b_, part, forward)
        return Greeks(
            **{n: np.broadcast_to(np.asarray(part[n], dtype=np.float64), shape).copy() for n in names}
        )
    full = {n: np.empty(size) for n in names}
    part = {}
    for lo in range(0, size, _CHUNK):
        hi = min(lo + _CHUNK, size)
        args = (_chunk(a, lo, hi) for a in (c_, s_, k_, t_, r_, v_, b_))
        _kernel(*args, part, forward if forward.ndim == 0 else forward[lo:hi])
        for n in names:
            full[n][lo:hi] = part[n]
    return Greeks(**{n: full[n].reshape(shape) for n in names})


# --------------------------------------------------------------------------------------------
# inverse (coin-margined) options
# --------------------------------------------------------------------------------------------


def inverse_price(
    cp: ArrayLike, F: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, sigma: ArrayLike
) -> FloatArray:
    """Price of an inverse (coin-margined, Deribit-style) option in coin per 1 coin of notional.

    The option pays ``max(θ(S_T − K), 0) / S_T`` coins; its coin price is the USD Black-76 value on
    the forward ``F`` divided by ``F`` (Deribit quotes with ``r = 0``, so the discount factor is 1).
    """
    usd = price(cp, F, K, T, r, sigma, b=0.0)
    return usd / np.asarray(F, dtype=np.float64)


def inverse_delta(
    cp: ArrayLike, F: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, sigma: ArrayLike
) -> FloatArray:
    """Net transaction delta of an inverse option, in coin per 1 coin of notional.

    Deribit's convention: the Black-76 delta ``∂V_usd/∂F`` minus the coin price, because buying the
    option spends (and selling it receives) that premium in the coin itself. An ATM call has a net
    delta below its Black-76 delta; a put's is more negative.
    """
    g = greeks(cp, F, K, T, r, sigma, b=0.0)
    return g.delta - g.price / np.asarray(F, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# implied volatility — the normalised Black function and a vectorized "Let's Be Rational"
# --------------------------------------------------------------------------------------------
#
# Normalised (undiscounted, per √(FK)) out-of-the-money call with x = ln(F/K) ≤ 0, s = σ√T:
#     b(x, s) = e^{x/2}·N(x/s + s/2) − e^{−x/2}·N(x/s − s/2),     0 ≤ b < b_max = e^{x/2}
#     ∂b/∂s   = φ(x/s + s/2)·e^{x/2} = e^{−(h² + t²)/2} / √(2π)       (h = x/s, t = s/2)
# Calls in the money and puts reduce to it by put-call parity and the x → −x symmetry.

_SMALL_T = 0.002  # below this t = s/2 the two N terms nearly cancel: use Jäckel's series in t
_TAIL_D = (
    -35.0
)  # below this h − t, N(h − t) heads for underflow (N(−37.5) ≈ DBL_MIN): use the scaled erfc form


def _normalised_intrinsic(x: FloatArray) -> FloatArray:
    """|e^{x/2} − e^{−x/2}| = 2·|sinh(x/2)| (accurate for tiny x)."""
    return np.abs(2.0 * np.sinh(0.5 * x))


def _otm_black_bv(x: FloatArray, s: FloatArray, half: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(b, ∂b/∂s) of the normalised OTM call (x ≤ 0, s > 0, ``half = e^{x/2}``; 1-D arrays)."""
    h = x / s
    t = 0.5 * s
    vega = _INV_SQRT_2PI * np.exp(-0.5 * (h * h + t * t))
    if np.any((t < _SMALL_T) | (h - t < _TAIL_D)):
        return _otm_black(x, s)[0], vega
    b = ndtr(h + t) * half - ndtr(h - t) / half
    return np.maximum(b, 0.0, out=b), vega


def _otm_black(x: FloatArray, s: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(b, ln b, b'/b) of the normalised OTM call for x ≤ 0, s > 0 (1-D arrays).

    ``ln b`` and ``b'/b`` stay exact where ``b`` itself underflows, which the lowest branch of the
    implied-vol solver relies on. Three evaluations, chosen per element:

    - ``t = s/2`` below 0.01: Jäckel's series in ``t`` for ``Y = b/E`` (``E = e^{−(h²+t²)/2}``),
      because the two N terms nearly cancel there;
    - ``h − t`` below −35 (``N`` would underflow): ``Y = ½·(erfcx(−(h+t)/√2) − erfcx(−(h−t)/√2))``;
    - elsewhere the N difference itself, each N on the tail that keeps its relative precision.
    """
    h = x / s
    t = 0.5 * s
    ln_e = -0.5 * (h * h + t * t)
    small = t < _SMALL_T
    tail = (~small) & (h - t < _TAIL_D)
    if not (np.any(small) or np.any(tail)):
        half = np.exp(0.5 * x)
        b = ndtr(h + t) * half - ndtr(h - t) / half
        np.maximum(b, 0.0, out=b)
        with np.errstate(divide="ignore"):
            ln_b = np.log(b)
        return b, ln_b, _INV_SQRT_2PI * np.exp(ln_e - ln_b)
    b = np.empty_like(x)
    ln_b = np.empty_like(x)
    bpob = np.empty_like(x)
    plain = ~(small | tail)
    if np.any(plain):
        bp, lbp, rp = _otm_black(x[plain], s[plain])
        b[plain], ln_b[plain], bpob[plain] = bp, lbp, rp
    for mask, series in ((tail, False), (small, True)):
        if not np.any(mask):
            continue
        hm, tm = h[mask], t[mask]
        if series:
            a = 1.0 + hm * (0.5 * _SQRT_2PI) * erfcx(-_INV_SQRT2 * hm)
            w = tm * tm
            h2 = hm * hm
            c1 = (-1 + 3 * a + a * h2) / 6
            c2 = (-7 + 15 * a + h2 * (-1 + 10 * a + a * h2)) / 120
            c3 = (-57 + 105 * a + h2 * (-18 + 105 * a + h2 * (-1 + 21 * a + a * h2))) / 5040
            c4 = (
                -561 + 945 * a + h2 * (-285 + 1260 * a + h2 * (-33 + 378 * a + h2 * (-1 + 36 * a + a * h2)))
            ) / 362880
            y = _INV_SQRT_2PI * 2.0 * tm * (a + w * (c1 + w * (c2 + w * (c3 + w * c4))))
        else:
            y = 0.5 * (erfcx(-_INV_SQRT2 * (hm + tm)) - erfcx(-_INV_SQRT2 * (hm - tm)))
        np.maximum(y, _TINY, out=y)
        lb = ln_e[mask] + np.log(y)
        ln_b[mask] = lb
        b[mask] = np.exp(lb)
        bpob[mask] = _INV_SQRT_2PI / y
    return b, ln_b, bpob


def _vega_n(x: FloatArray, s: FloatArray) -> FloatArray:
    """∂b/∂s of the normalised call: φ(x/s + s/2)·e^{x/2} = e^{−((x/s)² + (s/2)²)/2}/√(2π)."""
    h = x / s
    return _INV_SQRT_2PI * np.exp(-0.5 * (h * h + 0.25 * s * s))


# Delbourgo-Gregory shape-preserving rational cubic (as used by Jäckel), vectorized.
_EPS = float(np.finfo(np.float64).eps)
_HUGE = float(np.finfo(np.float64).max)
_R_MIN = -(1.0 - np.sqrt(_EPS))
_R_MAX = 2.0 / (_EPS * _EPS)


def _rc_interp(
    x: FloatArray, x_l: Any, x_r: Any, y_l: Any, y_r: Any, d_l: Any, d_r: Any, r: FloatArray
) -> FloatArray:
    """Rational cubic through (x_l, y_l, d_l) and (x_r, y_r, d_r) with control parameter r (x_l < x_r)."""
    h = x_r - x_l
    t = (x - x_l) / h
    omt = 1.0 - t
    t_omt = t * omt
    cubic = (
        y_r * t * t * t
        + (r * y_r - h * d_r) * t * t_omt
        + (r * y_l + h * d_l) * t_omt * omt
        + y_l * omt * omt * omt
    ) / (1.0 + (r - 3.0) * t_omt)
    linear = r >= _R_MAX
    if np.any(linear):  # the control parameter's ceiling means: straight line
        cubic = np.where(linear, y_r * t + y_l * omt, cubic)
    return cubic


def _rc_min_control(d_l: Any, d_r: Any, slope: Any, prefer_shape: bool) -> FloatArray:
    """Smallest control parameter that keeps the interpolant monotone/convex (Delbourgo-Gregory)."""
    monotonic = (d_l * slope >= 0) & (d_r * slope >= 0)
    convex = (d_l <= slope) & (slope <= d_r)
    concave = (d_l >= slope) & (slope >= d_r)
    fallback = _R_MAX if prefer_shape else -_HUGE
    dr_dl = d_r - d_l
    with np.errstate(divide="ignore", invalid="ignore"):
        r1 = (d_r + d_l) / slope
        r2 = np.maximum(np.abs(dr_dl / (d_r - slope)), np.abs(dr_dl / (slope - d_l)))
    r1 = np.where(monotonic, np.where(np.isfinite(r1), r1, fallback), -_HUGE)
    shaped = convex | concave
    r2 = np.where(shaped, np.where(np.isfinite(r2), r2, fallback), np.where(monotonic, fallback, -_HUGE))
    r = np.maximum(np.maximum(r1, r2), _R_MIN)
    return np.where(monotonic | shaped, r, _R_MIN)


def _rc_control(num: FloatArray, den: FloatArray) -> FloatArray:
    safe = np.where(np.abs(den) < _TINY, 1.0, den)
    r = np.where(np.abs(den) < _TINY, np.where(num > 0, _R_MAX, _R_MIN), num / safe)
    return np.where(np.abs(num) < _TINY, 0.0, r)


def _rc_convex_fit_right(
    x_l: Any, x_r: Any, y_l: Any, y_r: Any, d_l: Any, d_r: Any, second_r: Any, prefer_shape: bool
) -> FloatArray:
    h = x_r - x_l
    r = _rc_control(0.5 * h * second_r + (d_r - d_l), d_r - (y_r - y_l) / h)
    return np.maximum(r, _rc_min_control(d_l, d_r, (y_r - y_l) / h, prefer_shape))


def _rc_convex_fit_left(
    x_l: Any, x_r: Any, y_l: Any, y_r: Any, d_l: Any, d_r: Any, second_l: Any, prefer_shape: bool
) -> FloatArray:
    h = x_r - x_l
    r = _rc_control(0.5 * h * second_l + (d_r - d_l), (y_r - y_l) / h - d_l)
    return np.maximum(r, _rc_min_control(d_l, d_r, (y_r - y_l) / h, prefer_shape))


def _householder(newton: FloatArray, halley: FloatArray, hh3: FloatArray) -> FloatArray:
    return newton * (1.0 + 0.5 * halley * newton) / (1.0 + newton * (halley + hh3 * newton / 6.0))


_ITERATIONS = 2  # third-order steps after the rational guess (Jäckel: two reach machine precision)
_TWO_PI_OVER_SQRT27 = 1.209199576156145233729385505094770488189377498728
_SQRT3 = 1.732050807568877293527446341505872366942805253810


def _step_plain(beta: FloatArray, x: FloatArray, s: FloatArray, half: FloatArray) -> FloatArray:
    """One Householder step on g(s) = b(x, s) − β."""
    b, vega = _otm_black_bv(x, s, half)
    newton = (beta - b) / vega
    h_over_s = x / (s * s)
    halley = x * h_over_s / s - 0.25 * s  # b''/b' = h²/s − s/4
    hh3 = halley * halley - 3.0 * h_over_s * h_over_s - 0.25
    return s + np.maximum(-0.5 * s, _householder(newton, halley, hh3))


def _step_lower(ln_beta: FloatArray, x: FloatArray, s: FloatArray) -> FloatArray:
    """One Householder step on g(s) = 1/ln b(x, s) − 1/ln β (Jäckel's lowest branch)."""
    _, ln_b, bpob = _otm_black(x, s)
    h = x / s
    b_halley = h * h / s - 0.25 * s
    newton = (ln_beta - ln_b) * ln_b / ln_beta / bpob
    halley = b_halley - bpob * (1.0 + 2.0 / ln_b)
    b_hh3 = b_halley * b_halley - 3.0 * (h / s) ** 2 - 0.25
    hh3 = (
        b_hh3
        + 2.0 * bpob * bpob * (1.0 + 3.0 / ln_b * (1.0 + 1.0 / ln_b))
        - 3.0 * b_halley * bpob * (1.0 + 2.0 / ln_b)
    )
    return s + np.maximum(-0.5 * s, _householder(newton, halley, hh3))


def _step_upper(beta: FloatArray, b_max: FloatArray, x: FloatArray, s: FloatArray) -> FloatArray:
    """One Householder step on g(s) = ln((b_max − β)/(b_max − b(x, s))) (Jäckel's highest branch)."""
    b, bp = _otm_black_bv(x, s, b_max)
    gap = b_max - b
    g = np.log((b_max - beta) / gap)
    gp = bp / gap
    b_halley = (x / s) ** 2 / s - 0.25 * s
    b_hh3 = b_halley * b_halley - 3.0 * (x / (s * s)) ** 2 - 0.25
    halley = b_halley + gp
    hh3 = b_hh3 + gp * (2.0 * gp + 3.0 * b_halley)
    return s + np.maximum(-0.5 * s, _householder(-g / gp, halley, hh3))


def _lower_map_guess(beta: FloatArray, x: FloatArray, s_l: FloatArray, b_l: FloatArray) -> FloatArray:
    """Initial s for β < b_l: rational cubic in Jäckel's lower map f(β) ≈ (2π/√27)|x|·N(−|x|/(√3 s))³."""
    ax = -x
    z = ax / (_SQRT3 * s_l)
    y = z * z
    s2 = s_l * s_l
    cdf = ndtr(-z)
    pdf = _INV_SQRT_2PI * np.exp(-0.5 * y)
    fpp = (
        (np.pi / 6.0)
        * y
        / (s2 * s_l)
        * cdf
        * (8.0 * _SQRT3 * s_l * ax + (3.0 * s2 * (s2 - 8.0) - 8.0 * x * x) * cdf / pdf)
        * np.exp(2.0 * y + 0.25 * s2)
    )
    fp = 2.0 * np.pi * y * cdf * cdf * np.exp(y + 0.125 * s2)
    f_l = _TWO_PI_OVER_SQRT27 * ax * cdf**3
    r_ll = _rc_convex_fit_right(0.0, b_l, 0.0, f_l, 1.0, fp, fpp, True)
    f = _rc_interp(beta, 0.0, b_l, 0.0, f_l, 1.0, fp, r_ll)
    tq = beta / b_l
    f = np.where(f > 0, f, (f_l * tq + b_l * (1.0 - tq)) * tq)
    s = np.abs(x / (_SQRT3 * ndtri(np.cbrt(f / (_TWO_PI_OVER_SQRT27 * ax)))))
    return np.where(np.isfinite(s) & (s > 0) & (s < s_l), s, 0.5 * s_l)


def _upper_map_guess(
    beta: FloatArray, x: FloatArray, s_h: FloatArray, b_h: FloatArray, b_max: FloatArray
) -> FloatArray:
    """Initial s for β > b_h: rational cubic in Jäckel's upper map f(β) ≈ N(−s/2)."""
    f_h = ndtr(-0.5 * s_h)
    w = (x / s_h) ** 2
    fp = -0.5 * np.exp(0.5 * w)
    fpp = np.sqrt(np.pi / 2.0) * np.exp(w + 0.125 * s_h * s_h) * w / s_h
    r_hh = _rc_convex_fit_left(b_h, b_max, f_h, 0.0, fp, -0.5, fpp, True)
    f = np.where(np.isfinite(fpp), _rc_interp(beta, b_h, b_max, f_h, 0.0, fp, -0.5, r_hh), -1.0)
    span = b_max - b_h
    tq = (beta - b_h) / span
    f = np.where(f > 0, f, (f_h * (1.0 - tq) + 0.5 * span * tq) * (1.0 - tq))
    return -2.0 * ndtri(f)


def _normalised_iv_otm(beta: FloatArray, x: FloatArray) -> FloatArray:
    """s = σ√T with b(x, s) = β, for x < 0 and 0 < β < e^{x/2} (1-D arrays).

    Jäckel's four branches, split at s_l < s_c = √(2|x|) < s_h: below b_l a lower-map guess and the
    objective 1/ln b − 1/ln β; between b_l and b_h a rational cubic through (b, s, 1/b') at the
    nodes and the objective b − β; above b_h an upper-map guess and ln(b_max − β) − ln(b_max − b)
    (for β > b_max/2). The elements are sorted by branch once so each branch works on contiguous
    slices.
    """
    b_max = np.exp(0.5 * x)
    s_c = np.sqrt(-2.0 * x)
    # at s_c: h = −t, so b_c = e^{x/2}/2 − e^{−x/2}·N(−s_c) and b'(s_c) = e^{x/2}/√(2π)
    b_c = 0.5 * b_max - ndtr(-s_c) / b_max
    v_c = _INV_SQRT_2PI * b_max
    lower = beta < b_c
    # the node on the far side of s_c: s_l (Newton from s_c towards 0) or s_h (towards b_max)
    s_n = np.where(lower, s_c - b_c / v_c, s_c + (b_max - b_c) / v_c)
    b_n, v_n_all = _otm_black_bv(x, s_n, b_max)
    # 0: β < b_l, 1: b_l ≤ β < b_c, 2: b_c ≤ β ≤ b_h, 3: β > b_h
    branch = np.where(lower, beta >= b_n, (beta > b_n) + np.int8(2)).astype(np.int8)
    order = np.argsort(branch, kind="stable")
    ends = np.searchsorted(branch[order], np.arange(1, 4, dtype=np.int8), side="left")
    e0, e1, e2 = (int(e) for e in ends)
    beta, x, b_max, s_c, b_c, s_n, b_n, v_n_all = (
        a[order] for a in (beta, x, b_max, s_c, b_c, s_n, b_n, v_n_all)
    )
    v_c = _INV_SQRT_2PI * b_max
    s = np.empty_like(beta)

    lo = slice(0, e0)
    if e0:
        s[lo] = _lower_map_guess(beta[lo], x[lo], s_n[lo], b_n[lo])
    # the two middle branches: a rational cubic in s(β) with s' = 1/b', convex fit of b'' = 0 at s_c
    if e1 > e0:  # (b_l, s_l) .. (b_c, s_c), fit at the right node
        m = slice(e0, e1)
        d_l, d_r = 1.0 / v_n_all[m], 1.0 / v_c[m]
        slope = (s_c[m] - s_n[m]) / (b_c[m] - b_n[m])
        r = np.maximum(_rc_control(d_r - d_l, d_r - slope), _rc_min_control(d_l, d_r, slope, False))
        s[m] = _rc_interp(beta[m], b_n[m], b_c[m], s_n[m], s_c[m], d_l, d_r, r)
    if e2 > e1:  # (b_c, s_c) .. (b_h, s_h), fit at the left node
        m = slice(e1, e2)
        d_l, d_r = 1.0 / v_c[m], 1.0 / v_n_all[m]
        slope = (s_n[m] - s_c[m]) / (b_n[m] - b_c[m])
        r = np.maximum(_rc_control(d_r - d_l, slope - d_l), _rc_min_control(d_l, d_r, slope, False))
        s[m] = _rc_interp(beta[m], b_c[m], b_n[m], s_c[m], s_n[m], d_l, d_r, r)
    n = beta.size
    hi = slice(e2, n)
    if n > e2:
        s[hi] = _upper_map_guess(beta[hi], x[hi], s_n[hi], b_n[hi], b_max[hi])

    # objective b − β also for the highest branch while β ≤ b_max/2 (Jäckel)
    e3 = e2 + int(np.count_nonzero(beta[hi] <= 0.5 * b_max[hi])) if n > e2 else n
    if e3 > e2:  # move those to the front of the highest branch so the plain block stays contiguous
        sub = np.argsort(beta[hi] > 0.5 * b_max[hi], kind="stable") + e2
        for arr in (beta, x, b_max, s):
            arr[e2:] = arr[sub]
        order[e2:] = order[sub]
    plain = slice(e0, e3)
    top = slice(e3, n)
    ln_beta = np.log(beta[lo])
    for _ in range(_ITERATIONS):
        if e0:
            s[lo] = _step_lower(ln_beta, x[lo], s[lo])
        if e3 > e0:
            s[plain] = _step_plain(beta[plain], x[plain], s[plain], b_max[plain])
        if n > e3:
            s[top] = _step_upper(beta[top], b_max[top], x[top], s[top])
    out = np.empty_like(s)
    out[order] = s
    return out


def normalised_black(x: ArrayLike, s: ArrayLike) -> FloatArray:
    """Normalised Black call ``b(x, s) = e^{x/2}N(x/s + s/2) − e^{−x/2}N(x/s − s/2)``, any sign of x.

    The call price per ``√(F·K)`` of undiscounted money, with ``x = ln(F/K)`` and ``s = σ√T > 0``.
    """
    xa = np.asarray(x, dtype=np.float64)
    sa = np.asarray(s, dtype=np.float64)
    shape = np.broadcast_shapes(xa.shape, sa.shape)
    xf = np.broadcast_to(xa, shape).ravel()
    sf = np.broadcast_to(sa, shape).ravel()
    b, _, _ = _otm_black(-np.abs(xf), sf)
    return (b + np.where(xf > 0, _normalised_intrinsic(xf), 0.0)).reshape(shape)


def implied_vol(
    price: ArrayLike,
    cp: ArrayLike,
    S: ArrayLike,
    K: ArrayLike,
    T: ArrayLike,
    r: ArrayLike,
    b: ArrayLike | None = None,
) -> FloatArray:
    """Volatility ``sigma`` at which :func:`price` returns ``price`` (same arguments and ``b`` convention).

    Accurate to double precision wherever the price determines sigma that well (Jäckel's "Let's Be
    Rational" structure; see the module docstring). Per element:

    - a price outside the no-arbitrage bounds — below the discounted intrinsic
      ``e^{−rT}·max(θ(F − K), 0)`` or at/above ``S·e^{(b−r)T}`` (call) or ``K·e^{−rT}`` (put) — gives NaN;
    - a price exactly at the lower bound gives 0.0 (the σ → 0 limit), as does a time value too small
      to represent (below the smallest normal double once normalised);
    - ``T = 0`` gives NaN (an expired option's price says nothing about volatility).

    ``price`` must be finite (NaN raises ``ValueError``); the other arguments are validated as in
    :func:`price`.
    """
    is_call = parse_cp(cp)
    p_ = _floats("price", price)
    s_ = _floats("S", S, positive=True)
    k_ = _floats("K", K, positive=True)
    t_ = _floats("T", T, non_negative=True)
    r_ = _floats("r", r)
    b_ = r_ if b is None else _floats("b", b)
    shape = np.broadcast_shapes(is_call.shape, p_.shape, s_.shape, k_.shape, t_.shape, r_.shape, b_.shape)
    size = int(np.prod(shape, dtype=np.int64))
    flat = [_flat(a, shape, size) for a in (p_, is_call, s_, k_, t_, r_, b_)]
    result = np.empty(size)
    for lo in range(0, max(size, 1), _CHUNK):
        hi = min(lo + _CHUNK, size)
        result[lo:hi] = _implied_vol_chunk(*(np.broadcast_to(_chunk(a, lo, hi), (hi - lo,)) for a in flat))
    return result.reshape(shape)


def _implied_vol_chunk(
    p: FloatArray, c: BoolArray, s: FloatArray, k: FloatArray, t: FloatArray, rr: FloatArray, bb: FloatArray
) -> FloatArray:
    theta = np.where(c, 1.0, -1.0)
    x = np.log(s / k) + bb * t  # ln(F/K)
    fwd = s * np.exp(bb * t)
    undisc = p * np.exp(rr * t)  # undiscounted price
    intrinsic = np.maximum(theta * (fwd - k), 0.0)
    upper = np.where(c, fwd, k)
    # a price a few ulps under the intrinsic value is the intrinsic value (rounding in F and e^{rT})
    slack = 8.0 * _EPS * np.maximum(intrinsic, undisc)
    ok = (t > 0) & (undisc >= intrinsic - slack) & (undisc < upper)
    with np.errstate(invalid="ignore", over="ignore"):
        beta = np.maximum(undisc - intrinsic, 0.0) / (np.sqrt(fwd) * np.sqrt(k))  # normalised time value
        x_otm = -np.abs(x)
        ok &= beta < np.exp(0.5 * x_otm)
    solve = ok & (beta >= _TINY)
    if np.all(solve) and np.all(x_otm < 0.0):  # the usual case: no masks to apply
        with np.errstate(all="ignore"):
            s_n = _normalised_iv_otm(beta, x_otm)
        return np.where(np.isfinite(s_n) & (s_n > 0), s_n / np.sqrt(t), np.nan)
    result = np.where(ok, 0.0, np.nan)  # at the lower bound (or a time value below DBL_MIN): σ → 0
    atm = solve & (x_otm == 0.0)
    if np.any(atm):  # b(0, s) = erf(s/(2√2))
        result[atm] = 2.0 * np.sqrt(2.0) * erfinv(beta[atm]) / np.sqrt(t[atm])
    rest = np.flatnonzero(solve & (x_otm < 0.0))
    if rest.size:
        with np.errstate(all="ignore"):
            s_n = _normalised_iv_otm(beta[rest], x_otm[rest])
        result[rest] = np.where(np.isfinite(s_n) & (s_n > 0), s_n / np.sqrt(t[rest]), np.nan)
    return result
