"""The CloudFront edge cache: policies, keys, TTLs and storages."""
