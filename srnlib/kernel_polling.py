"""A workaround for notebook runs that hang: jupyter_client's waits for a kernel's messages, polled in slices.

papermill's client (nbclient) waits for a kernel's reply with one long ``poll`` of a zmq socket. In notebook 02's
widget cell that wait sometimes never ended although the kernel had answered and was idle (2 of 6 runs of the
runner on 2026-11-30; the client's output-widget handler sends on the kernel's channels while another task polls).
A fresh poll sees the waiting message at once, so ``poll_in_slices`` makes every wait a loop of polls of at most
one second, keeping the caller's timeout. It patches jupyter_client in the calling process only (the runner's).
"""
from __future__ import annotations

import time
from queue import Empty


def sliced_get_msg(get_msg):
    """``get_msg(channel, timeout)`` that waits in slices of at most a second, polling the socket afresh each time;
    the timeout (None: wait forever) is kept, and ``queue.Empty`` is raised when it passes."""
    async def get_msg_in_slices(channel, timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await get_msg(channel, timeout=1.0 if remaining is None else min(1.0, remaining))
            except Empty:
                if remaining is not None and remaining <= 1.0:
                    raise

    get_msg_in_slices.sliced = True
    return get_msg_in_slices


def poll_in_slices() -> None:
    """Patch jupyter_client's async channels (in this process only) with ``sliced_get_msg``, once."""
    from jupyter_client.channels import AsyncZMQSocketChannel

    if not getattr(AsyncZMQSocketChannel.get_msg, "sliced", False):
        AsyncZMQSocketChannel.get_msg = sliced_get_msg(AsyncZMQSocketChannel.get_msg)
