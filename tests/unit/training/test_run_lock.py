"""One writer per run folder: a second process that would train, evaluate or merge metrics
into a run being trained is refused, with the PID of the process that holds it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from train_child import kill_test_config
from training_doubles import tiny_data

from aelab.errors import CheckpointError
from aelab.evaluation import evaluate_run
from aelab.rundir import LOCK, merge_metrics, read_history, read_metrics, run_lock
from aelab.training import train

CHILD = Path(__file__).with_name("train_child.py")
EPOCHS, SLEEP = 4, 0.05


@pytest.fixture
def training(tmp_path, faulty_family):
    """A child process training ``run`` and holding its lock: it announces its first step
    of epoch 2 and holds there until killed, so it is still training however long the
    refused calls take on a loaded machine."""
    run, marker = tmp_path / "run", tmp_path / "held"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HOLD_AT_STEP": f"7:{marker}"}
    cmd = [sys.executable, str(CHILD), str(run), str(EPOCHS), str(SLEEP)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120  # a bound on a hang, not a window to hit
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the child trained no epoch in 120 s"
            time.sleep(0.01)
        yield run, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)


def test_a_second_writer_is_refused_while_a_run_trains(training):
    run, proc = training
    assert (run / LOCK).read_text().split() == [str(proc.pid), "training"]
    busy = rf"{run} is in use: process {proc.pid} is training it"
    cfg = kill_test_config(EPOCHS, SLEEP)
    with pytest.raises(CheckpointError, match=busy):
        train(cfg.override(["train.epochs=12"]), run, data=tiny_data(), resume=True, quiet=True)
    with pytest.raises(CheckpointError, match=busy):
        evaluate_run(run, data=tiny_data(), quiet=True)
    with pytest.raises(CheckpointError, match=busy):
        merge_metrics(run, "downstream", {"accuracy": 1.0})
    assert proc.poll() is None, "the child stopped while the others were refused"

    # SIGKILL: the kernel drops the lock with the process; nothing stale is left to clear
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    result = train(cfg, run, data=tiny_data(), resume=True, quiet=True)
    assert [r["epoch"] for r in read_history(run)] == list(range(1, EPOCHS + 1))
    assert read_metrics(run)["run"]["epochs"] == EPOCHS == len(result.history)


def test_the_lock_is_reentrant_in_one_process_and_released_after(tmp_path):
    with run_lock(tmp_path, "training"):
        merge_metrics(tmp_path, "run", {"epochs": 1})  # the trainer merges under its lock
        with run_lock(tmp_path, "evaluating"):
            pass
        assert (tmp_path / LOCK).read_text().split() == [str(os.getpid()), "training"]
    assert (tmp_path / LOCK).read_text() == ""
    with run_lock(tmp_path, "evaluating"):
        pass


def test_a_missing_folder_is_not_created_by_a_reader(tmp_path):
    with run_lock(tmp_path / "nowhere", "evaluating"):
        pass
    assert not (tmp_path / "nowhere").exists()
