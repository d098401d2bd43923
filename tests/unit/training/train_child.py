"""A training run in its own process, for the kill test (SIGKILL mid-epoch).

    python train_child.py RUN_DIR EPOCHS SLEEP_PER_STEP [DIE_AT_WRITE]

Trains the ``tiny-faulty`` double on the tiny in-memory data, one thread. DIE_AT_WRITE=N:
the process dies (``os._exit``, no cleanup, like SIGKILL) when its N-th atomic write has
written its temp file, before the rename. ``HOLD_AT_STEP=N:PATH`` in the environment: after
its N-th training step the child writes PATH and holds there until killed, so a test kills
it at a point it announced instead of in a window a poller must catch on a loaded machine.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch
import training_doubles as td

from aelab.training import Callback, train


class HoldAtStep(Callback):
    """After training step ``at`` (counted over epochs): write ``marker``, wait to be killed."""

    def __init__(self, at: int, marker: str) -> None:
        self.at, self.marker, self.steps = at, Path(marker), 0

    def on_train_batch_end(self, trainer, epoch, step, window) -> None:
        self.steps += 1
        if self.steps == self.at:
            tmp = self.marker.with_name(self.marker.name + ".tmp")
            tmp.write_text(f"epoch {epoch} step {step}\n")
            tmp.rename(self.marker)  # whole when it appears
            time.sleep(600)


def hold_callbacks() -> list[Callback]:
    at, _, marker = os.environ.get("HOLD_AT_STEP", "").partition(":")
    return [HoldAtStep(int(at), marker)] if at else []


def kill_test_config(epochs: int, sleep: float):
    return td.tiny_config(td.FAMILY, epochs=epochs).override([f"model.sleep={sleep}"])


if __name__ == "__main__":
    torch.set_num_threads(1)
    run_dir, epochs, sleep = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    td.register()
    if len(sys.argv) > 4:
        die_at, real, count = int(sys.argv[4]), os.replace, [0]

        def replace(src, dst):
            count[0] += 1
            if count[0] == die_at:
                os._exit(9)
            return real(src, dst)

        os.replace = replace
    cfg = kill_test_config(epochs, sleep)
    train(cfg, run_dir, data=td.tiny_data(), quiet=True, callbacks=hold_callbacks())
