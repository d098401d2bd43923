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


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkill_mid_epoch_then_resume(tmp_path, faulty_family):
    run, marker = tmp_path / "run", tmp_path / "held"
    # the child announces step 3 of epoch 3 (6 steps an epoch) and holds there until killed
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HOLD_AT_STEP": f"15:{marker}"}
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(run), str(EPOCHS), str(SLEEP)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120  # a bound on a hang, not a window to hit
        while not marker.exists():
            assert proc.poll() is None, f"the child exited early: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "the child did not reach epoch 3 in 120 s"
            time.sleep(0.01)
        assert marker.read_text().split() == ["epoch", "3", "step", "3"]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed_after = load_state(state_path(run))["epoch"]
    assert killed_after == 2  # epoch 3 was under way: its checkpoint never committed
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
