"""The configuration examples in the docs are real: each decodes as the code would decode it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from margin.adapters.registry import decode_adapter_config
from margin.config import load_settings

ROOT = Path(__file__).parent.parent


def toml_blocks(path: Path) -> list[dict[str, object]]:
    return [tomllib.loads(block) for block in re.findall(r"```toml\n(.*?)```", path.read_text(), re.S)]


@pytest.mark.parametrize("doc", ["docs/adapters.md", "README.md"])
def test_adapter_examples_decode(doc: str) -> None:
    sections = [
        (name, section)
        for block in toml_blocks(ROOT / doc)
        for name, section in block.get("adapters", {}).items()
    ]  # type: ignore[union-attr]
    for name, section in sections:
        decode_adapter_config(name, section)
    assert sections or doc == "README.md"


def test_readme_configuration_example_loads(tmp_path: Path) -> None:
    [example] = [block for block in toml_blocks(ROOT / "README.md") if "providers" in block]
    config = tmp_path / "margin.toml"
    text = re.search(r"```toml\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert text is not None
    config.write_text(text.group(1).replace('data_dir = "/var/lib/margin"', f'data_dir = "{tmp_path}"'))
    settings = load_settings(config, env={"ANTHROPIC_API_KEY": "sk-ant-test"})
    assert settings.chain_for("summarize") == ["claude", "gpt", "offline"]
    assert settings.providers["gpu"].local is True
    assert example
