"""Limits of grading that the command line, the course's nbgrader config and the sandbox share."""

# Seconds one function's checks may take in the sandbox (the default of grade --check-timeout).
CHECK_TIMEOUT = 20.0
