"""Finding features: the ``margin.features`` entry-point group.

Built-in features (``summarize``, ``draft``, ``query``, ``triage``) register exactly like a host
team's package does::

    [project.entry-points."margin.features"]
    renewal_risk = "my_package:RenewalRisk"

A feature class subclasses :class:`margin.features.base.Feature`; its ``settings_type`` (if any)
is decoded from the ``[features.<name>]`` config section. Broken features stop start-up with a
message naming the feature, never half-way through a request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from importlib.metadata import entry_points
from typing import Any

import msgspec

from margin.features.base import Feature, FeatureInfo, request_inputs
from margin.prompts import PromptNotFound, load_prompt

ENTRY_POINT_GROUP = "margin.features"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


class FeatureConfigError(ValueError):
    """A feature cannot be loaded or its ``[features.<name>]`` section is wrong."""


def installed_feature_names() -> tuple[str, ...]:
    return tuple(sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}))


class FeatureRegistry:
    def __init__(self, features: list[Feature]) -> None:
        ordered = sorted(features, key=lambda feature: (feature.position, feature.name))
        self._features = {feature.name: feature for feature in ordered}

    @classmethod
    def load(cls, sections: Mapping[str, Mapping[str, Any]]) -> FeatureRegistry:
        """Every installed feature, with its settings from ``sections`` (``[features.*]``)."""
        found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
        for name in sections:
            if name not in found:
                raise FeatureConfigError(
                    f"features.{name}: no such feature (installed: {', '.join(sorted(found))})"
                )
        features = []
        for name, entry_point in sorted(found.items()):
            try:
                feature_class = entry_point.load()
            except Exception as exc:  # a broken package must not crash start-up unexplained
                raise FeatureConfigError(
                    f"feature {name!r} ({entry_point.value}) failed to load: {exc}"
                ) from exc
            features.append(build_feature(name, feature_class, sections.get(name, {})))
        return cls(features)

    def __iter__(self) -> Iterator[Feature]:
        return iter(self._features.values())

    def get(self, name: str) -> Feature | None:
        return self._features.get(name)

    def names(self) -> tuple[str, ...]:
        return tuple(self._features)

    def infos(self) -> tuple[FeatureInfo, ...]:
        return tuple(feature.info() for feature in self)


def build_feature(name: str, feature_class: Any, section: Mapping[str, Any]) -> Feature:
    if not (isinstance(feature_class, type) and issubclass(feature_class, Feature)):
        raise FeatureConfigError(f"feature {name!r}: {feature_class!r} is not a margin.features.Feature")
    if getattr(feature_class, "name", None) != name or not _NAME.fullmatch(name):
        raise FeatureConfigError(
            f"feature {name!r}: the entry point's name must equal the class's `name` "
            "(lower-case letters, digits and _)"
        )
    settings = None
    settings_type = feature_class.settings_type
    if settings_type is not None:
        try:
            settings = msgspec.convert(dict(section), settings_type, strict=False)
        except msgspec.ValidationError as exc:
            message = str(exc).replace("`$.", f"`features.{name}.").replace("`$`", f"`features.{name}`")
            raise FeatureConfigError(f"Invalid configuration: {message}") from exc
    elif section:
        raise FeatureConfigError(f"features.{name}: this feature takes no settings")
    try:
        load_prompt(feature_class.prompt, feature_class.prompt_package)
        request_inputs(feature_class.request_type, feature_class.labels)
    except (PromptNotFound, TypeError) as exc:
        raise FeatureConfigError(f"feature {name!r}: {exc}") from exc
    feature: Feature = feature_class(settings)
    return feature
