"""Wiring for `keeper run`: config → signer (ape keystore) → sender → journal → metrics → service."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from web3 import Web3

from keeper.chain.rpc import fast_web3
from keeper.config import ConfigError, FeeConfig, KeeperConfig, load_config
from keeper.service import Service

GWEI = 10**9
BUILD = Path(".build/__local__.json")


def fee_policy(fees: FeeConfig) -> Any:
    from keeper.chain.sender import FeePolicy

    return FeePolicy(
        max_fee_per_gas_wei=int(fees.max_fee_gwei * GWEI),
        max_priority_fee_wei=int(fees.max_priority_fee_gwei * GWEI),
        base_fee_multiplier=fees.base_fee_multiplier,
        replace_after_blocks=fees.replace_after_blocks,
        confirmations=fees.confirmations,
        receipt_timeout_sec=fees.receipt_timeout_sec,
    )


def project_error_abi(build: Path = BUILD) -> list[dict[str, Any]]:
    """Every custom error of the compiled project (so reverts are decoded by name), if available."""
    if not build.is_file():
        return []
    types = json.loads(build.read_text()).get("contractTypes", {})
    return [item for ct in types.values() for item in ct.get("abi", []) if item.get("type") == "error"]


def build_service(config: Path | KeeperConfig, *, w3: Web3 | None = None) -> Service:
    """The service of `config` (a YAML path or a loaded config). Raises ValueError with one line."""
    from keeper.chain.keys import load_signer
    from keeper.chain.sender import Sender, TxIntent
    from keeper.journal import Journal
    from keeper.metrics import Metrics

    cfg = config if isinstance(config, KeeperConfig) else load_config(config)
    if cfg.signer is None:
        raise ConfigError("signer: missing (the ape account alias of the keeper key; set KEEL_SIGNER)")
    account = load_signer(cfg.signer, keystore_dir=cfg.keystore_dir, passphrase_env=cfg.passphrase_env)
    w3 = w3 or fast_web3(cfg.rpc_url)
    sender = Sender(w3, account, fee_policy(cfg.fees), error_abi=project_error_abi())
    cfg.journal_path.parent.mkdir(parents=True, exist_ok=True)
    journal = Journal(cfg.journal_path)
    metrics = Metrics()
    if cfg.service.metrics_port is not None:
        metrics.serve(cfg.service.metrics_port, cfg.service.metrics_addr)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def make_intent(to: str, data: bytes, label: str) -> TxIntent:
        return TxIntent(to=to, data=data, label=label)

    s = cfg.service
    return Service(
        w3,
        cfg.vault,
        cfg.policy,
        sender=sender,
        make_intent=make_intent,
        journal=journal,
        metrics=metrics,
        max_consecutive_failures=s.max_consecutive_failures,
        backoff_initial_sec=s.backoff_initial_sec,
        backoff_max_sec=s.backoff_max_sec,
        poll_interval_sec=s.poll_interval_sec,
        every_n_blocks=s.every_n_blocks,
    )
