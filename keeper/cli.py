"""The `keeper` command line."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table
from web3 import Web3

from keeper import __version__
from keeper.chain.reader import ChainReadError, read_vault
from keeper.models import VaultState


def _fail(message: str) -> None:
    click.echo(f"keeper: {message}", err=True)
    sys.exit(2)


def render_status(state: VaultState) -> Table:
    t = Table(title=f"KeelVault {state.address} at block {state.block}", show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value", justify="right")
    h = state.assets_human
    rows = [
        ("share price", f"{state.share_price:.6f}"),
        ("total assets", f"{h(state.total_assets):,.6f}"),
        ("idle / liquid", f"{h(state.idle_assets):,.6f} / {h(state.liquid_assets):,.6f}"),
        ("total supply (shares)", f"{state.total_supply / 10**state.share_decimals:,.6f}"),
        ("high-water mark", f"{state.high_water_mark_wad / 1e18:.6f}"),
        ("fees (mgmt / perf)", f"{state.management_fee_bps} bps / {state.performance_fee_bps} bps"),
        ("pending fee shares", f"{state.pending_fee_shares / 10**state.share_decimals:,.6f}"),
        ("deposit cap", f"{h(state.deposit_cap):,.2f}"),
        ("deposits", "paused" if state.deposits_paused else "open"),
        ("shutdown", "yes" if state.shutdown else "no"),
        ("queued shares", f"{state.queued_shares / 10**state.share_decimals:,.6f}"),
        ("queue (head, tail)", f"{state.queue_head}, {state.queue_tail}"),
        ("claimable", f"{h(state.total_claimable):,.6f}"),
    ]
    for leg, value in zip(state.legs, state.leg_values, strict=True):
        rows.append((f"leg {leg}", f"{h(value):,.6f}"))
    for k, v in rows:
        t.add_row(k, v)
    return t


@click.group()
@click.version_option(__version__, prog_name="keeper")
def main() -> None:
    """Keel keeper: reads the vault and (in later releases) keeps it inside its risk limits."""


@main.command()
@click.option("--rpc-url", envvar="KEEL_RPC_URL", required=True, help="JSON-RPC endpoint (env KEEL_RPC_URL).")
@click.option("--vault", "vault_address", envvar="KEEL_VAULT", required=True, help="KeelVault address.")
@click.option("--block", type=click.IntRange(min=0), default=None, help="Block to read (default: latest).")
@click.option("--json", "as_json", is_flag=True, help="Print the snapshot as JSON instead of a table.")
def status(rpc_url: str, vault_address: str, block: int | None, as_json: bool) -> None:
    """Print the vault's NAV, share price, liquidity, fees, legs and exit queue."""
    if not Web3.is_address(vault_address):
        _fail(f"--vault: {vault_address!r} is not an address")
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 10}))
    try:
        state = read_vault(w3, vault_address, block)
    except ChainReadError as exc:
        _fail(str(exc))
    if as_json:
        click.echo(state.model_dump_json(indent=2))
    else:
        Console().print(render_status(state))


if __name__ == "__main__":
    main()
