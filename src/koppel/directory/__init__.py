"""The directory: users, groups and memberships per organization, keyed by source id.

``service.apply_changes`` is the only writer (Graph sync, SCIM and invitations all call it).
"""
