"""Snapshot → risk: the book a `Snapshot` describes, as `keeper.risk` models, and its `RiskReport`.

Pure (no I/O). The venue's calls are capped (payout min(max(S − K, 0), C)): each is modelled exactly as
a long call at K and a short call at K + C. Options are marked at the IV feed's value (no spread), spot
at the validated oracle price (the last good price when the read failed), time to expiry from the
snapshot's block time.

`assess` builds the options straight into the risk engine's vectorized `OptionBook` (no pydantic model
per option: with 10,000 positions, most of `assess` is then the scenario grid's numerics rather than
15,000 model validations; bench/keeper_latency.py); `portfolio` returns the same book as
`OptionPosition` models. Both give the same risk report, float for float (tests/keeper/test_assess.py).
"""

from __future__ import annotations

import numpy as np

from keeper.positions import MarketState, OptionBook, OptionPosition, PerpPosition, Portfolio, SpotPosition
from keeper.risk import RiskReport, ScenarioConfig, risk_report
from keeper.snapshot import Snapshot

WAD = 10**18
YEAR_SEC = 365 * 86_400
MIN_IV = 0.01


def mark_price_usd(snap: Snapshot) -> float:
    """The spot price used for marking: the oracle value when valid, else the spot leg's last good
    price, else the perp entry (never 0)."""
    if snap.spot_oracle.ok:
        return snap.spot_oracle.value_wad / WAD
    st = snap.spot_oracle.state
    if st is not None and st.last_good_wad > 0:
        return st.last_good_wad / WAD
    return max(snap.perp.entry_price_wad / WAD, 1.0)


def implied_vol(snap: Snapshot) -> float:
    iv = snap.iv_oracle.value_wad / WAD if snap.iv_oracle.value_wad > 0 else 0.0
    if iv <= 0 and snap.iv_oracle.state is not None:
        iv = snap.iv_oracle.state.last_good_wad / WAD
    return max(iv, MIN_IV)


def option_positions(snap: Snapshot) -> tuple[OptionPosition, ...]:
    """The leg's unsettled positions as risk-model options (a capped call is two of them)."""
    iv = implied_vol(snap)
    out: list[OptionPosition] = []
    for s in snap.options.positions:
        if s.size_wad == 0 or s.settled:
            continue
        size = s.size_wad / WAD
        tau = max(0, s.expiry - snap.timestamp) / YEAR_SEC
        out.append(
            OptionPosition(kind=s.kind, strike_usd=s.strike_wad / WAD, expiry_years=tau, size_eth=size, iv=iv)
        )
        if s.is_call:
            out.append(
                OptionPosition(
                    kind="call",
                    strike_usd=(s.strike_wad + s.cap_wad) / WAD,
                    expiry_years=tau,
                    size_eth=-size,
                    iv=iv,
                )
            )
    return tuple(out)


def option_book(snap: Snapshot) -> OptionBook:
    """`option_positions` as one `OptionBook` (same options, same order, same floats), built from
    arrays: no model per option."""
    iv = implied_vol(snap)
    now = snap.timestamp
    calls: list[bool] = []
    strikes: list[float] = []
    taus: list[float] = []
    sizes: list[float] = []
    for s in snap.options.positions:
        if s.size_wad == 0 or s.settled:
            continue
        size = s.size_wad / WAD
        tau = max(0, s.expiry - now) / YEAR_SEC
        calls.append(s.is_call)
        strikes.append(s.strike_wad / WAD)
        taus.append(tau)
        sizes.append(size)
        if s.is_call:  # the cap: a short call at K + C
            calls.append(True)
            strikes.append((s.strike_wad + s.cap_wad) / WAD)
            taus.append(tau)
            sizes.append(-size)
    if not calls:
        return OptionBook.empty()
    # What `OptionPosition` would reject: every other field is finite and in range by construction
    # (sizes and strikes are ints / WAD, tau >= 0, iv >= MIN_IV).
    if min(strikes) <= 0:
        bad = next(s for s in snap.options.positions if s.strike_wad <= 0 and s.size_wad and not s.settled)
        raise ValueError(
            f"option series {bad.series_id}: strike_usd must be > 0 (got {bad.strike_wad / WAD})"
        )
    n = len(calls)
    arrays = {
        "is_call": np.array(calls, dtype=bool),
        "strike_usd": np.array(strikes, dtype=np.float64),
        "expiry_years": np.array(taus, dtype=np.float64),
        "size_eth": np.array(sizes, dtype=np.float64),
        "iv": np.full(n, iv, dtype=np.float64),
        "rate": np.zeros(n),
        "carry": np.zeros(n),  # carry = rate (Black-Scholes on spot), as `OptionPosition` defaults
    }
    for arr in arrays.values():
        arr.setflags(write=False)  # read-only, as every `OptionBook`'s arrays
    return OptionBook(**arrays)


