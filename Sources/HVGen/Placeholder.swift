// HVGen: placeholder until its issue lands.
