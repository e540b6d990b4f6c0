"""The keeper service under faults, each checked for "nothing is done twice and nothing is lost" on chain
(the vault's action nonce, its events) and in the journal: a competing keeper sending the same action,
a reorg after a rebalance, a stale and a jumping oracle, the keeper out of gas money, and the node going
away and coming back (anvil stopped and restarted with its state reloaded)."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from web3 import Web3

from keeper.assess import assess
from keeper.chain.actions import encode_action
from keeper.chain.keys import load_signer, write_keystore
from keeper.chain.reader import read_snapshot
from keeper.chain.sender import FeePolicy, Sender, TxIntent
from keeper.journal import Journal
from keeper.metrics import Metrics
from keeper.policy import decide_with_notes
from keeper.runner import project_error_abi
from keeper.service import Service
from tests.e2e.test_service import PASSPHRASE, metric, move, policy_for_tests
from tests.leg_helpers import deploy_market, usd8

USDC = 10**6
WAD = 10**18
GWEI = 10**9
NONCED = ("rebalance", "trade_option", "settle_option", "report", "cover_loss")


@pytest.fixture(scope="module")
def fault_market(project, admin, gov, keeper, guardian, treasury, whale):
    d = deploy_market(admin, gov, keeper, guardian, treasury)
    usdc = project.MockUSDC.at(d.usdc)
    vault = project.KeelVault.at(d.vault)
    usdc.mint(whale, 1_000_000 * USDC, sender=admin)
    usdc.approve(vault, 2**256 - 1, sender=whale)
    vault.deposit(500_000 * USDC, whale, sender=whale)
    usdc.mint(admin, 50_000_000 * USDC, sender=admin)
    project.WETH9.at(d.spot.weth).deposit(value=5_000 * WAD, sender=admin)
    return d


@pytest.fixture
def fault_w3(networks) -> Web3:
    return Web3(Web3.HTTPProvider(networks.provider.uri, exception_retry_configuration=None))


@pytest.fixture
def fault_signer(tmp_path_factory, keeper, monkeypatch):
    ks = tmp_path_factory.mktemp("fault-keystore")
    write_keystore("keel-keeper", keeper.private_key, PASSPHRASE, ks, kdf="pbkdf2", iterations=2)
    monkeypatch.setenv("KEEL_KEYSTORE_PASSPHRASE", PASSPHRASE)
    return load_signer("keel-keeper", keystore_dir=ks)


@pytest.fixture
def fault_service(fault_w3, fault_market, fault_signer, tmp_path):
    """make(w3=None, **service_kw) -> Service with a fresh sender, journal and metrics; closed afterwards."""
    made: list[tuple[Sender, Journal]] = []

    def make(w3: Web3 | None = None, **kw) -> Service:
        w3 = w3 or fault_w3
        fees = FeePolicy(
            confirmations=1, poll_interval_sec=0.1, max_fee_per_gas_wei=100 * GWEI, receipt_timeout_sec=30
        )
        sender = Sender(w3, fault_signer, fees, error_abi=project_error_abi())
        journal = Journal(tmp_path / f"journal-{len(made)}.sqlite")
        made.append((sender, journal))
        return Service(
            w3,
            fault_market.vault,
            kw.pop("policy", policy_for_tests(options_enabled=False)),
            sender=sender,
            make_intent=lambda to, data, label: TxIntent(to=to, data=data, label=label),
            journal=journal,
            metrics=Metrics(CollectorRegistry()),
            **kw,
        )

    yield make
    for sender, journal in made:
        sender.close()
        journal.close()


def rebalanced_nonces(vault, chain) -> list[int]:
    return [e.nonce for e in vault.Rebalanced.range(0, chain.blocks.head.number + 1)]


def assert_nothing_twice(vault, chain) -> None:
    nonces = [
        e.nonce
        for ev in (
            vault.Rebalanced,
            vault.Reported,
            vault.LossCovered,
            vault.OptionsTraded,
            vault.OptionsSettled,
        )
        for e in ev.range(0, chain.blocks.head.number + 1)
    ]
    assert len(nonces) == len(set(nonces)), f"a nonce was used twice: {sorted(nonces)}"
    assert sorted(nonces) == list(range(vault.actionNonce())), "every nonce used exactly once, none lost"


def test_run_cycle__with_a_competing_keeper_sending_the_same_action_first__does_nothing_twice(
    fault_market, fault_service, fault_w3, chain, project, admin, keeper
):
    d = fault_market
    vault = project.KeelVault.at(d.vault)
    move(chain, project, d, admin, 3_000)
    service = fault_service()
    block = chain.blocks.head.number
    snap = read_snapshot(fault_w3, d.vault, block)
    first = decide_with_notes(snap, assess(snap), service.policy).actions[0]
    assert first.kind == "rebalance"
    # the competitor (another process with the same key) sends the same action first
    call = encode_action(first, d.vault)
    fault_w3.eth.send_transaction({"from": keeper.address, "to": call.to, "data": call.data})
    assert vault.actionNonce() == snap.action_nonce + 1
    # our keeper decided at the same block: its simulation sees StaleNonce and nothing is sent
    result = service.run_cycle(block)
    outcome = result.outcomes[0]
    assert outcome.status == "simulation_failed" and "StaleNonce" in (outcome.error or ""), outcome
    assert outcome.tx_hashes == ()
    assert vault.actionNonce() == snap.action_nonce + 1
    # the next cycle re-reads, reconciles its nonce with the chain and carries on
    move(chain, project, d, admin, 3_020)
    nxt = service.run_cycle()
    assert nxt.status in ("ok", "no_action"), nxt.error
    assert_nothing_twice(vault, chain)
    assert service.journal.count() == 2 and service.journal.verify() == []


def test_run_cycle__after_a_reorg_drops_the_rebalance__redoes_it_once(
    fault_market, fault_service, fault_w3, chain, project, admin
):
    d = fault_market
    vault = project.KeelVault.at(d.vault)
    move(chain, project, d, admin, 3_000)
    service = fault_service()
    first = service.run_cycle()
    assert first.outcomes[0].status == "confirmed"
    mined_at = first.outcomes[0].block_number
    nonce_after = vault.actionNonce()
    # a reorg replaces the blocks from the rebalance on with empty ones
    depth = chain.blocks.head.number - mined_at + 1
    fault_w3.provider.make_request("anvil_reorg", [depth, []])
    still_there = vault.actionNonce() == nonce_after
    result = service.run_cycle()
    assert result.status in ("ok", "no_action"), result.error
    if not still_there:  # the rebalance was lost with its block: the keeper decides it again, once
        assert any(o.action.kind == "rebalance" and o.status == "confirmed" for o in result.outcomes)
    assert_nothing_twice(vault, chain)
    assert service.journal.count() == 2


def test_run_cycle__with_a_stale_oracle__trades_nothing_and_the_metric_and_notes_say_why(
    fault_market, fault_service, chain, project, admin
):
    d = fault_market
    vault = project.KeelVault.at(d.vault)
    service = fault_service()
    # no spot round for longer than the legs' max age
    chain.mine(timestamp=chain.blocks.head.timestamp + d.config.leg_oracle_max_age_sec + 60)
    nonce = vault.actionNonce()
    result = service.run_cycle()
    assert not any(a.kind in ("rebalance", "trade_option", "report") for a in result.decision.actions)
    assert any("spot oracle Stale" in n for n in result.decision.notes), result.decision.notes
    assert vault.actionNonce() == nonce
    assert metric(service.metrics, 'keel_oracle_ok{feed="eth_usd"') == 0.0
    # a fresh round brings trading back
    move(chain, project, d, admin, 3_000, hours=0.01)
    assert any(a.kind == "rebalance" for a in service.run_cycle().decision.actions)


def test_run_cycle__with_a_price_jump_beyond_the_breaker__pokes_the_legs_then_waits_out_the_cooldown(
    fault_market, fault_service, chain, project, admin
):
    d = fault_market
    vault = project.KeelVault.at(d.vault)
    service = fault_service()
    move(chain, project, d, admin, 3_000)
    assert service.run_cycle().status == "ok"
    nonce = vault.actionNonce()
    jump = 3_000 * (1 + d.config.leg_oracle_max_deviation_bps / 10_000 + 0.05)
    project.KeelFeed.at(d.feeds.eth_usd).updateAnswer(usd8(jump), sender=admin)
    result = service.run_cycle()
    kinds = [a.kind for a in result.decision.actions]
    assert kinds.count("poke_oracle") == 3 and "rebalance" not in kinds, kinds
    assert all(o.status == "confirmed" for o in result.outcomes)
    for leg in (d.spot_leg, d.perp_leg, d.option_leg):
        assert project.SpotLeg.at(leg).oracleState().trippedAt != 0  # the breaker tripped
    # during the cooldown: no trading, the notes say so
    cooling = service.run_cycle()
    assert "rebalance" not in [a.kind for a in cooling.decision.actions]
    assert any("CoolingDown" in n for n in cooling.decision.notes), cooling.decision.notes
    assert vault.actionNonce() == nonce
    # after it the legs re-anchor on the new price and trading resumes
    move(chain, project, d, admin, jump, hours=d.config.leg_oracle_cooldown_sec / 3600 + 0.01)
    resumed = service.run_cycle()
    assert resumed.status == "ok", resumed.error
    assert_nothing_twice(vault, chain)


def test_run__with_the_keeper_out_of_gas_money__sends_nothing_and_opens_the_breaker(
    fault_market, fault_service, fault_w3, chain, project, admin, keeper
):
    d = fault_market
    vault = project.KeelVault.at(d.vault)
    move(chain, project, d, admin, 3_000)
    fault_w3.provider.make_request("anvil_setBalance", [keeper.address, "0x0"])
    nonce, tx_count = vault.actionNonce(), fault_w3.eth.get_transaction_count(keeper.address)
    service = fault_service(max_consecutive_failures=2, sleep=lambda s: chain.mine(), poll_interval_sec=0.01)
    code = service.run(max_cycles=3, install_signals=False)
    assert code == 1 and service.breaker_open
    outcomes = [o for c in service.journal.cycles() for o in c.outcomes]
    assert outcomes[0].status == "insufficient_funds"
    assert outcomes[-1].status == "skipped" and outcomes[-1].error == "circuit breaker open"
    assert vault.actionNonce() == nonce and fault_w3.eth.get_transaction_count(keeper.address) == tx_count
    assert [e.kind for e in service.journal.events()] == ["circuit_breaker", "stop"]
    assert metric(service.metrics, "keel_circuit_breaker_open") == 1.0
    fault_w3.provider.make_request("anvil_setBalance", [keeper.address, hex(10**21)])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen, sig: int) -> None:
    """Signal anvil's whole process group and wait for it."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    proc.wait(timeout=20)
    time.sleep(0.2)  # the binary may outlive npm's wrapper by a moment


