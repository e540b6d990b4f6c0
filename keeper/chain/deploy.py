"""Deploy the local market and the vault (ape-based), and the deployment JSON the keeper reads.

`deploy_local(roles, config)` deploys, on the connected (local) chain:

- a 6-decimals USDC (MockUSDC) and three feeds (KeelFeed, 8 decimals): ETH/USD spot, ETH 30-day ATM
  implied vol (0.7e8 = 70%) and the ETH perp's 8-hour funding rate (1e4 = 0.01% per 8h);
- the real Uniswap V3 from its npm artifacts with a USDC/WETH pool at the oracle price and full-range
  liquidity (`keeper.chain.univ3`);
- the PerpMarket (linear USDC-margined perp on the spot and funding feeds) with a seeded house pool;
- the option venue: OptionPricer (Black-76), OptionOracle (spot + IV feeds through OracleLib) and the
  OptionMarket with a seeded LP pool; `list_series` lists strikes/expiries (governance);
- the KeelVault with its RiskGuard and InsuranceFund, and its three legs (SpotLeg through the Uniswap
  router, PerpLeg at the PerpMarket, OptionLeg at the OptionMarket), registered (`addLeg`) and wired
  (`setStrategyLegs`, `setRiskModules`): the vault is ready for keeper actions.

`Deployment` is the JSON-serialisable record (addresses, roles, parameters) written to
``out/deployment.json`` by ``scripts/deploy.py``; `load_deployment` reads it back and refuses a file
that is missing a field, naming it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ape import chain, project
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from keeper.chain.univ3 import SpotMarket, deploy_spot_market
from keeper.guard import GuardParams

Account = Any
Contract = Any

USDC = 10**6
WAD = 10**18
FEED_DECIMALS = 8


class Roles(BaseModel):
    """Who holds which role (addresses)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    admin: str
    governance: str
    keeper: str
    guardian: str
    treasury: str


class LocalConfig(BaseModel):
    """What the local market starts at. Every field is validated; errors name the field."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    eth_price_usd: float = Field(3000.0, gt=0)
    implied_vol: float = Field(0.70, gt=0, le=5)
    funding_rate_8h: float = Field(0.0001, ge=-0.0075, le=0.0075)
    pool_liquidity_usd: float = Field(20_000_000.0, ge=0)
    perp_house_usdc: int = Field(5_000_000 * USDC, ge=0)
    admin_delay_sec: int = Field(3600, ge=0, lt=2**48)
    deposit_cap_usdc: int = Field(10**15 * USDC, gt=0, lt=2**96)
    management_fee_bps: int = Field(100, ge=0, le=200)
    performance_fee_bps: int = Field(1_000, ge=0, le=2_000)
    perp_imr: float = Field(0.10, gt=0, le=1)
    perp_mmr: float = Field(0.05, gt=0, lt=1)
    perp_fee_bps: int = Field(5, ge=0, le=100)
    perp_liquidation_penalty_bps: int = Field(100, ge=0, le=500)
    perp_liquidator_share_bps: int = Field(2_000, ge=0, le=5_000)
    perp_max_funding_8h: float = Field(0.0075, gt=0, le=0.05)
    oracle_max_age_sec: int = Field(2 * 86_400, ge=60, le=2 * 86_400)
    insurance_skim_bps: int = Field(1_000, ge=0, le=5_000)
    insurance_target_bps: int = Field(500, ge=0, le=2_000)
    insurance_max_draw_bps: int = Field(2_500, ge=100, le=5_000)
    insurance_period_sec: int = Field(7 * 86_400, ge=86_400, le=30 * 86_400)
    insurance_withdrawal_delay_sec: int = Field(2 * 86_400, ge=2 * 86_400, le=30 * 86_400)
    guard: GuardParams = GuardParams(
        max_net_delta_wad=5 * WAD,
        min_margin_ratio_wad=15 * WAD // 10,
        max_leverage_wad=3 * WAD,
        max_slippage_bps=50,
        min_action_interval_sec=0,
        max_notional_per_action_assets=5_000_000 * USDC,
        delta_trigger_wad=1 * WAD,
        margin_trigger_wad=2 * WAD,
    )
    guard_hard_max_notional_usdc: int = Field(50_000_000 * USDC, gt=0)
    # the option venue
    option_iv_spread: float = Field(0.02, ge=0, le=0.2)
    option_min_vol: float = Field(0.05, ge=0.01, le=1)
    option_fee_bps: int = Field(10, ge=0, le=500)
    option_settlement_window_sec: int = Field(3600, ge=300, le=86_400)
    option_lp_usdc: int = Field(5_000_000 * USDC, ge=0)
    option_oracle_max_age_sec: int = Field(2 * 86_400, ge=60, le=2 * 86_400)
    option_oracle_max_deviation_bps: int = Field(5_000, ge=1, le=10_000)
    option_oracle_cooldown_sec: int = Field(900, ge=0, le=86_400)
    # OracleLib bounds of the vault's legs on the ETH/USD feed
    leg_oracle_max_age_sec: int = Field(2 * 86_400, ge=60, le=2 * 86_400)
    leg_oracle_max_deviation_bps: int = Field(2_000, ge=1, le=10_000)
    leg_oracle_cooldown_sec: int = Field(900, ge=0, le=86_400)


class Feeds(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    eth_usd: str
    eth_iv: str
    eth_funding: str
    decimals: int = FEED_DECIMALS


class Deployment(BaseModel):
    """The deployment JSON: everything the keeper needs to find the contracts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    chain_id: int
    block: int
    roles: Roles
    usdc: str
    feeds: Feeds
    spot: SpotMarket
    perp_market: str
    option_market: str
    option_oracle: str
    option_pricer: str
    vault: str
    risk_guard: str
    insurance_fund: str
    spot_leg: str
    perp_leg: str
    option_leg: str
    config: LocalConfig

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.model_dump(mode="json"), indent=2) + "\n")
        return path


