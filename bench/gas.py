"""Gas benchmark: KeelVault against OpenZeppelin's plain ERC4626 (contracts/mocks/PlainVault.sol).

Run with `make bench`, or:

    .venv/bin/python bench/gas.py --network ethereum:local:foundry

Both vaults are deployed on a fresh embedded anvil in the same run and driven through the same
sequence, so the two columns are measured under the same storage conditions:

- a first deposit into the empty vault (its own row: it writes fresh storage slots);
- a warm-up deposit by the measuring account, so every measured operation runs on an account that
  already holds shares (steady state) and, for KeelVault, the fee recipient already holds fee shares;
- deposit, mint, withdraw and redeem, each one day after the previous operation and after the assets
  grew a little, so KeelVault's fee path charges both the management and the performance fee.

KeelVault runs with a 1% management and a 10% performance fee and one registered MockLeg holding
part of the assets, so `totalAssets()` iterates a leg with a non-zero value. The queued-exit path is
then measured on KeelVault alone: ten `requestRedeem`s against a vault whose idle cash went to the
leg (`fundLeg`), `releaseFromLeg`, `processRedemptions(10)` and `claimRedeem`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ape import accounts, chain, networks, project
from ape.logging import LogLevel, logger

USDC = 10**6
CAP = 10**15 * USDC
DAY = 86_400
MGMT_FEE_BPS = 100
PERF_FEE_BPS = 1_000
GOAL_RATIO = 1.5
GOAL_OPS = ("deposit", "redeem")
QUEUE_LEN = 10
DEFAULT_NETWORK = "ethereum:local:foundry"

# ape's contract, account and receipt objects are dynamic (ABI-driven attributes).
Contract = Any
Account = Any
Step = Callable[[], None]


@dataclass(frozen=True)
class Row:
    operation: str
    keel: int | None
    plain: int | None
    base: int | None = None  # KeelVault with fees off and no legs

    @property
    def ratio(self) -> float | None:
        if self.keel is None or self.plain is None:
            return None
        return self.keel / self.plain

    @property
    def base_ratio(self) -> float | None:
        if self.base is None or self.plain is None:
            return None
        return self.base / self.plain


@dataclass(frozen=True)
class Actors:
    admin: Account
    gov: Account
    keeper: Account
    guardian: Account
    treasury: Account
    first: Account  # the very first depositor of each vault
    user: Account  # the steady-state account the ERC-4626 operations are measured on
    queuers: tuple[Account, ...]  # holders that file the queued redemptions

    @classmethod
    def from_test_accounts(cls) -> Actors:
        t = accounts.test_accounts
        return cls(t[0], t[1], t[2], t[3], t[4], t[5], t[6], (t[7], t[8], t[9]))


@dataclass(frozen=True)
class Deployment:
    usdc: Contract
    keel: Contract
    plain: Contract
    leg: Contract
    base: Contract  # a second KeelVault: fees off, no legs


def gas(receipt: Any) -> int:
    return int(receipt.gas_used)


def pass_time(seconds: int = DAY) -> None:
    chain.mine(deltatime=seconds)


def deploy_keel(a: Actors, usdc: Contract) -> Contract:
    return a.admin.deploy(
        project.KeelVault,
        usdc,
        "Keel USDC vault",
        "kUSDC",
        a.admin,
        3600,
        a.gov,
        a.keeper,
        a.guardian,
        a.treasury,
        CAP,
    )


def deploy(a: Actors) -> Deployment:
    usdc = a.admin.deploy(project.MockUSDC)
    keel = deploy_keel(a, usdc)
    base = deploy_keel(a, usdc)
    keel.setManagementFee(MGMT_FEE_BPS, sender=a.gov)
    keel.setPerformanceFee(PERF_FEE_BPS, sender=a.gov)
    leg = a.admin.deploy(project.MockLeg, keel, usdc)
    keel.addLeg(leg, sender=a.gov)
    plain = a.admin.deploy(project.PlainVault, usdc)
    for who in (a.first, a.user, *a.queuers):
        usdc.mint(who, 10**9 * USDC, sender=a.admin)
        usdc.approve(keel, 2**256 - 1, sender=who)
        usdc.approve(plain, 2**256 - 1, sender=who)
        usdc.approve(base, 2**256 - 1, sender=who)
    return Deployment(usdc, keel, plain, leg, base)


def measure_4626(vault: Contract, a: Actors, step: Step, after_first: Step) -> dict[str, int]:
    """First deposit, then the four ERC-4626 entry points on an account that already holds shares.

    `step` runs before every operation after the first (time passes, assets grow); `after_first`
    runs once right after the first deposit.
    """
    out: dict[str, int] = {}
    pass_time()  # so the fee clock is not written with the value it already holds
    out["deposit (first, empty vault)"] = gas(vault.deposit(100_000 * USDC, a.first, sender=a.first))
    after_first()
    step()
    vault.deposit(50_000 * USDC, a.user, sender=a.user)  # warm-up: the user's first shares
    step()
    out["deposit"] = gas(vault.deposit(10_000 * USDC, a.user, sender=a.user))
    step()
    out["mint"] = gas(vault.mint(vault.previewDeposit(10_000 * USDC), a.user, sender=a.user))
    step()
    out["withdraw"] = gas(vault.withdraw(5_000 * USDC, a.user, a.user, sender=a.user))
    step()
    out["redeem"] = gas(vault.redeem(vault.balanceOf(a.user) // 10, a.user, a.user, sender=a.user))
    return out


def measure_queue(d: Deployment, a: Actors) -> dict[str, int]:
    """KeelVault only: queued exits that need the leg's cash to be paid."""
    keel, leg = d.keel, d.leg
    out: dict[str, int] = {}
    for who in a.queuers:
        keel.deposit(200_000 * USDC, who, sender=who)
    pass_time()
    # Leave little idle cash so the requests cannot be paid by a direct redeem.
    out["fundLeg (extra)"] = gas(keel.fundLeg(leg, keel.liquidAssets() - 1_000 * USDC, sender=a.keeper))

    per_request = {who.address: keel.balanceOf(who) // 8 for who in a.queuers}
    if all(keel.maxRedeem(who) >= per_request[who.address] for who in a.queuers):
        raise RuntimeError("the queued requests were meant to exceed the vault's liquid cash")
    request_gas: list[int] = []
    for i in range(QUEUE_LEN):
        who = a.queuers[i % len(a.queuers)]
        request_gas.append(gas(keel.requestRedeem(per_request[who.address], who, sender=who)))
    out["requestRedeem (first in queue)"] = request_gas[0]
    out[f"requestRedeem (median of next {QUEUE_LEN - 1})"] = int(statistics.median(request_gas[1:]))

    pass_time()
    d.usdc.mint(leg, 50 * USDC, sender=a.admin)
    owed = keel.convertToAssets(keel.queuedShares())
    out["releaseFromLeg (extra)"] = gas(keel.releaseFromLeg(leg, owed + 1_000 * USDC, sender=a.keeper))
    receipt = keel.processRedemptions(QUEUE_LEN, sender=a.keeper)
    head, tail = keel.queueBounds()
    if head != tail or keel.queuedShares() != 0:
        raise RuntimeError(f"processRedemptions({QUEUE_LEN}) left requests queued: {head=} {tail=}")
    out[f"processRedemptions({QUEUE_LEN})"] = gas(receipt)
    out["  ... per request"] = gas(receipt) // QUEUE_LEN

    claim_gas = [gas(keel.claimRedeem(i, sender=a.admin)) for i in range(QUEUE_LEN)]
    out["claimRedeem (first)"] = claim_gas[0]
    out[f"claimRedeem (median of {QUEUE_LEN})"] = int(statistics.median(claim_gas))
    pass_time()
    out["accrueFees (extra)"] = gas(keel.accrueFees(sender=a.admin))
    return out


def run() -> list[Row]:
    a = Actors.from_test_accounts()
    d = deploy(a)

    def keel_step() -> None:
        pass_time()
        d.usdc.mint(d.leg, 50 * USDC, sender=a.admin)  # yield booked by the leg

    def keel_after_first() -> None:
        d.keel.fundLeg(d.leg, 60_000 * USDC, sender=a.keeper)

    def plain_step() -> None:
        pass_time()
        d.usdc.mint(d.plain, 50 * USDC, sender=a.admin)  # same yield, donated

    def base_step() -> None:
        pass_time()
        d.usdc.mint(d.base, 50 * USDC, sender=a.admin)  # same yield, donated

    keel_ops = measure_4626(d.keel, a, keel_step, keel_after_first)
    base_ops = measure_4626(d.base, a, base_step, lambda: None)
    plain_ops = measure_4626(d.plain, a, plain_step, lambda: None)
    rows = [Row(op, g, plain_ops.get(op), base_ops.get(op)) for op, g in keel_ops.items()]
    rows += [Row(op, g, None) for op, g in measure_queue(d, a).items()]
    return rows


def fmt(value: int | float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}x"
    return f"{value:,}"


def render(rows: Sequence[Row]) -> str:
    header = (
        "operation",
        "KeelVault gas",
        "Keel no fees/legs",
        "plain OZ ERC4626 gas",
        "ratio (Keel/plain)",
        "ratio (no fees/plain)",
    )
    body = [
        (r.operation, fmt(r.keel), fmt(r.base), fmt(r.plain), fmt(r.ratio), fmt(r.base_ratio)) for r in rows
    ]
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "| " + " | ".join([first, *rest]) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(b) for b in body)])


