"""Cross-Region PrivateLink: a service's supported Regions (README §17).

AWS (since November 2024, Guide: privatelink-share-your-services.html "Cross-Region
access") lets a provider keep an endpoint service in its home Region and list other
`SupportedRegions`; a consumer in one of those Regions creates an Interface endpoint in its
own Region with `ServiceRegion=<the service's Region>`.

moto 5.2.1 stores the Regions given to CreateVpcEndpointServiceConfiguration and
ModifyVpcEndpointServiceConfiguration as they come (the home Region missing, duplicates
kept, removing an absent Region a crash). Here:
- `supported_region_names(service)`: the home Region first, then the others, once each
  ("the home Region is always supported and cannot be removed", Guide);
- `ServiceConfiguration.SupportedRegions` (API: SupportedRegionDetail, `ServiceState`
  `Available`) and `RemoteAccessEnabled` (API: ServiceConfiguration, "consumers can access
  the service from a Region other than the Region where the service is hosted") follow it;
- `apply_modification` validates Add/RemoveSupportedRegions before moto sees them;
- DescribeVpcEndpoints gets the documented `service-region` filter (moto had none).
"""

from typing import Any

import botocore.session
from moto.ec2.models.vpc_service_configuration import VPCServiceConfiguration
from moto.ec2.models.vpcs import VPCEndPoint

from .errors import error, invalid_value

# The commercial partition's EC2 Regions, from botocore's endpoint data (the pinned
# botocore: opt-in Regions included; AWS also requires those to be enabled, not modelled).
KNOWN_REGIONS = frozenset(
    botocore.session.get_session().get_available_regions("ec2", partition_name="aws")
)


def home_region(service: Any) -> str:
    return service.ec2_backend.region_name


def supported_region_names(service: Any) -> list[str]:
    """The home Region first, then the added Regions, each once."""
    names = [home_region(service), *service.__dict__.get("_supported_region_names", [])]
    return list(dict.fromkeys(names))


def supports(service: Any, region: str) -> bool:
    return region in supported_region_names(service)


def is_cross_region(service: Any) -> bool:
    return len(supported_region_names(service)) > 1


def check_regions(regions: list[str]) -> None:
    for region in regions:
        if region not in KNOWN_REGIONS:
            # ASSUMED code and wording: AWS does not document this case.
            raise invalid_value(f"The Region '{region}' is not a valid supported Region.")


def check_create(regions: list[str]) -> None:
    """SupportedRegions of CreateVpcEndpointServiceConfiguration."""
    check_regions(regions)


def apply_modification(service: Any, add: list[str], remove: list[str]) -> list[str]:
    """The supported Regions after Add/RemoveSupportedRegions, or the AWS error."""
    check_regions(add + remove)
    home = home_region(service)
    if home in remove:
        # The rule is documented (Guide, "Cross-Region access"); code and wording ASSUMED.
        raise error(
            "InvalidParameter",
            f"The home Region {home} of {service.id} cannot be removed from its supported "
            "Regions.",
        )
    both = set(add) & set(remove)
    if both:
        # ASSUMED code and wording.
        raise error(
            "InvalidParameter",
            f"Regions {sorted(both)} cannot be both added and removed.",
        )
    # ASSUMED: removing a Region that is not supported is not an error (like the other
    # Remove* lists of this action in moto).
    kept = [r for r in supported_region_names(service) if r not in remove]
    return list(dict.fromkeys(kept + add))


def _supported_regions(self: Any) -> list[dict[str, str]]:
    return [{"Region": r, "ServiceState": "Available"} for r in supported_region_names(self)]


MOTO_ENDPOINT_FILTER_VALUE = VPCEndPoint.get_filter_value


def _endpoint_filter_value(self: Any, name: str, method_name: str | None = None) -> Any:
    # DescribeVpcEndpoints `service-region`: "The Region of the service" (API).
    if name == "service-region":
        return self.__dict__.get("service_region") or self.ec2_backend.region_name
    return MOTO_ENDPOINT_FILTER_VALUE(self, name, method_name)


def apply() -> None:
    """Replace moto's SupportedRegions output; add RemoteAccessEnabled and the
    DescribeVpcEndpoints `service-region` filter."""
    VPCServiceConfiguration.supported_regions = property(_supported_regions)
    VPCServiceConfiguration.remote_access_enabled = property(is_cross_region)
    VPCEndPoint.get_filter_value = _endpoint_filter_value
