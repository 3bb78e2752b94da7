"""A feature package installed during a test: a real distribution on sys.path with a
``margin.features`` entry point, as ``pip install`` would leave it (dist-info and all)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ECHO_MODULE = """
from typing import Annotated, Any, Literal

import msgspec

from margin.features import Feature, FeatureContext, Task


class EchoRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    phrase: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    tone: Literal["plain", "loud"] = "plain"


class Echo(Feature):
    name = "echo"
    title = "Echo"
    summary = "Say a phrase back"
    request_type = EchoRequest
    prompt = "echo.v1"
    prompt_package = "margin_echo_feature"
    record = "none"

    async def prepare(self, body: Any, context: FeatureContext) -> Task:
        text = body.phrase.upper() if body.tone == "loud" else body.phrase
        messages = self.render(context, phrase=body.phrase)
        return Task(self.provider_request(messages, offline=lambda: "You said: " + text))
"""

PROMPT = """{% block system %}
Repeat the user's phrase.
{% endblock %}
{% block user %}
{{ phrase }}
{% endblock %}
"""


def install_echo_feature(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lay out ``margin_echo_feature`` 0.1 under ``root`` and put it on sys.path."""
    package = root / "margin_echo_feature"
    (package / "prompts").mkdir(parents=True)
    (package / "__init__.py").write_text(ECHO_MODULE)
    (package / "prompts" / "echo.v1.j2").write_text(PROMPT)
    dist = root / "margin_echo_feature-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: margin-echo-feature\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[margin.features]\necho = margin_echo_feature:Echo\n")
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    monkeypatch.delitem(sys.modules, "margin_echo_feature", raising=False)
