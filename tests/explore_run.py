"""An evaluated run with a calibrated detector and its code map files (figures/code_map/):
the fixture of the explore and interactive-report tests, on tiny generated data.

    data, run = explore_run(tmp / "class-1")   # run/report.html has the interactive map
"""

from __future__ import annotations

from pathlib import Path

from aelab.data.splits import DatasetSplits
from detector_run import detector_run


def explore_run(run_dir: str | Path, *, epochs: int = 15) -> tuple[DatasetSplits, Path]:
    from aelab.evaluation.evaluate import evaluate_run

    data, run = detector_run(run_dir, epochs=epochs)
    evaluate_run(run, data=data, figures="all", quiet=True, device="cpu")
    return data, run
