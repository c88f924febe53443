"""On-call over the REST API: rotations, shifts, who is on call, pages and compensation."""
