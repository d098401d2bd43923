"""Tracker targets that cannot work are one line before training: a folder or ``file:``
URI (MLflow refuses its file store), an unknown scheme, a tracking server that does not
answer (bounded: seconds, not MLflow's minutes of retries). Servers are only ever tried
on 127.0.0.1."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from aelab.config import RunConfig
from aelab.errors import ConfigError
from aelab.training import trackers, train
from aelab.training.callbacks import Callback
from aelab.training.trackers import check_track
from fakedata import tiny_splits


def closed_port() -> int:
    """A port of 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port of 127.0.0.1 that accepts connections and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mlflow=file:///tmp/mlruns", r"is a folder \(MLflow's file store, which MLflow refuses"),
        ("mlflow=./mlruns", "is a folder"),
        ("mlflow=/tmp/mlruns", "use sqlite:///PATH/mlflow.db or a tracking server http://HOST"),
        ("mlflow=sqlit:///m.db", r"unknown scheme 'sqlit'; expected one of .*'sqlite'\?"),
        ("mlflow=ftp://host/x", "unknown scheme 'ftp'"),
        ("mlflow=http://", "names no host"),
    ],
)
def test_a_target_that_cannot_work_is_refused_before_any_data_loads(spec, message):
    with pytest.raises(ConfigError, match=message) as info:
        check_track([spec])
    assert "\n" not in str(info.value)


def test_targets_that_work_pass_the_check():
    check_track(["mlflow=sqlite:///runs/mlflow.db", "mlflow=http://127.0.0.1:5000"])
    check_track(["mlflow=postgresql+psycopg://u@db/mlflow", "mlflow=databricks", "mlflow"])


def test_an_unreachable_server_is_one_line_within_seconds():
    uri = f"http://127.0.0.1:{closed_port()}"
    start = time.monotonic()
    with pytest.raises(ConfigError, match=r"did not answer within .*start it \(mlflow server"):
        trackers.check_server(uri)
    assert time.monotonic() - start < 5


def test_a_server_that_never_answers_times_out(silent_server, monkeypatch):
    monkeypatch.setattr(trackers, "CONNECT_TIMEOUT_S", 0.5)
    start = time.monotonic()
    with pytest.raises(ConfigError, match=r"did not answer within 0.5 s"):
        trackers.check_server(f"http://127.0.0.1:{silent_server}")
    assert time.monotonic() - start < 3


class Started(Callback):
    def __init__(self) -> None:
        self.started = False

    def on_train_start(self, trainer) -> None:
        self.started = True


def test_training_stops_before_its_first_epoch_when_the_server_is_down(tmp_path):
    pytest.importorskip("mlflow")
    cfg = RunConfig.from_dict(
        {
            "model": {"family": "dense", "hidden": [], "latent_dim": 4},
            "train": {
                "epochs": 1,
                "batch_size": 16,
                "threads": 1,
                "track": [f"mlflow=http://127.0.0.1:{closed_port()}"],
            },
        }
    )
    data = tiny_splits(32, shape=(1, 8, 8), classes=4, val=8)
    seen = Started()
    with pytest.raises(ConfigError, match="did not answer"):
        train(cfg, tmp_path / "run", data=data, quiet=True, callbacks=[seen])
    assert not seen.started
