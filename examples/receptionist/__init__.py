"""Example (a): a dental-office receptionist with two tools. See README.md."""

from examples.receptionist.agent import GREETING, MessageBook, build, opening_hours

__all__ = ["GREETING", "MessageBook", "build", "opening_hours"]
