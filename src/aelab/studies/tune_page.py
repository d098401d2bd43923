"""``OUT/tune.html``: the page of a hyper-parameter search, built from its Optuna study.

The trials table (number, state, each searched parameter, the objective, duration and a
link to each trial's report.html), the optimisation history (``tune_history.png``) and the
parameter importances (``optuna.importance.get_param_importances``: fANOVA, which needs at
least two completed trials and more than one parameter). What the page shows is gathered
here; :func:`aelab.report.tune_page.render_tune_page` only lays it out.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aelab.errors import ConfigError
from aelab.metrics import catalog
from aelab.report.render import REPORT
from aelab.report.tune_page import HISTORY, render_tune_page
from aelab.viz.save import save_figure
from aelab.viz.tune_history import optimization_history

if TYPE_CHECKING:  # pragma: no cover
    import optuna


def objective_metric(objective: str) -> catalog.Metric | None:
    """The catalog's entry for ``objective`` (a key, alias or metrics.json path), if any."""
    try:
        return catalog.get(objective)
    except ConfigError:
        return None


def trial_rows(study: optuna.Study, out: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """The searched parameters (in the order trials first drew them) and one row per trial:
    number, state, parameters, value, seconds, the relative link to its report (or None)."""
    trials = study.get_trials(deepcopy=False)
    params = list(dict.fromkeys(name for t in trials for name in t.params))
    rows = []
    for t in trials:
        run_dir = t.user_attrs.get("run_dir")
        report = f"{run_dir}/{REPORT}" if run_dir and (out / run_dir / REPORT).exists() else None
        rows.append(
            {
                "number": t.number,
                "state": t.state.name.lower(),
                "params": {name: t.params.get(name) for name in params},
                "value": t.value if t.state.name == "COMPLETE" else None,
                "seconds": t.duration.total_seconds() if t.duration is not None else None,
                "report": report,
            }
        )
    return params, rows


def history(study: optuna.Study) -> tuple[list[int], list[float], list[float]]:
    """The completed trials' numbers, objective values and best value so far."""
    maximize = study.direction.name == "MAXIMIZE"
    numbers, values, best = [], [], []
    for t in study.get_trials(deepcopy=False):
        if t.state.name != "COMPLETE" or t.value is None:
            continue
        numbers.append(t.number)
        values.append(float(t.value))
        previous = best[-1] if best else t.value
        best.append(max(previous, t.value) if maximize else min(previous, t.value))
    return numbers, values, best


def importances(study: optuna.Study, params: list[str]) -> tuple[dict[str, float], str]:
    """Each parameter's importance for the objective, or none and the reason why."""
    import optuna

    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(params) < 2:
        return {}, (
            f"No parameter importances: the search varies {len(params)} parameter"
            f"{'' if len(params) == 1 else 's'}; importances compare two or more."
        )
    if len(complete) < 2:
        return {}, (
            f"No parameter importances: {len(complete)} trial{'' if len(complete) == 1 else 's'}"
            " completed; they need at least 2."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError) as exc:
        return {}, f"No parameter importances: Optuna could not compute them ({exc})."
    return {k: float(v) for k, v in found.items()}, ""


def write_tune_page(
    study: optuna.Study, out_dir: str | Path, objective: str, *, log: Callable[[str], None] = print
) -> Path:
    """Draw the history figure into ``out_dir`` and write ``out_dir/tune.html``."""
    out = Path(out_dir)
    metric = objective_metric(objective)
    label = metric.label if metric else objective
    params, rows = trial_rows(study, out)
    numbers, values, best = history(study)
    direction = study.direction.name.lower()
    if numbers:
        title = f"{study.study_name}: {label} ({direction}) per completed trial"
        fig = optimization_history(numbers, values, best, objective=label, title=title)
        save_figure(fig, out / HISTORY)
    else:
        (out / HISTORY).unlink(missing_ok=True)
    found, why = importances(study, params)
    best_trial = study.best_trial.number if numbers else None
    path = render_tune_page(
        out,
        title=f"aelab tune: {study.study_name}",
        objective={
            "name": objective,
            "label": label,
            "definition": metric.definition if metric else "",
            "fmt": metric.fmt if metric else ".5g",
            "direction": direction,
        },
        params=params,
        rows=rows,
        best_trial=best_trial,
        importances=found,
        importances_note=why,
    )
    log(f"tune: wrote {path}")
    return path


__all__ = ["write_tune_page"]
