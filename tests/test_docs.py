"""The configuration examples in the docs are real: each decodes as the code would decode it."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import pytest

from margin.adapters.registry import decode_adapter_config
from margin.config import load_settings
from margin.features.registry import FeatureRegistry, build_feature

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


def test_features_doc_triage_example_decodes() -> None:
    [block] = [b for b in toml_blocks(ROOT / "docs/features.md") if "features" in b]
    features = block["features"]
    assert isinstance(features, dict)
    registry = FeatureRegistry.load(features)
    triage = registry.get("triage")
    assert triage is not None and triage.record_types() == ("case",)


def test_features_doc_example_is_a_working_feature(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = re.search(
        r"```python\n(# my_package/renewal_risk.py\n.*?)```", (ROOT / "docs/features.md").read_text(), re.S
    )
    assert code is not None
    package = tmp_path / "my_package"
    (package / "prompts").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "renewal_risk.py").write_text(code.group(1))
    (package / "prompts" / "renewal_risk.v1.j2").write_text(
        "{% block system %}Risks.{% endblock %}{% block user %}{{ record_json }}{% endblock %}"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("my_package.renewal_risk")
    feature = build_feature("renewal_risk", module.RenewalRisk, {})
    info = feature.info()
    assert info.path == "/v1/renewal_risk" and info.title == "Risk"
    assert [(i.name, i.type, i.required) for i in info.inputs] == [
        ("horizon", "choice", False),
        ("focus", "text", False),
    ]
    assert [c.label for c in info.inputs[0].choices] == ["This quarter", "This year"]
