"""keeper.chain.keys: the signer is an encrypted ape keystore by alias; raw keys are refused in config.

Pure tests (no chain): `.venv/bin/python -m pytest tests/keeper/test_keys.py -q -p no:ape_test`.
"""

from __future__ import annotations

import json

import pytest
from eth_account import Account
from pydantic import BaseModel, ConfigDict, ValidationError

from keeper.chain.keys import (
    KeyConfigError,
    SignerAlias,
    available_aliases,
    default_keystore_dir,
    load_signer,
    looks_like_raw_key,
    refuse_raw_key,
    write_keystore,
)

# anvil's well-known first test key: public, never holds value
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
MNEMONIC = "test test test test test test test test test test test junk"
PASS = "correct horse 9!"
ENV = "KEEL_TEST_KEYSTORE_PASSPHRASE"


@pytest.fixture
def keys_dir(tmp_path):
    folder = tmp_path / "accounts"
    write_keystore("keeper-bot", KEY, PASS, folder, kdf="pbkdf2", iterations=1024)
    return folder


def _one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert "\n" not in msg
    return msg


def test_load_signer__with_written_keystore_and_env_passphrase__returns_the_account(keys_dir, monkeypatch):
    monkeypatch.setenv(ENV, PASS)
    acct = load_signer("keeper-bot", keystore_dir=keys_dir, passphrase_env=ENV)
    assert acct.address == ADDRESS
    assert acct.key.hex().removeprefix("0x") == KEY.removeprefix("0x")


