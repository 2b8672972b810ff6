// HVMetrics: placeholder until its issue lands.
