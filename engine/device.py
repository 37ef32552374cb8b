"""The single place where the engine chooses its torch device (and, for small work, its thread count)."""

import contextlib
import os
from collections.abc import Iterator

import torch

from engine.errors import ParameterError

#: Environment variable that forces the device: ``cpu`` or ``cuda`` (or ``cuda:N``).
DEVICE_ENV_VAR = "LOUPE_DEVICE"


def get_device() -> torch.device:
    """Return the torch device the engine computes on.

    CUDA when a CUDA device is available, else the CPU. The environment variable
    ``LOUPE_DEVICE`` overrides the choice with ``cpu``, ``cuda`` or ``cuda:N``.

    Raises:
        ParameterError: ``LOUPE_DEVICE`` holds another value, or asks for CUDA on a
            machine where ``torch.cuda.is_available()`` is False.
    """
    forced = os.environ.get(DEVICE_ENV_VAR, "").strip().lower()
    if not forced:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if forced == "cpu":
        return torch.device("cpu")
    if forced == "cuda" or forced.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ParameterError(
                f"{DEVICE_ENV_VAR}={forced!r} asks for CUDA, but torch sees no CUDA device "
                f"on this machine; unset {DEVICE_ENV_VAR} or set it to 'cpu'"
            )
        try:
            return torch.device(forced)
        except RuntimeError as exc:
            raise ParameterError(f"{DEVICE_ENV_VAR}={forced!r} is not a valid CUDA device: {exc}") from exc
    raise ParameterError(f"{DEVICE_ENV_VAR}={forced!r} is not understood; use 'cpu', 'cuda' or 'cuda:N'")


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run the block's torch CPU work on one thread, then restore the thread count.

    For small tensors (a colour transfer fitted on 10⁵ pixels, a 3D LUT applied to a few
    thousand colours) the thread pool costs more than it gains, and on a loaded machine its
    threads' spin-waits made such a fit 10–30 times slower (measured: 0.35 s against 0.012 s for
    CIELAB of 50 000 colours on 2 cores at load 7).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
