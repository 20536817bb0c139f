"""CreateVpcEndpoint: what AWS checks before it creates anything (API: CreateVpcEndpoint).

- `VpcEndpointType` defaults to `Gateway` ("Default: Gateway").
- `ServiceRegion` (README §17): the service's Region, default the caller's; a service in
  another Region must support the caller's Region (else `InvalidServiceName`, ASSUMED).
- `ServiceName`: a custom service (`com.amazonaws.vpce.REGION.vpce-svc-...`) the caller
  may see, or one of moto's AWS services; anything else (`foo`, a service that does not
  exist or is not shared with the caller) is `InvalidServiceName: The Vpc Endpoint
  Service 'NAME' does not exist`.
- The type must be one the service offers, else `InvalidParameter: Endpoint type
  (Gateway) does not match available service types ([Interface]).` (wording as AWS
  returns it, quoted in public Terraform write-ups). So a Gateway endpoint (or no type)
  to an endpoint service is refused.
- Interface endpoints: each `SecurityGroupId` must exist (`InvalidGroup.NotFound`, moto's
  wording) and be in the endpoint's VPC (`InvalidParameter`, ASSUMED wording); without
  any, the VPC's default security group is used ("If this parameter is not specified, we
  use the default security group for the VPC").
- Private DNS for a custom service: `PrivateDnsEnabled` defaults to true when the
  service has a verified private DNS name, else false (ASSUMED for custom services; the
  API documents the default for AWS services). Turning it on is refused as in
  `ec2_private_dns.check_private_dns` (no verified name; acceptance required, since
  private DNS can only be enabled after the connection is accepted; VPC DNS attributes).
"""

from dataclasses import dataclass
from typing import Any

from .cross_region import check_regions, supports
from .ec2_private_dns import check_private_dns, set_private_dns, verified_name
from .errors import error, invalid_service_name
from .lookup import can_see, find_service


@dataclass
class Checked:
    endpoint_type: str
    service: Any | None  # the custom service, None for AWS services
    default_group: str | None  # the VPC's default group, when none was given
    private_dns: bool  # effective PrivateDnsEnabled for a custom service


def service_region(self: Any) -> str:
    """CreateVpcEndpoint `ServiceRegion`: "The default is the current Region" (API)."""
    return self._get_param("ServiceRegion") or self.region


def reachable_service(self: Any, name: str) -> Any | None:
    """The custom service `name` in `ServiceRegion`, if the caller may connect to it.

    From another Region (README §17) the service must also list the caller's Region in
    its supported Regions; otherwise it is `InvalidServiceName` like a service the caller
    may not see (ASSUMED: AWS does not document the error of an unsupported Region).
    """
    region = service_region(self)
    service = find_service(name, region)
    if service is None or not can_see(service, self.current_account):
        return None
    if region != self.region and not supports(service, self.region):
        return None
    return service


def _offered_types(self: Any, name: str) -> tuple[Any | None, list[str]]:
    if name.startswith("com.amazonaws.vpce."):
        service = reachable_service(self, name)
        if service is None:
            return None, []
        return service, [t["ServiceType"] for t in service.service_type]
    if service_region(self) != self.region:
        # ASSUMED: AWS services in other Regions are not modelled (README §17).
        return None, []
    defaults = self.ec2_backend._collect_default_endpoint_services(
        self.current_account, self.region
    )
    types = [
        t["ServiceType"] for d in defaults if d["ServiceName"] == name for t in d["ServiceType"]
    ]
    return None, list(dict.fromkeys(types))


def check(self: Any) -> Checked:
    """Raises what AWS would answer; else what the creation needs to know."""
    backend = self.ec2_backend
    vpc = backend.get_vpc(self._get_param("VpcId"))  # InvalidVpcID.NotFound
    endpoint_type = self._get_param("VpcEndpointType") or "Gateway"
    name = self._get_param("ServiceName") or ""
    check_regions([service_region(self)])
    service, types = _offered_types(self, name)
    if not types:
        raise invalid_service_name(name)
    if endpoint_type not in types:
        raise error(
            "InvalidParameter",
            f"Endpoint type ({endpoint_type}) does not match available service types "
            f"([{', '.join(types)}]).",
        )

    default_group = None
    if endpoint_type == "Interface":
        group_ids = self._get_param("SecurityGroupIds", [])
        subnets = self._get_param("SubnetIds", [])
        for group_id in group_ids:
            group = backend.get_security_group_from_id(group_id)
            if group is None:
                raise error(
                    "InvalidGroup.NotFound", f"The security group '{group_id}' does not exist"
                )
            if group.vpc_id != vpc.id:
                # ASSUMED wording (EC2 says this for RunInstances).
                raise error(
                    "InvalidParameter",
                    f"Security group {group_id} and subnet {subnets[0] if subnets else vpc.id} "
                    "belong to different networks.",
                )
        if not group_ids:
            group = backend.get_default_security_group(vpc.id)
            default_group = group.id if group is not None else None

    private_dns = False
    if service is not None:
        asked = self._get_bool_param("PrivateDnsEnabled")
        private_dns = asked if asked is not None else verified_name(service) is not None
        if private_dns:
            check_private_dns(service, vpc, accepted=not service.acceptance_required)
    return Checked(endpoint_type, service, default_group, private_dns)


def finish(endpoint: Any, checked: Checked) -> None:
    """After moto created the endpoint: its type, the default group, private DNS."""
    endpoint.vpc_endpoint_type = endpoint.vpc_endpoint_type or checked.endpoint_type
    if checked.default_group and not endpoint.security_group_ids:
        endpoint.security_group_ids = [checked.default_group]
    if checked.service is not None:
        set_private_dns(endpoint, checked.private_dns, verified_name(checked.service))
