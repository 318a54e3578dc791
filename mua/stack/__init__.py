"""The embedded mail world: local CA, DNS, MSA, MTA + queue, MX, MDA, MS."""
