"""The demo's HTML report: summary tables and matplotlib plots embedded as base64 PNGs (one file)."""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from keeper.demo.engine import DemoResult

PLOTS = (
    "share_price",
    "positions",
    "net_delta",
    "gamma_vega",
    "margin_ratio",
    "funding",
    "insurance",
    "attribution",
)


def _fig_to_b64(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _shade_shock(ax: Any, result: DemoResult) -> None:
    shock = result.summary["market"]["shock"]
    if shock:
        ax.axvspan(shock["day"], shock["day"] + shock["hours"] / 24, color="tab:red", alpha=0.08, lw=0)


def plots(result: DemoResult) -> dict[str, str]:
    """name → base64 PNG of every plot of the report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = result.steps
    x = np.array([s.day for s in steps])
    col = {
        k: np.array([getattr(s, k) if getattr(s, k) is not None else np.nan for s in steps], dtype=float)
        for k in (
            "share_price",
            "spot_usd",
            "net_delta_eth",
            "band_half_width_eth",
            "gamma_usd_per_1pct",
            "vega_usd_per_vol_pt",
            "margin_ratio",
            "funding_cum_usd",
            "funding_8h",
            "insurance_usd",
            "nav_usd",
            "iv",
        )
    }
    out: dict[str, str] = {}

    fig, ax = plt.subplots(figsize=(9, 3.4))
    ax.plot(x, col["share_price"], color="tab:blue", lw=1.5, label="share price (USDC per share)")
    ax.set_ylabel("share price")
    ax.set_xlabel("day")
    ax2 = ax.twinx()
    ax2.plot(x, col["spot_usd"], color="tab:gray", lw=0.8, alpha=0.7, label="ETH/USD")
    ax2.set_ylabel("ETH / USD")
    _shade_shock(ax, result)
    ax.set_title("Share price (ETH price in grey; shaded: the stress day)")
    out["share_price"] = _fig_to_b64(fig)

    fig, ax = plt.subplots(figsize=(9, 3.4))
    pos = {
        k: np.array([getattr(s, k) for s in steps], dtype=float)
        for k in ("spot_eth", "perp_eth", "option_delta_eth")
    }
    ax.plot(x, pos["spot_eth"], color="tab:green", lw=1.2, drawstyle="steps-post", label="spot ETH held")
    ax.plot(x, pos["perp_eth"], color="tab:red", lw=1.2, drawstyle="steps-post", label="perp position (ETH)")
    ax.plot(x, pos["option_delta_eth"], color="tab:purple", lw=1.0, label="option delta (ETH)")
    ax.axhline(0, color="k", lw=0.4)
    _shade_shock(ax, result)
    ax.set_ylabel("ETH")
    ax.set_xlabel("day")
    ax.legend(loc="best", fontsize=8)
    ax.set_title("Positions: the basis (spot long, perp short) and the covered calls' delta")
    out["positions"] = _fig_to_b64(fig)

    fig, ax = plt.subplots(figsize=(9, 3.4))
    band = col["band_half_width_eth"]
    ax.fill_between(
        x, -band, band, color="tab:green", alpha=0.15, step="mid", label="hedge band (±half-width)"
    )
    ax.plot(x, col["net_delta_eth"], color="tab:blue", lw=1.0, drawstyle="steps-mid", label="net delta")
    guard = result.summary["risk"]["guard_max_net_delta_eth"]
    span = float(np.nanmax(np.abs(np.concatenate([col["net_delta_eth"], band, [0.5]]))))
    ax.set_ylim(-1.15 * span, 1.15 * span)
    _shade_shock(ax, result)
    ax.axhline(0, color="k", lw=0.4)
    ax.set_ylabel("ETH")
    ax.set_xlabel("day")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(f"Net delta against its band, before each cycle's trades (RiskGuard cap ±{guard:g} ETH)")
    out["net_delta"] = _fig_to_b64(fig)

    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 4.6), sharex=True)
    a1.plot(x, col["gamma_usd_per_1pct"], color="tab:purple", lw=1.0)
    a1.set_ylabel("gamma\nUSD per 1% move")
    a2.plot(x, col["vega_usd_per_vol_pt"], color="tab:orange", lw=1.0)
    a2.set_ylabel("vega\nUSD per vol point")
    a2.set_xlabel("day")
    for a in (a1, a2):
        _shade_shock(a, result)
        a.axhline(0, color="k", lw=0.5)
    a1.set_title("Gamma and vega of the book")
    out["gamma_vega"] = _fig_to_b64(fig)

    fig, ax = plt.subplots(figsize=(9, 3.4))
    ax.plot(
        x, col["margin_ratio"], color="tab:blue", lw=1.0, label="perp margin ratio (equity / maintenance)"
    )
    pol = result.config.policy
    ax.axhline(pol.margin_min_ratio, color="tab:orange", ls="--", lw=0.8, label="policy min")
    ax.axhline(pol.margin_target_ratio, color="tab:green", ls=":", lw=0.8, label="policy target")
    ax.axhline(pol.margin_max_ratio, color="tab:gray", ls="--", lw=0.8, label="policy max")
    ax.axhline(
        result.summary["risk"]["guard_min_margin_ratio"],
        color="tab:red",
        ls="--",
        lw=0.8,
        label="RiskGuard min",
    )
    finite = col["margin_ratio"][np.isfinite(col["margin_ratio"])]
    if finite.size:
        ax.set_ylim(0, max(pol.margin_max_ratio * 1.3, float(np.nanpercentile(finite, 99)) * 1.1))
    _shade_shock(ax, result)
    ax.set_xlabel("day")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title("Perp margin ratio (gaps: no perp position)")
    out["margin_ratio"] = _fig_to_b64(fig)

    fig, ax = plt.subplots(figsize=(9, 3.4))
    ax.plot(x, col["funding_cum_usd"], color="tab:green", lw=1.5, label="funding earned, cumulative (USD)")
    ax.set_ylabel("USD")
    ax.set_xlabel("day")
    ax2 = ax.twinx()
    ax2.plot(x, col["funding_8h"] * 1e4, color="tab:gray", lw=0.8, alpha=0.7)
    ax2.set_ylabel("funding rate, bps / 8h (grey)")
    ax2.axhline(0, color="k", lw=0.4)
    _shade_shock(ax, result)
    ax.set_title("Funding earned by the short perp")
    out["funding"] = _fig_to_b64(fig)

    fig, ax = plt.subplots(figsize=(9, 3.0))
    ax.plot(x, col["insurance_usd"], color="tab:brown", lw=1.5, drawstyle="steps-post")
    _shade_shock(ax, result)
    ax.set_ylabel("USD")
    ax.set_xlabel("day")
    ax.set_title("Insurance fund reserve (skims in, draws out)")
    out["insurance"] = _fig_to_b64(fig)

    # the hedged book's two price lines are large and offset: the chart shows their sum (the table both)
    bars: list[tuple[str, float, bool]] = []
    for ln in result.attribution.lines:
        if ln.group == "flows" or ln.key == "perp_price":
            continue
        if ln.key == "spot_price":
            net = ln.usd + result.attribution.line("perp_price").usd
            bars.append(("price moves, spot + perp (net delta PnL)", net, True))
            continue
        bars.append((ln.label + ("" if ln.in_bridge else " (memo)"), ln.usd, ln.in_bridge))
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(bars) + 1))
    vals = [v for _, v, _ in bars]
    colors = [("tab:green" if v >= 0 else "tab:red") if ok else "tab:gray" for _, v, ok in bars]
    ax.barh(range(len(bars)), vals, color=colors)
    ax.set_yticks(range(len(bars)), [name for name, _, _ in bars])
    ax.invert_yaxis()
    ax.axvline(0, color="k", lw=0.6)
    ax.set_xlabel("USD")
    ax.set_title("PnL attribution (grey: memo, outside the NAV bridge)")
    out["attribution"] = _fig_to_b64(fig)
    return out


def _usd(v: float | None, digits: int = 0) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:,.{digits}f}"


def _table(rows: list[list[Any]], header: list[str] | None = None, cls: str = "") -> str:
    out = [f'<table class="{cls}">']
    if header:
        out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The headline figures as (label, text) — shared by the HTML and the terminal table."""
    v, r, k, m = summary["vault"], summary["risk"], summary["keeper"], summary["market"]
    t = summary["timing"]
    mr = r["min_margin_ratio"]
    return [
        (
            "market",
            f"{m['source']}, {m['days']:g} days × {m['steps_per_day']} steps; ETH "
            f"{m['spot_start_usd']:,.0f} → {m['spot_end_usd']:,.0f} (min {m['spot_min_usd']:,.0f})",
        ),
        ("NAV", f"{v['nav_usd']:,.2f} USDC"),
        ("share price", f"{v['share_price']:.6f} (start {v['share_price_start']:.6f})"),
        ("return over the run / APY", f"{v['period_return'] * 100:+.3f}% / {v['apy'] * 100:+.2f}%"),
        ("max drawdown (share price)", f"{v['max_drawdown'] * 100:.3f}%"),
        ("insurance fund", f"{v['insurance_fund_usd']:,.2f} USDC"),
        (
            "max |net delta|",
            f"{r['max_abs_net_delta_eth']:.3f} ETH (guard cap {r['guard_max_net_delta_eth']:g}; "
            f"{r['steps_outside_band']} steps found it outside the band, then hedged to the edge)",
        ),
        (
            "min margin ratio",
            "–"
            if mr is None
            else f"{mr:.2f} (policy min {r['policy_margin_min_ratio']:g}, "
            f"guard min {r['guard_min_margin_ratio']:g})",
        ),
        (
            "keeper cycles",
            f"{k['cycles']} ({', '.join(f'{s} {n}' for s, n in sorted(k['cycle_statuses'].items()))}); "
            f"journal verified: {k['journal_verified']}",
        ),
        (
            "cycle errors",
            "; ".join(f"{n} × {kind}" for kind, n in k["cycle_error_kinds"].items()) or "none",
        ),
        (
            "keeper actions (confirmed)",
            ", ".join(f"{a} {n}" for a, n in sorted(k["actions_confirmed"].items())) or "none",
        ),
        (
            "wall time",
            f"{t['run_sec']:.1f} s ({t['sec_per_step']:.3f} s/step, "
            f"{t['mean_sec_per_simulated_day']:.1f} s per simulated day); deploy {t['deploy_sec']:.1f} s",
        ),
    ]


CSS = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1000px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; }
.bridge td:nth-child(2) { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; display: block; margin: 0.5em 0 1.2em; }
.muted { color: #777; font-size: 0.85em; }
"""


def render_html(result: DemoResult, pngs: dict[str, str]) -> str:
    s = result.summary
    a = result.attribution
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Keel demo report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Keel demo report</h1>",
        f"<p class='muted'>Chain {s['chain']['chain_id']}, blocks {s['chain']['deploy_block']}–"
        f"{s['chain']['final_block']}; vault {html.escape(result.deployment.vault)}; "
        f"seed {result.config.seed}. "
        "Every figure is read from the chain or computed from its events; the keeper is the real service "
        "(reader → risk → policy → sender → journal).</p>",
        "<h2>Summary</h2>",
        _table([[k, v] for k, v in summary_rows(s)]),
        "<h2>Share price</h2>",
        f"<img alt='share price' src='data:image/png;base64,{pngs['share_price']}'>",
        "<h2>Positions</h2>",
        "<p>The keeper opens the basis with idle cash above the buffer, unwinds it while funding runs "
        "against "
        "it, frees cash for queued redemptions and sells covered calls when none is open.</p>",
        f"<img alt='positions' src='data:image/png;base64,{pngs['positions']}'>",
        "<h2>Net delta and its band</h2>",
        f"<img alt='net delta' src='data:image/png;base64,{pngs['net_delta']}'>",
        "<h2>Gamma and vega</h2>",
        f"<img alt='gamma and vega' src='data:image/png;base64,{pngs['gamma_vega']}'>",
        "<h2>Margin ratio</h2>",
        f"<img alt='margin ratio' src='data:image/png;base64,{pngs['margin_ratio']}'>",
        "<h2>Funding earned</h2>",
        f"<img alt='funding' src='data:image/png;base64,{pngs['funding']}'>",
        "<h2>Insurance fund</h2>",
        f"<img alt='insurance fund' src='data:image/png;base64,{pngs['insurance']}'>",
        "<h2>PnL attribution</h2>",
        "<p>The NAV bridge: every line is measured on its own from events or state; the residual is what "
        "they leave unexplained, so the lines sum to the NAV change.</p>",
        _table(
            [[ln.label, _usd(ln.usd, 2), ln.group, ln.method] for ln in a.lines if ln.in_bridge]
            + [["NAV change", _usd((a.nav_end - a.nav_start) / 1e6, 2), "", "totalAssets() end − start"]],
            ["line", "USD", "group", "how it is measured"],
            cls="bridge",
        ),
        "<p>Memo (outside the bridge):</p>",
        _table(
            [[ln.label, _usd(ln.usd, 2), ln.method] for ln in a.lines if not ln.in_bridge],
            ["line", "USD", "how it is measured"],
            cls="bridge",
        ),
        "<p>Per leg (USD): PnL = value at the end − value at the start − net USDC the vault moved in.</p>",
        _table(
            [
                [leg, *(_usd(v / 1e6 if isinstance(v, int) else v, 2) for v in row.values())]
                for leg, row in a.legs.items()
            ],
            ["leg", "value start", "value end", "net funded", "PnL", "explained by the lines", "residual"],
        ),
        f"<img alt='attribution' src='data:image/png;base64,{pngs['attribution']}'>",
        "<h2>Keeper actions</h2>",
        _table(
            [
                [kind, s["keeper"]["actions_confirmed"].get(kind, 0), n]
                for kind, n in sorted(s["keeper"]["actions_decided"].items())
            ],
            ["action", "confirmed", "decided"],
        ),
        "<h2>Depositors</h2>",
        _table(
            [
                [
                    p["name"],
                    _usd(p["deposited_usd"]),
                    _usd(p["withdrawn_usd"]),
                    _usd(p["claimed_usd"]),
                    _usd(p["queued_usd"]),
                    _usd(p["value_usd"]),
                    _usd(p["pnl_usd"], 2),
                ]
                for p in s["depositors"]
            ],
            [
                "depositor",
                "deposited",
                "withdrawn",
                "claimed (queued exits)",
                "still queued",
                "shares worth",
                "PnL",
            ],
        ),
        _table(
            [
                [
                    e["step"],
                    e["name"],
                    e["kind"],
                    _usd(e["assets"] / 1e6),
                    e["request_id"] if e["request_id"] is not None else "",
                ]
                for e in s["depositor_events"]
                if e["kind"] != "skipped"
            ],
            ["step", "depositor", "event", "USDC", "request"],
        ),
        "<h2>Wall time per simulated day</h2>",
        _table(
            [[i + 1, f"{sec:.2f} s"] for i, sec in enumerate(s["timing"]["sec_per_simulated_day"])],
            ["day", "wall time"],
        ),
        "<h2>Files</h2>",
        "<p>journal.sqlite (the keeper's decision journal, one record per step), deployment.json, "
        "demo_summary.json (every number above), steps.csv (the per-step figures), this report.</p>",
        "</body></html>",
    ]
    return "\n".join(parts)


def write_report(result: DemoResult, file: Path) -> Path:
    file.write_text(render_html(result, plots(result)), encoding="utf-8")
    return file


def print_summary(console: Any, result: DemoResult) -> None:
    """The end-of-run summary in the terminal (rich tables): headline figures, attribution, actions."""
    from rich.table import Table

    s = result.summary
    head = Table(
        title="Keel demo — summary", title_justify="left", title_style="bold cyan", show_header=False
    )
    head.add_column("", style="bold")
    head.add_column("")
    for k, v in summary_rows(s):
        head.add_row(k, v)
    console.print(head)

    a = result.attribution
    pnl = Table(title="PnL attribution — NAV bridge (USD)", title_justify="left", title_style="bold cyan")
    pnl.add_column("line")
    pnl.add_column("USD", justify="right")
    pnl.add_column("measured from", style="dim", overflow="fold")
    pnl.add_row("NAV at start", _usd(a.nav_start / 1e6, 2), "totalAssets()")
    for ln in a.lines:
        if ln.in_bridge:
            pnl.add_row(ln.label, _usd(ln.usd, 2), ln.method)
    pnl.add_row("[bold]NAV at end", f"[bold]{_usd(a.nav_end / 1e6, 2)}", "totalAssets()")
    for ln in a.lines:
        if not ln.in_bridge:
            pnl.add_row(f"[dim]memo: {ln.label}", f"[dim]{_usd(ln.usd, 2)}", ln.method)
    console.print(pnl)

    acts = Table(title="Keeper actions by kind", title_justify="left", title_style="bold cyan")
    acts.add_column("action")
    acts.add_column("confirmed", justify="right")
    acts.add_column("decided", justify="right")
    for kind, n in sorted(s["keeper"]["actions_decided"].items()):
        acts.add_row(kind, str(s["keeper"]["actions_confirmed"].get(kind, 0)), str(n))
    console.print(acts)
