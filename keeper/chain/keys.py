"""The keeper's signing key: an ape account (encrypted keystore) by alias, never a raw private key.

The operator imports the key once with ``ape accounts import <alias>`` (or ``ape accounts generate``);
ape writes a standard encrypted Ethereum keystore (version 3, scrypt) to
``<APE_DATA_FOLDER or ~/.ape>/accounts/<alias>.json``. The keeper reads that file directly with
eth-account, so it needs no ape runtime, and takes the passphrase from the environment
(``KEEL_KEYSTORE_PASSPHRASE`` by default) for unattended runs.

Configuration never holds a raw key: `refuse_raw_key` (and the `SignerAlias` type for pydantic models)
rejects anything that looks like one (64 hex digits, with or without ``0x``, or a BIP-39 mnemonic of
12-24 words) with one line that says how to import it instead.

Every failure raises `KeyConfigError` (a ValueError) with one line naming the problem: unknown alias
(listing the aliases there are), passphrase variable not set (naming it), wrong passphrase, malformed
keystore file. The passphrase never appears in a message.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from pydantic import AfterValidator, ValidationInfo

DEFAULT_PASSPHRASE_ENV = "KEEL_KEYSTORE_PASSPHRASE"
SUPPORTED_KDFS = ("scrypt", "pbkdf2")
SUPPORTED_CIPHERS = ("aes-128-ctr",)
"""What eth-keyfile decrypts; a keystore with anything else is refused before decryption."""

_HEX_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_MNEMONIC_WORD = re.compile(r"^[a-z]+$")
_MNEMONIC_LENGTHS = frozenset({12, 15, 18, 21, 24})


class KeyConfigError(ValueError):
    """The signer cannot be loaded, or a configuration value is a raw key. The message is one line."""


def default_keystore_dir() -> Path:
    """Where ape keeps its accounts: ``$APE_DATA_FOLDER/accounts``, else ``~/.ape/accounts``."""
    data = os.environ.get("APE_DATA_FOLDER")
    return (Path(data) if data else Path.home() / ".ape") / "accounts"


def available_aliases(keystore_dir: Path | None = None) -> list[str]:
    """The aliases of the keystores in `keystore_dir` (sorted); empty if the folder does not exist."""
    folder = Path(keystore_dir) if keystore_dir is not None else default_keystore_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json"))


def looks_like_raw_key(value: str) -> bool:
    """True for 64 hex digits (with or without 0x) or a 12/15/18/21/24-word lowercase mnemonic."""
    text = value.strip()
    if _HEX_KEY.match(text):
        return True
    words = text.split()
    return len(words) in _MNEMONIC_LENGTHS and all(_MNEMONIC_WORD.match(w) for w in words)


def refuse_raw_key(field_name: str, value: Any) -> Any:
    """Return `value` unchanged unless it looks like a raw private key or mnemonic (then raise)."""
    if isinstance(value, str | bytes):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        if looks_like_raw_key(text):
            raise KeyConfigError(
                f"{field_name}: raw private keys are refused; import it with "
                "`ape accounts import <alias>` and give the alias"
            )
    return value


def _refuse_raw_key_validator(value: str, info: ValidationInfo) -> str:
    return refuse_raw_key(info.field_name or "signer", value)


#: A pydantic field type for the signer: an ape account alias, never a raw key. pydantic echoes the
#: input in a ValidationError, so a model with this field should set
#: ``model_config = ConfigDict(hide_input_in_errors=True)`` to keep a pasted key out of error output.
SignerAlias = Annotated[str, AfterValidator(_refuse_raw_key_validator)]


def _check_alias(alias: str) -> None:
    refuse_raw_key("signer alias", alias)
    if not alias or Path(alias).name != alias or alias in {".", ".."}:
        raise KeyConfigError(f"signer alias {alias!r}: must be a single name (a file in the keystore folder)")


def _keystore_path(alias: str, keystore_dir: Path | None) -> Path:
    _check_alias(alias)
    folder = Path(keystore_dir) if keystore_dir is not None else default_keystore_dir()
    return folder / f"{alias}.json"


def load_signer(
    alias: str,
    *,
    keystore_dir: Path | None = None,
    passphrase: str | None = None,
    passphrase_env: str = DEFAULT_PASSPHRASE_ENV,
) -> LocalAccount:
    """Decrypt the ape account `alias` and return it as an eth-account `LocalAccount`.

    The passphrase is `passphrase` if given, else the environment variable `passphrase_env`.
    """
    path = _keystore_path(alias, keystore_dir)
    if not path.is_file():
        known = available_aliases(path.parent)
        listing = ", ".join(known) if known else "none"
        raise KeyConfigError(
            f"signer alias {alias!r}: no keystore {path} (available aliases: {listing}); "
            f"import a key with `ape accounts import {alias}`"
        )
    if passphrase is None:
        passphrase = os.environ.get(passphrase_env)
        if passphrase is None:
            raise KeyConfigError(
                f"signer {alias!r}: environment variable {passphrase_env} is not set "
                "(it holds the keystore passphrase for unattended runs)"
            )
    try:
        keyfile = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyConfigError(f"signer {alias!r}: malformed keystore {path}: {exc}") from None
    if not isinstance(keyfile, dict) or not ({"crypto", "Crypto"} & keyfile.keys()):
        raise KeyConfigError(
            f"signer {alias!r}: malformed keystore {path}: not an encrypted Ethereum keystore"
        )
    crypto = keyfile.get("crypto", keyfile.get("Crypto"))
    kdf = crypto.get("kdf") if isinstance(crypto, dict) else None
    cipher = crypto.get("cipher") if isinstance(crypto, dict) else None
    if kdf not in SUPPORTED_KDFS or cipher not in SUPPORTED_CIPHERS:
        raise KeyConfigError(
            f"signer {alias!r}: malformed keystore {path}: kdf {kdf!r} / cipher {cipher!r} "
            f"(supported: kdf {' or '.join(SUPPORTED_KDFS)}, cipher {' or '.join(SUPPORTED_CIPHERS)})"
        )
    try:
        key = Account.decrypt(keyfile, passphrase)
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise KeyConfigError(f"signer {alias!r}: wrong passphrase for keystore {path}") from None
        raise KeyConfigError(f"signer {alias!r}: malformed keystore {path}: {exc}") from None
    except (KeyError, TypeError, AttributeError) as exc:
        # eth-keyfile raises these for a keystore with missing or mistyped fields: say so in one line
        raise KeyConfigError(
            f"signer {alias!r}: malformed keystore {path}: {type(exc).__name__} {exc}"
        ) from None
    account: LocalAccount = Account.from_key(key)
    recorded = keyfile.get("address")
    if recorded:
        try:
            matches = to_checksum_address(recorded) == account.address
        except ValueError:
            matches = False
        if not matches:
            raise KeyConfigError(
                f"signer {alias!r}: malformed keystore {path}: the key does not match its address {recorded}"
            )
    return account


def write_keystore(
    alias: str,
    private_key: str | bytes,
    passphrase: str,
    keystore_dir: Path | None = None,
    *,
    kdf: str | None = None,
    iterations: int | None = None,
) -> Path:
    """Write `private_key` encrypted under `passphrase` as ape does (``<dir>/<alias>.json``); return the path.

    For tests and the demo; operators use ``ape accounts import``. The default KDF is eth-account's
    (scrypt, as ape writes); tests may pass ``kdf="pbkdf2", iterations=1024`` to be quick. An existing
    keystore of that alias is refused, as ape does.
    """
    if not passphrase:
        raise KeyConfigError(f"signer {alias!r}: an empty keystore passphrase is refused")
    path = _keystore_path(alias, keystore_dir)
    if path.exists():
        raise KeyConfigError(f"signer alias {alias!r}: a keystore {path} exists already")
    keyfile = Account.encrypt(private_key, passphrase, kdf=kdf, iterations=iterations)  # type: ignore[arg-type]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(keyfile), encoding="utf8")
    return path
