"""Run several `superset` commands in one process, in Superset's own virtual environment:
`python superset_commands.py '[["db", "upgrade"], ["init"]]'`.

Each `superset` process spends about four seconds importing Superset before
it does anything; `paperhouse bi` runs four commands at every start. Standard
library and Superset only: paperhouse's package is not installed there.
"""

import json
import sys

from superset.cli.main import superset


def main() -> None:
    for args in json.loads(sys.argv[1]):
        try:
            superset.main(args, prog_name="superset", standalone_mode=False)
        except SystemExit as exit:  # some commands end with sys.exit, even on success
            if exit.code:
                print(f"superset {' '.join(args[:2])} failed", file=sys.stderr)
                raise


if __name__ == "__main__":
    main()
