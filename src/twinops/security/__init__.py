"""Security: principals, API keys, tokens, roles, tenants and the audit log."""
