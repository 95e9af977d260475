"""SCIM 2.0 endpoint for Entra's provisioning service (issue 6): ``/scim/v2/{org}``."""
