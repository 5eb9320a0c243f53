"""AWS's Lambda@Edge examples 8 to 14, rewritten in our own words as plain Python handlers.

Source: the CloudFront developer guide page "Lambda@Edge example functions", sections
"Personalize content by country or device type headers" (8, 9) and "Content-based dynamic
origin selection" (10-14); the one-line summaries are in lambda-edge.md §6. Every one of them is
an **origin-request** function: the country and device headers only exist after viewer-request
(lambda-edge.md §3.1), and only origin-request may change ``request.origin`` (§1.6, §2.5).

What each function keeps from the AWS version:

* 8  ``redirect_by_country``: answers 302 to ``tw.`` / ``us.example.com`` by
  ``CloudFront-Viewer-Country``, else ``example.com``; no origin is contacted.
* 9  ``path_by_device``: puts ``/desktop``, ``/mobile``, ``/tablet`` or ``/smarttv`` in front of
  the uri by the ``CloudFront-Is-*-Viewer`` headers (the first one that is ``"true"``).
* 10 ``custom_to_s3``: ``?useS3Origin=true`` replaces the origin with an S3 bucket
  (``authMethod: none``) and points ``Host`` at it.
* 11 ``s3_region_by_country``: maps the viewer's country to a bucket region and sets the s3
  origin's ``region``, ``domainName`` and ``Host``; the rest of the s3 origin (its path) stays.
* 12 ``s3_to_custom``: ``?useCustomOrigin=true`` replaces the origin with the custom origin
  ``www.example.com:443`` (``readTimeout`` 5, ``sslProtocols`` TLSv1 + TLSv1.1).
* 13 ``gradual_bucket_shift``: a roll of 1-100; up to 80 goes to the blue bucket, the rest to
  the green one (the roll is injectable so a test can pick the side).
* 14 ``domain_by_country``: viewers from GB, DE or IE get ``eu.example.com`` as the custom
  origin's domain (and ``Host``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

__all__ = [
    "BLUE_BUCKET",
    "COUNTRY_REGIONS",
    "CUSTOM_DOMAIN",
    "DEFAULT_REDIRECT",
    "EU_DOMAIN",
    "GREEN_BUCKET",
    "S3_BUCKET",
    "custom_to_s3",
    "domain_by_country",
    "gradual_bucket_shift",
    "make_gradual_bucket_shift",
    "make_s3_region_by_country",
    "path_by_device",
    "redirect_by_country",
    "regional_bucket",
    "s3_region_by_country",
    "s3_to_custom",
]

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def _request(event: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = event["Records"][0]["cf"]["request"]
    return request


def _first(headers: dict[str, Any], name: str) -> str | None:
    entries = headers.get(name)
    return entries[0]["value"] if entries else None


def _params(querystring: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(querystring).items()}


def _point_host_at(request: dict[str, Any], domain: str) -> None:
    """CloudFront does not update ``Host`` when the origin changes; the AWS examples do."""
    request["headers"]["host"] = [{"key": "host", "value": domain}]


# -- 8. Redirect by country (origin-request) ---------------------------------------------------
DEFAULT_REDIRECT = "https://example.com/"
_COUNTRY_SITES = {"TW": "https://tw.example.com/", "US": "https://us.example.com/"}


def redirect_by_country(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer with a 302 to the viewer's country site; other countries go to the main site."""
    request = _request(event)
    country = _first(request["headers"], "cloudfront-viewer-country")
    location = _COUNTRY_SITES.get(country or "", DEFAULT_REDIRECT)
    return {
        "status": "302",
        "statusDescription": "Found",
        "headers": {"location": [{"key": "Location", "value": location}]},
    }


# -- 9. Object by device type (origin-request) -------------------------------------------------
_DEVICE_PREFIXES = (
    ("cloudfront-is-desktop-viewer", "/desktop"),
    ("cloudfront-is-mobile-viewer", "/mobile"),
    ("cloudfront-is-tablet-viewer", "/tablet"),
    ("cloudfront-is-smarttv-viewer", "/smarttv"),
)


