"""Qt-free domain model: TLS facts, legs, traces, grading. Imports nothing else of mua."""
