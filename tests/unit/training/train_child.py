"""A training run in its own process, for the kill test (SIGKILL mid-epoch).

    python train_child.py RUN_DIR EPOCHS SLEEP_PER_STEP [DIE_AT_WRITE]

Trains the ``tiny-faulty`` double on the tiny in-memory data, one thread. DIE_AT_WRITE=N:
the process dies (``os._exit``, no cleanup, like SIGKILL) when its N-th atomic write has
written its temp file, before the rename.
"""

from __future__ import annotations

import os
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
    if len(sys.argv) > 4:
        die_at, real, count = int(sys.argv[4]), os.replace, [0]

        def replace(src, dst):
            count[0] += 1
            if count[0] == die_at:
                os._exit(9)
            return real(src, dst)

        os.replace = replace
    train(kill_test_config(epochs, sleep), run_dir, data=td.tiny_data(), quiet=True)
