"""The README and every ``--help`` epilog, as pasted: each shell command in README.md's
```bash blocks and each example line of every subcommand's epilog runs (exit 0) on tiny
generated data, and README.md's ```python blocks run as real code.

The commands run in order in one shared folder (later ones read the run directories
earlier ones wrote), with the environment a user would have: ``$AELAB_DATA_DIR`` holds
small generated ``fashion-mnist/``, ``mnist/`` (IDX) and ``cifar10/`` (CIFAR binary)
datasets, ``$HOME`` and ``$XDG_CACHE_HOME`` are fresh. Generated files are not the
canonical ones, so the dataset registry is pointed at their checksums for this module
(the real checks are untouched); the verified arrays then sit in the prepared-array
cache, where the ``--jobs 2`` subprocesses of a sweep find them.

Training commands get :data:`CAPS` appended (argparse keeps the last value of a flag),
so a 50-epoch example trains one epoch on the small data. Commands that need what this
machine may lack are in :data:`SKIP` with the reason; run directories the docs take for
granted are made by :data:`PREREQUISITES` first.
"""

from __future__ import annotations

import dataclasses
import glob
import gzip
import hashlib
import importlib
import itertools
import os
import re
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aelab.cli.main import SUBCOMMANDS, main
from aelab.data import sources
from aelab.data.sources import DataFile
from aelab.presets import load_preset
from fakedata import serve_directory, write_cifar_binary, write_idx_dataset

# One worker runs the whole document in order (later commands read the runs earlier ones
# wrote, in one module-scoped workspace), and its Ray examples never overlap another Ray
# instance (tests/unit/studies/test_ray_executor.py is in the same group).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("ray-and-readme")]

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

# Appended to every command of these subcommands: one epoch, a small validation split.
CAPS = {
    name: ["--epochs", "1", "--set", f"data.val_size={val}", "--set", "train.threads=1"]
    for name, val in (("train", 16), ("sweep", 16), ("family-study", 16), ("anomaly", 40))
}  # anomaly: every class needs validation images (its held-out normal class)
CAPS["tune"] = [*CAPS["train"], "--trials", "2"]
CAPS["cluster"] = ["--n-init", "1", "--max-iter", "20", "--update-interval", "10"]
# Generated sizes: enough for every class in the anomaly protocol's normal/held-out split.
SIZES = {"train": 120, "test": 40}
# A real mirror URL in an example -> what stands in for it here.
MIRROR_URL = "http://localhost:8000/mnist"

NO_CUDA = "needs a CUDA device (none here)" if not torch.cuda.is_available() else None
# command (exact, as documented) -> why it does not run here (None: it runs).
SKIP: dict[str, str | None] = {
    "make demo": "sets up .venv and trains R1 for 50 epochs on the real Fashion-MNIST",
    "make test": "runs the whole suite, this test included",
    "torchrun --nproc_per_node=2 -m aelab train --preset r4-fc": (
        "two DDP processes; tests/integration/test_ddp.py runs the same under torchrun"
    ),
    "chromium runs/r1-fashion-sparse/report.html": (
        "opens a browser; tests/integration/test_report_browser.py renders reports headless"
    ),
    "aelab train --config my-run.toml --device cuda --precision bf16": NO_CUDA,
    "aelab evaluate runs/r1-fashion-sparse --checkpoint last --device cuda": NO_CUDA,
    "aelab embed runs/r1 --out codes.npz --checkpoint last --device cuda": NO_CUDA,
    "aelab probe runs/r1 --no-write --device cuda": NO_CUDA,
    "aelab cluster runs/r1 --gamma 0.1 --update-interval 140 --tol 0.001 --device cuda": NO_CUDA,
    "aelab sweep --preset r1-fashion-sparse --vary train.seed=0,1,2,3 --executor ray "
    "--ray-address ray://head:10001 --gpus-per-run 1 --out /shared/runs/seeds": (
        "joins a Ray cluster with GPUs (none here); tests/unit/studies/test_ray_executor.py "
        "runs sweeps on a local Ray"
    ),
    "tensorboard --logdir runs": (
        "starts a web server; tests/unit/training/test_trackers.py reads the event files back"
    ),
    "mlflow ui --backend-store-uri sqlite:///runs/mlflow.db": (
        "starts a web server; tests/unit/training/test_trackers.py reads the store back"
    ),
    # "Ship a detector": the client side of `aelab serve`, which does not run here (SERVERS)
    "python -c 'import json; from aelab.data import load_dataset; t = load_dataset("
    '"fashion-mnist").test; x = [*t.images[t.labels == 1][:2], *t.images[t.labels == 9][:2]]; '
    "print(json.dumps({\"images\": [(i / 255).tolist() for i in x]}))' '>' batch.json": (
        "writes the request body for the curl example below; tests/integration/"
        "test_serve_cli.py sends the same kind of JSON to a live `aelab serve`"
    ),
    "curl -s http://127.0.0.1:8000/health": "needs `aelab serve` running (see SERVERS)",
    "curl -s -H 'content-type: application/json' --data @batch.json "
    "http://127.0.0.1:8000/v1/score": "needs `aelab serve` running (see SERVERS)",
}
# Every `aelab serve` and `aelab explore` example starts a server that runs until stopped.
SERVERS = ("serve", "explore")
SERVER = (
    "starts a server that runs until stopped; tests/integration/test_serve_cli.py starts "
    "`aelab serve` on a free port, sends requests and stops it with SIGTERM"
)


