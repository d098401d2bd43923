"""Model families. Importing this package registers every family.

One family per file (``dense.py``, ``conv.py``, ``lstm.py``, ``vae.py``): a config
dataclass, the module, and its ``@register_model`` registration.
"""

from aelab.models.base import Autoencoder, LossOutput

# Importing a family module registers it.
from aelab.models.conv import ConvAutoencoder, ConvConfig
from aelab.models.dense import DenseAutoencoder, DenseConfig
from aelab.models.flat import autoencoder
from aelab.models.lstm import LSTMAutoencoder, LSTMConfig
from aelab.models.registry import config_class, create_model, list_models, register_model
from aelab.models.vae import VAE, VAEConfig

__all__ = [
    "VAE",
    "Autoencoder",
    "ConvAutoencoder",
    "ConvConfig",
    "DenseAutoencoder",
    "DenseConfig",
    "LSTMAutoencoder",
    "LSTMConfig",
    "LossOutput",
    "VAEConfig",
    "autoencoder",
    "config_class",
    "create_model",
    "list_models",
    "register_model",
]
