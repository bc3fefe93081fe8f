"""The local 46elks the SMS tests run against: a real HTTP server on loopback speaking its API
(auth, 400s, 429 with Retry-After, 500s); see stagesub.sms.localprovider, which the demo's
`stagesub sms_provider_dev` runs too."""

from stagesub.sms.localprovider import ElksServer

__all__ = ["ElksServer"]