# --------------------------------------------------------------------------- extraction


def _logical_lines(text: str) -> Iterator[str]:
    """Lines with backslash continuations joined."""
    pending = ""
    for line in text.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        yield pending + line
        pending = ""


def _commands(line: str) -> list[str]:
    """The commands of one shell line: comments dropped, ``&&`` chains split."""
    words = shlex.split(line, comments=True)
    if not words:
        return []
    parts, current = [], []
    for word in words:
        if word == "&&":
            parts.append(current)
            current = []
        else:
            current.append(word)
    return [shlex.join(p) for p in [*parts, current] if p]


def readme_blocks(language: str) -> list[str]:
    """The bodies of README.md's fenced blocks in ``language``."""
    text = README.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def readme_commands() -> list[str]:
    return [
        c for block in readme_blocks("bash") for ln in _logical_lines(block) for c in _commands(ln)
    ]


def epilog_commands(module_name: str) -> list[str]:
    """The example lines of one subcommand's EPILOG: the indented lines under
    ``examples:`` up to the first blank line."""
    epilog = importlib.import_module(f"aelab.cli.{module_name}").EPILOG
    head, _, rest = epilog.partition("examples:\n")
    assert not head.strip(), f"aelab.cli.{module_name}.EPILOG does not start with 'examples:'"
    examples = rest.split("\n\n", 1)[0]
    return [c for ln in _logical_lines(examples) for c in _commands(ln)]


# --------------------------------------------------------------------------- the workspace


