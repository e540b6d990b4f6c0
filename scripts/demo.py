"""Keel demo (interim, until the full demo lands): one vault's life on a local anvil chain.

Run with `make demo`, or `ape run demo --network ethereum:local:foundry`.

Deploys MockUSDC and KeelVault (1% management / 10% performance fee) with one MockLeg, then:
alice and bob deposit; the keeper moves most of the idle cash to the leg; the leg books a gain;
alice redeems part of her shares straight out of liquid idle cash; bob's exit is larger than the
liquidity, so he queues it with `requestRedeem`; the keeper releases cash from the leg and processes
the queue; bob claims. Time passes between the steps so the fees accrue visibly. After every step
the vault's state and everyone's balances are printed. The addresses go to out/deployment.json.
"""

import json
import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Self

from ape import accounts, chain, project
from ape.logging import LogLevel, logger
from rich.console import Console
from rich.table import Table

USDC_DECIMALS = 6
SHARE_DECIMALS = 12  # USDC's 6 + the vault's decimals offset of 6
USDC = 10**USDC_DECIMALS
CAP = 10**15 * USDC
ADMIN_DELAY = 3600
MGMT_FEE_BPS = 100
PERF_FEE_BPS = 1_000
DAY = 86_400
OUT_DIR = Path("out")

# ape's contract and account objects are dynamic (ABI-driven attributes).
Contract = Any
Account = Any

# Wide enough for the tables when the output is not a terminal (CI logs, pipes).
console = Console(width=max(132, shutil.get_terminal_size((132, 40)).columns))


@dataclass(frozen=True)
class Cast:
    admin: Account
    gov: Account
    keeper: Account
    guardian: Account
    treasury: Account
    alice: Account
    bob: Account

    @classmethod
    def from_test_accounts(cls) -> Self:
        t = accounts.test_accounts
        return cls(admin=t[0], gov=t[1], keeper=t[2], guardian=t[3], treasury=t[4], alice=t[5], bob=t[6])


@dataclass(frozen=True)
class Deployment:
    usdc: Contract
    vault: Contract
    leg: Contract


def human(amount: int, decimals: int) -> str:
    value = Decimal(amount).scaleb(-decimals)
    return f"{value:,.{min(decimals, 6)}f}"


def usdc_str(amount: int) -> str:
    return human(amount, USDC_DECIMALS)


def shares_str(amount: int) -> str:
    return human(amount, SHARE_DECIMALS)


def pass_days(days: float) -> None:
    chain.mine(deltatime=int(days * DAY))
    console.print(f"[dim]… {days:g} days pass (chain time {chain.pending_timestamp})[/dim]")


def show(title: str, d: Deployment, c: Cast) -> None:
    vault, usdc = d.vault, d.usdc
    state = Table(title=title, title_justify="left", title_style="bold cyan")
    state.add_column("share price", justify="right")
    state.add_column("totalAssets", justify="right")
    state.add_column("idle", justify="right")
    state.add_column("liquid", justify="right")
    state.add_column("leg value", justify="right")
    state.add_column("queued shares", justify="right")
    state.add_column("claimable", justify="right")
    state.add_column("pending fee shares", justify="right")
    state.add_row(
        f"{Decimal(vault.sharePriceWad()).scaleb(-18):.6f}",
        usdc_str(vault.totalAssets()),
        usdc_str(vault.idleAssets()),
        usdc_str(vault.liquidAssets()),
        usdc_str(d.leg.value()),
        shares_str(vault.queuedShares()),
        usdc_str(vault.totalClaimable()),
        shares_str(vault.pendingFeeShares()),
    )
    parties = Table(show_header=True)
    parties.add_column("party")
    parties.add_column("USDC", justify="right")
    parties.add_column("kUSDC shares", justify="right")
    parties.add_column("shares worth (USDC)", justify="right")
    for name, who in (("alice", c.alice), ("bob", c.bob), ("treasury (fees)", c.treasury)):
        shares = vault.balanceOf(who)
        parties.add_row(
            name, usdc_str(usdc.balanceOf(who)), shares_str(shares), usdc_str(vault.convertToAssets(shares))
        )
    parties.add_row(
        "vault (escrow)",
        usdc_str(usdc.balanceOf(vault)),
        shares_str(vault.balanceOf(vault)),
        usdc_str(vault.convertToAssets(vault.balanceOf(vault))),
    )
    console.print()
    console.print(state)
    console.print(parties)


