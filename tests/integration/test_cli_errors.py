"""The CLI's one rule for errors, case by case: bad input exits 2 with one line, runtime
failures exit 1 naming the file, Ctrl-C exits 130, a closed pipe exits quietly, and no
traceback reaches the user unless --debug asks for it."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aelab.cli import report as report_cli
from aelab.cli.main import main
from aelab.data import idx
from fakedata import write_idx_dataset

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("AELAB_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)


def _idx(tmp: Path) -> Path:
    write_idx_dataset(tmp / "idx", n_train=12, n_test=4, shape=(6, 6), gz=False)
    return tmp / "idx"


def idx_overflow(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    d = _idx(tmp)
    header = struct.pack(">HBB3I", 0, idx.UINT8, 3, 2**31, 2**31, 4)
    (d / "train-images-idx3-ubyte").write_bytes(header + bytes(64))
    return ["data", "info", f"idx:{d}"]


def idx_empty(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    d = _idx(tmp)
    idx.write(d / "t10k-images-idx3-ubyte", np.zeros((0, 6, 6), np.uint8))
    idx.write(d / "t10k-labels-idx1-ubyte", np.zeros(0, np.uint8))
    return ["data", "info", f"idx:{d}"]


def npy_one_image(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    np.save(tmp / "one.npy", np.zeros((1, 6, 6), np.uint8))
    return ["data", "info", f"npy:{tmp / 'one.npy'}"]


def npy_huge_header(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    with open(tmp / "huge.npy", "wb") as f:  # declares 1.5 TiB, holds nothing
        np.lib.format.write_array_header_1_0(
            f, {"descr": "|u1", "fortran_order": False, "shape": (400_000, 2048, 2048)}
        )
    return ["data", "info", f"npy:{tmp / 'huge.npy'}"]


def npz_huge_header(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    npy_huge_header(tmp, mp)
    with zipfile.ZipFile(tmp / "huge.npz", "w") as archive:
        archive.write(tmp / "huge.npy", "images.npy")
    return ["data", "info", f"npz:{tmp / 'huge.npz'}"]


def npz_huge_label(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    np.savez(tmp / "d.npz", images=np.zeros((4, 6, 6), np.uint8), labels=[0, 1, 10**9, 2])
    return ["data", "info", f"npz:{tmp / 'd.npz'}"]


def png_bomb(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    for i, side in enumerate((4, 4, 4, 30)):
        Image.fromarray(np.zeros((side, side), np.uint8)).save(tmp / f"{i}.png")
    mp.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 30x30 = 900 pixels: over twice the limit
    return ["data", "info", f"folder:{tmp}", "--image-size", "4", "4"]


def config_not_utf8(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    (tmp / "run.toml").write_bytes(b'description = "caf\xe9"\n')
    return ["train", "--config", str(tmp / "run.toml")]


def config_folder(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    return ["train", "--config", str(tmp)]


def override_none(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    return ["presets", "show", "r1-fashion-sparse", "--set", "train.epochs=none"]


def threads(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    d = _idx(tmp)
    sets = ["--set", "train.threads=100000", "--set", "data.val_size=2"]
    return ["train", "--preset", "r1-fashion-sparse", "--dataset", f"idx:{d}", *sets, "--out", "r"]


def study_code_size_0(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    return ["family-study", "--latent-dim", "0", "--out", str(tmp / "s")]


def sweep_epochs_0(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    vary = ["--vary", "model.latent_dim=2"]
    return ["sweep", "--preset", "r4-fc", *vary, "--epochs", "0", "--out", str(tmp / "s")]


def out_is_file(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    (tmp / "f").write_text("x")
    return ["compare", "a", "--out", str(tmp / "f")]


def out_under_file(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    (tmp / "f").write_text("x")
    return ["train", "--preset", "r1-fashion-sparse", "--out", str(tmp / "f" / "run")]


def out_unwritable(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    mp.setattr(os, "access", lambda path, mode: Path(path) != tmp)  # root may write anywhere
    return ["sweep", "--preset", "r4-fc", "--vary", "model.latent_dim=2", "--out", str(tmp / "s")]


def export_out_folder(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    return ["export", "run", "--out", str(tmp)]


def disk_full(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    def full(args):
        raise OSError(28, "No space left on device", "runs/r1/report.html")

    mp.setattr(report_cli, "run", full)
    return ["report", "runs/r1"]


def interrupted(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    def ctrl_c(args):
        raise KeyboardInterrupt

    mp.setattr(report_cli, "run", ctrl_c)
    return ["report", "runs/r1"]


CASES: dict[str, tuple[Callable[[Path, pytest.MonkeyPatch], list[str]], int, str]] = {
    "idx dims overflow int64": (idx_overflow, 2, "truncated (expected 18,446,744,073,709,551,"),
    "idx with 0 images": (idx_empty, 2, "the test split holds 0 images"),
    "npy with 1 image": (npy_one_image, 2, "holds 1 image, expected at least 2"),
    "npy header of 1.5 TiB": (npy_huge_header, 2, "(1,677,721,600,000 bytes) but the file"),
    "npz member of 1.5 TiB": (npz_huge_header, 2, "huge.npz:images.npy: the header declares"),
    "npz label 10**9": (npz_huge_label, 2, "label 1,000,000,000 at index 2 is out of range"),
    "png decompression bomb": (png_bomb, 2, "3.png: refused as a possible decompression bomb"),
    "config not UTF-8": (config_not_utf8, 2, "run.toml is not UTF-8 text (byte 0xe9"),
    "config is a folder": (config_folder, 2, "is a folder, expected a TOML file"),
    "none for an int field": (override_none, 2, "train.epochs='none' is invalid"),
    "threads over the CPUs": (threads, 2, f"expected 1 to {os.cpu_count()} (the CPUs"),
    # range checks live in the config dataclasses only; the studies' flags reach them
    "family-study code size 0": (study_code_size_0, 2, "model.latent_dim=0 is invalid"),
    "sweep --epochs 0": (sweep_epochs_0, 2, "train.epochs=0 is invalid: expected an integer"),
    "--out is a file": (out_is_file, 2, "is a file, expected a folder"),
    "--out under a file": (out_under_file, 2, "which is a file, not a folder"),
    "--out not writable": (out_unwritable, 2, "is not writable by this user"),
    "export --out a folder": (export_out_folder, 2, "is a folder, expected a file path"),
    "disk full": (disk_full, 1, "runs/r1/report.html: No space left on device"),
    "Ctrl-C": (interrupted, 130, "aelab report: interrupted"),
}


def run_cli(argv: list[str]) -> int:
    """``main(argv)``, with argparse's own exit (usage errors) as a return code."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize("case", list(CASES))
