"""EC2 `Filter.N` matching and `MaxResults`/`NextToken` paging for the Describe* actions.

Filter semantics follow the EC2 API ("Filtering in Amazon EC2",
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Filtering.html): several values of one
filter are ORed, several filters are ANDed, and values may use the `*` and `?` wildcards.
"""

import base64
import binascii
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from .errors import error, invalid_value

T = TypeVar("T")

PAGE_LIMIT = 1000  # "if MaxResults is given a value larger than 1,000, only 1,000 ..."


def parse_filters(
    raw: Iterable[dict[str, Any]], allowed: Iterable[str], tags: bool = False
) -> list[tuple[str, list[str]]]:
    """Validate filter names; `tags` also allows `tag-key` and `tag:KEY`."""
    allowed = set(allowed) | ({"tag-key"} if tags else set())
    parsed = []
    for item in raw:
        name = item.get("Name") or ""
        if name not in allowed and not (tags and name.startswith("tag:")):
            # Code and wording as returned by AWS for DescribeVpcEndpointConnections
            # (quoted in terraform-provider-aws internal/service/ec2/find.go).
            raise error("InvalidFilter", f"The filter {name} is invalid")
        parsed.append((name, list(item.get("Values") or [])))
    return parsed


def wildcard_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """AWS-style match: `*` is any run of characters, `?` any one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def matches(
    filters: list[tuple[str, list[str]]], values_of: Callable[[str], Iterable[str]]
) -> bool:
    """True if, for every filter, one of the object's values matches one filter value."""
    for name, patterns in filters:
        values = list(values_of(name))
        if not any(wildcard_match(p, v) for p in patterns for v in values):
            return False
    return True


def tag_values(tags: dict[str, str], name: str) -> list[str]:
    """Values of the `tag-key` / `tag:KEY` filters for a resource's tags."""
    if name == "tag-key":
        return list(tags)
    key = name[len("tag:") :]
    return [tags[key]] if key in tags else []


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"privatelink:{offset}".encode()).decode()


def page(
    items: list[T], max_results: int | None, next_token: str | None, minimum: int
) -> tuple[list[T], str | None]:
    """One page of `items`, and the NextToken for the rest (None on the last page)."""
    if max_results is None:
        size = PAGE_LIMIT
    elif max_results < minimum:
        # ASSUMED wording; AWS documents only the range.
        raise invalid_value(
            f"Value ( {max_results} ) for parameter maxResults is invalid. "
            f"Parameter must be between {minimum} and {PAGE_LIMIT}."
        )
    else:
        size = min(max_results, PAGE_LIMIT)
    start = 0
    if next_token:
        try:
            prefix, _, offset = (
                base64.urlsafe_b64decode(next_token.encode()).decode().partition(":")
            )
            start = int(offset)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            prefix, start = "", -1
        if prefix != "privatelink" or start < 0:
            raise error("InvalidNextToken", f"The token '{next_token}' is invalid")
    end = start + size
    return items[start:end], (_token(end) if end < len(items) else None)
