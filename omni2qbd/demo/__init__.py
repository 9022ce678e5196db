"""``omni2qbd demo``: the whole product on one machine against the simulators."""