def test_error_is_one_line_with_its_exit_code(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    make_argv, code, phrase = CASES[case]
    argv = make_argv(tmp_path, monkeypatch)
    assert run_cli(argv) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert phrase in err, err
    lines = err.strip().splitlines()
    # one line; argparse's usage errors put the usage synopsis above theirs
    assert len(lines) == 1 or lines[0].startswith("usage: aelab"), err
    assert lines[-1].startswith(f"aelab {argv[0]}: ")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    (tmp_path / "run.toml").write_bytes(b"\xff")
    with pytest.raises(Exception, match="not UTF-8"):
        main(["--debug", "train", "--config", str(tmp_path / "run.toml")])
    with pytest.raises(Exception, match="not UTF-8"):  # after the subcommand too
        main(["train", "--config", str(tmp_path / "run.toml"), "--debug"])


def _aelab(*args: str, stdout=subprocess.PIPE) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "aelab", *args], stdout=stdout, stderr=subprocess.PIPE
    )


def test_a_closed_pipe_exits_quietly() -> None:
    proc = _aelab("presets", "--json")
    proc.stdout.close()  # the reader is gone before anything is written (| head -0)
    err = proc.stderr.read().decode()
    assert proc.wait() == 141 and err == ""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_a_full_disk_on_stdout_is_one_line_exit_1() -> None:
    with open("/dev/full", "wb") as full:
        proc = _aelab("data", "list", stdout=full)
    _, err = proc.communicate()
    assert proc.returncode == 1
    assert err.decode() == "aelab data: error: <stdout>: No space left on device\n"


def test_help_documents_the_exit_codes(capsys) -> None:
    assert run_cli(["--help"]) == 0
    out = capsys.readouterr().out
    for line in ("1    runtime failure", "2    usage or configuration error", "130  interrupted"):
        assert line in out


def test_a_corrupt_resume_state_does_not_advise_unsafe_loading(tmp_path: Path, capsys) -> None:
    d = _idx(tmp_path)
    args = ["train", "--preset", "r1-fashion-sparse", "--dataset", f"idx:{d}", "--epochs", "1"]
    sets = ["--set", "data.val_size=2", "--set", "train.threads=1"]
    assert main([*args, *sets, "--out", "run", "--no-eval", "--quiet"]) == 0
    states = list(Path("run").rglob("last.state.pt"))
    assert states, "the run wrote no resume state"
    states[0].write_bytes(b"not a torch checkpoint")
    assert main(["train", "--resume", "run", "--epochs", "2", "--no-eval", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "corrupt" in err and "Traceback" not in err
    assert "weights_only" not in err  # never invite loading an untrusted pickle
