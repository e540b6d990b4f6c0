"""InsuranceFund: deposits and skims, capped per-period covers paid only to the vault (with the
waterfall of coverMany), target/shortfall/excess views, the withdrawal timelock, parameter bounds,
roles, the reentrancy guard, and a stateful run against an exact model."""

from __future__ import annotations

import ape
import pytest
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.helpers import MAX_UINT, USDC, chain_settings

ZERO = "0x0000000000000000000000000000000000000000"
GOV = keccak(text="GOVERNANCE_ROLE")
GUARDIAN = keccak(text="GUARDIAN_ROLE")
DAY = 24 * 3600
BPS = 10_000


def reason(name: str) -> bytes:
    return name.encode().ljust(32, b"\0")


LIQ = reason("LIQUIDATION_SHORTFALL")
OPT = reason("OPTION_PAYOUT")
FUND = reason("NEGATIVE_FUNDING")
OTHER = reason("OTHER")
WATERFALL = [LIQ, OPT, FUND, OTHER]

SKIM_BPS, TARGET_BPS, DRAW_BPS, PERIOD, DELAY = 2_000, 500, 2_500, 7 * DAY, 2 * DAY
PARAMS = (SKIM_BPS, TARGET_BPS, DRAW_BPS, PERIOD, DELAY)
TVL = 1_000_000 * USDC  # target = 5% = 50k
SEED = 100_000 * USDC  # cap = 25% of 100k = 25k


def warp(chain, seconds: int) -> None:
    chain.pending_timestamp += seconds
    chain.mine(timestamp=chain.pending_timestamp)


def deploy_fund(project, admin, gov, guardian, asset, vault, params=PARAMS):
    return admin.deploy(project.InsuranceFund, asset, vault, admin, 3600, gov, guardian, params)


@pytest.fixture(scope="module")
def fvault(project, admin, usdc):
    v = admin.deploy(project.MockFundVault, usdc)
    v.setTotalAssets(TVL, sender=admin)
    usdc.mint(v, 10**9 * USDC, sender=admin)
    return v


@pytest.fixture(scope="module")
def fund(project, admin, gov, guardian, usdc, fvault, fish, stranger):
    f = deploy_fund(project, admin, gov, guardian, usdc, fvault)
    fvault.setFund(f, sender=admin)
    for who in (fish, stranger):
        usdc.mint(who, 10**9 * USDC, sender=admin)
        usdc.approve(f, MAX_UINT, sender=who)
    return f


@pytest.fixture(scope="module", autouse=True)
def _module_fixtures(fund, treasury, guardian, admin):
    """Set up the module's fixtures before ape's per-test snapshots (no costly isolation rebase)."""


@pytest.fixture
def seeded(fund, fish):
    fund.deposit(SEED, sender=fish)
    return fund


# --------------------------------------------------------------------------- construction


def test_constructor__with_valid_params__sets_asset_vault_roles_and_params(
    project, admin, gov, guardian, usdc, fvault
):
    f = deploy_fund(project, admin, gov, guardian, usdc, fvault)
    assert f.asset() == usdc and f.vault() == fvault and f.reserve() == 0
    assert tuple(f.params()) == PARAMS
    assert (
        f.skimShareBps(),
        f.targetBps(),
        f.maxDrawPerPeriodBps(),
        f.periodSec(),
        f.withdrawalDelay(),
    ) == PARAMS
    assert f.hasRole(GOV, gov) and f.hasRole(GUARDIAN, guardian)
    assert f.GOVERNANCE_ROLE() == GOV and f.GUARDIAN_ROLE() == GUARDIAN
    assert f.defaultAdmin() == admin and f.defaultAdminDelay() == 3600
    assert [f.LIQUIDATION_SHORTFALL(), f.OPTION_PAYOUT(), f.NEGATIVE_FUNDING(), f.OTHER()] == WATERFALL
    assert f.pendingWithdrawalDelay() == (0, 0) and f.withdrawalCount() == 0
    receipt = f.creation_metadata.receipt
    assert receipt.events.filter(f.SkimShareSet)[0].newBps == SKIM_BPS
    assert receipt.events.filter(f.WithdrawalDelaySet)[0].newDelay == DELAY


# One bad value per parameter (the setters' tests cover both sides of every bound).
BAD_PARAMS = [
    (0, 5_001, "SkimShareTooHigh", {"bps": 5_001, "maxBps": 5_000}),
    (1, 2_001, "TargetTooHigh", {"bps": 2_001, "maxBps": 2_000}),
    (2, 99, "DrawCapOutOfRange", {"bps": 99, "minBps": 100, "maxBps": 5_000}),
    (
        3,
        30 * DAY + 1,
        "PeriodOutOfRange",
        {"periodSec": 30 * DAY + 1, "minPeriod": DAY, "maxPeriod": 30 * DAY},
    ),
    (4, 2 * DAY - 1, "WithdrawalDelayOutOfRange", {"delay": 2 * DAY - 1, "minDelay": 2 * DAY}),
]


