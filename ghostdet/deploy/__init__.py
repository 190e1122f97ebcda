"""Inference deployment: GhostNet's deploy form, whole detectors exported to
one ONNX graph, an ONNX Runtime detector, and INT8 quantisation.

Its modules import only modules listed before them: :mod:`.fuse`,
:mod:`.graph_ops` and :mod:`.detector_graphs` (the graphs); :mod:`.metadata`
and :mod:`.preprocess`; :mod:`.runtime` (ONNX Runtime) and beside it
:mod:`.mmengine_model` (the runtime as an MMDetection model for the test
loop); :mod:`.quantize`; :mod:`.export` on top.
"""
from .export import export_detector
from .fuse import (GHOST_FORMS, TARGETS, ChannelLayout, DeployGhostNet, deploy_model,
                   ghost_layout, ghostnet_deploy_form)
from .metadata import read_metadata
from .mmengine_model import OnnxRuntimeDetector
from .runtime import OnnxDetector

__all__ = ['GHOST_FORMS', 'TARGETS', 'ChannelLayout', 'DeployGhostNet', 'OnnxDetector',
           'OnnxRuntimeDetector', 'deploy_model', 'export_detector', 'ghost_layout',
           'ghostnet_deploy_form', 'read_metadata']
