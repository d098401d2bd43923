"""``aelab compare OUT`` on a folder of runs (a sweep, a family study, a tune): its finished,
evaluated runs, in name order; unfinished or pruned ones and other files are left out."""

from __future__ import annotations

from aelab.config import RunConfig
from aelab.rundir import merge_metrics
from aelab.studies.compare import expand_run_dirs


def fake_run(path, status: str, *, evaluated: bool = True):
    path.mkdir(parents=True)
    RunConfig().save(path / "config.toml")
    merge_metrics(path, "run", {"status": status})
    if evaluated:
        merge_metrics(path, "reconstruction", {"mse": 0.01})
    return path


def test_a_folder_of_runs_expands_to_its_finished_runs(tmp_path):
    out = tmp_path / "tune"
    done = [
        fake_run(out / "trial-0002", "completed"),
        fake_run(out / "trial-0000", "early_stopped"),
    ]
    fake_run(out / "trial-0001", "stopped", evaluated=False)  # pruned: trained, not evaluated
    fake_run(out / "trial-0003", "interrupted", evaluated=False)
    (out / "comparison").mkdir()
    (out / "study.db").write_bytes(b"")
    single = fake_run(tmp_path / "single", "completed")
    assert expand_run_dirs([out, single]) == [*sorted(done), single]
    # a folder with no finished run is passed on as is (compare then says what is wrong)
    assert expand_run_dirs([tmp_path / "missing"]) == [tmp_path / "missing"]
