"""Request ids the server makes: 32 hex digits, never the same twice, nor across a fork."""

from __future__ import annotations

import multiprocessing
import re

from modelport.api.request_ids import _new_id


def _ids_in_child(connection) -> None:
    connection.send([_new_id() for _ in range(3)])
    connection.close()


def test_made_ids_are_hex_and_unique(folder_client):
    made = [folder_client.get("/health").headers["x-request-id"] for _ in range(50)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", request_id) for request_id in made)
    assert len(set(made)) == 50


def test_a_forked_worker_makes_ids_of_its_own():
    parent = [_new_id() for _ in range(3)]
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(target=_ids_in_child, args=(sending,))
    child.start()
    sending.close()
    ids = receiving.recv()
    receiving.close()
    child.join()
    assert child.exitcode == 0
    assert ids[0][:16] != parent[0][:16]  # another random half, not the parent's continued
    assert not set(ids) & {*parent, *[_new_id() for _ in range(3)]}
