from setuptools import find_packages, setup

# What `import ghostdet` needs, as ranges; constraints.txt pins the exact versions
# `make` installs (tools/setup_env.sh installs ghostdet with every extra under those
# pins, so a range here that the pins do not satisfy fails the set-up).
INSTALL_REQUIRES = [
    'torch>=2.6',  # weights-only loading with torch.serialization.safe_globals
    'torchvision',  # TVMobileNetV3
    'numpy',
    'mmengine>=0.10.7,<0.11',
    'mmcv>=2.0.0rc4,<2.2.0',  # mmdet 3.3's own bound
    'mmdet>=3.3.0,<3.4',
    'pycocotools',
    'opencv-python',
    'Pillow',
]
EXTRAS_REQUIRE = {
    # tools/deploy.py, .onnx models in tools/test.py, ghostdet.deploy
    'deploy': ['onnx>=1.17', 'onnxruntime>=1.20'],
    # OpenVINO beside ONNX Runtime: --runtime openvino, the benchmark's openvino backends
    'openvino': ['openvino>=2025.0'],
    # tools/benchmark.py (timm's GhostNet is one of its models)
    'benchmark': ['onnx>=1.17', 'onnxruntime>=1.20', 'psutil', 'matplotlib', 'timm>=1.0'],
    # RepGhostNet, GhostNetV2, GhostNetV3 (built on timm; timm's .safetensors weights)
    'family': ['timm>=1.0,<1.1', 'safetensors'],
    # configs/pretrain/ (ImageNet pretraining)
    'pretrain': ['mmpretrain>=1.2.0,<1.3'],
    # the test suite and MMDetection's analysis tools on our configs
    'test': ['pytest', 'pytest-xdist', 'timm>=1.0', 'scipy', 'shapely', 'terminaltables', 'seaborn'],
}

setup(
    name='ghostdet',
    version='0.1.0',
    description='GhostNet backbones for object detection with MMDetection 3.x',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['ghostdet', 'ghostdet.*']),
    # torch 2.15, numpy 2.4, scipy, pandas and matplotlib as pinned in constraints.txt
    # need Python 3.11 or newer.
    python_requires='>=3.11',
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    license='Apache-2.0',
    license_files=['LICENSE'],
)
