"""Train and test entry points behind ``tools/train.py`` and ``tools/test.py``.

They take the same options as MMDetection 3.3's own tools and add two things:
the dataset paths in a config are checked before anything heavy starts, and
every checkpoint loads weights-only
(:func:`ghostdet.checkpoint.load_checkpoints_weights_only`, switched on when a
runner is built).
"""
import itertools
import os
import os.path as osp
import warnings
from contextlib import contextmanager
from copy import deepcopy
from typing import Optional

from mmengine.config import Config, ConfigDict
from mmengine.runner import Runner

import ghostdet  # noqa: F401  (registers GhostNet, the loop, hooks, dataset and transform)
from .checkpoint.files import is_remote
from .checkpoint.pretrained import pretrained_init, pretrained_unavailable_message
from .checkpoint.safety import load_checkpoints_weights_only
from .config import load_config
from .data_check import annotation_check_skipped, check_datasets, leaf_datasets
from .engine import find_resumable_checkpoint, is_complete_checkpoint
from .errors import CheckpointError, CheckpointNotFoundError, InputError


def _start_cpu_process_group(cfg):
    """MMEngine's pytorch launcher calls ``torch.cuda.set_device``; it skips its
    own ``init_dist`` when the process group already exists, so on CPU-only
    machines the group is started here with the config's (gloo) backend."""
    import torch
    import torch.distributed as dist
    if cfg.get('launcher') != 'pytorch' or torch.cuda.is_available() or dist.is_initialized():
        return
    dist_cfg = cfg.env_cfg.dist_cfg
    options = {k: v for k, v in dist_cfg.items() if k != 'backend'}
    dist.init_process_group(backend=dist_cfg.backend, **options)


_run_ids = itertools.count()


def build_runner(cfg: Config) -> Runner:
    """Build the runner of a loaded config as the tools do: checkpoints load
    weights-only, a CPU process group is started for the pytorch launcher,
    and each run of a process logs to its own visualizer and experiment."""
    # MMEngine keeps one visualizer per name for the whole process and mmdet's
    # configs name it 'visualizer', so a second run in the same process (test
    # after train, resume) would log into the first run's folder. Its logger and
    # message hub are kept per experiment name, which is the config's name and
    # the second: a second run within that second would log to the first run's
    # stream and share its message hub, unless its name differs.
    run_id = next(_run_ids)
    if cfg.get('visualizer'):
        cfg.visualizer.name = f"{cfg.visualizer.get('name', 'visualizer')}_{os.getpid()}_" \
                              f'{run_id}'
    if run_id and cfg.get('experiment_name') is None and cfg.filename:
        cfg.experiment_name = f'{osp.splitext(osp.basename(cfg.filename))[0]}_run{run_id}'
    load_checkpoints_weights_only()
    _start_cpu_process_group(cfg)
    if 'runner_type' in cfg:
        from mmdet.registry import RUNNERS
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def check_pretrained_weights_exist(backbone_cfg: dict) -> None:
    """Stop before anything heavy when a backbone's ``Pretrained`` weights are
    a local file that does not exist (URLs are fetched when the weights
    load, with the same message on failure).

    Raises:
        CheckpointNotFoundError: The file is missing; the message says how to
            make it, or how to train without it.
    """
    init = pretrained_init(backbone_cfg.get('init_cfg'))
    if init is None or is_remote(init['checkpoint']) or osp.isfile(init['checkpoint']):
        return
    raise CheckpointNotFoundError(pretrained_unavailable_message(
        init['checkpoint'], f"checkpoint not found: {init['checkpoint']}"))


def prepare_train_config(cfg: Config,
                         *,
                         resume: Optional[str] = None,
                         amp: bool = False,
                         auto_scale_lr: bool = False) -> Config:
    """Apply ``--resume``, ``--amp`` and ``--auto-scale-lr`` to a config.

    Args:
        cfg (:obj:`mmengine.Config`): Loaded config, changed in place.
        resume (str, optional): 'auto' resumes from the latest complete
            checkpoint in the work dir
            (:func:`ghostdet.engine.find_resumable_checkpoint`); a path
            resumes from that checkpoint.
        amp (bool): Mixed-precision training (needs a CUDA device).
        auto_scale_lr (bool): Scale the learning rate by the real batch size.

    Returns:
        :obj:`mmengine.Config`: The same config.
    """
    if amp:
        import torch
        if not torch.cuda.is_available():
            raise InputError('--amp needs a CUDA device and none is available; '
                             'train without --amp on CPU.')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise InputError('--auto-scale-lr needs `auto_scale_lr = dict(enable=False, '
                             'base_batch_size=N)` in the config.')
        cfg.auto_scale_lr.enable = True
    if resume == 'auto':
        found = find_resumable_checkpoint(cfg.work_dir)
        cfg.resume = found is not None
        cfg.load_from = found if found is not None else cfg.get('load_from')
    elif resume is not None:
        if not osp.isfile(resume):
            raise CheckpointNotFoundError(f'--resume checkpoint not found: {resume}')
        if not is_complete_checkpoint(resume):
            raise CheckpointError(f'--resume checkpoint {resume} is truncated (written only in '
                                  f'part); give a complete one, or --resume without a path to '
                                  f'take the newest complete checkpoint of the work dir.')
        cfg.resume = True
        cfg.load_from = resume
    return cfg


