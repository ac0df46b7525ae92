"""Plain async functions holding the rules: permissions, validation, queries. No strawberry."""
