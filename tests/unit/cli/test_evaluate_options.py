"""`aelab evaluate --map-projection`: parsed, validated by argparse, passed to evaluate_run."""

from __future__ import annotations

import pytest

from aelab.cli import evaluate as evaluate_cli
from aelab.cli.main import build_parser, main
from aelab.evaluation.code_map import PROJECTIONS


def test_map_projection_choices_are_the_evaluations() -> None:
    assert evaluate_cli.MAP_PROJECTIONS == PROJECTIONS


@pytest.mark.parametrize("projection", PROJECTIONS)
def test_map_projection_parses(projection: str) -> None:
    args = build_parser().parse_args(["evaluate", "runs/x", "--map-projection", projection])
    assert args.map_projection == projection


def test_map_projection_defaults_to_pca() -> None:
    assert build_parser().parse_args(["evaluate", "runs/x"]).map_projection == "pca"


def test_unknown_map_projection_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["evaluate", "runs/x", "--map-projection", "isomap"])
    assert exc.value.code == 2
    assert "invalid choice: 'isomap'" in capsys.readouterr().err


def test_map_projection_reaches_evaluate_run(monkeypatch, tmp_path) -> None:
    seen = {}

    def fake_evaluate_run(run, **kwargs):
        seen.update(kwargs, run=run)
        return {}

    monkeypatch.setattr("aelab.evaluation.evaluate.evaluate_run", fake_evaluate_run)
    assert main(["evaluate", str(tmp_path), "--map-projection", "tsne", "--quiet"]) == 0
    assert seen["map_projection"] == "tsne" and seen["run"] == str(tmp_path)
