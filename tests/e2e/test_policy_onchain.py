"""policy.decide against the deployed local market: the actions it proposes go through the vault and
its guard, and the book ends where the policy aims (basis open, delta in band, margin in range)."""

from __future__ import annotations

import pytest

from keeper.assess import assess
from keeper.chain.actions import encode_action
from keeper.chain.reader import read_snapshot
from keeper.policy import PolicyConfig, decide_with_notes
from tests.leg_helpers import deploy_market

USDC = 10**6
WAD = 10**18


@pytest.fixture(scope="module")
def e2e_market(project, admin, gov, keeper, guardian, treasury, whale):
    d = deploy_market(admin, gov, keeper, guardian, treasury)
    usdc = project.MockUSDC.at(d.usdc)
    vault = project.KeelVault.at(d.vault)
    usdc.mint(whale, 2_000_000 * USDC, sender=admin)
    usdc.approve(vault, 2**256 - 1, sender=whale)
    vault.deposit(1_000_000 * USDC, whale, sender=whale)
    return d


def run_cycle(chain, d, keeper, config):
    w3 = chain.provider.web3
    snap = read_snapshot(w3, d.vault)
    risk = assess(snap)
    decision = decide_with_notes(snap, risk, config)
    sent = []
    for action in decision.actions:
        call = encode_action(action, d.vault)
        tx = w3.eth.send_transaction({"from": keeper.address, "to": call.to, "data": call.data})
        receipt = w3.eth.wait_for_transaction_receipt(tx)
        assert receipt["status"] == 1, (call.label, action)
        sent.append(action)
    return snap, decision, sent


def test_decide__on_a_fresh_vault__opens_the_basis_and_sells_covered_calls(e2e_market, chain, keeper, project):
    cfg = PolicyConfig()
    snap, decision, sent = run_cycle(chain, e2e_market, keeper, cfg)
    print(decision)
    kinds = [a.kind for a in sent]
    assert "rebalance" in kinds
    after = read_snapshot(chain.provider.web3, e2e_market.vault)
    print(after.book, after.spot.weth_wad / WAD, after.perp.size_wad / WAD, after.perp.margin_ratio_wad / WAD)
    assert after.spot.weth_wad > 0 and after.perp.size_wad < 0
