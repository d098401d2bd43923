"""A run killed with SIGKILL mid-epoch and resumed ends with every epoch exactly once, and
with the same numbers as a run that was never interrupted."""

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

from aelab.rundir import read_history, read_metrics
from aelab.training import train
from aelab.training.checkpoint import load_state, state_path

pytestmark = pytest.mark.integration

CHILD = Path(__file__).with_name("train_child.py")
EPOCHS, SLEEP = 5, 0.03  # 6 steps of >= 30 ms: an epoch takes about 0.2 s


def wait_for_epochs(run: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the child exited early ({proc.returncode}): {proc.stderr.read()}")
        if len(read_history(run)) >= n:
            return
        time.sleep(0.005)
    pytest.fail(f"the child did not finish {n} epochs in {timeout} s")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkill_mid_epoch_then_resume(tmp_path, faulty_family):
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(run), str(EPOCHS), str(SLEEP)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        wait_for_epochs(run, 2, proc)
        time.sleep(3 * SLEEP)  # a few steps into epoch 3
        assert proc.poll() is None, "the child finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed_after = load_state(state_path(run))["epoch"]
    assert 2 <= killed_after < EPOCHS
    assert "run" not in read_metrics(run)  # the killed run never said it finished

    cfg = kill_test_config(EPOCHS, 0.0)  # sleeping is not part of the numbers
    cfg_saved = kill_test_config(EPOCHS, SLEEP)
    resumed = train(cfg_saved, run, data=tiny_data(), resume=True, quiet=True)
    history = read_history(run)
    assert [r["epoch"] for r in history] == list(range(1, EPOCHS + 1))
    assert read_metrics(run)["run"]["epochs_completed"] == EPOCHS

    def losses(rows):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    uninterrupted = train(cfg, None, data=tiny_data(), quiet=True)
    assert losses(resumed.history) == losses(uninterrupted.history) == losses(history)