def _write_photos(folder: Path) -> None:
    """A tiny labelled image folder (``folder:photos``): two classes of 8x6 RGB images."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 6), ("test", 2)):
        for label in ("cats", "dogs"):
            (folder / split / label).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                pixels = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / split / label / f"{i}.png")


def _generated_source(name: str, folder: Path) -> sources.Source:
    """The registered dataset ``name`` with the checksums of the generated files."""
    source = sources.get_source(name)
    files = []
    for f in source.files:
        raw = (folder / f.filename).read_bytes()
        content = (
            gzip.decompress(raw) if f.filename.endswith(".gz") and f.role != "archive" else raw
        )
        files.append(
            DataFile(
                f.role,
                f.filename,
                hashlib.md5(raw).hexdigest(),
                hashlib.sha256(content).hexdigest(),
            )
        )
    return dataclasses.replace(source, files=tuple(files))


@dataclasses.dataclass
class Workspace:
    cwd: Path
    mirror_url: str


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("readme")
    data, home, cwd = root / "data", root / "home", root / "work"
    for d in (home, cwd):
        d.mkdir()
    write_idx_dataset(data / "fashion-mnist", SIZES["train"], SIZES["test"])
    write_idx_dataset(data / "mnist", SIZES["train"], SIZES["test"], seed=7)
    write_cifar_binary(data / "cifar10", SIZES["train"], SIZES["test"])
    with pytest.MonkeyPatch.context() as mp, serve_directory(data / "mnist") as server:
        mp.setenv("AELAB_DATA_DIR", str(data))
        mp.setenv("HOME", str(home))
        mp.setenv("XDG_CACHE_HOME", str(root / "cache"))
        mp.setenv("MPLBACKEND", "Agg")
        mp.setenv(
            "PYTHONPATH", os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])
        )
        for name in ("fashion-mnist", "mnist", "cifar10"):
            mp.setitem(sources.SOURCES, name, _generated_source(name, data / name))
        mp.chdir(cwd)
        yield Workspace(cwd, server.url.rstrip("/"))


def _ok(argv: list[str]) -> None:
    assert main(argv) == 0, f"prerequisite `aelab {shlex.join(argv)}` failed"


def _train(out: str, preset: str) -> Callable[[], None]:
    """A run directory, trained without its evaluation (the readers evaluate what they need,
    and compare leaves unevaluated columns blank with a note): the slowest part is saved."""

    def make() -> None:
        _ok(["train", "--preset", preset, "--out", out, "--quiet", "--no-eval", *CAPS["train"]])

    return make


def _link(target: str, link: str) -> Callable[[], None]:
    def make() -> None:
        Path(link).parent.mkdir(parents=True, exist_ok=True)
        Path(link).symlink_to(Path(target).resolve())

    return make


def _config(path: str, preset: str) -> Callable[[], None]:
    def make() -> None:
        from aelab.presets import load_preset

        load_preset(preset).save(path)

    return make


# Paths the docs take for granted -> how this test makes them (before their first use).
PREREQUISITES: dict[str, Callable[[], None]] = {
    "runs/r1-fashion-sparse": _train("runs/r1-fashion-sparse", "r1-fashion-sparse"),
    "runs/r1": _train("runs/r1", "r1-fashion-sparse"),
    "runs/tune-sparse": lambda: _ok(
        [
            *("tune", "--preset", "r3-fashion-sparse", "--search", "model.latent_dim=int:8:64"),
            *("--out", "runs/tune-sparse", *CAPS["tune"]),
        ]
    ),
    "runs/a-fashion/class-1": lambda: _ok(  # "Ship a detector": a class run with its detector
        [
            *("anomaly", "--preset", "r1-fashion-sparse", "--normal-class", "1"),
            *("--set", "data.validation=split", "--save-runs", "--out", "runs/a-fashion"),
            *CAPS["anomaly"],
        ]
    ),
    "photos": lambda: _write_photos(Path("photos")),
    "my.toml": _config("my.toml", "r3-fashion-vanilla"),
    "my-run.toml": _config("my-run.toml", "r1-fashion-sparse"),  # run where CUDA is
    "runs/a": _link("runs/r1-fashion-sparse", "runs/a"),
    "runs/b": _link("runs/cnn16", "runs/b"),
    "runs/c": _link("runs/r1-quick", "runs/c"),
    **{
        f"runs/{p}": _train(f"runs/{p}", p)
        for p in ("r4-fc", "r4-cnn", "r4-sparse", "r4-rnn", "r4-vae")
    },
    **{f"runs/{p}": _train(f"runs/{p}", p) for p in ("r3-fashion-conv", "r3-mnist-conv")},
    "search.toml": lambda: Path("search.toml").write_text(
        load_preset("r3-fashion-sparse").to_toml()
        + '\n[search]\n"model.latent_dim" = {type = "int", low = 8, high = 64, log = true}\n',
        encoding="utf-8",
    ),
    # The sweep example that makes it is slow: without it, the same sweep over two sizes.
    "runs/code-size": lambda: _ok(
        [
            *("sweep", "--preset", "r3-fashion-vanilla", "--vary", "model.latent_dim=2,4"),
            *("--out", "runs/code-size", "--quiet", *CAPS["sweep"]),
        ]
    ),
}

# The order the documents run in: producers of run directories before their readers.
ORDER = [
    "presets",
    "metrics",
    "data",
    "train",
    "README.md",
    "evaluate",
    "report",
    "embed",
    "probe",
    "export",
    "sweep",
    "tune",
    "compare",
    "family_study",
    "anomaly",
    "cluster",
    "serve",
    "explore",
]


def all_commands() -> list[tuple[str, str]]:
    """(where it is documented, command) for every documented command, in run order."""
    assert sorted(o for o in ORDER if o != "README.md") == sorted(SUBCOMMANDS.values())
    out: dict[str, str] = {}  # a command documented twice runs once, where it first appears
    for origin in ORDER:
        commands = readme_commands() if origin == "README.md" else epilog_commands(origin)
        for c in commands:
            out.setdefault(c, origin if origin == "README.md" else f"aelab {origin} --help")
    return [(origin, c) for c, origin in out.items()]


COMMANDS = all_commands()


def test_skip_table_names_documented_commands() -> None:
    """A skip entry whose command left the docs is stale; every non-aelab program is
    either skipped with a reason or not documented."""
    documented = {c for _, c in COMMANDS}
    assert not set(SKIP) - documented, f"stale SKIP entries: {sorted(set(SKIP) - documented)}"
    foreign = {c for c in documented if not c.startswith("aelab ") and c not in SKIP}
    assert not foreign, f"commands that are neither aelab nor skipped: {sorted(foreign)}"


def _argv(command: str, ws: Workspace) -> tuple[list[str], str | None]:
    """The command's arguments after ``aelab`` as a shell would pass them (``~`` and globs
    expanded), plus CAPS; and the file a ``> FILE`` redirection names, else None."""
    words = shlex.split(command.replace(MIRROR_URL, ws.mirror_url))
    redirect = None
    if ">" in words:
        words, redirect = words[: words.index(">")], words[words.index(">") + 1]
    argv: list[str] = []
    for word in words[1:]:
        word = os.path.expanduser(word)
        argv += sorted(glob.glob(word)) or [word] if "*" in word else [word]
    return argv + CAPS.get(argv[0], []), redirect


def _needs(argv: list[str]) -> list[str]:
    """Prerequisites named by ``argv`` (as a path or a ``kind:path`` spec) not made yet; a
    command's own ``--out`` is what it makes, never what it needs."""
    outs = {b for a, b in itertools.pairwise(argv) if a == "--out"}
    argv = [a for a in argv if a not in outs]
    named = {a.partition(":")[2] or a for a in argv} | set(argv)
    named |= {str(Path(a.split("*")[0]).parent) for a in argv if "*" in a}  # a glob's folder
    return [p for p in PREREQUISITES if p in named and not os.path.lexists(p)]


