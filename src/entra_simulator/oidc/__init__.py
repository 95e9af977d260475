"""The ``login.microsoftonline.com`` side: discovery, keys, authorize, token, logout, admin consent."""
