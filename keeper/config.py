"""The keeper's configuration: a YAML file plus `KEEL_`-prefixed environment variables (pydantic-settings).

Environment variables override the file, and `load_config`'s overrides (the CLI's flags) override both;
nested fields use `__` (``KEEL_POLICY__SLIPPAGE_BPS=30``).
Every field is validated; `load_config` turns the first problem into one readable line that names the
field (``ConfigError: policy.margin_min_ratio: Input should be greater than 1``). Raw private keys are
refused anywhere in the config: the signer is an ape account alias (encrypted keystore), its passphrase
comes from the environment variable named by `passphrase_env`.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml
from eth_utils import is_address, to_checksum_address
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from keeper.policy import PolicyConfig

_HEX_KEY = re.compile(r"^(0[xX])?[0-9a-fA-F]{64}$")


class ConfigError(ValueError):
    """A configuration problem, as one line naming the field."""


def looks_like_private_key(value: str) -> bool:
    """A 32-byte hex string or a 12/24-word mnemonic."""
    v = value.strip()
    if _HEX_KEY.match(v):
        return True
    words = v.split()
    return len(words) in (12, 15, 18, 21, 24) and all(w.isalpha() and w.islower() for w in words)


_KEY_REFUSED = (
    "raw private keys are refused; import the key with `ape accounts import <alias>` and give the alias "
    "as `signer`"
)


def _refuse_keys(obj: Any, where: str = "") -> None:
    if isinstance(obj, str):
        if looks_like_private_key(obj):
            raise ConfigError(f"{where or 'value'}: {_KEY_REFUSED}")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _refuse_keys(v, f"{where}.{k}" if where else str(k))
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            _refuse_keys(v, f"{where}[{i}]")


class FeeConfig(BaseModel):
    """EIP-1559 fees and confirmation (see keeper.chain.sender)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_fee_gwei: float = Field(200.0, gt=0, le=100_000)
    max_priority_fee_gwei: float = Field(1.5, ge=0, le=1_000)
    base_fee_multiplier: float = Field(2.0, ge=1, le=10)
    replace_after_blocks: int = Field(3, ge=1, le=1_000)
    confirmations: int = Field(1, ge=1, le=64)
    receipt_timeout_sec: float = Field(120.0, gt=0, le=3_600)


class ServiceConfig(BaseModel):
    """The loop."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    poll_interval_sec: float = Field(1.0, gt=0, le=600)
    every_n_blocks: int = Field(1, ge=1, le=10_000, description="run a cycle every n new blocks")
    max_consecutive_failures: int = Field(5, ge=1, le=1_000)
    backoff_initial_sec: float = Field(1.0, gt=0, le=600)
    backoff_max_sec: float = Field(60.0, gt=0, le=3_600)
    metrics_port: int | None = Field(None, ge=0, le=65_535)
    metrics_addr: str = "127.0.0.1"


_FILE_DATA: ContextVar[dict[str, Any] | None] = ContextVar("keel_config_file", default=None)


class _FileSource(PydanticBaseSettingsSource):
    """The YAML file's fields, as `load_config` read them (the lowest priority)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # (unused: __call__ gives the whole mapping)

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE_DATA.get() or {})


class KeeperConfig(BaseSettings):
    """Everything `keeper run` needs."""

    model_config = SettingsConfigDict(
        env_prefix="KEEL_", env_nested_delimiter="__", extra="forbid", frozen=True, case_sensitive=False
    )

    rpc_url: str = Field(..., min_length=1)
    vault: str
    signer: str | None = Field(None, description="ape account alias (encrypted keystore)")
    keystore_dir: Path | None = None
    passphrase_env: str = "KEEL_KEYSTORE_PASSPHRASE"
    journal_path: Path = Path("out/journal.sqlite")
    policy: PolicyConfig = PolicyConfig()
    fees: FeeConfig = FeeConfig()
    service: ServiceConfig = ServiceConfig()

    @field_validator("vault")
    @classmethod
    def _address(cls, v: str) -> str:
        if not is_address(v):
            raise ValueError(f"not an address: {v!r}")
        return to_checksum_address(v)

    @field_validator("signer")
    @classmethod
    def _alias(cls, v: str | None) -> str | None:
        if v is not None and looks_like_private_key(v):
            raise ValueError(
                "raw private keys are refused; import the key with `ape accounts import <alias>` "
                "and give the alias"
            )
        return v

    @field_validator("rpc_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^(https?|wss?)://", v) and not v.endswith(".ipc"):
            raise ValueError(f"not an http(s)/ws(s) URL or .ipc path: {v!r}")
        return v

    @model_validator(mode="after")
    def _backoff(self) -> KeeperConfig:
        if self.service.backoff_initial_sec > self.service.backoff_max_sec:
            raise ValueError("service.backoff_initial_sec must be <= service.backoff_max_sec")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # overrides (init kwargs: the CLI's flags) > the environment > the YAML file
        return (init_settings, env_settings, _FileSource(settings_cls))


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "config"
    msg = err["msg"].removeprefix("Value error, ")
    if isinstance(err.get("input"), str) and looks_like_private_key(err["input"]):
        msg = _KEY_REFUSED  # (and never echo it)
    if err["type"] == "missing":
        msg = "missing (set it in the file or as KEEL_" + where.upper().replace(".", "__") + ")"
    return f"{where}: {msg}"


def load_config(path: Path | None = None, **overrides: Any) -> KeeperConfig:
    """The config from `path` (YAML, optional), the environment and `overrides` (highest priority).
    Raises ConfigError with one line naming the field."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            raw = yaml.safe_load(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"cannot read config file {path}: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"{path}: not valid YAML{at} ({problem})") from None
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of fields")
        data = raw
    _refuse_keys(data)
    _refuse_keys(overrides)
    token = _FILE_DATA.set(data)
    try:
        cfg = KeeperConfig(**overrides)
    except ValidationError as exc:
        raise ConfigError(_first_error(exc)) from None
    finally:
        _FILE_DATA.reset(token)
    _refuse_keys(cfg.model_dump(mode="json"))  # what the environment brought in too
    return cfg
