"""A training run in its own process, for the kill test (SIGKILL mid-epoch).

    python train_child.py RUN_DIR EPOCHS SLEEP_PER_STEP

Trains the ``tiny-faulty`` double on the tiny in-memory data, one thread.
"""

from __future__ import annotations

import sys

import torch
import training_doubles as td

from aelab.training import train


def kill_test_config(epochs: int, sleep: float):
    return td.tiny_config(td.FAMILY, epochs=epochs).override([f"model.sleep={sleep}"])


if __name__ == "__main__":
    torch.set_num_threads(1)
    run_dir, epochs, sleep = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    td.register()
    train(kill_test_config(epochs, sleep), run_dir, data=td.tiny_data(), quiet=True)