def verdict(rows: Sequence[Row]) -> tuple[bool, str]:
    by_op = {r.operation: r for r in rows}
    lines: list[str] = []
    ok_all = True
    for label, pick in (("fees on, 1 leg", lambda r: r.ratio), ("fees off, no legs", lambda r: r.base_ratio)):
        parts: list[str] = []
        ok = True
        for op in GOAL_OPS:
            ratio = pick(by_op[op])
            assert ratio is not None
            ok = ok and ratio <= GOAL_RATIO
            parts.append(f"{op} {ratio:.2f}x")
        ok_all = ok_all and ok
        word = "WITHIN" if ok else "NOT within"
        detail = ", ".join(parts)
        lines.append(f"Goal ({label}): deposit and redeem {word} {GOAL_RATIO}x of plain OZ ({detail}).")
    return ok_all, "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--network", default=DEFAULT_NETWORK, help=f"ape network choice (default: {DEFAULT_NETWORK})"
    )
    args = parser.parse_args(argv)
    logger.set_level(LogLevel.WARNING)  # no per-transaction INFO lines
    with networks.parse_network_choice(args.network):
        rows = run()
    print()
    print(
        f"KeelVault: {MGMT_FEE_BPS} bps management + {PERF_FEE_BPS} bps performance fee, 1 leg; "
        "1 day and a small gain before each steady-state operation."
    )
    print(render(rows))
    _, message = verdict(rows)
    print()
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
