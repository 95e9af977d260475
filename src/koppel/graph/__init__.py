"""Directory sync from Microsoft Entra ID by pulling Microsoft Graph (issue 4, seed 000).

``protocol/`` holds the wire logic on plain data (paging, delta, errors, retry policy,
admin consent); ``client.py`` talks HTTP through an injected ``httpx.Client``; ``sync.py`` is
the sync engine; ``service.py`` the onboarding/consent/run functions the API and CLI call.
"""
