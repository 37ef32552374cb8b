"""Writes. Every change of state goes through a function here (``<entity>_<action>``,
keyword-only), which checks the role, changes the rows and records the audit event in one
transaction. Views, consumers, tasks, admin and commands call these; nothing else writes."""
