"""Microsoft Graph v1.0 subset of the simulator (issue 3 §3; spec §8): ``/v1.0/...`` on the simulator origin."""
