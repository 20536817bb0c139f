"""Route 53: alias targets must exist, a private zone's VPC must be the caller's, and
changes are PENDING before INSYNC.

API: ChangeResourceRecordSets, CreateHostedZone, AssociateVPCWithHostedZone, GetChange
(https://docs.aws.amazon.com/Route53/latest/APIReference/API_<Name>.html).

- Alias targets (ChangeResourceRecordSets, CREATE and UPSERT). The target must exist and
  `AliasTarget.HostedZoneId` must be the zone that holds it, else `InvalidChangeBatch` with
  AWS's wording, as AWS returns it in public reports (harmony-one/harmony-ops #491,
  barnybug/cli53 #213 and #227, aws/aws-cdk #19643):
  `Tried to create an alias that targets NAME., type A in zone ZONE, but the alias target
  name does not lie within the target zone` (wrong zone) and `..., but that target was not
  found` (no such target). Checked targets:
    - VPC endpoint names (`*.vpce.amazonaws.com`): the zone is the Region's vpce zone
      (`ec2_endpoints.hosted_zone_id`), the name one of a live endpoint's DnsEntries, in
      any account;
    - load balancer names (`*.elb.amazonaws.com`, also `dualstack.`): an ELBv2 load
      balancer of any account with that DNSName; the zone is its CanonicalHostedZoneId;
    - a hosted zone of the caller: the name must lie in that zone and a record of the same
      type must exist there (earlier changes of the same batch count).
  Other AWS targets (CloudFront, S3 websites, API Gateway, ...) are not modelled and are
  accepted as before.
- CREATE of a record that exists (same name, type and SetIdentifier; earlier changes of
  the batch count) is `InvalidChangeBatch: Tried to create resource record set
  [name='NAME.', type='TYPE'] but it already exists` (the wording AWS returns, quoted in
  kinvolk lokomotive-kubernetes #181 and many others). moto only caught an identical
  repeated change and otherwise stored a duplicate.
- The VPC of CreateHostedZone and AssociateVPCWithHostedZone must exist in the caller's
  account in `VPCRegion`, else `InvalidVPCId` (both API pages list it: "The VPC ID that you
  specified either isn't a valid ID or the current account is not authorized to access this
  VPC."; that sentence is used as the message, ASSUMED wording).
- Changes. Every ChangeInfo (CreateHostedZone, DeleteHostedZone, Associate/Disassociate
  VPC, ChangeResourceRecordSets) gets its own id `/change/C...` and starts `PENDING`;
  GetChange reports `PENDING` until `route53_pending_seconds` (control API,
  `--route53-pending-seconds`, default 0.5) have passed since the
  change, then `INSYNC` for good (API: GetChange: "PENDING ... This is the initial status
  of all change batch requests"). An unknown id is `NoSuchChange` (API: GetChange errors;
  wording of the message ASSUMED from the API's description). moto answered INSYNC at
  once, for any id, and reused constant ids.
"""

import secrets
import string
import threading
import time
from typing import Any

from moto.core.responses import ActionResult
from moto.elbv2.models import elbv2_backends
from moto.route53.exceptions import ResourceRecordAlreadyExists, Route53ClientError
from moto.route53.responses import Route53

from .connections import SETTINGS
from .lookup import existing_backends


MOTO = {
    name: getattr(Route53, name)
    for name in (
        "create_hosted_zone",
        "delete_hosted_zone",
        "associate_vpc_with_hosted_zone",
        "disassociate_vpc_from_hosted_zone",
        "change_resource_record_sets",
        "get_change",
    )
}
_LOCK = threading.Lock()


class InvalidVPCId(Route53ClientError):
    def __init__(self) -> None:
        super().__init__(
            "InvalidVPCId",
            "The VPC ID that you specified either isn't a valid ID or the current account "
            "is not authorized to access this VPC.",
        )


class NoSuchChange(Route53ClientError):
    def __init__(self) -> None:
        super().__init__("NoSuchChange", "A change with the specified change ID does not exist.")


