"""Progress output: plain lines off a terminal, a bar on a terminal or in Jupyter."""

from __future__ import annotations

import io
import sys
import types

from aelab.training import progress
from aelab.training.progress import Progress, in_notebook


def run_epoch(p: Progress) -> None:
    p.start_epoch(1, steps=3)
    for _ in range(3):
        p.step()
    p.end_epoch(1, {"train_loss": 0.5, "val_loss": 0.25}, seconds=1.0)
    p.close()


def test_plain_lines_when_the_output_is_not_a_terminal():
    stream = io.StringIO()
    run_epoch(Progress(2, stream=stream))
    assert stream.getvalue() == "epoch 1/2  loss 0.5000  val_loss 0.2500  1.0s  eta 1s\n"


def test_a_plain_python_process_is_not_a_notebook(monkeypatch):
    assert not in_notebook()
    # IPython in a terminal (not a kernel) is not a notebook either
    terminal = type("TerminalInteractiveShell", (), {})()
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: terminal))
    assert not in_notebook()


def test_a_jupyter_kernel_gets_a_bar(monkeypatch):
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    stream = io.StringIO()
    p = Progress(2, stream=stream)
    p.start_epoch(1, steps=3)
    assert p.bar is not None and p.bar.total == 3
    run_epoch(p)
    out = stream.getvalue()
    assert "epoch 1/2" in out and "3/3" in out and "eta" in out  # the bar, with its postfix
    assert "epoch 1/2  loss" not in out  # not the plain line
