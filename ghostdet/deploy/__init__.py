"""Inference deployment: GhostNet's deploy form, whole detectors exported to
one ONNX graph, an ONNX Runtime detector, and INT8 quantisation."""
from .export import export_detector, read_metadata
from .fuse import (GHOST_FORMS, TARGETS, ChannelLayout, DeployGhostNet, deploy_model,
                   ghost_layout, ghostnet_deploy_form)
from .runtime import OnnxDetector, OnnxRuntimeDetector

__all__ = ['GHOST_FORMS', 'TARGETS', 'ChannelLayout', 'DeployGhostNet', 'OnnxDetector',
           'OnnxRuntimeDetector', 'deploy_model', 'export_detector', 'ghost_layout',
           'ghostnet_deploy_form', 'read_metadata']
