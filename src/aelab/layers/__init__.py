"""Building blocks shared by every family: activations, weight initialisation, and the
regularisers that compose with any family (sparsity on the code, input corruption)."""

from aelab.layers.activations import ACTIVATIONS, make_activation
from aelab.layers.init import init_weights
from aelab.layers.noise import Noise, build_noise
from aelab.layers.sparsity import Sparsity, build_sparsity

__all__ = [
    "ACTIVATIONS",
    "Noise",
    "Sparsity",
    "build_noise",
    "build_sparsity",
    "init_weights",
    "make_activation",
]
