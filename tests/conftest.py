import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """One torch thread for the in-process tests: their nets are small, and on a 2-core machine a
    second OpenMP thread mostly spins (up to ten times slower). Workflow runs are subprocesses and
    keep their rules' thread counts."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
