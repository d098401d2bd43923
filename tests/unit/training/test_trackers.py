"""Trackers as training callbacks, read back with each library's own reader: TensorBoard's
EventAccumulator and MLflow's client. Also the callback seam they ride on (request_stop)."""

from __future__ import annotations

import importlib

import pytest

from aelab.config import RunConfig
from aelab.errors import ConfigError
from aelab.training import train
from aelab.training.callbacks import Callback
from aelab.training.trackers import create_tracker, scalar_name, study_run
from fakedata import tiny_splits

EPOCHS = 2


@pytest.fixture(scope="module")
def data():
    return tiny_splits(64, shape=(1, 8, 8), classes=4, val=16)


def config(*track: str, epochs: int = EPOCHS) -> RunConfig:
    return RunConfig.from_dict(
        {
            "model": {"family": "dense", "hidden": [], "latent_dim": 4},
            "train": {"epochs": epochs, "batch_size": 16, "threads": 1, "track": list(track)},
        }
    )


def train_and_evaluate(cfg: RunConfig, run_dir, data, **kwargs):
    from aelab.evaluation.evaluate import evaluate_run

    result = train(cfg, run_dir, data=data, quiet=True, **kwargs)
    evaluate_run(run_dir, data=data, quiet=True)  # ends with the trackers' log_run
    return result


# --------------------------------------------------------------------------- registry, errors


def test_unknown_tracker_names_the_known_ones_and_the_closest():
    with pytest.raises(ConfigError, match=r"unknown tracker 'mlfow'.*Did you mean 'mlflow'"):
        create_tracker("mlfow")


def test_tensorboard_takes_no_target():
    with pytest.raises(ConfigError, match="takes no target"):
        create_tracker("tensorboard=/tmp/x")


@pytest.mark.parametrize(
    ("tracker", "module"), [("mlflow", "mlflow"), ("tensorboard", "torch.utils.tensorboard")]
)
def test_missing_package_is_one_line_naming_the_extra(monkeypatch, tracker, module):
    real = importlib.import_module

    def without(name, *args):
        if name == module:
            raise ModuleNotFoundError(f"No module named '{module}'", name=module)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", without)
    with pytest.raises(ConfigError) as exc:
        create_tracker(tracker)
    message = str(exc.value)
    assert f"needs the {tracker} package" in message and "pip install 'aelab[track]'" in message
    assert "\n" not in message


def test_track_is_validated_and_needs_a_run_directory(data):
    with pytest.raises(ConfigError, match="track"):
        config("=x")
    with pytest.raises(ConfigError, match="needs a run directory"):
        train(config("tensorboard"), None, data=data, quiet=True)


# --------------------------------------------------------------------------- the seam


class Recorder(Callback):
    def __init__(self, stop_at: int | None = None) -> None:
        self.events: list[tuple] = []
        self.stop_at = stop_at

    def on_train_start(self, trainer):
        self.events.append(("start", trainer.state.epoch))

    def on_epoch_end(self, trainer, epoch, logs):
        self.events.append(("epoch", epoch, sorted(logs)))
        if epoch == self.stop_at:
            trainer.request_stop("asked by the test")

    def on_train_end(self, trainer, status):
        self.events.append(("end", status))


def test_callbacks_see_every_epoch_and_can_stop_the_run(data, tmp_path):
    recorder = Recorder(stop_at=2)
    result = train(config(epochs=4), tmp_path / "run", data=data, quiet=True, callbacks=[recorder])
    assert result.status == "stopped" and len(result.history) == 2
    assert [e[0] for e in recorder.events] == ["start", "epoch", "epoch", "end"]
    assert recorder.events[0] == ("start", 0) and recorder.events[-1] == ("end", "stopped")
    assert {"train_loss", "val_loss", "lr"} <= set(recorder.events[1][2])


# --------------------------------------------------------------------------- TensorBoard


def test_tensorboard_events_hold_every_epoch_and_the_final_metrics(data, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = tmp_path / "run"
    result = train_and_evaluate(config("tensorboard"), run_dir, data)
    events = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    columns = [c for c in result.history[0] if c != "epoch"]  # loss parts, lr, seconds
    assert {"train_loss", "train_reconstruction", "val_loss", "val_reconstruction", "lr"} <= set(
        columns
    )
    for column in columns:
        logged = events.Scalars(scalar_name(column))  # train_loss -> train/loss
        assert [e.step for e in logged] == [1, 2]
        expected = [row[column] for row in result.history]
        assert [e.value for e in logged] == pytest.approx(expected, rel=1e-6)
    assert "final/reconstruction.mse" in events.Tags()["scalars"]
    assert "figures/reconstructions" in events.Tags()["images"]


# --------------------------------------------------------------------------- MLflow


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One MLflow store for the module (creating one migrates its schema: seconds)."""
    return tmp_path_factory.mktemp("mlflow")


def mlflow_runs(store, **tags: str) -> list:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("aelab").experiment_id
    runs = client.search_runs([experiment])
    return client, [r for r in runs if all(r.data.tags.get(k) == v for k, v in tags.items())]


def test_mlflow_run_holds_params_epochs_final_metrics_and_artifacts(data, store):
    run_dir = store / "run"  # the default store: mlflow.db beside the run directory
    # one epoch, then resumed to two: the resumed training continues the same MLflow run
    train(config("mlflow", epochs=1), run_dir, data=data, quiet=True)
    result = train_and_evaluate(config("mlflow"), run_dir, data, resume=True)
    client, (run,) = mlflow_runs(store, **{"aelab.run_dir": str(run_dir.resolve())})
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    assert run.data.tags["aelab.run_dir"] == str(run_dir.resolve())
    assert run.data.params["model.latent_dim"] == "4"
    assert run.data.params["train.track"] == "['mlflow']"
    history = sorted(
        (m.step, m.value) for m in client.get_metric_history(run.info.run_id, "val_loss")
    )
    assert [step for step, _ in history] == [1, 2]
    assert [v for _, v in history] == pytest.approx([row["val_loss"] for row in result.history])
    assert "reconstruction.mse" in run.data.metrics and "pca.mse" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.toml", "metrics.json", "report.html", "figures"} <= artifacts
    figures = {a.path for a in client.list_artifacts(run.info.run_id, "figures")}
    assert "figures/reconstructions.png" in figures
    assert (store / "mlartifacts").is_dir()  # beside the store, not in the working dir


def test_a_study_is_a_parent_run_with_its_runs_nested(data, store, tmp_path):
    spec = f"mlflow=sqlite:///{store / 'mlflow.db'}"  # any URI; here the module's store
    with study_run(tmp_path, [spec], kind="sweep", params={"vary.model.latent_dim": "2,4"}):
        for name in ("a", "b"):
            train(config(spec, epochs=1), tmp_path / name, data=data, quiet=True)
        (tmp_path / "comparison.csv").write_text("run\na\nb\n")
    client, runs = mlflow_runs(store)
    runs = {r.info.run_name: r for r in runs}
    parent = runs[tmp_path.name]
    assert parent.data.tags["aelab.kind"] == "sweep" and parent.info.status == "FINISHED"
    assert {runs[n].data.tags["mlflow.parentRunId"] for n in "ab"} == {parent.info.run_id}
    assert [a.path for a in client.list_artifacts(parent.info.run_id)] == ["comparison.csv"]
