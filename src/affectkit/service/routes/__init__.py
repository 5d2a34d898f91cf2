"""The service's routes, one router per resource: text analyses, audio, review jobs, operations."""
