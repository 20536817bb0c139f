"""Route 53: a hosted zone created with a VPC is a private zone associated with that VPC.

API: CreateHostedZone (https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateHostedZone.html)
describes `VPC` as "(Private hosted zones only) ... the Amazon VPC that you're associating
with this hosted zone", and `HostedZoneConfig` as optional ("For private hosted zones, an
optional PrivateZone element. If you don't specify a comment or the PrivateZone element,
omit HostedZoneConfig"). So passing a VPC is what makes a zone private; the element is not
required. moto 5.2.1 reads the VPC only when `HostedZoneConfig.PrivateZone` is true, so
`aws route53 create-hosted-zone --vpc VPCRegion=...,VPCId=...` without the config made a
*public* zone with no VPC. Here the element counts as true whenever a VPC is given.
"""

from typing import Any

from moto.route53.responses import Route53

MOTO_CREATE_HOSTED_ZONE = Route53.create_hosted_zone


def create_hosted_zone(self: Any) -> Any:
    if self._get_param("VPC.VPCId"):
        moto_get_bool = self._get_bool_param

        def get_bool(name: str, if_none: Any = None) -> Any:
            if name == "HostedZoneConfig.PrivateZone":
                return True
            return moto_get_bool(name, if_none)

        # Only for this request: the response object is per request.
        self._get_bool_param = get_bool
    return MOTO_CREATE_HOSTED_ZONE(self)


def apply() -> None:
    """Patch moto in place. Idempotent."""
    Route53.create_hosted_zone = create_hosted_zone