def load_deployment(path: Path) -> Deployment:
    """Read a deployment JSON; a missing or malformed field raises ValueError naming it (one line)."""
    try:
        raw = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ValueError(f"deployment file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    try:
        return Deployment.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ValueError(f"{path}: {where}: {err['msg']}") from None


def feed_answer(value: float) -> int:
    """A float (price, vol fraction or rate fraction) as an 8-decimals feed answer."""
    return round(value * 10**FEED_DECIMALS)


def deploy_local(roles: dict[str, Account], config: LocalConfig | None = None) -> Deployment:
    """Deploy the local market, the vault and its guard and fund; return the deployment record.

    ``roles`` maps admin, governance, keeper, guardian and treasury to ape accounts; the admin pays.
    """
    cfg = config or LocalConfig()
    admin, gov = roles["admin"], roles["governance"]

    usdc = admin.deploy(project.MockUSDC)
    eth_usd = admin.deploy(project.KeelFeed, FEED_DECIMALS, "ETH / USD", feed_answer(cfg.eth_price_usd))
    eth_iv = admin.deploy(project.KeelFeed, FEED_DECIMALS, "ETH 30d ATM IV", feed_answer(cfg.implied_vol))
    eth_funding = admin.deploy(
        project.KeelFeed, FEED_DECIMALS, "ETH-PERP funding / 8h", feed_answer(cfg.funding_rate_8h)
    )

    spot = deploy_spot_market(admin, usdc, cfg.eth_price_usd, cfg.pool_liquidity_usd)

    perp_params = (
        round(cfg.perp_imr * WAD),
        round(cfg.perp_mmr * WAD),
        cfg.perp_fee_bps,
        cfg.perp_liquidation_penalty_bps,
        cfg.perp_liquidator_share_bps,
        round(cfg.perp_max_funding_8h * WAD),
        cfg.oracle_max_age_sec,
    )
    perp = admin.deploy(
        project.PerpMarket, usdc, eth_usd, eth_funding, admin, cfg.admin_delay_sec, gov, perp_params
    )
    if cfg.perp_house_usdc:
        usdc.mint(gov, cfg.perp_house_usdc, sender=admin)
        usdc.approve(perp, cfg.perp_house_usdc, sender=gov)
        perp.depositPool(cfg.perp_house_usdc, sender=gov)

    vault = admin.deploy(
        project.KeelVault,
        usdc,
        "Keel USDC vault",
        "kUSDC",
        admin,
        cfg.admin_delay_sec,
        gov,
        roles["keeper"],
        roles["guardian"],
        roles["treasury"],
        cfg.deposit_cap_usdc,
    )
    vault.setManagementFee(cfg.management_fee_bps, sender=gov)
    vault.setPerformanceFee(cfg.performance_fee_bps, sender=gov)

    guard = admin.deploy(
        project.RiskGuard, admin, gov, cfg.guard_hard_max_notional_usdc, cfg.guard.as_tuple()
    )
    fund = admin.deploy(
        project.InsuranceFund,
        usdc,
        vault,
        admin,
        cfg.admin_delay_sec,
        gov,
        roles["guardian"],
        (
            cfg.insurance_skim_bps,
            cfg.insurance_target_bps,
            cfg.insurance_max_draw_bps,
            cfg.insurance_period_sec,
            cfg.insurance_withdrawal_delay_sec,
        ),
    )

    pricer = admin.deploy(project.OptionPricer)
    option_oracle = admin.deploy(
        project.OptionOracle,
        admin,
        cfg.admin_delay_sec,
        gov,
        eth_usd,
        eth_iv,
        (cfg.option_oracle_max_age_sec, cfg.option_oracle_max_deviation_bps, cfg.option_oracle_cooldown_sec),
        (cfg.option_oracle_max_age_sec, cfg.option_oracle_max_deviation_bps, cfg.option_oracle_cooldown_sec),
    )
    options = admin.deploy(
        project.OptionMarket,
        usdc,
        pricer,
        option_oracle,
        admin,
        cfg.admin_delay_sec,
        gov,
        (
            round(cfg.option_iv_spread * WAD),
            round(cfg.option_min_vol * WAD),
            cfg.option_fee_bps,
            cfg.option_settlement_window_sec,
        ),
    )
    if cfg.option_lp_usdc:
        usdc.mint(gov, cfg.option_lp_usdc, sender=admin)
        usdc.approve(options, cfg.option_lp_usdc, sender=gov)
        options.depositLiquidity(cfg.option_lp_usdc, 0, sender=gov)

    leg_oracle = (cfg.leg_oracle_max_age_sec, cfg.leg_oracle_max_deviation_bps, cfg.leg_oracle_cooldown_sec)
    spot_leg = admin.deploy(
        project.SpotLeg, vault, usdc, spot.weth, spot.router, spot.fee, eth_usd, *leg_oracle
    )
    perp_leg = admin.deploy(project.PerpLeg, vault, usdc, perp, *leg_oracle)
    option_leg = admin.deploy(project.OptionLeg, vault, usdc, options, *leg_oracle)
    for leg in (spot_leg, perp_leg, option_leg):
        vault.addLeg(leg, sender=gov)
    vault.setStrategyLegs(spot_leg, perp_leg, option_leg, sender=gov)
    vault.setRiskModules(guard, fund, sender=gov)

    return Deployment(
        chain_id=chain.chain_id,
        block=chain.blocks.head.number,
        roles=Roles(**{name: str(acct.address) for name, acct in roles.items()}),
        usdc=str(usdc.address),
        feeds=Feeds(
            eth_usd=str(eth_usd.address), eth_iv=str(eth_iv.address), eth_funding=str(eth_funding.address)
        ),
        spot=spot,
        perp_market=str(perp.address),
        option_market=str(options.address),
        option_oracle=str(option_oracle.address),
        option_pricer=str(pricer.address),
        vault=str(vault.address),
        risk_guard=str(guard.address),
        insurance_fund=str(fund.address),
        spot_leg=str(spot_leg.address),
        perp_leg=str(perp_leg.address),
        option_leg=str(option_leg.address),
        config=cfg,
    )


def list_series(
    market: Contract,
    governance: Account,
    expiry: int,
    strikes_usd: list[float],
    *,
    calls: bool = True,
    puts: bool = True,
    call_cap_fraction: float = 1.0,
) -> list[int]:
    """List calls and/or puts on `strikes_usd` expiring at `expiry` (unix seconds); return the series ids.

    A call's payout cap is `call_cap_fraction` × its strike (the venue's calls are capped spreads).
    A series listed already makes the venue revert SeriesAlreadyListed.
    """
    ids: list[int] = []
    for strike in strikes_usd:
        k = round(strike * WAD)
        for is_call in (True, False):
            if (is_call and not calls) or (not is_call and not puts):
                continue
            cap = round(strike * call_cap_fraction * WAD) if is_call else 0
            market.listSeries(is_call, k, cap, expiry, sender=governance)
            ids.append(market.seriesCount() - 1)
    return ids
