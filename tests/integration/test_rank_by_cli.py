"""``--rank-by`` on the command line: a metric that is not in the catalog, or one that does
not compare across runs, is a one-line user error (exit 2) with a suggestion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aelab.cli.main import main

pytestmark = pytest.mark.integration


def handmade(path: Path, mse: float) -> Path:
    path.mkdir(parents=True)
    (path / "config.toml").write_text(
        '[data]\ndataset = "fashion-mnist"\n[model]\nfamily = "dense"\nlatent_dim = 16\n',
        encoding="utf-8",
    )
    metrics = {"reconstruction": {"loss": 0.3, "bce": 0.3, "mse": mse, "ssim": 0.5}}
    (path / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("rank_by", "message"),
    [
        ("test_mes", "unknown metric 'test_mes'"),
        ("test_loss", "cannot rank runs by test_loss"),
    ],
)
def test_bad_rank_by_is_one_line(rank_by, message, tmp_path: Path, capsys) -> None:
    runs = [str(handmade(tmp_path / n, m)) for n, m in (("a", 0.02), ("b", 0.01))]
    argv = ["compare", *runs, "--out", str(tmp_path / "cmp"), "--rank-by", rank_by]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    if rank_by == "test_mes":
        assert "Did you mean 'test_mse'?" in err
    else:
        assert "test_mse" in err  # the metrics it may rank by
    assert not (tmp_path / "cmp").exists()


def test_rank_by_names_the_best_run(tmp_path: Path, capsys) -> None:
    runs = [str(handmade(tmp_path / n, m)) for n, m in (("a", 0.02), ("b", 0.01))]
    argv = ["compare", *runs, "--out", str(tmp_path / "cmp"), "--rank-by", "test_mse"]
    assert main(argv) == 0
    assert "Best by test MSE (lower is better): b 0.01000" in capsys.readouterr().out
