"""setup.py declares what ghostdet needs, and constraints.txt pins all of it."""
import ast
import os.path as osp

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import REPO


def setup_lists():
    tree = ast.parse(open(osp.join(REPO, 'setup.py')).read())
    values = {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
              if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)}
    return values['INSTALL_REQUIRES'], values['EXTRAS_REQUIRE']


def pins():
    pinned = {}
    for line in open(osp.join(REPO, 'constraints.txt')):
        line = line.split('#')[0].strip()
        if line:
            name, version = line.split('==')
            pinned[canonicalize_name(name)] = version
    return pinned


def test_every_requirement_is_pinned_at_a_version_it_accepts():
    install, extras = setup_lists()
    pinned = pins()
    for text in install + [r for group in extras.values() for r in group]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f'{name} is required by setup.py but not pinned'
        assert requirement.specifier.contains(pinned[name], prereleases=True), \
            (text, pinned[name])


def test_set_up_compiled_the_stack_to_bytecode():
    """tools/setup_env.sh compiles what it installs: where
    PYTHONDONTWRITEBYTECODE is set no import writes a .pyc, and each of the
    suite's processes would compile torch and mmdet again (20 s, not 8)."""
    import importlib.util
    import sys

    import mmdet.apis
    import torch
    assert sys.prefix == osp.join(REPO, '.venv'), 'run the suite in .venv (make test)'
    for module in (torch, mmdet.apis):
        assert osp.isfile(importlib.util.cache_from_source(module.__file__)), module.__name__
