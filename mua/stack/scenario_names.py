"""The names of the demo scenarios (`mua.stack.demo.SCENARIOS`), without importing the
world: the command line offers them as choices, and `mua --version` should not pay for
starting a mail system (tests/test_cli.py keeps the two lists equal)."""

SCENARIO_NAMES = (
    "modern",
    "starttls",
    "opportunistic",
    "plaintext",
    "strip",
    "strip-dane",
    "intercept",
    "intercept-dane",
    "mta-sts",
    "strip-mta-sts",
    "requiretls",
    "requiretls-strip",
    "strip-rewrite",
    "strip-rewrite-dane",
    "legacy-25",
    "submission-clear",
    "imap-clear",
    "pop3-995",
    "pop3-stls",
    "pop3-clear",
    "smarthost-587",
    "smarthost-25",
    "smarthost-clear",
    "relay-hops",
    "lmtp-tls",
    "lmtp-clear",
    "forged",
    "oauth",
)
