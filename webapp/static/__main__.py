"""``python -m webapp.static --out DIR``: build the browser edition (see `webapp.static`)."""

from __future__ import annotations

import argparse
import sys

from webapp.static import BuildError, build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m webapp.static", description=__doc__)
    parser.add_argument("--out", default="site", help="folder to write (emptied first)")
    args = parser.parse_args(argv)
    try:
        out = build(args.out)
    except BuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    size = sum(path.stat().st_size for path in out.rglob("*") if path.is_file())
    print(f"Built {out} ({size / 1e6:.1f} MB). Try it: cd {out} && python -m http.server")
    return 0


if __name__ == "__main__":
    sys.exit(main())
