from pathlib import Path

import yaml

from callcenter.bus import PAYLOADS
from callcenter.bus.catalogue import asyncapi_document, render_yaml

DOC = Path(__file__).parents[3] / "docs" / "events.asyncapi.yaml"


def test_every_payload_has_a_channel_with_its_topic_and_retain_flag() -> None:
    doc = asyncapi_document()
    assert doc["asyncapi"].startswith("3.")
    addresses = {c["address"]: c for c in doc["channels"].values()}
    assert "cc/{tenant}/agents/{agent_id}/state" in addresses
    assert addresses["cc/{tenant}/agents/{agent_id}/state"]["bindings"]["mqtt"]["retain"] is True
    assert addresses["cc/{tenant}/calls/{call_id}"]["bindings"]["mqtt"]["retain"] is False
    assert len(doc["channels"]) == len(PAYLOADS)
    msg = doc["components"]["messages"]["queue_stats"]["payload"]
    assert msg["properties"]["schema"]["const"] == "queue.stats"
    assert "service_level_pct" in msg["properties"]["data"]["properties"]


def test_docs_catalogue_is_what_the_code_generates() -> None:
    assert yaml.safe_load(DOC.read_text()) == yaml.safe_load(render_yaml()), (
        "docs/events.asyncapi.yaml is stale: run `callcenter bus catalogue -o "
        "docs/events.asyncapi.yaml`"
    )
