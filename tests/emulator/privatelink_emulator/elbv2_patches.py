"""ELBv2: load balancer ARNs by type, and no deleting a load balancer a service uses.

- ARN shape. AWS names the type in the ARN: `loadbalancer/app/NAME/ID` (application),
  `loadbalancer/net/NAME/ID` (network), `loadbalancer/gwy/NAME/ID` (gateway) (ELBv2 API
  reference examples; AWS CLI `create-load-balancer --type network` example output;
  IAM: "Resource types defined by Elastic Load Balancing V2"). moto 5.2.1 writes `app`
  for every type; here a network or gateway load balancer is re-keyed to its real ARN
  right after moto creates it (tags move with it, listener ARNs derive from it).
- DeleteLoadBalancer of a load balancer that an endpoint service of the same account
  and Region still uses fails with `ResourceInUse: Load balancer 'ARN' cannot be deleted
  because it is currently associated with another service` (API: DeleteLoadBalancer lists
  `ResourceInUse`; the wording as AWS returns it is quoted in hashicorp/terraform #18753
  and cloud-custodian #9921). moto deleted it and left the service dangling.
- A target group's `proxy_protocol_v2.enabled` attribute: AWS lists it, `false` by default,
  for the target groups of network load balancers (API: TargetGroupAttribute, "The
  following attributes are supported only by Network Load Balancers:
  proxy_protocol_v2.enabled - Indicates whether Proxy Protocol version 2 is enabled. The
  value is true or false. The default is false."). moto 5.2.1 stores whatever
  ModifyTargetGroupAttributes sends but lists no default, so a new group had no such
  attribute at all. Here TCP, TLS, UDP and TCP_UDP groups start with `false`, and a
  value other than `true` or `false` is refused with `ValidationError` (ASSUMED wording:
  the documented values are only `true` and `false`).
- A new load balancer is `provisioning` until `nlb_provisioning_seconds` (control API,
  default 0) have passed since CreateLoadBalancer, then `active` (API: LoadBalancerState
  `Code`: `active | provisioning | active_impaired | failed`; CreateLoadBalancer output
  shows `provisioning`; the SDK waiter LoadBalancerAvailable retries while
  `provisioning`). AWS takes minutes; how long is ASSUMED and set per run. moto 5.2.1
  turns it `active` at the first Describe (the default here, 0 s).
"""

import time
from typing import Any

from moto.ec2.models import ec2_backends
from moto.elbv2.exceptions import ResourceInUseError, ValidationError
from moto.elbv2.models import ELBv2Backend, FakeLoadBalancer

from .connections import SETTINGS

TYPE_TOKENS = {"network": "net", "gateway": "gwy"}

MOTO_CREATE_LOAD_BALANCER = ELBv2Backend.create_load_balancer
MOTO_DELETE_LOAD_BALANCER = ELBv2Backend.delete_load_balancer
MOTO_CREATE_TARGET_GROUP = ELBv2Backend.create_target_group
MOTO_MODIFY_TARGET_GROUP_ATTRIBUTES = ELBv2Backend.modify_target_group_attributes
MOTO_ACTIVATE = FakeLoadBalancer.activate

PROXY_PROTOCOL_V2 = "proxy_protocol_v2.enabled"
# The target group protocols of network load balancers (the attribute is theirs only).
NETWORK_PROTOCOLS = ("TCP", "TLS", "UDP", "TCP_UDP")


def create_load_balancer(self: Any, *args: Any, **kwargs: Any) -> Any:
    load_balancer = MOTO_CREATE_LOAD_BALANCER(self, *args, **kwargs)
    token = TYPE_TOKENS.get(load_balancer.type)
    old = load_balancer.arn
    if token and ":loadbalancer/app/" in old:
        new = old.replace(":loadbalancer/app/", f":loadbalancer/{token}/", 1)
        self.load_balancers[new] = self.load_balancers.pop(old)
        self.tagging_service.copy_tags(old, new)
        self.tagging_service.delete_all_tags_for_resource(old)
        load_balancer.arn = new
    load_balancer.privatelink_created_at = time.monotonic()
    return load_balancer


def activate(self: Any) -> None:
    """moto calls this on every Describe: `active` only once provisioning has lasted."""
    created = getattr(self, "privatelink_created_at", None)
    if created is None or time.monotonic() - created >= SETTINGS.nlb_provisioning_seconds:
        MOTO_ACTIVATE(self)


def _services_using(self: Any, arn: str) -> list[Any]:
    ec2 = ec2_backends[self.account_id][self.region_name]
    return [
        service
        for service in list(ec2.configurations.values())
        if arn in service.network_load_balancer_arns
        or arn in service.gateway_load_balancer_arns
    ]


def delete_load_balancer(self: Any, arn: str) -> None:
    if arn in self.load_balancers and _services_using(self, arn):
        raise ResourceInUseError(
            f"Load balancer '{arn}' cannot be deleted because it is currently associated "
            "with another service"
        )
    MOTO_DELETE_LOAD_BALANCER(self, arn)


def create_target_group(self: Any, *args: Any, **kwargs: Any) -> Any:
    target_group = MOTO_CREATE_TARGET_GROUP(self, *args, **kwargs)
    if (target_group.protocol or "").upper() in NETWORK_PROTOCOLS:
        target_group.attributes.setdefault(PROXY_PROTOCOL_V2, "false")
    return target_group


def modify_target_group_attributes(
    self: Any, target_group_arn: str, attributes: dict[str, Any]
) -> None:
    value = attributes.get(PROXY_PROTOCOL_V2)
    if value is not None and str(value) not in ("true", "false"):
        raise ValidationError(
            f"'{PROXY_PROTOCOL_V2}' must be one of [true, false], not '{value}'"
        )
    MOTO_MODIFY_TARGET_GROUP_ATTRIBUTES(self, target_group_arn, attributes)


def apply() -> None:
    """Patch moto in place. Idempotent."""
    ELBv2Backend.create_load_balancer = create_load_balancer
    ELBv2Backend.delete_load_balancer = delete_load_balancer
    ELBv2Backend.create_target_group = create_target_group
    ELBv2Backend.modify_target_group_attributes = modify_target_group_attributes
    FakeLoadBalancer.activate = activate