@pytest.mark.parametrize("idx,value,error,args", BAD_PARAMS, ids=[f"{b[2]}-{b[1]}" for b in BAD_PARAMS])
def test_constructor__with_out_of_bounds_param__reverts_with_values(
    project, admin, gov, guardian, usdc, fvault, idx, value, error, args
):
    params = list(PARAMS)
    params[idx] = value
    with ape.reverts(getattr(project.InsuranceFund, error), **args):
        deploy_fund(project, admin, gov, guardian, usdc, fvault, tuple(params))


@pytest.mark.parametrize("field", ["asset", "vault", "governance", "guardian"])
def test_constructor__with_zero_address__reverts_naming_it(
    project, admin, gov, guardian, usdc, fvault, field
):
    a = {"asset": usdc, "vault": fvault, "governance": gov, "guardian": guardian}
    a[field] = ZERO
    with ape.reverts(project.InsuranceFund.ZeroAddress, field=field):
        deploy_fund(project, admin, a["governance"], a["guardian"], a["asset"], a["vault"])


def test_constructor__with_vault_of_another_asset__reverts_asset_mismatch(
    project, admin, gov, guardian, usdc, fvault
):
    other = admin.deploy(project.MockUSDC)
    with ape.reverts(project.InsuranceFund.AssetMismatch, vault=fvault, vaultAsset=usdc, asset=other):
        deploy_fund(project, admin, gov, guardian, other, fvault)


def test_constructor__with_vault_not_deployed_yet__skips_asset_check(project, admin, gov, guardian, usdc):
    predicted = "0x000000000000000000000000000000000000bEEF"
    f = deploy_fund(project, admin, gov, guardian, usdc, predicted)
    assert f.vault() == predicted


# --------------------------------------------------------------------------- deposit


