"""Damaged files of a run directory are one line naming the file (a CheckpointError, exit
2 on the command line): a metrics.json that is binary, not an object of sections, or
holds a score that is not a number; a resume state of stray bytes or wrong fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from aelab.errors import CheckpointError
from aelab.rundir import METRICS, read_metrics
from aelab.training.checkpoint import STATE_FORMAT, load_state

GOOD = {"run": {"status": "finished", "best_val_loss": 0.1}, "reconstruction": {"mse": 0.02}}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", r"is not UTF-8 JSON text \(byte 0x89 at offset 0\)"),
        (bytes(range(128, 256)), r"is not UTF-8 JSON text \(byte 0x80 at offset 0\)"),
        (b'{"run": ', "is not valid JSON"),
        (b"[1, 2]", "must hold one JSON object of sections, found list"),
        (
            b'{"reconstruction": [0.1]}',
            "section 'reconstruction' must be a JSON object, found list",
        ),
        (b'{"cluster": "garbage"}', "section 'cluster' must be a JSON object, found str"),
        (b'{"cluster": {"scores": 7}}', "holds cluster.scores as int, expected a JSON object"),
        (b'{"reconstruction": {"mse": "0.02"}}', r"holds reconstruction.mse = '0.02', expected a"),
        (b'{"run": {"best_val_loss": true}}', r"run.best_val_loss = True, expected a number"),
        (b'{"cluster": {"scores": {"idec": {"nmi": {}}}}}', "cluster.scores.idec.nmi = {}"),
        (b"[" * 100_000, "is not valid JSON"),
    ],
)
def test_a_damaged_metrics_json_names_the_file(tmp_path: Path, content: bytes, message: str):
    (tmp_path / METRICS).write_bytes(content)
    with pytest.raises(CheckpointError, match=message) as info:
        read_metrics(tmp_path)
    text = str(info.value)
    assert str(tmp_path / METRICS) in text and "\n" not in text and "aelab evaluate" in text


def test_a_sound_metrics_json_reads_as_it_was_written(tmp_path: Path):
    data = GOOD | {"pca": {"mse_ratio_note": "text", "psnr": None}, "extra": {"x": [1, 2]}}
    (tmp_path / METRICS).write_text(json.dumps(data))
    assert read_metrics(tmp_path) == data
    assert read_metrics(tmp_path / "absent") == {}


def _state(path: Path, **fields) -> Path:
    torch.save({"format": STATE_FORMAT, "epoch": 1, "model": {}, **fields}, path)
    return path


@pytest.mark.parametrize("stray", [b"a", b"PK", b"\x80\x02", b"abcdefgh", b"\x80\x02}q\x00."])
def test_a_resume_state_of_stray_bytes_is_corrupt_not_a_traceback(tmp_path: Path, stray: bytes):
    path = tmp_path / "last.state.pt"
    path.write_bytes(stray)
    with pytest.raises(CheckpointError, match=r"is corrupt \(\w+: not a readable aelab resume"):
        load_state(path)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"epoch": "3"}, r"epoch='3', expected an integer >= 0"),
        ({"epoch": -1}, "epoch=-1"),
        ({"model": [1]}, "model weights are not a mapping"),
        ({"weights": {"last": {"epoch": 1}}}, r"weights records are not \{name"),
    ],
)
def test_a_resume_state_with_wrong_fields_is_damaged(tmp_path: Path, fields, message):
    path = _state(tmp_path / "last.state.pt", **fields)
    with pytest.raises(CheckpointError, match=message):
        load_state(path)
    assert load_state(_state(tmp_path / "ok.pt"))["epoch"] == 1
