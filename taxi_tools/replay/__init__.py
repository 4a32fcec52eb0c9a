"""Traffic replay: real TLC trips sent through the running API, with delayed true fares and drift scenarios."""
