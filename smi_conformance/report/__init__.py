"""Conformance reports: the versioned ConformanceReport (:mod:`.model`) and its writers."""
