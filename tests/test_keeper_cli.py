"""`keeper status` against the test chain: the table and JSON agree with the contract."""

from __future__ import annotations

import json

from click.testing import CliRunner

from keeper.cli import main
from tests.helpers import USDC


def test_status__with_deposits_and_a_leg__reports_the_chain(chain, networks, vault, leg, keeper, whale):
    vault.deposit(1_000 * USDC, whale, sender=whale)
    vault.fundLeg(leg, 400 * USDC, sender=keeper)
    vault.requestRedeem(10**12, whale, sender=whale)
    rpc = networks.provider.uri
    result = CliRunner().invoke(main, ["status", "--rpc-url", rpc, "--vault", vault.address, "--json"])
    assert result.exit_code == 0, result.output
    state = json.loads(result.output)
    assert state["total_assets"] == vault.totalAssets() == 1_000 * USDC
    assert state["idle_assets"] == 600 * USDC
    assert state["leg_values"] == [400 * USDC]
    assert state["queued_shares"] == 10**12
    assert state["share_price_wad"] == vault.sharePriceWad()
    table = CliRunner().invoke(main, ["status", "--rpc-url", rpc, "--vault", vault.address])
    assert table.exit_code == 0 and "share price" in table.output


def test_status__with_bad_vault__fails_with_one_line(networks, usdc):
    rpc = networks.provider.uri
    bad = CliRunner().invoke(main, ["status", "--rpc-url", rpc, "--vault", "0x1234"])
    assert bad.exit_code == 2 and "--vault" in bad.output
    not_vault = CliRunner().invoke(main, ["status", "--rpc-url", rpc, "--vault", usdc.address])
    assert not_vault.exit_code == 2
    assert not_vault.output.count("\n") == 1 and "keeper:" in not_vault.output