class InvalidChangeBatch(Route53ClientError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidChangeBatch", message)


# --- VPCs of private zones -------------------------------------------------------------


def _check_vpc(self: Any) -> None:
    vpc_id = self._get_param("VPC.VPCId")
    if not vpc_id:
        return
    from moto.ec2.models import ec2_backends

    region = self._get_param("VPC.VPCRegion")
    account = dict.get(ec2_backends, self.current_account) or {}
    backends = [dict.get(account, region)] if region else list(dict.values(account))
    if not any(b is not None and vpc_id in b.vpcs for b in backends):
        raise InvalidVPCId()


# --- changes: PENDING, then INSYNC ------------------------------------------------------


def _changes(self: Any) -> dict[str, dict[str, Any]]:
    return self.backend.__dict__.setdefault("_pl_changes", {})


def _pending(self: Any, result: Any) -> Any:
    """Give the ChangeInfo of `result` its own id and PENDING status, and remember it."""
    info = result.result.get("ChangeInfo") if isinstance(result, ActionResult) else None
    if not isinstance(info, dict):
        return result
    alphabet = string.ascii_uppercase + string.digits
    change_id = "C" + "".join(secrets.choice(alphabet) for _ in range(20))
    info["Id"] = f"/change/{change_id}"
    info["Status"] = "PENDING"
    with _LOCK:
        _changes(self)[change_id] = {"info": dict(info), "at": time.monotonic()}
    return result


def get_change(self: Any) -> ActionResult:
    change_id = (self._get_param("Id") or "").rsplit("/", 1)[-1]
    with _LOCK:
        change = _changes(self).get(change_id)
        if change is None:
            raise NoSuchChange()
        info = change["info"]
        if info["Status"] == "PENDING" and (
            time.monotonic() - change["at"] >= SETTINGS.route53_pending_seconds
        ):
            info["Status"] = "INSYNC"  # for good, even if the setting grows later
        return ActionResult({"ChangeInfo": dict(info)})


# --- ChangeResourceRecordSets checks ------------------------------------------------------


def _norm(name: str) -> str:
    return (name or "").rstrip(".").lower()


def _vpce_name_exists(dns_name: str, region: str) -> bool:
    for backend in existing_backends(region):
        for endpoint in list(backend.vpc_end_points.values()):
            if getattr(endpoint, "state", None) == "deleted":
                continue
            for entry in endpoint.dns_entries or []:
                if _norm(entry.get("DnsName") or entry.get("dns_name") or "") == dns_name:
                    return True
    return False


def _load_balancer(dns_name: str) -> Any | None:
    for account in list(dict.values(elbv2_backends)):
        for backend in list(dict.values(account)):
            for lb in list(backend.load_balancers.values()):
                if _norm(lb.dns_name) == dns_name:
                    return lb
    return None


def _check_alias(
    self: Any, record: dict[str, Any], zone: Any, keys: set[tuple[str, str, str]]
) -> None:
    alias = record.get("AliasTarget") or {}
    shown = alias.get("DNSName") or ""
    shown = shown if shown.endswith(".") else f"{shown}."
    target = _norm(alias.get("DNSName") or "")
    target_zone = (alias.get("HostedZoneId") or "").rsplit("/", 1)[-1]
    prefix = (
        f"Tried to create an alias that targets {shown}, type {record.get('Type')} in zone "
        f"{target_zone}, but "
    )
    outside = InvalidChangeBatch(
        prefix + "the alias target name does not lie within the target zone"
    )
    missing = InvalidChangeBatch(prefix + "that target was not found")
    if target.endswith(".vpce.amazonaws.com"):
        from .ec2_endpoints import hosted_zone_id

        region = target.split(".")[-4]
        if target_zone != hosted_zone_id(region):
            raise outside
        if not _vpce_name_exists(target, region):
            raise missing
    elif target.endswith(".elb.amazonaws.com"):
        lb = _load_balancer(target.removeprefix("dualstack."))
        if lb is None:
            raise missing
        if target_zone != lb.canonical_hosted_zone_id:
            raise outside
    elif target_zone in self.backend.zones:
        other = self.backend.zones[target_zone]
        zone_name = _norm(other.name)
        if target != zone_name and not target.endswith(f".{zone_name}"):
            raise outside
        if other is zone:
            found = any(k[0] == target and k[1] == record.get("Type") for k in keys)
        else:
            found = any(
                _norm(r.name) == target and r.type == record.get("Type") for r in other.rrsets
            )
        if not found:
            raise missing


def _check_changes(self: Any) -> None:
    zone = self.backend.zones.get((self._get_param("HostedZoneId") or "").rsplit("/", 1)[-1])
    if zone is None:
        return  # moto answers NoSuchHostedZone
    keys = {(_norm(r.name), r.type, r.set_identifier or "") for r in zone.rrsets}
    for change in self._get_param("ChangeBatch.Changes") or []:
        record = change.get("ResourceRecordSet") or {}
        key = (_norm(record.get("Name")), record.get("Type"), record.get("SetIdentifier") or "")
        action = change.get("Action")
        if action == "CREATE" and key in keys:
            raise ResourceRecordAlreadyExists(name=f"{key[0]}.", _type=key[1])
        if action in ("CREATE", "UPSERT"):
            if record.get("AliasTarget"):
                _check_alias(self, record, zone, keys)
            keys.add(key)
        elif action == "DELETE":
            keys.discard(key)


# --- the patched response methods ----------------------------------------------------------


def create_hosted_zone(self: Any) -> Any:
    _check_vpc(self)
    return _pending(self, MOTO["create_hosted_zone"](self))


def associate_vpc_with_hosted_zone(self: Any) -> Any:
    _check_vpc(self)
    return _pending(self, MOTO["associate_vpc_with_hosted_zone"](self))


def change_resource_record_sets(self: Any) -> Any:
    _check_changes(self)
    return _pending(self, MOTO["change_resource_record_sets"](self))


def delete_hosted_zone(self: Any) -> Any:
    return _pending(self, MOTO["delete_hosted_zone"](self))


def disassociate_vpc_from_hosted_zone(self: Any) -> Any:
    return _pending(self, MOTO["disassociate_vpc_from_hosted_zone"](self))


def apply() -> None:
    """Patch moto in place, after `route53_zones.apply()` (this wraps its CreateHostedZone)."""
    if Route53.create_hosted_zone is not create_hosted_zone:
        MOTO["create_hosted_zone"] = Route53.create_hosted_zone
    Route53.create_hosted_zone = create_hosted_zone
    Route53.associate_vpc_with_hosted_zone = associate_vpc_with_hosted_zone
    Route53.change_resource_record_sets = change_resource_record_sets
    Route53.delete_hosted_zone = delete_hosted_zone
    Route53.disassociate_vpc_from_hosted_zone = disassociate_vpc_from_hosted_zone
    Route53.get_change = get_change
