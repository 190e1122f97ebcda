"""Opt-in: every checkpoint MMEngine loads in this process is loaded
weights-only, with errors that name the file.

A config switches it on by naming this module::

    custom_imports = dict(imports=['ghostdet', 'ghostdet.weights_only'],
                          allow_failed_imports=False)

ghostdet's own configs list it, and ghostdet's tools switch it on at start-up
(:func:`ghostdet.checkpoint.load_checkpoints_weights_only`). ``import
ghostdet`` alone does not.
"""
from .checkpoint.safety import load_checkpoints_weights_only

load_checkpoints_weights_only()
