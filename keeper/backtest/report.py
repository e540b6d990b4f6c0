"""Backtest outputs: the per-path CSV, a per-configuration summary CSV and the PNGs."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from keeper.backtest.engine import PathResult

SUMMARY_FIELDS = (
    "period_return",
    "apy",
    "max_drawdown",
    "hedge_error_usd",
    "hedge_cost_usd",
    "funding_usd",
    "liquidations",
    "insurance_paid_usd",
    "rebalances",
)


def _fmt(x: object) -> object:
    return repr(x) if isinstance(x, float) else x  # repr: exact round trip, identical bytes per run


def write_results_csv(file: Path, results: Sequence[PathResult]) -> None:
    rows = [r.row() for r in results]
    cols = list(rows[0]) if rows else []
    with open(file, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            w.writerow([_fmt(r[c]) for c in cols])


def groups(results: Sequence[PathResult]) -> dict[str, list[PathResult]]:
    out: dict[str, list[PathResult]] = {}
    for r in results:
        key = ", ".join(f"{k}={v:g}" for k, v in r.params.items()) or "base"
        out.setdefault(key, []).append(r)
    return out


def summarise(results: Sequence[PathResult]) -> list[dict[str, object]]:
    rows = []
    for key, rs in groups(results).items():
        row: dict[str, object] = {"config": key, "paths": len(rs)}
        for f in SUMMARY_FIELDS:
            x = np.array([getattr(r, f) for r in rs], dtype=float)
            row[f"{f}_mean"] = float(x.mean())
            row[f"{f}_p5"] = float(np.percentile(x, 5))
            row[f"{f}_p95"] = float(np.percentile(x, 95))
        rows.append(row)
    return rows


def write_summary_csv(file: Path, results: Sequence[PathResult]) -> list[dict[str, object]]:
    rows = summarise(results)
    with open(file, "w", newline="") as fh:
        w = csv.writer(fh)
        if rows:
            w.writerow(list(rows[0]))
            for r in rows:
                w.writerow([_fmt(v) for v in r.values()])
    return rows


def write_plots(out: Path, results: Sequence[PathResult]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    g = groups(results)
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, rs in g.items():
        ax.hist([r.period_return * 100 for r in rs], bins=30, alpha=0.5, label=key)
    ax.set_xlabel("period return, % (share price)")
    ax.set_ylabel("paths")
    ax.set_title("Return distribution")
    ax.legend(fontsize=7)
    fig.tight_layout()
    files.append(out / "returns.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    for key, rs in g.items():
        ax.hist([r.max_drawdown * 100 for r in rs], bins=30, alpha=0.5, label=key)
    ax.set_xlabel("max drawdown of the share price, %")
    ax.set_ylabel("paths")
    ax.set_title("Drawdown distribution")
    ax.legend(fontsize=7)
    fig.tight_layout()
    files.append(out / "drawdown.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)

    if len(g) > 1:
        keys = list(g)
        fig, axes = plt.subplots(1, 3, figsize=(12, 4))
        for ax, (f, label) in zip(
            axes,
            [
                ("apy", "APY, %"),
                ("hedge_error_usd", "hedge error, USD/step"),
                ("hedge_cost_usd", "hedge cost, USD"),
            ],
            strict=True,
        ):
            data = [[getattr(r, f) * (100 if f == "apy" else 1) for r in g[k]] for k in keys]
            ax.boxplot(data)
            ax.set_xticks(range(1, len(keys) + 1), keys, rotation=30, ha="right", fontsize=7)
            ax.set_title(label)
        fig.suptitle("Sweep comparison")
        fig.tight_layout()
        files.append(out / "sweep.png")
        fig.savefig(files[-1], dpi=110)
        plt.close(fig)
    return files