def train(config: str,
          *,
          work_dir: Optional[str] = None,
          resume: Optional[str] = None,
          amp: bool = False,
          auto_scale_lr: bool = False,
          cfg_options: Optional[dict] = None,
          launcher: str = 'none',
          skip_data_check: bool = False) -> Runner:
    """Train a detector from a config, as ``tools/train.py`` does.

    Args:
        config (str): Config file.
        work_dir (str, optional): Where logs and checkpoints go.
        resume (str, optional): 'auto' or a checkpoint path, see
            :func:`prepare_train_config`.
        amp (bool): Mixed-precision training (needs a CUDA device).
        auto_scale_lr (bool): Scale the learning rate by the real batch size.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
        launcher (str): 'none', 'pytorch', 'slurm' or 'mpi'.
        skip_data_check (bool): Skip the checks of the dataset paths and
            annotation files (:mod:`ghostdet.data_check`).

    Returns:
        :obj:`mmengine.runner.Runner`: The runner after training.
    """
    cfg = load_config(config, cfg_options=cfg_options, work_dir=work_dir, launcher=launcher)
    prepare_train_config(cfg, resume=resume, amp=amp, auto_scale_lr=auto_scale_lr)
    with _data_checks(cfg, ('train_dataloader', 'val_dataloader'), skip_data_check):
        check_pretrained_weights_exist(cfg.model.get('backbone', {}))
        runner = build_runner(cfg)
        runner.train()
    return runner


@contextmanager
def _data_checks(cfg, dataloader_keys, skip):
    """Check the dataset paths now; inside the context the annotation files
    are checked as they load, unless ``skip``."""
    if not skip:
        check_datasets(cfg, dataloader_keys)
        yield
        return
    with annotation_check_skipped():
        yield


def _enable_visualization(cfg, show, show_dir, wait_time):
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        raise InputError('--show/--show-dir need `default_hooks.visualization` '
                         '(DetVisualizationHook) in the config.')
    hooks.visualization.draw = True
    hooks.visualization.show = show
    hooks.visualization.wait_time = wait_time
    if show_dir:
        hooks.visualization.test_out_dir = show_dir


def _enable_tta(cfg):
    if 'tta_model' not in cfg:
        warnings.warn('No tta_model in the config: using flip TTA with NMS.')
        cfg.tta_model = dict(
            type='DetTTAModel',
            tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
    # The pipelines belong to the leaf datasets, inside any wrapper.
    datasets = [dataset for _, dataset in leaf_datasets(cfg.test_dataloader.dataset)]
    if 'tta_pipeline' not in cfg:
        warnings.warn('No tta_pipeline in the config: using horizontal flip.')
        cfg.tta_pipeline = deepcopy(datasets[0].pipeline)
        cfg.tta_pipeline[-1] = dict(
            type='TestTimeAug',
            transforms=[[dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
                        [dict(type='PackDetInputs',
                              meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                                         'scale_factor', 'flip', 'flip_direction'))]])
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    for dataset in datasets:
        dataset.pipeline = cfg.tta_pipeline


def test(config: str,
         checkpoint: str,
         *,
         work_dir: Optional[str] = None,
         out: Optional[str] = None,
         show: bool = False,
         show_dir: Optional[str] = None,
         wait_time: float = 2.,
         cfg_options: Optional[dict] = None,
         launcher: str = 'none',
         tta: bool = False,
         skip_data_check: bool = False,
         runtime: Optional[str] = None,
         precision: Optional[str] = None) -> dict:
    """Evaluate a checkpoint on the config's test set, as ``tools/test.py`` does.

    Args:
        config (str): Config file.
        checkpoint (str): Checkpoint file, or an ONNX model exported by
            ``tools/deploy.py`` (``.onnx``), run with ONNX Runtime.
        work_dir (str, optional): Where logs and metrics go.
        out (str, optional): Dump the raw predictions to this ``.pkl`` file.
        show (bool): Show the predictions in a window.
        show_dir (str, optional): Save pictures of the predictions here
            (relative to ``work_dir/<timestamp>/``, as in MMDetection).
        wait_time (float): Seconds each shown picture stays up.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
        launcher (str): 'none', 'pytorch', 'slurm' or 'mpi'.
        tta (bool): Test-time augmentation.
        skip_data_check (bool): Skip the checks of the dataset paths and
            annotation files (:mod:`ghostdet.data_check`).
        runtime (str, optional): For an ``.onnx`` model: 'onnxruntime'
            (default) or 'openvino'.
        precision (str, optional): For an ``.onnx`` model: 'fp32' (default)
            or 'bf16' (OpenVINO on CPUs with bfloat16 instructions).

    Returns:
        dict: The metrics, e.g. ``{'coco/bbox_mAP': ...}``.
    """
    if not osp.isfile(checkpoint):
        raise CheckpointNotFoundError(f'checkpoint not found: {checkpoint}')
    if out is not None and not out.endswith(('.pkl', '.pickle')):
        raise InputError(f'--out must be a .pkl or .pickle file, got {out}')
    cfg = load_config(config, cfg_options=cfg_options, work_dir=work_dir, launcher=launcher)
    from .runtime_choice import onnx_runtime_choice
    choice = onnx_runtime_choice(checkpoint, runtime=runtime, precision=precision)
    if choice is not None:
        if tta:
            raise InputError('--tta needs a PyTorch checkpoint, not an .onnx model')
        from .deploy.mmengine_model import onnx_model_config
        cfg.model = onnx_model_config(cfg, checkpoint, runtime=choice[0], precision=choice[1])
    else:
        cfg.load_from = checkpoint
    if show or show_dir:
        _enable_visualization(cfg, show, show_dir, wait_time)
    if tta:
        _enable_tta(cfg)
    with _data_checks(cfg, ('test_dataloader', ), skip_data_check):
        runner = build_runner(cfg)
        if out is not None:
            from mmdet.evaluation import DumpDetResults
            os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
            runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=out))
        return runner.test()
