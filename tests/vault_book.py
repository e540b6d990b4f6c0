"""The deployed local market seen from the vault's side, for the lifecycle, attack and stateful tests of
the vault with its real legs (tests/contracts/test_vault_lifecycle_legs.py, test_vault_attacks.py,
test_vault_stateful_legs.py).

`Market` wraps `keeper.chain.deploy.deploy_local`'s record with ape contract objects and the checks
every step of those tests makes:

- `reconcile()`: the vault's NAV is its idle cash plus the value of its legs, to the unit;
- `claims()`: no holder can take more than a pro-rata share, and all of them together no more than NAV;
- `publish()` / `poke()`: fresh feed rounds (the legs' and venues' max age) and the legs' OracleLib
  references kept up to date, as a live keeper would;
- builders for the keeper's `RebalanceParams` and `OptionTradeParams` tuples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import eth_abi
from eth_utils import keccak
from hexbytes import HexBytes
from web3.exceptions import ContractCustomError, ContractLogicError

from keeper.chain.deploy import Deployment, list_series
from keeper.chain.univ3 import arbitrage_to_price, quote_exact_input
from tests.helpers import option_fields, rebalance_fields

USDC = 10**6
WAD = 10**18
SCALE = 10**30  # ETH wad × price wad / SCALE = USDC units
BPS = 10_000
UINT_MAX = 2**256 - 1
VIRTUAL_SHARES = 10**6
FEED_DECIMALS = 8
YEAR = 365 * 86_400

Contract = Any
Account = Any


def reason(name: str) -> bytes:
    """A `LossReasons` constant: its name as a left-aligned bytes32."""
    return name.encode().ljust(32, b"\0")


def usd8(usd: float) -> int:
    return round(usd * 10**FEED_DECIMALS)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def advance(chain, seconds: int) -> None:
    """Mine a block `seconds` after the pending timestamp, so views see the new time."""
    chain.pending_timestamp += seconds
    chain.mine(timestamp=chain.pending_timestamp)


def revert_data(method, *args, sender: Account) -> HexBytes:
    """The revert data of `method(*args)` sent by `sender` now, by an eth_call (nothing is mined).

    Used instead of `ape.reverts` where the error comes from a contract called deep inside the action
    (RiskGuard after a Uniswap swap, the router's own checks): ape then decodes the custom error by walking
    the transaction's whole debug trace for the addresses it touched, ~20 s a revert after a swap.
    """
    tx = {"from": sender.address, "to": method.contract.address, "data": method.encode_input(*args).hex()}
    try:
        method.provider.web3.eth.call(tx)
    except (ContractCustomError, ContractLogicError) as exc:
        return HexBytes(exc.data)
    raise AssertionError(f"{method} did not revert")


def decode_error(data: bytes, contract: Contract, name: str) -> dict[str, Any]:
    """Check that `data` is `contract`'s custom error `name`; return its fields."""
    if name == "Error":  # a revert string
        assert data[:4] == keccak(text="Error(string)")[:4], data.hex()
        return {"reason": eth_abi.decode(["string"], data[4:])[0]}
    abi = next(e for e in contract.contract_type.errors if e.name == name)
    types = [i.canonical_type for i in abi.inputs]
    assert data[:4] == keccak(text=f"{name}({','.join(types)})")[:4], (name, data.hex())
    return {i.name: v for i, v in zip(abi.inputs, eth_abi.decode(types, data[4:]), strict=True)}


@dataclass
class Market:
    d: Deployment
    project: Any
    vault: Contract
    usdc: Contract
    weth: Contract
    spot: Contract  # SpotLeg
    perp: Contract  # PerpLeg
    option: Contract  # OptionLeg
    perp_market: Contract
    option_market: Contract
    guard: Contract
    fund: Contract
    feed: Contract  # ETH/USD
    funding_feed: Contract
    iv_feed: Contract
    _fee_recipient: str | None = None  # fixed in these tests: read once

    @classmethod
    def load(cls, project, d: Deployment) -> Market:
        return cls(
            d=d,
            project=project,
            vault=project.KeelVault.at(d.vault),
            usdc=project.MockUSDC.at(d.usdc),
            weth=project.WETH9.at(d.spot.weth),
            spot=project.SpotLeg.at(d.spot_leg),
            perp=project.PerpLeg.at(d.perp_leg),
            option=project.OptionLeg.at(d.option_leg),
            perp_market=project.PerpMarket.at(d.perp_market),
            option_market=project.OptionMarket.at(d.option_market),
            guard=project.RiskGuard.at(d.risk_guard),
            fund=project.InsuranceFund.at(d.insurance_fund),
            feed=project.KeelFeed.at(d.feeds.eth_usd),
            funding_feed=project.KeelFeed.at(d.feeds.eth_funding),
            iv_feed=project.KeelFeed.at(d.feeds.eth_iv),
        )

    @property
    def legs(self) -> tuple[Contract, Contract, Contract]:
        return self.spot, self.perp, self.option

    # ------------------------------------------------------------------ prices and feeds
    def price8(self) -> int:
        return self.feed.latestRoundData().answer

    def price_wad(self) -> int:
        return self.price8() * 10 ** (18 - FEED_DECIMALS)

    def publish(self, admin: Account, price8: int | None = None, rate8: int | None = None) -> None:
        """Fresh rounds on the three feeds (same values unless given)."""
        self.feed.updateAnswer(self.price8() if price8 is None else price8, sender=admin)
        rate = self.funding_feed.latestRoundData().answer if rate8 is None else rate8
        self.funding_feed.updateAnswer(rate, sender=admin)
        self.iv_feed.updateAnswer(self.iv_feed.latestRoundData().answer, sender=admin)

    def poke(self, who: Account) -> None:
        """Every leg's `pokeOracle` (the permissionless OracleLib update)."""
        for leg in self.legs:
            leg.pokeOracle(sender=who)

    def arbitrage(self, arb: Account) -> None:
        """Pull the Uniswap pool to the oracle price (an arbitrageur's swap)."""
        arbitrage_to_price(self.d.spot, arb, self.price8() / 10**FEED_DECIMALS)

    # ------------------------------------------------------------------ the two checks of every step
    def read(self, *calls: tuple[Contract, str, tuple]) -> list[Any]:
        """Views `(contract, method, args)` read in one JSON-RPC batch at the head block.

        The checks below run after every step of the property tests; through ape each view costs ~20 ms of
        conversions, in a batch the whole check costs one round trip.
        """
        web3 = self.vault.provider.web3
        block = hex(web3.eth.block_number)
        requests, outputs = [], []
        for contract, name, args in calls:
            abi = next(
                x for x in contract.contract_type.methods if x.name == name and len(x.inputs) == len(args)
            )
            types = [i.canonical_type for i in abi.inputs]
            selector = keccak(text=f"{name}({','.join(types)})")[:4]
            data = selector + eth_abi.encode(types, list(args))
            requests.append(("eth_call", [{"to": str(contract.address), "data": "0x" + data.hex()}, block]))
            outputs.append([o.canonical_type for o in abi.outputs])
        responses = web3.provider.make_batch_request(requests)
        values = []
        for response, types in zip(responses, outputs, strict=True):
            assert "error" not in response, response
            decoded = eth_abi.decode(types, HexBytes(response["result"]))
            values.append(decoded[0] if len(decoded) == 1 else decoded)
        return values

    def legs_value(self) -> int:
        return sum(self.read(*((leg, "value", ()) for leg in self.legs)))

    def reconcile(self) -> int:
        """NAV = idle + Σ leg values to the unit, where idle = the vault's cash − what processed exits are
        owed (`totalClaimable`); return the NAV. (Every view read at one block.)"""
        v = self.vault
        legs, nav, idle, cash, owed, book, *values = self.read(
            (v, "legs", ()),
            (v, "totalAssets", ()),
            (v, "idleAssets", ()),
            (self.usdc, "balanceOf", (str(v.address),)),
            (v, "totalClaimable", ()),
            (v, "bookState", ()),
            *((leg, "value", ()) for leg in self.legs),
        )
        assert [x.lower() for x in legs] == [str(x.address).lower() for x in self.legs]  # the vault's legs
        assert nav == idle + sum(values), (nav, idle, values)
        assert cash >= owed and idle == cash - owed
        assert book[3] == nav  # bookState().navAssets
        return nav

    def claims(self, holders: list[Account]) -> dict[str, int]:
        """What each holder could redeem now, checked against its pro-rata share.

        A holder of b shares out of S (with the fee shares accrued but not minted) owns b/S of the NAV A;
        the vault's one virtual asset (its inflation defence) is shared pro rata too, so a redemption is
        at most ⌊(A + 1)·b / S⌋, and all holders together (the queued shares held by the vault and the
        fee recipient included) can never take more than A. `maxWithdraw` promises no more than
        `previewRedeem(balance)` and no more than the liquid cash.
        """
        v = self.vault
        if self._fee_recipient is None:
            self._fee_recipient = str(v.feeRecipient())
        everyone = [str(getattr(h, "address", h)) for h in holders] + [self._fee_recipient, str(v.address)]
        a, supply, pending, liquid, *balances = self.read(
            (v, "totalAssets", ()),
            (v, "totalSupply", ()),
            (v, "pendingFeeShares", ()),
            (v, "liquidAssets", ()),
            *((v, "balanceOf", (h,)) for h in everyone),
        )
        s = supply + pending
        per_holder = self.read(
            *(
                call
                for h, b in zip(everyone, balances, strict=True)
                for call in ((v, "previewRedeem", (b,)), (v, "maxWithdraw", (h,)), (v, "maxRedeem", (h,)))
            )
        )
        out: dict[str, int] = {}
        for i, (h, b) in enumerate(zip(everyone, balances, strict=True)):
            val, max_withdraw, max_redeem = per_holder[3 * i : 3 * i + 3]
            assert val <= (a + 1) * b // s if s else val == 0, (h, b, val, a, s)
            assert max_withdraw <= min(val, liquid)
            assert max_redeem <= b
            out[h] = val
        assert sum(out.values()) <= a
        return out

    # ------------------------------------------------------------------ keeper action tuples
    def rebalance_params(self, chain, **kw) -> tuple:
        """`RebalanceParams` for the vault's current nonce. A swap without `spotMinOut` gets the keeper's
        oracle-derived minimum: the oracle amount less `min_out_bps` (default 100 bps)."""
        min_out_bps = kw.pop("min_out_bps", 100)
        p = rebalance_fields(self.vault.actionNonce(), chain.blocks.head.timestamp + 600, **kw)
        if p["spotAmountIn"] and not p["spotMinOut"]:
            price = self.price_wad()
            if p["spotBuyEth"]:
                fair = p["spotAmountIn"] * SCALE // price
            else:
                fair = p["spotAmountIn"] * price // SCALE
            p["spotMinOut"] = fair * (BPS - min_out_bps) // BPS
        if p["perpSizeDeltaWad"] > 0 and not p["perpLimitPriceWad"]:
            p["perpLimitPriceWad"] = UINT_MAX
        return tuple(p.values())

    def option_params(self, chain, sid: int, **kw) -> tuple:
        return tuple(
            option_fields(self.vault.actionNonce(), chain.blocks.head.timestamp + 600, sid, **kw).values()
        )

    def sell_options(self, chain, keeper: Account, sid: int, size_wad: int):
        """Write `size_wad` options of `sid`: post the collateral, accept 1% under the quote."""
        premium, fee = self.option_market.quote(sid, False, size_wad)
        collateral = self.option_market.collateralRequiredUsdc(sid, size_wad)
        params = self.option_params(
            chain, sid, sizeWad=size_wad, limitAssets=(premium - fee) * 99 // 100, fundAssets=collateral
        )
        return self.vault.tradeOptions(params, sender=keeper)

    def buy_options(self, chain, keeper: Account, sid: int, size_wad: int):
        """Buy `size_wad` options of `sid` (or buy back a short), paying at most 1% over the quote."""
        premium, fee = self.option_market.quote(sid, True, size_wad)
        cost = ceil_div((premium + fee) * 101, 100)
        params = self.option_params(
            chain, sid, isBuy=True, sizeWad=size_wad, limitAssets=cost, fundAssets=cost
        )
        return self.vault.tradeOptions(params, sender=keeper)

    def list_series(self, gov: Account, expiry: int, strike_usd: float, is_call: bool) -> int:
        (sid,) = list_series(self.option_market, gov, expiry, [strike_usd], calls=is_call, puts=not is_call)
        return sid

    def weth_for(self, usdc_in: int) -> int:
        """WETH the pool pays now for `usdc_in` (the pool's swap replayed to the wei)."""
        return quote_exact_input(self.d.spot, "usdc", usdc_in).amount_out

    def open_basis(self, chain, keeper: Account, usdc_in: int, margin: int):
        """Buy `usdc_in` of spot and short exactly the WETH it buys, with `margin` moved to the perp."""
        w = self.weth_for(usdc_in)
        return self.vault.rebalance(
            self.rebalance_params(
                chain, spotAmountIn=usdc_in, perpSizeDeltaWad=-w, perpMarginDeltaAssets=margin
            ),
            sender=keeper,
        ), w


def fund_trader(m: Market, admin: Account, who: Account, usdc: int = 0, weth: int = 0) -> None:
    """Give `who` USDC (minted) and WETH (wrapped from its ether) and approve the vault and the fund."""
    if usdc:
        m.usdc.mint(who, usdc, sender=admin)
        m.usdc.approve(m.vault, UINT_MAX, sender=who)
        m.usdc.approve(m.fund, UINT_MAX, sender=who)
    if weth:
        m.weth.deposit(value=weth, sender=who)
