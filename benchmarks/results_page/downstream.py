"""Section 7: the one-class and clustering evidence, collected from what
``downstream_bench.py`` and ``cluster_results.py`` wrote (hours of training each; their
commands are shown). Their tables are those benchmarks' own."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aelab.report.page import readme_note

from .context import Context
from .page import Section

TITLE = "## 7. Reusing the codes: one-class anomaly detection and clustering"


def run(ctx: Context, done: Mapping[str, Any]) -> tuple[list[str], None]:
    from downstream_bench import anomaly_lines, anomaly_summary  # benchmarks/ is on sys.path

    lines = [TITLE + "\n"]
    rel = Path(os.path.relpath(ctx.results, ctx.docs)).as_posix()
    report = ctx.results / "downstream_bench.json"
    if report.exists():
        data = json.loads(report.read_text(encoding="utf-8"))
        lines.append(
            f"Collected from [`{rel}/downstream_bench.md`]({rel}/downstream_bench.md), written "
            "by `benchmarks/downstream_bench.py`: each model trained on one class at a time, "
            "with settings fixed before the runs (nothing tuned on test anomalies); every "
            "part names the command that computed it.\n"
        )
        lines += anomaly_lines(data, "###", commands=True)
        table = [ln for ln in anomaly_summary(data.get("anomaly", [])) if ln.startswith("|")]
        caption = (
            "One-class anomaly detection (section 7): mean AUROC over the ten classes, each "
            "model's best score beside the pixel baselines fitted on the same normal images:\n"
        )
        lines += ["", *readme_note([caption, *table])]
    else:
        lines.append(f"One-class anomaly detection: no `{report}` (run `downstream_bench.py`).\n")
    calibration = ctx.results / "anomaly_calibration.md"  # calibration_bench.py (issue 23)
    if calibration.exists():
        text = calibration.read_text(encoding="utf-8")
        lines += [
            "",
            "### One-class detectors: calibrated thresholds (target FPR 5%)\n",
            f"Collected from [`{rel}/anomaly_calibration.md`]({rel}/anomaly_calibration.md), "
            "written by `benchmarks/calibration_bench.py` from `aelab anomaly --fpr 0.05` runs.\n",
            *(ln for ln in text.splitlines() if not ln.startswith("# ")),
        ]
    clusters = ctx.results / "cluster.md"
    if clusters.exists():
        text = clusters.read_text(encoding="utf-8").replace("](cluster/", f"]({rel}/cluster/")
        body = [ln for ln in text.splitlines() if not ln.startswith("# ")]
        lines += [
            "",
            "### Deep clustering\n",
            f"Collected from [`{rel}/cluster.md`]({rel}/cluster.md), written by "
            "`benchmarks/cluster_results.py` from `aelab cluster` runs.\n",
            *("#" + ln if ln.startswith("## ") else ln for ln in body),
        ]
    else:
        lines.append(f"Clustering: no `{clusters}` (run `cluster_results.py`).\n")
    return lines, None


SECTION = Section("downstream", TITLE, run, capped=lambda profile: False)
