"""What the service decides (sorting, outcomes, configuration, examples), with no I/O of its own;
the ports through which the outside world comes in."""
