"""The runner's workaround for hung notebook runs: waits for kernel messages are polled in slices."""
import asyncio
from queue import Empty

import pytest

from srnlib.kernel_polling import poll_in_slices, sliced_get_msg


def test_a_wait_without_timeout_polls_again_until_the_message_is_seen():
    calls = []

    async def get_msg(channel, timeout=None):  # a poll that misses the message twice, then sees it
        calls.append(timeout)
        if len(calls) < 3:
            raise Empty
        return {"msg_type": "execute_reply"}

    assert asyncio.run(sliced_get_msg(get_msg)(None)) == {"msg_type": "execute_reply"}
    assert calls == [1.0, 1.0, 1.0]  # never one endless poll


def test_a_wait_with_a_timeout_still_gives_up_when_it_passes():
    calls = []

    async def get_msg(channel, timeout=None):
        calls.append(timeout)
        raise Empty

    with pytest.raises(Empty):
        asyncio.run(sliced_get_msg(get_msg)(None, timeout=0.3))
    assert len(calls) == 1 and calls[0] <= 0.3


def test_the_patch_is_applied_once():
    from jupyter_client.channels import AsyncZMQSocketChannel

    poll_in_slices()
    patched = AsyncZMQSocketChannel.get_msg
    poll_in_slices()
    assert AsyncZMQSocketChannel.get_msg is patched and patched.sliced
