"""Gas benchmark: the fixed-point Black-76 library (contracts/libraries/BlackScholes.sol).

Run with `make bench`, or:

    .venv/bin/python bench/black_scholes_gas.py --network ethereum:local:foundry

Deploys contracts/mocks/BlackScholesHarness.sol on a fresh embedded anvil and prints, per scenario,
the gas of the library code alone (gasleft() around the internal call inside the harness, so no
call, calldata or ABI costs) for black76Up (one price) and black76Greeks (price, delta, vega), and
normCdfWad at a few points. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence

from ape import accounts, networks, project
from ape.logging import LogLevel, logger

WAD = 10**18
DAY = 86_400
YEAR = 365 * DAY
DEFAULT_NETWORK = "ethereum:local:foundry"
DISCOUNT_5PCT_90D = int(math.exp(-0.05 * 90 / 365) * WAD)

# (label, isCall, forward, strike, tau seconds, sigma, discount) — ETH at 3 000
SCENARIOS: tuple[tuple[str, bool, int, int, int, int, int], ...] = (
    ("ATM call, 30 days, 70% (typical)", True, 3_000 * WAD, 3_000 * WAD, 30 * DAY, 7 * WAD // 10, WAD),
    ("OTM call K=3300, 7 days, 60%", True, 3_000 * WAD, 3_300 * WAD, 7 * DAY, 6 * WAD // 10, WAD),
    (
        "ITM put K=3600, 90 days, 80%, r=5%",
        False,
        3_000 * WAD,
        3_600 * WAD,
        90 * DAY,
        8 * WAD // 10,
        DISCOUNT_5PCT_90D,
    ),
    ("OTM put K=2500, 1 hour, 50%", False, 3_000 * WAD, 2_500 * WAD, 3_600, WAD // 2, WAD),
    ("ATM call, 2 years, 100%", True, 3_000 * WAD, 3_000 * WAD, 2 * YEAR, WAD, WAD),
    ("expired (tau = 0)", True, 3_000 * WAD, 2_900 * WAD, 0, 7 * WAD // 10, WAD),
)
CDF_POINTS = (0, WAD // 2, -2 * WAD, 5 * WAD, -9 * WAD)


def run() -> tuple[list[tuple[str, int, int]], list[tuple[int, int]]]:
    harness = accounts.test_accounts[0].deploy(project.BlackScholesHarness)
    rows = []
    for label, *args in SCENARIOS:
        _, up_gas = harness.black76UpGas(*args)
        _, greeks_gas = harness.black76GreeksGas(*args)
        rows.append((label, int(up_gas), int(greeks_gas)))
    cdf = [(x, int(harness.normCdfWadGas(x)[1])) for x in CDF_POINTS]
    return rows, cdf


def render(rows: Sequence[tuple[str, int, int]], cdf: Sequence[tuple[int, int]]) -> str:
    width = max(len(r[0]) for r in rows)
    lines = [
        f"| {'scenario'.ljust(width)} | black76Up gas | black76Greeks gas |",
        f"|{'-' * (width + 2)}|--------------:|------------------:|",
    ]
    lines += [f"| {label.ljust(width)} | {up:>13,} | {greeks:>17,} |" for label, up, greeks in rows]
    lines.append("")
    lines.append("normCdfWad gas: " + ", ".join(f"x={x / WAD:g}: {g:,}" for x, g in cdf))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--network", default=DEFAULT_NETWORK, help=f"ape network choice (default: {DEFAULT_NETWORK})"
    )
    args = parser.parse_args(argv)
    logger.set_level(LogLevel.WARNING)
    with networks.parse_network_choice(args.network):
        rows, cdf = run()
    print()
    print("BlackScholes library gas (library code only: gasleft() around the internal call)")
    print(render(rows, cdf))
    return 0


if __name__ == "__main__":
    sys.exit(main())