def deploy(c: Cast) -> Deployment:
    usdc = c.admin.deploy(project.MockUSDC)
    vault = c.admin.deploy(
        project.KeelVault,
        usdc,
        "Keel USDC vault",
        "kUSDC",
        c.admin,
        ADMIN_DELAY,
        c.gov,
        c.keeper,
        c.guardian,
        c.treasury,
        CAP,
    )
    vault.setManagementFee(MGMT_FEE_BPS, sender=c.gov)
    vault.setPerformanceFee(PERF_FEE_BPS, sender=c.gov)
    leg = c.admin.deploy(project.MockLeg, vault, usdc)
    vault.addLeg(leg, sender=c.gov)
    return Deployment(usdc, vault, leg)


def write_deployment(d: Deployment, c: Cast) -> Path:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / "deployment.json"
    data = {
        "chainId": chain.chain_id,
        "contracts": {
            "MockUSDC": d.usdc.address,
            "KeelVault": d.vault.address,
            "MockLeg": d.leg.address,
        },
        "roles": {
            "admin": c.admin.address,
            "governance": c.gov.address,
            "keeper": c.keeper.address,
            "guardian": c.guardian.address,
            "feeRecipient": c.treasury.address,
        },
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def main() -> None:
    logger.set_level(LogLevel.WARNING)  # the tables below say what happened; no per-transaction lines
    c = Cast.from_test_accounts()
    console.rule("[bold]Keel demo")
    console.print(f"chain id {chain.chain_id}, block {chain.blocks.head.number}")

    d = deploy(c)
    vault, usdc, leg = d.vault, d.usdc, d.leg
    console.print(
        f"KeelVault {vault.address}  MockUSDC {usdc.address}  MockLeg {leg.address}\n"
        f"fees: {vault.managementFeeBps()} bps management, {vault.performanceFeeBps()} bps performance"
    )
    show("1. deployed", d, c)

    # 2. Deposits.
    for who, amount in ((c.alice, 100_000 * USDC), (c.bob, 150_000 * USDC)):
        usdc.mint(who, amount, sender=c.admin)
        usdc.approve(vault, amount, sender=who)
        vault.deposit(amount, who, sender=who)
    show("2. alice deposits 100,000 USDC, bob 150,000 USDC", d, c)

    # 3. The keeper puts most of the idle cash to work.
    pass_days(7)
    to_leg = vault.liquidAssets() * 85 // 100
    vault.fundLeg(leg, to_leg, sender=c.keeper)
    show(f"3. keeper funds the leg with {usdc_str(to_leg)} USDC (85% of idle)", d, c)

    # 4. The leg makes money (test faucet stands in for trading PnL).
    pass_days(30)
    gain = leg.value() * 3 // 100
    usdc.mint(leg, gain, sender=c.admin)
    show(f"4. 30 days later the leg books a {usdc_str(gain)} USDC gain", d, c)

    # 5. Alice takes part of her money out of the liquid idle cash.
    pass_days(5)
    alice_shares = min(vault.balanceOf(c.alice) // 4, vault.maxRedeem(c.alice))
    receipt = vault.redeem(alice_shares, c.alice, c.alice, sender=c.alice)
    paid = receipt.return_value
    show(f"5. alice redeems {shares_str(alice_shares)} shares directly for {usdc_str(paid)} USDC", d, c)

    # 6. Bob wants everything; that is more than the vault holds liquid, so he queues.
    pass_days(2)
    bob_shares = vault.balanceOf(c.bob)
    console.print(
        f"bob holds {shares_str(bob_shares)} shares, maxRedeem(bob) = {shares_str(vault.maxRedeem(c.bob))}"
    )
    receipt = vault.requestRedeem(bob_shares, c.bob, sender=c.bob)
    request_id = receipt.return_value
    show(f"6. bob queues all {shares_str(bob_shares)} shares (request #{request_id})", d, c)

    # 7. The keeper unwinds enough of the leg and pays the queue.
    pass_days(3)
    owed = vault.convertToAssets(vault.queuedShares())
    shortfall = max(owed - vault.idleAssets(), 0)
    release = shortfall + shortfall // 100 + 1  # a 1% buffer for the price move until processing
    released = vault.releaseFromLeg(leg, release, sender=c.keeper).return_value
    processed, assets_paid = vault.processRedemptions(10, sender=c.keeper).return_value
    show(
        f"7. keeper releases {usdc_str(released)} USDC from the leg and processes {processed} "
        f"request(s): {usdc_str(assets_paid)} USDC set aside",
        d,
        c,
    )

    # 8. Bob collects.
    claimed = vault.claimRedeem(request_id, sender=c.bob).return_value
    show(f"8. bob claims {usdc_str(claimed)} USDC", d, c)

    path = write_deployment(d, c)
    console.print(f"\nwrote {path}")
