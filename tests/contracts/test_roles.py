"""Every privileged function rejects every other role, and accepts its own."""

from __future__ import annotations

import ape
import pytest
from eth_utils import keccak

from tests.helpers import USDC

GOV = keccak(text="GOVERNANCE_ROLE")
KEEPER = keccak(text="KEEPER_ROLE")
GUARDIAN = keccak(text="GUARDIAN_ROLE")

# function, args builder, required role
PRIVILEGED = [
    ("setDepositCap", lambda c: (10**12,), GOV),
    ("setManagementFee", lambda c: (100,), GOV),
    ("setPerformanceFee", lambda c: (1000,), GOV),
    ("setFeeRecipient", lambda c: (c["stranger"],), GOV),
    ("addLeg", lambda c: (c["new_leg"],), GOV),
    ("removeLeg", lambda c: (c["leg"],), GOV),
    ("unpauseDeposits", lambda c: (), GOV),
    ("fundLeg", lambda c: (c["leg"], 1 * USDC), KEEPER),
    ("releaseFromLeg", lambda c: (c["leg"], 1 * USDC), KEEPER),
    ("processRedemptions", lambda c: (5,), KEEPER),
    ("pauseDeposits", lambda c: (), GUARDIAN),
    ("shutdown", lambda c: (), GUARDIAN),
]


@pytest.fixture
def ctx(project, admin, vault, leg, usdc, whale, stranger):
    vault.deposit(10 * USDC, whale, sender=whale)
    new_leg = admin.deploy(project.MockLeg, vault, usdc)
    return {"leg": leg, "new_leg": new_leg, "stranger": stranger, "whale": whale}


@pytest.mark.parametrize("fn,args,role", PRIVILEGED, ids=[p[0] for p in PRIVILEGED])
def test_privileged__called_by_every_other_role__reverts_unauthorized(
    vault, ctx, admin, gov, keeper, guardian, treasury, whale, stranger, fn, args, role
):
    holders = {GOV: gov, KEEPER: keeper, GUARDIAN: guardian}
    for caller in (admin, gov, keeper, guardian, treasury, whale, stranger):
        if caller == holders[role]:
            continue
        with ape.reverts(vault.AccessControlUnauthorizedAccount, account=caller, neededRole=role):
            getattr(vault, fn)(*args(ctx), sender=caller)


@pytest.mark.parametrize("fn,args,role", PRIVILEGED, ids=[p[0] for p in PRIVILEGED])
def test_privileged__called_by_its_role__succeeds(vault, ctx, gov, keeper, guardian, fn, args, role):
    holders = {GOV: gov, KEEPER: keeper, GUARDIAN: guardian}
    if fn == "unpauseDeposits":
        vault.pauseDeposits(sender=guardian)
    if fn in ("releaseFromLeg",):
        vault.fundLeg(ctx["leg"], 5 * USDC, sender=keeper)
    if fn == "processRedemptions":
        vault.requestRedeem(1, ctx["stranger"], sender=ctx["whale"])
    tx = getattr(vault, fn)(*args(ctx), sender=holders[role])
    assert not tx.failed
    assert len(tx.events) > 0 or fn == "processRedemptions"


def test_processRedemptions__after_shutdown__is_permissionless(vault, whale, guardian, stranger):
    vault.deposit(10 * USDC, whale, sender=whale)
    vault.requestRedeem(10**12, whale, sender=whale)
    vault.shutdown(sender=guardian)
    tx = vault.processRedemptions(5, sender=stranger)
    assert tx.events.filter(vault.RedeemProcessed)[0].shares == 10**12


def test_roles__granted_at_construction_and_admin_transfer_is_two_step(
    vault, admin, gov, keeper, guardian, stranger
):
    assert vault.hasRole(GOV, gov) and vault.hasRole(KEEPER, keeper) and vault.hasRole(GUARDIAN, guardian)
    assert vault.defaultAdmin() == admin
    assert vault.defaultAdminDelay() == 3600
    vault.beginDefaultAdminTransfer(stranger, sender=admin)
    assert vault.defaultAdmin() == admin  # nothing changes until accepted after the delay
    with ape.reverts():
        vault.acceptDefaultAdminTransfer(sender=stranger)


def test_grantRole__by_non_admin__reverts(vault, gov, stranger):
    with ape.reverts(vault.AccessControlUnauthorizedAccount):
        vault.grantRole(KEEPER, stranger, sender=gov)
