"""Reusing a trained model: ``inference`` (load, encode, decode, score), ``embed``
(codes to files), ``probe`` (linear / k-NN / k-means on the codes), ``anomaly``
(one-class detection) and ``export`` (ONNX, TorchScript)."""
