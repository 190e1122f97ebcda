import os
import os.path as osp
import sys

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(REPO, 'configs')


@pytest.fixture(autouse=True)
def _run_from_repo_root(monkeypatch):
    """Configs use paths relative to the repo root, as the README's commands do."""
    monkeypatch.chdir(REPO)


@pytest.fixture(scope='module')
def one_thread():
    """Small models run ~100x faster on one thread when the cores are busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run_tool(args, timeout=600, cwd=REPO, env=None):
    """Run a script of tools/ with this interpreter; return the CompletedProcess."""
    import subprocess
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=full_env)
