"""The `orin` command line: one entry point that starts every process role."""
