"""Inference deployment: GhostNet's deploy form, whole detectors exported to
one ONNX graph, a detector on ONNX Runtime or OpenVINO, and INT8
quantisation.

Its modules import only modules listed before them: :mod:`.fuse`,
:mod:`.graph_ops` and :mod:`.detector_graphs` (the graphs); :mod:`.metadata`
and :mod:`.preprocess`; :mod:`.runtime` (:func:`.runtime.open_session`, the
one place that loads a model in ONNX Runtime or OpenVINO) and beside it
:mod:`.mmengine_model` (the runtime as an MMDetection model for the test
loop); :mod:`.quantize`; :mod:`.export` on top. OpenVINO is imported only
when a session asks for it.
"""
from .export import export_detector
from .fuse import (GHOST_FORMS, TARGETS, ChannelLayout, DeployGhostNet, deploy_model,
                   ghost_layout, ghostnet_deploy_form)
from .metadata import read_metadata
from .mmengine_model import OnnxRuntimeDetector
from .runtime import PRECISIONS, RUNTIMES, OnnxDetector, Session, open_session

__all__ = ['GHOST_FORMS', 'PRECISIONS', 'RUNTIMES', 'TARGETS', 'ChannelLayout', 'DeployGhostNet',
           'OnnxDetector', 'OnnxRuntimeDetector', 'Session', 'deploy_model', 'export_detector',
           'ghost_layout', 'ghostnet_deploy_form', 'open_session', 'read_metadata']
