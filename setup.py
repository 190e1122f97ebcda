from setuptools import find_packages, setup

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
    install_requires=['torch', 'mmengine>=0.10.7', 'mmcv>=2.0.0rc4,<2.2.0', 'mmdet>=3.3.0,<3.4'],
    license='Apache-2.0',
    license_files=['LICENSE'],
)
