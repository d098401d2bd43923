"""Training: the loop (trainer.py), checkpoints, DDP, progress and device choices.

``train(config, run_dir)`` trains any registered family and writes a run directory;
``load_run(run_dir)`` gives the trained model back; ``train(..., callbacks=[...])`` takes
:class:`Callback` subclasses (progress, checkpoints and early stopping are built-in ones).
"""

from aelab.training.callbacks import Callback
from aelab.training.checkpoint import load_run
from aelab.training.history import History
from aelab.training.trainer import Trainer, TrainResult, train

__all__ = ["Callback", "History", "TrainResult", "Trainer", "load_run", "train"]
