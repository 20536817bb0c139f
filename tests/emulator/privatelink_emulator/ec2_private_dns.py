"""Private DNS names of endpoint services: domain verification, and private DNS on
consumer endpoints.

Provider side (Guide: manage-dns-names.html, "Manage DNS names for VPC endpoint
services"; API: PrivateDnsNameConfiguration, StartVpcEndpointServicePrivateDnsVerification):
- Setting a service's `PrivateDnsName` (Create/ModifyVpcEndpointServiceConfiguration)
  makes a new `PrivateDnsNameConfiguration {State: pendingVerification, Type: TXT,
  Name: _RANDOM, Value: vpce:RANDOM}`; `RemovePrivateDnsName` removes name and
  configuration (moto ignored it). The name is a property of moto's model, so every way
  moto sets it goes through here.
- `StartVpcEndpointServicePrivateDnsVerification` looks for a TXT record whose value is
  `Value`, named `Name.DOMAIN` where DOMAIN is the private DNS name (`*.` dropped) or one
  of its parent domains ("you can verify example.com instead of a.example.com"), or named
  DOMAIN itself (the guide's way out for DNS hosts that reject underscores), in a
  *public* Route 53 hosted zone of the provider's account ("To verify a domain, you must
  have a public hostname or a public DNS provider"). Found: `verified`, else `failed`.
  ASSUMED: the check is done at once (AWS takes a while); the value compares exactly (a
  lowercased value is a documented cause of failure).

Consumer side (API: CreateVpcEndpoint and ModifyVpcEndpoint `PrivateDnsEnabled`):
- Private DNS on an endpoint to a custom service needs a *verified* private DNS name,
  an accepted connection, and both VPC DNS attributes; otherwise `InvalidParameter` with
  the messages AWS returns (quoted in public Terraform code and AWS's GuardDuty
  troubleshooting page; the code for the VPC attributes is ASSUMED).
- With it on, `DnsEntries` ends with the private name, in a zone id of its own (the
  private hosted zone AWS manages for the consumer, which the consumer does not see).

Each action is installed as a method of moto's `EC2Response` by `ec2_patches.apply()`.
"""

import string
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.models.vpc_service_configuration import VPCServiceConfiguration
from moto.ec2.responses import EC2Response
from moto.moto_api._internal import mock_random
from moto.route53.models import route53_backends

from . import cross_region
from .connections import AVAILABLE, LOCK, PENDING, PENDING_ACCEPTANCE, connection_of, purge_gone
from .cross_region import supported_region_names
from .errors import error, missing_parameter, service_id_not_found
from .ids import check_endpoint_id, check_service_id

PENDING_VERIFICATION = "pendingVerification"
VERIFIED = "verified"
FAILED = "failed"

MOTO_MODIFY_VPC_ENDPOINT = EC2Response.modify_vpc_endpoint
MOTO_MODIFY_SERVICE = EC2Response.modify_vpc_endpoint_service_configuration


class Verification:
    """One private DNS name's domain verification values and state."""

    def __init__(self) -> None:
        alphabet = string.ascii_lowercase + string.digits
        self.name = "_" + "".join(mock_random.choice(alphabet) for _ in range(20))
        self.value = "vpce:" + mock_random.get_random_string(20)
        self.state = PENDING_VERIFICATION

    def to_api(self) -> dict[str, str]:
        return {"State": self.state, "Type": "TXT", "Value": self.value, "Name": self.name}


# --- the service's name and its verification, on moto's model --------------------------


def verification_of(service: Any) -> Verification | None:
    return service.__dict__.get("_pl_verification")


def _get_name(service: Any) -> str | None:
    return service.__dict__.get("_pl_private_dns_name")


def _set_name(service: Any, value: Any) -> None:
    value = value or None
    if value != _get_name(service):
        service.__dict__["_pl_private_dns_name"] = value
        # A new name needs its own verification (Guide: manage-dns-names.html).
        service.__dict__["_pl_verification"] = Verification() if value else None


def _configuration(service: Any) -> dict[str, str]:
    verification = verification_of(service)
    return verification.to_api() if verification else {}


def verified_name(service: Any) -> str | None:
    """The service's private DNS name if it is verified, else None."""
    verification = verification_of(service)
    if verification is not None and verification.state == VERIFIED:
        return _get_name(service)
    return None


def verification_state(service: Any) -> str | None:
    verification = verification_of(service)
    return verification.state if verification else None


# --- verification -----------------------------------------------------------------------


def _record_names(private_dns_name: str, txt_name: str) -> set[str]:
    domain = private_dns_name.lower().rstrip(".").removeprefix("*.")
    labels = domain.split(".")
    # The name itself and its parents, down to two labels (not a bare TLD).
    domains = [".".join(labels[i:]) for i in range(max(len(labels) - 1, 1))]
    return {f"{txt_name.lower()}.{d}" for d in domains} | set(domains)


def _txt_values(record_set: Any) -> list[str]:
    values = []
    for record in record_set.records or []:
        raw = record.get("Value", "") if isinstance(record, dict) else str(record)
        # A TXT value is one or more quoted strings; several may sit on one record.
        values += [part for part in raw.split('"') if part.strip()] or [raw]
    return values


def txt_record_found(account_id: str, private_dns_name: str, verification: Verification) -> bool:
    """Is the verification record in a public Route 53 zone of this account?"""
    wanted = _record_names(private_dns_name, verification.name)
    backend = route53_backends[account_id]["global"]
    for zone in list(backend.zones.values()):
        if zone.private_zone:
            continue
        zone_name = zone.name.lower().rstrip(".")
        for record_set in list(zone.rrsets):
            name = (record_set.name or "").lower().rstrip(".")
            if (
                record_set.type == "TXT"
                and name in wanted
                and (name == zone_name or name.endswith("." + zone_name))
                and verification.value in _txt_values(record_set)
            ):
                return True
    return False


