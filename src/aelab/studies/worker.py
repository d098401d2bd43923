"""One run of a study, done by this process: train (or resume, or retrain) and evaluate the
run directory a study planned, by calling the training and evaluation functions.

The studies' executors start runs through here, never through the ``aelab`` command line:
:class:`aelab.studies.runner.LocalExecutor` (``--jobs N``) as subprocesses ``python -m
aelab.studies.worker --config C --run-dir RUN --state STATE``
(:func:`aelab.studies.runner.worker_command`), each one's output in ``RUN/train.log``, and
``aelab.studies.ray_executor`` as one Ray task per run (:func:`run_one`). The last line of
a failed run is its one-line error.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aelab.config import RunConfig
from aelab.data import load_dataset
from aelab.errors import AelabError
from aelab.studies.runner import Log, RunState, RunTask, run_in_process

EXIT_RUNTIME = 1  # an I/O failure (disk full, permission)
EXIT_FAILED = 2  # the run failed with a user-facing error (config, data, checkpoint)


def run_one(task: RunTask, *, quiet: bool, log: Log = print) -> str | None:
    """Load the data of ``task`` and train and evaluate it here. None on success, else the
    one-line error (also printed, as the last line of the run's output)."""
    try:
        data = load_dataset(task.cfg.data, seed=task.cfg.train.seed, progress=False)
        run_in_process(task, data, quiet=quiet, log=log)
    except AelabError as exc:
        print(f"error: {exc}", flush=True)
        return str(exc)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aelab.studies.worker",
        description="Train (or resume) and evaluate one run directory of a study.",
    )
    parser.add_argument("--config", required=True, help="the run's config TOML")
    parser.add_argument("--run-dir", required=True, help="the run directory")
    parser.add_argument(
        "--state", required=True, choices=[str(s) for s in RunState], help="what the run needs"
    )
    parser.add_argument("--name", help="the run's name in the study (default: the folder's)")
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir)
    try:
        cfg = RunConfig.load(args.config)
    except AelabError as exc:
        print(f"error: {exc}", flush=True)
        return EXIT_FAILED
    task = RunTask(args.name or run_dir.name, cfg, run_dir, RunState(args.state))
    try:
        error = run_one(task, quiet=True)
    except OSError as exc:
        print(f"error: {exc}", flush=True)
        return EXIT_RUNTIME
    return EXIT_FAILED if error is not None else 0


if __name__ == "__main__":
    raise SystemExit(main())
