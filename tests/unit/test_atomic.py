"""Atomic writes: a unique O_EXCL temp file beside the target (a planted symlink is never
followed), nothing left behind on failure, and a full disk reported in one line."""

from __future__ import annotations

import os
import stat

from aelab.atomic import atomic_write_text, device_of
from aelab.cli.main import main
from aelab.config import RunConfig
from aelab.rundir import merge_metrics


def test_a_planted_symlink_at_an_old_temp_name_is_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    run = tmp_path / "run"
    run.mkdir()
    # the names earlier releases wrote through: config.toml.tmp and .<name>.tmp<pid>
    (run / "config.toml.tmp").symlink_to(victim)
    (run / f".metrics.json.tmp{os.getpid()}").symlink_to(victim)
    RunConfig().save(run / "config.toml")
    merge_metrics(run, "run", {"epochs": 1})
    assert victim.read_text() == "precious"
    assert RunConfig.load(run / "config.toml") == RunConfig()
    assert not (run / "config.toml").is_symlink()


def test_written_files_get_the_mode_open_would_give(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    atomic_write_text(tmp_path / "a.txt", "x")
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o666 & ~umask  # not 0600


def test_the_cli_reports_a_full_disk_in_one_line_with_exit_code_1(tmp_path, disk_full, capsys):
    run = tmp_path / "run"
    run.mkdir()
    RunConfig().save(run / "config.toml")
    merge_metrics(run, "run", {"epochs": 1})
    disk_full("report.html")
    assert main(["report", str(run)]) == 1
    err = capsys.readouterr().err
    assert (
        err
        == f"aelab report: error: no space left on {device_of(run)} while writing {run / 'report.html'}\n"
    )
    assert sorted(p.name for p in run.iterdir()) == [".lock", "config.toml", "metrics.json"]