def _trains_many(command: str) -> bool:
    """Sweeps, family studies and all-class anomaly runs train a model per point, member or
    class: marked ``slow`` (still run in CI; ``-m "not slow"`` leaves them out)."""
    words = command.split()
    return words[1:2] in (["sweep"], ["family-study"]) or "--all-classes" in words


@pytest.mark.parametrize(
    ("origin", "command"),
    [
        pytest.param(o, c, id=c, marks=[pytest.mark.slow] if _trains_many(c) else [])
        for o, c in COMMANDS
    ],
)
def test_documented_command_runs(origin: str, command: str, workspace: Workspace, capsys) -> None:
    reason = SKIP.get(command) or (
        SERVER if command.split()[:2] in [["aelab", name] for name in SERVERS] else None
    )
    if reason:
        pytest.skip(reason)
    argv = [os.path.expanduser(w) for w in shlex.split(command)[1:]]
    for path in _needs(argv):
        PREREQUISITES[path]()
    argv, redirect = _argv(command, workspace)
    code = main(argv)
    out = capsys.readouterr()
    assert code == 0, f"{origin}: `{command}` exited {code}:\n{out.out[-3000:]}\n{out.err[-3000:]}"
    if redirect:
        Path(redirect).write_text(out.out, encoding="utf-8")
        assert out.out, f"{origin}: `{command}` wrote nothing to {redirect}"


def test_readme_python_runs(workspace: Workspace) -> None:
    """README.md's ```python blocks run as written (after the commands made their runs)."""
    for path in _needs(["runs/r1-fashion-sparse"]):
        PREREQUISITES[path]()
    for block in readme_blocks("python"):
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
