"""The keeper service end to end on anvil with the deployed market: the real reader, policy, sender
(ape keystore signer), journal and metrics, cycle after cycle while the market moves — and the faults
it must survive without doing anything twice or losing anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from web3 import Web3

from keeper.chain.deploy import list_series
from keeper.chain.keys import load_signer, write_keystore
from keeper.chain.reader import read_snapshot
from keeper.chain.sender import FeePolicy, Sender, TxIntent
from keeper.chain.univ3 import arbitrage_to_price
from keeper.journal import Journal
from keeper.metrics import Metrics
from keeper.policy import PolicyConfig
from keeper.runner import project_error_abi
from keeper.service import Service
from tests.leg_helpers import deploy_market, usd8

USDC = 10**6
WAD = 10**18
GWEI = 10**9
HOUR = 3_600
PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def svc_market(project, admin, gov, keeper, guardian, treasury, whale, fish):
    d = deploy_market(admin, gov, keeper, guardian, treasury)
    usdc = project.MockUSDC.at(d.usdc)
    vault = project.KeelVault.at(d.vault)
    for who, amount in ((whale, 600_000), (fish, 150_000)):
        usdc.mint(who, 2 * amount * USDC, sender=admin)
        usdc.approve(vault, 2**256 - 1, sender=who)
        vault.deposit(amount * USDC, who, sender=who)
    # the insurance fund starts with a reserve (anyone may deposit)
    fund = project.InsuranceFund.at(d.insurance_fund)
    usdc.mint(admin, 20_000 * USDC, sender=admin)
    usdc.approve(fund, 20_000 * USDC, sender=admin)
    fund.deposit(20_000 * USDC, sender=admin)
    # the arbitrageur (admin) holds both tokens
    usdc.mint(admin, 50_000_000 * USDC, sender=admin)
    project.WETH9.at(d.spot.weth).deposit(value=5_000 * WAD, sender=admin)
    return d


@pytest.fixture
def svc_w3(networks) -> Web3:
    return Web3(Web3.HTTPProvider(networks.provider.uri, exception_retry_configuration=None))


@pytest.fixture
def svc_signer(tmp_path_factory, keeper, monkeypatch):
    """The keeper key as an ape keystore (alias `keel-keeper`), unlocked from the environment."""
    ks = tmp_path_factory.mktemp("keystore")
    write_keystore("keel-keeper", keeper.private_key, PASSPHRASE, ks, kdf="pbkdf2", iterations=2)
    monkeypatch.setenv("KEEL_KEYSTORE_PASSPHRASE", PASSPHRASE)
    return load_signer("keel-keeper", keystore_dir=ks)


def make_service(w3, d, signer, tmp_path: Path, policy: PolicyConfig, **kw):
    fees = FeePolicy(confirmations=1, poll_interval_sec=0.1, max_fee_per_gas_wei=100 * GWEI)
    sender = Sender(w3, signer, fees, error_abi=project_error_abi())
    journal = Journal(tmp_path / "journal.sqlite")
    metrics = Metrics(CollectorRegistry())
    service = Service(
        w3,
        d.vault,
        policy,
        sender=sender,
        make_intent=lambda to, data, label: TxIntent(to=to, data=data, label=label),
        journal=journal,
        metrics=metrics,
        **kw,
    )
    return service, sender, journal, metrics


def move(chain, project, d, admin, price: float, hours: float = 1.0, funding_8h: float | None = None):
    chain.mine(timestamp=chain.blocks.head.timestamp + int(hours * HOUR))
    project.KeelFeed.at(d.feeds.eth_usd).updateAnswer(usd8(price), sender=admin)
    project.KeelFeed.at(d.feeds.eth_iv).updateAnswer(70_000_000, sender=admin)
    if funding_8h is not None:
        project.KeelFeed.at(d.feeds.eth_funding).updateAnswer(round(funding_8h * 1e8), sender=admin)
    arbitrage_to_price(d.spot, admin, price, tolerance_bps=1.0)


def policy_for_tests(**kw) -> PolicyConfig:
    base = {
        "option_tenor_days": 1.0,
        "option_min_tenor_days": 0.5,
        "report_interval_sec": 6 * HOUR,
    }
    return PolicyConfig(**(base | kw))


def metric(metrics: Metrics, name: str) -> float:
    for line in metrics.render().decode().splitlines():
        if line.startswith((name + " ", name + "{")) or ("{" in name and line.startswith(name)):
            return float(line.rsplit(" ", 1)[1])
    raise KeyError(name)


def test_service__over_a_day_and_a_half_of_moves__hedges_rolls_reports_covers_and_pays_redemptions(
    svc_market, svc_w3, svc_signer, chain, project, admin, gov, fish, tmp_path
):
    d = svc_market
    vault = project.KeelVault.at(d.vault)
    market = project.OptionMarket.at(d.option_market)
    now = chain.blocks.head.timestamp
    list_series(market, gov, now + 20 * HOUR, [3_150.0, 3_300.0], puts=False)
    list_series(market, gov, now + 44 * HOUR, [3_150.0, 3_300.0], puts=False)
    cfg = policy_for_tests()
    service, sender, journal, metrics = make_service(svc_w3, d, svc_signer, tmp_path, cfg)
    prices = [3000, 3040, 3080, 3020, 2960, 2900, 2940, 3010, 3100, 3180, 3120, 3060]
    requested = False
    for i in range(36):
        move(chain, project, d, admin, prices[i % len(prices)])
        if i == 10 and not requested:
            vault.requestRedeem(vault.balanceOf(fish) // 2, fish, sender=fish)
            requested = True
        result = service.run_cycle()
        assert result.status in ("ok", "no_action"), (i, result.error, [o.error for o in result.outcomes])
        snap = read_snapshot(svc_w3, d.vault)
        # delta stays inside the guard's cap; the margin ratio over the policy's minimum
        assert abs(snap.book.net_delta_wad) <= snap.guard.max_net_delta_wad
        if snap.perp.size_wad != 0:
            assert snap.perp.margin_ratio_wad >= cfg.margin_min_ratio * WAD * 0.9
    sent = journal.actions_by_kind(status="confirmed")
    assert sent.get("rebalance", 0) >= 5
    assert sent.get("trade_option", 0) >= 2, sent  # sold, expired, settled and sold again: a roll
    assert sent.get("settle_option", 0) >= 1, sent
    assert sent.get("report", 0) >= 2, sent
    assert sent.get("process_redemptions", 0) >= 1, sent
    # the queued redemption was paid
    assert vault.queueBounds()[0] == vault.queueBounds()[1]
    # every loss a report booked was drawn on the fund in a later cycle (the costs of opening the basis
    # make the first reports losses); what is left unreported is at most the last report's
    print(sent)
    losses = [e for e in vault.Reported.range(0, chain.blocks.head.number + 1) if e.pnlAssets < 0]
    covers = list(vault.LossCovered.range(0, chain.blocks.head.number + 1))
    assert losses, "expected the costs of opening the basis to be reported as a loss"
    assert len(covers) >= len(losses) - 1
    assert sent.get("cover_loss", 0) == len(covers)
    # one journal record per cycle, the hash chain intact, every sent hash mined once
    assert journal.count() == 36
    assert journal.verify() == []
    hashes = journal.tx_hashes()
    assert len(hashes) == len(set(hashes))
    # metrics follow the last cycle
    last = read_snapshot(svc_w3, d.vault)
    assert metric(metrics, "keel_nav_usd") == pytest.approx(last.book.nav_assets / USDC, rel=1e-3)
    assert vault.actionNonce() == sum(sent.get(k, 0) for k in ("rebalance", "trade_option", "settle_option",
                                                               "report", "cover_loss"))  # fmt: skip
    sender.close()
    journal.close()
