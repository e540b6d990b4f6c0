"""Drive `VaultModel` along market paths with the live keeper's decision function.

Each step, in the demo's order (`keeper.demo.engine.run_demo`): the market advances (funding accrues,
feeds publish, the pool re-pegs, a liquidatable perp is liquidated); once a day the operator settles
expired unheld series and lists new ones; scheduled depositor flows; then the keeper's cycle:
`snapshot → keeper.assess.assess → keeper.policy.decide → apply each action` (an action that reverts
stops the cycle, as a failed transaction makes the rest revert `StaleNonce` on chain).

Per path: return (share price), APY, max drawdown of the share price, hedge error = std of the
hourly PnL of the net delta (net delta × Δspot, USD), hedge cost (perp fees + pool fee and impact),
funding earned, option premium, liquidations, insurance skim and draw, action and revert counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from keeper.assess import assess
from keeper.backtest.model import USDC, WAD, VaultModel, VenueParams
from keeper.guard import GuardParams
from keeper.policy import PolicyConfig, decide
from keeper.sim import MarketConfig, MarketPath, Shock, simulate_market


def default_guard() -> GuardParams:
    """The demo's RiskGuard bounds (`keeper.demo.config.DemoConfig.guard`), so both run the same book."""
    from keeper.demo.config import DemoConfig

    return DemoConfig.model_fields["guard"].default


@dataclass(frozen=True)
class BacktestSettings:
    """The vault around the policy: guard, venue constants, deposits and scheduled withdrawals."""

    guard: GuardParams = field(default_factory=default_guard)
    venue: VenueParams = field(default_factory=VenueParams)
    deposits_usd: tuple[float, ...] = (300_000.0, 250_000.0, 200_000.0, 150_000.0, 100_000.0)
    insurance_seed_usd: float = 20_000.0
    # (step, depositor index, fraction of their shares) redeemed instantly when idle covers it;
    # the demo's depositors withdraw 2 % of the last one's shares at step 2
    withdrawals: tuple[tuple[int, int, float], ...] = ((2, -1, 0.02),)
    t0: int = 1_704_067_200  # 2024-01-01


@dataclass
class PathResult:
    path_id: int
    seed: int | None
    steps: int
    days: float
    share_price_start: float
    share_price_end: float
    period_return: float
    apy: float
    max_drawdown: float
    nav_end_usd: float
    hedge_error_usd: float
    max_abs_net_delta_eth: float
    hedge_cost_usd: float
    perp_fees_usd: float
    spot_costs_usd: float
    funding_usd: float
    option_premium_usd: float
    option_fees_usd: float
    liquidations: int
    liquidation_penalty_usd: float
    insurance_skimmed_usd: float
    insurance_paid_usd: float
    insurance_end_usd: float
    rebalances: int
    option_trades: int
    settlements: int
    reports: int
    cover_losses: int
    reverts: int
    params: dict[str, float] = field(default_factory=dict)

    def row(self) -> dict[str, object]:
        d = asdict(self)
        p = d.pop("params")
        return {**{f"param_{k}": v for k, v in p.items()}, **d}


def max_drawdown(values: Sequence[float]) -> float:
    peak, worst = -math.inf, 0.0
    for v in values:
        peak = max(peak, v)
        if peak > 0:
            worst = max(worst, (peak - v) / peak)
    return worst


def published_funding(path: MarketPath, i: int, every: int, cap: float) -> float:
    """The demo's funding round at step i: the mean of the path over the period that starts."""
    w = path.funding_8h[i : i + every]
    return float(min(max(float(w.mean()), -cap), cap))


