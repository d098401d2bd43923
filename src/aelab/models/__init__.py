"""Model families. Importing this package registers every family.

One family per file (``dense.py``, ``conv.py``, ``lstm.py``, ``vae.py``, and
``modules.py`` for your own encoder/decoder pair): a config dataclass, the module, and
its ``@register_model`` registration. Installed plugins add families through the
``aelab.models`` entry-point group (:mod:`aelab.models.registry`).
"""

from aelab.models.base import Autoencoder, LossOutput

# Importing a family module registers it.
from aelab.models.conv import ConvAutoencoder, ConvConfig
from aelab.models.dense import DenseAutoencoder, DenseConfig
from aelab.models.flat import autoencoder
from aelab.models.lstm import LSTMAutoencoder, LSTMConfig
from aelab.models.modules import ModulesAutoencoder, ModulesConfig
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
    "ModulesAutoencoder",
    "ModulesConfig",
    "VAEConfig",
    "autoencoder",
    "config_class",
    "create_model",
    "list_models",
    "register_model",
]
