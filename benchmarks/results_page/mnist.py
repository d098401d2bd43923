"""Section 6: the parts of the protocol that MNIST's presets allow (R3 names both
datasets): the family study, the code-size sweep (dense and conv), and the two claims they
settle."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aelab.report.page import readme_note

from .claims import claim_bottleneck, claim_conv
from .context import Context
from .family import family_study
from .page import Section
from .sweeps import sweep_code_size

TITLE = "## 6. MNIST: family study, code size and the R3 claims"


def run(ctx: Context, done: Mapping[str, Any]) -> tuple[list[str], None]:
    lines = [TITLE + "\n"]
    if "mnist" not in ctx.available:
        return [*lines, "Not run: MNIST is not present.\n"], None
    lines.append(
        "The protocol of sections 2-4 on MNIST, where its presets allow it (R3 defines dense "
        "and conv members for both datasets; the sparsity, noise and identity studies stay on "
        "Fashion-MNIST).\n"
    )
    part, _ = family_study(ctx, "mnist", "mnist/family", "mnist_family", readme=False)
    code_lines, found = sweep_code_size(ctx, "mnist", "mnist/")
    claims_lines = [*claim_bottleneck(found), *claim_conv(ctx, found, "mnist", "mnist/claims")]
    heads = [ln.strip().removeprefix("### ") for ln in claims_lines if ln.startswith("###")]
    said = [
        ln.rsplit("Verdict: ", 1)[1].strip().rstrip(".")
        for ln in claims_lines
        if "Verdict: **" in ln
    ]
    verdicts = [f"- {head}: {verdict}" for head, verdict in zip(heads, said, strict=True)]
    return [
        *lines,
        "### Family study (code size 32)\n",
        *part,
        *(ln.replace("### Code size", "### Sweep: code size", 1) for ln in code_lines),
        *(ln.replace('### "', '### MNIST: "', 1) for ln in claims_lines),
        "",
        *readme_note(["The R3 claims on MNIST (section 6):\n", *verdicts]),
    ], None


SECTION = Section("mnist", TITLE, run)
