"""Hedging frontier: error against cost for periodic, threshold and Whalley-Wilmott delta hedging.

A short ATM 30-day ETH call (sigma 70%, r = 0) is delta-hedged with a linear perpetual (delta 1 per
ETH, funding ignored) that costs 5 bp of traded notional, checked every hour, over seeded GBM paths
from keeper.sim (one 70% regime, no jumps: the model the option is priced with, so the hedging error
comes from discrete trading alone). Every rule starts flat and applies its own test at t = 0.

- periodic: rehedge to the Black-Scholes delta every 1h, 4h, 8h, 24h;
- threshold: rehedge to the delta (to zero net delta) when |net delta| exceeds a fixed amount;
- Whalley-Wilmott: trade to the nearer edge of the band delta ± H, with
  H = (3/2·e^{−rτ}·κ·S·Γ²/γ)^{1/3} from keeper.risk.ww_half_width_eth, for several γ.

Per rule: the std of the hedging error (premium − payoff + hedge P&L, before costs) and the mean cost,
both as a fraction of the premium. The goal: at equal cost, the band's error std is at least 35% below
periodic rehedging (periodic interpolated linearly in log-cost between its points).

Run: `python bench/hedge_frontier.py [--paths 2000] [--seed 7] [--png out/hedge_frontier.png]`.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keeper import pricing
from keeper.risk import ww_half_width_eth
from keeper.sim import MarketConfig, simulate_spot_paths

S0 = 3000.0
SIGMA = 0.70
DAYS = 30
STEPS_PER_DAY = 24
COST = 0.0005  # one-way, fraction of traded notional (5 bp)
RATE = 0.0


@dataclass(frozen=True)
class Outcome:
    rule: str
    kind: str
    error_std: float  # std of the hedging error, fraction of premium
    cost_mean: float  # mean trading cost, fraction of premium
    trades_mean: float  # rebalances per path


def market(n_paths: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    cfg = MarketConfig(
        seed=seed,
        days=DAYS,
        steps_per_day=STEPS_PER_DAY,
        s0=S0,
        mu=0.0,
        regime_vols=(SIGMA,),
        regime_transition=((1.0,),),
        jump_intensity=0.0,
    )
    spots = simulate_spot_paths(cfg, n_paths)  # (paths, steps + 1)
    steps = spots.shape[1] - 1
    tau = (DAYS / 365.0) * (1.0 - np.arange(steps + 1) / steps)  # time to expiry at each step
    # delta and gamma of the call at every step but the last (expiry), all paths at once
    g = pricing.greeks("c", spots[:, :-1], S0, tau[:-1], RATE, SIGMA)
    premium = float(pricing.price("c", S0, S0, DAYS / 365.0, RATE, SIGMA))
    return spots, g.delta, g.gamma, premium


def run_rule(
    spots: np.ndarray, targets: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Hedge P&L and costs per path for a rule given per-step (target, band lower/upper) on the hedge.

    The hedge position h (ETH of perp) is moved only when it leaves [lower, upper], to `targets`
    when the rule trades to the target, or to the nearer edge (targets = NaN means "to the edge").
    """
    n_paths, steps = targets.shape
    h = np.zeros(n_paths)
    pnl = np.zeros(n_paths)
    cost = np.zeros(n_paths)
    trades = np.zeros(n_paths)
    for i in range(steps):
        s = spots[:, i]
        out = (h < lower[:, i]) | (h > upper[:, i])
        to_edge = np.clip(h, lower[:, i], upper[:, i])
        new_h = np.where(out, np.where(np.isnan(targets[:, i]), to_edge, targets[:, i]), h)
        traded = np.abs(new_h - h)
        cost += COST * traded * s
        trades += traded > 0
        h = new_h
        pnl += h * (spots[:, i + 1] - s)
    return pnl, cost, trades


def evaluate(
    name: str, kind: str, spots: np.ndarray, premium: float, hedge: tuple[np.ndarray, ...]
) -> Outcome:
    pnl, cost, trades = hedge
    payoff = np.maximum(spots[:, -1] - S0, 0.0)
    error = (premium - payoff + pnl) / premium  # short call + long hedge, before costs
    return Outcome(name, kind, float(np.std(error)), float(np.mean(cost) / premium), float(np.mean(trades)))


