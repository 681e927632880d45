"""CDR assembly: one record per call (linkedid) from the AMI event stream. Pure."""
