"""Call and event ids: uuid4-shaped, unique, and different in a forked child."""

from __future__ import annotations

import os
import re

from callcenter.ids import new_id


def test_ids_are_32_hex_digits_and_do_not_repeat() -> None:
    ids = [new_id() for _ in range(100_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids[:1000])
    assert len(set(ids)) == len(ids)


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, to the parent
        os.close(read)
        os.write(write, new_id().encode())
        os._exit(0)
    os.close(write)
    parent_next = new_id()
    child_next = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert re.fullmatch(r"[0-9a-f]{32}", child_next)
    assert child_next != parent_next
