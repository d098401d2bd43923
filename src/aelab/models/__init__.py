"""Model families. Importing this package registers every family."""

from aelab.models.base import Autoencoder, LossOutput
from aelab.models.registry import config_class, create_model, list_models, register_model

__all__ = [
    "Autoencoder",
    "LossOutput",
    "config_class",
    "create_model",
    "list_models",
    "register_model",
]
