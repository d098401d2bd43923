"""benchmarks/reproduce.py and its sections (benchmarks/results_page/): short modules, tables
whose metric columns are the catalog's, claims and rankings by the catalog's directions, and
the page assembly (sections skipped, capped, passed each other's results) without training."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from aelab.errors import ConfigError
from aelab.metrics import catalog

ROOT = Path(__file__).resolve().parents[3]
BENCHMARKS = ROOT / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))  # how reproduce.py finds results_page when run as a script

import reproduce  # noqa: E402
from results_page import claims, columns, page, presets, protocol  # noqa: E402
from results_page.context import Context  # noqa: E402


def all_tables():
    """Every column table the sections declare, by module and name."""
    import importlib

    found = {}
    for path in sorted((BENCHMARKS / "results_page").glob("*.py")):
        module = importlib.import_module(f"results_page.{path.stem}")
        for name, value in vars(module).items():
            if name.endswith("COLUMNS"):
                found[f"{path.stem}.{name}"] = value
    return found


def test_reproduce_is_a_short_script_over_short_modules() -> None:
    files = [BENCHMARKS / "reproduce.py", *(BENCHMARKS / "results_page").glob("*.py")]
    long = {p.name: n for p in files if (n := len(p.read_text().splitlines())) >= 300}
    assert not long, long
    assert [s.key for s in reproduce.SECTIONS] == list(reproduce.TITLES)
    assert list(reproduce.TITLES) == [
        "presets",
        "family",
        "sweeps",
        "claims",
        "best",
        "mnist",
        "downstream",
    ]
    # conv_layout_bench.py imports the best-model candidates from the script
    assert "conv-stride" in reproduce.BEST_CANDIDATES


def test_preset_table_is_the_catalogs_labels_and_formats() -> None:
    keys = ["dataset", "epochs", "parameters", "test_loss", "test_bce", "test_mse"]
    keys += ["test_psnr", "test_ssim", "l0", "dead_units", "train_time_s", "pca_ratio"]
    expected = [("name", "preset", "")]
    expected += [(k, catalog.get(k).label, catalog.get(k).fmt) for k in keys]
    assert expected == presets.COLUMNS


def test_every_metric_column_uses_its_catalog_format() -> None:
    """A column headed by a catalog label (alone or qualified: "dense test MSE") prints in
    that metric's format: no table keeps a format of its own for a metric."""
    tables = all_tables()
    assert len(tables) >= 8, sorted(tables)
    labels = [m for m in catalog.METRICS if m.label not in ("run", "setting")]
    checked = 0
    for table, cols in tables.items():
        for _key, header, fmt in cols:
            named = [
                m
                for m in labels
                if header == m.label or f" {m.label}" in header or header.startswith(f"{m.label} ")
            ]
            if named:
                assert fmt in {m.fmt for m in named}, (table, header, fmt, named)
                checked += 1
    assert checked >= 30


def test_rankings_follow_the_catalogs_direction() -> None:
    rows = [{"name": "a", "test_ssim": 0.5}, {"name": "b", "test_ssim": 0.9}, {"name": "c"}]
    assert [r["name"] for r in columns.ranked(rows, "test_ssim")] == ["b", "a"]  # maximize
    rows = [{"name": "a", "test_mse": 0.02}, {"name": "b", "test_mse": 0.01}]
    assert [r["name"] for r in columns.ranked(rows, "test_mse")] == ["b", "a"]  # minimize
    with pytest.raises(ConfigError, match="depends on each run's own loss"):
        columns.ranked(rows, "test_loss")
    assert columns.show("test_mse", 0.0123456) == format(0.0123456, catalog.get("test_mse").fmt)
    assert columns.show("test_mse", None) == "n/a"


def sweep_rows(mses: dict[int, float]) -> dict[str, dict]:
    return {str(size): {"test_mse": mse} for size, mse in mses.items()}


def test_bottleneck_claim_rule() -> None:
    falling = {"code-dense": sweep_rows({2: 0.06, 4: 0.04, 8: 0.03, 16: 0.02})}
    lines = "".join(claims.claim_bottleneck(falling))
    assert "(3.00x), decreasing in 3 of 3 steps" in lines and "Verdict: **supported**" in lines
    assert "from 0.06000 at code 2 to 0.02000 at code 16" in lines
    flat = {"code-dense": sweep_rows({2: 0.030, 4: 0.031, 8: 0.029, 16: 0.025})}
    assert "Verdict: **not supported**" in "".join(claims.claim_bottleneck(flat))
    assert "Verdict: **not run**" in "".join(claims.claim_bottleneck({}))


