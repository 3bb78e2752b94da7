"""The feature registry: built-ins and an installed package's feature, served from one list."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from conftest import ServerThread, make_settings, token_for
from helpers import events_of
from plugin_packages import install_echo_feature

from margin.features.registry import FeatureConfigError, FeatureRegistry

SSE = {"Accept": "text/event-stream"}


def auth(**headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for()}", **headers}


def test_built_in_features_come_from_entry_points() -> None:
    registry = FeatureRegistry.load({})
    assert {"summarize", "draft", "query", "triage"} <= set(registry.names())


def test_the_feature_list_describes_tabs_and_forms(server: ServerThread) -> None:
    response = httpx.get(f"{server.url}/v1/features", headers=auth())
    assert response.status_code == 200
    listed = response.json()["features"]
    assert [f["name"] for f in listed][:4] == ["summarize", "draft", "query", "triage"]  # the tabs' order
    features = {f["name"]: f for f in listed}
    assert features["summarize"]["auto_run"] is True and features["summarize"]["inputs"] == []
    kind, instruction = features["draft"]["inputs"]
    assert kind["type"] == "choice" and kind["required"] is True
    assert [c["value"] for c in kind["choices"]][:2] == ["follow_up_email", "case_reply"]  # as declared
    assert {"value": "case_reply", "label": "Reply to the customer"} in kind["choices"]
    assert (instruction["type"], instruction["max_length"], instruction["required"]) == ("text", 2000, False)
    assert features["query"]["inputs"][0]["max_length"] == 1000 and features["query"]["record"] == "optional"
    assert features["query"]["result"] == "table"
    triage = features["triage"]
    assert (triage["record_types"], triage["result"], triage["actions"]) == (["case"], "triage", ["apply"])
    reasons = response.json()["feedback_reasons"]
    assert {"value": "saved_time", "label": "Saved time"} in reasons["up"]
    assert [r["value"] for r in reasons["down"]] == ["inaccurate", "unhelpful", "too_long", "unsafe", "other"]


def test_the_feature_list_needs_a_token(server: ServerThread) -> None:
    response = httpx.get(f"{server.url}/v1/features")
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"


def test_an_installed_package_adds_a_feature_without_changing_margin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_echo_feature(tmp_path / "site", monkeypatch)
    with ServerThread(make_settings(tmp_path)) as server:
        listed = httpx.get(f"{server.url}/v1/features", headers=auth()).json()["features"]
        echo = next(f for f in listed if f["name"] == "echo")
        assert echo["path"] == "/v1/echo" and echo["record"] == "none"
        assert [(i["name"], i["type"]) for i in echo["inputs"]] == [("phrase", "text"), ("tone", "choice")]

        schema = httpx.get(f"{server.url}/schema/openapi.json").json()
        operation = schema["paths"]["/v1/echo"]["post"]
        assert operation["summary"] == "Say a phrase back"
        assert "phrase" in str(schema["components"]["schemas"]["EchoRequest"])

        body = {"phrase": "hello there", "tone": "loud"}
        events = events_of(httpx.post(f"{server.url}/v1/echo", json=body, headers=auth(**SSE)).text)
        assert events[0].event == "meta" and events[-1].event == "done"
        assert events[0].data["feature"] == "echo" and events[0].data["variant"] == "control"
        assert "".join(e.data["text"] for e in events if e.event == "delta") == "You said: HELLO THERE"

        bad = httpx.post(f"{server.url}/v1/echo", json={"phrase": "x", "tone": "whisper"}, headers=auth())
        assert bad.status_code == 400 and "tone" in bad.json()["detail"]


def test_settings_for_an_unknown_feature_are_refused() -> None:
    with pytest.raises(FeatureConfigError, match=r"features\.translate: no such feature"):
        FeatureRegistry.load({"translate": {"languages": ["fr"]}})


def test_a_feature_that_takes_no_settings_refuses_them() -> None:
    with pytest.raises(FeatureConfigError, match=r"features\.summarize: this feature takes no settings"):
        FeatureRegistry.load({"summarize": {"audience": "lawyers"}})


def test_triage_settings_are_checked_at_start() -> None:
    with pytest.raises(FeatureConfigError, match=r"features.triage.record_types.*priorities"):
        FeatureRegistry.load({"triage": {"record_types": {"case": {"priorities": "high"}}}})
