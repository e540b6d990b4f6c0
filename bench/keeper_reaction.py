"""Keeper reaction time on the embedded anvil: spot oracle update → the rebalance's receipt.

Run with `make bench`, or:

    .venv/bin/python bench/keeper_reaction.py --network ethereum:local:foundry [--updates 200]

Prints figures; asserts nothing about time.

Setup (not timed): the local market and the vault (`keeper.chain.deploy.deploy_local`, default
`LocalConfig`: RiskGuard caps the net delta at 5 ETH), a $500k deposit, and the keeper `Service` wired
as in production and in tests/e2e/test_service.py (the keeper key from an encrypted keystore, the
`Sender`, a SQLite journal, Prometheus metrics). Policy: the default `PolicyConfig` except covered
calls of 1 day (as in the e2e tests) on a tenth of the spot ETH (see OPTION_SIZE_FRAC). The service
runs cycles (the pool arbitraged back to the oracle after each) until the basis is open; then 1-day
calls (payout capped at 10% of the strike) are listed and it sells one. The short call is the book's
gamma, so a spot move moves the net delta.

Then, for each of `--updates` spot oracle updates (directions alternate, so the book stays near the
starting price; a move goes back towards $3,000 when the price is more than 5% away): the move is
sized from the keeper's own risk report so the net delta lands half a band-width beyond the
Whalley–Wilmott hedge band (between 0.5% and 8%, inside every oracle breaker). After the update
(`KeelFeed.updateAnswer`) the pool is arbitraged to the new price (`arbitrage_to_price`), then
`Service.run_cycle()` runs until a rebalance is mined. Measured from the oracle update's receipt to
the rebalance's receipt, in blocks (anvil automines: one block per transaction) and in wall-clock
milliseconds, split into the arbitrage, the keeper's read + assess + decide, and its send → receipt.

ape's anvil is started without `--steps-tracing` (see `_embedded_anvil_without_step_traces`): with
it, anvil keeps every transaction's step trace in memory and runs out of memory within 200 updates.
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ape import accounts, chain, networks, project  # noqa: E402
from ape.logging import LogLevel, logger  # noqa: E402
from prometheus_client import CollectorRegistry  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from web3 import Web3  # noqa: E402

from keeper.assess import assess  # noqa: E402
from keeper.chain.deploy import Deployment, deploy_local, feed_answer, list_series  # noqa: E402
from keeper.chain.keys import load_signer, write_keystore  # noqa: E402
from keeper.chain.reader import read_snapshot  # noqa: E402
from keeper.chain.sender import FeePolicy, Sender, SendResult, TxIntent  # noqa: E402
from keeper.chain.univ3 import arbitrage_to_price  # noqa: E402
from keeper.journal import CycleRecord, Journal  # noqa: E402
from keeper.metrics import Metrics  # noqa: E402
from keeper.policy import PolicyConfig, band_half_width_eth  # noqa: E402
from keeper.runner import project_error_abi  # noqa: E402
from keeper.service import Service  # noqa: E402

DEFAULT_NETWORK = "ethereum:local:foundry"
USDC = 10**6
WAD = 10**18
GWEI = 10**9
DAY = 86_400
DEPOSIT_USD = 500_000
PRICE0 = 3_000.0
PASSPHRASE = "keel bench passphrase"
MIN_MOVE, MAX_MOVE = 0.005, 0.08  # spot move per update, fraction of the price
OVERSHOOT = 1.5  # the move aims the net delta at this many half-widths beyond the band's centre
# Covered calls on a tenth of the spot ETH: the policy sizes a sale without the guard's net-delta cap,
# and half the spot (the default) in 25-delta calls is ~17 ETH of delta against RiskGuard's 5 ETH cap
# in the default LocalConfig (the sale reverts NetDeltaAboveCap in simulation).
OPTION_SIZE_FRAC = 0.1
CALL_STRIKES = [3_075.0, 3_150.0, 3_225.0, 3_300.0]  # 1-day calls (listed once the basis is open)
CALL_CAP = 0.10  # the listed calls pay at most 10% of the strike (collateral per ETH sold)
DRIFT = 0.05  # a move goes back towards PRICE0 when the price is more than 5% away from it
MAX_SETUP_CYCLES = 60
MAX_CYCLES_PER_UPDATE = 5


@dataclass
class Sent:
    label: str
    status: str
    block: int | None
    started: float  # perf_counter when the service handed the intent to the sender
    at: float  # perf_counter when the sender returned (the receipt is in hand)


@dataclass
class TimedSender:
    """The service's sender, noting when each send came back (the receipt's wall-clock time)."""

    inner: Sender
    sent: list[Sent] = field(default_factory=list)

    def send(self, intent: TxIntent) -> SendResult:
        started = time.perf_counter()
        result = self.inner.send(intent)
        self.sent.append(Sent(intent.label, result.status, result.block_number, started, time.perf_counter()))
        return result

    def pending_info(self) -> tuple[float, int]:
        return self.inner.pending_info()


@dataclass(frozen=True)
class Reaction:
    blocks: int  # rebalance receipt block − oracle update block
    total_ms: float  # oracle update receipt → rebalance receipt
    keeper_ms: float  # first cycle's start (after the arbitrage) → rebalance receipt
    send_ms: float  # the rebalance handed to the sender → its receipt (simulate, sign, send, confirm)
    arb_ms: float
    cycles: int
    move_pct: float
    net_delta_eth: float  # what the keeper saw, and its band half-width
    band_eth: float


@dataclass
class Run:
    reactions: list[Reaction] = field(default_factory=list)
    updates: int = 0
    rebalances: int = 0  # confirmed rebalances after the updates
    missed: int = 0  # updates with no rebalance mined within MAX_CYCLES_PER_UPDATE cycles
    failed_sends: int = 0
    failed_cycles: int = 0
    errors: list[str] = field(default_factory=list)
    setup_cycles: int = 0
    setup: dict[str, float] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)
    elapsed_sec: float = 0.0


def _embedded_anvil_without_step_traces() -> None:
    """ape-foundry starts anvil with `--steps-tracing`: every transaction's step-by-step trace is kept
    in anvil's memory for ape's call trees. A keeper transaction that values the option leg (Black-76
    in Solidity) leaves ~300 MB of it, so 200 updates need tens of GB (a first run's anvil was
    OOM-killed at 19 GB after 70 updates). The bench reads no trace: ape starts its anvil without."""
    from ape_foundry.provider import FoundryProvider

    build = FoundryProvider.build_command
    if getattr(build, "_keel_no_steps", False):
        return

    def build_command(self: Any) -> list[str]:
        return [arg for arg in build(self) if arg != "--steps-tracing"]

    build_command._keel_no_steps = True  # type: ignore[attr-defined]
    FoundryProvider.build_command = build_command  # type: ignore[method-assign]


def _fund(d: Deployment, admin: Any, depositor: Any) -> None:
    usdc = project.MockUSDC.at(d.usdc)
    vault = project.KeelVault.at(d.vault)
    usdc.mint(depositor, DEPOSIT_USD * USDC, sender=admin)
    usdc.approve(vault, 2**256 - 1, sender=depositor)
    vault.deposit(DEPOSIT_USD * USDC, depositor, sender=depositor)
    # the arbitrageur (admin) holds both tokens
    usdc.mint(admin, 50_000_000 * USDC, sender=admin)
    project.WETH9.at(d.spot.weth).deposit(value=5_000 * WAD, sender=admin)


def _service(
    w3: Web3, d: Deployment, keeper: Any, folder: Path, policy: PolicyConfig
) -> tuple[Service, TimedSender]:
    write_keystore("keel-keeper", keeper.private_key, PASSPHRASE, folder, kdf="pbkdf2", iterations=2)
    signer = load_signer("keel-keeper", keystore_dir=folder, passphrase=PASSPHRASE)
    # one confirmation (anvil automines); a short poll; a used nonce must stay without our receipt for
    # a second before the send is called dropped (anvil under load counts the nonce before it serves
    # the receipt: with the default 2 polls the bench saw a false "dropped")
    fees = FeePolicy(
        confirmations=1, poll_interval_sec=0.05, dropped_after_polls=20, max_fee_per_gas_wei=100 * GWEI
    )
    sender = TimedSender(
        Sender(w3, signer, fees, error_abi=project_error_abi(ROOT / ".build/__local__.json"))
    )
    service = Service(
        w3,
        d.vault,
        policy,
        sender=sender,
        make_intent=lambda to, data, label: TxIntent(to=to, data=data, label=label),
        journal=Journal(folder / "journal.sqlite"),
        metrics=Metrics(CollectorRegistry()),
    )
    return service, sender


def _check(rec: CycleRecord, what: str, run: Run) -> None:
    """A failed read stops the bench; a failed send is counted (the service re-reads and re-decides
    next cycle, as in production)."""
    if rec.snapshot is None:
        raise RuntimeError(f"{what}: the cycle could not read the chain: {rec.error}")
    if rec.status == "error":
        run.failed_cycles += 1
        run.errors.append(f"{what}: {rec.error}")


def _book(w3: Web3, d: Deployment, policy: PolicyConfig) -> dict[str, float]:
    snap = read_snapshot(w3, d.vault)
    risk = assess(snap)
    short_calls = sum(-s.size_wad for s in snap.options.positions if s.is_call and s.size_wad < 0) / WAD
    return {
        "price": snap.spot_price_wad / WAD,
        "spot_eth": snap.spot.weth_wad / WAD,
        "perp_eth": snap.perp.size_wad / WAD,
        "short_calls_eth": short_calls,
        "net_delta_eth": risk.greeks.net_delta_eth,
        "gamma": risk.greeks.gamma_eth_per_usd,
        "band_eth": band_half_width_eth(snap, risk, policy),
        "nav_usd": snap.book.nav_assets / USDC,
    }


def _after(
    rec: CycleRecord, policy: PolicyConfig, before: dict[str, float]
) -> tuple[float, float, dict[str, float]]:
    """(net delta the cycle saw, its band half-width, the book after the cycle's rebalance): the
    rebalance hedges to the band edge, so the net delta after it is the one seen plus the hedge."""
    if rec.snapshot is None or rec.risk is None:
        return math.nan, math.nan, before
    snap, risk = rec.snapshot, rec.risk
    net = risk.greeks.net_delta_eth
    half = band_half_width_eth(snap, risk, policy)
    hedge = sum(
        o.action.figures.get("hedge_eth", 0.0)
        for o in rec.outcomes
        if o.action.kind == "rebalance" and o.status == "confirmed"
    )
    book = before | {
        "price": snap.spot_price_wad / WAD,
        "net_delta_eth": net + hedge,
        "gamma": risk.greeks.gamma_eth_per_usd,
        "band_eth": half,
    }
    return net, half, book


def _next_price(book: dict[str, float], up: bool) -> float:
    """The price that puts the net delta OVERSHOOT half-widths from the centre, on the side this move
    pushes it (Δ net ≈ Γ · ΔS), clamped to [MIN_MOVE, MAX_MOVE] of the price."""
    s, gamma, net, half = book["price"], book["gamma"], book["net_delta_eth"], book["band_eth"]
    direction = 1.0 if up else -1.0
    side = math.copysign(1.0, gamma * direction) if gamma != 0 else direction
    need = (OVERSHOOT * half - side * net) / abs(gamma) if gamma != 0 else math.inf
    move = min(max(need, MIN_MOVE * s), MAX_MOVE * s)
    return round(s + direction * move, 2)


def _open_basis(service: Service, d: Deployment, admin: Any, gov: Any, run: Run) -> None:
    """Cycles until the basis is open, then list the calls and cycle until one is sold (listed only
    then, so the call is sized on the whole spot position, not on the first slice of the basis)."""
    listed = False
    for i in range(MAX_SETUP_CYCLES):
        rec = service.run_cycle()
        _check(rec, f"setup cycle {i}", run)
        arbitrage_to_price(d.spot, admin, PRICE0, tolerance_bps=1.0)
        run.setup_cycles = i + 1
        if any(o.action.kind == "trade_option" and o.status == "confirmed" for o in rec.outcomes):
            return
        opening = any("open basis" in a.reason for a in rec.decision.actions) if rec.decision else True
        if not opening and not listed:
            now = chain.blocks.head.timestamp
            list_series(project.OptionMarket.at(d.option_market), gov, now + DAY, CALL_STRIKES,
                        puts=False, call_cap_fraction=CALL_CAP)  # fmt: skip
            listed = True
    raise RuntimeError(f"no covered call sold after {MAX_SETUP_CYCLES} cycles (basis open: {listed})")


def run(updates: int, console: Console) -> Run:
    t = accounts.test_accounts
    admin, gov, keeper, guardian, treasury, depositor = t[0], t[1], t[2], t[3], t[4], t[5]
    roles = {"admin": admin, "governance": gov, "keeper": keeper, "guardian": guardian, "treasury": treasury}
    started = time.perf_counter()
    d = deploy_local(roles)
    _fund(d, admin, depositor)
    feed = project.KeelFeed.at(d.feeds.eth_usd)
    w3 = Web3(Web3.HTTPProvider(networks.provider.uri, exception_retry_configuration=None))
    policy = PolicyConfig(
        option_size_frac_of_spot=OPTION_SIZE_FRAC, option_tenor_days=1.0, option_min_tenor_days=0.5
    )
    out = Run()
    with tempfile.TemporaryDirectory(prefix="keel-bench-") as tmp:
        service, sender = _service(w3, d, keeper, Path(tmp), policy)
        try:
            _open_basis(service, d, admin, gov, out)
            out.setup = _book(w3, d, policy)
            console.print(
                f"[dim]setup: {out.setup_cycles} cycles; spot {out.setup['spot_eth']:.2f} ETH, perp "
                f"{out.setup['perp_eth']:.2f} ETH, short calls {out.setup['short_calls_eth']:.2f} ETH, "
                f"gamma {out.setup['gamma']:.5f} ETH/USD, band ±{out.setup['band_eth']:.2f} ETH[/dim]"
            )
            book = dict(out.setup)
            mark_setup = len(sender.sent)
            up = True
            for k in range(updates):
                # alternate; pulled back when the book has drifted DRIFT away from the start
                if abs(book["price"] / PRICE0 - 1) > DRIFT:
                    up = book["price"] < PRICE0
                price = _next_price(book, up=up)
                up = not up
                mark = len(sender.sent)
                receipt = feed.updateAnswer(feed_answer(price), sender=admin)
                t0 = time.perf_counter()
                b0 = receipt.block_number
                out.updates += 1
                arbitrage_to_price(d.spot, admin, price, tolerance_bps=1.0)
                t_arb = time.perf_counter()
                reb: Sent | None = None
                cycles = 0
                seen: tuple[float, float, dict[str, float]] = (math.nan, math.nan, book)
                while reb is None and cycles < MAX_CYCLES_PER_UPDATE:
                    rec = service.run_cycle()
                    cycles += 1
                    _check(rec, f"update {k}", out)
                    for s in sender.sent[mark:]:
                        if s.status != "confirmed":
                            out.failed_sends += 1
                        elif s.label.startswith("rebalance") and reb is None:
                            reb = s
                    mark = len(sender.sent)
                    seen = _after(rec, policy, book)
                move_pct = (price / book["price"] - 1) * 100
                book = seen[2]  # the next move is sized from what this cycle saw and did (no extra read)
                if reb is None or reb.block is None:
                    out.missed += 1
                    continue
                out.reactions.append(
                    Reaction(
                        blocks=reb.block - b0,
                        total_ms=(reb.at - t0) * 1e3,
                        keeper_ms=(reb.at - t_arb) * 1e3,
                        send_ms=(reb.at - reb.started) * 1e3,
                        arb_ms=(t_arb - t0) * 1e3,
                        cycles=cycles,
                        move_pct=move_pct,
                        net_delta_eth=seen[0],
                        band_eth=seen[1],
                    )
                )
                if (k + 1) % 50 == 0:
                    console.print(f"[dim]{k + 1} updates, {time.perf_counter() - started:.0f} s[/dim]")
            out.rebalances = sum(
                1
                for s in sender.sent[mark_setup:]
                if s.label.startswith("rebalance") and s.status == "confirmed"
            )
            out.final = _book(w3, d, policy)
        finally:
            sender.inner.close()
            if service.journal is not None:
                service.journal.close()
    out.elapsed_sec = time.perf_counter() - started
    return out


def _pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    s = sorted(values)
    return s[max(0, math.ceil(q / 100 * len(s)) - 1)]


def render(r: Run, console: Console, updates_asked: int) -> None:
    rx = r.reactions
    if not rx:
        console.print("[red]no rebalance was measured[/red]")
        return
    t = Table(title="Keeper reaction: spot oracle update → rebalance receipt (anvil, automine)")
    for col in ("measure", "p50", "p99", "min", "max"):
        t.add_column(col, justify="left" if col == "measure" else "right")

    def row(name: str, values: list[float], fmt: str) -> None:
        t.add_row(name, *(format(v, fmt) for v in (statistics.median(values), _pct(values, 99), min(values),
                                                   max(values))))  # fmt: skip

    row("blocks (update → rebalance)", [float(x.blocks) for x in rx], ",.0f")
    row("ms wall clock (update → rebalance)", [x.total_ms for x in rx], ",.1f")
    row("  of which: arbitrage the pool (ms)", [x.arb_ms for x in rx], ",.1f")
    row("  of which: keeper, cycle start → receipt (ms)", [x.keeper_ms for x in rx], ",.1f")
    row("    of which: read + assess + decide (ms)", [x.keeper_ms - x.send_ms for x in rx], ",.1f")
    row("    of which: send → receipt (ms)", [x.send_ms for x in rx], ",.1f")
    row("keeper cycles until the rebalance", [float(x.cycles) for x in rx], ",.0f")
    row("spot move per update (%, abs)", [abs(x.move_pct) for x in rx], ",.2f")
    row("|net delta| seen / band half-width", [abs(x.net_delta_eth) / x.band_eth for x in rx], ",.2f")
    console.print(t)

    c = Table(title="Counts")
    c.add_column("what")
    c.add_column("count", justify="right")
    c.add_row("oracle updates (asked / sent)", f"{updates_asked} / {r.updates}")
    c.add_row("rebalances mined after the updates", str(r.rebalances))
    c.add_row("updates measured (a rebalance mined)", str(len(rx)))
    c.add_row(f"updates with no rebalance within {MAX_CYCLES_PER_UPDATE} cycles", str(r.missed))
    c.add_row("sends not confirmed (after the updates)", str(r.failed_sends))
    c.add_row("cycles with an error (setup and updates)", str(r.failed_cycles))
    c.add_row("setup cycles (open the basis, sell a call)", str(r.setup_cycles))
    console.print(c)
    for e in r.errors[:5]:
        console.print(f"[yellow]{e}[/yellow]")
    f = r.final
    console.print(
        f"book after: price {f['price']:,.2f}, spot {f['spot_eth']:.2f} ETH, perp {f['perp_eth']:.2f} ETH, "
        f"net delta {f['net_delta_eth']:+.3f} ETH (band ±{f['band_eth']:.2f}), NAV ${f['nav_usd']:,.0f} "
        f"(after setup ${r.setup['nav_usd']:,.0f}); total run {r.elapsed_sec:.0f} s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--network", default=DEFAULT_NETWORK, help=f"ape network choice (default: {DEFAULT_NETWORK})"
    )
    parser.add_argument("--updates", type=int, default=200, help="spot oracle updates (default: 200)")
    args = parser.parse_args(argv)
    if args.updates < 1:
        parser.error("--updates must be >= 1")
    logger.set_level(LogLevel.WARNING)  # no per-transaction INFO lines
    logging.getLogger("keeper").setLevel(logging.WARNING)
    console = Console(width=max(Console().width, 120))
    _embedded_anvil_without_step_traces()
    with networks.parse_network_choice(args.network):
        result = run(args.updates, console)
    render(result, console, args.updates)
    return 0


if __name__ == "__main__":
    sys.exit(main())
