"""The panes of the main screen: controls, loss plot, split losses, samples, status line."""
