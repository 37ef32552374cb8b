"""What only Celery workers import: the code that runs the engine (torch, OpenCV) for a job and
stores its result. Web processes dispatch (``reviews.services``) and never import this package;
``reviews.tasks`` imports it inside each task (docs/adr/0010-light-web-processes.md)."""
