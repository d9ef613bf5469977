"""The ClusterChat application: settings, wiring, pipeline, answers, HTTP API and CLI."""
