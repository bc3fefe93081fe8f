"""The web process: production server (`stagesub serve`), request ids and logging, error pages."""
