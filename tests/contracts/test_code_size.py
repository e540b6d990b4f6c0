"""Every contract the deployment puts on chain fits EIP-170's 24,576-byte runtime limit (the local anvil
enforces it too, but a mainnet deployment is where a miss would hurt). KeelVault is the one to watch."""

from __future__ import annotations

import pytest

EIP170_LIMIT = 24_576
DEPLOYED = (
    "KeelVault",
    "RiskGuard",
    "InsuranceFund",
    "SpotLeg",
    "PerpLeg",
    "OptionLeg",
    "PerpMarket",
    "OptionMarket",
    "OptionOracle",
    "OptionPricer",
)


@pytest.mark.parametrize("name", DEPLOYED)
def test_runtime_code__of_each_deployed_contract__fits_eip170(project, name):
    code = getattr(project, name).contract_type.runtime_bytecode.bytecode
    size = (len(code) - 2) // 2
    print(f"{name}: {size:,} bytes ({EIP170_LIMIT - size:,} under the limit)")
    assert 0 < size <= EIP170_LIMIT