def test_deposit__by_anyone__pulls_assets_raises_base_and_emits(chain, fund, usdc, fish, stranger):
    tx = fund.deposit(SEED, sender=fish)
    opened = tx.events.filter(fund.PeriodOpened)[0]
    assert (opened.start, opened.end, opened.base) == (tx.timestamp, tx.timestamp + PERIOD, 0)
    ev = tx.events.filter(fund.Deposited)[0]
    assert (ev["from"], ev.assets, ev.reserveAfter) == (fish, SEED, SEED)
    assert tx.return_value == SEED
    tx = fund.deposit(7, sender=stranger)
    assert not tx.events.filter(fund.PeriodOpened)  # same period
    assert fund.reserve() == usdc.balanceOf(fund) == SEED + 7
    p = fund.currentPeriod()
    assert (p.start, p.base, p.drawn, p.cap) == (opened.start, SEED + 7, 0, (SEED + 7) * DRAW_BPS // BPS)


def test_deposit__with_zero__reverts(fund, fish):
    with ape.reverts(fund.ZeroAmount, field="assets"):
        fund.deposit(0, sender=fish)


# --------------------------------------------------------------------------- cover


def test_cover__by_anyone_but_the_vault__reverts_only_vault(seeded, fvault, gov, admin, stranger):
    for caller in (gov, stranger):
        with ape.reverts(seeded.OnlyVault, caller=caller, vault=fvault):
            seeded.cover(1, OTHER, sender=caller)
    with ape.reverts(seeded.OnlyVault, caller=admin, vault=fvault):
        seeded.coverMany([(OTHER, 1)], sender=admin)


def test_cover__within_cap__pays_in_full_to_the_vault(seeded, fvault, usdc, stranger):
    before = usdc.balanceOf(fvault)
    tx = fvault.cover(10_000 * USDC, FUND, sender=stranger)
    assert tx.return_value == 10_000 * USDC
    assert usdc.balanceOf(fvault) - before == 10_000 * USDC
    ev = tx.events.filter(seeded.LossCovered)[0]
    assert ev.reason == FUND
    assert (ev.requested, ev.paid, ev.uncovered) == (10_000 * USDC, 10_000 * USDC, 0)
    assert (ev.periodDrawn, ev.periodCap) == (10_000 * USDC, 25_000 * USDC)
    assert seeded.reserve() == SEED - 10_000 * USDC


def test_cover__above_cap__pays_the_rest_of_the_cap_and_emits_uncovered(seeded, fvault, stranger):
    fvault.cover(10_000 * USDC, FUND, sender=stranger)
    tx = fvault.reportLoss(40_000 * USDC, LIQ, sender=stranger)
    ev = tx.events.filter(seeded.LossCovered)[0]
    assert (ev.requested, ev.paid, ev.uncovered) == (40_000 * USDC, 15_000 * USDC, 25_000 * USDC)
    assert (ev.periodDrawn, ev.periodCap) == (25_000 * USDC, 25_000 * USDC)
    assert tx.events.filter(fvault.LossSocialised)[0].assets == 25_000 * USDC
    # Cap spent: the next loss in the same period gets nothing, and the call still succeeds.
    assert seeded.coverable() == 0
    tx = fvault.cover(1 * USDC, OPT, sender=stranger)
    assert tx.return_value == 0
    ev = tx.events.filter(seeded.LossCovered)[0]
    assert (ev.paid, ev.uncovered) == (0, 1 * USDC)


def test_cover__with_empty_fund__pays_zero_and_the_vault_socialises(fund, fvault, usdc, stranger):
    before = usdc.balanceOf(fvault)
    tx = fvault.reportLoss(5 * USDC, OTHER, sender=stranger)
    assert tx.return_value == 0 and usdc.balanceOf(fvault) == before
    ev = tx.events.filter(fund.LossCovered)[0]
    assert (ev.paid, ev.uncovered, ev.periodCap) == (0, 5 * USDC, 0)
    assert tx.events.filter(fvault.LossSocialised)[0].assets == 5 * USDC


def test_cover__with_balance_below_cap_room__pays_the_balance(chain, seeded, fvault, gov, stranger):
    fvault.cover(1 * USDC, OTHER, sender=stranger)  # period base 100k, cap 25k
    seeded.setTarget(0, sender=gov)
    wid = seeded.queueWithdrawal(gov, 90_000 * USDC, sender=gov).return_value
    warp(chain, DELAY)  # still inside the 7-day period
    seeded.executeWithdrawal(wid, sender=gov)
    left = seeded.reserve()
    assert left == SEED - 1 * USDC - 90_000 * USDC
    tx = fvault.cover(20_000 * USDC, OTHER, sender=stranger)
    assert tx.return_value == left and seeded.reserve() == 0
    ev = tx.events.filter(seeded.LossCovered)[0]
    assert (ev.paid, ev.uncovered, ev.periodCap) == (left, 20_000 * USDC - left, 25_000 * USDC)


def test_cover__after_period_end__opens_a_new_period_with_a_fresh_cap(chain, seeded, fvault, stranger):
    fvault.cover(30_000 * USDC, OTHER, sender=stranger)  # pays the 25k cap
    p = seeded.currentPeriod()
    chain.pending_timestamp = p.end - 1
    tx = fvault.cover(1, OTHER, sender=stranger)
    assert tx.return_value == 0 and not tx.events.filter(seeded.PeriodOpened)
    chain.pending_timestamp = p.end
    tx = fvault.cover(30_000 * USDC, OTHER, sender=stranger)
    opened = tx.events.filter(seeded.PeriodOpened)[0]
    assert (opened.start, opened.base) == (p.end, 75_000 * USDC)
    assert tx.return_value == 75_000 * USDC * DRAW_BPS // BPS


def test_cover__with_deposit_during_the_period__raises_the_cap(seeded, fvault, fish, stranger):
    fvault.cover(25_000 * USDC, OTHER, sender=stranger)
    assert seeded.coverable() == 0
    seeded.deposit(40_000 * USDC, sender=fish)
    assert seeded.currentPeriod().cap == 140_000 * USDC * DRAW_BPS // BPS
    assert seeded.coverable() == 10_000 * USDC
    assert fvault.cover(20_000 * USDC, OTHER, sender=stranger).return_value == 10_000 * USDC


def test_cover__with_direct_transfer__counts_in_balance_not_in_base(seeded, fvault, usdc, fish, stranger):
    fvault.cover(1, OTHER, sender=stranger)
    usdc.transfer(seeded, 50_000 * USDC, sender=fish)
    assert seeded.reserve() == SEED - 1 + 50_000 * USDC
    assert seeded.currentPeriod().base == SEED


def test_cover__with_zero_amount_or_unknown_reason__reverts(seeded, fvault, stranger):
    with ape.reverts(seeded.ZeroAmount, field="lossAssets"):
        fvault.cover(0, OTHER, sender=stranger)
    bad = reason("GAS")
    with ape.reverts(seeded.UnknownReason, reason=bad):
        fvault.cover(1, bad, sender=stranger)


# --------------------------------------------------------------------------- coverMany (waterfall)


def test_coverMany__with_shuffled_reasons__pays_in_waterfall_order(seeded, fvault, usdc, stranger):
    # Cap 25k. Listed out of order; paid LIQ (10k), OPT (8k + 2k), then FUNDING gets 5k of 9k, OTHER 0.
    losses = [
        (OTHER, 3_000 * USDC),
        (FUND, 9_000 * USDC),
        (OPT, 8_000 * USDC),
        (LIQ, 10_000 * USDC),
        (OPT, 2_000 * USDC),
    ]
    before = usdc.balanceOf(fvault)
    tx = fvault.coverMany(losses, sender=stranger)
    assert tx.return_value == (25_000 * USDC, 7_000 * USDC)
    evs = tx.events.filter(seeded.LossCovered)
    got = [(e.reason, e.requested, e.paid, e.uncovered, e.periodDrawn) for e in evs]
    k = USDC * 1_000
    assert got == [
        (LIQ, 10 * k, 10 * k, 0, 10 * k),
        (OPT, 8 * k, 8 * k, 0, 18 * k),
        (OPT, 2 * k, 2 * k, 0, 20 * k),
        (FUND, 9 * k, 5 * k, 4 * k, 25 * k),
        (OTHER, 3 * k, 0, 3 * k, 25 * k),
    ]
    assert usdc.balanceOf(fvault) - before == 25_000 * USDC
    assert len(tx.events.filter(usdc.Transfer)) == 1


def test_coverMany__with_bad_list__reverts(seeded, fvault, stranger):
    with ape.reverts(seeded.ZeroAmount, field="losses"):
        fvault.coverMany([], sender=stranger)
    with ape.reverts(seeded.TooManyLosses, count=9, maxCount=8):
        fvault.coverMany([(OTHER, 1)] * 9, sender=stranger)
    with ape.reverts(seeded.ZeroAmount, field="lossAssets"):
        fvault.coverMany([(OTHER, 1), (LIQ, 0)], sender=stranger)


# --------------------------------------------------------------------------- target, skim


def test_targetAssets_shortfall_excess__follow_the_vault_tvl(seeded, fvault, admin):
    assert seeded.targetAssets() == 50_000 * USDC
    assert (seeded.shortfall(), seeded.excess()) == (0, 50_000 * USDC)
    fvault.setTotalAssets(3_000_000 * USDC + 1, sender=admin)
    assert seeded.targetAssets() == 150_000 * USDC + 1  # rounded up: the reserve is never understated
    assert (seeded.shortfall(), seeded.excess()) == (50_000 * USDC + 1, 0)
    fvault.setTotalAssets(2_000_000 * USDC, sender=admin)
    assert (seeded.shortfall(), seeded.excess()) == (0, 0)


def test_skimAmount__below_target__takes_the_share_capped_at_the_shortfall(seeded, fvault, admin):
    fvault.setTotalAssets(2_200_000 * USDC, sender=admin)  # target 110k, shortfall 10k
    assert seeded.skimAmount(40_000 * USDC) == 8_000 * USDC  # 20% of profit
    assert seeded.skimAmount(50_000 * USDC) == 10_000 * USDC
    assert seeded.skimAmount(60_000 * USDC) == 10_000 * USDC  # only up to the target
    assert seeded.skimAmount(4) == 0  # 20% of 4 units rounds down to 0


def test_skimAmount__at_or_above_target_or_zero_share__is_zero(seeded, fvault, admin, gov):
    assert seeded.skimAmount(1_000_000 * USDC) == 0  # 100k held, target 50k
    fvault.setTotalAssets(2_000_000 * USDC, sender=admin)  # exactly at target
    assert seeded.skimAmount(1_000_000 * USDC) == 0
    fvault.setTotalAssets(10_000_000 * USDC, sender=admin)
    assert seeded.skimAmount(1_000_000 * USDC) == 200_000 * USDC
    seeded.setSkimShare(0, sender=gov)
    assert seeded.skimAmount(1_000_000 * USDC) == 0


@given(
    profit=st.integers(0, 10**15 * USDC),
    tvl=st.integers(0, 10**15 * USDC),
)
@settings(parent=chain_settings, max_examples=40)
def test_skimAmountAt__random_inputs__is_min_of_share_and_shortfall(seeded, profit, tvl):
    target = -(-tvl * TARGET_BPS // BPS)
    expected = min(profit * SKIM_BPS // BPS, max(target - SEED, 0))
    assert seeded.skimAmountAt(profit, tvl) == expected


def test_reportProfit__through_the_vault_double__skims_into_the_fund(fund, fvault, usdc, stranger):
    before = usdc.balanceOf(fvault)
    tx = fvault.reportProfit(100_000 * USDC, sender=stranger)
    assert tx.return_value == 20_000 * USDC
    ev = tx.events.filter(fund.Deposited)[0]
    assert (ev["from"], ev.assets, ev.reserveAfter) == (fvault, 20_000 * USDC, 20_000 * USDC)
    assert before - usdc.balanceOf(fvault) == 20_000 * USDC
    tx = fvault.reportProfit(1_000_000 * USDC, sender=stranger)
    assert tx.return_value == 30_000 * USDC  # up to the 50k target
    assert fund.shortfall() == 0 and fvault.reportProfit(1, sender=stranger).return_value == 0


# --------------------------------------------------------------------------- withdrawal timelock


def test_queueWithdrawal__by_governance__stores_it_and_emits_the_eta(seeded, gov, treasury):
    tx = seeded.queueWithdrawal(treasury, 10 * USDC, sender=gov)
    assert tx.return_value == 0
    ev = tx.events.filter(seeded.WithdrawalQueued)[0]
    assert (ev.id, ev.to, ev.assets, ev.eta) == (0, treasury, 10 * USDC, tx.timestamp + DELAY)
    w = seeded.withdrawal(0)
    assert (w.to, w.eta, w.state, w.assets) == (treasury, tx.timestamp + DELAY, 1, 10 * USDC)
    assert seeded.queueWithdrawal(treasury, 1, sender=gov).return_value == 1
    assert seeded.withdrawalCount() == 2


def test_queueWithdrawal__with_zero_recipient_or_amount__reverts(seeded, gov, treasury):
    with ape.reverts(seeded.ZeroAddress, field="to"):
        seeded.queueWithdrawal(ZERO, 1, sender=gov)
    with ape.reverts(seeded.ZeroAmount, field="assets"):
        seeded.queueWithdrawal(treasury, 0, sender=gov)


def test_executeWithdrawal__before_eta__reverts_with_eta_and_now(chain, seeded, gov, treasury):
    eta = seeded.queueWithdrawal(treasury, 10 * USDC, sender=gov).events[0].eta
    chain.pending_timestamp = eta - 1
    with ape.reverts(seeded.WithdrawalNotReady, id=0, eta=eta, timestamp=eta - 1):
        seeded.executeWithdrawal(0, sender=gov)


def test_executeWithdrawal__after_eta__pays_once_only(chain, seeded, usdc, gov, treasury):
    eta = seeded.queueWithdrawal(treasury, 10 * USDC, sender=gov).events[0].eta
    chain.pending_timestamp = eta
    tx = seeded.executeWithdrawal(0, sender=gov)
    ev = tx.events.filter(seeded.WithdrawalExecuted)[0]
    assert (ev.id, ev.to, ev.assets, ev.reserveAfter) == (0, treasury, 10 * USDC, SEED - 10 * USDC)
    assert usdc.balanceOf(treasury) == 10 * USDC and seeded.withdrawal(0).state == 2
    with ape.reverts(seeded.WithdrawalNotQueued, id=0, state=2):
        seeded.executeWithdrawal(0, sender=gov)


def test_executeWithdrawal__after_grace_period__reverts_expired(chain, seeded, gov, treasury):
    eta = seeded.queueWithdrawal(treasury, 10 * USDC, sender=gov).events[0].eta
    expiry = eta + 14 * DAY
    chain.pending_timestamp = expiry + 1
    with ape.reverts(seeded.WithdrawalExpired, id=0, expiry=expiry, timestamp=expiry + 1):
        seeded.executeWithdrawal(0, sender=gov)
    seeded.cancelWithdrawal(0, sender=gov)  # stale ones can be cleaned up


def test_executeWithdrawal__above_excess__reverts_with_the_excess(
    chain, seeded, fvault, admin, gov, treasury
):
    seeded.queueWithdrawal(treasury, 50_000 * USDC + 1, sender=gov)
    seeded.queueWithdrawal(treasury, 50_000 * USDC, sender=gov)
    warp(chain, DELAY)
    with ape.reverts(seeded.WithdrawalExceedsExcess, id=0, assets=50_000 * USDC + 1, excess=50_000 * USDC):
        seeded.executeWithdrawal(0, sender=gov)
    fvault.setTotalAssets(TVL + 1, sender=admin)  # target rounds up to 50k + 1: excess shrinks
    with ape.reverts(seeded.WithdrawalExceedsExcess, id=1, assets=50_000 * USDC, excess=50_000 * USDC - 1):
        seeded.executeWithdrawal(1, sender=gov)
    fvault.setTotalAssets(TVL, sender=admin)
    seeded.executeWithdrawal(1, sender=gov)
    assert seeded.reserve() == seeded.targetAssets() == 50_000 * USDC


def test_executeWithdrawal__with_unknown_id__reverts(seeded, gov):
    with ape.reverts(seeded.UnknownWithdrawal, id=5):
        seeded.executeWithdrawal(5, sender=gov)


@pytest.mark.parametrize("who", ["gov", "guardian"])
def test_cancelWithdrawal__by_governance_or_guardian__blocks_execution(
    chain, request, seeded, gov, treasury, who
):
    canceller = request.getfixturevalue(who)
    seeded.queueWithdrawal(treasury, 10 * USDC, sender=gov)
    tx = seeded.cancelWithdrawal(0, sender=canceller)
    ev = tx.events.filter(seeded.WithdrawalCancelled)[0]
    assert (ev.id, ev.by) == (0, canceller)
    warp(chain, DELAY)
    with ape.reverts(seeded.WithdrawalNotQueued, id=0, state=3):
        seeded.executeWithdrawal(0, sender=gov)
    with ape.reverts(seeded.WithdrawalNotQueued, id=0, state=3):
        seeded.cancelWithdrawal(0, sender=canceller)


def test_cancelWithdrawal__by_anyone_else_or_unknown_id__reverts(seeded, gov, admin, fish, treasury):
    seeded.queueWithdrawal(treasury, 10 * USDC, sender=gov)
    for caller in (admin, fish):
        with ape.reverts(seeded.NotGovernanceOrGuardian, caller=caller):
            seeded.cancelWithdrawal(0, sender=caller)
    with ape.reverts(seeded.UnknownWithdrawal, id=9):
        seeded.cancelWithdrawal(9, sender=gov)


def test_setWithdrawalDelay__increase__applies_at_once(seeded, gov, treasury):
    tx = seeded.setWithdrawalDelay(5 * DAY, sender=gov)
    ev = tx.events.filter(seeded.WithdrawalDelaySet)[0]
    assert (ev.oldDelay, ev.newDelay) == (DELAY, 5 * DAY)
    assert seeded.withdrawalDelay() == 5 * DAY
    tx = seeded.queueWithdrawal(treasury, 1, sender=gov)
    assert tx.events[0].eta == tx.timestamp + 5 * DAY


def test_setWithdrawalDelay__decrease__waits_out_the_current_delay(chain, seeded, gov, treasury):
    seeded.setWithdrawalDelay(10 * DAY, sender=gov)
    tx = seeded.setWithdrawalDelay(3 * DAY, sender=gov)
    ev = tx.events.filter(seeded.WithdrawalDelayDecreaseQueued)[0]
    eta = tx.timestamp + 10 * DAY
    assert (ev.currentDelay, ev.newDelay, ev.eta) == (10 * DAY, 3 * DAY, eta)
    assert seeded.withdrawalDelay() == 10 * DAY and seeded.pendingWithdrawalDelay() == (3 * DAY, eta)
    before = seeded.queueWithdrawal(treasury, 1, sender=gov)
    assert before.events[0].eta == before.timestamp + 10 * DAY
    chain.pending_timestamp = eta
    after = seeded.queueWithdrawal(treasury, 1, sender=gov)
    applied = after.events.filter(seeded.WithdrawalDelaySet)[0]
    assert (applied.oldDelay, applied.newDelay) == (10 * DAY, 3 * DAY)
    assert after.events.filter(seeded.WithdrawalQueued)[0].eta == eta + 3 * DAY
    assert seeded.withdrawalDelay() == 3 * DAY and seeded.pendingWithdrawalDelay() == (0, 0)
    # Nothing executes sooner than the 10-day delay in force when the decrease was announced.
    assert eta + 3 * DAY > tx.timestamp + 10 * DAY


def test_setWithdrawalDelay__increase_after_queued_decrease__supersedes_it(seeded, gov):
    seeded.setWithdrawalDelay(DAY * 2 + 1, sender=gov)
    seeded.setWithdrawalDelay(DAY * 2, sender=gov)
    assert seeded.pendingWithdrawalDelay()[0] == 2 * DAY
    seeded.setWithdrawalDelay(4 * DAY, sender=gov)
    assert seeded.pendingWithdrawalDelay() == (0, 0) and seeded.withdrawalDelay() == 4 * DAY


# --------------------------------------------------------------------------- parameter bounds


SETTERS = [
    # setter, getter, event, (min ok, max ok), [(bad, error, error args)]
    (
        "setSkimShare",
        "skimShareBps",
        "SkimShareSet",
        (0, 5_000),
        [(5_001, "SkimShareTooHigh", {"bps": 5_001, "maxBps": 5_000})],
    ),
    (
        "setTarget",
        "targetBps",
        "TargetSet",
        (0, 2_000),
        [(2_001, "TargetTooHigh", {"bps": 2_001, "maxBps": 2_000})],
    ),
    (
        "setMaxDrawPerPeriod",
        "maxDrawPerPeriodBps",
        "MaxDrawPerPeriodSet",
        (100, 5_000),
        [
            (99, "DrawCapOutOfRange", {"bps": 99, "minBps": 100, "maxBps": 5_000}),
            (5_001, "DrawCapOutOfRange", {"bps": 5_001}),
        ],
    ),
    (
        "setPeriod",
        "periodSec",
        "PeriodSet",
        (DAY, 30 * DAY),
        [
            (DAY - 1, "PeriodOutOfRange", {"periodSec": DAY - 1, "minPeriod": DAY, "maxPeriod": 30 * DAY}),
            (30 * DAY + 1, "PeriodOutOfRange", {"periodSec": 30 * DAY + 1}),
        ],
    ),
    (
        "setWithdrawalDelay",
        "withdrawalDelay",
        "WithdrawalDelaySet",
        (30 * DAY, 30 * DAY),
        [
            (2 * DAY - 1, "WithdrawalDelayOutOfRange", {"delay": 2 * DAY - 1, "minDelay": 2 * DAY}),
            (30 * DAY + 1, "WithdrawalDelayOutOfRange", {"delay": 30 * DAY + 1, "maxDelay": 30 * DAY}),
        ],
    ),
]


@pytest.mark.parametrize("setter,getter,event,ok,bad", SETTERS, ids=[s[0] for s in SETTERS])
def test_setters__out_of_bounds__revert_with_values(fund, gov, setter, getter, event, ok, bad):
    for value, error, args in bad:
        with ape.reverts(getattr(fund, error), **args):
            getattr(fund, setter)(value, sender=gov)


@pytest.mark.parametrize("setter,getter,event,ok,bad", SETTERS, ids=[s[0] for s in SETTERS])
def test_setters__at_the_bounds__apply_and_emit_old_and_new(fund, gov, setter, getter, event, ok, bad):
    for value in ok:
        old = getattr(fund, getter)()
        tx = getattr(fund, setter)(value, sender=gov)
        assert tuple(tx.events.filter(getattr(fund, event))[0].event_arguments.values()) == (old, value)
        assert getattr(fund, getter)() == value


def test_setMaxDrawPerPeriod__mid_period__applies_to_the_open_period(seeded, fvault, gov, stranger):
    fvault.cover(20_000 * USDC, OTHER, sender=stranger)
    seeded.setMaxDrawPerPeriod(1_000, sender=gov)  # cap 10k < drawn 20k: nothing more this period
    assert seeded.coverable() == 0
    assert fvault.cover(1, OTHER, sender=stranger).return_value == 0
    seeded.setMaxDrawPerPeriod(5_000, sender=gov)  # cap 50k
    assert seeded.coverable() == 30_000 * USDC


# --------------------------------------------------------------------------- roles

PRIVILEGED = [
    ("setSkimShare", lambda c: (100,), GOV),
    ("setTarget", lambda c: (100,), GOV),
    ("setMaxDrawPerPeriod", lambda c: (100,), GOV),
    ("setPeriod", lambda c: (DAY,), GOV),
    ("setWithdrawalDelay", lambda c: (3 * DAY,), GOV),
    ("queueWithdrawal", lambda c: (c["stranger"], 1), GOV),
    ("executeWithdrawal", lambda c: (0,), GOV),
]


def test_privileged__called_without_governance__reverts_unauthorized(seeded, admin, guardian, stranger):
    # Each revert costs ~0.5 s (ape-foundry renders the call trace), so callers rotate: the default
    # admin, the guardian (a role, not this one) and a stranger each meet every kind of setter.
    callers = (admin, guardian, stranger)
    for k, (fn, args, role) in enumerate(PRIVILEGED):
        caller = callers[k % len(callers)]
        with ape.reverts(seeded.AccessControlUnauthorizedAccount, account=caller, neededRole=role):
            getattr(seeded, fn)(*args({"stranger": stranger}), sender=caller)


# --------------------------------------------------------------------------- reentrancy


def test_deposit_and_cover__reentered_from_token_hook__revert_with_guard(
    project, admin, gov, guardian, fish, stranger
):
    token = admin.deploy(project.ReentrantToken)
    v = admin.deploy(project.MockFundVault, token)
    v.setTotalAssets(TVL, sender=admin)
    f = deploy_fund(project, admin, gov, guardian, token, v)
    v.setFund(f, sender=admin)
    token.mint(fish, 1_000 * USDC, sender=admin)
    token.approve(f, MAX_UINT, sender=fish)
    f.deposit(100 * USDC, sender=fish)
    # The token calls back into the fund during the transfer, as an ERC-777 hook could.
    token.arm(f, f.deposit.encode_input(1), sender=admin)
    with ape.reverts(f.ReentrancyGuardReentrantCall):
        f.deposit(1 * USDC, sender=fish)
    token.arm(f, f.cover.encode_input(1, OTHER), sender=admin)
    with ape.reverts(f.ReentrancyGuardReentrantCall):
        v.cover(1 * USDC, OTHER, sender=stranger)
    token.arm(ZERO, b"", sender=admin)
    assert v.cover(1 * USDC, OTHER, sender=stranger).return_value == 1 * USDC


# --------------------------------------------------------------------------- stateful


class _Model:
    """Exact integer model of the fund's balance and draw period."""

    def __init__(self, balance: int, draw_bps: int) -> None:
        self.balance = balance
        self.draw_bps = draw_bps
        self.start = -(10**18)  # nothing opened
        self.base = 0
        self.drawn = 0

    def touch(self, now: int) -> bool:
        if now >= self.start + PERIOD:
            self.start, self.base, self.drawn = now, self.balance, 0
            return True
        return False

    def cap(self) -> int:
        return self.base * self.draw_bps // BPS

    def draw(self, requested: int) -> int:
        paid = min(requested, max(self.cap() - self.drawn, 0), self.balance)
        self.drawn += paid
        self.balance -= paid
        return paid


# Small losses (often paid in full) and large ones (often capped), against a fund seeded with 100k.
losses = st.one_of(
    st.sampled_from([1, 2_000 * USDC, 10_000 * USDC, 30_000 * USDC, 80_000 * USDC]),
    st.integers(1, 80_000 * USDC),
)


# Time jumps folded into the cover rules, so every run crosses period boundaries (hypothesis turns
# whole rules off at random in some runs, e.g. a separate `wait`).
jumps = st.sampled_from([0, 0, 0, DAY, PERIOD - 1, PERIOD])


def test_fund__random_deposits_covers_and_time__keep_the_cap_and_exact_accounting(
    chain, fund, fvault, usdc, gov, admin, fish, stranger
):
    f = fund

    def _jump(seconds: int) -> None:
        if seconds:
            chain.pending_timestamp += seconds

    class FundMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snap = chain.snapshot()
            self.m = _Model(f.reserve(), DRAW_BPS)
            self.vault_received = 0
            self.vault_start = usdc.balanceOf(fvault)
            self.vault_deposited = 0
            self.deposit(SEED, by_vault=False)

        def teardown(self) -> None:
            chain.restore(self.snap)

        def _check_cover_event(self, ev, reason_, requested, paid) -> None:
            assert ev.reason == reason_
            assert (ev.requested, ev.paid, ev.uncovered) == (requested, paid, requested - paid)
            assert paid <= requested
            assert (ev.periodDrawn, ev.periodCap) == (self.m.drawn, self.m.cap())
            # Σ paid in a period never exceeds its cap (the cap only grows within a period here,
            # except when governance lowers the bps, after which nothing more is paid).
            assert paid == 0 or ev.periodDrawn <= ev.periodCap

        @rule(amount=st.integers(1, 200_000 * USDC), by_vault=st.booleans())
        def deposit(self, amount, by_vault):
            tx = (fvault.deposit if by_vault else f.deposit)(amount, sender=stranger if by_vault else fish)
            opened = self.m.touch(tx.timestamp)
            assert bool(tx.events.filter(f.PeriodOpened)) == opened
            self.m.balance += amount
            self.m.base += amount
            if by_vault:
                self.vault_deposited += amount
            assert tx.events.filter(f.Deposited)[0].reserveAfter == self.m.balance

        @rule(amount=st.integers(1, 50_000 * USDC))
        def donate(self, amount):
            usdc.transfer(f, amount, sender=fish)
            self.m.balance += amount

        @rule(loss=losses, i=st.integers(0, 3), dt=jumps, intruder=st.integers(0, 7))
        def cover(self, loss, i, dt, intruder):
            _jump(dt)
            if intruder < 2:  # now and then, someone else tries first (a call: reverts cost ~0.3 s)
                who = (gov, fish)[intruder]
                with ape.reverts(f.OnlyVault, caller=who, vault=fvault):
                    f.cover.call(loss, WATERFALL[i], sender=who)
            tx = fvault.cover(loss, WATERFALL[i], sender=stranger)
            self.m.touch(tx.timestamp)
            paid = self.m.draw(loss)
            assert tx.return_value == paid
            self.vault_received += paid
            self._check_cover_event(tx.events.filter(f.LossCovered)[0], WATERFALL[i], loss, paid)

        @rule(items=st.lists(st.tuples(st.integers(0, 3), losses), min_size=1, max_size=4), dt=jumps)
        def cover_many(self, items, dt):
            _jump(dt)
            tx = fvault.coverMany([(WATERFALL[i], a) for i, a in items], sender=stranger)
            self.m.touch(tx.timestamp)
            evs = tx.events.filter(f.LossCovered)
            ordered = sorted(items, key=lambda it: it[0])  # stable: equal reasons keep their order
            total = 0
            for ev, (i, a) in zip(evs, ordered, strict=True):
                paid = self.m.draw(a)
                total += paid
                self._check_cover_event(ev, WATERFALL[i], a, paid)
            assert tx.return_value == (total, sum(a for _, a in items) - total)
            self.vault_received += total

        @rule(bps=st.sampled_from([100, 1_000, 2_500, 5_000]))
        def set_draw_cap(self, bps):
            f.setMaxDrawPerPeriod(bps, sender=gov)
            self.m.draw_bps = bps

        @rule(pct=st.integers(1, 100))
        def withdraw(self, pct):
            """Governance takes part of the excess mid-period: the reserve, not the cap, may bind."""
            amount = f.excess() * pct // 100
            if amount == 0:
                return
            tx = f.queueWithdrawal(gov, amount, sender=gov)
            chain.pending_timestamp = tx.events.filter(f.WithdrawalQueued)[0].eta
            f.executeWithdrawal(tx.return_value, sender=gov)
            self.m.balance -= amount

        @rule(seconds=st.sampled_from([1, 3 * DAY, PERIOD, 2 * PERIOD + 5]))
        def wait(self, seconds):
            _jump(seconds)

        @invariant()
        def balances_are_exact(self):
            assert f.reserve() == usdc.balanceOf(f) == self.m.balance
            assert usdc.balanceOf(fvault) == self.vault_start + self.vault_received - self.vault_deposited

        @precondition(lambda self: self.m.start > 0)
        @invariant()
        def open_period_matches_the_model(self):
            p = f.currentPeriod()
            if p.start == self.m.start:  # not yet due for a new period
                assert (p.base, p.drawn, p.cap) == (self.m.base, self.m.drawn, self.m.cap())
            assert f.coverable() <= min(p.cap, f.reserve())

    run_state_machine_as_test(
        FundMachine,
        settings=settings(parent=chain_settings, max_examples=5, stateful_step_count=25),
    )
