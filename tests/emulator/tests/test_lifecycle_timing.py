"""Timed states: `pending` -> `available` without acceptance, `deleting` -> `deleted` ->
gone after DeleteVpcEndpoints; each step's duration set through the control API."""

import time

import pytest

from conftest import control


@pytest.fixture
def timings(server_url):
    """Set timings for one test; the server's are restored afterwards."""
    _, before = control(server_url, "GET", "config")

    def set_(**values):
        status, config = control(server_url, "POST", "config", values)
        assert status == 200, config
        return config

    yield set_
    control(server_url, "POST", "config", before)


def _state(consumer, endpoint_id):
    endpoints = consumer.client("ec2").describe_vpc_endpoints()["VpcEndpoints"]
    found = [e["State"] for e in endpoints if e["VpcEndpointId"] == endpoint_id]
    return found[0] if found else None


def _connection_states(provider):
    return [
        c["VpcEndpointState"]
        for c in provider.client("ec2").describe_vpc_endpoint_connections()[
            "VpcEndpointConnections"
        ]
    ]


def _wait_for(what, deadline_seconds, check):
    deadline = time.monotonic() + deadline_seconds
    while not check():
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.05)


def test_auto_accepted_connection_is_pending_then_available(world, timings):
    timings(pending_seconds=0.6)
    provider, consumer, _, endpoint = world.connected(acceptance_required=False)
    endpoint_id = endpoint["VpcEndpointId"]
    assert endpoint["State"] == "pending"
    assert _connection_states(provider) == ["pending"]
    started = time.monotonic()
    _wait_for("available", 5, lambda: _state(consumer, endpoint_id) == "available")
    assert time.monotonic() - started >= 0.3
    assert _connection_states(provider) == ["available"]


def test_deletion_is_deleting_then_deleted_then_gone(world, timings):
    config = timings(deleting_seconds=0.6, deleted_visible_seconds=1.0)
    assert config["deleting_seconds"] == 0.6 and config["deleted_visible_seconds"] == 1.0
    provider, consumer, _, endpoint = world.connected()
    endpoint_id = endpoint["VpcEndpointId"]
    ec2 = consumer.client("ec2")
    assert ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])["Unsuccessful"] == []
    assert _state(consumer, endpoint_id) == "deleting"
    assert _connection_states(provider) == ["deleting"]
    # Deleting again while it is going is an Unsuccessful item, not a second deletion.
    again = ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])["Unsuccessful"]
    assert [i["Error"]["Code"] for i in again] == ["InvalidVpcEndpoint.NotFound"]

    _wait_for("deleted", 5, lambda: _state(consumer, endpoint_id) == "deleted")
    assert _connection_states(provider) == ["deleted"]
    _wait_for("gone", 5, lambda: _state(consumer, endpoint_id) is None)
    assert _connection_states(provider) == []
    with pytest.raises(Exception) as excinfo:
        ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])
    assert "InvalidVpcEndpointId.NotFound" in str(excinfo.value)


def test_gone_endpoint_frees_its_client_token(world, timings):
    timings(deleting_seconds=0, deleted_visible_seconds=0)
    provider, consumer = world.account(), world.account()
    service = world.service(provider, ("*",))
    vpc, subnets = world.network(consumer, ("use1-az6",))
    first = world.endpoint(consumer, service, subnets, vpc, ClientToken="t")["VpcEndpointId"]
    consumer.client("ec2").delete_vpc_endpoints(VpcEndpointIds=[first])
    second = world.endpoint(consumer, service, subnets, vpc, ClientToken="t")["VpcEndpointId"]
    assert second != first


def test_config_keys_and_validation(server_url, timings):
    status, config = control(server_url, "GET", "config")
    assert status == 200
    assert {"pending_seconds", "deleting_seconds", "deleted_visible_seconds"} <= set(config)
    for body in ({"deleting_seconds": -1}, {"deleted_visible_seconds": "x"}, {"nope": 1}):
        assert control(server_url, "POST", "config", body)[0] == 400
