"""High-precision (80-digit decimal) reference for the fixed-point BlackScholes library.

The double-precision keeper.pricing is itself off by about 1e-16 of the forward, which is more than
the library's own error, so the rounding-direction tests (priceDown <= exact <= priceUp) compare with
this reference instead. It evaluates the same formulas with the wad inputs taken exactly:

- N(x): for |x| <= 7 the series N(x) = 1/2 + n(x)·Σ x^{2k+1}/(1·3···(2k+1)); beyond, Laplace's
  continued fraction for the Mills ratio, 1 − N(t) = n(t)/(t + 1/(t + 2/(t + 3/(t + ...)))). The two
  agree to more than 60 digits where they meet.
- ln, exp and sqrt: the decimal module's own (correctly rounded to the context precision).
"""

from __future__ import annotations

from decimal import Decimal, localcontext

PREC = 80
WAD = Decimal(10**18)
YEAR = 365 * 86_400
PI = Decimal(
    "3.14159265358979323846264338327950288419716939937510582097494459230781640628620899862803482534211706798"
)


def _npdf(x: Decimal) -> Decimal:
    return (-(x * x) / 2).exp() / (2 * PI).sqrt()


def ncdf(x: Decimal) -> Decimal:
    """Standard normal cumulative distribution to about 70 significant digits (also in the far tails)."""
    with localcontext() as ctx:
        ctx.prec = PREC
        x = Decimal(x)
        t = abs(x)
        if t == 0:
            return Decimal(1) / 2
        if t <= 7:
            term = t
            total = t
            k = 0
            while term > Decimal(10) ** -(PREC + 10) * total:
                k += 1
                term = term * t * t / (2 * k + 1)
                total += term
            half = Decimal(1) / 2
            return +(half + _npdf(t) * total if x > 0 else half - _npdf(t) * total)
        frac = t
        for k in range(400, 0, -1):
            frac = t + k / frac
        upper = _npdf(t) / frac
        return +(1 - upper if x > 0 else upper)


def npdf(x: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = PREC
        return +_npdf(Decimal(x))


def black76(
    is_call: bool, forward_wad: int, strike_wad: int, tau_sec: int, sigma_wad: int, discount_wad: int
) -> tuple[Decimal, Decimal, Decimal]:
    """(price, delta, vega) in wad units as Decimals, from the exact wad inputs."""
    with localcontext() as ctx:
        ctx.prec = PREC
        f = Decimal(forward_wad)
        k = Decimal(strike_wad)
        disc = Decimal(discount_wad) / WAD
        sign = 1 if is_call else -1
        intrinsic = max(sign * (f - k), Decimal(0))
        s = Decimal(sigma_wad) / WAD * (Decimal(tau_sec) / YEAR).sqrt()
        if s == 0:
            step = Decimal(1) if sign * (f - k) > 0 else (Decimal(0) if f != k else Decimal(1) / 2)
            return disc * intrinsic, sign * disc * step * WAD, Decimal(0)
        d1 = ((f / k).ln() + s * s / 2) / s
        d2 = d1 - s
        price = sign * (f * ncdf(sign * d1) - k * ncdf(sign * d2))
        delta = sign * ncdf(sign * d1)
        vega = f * _npdf(d1) * (Decimal(tau_sec) / YEAR).sqrt()
        return +(disc * price), +(disc * delta * WAD), +(disc * vega)


def ln_wad(x: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = PREC
        return (Decimal(x) / WAD).ln() * WAD


def exp_wad(x: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = PREC
        return (Decimal(x) / WAD).exp() * WAD


def sqrt_wad(x: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = PREC
        return (Decimal(x) * WAD).sqrt()