_BOOK = "_keel_assess_book"


class _BookPortfolio(Portfolio):
    """A `Portfolio` whose options come as a prebuilt `OptionBook` (what every `keeper.risk` function
    reads, through `option_book`); `options` stays empty. Private to `assess`, never returned.

    The book sits in the instance dict (not a field: ignored by ==, hash and model_dump), as
    `Portfolio` keeps its own cached book: a plain attribute read (a pydantic private attribute costs
    ~10 µs per read, and the risk report reads the book several times)."""

    @property
    def option_book(self) -> OptionBook:
        return self.__dict__[_BOOK]


def option_cash_assets(snap: Snapshot) -> int:
    """The option leg's cash: collateral locked for open shorts, and what settled positions will claim
    (a long ⌊p·size⌋, a short its collateral − ⌈p·|size|⌉, p the payout per ETH)."""
    scale = 10 ** (36 - snap.vault.asset_decimals)
    cash = 0
    for s in snap.options.positions:
        if not s.settled:
            cash += s.collateral_assets
            continue
        st = s.settlement_price_wad
        payout = min(max(st - s.strike_wad, 0), s.cap_wad) if s.is_call else max(s.strike_wad - st, 0)
        if s.size_wad > 0:
            cash += payout * s.size_wad // scale
        else:
            cash += s.collateral_assets - (-(-payout * -s.size_wad // scale))
    return cash


def portfolio(snap: Snapshot) -> tuple[Portfolio, MarketState]:
    """The vault's book (USD, ETH) and the market it is marked at."""
    return _portfolio(snap, books=False)


def _portfolio(snap: Snapshot, *, books: bool) -> tuple[Portfolio, MarketState]:
    """`portfolio`; with `books`, the options as one `OptionBook` rather than models."""
    spot = mark_price_usd(snap)
    scale = snap.asset_scale
    p = snap.perp
    perp = None
    if p.size_wad != 0 or p.margin_assets > 0:
        perp = PerpPosition(
            size_eth=p.size_wad / WAD,
            entry_price_usd=p.entry_price_wad / WAD if p.entry_price_wad > 0 else spot,
            margin_usd=max(p.margin_assets, 0) / scale,
            funding_accrued_usd=p.pending_funding_assets / scale,
            imr=p.imr_wad / WAD,
            mmr=min(p.mmr_wad, p.imr_wad) / WAD,
        )
    idle = (
        snap.vault.idle_assets + snap.spot.cash_assets + p.leg_cash_assets + option_cash_assets(snap)
    ) / scale
    spot_position = SpotPosition(size_eth=snap.spot.weth_wad / WAD)
    market = MarketState(spot_usd=spot)
    if not books:
        return Portfolio(spot=spot_position, perp=perp, options=option_positions(snap), idle_usd=idle), market
    book = _BookPortfolio(spot=spot_position, perp=perp, idle_usd=idle)
    book.__dict__[_BOOK] = option_book(snap)
    return book, market


def assess(snap: Snapshot, scenarios: ScenarioConfig | None = None) -> RiskReport:
    """The snapshot's risk report (Greeks, perp margin and liquidation distance, scenario loss)."""
    book, market = _portfolio(snap, books=True)
    return risk_report(book, market, scenarios)
