"""Long downstream work is never silent: ``aelab anomaly`` prints a line per epoch of each
class's training (prefixed with the class), IDEC a status line between target updates."""

from __future__ import annotations

import re

import numpy as np

from aelab.reuse import cluster
from aelab.reuse.anomaly import run_protocol
from aelab.reuse.cluster_config import ClusterConfig
from aelab.reuse.embed import run_data
from aelab.reuse.inference import load

from .conftest import tiny_config


def test_anomaly_training_shows_each_epoch_of_each_class(tiny_data, capsys):
    run_protocol(tiny_config(epochs=3, batch_size=32), tiny_data, [0, 2], quiet=False)
    err = capsys.readouterr().err
    for c in (0, 2):
        epochs = re.findall(
            rf"^class {c} \({c}\): epoch (\d)/3  train_loss \S+  val_loss", err, re.M
        )
        assert epochs == ["1", "2", "3"], err

    run_protocol(tiny_config(epochs=1), tiny_data, [1], quiet=True)
    assert "epoch" not in capsys.readouterr().err


def test_idec_reports_between_target_updates(run_dir, monkeypatch):
    model = load(run_dir)
    images = run_data(model.config, progress=False).test.images
    codes = model.encode(images)
    centers = codes[np.random.default_rng(0).choice(len(codes), 4, replace=False)]
    cfg = ClusterConfig(max_iter=6, update_interval=100, tol=0.0)
    monkeypatch.setattr(cluster, "STATUS_SECONDS", 0.0)  # every step is "a while" later
    lines: list[str] = []
    cluster.idec(model, images, centers, cfg, status=lines.append)
    between = [line for line in lines if re.match(r"IDEC step [1-5]/6: KL \S+, L_r \S+ \(", line)]
    assert len(between) == 5, lines