def start_vpc_endpoint_service_private_dns_verification(self: Any) -> ActionResult:
    self.error_on_dryrun()
    service_id = self._get_param("ServiceId")
    if not service_id:
        raise missing_parameter("ServiceId")
    check_service_id(service_id)
    with LOCK:
        service = self.ec2_backend.configurations.get(service_id)
        if service is None:
            raise service_id_not_found(service_id)
        verification = verification_of(service)
        if verification is None:
            # ASSUMED code and wording: AWS does not document this case.
            raise error(
                "InvalidParameter",
                f"The service {service_id} does not have a private DNS name to verify.",
            )
        found = txt_record_found(service.ec2_backend.account_id, _get_name(service), verification)
        verification.state = VERIFIED if found else FAILED
    return ActionResult({"ReturnValue": True})


def modify_vpc_endpoint_service_configuration(self: Any) -> ActionResult:
    service_id = self._get_param("ServiceId")
    check_service_id(service_id)
    with LOCK:
        service = self.ec2_backend.configurations.get(service_id)
        regions = None
        if service is not None:
            # Cross-Region (README §17): validated here; moto only sees a list in which
            # every Region to remove is present, and the result replaces its list.
            add = self._get_param("AddSupportedRegions", [])
            remove = self._get_param("RemoveSupportedRegions", [])
            regions = cross_region.apply_modification(service, add, remove)
            before = service._supported_region_names
            service._supported_region_names = supported_region_names(service) + remove
        try:
            result = MOTO_MODIFY_SERVICE(self)
        except Exception:
            if service is not None:
                service._supported_region_names = before
            raise
        if service is not None:
            service._supported_region_names = regions
        if self._get_bool_param("RemovePrivateDnsName"):
            service = self.ec2_backend.configurations[self._get_param("ServiceId")]
            service.private_dns_name = None
    return result


# --- consumer endpoints -----------------------------------------------------------------


def _private_zone_id(endpoint: Any) -> str:
    # ASSUMED: a made-up id for the private hosted zone AWS manages for the endpoint.
    alphabet = string.ascii_uppercase + string.digits
    return endpoint.__dict__.setdefault(
        "_pl_private_zone_id", "Z" + "".join(mock_random.choice(alphabet) for _ in range(20))
    )


def set_private_dns(endpoint: Any, enabled: bool, name: str | None) -> None:
    """Turns private DNS on or off: the flag, and the private name in DnsEntries."""
    previous = endpoint.__dict__.pop("_pl_private_entry", None)
    entries = [e for e in endpoint.dns_entries or [] if e is not previous]
    endpoint.private_dns_enabled = enabled
    if enabled and name:
        entry = {"DnsName": name, "HostedZoneId": _private_zone_id(endpoint)}
        endpoint.__dict__["_pl_private_entry"] = entry
        entries.append(entry)
    endpoint.dns_entries = entries


def _true(value: Any) -> bool:
    return str(value).lower() == "true"


def check_private_dns(service: Any, vpc: Any, accepted: bool) -> None:
    """Why private DNS cannot be turned on for an endpoint of `vpc` to `service`."""
    if verified_name(service) is None:
        # Wording as AWS returns it (quoted in public Terraform and CDK code).
        raise error(
            "InvalidParameter",
            f"Private DNS can't be enabled because the service {service.service_name} "
            "does not provide a private DNS name.",
        )
    if not accepted:
        # Wording as AWS returns it (quoted in public Terraform code).
        raise error(
            "InvalidParameter",
            "Private DNS can only be enabled after the endpoint connection is accepted "
            f"by the owner of {service.service_name}.",
        )
    if not (_true(vpc.enable_dns_support) and _true(vpc.enable_dns_hostnames)):
        # Wording from AWS's GuardDuty troubleshooting page; the code is ASSUMED.
        raise error(
            "InvalidParameter",
            "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames "
            f"VPC attributes set to true for {vpc.id}",
        )


def modify_vpc_endpoint(self: Any) -> ActionResult:
    endpoint_id = self._get_param("VpcEndpointId")
    check_endpoint_id(endpoint_id)
    enabled = self._get_bool_param("PrivateDnsEnabled")
    backend = self.ec2_backend
    with LOCK:
        purge_gone(backend)
        endpoint = backend.get_vpc_end_point(endpoint_id)
        connection = connection_of(endpoint)
        if enabled and connection is not None:
            state = connection.state
            if state not in (PENDING_ACCEPTANCE, PENDING, AVAILABLE):
                # ASSUMED code and wording.
                raise error(
                    "IncorrectState",
                    f"The VPC endpoint {endpoint_id} is in state '{state}'.",
                )
            check_private_dns(
                connection.service, backend.get_vpc(endpoint.vpc_id), state != PENDING_ACCEPTANCE
            )
        result = MOTO_MODIFY_VPC_ENDPOINT(self)
        if enabled is not None:
            name = verified_name(connection.service) if connection is not None else None
            set_private_dns(endpoint, enabled, name)
    return result


ACTIONS = {
    f.__name__: f
    for f in (
        start_vpc_endpoint_service_private_dns_verification,
        modify_vpc_endpoint_service_configuration,
        modify_vpc_endpoint,
    )
}


def apply() -> None:
    """Patch moto's model in place. Idempotent."""
    VPCServiceConfiguration.private_dns_name = property(_get_name, _set_name)
    VPCServiceConfiguration.private_dns_name_configuration = property(_configuration)
