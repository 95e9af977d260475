"""Organizations (customers of the host app), their e-mail domains and connections."""
