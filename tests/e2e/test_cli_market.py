"""`keeper status | book | plan | risk` on the deployed local market: what they print agrees with the
chain and with the Python API, and `plan` sends nothing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from keeper.cli import main
from tests.leg_helpers import deploy_market

USDC = 10**6


@pytest.fixture(scope="module")
def cli_market(project, admin, gov, keeper, guardian, treasury, whale):
    d = deploy_market(admin, gov, keeper, guardian, treasury)
    usdc = project.MockUSDC.at(d.usdc)
    vault = project.KeelVault.at(d.vault)
    usdc.mint(whale, 500_000 * USDC, sender=admin)
    usdc.approve(vault, 2**256 - 1, sender=whale)
    vault.deposit(300_000 * USDC, whale, sender=whale)
    return d


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_status__on_a_wired_vault__prints_the_book_and_json_matches_the_chain(cli_market, networks, project):
    rpc, vault = networks.provider.uri, cli_market.vault
    table = invoke("status", "--rpc-url", rpc, "--vault", vault)
    assert table.exit_code == 0, table.output
    for field in ("net delta", "margin ratio", "oracle eth_usd", "trigger", "action nonce"):
        assert field in table.output
    out = json.loads(invoke("status", "--rpc-url", rpc, "--vault", vault, "--json").output)
    assert out["total_assets"] == project.KeelVault.at(vault).totalAssets()
    assert out["snapshot"]["book"]["nav_assets"] == out["total_assets"]
    assert out["snapshot"]["spot_oracle"]["verdict"] == 0


def test_plan__on_a_fresh_vault__proposes_opening_the_basis_and_sends_nothing(cli_market, networks, project):
    vault = project.KeelVault.at(cli_market.vault)
    nonce = vault.actionNonce()
    res = invoke("plan", "--rpc-url", networks.provider.uri, "--vault", cli_market.vault, "--json")
    assert res.exit_code == 0, res.output
    plan = json.loads(res.output)
    kinds = [a["kind"] for a in plan["actions"]]
    assert kinds[0] == "rebalance" and plan["actions"][0]["expected_nonce"] == nonce
    assert plan["actions"][0]["reason"].startswith("open basis")
    assert vault.actionNonce() == nonce  # a dry run
    table = invoke("plan", "--rpc-url", networks.provider.uri, "--vault", cli_market.vault)
    assert "open basis" in table.output


def test_risk__prints_the_scenario_grid_and_var(cli_market, networks):
    res = invoke("risk", "--rpc-url", networks.provider.uri, "--vault", cli_market.vault, "--paths", "2000")
    assert res.exit_code == 0, res.output
    assert "worst loss" in res.output and "VaR 99%" in res.output and "ES 97.5%" in res.output
