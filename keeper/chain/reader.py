"""Reads a KeelVault's state over JSON-RPC, every call pinned to one block: `read_vault` (the vault
alone) and `read_snapshot` (vault, legs, venues and oracles: the keeper's `Snapshot`)."""

from __future__ import annotations

from typing import Any

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from web3 import Web3

from keeper.chain.rpc import arg_types
from keeper.guard import BookState, GuardParams
from keeper.models import VaultState
from keeper.oracle import FeedConfig, FeedState, RoundData, Verdict, check, to_wad
from keeper.snapshot import (
    FundingPoint,
    InsuranceView,
    OptionBookView,
    OptionSeries,
    OracleReading,
    PerpAccount,
    Snapshot,
    SpotHolding,
)
from keeper.univ3_math import price_wad_from_sqrt_price_x96


class ChainReadError(RuntimeError):
    """A read failed: the address is not a KeelVault or the node did not answer."""


def _call(w3: Web3, to: str, signature: str, out_types: list[str], block: int, args: bytes = b"") -> Any:
    data = function_signature_to_4byte_selector(signature) + args
    try:
        raw = w3.eth.call({"to": to, "data": data}, block_identifier=block)
    except Exception as exc:
        raise ChainReadError(f"call {signature} on {to} at block {block} failed: {exc}") from exc
    if not raw:
        raise ChainReadError(f"{to} returned nothing for {signature}: is it a KeelVault?")
    values = decode(out_types, raw)
    return values[0] if len(values) == 1 else values


def read_vault(w3: Web3, address: str, block: int | None = None) -> VaultState:
    """One consistent snapshot of the vault at `block` (default: the latest block)."""
    vault = to_checksum_address(address)
    b = w3.eth.block_number if block is None else block

    def call(sig: str, out: str) -> Any:
        return _call(w3, vault, sig, [out], b)

    asset = to_checksum_address(call("asset()", "address"))
    legs = tuple(to_checksum_address(x) for x in call("legs()", "address[]"))
    head, tail = _call(w3, vault, "queueBounds()", ["uint256", "uint256"], b)
    return VaultState(
        address=vault,
        block=b,
        asset=asset,
        asset_decimals=_call(w3, asset, "decimals()", ["uint8"], b),
        share_decimals=call("decimals()", "uint8"),
        total_assets=call("totalAssets()", "uint256"),
        total_supply=call("totalSupply()", "uint256"),
        idle_assets=call("idleAssets()", "uint256"),
        liquid_assets=call("liquidAssets()", "uint256"),
        share_price_wad=call("sharePriceWad()", "uint256"),
        high_water_mark_wad=call("highWaterMarkWad()", "uint256"),
        pending_fee_shares=call("pendingFeeShares()", "uint256"),
        management_fee_bps=call("managementFeeBps()", "uint256"),
        performance_fee_bps=call("performanceFeeBps()", "uint256"),
        fee_recipient=to_checksum_address(call("feeRecipient()", "address")),
        deposit_cap=call("depositCap()", "uint256"),
        deposits_paused=call("depositsPaused()", "bool"),
        shutdown=call("isShutdown()", "bool"),
        legs=legs,
        leg_values=tuple(_call(w3, leg, "value()", ["uint256"], b) for leg in legs),
        queued_shares=call("queuedShares()", "uint256"),
        total_claimable=call("totalClaimable()", "uint256"),
        queue_head=head,
        queue_tail=tail,
    )


# =====================================================================================================
# The full snapshot (vault, legs, venues, oracles) at one block
# =====================================================================================================

FEED_CONFIG = "(address,uint8,uint32,uint16,uint32,bool)"
FEED_STATE = "(int128,uint64,uint64)"
ROUND = ["uint80", "int256", "uint256", "uint256", "uint80"]
SERIES_INFO = (
    "(bool,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint8,uint80,uint256,uint256)"
)
REPORTED_TOPIC = "0x" + Web3.keccak(text="Reported(uint256,int256,uint256,uint256)").hex().removeprefix("0x")


class _Pinned:
    """eth_call helper pinned to one block."""

    def __init__(self, w3: Web3, block: int) -> None:
        self.w3 = w3
        self.block = block

    def call(self, to: str, signature: str, out: list[str], *args: Any) -> Any:
        data = encode(arg_types(signature), list(args)) if args else b""
        return _call(self.w3, to, signature, out, self.block, data)

    def try_call(self, to: str, signature: str, out: list[str], *args: Any) -> Any | None:
        try:
            return self.call(to, signature, out, *args)
        except ChainReadError:
            return None


def _addr(x: str) -> str:
    return to_checksum_address(x)


