"""The engine: the Trainer (chunks of steps), the Session that drives it for every front end, the loss history."""
