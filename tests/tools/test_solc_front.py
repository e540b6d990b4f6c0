"""The native-style `solc` front over solc-js: the version handshake py-solc-x expects, a real
compile that imports OpenZeppelin through the include path, errors reported as errors, and large
outputs written whole."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRONT = ROOT / "tools" / "solc-front.js"
HEADER = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\n"


def run_front(*args: str, stdin: str | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["node", str(FRONT), *args], input=stdin, capture_output=True, text=True, cwd=cwd, timeout=120
    )


def std_input(sources: dict[str, str], outputs: list[str] | None = None) -> str:
    return json.dumps(
        {
            "language": "Solidity",
            "sources": {k: {"content": v} for k, v in sources.items()},
            "settings": {
                "remappings": ["@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/"],
                "outputSelection": {"*": {"*": outputs or ["abi", "evm.bytecode.object"]}},
            },
        }
    )


def test_version__prints_two_lines_like_native_solc():
    out = run_front("--version")
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert lines[0] == "solc, the solidity compiler commandline interface"
    assert re.fullmatch(r"Version: 0\.8\.\d+\+commit\.[0-9a-f]{8}\.Linux\.g\+\+", lines[1])


def test_standard_json__contract_importing_openzeppelin__compiles(tmp_path):
    src = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
contract T is ERC20 { constructor() ERC20("T", "T") { _mint(msg.sender, 1); } }
"""
    out = run_front(
        "--standard-json",
        "--base-path",
        str(ROOT),
        "--allow-paths",
        str(ROOT),
        stdin=std_input({"T.sol": src}),
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    errors = [e for e in result.get("errors", []) if e["severity"] == "error"]
    assert errors == []
    t = result["contracts"]["T.sol"]["T"]
    assert len(t["evm"]["bytecode"]["object"]) > 1000
    assert any(f.get("name") == "transfer" for f in t["abi"])
    assert any("ERC20.sol" in k for k in result["sources"])


def test_standard_json__import_through_include_path__resolves(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "Lib.sol").write_text(
        HEADER + "library L { function f() internal pure returns (uint256) { return 7; } }\n"
    )
    body = "contract C { function g() external pure returns (uint256) { return L.f(); } }\n"
    src = HEADER + 'import "Lib.sol";\n' + body
    out = run_front(
        "--standard-json",
        "--base-path",
        str(tmp_path),
        "--include-path",
        str(lib),
        stdin=std_input({"C.sol": src}),
        cwd=tmp_path,
    )
    result = json.loads(out.stdout)
    assert [e for e in result.get("errors", []) if e["severity"] == "error"] == []
    assert "C" in result["contracts"]["C.sol"]


def test_standard_json__syntax_error__is_reported_as_error():
    src = HEADER + "contract Broken { function f( external {} }\n"
    out = run_front("--standard-json", stdin=std_input({"Broken.sol": src}))
    result = json.loads(out.stdout)
    errors = [e for e in result["errors"] if e["severity"] == "error"]
    assert errors and errors[0]["type"] == "ParserError"
    assert "Broken.sol" in errors[0]["formattedMessage"]


def test_standard_json__missing_import__is_reported_as_error():
    src = HEADER + 'import "nowhere/Missing.sol";\ncontract C {}\n'
    out = run_front("--standard-json", stdin=std_input({"C.sol": src}))
    errors = [e for e in json.loads(out.stdout)["errors"] if e["severity"] == "error"]
    assert errors and "Missing.sol" in errors[0]["message"]


def test_standard_json__output_over_64kib__is_written_whole():
    vault = (ROOT / "contracts" / "vault" / "KeelVault.sol").read_text()
    sources = {"contracts/vault/KeelVault.sol": vault}
    out = run_front(
        "--standard-json",
        "--base-path",
        str(ROOT),
        "--include-path",
        str(ROOT / "node_modules"),
        stdin=std_input(sources, ["abi", "evm.bytecode", "evm.deployedBytecode", "metadata"]).replace(
            '"@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/"',
            '"@openzeppelin/contracts/=@openzeppelin/contracts/"',
        ),
    )
    assert len(out.stdout) > 64 * 1024
    result = json.loads(out.stdout)  # parses: nothing was truncated
    assert [e for e in result.get("errors", []) if e["severity"] == "error"] == []
    assert "KeelVault" in result["contracts"]["contracts/vault/KeelVault.sol"]


@pytest.mark.parametrize("args", [["--bogus"], [], ["--base-path"]])
def test_cli__bad_arguments__exit_non_zero_with_usage(args):
    out = run_front(*args)
    assert out.returncode != 0
    assert "usage" in out.stderr


def test_invalid_json__is_reported_inside_json():
    out = run_front("--standard-json", stdin="{not json")
    result = json.loads(out.stdout)
    assert result["errors"][0]["severity"] == "error"