def _round(raw: tuple) -> RoundData:
    return RoundData(
        round_id=raw[0], answer=raw[1], started_at=raw[2], updated_at=raw[3], answered_in_round=raw[4]
    )


def _feed_config(raw: tuple) -> FeedConfig:
    return FeedConfig(
        feed=_addr(raw[0]),
        decimals=raw[1],
        max_age_sec=raw[2],
        max_deviation_bps=raw[3],
        cooldown_sec=raw[4],
        signed=raw[5],
    )


def _feed_state(raw: tuple) -> FeedState:
    return FeedState(last_good_wad=raw[0], last_good_at=raw[1], tripped_at=raw[2])


def _reading(
    name: str,
    feed: str,
    rnd: RoundData,
    decimals: int,
    now: int,
    consumers: list[tuple[FeedConfig, FeedState]],
) -> OracleReading:
    """The verdict of every consumer of the feed; the reading carries the worst one (the first non-Ok):
    an action goes through every leg's check, so one failing consumer halts it."""
    verdict, value = Verdict.Ok, 0
    config = state = None
    for cfg, st in consumers:
        v, val = check(cfg, st, rnd, now)
        if config is None or (verdict == Verdict.Ok and v != Verdict.Ok):
            verdict, value, config, state = v, val, cfg, st
    if not consumers:  # a plain read: fresh and positive
        ok, val = to_wad(rnd.answer, decimals)
        verdict = Verdict.Ok if ok and rnd.updated_at != 0 and rnd.updated_at <= now else Verdict.Stale
        value = val if ok else 0
    return OracleReading(
        name=name,  # type: ignore[arg-type]
        feed=_addr(feed),
        round=rnd,
        decimals=decimals,
        config=config,
        state=state,
        verdict=verdict,
        value_wad=value,
        age_sec=max(0, now - rnd.updated_at),
    )


SLOT0 = ["uint160", "int24", "uint16", "uint16", "uint16", "uint8", "bool"]


def _pool_state(p: _Pinned, pool: str, weth: str, asset_decimals: int) -> tuple[int, int, int]:
    """(price USD per ETH in wad, virtual asset reserve, virtual WETH reserve) of the pool now."""
    sqrt_price = p.call(pool, "slot0()", SLOT0)[0]
    liquidity = p.call(pool, "liquidity()", ["uint128"])
    token0 = _addr(p.call(pool, "token0()", ["address"]))
    if sqrt_price == 0:
        return 0, 0, 0
    q96 = 2**96
    # virtual reserves at the current price: x = L/√P (token0), y = L·√P (token1)
    reserve0 = liquidity * q96 // sqrt_price
    reserve1 = liquidity * sqrt_price // q96
    weth_is_token0 = token0 == _addr(weth)
    price = price_wad_from_sqrt_price_x96(
        sqrt_price, usd_is_token0=not weth_is_token0, usd_decimals=asset_decimals
    )
    return (price, reserve1, reserve0) if weth_is_token0 else (price, reserve0, reserve1)


def _series(p: _Pinned, market: str, sid: int, leg: str | None) -> OptionSeries:
    s = p.call(market, "series(uint256)", [SERIES_INFO], sid)
    size, collateral = (0, 0)
    if leg is not None:
        size, collateral = p.call(market, "position(address,uint256)", ["int256", "uint256"], leg, sid)
    return OptionSeries(
        series_id=sid,
        is_call=s[0],
        strike_wad=s[1],
        cap_wad=s[2],
        expiry=s[4],
        settled=s[9] != 0,
        settlement_price_wad=s[11],
        size_wad=size,
        collateral_assets=collateral,
    )


def _funding_history(
    p: _Pinned, feed: str, latest: RoundData, since: int, max_rounds: int
) -> list[FundingPoint]:
    rid = latest.round_id
    decimals = p.call(feed, "decimals()", ["uint8"])
    points = [FundingPoint(updated_at=latest.updated_at, rate_wad=to_wad(latest.answer, decimals)[1])]
    while len(points) < max_rounds and rid > 1 and points[-1].updated_at > since:
        rid -= 1
        raw = p.try_call(feed, "getRoundData(uint80)", ROUND, rid)
        if raw is None or raw[3] == 0:
            break
        points.append(FundingPoint(updated_at=raw[3], rate_wad=to_wad(raw[1], decimals)[1]))
    return points[::-1]


def _last_report_at(w3: Web3, vault: str, block: int, lookback_blocks: int) -> int:
    try:
        logs = w3.eth.get_logs(
            {
                "address": vault,
                "fromBlock": max(0, block - lookback_blocks),
                "toBlock": block,
                "topics": [REPORTED_TOPIC],
            }
        )
    except Exception as exc:
        raise ChainReadError(f"getLogs Reported on {vault} failed: {exc}") from exc
    if not logs:
        return 0
    last = logs[-1]
    return int(w3.eth.get_block(last["blockNumber"])["timestamp"])


