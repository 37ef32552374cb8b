"""engine.device: the one place the torch device is chosen."""

import pytest
import torch

from engine.device import get_device
from engine.errors import ParameterError


def test_default_is_cuda_when_available_else_cpu(monkeypatch):
    monkeypatch.delenv("LOUPE_DEVICE", raising=False)
    assert get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_loupe_device_forces_the_cpu(monkeypatch):
    monkeypatch.setenv("LOUPE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_an_unknown_device_is_refused(monkeypatch):
    monkeypatch.setenv("LOUPE_DEVICE", "tpu")
    with pytest.raises(ParameterError, match="LOUPE_DEVICE='tpu' is not understood"):
        get_device()


def test_forcing_cuda_gives_cuda_or_says_there_is_none(monkeypatch):
    monkeypatch.setenv("LOUPE_DEVICE", "cuda")
    if torch.cuda.is_available():
        assert get_device().type == "cuda"
    else:
        with pytest.raises(ParameterError, match="torch sees no CUDA device"):
            get_device()
