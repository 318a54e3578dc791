"""The mail client's engine: sync and the outbox. Sits above mua.net and mua.store (it
combines a protocol with the local cache), below the GUI and the CLI."""
