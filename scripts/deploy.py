"""Deploy the local market and the vault, and write the deployment JSON the keeper reads.

Run with `ape run deploy --network ethereum:local:foundry` (the Makefile's `make demo` runs the demo,
which deploys the same way). Roles are ape's test accounts 0-4: admin, governance, keeper, guardian,
treasury. The addresses go to out/deployment.json (override with KEEL_DEPLOYMENT).
"""

import os
from pathlib import Path

from ape import accounts
from rich.console import Console
from rich.table import Table

from keeper.chain.deploy import deploy_local

OUT = Path(os.environ.get("KEEL_DEPLOYMENT", "out/deployment.json"))


def main() -> None:
    t = accounts.test_accounts
    roles = {"admin": t[0], "governance": t[1], "keeper": t[2], "guardian": t[3], "treasury": t[4]}
    deployment = deploy_local(roles)
    path = deployment.write(OUT)

    table = Table(title=f"Keel local deployment (chain {deployment.chain_id}, block {deployment.block})")
    table.add_column("contract")
    table.add_column("address")
    rows = [
        ("USDC", deployment.usdc),
        ("feed ETH/USD", deployment.feeds.eth_usd),
        ("feed ETH IV", deployment.feeds.eth_iv),
        ("feed ETH funding", deployment.feeds.eth_funding),
        ("WETH9", deployment.spot.weth),
        ("Uniswap V3 factory", deployment.spot.factory),
        ("Uniswap V3 router", deployment.spot.router),
        ("USDC/WETH pool", deployment.spot.pool),
        ("PerpMarket", deployment.perp_market),
        ("KeelVault", deployment.vault),
        ("RiskGuard", deployment.risk_guard),
        ("InsuranceFund", deployment.insurance_fund),
    ]
    for name, address in rows:
        table.add_row(name, address)
    Console().print(table)
    print(f"deployment written to {path}")
