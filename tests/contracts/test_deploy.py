"""scripts/deploy.py's core: the local market deploys, is wired as recorded, and round-trips as JSON."""

from __future__ import annotations

import json

import pytest

from keeper.chain.deploy import Deployment, LocalConfig, deploy_local, load_deployment
from keeper.chain.univ3 import pool_price_usd


@pytest.fixture(scope="module")
def deployment(admin, gov, keeper, guardian, treasury) -> Deployment:
    roles = {"admin": admin, "governance": gov, "keeper": keeper, "guardian": guardian, "treasury": treasury}
    return deploy_local(roles, LocalConfig(eth_price_usd=2500.0, pool_liquidity_usd=2_000_000.0))


def test_deploy_local__with_defaults__wires_every_contract_as_recorded(deployment, project, chain):
    d = deployment
    assert d.chain_id == chain.chain_id
    usdc = project.MockUSDC.at(d.usdc)
    assert usdc.decimals() == 6
    spot_feed = project.KeelFeed.at(d.feeds.eth_usd)
    assert spot_feed.latestRoundData()[1] == 2500 * 10**8
    assert project.KeelFeed.at(d.feeds.eth_iv).latestRoundData()[1] == 70_000_000
    # the pool opens at the oracle price (within one 10-tick spacing of the fee tier)
    assert pool_price_usd(d.spot) == pytest.approx(2500.0, rel=1e-3)
    perp = project.PerpMarket.at(d.perp_market)
    assert perp.indexPriceWad() == 2500 * 10**18
    assert perp.poolUsdc() == d.config.perp_house_usdc
    vault = project.KeelVault.at(d.vault)
    assert vault.asset() == d.usdc
    assert vault.hasRole(vault.KEEPER_ROLE(), d.roles.keeper)
    fund = project.InsuranceFund.at(d.insurance_fund)
    assert fund.vault() == d.vault and fund.asset() == d.usdc
    guard = project.RiskGuard.at(d.risk_guard)
    assert tuple(guard.params()) == d.config.guard.as_tuple()
    # the legs are registered and wired, the guard and the fund are the vault's modules
    assert [str(a) for a in vault.legs()] == [d.spot_leg, d.perp_leg, d.option_leg]
    assert (vault.spotLeg(), vault.perpLeg(), vault.optionLeg()) == (d.spot_leg, d.perp_leg, d.option_leg)
    assert (vault.riskGuard(), vault.insuranceFund()) == (d.risk_guard, d.insurance_fund)
    assert project.PerpLeg.at(d.perp_leg).market() == d.perp_market
    assert project.OptionLeg.at(d.option_leg).market() == d.option_market
    options = project.OptionMarket.at(d.option_market)
    assert options.oracle() == d.option_oracle and options.pricer() == d.option_pricer
    assert options.poolFreeUsdc() == d.config.option_lp_usdc
    assert project.OptionLeg.at(d.option_leg).oracleConfig().feed == d.feeds.eth_usd


def test_load_deployment__round_trip__equals_the_record(deployment, tmp_path):
    path = deployment.write(tmp_path / "deployment.json")
    assert load_deployment(path) == deployment


def test_load_deployment__with_a_missing_field__names_it(deployment, tmp_path):
    raw = deployment.model_dump(mode="json")
    del raw["perp_market"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="perp_market"):
        load_deployment(path)
    with pytest.raises(ValueError, match="not found"):
        load_deployment(tmp_path / "nope.json")


def test_local_config__with_out_of_range_field__names_it():
    with pytest.raises(ValueError, match="perp_mmr"):
        LocalConfig(perp_mmr=1.5)
