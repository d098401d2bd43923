"""The public Python API: every CLI command has a function in ``aelab.__all__``, ``dir(aelab)``
is that list, both ``train`` functions return one history shape, the loaded model samples,
probes and exports, and the examples import public names only."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest
import torch

import aelab
from aelab.cli.main import SUBCOMMANDS
from fakedata import tiny_splits

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"epochs": 2, "batch_size": 16, "threads": 1, "model__latent_dim": 4}
SERVERS = {"serve", "explore"}  # long-running servers: aelab.web.app / aelab.web.explore
COMMAND_FUNCTIONS = {  # subcommand -> its function(s) in aelab
    "anomaly": ["anomaly"],
    "cluster": ["cluster"],
    "compare": ["compare"],
    "data": ["load_dataset", "list_datasets"],
    "embed": ["embed"],
    "evaluate": ["evaluate"],
    "export": ["export"],
    "family-study": ["family_study"],
    "metrics": ["metrics_catalog"],
    "presets": ["load_preset", "list_presets"],
    "probe": ["probe"],
    "report": ["render_report"],
    "sweep": ["sweep"],
    "train": ["train"],
    "tune": ["tune"],
}


def test_every_subcommand_has_a_public_function() -> None:
    assert set(SUBCOMMANDS) - SERVERS == set(COMMAND_FUNCTIONS)
    for command, names in COMMAND_FUNCTIONS.items():
        for name in names:
            assert name in aelab.__all__, f"aelab {command}: aelab.{name} is not public"
            assert inspect.isfunction(getattr(aelab, name)), f"aelab.{name} is not a function"


def test_dir_is_the_api_and_every_name_resolves() -> None:
    assert dir(aelab) == sorted(aelab.__all__)
    assert not {"Any", "importlib", "annotations"} & set(dir(aelab))
    for name in aelab.__all__:
        getattr(aelab, name)
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        aelab.nonsense  # noqa: B018


def _imported_modules(path: Path) -> list[str]:
    modules = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.append(node.module)
            if node.module == "aelab":
                bad = [a.name for a in node.names if a.name not in aelab.__all__]
                assert not bad, f"{path.name} imports non-public {bad} from aelab"
    return modules


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.py")), ids=lambda p: p.name)
def test_examples_import_public_names_only(path: Path) -> None:
    private = [m for m in _imported_modules(path) if m.startswith("aelab.")]
    assert not private, f"{path.name} imports {private}; use `import aelab` and aelab.__all__"


def test_both_train_functions_return_one_history_shape(tmp_path) -> None:
    from aelab.training import train as train_loop

    splits = tiny_splits(n=80, shape=(1, 8, 8), classes=4, val=16)
    run = aelab.train(
        "r1-fashion-sparse", data=splits, out=tmp_path / "a", evaluate=False, progress=False,
        **SMALL,
    )  # fmt: skip
    result = train_loop(run.config, None, data=splits, quiet=True)
    for history in (run.history, result.history):
        assert isinstance(history, aelab.History) and len(history) == 2
        assert history[-1]["epoch"] == 2 and list(history["epoch"]) == [1, 2]
        assert history["val_loss"].shape == (2,) and "val_loss" in history
        assert history.columns[0] == "epoch" and set(history.to_dict()) == set(history.columns)
    assert run.history.columns == result.history.columns
    with pytest.raises(KeyError, match="no column 'nope'"):
        run.history["nope"]


def test_loaded_model_samples_probes_and_exports(tmp_path) -> None:
    splits = tiny_splits(n=96, shape=(1, 28, 28), classes=3, val=16)
    run = aelab.train(
        "r4-vae", data=splits, out=tmp_path / "vae", evaluate=False, progress=False, **SMALL
    )
    model = aelab.load(run.run_dir)
    assert isinstance(model, aelab.TrainedModel)

    a, b = model.sample(5, seed=1), model.sample(5, seed=1)
    assert a.shape == (5, 1, 28, 28) and a.dtype == np.float32
    assert (a >= 0).all() and (a <= 1).all()
    np.testing.assert_array_equal(a, b)

    probes = model.probe(splits, cache=False)
    assert set(probes) == {"autoencoder", "pca", "pixels"}
    assert 0 <= probes["autoencoder"]["logreg_acc"] <= 1

    path = model.export(tmp_path / "enc.pt", format="torchscript", part="encoder")
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        expected = model.model.encode(x)
    torch.testing.assert_close(torch.jit.load(str(path))(x), expected)
    again = aelab.export(run.run_dir, tmp_path / "enc2.pt", format="torchscript", part="encoder")
    torch.testing.assert_close(torch.jit.load(str(again))(x), expected)


def test_metrics_catalog_is_what_aelab_metrics_lists() -> None:
    rankable = aelab.metrics_catalog(rankable=True)
    assert rankable and all(m.comparable and m.direction for m in rankable)
    assert {m.section for m in aelab.metrics_catalog("cluster")} == {"cluster"}
    with pytest.raises(aelab.ConfigError, match=r"section 'clustr' is unknown.*cluster"):
        aelab.metrics_catalog("clustr")
