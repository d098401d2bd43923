"""``benchmarks/reproduce.py --quick`` end to end on tiny generated data: the page and its
figures are written, and the page's numbers are real numbers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from aelab.metrics import catalog
from fakedata import write_idx_dataset

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_reproduce_quick_writes_page_and_figures(tmp_path: Path) -> None:
    data = tmp_path / "fake-fashion"
    write_idx_dataset(data, n_train=96, n_test=24)
    docs = tmp_path / "docs"
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Project\n\nBefore.\n<!-- reproduce.py:results -->\nstale\n"
        "<!-- /reproduce.py:results -->\nAfter.\n",
        encoding="utf-8",
    )
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "reproduce.py"),
        "--quick",
        "--dataset",
        f"fashion-mnist=idx:{data}",
        "--data-dir",
        str(tmp_path / "no-data-here"),
        "--out",
        str(tmp_path / "runs"),
        "--docs",
        str(docs),
        "--train-limit",
        "96",
        "--test-limit",
        "24",
        "--val-size",
        "16",
        "--presets",
        "r1-fashion-sparse",
        "--members",
        "vanilla,sparse-l1",
        "--readme",
        str(readme),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    page = (docs / "results.md").read_text(encoding="utf-8")
    # The header says what ran where, and which datasets were (not) available.
    for text in ("Mode: **quick**", "Machine: ", "aelab 0.1.0", "Wall time of this invocation: "):
        assert text in page, text
    assert "fashion-mnist: available (96 train" in page and "substituted by idx:" in page
    assert "mnist: **not available**" in page and "cifar10: **not available**" in page
    for heading in (
        "## 1. Reproductions",
        "## 2. Family study",
        "### Code size",
        "### Sparsity",
        "### Noise level",
        "## 4. The claims",
        "## 5. Best model",
    ):
        assert heading in page, heading
    # Numbers, not placeholders: the R1 row and its Keras comparison, verdicts on every claim.
    r1 = next(line for line in page.splitlines() if line.startswith("| r1-fashion-sparse |"))
    # Its table's columns are the metric catalog's labels (aelab metrics), not the page's own.
    head = next(line for line in page.splitlines() if line.startswith("| preset |"))
    labels = [catalog.get(k).label for k in ("test_loss", "test_bce", "test_mse", "test_ssim")]
    assert all(f"| {label} |" in head for label in labels), head
    assert len(re.findall(r"\b0\.\d{4,5}\b", r1)) >= 4
    assert "| test BCE | 0." in page and "0.2846" in page
    assert page.count("Verdict: **") >= 4
    assert "## Failed runs" not in page
    # Every figure the page links exists, is a small PNG, and nothing else is in the folder.
    linked = set(re.findall(r"\]\(figures/([\w.-]+\.png)\)", page))
    assert {
        "code_size.png",
        "sparsity_tradeoff.png",
        "family_grid.png",
        "features_side_by_side.png",
    } <= linked
    on_disk = {p.name for p in (docs / "figures").glob("*.png")}
    assert linked == on_disk
    for name in on_disk:
        size = (docs / "figures" / name).stat().st_size
        assert 1000 < size <= 300 * 1024, (name, size)

    # The README's results block carries the headline, its links pointing into docs/.
    front = readme.read_text(encoding="utf-8")
    assert front.startswith("# Project\n\nBefore.\n") and front.endswith("After.\n")
    assert "stale" not in front and "[docs/results.md](docs/results.md)" in front
    assert "Mode: **quick**" in front and "| r1-fashion-sparse |" in front
    assert "| test BCE | 0." in front and "Best model at code size 32" in front
    assert "](docs/figures/family_grid.png)" in front

    # Resumable: a second invocation trains nothing and rewrites the page.
    again = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert not re.search(r"^(train|retrain|resume) ", again.stdout, flags=re.MULTILINE)
    assert (docs / "results.md").read_text(encoding="utf-8").count("Verdict: **") >= 4

    # One section alone (e.g. the best-model search beside another invocation): the runs are
    # shared, the other sections are marked as not run, nothing is retrained.
    docs2 = tmp_path / "docs2"
    only = [*cmd[: cmd.index("--docs")], "--docs", str(docs2), *cmd[cmd.index("--docs") + 2 :]]
    before = readme.read_text(encoding="utf-8")
    best = subprocess.run(
        [*only, "--sections", "best"], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert best.returncode == 0, best.stderr[-2000:]
    assert not re.search(r"^(train|retrain|resume) ", best.stdout, flags=re.MULTILINE)
    part = (docs2 / "results.md").read_text(encoding="utf-8")
    assert part.count("Not run by this invocation (`--sections best`)") == 6
    assert "Best: **best-conv-stride**" in part and "This page is incomplete" not in part
    assert readme.read_text(encoding="utf-8") == before  # a partial page leaves the README

    # Another dataset's presets added later: --carry-over keeps every part this invocation
    # does not run (marked with the page it came from), and the README block follows.
    mnist = tmp_path / "fake-mnist"
    write_idx_dataset(mnist, n_train=96, n_test=24)
    more = [*cmd, "--carry-over", "--sections", "presets,mnist,downstream", "--presets", "r2-*"]
    more += ["--dataset", f"mnist=idx:{mnist}"]
    added = subprocess.run(more, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert added.returncode == 0, added.stdout[-2000:] + added.stderr[-2000:]
    merged = (docs / "results.md").read_text(encoding="utf-8")
    assert "Not run by this invocation" not in merged and "This page is incomplete" not in merged
    fashion = merged.split("### Fashion-MNIST\n", 1)[1].split("### MNIST\n", 1)
    assert fashion[0].lstrip().startswith("*Carried over unchanged from the page of ")
    assert r1 in fashion[0] and "| r2-mnist-deep-sparse |" in fashion[1]
    assert merged.count("*Carried over unchanged from the page of ") == 5  # 1 part, 4 sections
    mnist_part = merged.split("## 6. MNIST: family study, code size and the R3 claims\n", 1)[1]
    for text in ("### Family study (code size 32)", "### Sweep: code size", "| vanilla |"):
        assert text in mnist_part, text
    assert mnist_part.count("Verdict: **") == 2 and '### MNIST: "Convolutional' in mnist_part
    assert merged.count("Verdict: **") == page.count("Verdict: **") + 2  # and MNIST's two
    assert "- Carried over from the earlier page (`--carry-over`)" in merged
    assert "section 1's Fashion-MNIST part" in merged
    linked = set(re.findall(r"\]\(figures/([\w.-]+\.png)\)", merged))
    assert {"family_grid.png", "r2_loss_curves.png"} <= linked
    assert linked == {p.name for p in (docs / "figures").glob("*.png")}
    front = readme.read_text(encoding="utf-8")
    assert "| r1-fashion-sparse |" in front and "| r2-mnist-deep-sparse |" in front
    assert "| test BCE | 0." in front and "](docs/figures/family_grid.png)" in front
    assert "Best model at code size 32" in front
    # Section 7 collects what downstream_bench.py and cluster_results.py wrote (the repo's).
    reuse = merged.split("## 7. Reusing the codes", 1)[1]
    for text in ("### One-class summary", "| mnist | ", "### Deep clustering", "| IDEC: "):
        assert text in reuse, text
    assert "One-class anomaly detection (section 7)" in front
    assert '- "Convolutional autoencoders beat dense ones on images" (R3): **' in front


def test_reproduce_sections_are_checked(tmp_path: Path) -> None:
    script = str(ROOT / "benchmarks" / "reproduce.py")
    for sections, message in (
        ("claims,best", "the claims need presets, family, sweeps"),
        ("bestt", "expected some of presets, family, sweeps, claims, best"),
    ):
        proc = subprocess.run(
            [sys.executable, script, "--quick", "--sections", sections, "--docs", str(tmp_path)],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
        )
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
        assert not (tmp_path / "results.md").exists()


def quick_presets_page(tmp_path: Path, dataset: str, *args: str) -> str:
    """``reproduce.py --quick --sections presets`` on generated ``dataset`` (64 train / 16
    test images, 16 for validation) with ``args``; the page it wrote."""
    data = tmp_path / f"fake-{dataset}"
    write_idx_dataset(data, n_train=64, n_test=16)
    docs = tmp_path / "docs"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "reproduce.py"),
            *("--quick", "--sections", "presets", *args),
            *("--dataset", f"{dataset}=idx:{data}", "--out", str(tmp_path / "runs")),
            *("--docs", str(docs), "--train-limit", "64", "--test-limit", "16"),
            *("--val-size", "16"),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return (docs / "results.md").read_text(encoding="utf-8")


def test_full_presets_keeps_section_one_uncapped(tmp_path: Path) -> None:
    page = quick_presets_page(
        tmp_path,
        "fashion-mnist",
        *("--max-epochs", "1", "--full-presets", "--presets", "r3-fashion-vanilla"),
    )
    assert "trains its own full epochs (`--full-presets`)" in page
    section1 = page.split("## 1. Reproductions of the reference presets\n", 1)[1]
    assert not section1.lstrip().startswith("> **Epochs capped")  # section 1 is not capped
    assert "| r3-fashion-vanilla |" in section1
    assert "- Presets: only `--presets r3-fashion-vanilla` (section 1 holds no others)" in page
    assert page.count("> **Epochs capped at 1**") == 4  # sections 2-4 and 6 (not run); not 5


def test_r2_page_shows_its_split_and_figures(tmp_path: Path) -> None:
    page = quick_presets_page(tmp_path, "mnist", "--presets", "r2-*")
    assert "| r2-mnist-deep-sparse |" in page
    assert "R2 on MNIST: the 16 validation images held out" in page
    for stem in ("loss_curves", "reconstructions"):
        assert f"(figures/r2_{stem}.png)" in page
        assert (tmp_path / "docs" / "figures" / f"r2_{stem}.png").stat().st_size > 0
