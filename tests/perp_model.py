"""Integer reference model of PerpMarket (contracts/venues/PerpMarket.sol, contracts/libraries/PerpMath.sol).

Same units and the same rounding as the contract: sizes and prices in wad, money in USDC units, Python's
``//`` floors toward −∞ like ``PerpMath.floorDiv``. The model mirrors the whole market (accounts, funding
index, pool, insurance fund, bad debt), so a test can predict every state change and every revert to the
unit and compare.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WAD = 10**18
BPS = 10_000
SCALE = 10**30  # size (wad) × price (wad) / SCALE = USDC units
FUNDING_PERIOD = 8 * 3600


def ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def trunc_div(a: int, b: int) -> int:
    """Division truncated toward zero (Solidity's signed ``/``), for b > 0."""
    q = abs(a) // b
    return q if a >= 0 else -q


def pnl_usdc_down(size: int, entry: int, price: int) -> int:
    return ((price - entry) * size) // SCALE if size else 0


def funding_usdc_down(size: int, index_delta: int) -> int:
    return (-index_delta * size) // SCALE if size and index_delta else 0


def requirement_usdc_up(size: int, price: int, rate_wad: int) -> int:
    return ceil_div(abs(size) * price * rate_wad, 10**48) if size else 0


def fee_usdc_up(abs_size: int, price: int, bps: int) -> int:
    return ceil_div(abs_size * price * bps, BPS * SCALE) if bps else 0


def funding_index_delta(rate_per_sec: int, price: int, elapsed: int) -> int:
    return trunc_div(rate_per_sec * price * elapsed, WAD)


def rate_per_sec_wad(answer: int, decimals: int, cap_8h_wad: int) -> int:
    """The funding feed's 8-hour rate (10**decimals = 100%) as a per-second wad rate, clamped."""
    rate = answer * 10 ** (18 - decimals)
    rate = max(-cap_8h_wad, min(cap_8h_wad, rate))
    return trunc_div(rate, FUNDING_PERIOD)


def entry_against_trader(size: int, entry: int, add: int, price: int) -> int:
    if size == 0:
        return price
    num = entry * abs(size) + price * abs(add)
    den = abs(size) + abs(add)
    return ceil_div(num, den) if add > 0 else num // den


def margin_ratio_wad_down(equity: int, size: int, price: int, mmr: int) -> int:
    if size == 0:
        return 2**255 - 1
    d = abs(size) * price * mmr
    return (equity * 10**66) // d  # floor toward −∞ for both signs


def liquidation_price_wad(size: int, entry: int, margin_plus_funding: int, mmr: int) -> int:
    if size == 0:
        return 0
    held = abs(size)
    if size > 0:
        num = entry * held - margin_plus_funding * SCALE
        return ceil_div(num * WAD, held * (WAD - mmr)) if num > 0 else 0
    num = entry * held + margin_plus_funding * SCALE
    return (num * WAD) // (held * (WAD + mmr)) if num > 0 else 0


class ModelRevert(Exception):  # noqa: N818 - mirrors a Solidity revert, not a Python error condition
    """The contract would revert with custom error ``name`` and ``args``."""

    def __init__(self, name: str, **args: int | str):
        super().__init__(name, args)
        self.name = name
        self.args_ = args


@dataclass
class Account:
    size: int = 0
    entry: int = 0
    margin: int = 0
    snap: int = 0


@dataclass
class PerpModel:
    imr: int
    mmr: int
    fee_bps: int
    penalty_bps: int
    share_bps: int
    cap_8h: int
    last_update: int
    cum: int = 0
    pool: int = 0
    insurance: int = 0
    bad_debt: int = 0
    accounts: dict[str, Account] = field(default_factory=dict)

    def acct(self, who: str) -> Account:
        return self.accounts.setdefault(who, Account())

    # ---------------------------------------------------------------- funding
    def index_at(self, t: int, price: int, rate_ps: int) -> int:
        return (
            self.cum + funding_index_delta(rate_ps, price, t - self.last_update)
            if t > self.last_update
            else self.cum
        )

    def accrue(self, t: int, price: int, rate_ps: int) -> int:
        if t > self.last_update:
            self.cum = self.index_at(t, price, rate_ps)
            self.last_update = t
        return self.cum

    def _settle(self, a: Account) -> int:
        f = funding_usdc_down(a.size, self.cum - a.snap) if a.size else 0
        a.margin += f
        a.snap = self.cum
        return f

    # ---------------------------------------------------------------- views
    def view(self, who: str, t: int, price: int, rate_ps: int) -> dict[str, int]:
        a = self.acct(who)
        cum = self.index_at(t, price, rate_ps)
        f = funding_usdc_down(a.size, cum - a.snap)
        equity = a.margin + pnl_usdc_down(a.size, a.entry, price) + f
        return {
            "pending": f,
            "equity": equity,
            "initial": requirement_usdc_up(a.size, price, self.imr),
            "maintenance": requirement_usdc_up(a.size, price, self.mmr),
            "ratio": margin_ratio_wad_down(equity, a.size, price, self.mmr),
            "liq": liquidation_price_wad(a.size, a.entry, a.margin + f, self.mmr),
        }

    # ---------------------------------------------------------------- actions (transactional)
    def trade(self, who: str, delta: int, price: int, t: int, rate_ps: int) -> dict[str, int]:
        """Applies a trade at time t; raises ModelRevert (state untouched) when the contract would revert."""
        snapshot = (self.cum, self.last_update, self.pool, dict(vars(self.acct(who))))
        try:
            return self._trade(who, delta, price, t, rate_ps)
        except ModelRevert:
            self.cum, self.last_update, self.pool, saved = snapshot
            self.accounts[who] = Account(**saved)
            raise

    def _trade(self, who: str, delta: int, price: int, t: int, rate_ps: int) -> dict[str, int]:
        a = self.acct(who)
        self.accrue(t, price, rate_ps)
        self.pool -= self._settle(a)
        old = a.size
        pnl = 0
        if old == 0 or (old > 0) == (delta > 0):
            a.entry = entry_against_trader(old, a.entry, delta, price)
            a.size = old + delta
        else:
            closed = old if abs(delta) >= abs(old) else -delta
            pnl = pnl_usdc_down(closed, a.entry, price)
            a.margin += pnl
            a.size = old + delta
            if a.size == 0:
                a.entry = 0
            elif abs(delta) > abs(old):
                a.entry = price
        fee = fee_usdc_up(abs(delta), price, self.fee_bps)
        a.margin -= fee
        self.pool += fee - pnl
        equity = a.margin + pnl_usdc_down(a.size, a.entry, price)
        increases = abs(a.size) > abs(old) or (a.size != 0 and old != 0 and (a.size > 0) != (old > 0))
        if increases:
            req = requirement_usdc_up(a.size, price, self.imr)
            if equity < req:
                raise ModelRevert("InitialMarginBreached", equityUsdc=equity, initialMarginUsdc=req)
        elif equity < 0:
            raise ModelRevert("NegativeEquity", equityUsdc=equity)
        return {"fee": fee, "pnl": pnl}

    def deposit(self, who: str, amount: int) -> None:
        self.acct(who).margin += amount

    def liquidatable(self, who: str, t: int, price: int, rate_ps: int) -> bool:
        a = self.acct(who)
        if a.size == 0:
            return False
        v = self.view(who, t, price, rate_ps)
        return v["equity"] < v["maintenance"]

    def liquidate(self, who: str, price: int, t: int, rate_ps: int) -> dict[str, int]:
        a = self.acct(who)
        assert a.size != 0 and self.liquidatable(who, t, price, rate_ps)
        self.accrue(t, price, rate_ps)
        self.pool -= self._settle(a)
        pnl = pnl_usdc_down(a.size, a.entry, price)
        equity = a.margin + pnl
        closed = a.size
        self.pool -= pnl
        penalty = reward = socialised = covered = 0
        if equity >= 0:
            penalty = min(fee_usdc_up(abs(closed), price, self.penalty_bps), equity)
            reward = penalty * self.share_bps // BPS
            self.insurance += penalty - reward
            a.margin = equity - penalty
        else:
            shortfall = -equity
            covered = min(shortfall, self.insurance)
            self.insurance -= covered
            socialised = shortfall - covered
            self.pool -= socialised
            self.bad_debt += socialised
            a.margin = 0
        a.size = 0
        a.entry = 0
        return {
            "closed": closed,
            "equity": equity,
            "penalty": penalty,
            "reward": reward,
            "covered": covered,
            "socialised": socialised,
        }
