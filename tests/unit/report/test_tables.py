"""The one set of table writers: Markdown, CSV and aligned text, on known answers."""

from __future__ import annotations

import math

import numpy as np

from aelab.report.tables import csv_table, markdown_table, text_table

ROWS = [{"run": "a|b", "mse": 0.0123456, "n": 50992}, {"run": "c", "mse": math.inf}]
COLUMNS = [("run", "run", ""), ("mse", "MSE", ".4f"), ("n", "params", ",")]


def test_markdown_table_known_answer():
    assert markdown_table(ROWS, COLUMNS) == (
        "| run | MSE | params |\n|---|---:|---:|\n| a\\|b | 0.0123 | 50,992 |\n| c | inf |  |\n"
    )


def test_markdown_table_alignment():
    table = markdown_table(ROWS[:1], COLUMNS, align=["right", "left", ""])
    assert table.splitlines()[1] == "|---:|:---|---|"


def test_csv_table_known_answer():
    rows = [{"a": 0.1, "b": None, "c": "x,y"}, {"a": np.float64(1 / 3), "b": 2, "c": math.inf}]
    assert csv_table(rows, ["a", "b", "c"]) == ('a,b,c\n0.1,,"x,y"\n0.3333333333333333,2,inf\n')


def test_text_table_known_answer():
    rows = [{"name": "pca", "acc": 0.81234, "nmi": 0.5}]
    table = text_table(rows, [("name", "repr", ""), ("acc", "acc", ".4f"), ("nmi", "nmi", ".4f")])
    assert table == (
        "repr                     acc         nmi\n"
        "----------------------------------------\n"
        "pca                   0.8123      0.5000"
    )
