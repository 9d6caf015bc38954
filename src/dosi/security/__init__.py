"""Who is asking (authentication) and what they may do (authorization), decided in one place."""
