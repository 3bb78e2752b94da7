"""Features: one module each, found through the ``margin.features`` entry-point group.

Write a feature by subclassing :class:`Feature` (see docs/features.md); this package's root
re-exports what a feature module needs.
"""

from margin.features.base import Feature, FeatureContext, FeatureInfo, FeatureInput, Task, fetch_record

__all__ = ["Feature", "FeatureContext", "FeatureInfo", "FeatureInput", "Task", "fetch_record"]