def frontier(n_paths: int, seed: int) -> tuple[list[Outcome], float]:
    spots, delta, gamma, premium = market(n_paths, seed)
    steps = delta.shape[1]
    outcomes: list[Outcome] = []
    for hours in (1, 4, 8, 24):
        on = (np.arange(steps) % hours) == 0
        # on a rehedge step the band is empty (always trade to delta); otherwise it is everything
        lower = np.where(on, delta, -np.inf)
        upper = np.where(on, delta, np.inf)
        outcomes.append(
            evaluate(f"every {hours}h", "periodic", spots, premium, run_rule(spots, delta, lower, upper))
        )
    for threshold in (0.02, 0.05, 0.10, 0.20):
        hedged = run_rule(spots, delta, delta - threshold, delta + threshold)
        outcomes.append(evaluate(f"|delta| > {threshold:.2f}", "threshold", spots, premium, hedged))
    tau = (DAYS / 365.0) * (1.0 - np.arange(steps) / steps)
    for gamma_ra in (1e-4, 1e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0):
        width = ww_half_width_eth(gamma, spots[:, :-1], COST, gamma_ra, RATE, tau[None, :], 0.0, 1.0)
        nan = np.full_like(delta, np.nan)  # trade to the nearer band edge
        hedged = run_rule(spots, nan, delta - width, delta + width)
        outcomes.append(evaluate(f"WW gamma={gamma_ra:g}", "band", spots, premium, hedged))
    return outcomes, premium


def periodic_std_at(cost: float, periodic: list[Outcome]) -> float | None:
    pts = sorted(periodic, key=lambda o: o.cost_mean)
    xs = np.log([o.cost_mean for o in pts])
    if not xs[0] <= np.log(cost) <= xs[-1]:
        return None
    return float(np.interp(np.log(cost), xs, [o.error_std for o in pts]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--png", type=Path, default=Path("out/hedge_frontier.png"))
    args = parser.parse_args()

    t0 = time.perf_counter()
    outcomes, premium = frontier(args.paths, args.seed)
    elapsed = time.perf_counter() - t0
    periodic = [o for o in outcomes if o.kind == "periodic"]
    print(
        f"hedge frontier: short ATM {DAYS}-day call, sigma {SIGMA:.0%}, perp at {COST * 1e4:.0f} bp, "
        f"hourly checks, {args.paths:,} paths (seed {args.seed}), premium {premium:.2f} USD per ETH; "
        f"{elapsed:.1f} s"
    )
    print(f"  {'rule':<18} {'error std':>10} {'mean cost':>10} {'trades':>7}   vs periodic at equal cost")
    best = None
    for o in outcomes:
        note = ""
        if o.kind == "band":
            ref = periodic_std_at(o.cost_mean, periodic)
            if ref is not None:
                gain = 1.0 - o.error_std / ref
                best = gain if best is None else max(best, gain)
                note = f"periodic {ref:.4f} -> {gain:+.0%} lower"
            else:
                note = "(cost outside the periodic range)"
        print(f"  {o.rule:<18} {o.error_std:>10.4f} {o.cost_mean:>10.4f} {o.trades_mean:>7.1f}   {note}")
    if best is not None:
        verdict = "met" if best >= 0.35 else "NOT met"
        print(f"  best band reduction in error std at equal cost: {best:.0%} (goal >= 35%: {verdict})")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for kind, marker in (("periodic", "o-"), ("threshold", "s--"), ("band", "^-")):
        pts = sorted((o for o in outcomes if o.kind == kind), key=lambda o: o.cost_mean)
        ax.plot([o.cost_mean for o in pts], [o.error_std for o in pts], marker, label=kind)
        for o in pts:
            ax.annotate(o.rule.replace("WW ", ""), (o.cost_mean, o.error_std), fontsize=6, alpha=0.7)
    ax.set_xscale("log")
    ax.set_xlabel("mean hedging cost / premium")
    ax.set_ylabel("std of hedging error / premium")
    ax.set_title(f"Short ATM {DAYS}d call, sigma {SIGMA:.0%}, {COST * 1e4:.0f} bp perp, {args.paths} paths")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    args.png.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(args.png, dpi=120)
    print(f"  plot: {args.png}")


if __name__ == "__main__":
    main()
