"""aelab-resmlp: a residual-MLP autoencoder family for aelab (an example plugin).

The family registers when :mod:`aelab_resmlp.model` is imported; aelab does that through
the ``aelab.models`` entry point the first time the family is asked for.
"""

__version__ = "0.1.0"
