"""The sections of ``docs/results.md``, one module each (named by its ``--sections`` key:
presets, family, sweeps, claims, best, mnist, downstream), each exposing ``SECTION``;
``page`` assembles them, ``context`` and ``protocol`` hold what they share, ``columns``
reads the metric catalog for their tables. ``benchmarks/reproduce.py`` lists them."""
