"""Hostile inputs to the CLI, one per class of issue 25 ("Hardening II"): each is exit 2
with ONE line on stderr naming the file, key or URL, what was expected and how to fix it;
no traceback, no hang. Servers are only ever tried on 127.0.0.1, at a closed port."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aelab.cli.main import main
from fakedata import write_idx_dataset

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("AELAB_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _idx(tmp: Path) -> Path:
    write_idx_dataset(tmp / "idx", n_train=12, n_test=4, shape=(6, 6), gz=False)
    return tmp / "idx"


def _tune(tmp: Path, *extra: str) -> list[str]:
    d = _idx(tmp)
    return [
        "tune",
        "--preset",
        "r1-fashion-sparse",
        "--dataset",
        f"idx:{d}",
        "--trials",
        "1",
        "--out",
        "t",
        *extra,
    ]


def _tune_file(tmp: Path, search: str) -> list[str]:
    (tmp / "tune.toml").write_text(
        f'[model]\nfamily = "dense"\nlatent_dim = 8\n\n[search]\n{search}'
    )
    return ["tune", "--config", str(tmp / "tune.toml"), "--trials", "1", "--out", "t"]


def storage_dialect(tmp: Path, mp) -> list[str]:
    return _tune(tmp, "--search", "model.latent_dim=int:2:4", "--storage", "sqlit:///s.db")


def storage_missing_folder(tmp: Path, mp) -> list[str]:
    return _tune(tmp, "--search", "model.latent_dim=int:2:4", "--storage", "sqlite:///no/s.db")


def storage_corrupt(tmp: Path, mp) -> list[str]:
    (tmp / "t").mkdir()
    (tmp / "t" / "study.db").write_bytes(b"SQLite format 3\x00" + bytes(40))
    return _tune(tmp, "--search", "model.latent_dim=int:2:4")


def search_inf(tmp: Path, mp) -> list[str]:
    return _tune(tmp, "--search", "train.lr=float:1e-4:inf")


def search_int64(tmp: Path, mp) -> list[str]:
    return _tune(tmp, "--search", "model.latent_dim=int:1:1e30")


def search_choices_string(tmp: Path, mp) -> list[str]:
    return _tune_file(tmp, '"model.sparsity.kind" = {type = "categorical", choices = "none"}\n')


def search_log_string(tmp: Path, mp) -> list[str]:
    entry = '{type = "float", low = 1e-4, high = 1e-2, log = "false"}'
    return _tune_file(tmp, f'"train.lr" = {entry}\n')


def search_low_bool(tmp: Path, mp) -> list[str]:
    return _tune_file(tmp, '"model.latent_dim" = {type = "int", low = true, high = 8}\n')


def search_scalar(tmp: Path, mp) -> list[str]:
    return _tune_file(tmp, '"model.latent_dim" = 8\n')


def _train(tmp: Path, *extra: str) -> list[str]:
    d = _idx(tmp)
    sets = ["--set", "data.val_size=2", "--set", "train.threads=1"]
    args = ["train", "--preset", "r1-fashion-sparse", "--dataset", f"idx:{d}", "--epochs", "1"]
    return [*args, *sets, "--out", "run", "--no-eval", *extra]


def mlflow_file_store(tmp: Path, mp) -> list[str]:
    return _train(tmp, "--track", f"mlflow=file://{tmp}/mlruns")


def mlflow_scheme(tmp: Path, mp) -> list[str]:
    return _train(tmp, "--track", "mlflow=ftp://127.0.0.1/x")


def mlflow_unreachable(tmp: Path, mp) -> list[str]:
    pytest.importorskip("mlflow")
    return _train(tmp, "--track", f"mlflow=http://127.0.0.1:{closed_port()}")


def _sweep(tmp: Path, *extra: str) -> list[str]:
    d = _idx(tmp)
    return [
        "sweep",
        "--preset",
        "r1-fashion-sparse",
        "--dataset",
        f"idx:{d}",
        "--vary",
        "model.latent_dim=2,3",
        "--epochs",
        "1",
        "--executor",
        "ray",
        "--out",
        "sw",
        *extra,
    ]


def ray_malformed(tmp: Path, mp) -> list[str]:
    return _sweep(tmp, "--ray-address", "http://head")


def ray_no_head(tmp: Path, mp) -> list[str]:
    pytest.importorskip("ray")
    return _sweep(tmp, "--ray-address", f"127.0.0.1:{closed_port()}")


def _trained(tmp: Path) -> Path:
    assert main(_train(tmp, "--quiet")) == 0
    return tmp / "run"


def metrics_binary(tmp: Path, mp) -> list[str]:
    run = _trained(tmp)
    (run / "metrics.json").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(32))
    return ["report", str(run)]


def metrics_cluster_garbage(tmp: Path, mp) -> list[str]:
    run = _trained(tmp)
    (run / "metrics.json").write_text('{"run": {"status": "finished"}, "cluster": "garbage"}')
    return ["compare", str(run), "--out", "cmp"]


def state_stray_bytes(tmp: Path, mp) -> list[str]:
    run = _trained(tmp)
    (run / "checkpoints" / "last.state.pt").write_bytes(b"a")
    return ["export", str(run), "--format", "torchscript", "--out", "m.pt"]


def compare_not_evaluated(tmp: Path, mp) -> list[str]:
    train = _train(tmp, "--quiet")
    out = train.index("--out") + 1
    for name in ("a", "b"):  # trained with --no-eval into one folder
        assert main([*train[:out], f"runs/{name}", *train[out + 1 :]]) == 0
    return ["compare", "runs", "--out", "cmp"]


def npy_big_header(tmp: Path, mp) -> list[str]:
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 6, 6), }".ljust(99_987) + "\n"
    (tmp / "big.npy").write_bytes(
        b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header.encode() + bytes(72)
    )
    return ["data", "info", f"npy:{tmp / 'big.npy'}"]


CASES: dict[str, tuple[Callable[[Path, pytest.MonkeyPatch], list[str]], str]] = {
    # A. Optuna storage and search space
    "storage: unknown dialect": (storage_dialect, "unknown database 'sqlit'"),
    "storage: missing folder": (storage_missing_folder, "does not exist; create it (mkdir -p"),
    "storage: corrupt study.db": (storage_corrupt, "is not an intact SQLite database"),
    "search: inf bound": (search_inf, "high=inf is invalid: expected a finite number"),
    "search: past int64": (search_int64, "(int64)"),
    "search: choices a string": (search_choices_string, "choices='none' is invalid"),
    "search: log a string": (search_log_string, "log='false' is invalid"),
    "search: low a boolean": (search_low_bool, "low=True is invalid: expected a number"),
    "search: entry a scalar": (search_scalar, "must be a table with a type, found 8"),
    # B. MLflow
    "mlflow: file store": (mlflow_file_store, "MLflow's file store, which MLflow refuses"),
    "mlflow: unknown scheme": (mlflow_scheme, "unknown scheme 'ftp'"),
    "mlflow: server down": (mlflow_unreachable, "did not answer within"),
    # C. Ray
    "ray: malformed address": (ray_malformed, "--ray-address 'http://head' is invalid"),
    "ray: no head there": (ray_no_head, "no Ray head answers at 127.0.0.1:"),
    # D. Damaged inputs
    "metrics.json binary": (metrics_binary, "metrics.json is not UTF-8 JSON text"),
    "metrics.json cluster garbage": (metrics_cluster_garbage, "section 'cluster' must be"),
    "resume state stray bytes": (state_stray_bytes, "last.state.pt is corrupt"),
    "compare runs not evaluated": (compare_not_evaluated, "holds 2 finished runs, none evaluated"),
    "npy header of 100 kB": (npy_big_header, "header is 99,988 bytes, more than NumPy reads"),
}


def run_cli(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_input_is_one_line_exit_2_within_seconds(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    make_argv, phrase = CASES[case]
    argv = make_argv(tmp_path, monkeypatch)
    capsys.readouterr()  # what setting the case up printed
    start = time.monotonic()
    assert run_cli(argv) == 2
    assert time.monotonic() - start < 30  # no hang: the bounded timeouts are seconds
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert phrase in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"aelab {argv[0]}: error: ")