def read_snapshot(
    w3: Web3,
    vault_address: str,
    block: int | None = None,
    *,
    funding_window_sec: int = 3 * 86_400,
    max_funding_rounds: int = 256,
    report_lookback_blocks: int = 1_000_000,
) -> Snapshot:
    """Everything `policy.decide` needs, every read pinned to `block` (default: latest)."""
    try:
        b = w3.eth.block_number if block is None else block
        header = w3.eth.get_block(b)
        chain_id = w3.eth.chain_id
    except Exception as exc:
        raise ChainReadError(f"block {block}: {exc}") from exc
    now = int(header["timestamp"])
    p = _Pinned(w3, b)
    vault = _addr(vault_address)
    vs = read_vault(w3, vault, b)

    def v(sig: str, out: list[str]) -> Any:
        return p.call(vault, sig, out)

    spot_leg = _addr(v("spotLeg()", ["address"]))
    perp_leg = _addr(v("perpLeg()", ["address"]))
    option_leg = _addr(v("optionLeg()", ["address"]))
    guard = _addr(v("riskGuard()", ["address"]))
    fund = _addr(v("insuranceFund()", ["address"]))
    for name, a in (
        ("spotLeg", spot_leg),
        ("perpLeg", perp_leg),
        ("optionLeg", option_leg),
        ("riskGuard", guard),
    ):
        if int(a, 16) == 0:
            raise ChainReadError(f"vault {vault} has no {name} set")

    # ---- oracles
    feed_cfgs = {
        leg: (
            _feed_config(p.call(leg, "oracleConfig()", [FEED_CONFIG])),
            _feed_state(p.call(leg, "oracleState()", [FEED_STATE])),
        )
        for leg in (spot_leg, perp_leg, option_leg)
    }
    spot_feed = feed_cfgs[spot_leg][0].feed
    spot_round = _round(p.call(spot_feed, "latestRoundData()", ROUND))
    spot_reading = _reading("eth_usd", spot_feed, spot_round, feed_cfgs[spot_leg][0].decimals, now,
                            list(feed_cfgs.values()))  # fmt: skip

    perp_market = _addr(p.call(perp_leg, "market()", ["address"]))
    option_market = _addr(p.call(option_leg, "market()", ["address"]))
    option_oracle = _addr(p.call(option_market, "oracle()", ["address"]))
    iv_feed = _addr(p.call(option_oracle, "feed(uint8)", ["address"], 1))
    iv_cfg = _feed_config(p.call(option_oracle, "config(uint8)", [FEED_CONFIG], 1))
    iv_state = _feed_state(p.call(option_oracle, "state(uint8)", [FEED_STATE], 1))
    iv_round = _round(p.call(iv_feed, "latestRoundData()", ROUND))
    iv_reading = _reading("eth_iv", iv_feed, iv_round, iv_cfg.decimals, now, [(iv_cfg, iv_state)])

    funding_feed = _addr(p.call(perp_market, "fundingFeed()", ["address"]))
    funding_round = _round(p.call(funding_feed, "latestRoundData()", ROUND))
    funding_decimals = p.call(funding_feed, "decimals()", ["uint8"])
    funding_reading = _reading("funding", funding_feed, funding_round, funding_decimals, now, [])
    history = _funding_history(p, funding_feed, funding_round, now - funding_window_sec, max_funding_rounds)

    # ---- spot leg
    weth = _addr(p.call(spot_leg, "weth()", ["address"]))
    router = _addr(p.call(spot_leg, "router()", ["address"]))
    pool_fee = p.call(spot_leg, "poolFee()", ["uint24"])
    factory = _addr(p.call(router, "factory()", ["address"]))
    pool = _addr(p.call(factory, "getPool(address,address,uint24)", ["address"], vs.asset, weth, pool_fee))
    pool_price, asset_reserve, eth_reserve = _pool_state(p, pool, weth, vs.asset_decimals)
    spot = SpotHolding(
        leg=spot_leg,
        weth_wad=p.call(weth, "balanceOf(address)", ["uint256"], spot_leg),
        cash_assets=p.call(vs.asset, "balanceOf(address)", ["uint256"], spot_leg),
        value_assets=p.call(spot_leg, "value()", ["uint256"]),
        pool=pool,
        pool_fee=pool_fee,
        pool_price_wad=pool_price,
        pool_asset_reserve=asset_reserve,
        pool_eth_reserve_wad=eth_reserve,
    )

    # ---- perp leg
    pos = p.call(perp_market, "position(address)", ["(int256,uint256,int256,int256)"], perp_leg)
    mp = p.call(perp_market, "params()", ["(uint256,uint256,uint256,uint256,uint256,uint256,uint256)"])
    equity, _, _ = p.call(perp_leg, "markedEquity()", ["int256", "uint256", "bool"])
    pending = p.try_call(perp_market, "pendingFundingUsdc(address)", ["int256"], perp_leg)
    liq = p.try_call(perp_market, "liquidationPriceWad(address)", ["uint256"], perp_leg)
    withdrawable = p.try_call(perp_market, "withdrawableMarginUsdc(address)", ["uint256"], perp_leg)
    perp = PerpAccount(
        leg=perp_leg,
        market=perp_market,
        size_wad=pos[0],
        entry_price_wad=pos[1],
        margin_assets=pos[2],
        equity_assets=equity,
        pending_funding_assets=pending or 0,
        margin_ratio_wad=p.call(perp_leg, "marginRatioWad()", ["uint256"]),
        liquidation_price_wad=liq or 0,
        withdrawable_assets=withdrawable or 0,
        leg_cash_assets=p.call(vs.asset, "balanceOf(address)", ["uint256"], perp_leg),
        value_assets=p.call(perp_leg, "value()", ["uint256"]),
        imr_wad=mp[0],
        mmr_wad=mp[1],
        fee_bps=mp[2],
        max_funding_8h_wad=mp[5],
    )

    # ---- option leg
    held = p.call(option_market, "accountSeries(address)", ["uint256[]"], option_leg)
    active = p.call(option_market, "activeSeries()", ["uint256[]"])
    options = OptionBookView(
        leg=option_leg,
        market=option_market,
        oracle=option_oracle,
        settlement_window_sec=p.call(option_market, "settlementWindowSec()", ["uint256"]),
        positions=tuple(_series(p, option_market, sid, option_leg) for sid in held),
        listed=tuple(_series(p, option_market, sid, None) for sid in active),
        value_assets=p.call(option_leg, "value()", ["uint256"]),
        delta_wad=p.call(option_leg, "delta()", ["int256"]),
        iv_spread_wad=p.call(option_market, "ivSpreadWad()", ["uint256"]),
        min_vol_wad=p.call(option_market, "minVolWad()", ["uint256"]),
        fee_bps=p.call(option_market, "tradingFeeBps()", ["uint256"]),
        pool_free_assets=p.call(option_market, "poolFreeUsdc()", ["uint256"]),
    )

    # ---- vault keeper state, guard, fund
    book = v("bookState()", ["(int256,uint256,uint256,uint256)"])
    needed, reason = v("rebalanceTrigger()", ["bool", "uint8"])
    nav_at_report, flows = v("reportBase()", ["uint256", "int256"])
    gp = p.call(guard, "params()", ["(uint128,uint64,uint64,uint16,uint32,uint128,uint128,uint64)"])
    insurance = InsuranceView(
        fund=fund,
        reserve_assets=p.call(fund, "reserve()", ["uint256"]) if int(fund, 16) else 0,
        target_assets=p.call(fund, "targetAssets()", ["uint256"]) if int(fund, 16) else 0,
        coverable_assets=p.call(fund, "coverable()", ["uint256"]) if int(fund, 16) else 0,
    )
    queued_assets = p.call(vault, "convertToAssets(uint256)", ["uint256"], vs.queued_shares)
    return Snapshot(
        chain_id=chain_id,
        block=b,
        block_hash="0x" + bytes(header["hash"]).hex(),
        timestamp=now,
        vault=vs,
        action_nonce=v("actionNonce()", ["uint256"]),
        last_action_at=v("lastActionAt()", ["uint256"]),
        unreported_loss_assets=v("unreportedLoss()", ["uint256"]),
        nav_at_report_assets=nav_at_report,
        flows_since_report_assets=flows,
        last_report_at=_last_report_at(w3, vault, b, report_lookback_blocks),
        book=BookState(
            net_delta_wad=book[0], margin_ratio_wad=book[1], gross_exposure_assets=book[2], nav_assets=book[3]
        ),
        trigger_needed=needed,
        trigger_reason=reason,
        guard=GuardParams(
            max_net_delta_wad=gp[0],
            min_margin_ratio_wad=gp[1],
            max_leverage_wad=gp[2],
            max_slippage_bps=gp[3],
            min_action_interval_sec=gp[4],
            max_notional_per_action_assets=gp[5],
            delta_trigger_wad=gp[6],
            margin_trigger_wad=gp[7],
        ),
        spot_oracle=spot_reading,
        iv_oracle=iv_reading,
        funding_oracle=funding_reading,
        funding_history=tuple(history),
        spot=spot,
        perp=perp,
        options=options,
        insurance=insurance,
        queued_assets=queued_assets,
    )
