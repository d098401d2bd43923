"""Presets of the aelab-resmlp plugin (``*.toml`` files beside this module)."""
