"""The demo's own host apps: a CRM in SQLite (served through the ``sql`` adapter) and a small
case-management REST API inside the demo server (served through the ``rest`` adapter).

Both are ordinary adapter sections, added to the configuration in demo mode.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from margin.config import Settings

CASES_API_PATH = "/demo/api"


def demo_crm_path(data_dir: str) -> Path:
    return Path(data_dir) / "demo-crm.sqlite"


def demo_adapter_sections(settings: Settings) -> dict[str, dict[str, Any]]:
    """``[adapters.demo_crm]`` and ``[adapters.demo_cases]`` as a user would write them."""
    from margin.demo.cases_config import demo_cases_config
    from margin.demo.crm_config import demo_crm_config

    base_url = f"http://{settings.server.host}:{settings.server.port}{CASES_API_PATH}"
    crm = msgspec.to_builtins(demo_crm_config(demo_crm_path(settings.data_dir)))
    cases = msgspec.to_builtins(demo_cases_config(base_url))
    return {"demo_crm": {"kind": "sql", **crm}, "demo_cases": {"kind": "rest", **cases}}


def ensure_demo_crm(data_dir: str, today: date | None = None) -> None:
    """Create the demo CRM database on first start; later starts keep what is there."""
    from margin.demo.crm import create_demo_crm

    path = demo_crm_path(data_dir)
    if not path.exists():
        create_demo_crm(path, today or date.today())
