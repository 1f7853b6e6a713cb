"""How long ``python -m autograder --help`` takes, against a bare interpreter in the same run.

    .venv/bin/python benchmarks/bench_cli_help.py [--repeats 15]

Each command is started as a fresh process (as an instructor types it), in turns, so that
a busy moment of the machine hits them alike. Prints the median wall time of each and its
ratio to ``python -c pass`` (the interpreter's own start-up, the floor nothing can beat).
"""

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "python -m autograder --help": [sys.executable, "-m", "autograder", "--help"],
    "python -m autograder grade --help": [sys.executable, "-m", "autograder", "grade", "--help"],
    "python -m autograder demo --help": [sys.executable, "-m", "autograder", "demo", "--help"],
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    times = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):
        for name, command in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["python -c pass (baseline)"])
    print(f"| command | median s ({args.repeats} runs) | ratio to bare python |")
    print("|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| `{name}` | {median:.3f} | {median / base:.1f} |")


if __name__ == "__main__":
    main()