def _start_anvil(port: int, state: Path) -> subprocess.Popen:
    anvil = shutil.which("anvil") or str(Path("node_modules/.bin/anvil").resolve())
    proc = subprocess.Popen(
        [anvil, "--port", str(port), "--silent", "--state", str(state), "--hardfork", "cancun"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # npm's wrapper starts the binary: stop the whole group
    )
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}"))
    for _ in range(200):
        try:
            # the loaded chain's clock goes on from its head (a new node starts at the wall clock)
            head = w3.eth.get_block("latest")["timestamp"]
            w3.provider.make_request("anvil_setTime", [head + 1])
            return proc
        except Exception:
            time.sleep(0.05)
    _stop(proc, signal.SIGKILL)
    raise RuntimeError("anvil did not start")


def test_run_cycle__with_the_node_stopped_and_restarted_with_its_state__fails_then_resumes_without_duplicates(
    fault_market, fault_service, fault_w3, chain, project, admin, tmp_path
):
    d = fault_market
    move(chain, project, d, admin, 3_000)
    # a second node with the first one's state (the market, the vault, the keeper's balance)
    dumped = fault_w3.provider.make_request("anvil_dumpState", [])
    assert "result" in dumped, dumped
    state = tmp_path / "anvil-state.json"
    state.write_bytes(gzip.decompress(bytes.fromhex(dumped["result"].removeprefix("0x"))))
    port = _free_port()
    proc = _start_anvil(port, state)  # loads the file, and writes it back on exit
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}", exception_retry_configuration=None))
    assert w3.eth.get_code(d.vault) != b""
    vault = w3.eth.contract(
        address=d.vault, abi=project.KeelVault.contract_type.model_dump(by_alias=True)["abi"]
    )
    service = fault_service(w3, max_consecutive_failures=5)
    try:
        first = service.run_cycle()
        assert first.status == "ok", first.error
        nonce = vault.functions.actionNonce().call()
        _stop(proc, signal.SIGTERM)  # anvil writes its state to --state on exit
        down = [service.run_cycle() for _ in range(2)]
        assert [c.status for c in down] == ["error", "error"]
        assert all(c.error.startswith("rpc:") for c in down)
        assert service.failures == 2 and not service.breaker_open
        proc = _start_anvil(port, state)  # back, with the state it had
        assert vault.functions.actionNonce().call() == nonce
        back = service.run_cycle()
        assert back.status in ("ok", "no_action"), back.error
        assert service.failures == 0
        # every nonce on the restarted chain was used once
        assert vault.functions.actionNonce().call() >= nonce
        confirmed = [o for c in service.journal.cycles() for o in c.outcomes if o.status == "confirmed"]
        assert len(
            [o for o in confirmed if o.action.kind in NONCED]
        ) == vault.functions.actionNonce().call() - (read_snapshot(fault_w3, d.vault).action_nonce)
        assert service.journal.count() == 4
    finally:
        _stop(proc, signal.SIGKILL)
