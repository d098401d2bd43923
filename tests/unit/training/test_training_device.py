"""Device, precision and thread choices; the optimizer; progress output."""

from __future__ import annotations

import io
import os

import pytest
import torch
from training_doubles import tiny_config

from aelab.config import with_input_shape
from aelab.errors import ConfigError
from aelab.models import create_model
from aelab.training.device import (
    auto_threads,
    cpu_threads,
    resolve_device,
    resolve_precision,
)
from aelab.training.optim import build_optimizer
from aelab.training.progress import Progress, format_seconds


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    with pytest.raises(ConfigError, match="invalid"):
        resolve_device("tpu-ish")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"CUDA is not available.*--device cpu"):
        resolve_device("cuda")


def test_mixed_precision_falls_back_to_fp32_on_cpu_with_a_note():
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == ("fp32", None)
    precision, note = resolve_precision("bf16", cpu)
    assert precision == "fp32" and "CUDA only" in note


def test_threads():
    assert auto_threads() >= 1
    before = torch.get_num_threads()
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
def test_optimizer_uses_fused_or_foreach(name):
    cfg = with_input_shape(tiny_config(optimizer=name), (1, 8, 8))
    opt = build_optimizer(create_model(cfg.model), cfg)
    group = opt.param_groups[0]
    assert group.get("fused") or group.get("foreach")


def test_input_shape_must_match_the_data():
    cfg = tiny_config().override(["model.input_shape=[1, 4, 4]"])
    with pytest.raises(ConfigError, match="does not match the data"):
        with_input_shape(cfg, (1, 8, 8))


def test_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    p = Progress(3, stream=out)
    p.start_epoch(1, 10)
    p.step()
    p.end_epoch(1, {"epoch": 1, "train_loss": 0.5, "val_loss": 0.25}, 2.0)
    assert out.getvalue() == "epoch 1/3  loss 0.5000  val_loss 0.2500  2.0s  eta 4s\n"


def test_quiet_prints_nothing():
    out = io.StringIO()
    p = Progress(3, stream=out, quiet=True)
    p.message("hello")
    p.end_epoch(1, {"train_loss": 0.5}, 1.0)
    assert out.getvalue() == ""


def test_tqdm_bar_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    p = Progress(2, stream=out)
    p.start_epoch(1, 4)
    for _ in range(4):
        p.step()
    p.end_epoch(1, {"train_loss": 0.5, "val_loss": 0.25}, 1.0)
    text = out.getvalue()
    assert "epoch 1/2" in text and "4/4" in text and "val_loss=0.2500" in text and "eta" in text


def test_format_seconds():
    assert format_seconds(5) == "5s" and format_seconds(65) == "1m05s"
    assert format_seconds(3725) == "1h02m05s"


def test_cpu_threads_are_bounded_by_the_cpu_count():
    cpus = os.cpu_count()
    with (
        pytest.raises(
            ConfigError, match=rf"train\.threads=100000 is invalid: expected 1 to {cpus} "
        ),
        cpu_threads(100_000),
    ):  # OpenMP segfaults on this instead of failing
        pass
    with cpu_threads(cpus) as n:
        assert n == cpus
