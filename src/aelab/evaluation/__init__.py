"""Evaluation of one run: metric orchestration and the figures built from it.

``evaluate_run(run_dir)`` computes the test metrics (``aelab.metrics``), writes the
figures (``aelab.viz``) and re-renders the report (``aelab.report``).
"""

from aelab.evaluation.evaluate import compute_metrics, evaluate_run

__all__ = ["compute_metrics", "evaluate_run"]
