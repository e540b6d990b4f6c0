"""The vault's depositors: deposits, withdrawals and queued redemptions on a seeded schedule.

Each depositor is a dev-node account. At setup they are funded with USDC and deposit
`DemoConfig.depositors_usd`. Then, every step, each one independently (seeded):

- tops up with probability `deposit_rate_per_day / steps_per_day` (10-60k USD);
- exits with probability `exit_rate_per_day / steps_per_day`: 10-50% of their shares, redeemed at once
  when the vault's liquid cash covers it (ERC-4626 `redeem`), else queued (`requestRedeem`);
- claims every processed request (`claimRedeem`) as soon as the keeper has processed it.

Two scheduled events make every run show both kinds of exit: a small instant withdrawal by the last
depositor at step 2, and bob queueing `queued_exit_fraction` of his shares 15% into the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from keeper.chain.deploy import Deployment
from keeper.chain.rpc import RawRpc, RawTxError
from keeper.demo.config import DEPOSITOR_NAMES, DemoConfig

USDC = 10**6
MAX_UINT = 2**256 - 1
REQUEST = "(address,address,uint256,uint256)"


@dataclass(frozen=True)
class DepositorEvent:
    step: int
    name: str
    kind: str  # deposit | withdraw | request_redeem | claim_redeem | skipped
    assets: int  # USDC units (requests: the assets the shares were worth when queued)
    shares: int
    request_id: int | None = None
    note: str = ""


@dataclass
class Depositor:
    name: str
    address: str
    deposited: int = 0
    withdrawn: int = 0
    claimed: int = 0
    open_requests: list[int] = field(default_factory=list)


@dataclass
class Depositors:
    rpc: RawRpc
    d: Deployment
    cfg: DemoConfig
    addresses: list[str]
    n_steps: int
    people: list[Depositor] = field(default_factory=list)
    events: list[DepositorEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng([self.cfg.seed, 0x6465706F])  # a stream of its own ("depo")
        n = len(self.cfg.depositors_usd)
        self.people = [Depositor(DEPOSITOR_NAMES[i], self.addresses[i]) for i in range(n)]
        self.queue_step = max(3, round(0.15 * self.n_steps))

    # ------------------------------------------------------------------ actions

    def _shares(self, who: Depositor) -> int:
        return self.rpc.call(self.d.vault, "balanceOf(address)", ["uint256"], who.address)

    def deposit(self, step: int, who: Depositor, usd: float) -> None:
        assets = int(usd * USDC)
        r = self.rpc
        r.send(who.address, self.d.usdc, "mint(address,uint256)", who.address, assets)
        before = self._shares(who)
        r.send(who.address, self.d.vault, "deposit(uint256,address)", assets, who.address)
        who.deposited += assets
        self.events.append(DepositorEvent(step, who.name, "deposit", assets, self._shares(who) - before))

    def exit(self, step: int, who: Depositor, fraction: float, *, force_queue: bool = False) -> None:
        r, vault = self.rpc, self.d.vault
        shares = int(self._shares(who) * fraction)
        if shares == 0:
            return
        worth = r.call(vault, "convertToAssets(uint256)", ["uint256"], shares)
        if not force_queue and shares <= r.call(vault, "maxRedeem(address)", ["uint256"], who.address):
            before = r.call(self.d.usdc, "balanceOf(address)", ["uint256"], who.address)
            r.send(who.address, vault, "redeem(uint256,address,address)", shares, who.address, who.address)
            got = r.call(self.d.usdc, "balanceOf(address)", ["uint256"], who.address) - before
            who.withdrawn += got
            self.events.append(DepositorEvent(step, who.name, "withdraw", got, shares))
            return
        rid = r.call(vault, "queueBounds()", ["uint256", "uint256"])[1]
        r.send(who.address, vault, "requestRedeem(uint256,address)", shares, who.address)
        who.open_requests.append(rid)
        self.events.append(DepositorEvent(step, who.name, "request_redeem", worth, shares, rid))

    def claim(self, step: int, who: Depositor) -> None:
        r, vault = self.rpc, self.d.vault
        for rid in list(who.open_requests):
            _, _, shares_left, claimable = r.call(vault, "redeemRequest(uint256)", [REQUEST], rid)
            if claimable > 0:
                r.send(who.address, vault, "claimRedeem(uint256)", rid)
                who.claimed += claimable
                self.events.append(DepositorEvent(step, who.name, "claim_redeem", claimable, 0, rid))
            if shares_left == 0:  # fully processed (and now claimed)
                who.open_requests.remove(rid)

    # ------------------------------------------------------------------ schedule

    def setup(self) -> None:
        """Initial deposits (step 0), approvals once."""
        for who, usd in zip(self.people, self.cfg.depositors_usd, strict=True):
            self.rpc.send(who.address, self.d.usdc, "approve(address,uint256)", self.d.vault, MAX_UINT)
            self.deposit(0, who, usd)

    def step(self, i: int, steps_per_day: int) -> None:
        """The depositors' moves at step `i` (before the keeper's cycle)."""
        for who in self.people:
            if who.open_requests:
                self.claim(i, who)
        if i == 2 and len(self.people) >= 2:
            self._try(i, self.people[-1], lambda w: self.exit(i, w, 0.02))
        if i == self.queue_step and len(self.people) >= 2:
            self._try(
                i, self.people[1], lambda w: self.exit(i, w, self.cfg.queued_exit_fraction, force_queue=True)
            )
        p_dep = self.cfg.deposit_rate_per_day / steps_per_day
        p_exit = self.cfg.exit_rate_per_day / steps_per_day
        for who in self.people:
            u_dep, u_exit, size, frac = self.rng.random(4)
            if u_dep < p_dep:
                usd = round(10_000 + 50_000 * float(size), -2)
                self._try(i, who, lambda w, usd=usd: self.deposit(i, w, usd))
            if u_exit < p_exit:
                fraction = 0.1 + 0.4 * float(frac)
                self._try(i, who, lambda w, f=fraction: self.exit(i, w, f))

    def _try(self, i: int, who: Depositor, fn) -> None:
        try:
            fn(who)
        except RawTxError as exc:  # e.g. deposits paused: the depositor simply does not get in
            self.events.append(DepositorEvent(i, who.name, "skipped", 0, 0, note=str(exc)[:200]))

    # ------------------------------------------------------------------ summary

    def summary(self) -> list[dict[str, object]]:
        """Per depositor: USDC in and out, shares held now and what they are worth."""
        r, vault = self.rpc, self.d.vault
        rows = []
        for who in self.people:
            shares = self._shares(who)
            worth = r.call(vault, "convertToAssets(uint256)", ["uint256"], shares)
            queued = 0
            for rid in who.open_requests:
                _, _, left, claimable = r.call(vault, "redeemRequest(uint256)", [REQUEST], rid)
                queued += r.call(vault, "convertToAssets(uint256)", ["uint256"], left) + claimable
            out = who.withdrawn + who.claimed
            rows.append(
                {
                    "name": who.name,
                    "address": who.address,
                    "deposited_usd": who.deposited / USDC,
                    "withdrawn_usd": who.withdrawn / USDC,
                    "claimed_usd": who.claimed / USDC,
                    "shares": shares,
                    "value_usd": worth / USDC,
                    "queued_usd": queued / USDC,
                    "pnl_usd": (worth + queued + out - who.deposited) / USDC,
                    "open_requests": list(who.open_requests),
                }
            )
        return rows
