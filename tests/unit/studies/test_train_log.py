"""A run's train.log is opened as the checkpoints are: a symlink planted at its path is
refused (one line naming it), never followed and appended to; the runner, the worker's
subprocess path, tune's output_to and the Ray executor all open it through open_log."""

from __future__ import annotations

import pytest

from aelab.errors import AelabError
from aelab.studies.runner import open_log
from aelab.studies.tune import output_to


@pytest.fixture
def planted(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.log").symlink_to(victim)
    return run / "train.log", victim


def test_open_log_refuses_a_planted_symlink(planted):
    log, victim = planted
    with pytest.raises(AelabError, match=r"train\.log is a symbolic link") as info:
        open_log(log)
    assert "\n" not in str(info.value)
    assert victim.read_text() == "precious\n"


def test_tune_output_to_refuses_a_planted_symlink(planted):
    log, victim = planted
    with pytest.raises(AelabError, match="symbolic link"), output_to(log):
        print("trial output")
    assert victim.read_text() == "precious\n"


def test_open_log_appends_to_a_plain_file(tmp_path):
    log = tmp_path / "train.log"
    for line in ("one\n", "two\n"):
        with open_log(log) as f:
            f.write(line)
    assert log.read_text() == "one\ntwo\n"
