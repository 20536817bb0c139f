"""EC2 actions about endpoint services: consumer visibility and provider configuration.

Replaces moto's handlers of:
- DescribeVpcEndpointServices: adds other accounts' services the caller may use (owner,
  or allowed principal), AvailabilityZoneIds, working `service-name`/`tag:` filters.
- DescribeVpcEndpointServiceConfigurations: honours the documented filters and paging.
- DeleteVpcEndpointServiceConfigurations: refuses services with active connections.

Each function is installed as a method of moto's `EC2Response` by `ec2_patches.apply()`.
"""

from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.responses import EC2Response

from . import cross_region
from .az_mapping import account_zones
from .connections import ACTIVE_STATES, LOCK, connections_of, notifications_of, orphans_of
from .ec2_private_dns import verification_state
from .errors import error, invalid_service_name, unsuccessful
from .ids import check_service_ids
from .lookup import can_see, existing_backends, service_zone_ids, zone_names_for
from .paging import matches, page, parse_filters, tag_values


# moto's handler, captured before ec2_patches.apply() replaces it.
MOTO_CREATE_SERVICE = EC2Response.create_vpc_endpoint_service_configuration


def tags_of(resource: Any) -> dict[str, str]:
    return {t["key"]: t["value"] for t in resource.get_tags()}


def _service_detail(service: Any, viewer: Any) -> dict[str, Any]:
    """A custom service as the `ServiceDetail` the calling account (`viewer`) sees."""
    detail = service.to_dict()
    zone_ids = service_zone_ids(service)
    # AZ names are per account: show the viewer's names for the service's zones (for a
    # service in another Region, the viewer's names in that Region, README §17).
    region = service.ec2_backend.region_name
    if viewer.region_name == region:
        detail["AvailabilityZones"] = zone_names_for(viewer, zone_ids)
    else:
        zones = account_zones(viewer.account_id, region)
        detail["AvailabilityZones"] = sorted(z.name for z in zones if z.zone_id in zone_ids)
    detail["AvailabilityZoneIds"] = zone_ids
    detail["ServiceRegion"] = service.ec2_backend.region_name
    detail["SupportedIpAddressTypes"] = ["ipv4"]
    # ASSUMED: a service's tags are shown to its owner only.
    owner = service.ec2_backend.account_id == viewer.account_id
    detail["Tags"] = [{"Key": k, "Value": v} for k, v in tags_of(service).items()] if owner else []
    if service.private_dns_name:
        # API: ServiceDetail; Guide: manage-dns-names.html (verification states).
        detail["PrivateDnsNameVerificationState"] = verification_state(service)
    else:
        del detail["PrivateDnsName"], detail["PrivateDnsNames"]
    return detail


def _detail_values(detail: dict[str, Any], name: str) -> list[str]:
    if name == "service-name":
        return [detail["ServiceName"]]
    if name == "service-type":
        return [t["ServiceType"] for t in detail["ServiceType"]]
    if name == "service-region":
        return [detail["ServiceRegion"]]
    return tag_values({t["Key"]: t["Value"] for t in detail["Tags"]}, name)


def describe_vpc_endpoint_services(self: Any) -> ActionResult:
    names = self._get_param("ServiceNames", [])
    filters = parse_filters(
        self._get_param("Filters", []),
        ("service-name", "service-type", "service-region"),
        tags=True,
    )
    backend = self.ec2_backend
    # ServiceRegions (README §17): "The service Regions"; ASSUMED default: the caller's.
    regions = list(dict.fromkeys(self._get_param("ServiceRegions", []) or [self.region]))
    cross_region.check_regions(regions)
    details = []
    if self.region in regions:
        # moto's list of AWS services (com.amazonaws.REGION.s3, ...), shared between
        # accounts: copy before adding ServiceRegion. ASSUMED: AWS services of other
        # Regions are not listed (only endpoint services are modelled cross-Region).
        details = [
            dict(d, ServiceRegion=self.region)
            for d in backend._collect_default_endpoint_services(self.current_account, self.region)
        ]
    # A service of another Region is listed only when it supports the caller's Region.
    details += [
        _service_detail(service, backend)
        for region in regions
        for other in existing_backends(region)
        for service in list(other.configurations.values())
        if can_see(service, self.current_account)
        and (region == self.region or cross_region.supports(service, self.region))
    ]
    details.sort(key=lambda d: d["ServiceName"])
    known = {d["ServiceName"] for d in details}
    for name in names:
        if name not in known:
            # Not existing and not allowed look the same, as on AWS.
            raise invalid_service_name(name)
    details = [
        d
        for d in details
        if (not names or d["ServiceName"] in names)
        and matches(filters, lambda f: _detail_values(d, f))
    ]
    # No minimum is documented for this MaxResults (only "at most 1,000").
    chunk, token = page(details, self._get_int_param("MaxResults"), self._get_param("NextToken"), 1)
    return ActionResult(
        {
            "ServiceNames": [d["ServiceName"] for d in chunk],
            "ServiceDetails": chunk,
            "NextToken": token,
        }
    )


