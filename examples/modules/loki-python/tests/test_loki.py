import json

import pytest
from sluice_module import FormatError
from sluice_module.testing import batch, configure, http_requests

from app import Loki

EVENTS = ['{"action":"login","user":"zoë"}', '{"action":"read","note":"a\\"b\\nc"}']


def test_one_stream_of_every_event_at_its_time():
    events = batch(EVENTS)
    [(request, body)] = http_requests(configure(Loki, {"tenant": "secops"}).format(events), events)
    assert request.path == "/loki/api/v1/push"
    assert ("X-Scope-OrgID", "secops") in request.headers
    assert request.events == [0, 1]
    stream = json.loads(body)["streams"][0]
    assert stream["stream"] == {"job": "sluice"}
    assert stream["values"] == [["1700000000000000000", EVENTS[0]], ["1700000001000000000", EVENTS[1]]]


def test_an_empty_job_is_refused_before_any_event():
    with pytest.raises(FormatError):
        configure(Loki, {"job": " "})
