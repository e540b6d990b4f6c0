"""Typed records shared across the keeper."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class VaultState(BaseModel):
    """One consistent read of a KeelVault at `block` (all amounts in the asset's / share's units)."""

    model_config = ConfigDict(frozen=True)

    address: str
    block: int
    asset: str
    asset_decimals: int = Field(ge=0, le=36)
    share_decimals: int = Field(ge=0, le=77)
    total_assets: int = Field(ge=0)
    total_supply: int = Field(ge=0)
    idle_assets: int = Field(ge=0)
    liquid_assets: int = Field(ge=0)
    share_price_wad: int = Field(ge=0)
    high_water_mark_wad: int = Field(ge=0)
    pending_fee_shares: int = Field(ge=0)
    management_fee_bps: int = Field(ge=0, le=10_000)
    performance_fee_bps: int = Field(ge=0, le=10_000)
    fee_recipient: str
    deposit_cap: int = Field(ge=0)
    deposits_paused: bool
    shutdown: bool
    legs: tuple[str, ...]
    leg_values: tuple[int, ...]
    queued_shares: int = Field(ge=0)
    total_claimable: int = Field(ge=0)
    queue_head: int = Field(ge=0)
    queue_tail: int = Field(ge=0)

    @property
    def share_price(self) -> float:
        return self.share_price_wad / 1e18

    def assets_human(self, amount: int) -> float:
        return amount / 10**self.asset_decimals
