"""Training: the loop (trainer.py), checkpoints, DDP, progress and device choices.

``train(config, run_dir)`` trains any registered family and writes a run directory;
``load_run(run_dir)`` gives the trained model back.
"""

from aelab.training.trainer import TrainResult, load_run, train

__all__ = ["TrainResult", "load_run", "train"]
