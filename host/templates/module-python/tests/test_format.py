"""The module natively, as the host would configure and call it."""

import pytest
from sluice_module import FormatError
from sluice_module.testing import batch, configure, http_requests

from app import Module


def test_a_batch_is_one_post_of_the_events_one_per_line():
    events = batch(['{"a":1}', '{"b":"x"}'])
    [(request, body)] = http_requests(configure(Module, {"path": "/logs"}).format(events), events)
    assert request.path == "/logs"
    assert request.events == [0, 1]
    assert body == b'{"a":1}\n{"b":"x"}\n'


def test_a_path_without_a_slash_is_refused():
    with pytest.raises(FormatError):
        configure(Module, {"path": "logs"})