def run_path(
    path: MarketPath,
    policy: PolicyConfig,
    settings: BacktestSettings | None = None,
    *,
    path_id: int = 0,
    seed: int | None = None,
    params: dict[str, float] | None = None,
    on_step: Callable[[int, VaultModel, list[str]], None] | None = None,
) -> PathResult:
    """One path through the model with the policy; returns its figures."""
    st = settings or BacktestSettings()
    v = st.venue
    spd = path.steps_per_day
    step_sec = round(86_400 / spd)
    every = max(1, round(v.funding_update_hours * spd / 24))
    cap = v.perp_max_funding_8h_wad / WAD
    m = VaultModel(
        st.guard,
        v,
        st.t0,
        float(path.spot[0]),
        float(min(max(path.iv[0], 0.05), 5.0)),
        published_funding(path, 0, every, cap),
        st.insurance_seed_usd,
        step_sec,
    )
    m.list_day()
    holders = [m.deposit(int(usd * USDC)) for usd in st.deposits_usd]
    price0 = m.share_price_wad() / WAD
    prices = [price0]
    deltas: list[float] = []
    pnl_delta: list[float] = []
    n = path.n_steps
    for k in range(1, n + 1):
        pub = published_funding(path, k, every, cap) if k % every == 0 else None
        m.advance(float(path.spot[k]), float(path.iv[k]), pub)
        if k % spd == 0:
            m.settle_listed()
            if k < n:
                m.list_day()
        for step, who, frac in st.withdrawals:
            if step == k and holders:
                shares = int(holders[who] * frac)
                if shares and m.redeem(shares):
                    holders[who] -= shares
        snap = m.snapshot()
        risk = assess(snap)
        net = risk.greeks.net_delta_eth
        if deltas:
            pnl_delta.append(deltas[-1] * (float(path.spot[k]) - float(path.spot[k - 1])))
        deltas.append(net)
        kinds = []
        for action in decide(snap, risk, policy):
            if not m.apply(action):
                break
            kinds.append(action.kind)
        prices.append(m.share_price_wad() / WAD)
        if on_step is not None:
            on_step(k, m, kinds)
    days = n / spd
    end = prices[-1]
    ret = end / price0 - 1
    c = m.c
    return PathResult(
        path_id=path_id,
        seed=seed,
        steps=n,
        days=days,
        share_price_start=price0,
        share_price_end=end,
        period_return=ret,
        apy=(1 + ret) ** (365.0 / days) - 1 if ret > -1 else -1.0,
        max_drawdown=max_drawdown(prices),
        nav_end_usd=m.nav() / USDC,
        hedge_error_usd=float(np.std(pnl_delta)) if pnl_delta else 0.0,
        max_abs_net_delta_eth=max((abs(d) for d in deltas), default=0.0),
        hedge_cost_usd=(c.perp_fees + c.spot_costs) / USDC,
        perp_fees_usd=c.perp_fees / USDC,
        spot_costs_usd=c.spot_costs / USDC,
        funding_usd=c.funding / USDC,
        option_premium_usd=c.option_premium / USDC,
        option_fees_usd=c.option_fees / USDC,
        liquidations=c.liquidations,
        liquidation_penalty_usd=c.liquidation_penalty / USDC,
        insurance_skimmed_usd=c.insurance_skimmed / USDC,
        insurance_paid_usd=c.insurance_paid / USDC,
        insurance_end_usd=m.ins / USDC,
        rebalances=c.actions.get("rebalance", 0),
        option_trades=c.actions.get("trade_option", 0),
        settlements=c.actions.get("settle_option", 0),
        reports=c.actions.get("report", 0),
        cover_losses=c.actions.get("cover_loss", 0),
        reverts=sum(c.reverts.values()),
        params=dict(params or {}),
    )


def simulate_paths(
    n: int, days: int, seed: int, steps_per_day: int = 24, shocks: tuple[Shock, ...] = ()
) -> list[tuple[int, MarketPath]]:
    """`n` seeded paths (seeds seed, seed+1, ...) of the simulator with the demo's starting regime."""
    return [
        (
            seed + i,
            simulate_market(
                MarketConfig(
                    seed=seed + i, days=days, steps_per_day=steps_per_day, initial_regime=1, shocks=shocks
                )
            ),
        )
        for i in range(n)
    ]


def run_backtest(
    paths: Sequence[MarketPath | tuple[int | None, MarketPath]],
    policy: PolicyConfig,
    settings: BacktestSettings | None = None,
    *,
    sweeps: dict[str, Sequence[float]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[PathResult]:
    """Every path under every combination of the sweep values (the policy's fields); one result each."""
    import itertools

    items = [p if isinstance(p, tuple) else (None, p) for p in paths]
    sweeps = sweeps or {}
    names = list(sweeps)
    combos = list(itertools.product(*(sweeps[k] for k in names))) or [()]
    total = len(combos) * len(items)
    out: list[PathResult] = []
    done = 0
    for combo in combos:
        params = dict(zip(names, combo, strict=True))
        cfg = policy.model_copy(update=params) if params else policy
        cfg = PolicyConfig.model_validate(cfg.model_dump())  # validate the swept values
        for i, (seed, path) in enumerate(items):
            out.append(run_path(path, cfg, settings, path_id=i, seed=seed, params=params))
            done += 1
            if progress is not None:
                progress(done, total)
    return out