def test_r4_claim_orders_by_test_mse() -> None:
    mses = {"r4-fc": 0.02, "r4-cnn": 0.005, "r4-sparse": 0.03, "r4-rnn": 0.04, "r4-vae": 0.025}
    rows = {n: {"name": n, "test_mse": m, "latent_dim": 32} for n, m in mses.items()}
    text = "".join(claims.claim_r4(rows))
    assert "r4-cnn 0.00500 < r4-fc 0.02000 < r4-vae 0.02500 < r4-sparse" in text
    assert "Verdict: **supported**" in text and "Caveat" not in text
    rows["r4-vae"]["test_mse"] = 0.001
    assert "Verdict: **not supported**" in "".join(claims.claim_r4(rows))
    del rows["r4-rnn"]
    assert "Verdict: **not run** (R4 runs missing)" in "".join(claims.claim_r4(rows))


def test_profile_of_caps_epochs_and_checks_the_cap() -> None:
    args = reproduce.parse_args(["--quick", "--max-epochs", "3", "--train-limit", "96"])
    profile = reproduce.profile_of(args)
    assert profile.max_epochs == 3 and profile.train_limit == 96 and profile.probe_train_limit == 96
    full = reproduce.profile_of(reproduce.parse_args(["--max-epochs", "3"]))
    assert (full.study_epochs, full.best_epochs) == (3, protocol.FULL.best_epochs)
    with pytest.raises(SystemExit) as exit_info:
        reproduce.profile_of(reproduce.parse_args(["--quick", "--max-epochs", "0"]))
    assert exit_info.value.code == 2


def fake_sections(calls: list[str]) -> tuple[page.Section, ...]:
    def first(ctx, done):
        calls.append("first")
        return ["## A. first\n", "a line\n"], {"value": 7}

    def second(ctx, done):
        calls.append("second")
        return ["## B. second\n", f"first gave {done['first'].get('value')}\n"], None

    return (
        page.Section("first", "## A. first", first),
        page.Section("second", "## B. second", second, capped=lambda profile: False),
    )


def context(tmp_path: Path, sections: tuple[str, ...], profile=protocol.QUICK) -> Context:
    readme = tmp_path / "README.md"
    readme.write_text(f"x\n{page.README_START}\nold\n{page.README_END}\n", encoding="utf-8")
    return Context(
        profile,
        tmp_path / "runs",
        tmp_path / "docs",
        str(tmp_path / "no-data"),
        {},
        sections=sections,
        readme=readme,
        log=lambda _: None,
    )


def test_page_runs_sections_in_order_passing_results(tmp_path: Path) -> None:
    calls: list[str] = []
    ctx = context(tmp_path, ("first", "second"), protocol.capped(protocol.QUICK, 1))
    path = page.reproduce(ctx, fake_sections(calls))
    text = path.read_text(encoding="utf-8")
    assert calls == ["first", "second"]
    assert "first gave 7" in text
    assert text.index("## A. first") < text.index("## B. second")
    # the cap note goes under capped sections only
    a, b = text.split("## B. second", 1)
    assert "**Epochs capped at 1**" in a and "**Epochs capped at 1**" not in b
    assert f"*{catalog.get('train_time_s').label}*" in text  # the header names the column
    assert "mnist: **not available**" in text
    # every section ran: the README block follows the page
    assert "Written by `benchmarks/reproduce.py`" in ctx.readme.read_text(encoding="utf-8")


def test_page_marks_sections_not_run_and_keeps_the_readme(tmp_path: Path) -> None:
    calls: list[str] = []
    ctx = context(tmp_path, ("second",))
    text = page.reproduce(ctx, fake_sections(calls)).read_text(encoding="utf-8")
    assert calls == ["second"]
    assert "first gave None" in text  # a skipped section passes on {}
    assert "Not run by this invocation (`--sections second`)." in text
    assert "old" in ctx.readme.read_text(encoding="utf-8")
