"""``trainguard demo``: the terms, the real meetings and the pipeline it runs."""
