"""`holitok-tokenizer` (stub until its issue lands)."""

from holitok_common.cli_stub import stub_main


def main(argv=None) -> int:
    return stub_main("holitok-tokenizer", "holitok-tokenizer", "see the README's 'Not done yet' section", argv)


if __name__ == "__main__":
    raise SystemExit(main())
