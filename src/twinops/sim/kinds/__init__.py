"""The scenario kinds: each turns a setup into result tables and a summary."""
