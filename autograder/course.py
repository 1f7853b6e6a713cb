"""python -m autograder course (being written)."""


def add_arguments(parser):
    pass


def run(args):
    raise SystemExit("python -m autograder course: not available yet")
