// HVText: placeholder until its issue lands.
