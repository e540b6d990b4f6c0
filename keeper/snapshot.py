"""The keeper's view of the chain at one block: what `policy.decide` reads, the journal records and the
auditor's replay re-reads.

Everything is an exact integer in the contracts' units (assets in the vault asset's smallest unit,
sizes and prices in wad, timestamps in unix seconds) so that a snapshot read twice at the same block is
byte-for-byte the same (`Snapshot.digest()`), and the policy can derive exact on-chain limits from it.
Float views (USD, ETH) are properties.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from keeper.guard import BookState, GuardParams
from keeper.models import VaultState
from keeper.oracle import FeedConfig, FeedState, RoundData, Verdict

WAD = 10**18

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class OracleReading(BaseModel):
    """One feed's latest round and the Python mirror's verdict on it (OracleLib's rules, the
    consumer's bounds and breaker state at the block)."""

    model_config = _FROZEN

    name: Literal["eth_usd", "eth_iv", "funding"]
    feed: str
    round: RoundData
    decimals: int
    config: FeedConfig | None = None
    state: FeedState | None = None
    verdict: Verdict
    value_wad: int
    age_sec: int

    @property
    def ok(self) -> bool:
        return self.verdict == Verdict.Ok

    @property
    def value(self) -> float:
        return self.value_wad / WAD


class PerpAccount(BaseModel):
    """The PerpLeg's account at the PerpMarket."""

    model_config = _FROZEN

    leg: str
    market: str
    size_wad: int
    entry_price_wad: int
    margin_assets: int
    equity_assets: int
    pending_funding_assets: int
    margin_ratio_wad: int
    liquidation_price_wad: int
    withdrawable_assets: int
    leg_cash_assets: int
    value_assets: int
    imr_wad: int
    mmr_wad: int
    fee_bps: int
    max_funding_8h_wad: int


class SpotHolding(BaseModel):
    """The SpotLeg: WETH held and the Uniswap pool it trades on."""

    model_config = _FROZEN

    leg: str
    weth_wad: int
    cash_assets: int
    value_assets: int
    pool: str
    pool_fee: int
    pool_price_wad: int
    pool_asset_reserve: int = Field(0, ge=0, description="virtual asset reserve at the current price (L·√P)")
    pool_eth_reserve_wad: int = Field(0, ge=0, description="virtual WETH reserve at the current price (L/√P)")


class OptionSeries(BaseModel):
    """A listed series at the OptionMarket (and the leg's position in it, 0 if none)."""

    model_config = _FROZEN

    series_id: int
    is_call: bool
    strike_wad: int
    cap_wad: int
    expiry: int
    settled: bool
    settlement_price_wad: int
    size_wad: int = 0
    collateral_assets: int = 0

    @property
    def kind(self) -> Literal["call", "put"]:
        return "call" if self.is_call else "put"

    @property
    def max_payout_wad(self) -> int:
        return self.cap_wad if self.is_call else self.strike_wad


class OptionBookView(BaseModel):
    """The OptionLeg's account and the venue's quoting parameters."""

    model_config = _FROZEN

    leg: str
    market: str
    oracle: str
    settlement_window_sec: int
    positions: tuple[OptionSeries, ...]
    listed: tuple[OptionSeries, ...]
    value_assets: int
    delta_wad: int
    iv_spread_wad: int
    min_vol_wad: int
    fee_bps: int
    pool_free_assets: int


class InsuranceView(BaseModel):
    model_config = _FROZEN

    fund: str
    reserve_assets: int
    target_assets: int
    coverable_assets: int


class FundingPoint(BaseModel):
    """A past round of the funding feed (8-hour rate, wad)."""

    model_config = _FROZEN

    updated_at: int
    rate_wad: int


class Snapshot(BaseModel):
    """Chain state at one block (all reads pinned to `block`)."""

    model_config = _FROZEN

    chain_id: int
    block: int
    block_hash: str
    timestamp: int
    vault: VaultState
    action_nonce: int
    last_action_at: int
    unreported_loss_assets: int
    nav_at_report_assets: int
    flows_since_report_assets: int
    last_report_at: int
    book: BookState
    trigger_needed: bool
    trigger_reason: int
    guard: GuardParams
    spot_oracle: OracleReading
    iv_oracle: OracleReading
    funding_oracle: OracleReading
    funding_history: tuple[FundingPoint, ...] = ()
    spot: SpotHolding
    perp: PerpAccount
    options: OptionBookView
    insurance: InsuranceView
    queued_assets: int = Field(ge=0)

    def digest(self) -> str:
        """sha256 of the canonical JSON: equal snapshots, equal digests (the journal's key)."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    @property
    def asset_scale(self) -> int:
        return 10**self.vault.asset_decimals

    def usd(self, assets: int) -> float:
        return assets / self.asset_scale

    @property
    def spot_price_wad(self) -> int:
        """The spot price the policy acts on: the validated oracle value (0 when the read failed)."""
        return self.spot_oracle.value_wad if self.spot_oracle.ok else 0

    @property
    def oracles_ok(self) -> bool:
        return self.spot_oracle.ok and self.iv_oracle.ok
