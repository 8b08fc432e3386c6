"""The link to the training process: the protocol's messages, the pump that serves them, the transport."""
