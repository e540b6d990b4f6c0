"""PnL attribution of a demo run, computed from on-chain events and state (not inferred from the NAV).

The NAV bridge (USD), every line measured independently:

    NAV end − NAV start = deposits − instant withdrawals − queued redemptions paid
                          + Σ strategy lines − insurance skims + insurance draws + residual

Strategy lines, per leg (each leg's total PnL is value_end − value_start − net USDC the vault moved in):

- spot leg: **spot ETH price moves** = Σ_steps WETH held × change of the leg's oracle price;
  **swap cost vs oracle** = Σ `SpotLeg.Swapped`: buys `amountIn − amountOut·oracle`, sells
  `amountIn·oracle − amountOut` (the Uniswap fee and price impact, in USDC).
- perp leg: **perp price moves** = Σ_steps position × change of the venue's index price;
  **perp funding** = Σ `PerpMarket.FundingSettled` of the leg + the funding pending at the end;
  **perp trading fees** = Σ `PerpLeg.PerpTraded.feeAssets`.
- option leg: **option premium** = Σ `OptionLeg.OptionTraded.premiumAssets` (sales +, purchases −);
  **option settlement** = −Σ payout of settled positions (`OptionMarket.series().payoutWad` × size, from
  `OptionLeg.OptionSettled`); **open options mark** = the open positions' value at the end (long value −
  short liability, `OptionLeg.value()` − cash − locked collateral − claimable);
  **option trading fees** = Σ `OptionTraded.feeAssets`.

Vault lines: deposits (`Deposit`), instant withdrawals (`Withdraw`), queued redemptions paid
(`RedeemProcessed`), insurance skims (`Reported.skimmedAssets`), insurance draws (`LossCovered.paidAssets`).
The **residual** is what the lines do not explain: rounding in the contracts, marks taken at the legs'
last good price while an oracle breaker was tripped, and time decay between a step's snapshot and the
end. Vault fees are paid in new shares (`FeesAccrued`): they move value from depositors to the fee
recipient but leave the NAV unchanged, so they are listed as a memo line outside the bridge.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from eth_abi import decode
from eth_utils import keccak, to_checksum_address

from keeper.chain.deploy import Deployment
from keeper.chain.rpc import RawRpc

WAD = 10**18
SCALE = 10**30  # ETH wad × price wad / SCALE = USDC units
SERIES_INFO = (
    "(bool,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint8,uint80,uint256,uint256)"
)


# =====================================================================================================
# event decoding (ABIs from the compiled project)
# =====================================================================================================


@dataclass(frozen=True)
class Log:
    address: str
    name: str
    args: dict[str, Any]
    block: int
    log_index: int


class EventDecoder:
    """Decodes the logs of known contracts by (address, topic0) from their ABIs."""

    def __init__(self, contracts: Iterable[tuple[str, Sequence[dict[str, Any]]]]) -> None:
        self._events: dict[tuple[str, bytes], dict[str, Any]] = {}
        for address, abi in contracts:
            for item in abi:
                if item.get("type") != "event" or item.get("anonymous"):
                    continue
                types = ",".join(_abi_type(i) for i in item["inputs"])
                topic = keccak(text=f"{item['name']}({types})")
                self._events[(to_checksum_address(address), topic)] = item

    def decode(self, raw: dict[str, Any]) -> Log | None:
        topics = [bytes.fromhex(t[2:]) for t in raw["topics"]]
        if not topics:
            return None
        item = self._events.get((to_checksum_address(raw["address"]), topics[0]))
        if item is None:
            return None
        indexed = [i for i in item["inputs"] if i.get("indexed")]
        plain = [i for i in item["inputs"] if not i.get("indexed")]
        args: dict[str, Any] = {}
        for inp, topic in zip(indexed, topics[1:], strict=False):
            args[inp["name"]] = decode([_abi_type(inp)], topic)[0]
        data = bytes.fromhex(raw["data"][2:])
        values = decode([_abi_type(i) for i in plain], data) if plain else ()
        for inp, v in zip(plain, values, strict=True):
            args[inp["name"]] = v
        return Log(
            address=to_checksum_address(raw["address"]),
            name=item["name"],
            args=args,
            block=int(raw["blockNumber"], 16),
            log_index=int(raw["logIndex"], 16),
        )


def _abi_type(item: dict[str, Any]) -> str:
    t = item["type"]
    if t.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in item["components"])
        return f"({inner}){t[5:]}"
    return t


def project_event_abis(d: Deployment) -> list[tuple[str, list[dict[str, Any]]]]:
    """(address, ABI) of every contract whose events the attribution reads (from ape's project)."""
    from ape import project

    def abi(name: str) -> list[dict[str, Any]]:
        ct = getattr(project, name).contract_type
        return [item.model_dump(mode="json", by_alias=True) for item in ct.abi]

    return [
        (d.vault, abi("KeelVault")),
        (d.spot_leg, abi("SpotLeg")),
        (d.perp_leg, abi("PerpLeg")),
        (d.option_leg, abi("OptionLeg")),
        (d.perp_market, abi("PerpMarket")),
        (d.option_market, abi("OptionMarket")),
        (d.usdc, abi("MockUSDC")),
        (d.insurance_fund, abi("InsuranceFund")),
    ]


def fetch_logs(
    rpc: RawRpc, decoder: EventDecoder, addresses: Sequence[str], start: int, end: int
) -> list[Log]:
    """Every decodable log of `addresses` in blocks [start, end], in chain order (chunked requests)."""
    out: list[Log] = []
    chunk = 5_000
    for lo in range(start, end + 1, chunk):
        for raw in rpc.logs(addresses, lo, min(end, lo + chunk - 1)):
            log = decoder.decode(raw)
            if log is not None:
                out.append(log)
    return out


# =====================================================================================================
# the bridge
# =====================================================================================================


@dataclass(frozen=True)
class MarkPoint:
    """What the price-move lines need from one step's snapshot (before the keeper's actions)."""

    block: int
    weth_wad: int
    perp_size_wad: int
    spot_leg_price_wad: int
    index_price_wad: int


@dataclass
class Line:
    key: str
    label: str
    group: str
    assets: int  # USDC units, signed (+ adds to the NAV)
    method: str
    in_bridge: bool = True

    @property
    def usd(self) -> float:
        return self.assets / 10**6


@dataclass
class Attribution:
    nav_start: int
    nav_end: int
    lines: list[Line] = field(default_factory=list)
    legs: dict[str, dict[str, int]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def bridge_sum(self) -> int:
        return sum(x.assets for x in self.lines if x.in_bridge)

    def line(self, key: str) -> Line:
        return next(x for x in self.lines if x.key == key)

    def as_dict(self) -> dict[str, Any]:
        return {
            "nav_start_usd": self.nav_start / 10**6,
            "nav_end_usd": self.nav_end / 10**6,
            "nav_change_usd": (self.nav_end - self.nav_start) / 10**6,
            "bridge_sum_usd": self.bridge_sum / 10**6,
            "lines": [
                {
                    "key": x.key,
                    "label": x.label,
                    "group": x.group,
                    "usd": x.usd,
                    "in_bridge": x.in_bridge,
                    "method": x.method,
                }
                for x in self.lines
            ],
            "legs": {k: {kk: vv / 10**6 for kk, vv in v.items()} for k, v in self.legs.items()},
            "event_counts": dict(self.counts),
        }


def _sum(logs: Iterable[Log], name: str, address: str, key: str, **match: Any) -> int:
    total = 0
    for lg in logs:
        if lg.name != name or lg.address != address:
            continue
        if any(lg.args.get(k) != v for k, v in match.items()):
            continue
        total += int(lg.args[key])
    return total


def attribute(
    rpc: RawRpc,
    d: Deployment,
    logs: Sequence[Log],
    marks: Sequence[MarkPoint],
    *,
    leg_values_start: dict[str, int],
    leg_values_end: dict[str, int],
    nav_start: int,
    nav_end: int,
    end_block: int,
    option_cash_end: int,
) -> Attribution:
    """The NAV bridge from `nav_start` to `nav_end` (see the module docstring).

    `marks[0]` is the state before the first step (its positions are not used), `marks[k]` the snapshot
    of step k; `leg_values_*` map "spot", "perp", "option" to `leg.value()`; `option_cash_end` is the
    option leg's locked collateral + claimable settled amounts at the end
    (`keeper.assess.option_cash_assets`).
    """
    vault, usdc = to_checksum_address(d.vault), to_checksum_address(d.usdc)
    spot_leg, perp_leg, option_leg = (to_checksum_address(x) for x in (d.spot_leg, d.perp_leg, d.option_leg))
    legs = {"spot": spot_leg, "perp": perp_leg, "option": option_leg}
    a = Attribution(nav_start=nav_start, nav_end=nav_end)
    names: dict[str, int] = {}
    for lg in logs:
        names[lg.name] = names.get(lg.name, 0) + 1
    a.counts = names

    # ---- flows and insurance (vault events)
    deposits = _sum(logs, "Deposit", vault, "assets")
    withdrawals = _sum(logs, "Withdraw", vault, "assets")
    redemptions = _sum(logs, "RedeemProcessed", vault, "assets")
    skims = _sum(logs, "Reported", vault, "skimmedAssets")
    draws = _sum(logs, "LossCovered", vault, "paidAssets")
    fees_mgmt = _sum(logs, "FeesAccrued", vault, "managementFeeAssets")
    fees_perf = _sum(logs, "FeesAccrued", vault, "performanceFeeAssets")

    # ---- net USDC the vault moved into each leg
    net_in: dict[str, int] = {}
    for name, leg in legs.items():
        into = sum(
            int(lg.args["value"])
            for lg in logs
            if lg.address == usdc
            and lg.name == "Transfer"
            and to_checksum_address(lg.args["from"]) == vault
            and to_checksum_address(lg.args["to"]) == leg
        )
        back = sum(
            int(lg.args["value"])
            for lg in logs
            if lg.address == usdc
            and lg.name == "Transfer"
            and to_checksum_address(lg.args["from"]) == leg
            and to_checksum_address(lg.args["to"]) == vault
        )
        net_in[name] = into - back

    # ---- spot leg
    swap_cost = 0
    for lg in logs:
        if lg.address != spot_leg or lg.name != "Swapped":
            continue
        amount_in, amount_out, oracle = (
            int(lg.args["amountIn"]),
            int(lg.args["amountOut"]),
            int(lg.args["oraclePriceWad"]),
        )
        if lg.args["buyEth"]:
            swap_cost += amount_in - amount_out * oracle // SCALE
        else:
            swap_cost += amount_in * oracle // SCALE - amount_out
    spot_price_pnl = 0
    perp_price_pnl = 0
    for prev, cur in pairwise(marks):
        spot_price_pnl += cur.weth_wad * (cur.spot_leg_price_wad - prev.spot_leg_price_wad)
        perp_price_pnl += cur.perp_size_wad * (cur.index_price_wad - prev.index_price_wad)
    spot_price_pnl = _round_div(spot_price_pnl, SCALE)
    perp_price_pnl = _round_div(perp_price_pnl, SCALE)

    # ---- perp leg
    funding_settled = sum(
        int(lg.args["amountUsdc"])
        for lg in logs
        if lg.address == to_checksum_address(d.perp_market)
        and lg.name == "FundingSettled"
        and to_checksum_address(lg.args["account"]) == perp_leg
    )
    pending = rpc.call(d.perp_market, "pendingFundingUsdc(address)", ["int256"], perp_leg, block=end_block)
    perp_fees = _sum(logs, "PerpTraded", perp_leg, "feeAssets")

    # ---- option leg
    premium = 0
    option_fees = 0
    for lg in logs:
        if lg.address == option_leg and lg.name == "OptionTraded":
            sign = -1 if lg.args["isBuy"] else 1
            premium += sign * int(lg.args["premiumAssets"])
            option_fees += int(lg.args["feeAssets"])
    settlement = 0
    for lg in logs:
        if lg.address == option_leg and lg.name == "OptionSettled":
            sid, size = int(lg.args["seriesId"]), int(lg.args["sizeWad"])
            info = rpc.call(d.option_market, "series(uint256)", [SERIES_INFO], sid, block=end_block)
            payout_wad = int(info[12])
            if size < 0:
                settlement -= -(-payout_wad * -size // SCALE)  # the short pays, rounded up
            else:
                settlement += payout_wad * size // SCALE
    open_mark = (
        leg_values_end["option"]
        - option_cash_end
        - rpc.call(d.usdc, "balanceOf(address)", ["uint256"], option_leg, block=end_block)
    )

    leg_pnl = {k: leg_values_end[k] - leg_values_start.get(k, 0) - net_in[k] for k in legs}
    explained = {
        "spot": spot_price_pnl - swap_cost,
        "perp": perp_price_pnl + funding_settled + pending - perp_fees,
        "option": premium - option_fees + settlement + open_mark,
    }
    for k in legs:
        a.legs[k] = {
            "value_start": leg_values_start.get(k, 0),
            "value_end": leg_values_end[k],
            "net_funded": net_in[k],
            "pnl": leg_pnl[k],
            "explained": explained[k],
            "residual": leg_pnl[k] - explained[k],
        }

    L = a.lines.append
    L(Line("deposits", "deposits", "flows", deposits, "Σ KeelVault Deposit.assets"))
    L(Line("withdrawals", "instant withdrawals", "flows", -withdrawals, "Σ KeelVault Withdraw.assets"))
    L(
        Line(
            "redemptions",
            "queued redemptions paid",
            "flows",
            -redemptions,
            "Σ KeelVault RedeemProcessed.assets",
        )
    )
    L(
        Line(
            "funding",
            "perp funding",
            "funding",
            funding_settled + pending,
            "Σ PerpMarket FundingSettled(account = PerpLeg) + pendingFundingUsdc(PerpLeg) at the end",
        )
    )
    L(
        Line(
            "option_premium",
            "option premium",
            "options",
            premium,
            "Σ OptionLeg OptionTraded.premiumAssets (sales +, purchases −)",
        )
    )
    L(
        Line(
            "option_settlement",
            "option settlement payouts",
            "options",
            settlement,
            "Σ over OptionLeg OptionSettled: series payoutWad × size (shorts pay)",
        )
    )
    L(
        Line(
            "option_open_mark",
            "open options mark",
            "options",
            open_mark,
            "OptionLeg.value() − leg cash − locked collateral − claimable, at the end",
        )
    )
    L(
        Line(
            "spot_price",
            "spot ETH price moves",
            "price",
            spot_price_pnl,
            "Σ steps: WETH held × Δ SpotLeg oracle price",
        )
    )
    L(
        Line(
            "perp_price",
            "perp price moves",
            "price",
            perp_price_pnl,
            "Σ steps: perp size × Δ PerpMarket index price",
        )
    )
    L(
        Line(
            "swap_cost",
            "swap cost vs oracle (fee + impact)",
            "costs",
            -swap_cost,
            "Σ SpotLeg Swapped: amountIn vs amountOut at oraclePriceWad",
        )
    )
    L(Line("perp_fees", "perp trading fees", "costs", -perp_fees, "Σ PerpLeg PerpTraded.feeAssets"))
    L(Line("option_fees", "option trading fees", "costs", -option_fees, "Σ OptionLeg OptionTraded.feeAssets"))
    L(Line("insurance_skims", "insurance skims", "insurance", -skims, "Σ KeelVault Reported.skimmedAssets"))
    L(Line("insurance_draws", "insurance draws", "insurance", draws, "Σ KeelVault LossCovered.paidAssets"))
    # vault idle: deposits − withdrawals − redemptions − skims + draws − Σ net funded; anything else in
    # the residual too
    residual = (nav_end - nav_start) - sum(x.assets for x in a.lines)
    L(
        Line(
            "residual",
            "residual (unexplained)",
            "residual",
            residual,
            "NAV change − every line above (rounding, marks at a tripped oracle's last good price)",
        )
    )
    L(
        Line(
            "vault_fees",
            "vault fees (paid in shares)",
            "fees",
            -(fees_mgmt + fees_perf),
            f"Σ KeelVault FeesAccrued: management {fees_mgmt / 1e6:,.2f} + performance "
            f"{fees_perf / 1e6:,.2f} USD; new shares to the fee recipient: dilutes the share price, "
            "NAV unchanged",
            in_bridge=False,
        )
    )
    return a


def _round_div(x: int, y: int) -> int:
    q, r = divmod(abs(x), y)
    if 2 * r >= y:
        q += 1
    return q if x >= 0 else -q
