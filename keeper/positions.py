"""Positions and market state: the typed inputs of keeper/risk.py, shared with the rest of the keeper.

Units are in every name: ``_eth`` is an amount of ETH, ``_usd`` an amount of USD (USDC), ``_usd`` on a
price is USD per ETH, ``_years`` is time in years of 365 days, vols and rates are annualised decimals
(0.80 = 80%). Sizes are signed: long > 0, short < 0.

All models are frozen pydantic v2 models that reject NaN and infinity; a bad field raises
``pydantic.ValidationError`` naming the field (``strike_usd``, ``mmr``...).

Cash convention: option premium is cash. Premium received for a sold option (or paid for a bought one)
already sits in ``Portfolio.idle_usd``; the option itself is carried at its mark (``size · price``, a
liability when short). ``OptionPosition.premium_usd`` is recorded for P&L attribution only and never
enters a valuation.

For a book of thousands of options, :class:`OptionBook` holds the options as numpy arrays so the risk
functions price every option x every scenario in one broadcast; build it once with
:meth:`OptionBook.from_positions` or directly with :meth:`OptionBook.from_arrays` (no pydantic per option).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

__all__ = [
    "DAYS_PER_YEAR",
    "MarketState",
    "OptionBook",
    "OptionPosition",
    "PerpPosition",
    "Portfolio",
    "SpotPosition",
]

DAYS_PER_YEAR = 365.0

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

_FROZEN = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class SpotPosition(BaseModel):
    """Spot ETH held by the vault (signed; the vault is normally long)."""

    model_config = _FROZEN

    size_eth: float = 0.0


class PerpPosition(BaseModel):
    """A linear, USDC-margined, isolated-margin ETH perpetual.

    - ``size_eth``: signed contract size in ETH (short < 0).
    - ``entry_price_usd``: average entry price, USD per ETH.
    - ``margin_usd``: collateral posted to this position (isolated margin), USD.
    - ``funding_accrued_usd``: funding accrued and not yet settled into the margin, USD, signed
      (+ = received by this position).
    - ``imr`` / ``mmr``: initial / maintenance margin rates as fractions of notional (``|size| · price``),
      ``0 < mmr <= imr <= 1`` and ``mmr < 1``.

    Equity at mark ``P`` is ``margin + (P − entry) · size + funding``; the position is liquidated when
    equity falls to the maintenance requirement ``mmr · |size| · P`` (see ``keeper.risk``).
    """

    model_config = _FROZEN

    size_eth: float = 0.0
    entry_price_usd: float = Field(gt=0)
    margin_usd: float = Field(default=0.0, ge=0)
    funding_accrued_usd: float = 0.0
    imr: float = Field(default=0.10, gt=0, le=1)
    mmr: float = Field(default=0.05, gt=0, lt=1)

    @field_validator("mmr")
    @classmethod
    def _mmr_not_above_imr(cls, mmr: float, info: ValidationInfo) -> float:
        imr = info.data.get("imr")
        if imr is not None and mmr > imr:
            raise ValueError(f"mmr ({mmr}) must be <= imr ({imr})")
        return mmr


class OptionPosition(BaseModel):
    """A European, cash-settled ETH option (USD strike, USD premium, settled on the oracle price).

    - ``kind``: ``"call"`` or ``"put"``.
    - ``strike_usd``: strike, USD per ETH (> 0).
    - ``expiry_years``: time to expiry from the snapshot, in years of 365 days (>= 0; 0 = expiring now,
      valued at intrinsic). Time is always relative: positions carry time-to-expiry, the market state
      carries no clock.
    - ``size_eth``: signed notional in ETH (short < 0); the position's value is ``size_eth · price``.
    - ``premium_usd``: premium per ETH paid (long) or received (short) when the position was opened;
      informational only (the cash is in ``Portfolio.idle_usd``).
    - ``iv``: implied volatility used to mark the option (annualised, > 0).
    - ``rate``: continuously compounded USD rate for discounting (annualised).
    - ``carry``: cost of carry ``b`` of ``keeper.pricing``. ``None`` (default) means ``b = rate``:
      Black-Scholes on the spot price, right for an option settled on spot ETH (ETH pays no yield).
      For an option on a perp or future, pass the forward/perp price as the spot and ``carry=0.0``
      (Black-76). With the default ``rate = 0`` both conventions coincide.
    """

    model_config = _FROZEN

    kind: Literal["call", "put"]
    strike_usd: float = Field(gt=0)
    expiry_years: float = Field(ge=0)
    size_eth: float
    premium_usd: float = Field(default=0.0, ge=0)
    iv: float = Field(gt=0)
    rate: float = 0.0
    carry: float | None = None

    @property
    def is_call(self) -> bool:
        return self.kind == "call"

    @property
    def dte(self) -> float:
        """Days to expiry (365-day year)."""
        return self.expiry_years * DAYS_PER_YEAR


class MarketState(BaseModel):
    """Market inputs of a risk computation.

    - ``spot_usd``: ETH spot (oracle) price, USD per ETH; marks the spot leg and the options.
    - ``perp_mark_usd``: the perp's mark price, USD per ETH; ``None`` = the spot price (no basis).
    - ``rate``: USD rate (annualised, continuous) for quantities that are not per-option, i.e. the
      discount factor of the hedge band (option rates are per option: ``OptionPosition.rate``).
    """

    model_config = _FROZEN

    spot_usd: float = Field(gt=0)
    perp_mark_usd: float | None = Field(default=None, gt=0)
    rate: float = 0.0

    @property
    def perp_mark(self) -> float:
        """The perp mark, USD per ETH (the spot price when no separate mark was given)."""
        return self.spot_usd if self.perp_mark_usd is None else self.perp_mark_usd


@dataclass(frozen=True, slots=True, eq=False)
class OptionBook:
    """A book of European options as parallel, read-only 1-D numpy arrays (one element per option).

    Fields (units as in :class:`OptionPosition`): ``is_call`` (bool), ``strike_usd``, ``expiry_years``,
    ``size_eth`` (signed), ``iv``, ``rate``, ``carry`` (the cost of carry ``b``, already resolved: equal
    to ``rate`` where the position said ``None``).
    """

    is_call: BoolArray
    strike_usd: FloatArray
    expiry_years: FloatArray
    size_eth: FloatArray
    iv: FloatArray
    rate: FloatArray
    carry: FloatArray

    def __len__(self) -> int:
        return int(self.size_eth.shape[0])

    @property
    def dte(self) -> FloatArray:
        """Days to expiry per option (365-day year)."""
        return self.expiry_years * DAYS_PER_YEAR

    @classmethod
    def empty(cls) -> OptionBook:
        return cls.from_arrays(
            np.zeros(0, dtype=bool), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0)
        )

    @classmethod
    def from_positions(cls, options: Iterable[OptionPosition]) -> OptionBook:
        """The book of already-validated :class:`OptionPosition` models."""
        opts = list(options)
        if not opts:
            return cls.empty()
        rate = np.array([o.rate for o in opts], dtype=np.float64)
        carry = np.array([o.rate if o.carry is None else o.carry for o in opts], dtype=np.float64)
        return cls._frozen(
            is_call=np.array([o.kind == "call" for o in opts], dtype=bool),
            strike_usd=np.array([o.strike_usd for o in opts], dtype=np.float64),
            expiry_years=np.array([o.expiry_years for o in opts], dtype=np.float64),
            size_eth=np.array([o.size_eth for o in opts], dtype=np.float64),
            iv=np.array([o.iv for o in opts], dtype=np.float64),
            rate=rate,
            carry=carry,
        )

    @classmethod
    def from_arrays(
        cls,
        is_call: ArrayLike,
        strike_usd: ArrayLike,
        expiry_years: ArrayLike,
        size_eth: ArrayLike,
        iv: ArrayLike,
        rate: ArrayLike = 0.0,
        carry: ArrayLike | None = None,
    ) -> OptionBook:
        """A book straight from arrays (broadcast together to one length), validated as a whole.

        ``is_call`` is a bool array (True = call) or ``"c"``/``"p"``/``"call"``/``"put"`` strings;
        ``carry=None`` means ``carry = rate``. Raises ``ValueError`` naming the offending argument.
        """
        from keeper.pricing import parse_cp  # local: keeps this module importable on its own

        try:
            calls = np.array(parse_cp(is_call), dtype=bool)
        except ValueError as exc:
            raise ValueError(f"is_call: {exc}") from None
        checked = {
            "strike_usd": _finite("strike_usd", strike_usd, positive=True),
            "expiry_years": _finite("expiry_years", expiry_years, non_negative=True),
            "size_eth": _finite("size_eth", size_eth),
            "iv": _finite("iv", iv, positive=True),
            "rate": _finite("rate", rate),
        }
        checked["carry"] = checked["rate"] if carry is None else _finite("carry", carry)
        arrays = [calls, *checked.values()]
        if any(a.ndim > 1 for a in arrays):
            raise ValueError("OptionBook arrays must be scalars or 1-D")
        try:
            shape = np.broadcast_shapes(*(a.shape for a in arrays))
        except ValueError as exc:
            raise ValueError(f"OptionBook arrays do not have one common length: {exc}") from None
        n = int(shape[0]) if shape else 1
        b = {k: np.broadcast_to(v, (n,)).astype(np.float64) for k, v in checked.items()}
        return cls._frozen(is_call=np.broadcast_to(calls, (n,)).astype(bool), **b)

    @classmethod
    def _frozen(cls, **arrays: np.ndarray) -> OptionBook:
        for a in arrays.values():
            a.setflags(write=False)
        return cls(**arrays)  # type: ignore[arg-type]


def _finite(name: str, value: ArrayLike, *, positive: bool = False, non_negative: bool = False) -> FloatArray:
    arr = np.array(value, dtype=np.float64)  # a copy: the book never aliases the caller's arrays
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (got NaN or infinity)")
    if positive and not np.all(arr > 0):
        raise ValueError(f"{name} must be > 0 (got {arr[~(arr > 0)].ravel()[0] if arr.ndim else float(arr)})")
    if non_negative and not np.all(arr >= 0):
        raise ValueError(
            f"{name} must be >= 0 (got {arr[~(arr >= 0)].ravel()[0] if arr.ndim else float(arr)})"
        )
    return arr


class Portfolio(BaseModel):
    """The vault's whole book at one instant.

    - ``spot``: spot ETH held.
    - ``perp``: the perp position, if any.
    - ``options``: the European options (short and long).
    - ``idle_usd``: USDC not deployed, including all option premium received/paid (it is cash).

    Equity (net asset value), USD = ``idle + spot · S + perp equity + Σ size · option price``
    (``keeper.risk.portfolio_value_usd``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    spot: SpotPosition = SpotPosition()
    perp: PerpPosition | None = None
    options: tuple[OptionPosition, ...] = ()
    idle_usd: float = 0.0

    @property
    def option_book(self) -> OptionBook:
        """The options as a vectorized :class:`OptionBook`, built once per portfolio and then cached.

        The cache remembers which ``options`` tuple it was built from, so a ``model_copy(update=...)``
        that replaces the options (and copies the instance dict) never sees a stale book.
        """
        cached = self.__dict__.get(_BOOK_CACHE)
        if cached is None or cached[0] is not self.options:
            cached = (self.options, OptionBook.from_positions(self.options))
            self.__dict__[_BOOK_CACHE] = cached  # not a field: ignored by ==, hash and model_dump
        return cached[1]


_BOOK_CACHE = "_keel_option_book"