def _configuration_values(service: Any, name: str) -> list[str]:
    if name == "service-id":
        return [service.id]
    if name == "service-name":
        return [service.service_name]
    if name == "service-state":
        return [service.service_state]
    if name == "supported-ip-address-types":
        return ["ipv4"]
    return tag_values(tags_of(service), name)


def create_vpc_endpoint_service_configuration(self: Any) -> ActionResult:
    # SupportedRegions must be Regions (README §17); moto keeps them as given and
    # `cross_region` adds the home Region.
    cross_region.check_create(self._get_param("SupportedRegions", []))
    return MOTO_CREATE_SERVICE(self)


def describe_vpc_endpoint_service_configurations(self: Any) -> ActionResult:
    filters = parse_filters(
        self._get_param("Filters", []),
        ("service-id", "service-name", "service-state", "supported-ip-address-types"),
        tags=True,
    )
    service_ids = self._get_param("ServiceIds", [])
    check_service_ids(service_ids)
    services = self.ec2_backend.describe_vpc_endpoint_service_configurations(service_ids)
    services = [s for s in services if matches(filters, lambda f: _configuration_values(s, f))]
    chunk, token = page(
        services, self._get_int_param("MaxResults"), self._get_param("NextToken"), 5
    )
    return ActionResult({"ServiceConfigurations": chunk, "NextToken": token})


def delete_vpc_endpoint_service_configurations(self: Any) -> ActionResult:
    backend = self.ec2_backend
    failed, deletable = [], []
    service_ids = self._get_param("ServiceIds", [])
    check_service_ids(service_ids)
    with LOCK:
        for service_id in service_ids:
            service = backend.configurations.get(service_id)
            if service is None:
                failed.append(
                    unsuccessful(
                        service_id,
                        error(
                            "InvalidVpcEndpointService.NotFound",
                            f"The VpcEndpointService Id '{service_id}' does not exist",
                        ),
                    )
                )
            elif any(c.state in ACTIVE_STATES for c in connections_of(service)):
                failed.append(
                    unsuccessful(
                        service_id,
                        error(
                            "ExistingVpcEndpointConnections",
                            "Service has existing active VPC Endpoint connections",
                        ),
                    )
                )
            else:
                deletable.append(service_id)
        for service_id in deletable:
            # Its (rejected, deleted) connections stay listed for the provider, as on
            # AWS (rebuy-de/aws-nuke #1258); deciding on them is `...ServiceId.NotFound`.
            orphans_of(backend).extend(connections_of(backend.configurations[service_id]))
        backend.delete_vpc_endpoint_service_configurations(deletable)
        # ASSUMED: a deleted service's notifications go with it.
        notifications = notifications_of(backend)
        for nid, n in list(notifications.items()):
            if n.service_id in deletable:
                del notifications[nid]
    return ActionResult({"Unsuccessful": failed})


ACTIONS = {
    f.__name__: f
    for f in (
        create_vpc_endpoint_service_configuration,
        describe_vpc_endpoint_services,
        describe_vpc_endpoint_service_configurations,
        delete_vpc_endpoint_service_configurations,
    )
}
