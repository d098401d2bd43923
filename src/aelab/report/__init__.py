"""The HTML report of a run: one self-contained page rendered from a Jinja2 template."""

from aelab.report.render import render_report

__all__ = ["render_report"]
