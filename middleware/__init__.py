"""callcenter middleware: AMI/AGI services that turn a stock Asterisk 22 into a call center."""

__version__ = "0.1.0"