def test_load_signer__with_explicit_passphrase__ignores_the_environment(keys_dir, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert load_signer("keeper-bot", keystore_dir=keys_dir, passphrase=PASS).address == ADDRESS


def test_write_keystore__with_defaults__writes_the_keystore_ape_writes(tmp_path):
    path = write_keystore("ape-like", KEY, PASS, tmp_path)
    keyfile = json.loads(path.read_text())
    assert path == tmp_path / "ape-like.json"
    assert keyfile["version"] == 3 and keyfile["crypto"]["kdf"] == "scrypt"
    assert bytes(Account.decrypt(keyfile, PASS)).hex() == KEY.removeprefix("0x")


def test_write_keystore__with_existing_alias__is_refused(keys_dir):
    with pytest.raises(KeyConfigError, match="exists already"):
        write_keystore("keeper-bot", KEY, PASS, keys_dir, kdf="pbkdf2", iterations=1024)


def test_load_signer__with_wrong_passphrase__says_wrong_passphrase(keys_dir):
    with pytest.raises(KeyConfigError) as err:
        load_signer("keeper-bot", keystore_dir=keys_dir, passphrase="nope")
    msg = _one_line(err.value)
    assert "wrong passphrase" in msg and "keeper-bot" in msg and "nope" not in msg


def test_load_signer__with_env_var_unset__names_the_variable(keys_dir, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(KeyConfigError) as err:
        load_signer("keeper-bot", keystore_dir=keys_dir, passphrase_env=ENV)
    assert ENV in _one_line(err.value)


def test_load_signer__with_unknown_alias__lists_the_available_aliases(keys_dir):
    write_keystore("backup", KEY, PASS, keys_dir, kdf="pbkdf2", iterations=1024)
    with pytest.raises(KeyConfigError) as err:
        load_signer("kepper", keystore_dir=keys_dir, passphrase=PASS)
    msg = _one_line(err.value)
    assert "'kepper'" in msg and "available aliases: backup, keeper-bot" in msg
    assert available_aliases(keys_dir) == ["backup", "keeper-bot"]


def test_load_signer__with_empty_keystore_folder__says_none_available(tmp_path):
    with pytest.raises(KeyConfigError, match=r"available aliases: none"):
        load_signer("keeper-bot", keystore_dir=tmp_path / "missing", passphrase=PASS)


@pytest.mark.parametrize(
    "content",
    ["{not json", "[]", json.dumps({"version": 3, "address": "00"}), json.dumps({"crypto": {"kdf": "x"}})],
    ids=["not-json", "not-object", "no-crypto", "bad-crypto"],
)
def test_load_signer__with_malformed_file__says_malformed(tmp_path, content):
    (tmp_path / "broken.json").write_text(content)
    with pytest.raises(KeyConfigError) as err:
        load_signer("broken", keystore_dir=tmp_path, passphrase=PASS)
    assert "malformed keystore" in _one_line(err.value)


@pytest.mark.parametrize(("field", "value"), [("kdf", "argon2"), ("cipher", "aes-256-gcm")])
def test_load_signer__with_unsupported_kdf_or_cipher__names_them(keys_dir, field, value):
    path = keys_dir / "keeper-bot.json"
    keyfile = json.loads(path.read_text())
    keyfile["crypto"][field] = value
    path.write_text(json.dumps(keyfile))
    with pytest.raises(KeyConfigError) as err:
        load_signer("keeper-bot", keystore_dir=keys_dir, passphrase=PASS)
    line = _one_line(err.value)
    assert "malformed keystore" in line and repr(value) in line


def test_load_signer__with_address_not_matching_the_key__says_malformed(keys_dir):
    path = keys_dir / "keeper-bot.json"
    keyfile = json.loads(path.read_text())
    keyfile["address"] = "70997970c51812dc3a010c7d01b50e0d17dc79c8"
    path.write_text(json.dumps(keyfile))
    with pytest.raises(KeyConfigError, match="does not match its address"):
        load_signer("keeper-bot", keystore_dir=keys_dir, passphrase=PASS)


@pytest.mark.parametrize("alias", ["../accounts/keeper-bot", "sub/keeper-bot", "", ".."])
def test_load_signer__with_path_like_alias__is_refused(keys_dir, alias):
    with pytest.raises(KeyConfigError, match="single name"):
        load_signer(alias, keystore_dir=keys_dir, passphrase=PASS)


@pytest.mark.parametrize("raw", [KEY, KEY.removeprefix("0x"), KEY.upper().replace("0X", "0x"), MNEMONIC])
def test_load_signer__with_raw_key_as_alias__is_refused(keys_dir, raw):
    with pytest.raises(KeyConfigError, match="raw private keys are refused"):
        load_signer(raw, keystore_dir=keys_dir, passphrase=PASS)


def test_default_keystore_dir__with_ape_data_folder__is_its_accounts_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("APE_DATA_FOLDER", str(tmp_path))
    assert default_keystore_dir() == tmp_path / "accounts"
    monkeypatch.delenv("APE_DATA_FOLDER")
    assert default_keystore_dir().parts[-2:] == (".ape", "accounts")


@pytest.mark.parametrize(
    "raw",
    [KEY, KEY.removeprefix("0x"), f"  {KEY}\n", MNEMONIC, " ".join(["abandon"] * 23 + ["art"])],
    ids=["0x-hex", "bare-hex", "padded", "12-words", "24-words"],
)
def test_refuse_raw_key__with_key_or_mnemonic__raises_the_one_line_message(raw):
    with pytest.raises(KeyConfigError) as err:
        refuse_raw_key("keeper.signer", raw)
    assert _one_line(err.value) == (
        "keeper.signer: raw private keys are refused; import it with `ape accounts import <alias>` "
        "and give the alias"
    )


@pytest.mark.parametrize(
    "value",
    ["keeper-bot", ADDRESS, KEY[:-1], "test test test", "Correct Horse Battery Staple " * 3, None, 7],
    ids=["alias", "address", "63-hex", "3-words", "capitalised-words", "none", "int"],
)
def test_refuse_raw_key__with_ordinary_value__returns_it(value):
    assert refuse_raw_key("keeper.signer", value) == value
    if isinstance(value, str):
        assert not looks_like_raw_key(value)


def test_signer_alias__in_a_pydantic_model__refuses_raw_keys_naming_the_field():
    class KeeperConfig(BaseModel):
        model_config = ConfigDict(hide_input_in_errors=True)  # never echo a pasted key back

        signer: SignerAlias

    assert KeeperConfig(signer="keeper-bot").signer == "keeper-bot"
    for raw in (KEY, MNEMONIC):
        with pytest.raises(ValidationError) as err:
            KeeperConfig(signer=raw)
        assert "signer: raw private keys are refused" in str(err.value)
        assert KEY not in str(err.value)
