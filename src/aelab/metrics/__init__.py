"""Metrics: reconstruction quality, code statistics, baselines, downstream probes, anomaly scores.

One module per concept; import the module you need (``aelab.metrics.downstream``).
"""
