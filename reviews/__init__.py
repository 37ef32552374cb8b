"""The domain app: productions, people, clips, shots, fix requests, jobs, proposals, review
decisions and the audit trail; their REST API, WebSocket consumers and Celery tasks."""
