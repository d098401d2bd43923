"""A run directory with a calibrated detector (what `aelab anomaly --save-runs` writes per
class), on tiny generated data: the fixture of the serve tests.

    data, run = detector_run(tmp / "class-1")    # run/ has checkpoints and detector.json
"""

from __future__ import annotations

from pathlib import Path

from aelab.config import DataConfig, RunConfig, TrainConfig
from aelab.data.splits import DatasetSplits
from aelab.models.dense import DenseConfig
from fakedata import tiny_splits

SHAPE = (1, 12, 12)
NORMAL = 1


def detector_data() -> DatasetSplits:
    return tiny_splits(400, shape=SHAPE, classes=4, n_test=120, val=80)


def detector_run(run_dir: str | Path, *, epochs: int = 15) -> tuple[DatasetSplits, Path]:
    from aelab.reuse.anomaly import one_class

    data = detector_data()
    config = RunConfig(
        name="tiny",
        data=DataConfig(dataset="tiny", validation="split", val_size=24),
        model=DenseConfig(latent_dim=8, hidden=(32,)),
        train=TrainConfig(epochs=epochs, batch_size=32, lr=3e-3, device="cpu", threads=1),
    )
    one_class(config, data, NORMAL, run_dir=run_dir, fpr=0.1)
    return data, Path(run_dir)
