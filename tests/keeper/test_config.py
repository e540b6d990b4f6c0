"""keeper/config.py and the CLI's handling of it: YAML + KEEL_ environment (the environment wins), one line
naming the field for every bad input, raw private keys refused anywhere (pure, no chain)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from keeper.cli import main
from keeper.config import ConfigError, KeeperConfig, load_config
from keeper.policy import PolicyConfig

VAULT = "0x000000000000000000000000000000000000Ee01"
VAULT_LOWER = VAULT.lower()
RPC = "http://127.0.0.1:8545"
HEX_KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
MNEMONIC_12 = "test test test test test test test test test test test junk"
MNEMONIC_24 = " ".join(["abandon"] * 23 + ["art"])
KEYS = [HEX_KEY, "0x" + HEX_KEY, "0X" + HEX_KEY.upper(), MNEMONIC_12, MNEMONIC_24]
KEY_IDS = ["hex", "0x-hex", "upper-hex", "mnemonic-12", "mnemonic-24"]
COMMANDS = ["run", "status", "book", "risk", "plan"]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No KEEL_ variable of the machine running the tests leaks in."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("KEEL_"):
            monkeypatch.delenv(name)


def _write(tmp_path: Path, data: Any, name: str = "keeper.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def _good(**extra: Any) -> dict[str, Any]:
    return {"rpc_url": RPC, "vault": VAULT} | extra


def _error(path: Path | None, **overrides: Any) -> str:
    with pytest.raises(ConfigError) as exc:
        load_config(path, **overrides)
    message = str(exc.value)
    assert "\n" not in message and message.strip() == message, repr(message)
    return message


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # click 8.1: keep stderr apart
    except TypeError:  # click ≥ 8.2 always does
        return CliRunner()


# --------------------------------------------------------------------------------------------------
# the file, the environment and their precedence
# --------------------------------------------------------------------------------------------------


def test_load_config__with_a_minimal_file__fills_every_default(tmp_path: Path):
    cfg = load_config(_write(tmp_path, _good()))

    assert cfg.rpc_url == RPC
    assert cfg.vault.lower() == VAULT_LOWER
    assert cfg.signer is None and cfg.passphrase_env == "KEEL_KEYSTORE_PASSPHRASE"
    assert cfg.policy == PolicyConfig()
    assert cfg.fees.confirmations == 1 and cfg.service.every_n_blocks == 1


def test_load_config__with_every_section__reads_them(tmp_path: Path):
    data = _good(
        signer="keeper-1",
        journal_path="var/j.sqlite",
        policy={"slippage_bps": 30, "margin_min_ratio": 2.5, "margin_target_ratio": 3.5},
        fees={"max_fee_gwei": 80.0, "confirmations": 2},
        service={"every_n_blocks": 5, "metrics_port": 9101},
    )

    cfg = load_config(_write(tmp_path, data))

    assert cfg.signer == "keeper-1" and cfg.journal_path == Path("var/j.sqlite")
    assert (cfg.policy.slippage_bps, cfg.policy.margin_min_ratio, cfg.policy.margin_target_ratio) == (
        30,
        2.5,
        3.5,
    )
    assert cfg.policy.deadline_sec == PolicyConfig().deadline_sec
    assert (cfg.fees.max_fee_gwei, cfg.fees.confirmations) == (80.0, 2)
    assert (cfg.service.every_n_blocks, cfg.service.metrics_port) == (5, 9101)


def test_load_config__with_env__overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = _write(tmp_path, _good(signer="from-file", policy={"slippage_bps": 30, "deadline_sec": 100}))
    monkeypatch.setenv("KEEL_RPC_URL", "https://node.example:8545")
    monkeypatch.setenv("KEEL_SIGNER", "from-env")
    monkeypatch.setenv("KEEL_POLICY__SLIPPAGE_BPS", "20")
    monkeypatch.setenv("KEEL_FEES__MAX_FEE_GWEI", "55.5")

    cfg = load_config(path)

    assert cfg.rpc_url == "https://node.example:8545" and cfg.signer == "from-env"
    assert cfg.policy.slippage_bps == 20  # nested: KEEL_POLICY__SLIPPAGE_BPS
    assert cfg.policy.deadline_sec == 100  # the rest of the file's section stays
    assert cfg.fees.max_fee_gwei == 55.5


def test_load_config__with_lowercase_env__still_applies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("keel_policy__slippage_bps", "25")

    assert load_config(_write(tmp_path, _good())).policy.slippage_bps == 25


def test_load_config__with_env_only__needs_no_file(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KEEL_RPC_URL", RPC)
    monkeypatch.setenv("KEEL_VAULT", VAULT)

    cfg = load_config(None)

    assert cfg.rpc_url == RPC and cfg.vault.lower() == VAULT_LOWER


def test_load_config__with_overrides__they_beat_the_env_and_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("KEEL_RPC_URL", "http://env:1")

    cfg = load_config(_write(tmp_path, _good()), rpc_url="http://flag:2")

    assert cfg.rpc_url == "http://flag:2"


def test_load_config__with_an_empty_file__is_just_missing_fields(tmp_path: Path):
    assert _error(_write(tmp_path, "")).startswith("rpc_url: missing")


def test_keeper_config__is_frozen(tmp_path: Path):
    cfg = load_config(_write(tmp_path, _good()))

    with pytest.raises(Exception, match="frozen"):
        cfg.rpc_url = "http://other"  # type: ignore[misc]
    assert isinstance(cfg, KeeperConfig)


# --------------------------------------------------------------------------------------------------
# every bad input: one line naming the field
# --------------------------------------------------------------------------------------------------

BAD_FILES = [
    pytest.param(
        {"vault": VAULT}, "rpc_url: missing (set it in the file or as KEEL_RPC_URL)", id="missing-rpc"
    ),
    pytest.param(
        {"rpc_url": RPC}, "vault: missing (set it in the file or as KEEL_VAULT)", id="missing-vault"
    ),
    pytest.param(_good(vault="0x1234"), "vault: not an address: '0x1234'", id="short-vault"),
    pytest.param(_good(vault="0x" + "zz" * 20), "vault: not an address", id="non-hex-vault"),
    pytest.param(_good(vault=12), "vault: Input should be a valid string", id="vault-not-a-string"),
    pytest.param(_good(rpc_url="ftp://node"), "rpc_url: not an http(s)/ws(s) URL", id="bad-rpc-scheme"),
    pytest.param(_good(rpc_url=""), "rpc_url: String should have at least 1 character", id="empty-rpc"),
    pytest.param(_good(foo=1), "foo: Extra inputs are not permitted", id="unknown-field"),
    pytest.param(
        _good(policy={"slipage_bps": 30}),
        "policy.slipage_bps: Extra inputs are not permitted",
        id="unknown-policy-field",
    ),
    pytest.param(
        _good(policy={"slippage_bps": 5_000}),
        "policy.slippage_bps: Input should be less than or equal",
        id="policy-field-too-big",
    ),
    pytest.param(
        _good(policy={"margin_min_ratio": 1.0}),
        "policy.margin_min_ratio: Input should be greater than 1",
        id="policy-field-too-small",
    ),
    pytest.param(
        _good(policy={"deadline_sec": "soon"}),
        "policy.deadline_sec: Input should be a valid integer",
        id="policy-field-wrong-type",
    ),
    pytest.param(_good(policy={"hedge_cost_frac": ".nan"}), "policy.hedge_cost_frac:", id="policy-nan"),
    pytest.param(
        _good(policy={"margin_min_ratio": 4.0}),
        "policy: margin ratios must satisfy margin_min_ratio < margin_target_ratio < margin_max_ratio "
        "(got 4.0, 3.0, 5.0)",
        id="margin-ratios-out-of-order",
    ),
    pytest.param(
        _good(policy={"margin_max_ratio": 2.5}),
        "policy: margin ratios must satisfy",
        id="margin-max-below-target",
    ),
    pytest.param(
        _good(policy={"funding_unwind_below_8h": 0.001}),
        "policy: funding_unwind_below_8h must be",
        id="funding-thresholds-out-of-order",
    ),
    pytest.param(_good(policy=3), "policy: Input should be a valid dictionary", id="policy-not-a-mapping"),
    pytest.param(
        _good(fees={"confirmations": 0}),
        "fees.confirmations: Input should be greater than or equal",
        id="fees-field",
    ),
    pytest.param(
        _good(service={"backoff_initial_sec": 100, "backoff_max_sec": 10}),
        "config: service.backoff_initial_sec must be <= service.backoff_max_sec",
        id="backoff-order",
    ),
]


@pytest.mark.parametrize(("data", "expected"), BAD_FILES)
def test_load_config__with_a_bad_field__raises_one_line_naming_it(tmp_path: Path, data, expected):
    assert _error(_write(tmp_path, data)).startswith(expected)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"KEEL_POLICY__SLIPPAGE_BPS": "5000"}, "policy.slippage_bps: Input should be less than or equal"),
        ({"KEEL_POLICY__SLIPPAGE_BPS": "lots"}, "policy.slippage_bps: Input should be a valid integer"),
        ({"KEEL_VAULT": "0xnope"}, "vault: not an address"),
        (
            {"KEEL_SERVICE__EVERY_N_BLOCKS": "0"},
            "service.every_n_blocks: Input should be greater than or equal",
        ),
    ],
)
def test_load_config__with_a_bad_env_value__raises_one_line_naming_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env, expected
):
    for k, v in env.items():
        monkeypatch.setenv(k, v)

    assert _error(_write(tmp_path, _good())).startswith(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rpc_url: http://x\nvault: [\n", "not valid YAML at line 3, column 1"),
        ("rpc_url: 'http://x\n", "not valid YAML at line 2"),
        ("rpc_url: http://x\n  vault: 1\n bad", "not valid YAML"),
        ("\tvault: 1\n", "not valid YAML"),
    ],
)
def test_load_config__with_a_yaml_syntax_error__raises_one_line_naming_the_file(
    tmp_path: Path, text, expected
):
    path = _write(tmp_path, text)

    message = _error(path)

    assert message.startswith(f"{path}: ") and expected in message


@pytest.mark.parametrize("text", ["- rpc_url\n- vault\n", "just a string\n", "42\n"])
def test_load_config__with_non_mapping_yaml__raises_one_line(tmp_path: Path, text):
    path = _write(tmp_path, text)

    assert _error(path) == f"{path}: the top level must be a mapping of fields"


def test_load_config__with_a_missing_file__raises_one_line(tmp_path: Path):
    path = tmp_path / "nope.yaml"

    assert _error(path) == f"config file not found: {path}"


def test_load_config__with_a_directory_or_binary__raises_one_line(tmp_path: Path):
    assert _error(tmp_path).startswith(f"cannot read config file {tmp_path}")
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe\x00rpc")
    assert _error(binary).startswith(f"cannot read config file {binary}")


# --------------------------------------------------------------------------------------------------
# raw private keys: refused anywhere, never echoed
# --------------------------------------------------------------------------------------------------


def _assert_refused(message: str, field: str, key: str) -> None:
    assert message.startswith(f"{field}: raw private keys are refused"), message
    assert "ape accounts import" in message
    assert key.lower() not in message.lower()  # never echoed


@pytest.mark.parametrize("key", KEYS, ids=KEY_IDS)
def test_load_config__with_a_raw_key_as_signer__refuses_it(tmp_path: Path, key):
    _assert_refused(_error(_write(tmp_path, _good(signer=key))), "signer", key)


@pytest.mark.parametrize("key", KEYS, ids=KEY_IDS)
@pytest.mark.parametrize(
    ("where", "build"),
    [
        ("private_key", lambda k: _good(private_key=k)),  # refused before "unknown field"
        ("vault", lambda k: _good(vault=k)),
        ("service.metrics_addr", lambda k: _good(service={"metrics_addr": k})),
        ("policy.deep.er[1]", lambda k: _good(policy={"deep": {"er": ["x", k]}})),
        ("passphrase_env", lambda k: _good(passphrase_env=k)),
    ],
)
def test_load_config__with_a_raw_key_anywhere_in_the_yaml__refuses_it_naming_where(
    tmp_path: Path, key, where, build
):
    _assert_refused(_error(_write(tmp_path, build(key))), where, key)


@pytest.mark.parametrize("key", KEYS, ids=KEY_IDS)
@pytest.mark.parametrize(
    ("var", "field"),
    [("KEEL_SIGNER", "signer"), ("KEEL_VAULT", "vault"), ("KEEL_RPC_URL", "rpc_url"),
     ("KEEL_SERVICE__METRICS_ADDR", "service.metrics_addr")],
)  # fmt: skip
def test_load_config__with_a_raw_key_in_the_env__refuses_it_naming_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key, var, field
):
    monkeypatch.setenv(var, key)

    _assert_refused(_error(_write(tmp_path, _good())), field, key)


@pytest.mark.parametrize("key", KEYS[:2], ids=KEY_IDS[:2])
def test_load_config__with_a_raw_key_as_an_override__refuses_it(tmp_path: Path, key):
    _assert_refused(_error(_write(tmp_path, _good()), signer=key), "signer", key)


NOT_KEYS = ["keeper", "keeper-1", "ops keeper", "0x" + "ab" * 20, "ab" * 31, "Capital " + MNEMONIC_12[5:]]


@pytest.mark.parametrize("alias", NOT_KEYS)
def test_load_config__with_an_alias_that_is_no_key__accepts_it(tmp_path: Path, alias):
    assert load_config(_write(tmp_path, _good(signer=alias))).signer == alias


# --------------------------------------------------------------------------------------------------
# the CLI
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"vault": VAULT, "signer": "keeper"}, "rpc_url: missing"),
        (_good(signer="keeper", vault="0x1234"), "vault: not an address"),
        (_good(signer="keeper", policy={"slippage_bps": 0}), "policy.slippage_bps:"),
        (_good(signer="keeper", policy={"margin_min_ratio": 4.0}), "policy: margin ratios must satisfy"),
        (_good(signer="keeper", surprise=True), "surprise: Extra inputs are not permitted"),
        (_good(signer="0x" + HEX_KEY), "signer: raw private keys are refused"),
        (_good(), "signer: missing"),  # `run` needs the keeper's key alias
        ("rpc_url: [\n", "not valid YAML"),
        ("- a\n", "the top level must be a mapping"),
    ],
)
def test_run__with_a_bad_config__exits_non_zero_with_one_line_naming_the_field(tmp_path: Path, data, field):
    path = _write(tmp_path, data, "bad.yaml")

    result = _runner().invoke(main, ["run", "--config", str(path)])

    assert result.exit_code != 0
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("keeper: ") and field in lines[0]
    assert HEX_KEY not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback


def test_run__with_a_missing_config_file__exits_with_one_line(tmp_path: Path):
    result = _runner().invoke(main, ["run", "--config", str(tmp_path / "nope.yaml")])

    assert result.exit_code != 0
    assert result.stderr.splitlines() == [f"keeper: config file not found: {tmp_path / 'nope.yaml'}"]


@pytest.mark.parametrize("command", ["book", "risk", "plan"])
def test_chain_commands__with_a_bad_config__exit_with_one_line_before_any_connection(tmp_path: Path, command):
    path = _write(tmp_path, {"vault": VAULT}, "bad.yaml")

    result = _runner().invoke(main, [command, "--config", str(path)])

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "keeper: config: rpc_url: missing (set it in the file or as KEEL_RPC_URL)"
    ]


@pytest.mark.parametrize("command", COMMANDS)
def test_help__on_every_command__prints_usage_and_exits_zero(command):
    result = _runner().invoke(main, [command, "--help"])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage: ") and f" {command} [OPTIONS]" in result.stdout.splitlines()[0]
    assert "--help" in result.stdout
    doc = main.commands[command].help
    assert doc is not None and doc.split()[0] in result.stdout


def test_help__on_the_group__lists_every_command():
    result = _runner().invoke(main, ["--help"])

    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.stdout
