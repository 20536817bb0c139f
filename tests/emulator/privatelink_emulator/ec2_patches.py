"""Installs the PrivateLink layer into moto's EC2 models and response class.

moto 5.2 dispatches an EC2 `Action=FooBar` to the method `foo_bar` of `EC2Response`, and
serialises the `ActionResult(dict)` it returns with the botocore output shape. So adding
or replacing an action is setting a method on `EC2Response`. Besides the actions (from
`ec2_services`, `ec2_endpoints`, `ec2_notifications`, `ec2_permissions`,
`ec2_private_dns`), some model attributes change:
- `VPCEndPoint.state` reads and writes the shared connection state (one state for both
  sides), which keeps moto's `vpc-endpoint-state` filter working unchanged;
- `VPCServiceConfiguration.availability_zone_ids` adds `AvailabilityZoneIds` to the
  ServiceConfiguration output;
- `VPCServiceConfiguration.supported_regions` / `remote_access_enabled`: the home Region
  is always supported (`cross_region.py`);
- `VPCServiceConfiguration.__init__` makes 17-digit service ids (`ids.py`), and
  `private_dns_name` / `private_dns_name_configuration` carry the domain verification
  (`ec2_private_dns.py`).
"""

from moto.ec2.models.vpc_service_configuration import VPCServiceConfiguration
from moto.ec2.models.vpcs import VPCEndPoint
from moto.ec2.responses import EC2Response

from . import (
    connection_tags,
    cross_region,
    ec2_endpoints,
    ec2_notifications,
    ec2_permissions,
    ec2_private_dns,
    ec2_services,
    ids,
)
from .connections import endpoint_state_property
from .lookup import service_zone_ids


def apply() -> None:
    """Patch moto in place. Idempotent; call before the server handles requests."""
    VPCEndPoint.state = endpoint_state_property
    VPCServiceConfiguration.availability_zone_ids = property(service_zone_ids)
    for actions in (
        ec2_services.ACTIONS,
        ec2_endpoints.ACTIONS,
        ec2_notifications.ACTIONS,
        ec2_permissions.ACTIONS,
        ec2_private_dns.ACTIONS,
    ):
        for name, function in actions.items():
            setattr(EC2Response, name, function)
    connection_tags.apply()
    ids.apply()  # 17-digit service ids
    ec2_private_dns.apply()  # private DNS name verification on the service model
    cross_region.apply()  # SupportedRegions with the home Region, RemoteAccessEnabled