def path_by_device(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Serve the object from the folder of the viewer's device type."""
    request = _request(event)
    for header, prefix in _DEVICE_PREFIXES:
        if _first(request["headers"], header) == "true":
            request["uri"] = prefix + request["uri"]
            break
    return request


# -- 10. Custom origin to S3 origin (origin-request) -------------------------------------------
S3_BUCKET = "amzn-s3-demo-bucket.s3.amazonaws.com"


def custom_to_s3(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """``?useS3Origin=true``: fetch from an S3 bucket instead of the custom origin."""
    request = _request(event)
    if _params(request["querystring"]).get("useS3Origin") == "true":
        request["origin"] = {
            "s3": {
                "domainName": S3_BUCKET,
                "region": "",
                "authMethod": "none",
                "path": "",
                "customHeaders": {},
            }
        }
        _point_host_at(request, S3_BUCKET)
    return request


# -- 11. Change the S3 region by country (origin-request) --------------------------------------
COUNTRY_REGIONS = {
    "DE": "eu-central-1",
    "IE": "eu-west-1",
    "GB": "eu-west-2",
    "FR": "eu-west-3",
    "JP": "ap-northeast-1",
    "IN": "ap-south-1",
}


def regional_bucket(bucket: str, region: str) -> str:
    """The domain of the copy of ``bucket`` kept in ``region``."""
    return f"{bucket}-in-{region}.s3.{region}.amazonaws.com"


def make_s3_region_by_country(bucket: str) -> Handler:
    """Example 11 for a bucket named ``bucket`` (AWS: ``amzn-s3-demo-bucket``)."""

    def s3_region_by_country(event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Fetch from the copy of the bucket in the region nearest the viewer's country."""
        request = _request(event)
        region = COUNTRY_REGIONS.get(_first(request["headers"], "cloudfront-viewer-country") or "")
        if region is not None:
            domain = regional_bucket(bucket, region)
            s3 = request["origin"]["s3"]
            s3["region"] = region
            s3["domainName"] = domain
            _point_host_at(request, domain)
        return request

    return s3_region_by_country


s3_region_by_country = make_s3_region_by_country("amzn-s3-demo-bucket")


# -- 12. S3 origin to custom origin (origin-request) -------------------------------------------
CUSTOM_DOMAIN = "www.example.com"


def s3_to_custom(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """``?useCustomOrigin=true``: fetch from a custom origin instead of the S3 bucket."""
    request = _request(event)
    if _params(request["querystring"]).get("useCustomOrigin") == "true":
        request["origin"] = {
            "custom": {
                "domainName": CUSTOM_DOMAIN,
                "port": 443,
                "protocol": "https",
                "path": "",
                "sslProtocols": ["TLSv1", "TLSv1.1"],
                "readTimeout": 5,
                "keepaliveTimeout": 5,
                "customHeaders": {},
            }
        }
        _point_host_at(request, CUSTOM_DOMAIN)
    return request


# -- 13. Gradual shift from one bucket to another (origin-request) ----------------------------
BLUE_BUCKET = "blue-bucket.s3.amazonaws.com"
GREEN_BUCKET = "green-bucket.s3.amazonaws.com"
BLUE_PERCENT = 80


def make_gradual_bucket_shift(roll: Callable[[], int] = lambda: random.randint(1, 100)) -> Handler:
    """Example 13 with the 1-100 roll supplied by ``roll``."""

    def gradual_bucket_shift(event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Send ``BLUE_PERCENT`` % of the requests to the blue bucket, the rest to green."""
        request = _request(event)
        domain = BLUE_BUCKET if roll() <= BLUE_PERCENT else GREEN_BUCKET
        request["origin"]["s3"]["domainName"] = domain
        _point_host_at(request, domain)
        return request

    return gradual_bucket_shift


gradual_bucket_shift = make_gradual_bucket_shift()


# -- 14. Origin domain by country (origin-request) ---------------------------------------------
EU_DOMAIN = "eu.example.com"
_EU_COUNTRIES = frozenset({"GB", "DE", "IE"})


def domain_by_country(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Viewers in GB, DE or IE are served by the European custom origin."""
    request = _request(event)
    if _first(request["headers"], "cloudfront-viewer-country") in _EU_COUNTRIES:
        request["origin"]["custom"]["domainName"] = EU_DOMAIN
        _point_host_at(request, EU_DOMAIN)
    return request
