"""The command line's subcommands, one module each; tui.cli assembles them."""
