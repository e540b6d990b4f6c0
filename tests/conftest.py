"""Shared fixtures: role-named accounts and a freshly deployed vault on anvil.

Roles follow the Yearn convention: `gov` sets parameters, `keeper` runs strategy actions,
`guardian` pauses and shuts down, `admin` manages roles, `treasury` receives fees, and
`fish`/`whale`/`shark` are a small depositor, a large depositor and an attacker.

Fixture names must be unique across the whole suite: ape's chain isolation keys fixtures by name, so a
module fixture called `usdc` or `leg` (say) silently breaks the snapshots of every other module that
uses the session fixture of that name (seen as LegMismatch in a full run, never in one file).
"""

from __future__ import annotations

import pytest

USDC = 10**6
DEFAULT_CAP = 10**15 * USDC  # a quadrillion dollars: effectively uncapped in tests


@pytest.fixture(scope="session", autouse=True)
def _quiet_revert_traces():
    """ape-foundry fetches and prints a full call trace for every reverted transaction.

    Tests expect many reverts (`ape.reverts`), and the trace costs 0.3-2 s each; the revert reason
    and custom error are still decoded (that path does not use `show`). A failing test still shows
    ape's error with the decoded reason.
    """
    from ape_ethereum.trace import Trace

    original = Trace.show
    Trace.show = lambda self, *args, **kwargs: None  # type: ignore[method-assign]
    yield
    Trace.show = original  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def deterministic_clock(chain):
    """Each block is exactly one second after the previous one, whatever the wall clock does.

    Fees accrue per second, so with anvil's default wall-clock timestamps the same test could see
    a different elapsed time (and different amounts) from run to run. Explicit jumps
    (`chain.pending_timestamp += n`) still work.
    """
    chain.provider.make_request("anvil_setBlockTimestampInterval", [1])
    yield
    chain.provider.make_request("anvil_removeBlockTimestampInterval", [])


@pytest.fixture(scope="session")
def admin(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def gov(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def keeper(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def guardian(accounts):
    return accounts[3]


@pytest.fixture(scope="session")
def treasury(accounts):
    return accounts[4]


@pytest.fixture(scope="session")
def fish(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def whale(accounts):
    return accounts[6]


@pytest.fixture(scope="session")
def shark(accounts):
    return accounts[7]


@pytest.fixture(scope="session")
def stranger(accounts):
    return accounts[8]


@pytest.fixture(scope="session")
def usdc(project, admin):
    return admin.deploy(project.MockUSDC)


def deploy_vault(project, admin, gov, keeper, guardian, treasury, asset, cap=DEFAULT_CAP):
    return admin.deploy(
        project.KeelVault,
        asset,
        "Keel USDC vault",
        "kUSDC",
        admin,
        3600,
        gov,
        keeper,
        guardian,
        treasury,
        cap,
    )


@pytest.fixture(scope="session")
def vault(project, admin, gov, keeper, guardian, treasury, usdc, fish, whale, shark):
    v = deploy_vault(project, admin, gov, keeper, guardian, treasury, usdc)
    for who in (fish, whale, shark):
        usdc.mint(who, 10**12 * USDC, sender=admin)
        usdc.approve(v, 2**256 - 1, sender=who)
    return v


@pytest.fixture(scope="session")
def leg(project, admin, gov, vault, usdc):
    lg = admin.deploy(project.MockLeg, vault, usdc)
    vault.addLeg(lg, sender=gov)
    return lg
