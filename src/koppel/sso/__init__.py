"""Single sign-on: koppel as the host app's OpenID Provider, brokering to each organization's IdP.

``upstream/`` is the relying party towards Entra ID and any OIDC issuer; ``provider/`` is the
OpenID Provider the host app integrates with once; ``protocol/`` holds the wire logic on plain
data (ID-token checks, discovery, claim mapping). See docs/sso.md.
"""
