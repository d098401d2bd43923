"""Shared test fixtures. Tests generate their own small data; real-data tests skip
(with the reason) when the files are absent."""

from __future__ import annotations

import torch

# Tests are small: one intra-op thread keeps them fast and deterministic on 2 cores.
torch.set_num_threads(1)
