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


def test_decide__on_a_fresh_vault__opens_the_basis_and_sells_covered_calls(
    e2e_market, chain, keeper, project
):
    cfg = PolicyConfig()
    _, decision, sent = run_cycle(chain, e2e_market, keeper, cfg)
    print(decision)
    kinds = [a.kind for a in sent]
    assert "rebalance" in kinds
    after = read_snapshot(chain.provider.web3, e2e_market.vault)
    print(after.book, after.spot.weth_wad / WAD, after.perp.size_wad / WAD, after.perp.margin_ratio_wad / WAD)
    assert after.spot.weth_wad > 0 and after.perp.size_wad < 0


def move_market(chain, d, admin, arb, price: float, funding_8h: float | None = None, hours: float = 1.0):
    """Advance time, publish a new spot (and funding) round, and arbitrage the pool to it."""
    from keeper.chain.univ3 import arbitrage_to_price
    from tests.leg_helpers import advance, usd8

    advance(chain, int(hours * 3600))
    from ape import project as p

    p.KeelFeed.at(d.feeds.eth_usd).updateAnswer(usd8(price), sender=admin)
    p.KeelFeed.at(d.feeds.eth_iv).updateAnswer(70_000_000, sender=admin)
    if funding_8h is not None:
        p.KeelFeed.at(d.feeds.eth_funding).updateAnswer(round(funding_8h * 1e8), sender=admin)
    arbitrage_to_price(d.spot, arb, price, tolerance_bps=1.0)


def test_decide__over_two_days_of_moves__keeps_delta_in_band_and_margin_in_range(
    e2e_market, chain, keeper, project, admin, gov, fish
):
    from keeper.chain.deploy import list_series

    d = e2e_market
    usdc = project.MockUSDC.at(d.usdc)
    usdc.mint(fish, 50_000_000 * USDC, sender=admin)
    weth = project.WETH9.at(d.spot.weth)
    weth.deposit(value=5_000 * WAD, sender=fish)
    market = project.OptionMarket.at(d.option_market)
    expiry = chain.blocks.head.timestamp + 7 * 86_400
    list_series(market, gov, expiry, [3_000.0, 3_300.0, 3_600.0], puts=False)
    cfg = PolicyConfig()
    prices = [3000, 3030, 3060, 2990, 2950, 2900, 2950, 3050, 3100, 3150, 3080, 3000]
    kinds: list[str] = []
    for i in range(24):
        move_market(chain, d, admin, fish, prices[i % len(prices)])
        _, _, sent = run_cycle(chain, d, keeper, cfg)
        kinds += [a.kind for a in sent]
        after = read_snapshot(chain.provider.web3, d.vault)
        risk = assess(after)
        half = max(cfg.band_floor_eth, 0)
        assert abs(risk.greeks.net_delta_eth) <= after.guard.max_net_delta_wad / WAD
        if after.perp.size_wad:
            assert after.perp.margin_ratio_wad >= cfg.margin_min_ratio * WAD * 0.95, i
        print(
            i,
            [a.kind for a in sent],
            f"delta {risk.greeks.net_delta_eth:+.3f} band {half}",
            f"mr {after.perp.margin_ratio_wad / WAD:.2f}",
            f"nav {after.book.nav_assets / USDC:,.0f}",
        )
    assert "trade_option" in kinds and kinds.count("rebalance") >= 3
