"""The command line's commands, one module each (train, sample, evaluate for eval, bench, runs, export, sweep,
ngram, recipe, serve, and app_command for the app's own flags), each with `add_parser(cl)` and the function it
runs; options.py holds the flags several share, argtypes.py the argparse pieces. tui.cli assembles them."""
