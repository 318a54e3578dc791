"""The world's POP3 server: server.py (sessions), commands.py, maildrop.py."""
