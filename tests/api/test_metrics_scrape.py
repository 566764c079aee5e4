"""A scrape of /metrics is rendered off the event loop: with several workers it reads every
worker's files, which must not hold up the requests in flight."""

from __future__ import annotations

import asyncio

from modelport.api.state import server_state


def test_metrics_are_rendered_outside_the_event_loop(serve, example_dir, monkeypatch):
    with serve(example_dir / "wind-turbine.joblib") as client:
        metrics = server_state(client.app).metrics
        render, loops = metrics.render, []

        def recording_render() -> bytes:
            try:
                loops.append(asyncio.get_running_loop())
            except RuntimeError:  # no loop runs in this thread: a worker thread
                loops.append(None)
            return render()

        monkeypatch.setattr(metrics, "render", recording_render)
        answer = client.get("/metrics")
    assert answer.status_code == 200 and "modelport_requests_total" in answer.text
    assert loops == [None]
