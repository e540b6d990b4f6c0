"""Gas per keeper action and per depositor action with the vault's legs open, on the local market.

Run with `make bench`, or:

    .venv/bin/python bench/keeper_gas.py --network ethereum:local:foundry

The whole local market is deployed on a fresh embedded anvil (`keeper.chain.deploy.deploy_local`: the
real Uniswap V3 pool, PerpMarket, OptionMarket, the vault with its RiskGuard, InsuranceFund and its three
legs), three depositors put in $1.3M and a donor seeds the insurance fund. Then, in this order:

- the first full rebalance opens the book (its own row: it writes fresh slots in the legs and venues);
- the rebalance variants run on the open book: full (spot swap + perp trade + margin in), the same after
  a new round on every feed (each leg then writes its OracleLib state, as in live operation where rounds
  arrive between actions), spot only, perp only, margin only, and a full unwind (sale + buy-back +
  margin out). None asks for the before-book (`allowImprovement` false: the book is inside its bounds);
  asking costs one more read of every leg;
- option trades: a sale opening a position, a sale adding to it, a buy-back of part of it; then a full
  rebalance with the option position open as well (after a new round): every keeper action's after-book
  re-marks the option leg on chain (Black-76 at the IV feed), which the rebalances above do not pay;
- the depositor actions with every leg holding value (`totalAssets()` reads three legs, two of them
  venue accounts): deposit, withdraw, redeem, requestRedeem, processRedemptions(1), claimRedeem;
- report after a loss, coverLoss, report after a profit (a donation stands in for realised profit: the
  skim to the insurance fund is the path measured);
- a day later, settleOptions of the expired series (settle at the venue + claim + release).

A minute passes before each measured action, so fees and funding accrue as they would between blocks.
Figures are gas used by the transaction (21k intrinsic gas included); nothing is timed. After the table,
the full rebalance, an option trade and a deposit are broken down by the vault's direct calls (anvil's
`debug_traceTransaction` call tracer): how much is the trades themselves and how much is reading the book
(every leg's value, delta, exposure and the perp margin ratio, before and after the action).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ape import accounts, chain, networks, project
from ape.logging import LogLevel, logger
from eth_utils import keccak

from keeper.chain.deploy import LocalConfig, deploy_local, list_series
from keeper.chain.univ3 import arbitrage_to_price, quote_exact_input

USDC = 10**6
WAD = 10**18
SCALE = 10**30
UINT_MAX = 2**256 - 1
DAY = 86_400
GOAL_FULL_REBALANCE = 350_000
DEFAULT_NETWORK = "ethereum:local:foundry"
FULL_REBALANCE = "rebalance: full (spot swap + perp trade + margin in)"
FULL_REBALANCE_NEW_ROUND = "rebalance: full, after a new oracle round"
FULL_REBALANCE_WITH_BEFORE = "rebalance: full, after a new round, with allowImprovement"
FULL_REBALANCE_ALL_OPEN = "rebalance: full, option position open too, after a new round"
OPTION_SELL = "tradeOptions: sell (adds to it)"
DEPOSIT = "deposit (legs open)"
BREAKDOWN = (FULL_REBALANCE, FULL_REBALANCE_NEW_ROUND, FULL_REBALANCE_ALL_OPEN, OPTION_SELL, DEPOSIT)

Contract = Any


def gas(receipt: Any) -> int:
    return int(receipt.gas_used)


class Bench:
    def __init__(self) -> None:
        t = accounts.test_accounts
        self.admin, self.gov, self.keeper, self.guardian, self.treasury = t[0], t[1], t[2], t[3], t[4]
        self.depositors = (t[5], t[6], t[7])
        self.arb = t[8]
        roles = {
            "admin": self.admin,
            "governance": self.gov,
            "keeper": self.keeper,
            "guardian": self.guardian,
            "treasury": self.treasury,
        }
        self.d = deploy_local(roles, LocalConfig())
        self.vault = project.KeelVault.at(self.d.vault)
        self.usdc = project.MockUSDC.at(self.d.usdc)
        self.feed = project.KeelFeed.at(self.d.feeds.eth_usd)
        self.feeds = [
            self.feed,
            project.KeelFeed.at(self.d.feeds.eth_funding),
            project.KeelFeed.at(self.d.feeds.eth_iv),
        ]
        self.spot = project.SpotLeg.at(self.d.spot_leg)
        self.perp = project.PerpLeg.at(self.d.perp_leg)
        self.perp_market = project.PerpMarket.at(self.d.perp_market)
        self.options = project.OptionMarket.at(self.d.option_market)
        self.fund = project.InsuranceFund.at(self.d.insurance_fund)
        self.rows: list[tuple[str, int]] = []
        self.receipts: dict[str, Any] = {}

    # ------------------------------------------------------------------ helpers
    def pass_time(self, seconds: int = 60) -> None:
        chain.mine(deltatime=seconds)

    def record(self, label: str, receipt: Any) -> None:
        self.rows.append((label, gas(receipt)))
        self.receipts[label] = receipt

    def breakdown(self, label: str) -> list[tuple[str, int, int]]:
        """Gas of the vault's direct calls in the transaction `label`: (callee.function, calls, gas)."""
        names = {
            self.d.spot_leg: "SpotLeg",
            self.d.perp_leg: "PerpLeg",
            self.d.option_leg: "OptionLeg",
            self.d.risk_guard: "RiskGuard",
            self.d.insurance_fund: "InsuranceFund",
            self.d.usdc: "USDC",
        }
        names = {k.lower(): n for k, n in names.items()}
        selectors = {}
        for container in ("SpotLeg", "PerpLeg", "OptionLeg", "RiskGuard", "InsuranceFund", "MockUSDC"):
            for abi in getattr(project, container).contract_type.methods:
                selectors["0x" + keccak(text=abi.selector)[:4].hex()] = abi.name
        web3 = chain.provider.web3
        tx_hash = self.receipts[label].txn_hash
        trace = web3.provider.make_request("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])
        used: Counter[str] = Counter()
        count: Counter[str] = Counter()
        for call in trace["result"].get("calls", []) or []:
            callee = names.get(call["to"].lower(), call["to"])
            key = f"{callee}.{selectors.get(call['input'][:10], call['input'][:10])}"
            used[key] += int(call["gasUsed"], 16)
            count[key] += 1
        return [(key, count[key], g) for key, g in used.most_common()]

    def price_wad(self) -> int:
        return self.feed.latestRoundData().answer * 10**10

    def publish(self) -> None:
        for f in self.feeds:
            f.updateAnswer(f.latestRoundData().answer, sender=self.admin)

    def params(self, **kw: Any) -> tuple:
        p = {
            "expectedNonce": self.vault.actionNonce(),
            "deadline": chain.blocks.head.timestamp + 3_600,
            "spotBuyEth": True,
            "spotAmountIn": 0,
            "spotMinOut": 0,
            "perpSizeDeltaWad": 0,
            "perpLimitPriceWad": 0,
            "perpMarginDeltaAssets": 0,
            "allowImprovement": False,
        } | kw
        if p["spotAmountIn"] and not p["spotMinOut"]:  # the keeper's min-out: 1% under the oracle
            fair = (
                p["spotAmountIn"] * SCALE // self.price_wad()
                if p["spotBuyEth"]
                else p["spotAmountIn"] * self.price_wad() // SCALE
            )
            p["spotMinOut"] = fair * 99 // 100
        if p["perpSizeDeltaWad"] > 0:
            p["perpLimitPriceWad"] = UINT_MAX
        return tuple(p.values())

    def rebalance(self, **kw: Any) -> Any:
        return self.vault.rebalance(self.params(**kw), sender=self.keeper)

    def full(self, usdc_in: int, margin: int, **kw: Any) -> Any:
        weth = quote_exact_input(self.d.spot, "usdc", usdc_in).amount_out
        return self.rebalance(
            spotAmountIn=usdc_in, perpSizeDeltaWad=-weth, perpMarginDeltaAssets=margin, **kw
        )

    def trade_options(self, sid: int, is_buy: bool, size: int) -> Any:
        premium, fee = self.options.quote(sid, is_buy, size)
        if is_buy:
            limit = fund = (premium + fee) * 101 // 100 + 1
        else:
            limit, fund = (premium - fee) * 99 // 100, self.options.collateralRequiredUsdc(sid, size)
        p = (
            self.vault.actionNonce(),
            chain.blocks.head.timestamp + 3_600,
            sid,
            is_buy,
            size,
            limit,
            fund,
            False,
        )
        return self.vault.tradeOptions(p, sender=self.keeper)

    # ------------------------------------------------------------------ the run
    def run(self) -> list[tuple[str, int]]:
        v, k = self.vault, self.keeper
        for who in (*self.depositors, self.arb):
            self.usdc.mint(who, 10_000_000 * USDC, sender=self.admin)
            self.usdc.approve(v, UINT_MAX, sender=who)
            self.usdc.approve(self.fund, UINT_MAX, sender=who)
        for who, usd in zip(self.depositors, (1_000_000, 200_000, 100_000), strict=True):
            v.deposit(usd * USDC, who, sender=who)
        self.fund.deposit(50_000 * USDC, sender=self.arb)
        project.WETH9.at(self.d.spot.weth).deposit(value=200 * WAD, sender=self.arb)  # the arbitrageur's WETH
        expiry = chain.blocks.head.timestamp + DAY
        put, _call = list_series(self.options, self.gov, expiry, [3_000.0])[::-1]

        # rebalance variants
        self.pass_time()
        self.record(
            "rebalance: full, opening the book (first action)", self.full(30_000 * USDC, 10_000 * USDC)
        )
        arbitrage_to_price(self.d.spot, self.arb, self.price_wad() / WAD)
        self.pass_time()
        self.record(FULL_REBALANCE, self.full(30_000 * USDC, 10_000 * USDC))
        arbitrage_to_price(self.d.spot, self.arb, self.price_wad() / WAD)
        self.pass_time()
        self.publish()  # a new round on every feed: each leg's OracleLib state is written
        self.record(FULL_REBALANCE_NEW_ROUND, self.full(30_000 * USDC, 10_000 * USDC))
        arbitrage_to_price(self.d.spot, self.arb, self.price_wad() / WAD)
        self.pass_time()
        self.publish()
        self.record(
            FULL_REBALANCE_WITH_BEFORE, self.full(30_000 * USDC, 10_000 * USDC, allowImprovement=True)
        )
        arbitrage_to_price(self.d.spot, self.arb, self.price_wad() / WAD)
        self.pass_time()
        self.record("rebalance: spot only (buy $3k)", self.rebalance(spotAmountIn=3_000 * USDC))
        self.pass_time()
        self.record("rebalance: perp only (short 1 ETH)", self.rebalance(perpSizeDeltaWad=-WAD))
        self.pass_time()
        self.record("rebalance: margin only (+$5k)", self.rebalance(perpMarginDeltaAssets=5_000 * USDC))
        self.pass_time()
        weth = self.spot.delta() // 4
        self.record(
            "rebalance: full unwind (sale + buy-back + margin out)",
            self.rebalance(
                spotBuyEth=False,
                spotAmountIn=weth,
                perpSizeDeltaWad=weth,
                perpMarginDeltaAssets=-2_000 * USDC,
            ),
        )

        # options
        self.pass_time()
        self.record("tradeOptions: sell (opens a position)", self.trade_options(put, False, 2 * WAD))
        self.pass_time()
        self.record("tradeOptions: sell (adds to it)", self.trade_options(put, False, WAD))
        self.pass_time()
        self.record("tradeOptions: buy (buys part back)", self.trade_options(put, True, WAD))
        arbitrage_to_price(self.d.spot, self.arb, self.price_wad() / WAD)
        self.pass_time()
        self.publish()
        self.record(FULL_REBALANCE_ALL_OPEN, self.full(30_000 * USDC, 10_000 * USDC))
        arbitrage_to_price(self.d.spot, self.arb, self.price_wad() / WAD)

        # depositors, with every leg holding value
        user, other = self.depositors[1], self.depositors[2]
        self.pass_time()
        self.record("deposit (legs open)", v.deposit(10_000 * USDC, user, sender=user))
        self.pass_time()
        self.record("withdraw (legs open)", v.withdraw(5_000 * USDC, user, user, sender=user))
        self.pass_time()
        self.record("redeem (legs open)", v.redeem(v.balanceOf(user) // 10, user, user, sender=user))
        self.pass_time()
        receipt = v.requestRedeem(v.balanceOf(other) // 2, other, sender=other)
        request = receipt.events.filter(v.RedeemRequested)[0].requestId
        self.record("requestRedeem (legs open)", receipt)
        self.pass_time()
        self.record("processRedemptions(1) (legs open)", v.processRedemptions(1, sender=k))
        self.pass_time()
        self.record("claimRedeem", v.claimRedeem(request, sender=other))

        # report and cover
        self.pass_time()
        v.report(v.actionNonce(), sender=k)  # the base
        self.pass_time()
        self.full(30_000 * USDC, 10_000 * USDC)  # trading costs (~$40): a small realised loss
        arbitrage_to_price(self.d.spot, self.arb, self.price_wad() / WAD)
        self.pass_time()
        self.record("report (loss recorded)", v.report(v.actionNonce(), sender=k))
        self.pass_time()
        self.record("coverLoss", v.coverLoss(v.actionNonce(), b"OTHER".ljust(32, b"\0"), sender=k))
        self.usdc.mint(v, 20_000 * USDC, sender=self.admin)  # stands in for realised profit
        self.pass_time()
        self.record("report (profit, skim to the fund)", v.report(v.actionNonce(), sender=k))

        # settlement a day later
        self.pass_time(DAY)
        self.publish()  # the first round after expiry: the settlement price
        self.record(
            "settleOptions (settle + claim + release)", v.settleOptions(v.actionNonce(), put, 0, sender=k)
        )
        return self.rows


BOOK_READS = ("book", "value", "delta", "grossExposure", "marginRatioWad")


def render(rows: Sequence[tuple[str, int]], first: str = "action (legs open)") -> str:
    header = (first, "gas")
    body = [(label, f"{g:,}") for label, g in rows]
    w0 = max(len(r[0]) for r in (header, *body))
    w1 = max(len(r[1]) for r in (header, *body))
    lines = [f"| {header[0].ljust(w0)} | {header[1].rjust(w1)} |", f"|{'-' * (w0 + 2)}|{'-' * (w1 + 2)}|"]
    lines += [f"| {a.ljust(w0)} | {b.rjust(w1)} |" for a, b in body]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--network", default=DEFAULT_NETWORK, help=f"ape network choice (default: {DEFAULT_NETWORK})"
    )
    args = parser.parse_args(argv)
    logger.set_level(LogLevel.WARNING)
    with networks.parse_network_choice(args.network):
        bench = Bench()
        rows = bench.run()
        parts = {label: bench.breakdown(label) for label in BREAKDOWN}
    print()
    print("Keeper and depositor actions on the local market with the spot, perp and option legs open.")
    print(render(rows))
    print()
    for label in (FULL_REBALANCE, FULL_REBALANCE_NEW_ROUND):
        full = dict(rows)[label]
        word = "UNDER" if full < GOAL_FULL_REBALANCE else "NOT under"
        print(f"Goal: '{label}' {word} {GOAL_FULL_REBALANCE:,} gas ({full:,}).")
    all_open = dict(rows)[FULL_REBALANCE_ALL_OPEN]
    remark = sum(g for key, _, g in parts[FULL_REBALANCE_ALL_OPEN] if key == "OptionLeg.book")
    over = all_open - GOAL_FULL_REBALANCE
    print(
        f"With an option position open as well: {all_open:,} gas"
        + (f", {over:,} over the goal" if over > 0 else ", under the goal")
        + f"; the option leg's on-chain re-mark for the guard (OptionLeg.book) is {remark:,} of it."
    )
    with_before = dict(rows)[FULL_REBALANCE_WITH_BEFORE] - dict(rows)[FULL_REBALANCE_NEW_ROUND]
    print(
        f"Asking for the before-book (allowImprovement) costs {with_before:,} gas more on a full rebalance."
    )
    for label, calls in parts.items():
        reads = sum(g for key, _, g in calls if key.rsplit(".", 1)[-1] in BOOK_READS)
        total = dict(rows)[label]
        print()
        print(
            f"Where the gas of '{label}' goes: the vault's direct calls; reading the book (leg value, delta,"
            f" exposure, margin ratio) is {reads:,} of {total:,} ({100 * reads / total:.0f}%)."
        )
        print(render([(f"{key} x{n}", g) for key, n, g in calls], first="call"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
