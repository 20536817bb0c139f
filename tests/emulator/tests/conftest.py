"""Fixtures: one emulator server per session (a real subprocess, used over HTTP) and a
`world` helper that makes accounts (STS AssumeRole), services, networks and endpoints.

Every test works in fresh random accounts, so tests never see each other's resources.
"""

import json
import os
import re
import select
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

EMULATOR_DIR = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
PENDING_SECONDS = 1.0
# One attempt only: SDK retries would hide (and use up) injected faults.
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})
# Each account maps AZ names to AZ IDs its own way (as AWS does), so fixtures that
# relate zones across accounts use AZ IDs.
AZ_ID = re.compile(r"^[a-z]+[0-9]+-az[0-9]+$")


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Any:
    log_path = tmp_path_factory.mktemp("emulator") / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
    env["PYTHONPATH"] = str(EMULATOR_DIR)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "privatelink_emulator",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--pending-seconds",
                str(PENDING_SECONDS),
                "--parent-pid",
                str(os.getpid()),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    ready, _, _ = select.select([process.stdout], [], [], 60)
    line = process.stdout.readline() if ready else ""
    if not line.startswith("privatelink-emulator ready on http://127.0.0.1:"):
        process.kill()
        pytest.fail(f"emulator did not start: {line!r}\n{log_path.read_text()}")
    yield line.split()[-1]
    process.terminate()
    process.wait(timeout=10)


def control(url: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """Call the control API; returns (HTTP status, decoded JSON)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}/_privatelink/{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class Account:
    """One AWS account, reached with STS AssumeRole credentials (moto maps the key)."""

    def __init__(self, url: str, account_id: str, credentials: dict[str, str]) -> None:
        self.url, self.id, self.credentials = url, account_id, credentials

    def client(self, service: str, region: str = REGION) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            config=NO_RETRY,
            aws_access_key_id=self.credentials["AccessKeyId"],
            aws_secret_access_key=self.credentials["SecretAccessKey"],
            aws_session_token=self.credentials["SessionToken"],
        )


class World:
    def __init__(self, url: str) -> None:
        self.url = url

    def account(self) -> Account:
        account_id = f"{uuid.uuid4().int % 10**12:012d}"
        sts = boto3.client(
            "sts",
            endpoint_url=self.url,
            region_name=REGION,
            config=NO_RETRY,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        credentials = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/x", RoleSessionName="tests"
        )["Credentials"]
        return Account(self.url, account_id, credentials)

    def network(self, account: Account, zones: tuple[str, ...]) -> tuple[str, list[str]]:
        """A VPC with one subnet per listed zone (repeats allowed).

        A zone is an AZ ID (`use1-az6`, the same physical zone in every account) or an
        AZ name (`us-east-1a`, which names a different zone in each account).
        """
        ec2 = account.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = []
        for i, zone in enumerate(zones):
            where = (
                {"AvailabilityZoneId": zone} if AZ_ID.match(zone) else {"AvailabilityZone": zone}
            )
            subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", **where)
            subnets.append(subnet["Subnet"]["SubnetId"])
        return vpc, subnets

    def zone_names(self, account: Account, zone_ids: list[str]) -> list[str]:
        """The account's AZ names of the given AZ IDs, in the same order."""
        zones = account.client("ec2").describe_availability_zones(ZoneIds=list(zone_ids))
        by_id = {z["ZoneId"]: z["ZoneName"] for z in zones["AvailabilityZones"]}
        return [by_id[zone_id] for zone_id in zone_ids]

    def service(
        self,
        provider: Account,
        principals: tuple[str, ...] = (),
        acceptance_required: bool = True,
        zones: tuple[str, ...] = ("use1-az6", "use1-az1"),
        tags: dict[str, str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """An endpoint service behind a fresh NLB; returns its ServiceConfiguration.

        `extra` goes to CreateVpcEndpointServiceConfiguration as is.
        """
        _, subnets = self.network(provider, zones)
        nlb = provider.client("elbv2").create_load_balancer(
            Name=f"nlb-{uuid.uuid4().hex[:8]}", Type="network", Scheme="internal", Subnets=subnets
        )["LoadBalancers"][0]["LoadBalancerArn"]
        ec2 = provider.client("ec2")
        if tags:
            extra["TagSpecifications"] = [
                {
                    "ResourceType": "vpc-endpoint-service",
                    "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
                }
            ]
        service = ec2.create_vpc_endpoint_service_configuration(
            NetworkLoadBalancerArns=[nlb], AcceptanceRequired=acceptance_required, **extra
        )["ServiceConfiguration"]
        if principals:
            ec2.modify_vpc_endpoint_service_permissions(
                ServiceId=service["ServiceId"], AddAllowedPrincipals=list(principals)
            )
        return service

    def endpoint(
        self,
        consumer: Account,
        service: dict[str, Any],
        subnets: list[str],
        vpc: str,
        **kwargs: Any,
    ) -> dict[str, Any]:
        return consumer.client("ec2").create_vpc_endpoint(
            VpcEndpointType="Interface",
            VpcId=vpc,
            ServiceName=service["ServiceName"],
            SubnetIds=subnets,
            **kwargs,
        )["VpcEndpoint"]

    def connected(
        self, acceptance_required: bool = True
    ) -> tuple[Account, Account, dict[str, Any], dict[str, Any]]:
        """(provider, consumer, service, endpoint): a consumer endpoint to an allowed service."""
        provider, consumer = self.account(), self.account()
        service = self.service(provider, (f"arn:aws:iam::{consumer.id}:root",), acceptance_required)
        vpc, subnets = self.network(consumer, ("use1-az6",))
        return provider, consumer, service, self.endpoint(consumer, service, subnets, vpc)


@pytest.fixture(scope="session")
def world(server_url: str) -> World:
    return World(server_url)
