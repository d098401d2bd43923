"""aelab.studies.ray_executor: each run a Ray task on a local 2-CPU Ray instance, the same
numbers as the local executor, failures reported with their one-line error."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator

import pytest

from aelab.errors import ConfigError
from aelab.rundir import read_metrics
from aelab.studies.ray_executor import RayExecutor, import_ray, task_error
from aelab.studies.runner import RunState, RunTask, run_configs

# One local Ray instance at a time on this machine: these tests and the README doctest's Ray
# examples run in one xdist worker (`--dist loadgroup`), one after the other.
pytestmark = pytest.mark.xdist_group("ray-and-readme")


@pytest.fixture(scope="module")
def ray() -> Iterator[object]:
    """A local Ray instance with 2 CPUs for this module, shut down after."""
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'aelab[ray]'")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_runs_match_the_local_executor(ray, three_configs, three_runs, tmp_path) -> None:
    bad = next(iter(three_configs.values())).override(["model.input_shape=[3,32,32]"])
    configs = {**three_configs, "bad": bad}
    outcome = run_configs(configs, tmp_path, executor=RayExecutor(), log=lambda msg: None)
    # The run that failed on a worker is reported with the training's own error line.
    assert list(outcome.failed) == ["bad"]
    assert outcome.failed["bad"].startswith(
        "model.input_shape=[3, 32, 32] does not match the data ([1, 28, 28])"
    )
    bad_log = (tmp_path / "bad" / "train.log").read_text(encoding="utf-8")
    assert f"error: {outcome.failed['bad']}" in bad_log
    # Bit-identical on CPU to the same configs trained in process (same seeds).
    for local in three_runs:
        remote = outcome.done[local.name]
        assert read_metrics(remote)["reconstruction"] == read_metrics(local)["reconstruction"]
        train_log = (remote / "train.log").read_text(encoding="utf-8")
        assert f"train {local.name} on {socket.gethostname()}" in train_log


def test_unwritable_run_directory_names_the_host_and_path(ray, base_config, tmp_path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    run_dir = tmp_path / "a-file" / "run"
    task = RunTask("run", base_config, run_dir, RunState.TRAIN)
    [(name, error)] = list(RayExecutor().map([task]))
    assert name == "run"
    assert error is not None and error.startswith(
        f"Ray worker on {socket.gethostname()} cannot write the run directory {run_dir} "
    )


def test_a_task_that_raises_is_one_line(ray) -> None:
    @ray.remote
    def fail() -> None:
        raise ValueError("the original message\nand more detail")

    with pytest.raises(ray.exceptions.RayTaskError) as info:
        ray.get(fail.remote())
    assert task_error(info.value) == "ValueError: the original message"


def test_missing_ray_and_bad_resources(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(
        ConfigError, match=r"^--executor ray needs Ray.*pip install 'aelab\[ray\]'$"
    ):
        import_ray()
    with pytest.raises(ConfigError, match="cpus_per_run=0 is invalid"):
        RayExecutor(cpus_per_run=0)
    with pytest.raises(ConfigError, match="gpus_per_run=-1 is invalid"):
        RayExecutor(gpus_per_run=-1)
    assert list(RayExecutor().map([])) == []  # nothing to do: Ray is not even imported
